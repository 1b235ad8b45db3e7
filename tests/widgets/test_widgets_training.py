"""plot_history and the LivePlot callback: curves drawn in place, one output per fit."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from kerascourse.widgets import LivePlot, plot_history
from kerascourse.widgets import training as training_module
from kerascourse.widgets._render import decode_png, figure_pixels

HISTORY = {"accuracy": [0.5, 0.7, 0.8], "loss": [1.0, 0.6, 0.4], "val_accuracy": [0.6, 0.7, 0.75],
           "val_loss": [0.9, 0.7, 0.6]}  # fmt: skip


def test_plot_history_has_one_panel_per_metric_loss_first():
    """Does a history with loss and accuracy give two panels, loss first, train and val?"""
    fig = plot_history(HISTORY)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["loss", "val_loss"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), HISTORY["val_loss"])
    assert figure_pixels(fig).std() > 10


def test_plot_history_accepts_a_history_object():
    """Does the History returned by fit (anything with a .history dict) work?"""

    class FakeHistory:
        history = HISTORY

    assert len(plot_history(FakeHistory(), metrics=["loss"]).axes) == 1


def test_plot_history_errors():
    """Do an unknown metric, an empty history and a wrong type get clear messages?"""
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Unknown metric(s) ['auc']. Available in this history: ['loss', 'accuracy']."
        ),
    ):
        plot_history(HISTORY, metrics=["auc"])
    with pytest.raises(ValueError, match="Train for at least one epoch first"):
        plot_history({"loss": []})
    with pytest.raises(
        TypeError,
        match=re.escape(
            "needs the History returned by model.fit (or its .history dict). Received: list."
        ),
    ):
        plot_history([1, 2])


@pytest.fixture
def fake_notebook(monkeypatch):
    """Pretend to run in a kernel; record display() calls and display updates."""
    import IPython.display

    record = {"displays": [], "updates": []}

    class Handle:
        def update(self, obj, **kwargs):
            record["updates"].append((obj, kwargs))

    def display(obj, **kwargs):
        record["displays"].append((obj, kwargs))
        return Handle()

    monkeypatch.setattr(training_module, "_in_ipython", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return record


def _fit(keras, callback, epochs=3):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    return model.fit(
        x, x[:, :1], validation_split=0.25, epochs=epochs, verbose=0, callbacks=[callback]
    )


def test_live_plot_updates_one_output_in_place(keras, fake_notebook):
    """During fit, is there one display, a redraw per epoch, and one final static update?"""
    live = LivePlot(min_interval=0)
    history = _fit(keras, live, epochs=3)
    assert len(fake_notebook["displays"]) == 1
    bundle, kwargs = fake_notebook["displays"][0]
    assert kwargs == {"raw": True, "display_id": True}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == live.image.model_id
    assert live.redraws_ == 3  # one per epoch; the end of training reuses the last one
    assert live.history_["val_loss"] == pytest.approx(history.history["val_loss"])
    ((final, _),) = fake_notebook["updates"]
    assert base64.b64decode(final["image/png"]) == live.image.value
    assert decode_png(live.image.value).shape[1] > 600  # two panels: loss and mae


def test_live_plot_throttles_redraws(keras, fake_notebook):
    """With a long min_interval, are redraws limited to the first and the last epochs?"""
    live = LivePlot(min_interval=3600)
    _fit(keras, live, epochs=5)
    assert live.redraws_ == 2  # epoch 1 (nothing shown yet) and epoch 5 (the last)
    assert len(live.history_["loss"]) == 5


def test_live_plot_is_reusable_across_fits(keras, fake_notebook):
    """Does a second fit with the same callback start a fresh history and a new output?"""
    live = LivePlot(min_interval=0)
    _fit(keras, live, epochs=2)
    _fit(keras, live, epochs=1)
    assert len(live.history_["loss"]) == 1
    assert len(fake_notebook["displays"]) == 2


def test_live_plot_outside_a_notebook_only_records(keras):
    """In a script (no kernel), does LivePlot record the history and display nothing?"""
    live = LivePlot()
    _fit(keras, live, epochs=2)
    assert live.image is None
    assert len(live.history_["loss"]) == 2
    assert live.figure().axes[0].get_title() == "loss"


def test_live_plot_is_a_keras_callback(keras):
    """Is LivePlot a real keras.callbacks.Callback subclass?"""
    assert issubclass(LivePlot, keras.callbacks.Callback)
