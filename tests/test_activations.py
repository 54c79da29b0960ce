"""Tests of dnn_toolkit.layers.activations against NumPy definitions."""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import activations
from dnn_toolkit.layers.activations import SELU_ALPHA, SELU_SCALE, elu, leaky_relu, selu

V1 = tf.compat.v1
# Klambauer et al. (2017), as tf.nn.selu and Keras use them.
ALPHA = 1.6732632423543772
SCALE = 1.0507009873554805
Z = np.concatenate([np.linspace(-6.0, 6.0, 121), [-1e-3, 0.0, 1e-3]]).astype(np.float32)


def _np_elu(z):
  return np.where(z >= 0, z, np.expm1(np.minimum(z, 0)))


def _np_sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


REFERENCES = {
    "sigmoid": _np_sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.maximum(0.01 * z, z),
    "elu": _np_elu,
    "selu": lambda z: SCALE * np.where(z >= 0, z, ALPHA * np.expm1(np.minimum(z, 0))),
}


def _run(fn, z=Z):
  with tf.Graph().as_default(), V1.Session() as sess:
    return sess.run(fn(tf.constant(z)))


@pytest.mark.parametrize("alpha", [0.01, 0.2, 0.0])
def test_leaky_relu(alpha):
  np.testing.assert_allclose(_run(lambda z: leaky_relu(z, alpha=alpha)),
                             np.maximum(alpha * Z, Z), rtol=1e-6)


def test_leaky_relu_default_alpha_and_name(graph):
  out = leaky_relu(tf.constant(Z), name="leaky")
  assert out.op.name == "leaky"
  with V1.Session() as sess:
    np.testing.assert_allclose(sess.run(out), np.maximum(0.01 * Z, Z), rtol=1e-6)


@pytest.mark.parametrize("alpha, error", [
    (-0.1, ValueError), (1.0, ValueError), (2.5, ValueError), (None, TypeError),
    ("0.01", TypeError), (True, TypeError)])
def test_leaky_relu_bad_alpha(graph, alpha, error):
  z = tf.constant(Z)
  n_ops = len(graph.get_operations())
  with pytest.raises(error, match=re.escape(f"alpha={alpha!r}")):
    leaky_relu(z, alpha=alpha)
  assert len(graph.get_operations()) == n_ops


def test_elu():
  np.testing.assert_allclose(_run(elu), _np_elu(Z), rtol=1e-6, atol=1e-7)


def test_selu_constants():
  assert SELU_ALPHA == ALPHA
  assert SELU_SCALE == SCALE


def test_selu():
  np.testing.assert_allclose(_run(selu), REFERENCES["selu"](Z), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(_run(selu), _run(tf.nn.selu), rtol=1e-6, atol=1e-7)


def test_selu_float64():
  z = Z.astype(np.float64)
  np.testing.assert_allclose(_run(selu, z), REFERENCES["selu"](z), rtol=1e-12)


def test_selu_gradient_is_finite_for_large_inputs(graph):
  z = tf.constant([-1e4, -1000.0, -100.0, -20.0, -1.0, 0.0, 1.0, 100.0, 1e4])
  out = selu(z)
  (grad,) = V1.gradients(tf.reduce_sum(out), [z])
  with V1.Session() as sess:
    z_value, out_value, grad_value = sess.run([z, out, grad])
  assert np.isfinite(out_value).all() and np.isfinite(grad_value).all()
  expected = SCALE * np.where(z_value >= 0, 1.0, ALPHA * np.exp(np.minimum(z_value, 0)))
  np.testing.assert_allclose(grad_value, expected, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(out_value[0], -SCALE * ALPHA, rtol=1e-6)


@pytest.mark.parametrize("name", activations.NAMES)
def test_get_by_name(name):
  np.testing.assert_allclose(_run(activations.get(name)), REFERENCES[name](Z),
                             rtol=1e-5, atol=1e-6)


def test_names():
  assert set(activations.NAMES) == set(REFERENCES)


@pytest.mark.parametrize("name", [None, "linear"])
def test_get_linear_is_none(name):
  assert activations.get(name) is None


@pytest.mark.parametrize("name", ["swish", "ReLU", ""])
def test_get_unknown_name_lists_the_names(graph, name):
  with pytest.raises(ValueError) as error:
    activations.get(name)
  message = str(error.value)
  assert f"Received: activation={name!r}" in message
  assert all(repr(valid) in message for valid in activations.NAMES)
  assert graph.get_operations() == []
