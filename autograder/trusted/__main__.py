"""``python -m kerascourse.autograder.trusted``: score one submission in this process."""

import os
import sys

# Before anything imports TensorFlow: its C++ start-up lines go to stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from kerascourse.autograder.trusted.cli import main

sys.exit(main())
