"""Tests of dnn_toolkit.lr_finder: the range test against NumPy, the plot, the CLI."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import lr_finder
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import mnist
from dnn_toolkit.model import build_dnn

V1 = tf.compat.v1
# A tiny sigmoid net trained by plain SGD: its steps are easy to write out in NumPy.
TINY = DNNConfig(hidden_layers=(3,), n_outputs=2, activation="sigmoid",
                 initializer="xavier", batch_norm=False, dropout_rate=0.0,
                 optimizer="sgd", seed=11)


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _blobs(n=40, n_inputs=4, seed=0):
  """Two Gaussian blobs, labels 0 and 1: `[n, n_inputs]` float32, `[n]` int64."""
  rng = np.random.RandomState(seed)
  labels = rng.randint(2, size=n)
  images = rng.randn(n, n_inputs) + 1.5 * labels[:, None]
  return images.astype(np.float32), labels.astype(np.int64)


def _initial_weights(config, n_inputs):
  """The weights build_dnn starts from for `config` (its seed fixes them)."""
  with tf.Graph().as_default(), V1.Session() as sess:
    build_dnn(config, n_inputs)
    sess.run(V1.global_variables_initializer())
    names = ["hidden1/weights", "hidden1/biases", "outputs/weights", "outputs/biases"]
    by_name = {v.op.name: v for v in V1.global_variables()}
    return [sess.run(by_name[name]).astype(np.float64) for name in names]


def _numpy_range_test(images, labels, low, high, steps, batch_size, seed):
  """SGD on the tiny net with rate low * (high / low) ** (i / (steps - 1))."""
  W1, b1, W2, b2 = _initial_weights(TINY, images.shape[1])
  batches = []
  epoch = 0
  while len(batches) < steps:
    batches += list(data.minibatch_indices(len(images), batch_size, seed, epoch,
                                           drop_remainder=True))
    epoch += 1
  rates, losses = [], []
  for i, rows in enumerate(batches[:steps]):
    rate = low * (high / low) ** (i / (steps - 1))
    x, y = images[rows].astype(np.float64), np.eye(2)[labels[rows]]
    h = _sigmoid(x @ W1 + b1)  # [batch, 3]
    logits = h @ W2 + b2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    losses.append(-np.mean(np.sum(y * np.log(p), axis=1)))
    d_logits = (p - y) / len(x)
    d_h = d_logits @ W2.T * h * (1 - h)
    W2, b2 = W2 - rate * h.T @ d_logits, b2 - rate * d_logits.sum(0)
    W1, b1 = W1 - rate * x.T @ d_h, b1 - rate * d_h.sum(0)
    rates.append(rate)
  return np.array(rates), np.array(losses)


def test_rates_losses_and_smoothing_match_numpy():
  images, labels = _blobs()
  result = lr_finder.find_learning_rate(TINY, (images, labels), low=1e-3, high=3.0,
                                        steps=12, batch_size=8, smoothing=0.5,
                                        divergence=100.0)
  rates, losses = _numpy_range_test(images, labels, 1e-3, 3.0, 12, 8, TINY.seed)
  assert result.diverged_at is None and len(result.losses) == 12
  np.testing.assert_allclose(result.learning_rates, rates, rtol=1e-5)
  np.testing.assert_allclose(result.losses, losses, rtol=1e-4, atol=1e-6)
  average, smoothed = 0.0, []
  for i, loss in enumerate(losses):
    average = 0.5 * average + 0.5 * loss
    smoothed.append(average / (1 - 0.5 ** (i + 1)))
  np.testing.assert_allclose(result.smoothed_losses, smoothed, rtol=1e-4)
  # The test's net is the config with its schedule swapped for the growing rate.
  assert (result.config.schedule, result.config.learning_rate,
          result.config.decay_steps) == ("exponential", 1e-3, 11)
  np.testing.assert_allclose(result.config.decay_rate, 3000.0)


def test_suggestion_rules_on_a_known_curve():
  rates = np.logspace(-5, 0, 51)
  x = np.log10(rates)
  curve = 2.0 - np.tanh(2.0 * (x + 3.0)) + np.where(x > -1, 50 * (x + 1) ** 2, 0.0)
  rate, rule, at_minimum = lr_finder.suggest(rates, curve, "steepest")
  np.testing.assert_allclose(rate, 1e-3)  # tanh falls fastest at its centre.
  assert rule == lr_finder.RULES["steepest"] and "steepest descent" in rule
  lowest = rates[np.argmin(curve)]
  assert at_minimum == lowest
  rate, rule, _ = lr_finder.suggest(rates, curve, "minimum")
  np.testing.assert_allclose(rate, lowest / 10)
  assert rule == "a tenth of the rate at the minimum of the smoothed loss"
  rate, rule, _ = lr_finder.suggest(rates, np.linspace(1, 3, 51), "steepest")
  assert rate is None and "never fell" in rule


def test_loss_diverges_and_the_test_stops_on_mnist(tmp_path):
  train = mnist.load_mnist().train
  config = DNNConfig(hidden_layers=(30,), batch_norm=False, optimizer="sgd", seed=0)
  result = lr_finder.find_learning_rate(config, (train.images[:2000],
                                                 train.labels[:2000]),
                                        low=1e-3, high=1e3, steps=120, verbose=1)
  assert result.diverged_at is not None and result.diverged_at < 119
  assert len(result.losses) == result.diverged_at + 1
  assert np.nanmin(result.smoothed_losses) < 0.8 * result.smoothed_losses[0]
  assert 1e-3 < result.suggested_learning_rate < result.rate_at_minimum
  path = lr_finder.plot_range_test(result, str(tmp_path / "plots" / "lr.png"))
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert os.path.getsize(path) > 10_000


BAD_ARGUMENTS = [
    (dict(low=0.0), ValueError, r"`low`, expected a number in \(0, inf\)"),
    (dict(low=-1e-3), ValueError, "Received: low=-0.001"),
    (dict(high=0.0), ValueError, "`high`"),
    (dict(low=1.0, high=0.1), ValueError, r"`high`, expected a number greater than "
                                          r"`low`=1 \(the bounds are reversed\?\)"),
    (dict(low=0.1, high=0.1), ValueError, "greater than `low`"),
    (dict(steps=1), ValueError, r"`steps`, expected an integer >= 2"),
    (dict(steps=2.5), TypeError, "`steps`"),
    (dict(steps=True), TypeError, "`steps`"),
    (dict(low="1e-6"), TypeError, "`low`"),
    (dict(batch_size=41), ValueError, "at most the 40 training examples"),
    (dict(rule="fastest"), ValueError, "`rule`"),
    (dict(smoothing=1.0), ValueError, "`smoothing`"),
    (dict(divergence=1.0), ValueError, "`divergence`"),
    (dict(train=(np.zeros((40, 4), np.float32), np.full(40, 2))), ValueError,
     r"labels in \[0, 2\)"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_before_anything_is_built(kwargs, error, message,
                                                            monkeypatch):
  def build_dnn_not_expected(*unused_args, **unused_kwargs):
    raise AssertionError("a graph was built before the arguments were checked")
  monkeypatch.setattr(lr_finder.model, "build_dnn", build_dnn_not_expected)
  args = dict(config=TINY, train=_blobs(), steps=5, batch_size=8)
  args.update(kwargs)
  with pytest.raises(error, match=message):
    lr_finder.find_learning_rate(**args)


def test_suggest_refuses_mismatched_curves():
  with pytest.raises(ValueError, match="1-D of one length"):
    lr_finder.suggest(np.ones(5), np.ones(4))
  with pytest.raises(ValueError, match="`rule`"):
    lr_finder.suggest(np.ones(5), np.ones(5), rule="max")


# dnn-toolkit lr-find -------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
  """A `mnist.npz` of 600 training and 60 test images: MNIST's layout, not its data."""
  train = mnist.load_mnist().train
  path = str(tmp_path_factory.mktemp("data") / "mnist.npz")
  as_uint8 = lambda images: np.round(images * 255).astype(np.uint8).reshape(-1, 28, 28)
  np.savez(path, x_train=as_uint8(train.images[:600]), y_train=train.labels[:600],
           x_test=as_uint8(train.images[600:660]), y_test=train.labels[600:660])
  return path


def _cli(*args):
  return subprocess.run([sys.executable, "-m", "dnn_toolkit", "lr-find", *args],
                        capture_output=True, text=True, timeout=120, check=False)


def test_cli_writes_the_plot_and_states_the_rule(small_mnist, tmp_path):
  out = tmp_path / "figures" / "range.png"
  done = _cli("--data", small_mnist, "--no-verify", "--validation-size", "100",
              "--hidden-layers", "20", "--no-batch-norm", "--steps", "40",
              "--low", "1e-5", "--high", "10", "--batch-size", "20", "--out", str(out))
  assert done.returncode == 0, done.stderr
  assert "suggested learning rate: " in done.stdout
  assert "(rule: the steepest descent of the smoothed loss" in done.stdout
  assert f"plot: {out}" in done.stdout
  with open(out, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("flags, message", [
    (["--low", "1", "--high", "0.1"],
     "argument --high: Received an invalid value for --high, expected a number "
     "greater than `low`=1 (the bounds are reversed?). Received: --high 0.1"),
    (["--steps", "1"], "argument --steps: Received an invalid value for --steps"),
    (["--out", "range.txt"], "argument --out: Expected --out to be a .png file path. "
                             "Received: --out range.txt"),
])
def test_cli_refuses_bad_flags_in_one_line(flags, message, small_mnist, tmp_path):
  out = str(tmp_path / "range.png")
  done = _cli("--data", small_mnist, "--no-verify", "--out", out, *flags)
  assert done.returncode == 2
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and message in lines[0], done.stderr
  assert not os.listdir(tmp_path)  # Nothing written.
