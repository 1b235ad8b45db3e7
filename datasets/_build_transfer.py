"""Builders for the transfer-learning pair: ``letters`` (target task) and ``digits_base``.

Why these two: chapter 5 transfers a convolutional base pretrained on a *source* task to a
*different*, small *target* task, offline. The source is the bundled ``digits28``; the base
pretrained on it is ``digits_base`` (trained by `pretrain_base`, see there). The target is
``letters``: ten capital Latin letters drawn the way the UCI digits were recorded, so the
two tasks share the "sensor" (same image statistics) but not the classes.

How a letter is made (all randomness from one ``numpy`` Generator seeded with
`BUNDLE_SEED`, so the same library versions give the same bytes):

1. the glyph is rendered from the bundled Noto Sans CJK SC subset (it covers ASCII) on a
   64x64 canvas, with a random extra stroke width (0..3 px: thin to bold pens);
2. a random affine map (rotation +-15 degrees, shear +-0.3, x and y scale 0.75..1.15) and
   a random elastic warp (a 4x4 mesh whose inner vertices move by about 2.5 px) make it
   look hand-drawn; with probability 0.3 a short stray pen stroke is added;
3. then the UCI recording pipeline: the ink's bounding box is scaled into a 32x32 box,
   thresholded to a bitmap and counted in 4x4 blocks, giving an 8x8 image with values
   0..16, exactly like scikit-learn's digits;
4. finally the same bilinear upscaling to 28x28 as ``digits28`` (`upscale`).

The images are stored as PNG files in one uncompressed zip (``letters/<split>/<class>/
<index>.png``), laid out for ``keras.utils.image_dataset_from_directory``. The PNGs are
written with ``compress_level=0`` (zlib "stored" blocks), because deflate output differs
between zlib builds (Pillow's wheels ship zlib-ng) while stored blocks do not; the file
is a little larger, git compresses it anyway. The index in a file name is the image's
position in its (shuffled) split, which is the order ``load("letters")`` returns.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from ._build_common import SPLITS, Built
from ._formats import ZIP_EPOCH
from ._splits import BUNDLE_SEED, split_indices

#: The classes: capital letters that do not resemble a digit (no B, D, G, I, O, Q, S, Z);
#: look-alike pairs among them remain (E/F, P/F, H/N/K).
LETTERS = ("A", "C", "E", "F", "H", "K", "L", "N", "P", "T")
PER_CLASS = 100
#: train/val/test shares: 40/20/40 images per letter, a deliberately small training set.
FRACTIONS = (0.4, 0.2, 0.4)
FOLDER = "letters"
CANVAS = 64
FONT_SIZE = 44
BOX = 32


def _render(font: Any, letter: str, rng: Any) -> Any:
    """One distorted letter on a CANVAS x CANVAS greyscale PIL image (ink 255)."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    stroke = int(rng.integers(0, 4))
    centre = CANVAS / 2
    draw.text((centre, centre), letter, fill=255, font=font, anchor="mm",
              stroke_width=stroke, stroke_fill=255)  # fmt: skip
    if rng.random() < 0.3:  # a stray pen stroke
        x0, y0 = rng.uniform(8, CANVAS - 8, size=2)
        angle, length = rng.uniform(0, np.pi), rng.uniform(6, 14)
        end = (x0 + length * np.cos(angle), y0 + length * np.sin(angle))
        draw.line([(x0, y0), end], fill=255, width=int(rng.integers(2, 5)))
    # Affine: output pixel p samples the input at inv(M) @ (p - c) + c.
    a, shear = np.deg2rad(rng.uniform(-15, 15)), rng.uniform(-0.3, 0.3)
    scale = np.diag(rng.uniform(0.75, 1.15, size=2))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    inv = np.linalg.inv(rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ scale)
    off = np.array([centre, centre]) - inv @ np.array([centre, centre])
    coeffs = (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1])
    img = img.transform(img.size, Image.Transform.AFFINE, tuple(float(c) for c in coeffs),
                        resample=Image.Resampling.BILINEAR)  # fmt: skip
    return img.transform(img.size, Image.Transform.MESH, _elastic_mesh(rng),
                         resample=Image.Resampling.BILINEAR)  # fmt: skip


def _elastic_mesh(rng: Any, cells: int = 4, sigma: float = 2.5) -> list[Any]:
    """A PIL MESH: output cells mapped from quads whose inner vertices moved at random."""
    import numpy as np

    step = CANVAS // cells
    ticks = np.arange(cells + 1) * step
    grid = np.stack(np.meshgrid(ticks, ticks, indexing="xy"), axis=-1).astype(np.float64)
    moved = grid.copy()
    moved[1:-1, 1:-1] += rng.normal(0.0, sigma, size=(cells - 1, cells - 1, 2))
    mesh = []
    for i in range(cells):
        for j in range(cells):
            box = (j * step, i * step, (j + 1) * step, (i + 1) * step)
            quad = (moved[i, j], moved[i + 1, j], moved[i + 1, j + 1], moved[i, j + 1])
            mesh.append((box, tuple(float(v) for corner in quad for v in corner)))
    return mesh


def uci_8x8(img: Any) -> Any:
    """Scale the ink's bounding box into 32x32, threshold, count 4x4 blocks: uint8 0..16."""
    import numpy as np
    from PIL import Image

    ink = np.asarray(img) > 127
    ys, xs = np.nonzero(ink)
    crop = img.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    factor = BOX / max(crop.size)
    size = (max(1, round(crop.size[0] * factor)), max(1, round(crop.size[1] * factor)))
    crop = crop.resize(size, Image.Resampling.BILINEAR)
    box = Image.new("L", (BOX, BOX), 0)
    box.paste(crop, ((BOX - size[0]) // 2, (BOX - size[1]) // 2))
    bitmap = (np.asarray(box) > 127).astype(np.uint8)
    return bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.uint8)


def letter_images(font_path: Path) -> tuple[Any, Any]:
    """All PER_CLASS x len(LETTERS) letters as uint8 (n, 28, 28, 1) 0..255, and labels."""
    import numpy as np
    from PIL import ImageFont

    from ._build_images import upscale

    font = ImageFont.truetype(str(font_path), FONT_SIZE)
    rng = np.random.default_rng(BUNDLE_SEED)
    small, labels = [], []
    for label, letter in enumerate(LETTERS):
        for _ in range(PER_CLASS):
            small.append(uci_8x8(_render(font, letter, rng)))
            labels.append(label)
    x16 = np.stack(small)
    return upscale(x16), np.array(labels, dtype=np.uint8)


def png_bytes(image: Any) -> bytes:
    """A greyscale PNG of a (28, 28, 1) uint8 array, zlib level 0 (see the module doc)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image[..., 0]).save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed zip of `members` (name, bytes) with fixed timestamps and modes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _font_source(source: Path | None) -> tuple[Path, str]:
    from . import _manifest

    if source is not None:
        if not Path(source).is_file():
            msg = f"--source must be a font file for 'letters'. Received: --source {source}"
            raise ValueError(msg)
        return Path(source), f"the font file {Path(source).name}"
    item = _manifest.entry("cjk_font")
    path = _manifest.check_file(item)
    return path, f"the bundled cjk_font ({path.name}, sha256 {item.sha256[:8]}…)"


def build_letters(root: Path, source: Path | None) -> Built:
    """Ten capital letters, 100 each, UCI-style 8x8 upscaled to 28x28, as PNGs in a zip."""
    import numpy as np
    import PIL

    font_path, font_words = _font_source(source)
    x, y = letter_images(font_path)
    splits = split_indices(len(y), FRACTIONS, BUNDLE_SEED, y)
    members = []
    for split, idx in zip(SPLITS, splits, strict=True):
        for position, i in enumerate(idx):
            name = f"{FOLDER}/{split}/{LETTERS[y[i]]}/{position:04d}.png"
            members.append((name, png_bytes(x[i])))
    members.sort(key=lambda m: m[0])
    counts = "/".join(f"{len(s):,}" for s in splits)
    per_class = "/".join(str(int(np.sum(y[s] == 0))) for s in splits)
    return Built(
        data=zip_bytes(members),
        description=(
            f"Target task of chapter 5: {len(y):,} images of the {len(LETTERS)} capital "
            f"letters {', '.join(LETTERS)} ({PER_CLASS} each), rendered with random pen "
            "widths, affine and elastic distortions and stray strokes, then recorded like "
            "the UCI digits (32x32 bitmap counted into 8x8, 0..16) and upscaled to 28x28x1 "
            f"like digits28. Split stratified {counts} (train/val/test, {per_class} per "
            f"letter), seed {BUNDLE_SEED}. Greyscale PNGs in an uncompressed zip laid out "
            "letters/<split>/<letter>/<index>.png: image_folder('letters') extracts it for "
            "keras.utils.image_dataset_from_directory; load('letters') returns arrays."
        ),
        source=(
            f"Generated by kerascourse (datasets/_build_transfer.py) from {font_words}, "
            f"numpy {np.__version__} default_rng({BUNDLE_SEED}), Pillow {PIL.__version__}"
        ),
    )


def build_digits_base(root: Path, source: Path | None) -> Built:
    """Train the digits28 base (see `pretrain_base`) and return its ``.weights.h5`` bytes."""
    from . import pretrain_base

    if source is not None:
        msg = (
            "'digits_base' is trained on the bundled digits28; --source is not used. "
            f"Received: --source {source}. Run: python -m kerascourse.datasets rebuild "
            "digits_base"
        )
        raise ValueError(msg)
    result = pretrain_base.train()
    return Built(
        data=result.weights,
        description=result.description(),
        source=result.provenance(),
    )
