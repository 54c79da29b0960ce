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
