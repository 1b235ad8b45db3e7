"""What the three explorers share: a PNG view in an ``Image`` widget, and a static fallback.

Why this shape (DESIGN.md, "Widgets"): the picture is rendered in the kernel to PNG and put
in a core ``ipywidgets.Image`` (no flicker, readable pixels, works with ipywidgets 7.7 to
8.x and on Colab). The same PNG goes into the display data next to the widget view, so
JupyterLab shows the live widget while an HTML export or a headless run (nbclient,
nbconvert) shows the picture. Subclasses supply ``_controls()`` (core widgets) and
``render()`` (a uint8 RGB array from the pure functions); nothing else.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from . import _render

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widget_bundle(root: Any, png: bytes, text: str) -> dict[str, Any]:
    """Display data with the live widget view first and the PNG as static fallback."""
    return {
        "text/plain": text,
        "image/png": base64.b64encode(png).decode("ascii"),
        WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": root.model_id},
    }


class Explorer:
    """Base class: holds the controls, the picture and the displayable widget tree."""

    #: CSS class on the root box (browser tests find the explorer by it).
    dom_class = "kc-explorer"

    def __init__(self) -> None:
        self._png: bytes = b""
        self._array: np.ndarray | None = None
        self._root = None
        self.image = None
        self.status = None
        self.controls: dict[str, Any] = {}
        self._busy = False

    # -- for subclasses -------------------------------------------------------------
    def render(self) -> np.ndarray:  # pragma: no cover - abstract
        """The current picture as a uint8 RGB array."""
        raise NotImplementedError

    def _layout(self) -> list[Any]:  # pragma: no cover - abstract
        """Rows of widgets above the picture."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------
    def _build(self) -> None:
        """Create the widget tree once, then draw the first picture."""
        import ipywidgets as w

        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        rows = self._layout()
        self._root = w.VBox([*rows, self.image])
        self._root.add_class("kc-explorer")
        if self.dom_class != "kc-explorer":
            self._root.add_class(self.dom_class)
        self.refresh()

    def _observe(self, control: Any, handler) -> None:
        def on_change(change: dict[str, Any]) -> None:
            if self._busy:
                return
            handler(change)

        control.observe(on_change, names="value")

    def _set_quietly(self, control: Any, **traits: Any) -> None:
        """Change control traits (options, max, value) without triggering redraws."""
        self._busy = True
        try:
            with control.hold_trait_notifications():
                for name, value in traits.items():
                    setattr(control, name, value)
        finally:
            self._busy = False

    def refresh(self) -> None:
        """Re-render the picture and push it to the ``Image`` widget."""
        self._array = self.render()
        self._png = _render.encode_png(self._array)
        if self.image is not None:
            self.image.value = self._png

    @property
    def widget(self) -> Any:
        """The root ``ipywidgets.VBox`` (embed it in your own layouts)."""
        return self._root

    @property
    def png(self) -> bytes:
        """The current picture as PNG bytes."""
        return self._png

    def to_array(self) -> np.ndarray:
        """The current picture as a uint8 RGB array of shape (height, width, 3)."""
        return self._array.copy()

    def figure(self):
        """The current picture as a matplotlib Figure (for scripts and ``savefig``)."""
        return _render.as_figure(self._array)

    def save(self, path: str) -> None:
        """Write the current picture to a PNG file."""
        with open(path, "wb") as f:
            f.write(self._png)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        return widget_bundle(self._root, self._png, repr(self))
