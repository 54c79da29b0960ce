"""TF 1.x's `tf.layers` functions: dense, batch_normalization, dropout, flatten, conv2d.

The same signatures, defaults and variable names as TF 1.15's `tf.layers` (which were
Keras layers underneath), built here like the contrib builders of `dnn_toolkit.layers.contrib`:
on `tf.compat.v1.get_variable` inside a `variable_scope`, and on `tf.nn` ops. Under
Keras 3, TensorFlow's own `tf.compat.v1.layers.dense` raises "not available with
Keras 3"; these take its place, so TF 1.x code and its checkpoints work unchanged:

    hidden1 = dense(X, 300, activation=tf.nn.relu, name="hidden1")  # hidden1/kernel
    bn1 = batch_normalization(hidden1, training=training, momentum=0.9)
    drop1 = dropout(bn1, rate=0.5, training=training)

`conv2d`, `max_pooling2d` and `average_pooling2d` complete the layers of TF 1.x's
CNN tutorials. They differ from the contrib builders of the same idea in what TF 1.x
users rely on:
`dense` is linear by default and names its variables `kernel` and `bias`;
`batch_normalization` scales by default (`gamma`), uses `momentum=0.99`, and, like
`dropout`, runs in inference mode unless `training` is given (default False). The
contrib `dnn_toolkit.layers.contrib.dropout` and `flatten` have other signatures; that is why
these live in their own module, named as `tf.layers` was.
"""

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers.contrib import (
  _assign_moving_average,
  _inputs_with_known_depth,
  _smart_cond,
)

_V1 = tf.compat.v1
UPDATE_OPS = _V1.GraphKeys.UPDATE_OPS
REGULARIZATION_LOSSES = _V1.GraphKeys.REGULARIZATION_LOSSES
# A weight penalty: `fn(weights) -> scalar tensor or None`, as in regularizers.
_Regularizer = Callable[[tf.Tensor], tf.Tensor | None]


def _check_kernel_layer_arguments(*, use_bias, trainable, **functions):
  """The checks `dense` and `conv2d` share: callables (or None), and two bools."""
  for arg, fn in functions.items():
    _validation.check_callable(arg, fn)
  _validation.check_bool("use_bias", use_bias)
  _validation.check_bool("trainable", trainable)


def _check_training(training):
  """Returns `training` as a Python bool or a bool tensor (a constant one as a bool)."""
  if isinstance(training, (bool, np.bool_)):
    return bool(training)
  if (isinstance(training, (tf.Tensor, tf.Variable))
      and training.dtype.base_dtype == tf.bool):
    static = tf.get_static_value(training)
    return bool(static) if static is not None else training
  raise TypeError("Expected `training` to be a Python bool or a scalar bool tensor "
                  "(e.g. tf.placeholder_with_default(False, shape=())). "
                  f"Received: training={training!r}")


def _layer_scope(name, reuse, base_name):
  """The variable scope of a layer call, as TF 1.x's tf.layers chose it.

  With `reuse` set and no `name`, TF 1.x reused the un-numbered base name (`dense`)
  rather than opening a fresh `dense_1`.
  """
  if name is None and reuse:
    name = base_name
  return _V1.variable_scope(name, default_name=base_name, reuse=reuse)


def dense(
    inputs: tf.Tensor, units: int, activation: Callable[..., tf.Tensor] | None = None,
    use_bias: bool = True, kernel_initializer: Callable[..., tf.Tensor] | None = None,
    bias_initializer: Callable[..., tf.Tensor] | None = _V1.zeros_initializer(),
    kernel_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    kernel_constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
    bias_constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
    trainable: bool = True, name: str | None = None, reuse: bool | None = None
) -> tf.Tensor:
  """Adds a densely connected layer: `activation(inputs @ kernel + bias)`, TF 1.x style.

  Creates `<name>/kernel` of shape `[depth, units]` and, with `use_bias`,
  `<name>/bias` of shape `[units]`. Default names are `dense`, `dense_1`, ... Inputs
  of rank > 2 are multiplied along their last axis (`tf.tensordot`).

      hidden1 = dense(X, 300, activation=tf.nn.relu, name="hidden1")   # [None, 300]
      logits = dense(hidden1, 10, name="outputs")                      # linear

  Args:
    inputs: float tensor `[batch_size, ..., depth]` with a known last dimension.
    units: positive int, the number of output units.
    activation: optional function applied to the output. Default None (linear).
    use_bias: whether to add `bias`. Default True.
    kernel_initializer: initializer of the kernel. Default None: Glorot uniform, the
      default of `tf.get_variable`.
    bias_initializer: initializer of the bias. Default zeros.
    kernel_regularizer: optional `fn(kernel)`; its penalty joins
      `tf.GraphKeys.REGULARIZATION_LOSSES`.
    bias_regularizer: optional `fn(bias)`, likewise.
    activity_regularizer: optional `fn(outputs)`; its penalty divided by the batch
      size joins `REGULARIZATION_LOSSES`, as TF 1.x's layers did.
    kernel_constraint: optional `fn(kernel) -> kernel` that the tf.compat.v1
      optimizers apply after each update of the kernel.
    bias_constraint: optional constraint of the bias, likewise.
    trainable: False keeps the variables out of `TRAINABLE_VARIABLES`.
    name: optional scope name of the layer.
    reuse: True (or `tf.AUTO_REUSE`) to share the variables of scope `name`.

  Returns:
    The output tensor `[batch_size, ..., units]`.

  Raises:
    TypeError: if `units` is not an int, `inputs` is not floating point, or a function
      argument is not callable.
    ValueError: if `units` is not positive or the last dimension of `inputs` is
      unknown.
  """
  units = _validation.check_positive_int("units", units)
  _check_kernel_layer_arguments(
      activation=activation, kernel_initializer=kernel_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, use_bias=use_bias, trainable=trainable)
  inputs, depth = _inputs_with_known_depth(inputs, "dense")
  dtype = inputs.dtype.base_dtype
  with _layer_scope(name, reuse, "dense"):
    kernel = _V1.get_variable("kernel", [depth, units], dtype,
                              initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable,
                              constraint=kernel_constraint)
    rank = inputs.shape.rank
    if rank == 2:
      outputs = tf.matmul(inputs, kernel)  # [batch_size, units]
    else:
      outputs = tf.tensordot(inputs, kernel, [[rank - 1], [0]])
      outputs.set_shape(inputs.shape[:-1].concatenate([units]))  # [batch, ..., units]
    if use_bias:
      bias = _V1.get_variable("bias", [units], dtype, initializer=bias_initializer,
                              regularizer=bias_regularizer, trainable=trainable,
                              constraint=bias_constraint)
      outputs = tf.nn.bias_add(outputs, bias)
    if activation is not None:
      outputs = activation(outputs)
    _add_activity_loss(activity_regularizer, outputs)
    return outputs


def _add_activity_loss(activity_regularizer, outputs):
  """Adds `activity_regularizer(outputs) / batch_size` to REGULARIZATION_LOSSES."""
  if activity_regularizer is None:
    return
  with tf.name_scope("ActivityRegularizer"):
    loss = activity_regularizer(outputs)
    if loss is None:
      return
    batch_size = tf.cast(tf.shape(outputs)[0], loss.dtype)
    _V1.add_to_collection(REGULARIZATION_LOSSES, loss / batch_size)


def _check_not_implemented(renorm, virtual_batch_size, adjustment):
  """Refuses the batch-normalization variants this module does not build."""
  asked = [f"{arg}={value!r}" for arg, value, default in (
      ("renorm", renorm, False), ("virtual_batch_size", virtual_batch_size, None),
      ("adjustment", adjustment, None)) if value is not default]
  if asked:
    raise NotImplementedError(
        "batch_normalization: batch renormalization, ghost batches and adjustment are "
        "not implemented by dnn_toolkit.layers.tf_layers; leave renorm=False, "
        f"virtual_batch_size=None and adjustment=None. Received: {', '.join(asked)}")


def _normalized_axes(axis, inputs):
  """Returns the sorted non-negative axes of `axis` (an int or a list of ints)."""
  axis = _validation.check_axes("axis", axis)
  if axis is None:
    raise TypeError("Expected `axis` to be an int or a list of ints. Received: axis=None")
  rank = inputs.shape.rank
  if rank is None:
    raise ValueError("batch_normalization: `inputs` must have a known rank. "
                     f"Received: inputs.shape={inputs.shape}")
  given = [axis] if isinstance(axis, int) else list(axis)
  axes = [a + rank if a < 0 else a for a in given]
  if any(a < 0 or a >= rank for a in axes) or len(set(axes)) != len(axes):
    raise ValueError(f"Received an invalid value for `axis`, expected distinct axes of "
                     f"an input of rank {rank}. Received: axis={axis!r}")
  for a in axes:
    if inputs.shape[a] is None:
      raise ValueError(f"batch_normalization: dimension {a} of `inputs` (the `axis` "
                       f"normalized over) must be known. Received: "
                       f"inputs.shape={inputs.shape}")
  return sorted(axes)


def batch_normalization(
    inputs: tf.Tensor, axis: int | Sequence[int] = -1, momentum: float = 0.99,
    epsilon: float = 1e-3, center: bool = True, scale: bool = True,
    beta_initializer: Callable[..., tf.Tensor] = _V1.zeros_initializer(),
    gamma_initializer: Callable[..., tf.Tensor] = _V1.ones_initializer(),
    moving_mean_initializer: Callable[..., tf.Tensor] = _V1.zeros_initializer(),
    moving_variance_initializer: Callable[..., tf.Tensor] = _V1.ones_initializer(),
    beta_regularizer: _Regularizer | None = None,
    gamma_regularizer: _Regularizer | None = None,
    beta_constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
    gamma_constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
    training: bool | tf.Tensor = False, trainable: bool = True, name: str | None = None,
    reuse: bool | None = None, renorm: bool = False,
    renorm_clipping: dict[str, float] | None = None, renorm_momentum: float = 0.99,
    fused: bool | None = None, virtual_batch_size: int | None = None,
    adjustment: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None
) -> tf.Tensor:
  """Adds batch normalization (Ioffe and Szegedy, 2015) with TF 1.x's tf.layers API.

  With `training` True it normalizes with the batch's mean and variance over every
  axis but `axis`, and adds to `tf.GraphKeys.UPDATE_OPS` the two ops that update
  `moving_mean` and `moving_variance` as `m -= (m - batch_stat) * (1 - momentum)`;
  with `training` False it normalizes with the moving averages. The update ops must
  run with each training step:

      training = tf.placeholder_with_default(False, shape=(), name="training")
      bn1 = batch_normalization(dense(X, 300), training=training, momentum=0.9)
      ...
      update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(loss)

  Variables, under `batch_normalization/` by default (then `batch_normalization_1/`):
  `gamma` (scale), `beta` (center), `moving_mean`, `moving_variance` (never trainable).
  For 4-D inputs normalized over axis 1 or 3, TF 1.x used its fused kernel unless
  `fused=False`; as that kernel did, the moving variance is then updated with the
  batch variance times `n / (n - 1)` (Bessel's correction), so such checkpoints match.

  Args:
    inputs: float tensor with known dimensions along `axis`, e.g.
      `[batch_size, depth]` or `[batch_size, height, width, channels]`.
    axis: the axis (or list of axes) that keeps its own statistics. Default -1.
    momentum: the moving averages' decay, in [0, 1]. Default 0.99.
    epsilon: positive float added to the variance. Default 0.001.
    center: add the learned offset `beta`. Default True.
    scale: multiply by the learned `gamma`. Default True.
    beta_initializer: initializer of `beta`. Default zeros.
    gamma_initializer: initializer of `gamma`. Default ones.
    moving_mean_initializer: initializer of `moving_mean`. Default zeros.
    moving_variance_initializer: initializer of `moving_variance`. Default ones.
    beta_regularizer: optional `fn(beta)`, its penalty into REGULARIZATION_LOSSES.
    gamma_regularizer: optional `fn(gamma)`, likewise.
    beta_constraint: optional constraint the tf.compat.v1 optimizers apply to `beta`.
    gamma_constraint: optional constraint of `gamma`, likewise.
    training: Python bool or scalar bool tensor. Default False (inference).
    trainable: False keeps `beta` and `gamma` out of `TRAINABLE_VARIABLES`.
    name: optional scope name of the layer.
    reuse: True (or `tf.AUTO_REUSE`) to share the variables of scope `name`.
    renorm: must be False: batch renormalization is not implemented.
    renorm_clipping: used only with renorm, as in TF 1.x.
    renorm_momentum: used only with renorm, as in TF 1.x.
    fused: None or True: TF 1.x's fused statistics for 4-D inputs (see above);
      False: the plain ones for every input.
    virtual_batch_size: must be None: ghost batch normalization is not implemented.
    adjustment: must be None: not implemented.

  Returns:
    A tensor of the shape and dtype of `inputs`.

  Raises:
    NotImplementedError: if `renorm`, `virtual_batch_size` or `adjustment` is set.
    TypeError: if `inputs` is not floating point, `training` neither a bool nor a bool
      tensor, `axis` not an int or list of ints, or a function argument not callable.
    ValueError: if `momentum` is outside [0, 1], `epsilon` not positive, or `axis`
      names an axis the input does not have or whose dimension is unknown.
  """
  _check_not_implemented(renorm, virtual_batch_size, adjustment)
  momentum = _validation.check_in_range("momentum", momentum, 0.0, 1.0)
  epsilon = _validation.check_in_range("epsilon", epsilon, 0.0, None, low_open=True)
  for arg, fn in (("beta_regularizer", beta_regularizer),
                  ("gamma_regularizer", gamma_regularizer),
                  ("beta_constraint", beta_constraint),
                  ("gamma_constraint", gamma_constraint)):
    _validation.check_callable(arg, fn)
  for arg, value in (("center", center), ("scale", scale), ("trainable", trainable)):
    _validation.check_bool(arg, value)
  if fused not in (None, True, False):
    raise TypeError(f"Expected `fused` to be None or a bool. Received: fused={fused!r}")
  training = _check_training(training)
  inputs = tf.convert_to_tensor(inputs)
  if not inputs.dtype.is_floating:
    raise TypeError("batch_normalization: expected `inputs` to be a floating point "
                    f"tensor. Received: inputs.dtype={inputs.dtype.name}")
  axes = _normalized_axes(axis, inputs)
  rank = inputs.shape.rank
  fused = fused is not False and rank == 4 and axes in ([1], [3])
  # float16 and bfloat16 inputs keep float32 statistics, as TF 1.x did.
  param_dtype = (tf.float32 if inputs.dtype.base_dtype in (tf.float16, tf.bfloat16)
                 else inputs.dtype.base_dtype)
  if len(axes) == 1:
    param_shape = [int(inputs.shape[axes[0]])]
  else:
    param_shape = [int(inputs.shape[i]) if i in axes else 1 for i in range(rank)]
  with _layer_scope(name, reuse, "batch_normalization"):
    new_variable = lambda var_name, initializer, **kwargs: _V1.get_variable(
        var_name, param_shape, param_dtype, initializer=initializer, **kwargs)
    gamma = new_variable("gamma", gamma_initializer, regularizer=gamma_regularizer,
                         constraint=gamma_constraint,
                         trainable=trainable) if scale else None
    beta = new_variable("beta", beta_initializer, regularizer=beta_regularizer,
                        constraint=beta_constraint,
                        trainable=trainable) if center else None
    moving_mean = new_variable("moving_mean", moving_mean_initializer, trainable=False)
    moving_variance = new_variable("moving_variance", moving_variance_initializer,
                                   trainable=False)
    mean, variance = _statistics(inputs, axes, param_dtype=param_dtype,
                                 training=training, momentum=momentum, fused=fused,
                                 moving_mean=moving_mean,
                                 moving_variance=moving_variance)
    broadcast = _broadcaster(axes, rank, param_shape)
    cast = lambda v: None if v is None else tf.cast(broadcast(v), inputs.dtype)
    outputs = tf.nn.batch_normalization(inputs, cast(mean), cast(variance), cast(beta),
                                        cast(gamma), epsilon)
    outputs.set_shape(inputs.shape)
    return outputs


def _broadcaster(axes, rank, param_shape):
  """Returns `fn(v)` that reshapes a `[depth]` parameter to broadcast along `axes`."""
  if len(axes) > 1 or axes[0] == rank - 1:
    return lambda v: v
  shape = [1] * rank
  shape[axes[0]] = param_shape[0]
  return lambda v: tf.reshape(v, shape)


def _statistics(inputs, axes, *, param_dtype, training, momentum, fused, moving_mean,
                moving_variance):
  """Returns the (mean, variance) to normalize with, adding the updates to UPDATE_OPS.

  With `training` a tensor both branches are in the graph, and the update ops only
  change the moving averages when it is True.
  """
  moving = lambda: (tf.identity(moving_mean), tf.identity(moving_variance))
  if training is False:
    return moving()
  reduction_axes = [i for i in range(inputs.shape.rank) if i not in axes]
  mean, variance = tf.nn.moments(tf.cast(inputs, param_dtype), reduction_axes,
                                 keepdims=len(axes) > 1)  # param_shape each
  update_variance_with = variance
  if fused:  # TF 1.x's fused kernel returned the unbiased variance for the update.
    n = tf.cast(tf.size(inputs) // tf.size(variance), param_dtype)
    update_variance_with = variance * n / tf.maximum(n - 1.0, 1.0)

  def updates():
    return (_assign_moving_average(moving_mean, mean, momentum),
            _assign_moving_average(moving_variance, update_variance_with, momentum))

  update_mean, update_variance = _smart_cond(training, updates, moving)
  _V1.add_to_collection(UPDATE_OPS, update_mean)
  _V1.add_to_collection(UPDATE_OPS, update_variance)
  return _smart_cond(training, lambda: (mean, variance), moving)


def dropout(inputs: tf.Tensor, rate: float | tf.Tensor = 0.5,
            noise_shape: Sequence[int | None] | tf.Tensor | None = None,
            seed: int | None = None, training: bool | tf.Tensor = False,
            name: str | None = None) -> tf.Tensor:
  """Inverted dropout with TF 1.x's tf.layers API: drops units when `training`.

  When training, each unit is zeroed with probability `rate` and the kept ones are
  divided by `1 - rate`; otherwise the layer is the identity. Note the TF 1.x
  defaults: `rate` is the fraction DROPPED (contrib's `keep_prob` is the fraction
  kept), and `training` is False unless given, so pass the switch:

      training = tf.placeholder_with_default(False, shape=(), name="training")
      hidden1_drop = dropout(hidden1, rate=0.5, training=training)
      sess.run(train_op, feed_dict={X: X_batch, y: y_batch, training: True})

  Args:
    inputs: float tensor of any shape.
    rate: the drop probability, in [0, 1), or a scalar float tensor. Default 0.5.
    noise_shape: optional 1-D shape of the keep/drop mask, broadcast over `inputs`;
      None entries take the input's dimension (`[None, 1]` drops whole rows).
    seed: optional int seed of the mask.
    training: Python bool or scalar bool tensor. Default False (identity).
    name: optional name scope. Default 'dropout', then 'dropout_1', ...

  Returns:
    A tensor of the shape of `inputs`.

  Raises:
    TypeError: if `training` is neither a bool nor a bool tensor, or `seed` not an int.
    ValueError: if `rate` is a number outside [0, 1).
  """
  if not isinstance(rate, (tf.Tensor, tf.Variable)):
    rate = _validation.check_in_range("rate", rate, 0.0, 1.0, high_open=True)
  seed = _validation.check_optional_seed("seed", seed)
  training = _check_training(training)
  inputs = tf.convert_to_tensor(inputs)
  with _V1.variable_scope(name, default_name="dropout", values=[inputs]):

    def dropped():
      return tf.nn.dropout(inputs, rate=rate, noise_shape=_noise_shape(inputs,
                                                                       noise_shape),
                           seed=seed)

    return _smart_cond(training, dropped, lambda: tf.identity(inputs))


def _noise_shape(inputs, noise_shape):
  """Fills the None entries of `noise_shape` with the input's dynamic dimensions."""
  if noise_shape is None or isinstance(noise_shape, (tf.Tensor, tf.Variable)):
    return noise_shape
  dynamic = tf.shape(inputs)
  return tf.stack([dynamic[i] if d is None else tf.constant(d, tf.int32)
                   for i, d in enumerate(noise_shape)])


def flatten(inputs: tf.Tensor, name: str | None = None,
            data_format: str = "channels_last") -> tf.Tensor:
  """Flattens every dimension but the first (the batch), TF 1.x tf.layers style.

      flat = flatten(pool2)  # [None, 7, 7, 64] -> [None, 3136]

  Args:
    inputs: tensor `[batch_size, ...]` of rank >= 1; rank 1 gives `[batch_size, 1]`.
    name: optional name scope. Default 'flatten', then 'flatten_1', ...
    data_format: 'channels_last' (default) or 'channels_first', whose inputs are put
      in channels-last order first, so that both give the same flattened layout.

  Returns:
    A tensor `[batch_size, product of the other dimensions]`.

  Raises:
    ValueError: if `data_format` is unknown or `inputs` has unknown rank or rank 0.
  """
  _validation.check_choice("data_format", data_format,
                           ("channels_last", "channels_first"))
  inputs = tf.convert_to_tensor(inputs)
  rank = inputs.shape.rank
  if rank is None or rank < 1:
    raise ValueError("flatten: expected `inputs` of known rank >= 1 ([batch_size, "
                     f"...]). Received: inputs.shape={inputs.shape}")
  with _V1.variable_scope(name, default_name="flatten", values=[inputs]):
    if data_format == "channels_first" and rank > 2:
      inputs = tf.transpose(inputs, [0] + list(range(2, rank)) + [1])
    rest = inputs.shape[1:]
    if rest.is_fully_defined():
      size = 1
      for d in rest:
        size *= int(d)
      return tf.reshape(inputs, [-1, size])  # [batch_size, size]
    outputs = tf.reshape(inputs, tf.stack([tf.shape(inputs)[0], -1]))
    outputs.set_shape([inputs.shape[0], None])
    return outputs


def _pair(name: str, value: int | Sequence[int]) -> tuple[int, ...]:
  """Returns `value` (an int or a pair of ints, all positive) as a pair of ints."""
  values = (value, value) if not isinstance(value, (list, tuple)) else tuple(value)
  if len(values) != 2:
    raise ValueError(f"Received an invalid value for `{name}`, expected an int or a "
                     f"pair of ints. Received: {name}={value!r}")
  return tuple(_validation.check_positive_int(name, v) for v in values)


def _check_conv_inputs(fn_name, inputs, data_format):
  """Returns `inputs` as a tensor, checked to be float and of rank 4."""
  _validation.check_choice("data_format", data_format,
                           ("channels_last", "channels_first"))
  inputs = tf.convert_to_tensor(inputs)
  if not inputs.dtype.is_floating:
    raise TypeError(f"{fn_name}: expected `inputs` to be a floating point tensor. "
                    f"Received: inputs.dtype={inputs.dtype.name}")
  if inputs.shape.rank != 4:
    raise ValueError(f"{fn_name}: expected `inputs` of rank 4 ([batch, height, width, "
                     f"channels] or, channels_first, [batch, channels, height, width]). "
                     f"Received: inputs.shape={inputs.shape}")
  return inputs


def _channels_last(inputs, data_format):
  # CPU kernels take NHWC only: channels_first inputs are transposed around the op.
  if data_format == "channels_first":
    return tf.transpose(inputs, [0, 2, 3, 1])  # [batch, height, width, channels]
  return inputs


def _back_to(outputs, data_format):
  if data_format == "channels_first":
    return tf.transpose(outputs, [0, 3, 1, 2])  # [batch, channels, height, width]
  return outputs


def conv2d(
    inputs: tf.Tensor, filters: int, kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1), padding: str = "valid",
    data_format: str = "channels_last", dilation_rate: int | Sequence[int] = (1, 1),
    activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
    kernel_initializer: Callable[..., tf.Tensor] | None = None,
    bias_initializer: Callable[..., tf.Tensor] | None = _V1.zeros_initializer(),
    kernel_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    kernel_constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
    bias_constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
    trainable: bool = True, name: str | None = None, reuse: bool | None = None
) -> tf.Tensor:
  """Adds a 2-D convolution layer with TF 1.x's tf.layers API and variable names.

  Creates `<name>/kernel` of shape `[kernel_h, kernel_w, in_channels, filters]` and,
  with `use_bias`, `<name>/bias` of shape `[filters]`. Default names are `conv2d`,
  `conv2d_1`, ...

      conv1 = conv2d(images, 32, [5, 5], padding="same", activation=tf.nn.relu)
      pool1 = max_pooling2d(conv1, pool_size=[2, 2], strides=2)  # [None, 14, 14, 32]

  Args:
    inputs: float tensor `[batch, height, width, channels]` (or, with
      channels_first, `[batch, channels, height, width]`), channels known.
    filters: positive int, the number of output channels.
    kernel_size: int or pair of ints, the kernel's height and width.
    strides: int or pair of ints. Default 1.
    padding: 'valid' (default) or 'same', in either case.
    data_format: 'channels_last' (default) or 'channels_first'.
    dilation_rate: int or pair of ints; with strides > 1 it must be 1. Default 1.
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint,
    trainable, name, reuse: as for `dense`; the default kernel initializer is Glorot
      uniform over the kernel's fans (`kernel_h * kernel_w * channels` in,
      `kernel_h * kernel_w * filters` out).

  Returns:
    The output tensor, in the layout of `inputs`.

  Raises:
    TypeError: if `filters` or a size is not an int, `inputs` not floating point, or
      a function argument not callable.
    ValueError: if a size is not positive, `padding` or `data_format` unknown,
      `inputs` not of rank 4 with known channels, or strides and dilation both > 1.
  """
  filters = _validation.check_positive_int("filters", filters)
  kernel_size = _pair("kernel_size", kernel_size)
  strides = _pair("strides", strides)
  dilation_rate = _pair("dilation_rate", dilation_rate)
  if max(strides) > 1 and max(dilation_rate) > 1:
    raise ValueError("conv2d: `strides` > 1 cannot be combined with `dilation_rate` "
                     f"> 1. Received: strides={strides}, dilation_rate={dilation_rate}")
  padding = _validation.check_choice("padding", str(padding).lower(), ("valid", "same"))
  _check_kernel_layer_arguments(
      activation=activation, kernel_initializer=kernel_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, use_bias=use_bias, trainable=trainable)
  inputs = _check_conv_inputs("conv2d", inputs, data_format)
  nhwc = _channels_last(inputs, data_format)
  channels = nhwc.shape[-1]
  if channels is None:
    raise ValueError("conv2d: the channels of `inputs` must be known to create the "
                     f"kernel. Received: inputs.shape={inputs.shape}")
  dtype = inputs.dtype.base_dtype
  with _layer_scope(name, reuse, "conv2d"):
    kernel = _V1.get_variable("kernel", list(kernel_size) + [int(channels), filters],
                              dtype, initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable,
                              constraint=kernel_constraint)
    outputs = tf.nn.conv2d(nhwc, kernel, strides=[1, *strides, 1],
                           padding=padding.upper(), dilations=[1, *dilation_rate, 1])
    if use_bias:
      bias = _V1.get_variable("bias", [filters], dtype, initializer=bias_initializer,
                              regularizer=bias_regularizer, trainable=trainable,
                              constraint=bias_constraint)
      outputs = tf.nn.bias_add(outputs, bias)
    if activation is not None:
      outputs = activation(outputs)
    outputs = _back_to(outputs, data_format)
    _add_activity_loss(activity_regularizer, outputs)
    return outputs


def _pooling2d(pool, base_name, inputs, *, pool_size, strides, padding, data_format,
               name):
  """A 2-D pooling layer: `pool` is tf.nn.max_pool2d or tf.nn.avg_pool2d."""
  pool_size = _pair("pool_size", pool_size)
  strides = _pair("strides", strides)
  padding = _validation.check_choice("padding", str(padding).lower(), ("valid", "same"))
  inputs = _check_conv_inputs(base_name, inputs, data_format)
  with _V1.variable_scope(name, default_name=base_name, values=[inputs]):
    outputs = pool(_channels_last(inputs, data_format), ksize=[1, *pool_size, 1],
                   strides=[1, *strides, 1], padding=padding.upper())
    return _back_to(outputs, data_format)


def max_pooling2d(inputs: tf.Tensor, pool_size: int | Sequence[int],
                  strides: int | Sequence[int], padding: str = "valid",
                  data_format: str = "channels_last",
                  name: str | None = None) -> tf.Tensor:
  """Adds 2-D max pooling with TF 1.x's tf.layers API (`strides` has no default).

  Args:
    inputs: float tensor `[batch, height, width, channels]` (or channels_first).
    pool_size: int or pair of ints, the window's height and width.
    strides: int or pair of ints.
    padding: 'valid' (default) or 'same', in either case.
    data_format: 'channels_last' (default) or 'channels_first'.
    name: optional name scope. Default 'max_pooling2d', then 'max_pooling2d_1', ...

  Returns:
    The pooled tensor, in the layout of `inputs`.

  Raises:
    TypeError / ValueError: as for `conv2d`'s sizes, padding and inputs.
  """
  return _pooling2d(tf.nn.max_pool2d, "max_pooling2d", inputs, pool_size=pool_size,
                    strides=strides, padding=padding, data_format=data_format,
                    name=name)


def average_pooling2d(inputs: tf.Tensor, pool_size: int | Sequence[int],
                      strides: int | Sequence[int], padding: str = "valid",
                      data_format: str = "channels_last",
                      name: str | None = None) -> tf.Tensor:
  """Adds 2-D average pooling with TF 1.x's tf.layers API (`strides` has no default).

  With 'same' padding, windows at the border average only the values inside.

  Args:
    inputs, pool_size, strides, padding, data_format: as for `max_pooling2d`.
    name: optional name scope. Default 'average_pooling2d', then
      'average_pooling2d_1', ...

  Returns:
    The pooled tensor, in the layout of `inputs`.

  Raises:
    TypeError / ValueError: as for `conv2d`'s sizes, padding and inputs.
  """
  return _pooling2d(tf.nn.avg_pool2d, "average_pooling2d", inputs, pool_size=pool_size,
                    strides=strides, padding=padding, data_format=data_format,
                    name=name)
