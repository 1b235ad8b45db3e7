"""kerascourse.widgets: interactive explorers for looking inside Keras models.

Planned (issue "Widgets"): ActivationExplorer, FilterExplorer, EmbeddingExplorer and a
live training plot, built on core ipywidgets (7.7 to 8.x) with static PNG fallbacks.
This package is importable now so notebooks and the packaging tests can rely on the
name; it deliberately imports nothing heavy (no TensorFlow, no Keras) at import time.
"""

from __future__ import annotations

__all__: list[str] = []
