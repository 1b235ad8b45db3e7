"""Platform detection drives Colab-only installs and the doctor's advice."""

from __future__ import annotations

import pytest

from kerascourse import platform


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"COLAB_RELEASE_TAG": "release-colab_20261101"}, "colab"),
     ({"BINDER_LAUNCH_HOST": "https://mybinder.org/"}, "binder"),
     ({}, "local")],
)  # fmt: skip
def test_detect(monkeypatch, env, expected):
    """Is each platform recognised from the variables it sets?"""
    for var in ("COLAB_RELEASE_TAG", "BINDER_LAUNCH_HOST", "BINDER_REPO_URL"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert platform.detect() == expected
