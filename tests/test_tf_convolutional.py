"""Tests of tf.layers' convolution and pooling (`dnn_toolkit.layers.tf_convolutional`
and the `tf_layers` functions): outputs against NumPy loops on tiny inputs, variable
names and shapes as TF 1.15's, padding, strides, dilation, channels_first, and a
DCGAN-style generator written the TF 1.x tutorial way that trains.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import tf_convolutional as conv
from dnn_toolkit.layers import tf_layers
from dnn_toolkit.layers.regularizers import l2_regularizer

V1 = tf.compat.v1
GK = V1.GraphKeys


def _normal(*shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _const(value):
  return V1.constant_initializer(value)


def _names(variables):
  return [v.op.name for v in variables]


# NumPy references (channels last) -----------------------------------------------------


def _same_padding(spatial, strides, extents):
  """TF's 'same' padding: output ceil(L / s), the odd padding at the end."""
  out = [-(-length // s) for length, s in zip(spatial, strides)]
  pads = [max((o - 1) * s + e - length, 0)
          for o, s, e, length in zip(out, strides, extents, spatial)]
  return out, [(p // 2, p - p // 2) for p in pads]


def _np_correlate(x, kernel, strides, padding, dilation=None):
  """N-D cross-correlation of `x` [b, *spatial, c] with `kernel` [*k, c, f]."""
  n = x.ndim - 2
  sizes = kernel.shape[:n]
  dilation = dilation or (1,) * n
  extents = [(k - 1) * d + 1 for k, d in zip(sizes, dilation)]
  spatial = x.shape[1:-1]
  if padding == "same":
    out, pads = _same_padding(spatial, strides, extents)
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
  elif padding == "causal":
    x = np.pad(x, [(0, 0), (extents[0] - 1, 0), (0, 0)])
    out = list(spatial)
  else:
    out = [(length - e) // s + 1 for length, e, s in zip(spatial, extents, strides)]
  result = np.zeros((x.shape[0], *out, kernel.shape[-1]), np.float64)
  for position in itertools.product(*map(range, out)):
    for offset in itertools.product(*map(range, sizes)):
      index = tuple(p * s + o * d for p, s, o, d in
                    zip(position, strides, offset, dilation))
      result[(slice(None), *position)] += x[(slice(None), *index)] @ kernel[offset]
  return result


def _np_transpose(x, kernel, strides, padding):
  """N-D transposed convolution of `x` [b, *spatial, c], `kernel` [*k, f, c]."""
  n = x.ndim - 2
  sizes = kernel.shape[:n]
  spatial = x.shape[1:-1]
  if padding == "valid":
    out = [length * s + max(k - s, 0) for length, s, k in zip(spatial, strides, sizes)]
    starts = [0] * n
  else:
    out = [length * s for length, s in zip(spatial, strides)]
    starts = [max(k - s, 0) // 2 for k, s in zip(sizes, strides)]
  full = [max((length - 1) * s + k, start + o)
          for length, s, k, start, o in zip(spatial, strides, sizes, starts, out)]
  buffer = np.zeros((x.shape[0], *full, kernel.shape[-2]), np.float64)
  for position in itertools.product(*map(range, spatial)):
    for offset in itertools.product(*map(range, sizes)):
      index = tuple(p * s + o for p, s, o in zip(position, strides, offset))
      buffer[(slice(None), *index)] += x[(slice(None), *position)] @ kernel[offset].T
  return buffer[(slice(None), *(slice(s, s + o) for s, o in zip(starts, out)))]


def _np_separable(x, depthwise, pointwise, strides, padding, dilation=None):
  """Depthwise (channel c, multiplier m -> channel c * M + m), then pointwise."""
  n, (channels, multiplier) = x.ndim - 2, depthwise.shape[-2:]
  parts = [_np_correlate(x[..., c:c + 1], depthwise[..., c:c + 1, m:m + 1], strides,
                         padding, dilation)
           for c in range(channels) for m in range(multiplier)]
  return _np_correlate(np.concatenate(parts, axis=-1), pointwise, (1,) * n, "valid")


def _np_pool(x, kind, sizes, strides, padding):
  """Max or average pooling; 'same' windows hold only the values inside."""
  spatial = x.shape[1:-1]
  if padding == "same":
    out, pads = _same_padding(spatial, strides, sizes)
    before = [p[0] for p in pads]
  else:
    out = [(length - k) // s + 1 for length, k, s in zip(spatial, sizes, strides)]
    before = [0] * len(sizes)
  result = np.zeros((x.shape[0], *out, x.shape[-1]), np.float64)
  for position in itertools.product(*map(range, out)):
    window = tuple(slice(max(p * s - b, 0), min(p * s - b + k, length))
                   for p, s, b, k, length in
                   zip(position, strides, before, sizes, spatial))
    block = x[(slice(None), *window)].reshape(x.shape[0], -1, x.shape[-1])
    result[(slice(None), *position)] = (block.max(1) if kind == "max"
                                        else block.mean(1))
  return result


def _channels_first(x):
  return np.moveaxis(x, -1, 1)


# Convolutions -------------------------------------------------------------------------

CONVOLUTIONS = [
    # function, input shape, kernel size, strides, padding, dilation
    (tf_layers.conv1d, (2, 9, 3), (3,), (1,), "valid", (1,)),
    (tf_layers.conv1d, (2, 9, 3), (4,), (2,), "same", (1,)),
    (tf_layers.conv1d, (2, 9, 3), (3,), (1,), "causal", (2,)),
    (tf_layers.conv2d, (2, 6, 7, 3), (3, 2), (2, 1), "same", (1, 1)),
    (tf_layers.conv2d, (2, 7, 7, 2), (3, 3), (1, 1), "valid", (2, 2)),
    (tf_layers.conv3d, (2, 4, 5, 4, 2), (2, 3, 2), (1, 2, 1), "same", (1, 1, 1)),
    (tf_layers.conv3d, (1, 5, 5, 5, 2), (3, 3, 3), (2, 2, 2), "valid", (1, 1, 1)),
]


@pytest.mark.parametrize("fn, shape, kernel_size, strides, padding, dilation",
                         CONVOLUTIONS, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_convolutions_match_numpy(sess, fn, shape, kernel_size, strides, padding,
                                  dilation, data_format):
  x = _normal(*shape)
  kernel = _normal(*kernel_size, shape[-1], 4, seed=1)
  bias = _normal(4, seed=2)
  first = data_format == "channels_first"
  out = fn(_channels_first(x) if first else x, 4, kernel_size, strides=strides,
           padding=padding.upper() if padding != "causal" else padding,
           data_format=data_format, dilation_rate=dilation,
           kernel_initializer=_const(kernel), bias_initializer=_const(bias),
           activation=tf.nn.relu)
  [kernel_variable, bias_variable] = V1.global_variables()
  assert kernel_variable.op.name == f"{fn.__name__}/kernel"
  assert kernel_variable.shape.as_list() == [*kernel_size, shape[-1], 4]
  assert bias_variable.shape.as_list() == [4]
  assert out.op.name == f"{fn.__name__}/Relu"
  sess.run(V1.global_variables_initializer())
  expected = np.maximum(_np_correlate(x, kernel, strides, padding, dilation) + bias, 0)
  got = sess.run(out)
  np.testing.assert_allclose(np.moveaxis(got, 1, -1) if first else got, expected,
                             rtol=1e-4, atol=1e-4)
  assert out.shape.as_list() == list(got.shape)


TRANSPOSES = [
    (tf_layers.conv2d_transpose, (2, 3, 4, 3), (3, 3), (2, 2), "valid"),
    (tf_layers.conv2d_transpose, (2, 3, 4, 3), (3, 2), (2, 1), "same"),
    (tf_layers.conv2d_transpose, (1, 3, 3, 2), (1, 1), (2, 2), "valid"),  # k < stride
    (tf_layers.conv2d_transpose, (1, 2, 2, 2), (4, 4), (2, 2), "same"),
    (tf_layers.conv3d_transpose, (1, 2, 3, 2, 2), (2, 3, 2), (2, 1, 2), "same"),
    (tf_layers.conv3d_transpose, (1, 2, 2, 2, 2), (3, 3, 3), (2, 2, 2), "valid"),
]


@pytest.mark.parametrize("fn, shape, kernel_size, strides, padding", TRANSPOSES,
                         ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_transposed_convolutions_match_numpy(sess, fn, shape, kernel_size, strides,
                                             padding, data_format):
  x = _normal(*shape)
  kernel = _normal(*kernel_size, 5, shape[-1], seed=1)  # [*k, filters, in]
  bias = _normal(5, seed=2)
  first = data_format == "channels_first"
  out = fn(_channels_first(x) if first else x, 5, kernel_size, strides=strides,
           padding=padding, data_format=data_format,
           kernel_initializer=_const(kernel), bias_initializer=_const(bias))
  kernel_variable = V1.global_variables()[0]
  assert kernel_variable.op.name == f"{fn.__name__}/kernel"
  assert kernel_variable.shape.as_list() == [*kernel_size, 5, shape[-1]]
  sess.run(V1.global_variables_initializer())
  got = sess.run(out)
  expected = _np_transpose(x, kernel, strides, padding) + bias
  np.testing.assert_allclose(np.moveaxis(got, 1, -1) if first else got, expected,
                             rtol=1e-4, atol=1e-4)
  assert out.shape.as_list() == list(got.shape)


def test_transposed_convolution_of_unknown_sizes(sess):
  images = V1.placeholder(tf.float32, [None, None, None, 3])
  valid = tf_layers.conv2d_transpose(images, 8, 3, strides=2, padding="valid")
  same = tf_layers.conv2d_transpose(images, 8, 3, strides=2, padding="same")
  assert valid.shape.as_list() == [None, None, None, 8]
  sess.run(V1.global_variables_initializer())
  feed = {images: np.zeros((5, 9, 11, 3), np.float32)}
  assert sess.run(valid, feed).shape == (5, 19, 23, 8)
  assert sess.run(same, feed).shape == (5, 18, 22, 8)
  layer = conv.Conv2DTranspose(8, 3, strides=2)
  assert layer.compute_output_shape([None, 9, 11, 3]).as_list() == [None, 19, 23, 8]


@pytest.mark.parametrize("fn, shape, kernel_size, strides, padding, dilation", [
    (tf_layers.separable_conv1d, (2, 9, 3), (3,), (2,), "same", (1,)),
    (tf_layers.separable_conv1d, (2, 9, 2), (3,), (1,), "causal", (2,)),
    (tf_layers.separable_conv2d, (2, 6, 5, 3), (3, 3), (2, 2), "same", (1, 1)),
    (tf_layers.separable_conv2d, (2, 7, 7, 2), (3, 2), (1, 1), "valid", (2, 2)),
], ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_separable_convolutions_match_numpy(sess, fn, shape, kernel_size, strides,
                                            padding, dilation, data_format):
  x = _normal(*shape)
  channels, multiplier, filters = shape[-1], 2, 4
  depthwise = _normal(*kernel_size, channels, multiplier, seed=1)
  pointwise = _normal(*[1] * len(kernel_size), channels * multiplier, filters, seed=2)
  first = data_format == "channels_first"
  out = fn(_channels_first(x) if first else x, filters, kernel_size, strides=strides,
           padding=padding, data_format=data_format, dilation_rate=dilation,
           depth_multiplier=multiplier, depthwise_initializer=_const(depthwise),
           pointwise_initializer=_const(pointwise))
  assert _names(V1.global_variables()) == [
      f"{fn.__name__}/{name}" for name in ("depthwise_kernel", "pointwise_kernel",
                                          "bias")]
  assert [v.shape.as_list() for v in V1.global_variables()] == [
      list(depthwise.shape), list(pointwise.shape), [filters]]
  sess.run(V1.global_variables_initializer())
  got = sess.run(out)
  expected = _np_separable(x, depthwise, pointwise, strides, padding, dilation)
  np.testing.assert_allclose(np.moveaxis(got, 1, -1) if first else got, expected,
                             rtol=1e-4, atol=1e-4)


def test_separable_penalties_are_named_by_their_kernels(graph):
  tf_layers.separable_conv2d(tf.zeros([5, 3, 3, 3]), 32, 3, padding="same",
                             depth_multiplier=2,
                             depthwise_regularizer=l2_regularizer(0.01),
                             pointwise_regularizer=l2_regularizer(0.01))
  assert _names([t for t in V1.get_collection(GK.REGULARIZATION_LOSSES)]) == [
      "separable_conv2d/depthwise_kernel/Regularizer/l2_regularizer",
      "separable_conv2d/pointwise_kernel/Regularizer/l2_regularizer"]


# Pooling ------------------------------------------------------------------------------

POOLINGS = [
    (tf_layers.max_pooling1d, "max", (2, 7, 3), (2,), (2,), "valid"),
    (tf_layers.average_pooling1d, "avg", (2, 7, 3), (3,), (2,), "same"),
    (tf_layers.max_pooling2d, "max", (2, 5, 4, 2), (2, 3), (2, 2), "same"),
    (tf_layers.average_pooling2d, "avg", (2, 5, 5, 2), (3, 3), (2, 2), "same"),
    (tf_layers.max_pooling3d, "max", (1, 5, 4, 4, 2), (2, 2, 2), (2, 1, 2), "same"),
    (tf_layers.average_pooling3d, "avg", (1, 5, 4, 4, 2), (2, 3, 2), (2, 1, 1),
     "valid"),
]


@pytest.mark.parametrize("fn, kind, shape, pool_size, strides, padding", POOLINGS,
                         ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_pooling_matches_numpy(sess, fn, kind, shape, pool_size, strides, padding,
                               data_format):
  x = _normal(*shape)
  first = data_format == "channels_first"
  out = fn(_channels_first(x) if first else x, pool_size, strides, padding=padding,
           data_format=data_format)
  assert out.op.name.startswith(f"{fn.__name__}/")
  got = sess.run(out)
  np.testing.assert_allclose(np.moveaxis(got, 1, -1) if first else got,
                             _np_pool(x, kind, pool_size, strides, padding),
                             rtol=1e-5, atol=1e-6)
  assert V1.global_variables() == []


# Names, sharing and arguments ---------------------------------------------------------


def test_default_names_are_counted_per_kind(graph):
  x = tf.zeros([2, 6, 6, 3])
  tf_layers.conv2d_transpose(x, 4, 3)
  tf_layers.conv2d_transpose(x, 4, 3)
  tf_layers.separable_conv2d(x, 4, 3)
  tf_layers.conv3d(tf.zeros([2, 3, 3, 3, 1]), 2, 2, use_bias=False)
  assert _names(V1.global_variables()) == [
      "conv2d_transpose/kernel", "conv2d_transpose/bias", "conv2d_transpose_1/kernel",
      "conv2d_transpose_1/bias", "separable_conv2d/depthwise_kernel",
      "separable_conv2d/pointwise_kernel", "separable_conv2d/bias", "conv3d/kernel"]
  layer = conv.Conv2DTranspose(4, 3)
  # Object names count from 1 per graph, the functional forms' layers included (TF
  # 1.15 built one per call); variable scopes count from 0.
  assert layer.name == "conv2d_transpose_3"
  layer(x)
  assert layer.scope_name == "conv2d_transpose_2"


def test_a_layer_object_reused_shares_its_variables(sess):
  layer = conv.Conv2D(3, 2, padding="same", name="shared")
  a, b = _normal(1, 4, 4, 2), _normal(1, 4, 4, 2, seed=1)
  out_a, out_b = layer(a), layer.apply(b)
  assert layer.variables == V1.global_variables() and len(layer.variables) == 2
  assert layer.trainable_weights == [layer.kernel, layer.bias]
  sess.run(V1.global_variables_initializer())
  kernel, bias = sess.run([layer.kernel, layer.bias])
  np.testing.assert_allclose(sess.run(out_b), _np_correlate(b, kernel, (1, 1), "same")
                             + bias, rtol=1e-4, atol=1e-4)
  assert out_a.op.name.startswith("shared/") and out_b.op.name.startswith("shared/")


def test_functional_reuse_by_name(graph):
  x = tf.zeros([2, 5, 5, 2])
  tf_layers.conv2d_transpose(x, 3, 2, name="up")
  tf_layers.conv2d_transpose(x, 3, 2, name="up", reuse=True)
  assert len(V1.global_variables()) == 2
  with pytest.raises(ValueError, match="up/kernel already exists"):
    tf_layers.conv2d_transpose(x, 3, 2, name="up")


@pytest.mark.parametrize("call, error, match", [
    (lambda x: tf_layers.conv1d(x[:, :, 0], 0, 3), ValueError, "filters"),
    (lambda x: tf_layers.conv2d_transpose(x, True, 3), TypeError, "filters"),
    (lambda x: tf_layers.conv2d_transpose(x, "8", 3), TypeError, "filters"),
    (lambda x: tf_layers.conv3d(x[..., None], 4, (3, 3)), ValueError, "kernel_size"),
    (lambda x: tf_layers.conv2d(x, 4, 3, padding="causal"), ValueError, "padding"),
    (lambda x: tf_layers.conv2d_transpose(x, 4, 3, strides=(2, 0)), ValueError,
     "strides"),
    (lambda x: conv.Conv2DTranspose(4, 3, dilation_rate=2), TypeError,
     "dilation_rate"),
    (lambda x: tf_layers.separable_conv2d(x, 4, 3, depth_multiplier=0), ValueError,
     "depth_multiplier"),
    (lambda x: tf_layers.separable_conv2d(x, 4, 3, data_format="NCHW"), ValueError,
     "data_format"),
    (lambda x: tf_layers.max_pooling3d(x, 2, 2), ValueError, "rank 5"),
    (lambda x: tf_layers.average_pooling1d(x[:, :, 0], 2, None), TypeError, "strides"),
    (lambda x: tf_layers.conv2d_transpose(tf.cast(x, tf.int32), 4, 3), TypeError,
     "floating point"),
    (lambda x: tf_layers.conv2d(V1.placeholder(tf.float32, [None, 5, 5, None]), 4, 3),
     ValueError, "dimension of `inputs` must be known"),
])
def test_bad_arguments_raise_before_any_variable(graph, call, error, match):
  with pytest.raises(error, match=match):
    call(tf.zeros([2, 6, 6, 3]))
  assert V1.global_variables() == []


# A DCGAN, the TF 1.x tutorial way -----------------------------------------------------


def _generator(z, training):
  with V1.variable_scope("generator"):
    net = tf_layers.dense(z, 7 * 7 * 32)
    net = tf.reshape(net, [-1, 7, 7, 32])
    net = tf.nn.relu(tf_layers.batch_normalization(net, training=training))
    net = tf_layers.conv2d_transpose(net, 16, 5, strides=2, padding="same")
    net = tf.nn.relu(tf_layers.batch_normalization(net, training=training))
    net = tf_layers.conv2d_transpose(net, 1, 5, strides=2, padding="same")
    return tf.tanh(net)  # [batch, 28, 28, 1]


def _discriminator(images, reuse=False):
  with V1.variable_scope("discriminator", reuse=reuse):
    net = tf.nn.leaky_relu(tf_layers.conv2d(images, 16, 5, strides=2, padding="same"))
    net = tf.nn.leaky_relu(tf_layers.conv2d(net, 32, 5, strides=2, padding="same"))
    return tf_layers.dense(tf_layers.flatten(net), 1)


def test_dcgan_generator_with_conv2d_transpose_trains(graph, sess):
  V1.set_random_seed(0)
  rng = np.random.default_rng(0)
  real = -np.ones((16, 28, 28, 1), np.float32)
  real[:, 8:20, 8:20] = 1.0  # a bright square to imitate
  z = V1.placeholder(tf.float32, [None, 16], name="z")
  images = V1.placeholder(tf.float32, [None, 28, 28, 1], name="images")
  training = V1.placeholder_with_default(False, [], name="training")
  fake = _generator(z, training)
  assert fake.shape.as_list() == [None, 28, 28, 1]
  real_logits = _discriminator(images)
  fake_logits = _discriminator(fake, reuse=True)
  xent = lambda logits, label: tf.reduce_mean(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), label),
                                              logits=logits))
  d_loss = xent(real_logits, 1.0) + xent(fake_logits, 0.0)
  g_loss = xent(fake_logits, 1.0)
  g_vars = V1.get_collection(GK.TRAINABLE_VARIABLES, "generator")
  d_vars = V1.get_collection(GK.TRAINABLE_VARIABLES, "discriminator")
  assert {v.op.name: v.shape.as_list() for v in g_vars if "conv2d_transpose" in
          v.op.name} == {"generator/conv2d_transpose/kernel": [5, 5, 16, 32],
                         "generator/conv2d_transpose/bias": [16],
                         "generator/conv2d_transpose_1/kernel": [5, 5, 1, 16],
                         "generator/conv2d_transpose_1/bias": [1]}
  assert len(d_vars) == 6  # shared by the real and the fake branch
  with tf.control_dependencies(V1.get_collection(GK.UPDATE_OPS, "generator")):
    g_step = V1.train.AdamOptimizer(2e-3).minimize(g_loss, var_list=g_vars)
  d_step = V1.train.AdamOptimizer(2e-3).minimize(d_loss, var_list=d_vars)
  sess.run(V1.global_variables_initializer())
  feed = {z: rng.normal(size=(16, 16)).astype(np.float32), images: real,
          training: True}
  d_before = sess.run(d_loss, feed)
  for _ in range(15):
    sess.run(d_step, feed)
  d_after = sess.run(d_loss, feed)
  g_before = sess.run(g_loss, feed)
  for _ in range(15):
    sess.run(g_step, feed)
  g_after = sess.run(g_loss, feed)
  assert d_after < 0.8 * d_before, (d_before, d_after)
  assert g_after < 0.8 * g_before, (g_before, g_after)
  moving = V1.get_collection(GK.GLOBAL_VARIABLES,
                             "generator/batch_normalization/moving_mean")[0]
  assert np.abs(sess.run(moving)).sum() > 0  # the tutorial's UPDATE_OPS ran
