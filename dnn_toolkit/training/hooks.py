"""The `Hook` protocol of the training loop, and the loop's policies as hooks.

`fit` (and the cluster chief's loop) compose one list:

    standard_hooks(dnn, patience=5, best_weights=BestWeights())   # the policies
      + caller's hooks (checkpoints, TensorBoard logs, ...)
      + [HeldInterrupt()]                                          # last

Each policy is one class, as Keras 3 keeps its callbacks: `TerminateOnNaN` stops on a
NaN or infinite loss, `BestWeights` keeps the weights of the lowest validation loss in
memory and puts them back at the end, `EarlyStopping` ends the run after `patience`
epochs without a lower validation loss, the net's own hooks (a plateau learning-rate
schedule, `DNN.hooks`) lower the rate, and `HeldInterrupt` holds a Ctrl-C until the
steps in flight are counted. The loop itself only counts steps, validates, and records
the best validation loss (`TrainState.best_val_loss`, `best_epoch`), which it passes to
every hook as `improved`.
"""

import math
import signal
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.errors import TrainingDivergedError
from dnn_toolkit.training.state import TrainState

_V1 = tf.compat.v1


class Hook:
  """Something the training loop calls around its steps; override what you need.

  The loop calls, in this order:

      begin(sess, dnn, state)                            # before the first step
      next_step_needed(global_step)                      # before each Session call
      after_step(sess, state, loss, X_batch, y_batch)    # after each Session call
      after_epoch(sess, state, metrics, improved)        # after validation
      on_interrupt(sess, state)                          # Ctrl-C, before it propagates
      on_diverged(sess, state)                           # NaN loss: flush, save nothing
      end(sess, state)                                   # after the loop

  Hooks run in the order given (`standard_hooks` first, `HeldInterrupt` last), so a
  policy that stops the run (`TerminateOnNaN`) acts before a checkpoint is written, the
  best weights are back (`BestWeights.end`) before the other hooks' `end`, and an
  interrupt surfaces only after every hook has seen the step. `state` is the
  `TrainState`, already counting the step or epoch just done.

  A Session call runs one training step, or several (`fit(steps_per_call=...)`): it
  ends at the first step any hook's `next_step_needed` names, and `after_step` then
  sees that step's loss and batch. A hook whose `after_step` needs every step (the
  default for a hook that overrides `after_step` without `next_step_needed`, and for
  hook objects without the method) keeps training at one step per call.

  Attributes:
    last_checkpoint: the path prefix of the newest checkpoint this hook wrote, or None.
      The loop quotes the last one any hook wrote when training diverges ("Last good
      checkpoint: ..."). Hooks that write no checkpoints leave it None.
  """

  last_checkpoint: str | None = None

  def begin(self, sess: tf.compat.v1.Session, dnn: Any, state: TrainState) -> None:
    """Called once before the first step."""

  def after_step(self, sess: tf.compat.v1.Session, state: TrainState, loss: float,
                 X_batch: np.ndarray, y_batch: np.ndarray) -> None:
    """Called after each Session call of training steps, with its last step's float
    loss and batch (`X_batch` `[batch_size, n_inputs]`, `y_batch` `[batch_size]`)."""

  def next_step_needed(self, global_step: int) -> int | None:
    """The first global step > `global_step` whose `after_step` this hook needs.

    A Session call of several steps ends at that step, so `after_step` sees the weights
    and the batch of exactly that step (a checkpoint every N steps returns the next
    multiple of N). Return None when no step is needed.

    Returns:
      An int > `global_step`, or None. Default: `global_step + 1` (every step) when the
      hook overrides `after_step`, else None.
    """
    if type(self).after_step is Hook.after_step:
      return None
    return global_step + 1

  def after_epoch(self, sess: tf.compat.v1.Session, state: TrainState,
                  metrics: dict[str, Any], improved: bool) -> None:
    """Called after each epoch's validation; `improved`: a new best validation loss."""

  def on_interrupt(self, sess: tf.compat.v1.Session, state: TrainState) -> None:
    """Called on Ctrl-C, before the KeyboardInterrupt propagates."""

  def on_diverged(self, sess: tf.compat.v1.Session, state: TrainState) -> None:
    """Called when the loss became NaN or infinite; nothing should be saved then."""

  def end(self, sess: tf.compat.v1.Session, state: TrainState) -> None:
    """Called once after the loop."""


def call_hooks(hooks: Iterable[Any], method: str, *args: Any) -> None:
  """Calls `method(*args)` on every hook that has it, in order."""
  for hook in hooks:
    fn = getattr(hook, method, None)
    if fn is not None:
      fn(*args)


class TerminateOnNaN(Hook):
  """Stops training when a training or validation loss is NaN or infinite.

  It raises `TrainingDivergedError` naming where; the loop then calls every hook's
  `on_diverged` (a checkpoint hook saves nothing after it) and adds the last good
  checkpoint to the message. A multi-step Session call ends at its first non-finite
  loss, so this needs no step of its own.
  """

  def next_step_needed(self, global_step: int) -> int | None:
    del global_step  # Unused: a call ends at a NaN loss by itself.
    return None

  def after_step(self, sess: tf.compat.v1.Session, state: TrainState, loss: float,
                 X_batch: np.ndarray, y_batch: np.ndarray) -> None:
    if not math.isfinite(loss):
      raise TrainingDivergedError(
          f"Training diverged: the loss became {loss} at epoch {state.epoch + 1}, "
          f"batch {state.batch} (global step {state.global_step}); lower the learning "
          "rate or clip the gradients. No checkpoint was written after it.")

  def after_epoch(self, sess: tf.compat.v1.Session, state: TrainState,
                  metrics: dict[str, Any], improved: bool) -> None:
    if not math.isfinite(metrics["val_loss"]):
      raise TrainingDivergedError(
          f"Training diverged: the validation loss became {metrics['val_loss']} after "
          f"epoch {metrics['epoch']} (global step {state.global_step}). No checkpoint "
          "was written after it.")


class ParamSnapshot:
  """Keeps the values of variables (default: the model's) in memory and puts them back.

  A copy in memory costs far less than a checkpoint per improvement. Its ops are built
  at construction, in the default graph, before the Session is finalized.

  Args:
    variables: the variables to keep. Default: the graph's model variables.
  """

  def __init__(self, variables: Sequence[tf.Variable] | None = None) -> None:
    self.variables = list(variables if variables is not None
                          else _V1.model_variables())
    with tf.name_scope("param_snapshot"):
      self._feeds = [_V1.placeholder(v.dtype.base_dtype, v.shape) for v in self.variables]
      self._restore = tf.group(*[_V1.assign(v, p) for v, p in
                                 zip(self.variables, self._feeds)])
    self.values: list[np.ndarray] | None = None

  def capture(self, sess: tf.compat.v1.Session) -> None:
    """Reads the variables' current values."""
    self.values = sess.run(self.variables)

  def load(self, values: dict[str, np.ndarray]) -> None:
    """Sets the snapshot from a dict {variable op name: value} (e.g. a checkpoint)."""
    self.values = [values[v.op.name] for v in self.variables]

  def restore(self, sess: tf.compat.v1.Session) -> None:
    """Assigns the kept values back; nothing when none were kept."""
    if self.values is not None:
      sess.run(self._restore, dict(zip(self._feeds, self.values)))


class BestWeights(Hook):
  """Keeps the weights of the lowest validation loss and puts them back at the end.

  Build it in the net's graph, before the Session is finalized (its snapshot builds
  assign ops). A resumed run loads the best checkpoint into it (`snapshot.load`).

  Args:
    snapshot: the `ParamSnapshot` to keep them in. Default: a new one over the model
      variables of the default graph.
  """

  def __init__(self, snapshot: ParamSnapshot | None = None) -> None:
    self.snapshot = snapshot if snapshot is not None else ParamSnapshot()

  def after_epoch(self, sess: tf.compat.v1.Session, state: TrainState,
                  metrics: dict[str, Any], improved: bool) -> None:
    if improved:
      self.snapshot.capture(sess)

  def end(self, sess: tf.compat.v1.Session, state: TrainState) -> None:
    self.snapshot.restore(sess)


class EarlyStopping(Hook):
  """Ends the run after `patience` epochs without a lower validation loss.

  The count lives in the `TrainState` (`epochs_without_improvement`, `stopped_early`),
  so a resumed run stops where an uninterrupted one would.

  Args:
    patience: positive int, the epochs without improvement before stopping.
  """

  def __init__(self, patience: int) -> None:
    self.patience = _validation.check_positive_int("patience", patience)

  def after_epoch(self, sess: tf.compat.v1.Session, state: TrainState,
                  metrics: dict[str, Any], improved: bool) -> None:
    if improved:
      state.epochs_without_improvement = 0
    else:
      state.epochs_without_improvement += 1
      if state.epochs_without_improvement >= self.patience:
        state.stopped_early = True


class HeldInterrupt(Hook):
  """Holds Ctrl-C (SIGINT) until the Session call in progress is counted, then raises.

  Ctrl-C nearly always arrives inside `sess.run`. Raised there, it would leave the
  variables one or more steps ahead of the `TrainState`, and a run resumed from the
  position saved on interrupt would repeat that step. As the last hook, this raises the
  held KeyboardInterrupt once every hook has seen the step. A second Ctrl-C raises at
  once. Signals can be held in the main thread only; elsewhere Ctrl-C is left alone.

      held = HeldInterrupt()
      with held:                     # installs the handler; restores it on exit
        ...                          # the loop, with `held` as its last hook
  """

  def __init__(self) -> None:
    self.pending = False
    self._previous: Any = None

  def __enter__(self) -> "HeldInterrupt":
    if (threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
      self._previous = signal.signal(signal.SIGINT, self._hold)
    return self

  def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)
      self._previous = None
    if exc_type is None:
      self._raise_if_pending()  # Held through the last epoch's end.

  def _hold(self, signum: int, frame: Any) -> None:
    del signum, frame  # Unused.
    if self.pending:
      raise KeyboardInterrupt
    self.pending = True

  def next_step_needed(self, global_step: int) -> int | None:
    del global_step  # Unused: a held Ctrl-C waits for the end of any call.
    return None

  def after_step(self, sess: tf.compat.v1.Session, state: TrainState, loss: float,
                 X_batch: np.ndarray, y_batch: np.ndarray) -> None:
    del sess, state, loss, X_batch, y_batch  # Unused.
    self._raise_if_pending()

  def after_epoch(self, sess: tf.compat.v1.Session, state: TrainState,
                  metrics: dict[str, Any], improved: bool) -> None:
    del sess, state, metrics, improved  # Unused.
    self._raise_if_pending()

  def _raise_if_pending(self) -> None:
    if self.pending:
      self.pending = False
      raise KeyboardInterrupt


def standard_hooks(dnn: Any, *, patience: int | None = None,
                   best_weights: BestWeights | None = None) -> list[Hook]:
  """The loop's policies, in the order they must run, for `fit` and the cluster chief.

  Args:
    dnn: the built net; its own hooks (`dnn.hooks`, e.g. a plateau schedule) run after
      the best weights are kept and before the caller's hooks, so the checkpoint written
      after an epoch holds the rate they set.
    patience: positive int for early stopping, or None for none.
    best_weights: a `BestWeights`, or None to keep no best weights.

  Returns:
    [TerminateOnNaN, EarlyStopping?, BestWeights?, *dnn.hooks].
  """
  hooks: list[Hook] = [TerminateOnNaN()]
  if patience is not None:
    hooks.append(EarlyStopping(patience))
  if best_weights is not None:
    hooks.append(best_weights)
  return hooks + list(getattr(dnn, "hooks", ()))
