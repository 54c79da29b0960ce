"""Weight initializers with tf.contrib.layers' exact distributions, and a lookup by name.

Each factory validates its arguments at once and returns a closure
`initializer(shape, dtype=tf.float32, partition_info=None)` that
`tf.compat.v1.get_variable` accepts.

Note: core `tf.compat.v1.variance_scaling_initializer()` defaults to scale 1.0 (LeCun);
the contrib `variance_scaling_initializer()` here defaults to factor 2.0, which is He
initialization.
"""

import math
from collections.abc import Callable

import tensorflow as tf

from dnn_toolkit import _validation

_MODES = ("FAN_IN", "FAN_OUT", "FAN_AVG")


def _fans(shape):
  """Returns (fan_in, fan_out) of a weight shape as contrib computed them."""
  if not shape:
    return 1.0, 1.0
  fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
  fan_out = float(shape[-1])
  for dim in shape[:-2]:  # Convolution kernels: the receptive field multiplies both.
    fan_in *= dim
    fan_out *= dim
  return fan_in, fan_out


def variance_scaling_initializer(factor: float = 2.0, mode: str = "FAN_IN",
                                 uniform: bool = False, seed: int | None = None,
                                 dtype: tf.DType = tf.float32
                                 ) -> Callable[..., tf.Tensor]:
  """Returns an initializer whose weights have variance `factor / n`.

  With `n` the fan-in, fan-out or their average (`mode`), weights are drawn from a
  truncated normal with stddev `sqrt(1.3 * factor / n)` (the 1.3 makes up for the
  truncation at two standard deviations) or, with `uniform=True`, from
  `U(-sqrt(3 * factor / n), sqrt(3 * factor / n))`.

  The defaults (factor 2.0, FAN_IN, normal) give He initialization;
  `factor=1.0, mode='FAN_AVG'` gives Xavier/Glorot.

  Args:
    factor: positive float, the variance multiplier. Default 2.0.
    mode: 'FAN_IN', 'FAN_OUT' or 'FAN_AVG'. Default 'FAN_IN'.
    uniform: whether to draw from a uniform rather than a truncated normal.
    seed: optional non-negative int for reproducible draws.
    dtype: a floating point dtype. Default tf.float32.

  Returns:
    A function `(shape, dtype=dtype, partition_info=None) -> Tensor` of that shape.

  Raises:
    ValueError: if `factor` is not positive or `mode` is unknown.
    TypeError: if `factor` is not a number or `dtype` not floating point.
  """
  factor = _validation.check_in_range("factor", factor, 0.0, None, low_open=True)
  _validation.check_choice("mode", mode, _MODES)
  _validation.check_optional_seed("seed", seed)
  default_dtype = _validation.check_float_dtype("dtype", dtype)

  def _initializer(shape, dtype=default_dtype, partition_info=None):
    del partition_info  # Accepted for get_variable; partitioning is not supported.
    dtype = _validation.check_float_dtype("dtype", dtype)
    shape = [int(d) for d in shape]
    fan_in, fan_out = _fans(shape)
    n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[mode]
    if uniform:
      limit = math.sqrt(3.0 * factor / n)
      return tf.random.uniform(shape, -limit, limit, dtype=dtype, seed=seed)
    stddev = math.sqrt(1.3 * factor / n)
    return tf.random.truncated_normal(shape, 0.0, stddev, dtype=dtype, seed=seed)

  return _initializer


def xavier_initializer(uniform: bool = True, seed: int | None = None,
                       dtype: tf.DType = tf.float32) -> Callable[..., tf.Tensor]:
  """Returns the Xavier/Glorot initializer: variance `2 / (fan_in + fan_out)`.

  Args:
    uniform: uniform in `[-sqrt(6 / (fan_in + fan_out)), +...]` (default) or a
      truncated normal of the same variance.
    seed: optional non-negative int for reproducible draws.
    dtype: a floating point dtype. Default tf.float32.

  Returns:
    An initializer function, as `variance_scaling_initializer`.
  """
  return variance_scaling_initializer(factor=1.0, mode="FAN_AVG", uniform=uniform,
                                      seed=seed, dtype=dtype)


#: contrib's name for Xavier initialization of convolution kernels: the same function,
#: whose fans include the receptive field (`[height, width, in, out]` kernels).
xavier_initializer_conv2d = xavier_initializer


def he_initializer(uniform: bool = False, seed: int | None = None,
                   dtype: tf.DType = tf.float32) -> Callable[..., tf.Tensor]:
  """Returns He initialization: variance `2 / fan_in`, for the ReLU family.

  Args:
    uniform: a uniform distribution instead of the default truncated normal.
    seed: optional non-negative int for reproducible draws.
    dtype: a floating point dtype. Default tf.float32.

  Returns:
    An initializer function, as `variance_scaling_initializer`.
  """
  return variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=uniform,
                                      seed=seed, dtype=dtype)


def normal_initializer(stddev: float = 1.0, seed: int | None = None,
                       dtype: tf.DType = tf.float32) -> Callable[..., tf.Tensor]:
  """Returns a plain (untruncated) normal N(0, stddev^2) initializer.

  This is the initialization the lesson warns about: with stddev 1.0 sigmoid units
  saturate, with a small stddev the gradient vanishes in the lower layers.

  Args:
    stddev: positive float. Default 1.0.
    seed: optional non-negative int for reproducible draws.
    dtype: a floating point dtype. Default tf.float32.

  Returns:
    An initializer function.
  """
  stddev = _validation.check_in_range("stddev", stddev, 0.0, None, low_open=True)
  _validation.check_optional_seed("seed", seed)
  default_dtype = _validation.check_float_dtype("dtype", dtype)

  def _initializer(shape, dtype=default_dtype, partition_info=None):
    del partition_info
    dtype = _validation.check_float_dtype("dtype", dtype)
    return tf.random.normal([int(d) for d in shape], 0.0, stddev, dtype=dtype, seed=seed)

  return _initializer


_BY_NAME = {
    "xavier": xavier_initializer,
    "glorot": xavier_initializer,
    "he": he_initializer,
    "normal": normal_initializer,
}


def get(name: str, seed: int | None = None) -> Callable[..., tf.Tensor]:
  """Returns a new initializer from its name.

  Args:
    name: 'xavier' (alias 'glorot'), 'he' or 'normal' (N(0, 1)).
    seed: optional non-negative int passed to the factory.

  Returns:
    An initializer function.

  Raises:
    ValueError: if `name` is unknown; the message lists the known names.
  """
  _validation.check_choice("initializer", name, tuple(_BY_NAME))
  return _BY_NAME[name](seed=seed)
