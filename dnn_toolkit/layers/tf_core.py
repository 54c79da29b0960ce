"""TF 1.x's tf.layers classes Dense, Dropout, Flatten and BatchNormalization.

The same constructor arguments, defaults, variable names and semantics as TF 1.15's
`tf.layers.Dense`, ... (which were Keras layers underneath), built here on the layer
core (`dnn_toolkit.layers.core`) and `tf_base.Layer`:

    dense = Dense(300, activation=tf.nn.relu, name="hidden1")
    hidden1 = dense(X)                              # hidden1/kernel, hidden1/bias
    bn = BatchNormalization(momentum=0.9)
    out = bn(hidden1, training=training)            # its updates join UPDATE_OPS
    dense.trainable_weights, bn.moving_variance     # the variables

The functional forms (`tf_layers.dense`, ...) build one of these and apply it.
"""

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers import core
from dnn_toolkit.layers.tf_base import InputSpec, Layer

_V1 = tf.compat.v1
_Regularizer = Callable[[tf.Tensor], tf.Tensor | None]
_Constraint = Callable[[tf.Tensor], tf.Tensor]
DATA_FORMATS = ("channels_last", "channels_first")


def check_kernel_arguments(*, use_bias: Any, **functions: Any) -> None:
  """The checks every kernel layer shares: callables (or None) and `use_bias` a bool."""
  for arg, fn in functions.items():
    _validation.check_callable(arg, fn)
  _validation.check_bool("use_bias", use_bias)


class Dense(Layer):
  """A densely connected layer: `activation(inputs @ kernel + bias)`.

  Creates `<name>/kernel` `[depth, units]` and, with `use_bias`, `<name>/bias`
  `[units]`. Inputs of rank > 2 are multiplied along their last axis.

  Args:
    units: positive int, the number of output units.
    activation: optional function applied to the output. Default None (linear).
    use_bias: whether to add `bias`. Default True.
    kernel_initializer: Default None: the scope's, else Glorot uniform.
    bias_initializer: Default zeros.
    kernel_regularizer, bias_regularizer: optional `fn(weight)`; penalties join
      `REGULARIZATION_LOSSES` (`<name>/kernel/Regularizer/...`).
    activity_regularizer: optional `fn(outputs)`, divided by the batch size.
    kernel_constraint, bias_constraint: optional projections the tf.compat.v1
      optimizers apply after each update.
    trainable, name, **kwargs: as for `Layer`.

  Raises:
    TypeError: if `units` is not an int or a function argument not callable; at the
      call, if `inputs` is not floating point.
    ValueError: if `units` is not positive; at the call, if the last dimension of
      `inputs` is unknown.
  """

  _requires_float = True

  def __init__(self, units: int, activation: Callable[..., tf.Tensor] | None = None,
               use_bias: bool = True,
               kernel_initializer: Callable[..., tf.Tensor] | None = None,
               bias_initializer: Callable[..., tf.Tensor] | None = (
                   _V1.zeros_initializer()),
               kernel_regularizer: _Regularizer | None = None,
               bias_regularizer: _Regularizer | None = None,
               activity_regularizer: _Regularizer | None = None,
               kernel_constraint: _Constraint | None = None,
               bias_constraint: _Constraint | None = None, trainable: bool = True,
               name: str | None = None, **kwargs: Any) -> None:
    self.units = _validation.check_positive_int("units", units)
    check_kernel_arguments(
        activation=activation, kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        use_bias=use_bias)
    super().__init__(trainable=trainable, name=name,
                     activity_regularizer=activity_regularizer, **kwargs)
    self.activation = activation
    self.use_bias = use_bias
    self.kernel_initializer = kernel_initializer
    self.bias_initializer = bias_initializer
    self.kernel_regularizer = kernel_regularizer
    self.bias_regularizer = bias_regularizer
    self.kernel_constraint = kernel_constraint
    self.bias_constraint = bias_constraint
    self.kernel = self.bias = None
    self.input_spec = InputSpec(min_ndim=2)

  def build(self, input_shape: tf.TensorShape) -> None:
    depth = core.known_channels(input_shape, self._fn_name)
    self.input_spec = InputSpec(min_ndim=2, axes={-1: depth})
    self.kernel = self.add_weight("kernel", [depth, self.units],
                                  initializer=self.kernel_initializer,
                                  regularizer=self.kernel_regularizer,
                                  constraint=self.kernel_constraint)
    if self.use_bias:
      self.bias = self.add_weight("bias", [self.units],
                                  initializer=self.bias_initializer,
                                  regularizer=self.bias_regularizer,
                                  constraint=self.bias_constraint)
    self.built = True

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    rank = inputs.shape.rank
    if rank == 2:
      outputs = tf.matmul(inputs, self.kernel)  # [batch_size, units]
    else:
      outputs = tf.tensordot(inputs, self.kernel, [[rank - 1], [0]])
      outputs.set_shape(inputs.shape[:-1].concatenate([self.units]))  # [..., units]
    if self.use_bias:
      outputs = tf.nn.bias_add(outputs, self.bias)
    if self.activation is not None:
      outputs = self.activation(outputs)
    return outputs

  def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
    input_shape = tf.TensorShape(input_shape)
    core.known_channels(input_shape, self._fn_name)
    return input_shape[:-1].concatenate([self.units])


class Dropout(Layer):
  """Inverted dropout: when training, zeroes units with probability `rate`.

  Kept units are divided by `1 - rate`; otherwise the layer is the identity. `training`
  (a call argument) is False unless given.

  Args:
    rate: the drop probability, in [0, 1), or a scalar float tensor. Default 0.5.
    noise_shape: optional 1-D shape of the mask; None entries take the input's
      dimension (`[None, 1]` drops whole rows).
    seed: optional int seed of the mask.
    name, **kwargs: as for `Layer`.

  Raises:
    TypeError: if `seed` is not an int; at the call, if `training` is neither a bool
      nor a bool tensor.
    ValueError: if `rate` is a number outside [0, 1).
  """

  def __init__(self, rate: float | tf.Tensor = 0.5,
               noise_shape: Sequence[int | None] | tf.Tensor | None = None,
               seed: int | None = None, name: str | None = None,
               **kwargs: Any) -> None:
    if not isinstance(rate, (tf.Tensor, tf.Variable)):
      rate = _validation.check_in_range("rate", rate, 0.0, 1.0, high_open=True)
    self.seed = _validation.check_optional_seed("seed", seed)
    super().__init__(name=name, **kwargs)
    self.rate = rate
    self.noise_shape = noise_shape

  def call(self, inputs: tf.Tensor, training: bool | tf.Tensor = False) -> tf.Tensor:
    training = _validation.check_is_training(training, "training")
    return core.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape,
                        seed=self.seed, training=training)


class Flatten(Layer):
  """Flattens every dimension but the first: `[batch, ...]` -> `[batch, n]`.

  Args:
    data_format: 'channels_last' or 'channels_first' (whose inputs are put in
      channels-last order first, so both give the same layout); None: channels last.
    name, **kwargs: as for `Layer`.

  Raises:
    ValueError: if `data_format` is unknown; at the call, if `inputs` has unknown rank
      or rank 0.
  """

  def __init__(self, data_format: str | None = None, name: str | None = None,
               **kwargs: Any) -> None:
    if data_format is not None:
      _validation.check_choice("data_format", data_format, DATA_FORMATS)
    super().__init__(name=name, **kwargs)
    self.data_format = data_format or "channels_last"

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    rank = inputs.shape.rank
    if rank is None or rank < 1:
      raise ValueError("flatten: expected `inputs` of known rank >= 1 ([batch_size, "
                       f"...]). Received: inputs.shape={inputs.shape}")
    channels_first = self.data_format == "channels_first" and rank > 2
    return core.flatten(core.to_channels_last(inputs, channels_first))

  def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
    input_shape = tf.TensorShape(input_shape)
    return tf.TensorShape([input_shape[0], input_shape[1:].num_elements()])


def _normalized_axes(axis, shape):
  """Returns the sorted non-negative axes of `axis` (an int or a list of ints)."""
  rank = shape.rank
  if rank is None:
    raise ValueError("batch_normalization: `inputs` must have a known rank. "
                     f"Received: inputs.shape={shape}")
  given = [axis] if isinstance(axis, int) else list(axis)
  axes = [a + rank if a < 0 else a for a in given]
  if any(a < 0 or a >= rank for a in axes) or len(set(axes)) != len(axes):
    raise ValueError(f"Received an invalid value for `axis`, expected distinct axes of "
                     f"an input of rank {rank}. Received: axis={axis!r}")
  for a in axes:
    if shape[a] is None:
      raise ValueError(f"batch_normalization: dimension {a} of `inputs` (the `axis` "
                       f"normalized over) must be known. Received: inputs.shape={shape}")
  return sorted(axes)


def _check_not_implemented(renorm, virtual_batch_size):
  """Refuses the batch-normalization variants this module does not build."""
  asked = [f"{arg}={value!r}" for arg, value, default in (
      ("renorm", renorm, False), ("virtual_batch_size", virtual_batch_size, None))
           if value is not default]
  if asked:
    raise NotImplementedError(
        "batch_normalization: batch renormalization and ghost batches are not "
        "implemented by dnn_toolkit.layers; leave renorm=False and "
        f"virtual_batch_size=None. Received: {', '.join(asked)}")


class BatchNormalization(Layer):
  """Batch normalization (Ioffe and Szegedy, 2015) with TF 1.15's tf.layers semantics.

  Called with `training=True` it normalizes with the batch's mean and variance over
  every axis but `axis`, and records in `updates` (and `tf.GraphKeys.UPDATE_OPS`) the
  ops updating `moving_mean` and `moving_variance` as
  `m -= (m - batch_stat) * (1 - momentum)`; with `training=False` (the default) it
  normalizes with the moving averages. Variables: `gamma` (scale), `beta` (center),
  `moving_mean`, `moving_variance`, float32 for float16/bfloat16 inputs.

  Rank-4 inputs normalized over axis 1 or 3 use TF's fused kernel unless
  `fused=False`, as TF 1.15 did: the moving variance is then updated with the batch
  variance times `n / (n - 1)` (Bessel's correction), and an `epsilon` below
  1.001e-5 counts as 1.001e-5. float64 inputs, which the kernel does not take, are
  normalized the plain way.

  Args:
    axis: the axis (or list of axes) that keeps its own statistics. Default -1.
    momentum: the moving averages' decay, in [0, 1]. Default 0.99.
    epsilon: positive float added to the variance. Default 0.001.
    center, scale: add `beta`, multiply by `gamma`. Default True both.
    beta_initializer, gamma_initializer, moving_mean_initializer,
    moving_variance_initializer: Default zeros, ones, zeros, ones.
    beta_regularizer, gamma_regularizer: optional penalties.
    beta_constraint, gamma_constraint: optional projections.
    renorm: must be False: batch renormalization is not implemented.
    renorm_clipping, renorm_momentum: used only with renorm, as in TF 1.x.
    fused: None or True: the fused kernel where TF 1.15 used it; False: never.
    trainable, name, **kwargs: as for `Layer`.
    virtual_batch_size: must be None: ghost batch normalization is not implemented.
    adjustment: optional `fn(dynamic_shape) -> (scale, bias)` applied to the
      normalized values before gamma and beta, only when training.

  Raises:
    NotImplementedError: if `renorm` or `virtual_batch_size` is set.
    TypeError / ValueError: for a bad argument, naming it; at the call, for inputs
      that are not floating point or lack the `axis` dimensions.
  """

  _requires_float = True

  def __init__(self, axis: int | Sequence[int] = -1, momentum: float = 0.99,
               epsilon: float = 1e-3, center: bool = True, scale: bool = True,
               beta_initializer: Callable[..., tf.Tensor] = _V1.zeros_initializer(),
               gamma_initializer: Callable[..., tf.Tensor] = _V1.ones_initializer(),
               moving_mean_initializer: Callable[..., tf.Tensor] = (
                   _V1.zeros_initializer()),
               moving_variance_initializer: Callable[..., tf.Tensor] = (
                   _V1.ones_initializer()),
               beta_regularizer: _Regularizer | None = None,
               gamma_regularizer: _Regularizer | None = None,
               beta_constraint: _Constraint | None = None,
               gamma_constraint: _Constraint | None = None, renorm: bool = False,
               renorm_clipping: dict[str, float] | None = None,
               renorm_momentum: float = 0.99, fused: bool | None = None,
               trainable: bool = True, virtual_batch_size: int | None = None,
               adjustment: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = (
                   None), name: str | None = None, **kwargs: Any) -> None:
    del renorm_clipping, renorm_momentum  # Only used by renorm, which is refused.
    _check_not_implemented(renorm, virtual_batch_size)
    self.momentum = _validation.check_in_range("momentum", momentum, 0.0, 1.0)
    self.epsilon = _validation.check_in_range("epsilon", epsilon, 0.0, None,
                                              low_open=True)
    for arg, fn in (("beta_regularizer", beta_regularizer),
                    ("gamma_regularizer", gamma_regularizer),
                    ("beta_constraint", beta_constraint),
                    ("gamma_constraint", gamma_constraint),
                    ("adjustment", adjustment)):
      _validation.check_callable(arg, fn)
    for arg, value in (("center", center), ("scale", scale)):
      _validation.check_bool(arg, value)
    self.fused = _validation.check_bool("fused", fused, allow_none=True)
    self.axis = _validation.check_axes("axis", axis)
    if self.axis is None:
      raise TypeError("Expected `axis` to be an int or a list of ints. "
                      "Received: axis=None")
    super().__init__(trainable=trainable, name=name, **kwargs)
    self.center, self.scale = center, scale
    self.initializers = {"beta": beta_initializer, "gamma": gamma_initializer,
                         "moving_mean": moving_mean_initializer,
                         "moving_variance": moving_variance_initializer}
    self.regularizers = {"beta": beta_regularizer, "gamma": gamma_regularizer}
    self.constraints = {"beta": beta_constraint, "gamma": gamma_constraint}
    self.adjustment = adjustment
    self.gamma = self.beta = self.moving_mean = self.moving_variance = None

  def build(self, input_shape: tf.TensorShape) -> None:
    input_shape = tf.TensorShape(input_shape)
    self._axes = _normalized_axes(self.axis, input_shape)
    rank = input_shape.rank
    dims = {a: int(input_shape[a]) for a in self._axes}
    self.input_spec = InputSpec(ndim=rank, axes=dims)
    if len(self._axes) == 1:
      shape = [dims[self._axes[0]]]
    else:
      shape = [dims.get(a, 1) for a in range(rank)]
    self._fused = (self.fused is not False and rank == 4 and self._axes in ([1], [3])
                   and self.adjustment is None and self.dtype in core.FUSED_DTYPES)
    dtype = core.param_dtype(self.dtype)
    weight = lambda name, **kwargs: self.add_weight(
        name, shape, dtype, initializer=self.initializers[name], **kwargs)
    if self.scale:
      self.gamma = weight("gamma", regularizer=self.regularizers["gamma"],
                          constraint=self.constraints["gamma"])
    if self.center:
      self.beta = weight("beta", regularizer=self.regularizers["beta"],
                         constraint=self.constraints["beta"])
    self.moving_mean = weight("moving_mean", trainable=False, partitioner=False)
    self.moving_variance = weight("moving_variance", trainable=False,
                                  partitioner=False)
    self.built = True

  def call(self, inputs: tf.Tensor, training: bool | tf.Tensor = False) -> tf.Tensor:
    training = _validation.check_is_training(training, "training")
    params = core.BatchNormParams(self.beta, self.gamma, self.moving_mean,
                                  self.moving_variance)
    outputs, updates = core.batch_normalization(
        inputs, params, channel_axes=self._axes, training=training,
        momentum=self.momentum, epsilon=self.epsilon, fused=self._fused,
        adjustment=self.adjustment)
    self.add_update(updates)
    return outputs
