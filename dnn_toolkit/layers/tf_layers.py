"""TF 1.x's `tf.layers` functions: each builds its layer class and applies it.

The same signatures, defaults and variable names as TF 1.15's `tf.layers` (Keras
layers underneath); here the classes of `tf_core` and `tf_convolutional` on the layer
core. Under Keras 3, TensorFlow's own `tf.compat.v1.layers.dense` raises "not
available with Keras 3"; these take its place, so TF 1.x code and its checkpoints work
unchanged:

    hidden1 = dense(X, 300, activation=tf.nn.relu, name="hidden1")  # hidden1/kernel
    bn1 = batch_normalization(hidden1, training=training, momentum=0.9)
    drop1 = dropout(bn1, rate=0.5, training=training)
    conv1 = conv2d(images, 32, 5, padding="same", activation=tf.nn.relu)
    pool1 = max_pooling2d(conv1, pool_size=2, strides=2)
    up = conv2d_transpose(z_map, 64, 5, strides=2, padding="same")   # DCGAN style

A function's `name` is its variable scope, used as given (a second `dense(x, 3,
name="h")` raises "already exists" unless `reuse=True`); without a name the scope is
made unique (`dense`, `dense_1`, ...), and `reuse=True` without a name reuses `dense`.

They differ from the contrib builders of the same idea in what TF 1.x users rely on:
`dense` is linear by default and names its variables `kernel` and `bias`;
`batch_normalization` scales by default (`gamma`), uses `momentum=0.99`, and, like
`dropout`, runs in inference mode unless `training` is given (default False).
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers import tf_convolutional as _conv
from dnn_toolkit.layers.tf_base import to_snake_case
from dnn_toolkit.layers.tf_core import BatchNormalization, Dense, Dropout, Flatten

_V1 = tf.compat.v1
_Regularizer = Callable[[tf.Tensor], tf.Tensor | None]
_Constraint = Callable[[tf.Tensor], tf.Tensor]
_Initializer = Callable[..., tf.Tensor]
_Size = int | Sequence[int]


def _dtype(inputs):
  return tf.convert_to_tensor(inputs).dtype.base_dtype


def dense(
    inputs: tf.Tensor, units: int, activation: Callable[..., tf.Tensor] | None = None,
    use_bias: bool = True, kernel_initializer: _Initializer | None = None,
    bias_initializer: _Initializer | None = _V1.zeros_initializer(),
    kernel_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    kernel_constraint: _Constraint | None = None,
    bias_constraint: _Constraint | None = None, trainable: bool = True,
    name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a densely connected layer: `activation(inputs @ kernel + bias)`.

  Creates `<name>/kernel` `[depth, units]` and, with `use_bias`, `<name>/bias`
  `[units]`. Inputs of rank > 2 are multiplied along their last axis.

      hidden1 = dense(X, 300, activation=tf.nn.relu, name="hidden1")   # [None, 300]
      logits = dense(hidden1, 10, name="outputs")                      # linear

  Args:
    inputs: float tensor `[batch_size, ..., depth]` with a known last dimension.
    units, activation, use_bias, kernel_initializer, bias_initializer,
    kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
    bias_constraint, trainable: as for `tf_core.Dense` (linear by default, Glorot
      uniform kernel, zero bias).
    name: optional variable scope of the layer.
    reuse: True (or `tf.AUTO_REUSE`) to share the variables of scope `name`.

  Returns:
    The output tensor `[batch_size, ..., units]`.

  Raises:
    TypeError: if `units` is not an int, `inputs` not floating point, or a function
      argument not callable.
    ValueError: if `units` is not positive or the last dimension of `inputs` unknown.
  """
  layer = Dense(units, activation=activation, use_bias=use_bias,
                kernel_initializer=kernel_initializer,
                bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer,
                bias_regularizer=bias_regularizer,
                activity_regularizer=activity_regularizer,
                kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                trainable=trainable, name=name, dtype=_dtype(inputs), _scope=name,
                _reuse=reuse)
  return layer.apply(inputs)


def batch_normalization(
    inputs: tf.Tensor, axis: int | Sequence[int] = -1, momentum: float = 0.99,
    epsilon: float = 1e-3, center: bool = True, scale: bool = True,
    beta_initializer: _Initializer = _V1.zeros_initializer(),
    gamma_initializer: _Initializer = _V1.ones_initializer(),
    moving_mean_initializer: _Initializer = _V1.zeros_initializer(),
    moving_variance_initializer: _Initializer = _V1.ones_initializer(),
    beta_regularizer: _Regularizer | None = None,
    gamma_regularizer: _Regularizer | None = None,
    beta_constraint: _Constraint | None = None,
    gamma_constraint: _Constraint | None = None,
    training: bool | tf.Tensor = False, trainable: bool = True, name: str | None = None,
    reuse: bool | None = None, renorm: bool = False,
    renorm_clipping: dict[str, float] | None = None, renorm_momentum: float = 0.99,
    fused: bool | None = None, virtual_batch_size: int | None = None,
    adjustment: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None
) -> tf.Tensor:
  """Adds batch normalization (Ioffe and Szegedy, 2015) with TF 1.x's tf.layers API.

  With `training` True it normalizes with the batch's mean and variance over every
  axis but `axis` and adds to `tf.GraphKeys.UPDATE_OPS` the two ops updating
  `moving_mean` and `moving_variance`; with `training` False (the default) it
  normalizes with the moving averages. The update ops must run with each step:

      training = tf.placeholder_with_default(False, shape=(), name="training")
      bn1 = batch_normalization(dense(X, 300), training=training, momentum=0.9)
      ...
      update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(loss)

  Variables, under `batch_normalization/` by default (then `batch_normalization_1/`):
  `gamma`, `beta`, `moving_mean`, `moving_variance`. Rank-4 inputs normalized over
  axis 1 or 3 use TF's fused kernel unless `fused=False`, as in TF 1.15: their moving
  variance gets the batch variance times `n / (n - 1)`.

  Args:
    inputs: float tensor with known dimensions along `axis`.
    axis, momentum, epsilon, center, scale, *_initializer, *_regularizer,
    *_constraint, renorm, renorm_clipping, renorm_momentum, fused,
    virtual_batch_size, adjustment: as for `tf_core.BatchNormalization`.
    training: Python bool or scalar bool tensor. Default False (inference).
    trainable: False keeps `beta` and `gamma` out of `TRAINABLE_VARIABLES`.
    name: optional variable scope of the layer.
    reuse: True (or `tf.AUTO_REUSE`) to share the variables of scope `name`.

  Returns:
    A tensor of the shape and dtype of `inputs`.

  Raises:
    NotImplementedError: if `renorm` or `virtual_batch_size` is set.
    TypeError: if `inputs` is not floating point, `training` neither a bool nor a bool
      tensor, `axis` not an int or list of ints, or a function argument not callable.
    ValueError: if `momentum` is outside [0, 1], `epsilon` not positive, or `axis`
      names an axis the input does not have or whose dimension is unknown.
  """
  training = _validation.check_is_training(training, "training")
  layer = BatchNormalization(
      axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
      beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
      moving_mean_initializer=moving_mean_initializer,
      moving_variance_initializer=moving_variance_initializer,
      beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
      beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
      renorm=renorm, renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum,
      fused=fused, trainable=trainable, virtual_batch_size=virtual_batch_size,
      adjustment=adjustment, name=name, dtype=_dtype(inputs), _scope=name,
      _reuse=reuse)
  return layer.apply(inputs, training=training)


def dropout(inputs: tf.Tensor, rate: float | tf.Tensor = 0.5,
            noise_shape: Sequence[int | None] | tf.Tensor | None = None,
            seed: int | None = None, training: bool | tf.Tensor = False,
            name: str | None = None) -> tf.Tensor:
  """Inverted dropout with TF 1.x's tf.layers API: drops units when `training`.

  Note the TF 1.x defaults: `rate` is the fraction DROPPED (contrib's `keep_prob` is
  the fraction kept), and `training` is False unless given, so pass the switch:

      training = tf.placeholder_with_default(False, shape=(), name="training")
      hidden1_drop = dropout(hidden1, rate=0.5, training=training)
      sess.run(train_op, feed_dict={X: X_batch, y: y_batch, training: True})

  Args:
    inputs: float tensor of any shape.
    rate, noise_shape, seed: as for `tf_core.Dropout`.
    training: Python bool or scalar bool tensor. Default False (identity).
    name: optional name scope. Default 'dropout', then 'dropout_1', ...

  Returns:
    A tensor of the shape of `inputs`.

  Raises:
    TypeError: if `training` is neither a bool nor a bool tensor, or `seed` not an int.
    ValueError: if `rate` is a number outside [0, 1).
  """
  training = _validation.check_is_training(training, "training")
  layer = Dropout(rate, noise_shape=noise_shape, seed=seed, name=name)
  return layer.apply(inputs, training=training)


def flatten(inputs: tf.Tensor, name: str | None = None,
            data_format: str = "channels_last") -> tf.Tensor:
  """Flattens every dimension but the first (the batch).

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
  return Flatten(data_format=data_format, name=name).apply(inputs)


_CONV_ARGS = """
  Args:
    inputs: float tensor `[batch, *spatial, channels]` (or, channels_first,
      `[batch, channels, *spatial]`) with known channels.
    filters, kernel_size, strides, padding, data_format, {extra}activation, use_bias,
    initializers, regularizers, constraints, trainable: as for `{cls}` in
      `dnn_toolkit.layers.tf_convolutional`.
    name: optional variable scope. Default '{default}', then '{default}_1', ...
    reuse: True (or `tf.AUTO_REUSE`) to share the variables of scope `name`.

  Returns:
    The output tensor, in the layout of `inputs`.

  Raises:
    TypeError / ValueError: for a bad argument, naming it, or inputs that are not
      floating point, of the wrong rank or without known channels.
"""


def _add_conv_args(fn, **fields):
  """Appends the shared Args/Returns/Raises sections to a convolution's docstring."""
  fn.__doc__ = (fn.__doc__ or "") + _CONV_ARGS.format(**fields)


def _convolution(cls, inputs, name, reuse, **kwargs):
  layer = cls(name=name, dtype=_dtype(inputs), _scope=name, _reuse=reuse, **kwargs)
  return layer.apply(inputs)


def conv1d(inputs: tf.Tensor, filters: int, kernel_size: _Size, strides: _Size = 1,
           padding: str = "valid", data_format: str = "channels_last",
           dilation_rate: _Size = 1,
           activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
           kernel_initializer: _Initializer | None = None,
           bias_initializer: _Initializer | None = _V1.zeros_initializer(),
           kernel_regularizer: _Regularizer | None = None,
           bias_regularizer: _Regularizer | None = None,
           activity_regularizer: _Regularizer | None = None,
           kernel_constraint: _Constraint | None = None,
           bias_constraint: _Constraint | None = None, trainable: bool = True,
           name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a 1-D convolution; `kernel` `[k, in, filters]`, `bias` `[filters]`."""
  return _convolution(
      _conv.Conv1D, inputs, name, reuse, filters=filters, kernel_size=kernel_size,
      strides=strides, padding=padding, data_format=data_format,
      dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
      kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, trainable=trainable)


_add_conv_args(conv1d, extra="dilation_rate, ", cls="Conv1D", default="conv1d")


def conv2d(inputs: tf.Tensor, filters: int, kernel_size: _Size,
           strides: _Size = (1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: _Size = (1, 1),
           activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
           kernel_initializer: _Initializer | None = None,
           bias_initializer: _Initializer | None = _V1.zeros_initializer(),
           kernel_regularizer: _Regularizer | None = None,
           bias_regularizer: _Regularizer | None = None,
           activity_regularizer: _Regularizer | None = None,
           kernel_constraint: _Constraint | None = None,
           bias_constraint: _Constraint | None = None, trainable: bool = True,
           name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a 2-D convolution; `kernel` `[kh, kw, in, filters]`, `bias` `[filters]`.

      conv1 = conv2d(images, 32, [5, 5], padding="same", activation=tf.nn.relu)
      pool1 = max_pooling2d(conv1, pool_size=[2, 2], strides=2)  # [None, 14, 14, 32]
  """
  return _convolution(
      _conv.Conv2D, inputs, name, reuse, filters=filters, kernel_size=kernel_size,
      strides=strides, padding=padding, data_format=data_format,
      dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
      kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, trainable=trainable)


_add_conv_args(conv2d, extra="dilation_rate, ", cls="Conv2D", default="conv2d")


def conv3d(inputs: tf.Tensor, filters: int, kernel_size: _Size,
           strides: _Size = (1, 1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: _Size = (1, 1, 1),
           activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
           kernel_initializer: _Initializer | None = None,
           bias_initializer: _Initializer | None = _V1.zeros_initializer(),
           kernel_regularizer: _Regularizer | None = None,
           bias_regularizer: _Regularizer | None = None,
           activity_regularizer: _Regularizer | None = None,
           kernel_constraint: _Constraint | None = None,
           bias_constraint: _Constraint | None = None, trainable: bool = True,
           name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a 3-D convolution; `kernel` `[kd, kh, kw, in, filters]`."""
  return _convolution(
      _conv.Conv3D, inputs, name, reuse, filters=filters, kernel_size=kernel_size,
      strides=strides, padding=padding, data_format=data_format,
      dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
      kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, trainable=trainable)


_add_conv_args(conv3d, extra="dilation_rate, ", cls="Conv3D", default="conv3d")


def conv2d_transpose(
    inputs: tf.Tensor, filters: int, kernel_size: _Size, strides: _Size = (1, 1),
    padding: str = "valid", data_format: str = "channels_last",
    activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
    kernel_initializer: _Initializer | None = None,
    bias_initializer: _Initializer | None = _V1.zeros_initializer(),
    kernel_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    kernel_constraint: _Constraint | None = None,
    bias_constraint: _Constraint | None = None, trainable: bool = True,
    name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a transposed 2-D convolution; `kernel` `[kh, kw, filters, in]`.

  Each spatial length becomes `length * stride` ('same') or
  `length * stride + max(kernel - stride, 0)` ('valid'):

      net = conv2d_transpose(net, 64, 5, strides=2, padding="same")  # 7x7 -> 14x14
  """
  return _convolution(
      _conv.Conv2DTranspose, inputs, name, reuse, filters=filters,
      kernel_size=kernel_size, strides=strides, padding=padding,
      data_format=data_format, activation=activation, use_bias=use_bias,
      kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, trainable=trainable)


_add_conv_args(conv2d_transpose, extra="", cls="Conv2DTranspose",
               default="conv2d_transpose")


def conv3d_transpose(
    inputs: tf.Tensor, filters: int, kernel_size: _Size, strides: _Size = (1, 1, 1),
    padding: str = "valid", data_format: str = "channels_last",
    activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
    kernel_initializer: _Initializer | None = None,
    bias_initializer: _Initializer | None = _V1.zeros_initializer(),
    kernel_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    kernel_constraint: _Constraint | None = None,
    bias_constraint: _Constraint | None = None, trainable: bool = True,
    name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a transposed 3-D convolution; `kernel` `[kd, kh, kw, filters, in]`."""
  return _convolution(
      _conv.Conv3DTranspose, inputs, name, reuse, filters=filters,
      kernel_size=kernel_size, strides=strides, padding=padding,
      data_format=data_format, activation=activation, use_bias=use_bias,
      kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
      bias_constraint=bias_constraint, trainable=trainable)


_add_conv_args(conv3d_transpose, extra="", cls="Conv3DTranspose",
               default="conv3d_transpose")


def separable_conv1d(
    inputs: tf.Tensor, filters: int, kernel_size: _Size, strides: _Size = 1,
    padding: str = "valid", data_format: str = "channels_last",
    dilation_rate: _Size = 1, depth_multiplier: int = 1,
    activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
    depthwise_initializer: _Initializer | None = None,
    pointwise_initializer: _Initializer | None = None,
    bias_initializer: _Initializer | None = _V1.zeros_initializer(),
    depthwise_regularizer: _Regularizer | None = None,
    pointwise_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    depthwise_constraint: _Constraint | None = None,
    pointwise_constraint: _Constraint | None = None,
    bias_constraint: _Constraint | None = None, trainable: bool = True,
    name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a depthwise-separable 1-D convolution (depthwise, then pointwise kernel)."""
  return _convolution(
      _conv.SeparableConv1D, inputs, name, reuse, filters=filters,
      kernel_size=kernel_size, strides=strides, padding=padding,
      data_format=data_format, dilation_rate=dilation_rate,
      depth_multiplier=depth_multiplier, activation=activation, use_bias=use_bias,
      depthwise_initializer=depthwise_initializer,
      pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
      depthwise_regularizer=depthwise_regularizer,
      pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer,
      depthwise_constraint=depthwise_constraint,
      pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint,
      trainable=trainable)


_add_conv_args(separable_conv1d, extra="dilation_rate, depth_multiplier, ",
               cls="SeparableConv1D", default="separable_conv1d")


def separable_conv2d(
    inputs: tf.Tensor, filters: int, kernel_size: _Size, strides: _Size = (1, 1),
    padding: str = "valid", data_format: str = "channels_last",
    dilation_rate: _Size = (1, 1), depth_multiplier: int = 1,
    activation: Callable[..., tf.Tensor] | None = None, use_bias: bool = True,
    depthwise_initializer: _Initializer | None = None,
    pointwise_initializer: _Initializer | None = None,
    bias_initializer: _Initializer | None = _V1.zeros_initializer(),
    depthwise_regularizer: _Regularizer | None = None,
    pointwise_regularizer: _Regularizer | None = None,
    bias_regularizer: _Regularizer | None = None,
    activity_regularizer: _Regularizer | None = None,
    depthwise_constraint: _Constraint | None = None,
    pointwise_constraint: _Constraint | None = None,
    bias_constraint: _Constraint | None = None, trainable: bool = True,
    name: str | None = None, reuse: bool | None = None) -> tf.Tensor:
  """Adds a depthwise-separable 2-D convolution.

  Creates `depthwise_kernel` `[kh, kw, in, depth_multiplier]`, `pointwise_kernel`
  `[1, 1, in * depth_multiplier, filters]` and `bias` `[filters]`.
  """
  return _convolution(
      _conv.SeparableConv2D, inputs, name, reuse, filters=filters,
      kernel_size=kernel_size, strides=strides, padding=padding,
      data_format=data_format, dilation_rate=dilation_rate,
      depth_multiplier=depth_multiplier, activation=activation, use_bias=use_bias,
      depthwise_initializer=depthwise_initializer,
      pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
      depthwise_regularizer=depthwise_regularizer,
      pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
      activity_regularizer=activity_regularizer,
      depthwise_constraint=depthwise_constraint,
      pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint,
      trainable=trainable)


_add_conv_args(separable_conv2d, extra="dilation_rate, depth_multiplier, ",
               cls="SeparableConv2D", default="separable_conv2d")


_POOL_ARGS = """
  Args:
    inputs: tensor `[batch, *spatial, channels]` (or channels_first).
    pool_size: an int or one int per spatial axis, the window.
    strides: an int or one int per spatial axis (no default, as in TF 1.x).
    padding: 'valid' (default) or 'same', in either case.
    data_format: 'channels_last' (default) or 'channels_first'.
    name: optional name scope. Default '{default}', then '{default}_1', ...

  Returns:
    The pooled tensor, in the layout of `inputs`.

  Raises:
    TypeError / ValueError: for a bad size, padding, data_format or input rank.
"""


def _pooling(cls):
  default = to_snake_case(cls.__name__)

  def pooling(inputs: tf.Tensor, pool_size: _Size, strides: _Size,
              padding: str = "valid", data_format: str = "channels_last",
              name: str | None = None) -> tf.Tensor:
    layer = cls(pool_size=pool_size, strides=strides, padding=padding,
                data_format=data_format, name=name)
    return layer.apply(inputs)

  what = "Max" if cls.kind == "max" else "Average"
  pooling.__name__ = pooling.__qualname__ = default
  pooling.__doc__ = (f"Adds {what.lower()} pooling over {cls.rank} spatial axes "
                     f"(TF 1.x's tf.layers.{default}).\n" + _POOL_ARGS.format(
                         default=default))
  return pooling


max_pooling1d = _pooling(_conv.MaxPooling1D)
max_pooling2d = _pooling(_conv.MaxPooling2D)
max_pooling3d = _pooling(_conv.MaxPooling3D)
average_pooling1d = _pooling(_conv.AveragePooling1D)
average_pooling2d = _pooling(_conv.AveragePooling2D)
average_pooling3d = _pooling(_conv.AveragePooling3D)
