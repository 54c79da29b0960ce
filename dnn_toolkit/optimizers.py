"""Optimizers, learning-rate schedules and gradient clipping, chosen by name.

Every function builds ops in the default graph; names are validated before any op is
created.
"""

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.config import OPTIMIZERS, check_schedule

_V1 = tf.compat.v1


def make_optimizer(name: str, learning_rate: float | tf.Tensor,
                   momentum: float = 0.9) -> tf.compat.v1.train.Optimizer:
  """Returns a `tf.compat.v1.train` optimizer from its name.

  Args:
    name: 'sgd' (plain gradient descent), 'momentum', 'nesterov' (momentum with
      Nesterov's look-ahead), 'adagrad', 'rmsprop' or 'adam'.
    learning_rate: positive float or scalar tensor (e.g. a schedule).
    momentum: the momentum of 'momentum', 'nesterov' and 'rmsprop'. Default 0.9.

  Returns:
    A `tf.compat.v1.train.Optimizer`.

  Raises:
    ValueError: if `name` is unknown (the message lists the known ones), or a
      numeric `learning_rate` is not positive.
  """
  _validation.check_choice("optimizer", name, OPTIMIZERS)
  if not isinstance(learning_rate, (tf.Tensor, tf.Variable)):
    _validation.check_in_range("learning_rate", learning_rate, 0.0, None, low_open=True)
  momentum = _validation.check_in_range("momentum", momentum, 0.0, 1.0, high_open=True)
  if name == "sgd":
    return _V1.train.GradientDescentOptimizer(learning_rate)
  if name in ("momentum", "nesterov"):
    return _V1.train.MomentumOptimizer(learning_rate, momentum,
                                       use_nesterov=(name == "nesterov"))
  if name == "adagrad":
    return _V1.train.AdagradOptimizer(learning_rate)
  if name == "rmsprop":
    return _V1.train.RMSPropOptimizer(learning_rate, momentum=momentum, decay=0.9,
                                      epsilon=1e-10)
  return _V1.train.AdamOptimizer(learning_rate)


def learning_rate_schedule(schedule: str, learning_rate: float,
                           global_step: tf.Variable, decay_steps: int = 10000,
                           decay_rate: float = 0.1, boundaries: Sequence[int] = (),
                           values: Sequence[float] = ()) -> tf.Tensor:
  """Returns the learning rate as a scalar tensor of `global_step`.

  Args:
    schedule: 'none' (constant), 'exponential' (`lr * decay_rate ** (step /
      decay_steps)`) or 'piecewise' (`values[i]` while `step <= boundaries[i]`).
    learning_rate: positive float, the initial rate ('none' and 'exponential').
    global_step: the int64 global step variable.
    decay_steps: positive int, for 'exponential'.
    decay_rate: positive float, for 'exponential'.
    boundaries: increasing ints, for 'piecewise'.
    values: positive floats, one more than `boundaries`, for 'piecewise'.

  Returns:
    A float32 scalar tensor named 'learning_rate'.

  Raises:
    ValueError: on an unknown schedule or inconsistent parameters.
  """
  check_schedule(schedule, learning_rate, decay_steps, decay_rate, boundaries, values)
  if schedule == "exponential":
    rate = _V1.train.exponential_decay(learning_rate, global_step, decay_steps,
                                       decay_rate)
  elif schedule == "piecewise":
    rate = _V1.train.piecewise_constant(global_step, [int(b) for b in boundaries],
                                        [float(v) for v in values])
  elif schedule == "plateau":
    raise ValueError("A 'plateau' schedule is driven by the validation loss: build it "
                     "with `PlateauSchedule`, not `learning_rate_schedule`.")
  else:
    rate = tf.constant(float(learning_rate))
  return tf.identity(tf.cast(rate, tf.float32), name="learning_rate")


class PlateauSchedule:
  """Reduce on plateau, the TF 1.x way: a learning-rate variable the trainer lowers.

  After `patience` epochs without a lower validation loss, the rate is multiplied by
  `factor` and the count starts again. The rate and the count are variables of the
  graph (global, not trainable), so the latest checkpoint holds them and a resumed run
  continues exactly. `build_dnn` builds one for `schedule='plateau'` and puts it in
  `dnn.hooks`, which `training.fit` calls after each epoch's validation, before any
  other hook (so the checkpoint written after the epoch holds the new rate).

      schedule = PlateauSchedule(0.01, factor=0.5, patience=2)
      optimizer = make_optimizer("adam", schedule.learning_rate)

  Args:
    learning_rate: positive float, the initial rate.
    factor: float in (0, 1), the multiplier.
    patience: positive int, epochs without improvement before a reduction.
  """

  variable: tf.Variable
  wait: tf.Variable
  learning_rate: tf.Tensor

  def __init__(self, learning_rate: float, factor: float = 0.5,
               patience: int = 2) -> None:
    learning_rate = _validation.check_in_range("learning_rate", learning_rate, 0.0,
                                               None, low_open=True)
    factor = _validation.check_in_range("factor", factor, 0.0, 1.0, low_open=True,
                                        high_open=True)
    patience = _validation.check_positive_int("patience", patience)
    with _V1.variable_scope("plateau_schedule"):
      self.variable = _V1.get_variable("learning_rate", dtype=tf.float32,
                                       initializer=learning_rate, trainable=False)
      self.wait = _V1.get_variable("epochs_without_improvement", dtype=tf.int64,
                                   initializer=tf.constant(0, tf.int64),
                                   trainable=False)
      self._improved = _V1.placeholder(tf.bool, (), name="improved")
      waited = tf.where(self._improved, tf.constant(0, tf.int64), self.wait + 1)
      reduce = waited >= patience
      self._update = tf.group(
          self.variable.assign(tf.where(reduce, self.variable * factor, self.variable)),
          self.wait.assign(tf.where(reduce, tf.constant(0, tf.int64), waited)),
          name="update")
    self.learning_rate = tf.identity(self.variable, name="learning_rate")

  def after_epoch(self, sess: tf.compat.v1.Session, state: Any,
                  metrics: dict[str, float], improved: bool) -> None:
    """Counts the epoch; lowers the rate once `patience` epochs did not improve."""
    del state, metrics  # Unused: the count lives in the graph, for exact resume.
    sess.run(self._update, {self._improved: bool(improved)})


def clip_gradients(grads_and_vars: Sequence[tuple[tf.Tensor | None, tf.Variable]],
                   clip_value: float | None = None, clip_norm: float | None = None
                   ) -> list[tuple[tf.Tensor, tf.Variable]]:
  """Clips gradients by value, by global norm, both, or returns them unchanged.

  Args:
    grads_and_vars: list of (gradient, variable) from `optimizer.compute_gradients`.
    clip_value: optional positive float; each gradient is clipped to
      [-clip_value, clip_value].
    clip_norm: optional positive float; all gradients are scaled together so their
      global l2 norm is at most `clip_norm`.

  Returns:
    A list of (gradient, variable): the pairs whose gradient is not None (variables
    the loss does not depend on are dropped), clipped.
  """
  pairs = [(g, v) for g, v in grads_and_vars if g is not None]
  grads = [g for g, _ in pairs]
  if clip_value is not None:
    grads = [tf.clip_by_value(g, -clip_value, clip_value) for g in grads]
  if clip_norm is not None:
    grads, _ = tf.clip_by_global_norm(grads, clip_norm)
  return list(zip(grads, [v for _, v in pairs]))


def train_op(optimizer: tf.compat.v1.train.Optimizer, loss: tf.Tensor, *,
             global_step: tf.Variable, var_list: Sequence[tf.Variable] | None = None,
             clip_value: float | None = None, clip_norm: float | None = None,
             name: str = "training_op"
             ) -> tuple[list[tuple[tf.Tensor, tf.Variable]], tf.Operation]:
  """The one train-op recipe: gradients, clipping, batch-norm updates, global step.

  `build_dnn`, freezing and unfreezing (`dnn_toolkit.transfer`) and distributed
  training all build their train op here:

      grads_and_vars, op = train_op(optimizer, dnn.loss, global_step=dnn.global_step)

  Args:
    optimizer: a `tf.compat.v1.train.Optimizer` (e.g. from `make_optimizer`, or one
      wrapping it such as `SyncReplicasOptimizer`).
    loss: the scalar loss tensor.
    global_step: the global step variable, incremented by each run of the op.
    var_list: the variables to train; default every trainable variable.
    clip_value, clip_norm: as `clip_gradients`.
    name: the name of the op. Default 'training_op'.

  Returns:
    (grads_and_vars, the train op). Running the op first runs the ops in the graph's
    UPDATE_OPS collection (batch norm's moving averages).
  """
  grads_and_vars = optimizer.compute_gradients(loss, var_list=var_list)
  grads_and_vars = clip_gradients(grads_and_vars, clip_value, clip_norm)
  # A fresh op to depend on: the update ops may already have run in a Session
  # (freezing after training), and TensorFlow warns when a run op gains dependents.
  updates = _V1.get_collection(_V1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies([tf.group(*updates, name="update_ops")] if updates
                               else []):
    op = optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)
  return grads_and_vars, op
