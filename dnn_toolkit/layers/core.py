"""The one core of the layer builders: input checks, variables, batch norm, convolution.

The two faces, `dnn_toolkit.layers.contrib` (tf.contrib.layers) and the tf.layers
classes and functions (`tf_base`, `tf_core`, `tf_convolutional`, `tf_layers`), give
names and defaults; what they compute is owned here, once:

  inputs           `float_inputs`, `inputs_with_known_channels`: checks before any op
  training switch  `smart_cond` over a Python bool or a bool tensor
  variables        `add_variable`: `get_variable` with collections, and the penalty
                   of a new variable named by the caller's scope
                   (`fully_connected/kernel/Regularizer/l2_regularizer`)
  batch norm       `batch_normalization`: moments or TF's fused kernel, the
                   moving-average updates (with contrib's zero-debiasing)
  convolution      `convolve`, `convolve_transpose`, `separable_convolve`, `pool`:
                   1-, 2- and 3-D, channels last or first, on `tf.nn` ops
  dropout, flatten `dropout`, `flatten`

Everything is built on `tf.compat.v1.get_variable` and `tf.nn` ops, never on Keras.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import tensorflow as tf

_V1 = tf.compat.v1
UPDATE_OPS = _V1.GraphKeys.UPDATE_OPS
REGULARIZATION_LOSSES = _V1.GraphKeys.REGULARIZATION_LOSSES
# What TF 1.x's fused batch-norm kernel takes; float64 is normalized the plain way.
FUSED_DTYPES = (tf.float16, tf.bfloat16, tf.float32)
_LOW_PRECISION = (tf.float16, tf.bfloat16)


# Inputs -------------------------------------------------------------------------------


def float_inputs(inputs: Any, fn_name: str) -> tf.Tensor:
  """Returns `inputs` as a tensor, or raises TypeError if it is not floating point."""
  inputs = tf.convert_to_tensor(inputs)
  if not inputs.dtype.is_floating:
    raise TypeError(f"{fn_name}: expected `inputs` to be a floating point tensor. "
                    f"Received: inputs.dtype={inputs.dtype.name}")
  return inputs


def known_channels(shape: tf.TensorShape, fn_name: str, *, min_rank: int = 2,
                   channel_axis: int = -1, name: str = "inputs") -> int:
  """Returns dimension `channel_axis` of `shape`, checked to be known.

  Raises:
    ValueError: if the rank is unknown ("undefined rank", contrib's words) or below
      `min_rank`, or the channel dimension is unknown.
  """
  shape = tf.TensorShape(shape)
  rank = shape.rank
  if rank is None:
    raise ValueError(f"{fn_name}: expected `inputs` of rank >= {min_rank} "
                     f"([batch_size, ..., depth]), but {name} has undefined rank; "
                     "give the placeholder a shape. Received: inputs.shape=<unknown>")
  if rank < min_rank:
    raise ValueError(f"{fn_name}: expected `inputs` of rank >= {min_rank} "
                     f"([batch_size, ..., depth]). Received: inputs.shape={shape}")
  depth = shape[channel_axis]
  if depth is None:
    which = "last" if channel_axis == -1 else f"channel (axis {channel_axis})"
    raise ValueError(f"{fn_name}: the {which} dimension of `inputs` must be known to "
                     "create the variables, but it is undefined; give the placeholder a "
                     "full shape such as [None, 784]. "
                     f"Received: inputs.shape={shape}")
  return int(depth)


def inputs_with_known_channels(inputs: Any, fn_name: str, *, min_rank: int = 2,
                               channel_axis: int = -1) -> tuple[tf.Tensor, int]:
  """Returns float `inputs` and its `channel_axis` dimension, checked to be known.

  Raises:
    TypeError: if `inputs` is not floating point.
    ValueError: as `known_channels`.
  """
  inputs = float_inputs(inputs, fn_name)
  return inputs, known_channels(inputs.shape, fn_name, min_rank=min_rank,
                                channel_axis=channel_axis, name=inputs.name)


# The training switch ------------------------------------------------------------------


def smart_cond(pred: bool | tf.Tensor, true_fn: Callable[[], Any],
               false_fn: Callable[[], Any]) -> Any:
  """Calls one branch when `pred` is a Python bool, else builds a `tf.cond`.

  `pred` is what `_validation.check_is_training` returns: a bool (constant tensors
  already turned into one) or a scalar bool tensor.
  """
  if isinstance(pred, bool):
    return true_fn() if pred else false_fn()
  return _V1.cond(pred, true_fn, false_fn)


# Variables ----------------------------------------------------------------------------


def _all_parts(variable):
  """The variable itself, or the parts of a partitioned one (not a tf.Variable)."""
  return [variable] if isinstance(variable, tf.Variable) else list(variable)


def add_variable(name: str, shape: Sequence[int], dtype: tf.DType, *,
                 initializer: Callable[..., tf.Tensor] | None = None,
                 regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
                 trainable: bool = True,
                 constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
                 collections: Sequence[str] | None = None,
                 penalty_scope: str | None = None,
                 unpartitioned: bool = False) -> tf.Variable:
  """Gets or creates variable `name` of the current variable scope; collects its penalty.

  The penalty `regularizer(variable)` is computed once, only when the variable is new
  (a reused one already has its penalty), under the name scope `penalty_scope` (default
  `<variable's name>/Regularizer/`), and joins `tf.GraphKeys.REGULARIZATION_LOSSES`.
  TF 1.x named it so: get_variable by the variable, the tf.layers classes by the
  layer's weight (`fully_connected/kernel/Regularizer/...` for contrib's `weights`).

  Args:
    name: the variable's name in the current variable scope.
    shape: its shape.
    dtype: its dtype.
    initializer: optional initializer; None takes the scope's (Glorot uniform).
    regularizer: optional `fn(variable) -> scalar tensor or None`.
    trainable: whether it joins `TRAINABLE_VARIABLES`.
    constraint: optional projection the tf.compat.v1 optimizers apply after updates.
    collections: its collections; None: `GLOBAL_VARIABLES` only.
    penalty_scope: the name scope of the penalty (absolute, ending in '/').
    unpartitioned: create it whole even in a scope with a partitioner (moving
      averages need whole variables).

  Returns:
    The variable.
  """
  existing = {id(v) for v in _V1.global_variables()}
  with _V1.variable_scope(_V1.get_variable_scope()) as scope:
    if unpartitioned:
      scope.set_partitioner(None)
    variable = _V1.get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                                trainable=trainable, constraint=constraint,
                                collections=None if collections is None
                                else list(collections))
  if regularizer is not None and all(id(v) not in existing
                                     for v in _all_parts(variable)):
    for part in _all_parts(variable):
      with tf.name_scope(penalty_scope or f"{part.op.name}/Regularizer/"):
        penalty = regularizer(part)
      if penalty is not None:
        _V1.add_to_collection(REGULARIZATION_LOSSES, penalty)
  return variable


# Batch normalization ------------------------------------------------------------------


class BatchNormParams(NamedTuple):
  """The variables of a batch-norm layer; `beta` and `gamma` may be None."""
  beta: tf.Variable | None
  gamma: tf.Variable | None
  moving_mean: tf.Variable
  moving_variance: tf.Variable


def param_dtype(inputs_dtype: tf.DType) -> tf.DType:
  """The dtype of batch-norm parameters: float32 for float16/bfloat16 inputs."""
  return tf.float32 if inputs_dtype.base_dtype in _LOW_PRECISION else inputs_dtype


def assign_moving_average(variable: tf.Variable, value: tf.Tensor,
                          decay: float | tf.Tensor) -> tf.Tensor:
  """`variable -= (variable - value) * (1 - decay)`, op named `AssignMovingAvg`."""
  with tf.name_scope("AssignMovingAvg") as name:
    delta = (variable - tf.cast(value, variable.dtype.base_dtype)) * (1.0 - decay)
    return _V1.assign_sub(variable, delta, name=name)


def assign_zero_debiased_average(variable: tf.Variable, value: tf.Tensor, decay: float,
                                 biased: tf.Variable,
                                 local_step: tf.Variable) -> tf.Tensor:
  """The moving average of `value` debiased from its zero start (contrib's option).

  `biased` is the plain moving average started at 0; `variable` gets
  `biased / (1 - decay ** local_step)` after `local_step` updates, so early values are
  not pulled towards the zero start.
  """
  with tf.name_scope("AssignMovingAvg") as name:
    update_biased = _V1.assign_sub(biased, (biased - value) * (1.0 - decay))
    update_step = _V1.assign_add(local_step, 1.0)
    bias_factor = 1.0 - tf.pow(tf.constant(decay, variable.dtype.base_dtype),
                               update_step)
    return _V1.assign(variable, update_biased / bias_factor, name=name)


def batch_normalization(
    inputs: tf.Tensor, params: BatchNormParams, *, channel_axes: Sequence[int],
    training: bool | tf.Tensor, momentum: float, epsilon: float, fused: bool,
    in_place: bool = False, batch_weights: tf.Tensor | None = None,
    zero_debias: tuple[tf.Variable, tf.Variable] | None = None,
    adjustment: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None
) -> tuple[tf.Tensor, list[tf.Tensor]]:
  """Normalizes `inputs` over every axis but `channel_axes`; builds the updates.

  Training normalizes with the batch's mean and (biased) variance and updates the
  moving averages as `m -= (m - batch_stat) * (1 - momentum)`; inference normalizes
  with the moving averages. `fused` uses TF's fused kernel, as TF 1.x did for rank-4
  (and contrib's rank-2) inputs: its moving variance gets the batch variance times
  `n / (n - 1)`, Bessel's correction, and an `epsilon` below 1.001e-5 counts as
  1.001e-5. With `training` a tensor both branches exist, and the updates change the
  averages only when it is True.

  Args:
    inputs: float tensor of known rank.
    params: the layer's variables; parameters are `[C]` for one channel axis, else
      shaped as `inputs` with 1 on the reduced axes.
    channel_axes: sorted non-negative axes that keep their own statistics.
    training: Python bool or scalar bool tensor.
    momentum: the moving averages' decay.
    epsilon: added to the variance.
    fused: use TF's fused kernel: rank 2 or 4, one channel axis (1 or last), a dtype
      of FUSED_DTYPES, no `batch_weights` or `adjustment`.
    in_place: run the updates with the forward pass (contrib's
      `updates_collections=None`) instead of returning them.
    batch_weights: optional `[batch_size]` example weights (weighted moments).
    zero_debias: optional (biased, local_step) variables: the mean update is then
      zero-debiased.
    adjustment: optional `fn(dynamic_shape) -> (scale, bias)` applied to the
      normalized values before gamma and beta, only when training.

  Returns:
    (outputs of the shape and dtype of `inputs`, the update ops to run with each
    training step: empty when `training` is False or `in_place`).
  """
  if fused:
    return _fused_batch_norm(inputs, params, channel_axis=channel_axes[0],
                             training=training, momentum=momentum, epsilon=epsilon,
                             in_place=in_place, zero_debias=zero_debias)
  low_precision = inputs.dtype.base_dtype in _LOW_PRECISION
  x = tf.cast(inputs, tf.float32) if low_precision else inputs
  mean, variance, updates = _statistics(
      x, params, channel_axes=channel_axes, training=training, momentum=momentum,
      in_place=in_place, batch_weights=batch_weights, zero_debias=zero_debias)
  offset, multiplier = params.beta, params.gamma
  if adjustment is not None and training is not False:
    offset, multiplier = _adjusted_transform(x, adjustment, training, offset,
                                             multiplier)
  broadcast = _broadcaster(channel_axes, x.shape.rank, params.moving_mean.shape)
  outputs = tf.nn.batch_normalization(x, broadcast(mean), broadcast(variance),
                                      broadcast(offset), broadcast(multiplier), epsilon)
  if low_precision:
    outputs = tf.cast(outputs, inputs.dtype.base_dtype)
  outputs.set_shape(inputs.shape)
  return outputs, updates


def _broadcaster(channel_axes, rank, param_shape):
  """Returns `fn(v)` that reshapes a `[C]` parameter to broadcast along its axis."""
  if param_shape.rank > 1 or channel_axes[0] == rank - 1:
    return lambda v: v
  shape = [1] * rank
  shape[channel_axes[0]] = int(param_shape[0])
  return lambda v: None if v is None else tf.reshape(v, shape)


def _statistics(x, params, *, channel_axes, training, momentum, in_place, batch_weights,
                zero_debias):
  """Returns (mean, variance, updates): batch moments when training, else the moving."""
  moving = lambda: (tf.identity(params.moving_mean), tf.identity(params.moving_variance))
  if training is False:
    return (*moving(), [])
  rank = x.shape.rank
  reduction_axes = [a for a in range(rank) if a not in channel_axes]
  keepdims = params.moving_mean.shape.rank > 1
  if batch_weights is None:
    mean, variance = tf.nn.moments(x, reduction_axes, keepdims=keepdims)
  else:
    weights = tf.reshape(tf.cast(batch_weights, x.dtype), [-1] + [1] * (rank - 1))
    mean, variance = tf.nn.weighted_moments(x, reduction_axes, weights,
                                            keepdims=keepdims)
  update = functools.partial(_assign_averages, params, mean, variance,
                             momentum=momentum, zero_debias=zero_debias)
  if in_place:
    def forced_updates():
      with tf.control_dependencies(update()):
        return tf.identity(mean), tf.identity(variance)
    return (*smart_cond(training, forced_updates, moving), [])
  updates = list(smart_cond(training, update, moving))
  return (*smart_cond(training, lambda: (mean, variance), moving), updates)


def _assign_averages(params, mean, variance, *, momentum, zero_debias):
  """The two update ops of the moving mean and variance (zero-debiased mean or not)."""
  if zero_debias is None:
    update_mean = assign_moving_average(params.moving_mean, mean, momentum)
  else:
    update_mean = assign_zero_debiased_average(params.moving_mean, mean, momentum,
                                               *zero_debias)
  return update_mean, assign_moving_average(params.moving_variance, variance, momentum)


def _fused_batch_norm(inputs, params, *, channel_axis, training, momentum, epsilon,
                      in_place, zero_debias):
  """Batch norm with TF's fused kernel (tf.compat.v1.nn.fused_batch_norm)."""
  rank = inputs.shape.rank
  channels = int(params.moving_mean.shape[0])
  data_format = "NCHW" if channel_axis == 1 else "NHWC"
  x = inputs
  if rank == 2:  # contrib's rank-2 inputs: [N, C] -> [N, 1, 1, C] (or [N, C, 1, 1])
    x = tf.reshape(inputs, [-1, channels, 1, 1] if channel_axis == 1
                   else [-1, 1, 1, channels])
  dtype = params.moving_mean.dtype.base_dtype
  gamma = params.gamma if params.gamma is not None else tf.ones([channels], dtype)
  beta = params.beta if params.beta is not None else tf.zeros([channels], dtype)

  def train():
    return _V1.nn.fused_batch_norm(x, gamma, beta, epsilon=epsilon,
                                   data_format=data_format)

  def infer():
    return _V1.nn.fused_batch_norm(x, gamma, beta, mean=params.moving_mean,
                                   variance=params.moving_variance, epsilon=epsilon,
                                   is_training=False, data_format=data_format)

  outputs, mean, variance = smart_cond(training, train, infer)
  updates = []
  if training is not False:  # `variance` is the kernel's n/(n-1)-corrected one.
    update = functools.partial(_assign_averages, params, mean, variance,
                               momentum=momentum, zero_debias=zero_debias)
    if in_place:
      def forced_updates():
        with tf.control_dependencies(update()):
          return tf.identity(outputs)
      outputs = smart_cond(training, forced_updates, lambda: outputs)
    else:
      moving = lambda: (tf.identity(params.moving_mean),
                        tf.identity(params.moving_variance))
      updates = list(smart_cond(training, update, moving))
  outputs.set_shape(x.shape)
  if rank == 2:
    outputs = tf.reshape(outputs, tf.shape(inputs))
    outputs.set_shape(inputs.shape)
  return outputs, updates


def _adjusted_transform(x, adjustment, training, beta, gamma):
  """Composes a training-only `adjustment` with gamma and beta into one affine map.

  Returns (offset, multiplier): `normalized * adj_scale + adj_bias`, then
  `* gamma + beta`; at inference the adjustment is 1 and 0.
  """
  adj_scale, adj_bias = adjustment(tf.shape(x))
  adj_scale = tf.cast(adj_scale, x.dtype)
  adj_bias = tf.cast(adj_bias, x.dtype)
  adj_scale = smart_cond(training, lambda: adj_scale, lambda: tf.ones_like(adj_scale))
  adj_bias = smart_cond(training, lambda: adj_bias, lambda: tf.zeros_like(adj_bias))
  multiplier = adj_scale if gamma is None else adj_scale * tf.cast(gamma, x.dtype)
  offset = adj_bias if gamma is None else adj_bias * tf.cast(gamma, x.dtype)
  if beta is not None:
    offset = offset + tf.cast(beta, x.dtype)
  return offset, multiplier


# Dropout and flatten ------------------------------------------------------------------


def dropout(inputs: tf.Tensor, *, rate: float | tf.Tensor,
            noise_shape: Sequence[int | None] | tf.Tensor | None,
            seed: int | tf.Tensor | Callable[[], tf.Tensor] | None,
            training: bool | tf.Tensor) -> tf.Tensor:
  """Inverted dropout when `training`, the identity otherwise.

  Args:
    inputs: float tensor.
    rate: the drop probability (a float or a scalar tensor).
    noise_shape: optional shape of the keep/drop mask; None entries take the
      input's dimension.
    seed: None, an int seed, or a `[2]` int tensor (or a function returning one,
      called only in the training branch) for a stateless mask.
    training: Python bool or scalar bool tensor.

  Returns:
    A tensor of the shape of `inputs`.
  """

  def dropped():
    given = seed() if callable(seed) else seed
    shape = _noise_shape(inputs, noise_shape)
    if isinstance(given, (tf.Tensor, tf.Variable)):
      return tf.nn.experimental.stateless_dropout(inputs, rate, given,
                                                  noise_shape=shape)
    return tf.nn.dropout(inputs, rate=rate, noise_shape=shape, seed=given)

  return smart_cond(training, dropped, lambda: tf.identity(inputs))


def _noise_shape(inputs, noise_shape):
  """Fills the None entries of `noise_shape` with the input's dynamic dimensions."""
  if noise_shape is None or isinstance(noise_shape, (tf.Tensor, tf.Variable)):
    return noise_shape
  if all(d is not None for d in noise_shape):
    return noise_shape
  dynamic = tf.shape(inputs)
  return tf.stack([dynamic[i] if d is None else tf.constant(d, tf.int32)
                   for i, d in enumerate(noise_shape)])


def flatten(inputs: tf.Tensor) -> tf.Tensor:
  """`[batch_size, d1, ..., dk]` -> `[batch_size, d1 * ... * dk]` (rank >= 2)."""
  flat = inputs.shape[1:].num_elements()  # None unless every dimension is known
  outputs = tf.reshape(inputs, [tf.shape(inputs)[0], -1 if flat is None else flat])
  outputs.set_shape([inputs.shape[0], flat])  # [batch_size, d1 * ... * dk]
  return outputs


# Convolution and pooling --------------------------------------------------------------
# CPU kernels take channels-last layouts: channels_first inputs are transposed around
# the op (TF 1.x's own tf.layers ran NCHW convolutions on GPUs only).


def to_channels_last(inputs: tf.Tensor, channels_first: bool) -> tf.Tensor:
  """`[batch, channels, *spatial]` -> `[batch, *spatial, channels]` if channels first."""
  if not channels_first:
    return inputs
  rank = inputs.shape.rank
  return tf.transpose(inputs, [0, *range(2, rank), 1])


def from_channels_last(outputs: tf.Tensor, channels_first: bool) -> tf.Tensor:
  """The inverse of `to_channels_last`."""
  if not channels_first:
    return outputs
  rank = outputs.shape.rank
  return tf.transpose(outputs, [0, rank - 1, *range(1, rank - 1)])


def _causal_pad(inputs, kernel_size, dilation_rate):
  """Pads a `[batch, width, channels]` tensor on the left (Keras's 'causal')."""
  left = dilation_rate[0] * (kernel_size[0] - 1)
  return tf.pad(inputs, [[0, 0], [left, 0], [0, 0]])


def convolve(inputs: tf.Tensor, kernel: tf.Tensor, *, strides: Sequence[int],
             padding: str, dilation_rate: Sequence[int],
             channels_first: bool) -> tf.Tensor:
  """N-D cross-correlation of `inputs` with `kernel` `[*kernel_size, in, out]`.

  Args:
    inputs: `[batch, *spatial, in]` (or channels first) of rank N + 2, N in 1..3.
    kernel: `[*kernel_size, in, out]`.
    strides: N ints.
    padding: 'valid', 'same' or (N = 1) 'causal'.
    dilation_rate: N ints.
    channels_first: whether `inputs` is `[batch, in, *spatial]`.

  Returns:
    The outputs, in the layout of `inputs`.
  """
  x = to_channels_last(inputs, channels_first)
  if padding == "causal":
    x = _causal_pad(x, kernel.shape[:1].as_list(), dilation_rate)
    padding = "valid"
  outputs = tf.nn.convolution(x, kernel, strides=list(strides), padding=padding.upper(),
                              dilations=list(dilation_rate))
  return from_channels_last(outputs, channels_first)


def transpose_output_length(length: int | tf.Tensor | None, kernel_size: int,
                            stride: int, padding: str) -> int | tf.Tensor | None:
  """The length a transposed convolution gives (Keras's deconv_output_length)."""
  if length is None:
    return None
  if padding == "valid":
    return length * stride + max(kernel_size - stride, 0)
  return length * stride


def convolve_transpose(inputs: tf.Tensor, kernel: tf.Tensor, *, filters: int,
                       strides: Sequence[int], padding: str,
                       channels_first: bool) -> tf.Tensor:
  """N-D transposed convolution (N = 2 or 3) with `kernel` `[*kernel_size, out, in]`.

  The output length per axis is `length * stride` ('same') or
  `length * stride + max(kernel - stride, 0)` ('valid'), as TF 1.x's
  Conv2DTranspose computed it.

  Returns:
    `[batch, *spatial_out, filters]` (or channels first).
  """
  x = to_channels_last(inputs, channels_first)
  kernel_size = kernel.shape[:-2].as_list()
  dynamic = tf.shape(x)
  spatial = [transpose_output_length(dynamic[i + 1], k, s, padding)
             for i, (k, s) in enumerate(zip(kernel_size, strides))]
  output_shape = tf.stack([dynamic[0], *spatial, filters])
  op = tf.nn.conv2d_transpose if len(kernel_size) == 2 else tf.nn.conv3d_transpose
  outputs = op(x, kernel, output_shape, strides=[1, *strides, 1],
               padding=padding.upper())
  static = [transpose_output_length(d, k, s, padding)
            for d, k, s in zip(x.shape[1:-1], kernel_size, strides)]
  outputs.set_shape([x.shape[0], *static, filters])
  return from_channels_last(outputs, channels_first)


def separable_convolve(inputs: tf.Tensor, depthwise_kernel: tf.Tensor,
                       pointwise_kernel: tf.Tensor, *, strides: Sequence[int],
                       padding: str, dilation_rate: Sequence[int],
                       channels_first: bool) -> tf.Tensor:
  """1-D or 2-D depthwise-separable convolution (`tf.nn.separable_conv2d`).

  A 1-D input is run as an image of height 1, as TF 1.x's SeparableConv1D did.

  Args:
    inputs: `[batch, *spatial, in]` (or channels first), 1 or 2 spatial axes.
    depthwise_kernel: `[*kernel_size, in, depth_multiplier]`.
    pointwise_kernel: `[*ones, in * depth_multiplier, filters]`.
    strides, padding, dilation_rate, channels_first: as for `convolve`.

  Returns:
    The outputs, in the layout of `inputs`.
  """
  x = to_channels_last(inputs, channels_first)
  one_d = x.shape.rank == 3
  if one_d:
    if padding == "causal":
      x = _causal_pad(x, depthwise_kernel.shape[:1].as_list(), dilation_rate)
      padding = "valid"
    x = tf.expand_dims(x, 1)  # [batch, 1, width, channels]
    depthwise_kernel = tf.expand_dims(depthwise_kernel, 0)
    pointwise_kernel = tf.expand_dims(pointwise_kernel, 0)
    strides, dilation_rate = (1, *strides), (1, *dilation_rate)
  outputs = tf.nn.separable_conv2d(x, depthwise_kernel, pointwise_kernel,
                                   strides=[1, *strides, 1], padding=padding.upper(),
                                   dilations=list(dilation_rate))
  if one_d:
    outputs = tf.squeeze(outputs, [1])
  return from_channels_last(outputs, channels_first)


_POOLS = {("max", 1): tf.nn.max_pool1d, ("max", 2): tf.nn.max_pool2d,
          ("max", 3): tf.nn.max_pool3d, ("avg", 1): tf.nn.avg_pool1d,
          ("avg", 2): tf.nn.avg_pool2d, ("avg", 3): tf.nn.avg_pool3d}


def pool(inputs: tf.Tensor, kind: str, *, pool_size: Sequence[int],
         strides: Sequence[int], padding: str, channels_first: bool) -> tf.Tensor:
  """N-D max or average pooling (N = 1, 2 or 3).

  Average pooling with 'same' padding averages only the values inside the input.

  Args:
    inputs: `[batch, *spatial, channels]` (or channels first).
    kind: 'max' or 'avg'.
    pool_size: N ints, the window.
    strides: N ints.
    padding: 'valid' or 'same'.
    channels_first: whether `inputs` is `[batch, channels, *spatial]`.

  Returns:
    The pooled tensor, in the layout of `inputs`.
  """
  x = to_channels_last(inputs, channels_first)
  rank = len(pool_size)
  op = _POOLS[(kind, rank)]
  name = {2: "", 3: "3D"}.get(rank)  # TF 1.x's op names: MaxPool, AvgPool3D, ...
  name = None if name is None else ("MaxPool" if kind == "max" else "AvgPool") + name
  outputs = op(x, ksize=list(pool_size), strides=list(strides), padding=padding.upper(),
               name=name)
  return from_channels_last(outputs, channels_first)
