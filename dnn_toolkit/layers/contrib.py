"""Layer builders with tf.contrib.layers' signatures, semantics and variable names.

Owns `fully_connected` (and its `relu`, `relu6`, `linear` shortcuts), `dropout`,
`batch_norm` and `flatten`, and the helpers they share (input checks, variable
collections, the moving-average update), which `dnn_toolkit.layers.tf_layers` reuses.

Each builder creates its variables with `tf.compat.v1.get_variable` inside a
`tf.compat.v1.variable_scope`, so names match what TF 1.x contrib code wrote
(`hidden1/weights`, `hidden1/biases`, `hidden1/BatchNorm/moving_mean`) and checkpoints
written by such code restore into graphs built here. They are built on `tf.nn` ops, not on
Keras layers, and work both with `tf.compat.v1.disable_v2_behavior()` (reference
variables) and with only eager execution disabled (resource variables). A tensor added
to `outputs_collections` carries contrib's `.aliases` (the layer's scope), which
tf-slim's `convert_collection_to_dict` reads.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers.arg_scope import add_arg_scope
from dnn_toolkit.layers.initializers import xavier_initializer

_V1 = tf.compat.v1
UPDATE_OPS = _V1.GraphKeys.UPDATE_OPS


def _inputs_with_known_depth(inputs, fn_name, min_rank=2):
  """Converts `inputs` to a float tensor and returns it with its last dimension."""
  return _inputs_with_known_channels(inputs, fn_name, min_rank, channel_axis=-1)


def _inputs_with_known_channels(inputs, fn_name, min_rank=2, channel_axis=-1):
  """Converts `inputs` to a float tensor; returns it and its `channel_axis` dimension."""
  inputs = tf.convert_to_tensor(inputs)
  if not inputs.dtype.is_floating:
    raise TypeError(f"{fn_name}: expected `inputs` to be a floating point tensor. "
                    f"Received: inputs.dtype={inputs.dtype.name}")
  rank = inputs.shape.rank
  if rank is None:
    raise ValueError(f"{fn_name}: expected `inputs` of rank >= {min_rank} "
                     f"([batch_size, ..., depth]), but {inputs.name} has undefined rank; "
                     "give the placeholder a shape. Received: inputs.shape=<unknown>")
  if rank < min_rank:
    raise ValueError(f"{fn_name}: expected `inputs` of rank >= {min_rank} "
                     f"([batch_size, ..., depth]). Received: inputs.shape={inputs.shape}")
  depth = inputs.shape[channel_axis]
  if depth is None:
    which = "last" if channel_axis == -1 else f"channel (axis {channel_axis})"
    raise ValueError(f"{fn_name}: the {which} dimension of `inputs` must be known to "
                     "create the variables, but it is undefined; give the placeholder a "
                     "full shape such as [None, 784]. "
                     f"Received: inputs.shape={inputs.shape}")
  return inputs, int(depth)


def _smart_cond(pred, true_fn, false_fn):
  """Calls one branch when `pred` is a Python bool, else builds a `tf.cond`."""
  if isinstance(pred, bool):
    return true_fn() if pred else false_fn()
  return _V1.cond(pred, true_fn, false_fn)


def _variable_collections(variables_collections, name):
  """Returns the extra collections of variable `name` (a list, or a dict by name)."""
  if isinstance(variables_collections, dict):
    extra = variables_collections.get(name)
  else:
    extra = variables_collections
  if extra is None:
    extra = []
  elif isinstance(extra, str):
    extra = [extra]
  return [_V1.GraphKeys.GLOBAL_VARIABLES, _V1.GraphKeys.MODEL_VARIABLES] + list(extra)


def _model_variable(name, shape, dtype, initializer, regularizer, trainable,
                    variables_collections):
  return _V1.get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                          regularizer=regularizer, trainable=trainable,
                          collections=_variable_collections(variables_collections, name))


def _collect_outputs(outputs_collections, outputs, alias=None):
  """Adds `outputs` to the collections, appending `alias` to its `.aliases` (contrib).

  Args:
    outputs_collections: a collection name, a list of them, or None (nothing done).
    outputs: the tensor.
    alias: the layer's scope name; a trailing '/' is dropped, as contrib did.

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
  for name, fn in (("activation_fn", activation_fn), ("normalizer_fn", normalizer_fn),
                   ("weights_regularizer", weights_regularizer),
                   ("biases_regularizer", biases_regularizer)):
    _validation.check_callable(name, fn)
  if reuse is True and scope is None:
    raise ValueError("fully_connected: `reuse=True` needs the `scope` to reuse. "
                     "Received: scope=None")
  inputs, depth = _inputs_with_known_depth(inputs, "fully_connected")
  dtype = inputs.dtype.base_dtype
  with _V1.variable_scope(scope, default_name="fully_connected", values=[inputs],
                          reuse=reuse) as sc:
    weights = _model_variable("weights", [depth, num_outputs], dtype,
                              weights_initializer, weights_regularizer, trainable,
                              variables_collections)
    if inputs.shape.rank == 2:
      outputs = tf.matmul(inputs, weights)  # [batch_size, num_outputs]
    else:
      outputs = tf.tensordot(inputs, weights, [[inputs.shape.rank - 1], [0]])
    if normalizer_fn is not None:
      outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    elif biases_initializer is not None:
      biases = _model_variable("biases", [num_outputs], dtype, biases_initializer,
                               biases_regularizer, trainable, variables_collections)
      outputs = tf.nn.bias_add(outputs, biases)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return _collect_outputs(outputs_collections, outputs, sc.original_name_scope)


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
    flat = inputs.shape[1:].num_elements()  # None unless every dimension is known
    outputs = tf.reshape(inputs, [tf.shape(inputs)[0], -1 if flat is None else flat])
    outputs.set_shape([inputs.shape[0], flat])  # [batch_size, d1 * ... * dk]
    return _collect_outputs(outputs_collections, outputs, sc)


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
      outputs = _smart_cond(
          is_training,
          lambda: _dropout_mask(inputs, 1.0 - keep_prob, noise_shape, seed),
          lambda: tf.identity(inputs))
    return _collect_outputs(outputs_collections, outputs, sc.name)


def _dropout_mask(inputs, rate, noise_shape, seed):
  if callable(seed):
    seed = seed()  # Built here, in the training branch: inference never reads it.
  if isinstance(seed, (tf.Tensor, tf.Variable)):
    return tf.nn.experimental.stateless_dropout(inputs, rate, seed,
                                                noise_shape=noise_shape)
  return tf.nn.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed)


def _assign_moving_average(variable, value, decay):
  """`variable -= (variable - value) * (1 - decay)`, as contrib did (no zero-debias).

  The op is named `AssignMovingAvg` (then `AssignMovingAvg_1`, ...), as contrib's.
  """
  with tf.name_scope("AssignMovingAvg") as name:
    delta = (variable - value) * (1.0 - decay)
    return _V1.assign_sub(variable, delta, name=name)


def _assign_zero_debiased_average(variable, value, decay, biased, local_step):
  """The zero-debiased moving average of contrib's `zero_debias_moving_mean=True`.

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


_BATCH_NORM_PARAMS = ("beta", "gamma", "moving_mean", "moving_variance")
_REGULARIZED_PARAMS = ("beta", "gamma")
_DATA_FORMATS = ("NHWC", "NCHW")


def _batch_norm_variables(depth, dtype, center, scale, param_initializers, trainable,
                          variables_collections, param_regularizers=None):
  """Creates beta, gamma, moving_mean and moving_variance in the current scope.

  The moving statistics are made with the scope's partitioner turned off, as contrib
  did: their moving-average updates need whole variables.
  """
  inits = _validation.check_known_keys("param_initializers", param_initializers,
                                       _BATCH_NORM_PARAMS)
  regs = _validation.check_known_keys("param_regularizers", param_regularizers,
                                      _REGULARIZED_PARAMS)
  make = lambda name, default, train: _model_variable(
      name, [depth], dtype, inits.get(name, default), regs.get(name), train,
      variables_collections)
  beta = make("beta", _V1.zeros_initializer(), trainable) if center else None
  gamma = make("gamma", _V1.ones_initializer(), trainable) if scale else None
  with _V1.variable_scope(_V1.get_variable_scope()) as unpartitioned:
    unpartitioned.set_partitioner(None)
    moving_mean = make("moving_mean", _V1.zeros_initializer(), False)
    moving_variance = make("moving_variance", _V1.ones_initializer(), False)
  return beta, gamma, moving_mean, moving_variance


def _zero_debias_variables(moving_mean, variables_collections):
  """Creates contrib's `<moving_mean>/biased` and `<moving_mean>/local_step`.

  Named as contrib named them: under a variable scope spelled like the moving mean's
  full name, so `BatchNorm/moving_mean` gets `BatchNorm/BatchNorm/moving_mean/biased`.
  """
  with _V1.variable_scope(_V1.get_variable_scope()) as unpartitioned:
    unpartitioned.set_partitioner(None)
    with _V1.variable_scope(moving_mean.op.name):
      biased = _model_variable("biased", moving_mean.shape, moving_mean.dtype.base_dtype,
                               _V1.zeros_initializer(), None, False,
                               variables_collections)
      local_step = _model_variable("local_step", [], moving_mean.dtype.base_dtype,
                                   _V1.zeros_initializer(), None, False,
                                   variables_collections)
  return biased, local_step


def _check_batch_norm_options(fused, data_format, zero_debias_moving_mean, renorm,
                              adjustment, batch_weights):
  """Validates batch_norm's contrib options before any op is created."""
  _validation.check_bool("fused", fused, allow_none=True)
  _validation.check_choice("data_format", data_format, _DATA_FORMATS)
  _validation.check_bool("zero_debias_moving_mean", zero_debias_moving_mean)
  if _validation.check_bool("renorm", renorm):
    raise NotImplementedError(
        "batch_norm: batch renormalization (`renorm=True`, with `renorm_clipping` and "
        "`renorm_decay`) is not implemented; use renorm=False. Received: renorm=True")
  _validation.check_callable("adjustment", adjustment)
  if batch_weights is not None:
    batch_weights = tf.convert_to_tensor(batch_weights)
  return batch_weights


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

  When training it normalizes with the batch's mean and (biased) variance and updates
  `moving_mean` and `moving_variance` as `m -= (m - batch_stat) * (1 - decay)`; at
  inference it normalizes with the moving averages. By default the update ops go to
  `tf.GraphKeys.UPDATE_OPS` and must run with each training step:

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
    fused: None, True or False. Accepted for contrib code; all three compute the same
      maths here (contrib's choice of kernel).
    data_format: 'NHWC' (channels last, default) or 'NCHW' (channels on axis 1).
    zero_debias_moving_mean: debias the moving mean from its zero start; creates
      `<scope>/<scope>/moving_mean/biased` and `.../local_step`, as contrib.
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
      unknown, the rank or channels of `inputs` are unknown, or a parameter dict has
      unknown keys.
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
  inputs, depth = _inputs_with_known_channels(inputs, "batch_norm",
                                              channel_axis=channel_axis)
  _validation.check_known_keys("param_initializers", param_initializers,
                               _BATCH_NORM_PARAMS)
  _validation.check_known_keys("param_regularizers", param_regularizers,
                               _REGULARIZED_PARAMS)
  if batch_weights is not None and not (
      batch_weights.shape.rank in (None, 1)
      and batch_weights.shape[:1].is_compatible_with(inputs.shape[:1])):
    raise ValueError("batch_norm: expected `batch_weights` of shape [batch_size] = "
                     f"{inputs.shape[:1]}. Received: batch_weights.shape="
                     f"{batch_weights.shape}")
  if isinstance(updates_collections, str):
    updates_collections = [updates_collections]
  with _V1.variable_scope(scope, default_name="BatchNorm", values=[inputs],
                          reuse=reuse) as sc:
    outputs = _batch_norm_in_scope(
        inputs, channel_axis=channel_axis, depth=depth, decay=decay, center=center,
        scale=scale, epsilon=epsilon, param_initializers=param_initializers,
        param_regularizers=param_regularizers, updates_collections=updates_collections,
        is_training=is_training, trainable=trainable,
        variables_collections=variables_collections, batch_weights=batch_weights,
        zero_debias=zero_debias_moving_mean, adjustment=adjustment)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return _collect_outputs(outputs_collections, outputs, sc.name)


def _batch_norm_in_scope(inputs, *, channel_axis, depth, decay, center, scale, epsilon,
                         param_initializers, param_regularizers, updates_collections,
                         is_training, trainable, variables_collections, batch_weights,
                         zero_debias, adjustment):
  """batch_norm's variables, statistics and normalization, in its variable scope."""
  low_precision = inputs.dtype.base_dtype in (tf.float16, tf.bfloat16)
  param_dtype = tf.float32 if low_precision else inputs.dtype.base_dtype
  beta, gamma, moving_mean, moving_variance = _batch_norm_variables(
      depth, param_dtype, center, scale, param_initializers, trainable,
      variables_collections, param_regularizers=param_regularizers)
  # As contrib, the debiasing variables exist only where the mean can be updated.
  debias = (_zero_debias_variables(moving_mean, variables_collections)
            if zero_debias and is_training is not False else None)
  x = tf.cast(inputs, tf.float32) if low_precision else inputs
  rank = inputs.shape.rank
  axes = [a for a in range(rank) if a != channel_axis % rank]
  mean, variance = _batch_norm_statistics(
      x, is_training, decay, moving_mean, moving_variance, updates_collections,
      axes=axes, batch_weights=batch_weights, zero_debias=debias)
  offset, multiplier = beta, gamma
  if adjustment is not None and is_training is not False:
    offset, multiplier = _adjusted_transform(x, adjustment, is_training, beta, gamma)
  if channel_axis == 1:  # Parameters [C] broadcast as [1, C, 1, ...].
    shape = [1, depth] + [1] * (rank - 2)
    mean, variance = tf.reshape(mean, shape), tf.reshape(variance, shape)
    offset = None if offset is None else tf.reshape(offset, shape)
    multiplier = None if multiplier is None else tf.reshape(multiplier, shape)
  outputs = tf.nn.batch_normalization(x, mean, variance, offset, multiplier, epsilon)
  if low_precision:
    outputs = tf.cast(outputs, inputs.dtype.base_dtype)
  outputs.set_shape(inputs.shape)
  return outputs


def _adjusted_transform(x, adjustment, is_training, beta, gamma):
  """Composes contrib's training-only `adjustment` with gamma and beta.

  Returns (offset, multiplier) with `normalized * adj_scale + adj_bias` followed by
  `* gamma + beta` folded into one affine map; at inference the adjustment is 1 and 0.
  """
  adj_scale, adj_bias = adjustment(tf.shape(x))
  adj_scale = tf.cast(adj_scale, x.dtype)
  adj_bias = tf.cast(adj_bias, x.dtype)
  adj_scale = _smart_cond(is_training, lambda: adj_scale,
                          lambda: tf.ones_like(adj_scale))
  adj_bias = _smart_cond(is_training, lambda: adj_bias, lambda: tf.zeros_like(adj_bias))
  multiplier = adj_scale if gamma is None else adj_scale * gamma
  offset = adj_bias if gamma is None else adj_bias * gamma
  if beta is not None:
    offset = offset + beta
  return offset, multiplier


def _batch_norm_statistics(inputs, is_training, decay, moving_mean, moving_variance,
                           updates_collections, axes=None, batch_weights=None,
                           zero_debias=None):
  """Returns the (mean, variance) to normalize with, adding the moving-average updates.

  With `is_training` a tensor, both branches exist in the graph: the update ops in
  `updates_collections` then only update when it is True, so running UPDATE_OPS at
  evaluation changes nothing.

  Args:
    inputs: float tensor; its statistics are taken over `axes` (default: all but the
      last).
    is_training: Python bool or scalar bool tensor.
    decay: the moving averages' decay.
    moving_mean, moving_variance: the `[depth]` variables.
    updates_collections: list of collections of the update ops, or None to update in
      the forward pass.
    axes: the axes to reduce. Default all but the last.
    batch_weights: optional `[batch_size]` example weights (weighted moments).
    zero_debias: optional (biased, local_step) variables: the mean update is then
      zero-debiased.

  Returns:
    (mean, variance), each `[depth]`.
  """
  moving_stats = lambda: (tf.identity(moving_mean), tf.identity(moving_variance))
  if is_training is False:
    return moving_stats()
  if axes is None:
    axes = list(range(inputs.shape.rank - 1))
  if batch_weights is None:
    mean, variance = tf.nn.moments(inputs, axes)  # [depth] each
  else:
    weights = tf.reshape(tf.cast(batch_weights, inputs.dtype),
                         [-1] + [1] * (inputs.shape.rank - 1))
    mean, variance = tf.nn.weighted_moments(inputs, axes, weights)

  def updates():
    if zero_debias is None:
      update_mean = _assign_moving_average(moving_mean, mean, decay)
    else:
      update_mean = _assign_zero_debiased_average(moving_mean, mean, decay,
                                                  *zero_debias)
    return update_mean, _assign_moving_average(moving_variance, variance, decay)

  if updates_collections is None:
    def forced_updates():
      with tf.control_dependencies(updates()):
        return tf.identity(mean), tf.identity(variance)
    return _smart_cond(is_training, forced_updates, moving_stats)
  update_mean, update_variance = _smart_cond(is_training, updates, moving_stats)
  _V1.add_to_collections(updates_collections, update_mean)
  _V1.add_to_collections(updates_collections, update_variance)
  return _smart_cond(is_training, lambda: (mean, variance), moving_stats)
