"""Layer builders with tf.contrib.layers' signatures, semantics and variable names.

Owns contrib's names and defaults for `fully_connected` (and its `relu`, `relu6`,
`linear` shortcuts), `dropout`, `batch_norm` and `flatten`; what they compute comes
from the layer core (`dnn_toolkit.layers.core`). As in TF 1.15 (and tf-slim),
`fully_connected` is a face over the tf.layers `Dense` class whose variable getter
renames `kernel` to `weights` and `bias` to `biases` and makes them model variables;
so names match what TF 1.x contrib code wrote (`hidden1/weights`, `hidden1/biases`,
`hidden1/BatchNorm/moving_mean`), penalties are named as TF 1.15 named them
(`hidden1/kernel/Regularizer/l2_regularizer`), and checkpoints written by such code
restore into graphs built here.

They are built on `tf.compat.v1.get_variable` and `tf.nn` ops, not on Keras layers, and
work both with `tf.compat.v1.disable_v2_behavior()` (reference variables) and with
only eager execution disabled (resource variables). A tensor added to
`outputs_collections` carries contrib's `.aliases` (the layer's scope), which
tf-slim's `convert_collection_to_dict` reads.
"""

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers import core
from dnn_toolkit.layers.arg_scope import add_arg_scope
from dnn_toolkit.layers.initializers import xavier_initializer
from dnn_toolkit.layers.tf_convolutional import (
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  Conv3D,
  normalize_tuple,
)
from dnn_toolkit.layers.tf_core import Dense

_V1 = tf.compat.v1
UPDATE_OPS = _V1.GraphKeys.UPDATE_OPS
_Collections = Sequence[str] | dict[str, Sequence[str]] | None


def variable_collections(variables_collections: _Collections,
                         name: str) -> list[str]:
  """The collections of model variable `name`: global, model and the caller's extra.

  Args:
    variables_collections: extra collections: a list (every variable), a dict by
      variable name ('weights', 'biases', 'beta', ...), or None.
    name: the variable's short name.
  """
  if isinstance(variables_collections, dict):
    extra = variables_collections.get(name)
  else:
    extra = variables_collections
  if extra is None:
    extra = []
  elif isinstance(extra, str):
    extra = [extra]
  return [_V1.GraphKeys.GLOBAL_VARIABLES, _V1.GraphKeys.MODEL_VARIABLES] + list(extra)


def model_variable_getter(rename: dict[str, str] | None = None) -> Callable[..., Any]:
  """A custom getter that makes a layer's weights model variables, renamed.

  `rename` maps the tf.layers weight names to contrib's (`{'kernel': 'weights'}`), as
  tf-slim's getter did. The collections a caller asked for are kept (a `batch_norm`
  normalizer inside the scope keeps its own), plus `GLOBAL_VARIABLES` and
  `MODEL_VARIABLES`.
  """

  def model_getter(getter, name, *args, **kwargs):  # TF passes `getter` by name.
    scope, _, short = name.rpartition("/")
    if rename and short in rename:
      name = f"{scope}/{rename[short]}" if scope else rename[short]
    collections = list(kwargs.get("collections") or [_V1.GraphKeys.GLOBAL_VARIABLES])
    kwargs["collections"] = collections + [_V1.GraphKeys.MODEL_VARIABLES]
    return getter(name, *args, **kwargs)

  return model_getter


def add_to_variable_collections(variable: tf.Variable,
                                variables_collections: _Collections,
                                name: str) -> None:
  """Adds `variable` to its extra `variables_collections` (once; it may be reused)."""
  for collection in variable_collections(variables_collections, name)[2:]:
    if not any(v is variable for v in _V1.get_collection(collection)):
      _V1.add_to_collection(collection, variable)


def collect_named_outputs(outputs_collections: str | Sequence[str] | None,
                          alias: str | None, outputs: tf.Tensor) -> tf.Tensor:
  """Adds `outputs` to the collections, appending `alias` to its `.aliases` (contrib).

  Args:
    outputs_collections: a collection name, a list of them, or None (nothing done).
    alias: the layer's scope name; a trailing '/' is dropped, as contrib did.
    outputs: the tensor.

  Returns:
    `outputs`.
  """
  if outputs_collections:
    if isinstance(outputs_collections, str):
      outputs_collections = [outputs_collections]
    if alias:
      alias = alias[:-1] if alias.endswith("/") else alias
      outputs.aliases = list(getattr(outputs, "aliases", [])) + [alias]
    _V1.add_to_collections(outputs_collections, outputs)
  return outputs


def check_kernel_face(fn_name: str, *, reuse: Any, scope: Any, **functions: Any) -> None:
  """The checks contrib's kernel layers share: callables, and reuse with a scope."""
  for name, fn in functions.items():
    _validation.check_callable(name, fn)
  if reuse is True and scope is None:
    raise ValueError(f"{fn_name}: `reuse=True` needs the `scope` to reuse. "
                     "Received: scope=None")


@add_arg_scope
def fully_connected(
    inputs: tf.Tensor, num_outputs: int,
    activation_fn: Callable[..., tf.Tensor] | None = tf.nn.relu,
    normalizer_fn: Callable[..., tf.Tensor] | None = None,
    normalizer_params: dict[str, Any] | None = None,
    weights_initializer: Callable[..., tf.Tensor] = xavier_initializer(),
    weights_regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
    biases_initializer: Callable[..., tf.Tensor] | None = _V1.zeros_initializer(),
    biases_regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
    reuse: bool | None = None,
    variables_collections: Sequence[str] | dict[str, Sequence[str]] | None = None,
    outputs_collections: str | Sequence[str] | None = None, trainable: bool = True,
    scope: str | None = None) -> tf.Tensor:
  """Adds a fully connected layer: `activation_fn(normalizer_fn(inputs @ W [+ b]))`.

  Creates `<scope>/weights` of shape `[depth, num_outputs]` and, unless a
  `normalizer_fn` is given (it provides its own offset), `<scope>/biases` of shape
  `[num_outputs]`. The default scope is `fully_connected`, then `fully_connected_1`, ...
  Inputs of rank > 2 are multiplied along their last axis.

      hidden1 = fully_connected(X, 300, scope="hidden1")          # [None, 300]
      logits = fully_connected(hidden1, 10, activation_fn=None, scope="outputs")

  Args:
    inputs: float tensor `[batch_size, ..., depth]` with a known last dimension.
    num_outputs: positive int, the number of units.
    activation_fn: a function, default `tf.nn.relu`; None for a linear layer.
    normalizer_fn: e.g. `batch_norm`, applied before the activation. Default None.
    normalizer_params: dict of keyword arguments of `normalizer_fn`.
    weights_initializer: initializer of the weights. Default Xavier (uniform).
    weights_regularizer: optional `fn(weights)`; its penalty joins
      `tf.GraphKeys.REGULARIZATION_LOSSES`.
    biases_initializer: initializer of the biases; None for no biases. Default zeros.
    biases_regularizer: optional `fn(biases)`.
    reuse: True to share the variables of an existing scope (then `scope` is needed).
    variables_collections: extra collections of the variables: a list, or a dict with
      keys 'weights' and 'biases'.
    outputs_collections: collections the output is added to.
    trainable: False keeps the variables out of `TRAINABLE_VARIABLES`.
    scope: optional variable scope name.

  Returns:
    The output tensor `[batch_size, ..., num_outputs]`.

  Raises:
    TypeError: if `num_outputs` is not an int, `inputs` not floating point, or a
      function argument not callable.
    ValueError: if `num_outputs` is not positive, the last dimension of `inputs` is
      unknown, or `reuse=True` comes without a `scope`.
  """
  num_outputs = _validation.check_positive_int("num_outputs", num_outputs)
  check_kernel_face("fully_connected", reuse=reuse, scope=scope,
                    activation_fn=activation_fn, normalizer_fn=normalizer_fn,
                    weights_regularizer=weights_regularizer,
                    biases_regularizer=biases_regularizer)
  inputs, _ = core.inputs_with_known_channels(inputs, "fully_connected")
  getter = model_variable_getter({"kernel": "weights", "bias": "biases"})
  with _V1.variable_scope(scope, default_name="fully_connected", values=[inputs],
                          reuse=reuse, custom_getter=getter) as sc:
    layer = Dense(num_outputs, use_bias=normalizer_fn is None
                  and biases_initializer is not None,
                  kernel_initializer=weights_initializer,
                  bias_initializer=biases_initializer,
                  kernel_regularizer=weights_regularizer,
                  bias_regularizer=biases_regularizer, trainable=trainable,
                  name=sc.name, dtype=inputs.dtype.base_dtype, _scope=sc, _reuse=reuse)
    outputs = layer.apply(inputs)  # [batch_size, ..., num_outputs]
    add_to_variable_collections(layer.kernel, variables_collections, "weights")
    if layer.bias is not None:
      add_to_variable_collections(layer.bias, variables_collections, "biases")
    if normalizer_fn is not None:
      outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return collect_named_outputs(outputs_collections, sc.original_name_scope, outputs)


def _shortcut(activation_fn, name, doc):
  shortcut = functools.partial(fully_connected, activation_fn=activation_fn)
  shortcut.__name__ = name
  shortcut.__doc__ = doc
  return shortcut


relu = _shortcut(tf.nn.relu, "relu", """`fully_connected` with `tf.nn.relu`.

    hidden1 = relu(X, 300, scope="hidden1")  # contrib's layers.relu(x, n)
""")
relu6 = _shortcut(tf.nn.relu6, "relu6", "`fully_connected` with `tf.nn.relu6`.")
linear = _shortcut(None, "linear", """`fully_connected` without activation.

    logits = linear(hidden2, 10, scope="outputs")
""")


@add_arg_scope
def flatten(inputs: tf.Tensor, outputs_collections: str | Sequence[str] | None = None,
            scope: str | None = None) -> tf.Tensor:
  """Flattens each example: `[batch_size, d1, ..., dk]` -> `[batch_size, d1 * ... * dk]`.

  Args:
    inputs: tensor of rank >= 2 and any dtype; the batch dimension may be unknown.
    outputs_collections: collections the output is added to.
    scope: optional name scope. Default 'Flatten'.

  Returns:
    A tensor `[batch_size, d1 * ... * dk]`; the second dimension is None unless every
    `d` is known.

  Raises:
    ValueError: if the rank of `inputs` is unknown or below 2.
  """
  inputs = tf.convert_to_tensor(inputs)
  rank = inputs.shape.rank
  if rank is None or rank < 2:
    shown = "<unknown>" if rank is None else inputs.shape
    raise ValueError("flatten: expected `inputs` of rank >= 2 ([batch_size, ...]): "
                     f"inputs must have at least 2 dimensions. Received: inputs.shape="
                     f"{shown}")
  with tf.name_scope(scope or "Flatten") as sc:
    return collect_named_outputs(outputs_collections, sc, core.flatten(inputs))


@add_arg_scope
def dropout(inputs: tf.Tensor, keep_prob: float | tf.Tensor = 0.5,
            noise_shape: Sequence[int] | tf.Tensor | None = None,
            is_training: bool | tf.Tensor = True,
            outputs_collections: str | Sequence[str] | None = None,
            scope: str | None = None,
            seed: int | tf.Tensor | Callable[[], tf.Tensor] | None = None
            ) -> tf.Tensor:
  """Inverted dropout: zeroes units with probability `1 - keep_prob` when training.

  Kept units are divided by `keep_prob` so the expected sum is unchanged, and nothing
  needs rescaling at inference, where the layer is the identity. Switch between the two
  with a bool placeholder fed per step, as the lesson does:

      is_training = tf.placeholder_with_default(False, shape=(), name="is_training")
      hidden1_drop = dropout(hidden1, 0.5, is_training=is_training)
      sess.run(train_op, feed_dict={X: X_batch, y: y_batch, is_training: True})
      acc = accuracy.eval(feed_dict={X: X_test, y: y_test})  # dropout off

  Args:
    inputs: float tensor of any shape.
    keep_prob: probability of keeping a unit, in (0, 1], or a scalar float tensor.
      Default 0.5.
    noise_shape: optional 1-D shape of the keep/drop mask, broadcast over `inputs`.
    is_training: Python bool or scalar bool tensor. Default True.
    outputs_collections: collections the output is added to.
    scope: optional name scope. Default 'Dropout'.
    seed: optional int seed of the mask; or a `[2]` int tensor such as
      `tf.stack([seed, global_step])` (or a function returning one, called only in
      the training branch), which draws the mask statelessly from it, so a
      run resumed from a checkpoint draws the same masks as an uninterrupted one.

  Returns:
    A tensor of the shape of `inputs`.

  Raises:
    ValueError: if `keep_prob` is a number outside (0, 1].
    TypeError: if `is_training` is neither a bool nor a bool tensor.
  """
  if not isinstance(keep_prob, (tf.Tensor, tf.Variable)):
    keep_prob = _validation.check_in_range("keep_prob", keep_prob, 0.0, 1.0,
                                           low_open=True)
  is_training = _validation.check_is_training(is_training)
  inputs = tf.convert_to_tensor(inputs)
  with _V1.variable_scope(scope, default_name="Dropout", values=[inputs]) as sc:
    if isinstance(keep_prob, float) and keep_prob == 1.0:
      outputs = tf.identity(inputs)
    else:
      outputs = core.dropout(inputs, rate=1.0 - keep_prob, noise_shape=noise_shape,
                             seed=seed, training=is_training)
    return collect_named_outputs(outputs_collections, outputs=outputs, alias=sc.name)


_BATCH_NORM_PARAMS = ("beta", "gamma", "moving_mean", "moving_variance")
_REGULARIZED_PARAMS = ("beta", "gamma")


def _check_nhwc_or_nchw(data_format):
  if data_format not in ("NHWC", "NCHW"):  # contrib's words, which its tests match
    raise ValueError("Received an invalid value for `data_format`: data_format has to "
                     f"be either NCHW or NHWC. Received: data_format={data_format!r}")


def _check_batch_norm_options(fused, data_format, zero_debias_moving_mean, renorm,
                              adjustment, batch_weights):
  """Validates batch_norm's contrib options before any op is created."""
  _validation.check_bool("fused", fused, allow_none=True)
  _check_nhwc_or_nchw(data_format)
  _validation.check_bool("zero_debias_moving_mean", zero_debias_moving_mean)
  if _validation.check_bool("renorm", renorm):
    raise NotImplementedError(
        "batch_norm: batch renormalization (`renorm=True`, with `renorm_clipping` and "
        "`renorm_decay`) is not implemented; use renorm=False. Received: renorm=True")
  _validation.check_callable("adjustment", adjustment)
  if batch_weights is not None:
    batch_weights = tf.convert_to_tensor(batch_weights)
  return batch_weights


def _batch_norm_variables(depth, dtype, *, center, scale, initializers, regularizers,
                          trainable, variables_collections, gamma_first):
  """Creates beta, gamma, moving_mean and moving_variance in the current scope.

  TF 1.15 made gamma before beta where contrib handed over to the tf.layers class
  (`gamma_first`). The moving statistics are never partitioned: their updates need
  whole variables.
  """
  make = lambda name, default, train: core.add_variable(
      name, [depth], dtype, initializer=initializers.get(name, default),
      regularizer=regularizers.get(name), trainable=train,
      collections=variable_collections(variables_collections, name),
      unpartitioned=name.startswith("moving"))
  made = {}
  for name in ("gamma", "beta") if gamma_first else ("beta", "gamma"):
    if name == "beta" and center:
      made[name] = make(name, _V1.zeros_initializer(), trainable)
    if name == "gamma" and scale:
      made[name] = make(name, _V1.ones_initializer(), trainable)
  return core.BatchNormParams(
      made.get("beta"), made.get("gamma"),
      make("moving_mean", _V1.zeros_initializer(), False),
      make("moving_variance", _V1.ones_initializer(), False))


def _zero_debias_variables(moving_mean, *, fused):
  """Creates contrib's `<moving_mean>/biased` and `<moving_mean>/local_step`.

  Named as contrib named them: under a variable scope spelled like the moving mean's
  full name, so `BatchNorm/moving_mean` gets `BatchNorm/BatchNorm/moving_mean/biased`.
  Model variables, except on the fused path, where TF 1.15 made plain ones.
  """
  collections = [_V1.GraphKeys.GLOBAL_VARIABLES]
  if not fused:
    collections.append(_V1.GraphKeys.MODEL_VARIABLES)
  dtype = moving_mean.dtype.base_dtype
  with _V1.variable_scope(moving_mean.op.name):
    make = lambda name, shape: core.add_variable(
        name, shape, dtype, initializer=_V1.zeros_initializer(), trainable=False,
        collections=collections, unpartitioned=True)
    return make("biased", moving_mean.shape), make("local_step", [])


@add_arg_scope
def batch_norm(
    inputs: tf.Tensor, decay: float = 0.999, center: bool = True, scale: bool = False,
    epsilon: float = 0.001, activation_fn: Callable[..., tf.Tensor] | None = None,
    param_initializers: dict[str, Callable[..., tf.Tensor]] | None = None,
    param_regularizers: (dict[str, Callable[[tf.Tensor], tf.Tensor | None]]
                         | None) = None,
    updates_collections: str | Sequence[str] | None = UPDATE_OPS,
    is_training: bool | tf.Tensor = True, reuse: bool | None = None,
    variables_collections: Sequence[str] | dict[str, Sequence[str]] | None = None,
    outputs_collections: str | Sequence[str] | None = None, trainable: bool = True,
    batch_weights: tf.Tensor | None = None, fused: bool | None = None,
    data_format: str = "NHWC", zero_debias_moving_mean: bool = False,
    scope: str | None = None, renorm: bool = False,
    renorm_clipping: dict[str, float] | None = None, renorm_decay: float = 0.99,
    adjustment: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None
) -> tf.Tensor:
  """Adds batch normalization (Ioffe and Szegedy, 2015) over all axes but the channels.

  When training it normalizes with the batch's mean and variance and updates
  `moving_mean` and `moving_variance` as `m -= (m - batch_stat) * (1 - decay)`; at
  inference it normalizes with the moving averages. As in TF 1.15, rank-2 and rank-4
  inputs use TF's fused kernel by default (see `fused`), whose moving variance is
  updated with the unbiased batch variance, `n / (n - 1)` times the biased one.
  By default the update ops go to `tf.GraphKeys.UPDATE_OPS` and must run with each
  training step:

      bn = {"is_training": is_training, "decay": 0.9}
      hidden1 = fully_connected(X, 300, normalizer_fn=batch_norm, normalizer_params=bn)
      ...
      update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(loss)

  With `updates_collections=None` the updates run in place, in the forward pass of every
  training step, and no control dependency is needed (a little slower).

  Variables, under `<scope>/BatchNorm/` by default: `beta` (center), `gamma` (scale),
  `moving_mean`, `moving_variance` (never trainable, never partitioned). They are
  float32 for float16 or bfloat16 inputs, which are normalized in float32.

  Args:
    inputs: float tensor `[batch_size, ..., channels]` (NHWC) or
      `[batch_size, channels, ...]` (NCHW) with known rank and channels.
    decay: the moving averages' decay, in [0, 1). Lower values (0.9, 0.99) adapt faster
      and suit short runs. Default 0.999.
    center: add the learned offset `beta`. Default True.
    scale: multiply by the learned `gamma`. Default False; not needed before a ReLU or
      a linear layer, which can absorb the scale.
    epsilon: non-negative float added to the variance. Default 0.001.
    activation_fn: optional activation applied to the output.
    param_initializers: optional dict of initializers for 'beta', 'gamma',
      'moving_mean' and 'moving_variance'.
    param_regularizers: optional dict of regularizers for 'beta' and 'gamma'.
    updates_collections: collections of the update ops, or None to update in place.
    is_training: Python bool or scalar bool tensor. Default True.
    reuse: True to share the variables of an existing scope.
    variables_collections: extra collections of the variables (list or dict by name).
    outputs_collections: collections the output is added to.
    trainable: False keeps beta and gamma out of `TRAINABLE_VARIABLES`.
    batch_weights: optional `[batch_size]` frequency weights of the examples; the batch
      statistics are then weighted means and variances.
    fused: None (default) or True: TF's fused kernel where TF 1.15 used it (rank-2
      and rank-4 float16/bfloat16/float32 inputs without `batch_weights` or
      `adjustment`); its moving variance gets the batch variance times `n / (n - 1)`
      and an `epsilon` below 1.001e-5 counts as 1.001e-5. False: the plain moments
      (`tf.nn.moments`, biased variance) for every input.
    data_format: 'NHWC' (channels last, default) or 'NCHW' (channels on axis 1).
    zero_debias_moving_mean: debias the moving mean from its zero start; creates
      `<scope>/<scope>/moving_mean/biased` and `.../local_step`, as contrib (model
      variables unless fused).
    scope: optional variable scope. Default 'BatchNorm'.
    renorm: must be False: batch renormalization is not implemented.
    renorm_clipping: ignored unless `renorm` (as contrib).
    renorm_decay: ignored unless `renorm` (as contrib).
    adjustment: optional `fn(dynamic_shape) -> (scale, bias)` applied to the normalized
      values before gamma and beta, only when training.

  Returns:
    A tensor of the shape and dtype of `inputs`.

  Raises:
    ValueError: if `decay` is outside [0, 1), `epsilon` is negative, `data_format` is
      unknown ("data_format has to be either NCHW or NHWC."), the rank or channels of
      `inputs` are unknown, or a parameter dict has unknown keys.
    TypeError: if `is_training` is neither a bool nor a bool tensor, or `fused`,
      `zero_debias_moving_mean`, `renorm`, `activation_fn` or `adjustment` has the
      wrong type.
    NotImplementedError: if `renorm=True`.
  """
  del renorm_clipping, renorm_decay  # Only used by renorm, which is refused.
  decay = _validation.check_in_range("decay", decay, 0.0, 1.0, high_open=True)
  epsilon = _validation.check_in_range("epsilon", epsilon, 0.0, None)
  _validation.check_callable("activation_fn", activation_fn)
  is_training = _validation.check_is_training(is_training)
  batch_weights = _check_batch_norm_options(fused, data_format, zero_debias_moving_mean,
                                            renorm, adjustment, batch_weights)
  channel_axis = 1 if data_format == "NCHW" else -1
  inputs, depth = core.inputs_with_known_channels(inputs, "batch_norm",
                                                  channel_axis=channel_axis)
  initializers = _validation.check_known_keys("param_initializers", param_initializers,
                                              _BATCH_NORM_PARAMS)
  regularizers = _validation.check_known_keys("param_regularizers", param_regularizers,
                                              _REGULARIZED_PARAMS)
  if batch_weights is not None and not (
      batch_weights.shape.rank in (None, 1)
      and batch_weights.shape[:1].is_compatible_with(inputs.shape[:1])):
    raise ValueError("batch_norm: expected `batch_weights` of shape [batch_size] = "
                     f"{inputs.shape[:1]}. Received: batch_weights.shape="
                     f"{batch_weights.shape}")
  rank = inputs.shape.rank
  # TF 1.15's three paths: its own fused function, the tf.layers class (fused for
  # rank 4), and the plain one; `fuse` says which kernel, `gamma_first` the class.
  fuse = (fused is not False and batch_weights is None and adjustment is None
          and rank in (2, 4) and inputs.dtype.base_dtype in core.FUSED_DTYPES)
  default_updates = isinstance(updates_collections, str) and (
      updates_collections == UPDATE_OPS)
  contrib_fused = fuse and (zero_debias_moving_mean or rank == 2 or not default_updates)
  gamma_first = (not contrib_fused and default_updates and batch_weights is None
                 and not zero_debias_moving_mean)
  if isinstance(updates_collections, str):
    updates_collections = [updates_collections]
  with _V1.variable_scope(scope, default_name="BatchNorm", values=[inputs],
                          reuse=reuse) as sc:
    params = _batch_norm_variables(
        depth, core.param_dtype(inputs.dtype), center=center, scale=scale,
        initializers=initializers, regularizers=regularizers, trainable=trainable,
        variables_collections=variables_collections, gamma_first=gamma_first)
    # As contrib, the debiasing variables exist only where the mean can be updated.
    debias = (_zero_debias_variables(params.moving_mean, fused=fuse)
              if zero_debias_moving_mean and is_training is not False else None)
    outputs, updates = core.batch_normalization(
        inputs, params, channel_axes=[channel_axis % rank], training=is_training,
        momentum=decay, epsilon=epsilon, fused=fuse,
        in_place=updates_collections is None, batch_weights=batch_weights,
        zero_debias=debias, adjustment=adjustment)
    for update in updates:
      _V1.add_to_collections(updates_collections, update)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return collect_named_outputs(outputs_collections, sc.name, outputs)


# Convolution and pooling --------------------------------------------------------------

_CONV_FORMATS = (None, "NWC", "NCW", "NHWC", "NCHW", "NDHWC", "NCDHW")
_CONV_CLASSES = {3: Conv1D, 4: Conv2D, 5: Conv3D}


def _convolution(
    inputs: tf.Tensor, num_outputs: int, kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1, padding: str = "SAME",
    data_format: str | None = None,
    rate: int | Sequence[int] = 1,
    activation_fn: Callable[..., tf.Tensor] | None = tf.nn.relu,
    normalizer_fn: Callable[..., tf.Tensor] | None = None,
    normalizer_params: dict[str, Any] | None = None,
    weights_initializer: Callable[..., tf.Tensor] = xavier_initializer(),
    weights_regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
    biases_initializer: Callable[..., tf.Tensor] | None = _V1.zeros_initializer(),
    biases_regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
    reuse: bool | None = None, variables_collections: _Collections = None,
    outputs_collections: str | Sequence[str] | None = None, trainable: bool = True,
    scope: str | None = None, conv_dims: int | None = None) -> tf.Tensor:
  """Adds an N-D convolution (N = 1, 2, 3 by the input's rank), contrib style.

  Creates `<scope>/weights` `[*kernel_size, in_channels, num_outputs]` and, unless a
  `normalizer_fn` is given, `<scope>/biases` `[num_outputs]`; then applies
  `activation_fn(normalizer_fn(conv))`. The default scope is `Conv`, then `Conv_1`.
  It is a face over the tf.layers `Conv1D`/`Conv2D`/`Conv3D` classes, as in TF 1.15.

      net = conv2d(images, 32, [3, 3], scope="conv1")         # SAME, ReLU, stride 1
      net = max_pool2d(net, [2, 2], scope="pool1")             # VALID, stride 2

  Args:
    inputs: float tensor `[batch, *spatial, channels]` ('N...C' formats) or
      `[batch, channels, *spatial]` ('NC...' formats), of rank 3 to 5.
    num_outputs: positive int, the number of filters.
    kernel_size: an int or N ints (or a TensorShape).
    stride: an int or N ints. Default 1.
    padding: 'SAME' (default) or 'VALID'.
    data_format: None (channels last), 'NWC', 'NCW', 'NHWC', 'NCHW', 'NDHWC' or
      'NCDHW'.
    rate: dilation rate, an int or N ints; with a stride > 1 it must be 1.
    activation_fn, normalizer_fn, normalizer_params, weights_initializer,
    weights_regularizer, biases_initializer, biases_regularizer, reuse,
    variables_collections, outputs_collections, trainable, scope: as for
      `fully_connected` (penalties named `<scope>/kernel/Regularizer/...`).
    conv_dims: optional N the input must have (`conv2d` passes 2).

  Returns:
    The output tensor, in the layout of `inputs`.

  Raises:
    TypeError / ValueError: for a bad argument, naming it, or inputs that are not
      floating point, of an unsupported rank or without known channels.
  """
  if data_format not in _CONV_FORMATS:
    raise ValueError(f"Received an invalid value for `data_format`, expected one of "
                     f"{', '.join(map(repr, _CONV_FORMATS))}. "
                     f"Received: data_format={data_format!r}")
  num_outputs = _validation.check_positive_int("num_outputs", num_outputs)
  check_kernel_face("convolution", reuse=reuse, scope=scope,
                    activation_fn=activation_fn, normalizer_fn=normalizer_fn,
                    weights_regularizer=weights_regularizer,
                    biases_regularizer=biases_regularizer)
  inputs = core.float_inputs(inputs, "convolution")
  rank = inputs.shape.rank
  if rank not in _CONV_CLASSES or (conv_dims is not None and rank != conv_dims + 2):
    expected = "3, 4 or 5" if conv_dims is None else conv_dims + 2
    raise ValueError(f"convolution: expected `inputs` of rank {expected}. "
                     f"Received: inputs.shape={inputs.shape}")
  channels_first = data_format is not None and data_format.startswith("NC")
  return _kernel_layer(
      _CONV_CLASSES[rank], inputs, "Conv", dict(
          filters=num_outputs, kernel_size=kernel_size, strides=stride,
          padding=padding, dilation_rate=rate,
          data_format="channels_first" if channels_first else "channels_last"),
      activation_fn=activation_fn, normalizer_fn=normalizer_fn,
      normalizer_params=normalizer_params, weights_initializer=weights_initializer,
      weights_regularizer=weights_regularizer, biases_initializer=biases_initializer,
      biases_regularizer=biases_regularizer, reuse=reuse,
      variables_collections=variables_collections,
      outputs_collections=outputs_collections, trainable=trainable, scope=scope)


def _kernel_layer(cls, inputs, default_scope, layer_arguments, *, activation_fn,
                  normalizer_fn, normalizer_params, weights_initializer,
                  weights_regularizer, biases_initializer, biases_regularizer, reuse,
                  variables_collections, outputs_collections, trainable, scope):
  """A tf.layers kernel class as a contrib layer: weights, biases, normalizer, outputs."""
  getter = model_variable_getter({"kernel": "weights", "bias": "biases"})
  with _V1.variable_scope(scope, default_name=default_scope, values=[inputs],
                          reuse=reuse, custom_getter=getter) as sc:
    layer = cls(**layer_arguments,
                use_bias=normalizer_fn is None and biases_initializer is not None,
                kernel_initializer=weights_initializer,
                bias_initializer=biases_initializer,
                kernel_regularizer=weights_regularizer,
                bias_regularizer=biases_regularizer, trainable=trainable, name=sc.name,
                dtype=inputs.dtype.base_dtype, _scope=sc, _reuse=reuse)
    outputs = layer.apply(inputs)
    add_to_variable_collections(layer.kernel, variables_collections, "weights")
    if layer.bias is not None:
      add_to_variable_collections(layer.bias, variables_collections, "biases")
    if normalizer_fn is not None:
      outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return collect_named_outputs(outputs_collections, sc.original_name_scope, outputs)


def _fixed_rank(conv_dims, name):
  """`_convolution` with `conv_dims` set, decorated for arg_scope under its own key."""
  def convolve(*args, **kwargs):
    return _convolution(*args, conv_dims=conv_dims, **kwargs)

  signature = inspect.signature(_convolution)
  convolve.__signature__ = signature.replace(parameters=[
      p for p in signature.parameters.values()
      if conv_dims is None or p.name != "conv_dims"])
  convolve.__name__ = convolve.__qualname__ = name
  convolve.__doc__ = _convolution.__doc__ if conv_dims is None else (
      f"`convolution` of inputs of rank {conv_dims + 2} ({conv_dims}-D), contrib's "
      f"`{name}`; see `convolution` for the arguments.")
  return add_arg_scope(convolve)


convolution = _fixed_rank(None, "convolution")
convolution1d = conv1d = _fixed_rank(1, "convolution1d")
convolution2d = conv2d = _fixed_rank(2, "convolution2d")
convolution3d = conv3d = _fixed_rank(3, "convolution3d")


@add_arg_scope
def convolution2d_transpose(
    inputs: tf.Tensor, num_outputs: int, kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1, padding: str = "SAME", data_format: str = "NHWC",
    activation_fn: Callable[..., tf.Tensor] | None = tf.nn.relu,
    normalizer_fn: Callable[..., tf.Tensor] | None = None,
    normalizer_params: dict[str, Any] | None = None,
    weights_initializer: Callable[..., tf.Tensor] = xavier_initializer(),
    weights_regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
    biases_initializer: Callable[..., tf.Tensor] | None = _V1.zeros_initializer(),
    biases_regularizer: Callable[[tf.Tensor], tf.Tensor | None] | None = None,
    reuse: bool | None = None, variables_collections: _Collections = None,
    outputs_collections: str | Sequence[str] | None = None, trainable: bool = True,
    scope: str | None = None) -> tf.Tensor:
  """Adds a transposed 2-D convolution ("deconvolution"), contrib style.

  Creates `<scope>/weights` `[kh, kw, num_outputs, in_channels]` and, unless a
  `normalizer_fn` is given, `<scope>/biases`. The default scope is
  `Conv2d_transpose`. Each spatial length becomes `length * stride` ('SAME') or
  `length * stride + max(kernel - stride, 0)` ('VALID').

  Args:
    inputs: float tensor `[batch, height, width, channels]` (NHWC) or NCHW.
    num_outputs, kernel_size, stride, padding: as for `convolution` (2-D).
    data_format: 'NHWC' (default) or 'NCHW'.
    activation_fn, ..., scope: as for `convolution`.

  Returns:
    The output tensor, in the layout of `inputs`.

  Raises:
    ValueError: if `data_format` is neither ("data_format has to be either NCHW or
      NHWC."), or for another bad argument, naming it.
    TypeError: for a bad type, naming the argument.
  """
  _check_nhwc_or_nchw(data_format)
  num_outputs = _validation.check_positive_int("num_outputs", num_outputs)
  check_kernel_face("convolution2d_transpose", reuse=reuse, scope=scope,
                    activation_fn=activation_fn, normalizer_fn=normalizer_fn,
                    weights_regularizer=weights_regularizer,
                    biases_regularizer=biases_regularizer)
  inputs = core.float_inputs(inputs, "convolution2d_transpose")
  return _kernel_layer(
      Conv2DTranspose, inputs, "Conv2d_transpose", dict(
          filters=num_outputs, kernel_size=kernel_size, strides=stride,
          padding=padding,
          data_format="channels_first" if data_format == "NCHW" else "channels_last"),
      activation_fn=activation_fn, normalizer_fn=normalizer_fn,
      normalizer_params=normalizer_params, weights_initializer=weights_initializer,
      weights_regularizer=weights_regularizer, biases_initializer=biases_initializer,
      biases_regularizer=biases_regularizer, reuse=reuse,
      variables_collections=variables_collections,
      outputs_collections=outputs_collections, trainable=trainable, scope=scope)


conv2d_transpose = convolution2d_transpose


def _pool2d(kind, default_scope, inputs, kernel_size, stride, padding, data_format,
            outputs_collections, scope):
  """contrib's 2-D pooling: a name scope, the pooling op, the collected output."""
  _check_nhwc_or_nchw(data_format)
  pool_size = normalize_tuple("kernel_size", kernel_size, 2)
  strides = normalize_tuple("stride", stride, 2)
  padding = _validation.check_choice("padding", str(padding).upper(), ("VALID", "SAME"))
  inputs = tf.convert_to_tensor(inputs)
  if inputs.shape.rank != 4:
    raise ValueError(f"{default_scope}: expected `inputs` of rank 4. "
                     f"Received: inputs.shape={inputs.shape}")
  with tf.name_scope(scope or default_scope) as sc:
    outputs = core.pool(inputs, kind, pool_size=pool_size, strides=strides,
                        padding=padding, channels_first=data_format == "NCHW")
    return collect_named_outputs(outputs_collections, sc, outputs)


_POOL_ARGS = """
  Args:
    inputs: tensor `[batch, height, width, channels]` (NHWC) or NCHW.
    kernel_size: an int or 2 ints (or a TensorShape), the window.
    stride: an int or 2 ints. Default 2.
    padding: 'VALID' (default) or 'SAME'.
    data_format: 'NHWC' (default) or 'NCHW'.
    outputs_collections: collections the output is added to.
    scope: optional name scope. Default '{scope}'.

  Returns:
    The pooled tensor, in the layout of `inputs`.

  Raises:
    ValueError: if `data_format` is neither NHWC nor NCHW (contrib's words), or for
      another bad value, naming the argument.
  """


@add_arg_scope
def max_pool2d(inputs: tf.Tensor, kernel_size: int | Sequence[int],
               stride: int | Sequence[int] = 2, padding: str = "VALID",
               data_format: str = "NHWC",
               outputs_collections: str | Sequence[str] | None = None,
               scope: str | None = None) -> tf.Tensor:
  return _pool2d("max", "MaxPool2D", inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@add_arg_scope
def avg_pool2d(inputs: tf.Tensor, kernel_size: int | Sequence[int],
               stride: int | Sequence[int] = 2, padding: str = "VALID",
               data_format: str = "NHWC",
               outputs_collections: str | Sequence[str] | None = None,
               scope: str | None = None) -> tf.Tensor:
  return _pool2d("avg", "AvgPool2D", inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


max_pool2d.__doc__ = "Adds 2-D max pooling, contrib style.\n" + _POOL_ARGS.format(
    scope="MaxPool2D")
avg_pool2d.__doc__ = ("Adds 2-D average pooling, contrib style; 'SAME' windows at the "
                      "border average only the values inside.\n"
                      + _POOL_ARGS.format(scope="AvgPool2D"))
