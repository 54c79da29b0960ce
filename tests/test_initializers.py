"""Tests of dnn_toolkit.layers.initializers against tf.contrib.layers' distributions.

A [400, 2500] matrix (a million draws) makes fan_in, fan_out and their average differ,
and puts the sample standard deviation within about 0.1% of the true one.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import initializers
from dnn_toolkit.layers.initializers import (
  he_initializer,
  normal_initializer,
  variance_scaling_initializer,
  xavier_initializer,
  xavier_initializer_conv2d,
)

V1 = tf.compat.v1
SHAPE = (400, 2500)
FAN_IN, FAN_OUT = 400.0, 2500.0
FANS = {"FAN_IN": FAN_IN, "FAN_OUT": FAN_OUT, "FAN_AVG": (FAN_IN + FAN_OUT) / 2}


def _sample(initializer, shape=SHAPE, dtype=tf.float32):
  """Draws the initializer once in a fresh graph, through get_variable as a layer does."""
  with tf.Graph().as_default(), V1.Session() as sess:
    weights = V1.get_variable("weights", shape=shape, dtype=dtype, initializer=initializer)
    sess.run(V1.global_variables_initializer())
    return sess.run(weights)


@pytest.mark.parametrize("mode", ["FAN_IN", "FAN_OUT", "FAN_AVG"])
@pytest.mark.parametrize("factor", [2.0, 1.0])
def test_truncated_normal_std_is_sqrt_factor_over_n(mode, factor):
  w = _sample(variance_scaling_initializer(factor=factor, mode=mode, seed=1))
  std = np.sqrt(factor / FANS[mode])
  # contrib draws with stddev sqrt(1.3 * factor / n), truncated at two of those stddevs;
  # the truncation brings the sample std back to sqrt(factor / n).
  np.testing.assert_allclose(w.std(), std, rtol=0.02)
  assert abs(w.mean()) < 0.01 * std
  assert np.abs(w).max() <= 2 * np.sqrt(1.3 * factor / FANS[mode]) * (1 + 1e-6)


@pytest.mark.parametrize("mode", ["FAN_IN", "FAN_OUT", "FAN_AVG"])
@pytest.mark.parametrize("factor", [2.0, 1.0])
def test_uniform_limit_is_sqrt_3_factor_over_n(mode, factor):
  w = _sample(variance_scaling_initializer(factor=factor, mode=mode, uniform=True, seed=1))
  limit = np.sqrt(3.0 * factor / FANS[mode])
  assert np.abs(w).max() <= limit
  assert np.abs(w).max() > 0.999 * limit
  np.testing.assert_allclose(w.std(), limit / np.sqrt(3.0), rtol=0.02)


def test_defaults_are_he():
  # contrib's variance_scaling_initializer defaults to factor 2.0, FAN_IN, normal.
  w = _sample(variance_scaling_initializer(seed=3))
  np.testing.assert_array_equal(
      w, _sample(variance_scaling_initializer(2.0, "FAN_IN", False, seed=3)))
  np.testing.assert_allclose(w.std(), np.sqrt(2.0 / FAN_IN), rtol=0.02)


def test_xavier_is_fan_avg_factor_one_uniform():
  w = _sample(xavier_initializer(seed=3))
  np.testing.assert_array_equal(
      w, _sample(variance_scaling_initializer(1.0, "FAN_AVG", uniform=True, seed=3)))
  # The lesson's r = sqrt(6 / (n_inputs + n_outputs)).
  r = np.sqrt(6.0 / (FAN_IN + FAN_OUT))
  assert r * 0.999 < np.abs(w).max() <= r


def test_xavier_normal_std():
  # The lesson's sigma = sqrt(2 / (n_inputs + n_outputs)).
  w = _sample(xavier_initializer(uniform=False, seed=3))
  np.testing.assert_allclose(w.std(), np.sqrt(2.0 / (FAN_IN + FAN_OUT)), rtol=0.02)


def test_he_is_fan_in_factor_two_normal():
  w = _sample(he_initializer(seed=3))
  np.testing.assert_array_equal(
      w, _sample(variance_scaling_initializer(2.0, "FAN_IN", uniform=False, seed=3)))
  np.testing.assert_allclose(w.std(), np.sqrt(2.0 / FAN_IN), rtol=0.02)


def test_he_uniform_limit():
  w = _sample(he_initializer(uniform=True, seed=3))
  limit = np.sqrt(6.0 / FAN_IN)
  assert limit * 0.999 < np.abs(w).max() <= limit


def test_convolution_kernel_fans_include_receptive_field():
  # [height, width, in_channels, out_channels]: fan_in = 3 * 3 * 16.
  w = _sample(variance_scaling_initializer(uniform=True, seed=1), shape=(3, 3, 16, 32))
  limit = np.sqrt(3.0 * 2.0 / (3 * 3 * 16))
  assert limit * 0.99 < np.abs(w).max() <= limit


def test_vector_shape_uses_its_length_as_fan_in():
  w = _sample(variance_scaling_initializer(uniform=True, seed=1), shape=(50000,))
  limit = np.sqrt(3.0 * 2.0 / 50000)
  assert limit * 0.999 < np.abs(w).max() <= limit


@pytest.mark.parametrize("factory", [variance_scaling_initializer, xavier_initializer,
                                     he_initializer, normal_initializer])
def test_seeds_reproduce(factory):
  small = (50, 40)
  first = _sample(factory(seed=7), shape=small)
  np.testing.assert_array_equal(first, _sample(factory(seed=7), shape=small))
  assert not np.array_equal(first, _sample(factory(seed=8), shape=small))


def test_normal_initializer_is_untruncated():
  w = _sample(normal_initializer(stddev=0.5, seed=1))
  np.testing.assert_allclose(w.std(), 0.5, rtol=0.02)
  assert np.abs(w).max() > 2 * 0.5  # A truncated normal would stop at two stddevs.


def test_dtype_float64():
  w = _sample(he_initializer(seed=1, dtype=tf.float64), shape=(10, 10), dtype=tf.float64)
  assert w.dtype == np.float64


def test_integer_dtype_rejected(graph):
  with pytest.raises(TypeError, match="floating point type. Received: dtype=int32"):
    he_initializer(dtype=tf.int32)
  assert graph.get_operations() == []


@pytest.mark.parametrize("factor, error", [
    (0, ValueError), (-3, ValueError), (None, TypeError), ("2.0", TypeError),
    (True, TypeError)])
def test_bad_factor(graph, factor, error):
  with pytest.raises(error, match=re.escape(f"factor={factor!r}")):
    variance_scaling_initializer(factor=factor)
  assert graph.get_operations() == []


@pytest.mark.parametrize("mode", ["fan_in", "FAN", "", None, 1])
def test_bad_mode(graph, mode):
  with pytest.raises(ValueError) as error:
    variance_scaling_initializer(mode=mode)
  assert graph.get_operations() == []
  message = str(error.value)
  assert f"Received: mode={mode!r}" in message
  assert all(name in message for name in ("'FAN_IN'", "'FAN_OUT'", "'FAN_AVG'"))


@pytest.mark.parametrize("seed, error", [
    (-1, ValueError), (2.5, TypeError), ("1", TypeError), (True, TypeError)])
def test_bad_seed(graph, seed, error):
  with pytest.raises(error, match=re.escape(f"seed={seed!r}")):
    he_initializer(seed=seed)
  assert graph.get_operations() == []


@pytest.mark.parametrize("stddev, error", [
    (0, ValueError), (-1.0, ValueError), (None, TypeError), ("1", TypeError)])
def test_normal_initializer_bad_stddev(graph, stddev, error):
  with pytest.raises(error, match=re.escape(f"stddev={stddev!r}")):
    normal_initializer(stddev=stddev)
  assert graph.get_operations() == []


@pytest.mark.parametrize("name, same_as", [
    ("xavier", xavier_initializer), ("glorot", xavier_initializer),
    ("he", he_initializer), ("normal", normal_initializer)])
def test_get_by_name(name, same_as):
  small = (30, 20)
  np.testing.assert_array_equal(_sample(initializers.get(name, seed=5), shape=small),
                                _sample(same_as(seed=5), shape=small))


def test_get_unknown_name_lists_the_names(graph):
  with pytest.raises(ValueError) as error:
    initializers.get("lecun")
  assert graph.get_operations() == []
  message = str(error.value)
  assert "Received: initializer='lecun'" in message
  assert all(f"'{name}'" in message for name in ("xavier", "glorot", "he", "normal"))


# contrib's initializer tests ---------------------------------------------------------


@pytest.mark.parametrize("uniform", [True, False])
def test_xavier_initializer_conv2d_variance(uniform):
  # A [100, 40, 5, 7] kernel: fan_in 100*40*5, fan_out 100*40*7.
  w = _sample(xavier_initializer_conv2d(uniform=uniform, seed=1), shape=(100, 40, 5, 7))
  np.testing.assert_allclose(w.var(), 2.0 / (100 * 40 * (5 + 7)), rtol=0.02)
  assert xavier_initializer_conv2d is xavier_initializer


@pytest.mark.parametrize("factory", [xavier_initializer, he_initializer])
def test_scalar_shape(factory):
  w = _sample(factory(seed=1), shape=())
  assert w.shape == ()


@pytest.mark.parametrize("mode", ["FAN_IN", "FAN_OUT", "FAN_AVG"])
def test_vector_shape_uses_its_length_for_every_mode(mode):
  # contrib: a [100] vector has fan_in = fan_out = 100, so variance 2 / 100 each mode.
  w = _sample(variance_scaling_initializer(mode=mode, uniform=True, seed=1),
              shape=(100,))
  limit = np.sqrt(3.0 * 2.0 / 100)
  assert np.abs(w).max() <= limit
  assert np.abs(w).max() > 0.9 * limit


def test_non_floating_dtype_message_is_contribs(graph):
  message = "Cannot create initializer for non-floating point type"
  with pytest.raises(TypeError, match=message):
    xavier_initializer(dtype=tf.int32)
  with pytest.raises(TypeError, match=message + r".*Received: dtype=int32"):
    variance_scaling_initializer()([], dtype=tf.int32)
  with pytest.raises(TypeError, match=message + r".*Received: dtype='bogus'"):
    normal_initializer(dtype="bogus")
  assert graph.get_operations() == []
