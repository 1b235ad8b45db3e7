"""Device policy: GPU required where the grader has one (auto), always, or never.

The policy logic is tested with injected probe results (``gpus=``, ``on_gpu=``, peaks), so it
runs on CPU machines; the real GPU branches are exercised by the ``gpu``-marked test only.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from kerascourse.autograder import DeviceError, GraderBugError
from kerascourse.autograder.checks.device import (
    check_device,
    gpu_devices,
    gpu_peak_memory,
    is_gpu_device,
    reset_gpu_peak_memory,
    weight_devices,
    weights_on_gpu,
)

GPU = ["GPU:0"]

# policy, machine GPUs, weights on GPU, (peak before, peak after), passes
MATRIX = [
    ("never", [], None, (None, None), True),
    ("never", GPU, False, (5, 5), True),
    ("auto", [], None, (None, None), True),
    ("auto", [], False, (None, None), True),
    ("auto", GPU, True, (0, 1024), True),
    ("auto", GPU, True, (None, None), True),
    ("auto", GPU, False, (0, 1024), False),
    ("auto", GPU, True, (1024, 1024), False),
    ("always", [], None, (None, None), False),
    ("always", GPU, True, (0, 1024), True),
    ("always", GPU, False, (0, 1024), False),
]


@pytest.mark.parametrize(("policy", "gpus", "on_gpu", "peaks", "passes"), MATRIX)
def test_policy_matrix(policy, gpus, on_gpu, peaks, passes):
    """Does each policy pass or fail for each machine and placement as specified?"""
    result = check_device(
        policy,
        gpus=gpus,
        on_gpu=on_gpu,
        peak_before=peaks[0],
        peak_after=peaks[1],
        raise_on_fail=False,
    )
    assert result.passed is passes


def test_auto_on_a_cpu_machine_says_why_it_passes():
    """Does auto on a machine without a GPU say so in measured and allowed?"""
    result = check_device("auto", gpus=[])
    assert result.measured == "no GPU on this grading machine"
    assert result.allowed == "GPU required only where the grader has one"


def test_always_without_gpu_says_how_to_get_one():
    """Does 'always' on a CPU machine fail with the Colab fix?"""
    with pytest.raises(
        DeviceError, match=re.escape("On Colab: Runtime > Change runtime type > GPU")
    ):
        check_device("always", gpus=[])


def test_weights_on_cpu_fail_when_a_gpu_is_required():
    """Are weights left on the CPU reported with what forces the CPU?"""
    with pytest.raises(DeviceError, match=re.escape("Remove anything that forces the CPU")):
        check_device("auto", gpus=GPU, on_gpu=False)


def test_peak_memory_that_did_not_grow_fails():
    """Is training that left GPU memory untouched reported?"""
    with pytest.raises(DeviceError, match=re.escape("without forcing the CPU")):
        check_device("always", gpus=GPU, on_gpu=True, peak_before=2048, peak_after=2048)


def test_passing_gpu_check_lists_what_was_verified():
    """Does a passing GPU check record which evidence it verified?"""
    result = check_device("auto", gpus=GPU, on_gpu=True, peak_before=0, peak_after=10)
    assert result.details["verified"] == ["weights", "peak_memory"]
    assert "weights on the GPU and GPU memory grew in training" in result.measured


def test_unknown_policy_lists_the_valid_ones():
    """Is an unknown policy our configuration bug, listing the valid policies?"""
    with pytest.raises(
        GraderBugError, match=re.escape("Valid policies: ['auto', 'always', 'never']")
    ):
        check_device("sometimes", gpus=[])


@pytest.mark.parametrize(
    ("device", "is_gpu"),
    [
        ("GPU:0", True),
        ("/job:localhost/replica:0/task:0/device:GPU:1", True),
        ("cuda:0", True),
        ("gpu:0", True),
        ("CPU:0", False),
        ("cpu", False),
        ("/job:localhost/replica:0/task:0/device:CPU:0", False),
    ],
)
def test_device_strings_are_classified(device, is_gpu):
    """Are TF, JAX and torch device strings told apart as GPU or not?"""
    assert is_gpu_device(device) is is_gpu


def _tiny_model():
    inputs = keras.Input((3,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2, name="d")(inputs))


def test_weight_devices_are_read_on_this_machine():
    """Does every weight report a device, and do they agree with this machine's GPUs?"""
    model = _tiny_model()
    devices = weight_devices(model)
    assert set(devices) == {"d/kernel", "d/bias"}
    assert weights_on_gpu(model) is bool(gpu_devices())


def test_real_probe_passes_auto_policy():
    """Does the auto policy pass on this machine with the real probes, GPU or not?"""
    assert check_device("auto", model=_tiny_model()).passed


def test_no_gpu_peak_without_a_gpu():
    """Without a GPU, is there no peak GPU memory and nothing to reset?"""
    if gpu_devices():
        pytest.skip("this machine has a GPU")
    assert gpu_peak_memory() is None
    assert reset_gpu_peak_memory() is False


@pytest.mark.gpu
def test_training_on_the_gpu_passes_every_check():
    """On a GPU machine, are weights on the GPU and does peak memory grow during fit?"""
    if not gpu_devices():
        pytest.skip("no GPU on this machine (the GPU branch cannot run here)")
    reset_gpu_peak_memory()
    before = gpu_peak_memory()
    model = _tiny_model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((64, 3), "float32"), np.ones((64, 2), "float32"), epochs=1, verbose=0)
    after = gpu_peak_memory()
    result = check_device("always", model=model, peak_before=before, peak_after=after)
    assert result.details["verified"][0] == "weights"
