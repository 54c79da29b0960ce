"""Tests of the tf.layers classes: Layer, InputSpec, Dense, Dropout, Flatten and
BatchNormalization (`dnn_toolkit.layers.tf_base`, `tf_core`).

They follow TF 1.15's python/layers/core_test.py and normalization_test.py: names
(object names counted from 1 per graph, variable scopes from 0), variables and their
collections, sharing on a second call, penalties and updates, and numbers against
NumPy. Each test builds in a fresh graph.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import tf_layers
from dnn_toolkit.layers.regularizers import l2_regularizer
from dnn_toolkit.layers.tf_base import InputSpec, Layer
from dnn_toolkit.layers.tf_core import BatchNormalization, Dense, Dropout, Flatten

V1 = tf.compat.v1
GK = V1.GraphKeys
RNG = np.random.default_rng(0)


def _names(variables):
  return [v.op.name for v in variables]


def _normal(*shape, seed=0, loc=0.0, scale=1.0):
  return np.random.default_rng(seed).normal(loc, scale, size=shape).astype(np.float32)


# Names and scopes ---------------------------------------------------------------------


def test_unnamed_layers_are_numbered_as_tf_1_15_did(graph):
  named = Dense(2, name="my_dense")
  first, second = Dense(2), Dense(2)
  assert (named.name, first.name, second.name) == ("my_dense", "dense_1", "dense_2")
  with pytest.raises(ValueError, match="has not been used yet"):
    first.scope_name
  x = tf.zeros([5, 3])
  first(x)
  second.apply(x)
  named(x)
  assert (first.scope_name, second.scope_name) == ("dense", "dense_1")
  assert _names(V1.global_variables()) == [
      "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
      "my_dense/kernel", "my_dense/bias"]
  with tf.Graph().as_default():  # Counted per graph.
    assert Dense(1).name == "dense_1"


def test_class_names_in_snake_case_are_the_default_scopes(graph):
  x = tf.zeros([2, 6, 6, 3])
  layers = [BatchNormalization(), Dropout(), Flatten(), Dense(2)]
  for layer in layers:
    layer(x if not isinstance(layer, Dense) else tf.zeros([2, 3]))
  assert [layer.scope_name for layer in layers] == [
      "batch_normalization", "dropout", "flatten", "dense"]


def test_a_second_call_shares_the_variables_and_the_name_scope(graph, sess):
  layer = Dense(3, activation=tf.nn.relu, name="shared")
  a = layer(tf.constant(_normal(4, 2)))
  b = layer.apply(tf.constant(_normal(4, 2, seed=1)))
  assert len(V1.global_variables()) == 2
  assert layer.variables == [layer.kernel, layer.bias]
  assert a.op.name == "shared/Relu" and b.op.name == "shared/Relu_1"
  sess.run(V1.global_variables_initializer())
  kernel, bias = sess.run([layer.kernel, layer.bias])
  np.testing.assert_allclose(sess.run(b), np.maximum(_normal(4, 2, seed=1) @ kernel
                                                     + bias, 0), rtol=1e-5, atol=1e-6)


def test_variables_and_trainable_weights(graph):
  dense = Dense(2, name="d")
  dense(tf.zeros([5, 4]))
  assert dense.trainable_weights == dense.trainable_variables == [dense.kernel,
                                                                  dense.bias]
  assert dense.non_trainable_weights == []
  assert dense.kernel.name == "d/kernel:0" and dense.bias.name == "d/bias:0"
  frozen = Dense(2, trainable=False, name="frozen")
  frozen(tf.zeros([5, 4]))
  assert frozen.trainable_weights == []
  assert frozen.non_trainable_weights == frozen.variables == [frozen.kernel,
                                                              frozen.bias]
  assert _names(V1.trainable_variables()) == ["d/kernel", "d/bias"]
  no_bias = Dense(2, use_bias=False, name="nb")
  no_bias(tf.zeros([5, 4]))
  assert no_bias.variables == [no_bias.kernel] and no_bias.bias is None


def test_functional_names_scopes_and_reuse(graph):
  x = tf.zeros([5, 3])
  with V1.variable_scope("test"):
    tf_layers.dense(x, 2, name="my_dense")
  with V1.variable_scope("test1") as scope:
    tf_layers.dense(x, 2, name=scope)  # A VariableScope as the name: used as given.
  with V1.variable_scope("test", reuse=True):
    tf_layers.dense(x, 2, name="my_dense")
  assert _names(V1.global_variables()) == [
      "test/my_dense/kernel", "test/my_dense/bias", "test1/kernel", "test1/bias"]


def test_scope_initializer_and_custom_getter_apply(graph, sess):
  calls = []

  def getter(getter, *args, **kwargs):
    calls.append(kwargs.get("name", args[0] if args else None))
    return getter(*args, **kwargs)

  with V1.variable_scope("scope", initializer=V1.ones_initializer(),
                         custom_getter=getter):
    out = tf_layers.dense(tf.ones([1, 3]), 2)
  assert len(calls) == 2
  sess.run(V1.global_variables_initializer())
  np.testing.assert_array_equal(sess.run(out), [[3.0, 3.0]])  # kernel ones, bias 0


# Penalties ----------------------------------------------------------------------------


def test_penalties_join_losses_once_named_by_the_weight(graph, sess):
  dense = Dense(2, kernel_regularizer=l2_regularizer(0.1),
                bias_regularizer=lambda b: tf.reduce_sum(b) * 1e-3,
                activity_regularizer=lambda y: tf.reduce_sum(y) * 1e-2, name="reg")
  x = _normal(5, 3)
  outputs = dense(tf.constant(x))
  dense(tf.constant(x))  # Shared weights: only a new activity penalty.
  losses = V1.get_collection(GK.REGULARIZATION_LOSSES)
  assert dense.losses == losses and len(losses) == 4
  assert losses[0].op.name == "reg/kernel/Regularizer/l2_regularizer"
  assert losses[1].op.name.startswith("reg/bias/Regularizer/")
  assert losses[2].op.name.startswith("reg/ActivityRegularizer/")
  sess.run(V1.global_variables_initializer())
  kernel, y = sess.run([dense.kernel, outputs])
  got = sess.run(losses)
  np.testing.assert_allclose(got[0], 0.1 * np.sum(kernel ** 2) / 2, rtol=1e-5)
  np.testing.assert_allclose(got[2], np.sum(y) * 1e-2 / 5, rtol=1e-4, atol=1e-7)


def test_reused_functional_layer_adds_no_penalty(graph):
  x = tf.zeros([5, 3])
  tf_layers.dense(x, 2, name="my_dense", kernel_regularizer=l2_regularizer(0.1))
  tf_layers.dense(x, 2, name="my_dense", kernel_regularizer=l2_regularizer(0.1),
                  reuse=True)
  assert len(V1.get_collection(GK.REGULARIZATION_LOSSES)) == 1


# Inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [None, [None, None], [None, None, None]])
def test_dense_needs_a_known_last_dimension(graph, shape):
  with pytest.raises(ValueError, match="dense: "):
    Dense(4)(V1.placeholder(tf.float32, shape))
  assert V1.global_variables() == []
  assert Dense(4)(V1.placeholder(tf.float32, [None, None, 3])).shape.as_list() == [
      None, None, 4]


def test_input_spec_holds_for_the_next_calls(graph):
  dense = Dense(2, name="d")
  dense(tf.zeros([5, 3]))
  with pytest.raises(ValueError, match=re.escape(
      "dense (layer 'd'): expected axis -1 of `inputs` to be 3")):
    dense(tf.zeros([5, 4]))
  with pytest.raises(ValueError, match=r"expected `inputs` of rank >= 2"):
    dense(tf.zeros([3]))
  with pytest.raises(TypeError, match="floating point"):
    Dense(2)(tf.zeros([5, 3], tf.int32))
  spec = InputSpec(ndim=4, axes={-1: 3})
  assert (spec.ndim, spec.axes) == (4, {-1: 3})
  assert "ndim=4" in repr(spec)


def test_compute_output_shape(graph):
  dense = Dense(2)
  assert dense.compute_output_shape((None, 3)).as_list() == [None, 2]
  assert dense.compute_output_shape([None, 4, 3]).as_list() == [None, 4, 2]
  with pytest.raises(ValueError):
    dense.compute_output_shape([1])
  assert Flatten().compute_output_shape((None, 3, 2)).as_list() == [None, 6]
  assert Flatten().compute_output_shape((None, 3, None)).as_list() == [None, None]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"units": 0}, ValueError, "units"), ({"units": 2.5}, TypeError, "units"),
    ({"units": 2, "activation": "relu"}, TypeError, "activation"),
    ({"units": 2, "use_bias": 1}, TypeError, "use_bias"),
    ({"units": 2, "trainable": None}, TypeError, "trainable"),
    ({"units": 2, "kernel_size": 3}, TypeError, "kernel_size"),
])
def test_bad_constructor_arguments_name_the_argument(graph, kwargs, error, match):
  with pytest.raises(error, match=match):
    Dense(**kwargs)


def test_a_layer_subclass_builds_once_and_collects_updates(graph, sess):

  class Scale(Layer):
    def build(self, input_shape):
      self.scale = self.add_weight("scale", [int(input_shape[-1])],
                                   initializer=V1.constant_initializer(2.0))
      self.count = self.add_weight("count", [], trainable=False,
                                   initializer=V1.zeros_initializer())

    def call(self, inputs):
      self.add_update(V1.assign_add(self.count, 1.0))
      return inputs * self.scale

  layer = Scale(name="scale")
  out = layer(tf.ones([2, 3]))
  layer(tf.ones([4, 3]))
  assert layer.trainable_weights == [layer.scale]
  assert layer.non_trainable_weights == [layer.count]
  assert len(layer.updates) == 2
  assert V1.get_collection(GK.UPDATE_OPS) == layer.updates
  sess.run(V1.global_variables_initializer())
  np.testing.assert_array_equal(sess.run(out), np.full((2, 3), 2.0))
  sess.run(layer.updates)
  assert sess.run(layer.count) == 2.0
  with pytest.raises(TypeError, match="unexpected keyword"):
    Scale(units=3)


# Dropout and Flatten ------------------------------------------------------------------


def test_dropout_class(graph, sess):
  dropout = Dropout(0.5, name="dropout")
  assert (dropout.rate, dropout.noise_shape, dropout.name) == (0.5, None, "dropout")
  inputs = tf.ones([50, 40])
  training = V1.placeholder(tf.bool, [])
  dropped = dropout.apply(inputs, training=training)
  V1.set_random_seed(4)
  kept = Dropout(0.5, noise_shape=[None, 1], seed=1)(inputs, training=True)
  got = sess.run(dropped, {training: True})
  assert got.min() == 0.0 and set(np.unique(got)) == {0.0, 2.0}
  np.testing.assert_array_equal(sess.run(dropped, {training: False}), np.ones((50, 40)))
  rows = sess.run(kept)
  assert all(len(set(row)) == 1 for row in rows)  # whole rows kept or dropped
  rate = V1.placeholder(tf.float32, [])
  np.testing.assert_array_equal(
      sess.run(Dropout(rate)(inputs, training=True), {rate: 0.0}), np.ones((50, 40)))
  with pytest.raises(TypeError, match="`training`"):
    dropout(inputs, training="yes")


def test_flatten_class_channels_first_matches_channels_last(graph, sess):
  x = np.arange(120, dtype=np.float32).reshape(1, 5, 4, 3, 2)
  last = Flatten(data_format="channels_last")(x)
  first = Flatten(data_format="channels_first")(np.transpose(x, (0, 4, 1, 2, 3)))
  got_last, got_first = sess.run([last, first])
  np.testing.assert_array_equal(got_last, got_first)
  np.testing.assert_array_equal(got_last, x.reshape(1, 120))
  assert Flatten()(V1.placeholder(tf.float32, (None,))).shape.as_list() == [None, 1]


# BatchNormalization -------------------------------------------------------------------


def _np_batch_norm(x, axes, mean, var, gamma=1.0, beta=0.0, epsilon=1e-3):
  shape = [x.shape[a] if a not in axes else 1 for a in range(x.ndim)]
  r = lambda v: np.reshape(v, shape) if np.ndim(v) else v
  return r(gamma) * (x - r(mean)) / np.sqrt(r(var) + epsilon) + r(beta)


@pytest.mark.parametrize("axis, fused", [(3, None), (3, False), (1, None), (1, False)])
def test_batch_normalization_4d_kernels(graph, sess, axis, fused):
  x = _normal(4, 3, 5, 6, loc=1.0, scale=2.0)
  reduced = tuple(a for a in range(4) if a != axis)
  n = x.size // x.shape[axis]
  bn = BatchNormalization(axis=axis, momentum=0.0, fused=fused)
  out = bn(tf.constant(x), training=True)
  ops = {op.type for op in graph.get_operations()}
  assert ("FusedBatchNormV3" in ops) == (fused is None)
  assert bn.updates == V1.get_collection(GK.UPDATE_OPS) and len(bn.updates) == 2
  assert _names(bn.variables) == [f"batch_normalization/{name}" for name in (
      "gamma", "beta", "moving_mean", "moving_variance")]
  sess.run(V1.global_variables_initializer())
  mean, var = x.mean(reduced), x.var(reduced)
  np.testing.assert_allclose(sess.run(out), _np_batch_norm(x, reduced, mean, var),
                             rtol=1e-4, atol=1e-4)
  sess.run(bn.updates)
  stored = var * n / (n - 1) if fused is None else var  # TF 1.15's fused kernel
  np.testing.assert_allclose(sess.run(bn.moving_variance), stored, rtol=1e-4)
  np.testing.assert_allclose(sess.run(bn.moving_mean), mean, rtol=1e-4, atol=1e-6)


def test_batch_normalization_over_two_axes(graph, sess):
  x = _normal(8, 3, 4)
  bn = BatchNormalization(axis=[1, 2], momentum=0.5)
  out = bn(tf.constant(x), training=True)
  assert bn.gamma.shape.as_list() == [1, 3, 4]
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(out), _np_batch_norm(x, (0,), x.mean(0),
                                                           x.var(0)),
                             rtol=1e-4, atol=1e-4)


def test_batch_normalization_adjustment_applies_only_when_training(graph, sess):
  x = _normal(6, 3, seed=2, loc=1.0)
  scale, bias = np.float32([2.0, 0.5, 1.0]), np.float32([0.1, -1.0, 0.0])
  adjustment = lambda shape: (tf.constant(scale), tf.constant(bias))
  training = V1.placeholder_with_default(False, [])
  out = tf_layers.batch_normalization(x, training=training, adjustment=adjustment,
                                      gamma_initializer=V1.constant_initializer(3.0))
  assert "FusedBatchNormV3" not in {op.type for op in graph.get_operations()}
  sess.run(V1.global_variables_initializer())
  normalized = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
  np.testing.assert_allclose(sess.run(out, {training: True}),
                             3.0 * (normalized * scale + bias), rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(sess.run(out), 3.0 * x / np.sqrt(1 + 1e-3), rtol=1e-4,
                             atol=1e-5)


def test_batch_normalization_float16_and_partitioned_scope(graph, sess):
  x = _normal(8, 2, 2, 4).astype(np.float16)
  partitioner = V1.fixed_size_partitioner(2, axis=0)
  with V1.variable_scope("outer", partitioner=partitioner):
    bn = BatchNormalization()
    out = bn(tf.constant(x), training=True)
  assert out.dtype == tf.float16
  assert {v.dtype.base_dtype for v in bn.variables} == {tf.float32}
  assert isinstance(bn.moving_mean, tf.Variable)  # never partitioned
  sess.run(V1.global_variables_initializer())
  expected = _np_batch_norm(x.astype(np.float32), (0, 1, 2),
                            x.astype(np.float32).mean((0, 1, 2)),
                            x.astype(np.float32).var((0, 1, 2)))
  np.testing.assert_allclose(sess.run(out), expected, rtol=1e-2, atol=1e-2)


def test_batch_normalization_layer_reused_adds_updates(graph):
  bn = BatchNormalization(name="bn")
  bn(tf.zeros([4, 3]), training=True)
  bn(tf.ones([4, 3]), training=True)
  bn(tf.ones([4, 3]), training=False)
  assert len(bn.variables) == 4 and len(bn.updates) == 4
  assert len(V1.get_collection(GK.UPDATE_OPS)) == 4
