"""contrib's convolution and pooling (`conv2d`, `conv2d_transpose`, `max_pool2d`,
`avg_pool2d`), as TF 1.15's contrib layers_test defined them, rewritten: contrib's
names (`Conv/weights`, `Conv/biases`, `MaxPool2D/MaxPool`), defaults (SAME and ReLU
for convolutions, VALID and stride 2 for pooling), shapes, numbers against NumPy,
and the tf.layers class underneath (penalties named `Conv/kernel/Regularizer/...`).
"""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers.arg_scope import arg_scope
from dnn_toolkit.layers.contrib import (
  avg_pool2d,
  batch_norm,
  conv1d,
  conv2d,
  conv2d_transpose,
  conv3d,
  convolution,
  max_pool2d,
)
from dnn_toolkit.layers.regularizers import l2_regularizer

V1 = tf.compat.v1
GK = V1.GraphKeys


def _uniform(shape, seed=1):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _names(variables):
  return [v.op.name for v in variables]


def test_conv2d_defaults_names_and_numbers(graph, sess):
  images = _uniform((5, 7, 9, 4))
  out = conv2d(images, 32, [3, 3])
  assert out.op.name == "Conv/Relu"
  assert out.shape.as_list() == [5, 7, 9, 32]  # SAME by default
  assert _names(V1.model_variables()) == ["Conv/weights", "Conv/biases"]
  weights, biases = V1.model_variables()
  assert weights.shape.as_list() == [3, 3, 4, 32]
  sess.run(V1.global_variables_initializer())
  kernel = sess.run(weights)
  padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)])
  expected = np.zeros((5, 7, 9, 32), np.float64)
  for i in range(3):
    for j in range(3):
      expected += padded[:, i:i + 7, j:j + 9] @ kernel[i, j]
  np.testing.assert_allclose(sess.run(out), np.maximum(expected, 0), rtol=1e-4,
                             atol=1e-4)
  limit = np.float32(np.sqrt(6.0 / (9 * 4 + 9 * 32)))  # contrib's Xavier, float32
  assert np.abs(kernel).max() <= limit


def test_conv2d_scope_stride_rate_and_valid_padding(graph):
  images = V1.random_uniform((5, 10, 12, 3), seed=1)
  assert conv2d(images, 32, 3, scope="conv1").op.name == "conv1/Relu"
  assert conv2d(images, 32, [3, 3], stride=2).shape.as_list() == [5, 5, 6, 32]
  assert conv2d(images, 32, [3, 3], rate=2, padding="VALID").shape.as_list() == [
      5, 6, 8, 32]
  assert conv2d(images, 32, [3, 3], rate=[2, 3],
                padding="VALID").shape.as_list() == [5, 6, 6, 32]
  full = conv2d(images, 64, images.shape[1:3], padding="VALID",
                activation_fn=None)
  assert full.shape.as_list() == [5, 1, 1, 64] and full.op.name == "Conv_3/BiasAdd"


def test_conv2d_nchw_and_other_ranks(graph, sess):
  x = _uniform((2, 5, 6, 3))
  init = V1.constant_initializer(_uniform((3, 3, 3, 4), seed=2))
  nhwc = conv2d(x, 4, 3, weights_initializer=init, activation_fn=None)
  nchw = conv2d(x.transpose(0, 3, 1, 2), 4, 3, data_format="NCHW",
                weights_initializer=init, activation_fn=None)
  assert nchw.shape.as_list() == [2, 4, 5, 6]
  assert conv1d(tf.zeros([2, 9, 3]), 4, 3).shape.as_list() == [2, 9, 4]
  assert conv3d(tf.zeros([2, 4, 4, 4, 3]), 4, 3).shape.as_list() == [2, 4, 4, 4, 4]
  assert convolution(tf.zeros([2, 9, 3]), 4, 3, data_format="NCW").shape.as_list() == [
      2, 4, 3]
  sess.run(V1.global_variables_initializer())
  a, b = sess.run([nhwc, nchw])
  np.testing.assert_allclose(b.transpose(0, 2, 3, 1), a, rtol=1e-5, atol=1e-5)


def test_conv2d_weight_decay_reuse_and_collections(graph, sess):
  images = V1.random_uniform((5, 7, 9, 3), seed=1)
  with arg_scope([conv2d], weights_regularizer=l2_regularizer(0.01)):
    conv2d(images, 32, [3, 3], scope="conv1",
           variables_collections={"weights": ["w"], "biases": ["b"]})
    conv2d(images, 32, [3, 3], scope="conv1", reuse=True)
  [penalty] = V1.get_collection(GK.REGULARIZATION_LOSSES)
  assert penalty.op.name == "conv1/kernel/Regularizer/l2_regularizer"
  assert _names(V1.global_variables()) == ["conv1/weights", "conv1/biases"]
  assert _names(V1.get_collection("w")) == ["conv1/weights"]
  assert _names(V1.get_collection("b")) == ["conv1/biases"]
  sess.run(V1.global_variables_initializer())
  weights = sess.run(V1.global_variables()[0])
  np.testing.assert_allclose(sess.run(penalty), 0.01 * np.sum(weights ** 2) / 2,
                             rtol=1e-5)


def test_conv2d_with_batch_norm_as_normalizer(graph):
  images = V1.random_uniform((5, 7, 9, 32), seed=1)
  with arg_scope([conv2d], normalizer_fn=batch_norm, normalizer_params={"decay": 0.9}):
    net = conv2d(images, 32, [3, 3])
    conv2d(net, 32, [3, 3])
    conv2d(net, 32, [3, 3], scope="Conv", reuse=True)
  assert len(V1.global_variables()) == 8
  assert len(V1.get_collection(GK.GLOBAL_VARIABLES, "Conv/BatchNorm")) == 3
  assert len(V1.get_collection(GK.GLOBAL_VARIABLES, "Conv_1/BatchNorm")) == 3
  assert V1.get_collection(GK.GLOBAL_VARIABLES, "Conv/biases") == []


def test_conv2d_trainable_flag_and_outputs_alias(graph):
  images = V1.random_uniform((5, 7, 9, 3), seed=1)
  with tf.name_scope("fe"):
    conv = conv2d(images, 32, [3, 3], outputs_collections="outputs", scope="Conv",
                  trainable=False)
  assert V1.get_collection("outputs") == [conv] and conv.aliases == ["fe/Conv"]
  assert V1.trainable_variables() == [] and len(V1.model_variables()) == 2


@pytest.mark.parametrize("input_size, kernel, stride, padding, expected", [
    ([5, 10, 12, 3], [3, 3], 1, "SAME", [5, 10, 12, 32]),
    ([5, 10, 12, 3], [3, 3], 1, "VALID", [5, 12, 14, 32]),
    ([5, 9, 11, 3], [3, 3], [2, 2], "VALID", [5, 19, 23, 32]),
    ([1, 1, 1, 1], [2, 2], [2, 2], "SAME", [1, 2, 2, 32]),
    ([1, 2, 2, 1], [2, 2], [2, 2], "VALID", [1, 4, 4, 32]),
    ([1, 3, 2, 1], [2, 4], [2, 1], "VALID", [1, 6, 5, 32]),
    ([1, 3, 2, 1], [2, 4], [2, 5], "VALID", [1, 6, 10, 32]),
])
def test_conv2d_transpose_output_sizes(sess, input_size, kernel, stride, padding,
                                       expected):
  out = conv2d_transpose(V1.random_uniform(input_size, seed=1), 32, kernel,
                         stride=stride, padding=padding)
  assert out.op.name == "Conv2d_transpose/Relu"
  assert out.shape.as_list() == expected
  sess.run(V1.global_variables_initializer())
  assert list(sess.run(out).shape) == expected
  assert _names(V1.model_variables()) == ["Conv2d_transpose/weights",
                                          "Conv2d_transpose/biases"]
  assert V1.model_variables()[0].shape.as_list() == [*kernel, 32, input_size[-1]]


def test_conv2d_transpose_is_tf_nn_conv2d_transpose(sess):
  images = V1.random_uniform([5, 9, 11, 3], seed=1)
  deconv = conv2d_transpose(images, 32, [3, 3], stride=2, padding="VALID",
                            activation_fn=None, scope="conv7")
  weights = V1.get_collection(GK.MODEL_VARIABLES, "conv7/weights")[0]
  reference = tf.nn.conv2d_transpose(images, weights, [5, 19, 23, 32], [1, 2, 2, 1],
                                     padding="VALID")
  assert deconv.op.name == "conv7/BiasAdd"
  sess.run(V1.global_variables_initializer())
  got, expected = sess.run([deconv, reference])
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_transpose_then_convolution_gives_back_the_input_size(sess):
  rng = np.random.default_rng(0)
  for case in range(10):
    size = [1, int(rng.integers(1, 10)), int(rng.integers(1, 10)), 1]
    kernel = [int(rng.integers(1, size[1] + 1)), int(rng.integers(1, size[2] + 1))]
    stride = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    with V1.variable_scope(f"case{case}"):
      up = conv2d_transpose(V1.random_uniform(size, seed=1), 1, kernel, stride=stride,
                            padding="VALID")
      down = conv2d(up, 1, kernel, stride=stride, padding="VALID")
    assert down.shape.as_list() == size, (size, kernel, stride)


@pytest.mark.parametrize("pool, name", [(max_pool2d, "MaxPool2D/MaxPool"),
                                        (avg_pool2d, "AvgPool2D/AvgPool")])
def test_pooling_defaults_names_and_shapes(graph, pool, name):
  images = V1.random_uniform((5, 3, 6, 3), seed=1)
  output = pool(images, [3, 3], outputs_collections="outputs")
  assert output.op.name == name
  assert output.shape.as_list() == [5, 1, 2, 3]  # VALID, stride 2
  assert output.aliases == [name.split("/")[0]]
  assert pool(images, 3, scope="pool1").op.name == "pool1/" + name.split("/")[1]
  assert pool(images, [3, 3], padding="SAME").shape.as_list() == [5, 2, 3, 3]
  assert pool(images, [3, 3], stride=1, padding="SAME").shape.as_list() == [5, 3, 6, 3]
  assert pool(images, images.shape[1:3], stride=1).shape.as_list() == [5, 1, 1, 3]
  nchw = V1.random_uniform((5, 3, 3, 6), seed=1)
  assert pool(nchw, [3, 3], padding="SAME",
              data_format="NCHW").shape.as_list() == [5, 3, 2, 3]


def test_pooling_values(sess):
  x = _uniform((2, 4, 6, 3))
  blocks = x.reshape(2, 2, 2, 3, 2, 3)
  got_max, got_avg = sess.run([max_pool2d(x, 2), avg_pool2d(x, 2)])
  np.testing.assert_allclose(got_max, blocks.max(axis=(2, 4)))
  np.testing.assert_allclose(got_avg, blocks.mean(axis=(2, 4)), rtol=1e-6)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: conv2d(x, 32, 3, data_format="CHWN"), ValueError, "data_format"),
    (lambda x: conv2d(x[0], 32, 3), ValueError, "rank 4"),
    (lambda x: conv2d(x, 0, 3), ValueError, "num_outputs"),
    (lambda x: conv2d(x, 8, 3, reuse=True), ValueError, "scope"),
    (lambda x: conv2d(x, 8, 3, stride=2, rate=2), ValueError, "dilation_rate"),
    (lambda x: conv2d(tf.cast(x, tf.int32), 8, 3), TypeError, "floating point"),
    (lambda x: max_pool2d(x, [3, 3, 3]), ValueError, "kernel_size"),
    (lambda x: avg_pool2d(x, 2, padding="FULL"), ValueError, "padding"),
])
def test_bad_arguments(graph, call, error, match):
  with pytest.raises(error, match=match):
    call(tf.zeros([5, 7, 9, 3]))
  assert V1.global_variables() == []
