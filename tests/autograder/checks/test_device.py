"""Device policy: GPU required where the grader has one (auto), always, or never.

The policy logic is tested with injected probe results (``gpus=``, ``on_gpu=``, peaks), so it
runs on CPU machines; the real GPU branches are exercised by the ``gpu``-marked test only.
The JAX branch runs in a subprocess with ``KERAS_BACKEND=jax`` (this process runs
TensorFlow), on the CPU and with fake GPU devices standing in for ``jax.devices("gpu")``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from kerascourse.autograder import DeviceError, GraderBugError
from kerascourse.autograder.checks.device import (
    check_device,
    gpu_devices,
    gpu_peak_memory,
    is_gpu_device,
    jit_compile,
    require_backend,
    require_gpu_available,
    reset_gpu_peak_memory,
    weight_devices,
    weights_on_gpu,
)
from kerascourse.autograder.core.config import GraderConfigError
from kerascourse.autograder.core.registry import get_lab

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


# ----------------------------------------------------------------------- before grading


def test_always_on_a_machine_without_a_gpu_stops_before_grading():
    """Does policy 'always' without a GPU raise the config error with both fixes?"""
    with pytest.raises(GraderConfigError) as err:
        require_gpu_available("always", gpus=[])
    text = str(err.value)
    assert "device_policy = 'always'" in text
    assert "sees no GPU on this machine" in text
    assert "jax[cuda12], tensorflow[and-cuda] or torch with CUDA" in text
    assert "set device_policy = 'auto'" in text


def test_hidden_gpus_are_named_when_always_stops(monkeypatch):
    """Does the message say that CUDA_VISIBLE_DEVICES="" hides the GPUs?"""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(GraderConfigError, match=re.escape("CUDA_VISIBLE_DEVICES='' hides")):
        require_gpu_available("always", gpus=[])


@pytest.mark.parametrize(("policy", "gpus"), [("always", GPU), ("auto", []), ("never", [])])
def test_other_policies_and_machines_with_a_gpu_go_ahead(policy, gpus):
    """Do 'auto' and 'never' on a CPU machine, and 'always' with a GPU, go ahead?"""
    assert require_gpu_available(policy, gpus=gpus) is None


def test_an_unknown_policy_stops_as_a_grader_bug():
    """Is a policy that is none of the three our bug, listing the valid ones?"""
    with pytest.raises(GraderBugError, match=re.escape("['auto', 'always', 'never']")):
        require_gpu_available("sometimes", gpus=GPU)


def test_tensorflow_grades_every_lab_and_compiles_without_xla():
    """Under TensorFlow, does no lab stop for its backend, and is XLA off (jit_compile)?"""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("this process does not run the TensorFlow backend")
    assert require_backend(get_lab("lab06_sentiment_lstm")) is None
    assert jit_compile() is False


# ----------------------------------------------------------------------- the JAX branch

JAX_PROBE = r"""
import json, os, sys
from types import SimpleNamespace

import jax
import keras
import numpy as np
from kerascourse.autograder.checks import device
from kerascourse.autograder.core.config import GraderConfigError
from kerascourse.autograder.core.registry import get_lab
from kerascourse.autograder.core.results import DeviceError

out = {"backend": device.backend_name(), "gpus": device.gpu_devices()}
try:
    jax.devices("gpu")
    out["jax_gpu_lookup"] = "found"
except RuntimeError as err:
    out["jax_gpu_lookup"] = type(err).__name__
inputs = keras.Input((3,), name="x")
model = keras.Model(inputs, keras.layers.Dense(2, name="d")(inputs))
model.compile(optimizer="adam", loss="mse", jit_compile=device.jit_compile())
model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), epochs=1, verbose=0)
out["jit_compile"] = device.jit_compile()
out["weight_devices"] = device.weight_devices(model)
out["weights_on_gpu"] = device.weights_on_gpu(model)
out["peak"] = device.gpu_peak_memory()
out["reset"] = device.reset_gpu_peak_memory()
auto = device.check_device("auto", model=model)
out["auto"] = [auto.passed, auto.measured]
try:
    device.check_device("always", model=model)
except DeviceError as err:
    out["always"] = err.result.measured
os.environ["XLA_FLAGS"] = "--xla_cpu_enable_fast_math=false"
device.enable_deterministic_ops()
device.enable_deterministic_ops()
out["xla_flags"] = os.environ["XLA_FLAGS"]
for lab in ("lab01_functional_api", "lab06_sentiment_lstm"):
    try:
        device.require_backend(get_lab(lab))
        out[lab] = "graded"
    except GraderConfigError as err:
        out[lab] = str(err)
try:
    device.require_gpu_available("always")
except GraderConfigError as err:
    out["require_gpu"] = str(err)


def fake_gpu(i, stats):  # in place of jax.devices("gpu"): the GPU branch, on a CPU machine
    return SimpleNamespace(id=i, platform="gpu", memory_stats=lambda: stats)


gpus = [fake_gpu(0, {"peak_bytes_in_use": 1000}), fake_gpu(1, {"peak_bytes_in_use": 24})]
real = jax.devices
jax.devices = lambda kind=None: gpus if kind == "gpu" else real(kind)
out["fake_gpus"] = device.gpu_devices()
out["fake_peak"] = device.gpu_peak_memory()
gpus[1] = fake_gpu(1, None)  # a platform that reports no statistics
out["fake_peak_without_stats"] = device.gpu_peak_memory()
value = SimpleNamespace(devices=lambda: [gpus[0]])  # what jax.Array.devices() lists
out["fake_weight_device"] = device._variable_device(value, "jax")
jax.devices = real
out["tensorflow_imported"] = "tensorflow" in sys.modules
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def jax_probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What device.py reports in a process on the JAX backend (CPU only, TensorFlow blocked
    by benchmarks/gpu_check.py's sitecustomize)."""
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("_gpu_check_for_device_tests", path)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    blocker = tmp_path_factory.mktemp("no-tensorflow")
    (blocker / "sitecustomize.py").write_text(gpu_check.BLOCKER)
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "CUDA_VISIBLE_DEVICES")}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=str(blocker))
    proc = subprocess.run(
        [sys.executable, "-c", JAX_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_jax_on_a_cpu_machine_has_no_gpu(jax_probe):
    """Does jax.devices("gpu") raise on a CPU machine, and device.py read that as no GPU?"""
    assert jax_probe["backend"] == "jax"
    assert jax_probe["jax_gpu_lookup"] == "RuntimeError"
    assert jax_probe["gpus"] == []
    assert jax_probe["peak"] is None
    assert jax_probe["reset"] is False


def test_jax_weights_report_their_cpu_device(jax_probe):
    """Do a JAX-backed model's weights each name the CPU, and not count as on a GPU?"""
    assert jax_probe["weight_devices"] == {"d/kernel": "cpu:0", "d/bias": "cpu:0"}
    assert jax_probe["weights_on_gpu"] is False


def test_jax_device_policies_on_the_cpu(jax_probe):
    """Does 'auto' pass for want of a GPU, and 'always' fail, under JAX?"""
    assert jax_probe["auto"] == [True, "no GPU on this grading machine"]
    assert jax_probe["always"] == "no GPU on this machine"


def test_jax_deterministic_ops_add_the_xla_flag_once(jax_probe):
    """Does enable_deterministic_ops keep the other XLA flags and add its own once?"""
    flags = jax_probe["xla_flags"].split()
    assert flags == ["--xla_cpu_enable_fast_math=false", "--xla_gpu_deterministic_ops=true"]


def test_jax_compiles_with_xla_where_it_can(jax_probe):
    """Under JAX, does the grader compile with jit_compile="auto" (eager JAX is slow)?"""
    assert jax_probe["jit_compile"] == "auto"


def test_jax_stops_a_lab_that_needs_tensorflow(jax_probe):
    """Does lab06 stop under JAX with its reason and the fix, and lab01 go ahead?"""
    assert jax_probe["lab01_functional_api"] == "graded"
    message = jax_probe["lab06_sentiment_lstm"]
    assert "only with the TensorFlow backend: its model takes raw review strings" in message
    assert "Keras runs on jax here: set KERAS_BACKEND=tensorflow" in message
    assert "Keras' jax backend sees no GPU" in jax_probe["require_gpu"]


def test_jax_gpu_branch_reads_fake_gpus(jax_probe):
    """With jax.devices("gpu") faked, are GPUs listed, peaks summed (None without stats),
    and a weight on a GPU named so?"""
    assert jax_probe["fake_gpus"] == ["gpu:0", "gpu:1"]
    assert jax_probe["fake_peak"] == 1024
    assert jax_probe["fake_peak_without_stats"] is None
    assert jax_probe["fake_weight_device"] == "gpu:0"
    assert is_gpu_device(jax_probe["fake_weight_device"])


def test_jax_device_checks_import_no_tensorflow(jax_probe):
    """Does device.py under JAX leave TensorFlow unimported (blocked, as on a GPU machine
    without it, and nothing above failed for it)?"""
    assert jax_probe["tensorflow_imported"] is False
