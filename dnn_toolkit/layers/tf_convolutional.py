"""TF 1.x's tf.layers convolution and pooling classes, on the layer core.

Conv1D, Conv2D, Conv3D, Conv2DTranspose, Conv3DTranspose, SeparableConv1D,
SeparableConv2D, MaxPooling1D/2D/3D and AveragePooling1D/2D/3D, with TF 1.15's
arguments, defaults and variable names (`kernel` `[*kernel_size, in, filters]`,
`bias`; a transposed convolution's kernel is `[*kernel_size, filters, in]`; separable
ones have `depthwise_kernel` and `pointwise_kernel`). Default names are the class
names in snake case: `conv2d_transpose`, `separable_conv2d`, `max_pooling1d`, ...

    deconv = Conv2DTranspose(64, 5, strides=2, padding="same")
    images = deconv(z_map)                 # [None, 14, 14, 64] from [None, 7, 7, 128]

`data_format='channels_first'` works for every class on CPU: inputs are transposed to
channels last around the `tf.nn` op (TF 1.x's own NCHW kernels ran on GPUs only).
"""

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers import core
from dnn_toolkit.layers.tf_base import InputSpec, Layer
from dnn_toolkit.layers.tf_core import DATA_FORMATS, check_kernel_arguments

_V1 = tf.compat.v1
_Regularizer = Callable[[tf.Tensor], tf.Tensor | None]
_Constraint = Callable[[tf.Tensor], tf.Tensor]
_Initializer = Callable[..., tf.Tensor]


def normalize_tuple(name: str, value: Any, n: int) -> tuple[int, ...]:
  """Returns `value` (an int, or `n` ints, or a TensorShape) as `n` positive ints."""
  if isinstance(value, tf.TensorShape):
    value = value.as_list()
  values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * n
  if len(values) != n:
    raise ValueError(f"Received an invalid value for `{name}`, expected an int or "
                     f"{n} ints. Received: {name}={value!r}")
  return tuple(_validation.check_positive_int(name, v) for v in values)


def _check_padding(padding, *, causal=False):
  choices = ("valid", "same", "causal") if causal else ("valid", "same")
  return _validation.check_choice("padding", str(padding).lower(), choices)


def _bias_add(outputs, bias, channels_first):
  """Adds `[C]` `bias` along the channel axis (a reshape: CPUs lack NCHW BiasAdd)."""
  if not channels_first:
    return tf.nn.bias_add(outputs, bias)
  rank = outputs.shape.rank
  return outputs + tf.reshape(bias, [1, int(bias.shape[0])] + [1] * (rank - 2))


class _Conv(Layer):
  """Base of the N-D convolutions: checks, the kernel and bias, bias and activation."""

  rank = 2
  _requires_float = True

  def __init__(self, filters: int, kernel_size: int | Sequence[int],
               strides: int | Sequence[int] = 1, padding: str = "valid",
               data_format: str = "channels_last",
               dilation_rate: int | Sequence[int] = 1,
               activation: Callable[..., tf.Tensor] | None = None,
               use_bias: bool = True, kernel_initializer: _Initializer | None = None,
               bias_initializer: _Initializer | None = _V1.zeros_initializer(),
               kernel_regularizer: _Regularizer | None = None,
               bias_regularizer: _Regularizer | None = None,
               activity_regularizer: _Regularizer | None = None,
               kernel_constraint: _Constraint | None = None,
               bias_constraint: _Constraint | None = None, trainable: bool = True,
               name: str | None = None, **kwargs: Any) -> None:
    self.filters = _validation.check_positive_int("filters", filters)
    self.kernel_size = normalize_tuple("kernel_size", kernel_size, self.rank)
    self.strides = normalize_tuple("strides", strides, self.rank)
    self.dilation_rate = normalize_tuple("dilation_rate", dilation_rate, self.rank)
    if max(self.strides) > 1 and max(self.dilation_rate) > 1:
      raise ValueError(f"{self._fn_name}: `strides` > 1 cannot be combined with "
                       f"`dilation_rate` > 1. Received: strides={self.strides}, "
                       f"dilation_rate={self.dilation_rate}")
    self.padding = _check_padding(padding, causal=self.rank == 1)
    self.data_format = _validation.check_choice("data_format", data_format,
                                                DATA_FORMATS)
    check_kernel_arguments(
        activation=activation, kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        use_bias=use_bias)
    super().__init__(trainable=trainable, name=name,
                     activity_regularizer=activity_regularizer, **kwargs)
    self.activation, self.use_bias = activation, use_bias
    self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
    self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
    self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
    self.kernel = self.bias = None
    self.input_spec = InputSpec(ndim=self.rank + 2)

  @property
  def _channels_first(self) -> bool:
    return self.data_format == "channels_first"

  def _input_channels(self, input_shape):
    axis = 1 if self._channels_first else -1
    channels = core.known_channels(input_shape, self._fn_name, min_rank=self.rank + 2,
                                   channel_axis=axis)
    self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
    return channels

  def _kernel_shape(self, channels):
    return [*self.kernel_size, channels, self.filters]

  def build(self, input_shape: tf.TensorShape) -> None:
    channels = self._input_channels(input_shape)
    self.kernel = self.add_weight("kernel", self._kernel_shape(channels),
                                  initializer=self.kernel_initializer,
                                  regularizer=self.kernel_regularizer,
                                  constraint=self.kernel_constraint)
    self._build_bias()
    self.built = True

  def _build_bias(self):
    if self.use_bias:
      self.bias = self.add_weight("bias", [self.filters],
                                  initializer=self.bias_initializer,
                                  regularizer=self.bias_regularizer,
                                  constraint=self.bias_constraint)

  def _convolve(self, inputs):
    return core.convolve(inputs, self.kernel, strides=self.strides,
                         padding=self.padding, dilation_rate=self.dilation_rate,
                         channels_first=self._channels_first)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    outputs = self._convolve(inputs)
    if self.use_bias:
      outputs = _bias_add(outputs, self.bias, self._channels_first)
    if self.activation is not None:
      outputs = self.activation(outputs)
    return outputs


class Conv1D(_Conv):
  """1-D convolution over `[batch, width, channels]` (or channels first).

  Args: as `Conv2D`, with 1-element sizes; `padding` may also be 'causal' (left
  padding only, so output t sees inputs up to t).
  """
  rank = 1


class Conv2D(_Conv):
  """2-D convolution: `activation(conv2d(inputs, kernel) + bias)`.

  Creates `kernel` `[kernel_h, kernel_w, in_channels, filters]` and, with `use_bias`,
  `bias` `[filters]`.

  Args:
    filters: positive int, the number of output channels.
    kernel_size: an int or 2 ints.
    strides: an int or 2 ints. Default 1.
    padding: 'valid' (default) or 'same', in either case.
    data_format: 'channels_last' (default) or 'channels_first'.
    dilation_rate: an int or 2 ints; with strides > 1 it must be 1. Default 1.
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint,
    trainable, name, **kwargs: as for `Dense`; the default kernel initializer is
      Glorot uniform over the kernel's fans (receptive field times channels).

  Raises:
    TypeError / ValueError: for a bad argument, naming it; at the call, for inputs
      that are not floating point, of the wrong rank or without known channels.
  """
  rank = 2


class Conv3D(_Conv):
  """3-D convolution over `[batch, depth, height, width, channels]` (or channels first).

  Args: as `Conv2D`, with 3-element sizes.
  """
  rank = 3


class _ConvTranspose(_Conv):
  """Base of the transposed convolutions: the kernel is `[*size, filters, in]`."""

  def __init__(self, filters: int, kernel_size: int | Sequence[int],
               strides: int | Sequence[int] = 1, padding: str = "valid",
               data_format: str = "channels_last", **kwargs: Any) -> None:
    if "dilation_rate" in kwargs:  # TF 1.x's transposed convolutions had none.
      raise TypeError(f"{self._fn_name}: unexpected keyword argument "
                      "'dilation_rate'.")
    super().__init__(filters, kernel_size, strides=strides, padding=padding,
                     data_format=data_format, **kwargs)

  def _kernel_shape(self, channels):
    return [*self.kernel_size, self.filters, channels]

  def _convolve(self, inputs):
    return core.convolve_transpose(inputs, self.kernel, filters=self.filters,
                                   strides=self.strides, padding=self.padding,
                                   channels_first=self._channels_first)

  def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
    shape = tf.TensorShape(input_shape).as_list()
    spatial = shape[2:] if self._channels_first else shape[1:-1]
    out = [core.transpose_output_length(d, k, s, self.padding)
           for d, k, s in zip(spatial, self.kernel_size, self.strides)]
    if self._channels_first:
      return tf.TensorShape([shape[0], self.filters, *out])
    return tf.TensorShape([shape[0], *out, self.filters])


class Conv2DTranspose(_ConvTranspose):
  """Transposed 2-D convolution ("deconvolution"), e.g. to upsample in a generator.

  Creates `kernel` `[kernel_h, kernel_w, filters, in_channels]` and `bias`
  `[filters]`. Each spatial length becomes `length * stride` ('same') or
  `length * stride + max(kernel - stride, 0)` ('valid').

  Args:
    filters, kernel_size, strides, padding, data_format: as for `Conv2D` (no
      dilation).
    activation, use_bias, initializers, regularizers, constraints, trainable, name,
    **kwargs: as for `Conv2D`.
  """
  rank = 2


class Conv3DTranspose(_ConvTranspose):
  """Transposed 3-D convolution; kernel `[kd, kh, kw, filters, in_channels]`.

  Args: as `Conv2DTranspose`, with 3-element sizes.
  """
  rank = 3


class _SeparableConv(_Conv):
  """Base of the depthwise-separable convolutions (1-D and 2-D)."""

  def __init__(self, filters: int, kernel_size: int | Sequence[int],
               strides: int | Sequence[int] = 1, padding: str = "valid",
               data_format: str = "channels_last",
               dilation_rate: int | Sequence[int] = 1, depth_multiplier: int = 1,
               activation: Callable[..., tf.Tensor] | None = None,
               use_bias: bool = True,
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
               name: str | None = None, **kwargs: Any) -> None:
    self.depth_multiplier = _validation.check_positive_int("depth_multiplier",
                                                           depth_multiplier)
    for arg, fn in (("depthwise_initializer", depthwise_initializer),
                    ("pointwise_initializer", pointwise_initializer),
                    ("depthwise_regularizer", depthwise_regularizer),
                    ("pointwise_regularizer", pointwise_regularizer),
                    ("depthwise_constraint", depthwise_constraint),
                    ("pointwise_constraint", pointwise_constraint)):
      _validation.check_callable(arg, fn)
    super().__init__(filters, kernel_size, strides=strides, padding=padding,
                     data_format=data_format, dilation_rate=dilation_rate,
                     activation=activation, use_bias=use_bias,
                     bias_initializer=bias_initializer,
                     bias_regularizer=bias_regularizer,
                     activity_regularizer=activity_regularizer,
                     bias_constraint=bias_constraint, trainable=trainable, name=name,
                     **kwargs)
    self.depthwise = (depthwise_initializer, depthwise_regularizer,
                      depthwise_constraint)
    self.pointwise = (pointwise_initializer, pointwise_regularizer,
                      pointwise_constraint)
    self.depthwise_kernel = self.pointwise_kernel = None

  def build(self, input_shape: tf.TensorShape) -> None:
    channels = self._input_channels(input_shape)
    weight = lambda name, shape, parts: self.add_weight(
        name, shape, initializer=parts[0], regularizer=parts[1], constraint=parts[2])
    self.depthwise_kernel = weight(
        "depthwise_kernel", [*self.kernel_size, channels, self.depth_multiplier],
        self.depthwise)
    self.pointwise_kernel = weight(
        "pointwise_kernel",
        [1] * self.rank + [channels * self.depth_multiplier, self.filters],
        self.pointwise)
    self._build_bias()
    self.built = True

  def _convolve(self, inputs):
    return core.separable_convolve(
        inputs, self.depthwise_kernel, self.pointwise_kernel, strides=self.strides,
        padding=self.padding, dilation_rate=self.dilation_rate,
        channels_first=self._channels_first)


class SeparableConv1D(_SeparableConv):
  """Depthwise-separable 1-D convolution; `padding` may also be 'causal'.

  Args: as `SeparableConv2D`, with 1-element sizes.
  """
  rank = 1


class SeparableConv2D(_SeparableConv):
  """Depthwise-separable 2-D convolution: per-channel, then a 1x1 mixing.

  Creates `depthwise_kernel` `[kh, kw, in, depth_multiplier]`, `pointwise_kernel`
  `[1, 1, in * depth_multiplier, filters]` and `bias` `[filters]`.

  Args:
    filters, kernel_size, strides, padding, data_format, dilation_rate: as
      `Conv2D`.
    depth_multiplier: positive int, depthwise outputs per input channel. Default 1.
    depthwise_initializer, pointwise_initializer, bias_initializer,
    depthwise_regularizer, pointwise_regularizer, bias_regularizer,
    activity_regularizer, depthwise_constraint, pointwise_constraint,
    bias_constraint, activation, use_bias, trainable, name, **kwargs: as `Conv2D`.
  """
  rank = 2


class _Pooling(Layer):
  """Base of the pooling layers: `kind` 'max' or 'avg', `rank` spatial axes."""

  rank = 2
  kind = "max"

  def __init__(self, pool_size: int | Sequence[int], strides: int | Sequence[int],
               padding: str = "valid", data_format: str = "channels_last",
               name: str | None = None, **kwargs: Any) -> None:
    self.pool_size = normalize_tuple("pool_size", pool_size, self.rank)
    self.strides = normalize_tuple("strides", strides, self.rank)
    self.padding = _check_padding(padding)
    self.data_format = _validation.check_choice("data_format", data_format,
                                                DATA_FORMATS)
    super().__init__(name=name, **kwargs)
    self.input_spec = InputSpec(ndim=self.rank + 2)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    return core.pool(inputs, self.kind, pool_size=self.pool_size, strides=self.strides,
                     padding=self.padding,
                     channels_first=self.data_format == "channels_first")


_POOL_ARGS = """
  Args:
    pool_size: an int or one int per spatial axis, the window.
    strides: an int or one int per spatial axis (no default).
    padding: 'valid' (default) or 'same', in either case.
    data_format: 'channels_last' (default) or 'channels_first'.
    name, **kwargs: as for `Layer`.
  """


class MaxPooling1D(_Pooling):
  __doc__ = "Max pooling over `[batch, width, channels]`.\n" + _POOL_ARGS
  rank, kind = 1, "max"


class MaxPooling2D(_Pooling):
  __doc__ = "Max pooling over `[batch, height, width, channels]`.\n" + _POOL_ARGS
  rank, kind = 2, "max"


class MaxPooling3D(_Pooling):
  __doc__ = "Max pooling over `[batch, depth, height, width, channels]`.\n" + _POOL_ARGS
  rank, kind = 3, "max"


_AVG_NOTE = "With 'same' padding, windows at the border average only what is inside.\n"


class AveragePooling1D(_Pooling):
  __doc__ = "Average pooling over `[batch, width, channels]`.\n" + _AVG_NOTE + _POOL_ARGS
  rank, kind = 1, "avg"


class AveragePooling2D(_Pooling):
  __doc__ = ("Average pooling over `[batch, height, width, channels]`.\n" + _AVG_NOTE
             + _POOL_ARGS)
  rank, kind = 2, "avg"


class AveragePooling3D(_Pooling):
  __doc__ = ("Average pooling over `[batch, depth, height, width, channels]`.\n"
             + _AVG_NOTE + _POOL_ARGS)
  rank, kind = 3, "avg"
