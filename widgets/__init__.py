"""kerascourse.widgets: look inside Keras models from a notebook.

Three explorers, one call each, with the same argument names (``model`` first, then the
data, then ``layer=``, ``channel=``/``point=`` ...); each returns an object that displays
itself (a live widget in JupyterLab and Colab, the same picture as a static PNG in HTML
exports and headless runs), and each has a plain function that returns a matplotlib
Figure for scripts::

    from kerascourse.widgets import ActivationExplorer, FilterExplorer, EmbeddingExplorer
    ActivationExplorer(model, x_test[:16])              # plot_activations(model, x, ...)
    FilterExplorer(model, layer="conv1")                # plot_filters(model, ...)
    EmbeddingExplorer(mlp, x_test, y_test)              # plot_embedding(model, x, y, ...)
    model.fit(..., callbacks=[LivePlot()])              # plot_history(history)

The pure functions behind them (``extract_activations``, ``conv_kernels``,
``maximize_activation``, ``extract_features``, ``embed``, ``mosaic`` ...) return numpy
arrays and cache by (model, layer, input). Only core ipywidgets are used, so
``ipywidgets>=7.7,<9`` works (Colab ships 7.x).

Why the lazy exports: ``import kerascourse.widgets`` must not import TensorFlow or Keras
(DESIGN.md); each name is imported from its module on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import clear_caches, layer_names
    from ._render import mosaic
    from .activations import ActivationExplorer, extract_activations, plot_activations
    from .embeddings import (
        EmbeddingExplorer,
        EmbeddingFallbackWarning,
        embed,
        extract_features,
        neighbours_kept,
        plot_embedding,
        subsample,
    )
    from .filters import (
        FilterExplorer,
        conv_kernels,
        conv_layer_names,
        kernel_picture,
        maximize_activation,
        plot_filters,
    )
    from .training import LivePlot, plot_history

_LAZY = {
    "ActivationExplorer": ".activations",
    "extract_activations": ".activations",
    "plot_activations": ".activations",
    "FilterExplorer": ".filters",
    "conv_kernels": ".filters",
    "conv_layer_names": ".filters",
    "kernel_picture": ".filters",
    "maximize_activation": ".filters",
    "plot_filters": ".filters",
    "EmbeddingExplorer": ".embeddings",
    "EmbeddingFallbackWarning": ".embeddings",
    "embed": ".embeddings",
    "extract_features": ".embeddings",
    "neighbours_kept": ".embeddings",
    "plot_embedding": ".embeddings",
    "subsample": ".embeddings",
    "LivePlot": ".training",
    "plot_history": ".training",
    "layer_names": "._models",
    "clear_caches": "._models",
    "mosaic": "._render",
}

__all__ = [
    "ActivationExplorer",
    "EmbeddingExplorer",
    "EmbeddingFallbackWarning",
    "FilterExplorer",
    "LivePlot",
    "clear_caches",
    "conv_kernels",
    "conv_layer_names",
    "embed",
    "extract_activations",
    "extract_features",
    "kernel_picture",
    "layer_names",
    "maximize_activation",
    "mosaic",
    "neighbours_kept",
    "plot_activations",
    "plot_embedding",
    "plot_filters",
    "plot_history",
    "subsample",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}. Public names: {__all__}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
