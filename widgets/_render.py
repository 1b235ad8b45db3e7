"""Pictures from arrays with numpy and Pillow: mosaics, heat strips, panels, PNG bytes.

Why not matplotlib here: an explorer re-renders on every control change, and a 32-channel
grid takes about 22 ms with numpy+PIL against 300 ms as 32 matplotlib subplots (DESIGN.md,
"Widgets"). Everything returns ``uint8`` RGB arrays of shape ``(height, width, 3)``, so
tests can read the pixels and the same array becomes the widget's PNG and the static
fallback. Only colour maps come from matplotlib (its ``colormaps`` registry, no pyplot).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import numpy as np

BACKGROUND = (255, 255, 255)
TEXT = (40, 40, 40)
HIGHLIGHT = (230, 60, 30)
GRID_GAP = (225, 225, 225)

#: Ten distinct class colours (matplotlib's "tab10"), then "tab20" for up to 20 classes.
_TAB10 = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip


@functools.lru_cache(maxsize=16)
def colormap_lut(name: str = "viridis") -> np.ndarray:
    """A ``(256, 3)`` uint8 lookup table for a matplotlib colour map name."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        valid = sorted(matplotlib.colormaps)
        msg = f"Unknown colour map {name!r}. Use a matplotlib name such as 'viridis', 'magma', 'gray' or 'RdBu_r' (one of {len(valid)})."
        raise ValueError(msg) from None
    return (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


def class_colors(n: int) -> np.ndarray:
    """``(n, 3)`` uint8 colours for class indices 0..n-1 (tab10, then tab20, then a hue wheel)."""
    if n <= len(_TAB10):
        return np.array(_TAB10[:n], dtype=np.uint8)
    if n <= 20:
        return colormap_lut_discrete("tab20", n)
    return colormap_lut_discrete("hsv", n)


def colormap_lut_discrete(name: str, n: int) -> np.ndarray:
    """``n`` evenly spaced colours of a matplotlib colour map."""
    lut = colormap_lut(name)
    return lut[np.linspace(0, 255, n).round().astype(int)]


def normalize(a: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Scale to [0, 1] (float32); a constant array maps to 0 (not NaN)."""
    a = np.asarray(a, dtype=np.float32)
    lo = float(np.min(a)) if vmin is None else float(vmin)
    hi = float(np.max(a)) if vmax is None else float(vmax)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo < 1e-12:
        return np.zeros_like(a)
    return np.clip((a - lo) / (hi - lo), 0.0, 1.0)


def colorize(a: np.ndarray, cmap: str = "viridis", vmin=None, vmax=None) -> np.ndarray:
    """Map an array of any shape to uint8 RGB with one extra trailing axis of size 3."""
    idx = (normalize(a, vmin, vmax) * 255).astype(np.uint8)
    return colormap_lut(cmap)[idx]


def to_rgb(a: np.ndarray, *, cmap: str = "gray", vmin=None, vmax=None) -> np.ndarray:
    """An image-like array as uint8 RGB: ``(h, w)``, ``(h, w, 1)``, ``(h, w, 3)`` or RGBA.

    Grey images go through `cmap`; colour images are scaled to [0, 255] together.
    """
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return colorize(a, cmap, vmin, vmax)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        return (normalize(a[..., :3], vmin, vmax) * 255).astype(np.uint8)
    msg = f"Cannot draw an array of shape {a.shape} as an image; expected (h, w), (h, w, 1) or (h, w, 3)."
    raise ValueError(msg)


def resize(img: np.ndarray, width: int, height: int, *, smooth: bool = False) -> np.ndarray:
    """Resize a uint8 RGB array; nearest neighbour keeps pixels sharp (feature maps)."""
    if img.shape[1] == width and img.shape[0] == height:
        return img
    h, w = img.shape[:2]
    if not smooth and width % w == 0 and height % h == 0:
        return np.repeat(np.repeat(img, height // h, axis=0), width // w, axis=1)
    from PIL import Image

    method = Image.BILINEAR if smooth else Image.NEAREST
    return np.asarray(Image.fromarray(img).resize((width, height), method))


def fit_size(h: int, w: int, target: int) -> tuple[int, int]:
    """(height, width) scaled so the longer side is about `target`, by whole factors when small."""
    longest = max(h, w)
    if longest <= target:
        factor = max(1, target // longest)
        return h * factor, w * factor
    return max(1, round(h * target / longest)), max(1, round(w * target / longest))


def grid(
    tiles: np.ndarray,
    *,
    cols: int | None = None,
    pad: int = 2,
    highlight: int | None = None,
    background: tuple[int, int, int] = GRID_GAP,
) -> np.ndarray:
    """Lay out ``(n, h, w, 3)`` uint8 tiles in rows; tile `highlight` gets a red frame."""
    n, h, w = tiles.shape[:3]
    cols = cols or int(np.ceil(np.sqrt(n)))
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    out = np.empty((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), dtype=np.uint8)
    out[:] = background
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = tiles[i]
    if highlight is not None and 0 <= highlight < n and pad > 0:
        r, c = divmod(highlight, cols)
        y, x = r * (h + pad), c * (w + pad)
        frame(out, y, x, h + 2 * pad, w + 2 * pad, width=pad)
    return out


def frame(img: np.ndarray, y: int, x: int, h: int, w: int, *, width: int = 2, color=HIGHLIGHT):
    """Draw a rectangle outline in place (clipped to the image)."""
    y2, x2 = min(img.shape[0], y + h), min(img.shape[1], x + w)
    y, x = max(0, y), max(0, x)
    img[y : y + width, x:x2] = color
    img[max(y, y2 - width) : y2, x:x2] = color
    img[y:y2, x : x + width] = color
    img[y:y2, max(x, x2 - width) : x2] = color


def mosaic(
    maps: np.ndarray,
    *,
    cols: int | None = None,
    tile: int = 48,
    pad: int = 2,
    cmap: str = "viridis",
    scale: str = "layer",
    highlight: int | None = None,
) -> np.ndarray:
    """Feature maps ``(h, w, channels)`` as a grid of coloured tiles (uint8 RGB).

    Args:
        maps: one layer's output for one input, channels last.
        cols: tiles per row. Defaults to a near-square grid.
        tile: about how many pixels the longer side of each tile gets. Defaults to `48`.
        pad: gap between tiles in pixels. Defaults to `2`.
        cmap: matplotlib colour map name. Defaults to `"viridis"`.
        scale: ``"layer"`` shares one colour scale across channels (compare strengths),
            ``"channel"`` scales each channel to its own range (see patterns). Defaults
            to `"layer"`.
        highlight: index of a tile to frame in red. Defaults to `None`.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        msg = f"mosaic() needs feature maps of shape (height, width, channels); got shape {maps.shape}."
        raise ValueError(msg)
    stack = np.moveaxis(maps, -1, 0).astype(np.float32)  # (c, h, w)
    if scale == "layer":
        tiles = colorize(stack, cmap)
    elif scale == "channel":
        lo = stack.min(axis=(1, 2), keepdims=True)
        span = stack.max(axis=(1, 2), keepdims=True) - lo
        norm = np.where(span > 1e-12, (stack - lo) / np.where(span > 1e-12, span, 1), 0)
        tiles = colormap_lut(cmap)[(norm * 255).astype(np.uint8)]
    else:
        msg = f"scale must be 'layer' or 'channel'. Received: scale={scale!r}."
        raise ValueError(msg)
    th, tw = fit_size(stack.shape[1], stack.shape[2], tile)
    if (th, tw) != stack.shape[1:]:
        tiles = np.stack([resize(t, tw, th) for t in tiles])
    return grid(tiles, cols=cols, pad=pad, highlight=highlight)


def heat_strip(
    values: np.ndarray,
    *,
    cols: int | None = None,
    cell: int = 14,
    cmap: str = "viridis",
    highlight: int | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """A vector (dense units) as rows of coloured cells; cell `highlight` framed in red."""
    values = np.asarray(values, dtype=np.float32).ravel()
    n = values.size
    cols = cols or min(n, 32)
    colors = colorize(values, cmap, vmin, vmax)  # (n, 3)
    tiles = np.ascontiguousarray(np.broadcast_to(colors[:, None, None, :], (n, cell, cell, 3)))
    out = grid(tiles, cols=cols, pad=1)
    if highlight is not None and 0 <= highlight < n:
        r, c = divmod(highlight, cols)
        frame(out, r * (cell + 1), c * (cell + 1), cell + 2, cell + 2, width=2)
    return out


def bars(
    values: np.ndarray,
    *,
    width: int = 320,
    height: int = 120,
    highlight: int | None = None,
    color=(70, 110, 170),
) -> np.ndarray:
    """A small bar chart of a vector (zero line included), as uint8 RGB."""
    values = np.asarray(values, dtype=np.float32).ravel()
    n = max(1, values.size)
    lo, hi = min(0.0, float(values.min(initial=0))), max(0.0, float(values.max(initial=0)))
    span = hi - lo if hi - lo > 1e-12 else 1.0
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    bw = max(1, width // n)
    zero = round(hi / span * (height - 1))
    for i, v in enumerate(values):
        top = round((hi - max(float(v), 0.0)) / span * (height - 1))
        bottom = round((hi - min(float(v), 0.0)) / span * (height - 1))
        x0 = i * bw
        img[top : bottom + 1, x0 : x0 + max(1, bw - 1)] = HIGHLIGHT if i == highlight else color
    img[zero : zero + 1, : n * bw] = TEXT
    return img


def heatmap(a: np.ndarray, *, target: int = 240, cmap: str = "viridis") -> np.ndarray:
    """A 2-D array (for example time steps x units) as one stretched coloured image."""
    a = np.asarray(a, dtype=np.float32)
    img = colorize(a, cmap)
    h, w = fit_size(a.shape[0], a.shape[1], target)
    return resize(img, w, h)


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def text_size(text: str, size: int = 12) -> tuple[int, int]:
    """(width, height) in pixels of one line of `text` in the default font."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text or " ")
    return int(right - min(left, 0)) + 1, int(bottom - min(top, 0)) + 2


def draw_text(img: np.ndarray, xy: tuple[int, int], text: str, *, size: int = 12, color=TEXT):
    """Write `text` onto a uint8 RGB array in place (top-left corner at `xy`)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(img)
    ImageDraw.Draw(pil).text(xy, text, fill=tuple(int(c) for c in color), font=_font(size))
    img[...] = np.asarray(pil)


def titled(img: np.ndarray, title: str, *, size: int = 12, min_width: int = 0) -> np.ndarray:
    """`img` on a white panel with a one-line title above it."""
    tw, th = text_size(title, size)
    width = max(img.shape[1], tw + 4, min_width)
    out = np.empty((th + 4 + img.shape[0], width, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    draw_text(out, (2, 1), title, size=size)
    out[th + 4 :, : img.shape[1]] = img
    return out


def hstack(panels: Sequence[np.ndarray], *, gap: int = 12) -> np.ndarray:
    """Panels side by side, top-aligned, on white."""
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    x = 0
    for p in panels:
        out[: p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out


def vstack(panels: Sequence[np.ndarray], *, gap: int = 10) -> np.ndarray:
    """Panels one below the other, left-aligned, on white."""
    width = max(p.shape[1] for p in panels)
    height = sum(p.shape[0] for p in panels) + gap * (len(panels) - 1)
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    y = 0
    for p in panels:
        out[y : y + p.shape[0], : p.shape[1]] = p
        y += p.shape[0] + gap
    return out


def border(img: np.ndarray, width: int = 8) -> np.ndarray:
    """`img` with a white margin around it."""
    out = np.empty((img.shape[0] + 2 * width, img.shape[1] + 2 * width, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    out[width : width + img.shape[0], width : width + img.shape[1]] = img
    return out


def placeholder(width: int, height: int, lines: Sequence[str]) -> np.ndarray:
    """A light grey box with a few lines of text (for "not computed yet")."""
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = (245, 245, 245)
    frame(img, 0, 0, height, width, width=1, color=(200, 200, 200))
    y = 8
    for line in lines:
        draw_text(img, (8, y), line, size=11)
        y += text_size(line, 11)[1] + 2
    return img


def encode_png(img: np.ndarray, *, compress_level: int = 1) -> bytes:
    """uint8 RGB array -> PNG bytes (fast compression: these pictures are redrawn often)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(
        buf, format="PNG", compress_level=compress_level
    )
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> uint8 RGB array (what tests read back from an Image widget)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@functools.lru_cache(maxsize=1)
def figure_class() -> type:
    """``matplotlib.figure.Figure`` that also shows itself as PNG without pyplot.

    The kit's figures are made without pyplot, so a returned figure shows exactly once
    and scripts can ``fig.savefig(...)`` with no display; ``_repr_png_`` makes IPython
    show it even when the inline backend was never activated (no pyplot import).
    """
    from matplotlib.figure import Figure

    class KitFigure(Figure):
        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png")
            return buf.getvalue()

    return KitFigure


def new_figure(**kwargs):
    """A :func:`figure_class` figure (pyplot-free)."""
    return figure_class()(**kwargs)


def as_figure(img: np.ndarray, *, title: str | None = None, dpi: int = 100):
    """A matplotlib Figure showing `img` at one image pixel per screen pixel."""
    h, w = img.shape[:2]
    extra = 0.3 if title else 0.0
    fig = new_figure(figsize=(w / dpi, h / dpi + extra), dpi=dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, h / (h + extra * dpi)))
    ax.imshow(img, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.05 * extra)
    return fig


def figure_pixels(fig) -> np.ndarray:
    """Draw a matplotlib Figure with Agg and return its pixels as uint8 RGB."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
