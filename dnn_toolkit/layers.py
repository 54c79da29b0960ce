"""Layer builders with tf.contrib.layers' signatures, semantics and variable names.

Each builder creates its variables with `tf.compat.v1.get_variable` inside a
`tf.compat.v1.variable_scope`, so names match what TF 1.x contrib code wrote
(`hidden1/weights`, `hidden1/biases`, `hidden1/BatchNorm/moving_mean`) and checkpoints
written by such code restore into graphs built here. They are built on `tf.nn` ops, not on
Keras layers, and work both with `tf.compat.v1.disable_v2_behavior()` (reference
variables) and with only eager execution disabled (resource variables).
"""

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.arg_scope import add_arg_scope
from dnn_toolkit.initializers import xavier_initializer

_V1 = tf.compat.v1
UPDATE_OPS = _V1.GraphKeys.UPDATE_OPS


def _inputs_with_known_depth(inputs, fn_name, min_rank=2):
  """Converts `inputs` to a float tensor and returns it with its last dimension."""
  inputs = tf.convert_to_tensor(inputs)
  if not inputs.dtype.is_floating:
    raise TypeError(f"{fn_name}: expected `inputs` to be a floating point tensor. "
                    f"Received: inputs.dtype={inputs.dtype.name}")
  rank = inputs.shape.rank
  if rank is None or rank < min_rank:
    raise ValueError(f"{fn_name}: expected `inputs` of rank >= {min_rank} "
                     f"([batch_size, ..., depth]). Received: inputs.shape={inputs.shape}")
  depth = inputs.shape[-1]
  if depth is None:
    raise ValueError(f"{fn_name}: the last dimension of `inputs` must be known to "
                     "create the variables; give the placeholder a full shape such as "
                     f"[None, 784]. Received: inputs.shape={inputs.shape}")
  return inputs, int(depth)


def _check_is_training(is_training):
  if isinstance(is_training, bool):
    return is_training
  if (isinstance(is_training, (tf.Tensor, tf.Variable))
      and is_training.dtype.base_dtype == tf.bool):
    static = tf.get_static_value(is_training)
    return bool(static) if static is not None else is_training
  raise TypeError("Expected `is_training` to be a Python bool or a scalar bool tensor "
                  "(e.g. tf.placeholder_with_default(False, shape=())). "
                  f"Received: is_training={is_training!r}")


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


def _collect_outputs(outputs_collections, outputs):
  if outputs_collections:
    if isinstance(outputs_collections, str):
      outputs_collections = [outputs_collections]
    _V1.add_to_collections(outputs_collections, outputs)
  return outputs


def _check_callable(name, fn):
  if fn is not None and not callable(fn):
    raise TypeError(f"Expected `{name}` to be callable or None. Received: {name}={fn!r}")


@add_arg_scope
def fully_connected(inputs, num_outputs, activation_fn=tf.nn.relu, normalizer_fn=None,
                    normalizer_params=None, weights_initializer=xavier_initializer(),
                    weights_regularizer=None,
                    biases_initializer=_V1.zeros_initializer(), biases_regularizer=None,
                    reuse=None, variables_collections=None, outputs_collections=None,
                    trainable=True, scope=None):
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
    _check_callable(name, fn)
  if reuse is True and scope is None:
    raise ValueError("fully_connected: `reuse=True` needs the `scope` to reuse. "
                     "Received: scope=None")
  inputs, depth = _inputs_with_known_depth(inputs, "fully_connected")
  dtype = inputs.dtype.base_dtype
  with _V1.variable_scope(scope, default_name="fully_connected", values=[inputs],
                          reuse=reuse):
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
    return _collect_outputs(outputs_collections, outputs)


@add_arg_scope
def dropout(inputs, keep_prob=0.5, noise_shape=None, is_training=True,
            outputs_collections=None, scope=None, seed=None):
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
  is_training = _check_is_training(is_training)
  inputs = tf.convert_to_tensor(inputs)
  with _V1.variable_scope(scope, default_name="Dropout", values=[inputs]):
    if isinstance(keep_prob, float) and keep_prob == 1.0:
      outputs = tf.identity(inputs)
    else:
      outputs = _smart_cond(
          is_training,
          lambda: _dropout_mask(inputs, 1.0 - keep_prob, noise_shape, seed),
          lambda: tf.identity(inputs))
    return _collect_outputs(outputs_collections, outputs)


def _dropout_mask(inputs, rate, noise_shape, seed):
  if callable(seed):
    seed = seed()  # Built here, in the training branch: inference never reads it.
  if isinstance(seed, (tf.Tensor, tf.Variable)):
    return tf.nn.experimental.stateless_dropout(inputs, rate, seed,
                                                noise_shape=noise_shape)
  return tf.nn.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed)


def _assign_moving_average(variable, value, decay):
  """`variable -= (variable - value) * (1 - decay)`, as contrib did (no zero-debias)."""
  with tf.name_scope("AssignMovingAvg"):
    delta = (variable - value) * (1.0 - decay)
    return _V1.assign_sub(variable, delta)


def _batch_norm_variables(depth, dtype, center, scale, param_initializers, trainable,
                          variables_collections):
  """Creates beta, gamma, moving_mean and moving_variance in the current scope."""
  inits = dict(param_initializers or {})
  unknown = set(inits) - {"beta", "gamma", "moving_mean", "moving_variance"}
  if unknown:
    raise ValueError("Received unknown keys in `param_initializers`: "
                     f"{sorted(unknown)}; expected beta, gamma, moving_mean, "
                     "moving_variance.")
  make = lambda name, default, train: _model_variable(
      name, [depth], dtype, inits.get(name, default), None, train, variables_collections)
  beta = make("beta", _V1.zeros_initializer(), trainable) if center else None
  gamma = make("gamma", _V1.ones_initializer(), trainable) if scale else None
  moving_mean = make("moving_mean", _V1.zeros_initializer(), False)
  moving_variance = make("moving_variance", _V1.ones_initializer(), False)
  return beta, gamma, moving_mean, moving_variance


@add_arg_scope
def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001,
               activation_fn=None, param_initializers=None, is_training=True,
               updates_collections=UPDATE_OPS, reuse=None, variables_collections=None,
               outputs_collections=None, trainable=True, scope=None):
  """Adds batch normalization (Ioffe and Szegedy, 2015) over all axes but the last.

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
  `moving_mean`, `moving_variance` (never trainable).

  Args:
    inputs: float tensor `[batch_size, ..., depth]` with a known last dimension.
    decay: the moving averages' decay, in [0, 1). Lower values (0.9, 0.99) adapt faster
      and suit short runs. Default 0.999.
    center: add the learned offset `beta`. Default True.
    scale: multiply by the learned `gamma`. Default False; not needed before a ReLU or
      a linear layer, which can absorb the scale.
    epsilon: positive float added to the variance. Default 0.001.
    activation_fn: optional activation applied to the output.
    param_initializers: optional dict of initializers for 'beta', 'gamma',
      'moving_mean' and 'moving_variance'.
    is_training: Python bool or scalar bool tensor. Default True.
    updates_collections: collections of the update ops, or None to update in place.
    reuse: True to share the variables of an existing scope.
    variables_collections: extra collections of the variables (list or dict by name).
    outputs_collections: collections the output is added to.
    trainable: False keeps beta and gamma out of `TRAINABLE_VARIABLES`.
    scope: optional variable scope. Default 'BatchNorm'.

  Returns:
    A tensor of the shape of `inputs`.

  Raises:
    ValueError: if `decay` is outside [0, 1), `epsilon` is not positive, or the last
      dimension of `inputs` is unknown.
    TypeError: if `is_training` is neither a bool nor a bool tensor.
  """
  decay = _validation.check_in_range("decay", decay, 0.0, 1.0, high_open=True)
  epsilon = _validation.check_in_range("epsilon", epsilon, 0.0, None, low_open=True)
  _check_callable("activation_fn", activation_fn)
  is_training = _check_is_training(is_training)
  inputs, depth = _inputs_with_known_depth(inputs, "batch_norm")
  if isinstance(updates_collections, str):
    updates_collections = [updates_collections]
  with _V1.variable_scope(scope, default_name="BatchNorm", values=[inputs], reuse=reuse):
    beta, gamma, moving_mean, moving_variance = _batch_norm_variables(
        depth, inputs.dtype.base_dtype, center, scale, param_initializers, trainable,
        variables_collections)
    mean, variance = _batch_norm_statistics(
        inputs, is_training, decay, moving_mean, moving_variance, updates_collections)
    outputs = tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, epsilon)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return _collect_outputs(outputs_collections, outputs)


def _batch_norm_statistics(inputs, is_training, decay, moving_mean, moving_variance,
                           updates_collections):
  """Returns the (mean, variance) to normalize with, adding the moving-average updates.

  With `is_training` a tensor, both branches exist in the graph: the update ops in
  `updates_collections` then only update when it is True, so running UPDATE_OPS at
  evaluation changes nothing.
  """
  moving_stats = lambda: (tf.identity(moving_mean), tf.identity(moving_variance))
  if is_training is False:
    return moving_stats()
  axes = list(range(inputs.shape.rank - 1))
  mean, variance = tf.nn.moments(inputs, axes)  # [depth] each

  def updates():
    return (_assign_moving_average(moving_mean, mean, decay),
            _assign_moving_average(moving_variance, variance, decay))

  if updates_collections is None:
    def forced_updates():
      with tf.control_dependencies(updates()):
        return tf.identity(mean), tf.identity(variance)
    return _smart_cond(is_training, forced_updates, moving_stats)
  update_mean, update_variance = _smart_cond(is_training, updates, moving_stats)
  _V1.add_to_collections(updates_collections, update_mean)
  _V1.add_to_collections(updates_collections, update_variance)
  return _smart_cond(is_training, lambda: (mean, variance), moving_stats)
