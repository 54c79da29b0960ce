"""Tests of dnn_toolkit.plots: PNG files from plain numbers, no display needed."""

import matplotlib
import numpy as np
import pytest
from matplotlib import image

from dnn_toolkit import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _history(n_epochs=3):
  return [{"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + 0.1 * e,
           "val_loss": 1.2 / e, "val_accuracy": 0.45 + 0.1 * e}
          for e in range(1, n_epochs + 1)]


def _read_png(path):
  with open(path, "rb") as f:
    assert f.read(8) == PNG_SIGNATURE
  return image.imread(path)  # [height, width, 4]


def test_learning_curves_png(tmp_path):
  path = str(tmp_path / "sub" / "learning_curves.png")
  backend = matplotlib.get_backend()
  assert plots.plot_learning_curves(_history(), path) == path
  pixels = _read_png(path)
  assert pixels.shape[0] > 300 and pixels.shape[1] > 800
  assert pixels[..., :3].std() > 0.05  # something is drawn
  assert matplotlib.get_backend() == backend  # no global backend switch


def test_learning_curves_of_a_single_epoch(tmp_path):
  _read_png(plots.plot_learning_curves(_history(1), str(tmp_path / "one.png")))


def test_gradient_norms_png_tolerates_zero_norms(tmp_path):
  steps = np.array([1, 100, 200])
  norms = {f"hidden{i}": (steps, 10.0 ** -np.array([6 - i, 6 - i, 6 - i]))
           for i in range(1, 4)}
  norms["outputs"] = (steps, np.array([0.0, 1.0, 0.5]))  # a zero on a log axis
  path = plots.plot_gradient_norms(norms, str(tmp_path / "gradient_norms.png"))
  assert _read_png(path).shape[1] > 800


def test_gradient_norms_of_many_steps_draws_a_few_profiles(tmp_path):
  steps = np.arange(1, 1001, 10)
  norms = {"hidden1": (steps, np.full(len(steps), 1e-6)),
           "hidden2": (steps, np.full(len(steps), 1e-3))}
  _read_png(plots.plot_gradient_norms(norms, str(tmp_path / "many.png")))


@pytest.mark.parametrize("history, message", [
    ([], "at least one epoch"),
    ([{"epoch": 1, "loss": 1.0}], r"without \['accuracy', 'val_loss', 'val_accuracy'\]"),
])
def test_learning_curves_reject_bad_history(tmp_path, history, message):
  with pytest.raises(ValueError, match=message):
    plots.plot_learning_curves(history, str(tmp_path / "x.png"))
  assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("norms, message", [
    ({}, "at least one layer"),
    ({"hidden1": ([1, 2], [0.1])}, "'hidden1' to be 1-D of one length"),
    ({"hidden1": ([[1, 2]], [[0.1, 0.2]])}, "'hidden1' to be 1-D"),
])
def test_gradient_norms_reject_bad_input(tmp_path, norms, message):
  with pytest.raises(ValueError, match=message):
    plots.plot_gradient_norms(norms, str(tmp_path / "x.png"))


# ------------------------------------------- what the figures say, read back


@pytest.fixture
def drawn(monkeypatch):
  """Returns the figures `plots.save` writes, after they were drawn."""
  figures = []
  save = plots.save

  def recording_save(figure, path, dpi=100):
    figures.append(figure)
    return save(figure, path, dpi)

  monkeypatch.setattr(plots, "save", recording_save)
  return figures


def _inside(inner, outer):
  return (inner.x0 >= outer.x0 and inner.x1 <= outer.x1 and inner.y0 >= outer.y0
          and inner.y1 <= outer.y1)


def _overlaps(a, b):
  return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _check_legends_outside(figure):
  renderer = figure.canvas.get_renderer()
  for axes in figure.axes:
    legend = axes.get_legend()
    if legend is not None:
      box = legend.get_window_extent(renderer)
      assert not _overlaps(box, axes.get_window_extent(renderer))
      assert _inside(box, figure.bbox)  # Not cut off either.


@pytest.mark.parametrize("n_epochs", [1, 3, 40])
def test_learning_curves_say_what_and_in_which_unit(tmp_path, drawn, n_epochs):
  plots.plot_learning_curves(_history(n_epochs), str(tmp_path / "curves.png"))
  (figure,) = drawn
  loss, accuracy = figure.axes
  assert loss.get_ylabel() == "cross-entropy loss (nats)"
  assert accuracy.get_ylabel() == "accuracy (%)"
  for axes in (loss, accuracy):
    assert axes.get_xlabel() == "epoch"
    ticks = [t for t in axes.get_xticks() if axes.get_xlim()[0] <= t <= axes.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    train, validation = axes.get_lines()
    assert train.get_marker() != validation.get_marker()
    assert train.get_linestyle() != validation.get_linestyle()
  np.testing.assert_allclose(accuracy.get_lines()[1].get_ydata(),
                             [100 * e["val_accuracy"] for e in _history(n_epochs)])
  _check_legends_outside(figure)


def test_one_epoch_gets_the_single_tick_1(tmp_path, drawn):
  plots.plot_learning_curves(_history(1), str(tmp_path / "one.png"))
  for axes in drawn[0].axes:
    assert list(axes.get_xticks()) == [1]


def test_gradient_norms_mark_frozen_layers(tmp_path, drawn):
  steps = np.array([1, 100, 200])
  norms = {name: (steps, np.full(3, 10.0 ** -i))
           for i, name in enumerate(["hidden1", "hidden2", "hidden3", "outputs"])}
  plots.plot_gradient_norms(norms, str(tmp_path / "g.png"), frozen=["hidden1",
                                                                    "hidden2"])
  (figure,) = drawn
  by_layer, over_time = figure.axes
  assert [t.get_text() for t in by_layer.get_xticklabels()] == [
      "hidden1 (frozen)", "hidden2 (frozen)", "hidden3", "outputs"]
  assert "frozen" in [t.get_text() for t in by_layer.get_legend().get_texts()]
  lines = {line.get_label(): line for line in over_time.get_lines()}
  assert set(lines) == {"hidden1 (frozen)", "hidden2 (frozen)", "hidden3", "outputs"}
  assert lines["hidden1 (frozen)"].get_linestyle() == ":"
  assert lines["hidden3"].get_linestyle() != ":"
  assert len({line.get_marker() for line in lines.values()}) == 4
  for axes in (by_layer, over_time):
    assert "gradient norm" in axes.get_ylabel() and "log scale" in axes.get_ylabel()
    assert axes.get_yscale() == "log"
  assert over_time.get_xlabel() == "global step (training batches)"
  _check_legends_outside(figure)


@pytest.mark.parametrize("frozen, error, message", [
    ("hidden1", TypeError, "`frozen` to be a list"),
    (["hidden9"], ValueError, r"Received: \['hidden9'\]"),
])
def test_gradient_norms_reject_bad_frozen(tmp_path, frozen, error, message):
  norms = {"hidden1": ([1], [0.1]), "outputs": ([1], [1.0])}
  with pytest.raises(error, match=message):
    plots.plot_gradient_norms(norms, str(tmp_path / "x.png"), frozen=frozen)
  assert not (tmp_path / "x.png").exists()


# ------------------------------------------------ the helpers demos draw with


def test_line_styles_differ_in_marker_dash_and_colour():
  styles = [plots.line_style(i) for i in range(8)]
  assert len({(s["marker"], s["linestyle"]) for s in styles}) == 8
  assert len({s["marker"] for s in styles}) == 8
  assert len({s["color"] for s in styles}) == 8


def test_new_figure_and_save_need_no_pyplot(tmp_path):
  backend = matplotlib.get_backend()
  figure = plots.new_figure(4, 3)
  axes = figure.add_subplot(1, 1, 1)
  for i in range(3):
    axes.plot([1, 2], [i, i + 1], label=f"line {i}", **plots.line_style(i))
  plots.epoch_axis(axes, [1, 2])
  plots.legend_outside(axes)
  path = plots.save(figure, str(tmp_path / "deep" / "f.png"))
  assert _read_png(path).shape[:2] == (300, 400)
  _check_legends_outside(figure)
  assert matplotlib.get_backend() == backend
