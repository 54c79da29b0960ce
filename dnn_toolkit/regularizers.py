"""Weight regularizers: l1, l2, l1_l2 penalties and max-norm clipping.

Each factory validates its arguments at once and returns a closure `fn(weights)`. Pass it
as `weights_regularizer=` to a layer: `tf.compat.v1.get_variable` then adds the penalty
to `tf.GraphKeys.REGULARIZATION_LOSSES`, so the lesson's

    reg_losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    loss = tf.add_n([base_loss] + reg_losses, name="loss")

sums every penalty of the model.
"""

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.errors import GraphStateError

#: The collection `max_norm_regularizer` puts its clipping ops in by default.
MAX_NORM_OPS = "max_norm"


def _check_scale(name, scale):
  return _validation.check_in_range(name, scale, 0.0, None)


def l1_regularizer(scale, scope=None):
  """Returns `fn(weights) = scale * sum(|weights|)`.

  Args:
    scale: non-negative float; 0.0 disables the regularizer (`fn` returns None).
    scope: optional name scope of the penalty ops.

  Returns:
    A function `weights -> scalar tensor` (or None when scale is 0).

  Raises:
    ValueError: if `scale` is negative. TypeError: if it is not a number.
  """
  scale = _check_scale("scale", scale)
  if scale == 0.0:
    return lambda _: None

  def l1(weights):
    with tf.name_scope(scope or "l1_regularizer"):
      my_scale = tf.convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
      return tf.multiply(my_scale, tf.reduce_sum(tf.abs(weights)), name="value")

  return l1


def l2_regularizer(scale, scope=None):
  """Returns `fn(weights) = scale * sum(weights ** 2) / 2` (`scale * tf.nn.l2_loss`).

  Args:
    scale: non-negative float; 0.0 disables the regularizer (`fn` returns None).
    scope: optional name scope of the penalty ops.

  Returns:
    A function `weights -> scalar tensor` (or None when scale is 0).

  Raises:
    ValueError: if `scale` is negative. TypeError: if it is not a number.
  """
  scale = _check_scale("scale", scale)
  if scale == 0.0:
    return lambda _: None

  def l2(weights):
    with tf.name_scope(scope or "l2_regularizer"):
      my_scale = tf.convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
      return tf.multiply(my_scale, tf.nn.l2_loss(weights), name="value")

  return l2


def l1_l2_regularizer(scale_l1=1.0, scale_l2=1.0, scope=None):
  """Returns `fn(weights) = l1(scale_l1)(weights) + l2(scale_l2)(weights)`.

  Args:
    scale_l1: non-negative float, the l1 scale. Default 1.0.
    scale_l2: non-negative float, the l2 scale. Default 1.0.
    scope: optional name scope of the penalty ops.

  Returns:
    A function `weights -> scalar tensor`, or one returning None when both scales are 0.

  Raises:
    ValueError: if a scale is negative. TypeError: if a scale is not a number.
  """
  scale_l1 = _check_scale("scale_l1", scale_l1)
  scale_l2 = _check_scale("scale_l2", scale_l2)
  if scale_l1 == 0.0 and scale_l2 == 0.0:
    return lambda _: None
  terms = [fn for fn in (l1_regularizer(scale_l1), l2_regularizer(scale_l2))]

  def l1_l2(weights):
    with tf.name_scope(scope or "l1_l2_regularizer"):
      penalties = [p for p in (fn(weights) for fn in terms) if p is not None]
      return tf.add_n(penalties, name="value")

  return l1_l2


def max_norm_regularizer(threshold, axes=1, name="max_norm", collection=MAX_NORM_OPS):
  """Returns a regularizer that clips weights to a maximum l2 norm after each step.

  Max-norm adds no loss term: `fn(weights)` creates an op that assigns
  `tf.clip_by_norm(weights, threshold, axes)` back to the weights, puts it in
  `collection` and returns None. Run `max_norm_op()` after every training step:

      hidden1 = fully_connected(X, 300, weights_regularizer=max_norm_regularizer(1.0))
      clip_all = max_norm_op()
      ...
      sess.run(train_op, feed_dict=...)
      sess.run(clip_all)

  Args:
    threshold: positive float, the largest norm allowed.
    axes: the axes the norm is taken over. For a `[n_inputs, n_outputs]` weight matrix
      the default 1 limits each input's outgoing weights; 0 limits each unit's incoming
      weights (one norm per neuron, as in the max-norm paper).
    name: the name of the assign op.
    collection: the collection the op is added to. Default `MAX_NORM_OPS`.

  Returns:
    A function `weights -> None`.

  Raises:
    ValueError: if `threshold` is not positive. TypeError: if it is not a number.
  """
  threshold = _validation.check_in_range("threshold", threshold, 0.0, None,
                                         low_open=True)

  def max_norm(weights):
    clipped = tf.clip_by_norm(weights, clip_norm=threshold, axes=axes)
    clip_weights = tf.compat.v1.assign(weights, clipped, name=name)
    tf.compat.v1.add_to_collection(collection, clip_weights)
    return None  # No loss term.

  return max_norm


def max_norm_op(collection=MAX_NORM_OPS, name="max_norm_clip"):
  """Returns one op that runs every max-norm clip of the default graph.

  Args:
    collection: the collection the clips were put in. Default `MAX_NORM_OPS`.
    name: the name of the grouped op.

  Returns:
    A `tf.Operation` to run after each training step.

  Raises:
    GraphStateError: if the collection is empty (no layer used max_norm_regularizer).
  """
  ops = tf.compat.v1.get_collection(collection)
  if not ops:
    raise GraphStateError(
        f"No max-norm clip op in collection {collection!r} of the default graph: pass "
        "weights_regularizer=max_norm_regularizer(threshold) to a layer first.")
  return tf.group(*ops, name=name)
