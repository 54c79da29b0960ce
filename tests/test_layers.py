"""Tests of dnn_toolkit.layers.contrib: fully_connected, dropout and batch_norm.

Each test builds in a fresh graph (the `graph` fixture) and checks what contrib code
relied on: variable names and shapes, collections, and outputs against NumPy.

The KEY_CHECKS at the end run twice: here, with TF 2's resource variables and control
flow v2, and in a child process after `dnn_toolkit.enable_tf1_behavior()` (reference
variables, TF 1.x `cond`), which cannot be undone inside this process.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import tf_core, tf_layers
from dnn_toolkit.layers.contrib import batch_norm, dropout, fully_connected
from dnn_toolkit.layers.regularizers import l1_regularizer, l2_regularizer

V1 = tf.compat.v1
GK = V1.GraphKeys
EPSILON = 0.001  # batch_norm's default.

# Keras-style bad values of a count, with the error each must raise.
BAD_COUNTS = [(0, ValueError), (-3, ValueError), (2.5, TypeError), (None, TypeError),
              ("64", TypeError), (True, TypeError)]


def _names(variables):
  return [v.op.name for v in variables]


def _variable(name):
  """The global variable of that op name in the default graph."""
  matches = [v for v in V1.global_variables() if v.op.name == name]
  assert len(matches) == 1, f"{name}: {_names(V1.global_variables())}"
  return matches[0]


def _const(value):
  return V1.constant_initializer(np.asarray(value, dtype=np.float32))


def _data(shape, seed=0, loc=0.0, std=1.0):
  return np.random.default_rng(seed).normal(loc, std, size=shape).astype(np.float32)


def _normalize(x, mean, var, beta=0.0, gamma=1.0):
  return (x - mean) / np.sqrt(var + EPSILON) * gamma + beta


def _update_variance(x, fused):
  """The batch variance the moving variance moves to: TF 1.15's fused kernel (the
  default for rank 2 and 4) gave the unbiased one, n / (n - 1) times the biased."""
  n = x.shape[0]
  return x.var(0) * (n / (n - 1) if fused is not False else 1.0)


# fully_connected -------------------------------------------------------------------


def test_fully_connected_creates_weights_and_biases(graph):
  X = V1.placeholder(tf.float32, shape=(None, 784), name="X")
  hidden1 = fully_connected(X, 300, scope="hidden1")
  assert hidden1.shape.as_list() == [None, 300]
  expected = ["hidden1/weights", "hidden1/biases"]
  assert _names(V1.global_variables()) == expected
  assert _names(V1.trainable_variables()) == expected
  assert _names(V1.model_variables()) == expected
  assert [v.shape.as_list() for v in V1.global_variables()] == [[784, 300], [300]]


def test_fully_connected_default_scopes_are_numbered(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  fully_connected(X, 3)
  fully_connected(X, 2)
  assert _names(V1.global_variables()) == [
      "fully_connected/weights", "fully_connected/biases",
      "fully_connected_1/weights", "fully_connected_1/biases"]


def test_fully_connected_default_weights_are_xavier_uniform(graph, sess):
  V1.set_random_seed(3)  # A fixed draw: the spread check cannot fail by chance.
  X = V1.placeholder(tf.float32, shape=(None, 784))
  fully_connected(X, 300, scope="hidden1")
  sess.run(V1.global_variables_initializer())
  weights, biases = sess.run(V1.global_variables())
  # The bound as TF draws it, a float32 (which may exceed the float64 value).
  limit = np.float32(np.sqrt(6.0 / (784 + 300)))
  assert np.abs(weights).max() <= limit
  assert np.abs(weights).max() > 0.99 * limit
  np.testing.assert_array_equal(biases, np.zeros(300))


def test_fully_connected_with_normalizer_has_no_biases(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  fully_connected(X, 3, normalizer_fn=batch_norm, normalizer_params={"scale": True},
                  scope="hidden1")
  assert _names(V1.global_variables()) == [
      "hidden1/weights", "hidden1/BatchNorm/beta", "hidden1/BatchNorm/gamma",
      "hidden1/BatchNorm/moving_mean", "hidden1/BatchNorm/moving_variance"]
  assert not [op for op in graph.get_operations() if "biases" in op.name]


def test_fully_connected_trainable_false(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  fully_connected(X, 3, trainable=False, scope="frozen")
  assert V1.trainable_variables() == []
  assert _names(V1.global_variables()) == ["frozen/weights", "frozen/biases"]
  assert _names(V1.model_variables()) == ["frozen/weights", "frozen/biases"]


def test_fully_connected_reuse_shares_variables(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  first = fully_connected(X, 3, scope="shared")
  before = V1.global_variables()
  second = fully_connected(X, 3, scope="shared", reuse=True)
  after = V1.global_variables()
  assert len(after) == len(before) == 2
  assert all(a is b for a, b in zip(after, before))
  with V1.variable_scope("shared", reuse=True):
    assert V1.get_variable("weights") is before[0]
  sess.run(V1.global_variables_initializer())
  x = _data((2, 4))
  out1, out2 = sess.run([first, second], {X: x})
  np.testing.assert_array_equal(out1, out2)


def test_fully_connected_reuse_shares_normalizer_and_adds_no_penalty(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  for reuse in (None, True):
    fully_connected(X, 3, normalizer_fn=batch_norm, weights_regularizer=l2_regularizer(0.1),
                    scope="hidden1", reuse=reuse)
  assert _names(V1.global_variables()) == [
      "hidden1/weights", "hidden1/BatchNorm/beta", "hidden1/BatchNorm/moving_mean",
      "hidden1/BatchNorm/moving_variance"]
  assert len(V1.get_collection(GK.REGULARIZATION_LOSSES)) == 1


def test_fully_connected_without_biases(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  out = fully_connected(X, 3, activation_fn=None, biases_initializer=None, scope="a")
  assert _names(V1.global_variables()) == ["a/weights"]
  sess.run(V1.global_variables_initializer())
  x = _data((5, 4))
  np.testing.assert_allclose(sess.run(out, {X: x}), x @ sess.run(_variable("a/weights")),
                             rtol=1e-5, atol=1e-6)


def test_fully_connected_existing_scope_without_reuse_raises(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  fully_connected(X, 3, scope="hidden1")
  with pytest.raises(ValueError, match="hidden1/weights already exists"):
    fully_connected(X, 3, scope="hidden1")


def test_fully_connected_reuse_without_scope_raises(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(ValueError, match="`reuse=True` needs the `scope`"):
    fully_connected(X, 3, reuse=True)
  assert len(graph.get_operations()) == n_ops


def test_fully_connected_linear_matches_numpy(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  out = fully_connected(X, 3, activation_fn=None,
                        biases_initializer=V1.random_normal_initializer(seed=1))
  sess.run(V1.global_variables_initializer())
  weights, biases = sess.run(V1.global_variables())
  x = _data((5, 4))
  np.testing.assert_allclose(sess.run(out, {X: x}), x @ weights + biases,
                             rtol=1e-5, atol=1e-6)


def test_fully_connected_default_activation_is_relu(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  out = fully_connected(X, 3, biases_initializer=V1.random_normal_initializer(seed=1))
  sess.run(V1.global_variables_initializer())
  weights, biases = sess.run(V1.global_variables())
  x = _data((50, 4))
  np.testing.assert_allclose(sess.run(out, {X: x}), np.maximum(x @ weights + biases, 0),
                             rtol=1e-5, atol=1e-6)


def test_fully_connected_rank3_inputs_use_last_axis(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 5, 4))
  out = fully_connected(X, 3, activation_fn=None,
                        biases_initializer=V1.random_normal_initializer(seed=1))
  assert out.shape.as_list() == [None, 5, 3]
  sess.run(V1.global_variables_initializer())
  weights, biases = sess.run(V1.global_variables())
  x = _data((2, 5, 4))
  y = sess.run(out, {X: x})
  assert y.shape == (2, 5, 3)
  np.testing.assert_allclose(y, np.tensordot(x, weights, axes=[[2], [0]]) + biases,
                             rtol=1e-5, atol=1e-6)


def test_fully_connected_variables_collections_list_and_dict(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  fully_connected(X, 3, variables_collections=["my_vars"], scope="a")
  fully_connected(X, 3, variables_collections={"weights": ["weights_only"]}, scope="b")
  assert _names(V1.get_collection("my_vars")) == ["a/weights", "a/biases"]
  assert _names(V1.get_collection("weights_only")) == ["b/weights"]
  assert _names(V1.model_variables()) == ["a/weights", "a/biases", "b/weights",
                                          "b/biases"]


def test_fully_connected_outputs_collections(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  a = fully_connected(X, 3, outputs_collections="outputs", scope="a")
  b = fully_connected(X, 3, outputs_collections=["outputs", "more"], scope="b")
  assert V1.get_collection("outputs") == [a, b]
  assert V1.get_collection("more") == [b]


def test_fully_connected_regularizers_add_penalties(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  fully_connected(X, 3, weights_regularizer=l2_regularizer(0.1),
                  biases_regularizer=l1_regularizer(0.01),
                  biases_initializer=V1.random_normal_initializer(seed=1),
                  scope="hidden1")
  losses = V1.get_collection(GK.REGULARIZATION_LOSSES)
  assert len(losses) == 2
  sess.run(V1.global_variables_initializer())
  (weights, biases), (l2_loss, l1_loss) = sess.run([V1.global_variables(), losses])
  np.testing.assert_allclose(l2_loss, 0.1 * np.sum(weights ** 2) / 2, rtol=1e-5)
  np.testing.assert_allclose(l1_loss, 0.01 * np.sum(np.abs(biases)), rtol=1e-5)


def test_fully_connected_accepts_numpy_int(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  assert fully_connected(X, np.int64(3)).shape.as_list() == [None, 3]


@pytest.mark.parametrize("num_outputs, error", BAD_COUNTS)
def test_fully_connected_rejects_bad_num_outputs(graph, num_outputs, error):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(error, match=re.escape(f"num_outputs={num_outputs!r}")):
    fully_connected(X, num_outputs)
  assert len(graph.get_operations()) == n_ops
  assert V1.global_variables() == []


@pytest.mark.parametrize("builder", [
    lambda X: fully_connected(X, 3),
    lambda X: batch_norm(X),
], ids=["fully_connected", "batch_norm"])
@pytest.mark.parametrize("shape, message", [
    ([None, None], "last dimension of `inputs` must be known"),
    (None, "expected `inputs` of rank >= 2"),
    ([None], "expected `inputs` of rank >= 2"),
])
def test_builders_reject_inputs_without_known_depth(graph, builder, shape, message):
  X = V1.placeholder(tf.float32, shape=shape)
  n_ops = len(graph.get_operations())
  with pytest.raises(ValueError, match=re.escape(message)):
    builder(X)
  assert len(graph.get_operations()) == n_ops
  assert V1.global_variables() == []


def test_fully_connected_rejects_integer_inputs(graph):
  X = V1.placeholder(tf.int32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(TypeError, match="floating point"):
    fully_connected(X, 3)
  assert len(graph.get_operations()) == n_ops


@pytest.mark.parametrize("kwargs, name", [
    ({"activation_fn": "relu"}, "activation_fn"),
    ({"normalizer_fn": 1}, "normalizer_fn"),
    ({"weights_regularizer": 0.1}, "weights_regularizer"),
])
def test_fully_connected_rejects_non_callables(graph, kwargs, name):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(TypeError, match=f"`{name}` to be callable"):
    fully_connected(X, 3, **kwargs)
  assert len(graph.get_operations()) == n_ops


# dropout ---------------------------------------------------------------------------


@pytest.mark.parametrize("keep_prob", [0.5, 0.8])
def test_dropout_scales_kept_units_and_drops_the_rest(graph, sess, keep_prob):
  x = np.random.default_rng(0).uniform(1.0, 2.0, size=(1000, 200)).astype(np.float32)
  X = V1.placeholder(tf.float32, shape=(None, 200))
  y = sess.run(dropout(X, keep_prob, is_training=True), {X: x})
  kept = y != 0
  np.testing.assert_allclose(y[kept], x[kept] / keep_prob, rtol=1e-6)
  assert abs((~kept).mean() - (1.0 - keep_prob)) < 0.01


def test_dropout_is_identity_when_not_training(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  y = dropout(X, 0.5, is_training=False)
  assert not [op for op in graph.get_operations() if op.type.startswith("Random")]
  x = _data((50, 4))
  np.testing.assert_array_equal(sess.run(y, {X: x}), x)


def test_dropout_with_bool_placeholder(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  is_training = V1.placeholder(tf.bool, shape=(), name="is_training")
  y = dropout(X, 0.5, is_training=is_training)
  x = 1.0 + np.abs(_data((100, 4)))
  np.testing.assert_array_equal(sess.run(y, {X: x, is_training: False}), x)
  assert (sess.run(y, {X: x, is_training: True}) == 0).any()


def test_dropout_with_placeholder_with_default(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  is_training = V1.placeholder_with_default(False, shape=(), name="is_training")
  y = dropout(X, 0.5, is_training=is_training)
  x = 1.0 + np.abs(_data((100, 4)))
  np.testing.assert_array_equal(sess.run(y, {X: x}), x)
  assert (sess.run(y, {X: x, is_training: True}) == 0).any()


@pytest.mark.parametrize("keep_prob", [1.0, 1])
def test_dropout_keep_prob_one_is_identity(graph, sess, keep_prob):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  y = dropout(X, keep_prob, is_training=True)
  x = _data((100, 4))
  np.testing.assert_array_equal(sess.run(y, {X: x}), x)


def test_dropout_keep_prob_tensor(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 100))
  keep_prob = V1.placeholder(tf.float32, shape=())
  y = dropout(X, keep_prob, is_training=True)
  x = 1.0 + np.abs(_data((100, 100)))
  np.testing.assert_allclose(sess.run(y, {X: x, keep_prob: 1.0}), x)
  out = sess.run(y, {X: x, keep_prob: 0.5})
  kept = out != 0
  np.testing.assert_allclose(out[kept], x[kept] / 0.5, rtol=1e-6)
  assert abs((~kept).mean() - 0.5) < 0.05


def test_dropout_default_scope(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  assert dropout(X).name.startswith("Dropout/")
  assert dropout(X, scope="drop1").name.startswith("drop1/")


@pytest.mark.parametrize("keep_prob, error", [
    (0, ValueError), (-3, ValueError), (2.5, ValueError), (1.5, ValueError),
    (None, TypeError), ("0.5", TypeError), (True, TypeError)])
def test_dropout_rejects_bad_keep_prob(graph, keep_prob, error):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(error, match=re.escape(f"keep_prob={keep_prob!r}")):
    dropout(X, keep_prob)
  assert len(graph.get_operations()) == n_ops


@pytest.mark.parametrize("is_training", ["yes", 1, None, 0.0])
def test_builders_reject_bad_is_training(graph, is_training):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(TypeError, match="`is_training`"):
    dropout(X, is_training=is_training)
  with pytest.raises(TypeError, match="`is_training`"):
    batch_norm(X, is_training=is_training)
  with pytest.raises(TypeError, match="`is_training`"):
    batch_norm(X, is_training=V1.placeholder(tf.float32, shape=()))
  assert len(graph.get_operations()) == n_ops + 1  # The float placeholder only.


# batch_norm ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [False, True])
def test_batch_norm_training_uses_batch_statistics(graph, sess, scale):
  x = _data((64, 5), loc=3.0, std=2.0)
  beta, gamma = _data(5, seed=1), 0.5 + np.abs(_data(5, seed=2))
  X = V1.placeholder(tf.float32, shape=(None, 5))
  out = batch_norm(X, scale=scale, is_training=True,
                   param_initializers={"beta": _const(beta), "gamma": _const(gamma)})
  sess.run(V1.global_variables_initializer())
  expected = _normalize(x, x.mean(0), x.var(0), beta, gamma if scale else 1.0)
  np.testing.assert_allclose(sess.run(out, {X: x}), expected, rtol=1e-4, atol=1e-4)


def test_batch_norm_normalizes_over_all_axes_but_the_last(graph, sess):
  x = _data((8, 3, 3, 4), loc=-1.0, std=3.0)
  X = V1.placeholder(tf.float32, shape=(None, 3, 3, 4))
  out = batch_norm(X, is_training=True)
  sess.run(V1.global_variables_initializer())
  expected = _normalize(x, x.mean((0, 1, 2)), x.var((0, 1, 2)))
  np.testing.assert_allclose(sess.run(out, {X: x}), expected, rtol=1e-4, atol=1e-4)


def test_batch_norm_inference_uses_moving_averages(graph, sess):
  x = _data((16, 5), loc=3.0)
  beta, mean, var = _data(5, seed=1), _data(5, seed=2), 0.5 + np.abs(_data(5, seed=3))
  X = V1.placeholder(tf.float32, shape=(None, 5))
  out = batch_norm(X, is_training=False, param_initializers={
      "beta": _const(beta), "moving_mean": _const(mean), "moving_variance": _const(var)})
  assert V1.get_collection(GK.UPDATE_OPS) == []
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(out, {X: x}), _normalize(x, mean, var, beta),
                             rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused", [None, False])
def test_batch_norm_update_ops_move_the_averages(graph, sess, fused):
  decay = 0.9
  x = _data((32, 5), loc=3.0, std=2.0)
  mean0, var0 = _data(5, seed=1), 0.5 + np.abs(_data(5, seed=2))
  X = V1.placeholder(tf.float32, shape=(None, 5))
  out = batch_norm(X, decay=decay, fused=fused, param_initializers={
      "moving_mean": _const(mean0), "moving_variance": _const(var0)})
  update_ops = V1.get_collection(GK.UPDATE_OPS)
  assert len(update_ops) == 2
  moving = [_variable("BatchNorm/moving_mean"), _variable("BatchNorm/moving_variance")]
  sess.run(V1.global_variables_initializer())
  sess.run(out, {X: x})  # The forward pass alone leaves the averages alone.
  np.testing.assert_array_equal(sess.run(moving), [mean0, var0])
  sess.run(update_ops, {X: x})
  mean1, var1 = sess.run(moving)
  np.testing.assert_allclose(mean1, mean0 - (mean0 - x.mean(0)) * (1 - decay), rtol=1e-5)
  np.testing.assert_allclose(var1, var0 - (var0 - _update_variance(x, fused))
                             * (1 - decay), rtol=1e-5)


@pytest.mark.parametrize("fused", [None, False])
def test_batch_norm_updates_collections_none_updates_in_forward_pass(graph, sess, fused):
  decay = 0.9
  x = _data((32, 5), loc=3.0, std=2.0)
  X = V1.placeholder(tf.float32, shape=(None, 5))
  out = batch_norm(X, decay=decay, updates_collections=None, fused=fused)
  assert V1.get_collection(GK.UPDATE_OPS) == []
  sess.run(V1.global_variables_initializer())
  y = sess.run(out, {X: x})
  np.testing.assert_allclose(y, _normalize(x, x.mean(0), x.var(0)), rtol=1e-4, atol=1e-4)
  mean1, var1 = sess.run([_variable("BatchNorm/moving_mean"),
                          _variable("BatchNorm/moving_variance")])
  np.testing.assert_allclose(mean1, x.mean(0) * (1 - decay), rtol=1e-5)
  np.testing.assert_allclose(var1, 1.0 - (1.0 - _update_variance(x, fused)) * (1 - decay),
                             rtol=1e-5)


@pytest.mark.parametrize("scale, center, expected", [
    (True, True, ["beta", "gamma", "moving_mean", "moving_variance"]),
    (False, True, ["beta", "moving_mean", "moving_variance"]),
    (False, False, ["moving_mean", "moving_variance"]),
])
def test_batch_norm_variables(graph, scale, center, expected):
  X = V1.placeholder(tf.float32, shape=(None, 5))
  batch_norm(X, scale=scale, center=center)
  assert _names(V1.global_variables()) == [f"BatchNorm/{n}" for n in expected]
  assert _names(V1.model_variables()) == [f"BatchNorm/{n}" for n in expected]
  assert _names(V1.trainable_variables()) == [
      f"BatchNorm/{n}" for n in expected if not n.startswith("moving")]
  assert all(v.shape.as_list() == [5] for v in V1.global_variables())
  batch_norm(X)
  assert "BatchNorm_1/moving_mean" in _names(V1.global_variables())


def test_batch_norm_as_normalizer_of_fully_connected(graph, sess):
  decay = 0.9
  X = V1.placeholder(tf.float32, shape=(None, 4))
  is_training = V1.placeholder_with_default(False, shape=(), name="is_training")
  bn_params = {"is_training": is_training, "decay": decay, "updates_collections": None}
  hidden1 = fully_connected(X, 3, normalizer_fn=batch_norm, normalizer_params=bn_params,
                            scope="hidden1")
  assert _names(V1.trainable_variables()) == ["hidden1/weights", "hidden1/BatchNorm/beta"]
  sess.run(V1.global_variables_initializer())
  weights = sess.run(_variable("hidden1/weights"))
  x = _data((32, 4), loc=2.0)
  a = x @ weights
  y = sess.run(hidden1, {X: x, is_training: True})
  np.testing.assert_allclose(y, np.maximum(_normalize(a, a.mean(0), a.var(0)), 0),
                             rtol=1e-4, atol=1e-4)
  moving_mean = sess.run(_variable("hidden1/BatchNorm/moving_mean"))
  np.testing.assert_allclose(moving_mean, a.mean(0) * (1 - decay), rtol=1e-4, atol=1e-6)


def test_batch_norm_trainable_false_collections_and_activation(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 5))
  out = batch_norm(X, scale=True, trainable=False, activation_fn=tf.nn.relu,
                   variables_collections={"moving_mean": ["averages"],
                                          "moving_variance": ["averages"]})
  assert V1.trainable_variables() == []
  assert _names(V1.get_collection("averages")) == ["BatchNorm/moving_mean",
                                                   "BatchNorm/moving_variance"]
  sess.run(V1.global_variables_initializer())
  x = _data((16, 5))
  np.testing.assert_allclose(sess.run(out, {X: x}),
                             np.maximum(_normalize(x, x.mean(0), x.var(0)), 0),
                             rtol=1e-4, atol=1e-4)


def test_batch_norm_constant_is_training_builds_no_cond(graph):
  X = V1.placeholder(tf.float32, shape=(None, 5))
  batch_norm(X, is_training=tf.constant(True))
  assert len(V1.get_collection(GK.UPDATE_OPS)) == 2
  batch_norm(X, is_training=tf.constant(False))
  assert len(V1.get_collection(GK.UPDATE_OPS)) == 2
  types = {op.type for op in graph.get_operations()}
  assert not types & {"If", "StatelessIf", "Switch", "Merge"}


@pytest.mark.parametrize("decay, error", [
    (-0.1, ValueError), (1.0, ValueError), (2.5, ValueError), (None, TypeError),
    ("0.9", TypeError), (True, TypeError)])
def test_batch_norm_rejects_bad_decay(graph, decay, error):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(error, match=re.escape(f"decay={decay!r}")):
    batch_norm(X, decay=decay)
  assert len(graph.get_operations()) == n_ops
  assert V1.global_variables() == []


@pytest.mark.parametrize("epsilon", [-1e-3, -1.0])
def test_batch_norm_rejects_negative_epsilon(graph, epsilon):  # contrib accepts 0.0
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(ValueError, match="`epsilon`"):
    batch_norm(X, epsilon=epsilon)
  assert len(graph.get_operations()) == n_ops


def test_batch_norm_rejects_unknown_param_initializers(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  n_ops = len(graph.get_operations())
  with pytest.raises(ValueError, match=r"unknown keys in `param_initializers`: \['mean'\]"):
    batch_norm(X, param_initializers={"mean": V1.zeros_initializer()})
  assert len(graph.get_operations()) == n_ops
  assert V1.global_variables() == []


# Key checks, run in both graph modes ---------------------------------------------------
# Each builds in the current default graph; `reference_variables` says which mode the
# caller set up, so the check can assert the kind of variables and `cond` it got.


def _assert_variable_kind(reference_variables):
  kinds = {v.op.type for v in V1.global_variables()}
  assert kinds == ({"VariableV2"} if reference_variables else {"VarHandleOp"}), kinds


def _assert_cond_kind(reference_variables):
  types = {op.type for op in V1.get_default_graph().get_operations()}
  if reference_variables:
    assert {"Switch", "Merge"} <= types, types
  else:
    assert types & {"If", "StatelessIf"}, types


def check_layer_names(reference_variables):
  X = V1.placeholder(tf.float32, shape=(None, 4), name="X")
  hidden1 = fully_connected(X, 3, scope="hidden1")
  fully_connected(hidden1, 2, normalizer_fn=batch_norm,
                  normalizer_params={"scale": True}, scope="hidden2")
  _assert_variable_kind(reference_variables)
  assert _names(V1.global_variables()) == [
      "hidden1/weights", "hidden1/biases", "hidden2/weights", "hidden2/BatchNorm/beta",
      "hidden2/BatchNorm/gamma", "hidden2/BatchNorm/moving_mean",
      "hidden2/BatchNorm/moving_variance"]
  assert _names(V1.trainable_variables()) == [
      "hidden1/weights", "hidden1/biases", "hidden2/weights", "hidden2/BatchNorm/beta",
      "hidden2/BatchNorm/gamma"]


def check_get_tensor_by_name(reference_variables):
  X = V1.placeholder(tf.float32, shape=(None, 4), name="X")
  fully_connected(X, 3, scope="hidden1")
  by_name = V1.get_default_graph().get_tensor_by_name("hidden1/weights:0")
  with V1.variable_scope("hidden1", reuse=True):
    weights = V1.get_variable("weights")
  with V1.Session() as sess:
    sess.run(V1.global_variables_initializer())
    if reference_variables:  # The lesson's way: the tensor is the weights.
      assert by_name.dtype == tf.as_dtype("float32_ref")
      assert by_name.shape.as_list() == [4, 3]
      np.testing.assert_array_equal(sess.run(by_name), sess.run(weights))
    else:  # A resource variable's name is its handle; get_variable gives the weights.
      assert by_name.dtype == tf.resource
      assert sess.run(weights).shape == (4, 3)


def check_batch_norm_update_with_placeholder(reference_variables):
  decay = 0.9
  x = _data((32, 3), loc=3.0, std=2.0)
  mean0, var0 = _data(3, seed=1), 0.5 + np.abs(_data(3, seed=2))
  X = V1.placeholder(tf.float32, shape=(None, 3), name="X")
  is_training = V1.placeholder(tf.bool, shape=(), name="is_training")
  outs = [batch_norm(X, decay=decay, is_training=is_training, fused=fused,
                     scope=f"bn_{fused}", param_initializers={
                         "moving_mean": _const(mean0), "moving_variance": _const(var0)})
          for fused in (None, False)]
  _assert_cond_kind(reference_variables)
  update_ops = V1.get_collection(GK.UPDATE_OPS)
  assert len(update_ops) == 4
  moving = [_variable(f"bn_{fused}/{name}") for fused in (None, False)
            for name in ("moving_mean", "moving_variance")]
  with V1.Session() as sess:
    sess.run(V1.global_variables_initializer())
    ys, _ = sess.run([outs, update_ops], {X: x, is_training: False})
    for y in ys:
      np.testing.assert_allclose(y, _normalize(x, mean0, var0), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(sess.run(moving), [mean0, var0] * 2)  # Unchanged.
    ys, _ = sess.run([outs, update_ops], {X: x, is_training: True})
    for y in ys:
      np.testing.assert_allclose(y, _normalize(x, x.mean(0), x.var(0)),
                                 rtol=1e-4, atol=1e-4)
    values = sess.run(moving)
  for (mean1, var1), fused in zip([values[:2], values[2:]], (None, False)):
    np.testing.assert_allclose(mean1, mean0 - (mean0 - x.mean(0)) * (1 - decay),
                               rtol=1e-5)
    np.testing.assert_allclose(var1, var0 - (var0 - _update_variance(x, fused))
                               * (1 - decay), rtol=1e-5)


def check_batch_norm_in_place_update_with_placeholder(reference_variables):
  decay = 0.9
  x = _data((32, 3), loc=3.0, std=2.0)
  X = V1.placeholder(tf.float32, shape=(None, 3), name="X")
  is_training = V1.placeholder_with_default(False, shape=(), name="is_training")
  outs = [batch_norm(X, decay=decay, is_training=is_training, updates_collections=None,
                     fused=fused, scope=f"bn_{fused}") for fused in (None, False)]
  _assert_variable_kind(reference_variables)
  assert V1.get_collection(GK.UPDATE_OPS) == []
  moving = [_variable(f"bn_{fused}/{name}") for fused in (None, False)
            for name in ("moving_mean", "moving_variance")]
  with V1.Session() as sess:
    sess.run(V1.global_variables_initializer())
    for y in sess.run(outs, {X: x}):
      np.testing.assert_allclose(y, _normalize(x, 0.0, 1.0), rtol=1e-5)
    np.testing.assert_array_equal(sess.run(moving), [np.zeros(3), np.ones(3)] * 2)
    sess.run(outs, {X: x, is_training: True})
    values = sess.run(moving)
  for (mean1, var1), fused in zip([values[:2], values[2:]], (None, False)):
    np.testing.assert_allclose(mean1, x.mean(0) * (1 - decay), rtol=1e-5)
    np.testing.assert_allclose(var1, 1.0 - (1.0 - _update_variance(x, fused))
                               * (1 - decay), rtol=1e-5)


def check_dropout_with_placeholder(reference_variables):
  x = 1.0 + np.abs(_data((100, 4)))
  X = V1.placeholder(tf.float32, shape=(None, 4), name="X")
  is_training = V1.placeholder_with_default(False, shape=(), name="is_training")
  y = dropout(X, 0.5, is_training=is_training)
  _assert_cond_kind(reference_variables)
  with V1.Session() as sess:
    np.testing.assert_array_equal(sess.run(y, {X: x}), x)
    out = sess.run(y, {X: x, is_training: True})
  kept = out != 0
  assert 0 < kept.sum() < kept.size
  np.testing.assert_allclose(out[kept], x[kept] / 0.5, rtol=1e-6)


def check_is_training_bool_variable(reference_variables):
  # contrib accepted a bool tf.Variable as the switch (utils.constant_value allowed it).
  x = 1.0 + np.abs(_data((100, 4)))
  is_training = V1.Variable(True, trainable=False, name="is_training")
  y = dropout(tf.constant(x), 0.5, is_training=is_training)
  bn = batch_norm(tf.constant(x), is_training=is_training, updates_collections=None)
  _assert_variable_kind(reference_variables)
  with V1.Session() as sess:
    sess.run(V1.global_variables_initializer())
    assert (sess.run(y) == 0).any()
    sess.run(is_training.assign(False))
    np.testing.assert_array_equal(sess.run(y), x)
    np.testing.assert_allclose(sess.run(bn), _normalize(x, 0.0, 1.0), rtol=1e-5)


def check_tf_layers_classes(reference_variables):
  # The tf.layers classes and functions on the same core: a shared Dense, a fused
  # batch normalization switched by a placeholder, a transposed convolution.
  x = _data((6, 4, 4, 3))
  X = V1.placeholder(tf.float32, shape=(None, 4, 4, 3), name="X")
  training = V1.placeholder_with_default(False, shape=(), name="training")
  bn = tf_core.BatchNormalization(momentum=0.0, name="bn")
  normalized = bn(X, training=training)
  up = tf_layers.conv2d_transpose(normalized, 2, 3, strides=2, padding="same")
  dense = tf_core.Dense(2, name="shared")
  a, b = dense(tf_layers.flatten(up)), dense.apply(tf_layers.flatten(up) * 2.0)
  _assert_variable_kind(reference_variables)
  _assert_cond_kind(reference_variables)
  assert _names(dense.variables) == ["shared/kernel", "shared/bias"]
  assert up.shape.as_list() == [None, 8, 8, 2]
  with V1.Session() as sess:
    sess.run(V1.global_variables_initializer())
    sess.run(bn.updates, {X: x})  # Not training: nothing moves.
    np.testing.assert_array_equal(sess.run(bn.moving_variance), np.ones(3))
    sess.run(bn.updates, {X: x, training: True})
    n = 6 * 4 * 4
    np.testing.assert_allclose(sess.run(bn.moving_variance),
                               x.var((0, 1, 2)) * n / (n - 1), rtol=1e-4)
    got_a, got_b, bias = sess.run([a, b, dense.bias], {X: x})
  np.testing.assert_allclose(got_b - bias, 2.0 * (got_a - bias), rtol=1e-4, atol=1e-4)


KEY_CHECKS = [check_layer_names, check_get_tensor_by_name,
              check_batch_norm_update_with_placeholder,
              check_batch_norm_in_place_update_with_placeholder,
              check_dropout_with_placeholder, check_is_training_bool_variable,
              check_tf_layers_classes]


@pytest.mark.parametrize("check", KEY_CHECKS, ids=lambda check: check.__name__)
def test_key_checks_with_resource_variables(graph, check):
  check(reference_variables=False)


# One child process serves both tests below (importing TensorFlow costs seconds): it
# records the global state right after `import dnn_toolkit`, then switches to TF 1.x
# behaviour and runs KEY_CHECKS at the top level, lesson style, reporting each failure.
TF1_CHILD = """
import sys
import traceback
import tensorflow as tf
import dnn_toolkit
from dnn_toolkit.layers import activations
from dnn_toolkit.layers import arg_scope
from dnn_toolkit.layers import initializers
from dnn_toolkit.layers import contrib as layers
from dnn_toolkit.layers import regularizers
print("after import:", "executing_eagerly", tf.executing_eagerly(),
      "resource_variables", tf.compat.v1.resource_variables_enabled(),
      "control_flow_v2", tf.compat.v1.control_flow_v2_enabled())
dnn_toolkit.enable_tf1_behavior()
assert not tf.executing_eagerly()
import test_layers
failed = []
for check in test_layers.KEY_CHECKS:
  tf.compat.v1.reset_default_graph()
  try:
    check(reference_variables=True)
  except Exception:  # Report every failing check, not only the first.
    failed.append(check.__name__)
    traceback.print_exc(file=sys.stdout)
print("failed:", failed)
"""


@pytest.fixture(scope="module")
def tf1_child_output(run_python):
  return run_python(TF1_CHILD)


def test_import_changes_no_global_state(tf1_child_output):
  expected = ("after import: executing_eagerly True resource_variables True "
              "control_flow_v2 True")
  assert expected in tf1_child_output, tf1_child_output


def test_key_checks_with_tf1_behavior(tf1_child_output):
  assert "failed: []" in tf1_child_output, tf1_child_output
