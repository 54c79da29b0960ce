"""Activation functions of the lesson, and a lookup by name.

All functions take a float tensor of any shape and return one of the same shape.
"""

from collections.abc import Callable

import tensorflow as tf

from dnn_toolkit import _validation

# Constants of the self-normalizing ELU (Klambauer et al., 2017): they make a layer of
# SELU units preserve mean 0 and variance 1 of standardized inputs.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def leaky_relu(z: tf.Tensor, alpha: float = 0.01, name: str | None = None) -> tf.Tensor:
  """Leaky ReLU, `max(alpha * z, z)`, as the lesson defines it.

  Args:
    z: float tensor, any shape.
    alpha: the slope for z < 0, in [0, 1). Default 0.01.
    name: optional op name.

  Returns:
    A tensor of the shape of `z`.

  Raises:
    ValueError: if `alpha` is outside [0, 1).
  """
  alpha = _validation.check_in_range("alpha", alpha, 0.0, 1.0, high_open=True)
  return tf.maximum(alpha * z, z, name=name)


def elu(z: tf.Tensor, name: str | None = None) -> tf.Tensor:
  """Exponential linear unit: `z` if z >= 0 else `exp(z) - 1`.

  Args:
    z: float tensor, any shape.
    name: optional op name.

  Returns:
    A tensor of the shape of `z`.
  """
  return tf.nn.elu(z, name=name)


def selu(z: tf.Tensor, name: str | None = None) -> tf.Tensor:
  """Scaled ELU: `SELU_SCALE * (z if z >= 0 else SELU_ALPHA * (exp(z) - 1))`.

  Use it with LeCun normal initialization (`variance_scaling_initializer(factor=1.0)`)
  and standardized inputs for self-normalization.

  Args:
    z: float tensor, any shape.
    name: optional op name.

  Returns:
    A tensor of the shape of `z`.
  """
  with tf.name_scope(name or "selu"):
    # elu(z) is exp(z) - 1 for z < 0 and finite everywhere, so tf.where gets no NaN
    # gradient from the branch it does not pick.
    return SELU_SCALE * tf.where(z >= 0.0, z, SELU_ALPHA * tf.nn.elu(z))


_BY_NAME = {
    "sigmoid": tf.nn.sigmoid,
    "tanh": tf.nn.tanh,
    "relu": tf.nn.relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
}

NAMES = tuple(_BY_NAME)


def get(name: str | None) -> Callable[..., tf.Tensor] | None:
  """Returns the activation function of that name.

  Args:
    name: one of 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'selu'; None or
      'linear' give None (no activation, as `activation_fn=None`).

  Returns:
    A function `z -> tensor`, or None.

  Raises:
    ValueError: if `name` is unknown; the message lists the known names.
  """
  if name is None or name == "linear":
    return None
  _validation.check_choice("activation", name, NAMES + ("linear",))
  return _BY_NAME[name]
