"""Beyond Sequential: a Jupyter-native Keras 3 course kit.

Subpackages (each mapped from a top-level folder of the course repository):

- ``kerascourse.datasets``   bundled, checksummed offline data and online loaders
- ``kerascourse.widgets``    explorers for activations, filters and embeddings
- ``kerascourse.autograder`` budget, device and quality checks; the grading pipeline

Core modules: ``settings`` (FAST mode, seed), ``doctor`` (environment check),
``lab`` (the JupyterLab launcher behind ``make lab``), ``offline`` (network guard),
``runner`` (executes notebooks the way the tests and CI do), ``colab`` (the badges and
the Colab set-up cell of every notebook), ``release`` (the labs' student versions in
``release/`` that the badges open).

Importing ``kerascourse`` or any subpackage never imports TensorFlow or Keras: a learner
pays for that import only when a function that needs it runs.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
