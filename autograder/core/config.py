"""What decides a grade for credit: seed, thresholds, epochs, grader data, device policy.

Why a module of its own: the repository holds the labs' source versions, hidden tests
included, so knowing the repository must not be enough to pass. Everything that decides a
grade for credit lives in a :class:`GraderConfig`. Its defaults are public (self-paced
learners get the same checks as the grader, on the bundled data); an instructor overrides
them with a PRIVATE TOML file kept outside the repository, found through ``--config`` or
the environment variable ``KERASCOURSE_GRADER_CONFIG``.

Example private config (``/srv/grading/kerascourse.toml``)::

    seed = 918273                      # training seed of the grader (all labs)
    device_policy = "auto"             # "auto", "always" or "never"

    [lab01_functional_api]             # overrides for one lab
    quality_threshold = 0.95
    epochs = 8
    data = "heldout_lab01.npz"         # relative to this file; x_train/y_train/x_test/y_test
    data_sha256 = "3f1c...9a0e"        # sha256sum heldout_lab01.npz

Importing this module imports nothing heavy (numpy is imported by :func:`load_npz`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.checkout import REPO_ROOT
from kerascourse.datasets._errors import DataIntegrityError, short_hash, unknown_name_message

CONFIG_ENV = "KERASCOURSE_GRADER_CONFIG"
DEVICE_POLICIES = ("auto", "always", "never")
#: Keys an ``.npz`` of grader-held data must contain.
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class GraderConfigError(ValueError):
    """A grader configuration file or value is wrong; the message names the key and the fix."""


class PrivateConfigWarning(UserWarning):
    """The private grader config sits where students can read it (inside the repository)."""


@dataclass(frozen=True)
class GraderConfig:
    """Settings of the trusted grader; ``None`` means "the lab's public default".

    Attributes:
        seed: seed for the grader's training runs. Defaults to `42`.
        quality_threshold: pass mark of the lab's quality metric (accuracy, R²) for the
            grader-trained model, in (0, 1].
            Defaults to `None` (the lab's value).
        epochs: epochs the grader trains the rebuilt model. Defaults to `None` (the lab's).
        max_time_ratio: largest allowed steady-state epoch time of the student's model over
            the reference model's, timed in the same run. Defaults to `None` (the lab's).
        max_epoch_seconds: optional absolute cap on the student's steady-state epoch time,
            on top of the ratio. Defaults to `None` (no cap).
        data: path to an ``.npz`` of grader-held data with the arrays
            ``x_train, y_train, x_test, y_test``. Defaults to `None` (the lab's bundled
            public data).
        data_sha256: the SHA256 of ``data`` (required with ``data``; verified before use).
        device_policy: ``"auto"`` (a GPU is required where the grading machine has one),
            ``"always"`` or ``"never"``. Defaults to `"auto"`.
        labs: per-lab overrides, lab id -> {key: value} (same keys, except ``labs``).
        source: where the values came from (``"public defaults"`` or the file path).
    """

    seed: int = 42
    quality_threshold: float | None = None
    epochs: int | None = None
    max_time_ratio: float | None = None
    max_epoch_seconds: float | None = None
    data: str | None = None
    data_sha256: str | None = None
    device_policy: str = "auto"
    labs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "public defaults"

    @property
    def is_private(self) -> bool:
        """Whether these values came from an instructor's file rather than the public defaults."""
        return self.source != "public defaults"

    def for_lab(self, lab_id: str) -> GraderConfig:
        """This config with the ``[lab_id]`` overrides applied (validated again)."""
        overrides = dict(self.labs.get(lab_id, {}))
        merged = dataclasses.replace(self, labs={}, **overrides)
        merged.validate()
        if merged.data is not None:
            _refuse_npz_for_multi_io(lab_id)
        return merged

    def validate(self) -> GraderConfig:
        """Check every value; raise :class:`GraderConfigError` naming the key and the fix."""
        where = f" in {self.source}" if self.is_private else ""
        _require(
            isinstance(self.seed, int) and not isinstance(self.seed, bool),
            f"'seed' must be an integer{where}. Received: seed={self.seed!r}.",
        )
        if self.quality_threshold is not None:
            ok = _is_number(self.quality_threshold) and 0 < self.quality_threshold <= 1
            _require(
                ok,
                f"'quality_threshold' must be a number in (0, 1]{where}, e.g. 0.93. "
                f"Received: quality_threshold={self.quality_threshold!r}.",
            )
        if self.epochs is not None:
            ok = isinstance(self.epochs, int) and not isinstance(self.epochs, bool)
            _require(
                ok and self.epochs >= 2,
                f"'epochs' must be an integer >= 2{where} (the first epoch is excluded from "
                f"timing). Received: epochs={self.epochs!r}.",
            )
        for key in ("max_time_ratio", "max_epoch_seconds"):
            value = getattr(self, key)
            if value is not None:
                _require(
                    _is_number(value) and value > 0,
                    f"{key!r} must be a positive number{where}. Received: {key}={value!r}.",
                )
        _require(
            self.device_policy in DEVICE_POLICIES,
            f"'device_policy' must be one of {list(DEVICE_POLICIES)}{where}. "
            f"Received: device_policy={self.device_policy!r}.",
        )
        if self.data is not None or self.data_sha256 is not None:
            _require(
                isinstance(self.data, str) and isinstance(self.data_sha256, str),
                f"'data' and 'data_sha256' go together{where}: a grade must come from known "
                "bytes. Compute the hash with `sha256sum FILE` and set both. Received: "
                f"data={self.data!r}, data_sha256={self.data_sha256!r}.",
            )
        return self

    def describe(self) -> dict[str, Any]:
        """The values as a dict for result files.

        File names only and a shortened hash: result files travel further than the
        instructor's machine (feedback, reports), the private paths should not.
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "labs"}
        if out.get("data"):
            out["data"] = Path(out["data"]).name
        if out.get("data_sha256"):
            out["data_sha256"] = short_hash(out["data_sha256"])
        if self.is_private:
            out["source"] = Path(self.source).name
        return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(condition: bool, msg: str) -> None:
    if not condition:
        raise GraderConfigError(msg)


_KEYS = tuple(f.name for f in dataclasses.fields(GraderConfig) if f.name not in {"labs", "source"})


def valid_keys() -> list[str]:
    """Keys a config file may set at the top level or inside a ``[lab_id]`` table."""
    return list(_KEYS)


def load_config(path: str | os.PathLike[str] | None = None) -> GraderConfig:
    """The grader config: from ``path``, else ``$KERASCOURSE_GRADER_CONFIG``, else defaults.

    Args:
        path: a TOML file. Defaults to `None` (use the environment variable, or the public
            defaults when it is unset or empty).

    Raises:
        GraderConfigError: the file is missing, is not TOML, or has an unknown key or a bad
            value; the message lists the valid keys or says what is expected.
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return GraderConfig().validate()
    return parse_config_file(Path(path))


def parse_config_file(path: Path) -> GraderConfig:
    """Read one private TOML config file (see the module docstring for the format)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        msg = (
            f"Grader config file not found: {path}. Pass an existing TOML file with --config "
            f"or {CONFIG_ENV}, or unset {CONFIG_ENV} to use the public defaults."
        )
        raise GraderConfigError(msg)
    _warn_if_public(path)
    tomllib = _tomllib()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"Grader config {path} is not valid TOML: {exc}."
        raise GraderConfigError(msg) from None
    return config_from_dict(raw, source=str(path), base_dir=path.parent)


def config_from_dict(
    raw: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None
) -> GraderConfig:
    """Build and validate a config from a parsed TOML mapping.

    Tables whose name is a lab id hold per-lab overrides; relative ``data`` paths are
    resolved against ``base_dir`` (the config file's folder).
    """
    from kerascourse.autograder.core.registry import lab_ids

    top: dict[str, Any] = {}
    labs: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping):
            if key not in lab_ids():
                msg = unknown_name_message(
                    f"lab table in grader config {source}:",
                    key,
                    lab_ids(),
                    hint="A [table] in the config must be named after a lab id.",
                )
                raise GraderConfigError(msg)
            labs[key] = _checked_keys(value, f"[{key}] in {source}", base_dir)
        else:
            top[key] = value
    top = _checked_keys(top, source, base_dir)
    config = GraderConfig(**top, labs=labs, source=source).validate()
    for lab_id in labs:
        config.for_lab(lab_id)  # validate each lab's merged values now, not mid-grading
    return config


def _checked_keys(values: Mapping[str, Any], where: str, base_dir: Path | None) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if key not in _KEYS:
            msg = unknown_name_message(f"key in grader config {where}:", key, _KEYS)
            raise GraderConfigError(msg)
        if key == "data" and isinstance(value, str) and base_dir is not None:
            value = str((base_dir / Path(value).expanduser()).resolve())
        out[key] = value
    return out


def _tomllib() -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            msg = "Reading a grader config on Python 3.10 needs `tomli`: pip install tomli"
            raise GraderConfigError(msg) from None
    return tomllib


def _warn_if_public(path: Path) -> None:
    """Warn when the private config lives in the course repository (students can read it)."""
    if REPO_ROOT in path.parents and (REPO_ROOT / ".git").exists():
        warnings.warn(
            f"The grader config {path} is inside the course repository {REPO_ROOT}; anyone "
            "who can read the repository can read its thresholds, seed and data path. Move "
            "it outside (e.g. /srv/grading/kerascourse.toml) and point to it with --config.",
            PrivateConfigWarning,
            stacklevel=3,
        )


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_npz(path: str, expected_sha256: str) -> dict[str, Any]:
    """Load grader-held data after checking its SHA256 and its arrays.

    Raises:
        GraderConfigError: the file is missing or lacks one of ``x_train, y_train, x_test,
            y_test``, or their lengths disagree.
        DataIntegrityError: the file's SHA256 is not ``expected_sha256``.
    """
    import numpy as np

    if not Path(path).is_file():
        msg = f"Grader data file not found: {path} (set by 'data' in the grader config)."
        raise GraderConfigError(msg)
    got = sha256_file(path)
    if got.lower() != expected_sha256.strip().lower():
        msg = (
            f"SHA256 of grader data {path} does not match the config: expected "
            f"{short_hash(expected_sha256)}, got {short_hash(got)}. The file may have been "
            "replaced or partly written. If you changed it on purpose, update data_sha256 "
            "(sha256sum FILE); no grade was computed."
        )
        raise DataIntegrityError(msg)
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in NPZ_KEYS if k not in npz.files]
        if missing:
            msg = (
                f"Grader data {path} lacks the arrays {missing}. Expected keys {list(NPZ_KEYS)}; "
                f"found {sorted(npz.files)}. Save it with np.savez(path, x_train=..., "
                "y_train=..., x_test=..., y_test=...)."
            )
            raise GraderConfigError(msg)
        arrays = {k: npz[k] for k in NPZ_KEYS}
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny or nx == 0:
            msg = (
                f"Grader data {path}: x_{split} has {nx} rows and y_{split} {ny}; they must "
                "be equal and non-zero."
            )
            raise GraderConfigError(msg)
    return arrays


def _refuse_npz_for_multi_io(lab_id: str) -> None:
    """A private ``.npz`` holds four plain arrays: no named inputs or outputs, no text.

    Checked when the config is merged for a lab, so ``kerascourse grade`` stops before
    grading anyone rather than failing every submission.
    """
    from kerascourse.autograder.core.registry import get_lab

    lab = get_lab(lab_id)
    if lab.submission == "callback":
        why = "is graded on the grader's own training runs, whose data"
    elif len(lab.inputs) > 1 or len(lab.outputs) > 1:
        why = "has several inputs or outputs, which"
    elif not lab.private_npz:
        why = "is graded on text, which"
    else:
        return
    msg = (
        f"{lab_id} {why} a private .npz (x_train, y_train, x_test, y_test) cannot hold; "
        f"remove 'data' from its [{lab_id}] table and set a private 'seed' instead: its "
        "grader data is drawn with the seed."
    )
    raise GraderConfigError(msg)
