"""Training curves: :func:`plot_history` for a finished run, :class:`LivePlot` during ``fit``.

``LivePlot`` is a Keras callback that draws loss and metric curves while ``fit`` runs, in
place: one output per ``fit`` call, whose ``Image`` widget gets a new PNG after each epoch
(at most every `min_interval` seconds), never a new output per epoch. When training ends,
the output's static PNG is replaced by the final curves, so an HTML export or a headless
run shows them too.

Why a module-level ``__getattr__``: ``LivePlot`` subclasses ``keras.callbacks.Callback``,
and importing this module must not import Keras (DESIGN.md). The class is created the
first time the name is used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _render
from ._explorer import widget_bundle


def _as_dict(history: Any) -> dict[str, list[float]]:
    if hasattr(history, "history") and isinstance(history.history, Mapping):
        history = history.history
    if not isinstance(history, Mapping):
        msg = (
            "plot_history needs the History returned by model.fit (or its .history dict). "
            f"Received: {type(history).__name__}."
        )
        raise TypeError(msg)
    return {str(k): [float(v) for v in np.ravel(vals)] for k, vals in history.items()}


def _groups(hist: Mapping[str, Sequence[float]], metrics: Sequence[str] | None) -> list[str]:
    base = [k for k in hist if not k.startswith("val_") and k not in ("learning_rate", "lr")]
    base += [k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist]
    base.sort(key=lambda k: (k != "loss", not k.endswith("loss")))  # losses first, stable
    if metrics is None:
        return base
    unknown = [m for m in metrics if m not in base]
    if unknown:
        msg = f"Unknown metric(s) {unknown}. Available in this history: {base}."
        raise ValueError(msg)
    return list(metrics)


def plot_history(history: Any, *, metrics: Sequence[str] | None = None, title: str | None = None):
    """Loss and metric curves of a finished ``fit``: one panel per metric, train vs validation.

    Args:
        history: the ``History`` returned by ``model.fit``, or its ``.history`` dict.
        metrics: which ones to draw (without ``val_``). Defaults to all.
        title: a title above the panels. Defaults to `None`.

    Returns:
        A matplotlib Figure (not attached to pyplot: it shows once when returned from a cell).

    Example:
        >>> plot_history(history)            # doctest: +SKIP
    """
    hist = _as_dict(history)
    names = _groups(hist, metrics)
    if not names or not any(hist.get(n) or hist.get(f"val_{n}") for n in names):
        msg = "The history is empty: nothing was recorded. Train for at least one epoch first."
        raise ValueError(msg)
    fig = _render.new_figure(figsize=(4.2 * len(names), 3.0), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        for key, style in ((name, "-o"), (f"val_{name}", "--s")):
            values = hist.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, markersize=3, label=key)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        longest = max(len(hist.get(name) or []), len(hist.get(f"val_{name}") or []))
        if longest <= 12:
            ax.set_xticks(range(1, longest + 1))
        else:
            ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return fig


def history_png(
    history: Any, *, metrics: Sequence[str] | None = None, title: str | None = None
) -> bytes:
    """:func:`plot_history` drawn to PNG bytes."""
    import io

    fig = plot_history(history, metrics=metrics, title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _waiting_png(text: str) -> bytes:
    return _render.encode_png(_render.placeholder(360, 40, [text]))


def _make_live_plot() -> type:
    import keras

    class LivePlot(keras.callbacks.Callback):
        """Draw loss and metric curves during ``fit``, updated in place after each epoch.

        Args:
            metrics: which metrics to draw (without ``val_``). Defaults to all.
            min_interval: at least this many seconds between redraws (the last epoch is
                always drawn). Defaults to `0.5`.
            title: a title above the panels. Defaults to `None`.

        Attributes:
            history_: ``name -> values`` recorded so far (reset at each ``fit``).
            redraws_: how many pictures were drawn during the last ``fit``.

        Example:
            >>> model.fit(x_train, y_train, epochs=10, verbose=0,
            ...           callbacks=[LivePlot()])           # doctest: +SKIP
        """

        def __init__(
            self,
            metrics: Sequence[str] | None = None,
            *,
            min_interval: float = 0.5,
            title: str | None = None,
        ):
            super().__init__()
            self.metrics = None if metrics is None else list(metrics)
            self.min_interval = float(min_interval)
            self.title = title
            self.history_: dict[str, list[float]] = {}
            self.redraws_ = 0
            self.image = None
            self._handle = None
            self._last: float | None = None
            self._drawn = 0

        def on_train_begin(self, logs=None):
            # Allow instances to be re-used across `model.fit()` calls.
            self.history_, self.redraws_, self._last, self._drawn = {}, 0, None, 0
            self._handle = None
            if not _in_ipython():
                return
            import ipywidgets as w
            from IPython.display import display

            png = _waiting_png("training: the curves appear after the first epoch")
            self.image = w.Image(value=png, format="png")
            self._handle = display(
                widget_bundle(self.image, png, "LivePlot"), raw=True, display_id=True
            )

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                self.history_.setdefault(key, []).append(float(value))
            last = self.params.get("epochs") if isinstance(self.params, dict) else None
            due = (
                self._last is None
                or time.monotonic() - self._last >= self.min_interval
                or (last is not None and epoch + 1 >= last)
            )
            if self.image is not None and due:
                self._draw()

        def _draw(self) -> bytes:
            png = history_png(self.history_, metrics=self.metrics, title=self.title)
            self.image.value = png
            self.redraws_ += 1
            self._last = time.monotonic()
            self._drawn = len(self.history_.get("loss", ())) or max(
                map(len, self.history_.values())
            )
            return png

        def on_train_end(self, logs=None):
            if self.image is None or not self.history_:
                return
            epochs = len(self.history_.get("loss", ())) or max(map(len, self.history_.values()))
            png = self._draw() if epochs != self._drawn else self.image.value  # e.g. stopped early
            if self._handle is not None:
                self._handle.update(widget_bundle(self.image, png, "LivePlot"), raw=True)

        def figure(self):
            """The curves recorded so far as a matplotlib Figure."""
            return plot_history(self.history_, metrics=self.metrics, title=self.title)

    LivePlot.__module__ = __name__
    LivePlot.__qualname__ = "LivePlot"
    return LivePlot


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


_LAZY: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """Create ``LivePlot`` (a Keras callback) on first use, so importing stays Keras-free."""
    if name == "LivePlot":
        if name not in _LAZY:
            _LAZY[name] = _make_live_plot()
        return _LAZY[name]
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
