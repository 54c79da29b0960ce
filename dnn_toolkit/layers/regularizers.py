"""Weight regularizers: l1, l2, l1_l2, sums of them, and max-norm clipping.

Each factory validates its arguments at once and returns a closure `fn(weights)`, as
tf.contrib.layers' regularizers do, with their op names (a penalty is the op named by
its scope: `hidden1/kernel/Regularizer/l2_regularizer`). Pass it as
`weights_regularizer=` to a layer: the layer then adds the penalty of a new variable to
`tf.GraphKeys.REGULARIZATION_LOSSES`, so the lesson's

    reg_losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    loss = tf.add_n([base_loss] + reg_losses, name="loss")

sums every penalty of the model. `apply_regularization` penalizes a list of weights
after the fact.

One deliberate difference from contrib: integer scales are accepted
(`l1_regularizer(1)` is `l1_regularizer(1.0)`; contrib raised ValueError).
"""

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.errors import GraphStateError

_V1 = tf.compat.v1

#: The collection `max_norm_regularizer` puts its clipping ops in by default.
MAX_NORM_OPS = "max_norm"

# graph -> {(collection, variable name): (threshold, axes)} of the clips already made.
# get_variable calls a regularizer more than once per variable (once to test it, again
# each time the lazy penalty is read), so the clip op is made on the first call only.
_CLIPPED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check_scale(name, scale):
  return _validation.check_in_range(name, scale, 0.0, None)


def _penalty(default_name, scope, scale, weights, compute):
  # The op is named by the scope itself, as contrib named it ("l2_regularizer").
  with tf.name_scope(scope or default_name) as name:
    my_scale = tf.convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
    return tf.multiply(my_scale, compute(weights), name=name)


def l1_regularizer(scale: float, scope: str | None = None
                   ) -> Callable[[tf.Tensor], tf.Tensor | None]:
  """Returns `fn(weights) = scale * sum(|weights|)`.

  Args:
    scale: non-negative number; 0 disables the regularizer (`fn` returns None).
    scope: optional name of the penalty op. Default 'l1_regularizer'.

  Returns:
    A function `weights -> scalar tensor` (or None when scale is 0).

  Raises:
    ValueError: if `scale` is negative. TypeError: if it is not a number.
  """
  scale = _check_scale("scale", scale)
  if scale == 0.0:
    return lambda _: None
  return lambda weights: _penalty("l1_regularizer", scope, scale, weights,
                                  lambda w: tf.reduce_sum(tf.abs(w)))


def l2_regularizer(scale: float, scope: str | None = None
                   ) -> Callable[[tf.Tensor], tf.Tensor | None]:
  """Returns `fn(weights) = scale * sum(weights ** 2) / 2` (`scale * tf.nn.l2_loss`).

  Args:
    scale: non-negative number; 0 disables the regularizer (`fn` returns None).
    scope: optional name of the penalty op. Default 'l2_regularizer'.

  Returns:
    A function `weights -> scalar tensor` (or None when scale is 0).

  Raises:
    ValueError: if `scale` is negative. TypeError: if it is not a number.
  """
  scale = _check_scale("scale", scale)
  if scale == 0.0:
    return lambda _: None
  return lambda weights: _penalty("l2_regularizer", scope, scale, weights,
                                  tf.nn.l2_loss)


def l1_l2_regularizer(scale_l1: float = 1.0, scale_l2: float = 1.0,
                      scope: str | None = None
                      ) -> Callable[[tf.Tensor], tf.Tensor | None]:
  """Returns `fn(weights) = l1(scale_l1)(weights) + l2(scale_l2)(weights)`.

  As in contrib, a zero scale leaves the other term alone under the same name: the
  penalty op is named `scope` (default 'l1_l2_regularizer') in every case.

  Args:
    scale_l1: non-negative number, the l1 scale. Default 1.0.
    scale_l2: non-negative number, the l2 scale. Default 1.0.
    scope: optional name of the penalty op.

  Returns:
    A function `weights -> scalar tensor`, or one returning None when both scales are 0.

  Raises:
    ValueError: if a scale is negative. TypeError: if a scale is not a number.
  """
  scale_l1 = _check_scale("scale_l1", scale_l1)
  scale_l2 = _check_scale("scale_l2", scale_l2)
  scope = scope or "l1_l2_regularizer"
  if scale_l1 == 0.0:
    return l2_regularizer(scale_l2, scope)
  if scale_l2 == 0.0:
    return l1_regularizer(scale_l1, scope)
  return sum_regularizer(  # type: ignore[return-value]  # Two regularizers: never None.
      [l1_regularizer(scale_l1), l2_regularizer(scale_l2)], scope=scope)


def sum_regularizer(
    regularizer_list: Sequence[Callable[[tf.Tensor], tf.Tensor | None] | None],
    scope: str | None = None) -> Callable[[tf.Tensor], tf.Tensor | None] | None:
  """Returns `fn(weights)`, the sum of every regularizer's penalty.

  Regularizers returning None (a zero scale, max-norm) add nothing; when none returns a
  penalty `fn` returns None.

      reg = sum_regularizer([l1_regularizer(0.01), max_norm_regularizer(1.0)])

  Args:
    regularizer_list: list or tuple of regularizer functions; None entries are skipped.
    scope: optional name of the sum op. Default 'sum_regularizer'.

  Returns:
    A function `weights -> scalar tensor or None`, or None if the list holds no
    regularizer (as contrib).

  Raises:
    TypeError: if `regularizer_list` is not a list or tuple, or holds a non-callable.
  """
  if not isinstance(regularizer_list, (list, tuple)):
    raise TypeError("Expected `regularizer_list` to be a list or tuple of regularizers. "
                    f"Received: regularizer_list={regularizer_list!r}")
  for fn in regularizer_list:
    _validation.check_callable("regularizer_list", fn)
  regularizers = [fn for fn in regularizer_list if fn is not None]
  if not regularizers:
    return None

  def sum_reg(weights):
    with tf.name_scope(scope or "sum_regularizer") as name:
      penalties = [p for p in (fn(weights) for fn in regularizers) if p is not None]
      return tf.add_n(penalties, name=name) if penalties else None

  return sum_reg


def apply_regularization(regularizer: Callable[[tf.Tensor], tf.Tensor | None],
                         weights_list: Sequence[tf.Tensor | tf.Variable] | None = None
                         ) -> tf.Tensor:
  """Returns the summed penalty of `regularizer` over `weights_list`, and collects it.

  The sum (op `get_regularization_penalty`) joins `tf.GraphKeys.REGULARIZATION_LOSSES`.

  Args:
    regularizer: a function `weights -> scalar tensor or None` (None counts as 0).
    weights_list: tensors or variables to penalize. Default: the `tf.GraphKeys.WEIGHTS`
      collection.

  Returns:
    A scalar tensor.

  Raises:
    TypeError: if `regularizer` is not callable.
    ValueError: if there are no weights, or the regularizer returns a non-scalar.
  """
  _validation.check_callable("regularizer", regularizer, allow_none=False)
  if not weights_list:
    weights_list = _V1.get_collection(_V1.GraphKeys.WEIGHTS)
  if not weights_list:
    raise ValueError("No weights to regularize: expected a non-empty `weights_list` or "
                     "weights in the tf.GraphKeys.WEIGHTS collection. "
                     f"Received: weights_list={weights_list!r}")
  with tf.name_scope("get_regularization_penalty") as scope:
    penalties: list[Any] = [regularizer(w) for w in weights_list]
    penalties = [tf.constant(0.0) if p is None else p for p in penalties]
    for p in penalties:
      if p.shape.rank != 0:
        raise ValueError("Expected `regularizer` to return a scalar tensor. Received a "
                         f"tensor of shape {p.shape}.")
    summed = tf.add_n(penalties, name=scope)
  _V1.add_to_collection(_V1.GraphKeys.REGULARIZATION_LOSSES, summed)
  return summed


def max_norm_regularizer(threshold: float, axes: int | Sequence[int] | None = 1,
                         name: str = "max_norm", collection: str = MAX_NORM_OPS
                         ) -> Callable[[tf.Tensor], None]:
  """Returns a regularizer that clips weights to a maximum l2 norm after each step.

  Max-norm adds no loss term: `fn(weights)` creates an op that assigns
  `tf.clip_by_norm(weights, threshold, axes)` back to the weights, puts it in
  `collection` and returns None. Run `max_norm_op()` after every training step:

      hidden1 = fully_connected(X, 300, weights_regularizer=max_norm_regularizer(1.0))
      clip_all = max_norm_op()
      ...
      sess.run(train_op, feed_dict=...)
      sess.run(clip_all)

  Each variable gets exactly one clip op per collection, however often the function is
  called on it (get_variable calls a regularizer several times, and it may be combined
  with penalties in `sum_regularizer`): two clips of one variable in one `Session.run`
  would race.

  Args:
    threshold: positive number, the largest norm allowed.
    axes: the axes the norm is taken over: an int, a list of ints, or None for the whole
      tensor. For a `[n_inputs, n_outputs]` weight matrix the default 1 limits each
      input's outgoing weights; 0 limits each unit's incoming weights (one norm per
      neuron, as in the max-norm paper).
    name: the name of the assign op.
    collection: the collection the op is added to. Default `MAX_NORM_OPS`.

  Returns:
    A function `weights -> None`.

  Raises:
    ValueError: if `threshold` is not positive, or (when applied) the variable already
      has a clip with another threshold or axes. TypeError: if `threshold` is not a
      number or `axes` is not an int, a list of ints or None.
  """
  threshold = _validation.check_in_range("threshold", threshold, 0.0, None,
                                         low_open=True)
  axes = _validation.check_axes("axes", axes)

  def max_norm(weights):
    if not _first_clip(weights, collection, (threshold, axes)):
      return None
    clipped = tf.clip_by_norm(weights, clip_norm=threshold,
                              axes=list(axes) if isinstance(axes, tuple) else axes)
    clip_weights = _V1.assign(weights, clipped, name=name)
    _V1.add_to_collection(collection, clip_weights)
    return None  # No loss term.

  return max_norm


def _first_clip(weights, collection, settings):
  """Records a clip of `weights` in `collection`; False if it already has one."""
  graph = weights.graph
  made = _CLIPPED.setdefault(graph, {})
  key = (collection, weights.op.name)
  if key not in made:
    made[key] = settings
    return True
  if made[key] != settings:
    raise ValueError(
        f"`{weights.op.name}` already has a max-norm clip in collection {collection!r} "
        f"with (threshold, axes)={made[key]}; expected one clip per variable. "
        f"Received: (threshold, axes)={settings}")
  return False


def max_norm_op(collection: str = MAX_NORM_OPS,
                name: str = "max_norm_clip") -> tf.Operation:
  """Returns one op that runs every max-norm clip of the default graph.

  Args:
    collection: the collection the clips were put in. Default `MAX_NORM_OPS`.
    name: the name of the grouped op.

  Returns:
    A `tf.Operation` to run after each training step.

  Raises:
    GraphStateError: if the collection is empty (no layer used max_norm_regularizer).
  """
  ops = _V1.get_collection(collection)
  if not ops:
    raise GraphStateError(
        f"No max-norm clip op in collection {collection!r} of the default graph: pass "
        "weights_regularizer=max_norm_regularizer(threshold) to a layer first.")
  return tf.group(*ops, name=name)
