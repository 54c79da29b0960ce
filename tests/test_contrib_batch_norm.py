"""TF 1.15's contrib layers_test cases of batch_norm's kernels and FC names, rewritten.

TF 1.15's `batch_norm(fused=None)` (the default) and `fused=True` ran TF's fused
kernel for rank-2 and rank-4 inputs, which stores the unbiased batch variance
(`n / (n - 1)` times the biased one) in `moving_variance`; `fused=False` stores the
biased one. The cases of its `BatchNormTest` (None/delayed updates, reuse, a variable
`is_training`, stable gradients, zero-debiasing) run here for both kernels and both
data formats (the fused NCHW kernel runs on CPU in today's TensorFlow), with the
expected statistics computed by NumPy. Also ported: `FCTest`'s penalty names and
output alias, and the data_format error of every NHWC/NCHW-only builder.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers.contrib import (
  avg_pool2d,
  batch_norm,
  conv2d_transpose,
  fully_connected,
  max_pool2d,
)
from dnn_toolkit.layers.regularizers import l2_regularizer

V1 = tf.compat.v1
GK = V1.GraphKeys
BATCH, HEIGHT, WIDTH, CHANNELS = 10, 2, 2, 3
N = BATCH * HEIGHT * WIDTH  # values per channel


def _images(data_format, seed=1, shape=(BATCH, HEIGHT, WIDTH, CHANNELS), offset=0.0):
  """Uniform images in `data_format`, and their per-channel (mean, biased variance)."""
  x = np.random.default_rng(seed).random(shape) + offset
  axes = (0, 1, 2)
  if data_format == "NCHW":
    x, axes = x.transpose(0, 3, 1, 2), (0, 2, 3)
  return x.astype(np.float32), x.mean(axes), x.var(axes)


def _stored_variance(variance, fused, n=N):
  """What `moving_variance` converges to: Bessel-corrected with the fused kernel."""
  return variance * n / (n - 1) if fused else variance


def _moving(scope="BatchNorm"):
  by_name = {v.op.name: v for v in V1.global_variables()}
  return by_name[f"{scope}/moving_mean"], by_name[f"{scope}/moving_variance"]


FORMATS_AND_KERNELS = [(fused, data_format) for fused in (False, True)
                       for data_format in ("NHWC", "NCHW")]


@pytest.mark.parametrize("fused", [False, True])
def test_create_op_uses_the_kernel_asked_for(graph, fused):
  x, _, _ = _images("NHWC", shape=(5, 3, 3, 3))
  out = batch_norm(x, fused=fused)
  prefix = "BatchNorm/FusedBatchNorm" if fused else "BatchNorm/batchnorm"
  assert out.op.name.startswith(prefix), out.op.name
  assert out.shape.as_list() == [5, 3, 3, 3]
  assert V1.get_collection(GK.REGULARIZATION_LOSSES) == []


@pytest.mark.parametrize("shape", [(5, 4), (5, 3, 3, 4)])
def test_default_is_the_fused_kernel_for_ranks_2_and_4(graph, shape):
  out = batch_norm(V1.placeholder(tf.float32, shape))
  ops = {op.type for op in graph.get_operations()}
  assert "FusedBatchNormV3" in ops, ops
  assert out.shape.as_list() == list(shape)


@pytest.mark.parametrize("kwargs", [
    {"fused": False}, {"batch_weights": np.ones(5, np.float32)},
    {"adjustment": lambda shape: (1.0, 0.0)}])
def test_plain_kernel_where_tf_1_15_could_not_fuse(graph, kwargs):
  batch_norm(tf.zeros([5, 3, 3, 4]), **kwargs)
  batch_norm(tf.zeros([5, 3, 4]))  # rank 3: never fused
  batch_norm(tf.zeros([5, 4], tf.float64))  # the kernel takes no float64
  assert "FusedBatchNormV3" not in {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("fused, data_format", FORMATS_AND_KERNELS)
@pytest.mark.parametrize("zero_debias", [False, True])
def test_none_updates_collections(graph, sess, fused, data_format, zero_debias):
  x, mean, variance = _images(data_format)
  out = batch_norm(tf.constant(x), decay=0.1, updates_collections=None, fused=fused,
                   data_format=data_format, zero_debias_moving_mean=zero_debias)
  assert V1.get_collection(GK.UPDATE_OPS) == []
  moving_mean, moving_variance = _moving()
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run([moving_mean, moving_variance]),
                             [np.zeros(3), np.ones(3)])
  for _ in range(10):
    sess.run(out)
    if zero_debias:  # Debiased from its zero start: exact after every update.
      np.testing.assert_allclose(sess.run(moving_mean), mean, rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_mean), mean, rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_variance),
                             _stored_variance(variance, fused), rtol=1e-5)


@pytest.mark.parametrize("fused, data_format", FORMATS_AND_KERNELS)
@pytest.mark.parametrize("zero_debias", [False, True])
def test_delayed_updates_in_update_ops(graph, sess, fused, data_format, zero_debias):
  x, mean, variance = _images(data_format)
  out = batch_norm(tf.constant(x), decay=0.1, fused=fused, data_format=data_format,
                   zero_debias_moving_mean=zero_debias)
  update_ops = V1.get_collection(GK.UPDATE_OPS)
  assert len(update_ops) == 2
  with tf.control_dependencies(update_ops):
    step = tf.identity(out)
  moving_mean, moving_variance = _moving()
  sess.run(V1.global_variables_initializer())
  for _ in range(10):
    sess.run(step)
  np.testing.assert_allclose(sess.run(moving_mean), mean, rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_variance),
                             _stored_variance(variance, fused), rtol=1e-5)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("zero_debias", [False, True])
def test_reused_variables_train_and_evaluate_alike(graph, sess, fused, zero_debias):
  x, mean, variance = _images("NHWC", shape=(10, 3, 3, 3))
  n = 10 * 3 * 3
  images = tf.constant(x)
  train = batch_norm(images, decay=0.1, is_training=True, scope="BN", fused=fused,
                     zero_debias_moving_mean=zero_debias)
  evaluate = batch_norm(images, decay=0.1, is_training=False, scope="BN", reuse=True,
                        fused=fused, zero_debias_moving_mean=zero_debias)
  moving_mean, moving_variance = _moving("BN")
  with tf.control_dependencies(V1.get_collection(GK.UPDATE_OPS)):
    step = tf.identity(train)
  sess.run(V1.global_variables_initializer())
  assert not np.allclose(sess.run(train), sess.run(evaluate))
  for _ in range(10):
    sess.run(step)
  np.testing.assert_allclose(sess.run(moving_mean), mean, rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_variance),
                             _stored_variance(variance, fused, n), rtol=1e-5)
  # With the biased variance restored, inference equals the training output.
  sess.run(V1.assign(moving_variance, variance.astype(np.float32)))
  np.testing.assert_allclose(sess.run(train), sess.run(evaluate), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused, data_format", FORMATS_AND_KERNELS)
@pytest.mark.parametrize("in_place", [False, True])
def test_is_training_variable_switches_both_ways(graph, sess, fused, data_format,
                                                 in_place):
  x, mean, variance = _images(data_format)
  is_training = V1.Variable(True, trainable=False, name="is_training")
  out = batch_norm(tf.constant(x), decay=0.1, is_training=is_training, fused=fused,
                   data_format=data_format,
                   updates_collections=None if in_place else GK.UPDATE_OPS)
  updates = V1.get_collection(GK.UPDATE_OPS)
  assert len(updates) == (0 if in_place else 2)
  with tf.control_dependencies(updates):
    step = tf.identity(out)
  moving_mean, moving_variance = _moving()
  sess.run(V1.global_variables_initializer())
  sess.run(is_training.assign(False))
  for _ in range(3):  # Not training: the averages stay at their start.
    sess.run(step)
  np.testing.assert_allclose(sess.run([moving_mean, moving_variance]),
                             [np.zeros(3), np.ones(3)])
  inference = sess.run(out)
  sess.run(is_training.assign(True))
  assert not np.allclose(sess.run(out if in_place else out), inference)
  for _ in range(10):
    sess.run(step)
  np.testing.assert_allclose(sess.run(moving_mean), mean, rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_variance),
                             _stored_variance(variance, fused), rtol=1e-5)
  training_output = sess.run(out)
  sess.run(V1.assign(moving_variance, variance.astype(np.float32)))
  sess.run(is_training.assign(False))
  np.testing.assert_allclose(sess.run(out), training_output, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused, data_format", FORMATS_AND_KERNELS)
def test_gradients_stay_stable_while_the_averages_move(graph, sess, fused, data_format):
  x, mean, variance = _images(data_format, shape=(10, 7, 7, 32), offset=256.0)
  n = 10 * 7 * 7
  images = tf.constant(x)
  out = batch_norm(images, decay=0.2, updates_collections=None, is_training=True,
                   fused=fused, data_format=data_format)
  [gradient] = tf.gradients(tf.reduce_sum(out), images)
  moving_mean, moving_variance = _moving()
  sess.run(V1.global_variables_initializer())
  first = sess.run(gradient)
  axes = (0, 1, 2) if data_format == "NHWC" else (0, 2, 3)
  for _ in range(10):
    y, g = sess.run([out, gradient])
    np.testing.assert_allclose(y.mean(axes), np.zeros(32), atol=1e-3)
    np.testing.assert_allclose(y.var(axes), np.ones(32), rtol=1e-2, atol=1e-2)
    assert np.max(np.abs(g - first)) < 5e-5
  np.testing.assert_allclose(sess.run(moving_mean), mean, rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_variance),
                             _stored_variance(variance, fused, n), rtol=1e-4)


def test_fused_inference_clamps_epsilon_as_the_kernel_did(graph, sess):
  images = np.full((5, 3, 3, 3), 9.0, np.float32)
  const = lambda value: V1.constant_initializer(np.full(3, value, np.float32))
  out = batch_norm(images, is_training=False, scale=True, epsilon=0.0,
                   param_initializers={"beta": const(5.0), "gamma": const(2.0),
                                       "moving_mean": const(5.0),
                                       "moving_variance": const(4.0)})
  sess.run(V1.global_variables_initializer())
  expected = (9.0 - 5.0) / np.sqrt(4.0 + 1.001e-5) * 2.0 + 5.0  # epsilon >= 1.001e-5
  np.testing.assert_allclose(sess.run(out), np.full_like(images, expected), rtol=1e-6)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_rank_2_inputs_are_fused_as_images_of_one_pixel(graph, sess, data_format):
  x = np.random.default_rng(3).normal(2.0, 3.0, size=(16, 5)).astype(np.float32)
  out = batch_norm(x, decay=0.0, updates_collections=None, data_format=data_format)
  moving_mean, moving_variance = _moving()
  sess.run(V1.global_variables_initializer())
  y = sess.run(out)
  np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4,
                             atol=1e-4)
  np.testing.assert_allclose(sess.run(moving_mean), x.mean(0), rtol=1e-5)
  np.testing.assert_allclose(sess.run(moving_variance), x.var(0) * 16 / 15, rtol=1e-5)


def test_lesson_batch_norm_stores_tf_1_15s_moving_variance(graph, sess):
  """The lesson's `fully_connected(..., normalizer_fn=batch_norm)` with its defaults."""
  x = np.random.default_rng(4).normal(size=(32, 4)).astype(np.float32)
  X = V1.placeholder(tf.float32, (None, 4))
  hidden = fully_connected(X, 3, normalizer_fn=batch_norm,
                           normalizer_params={"is_training": True, "decay": 0.0,
                                              "updates_collections": None},
                           weights_initializer=V1.constant_initializer(0.5))
  sess.run(V1.global_variables_initializer())
  sess.run(hidden, {X: x})
  a = x @ np.full((4, 3), 0.5, np.float32)
  _, moving_variance = _moving("fully_connected/BatchNorm")
  np.testing.assert_allclose(sess.run(moving_variance), a.var(0) * 32 / 31, rtol=1e-4)


# fully_connected: penalty names and the output alias (FCTest) -------------------------


def test_fully_connected_penalties_are_named_by_the_dense_weights(graph, sess):
  x = np.random.default_rng(5).random((5, 27)).astype(np.float32)
  fully_connected(x, 32, weights_regularizer=l2_regularizer(0.01))
  fully_connected(x, 32, biases_regularizer=l2_regularizer(0.01),
                  biases_initializer=V1.constant_initializer(2.0))
  weight_decay, bias_decay = V1.get_collection(GK.REGULARIZATION_LOSSES)
  assert weight_decay.op.name == "fully_connected/kernel/Regularizer/l2_regularizer"
  assert bias_decay.op.name == "fully_connected_1/bias/Regularizer/l2_regularizer"
  assert [v.op.name for v in V1.global_variables()] == [
      "fully_connected/weights", "fully_connected/biases",
      "fully_connected_1/weights", "fully_connected_1/biases"]
  sess.run(V1.global_variables_initializer())
  weights = sess.run(V1.global_variables()[0])
  np.testing.assert_allclose(sess.run(weight_decay), 0.01 * np.sum(weights ** 2) / 2,
                             rtol=1e-5)
  np.testing.assert_allclose(sess.run(bias_decay), 0.01 * 32 * 4.0 / 2, rtol=1e-5)


def test_fully_connected_alias_under_an_outer_name_scope(graph):
  inputs = V1.random_uniform((5, 27), seed=1)
  with tf.name_scope("fe"):
    fc = fully_connected(inputs, 7, outputs_collections="outputs", scope="fc")
  [collected] = V1.get_collection("outputs")
  assert collected is fc
  assert collected.aliases == ["fe/fc"]
  assert [v.op.name for v in V1.global_variables()] == ["fc/weights", "fc/biases"]


# The data_format error contrib's tests match ------------------------------------------


@pytest.mark.parametrize("build", [
    lambda: batch_norm(V1.placeholder(tf.float32), data_format="CHWN"),
    lambda: max_pool2d(np.zeros((5, 3, 6, 3), np.float32), [3, 3], data_format="CHWN"),
    lambda: avg_pool2d(np.zeros((5, 3, 6, 3), np.float32), [3, 3], data_format="CHWN"),
    lambda: conv2d_transpose(np.zeros((5, 7, 9, 3), np.float32), 32, 3,
                             data_format="CHWN"),
], ids=["batch_norm", "max_pool2d", "avg_pool2d", "conv2d_transpose"])
def test_data_format_error_says_nchw_or_nhwc(graph, build):
  message = "data_format has to be either NCHW or NHWC."
  with pytest.raises(ValueError, match=re.escape(message)) as error:
    build()
  assert "data_format='CHWN'" in str(error.value)
  assert V1.global_variables() == []
