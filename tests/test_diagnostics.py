"""Tests of dnn_toolkit.diagnostics: gradient norms, saturation and dead units.

The deep-net tests are the lesson's point in numbers: 10 sigmoid layers of 100 units on
random inputs lose the gradient with Xavier or N(0, 0.1) weights, saturate with N(0, 1)
weights, and keep it with He + ELU or batch normalization.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import diagnostics
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.layers import initializers
from dnn_toolkit.layers.contrib import batch_norm, fully_connected
from dnn_toolkit.model import build_dnn

_V1 = tf.compat.v1
N_INPUTS, N_LAYERS, UNITS, BATCH = 784, 10, 100, 200


@pytest.fixture(scope="module")
def batch():
  rng = np.random.RandomState(0)
  return (rng.rand(BATCH, N_INPUTS).astype(np.float32),
          rng.randint(0, 10, BATCH).astype(np.int64))


def _deep_net(activation_fn, initializer, n_layers=N_LAYERS, units=UNITS,
              n_inputs=N_INPUTS, biases_initializer=None, is_training=None):
  """Builds a plain stack in the default graph; returns (X, y, loss, hidden, weights).

  With a bool (or bool tensor) `is_training`, each hidden layer has batch normalization.
  """
  _V1.set_random_seed(1)
  X = _V1.placeholder(tf.float32, (None, n_inputs), name="X")
  y = _V1.placeholder(tf.int64, (None,), name="y")
  normalizer = {} if is_training is None else {
      "normalizer_fn": batch_norm, "normalizer_params": {"is_training": is_training}}
  top, hidden = X, []
  for i in range(n_layers):
    top = fully_connected(top, units, activation_fn=activation_fn,
                          weights_initializer=initializer,
                          biases_initializer=(biases_initializer or
                                              _V1.zeros_initializer()),
                          scope=f"hidden{i + 1}", **normalizer)  # [batch_size, units]
    hidden.append(top)
  logits = fully_connected(top, 10, activation_fn=None, weights_initializer=initializer,
                           scope="outputs")
  loss = tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
  weights = [v for v in _V1.global_variables() if v.op.name.endswith("/weights")]
  return X, y, loss, hidden, weights


def _probe_deep_net(sess, batch, activation, activation_fn, initializer):
  X, y, loss, hidden, weights = _deep_net(activation_fn, initializer)
  probes = diagnostics.build_probes(loss, hidden, weights, activation)
  sess.run(_V1.global_variables_initializer())
  return diagnostics.run_probes(sess, probes, {X: batch[0], y: batch[1]})


def _dnn_reports(batch, is_training_values=(False,), **fields):
  """Probes a fresh 10-layer DNN; returns one report per `is_training` value."""
  config = DNNConfig(hidden_layers=(UNITS,) * N_LAYERS, dropout_rate=0.0, **fields)
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    with _V1.Session(graph=graph) as sess:
      sess.run(_V1.global_variables_initializer())
      return [diagnostics.gradient_report(sess, dnn, *batch, is_training=value)
              for value in is_training_values]


# ------------------------------------------------------------ the lesson, measured


@pytest.mark.parametrize("name, initializer", [
    ("xavier", initializers.xavier_initializer(seed=1)),
    ("normal(0, 0.1)", initializers.normal_initializer(0.1, seed=1)),
])
def test_deep_sigmoid_net_gradient_vanishes(sess, batch, name, initializer):
  report = _probe_deep_net(sess, batch, "sigmoid", tf.nn.sigmoid, initializer)
  ratio = diagnostics.first_to_last_ratio(report)
  assert ratio < 1e-2, f"{name}: hidden1 gets {ratio:.2e} of hidden10's gradient"
  assert report[0]["layer"] == "hidden1" and report[-1]["layer"] == "outputs"
  # It vanishes layer by layer on the way down.
  norms = [row["gradient_norm"] for row in report[:N_LAYERS]]
  assert norms[0] < norms[4] < norms[9]


def test_deep_sigmoid_net_with_normal_1_saturates(sess, batch):
  report = _probe_deep_net(sess, batch, "sigmoid", tf.nn.sigmoid,
                           initializers.normal_initializer(1.0, seed=1))
  saturated = [row["saturated_fraction"] for row in report[:N_LAYERS]]
  assert 0.35 < np.mean(saturated) < 0.65, saturated   # about half
  assert diagnostics.first_to_last_ratio(report) > 1e-2  # not a vanishing problem


def test_he_elu_keeps_the_gradient(batch):
  (report,) = _dnn_reports(batch, initializer="he", activation="elu", batch_norm=False)
  assert 0.1 < diagnostics.first_to_last_ratio(report) < 10.0
  assert report[0]["saturated_fraction"] is None
  assert report[0]["dead_fraction"] is not None


@pytest.mark.parametrize("is_training", [True, False])
def test_batch_norm_keeps_the_gradient_of_a_sigmoid_net(sess, batch, is_training):
  # A Python bool builds one branch only (no tf.cond): quicker to build than a DNN's.
  X, y, loss, hidden, weights = _deep_net(
      tf.nn.sigmoid, initializers.xavier_initializer(seed=1), is_training=is_training)
  probes = diagnostics.build_probes(loss, hidden, weights, "sigmoid")
  sess.run(_V1.global_variables_initializer())
  ratio = diagnostics.first_to_last_ratio(
      diagnostics.run_probes(sess, probes, {X: batch[0], y: batch[1]}))
  if is_training:
    assert 0.1 < ratio < 10.0
  else:
    # Untrained, the moving averages are 0 and 1: probed for inference the net acts
    # as if it had no normalization, as gradient_report documents.
    assert ratio < 1e-2


# ----------------------------------------------------- numbers against NumPy


def _numpy_gradient_norms(X, y, params):
  """Backprop of a 2-hidden-layer sigmoid net in NumPy; returns the 3 weight norms."""
  (w1, b1), (w2, b2), (w3, b3) = params
  h1 = 1.0 / (1.0 + np.exp(-(X @ w1 + b1)))
  h2 = 1.0 / (1.0 + np.exp(-(h1 @ w2 + b2)))
  logits = h2 @ w3 + b3
  p = np.exp(logits - logits.max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  d_logits = (p - np.eye(10)[y]) / len(X)
  d_z2 = d_logits @ w3.T * h2 * (1.0 - h2)
  d_z1 = d_z2 @ w2.T * h1 * (1.0 - h1)
  grads = [X.T @ d_z1, h1.T @ d_z2, h2.T @ d_logits]
  return [np.linalg.norm(g) for g in grads], (h1, h2)


def test_gradient_norms_and_activation_statistics_match_numpy(sess):
  rng = np.random.RandomState(3)
  X_batch = rng.randn(64, 20).astype(np.float32)
  y_batch = rng.randint(0, 10, 64)
  X, y, loss, hidden, weights = _deep_net(tf.nn.sigmoid,
                                          initializers.normal_initializer(1.0, seed=2),
                                          n_layers=2, units=30, n_inputs=20)
  probes = diagnostics.build_probes(loss, hidden, weights, "sigmoid")
  sess.run(_V1.global_variables_initializer())
  report = diagnostics.run_probes(sess, probes, {X: X_batch, y: y_batch})
  by_name = {v.op.name: v for v in _V1.global_variables()}
  params = sess.run([(by_name[f"{s}/weights"], by_name[f"{s}/biases"])
                     for s in ("hidden1", "hidden2", "outputs")])
  params = [(w.astype(np.float64), b.astype(np.float64)) for w, b in params]
  expected, outputs = _numpy_gradient_norms(X_batch.astype(np.float64), y_batch, params)
  np.testing.assert_allclose([r["gradient_norm"] for r in report], expected, rtol=1e-4)
  np.testing.assert_allclose([r["weight_norm"] for r in report],
                             [np.linalg.norm(w) for w, _ in params], rtol=1e-5)
  assert report[0]["relative_to_last_hidden"] == pytest.approx(expected[0] / expected[1],
                                                                rel=1e-4)
  assert report[0]["relative_to_output"] == pytest.approx(expected[0] / expected[2],
                                                           rel=1e-4)
  for row, h in zip(report, outputs):
    assert row["activation_mean"] == pytest.approx(h.mean(), rel=1e-4)
    assert row["activation_std"] == pytest.approx(h.std(), rel=1e-3)
    flat = h * (1.0 - h) < diagnostics.SATURATION_THRESHOLD * 0.25
    assert row["saturated_fraction"] == pytest.approx(flat.mean(), abs=1.5 / h.size)
    assert row["dead_fraction"] is None
  assert report[2]["activation_mean"] is None and report[2]["saturated_fraction"] is None


def test_tanh_saturation_matches_its_definition(sess):
  X, y, loss, hidden, weights = _deep_net(tf.nn.tanh,
                                          initializers.normal_initializer(1.0, seed=4),
                                          n_layers=2, units=50, n_inputs=30)
  probes = diagnostics.build_probes(loss, hidden, weights, "tanh",
                                    saturation_threshold=0.1)
  sess.run(_V1.global_variables_initializer())
  X_batch = np.random.RandomState(5).randn(40, 30).astype(np.float32)
  feed = {X: X_batch, y: np.zeros(40, np.int64)}
  report = diagnostics.run_probes(sess, probes, feed)
  outputs = sess.run(hidden, feed)
  for row, h in zip(report, outputs):
    expected = np.mean(1.0 - h.astype(np.float64) ** 2 < 0.1)
    assert 0.0 < expected < 1.0
    assert row["saturated_fraction"] == pytest.approx(expected, abs=1.5 / h.size)


def test_relu_units_that_never_fire_are_dead(sess):
  # Biases of -100 keep every hidden1 unit at 0 for any input in [0, 1).
  X, y, loss, hidden, weights = _deep_net(
      tf.nn.relu, initializers.he_initializer(seed=1), n_layers=1, units=8,
      n_inputs=5, biases_initializer=_V1.constant_initializer(-100.0))
  probes = diagnostics.build_probes(loss, hidden, weights, "relu")
  sess.run(_V1.global_variables_initializer())
  report = diagnostics.run_probes(sess, probes, {X: np.random.rand(16, 5), y: [1] * 16})
  assert report[0]["dead_fraction"] == 1.0
  assert report[0]["gradient_norm"] == 0.0
  assert math.isnan(report[0]["relative_to_last_hidden"])  # 0 / 0: no gradient at all
  assert report[0]["saturated_fraction"] is None


def test_dead_fraction_counts_units_silent_for_the_whole_batch(sess):
  X = _V1.placeholder(tf.float32, (None, 3))
  y = _V1.placeholder(tf.int64, (None,))
  w = _V1.get_variable("hidden1/weights", initializer=tf.eye(3))
  h = tf.nn.relu(tf.matmul(X, w))  # [batch, 3] = relu(X)
  w_out = _V1.get_variable("outputs/weights", initializer=tf.ones((3, 10)))
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=y, logits=tf.matmul(h, w_out)))
  probes = diagnostics.build_probes(loss, [h], [w, w_out], "relu")
  sess.run(_V1.global_variables_initializer())
  # Unit 0 fires once, unit 1 never, unit 2 always: 1 of 3 dead.
  X_batch = np.array([[1.0, -1.0, 2.0], [-1.0, -2.0, 1.0]], np.float32)
  report = diagnostics.run_probes(sess, probes, {X: X_batch, y: [0, 1]})
  assert report[0]["dead_fraction"] == pytest.approx(1 / 3)


# --------------------------------------------------------------- DNN wrapper


def test_gradient_report_builds_the_probes_once_and_changes_nothing(batch):
  config = DNNConfig(hidden_layers=(20, 10), dropout_rate=0.5)  # BN and dropout on
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    with _V1.Session(graph=graph) as sess:
      sess.run(_V1.global_variables_initializer())
      before = sess.run(_V1.global_variables())
      first = diagnostics.gradient_report(sess, dnn, *batch, is_training=True)
      n_ops = len(graph.get_operations())
      diagnostics.gradient_report(sess, dnn, *batch, is_training=True)
      assert len(graph.get_operations()) == n_ops
      names = lambda probes: [t.name for t in probes.gradient_norms]
      assert names(diagnostics.probes_for_dnn(dnn)) == names(
          diagnostics.probes_for_dnn(dnn))
      after = sess.run(_V1.global_variables())
  for b, a in zip(before, after):  # no moving-average update, no step
    np.testing.assert_array_equal(a, b)
  assert [row["layer"] for row in first] == ["hidden1", "hidden2", "outputs"]
  assert first[1]["relative_to_last_hidden"] == 1.0
  assert first[2]["relative_to_output"] == 1.0


def test_gradient_report_with_and_without_dropout_differ(batch):
  config = DNNConfig(hidden_layers=(20, 10), dropout_rate=0.5, batch_norm=False)
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    with _V1.Session(graph=graph) as sess:
      sess.run(_V1.global_variables_initializer())
      off = diagnostics.gradient_report(sess, dnn, *batch)
      on = diagnostics.gradient_report(sess, dnn, *batch, is_training=True)
  assert off[0]["gradient_norm"] != on[0]["gradient_norm"]


def test_format_report_is_a_table_of_every_layer(sess, batch):
  X, y, loss, hidden, weights = _deep_net(tf.nn.sigmoid,
                                          initializers.xavier_initializer(seed=1),
                                          n_layers=3, units=10)
  probes = diagnostics.build_probes(loss, hidden, weights, "sigmoid")
  sess.run(_V1.global_variables_initializer())
  report = diagnostics.run_probes(sess, probes, {X: batch[0], y: batch[1]})
  lines = diagnostics.format_report(report).splitlines()
  assert len(lines) == 3 + 2
  assert lines[0].split()[:3] == ["layer", "grad", "norm"]
  assert lines[1].startswith("hidden1 ") and lines[-1].startswith("outputs ")
  assert f"{report[0]['relative_to_last_hidden']:.2e}" in lines[1]
  assert lines[-1].rstrip().endswith("-")  # no activation statistics for the outputs


# ----------------------------------------------------------------- bad input


def _small_net():
  return _deep_net(tf.nn.relu, initializers.he_initializer(), n_layers=2, units=4,
                   n_inputs=3)


@pytest.mark.parametrize("change, error, message", [
    (dict(loss=3.0), TypeError, "`loss` to be a scalar tensor"),
    (dict(loss="matrix"), ValueError, "`loss` to be a scalar"),
    (dict(hidden_outputs="h"), TypeError, "`hidden_outputs` to be a list"),
    (dict(weights="drop_last"), ValueError, r"N \+ 1 `weights`"),
    (dict(hidden_outputs=[]), ValueError, "N >= 1 `hidden_outputs`"),
    (dict(activation="swish"), ValueError, "`activation`"),
    (dict(activation=["relu"]), ValueError, "one `activation` per hidden layer"),
    (dict(names=["a", "a", "b"]), ValueError, "distinct layer `names`"),
    (dict(names=["a", "b"]), ValueError, "distinct layer `names`"),
    (dict(saturation_threshold=0), ValueError, "saturation_threshold"),
    (dict(saturation_threshold=1.0), ValueError, "saturation_threshold"),
    (dict(saturation_threshold=-0.1), ValueError, "saturation_threshold"),
    (dict(saturation_threshold="0.05"), TypeError, "saturation_threshold"),
    (dict(saturation_threshold=None), TypeError, "saturation_threshold"),
])
def test_build_probes_rejects_bad_arguments(graph, change, error, message):
  _, _, loss, hidden, weights = _small_net()
  kwargs = dict(loss=loss, hidden_outputs=hidden, weights=weights, activation="relu")
  kwargs.update(change)
  if isinstance(kwargs["loss"], str):  # A non-scalar tensor.
    kwargs["loss"] = hidden[0]
  if isinstance(kwargs["weights"], str):
    kwargs["weights"] = weights[:-1]
  n_ops = len(graph.get_operations())
  with pytest.raises(error, match=message):
    diagnostics.build_probes(**kwargs)
  assert len(graph.get_operations()) == n_ops  # validated before any op


def test_build_probes_names_weights_the_loss_ignores(graph):
  _, _, loss, hidden, weights = _small_net()
  stray = _V1.get_variable("stray/weights", shape=(4, 10))
  with pytest.raises(ValueError, match=r"does not depend on the weights of \['outputs'\]"):
    diagnostics.build_probes(loss, hidden, weights[:-1] + [stray], "relu")


@pytest.fixture(scope="module")
def small_dnn():
  """(sess, dnn) of a small DNN, shared by the bad-input tests (they build nothing)."""
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(DNNConfig(hidden_layers=(3,)), 4)
    with _V1.Session(graph=graph) as sess:
      sess.run(_V1.global_variables_initializer())
      yield sess, dnn


@pytest.mark.parametrize("is_training, X, y, error, message", [
    (1, np.zeros((2, 4)), [0, 1], TypeError, "`is_training` to be a bool"),
    ("yes", np.zeros((2, 4)), [0, 1], TypeError, "`is_training` to be a bool"),
    (False, np.zeros(4), [0], ValueError, r"Received: X \(4,\)"),
    (False, np.zeros((2, 4)), [0], ValueError, r"y \(1,\)"),
    (False, np.zeros((0, 4)), [], ValueError, "batch_size >= 1"),
])
def test_gradient_report_rejects_bad_arguments(small_dnn, is_training, X, y, error,
                                               message):
  sess, dnn = small_dnn
  with pytest.raises(error, match=message):
    diagnostics.gradient_report(sess, dnn, X, y, is_training=is_training)
