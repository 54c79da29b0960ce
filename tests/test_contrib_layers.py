"""contrib's layer tests, rewritten: batch_norm's options, aliases, flatten, shortcuts.

tf.contrib.layers was specified by its unit tests (kept in tf-slim's `layers_test.py`).
The cases here express behaviours of the functions dnn_toolkit claims, checked against
NumPy references and contrib's variable and op names. The checks in TF1_CHECKS run once
more in a child process with TF 1.x behaviour (reference variables, `cond` v1).
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers.arg_scope import arg_scope
from dnn_toolkit.layers.contrib import (
  batch_norm,
  dropout,
  flatten,
  fully_connected,
  linear,
  relu,
  relu6,
)
from dnn_toolkit.layers.regularizers import l2_regularizer

V1 = tf.compat.v1
GK = V1.GraphKeys


def _names(variables):
  return [v.op.name for v in variables]


def _images(shape, seed=1):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _const(value):
  return V1.constant_initializer(np.asarray(value, dtype=np.float32))


def _reference(x, axes, mean, var, beta=0.0, gamma=1.0, epsilon=0.001):
  shape = [1 if a in axes else d for a, d in enumerate(x.shape)]
  r = lambda v: np.reshape(np.broadcast_to(v, [x.shape[a] for a in range(x.ndim)
                                               if a not in axes]), shape)
  return (x - r(mean)) / np.sqrt(r(var) + epsilon) * r(gamma) + r(beta)


# batch_norm: dtypes, epsilon, partitioner, rank ---------------------------------------


def test_float16_inputs_keep_float32_parameters(graph, sess):
  x = _images((8, 4)) * 3.0
  X = V1.placeholder(tf.float16, shape=(None, 4))
  out = batch_norm(X, scale=True, updates_collections=None, decay=0.5)
  assert out.dtype == tf.float16
  assert {v.dtype.base_dtype for v in V1.global_variables()} == {tf.float32}
  sess.run(V1.global_variables_initializer())
  y = sess.run(out, {X: x})
  x16 = x.astype(np.float16).astype(np.float64)
  np.testing.assert_allclose(y, _reference(x16, (0,), x16.mean(0), x16.var(0)),
                             atol=1e-2)
  (moving_mean,) = [v for v in V1.global_variables() if "moving_mean" in v.op.name]
  np.testing.assert_allclose(sess.run(moving_mean), 0.5 * x16.mean(0), rtol=1e-3)


def test_epsilon_zero_is_accepted(graph, sess):
  # contrib's testCustomInitializer: (9 - 5) / sqrt(4) * 2 + 5 == 9.
  images = np.full((5, 3, 3, 3), 9.0, np.float32)
  out = batch_norm(images, is_training=False, scale=True, epsilon=0.0,
                   param_initializers={"beta": _const([5.0] * 3),
                                       "gamma": _const([2.0] * 3),
                                       "moving_mean": _const([5.0] * 3),
                                       "moving_variance": _const([4.0] * 3)})
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(out), images)


def test_moving_statistics_are_not_partitioned(graph, sess):
  partitioner = V1.fixed_size_partitioner(2, axis=0)
  x = _images((10, 3, 3, 3))
  with V1.variable_scope(V1.get_variable_scope(), partitioner=partitioner):
    out = batch_norm(tf.constant(x), decay=0.1, scale=True, updates_collections=None)
  names = _names(V1.global_variables())
  assert "BatchNorm/moving_mean" in names and "BatchNorm/moving_variance" in names
  assert "BatchNorm/beta/part_0" in names  # The others keep the scope's partitioner.
  sess.run(V1.global_variables_initializer())
  for _ in range(10):
    y = sess.run(out)
  np.testing.assert_allclose(y, _reference(x, (0, 1, 2), x.mean((0, 1, 2)),
                                           x.var((0, 1, 2))), rtol=1e-4, atol=1e-4)
  moving = [v for v in V1.global_variables() if v.op.name == "BatchNorm/moving_mean"]
  np.testing.assert_allclose(sess.run(moving[0]), x.mean((0, 1, 2)), rtol=1e-4)


def test_unknown_rank_says_undefined_rank(graph):
  X = V1.placeholder(tf.float32)
  with pytest.raises(ValueError, match="undefined rank"):
    batch_norm(X)
  assert V1.global_variables() == []


@pytest.mark.parametrize("data_format, shape", [("NHWC", (5, 3, 3, None)),
                                                ("NCHW", (5, None, 3, 3))])
def test_unknown_channels_are_undefined(graph, data_format, shape):
  X = V1.placeholder(tf.float32, shape=shape)
  with pytest.raises(ValueError, match="undefined"):
    batch_norm(X, data_format=data_format)


# batch_norm: contrib's keyword arguments ----------------------------------------------


def _train_ten_steps(**kwargs):
  """Runs batch_norm(decay=0.1) ten training steps; returns (output, mean, variance)."""
  x = _images((10, 2, 2, 3))
  with tf.Graph().as_default(), V1.Session() as sess:
    out = batch_norm(tf.constant(x), decay=0.1, scale=True, **kwargs)
    with tf.control_dependencies(V1.get_collection(GK.UPDATE_OPS)):
      step = tf.identity(out)
    sess.run(V1.global_variables_initializer())
    for _ in range(10):
      y = sess.run(step)
    moving = {v.op.name: v for v in V1.global_variables()}
    return y, sess.run(moving["BatchNorm/moving_mean"]), sess.run(
        moving["BatchNorm/moving_variance"])


def test_fused_kernel_stores_the_unbiased_variance_as_tf_1_15_did():
  x = _images((10, 2, 2, 3))
  n = 10 * 2 * 2
  results = {fused: _train_ten_steps(fused=fused) for fused in (None, True, False)}
  for fused, (y, mean, variance) in results.items():
    np.testing.assert_allclose(mean, x.mean((0, 1, 2)), rtol=1e-5)
    correction = 1.0 if fused is False else n / (n - 1)  # Bessel's, the fused kernel's
    np.testing.assert_allclose(variance, x.var((0, 1, 2)) * correction, rtol=1e-4)
    # Training normalizes with the batch's biased variance either way.
    np.testing.assert_allclose(y, results[False][0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused", [1, "yes"])
def test_bad_fused_raises(graph, fused):
  with pytest.raises(TypeError, match=re.escape(f"fused={fused!r}")):
    batch_norm(tf.constant(_images((4, 3))), fused=fused)
  assert V1.global_variables() == []


@pytest.mark.parametrize("is_training", [True, False])
def test_nchw_matches_nhwc(is_training):
  x = np.arange(5 * 2 * 3 * 4, dtype=np.float32).reshape(5, 2, 3, 4)
  outputs = []
  for data_format in ("NHWC", "NCHW"):
    with tf.Graph().as_default(), V1.Session() as sess:
      images = tf.constant(x if data_format == "NHWC" else x.transpose(0, 3, 1, 2))
      out = batch_norm(images, is_training=is_training, scale=True, epsilon=0.5,
                       data_format=data_format, updates_collections=None,
                       param_initializers={
                           "beta": _const(np.arange(2, 6)),
                           "gamma": _const(np.arange(10, 14) * 2.0),
                           "moving_mean": _const(np.arange(3, 7) * 5.0),
                           "moving_variance": _const(np.arange(1, 5) * 4.0)})
      assert [v.shape.as_list() for v in V1.global_variables()] == [[4]] * 4
      sess.run(V1.global_variables_initializer())
      y = sess.run(out)
      outputs.append(y if data_format == "NHWC" else y.transpose(0, 2, 3, 1))
  mean, var = ((x.mean((0, 1, 2)), x.var((0, 1, 2))) if is_training
               else (np.arange(3, 7) * 5.0, np.arange(1, 5) * 4.0))
  expected = _reference(x, (0, 1, 2), mean, var, np.arange(2, 6), np.arange(10, 14) * 2.0,
                        epsilon=0.5)
  np.testing.assert_allclose(outputs[0], expected, rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5, atol=1e-4)


def test_bad_data_format(graph):
  with pytest.raises(ValueError, match=re.escape("data_format='CHWN'")):
    batch_norm(V1.placeholder(tf.float32, (None, 3)), data_format="CHWN")


def test_zero_debias_variables_have_contribs_names(graph):
  batch_norm(tf.constant(_images((5, 3, 3, 3))), scale=True,
             zero_debias_moving_mean=True, fused=False)
  assert len(V1.model_variables()) == 6
  names = _names(V1.global_variables())
  assert "BatchNorm/BatchNorm/moving_mean/biased" in names
  assert "BatchNorm/BatchNorm/moving_mean/local_step" in names
  assert _names(V1.trainable_variables()) == ["BatchNorm/beta", "BatchNorm/gamma"]
  batch_norm(tf.constant(_images((5, 3))), zero_debias_moving_mean=True,
             is_training=False, scope="eval")
  assert not [n for n in _names(V1.global_variables()) if n.startswith("eval/eval")]


def check_zero_debias_moving_mean(updates_collections):
  # contrib's testZeroDebiasMovingMean: with decay 0.1 the debiased mean equals the
  # batch mean after every update (a plain average would start at 0.9 of it).
  x = _images((10, 3, 3, 3))
  is_training = V1.placeholder_with_default(True, shape=())
  out = batch_norm(tf.constant(x), decay=0.1, updates_collections=updates_collections,
                   zero_debias_moving_mean=True, is_training=is_training)
  with tf.control_dependencies(V1.get_collection(GK.UPDATE_OPS)):
    step = tf.identity(out)
  by_name = {v.op.name: v for v in V1.global_variables()}
  moving_mean = by_name["BatchNorm/moving_mean"]
  local_step = by_name["BatchNorm/BatchNorm/moving_mean/local_step"]
  biased = by_name["BatchNorm/BatchNorm/moving_mean/biased"]
  expected = x.mean((0, 1, 2))
  with V1.Session() as sess:
    sess.run(V1.global_variables_initializer())
    sess.run(step, {is_training: False})
    assert sess.run(local_step) == 0  # No update at inference.
    for i in range(4):
      assert sess.run(local_step) == i
      sess.run(step)
      np.testing.assert_allclose(sess.run(moving_mean), expected, rtol=1e-5)
    biased_value = sess.run(biased)
  np.testing.assert_allclose(biased_value, expected * (1 - 0.1 ** 4), rtol=1e-5)


@pytest.mark.parametrize("updates_collections", [None, GK.UPDATE_OPS])
def test_zero_debias_moving_mean(graph, updates_collections):
  check_zero_debias_moving_mean(updates_collections)


def test_param_regularizers(graph, sess):
  reg = lambda x: 0.1 * tf.reduce_sum(x)
  batch_norm(_images((5, 3, 3, 3)), scale=True,
             param_regularizers={"beta": reg, "gamma": reg},
             param_initializers={"beta": _const([1.0, 2.0, 3.0])})
  # TF 1.15's tf.layers class, which contrib used here, made gamma before beta.
  gamma_loss, beta_loss = V1.get_collection(GK.REGULARIZATION_LOSSES)
  assert beta_loss.op.name == "BatchNorm/beta/Regularizer/mul"
  assert gamma_loss.op.name == "BatchNorm/gamma/Regularizer/mul"
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run([beta_loss, gamma_loss]), [0.6, 0.3], rtol=1e-6)


def test_param_regularizers_unknown_key(graph):
  with pytest.raises(ValueError, match=r"unknown keys in `param_regularizers`"):
    batch_norm(_images((5, 3)), param_regularizers={"moving_mean": lambda x: x})
  assert V1.global_variables() == []


def test_adjustment_applies_only_when_training(graph, sess):
  x = _images((16, 3)) * 4.0
  adj_scale, adj_bias = np.array([0.9, 1.1, 1.0]), np.array([0.1, -0.1, 0.05])
  is_training = V1.placeholder(tf.bool, shape=())
  X = tf.constant(x)
  out = batch_norm(X, scale=True, is_training=is_training,
                   param_initializers={"beta": _const([1.0, 0.0, -1.0]),
                                       "gamma": _const([2.0, 3.0, 0.5])},
                   adjustment=lambda shape: (tf.constant(adj_scale, tf.float32),
                                             tf.constant(adj_bias, tf.float32)))
  sess.run(V1.global_variables_initializer())
  beta, gamma = np.array([1.0, 0.0, -1.0]), np.array([2.0, 3.0, 0.5])
  normalized = (x - x.mean(0)) / np.sqrt(x.var(0) + 0.001)
  np.testing.assert_allclose(sess.run(out, {is_training: True}),
                             (normalized * adj_scale + adj_bias) * gamma + beta,
                             rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(sess.run(out, {is_training: False}),
                             x / np.sqrt(1.001) * gamma + beta, rtol=1e-5)


def test_renorm_is_not_implemented(graph):
  with pytest.raises(NotImplementedError, match="renorm=True"):
    batch_norm(_images((5, 3)), renorm=True, renorm_clipping={"rmax": 3.0})
  assert V1.global_variables() == []
  batch_norm(_images((5, 3)), renorm=False, renorm_decay=0.9)  # Accepted, unused.


def test_batch_weights_give_weighted_moments(graph, sess):
  x = _images((6, 3)) * 5.0
  w = np.array([1.0, 2.0, 0.0, 1.0, 3.0, 1.0], np.float32)
  out = batch_norm(tf.constant(x), batch_weights=w, updates_collections=None, decay=0.0)
  mean = (w[:, None] * x).sum(0) / w.sum()
  var = (w[:, None] * (x - mean) ** 2).sum(0) / w.sum()
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(out), _reference(x, (0,), mean, var), rtol=1e-4,
                             atol=1e-5)
  moving = {v.op.name: v for v in V1.global_variables()}
  np.testing.assert_allclose(sess.run(moving["BatchNorm/moving_mean"]), mean, rtol=1e-5)


@pytest.mark.parametrize("weights", [np.ones((5, 1), np.float32), np.ones(4, np.float32)])
def test_batch_weights_of_the_wrong_shape(graph, weights):
  message = r"expected `batch_weights` of shape \[batch_size\]"
  with pytest.raises(ValueError, match=message):
    batch_norm(tf.constant(_images((5, 3))), batch_weights=weights)
  assert V1.global_variables() == []


def check_update_op_names(reference_variables):
  batch_norm(tf.constant(_images((5, 3, 3, 3))), updates_collections="my_update_ops")
  update_mean, update_variance = V1.get_collection("my_update_ops")
  if reference_variables:  # contrib's names exactly.
    assert update_mean.op.name == "BatchNorm/AssignMovingAvg"
    assert update_variance.op.name == "BatchNorm/AssignMovingAvg_1"
  else:  # A resource variable's assign is an op inside that scope.
    assert update_mean.op.name.startswith("BatchNorm/AssignMovingAvg/")
    assert update_variance.op.name.startswith("BatchNorm/AssignMovingAvg_1/")


def test_update_op_names(graph):
  check_update_op_names(reference_variables=False)


def test_reuse_adds_update_ops(graph):
  images = tf.constant(_images((5, 3, 3, 3)))
  with arg_scope([batch_norm], updates_collections="update_ops"):
    batch_norm(images, scope="bn")
    assert len(V1.get_collection("update_ops")) == 2
    batch_norm(images, scope="bn", reuse=True)
  assert len(V1.get_collection("update_ops")) == 4
  assert len(V1.global_variables()) == 3


# outputs_collections aliases ----------------------------------------------------------


def check_aliases(reference_variables):
  del reference_variables
  x = tf.constant(_images((5, 3, 3, 3)))
  with tf.name_scope("fe"):
    fc = fully_connected(flatten(x), 7, outputs_collections="outputs", scope="fc")
  bn = batch_norm(x, outputs_collections="outputs")
  drop = dropout(x, outputs_collections="outputs")
  flat = flatten(x, outputs_collections="outputs")
  with V1.variable_scope("block"):
    inner = fully_connected(flat, 2, outputs_collections="outputs")
  assert V1.get_collection("outputs") == [fc, bn, drop, flat, inner]
  assert [t.aliases for t in V1.get_collection("outputs")] == [
      ["fe/fc"], ["BatchNorm"], ["Dropout"], ["Flatten"], ["block/fully_connected"]]


def test_aliases(graph):
  check_aliases(reference_variables=False)


def test_alias_is_appended_per_collection_call(graph):
  x = tf.constant(_images((4, 3)))
  out = fully_connected(x, 2, outputs_collections=["a", "b"], scope="fc")
  assert out.aliases == ["fc"]
  assert V1.get_collection("a") == V1.get_collection("b") == [out]


# flatten ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, expected", [
    ((5, 3, 3, 3), [5, 27]), ((5, 3, 3), [5, 9]), ((None, 3, 3, 3), [None, 27]),
    ((5, None), [5, None]), ((None, None, None, None), [None, None])])
def test_flatten_static_shapes(graph, shape, expected):
  assert flatten(V1.placeholder(tf.int32, shape)).shape.as_list() == expected


def test_flatten_values(graph, sess):
  x = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4)
  X = V1.placeholder(tf.int32, (None, None, None))
  out = flatten(X)
  assert out.op.name.startswith("Flatten/")
  np.testing.assert_array_equal(sess.run(out, {X: x}), x.reshape(2, 12))
  empty = sess.run(flatten(tf.zeros((0, 3, 4))))
  assert empty.shape == (0, 12)


@pytest.mark.parametrize("shape", [(5,), None])
def test_flatten_needs_rank_two(graph, shape):
  X = V1.placeholder(tf.float32, shape)
  with pytest.raises(ValueError, match="must have at least 2 dimensions"):
    flatten(X)
  assert len(graph.get_operations()) == 1


# relu, relu6, linear ------------------------------------------------------------------


@pytest.mark.parametrize("layer, op_type, reference", [
    (relu, "Relu", lambda z: np.maximum(z, 0.0)),
    (relu6, "Relu6", lambda z: np.clip(z, 0.0, 6.0)),
    (linear, "BiasAdd", lambda z: z)], ids=["relu", "relu6", "linear"])
def test_shortcuts_are_fully_connected_with_an_activation(graph, sess, layer, op_type,
                                                          reference):
  x = np.random.default_rng(0).normal(0, 4, size=(5, 27)).astype(np.float32)
  out = layer(x, 32)
  assert out.op.name == f"fully_connected/{op_type}"
  assert _names(V1.global_variables()) == ["fully_connected/weights",
                                           "fully_connected/biases"]
  sess.run(V1.global_variables_initializer())
  weights = sess.run(V1.global_variables()[0])
  np.testing.assert_allclose(sess.run(out), reference(x @ weights), rtol=1e-5,
                             atol=1e-5)
  assert layer.__doc__.startswith("`fully_connected` with")


# fully_connected and dropout, as contrib's FCTest and DropoutTest ----------------------


def test_fully_connected_penalty_names_and_reuse(graph):
  x = tf.constant(_images((5, 27)))
  fully_connected(x, 32, weights_regularizer=l2_regularizer(0.01),
                  biases_regularizer=l2_regularizer(0.01))
  # Named by the Dense layer's weights, as TF 1.15's contrib (variables: weights, biases).
  assert _names_of_ops(V1.get_collection(GK.REGULARIZATION_LOSSES)) == [
      "fully_connected/kernel/Regularizer/l2_regularizer",
      "fully_connected/bias/Regularizer/l2_regularizer"]
  regularizer = lambda w: tf.reduce_sum(w) * 1e-3
  fully_connected(x, 32, scope="fc1", weights_regularizer=regularizer)
  fully_connected(x, 32, scope="fc1", weights_regularizer=regularizer, reuse=True)
  assert len(V1.get_collection(GK.REGULARIZATION_LOSSES)) == 3
  with V1.variable_scope("outer", reuse=False):
    fully_connected(x, 32, weights_regularizer=regularizer)
  with V1.variable_scope("outer", reuse=True):
    fully_connected(x, 32, weights_regularizer=regularizer)
  assert len(V1.get_collection(GK.REGULARIZATION_LOSSES)) == 4


def _names_of_ops(tensors):
  return [t.op.name for t in tensors]


def test_fully_connected_with_batch_norm_in_arg_scope(graph):
  images = tf.constant(_images((5, 27)))
  with arg_scope([fully_connected], normalizer_fn=batch_norm,
                 normalizer_params={"decay": 0.9}):
    net = fully_connected(images, 27)
    fully_connected(net, 27)
  assert len(V1.global_variables()) == 8
  assert _names(V1.global_variables()) == [
      f"{scope}/{name}" for scope in ("fully_connected", "fully_connected_1")
      for name in ("weights", "BatchNorm/beta", "BatchNorm/moving_mean",
                   "BatchNorm/moving_variance")]


def _positive_fraction(sess, tensor):
  return float(np.mean(sess.run(tensor) > 0))


def test_dropout_as_contrib(graph, sess):
  images = V1.random_uniform((5, 10, 10, 3), seed=1)
  kept = _positive_fraction(sess, dropout(images))
  assert 0.4 < kept < 0.6
  x = _images((5, 3, 3, 3))
  np.testing.assert_array_equal(sess.run(dropout(x, is_training=tf.constant(False))), x)
  assert (sess.run(dropout(x, is_training=tf.constant(True))) == 0).any()
  fc = fully_connected(tf.constant(_images((5, 27))), 50, normalizer_fn=dropout)
  sess.run(V1.global_variables_initializer())
  assert 0.1 < _positive_fraction(sess, fc) < 0.5  # ReLU, then half dropped.


# The same checks in TF 1.x mode -------------------------------------------------------

TF1_CHECKS = [check_aliases, check_update_op_names,
              lambda reference_variables: check_zero_debias_moving_mean(None),
              lambda reference_variables: check_zero_debias_moving_mean(GK.UPDATE_OPS)]

TF1_CHILD = """
import traceback
import tensorflow as tf
import dnn_toolkit
dnn_toolkit.enable_tf1_behavior()
import test_contrib_layers as t
failed = []
for i, check in enumerate(t.TF1_CHECKS):
  tf.compat.v1.reset_default_graph()
  try:
    check(reference_variables=True)
  except Exception:
    failed.append(i)
    traceback.print_exc()
print("failed:", failed)
"""


def test_checks_with_tf1_behavior(run_python):
  output = run_python(TF1_CHILD)
  assert "failed: []" in output, output
