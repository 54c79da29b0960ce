"""Tests of dnn_toolkit.layers.tf_layers: TF 1.x's tf.layers functions against NumPy.

Each test builds in a fresh `tf.Graph()` (the `graph` fixture), with TensorFlow's
TF 2 defaults; the scripts of tests/test_tf1.py run them under TF 1.x behaviour.
"""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import tf_layers
from dnn_toolkit.layers.regularizers import l2_regularizer

V1 = tf.compat.v1
RNG = np.random.default_rng(0)


def _names(collection=V1.GraphKeys.GLOBAL_VARIABLES):
  return [v.op.name for v in V1.get_collection(collection)]


def _np_batch_norm(x, mean, var, gamma=1.0, beta=0.0, epsilon=1e-3):
  return gamma * (x - mean) / np.sqrt(var + epsilon) + beta


# ------------------------------------------------------------------------ dense


def test_dense_matches_numpy_and_is_linear_by_default(sess):
  x = RNG.normal(size=(4, 5)).astype(np.float32)
  w = RNG.normal(size=(5, 3)).astype(np.float32)
  b = RNG.normal(size=3).astype(np.float32)
  linear = tf_layers.dense(x, 3, kernel_initializer=V1.constant_initializer(w),
                           bias_initializer=V1.constant_initializer(b))
  relu = tf_layers.dense(x, 3, activation=tf.nn.relu,
                         kernel_initializer=V1.constant_initializer(w),
                         bias_initializer=V1.constant_initializer(b))
  sess.run(V1.global_variables_initializer())
  got_linear, got_relu = sess.run([linear, relu])
  np.testing.assert_allclose(got_linear, x @ w + b, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(got_relu, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-5)


def test_dense_names_shapes_and_default_name_counter(graph):
  x = V1.placeholder(tf.float32, [None, 784], name="X")
  hidden1 = tf_layers.dense(x, 300, activation=tf.nn.relu, name="hidden1")
  first = tf_layers.dense(hidden1, 100)
  second = tf_layers.dense(first, 10, use_bias=False)
  assert _names() == ["hidden1/kernel", "hidden1/bias", "dense/kernel", "dense/bias",
                      "dense_1/kernel"]
  assert _names(V1.GraphKeys.TRAINABLE_VARIABLES) == _names()
  shapes = [v.shape.as_list() for v in V1.global_variables()]
  assert shapes == [[784, 300], [300], [300, 100], [100], [100, 10]]
  assert hidden1.op.name == "hidden1/Relu"
  assert second.shape.as_list() == [None, 10]


def _glorot_limit(fan_in, fan_out):
  """The bound of Glorot's U(-a, a) as TF draws it: a float32 (float32(a) may exceed
  the float64 a, and the largest draw may equal float32(a))."""
  return np.float32(np.sqrt(6.0 / (fan_in + fan_out)))


def test_dense_default_kernel_initializer_is_glorot_uniform(sess):
  V1.set_random_seed(1)  # A fixed draw: the spread check below cannot fail by chance.
  tf_layers.dense(tf.zeros([1, 400]), 200, name="wide")
  sess.run(V1.global_variables_initializer())
  with V1.variable_scope("wide", reuse=True):
    kernel, bias = sess.run([V1.get_variable("kernel"), V1.get_variable("bias")])
  limit = _glorot_limit(400, 200)
  assert np.abs(kernel).max() <= limit
  assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.03)  # U(-a, a)
  np.testing.assert_array_equal(bias, np.zeros(200))


def test_dense_on_rank_3_inputs_multiplies_the_last_axis(sess):
  x = RNG.normal(size=(2, 6, 4)).astype(np.float32)
  w = RNG.normal(size=(4, 3)).astype(np.float32)
  inputs = V1.placeholder(tf.float32, [None, 6, 4])
  outputs = tf_layers.dense(inputs, 3, kernel_initializer=V1.constant_initializer(w))
  assert outputs.shape.as_list() == [None, 6, 3]
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(outputs, {inputs: x}), x @ w, rtol=1e-5,
                             atol=1e-5)


def test_dense_reuse_shares_the_variables(graph):
  a = V1.placeholder(tf.float32, [None, 4])
  b = V1.placeholder(tf.float32, [None, 4])
  tf_layers.dense(a, 3, name="shared")
  out_b = tf_layers.dense(b, 3, name="shared", reuse=True)
  assert _names() == ["shared/kernel", "shared/bias"]
  assert out_b.op.name.startswith("shared_1/")
  with pytest.raises(ValueError, match="shared/kernel already exists"):
    tf_layers.dense(b, 3, name="shared")


def test_dense_reuse_without_name_reuses_dense(graph):
  x = V1.placeholder(tf.float32, [None, 4])
  tf_layers.dense(x, 3)
  tf_layers.dense(x, 3, reuse=True)
  tf_layers.dense(x, 3, reuse=V1.AUTO_REUSE)
  assert _names() == ["dense/kernel", "dense/bias"]


def test_dense_regularizers_go_to_regularization_losses(sess):
  x = RNG.normal(size=(8, 3)).astype(np.float32)
  w = RNG.normal(size=(3, 2)).astype(np.float32)
  out = tf_layers.dense(x, 2, kernel_initializer=V1.constant_initializer(w),
                        bias_initializer=V1.constant_initializer([1.0, -2.0]),
                        kernel_regularizer=l2_regularizer(0.1),
                        bias_regularizer=l2_regularizer(0.5),
                        activity_regularizer=l2_regularizer(0.01), name="reg")
  losses = V1.get_collection(V1.GraphKeys.REGULARIZATION_LOSSES)
  assert len(losses) == 3
  assert losses[0].op.name.startswith("reg/kernel/Regularizer/")
  assert losses[2].op.name.startswith("reg/ActivityRegularizer/")
  sess.run(V1.global_variables_initializer())
  kernel_loss, bias_loss, activity_loss = sess.run(losses)
  assert kernel_loss == pytest.approx(0.1 * np.sum(w ** 2) / 2, rel=1e-5)
  assert bias_loss == pytest.approx(0.5 * (1 + 4) / 2, rel=1e-5)
  outputs = x @ w + np.array([1.0, -2.0])
  # TF 1.x's layers divided the activity penalty by the batch size.
  assert activity_loss == pytest.approx(0.01 * np.sum(outputs ** 2) / 2 / 8, rel=1e-4)
  assert sess.run(out).shape == (8, 2)


def test_dense_constraint_is_applied_after_each_optimizer_step(sess):
  x = np.ones((2, 3), np.float32)
  out = tf_layers.dense(x, 1, kernel_initializer=V1.constant_initializer(0.05),
                        kernel_constraint=lambda w: tf.clip_by_value(w, -0.1, 0.1),
                        name="constrained")
  train_op = V1.train.GradientDescentOptimizer(1.0).minimize(-tf.reduce_sum(out))
  sess.run(V1.global_variables_initializer())
  sess.run(train_op)
  with V1.variable_scope("constrained", reuse=True):
    kernel, bias = sess.run([V1.get_variable("kernel"), V1.get_variable("bias")])
  np.testing.assert_allclose(kernel, np.full((3, 1), 0.1))  # 0.05 + 2, clipped
  np.testing.assert_allclose(bias, [2.0])  # not constrained


@pytest.mark.parametrize("units", [0, -3, 2.5, None, "64", True])
def test_dense_rejects_bad_units_before_building(graph, units):
  with pytest.raises((TypeError, ValueError), match="units"):
    tf_layers.dense(tf.zeros([2, 3]), units)
  assert not V1.global_variables()


def test_dense_rejects_unknown_depth_and_integer_inputs(graph):
  with pytest.raises(ValueError, match="last dimension"):
    tf_layers.dense(V1.placeholder(tf.float32, [None, None]), 3)
  with pytest.raises(TypeError, match="floating point"):
    tf_layers.dense(tf.zeros([2, 3], tf.int32), 3)


@pytest.mark.parametrize("call", [
    lambda x: tf_layers.dense(x, 3, activation_fn=tf.nn.relu),
    lambda x: tf_layers.batch_normalization(x, is_training=True),
    lambda x: tf_layers.dropout(x, keep_prob=0.5),
    lambda x: tf_layers.flatten(x, scope="f"),
])
def test_unknown_keyword_arguments_raise_type_error_naming_them(graph, call):
  with pytest.raises(TypeError, match="unexpected keyword argument"):
    call(tf.zeros([2, 3]))


# ---------------------------------------------------------- batch_normalization


def test_batch_normalization_training_matches_numpy_and_updates(sess):
  x = RNG.normal(2.0, 3.0, size=(16, 4)).astype(np.float32)
  gamma = RNG.uniform(0.5, 2.0, size=4).astype(np.float32)
  beta = RNG.normal(size=4).astype(np.float32)
  out = tf_layers.batch_normalization(
      x, training=True, gamma_initializer=V1.constant_initializer(gamma),
      beta_initializer=V1.constant_initializer(beta))
  updates = V1.get_collection(V1.GraphKeys.UPDATE_OPS)
  assert len(updates) == 2
  sess.run(V1.global_variables_initializer())
  mean, var = x.mean(axis=0), x.var(axis=0)  # biased, as tf.nn.moments
  np.testing.assert_allclose(sess.run(out), _np_batch_norm(x, mean, var, gamma, beta),
                             rtol=1e-4, atol=1e-4)
  sess.run(updates)
  with V1.variable_scope("batch_normalization", reuse=True):
    moving_mean, moving_var = sess.run([V1.get_variable("moving_mean"),
                                        V1.get_variable("moving_variance")])
  np.testing.assert_allclose(moving_mean, 0.01 * mean, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(moving_var, 0.99 + 0.01 * var, rtol=1e-4)


def test_batch_normalization_is_inference_by_default(sess):
  x = RNG.normal(size=(5, 3)).astype(np.float32)
  out = tf_layers.batch_normalization(x)
  assert not V1.get_collection(V1.GraphKeys.UPDATE_OPS)
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(out), x / np.sqrt(1 + 1e-3), rtol=1e-5)


def test_batch_normalization_training_tensor_switches_both_ways(sess):
  x = RNG.normal(1.0, 2.0, size=(10, 3)).astype(np.float32)
  training = V1.placeholder_with_default(False, shape=(), name="training")
  out = tf_layers.batch_normalization(x, training=training, momentum=0.9)
  updates = V1.get_collection(V1.GraphKeys.UPDATE_OPS)
  sess.run(V1.global_variables_initializer())
  sess.run(updates)  # training False: the moving averages do not move
  np.testing.assert_allclose(sess.run(out), x / np.sqrt(1 + 1e-3), rtol=1e-5)
  got, _ = sess.run([out, updates], {training: True})
  np.testing.assert_allclose(got, _np_batch_norm(x, x.mean(0), x.var(0)), rtol=1e-4,
                             atol=1e-4)
  moving_mean = 0.1 * x.mean(0)
  moving_var = 0.9 + 0.1 * x.var(0)
  np.testing.assert_allclose(sess.run(out), _np_batch_norm(x, moving_mean, moving_var),
                             rtol=1e-4, atol=1e-4)


def test_batch_normalization_names_order_and_collections(graph):
  x = V1.placeholder(tf.float32, [None, 6])
  tf_layers.batch_normalization(x)
  tf_layers.batch_normalization(x, center=False, name="bn2", trainable=False)
  tf_layers.batch_normalization(x, scale=False)
  assert _names() == [
      "batch_normalization/gamma", "batch_normalization/beta",
      "batch_normalization/moving_mean", "batch_normalization/moving_variance",
      "bn2/gamma", "bn2/moving_mean", "bn2/moving_variance",
      "batch_normalization_1/beta", "batch_normalization_1/moving_mean",
      "batch_normalization_1/moving_variance"]
  assert _names(V1.GraphKeys.TRAINABLE_VARIABLES) == [
      "batch_normalization/gamma", "batch_normalization/beta",
      "batch_normalization_1/beta"]


def test_batch_normalization_reuse(graph):
  a = V1.placeholder(tf.float32, [None, 3])
  tf_layers.batch_normalization(a, training=True, name="bn")
  tf_layers.batch_normalization(a, training=True, name="bn", reuse=True)
  assert len(V1.global_variables()) == 4
  assert len(V1.get_collection(V1.GraphKeys.UPDATE_OPS)) == 4


def test_batch_normalization_fused_4d_updates_with_bessel_correction(sess):
  x = RNG.normal(size=(2, 3, 3, 5)).astype(np.float32)  # NHWC, 18 values per channel
  tf_layers.batch_normalization(x, training=True, momentum=0.0, name="fused")
  tf_layers.batch_normalization(x, training=True, momentum=0.0, fused=False,
                                name="plain")
  nchw = np.transpose(x, (0, 3, 1, 2))
  out = tf_layers.batch_normalization(nchw, axis=1, training=True, name="nchw")
  sess.run(V1.global_variables_initializer())
  sess.run(V1.get_collection(V1.GraphKeys.UPDATE_OPS))
  var = x.reshape(-1, 5).var(axis=0)
  read = lambda scope: sess.run(V1.get_collection(V1.GraphKeys.GLOBAL_VARIABLES,
                                                  scope + "/moving_variance")[0])
  np.testing.assert_allclose(read("fused"), var * 18 / 17, rtol=1e-4)
  np.testing.assert_allclose(read("plain"), var, rtol=1e-4)
  with V1.variable_scope("nchw", reuse=True):
    assert V1.get_variable("gamma").shape.as_list() == [5]
  expected = _np_batch_norm(nchw, nchw.mean((0, 2, 3), keepdims=True),
                            nchw.var((0, 2, 3), keepdims=True))
  np.testing.assert_allclose(sess.run(out), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs, named", [
    ({"renorm": True}, "renorm=True"),
    ({"virtual_batch_size": 2}, "virtual_batch_size=2"),
])
def test_batch_normalization_refuses_what_it_does_not_implement(graph, kwargs, named):
  with pytest.raises(NotImplementedError, match=named):
    tf_layers.batch_normalization(tf.zeros([4, 3]), **kwargs)
  assert not V1.global_variables()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"momentum": 1.5}, ValueError, "momentum"),
    ({"epsilon": 0.0}, ValueError, "epsilon"),
    ({"axis": 2}, ValueError, "axis"),
    ({"axis": "last"}, TypeError, "axis"),
    ({"training": "yes"}, TypeError, "training"),
    ({"center": 1}, TypeError, "center"),
])
def test_batch_normalization_rejects_bad_arguments(graph, kwargs, error, match):
  with pytest.raises(error, match=match):
    tf_layers.batch_normalization(tf.zeros([4, 3]), **kwargs)
  assert not V1.global_variables()


# ---------------------------------------------------------------------- dropout


def test_dropout_is_identity_unless_training(sess):
  x = RNG.normal(size=(3, 4)).astype(np.float32)
  np.testing.assert_array_equal(sess.run(tf_layers.dropout(x)), x)
  np.testing.assert_array_equal(sess.run(tf_layers.dropout(x, 0.9, training=False)), x)


def test_dropout_training_drops_rate_and_scales_the_rest(sess):
  x = np.ones((200, 100), np.float32)
  out = sess.run(tf_layers.dropout(x, rate=0.3, training=True, seed=1))
  kept = out != 0
  np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
  assert 1 - kept.mean() == pytest.approx(0.3, abs=0.01)


def test_dropout_noise_shape_with_none_drops_whole_rows(sess):
  x = np.ones((300, 5), np.float32)
  inputs = V1.placeholder(tf.float32, [None, 5])
  out = sess.run(tf_layers.dropout(inputs, 0.5, noise_shape=[None, 1], training=True),
                 {inputs: x})
  rows_kept = (out != 0).all(axis=1)
  assert ((out == 0).all(axis=1) | rows_kept).all()
  assert 0.35 < rows_kept.mean() < 0.65


def test_dropout_and_flatten_name_scopes(graph):
  x = tf.zeros([2, 3])
  assert tf_layers.dropout(x, training=True).op.name.startswith("dropout/")
  assert tf_layers.dropout(x, training=True).op.name.startswith("dropout_1/")
  assert tf_layers.flatten(x).op.name.startswith("flatten/")
  assert tf_layers.dropout(x, name="drop1").op.name.startswith("drop1/")


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", None])
def test_dropout_rejects_bad_rates(graph, rate):
  with pytest.raises((TypeError, ValueError), match="rate"):
    tf_layers.dropout(tf.zeros([2, 3]), rate=rate, training=True)


# ---------------------------------------------------------------------- flatten


def test_flatten_shapes_and_channels_first_order(sess):
  x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
  inputs = V1.placeholder(tf.float32, [None, 3, 4, 5])
  last = tf_layers.flatten(inputs)
  first = tf_layers.flatten(inputs, data_format="channels_first")
  assert last.shape.as_list() == [None, 60]
  got_last, got_first = sess.run([last, first], {inputs: x})
  np.testing.assert_array_equal(got_last, x.reshape(2, 60))
  np.testing.assert_array_equal(got_first, np.transpose(x, (0, 2, 3, 1)).reshape(2, 60))
  assert tf_layers.flatten(tf.zeros([7])).shape.as_list() == [7, 1]
  unknown = tf_layers.flatten(V1.placeholder(tf.float32, [None, None, 2]))
  assert unknown.shape.as_list() == [None, None]
  with pytest.raises(ValueError, match="data_format"):
    tf_layers.flatten(inputs, data_format="NHWC")


# ------------------------------------------------------------------ checkpoints


def test_checkpoint_with_tf1_layer_names_restores(tmp_path):
  """A checkpoint holding hidden1/kernel, hidden1/bias and batch_normalization/*,
  written by a graph of plain variables with TF 1.x tf.layers' names, restores."""
  values = {
      "hidden1/kernel": RNG.normal(size=(4, 3)).astype(np.float32),
      "hidden1/bias": RNG.normal(size=3).astype(np.float32),
      "batch_normalization/gamma": RNG.uniform(1, 2, size=3).astype(np.float32),
      "batch_normalization/beta": RNG.normal(size=3).astype(np.float32),
      "batch_normalization/moving_mean": RNG.normal(size=3).astype(np.float32),
      "batch_normalization/moving_variance": RNG.uniform(1, 2, 3).astype(np.float32),
  }
  prefix = str(tmp_path / "tf1_model.ckpt")
  with tf.Graph().as_default(), V1.Session() as sess:
    variables = [V1.Variable(value, name=name) for name, value in values.items()]
    sess.run(V1.global_variables_initializer())
    V1.train.Saver(variables).save(sess, prefix)
  x = RNG.normal(size=(2, 4)).astype(np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    out = tf_layers.batch_normalization(tf_layers.dense(x, 3, name="hidden1"))
    V1.train.Saver().restore(sess, prefix)
    for variable in V1.global_variables():
      np.testing.assert_array_equal(sess.run(variable), values[variable.op.name])
    hidden = x @ values["hidden1/kernel"] + values["hidden1/bias"]
    expected = _np_batch_norm(hidden, values["batch_normalization/moving_mean"],
                              values["batch_normalization/moving_variance"],
                              values["batch_normalization/gamma"],
                              values["batch_normalization/beta"])
    np.testing.assert_allclose(sess.run(out), expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------ conv2d and pooling


def _np_conv2d(x, kernel, stride, padding):
  """NumPy cross-correlation of NHWC `x` with a [kh, kw, c, f] kernel, as TF pads."""
  kh, kw = kernel.shape[:2]
  h, w = x.shape[1:3]
  if padding == "same":
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + kh - h, 0)
    pad_w = max((out_w - 1) * stride + kw - w, 0)
    x = np.pad(x, [(0, 0), (pad_h // 2, pad_h - pad_h // 2),
                   (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
  else:
    out_h, out_w = (h - kh) // stride + 1, (w - kw) // stride + 1
  out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]), np.float32)
  for i in range(out_h):
    for j in range(out_w):
      patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
      out[:, i, j, :] = np.tensordot(patch, kernel, axes=3)
  return out


@pytest.mark.parametrize("stride, padding", [(1, "valid"), (2, "same"), (2, "SAME")])
def test_conv2d_matches_numpy(sess, stride, padding):
  x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
  kernel = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
  bias = RNG.normal(size=4).astype(np.float32)
  out = tf_layers.conv2d(x, 4, 3, strides=stride, padding=padding,
                         activation=tf.nn.relu,
                         kernel_initializer=V1.constant_initializer(kernel),
                         bias_initializer=V1.constant_initializer(bias))
  sess.run(V1.global_variables_initializer())
  expected = np.maximum(_np_conv2d(x, kernel, stride, padding.lower()) + bias, 0)
  np.testing.assert_allclose(sess.run(out), expected, rtol=1e-4, atol=1e-4)


def test_conv2d_names_shapes_initializer_and_channels_first(sess):
  V1.set_random_seed(2)  # A fixed draw for the spread check at the end.
  images = V1.placeholder(tf.float32, [None, 28, 28, 1], name="X")
  conv1 = tf_layers.conv2d(images, 32, [5, 5], padding="same")
  pool1 = tf_layers.max_pooling2d(conv1, pool_size=[2, 2], strides=2)
  conv2 = tf_layers.conv2d(pool1, 64, (5, 5), padding="same", use_bias=False)
  flat = tf_layers.flatten(tf_layers.max_pooling2d(conv2, 2, 2))
  assert _names() == ["conv2d/kernel", "conv2d/bias", "conv2d_1/kernel"]
  assert [v.shape.as_list() for v in V1.global_variables()] == [
      [5, 5, 1, 32], [32], [5, 5, 32, 64]]
  assert pool1.shape.as_list() == [None, 14, 14, 32]
  assert pool1.op.name.startswith("max_pooling2d/")
  assert flat.shape.as_list() == [None, 7 * 7 * 64]
  x = RNG.normal(size=(2, 6, 5, 3)).astype(np.float32)
  kernel = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)
  init = V1.constant_initializer(kernel)
  last = tf_layers.conv2d(x, 2, 3, kernel_initializer=init, name="nhwc")
  first = tf_layers.conv2d(np.transpose(x, (0, 3, 1, 2)), 2, 3, kernel_initializer=init,
                           data_format="channels_first", name="nchw")
  assert first.shape.as_list() == [2, 2, 4, 3]
  sess.run(V1.global_variables_initializer())
  got_last, got_first = sess.run([last, first])
  np.testing.assert_allclose(np.transpose(got_first, (0, 2, 3, 1)), got_last, rtol=1e-5,
                             atol=1e-5)
  wide = sess.run(V1.get_collection(V1.GraphKeys.GLOBAL_VARIABLES, "conv2d_1/kernel")[0])
  limit = _glorot_limit(25 * 32, 25 * 64)  # Glorot over the receptive field
  assert np.abs(wide).max() <= limit
  assert wide.std() == pytest.approx(limit / np.sqrt(3), rel=0.03)  # U(-a, a)


def test_pooling_matches_numpy(sess):
  x = RNG.normal(size=(2, 4, 6, 3)).astype(np.float32)
  blocks = x.reshape(2, 2, 2, 3, 2, 3)  # [n, h/2, 2, w/2, 2, c]
  max_pool = tf_layers.max_pooling2d(x, 2, 2)
  avg_pool = tf_layers.average_pooling2d(x, [2, 2], [2, 2], name="avg")
  same = tf_layers.average_pooling2d(x[:, :3, :5], 2, 2, padding="same")
  first = tf_layers.max_pooling2d(np.transpose(x, (0, 3, 1, 2)), 2, 2,
                                  data_format="channels_first")
  got_max, got_avg, got_same, got_first = sess.run([max_pool, avg_pool, same, first])
  np.testing.assert_allclose(got_max, blocks.max(axis=(2, 4)))
  np.testing.assert_allclose(got_avg, blocks.mean(axis=(2, 4)), rtol=1e-5, atol=1e-6)
  assert got_same.shape == (2, 2, 3, 3)
  # The bottom-right window holds one value: 'same' averages only what is inside.
  np.testing.assert_allclose(got_same[:, 1, 2], x[:, 2, 4], rtol=1e-6)
  np.testing.assert_allclose(np.transpose(got_first, (0, 2, 3, 1)), got_max)
  assert avg_pool.op.name.startswith("avg/")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"filters": 0}, ValueError, "filters"),
    ({"kernel_size": (3, 3, 3)}, ValueError, "kernel_size"),
    ({"kernel_size": 2.5}, TypeError, "kernel_size"),
    ({"padding": "full"}, ValueError, "padding"),
    ({"strides": 2, "dilation_rate": 2}, ValueError, "dilation_rate"),
    ({"data_format": "NCHW"}, ValueError, "data_format"),
])
def test_conv2d_rejects_bad_arguments(graph, kwargs, error, match):
  arguments = {"filters": 4, "kernel_size": 3, **kwargs}
  with pytest.raises(error, match=match):
    tf_layers.conv2d(tf.zeros([1, 8, 8, 2]), **arguments)
  with pytest.raises(ValueError, match="rank 4"):
    tf_layers.max_pooling2d(tf.zeros([8, 8, 2]), 2, 2)
  assert not V1.global_variables()
