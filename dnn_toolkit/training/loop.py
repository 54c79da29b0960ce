"""Training a built DNN in a Session: the step loop and evaluation.

`fit` runs the loop: it counts steps, validates after each epoch and records the best
validation loss; everything else is a hook (`dnn_toolkit.training.hooks`): the policies
(NaN stop, early stopping, best weights, the plateau schedule, the held Ctrl-C) and what
a run adds (checkpoints, TensorBoard logs). `end_epoch` is the epoch's end both `fit`
and the cluster chief run. `run_batched` is the package's one batched inference loop.

Where the net and the hooks allow, `fit` runs several steps per Session call
(`dnn_toolkit.training.multistep`): K is chosen so that a call takes about
`TARGET_SECONDS_PER_CALL`, and every call ends where a hook needs to see the weights
(`Hook.next_step_needed`), at the epoch's end, or after a NaN loss.
"""

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO, overload

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.data.arrays import ScaledImages, as_arrays, epoch_permutation
from dnn_toolkit.errors import ArgumentError, TrainingDivergedError
from dnn_toolkit.progress import Progress
from dnn_toolkit.training import _fast_run, multistep
from dnn_toolkit.training.hooks import (BestWeights, HeldInterrupt, Hook, call_hooks,
                                        standard_hooks)
from dnn_toolkit.training.state import TrainState

if TYPE_CHECKING:
  from dnn_toolkit.config import DNNConfig

_V1 = tf.compat.v1

#: What an automatically sized multi-step call aims at: short enough that progress,
#: Ctrl-C and hooks stay responsive, long enough that the per-call cost is amortized.
TARGET_SECONDS_PER_CALL = 0.2
#: The most steps one call runs, whatever the step time.
MAX_STEPS_PER_CALL = 1000
# Steps of the first call, before a step has been timed; it also pays the loop's
# one-time graph optimization, so its time is not used to size the next ones.
_FIRST_CALL_STEPS = 10


def check_fit_arguments(config: "DNNConfig", n_inputs: int, train: Any, validation: Any,
                        epochs: int, batch_size: int, patience: int | None
                        ) -> tuple[tuple[Any, np.ndarray], tuple[Any, np.ndarray]]:
  """Validates the training arguments before a graph is built; returns the arrays.

  Returns:
    ((X_train, y_train), (X_valid, y_valid)) as float32 (or `data.ScaledImages`) /
    int64 arrays.

  Raises:
    ValueError, TypeError: naming the argument and what was received.
  """
  X_train, y_train = as_arrays("train", train)
  X_valid, y_valid = as_arrays("validation", validation)
  _validation.check_positive_int("epochs", epochs)
  batch_size = _validation.check_positive_int("batch_size", batch_size)
  if patience is not None:
    _validation.check_positive_int("patience", patience)
  if batch_size > len(X_train):
    raise ArgumentError("batch_size", "Received an invalid value for {name}, expected "
                        f"at most the {len(X_train)} training examples. Received: "
                        "{received}", batch_size)
  if not len(X_valid):  # Its loss would read 0.0: a best epoch that means nothing.
    raise ArgumentError("validation", "Expected {name} to hold at least one example; "
                        "it drives early stopping and the epoch metrics. Received: 0 "
                        "examples", 0)
  for name, X, y in (("train", X_train, y_train), ("validation", X_valid, y_valid)):
    if X.shape[1] != n_inputs:
      raise ArgumentError(name, f"Expected {{name}} images of {n_inputs} features. "
                          f"Received: {X.shape[1]}", X.shape[1])
    if len(y) and y.min() < 0:
      raise ArgumentError(name, "Expected {name} labels to be classes 0 .. n_outputs-1. "
                          f"Received labels from {y.min()} to {y.max()}", int(y.min()))
    if len(y) and y.max() >= config.n_outputs:
      raise ArgumentError("n_outputs", f"Expected {{name}} of at least {y.max() + 1}, "
                          f"the classes of the `{name}` labels (0 .. {y.max()}). "
                          "Received: {received}", config.n_outputs)
  return (X_train, y_train), (X_valid, y_valid)


@overload
def run_batched(sess: tf.compat.v1.Session,
                fetch: list[tf.Tensor] | tuple[tf.Tensor, ...],
                feeds: Mapping[tf.Tensor, Any], batch_size: int = ...
                ) -> list[np.ndarray]: ...


@overload
def run_batched(sess: tf.compat.v1.Session, fetch: tf.Tensor,
                feeds: Mapping[tf.Tensor, Any], batch_size: int = ...) -> np.ndarray: ...


def run_batched(sess: tf.compat.v1.Session,
                fetch: tf.Tensor | list[tf.Tensor] | tuple[tf.Tensor, ...],
                feeds: Mapping[tf.Tensor, Any], batch_size: int = 5000
                ) -> np.ndarray | list[np.ndarray]:
  """Runs `fetch` over consecutive slices of the fed arrays: the one batched-run loop.

  Inference over a data set (evaluation, prediction, caching frozen outputs, layer-wise
  pretraining) runs in slices to bound memory; every such loop in the package is this.

      logits = run_batched(sess, dnn.logits, {dnn.X: images})       # [n, n_outputs]

  Args:
    sess: the Session.
    fetch: a tensor whose first dimension is the batch (`[batch, ...]`), or a list of
      such tensors.
    feeds: dict {placeholder: array `[n, ...]`}; every array has the same length n.
    batch_size: positive int, examples per `sess.run`. Default 5000.

  Returns:
    The per-example results concatenated, `[n, ...]` (a list of such arrays for a list
    `fetch`); for n = 0, empty arrays of the fetch's dtype.

  Raises:
    ValueError: if the fed arrays differ in length or `batch_size` is not positive.
  """
  batch_size = _validation.check_positive_int("batch_size", batch_size)
  placeholders = list(feeds)
  # Compact images are converted one slice at a time.
  arrays = [feeds[p] if isinstance(feeds[p], ScaledImages) else np.asarray(feeds[p])
            for p in placeholders]
  lengths = {len(a) for a in arrays}
  if len(lengths) != 1:
    raise ValueError(f"Expected fed arrays of one length. Received lengths "
                     f"{sorted(lengths)}")
  n = lengths.pop()
  fetches = fetch if isinstance(fetch, (list, tuple)) else [fetch]
  run = sess.make_callable(list(fetches), placeholders)
  parts = [run(*[a[start:start + batch_size] for a in arrays])
           for start in range(0, n, batch_size)]
  results = [np.concatenate([part[i] for part in parts]) if parts else
             np.zeros([0] + t.shape.as_list()[1:], t.dtype.as_numpy_dtype)
             for i, t in enumerate(fetches)]
  return results if isinstance(fetch, (list, tuple)) else results[0]


def evaluate(sess: tf.compat.v1.Session, dnn: Any, images: np.ndarray | ScaledImages,
             labels: np.ndarray, batch_size: int = 5000) -> dict[str, float]:
  """Returns {'loss': mean cross-entropy, 'accuracy': ...} with dropout off.

  Args:
    sess: the Session holding the trained variables.
    dnn: the built `DNN`.
    images: float32 array `[n, n_inputs]`.
    labels: int array `[n]`.
    batch_size: examples per run, to bound memory.
  """
  xentropy, correct = run_batched(sess, [dnn.xentropy, dnn.correct],
                                  {dnn.X: images, dnn.y: labels}, batch_size)
  n = max(len(images), 1)
  return {"loss": float(np.sum(xentropy, dtype=np.float64)) / n,
          "accuracy": float(np.sum(correct)) / n}


def predict(sess: tf.compat.v1.Session, dnn: Any, images: np.ndarray | ScaledImages,
            batch_size: int = 5000) -> np.ndarray:
  """Returns the predicted classes `[n]` (int64) of `images` `[n, n_inputs]`."""
  return run_batched(sess, dnn.predictions, {dnn.X: images}, batch_size)


def fit(sess: tf.compat.v1.Session, dnn: Any, train: Any, validation: Any, *,
        epochs: int = 20, batch_size: int = 50, patience: int | None = None,
        hooks: Sequence[Any] = (), state: TrainState | None = None,
        best_weights: BestWeights | None = None, verbose: int = 1,
        stream: TextIO | None = None, steps_per_call: int | None = None,
        fast: bool = False) -> TrainState:
  """Trains `dnn` in `sess`, validating after each epoch, with optional early stopping.

  Each epoch visits every training example once, in an order drawn from
  (`state.shuffle_seed`, epoch) alone, so a run resumed from `state` sees the same
  batches as an uninterrupted one. Batch-norm updates run with each step (they are tied
  to `dnn.train_op`); max-norm clipping runs after each step; dropout is on only for
  training steps. After the loop the weights of the best validation loss are put back.

  The policies are hooks (`hooks.standard_hooks`: NaN stop, early stopping, best
  weights, the net's plateau schedule), then the caller's `hooks`, then the held Ctrl-C.

  Several steps can run in one Session call (`dnn_toolkit.training.multistep`), with the
  same batches and weights bit for bit as one step per call; the training set is then
  also held in the graph (uint8 for `data.arrays.ScaledImages`). Calls end where a hook
  needs a step (`Hook.next_step_needed`), at each epoch's end and after a NaN loss.

  Args:
    sess: a Session on the graph of `dnn`, variables initialized or restored.
    dnn: a `DNN` from `build_dnn`.
    train: DataSet or (images `[n, n_inputs]`, labels `[n]`).
    validation: same, for early stopping and the epoch metrics.
    epochs: positive int, the last epoch to train (counting those in `state`).
    batch_size: positive int, at most the number of training examples. Default 50.
    patience: stop after this many epochs without a lower validation loss; None
      trains all `epochs`.
    hooks: `Hook`s (or objects with any of its methods), called after the policies.
    state: a `TrainState` to continue from; default a new one seeded from the config.
    best_weights: a `hooks.BestWeights` holding the best weights so far (resume);
      default a new one.
    verbose: 0 for silence, 1 for a progress bar (terminal) or a line per epoch.
    stream: where progress goes. Default sys.stderr.
    steps_per_call: positive int, the most training steps per Session call; 1 feeds
      each step's batch. Default None: sized to about `TARGET_SECONDS_PER_CALL` per
      call where the net allows several (`multistep.unsupported_reason`), else 1.
    fast: trade exactness for speed where several steps run per call: the steps are
      compiled with XLA, several to a compiled block (`multistep.MultiStep`). The
      weights then differ from the per-step path's by float32 rounding (XLA fuses
      and orders the arithmetic its own way), so a resumed run no longer matches an
      uninterrupted one bit for bit, and after a NaN loss the rest of its block has
      run. Default False: the exact path.

  Returns:
    The final `TrainState`; `state.history` has one metrics dict per epoch.

  Raises:
    TrainingDivergedError: when a loss becomes NaN or infinite; only the hooks'
      `on_diverged` run after it (a checkpoint hook saves nothing then).
    KeyboardInterrupt: after the hooks' `on_interrupt` (which save the position). A
      Ctrl-C during a Session call is held until its steps are counted in `state`
      (about `TARGET_SECONDS_PER_CALL` at most with the automatic K).
    ValueError, TypeError: on a bad argument (`steps_per_call` not a positive int,
      `fast` not a bool), before any step.
  """
  (X, y), validation = check_fit_arguments(
      dnn.config, int(dnn.X.shape[1]), train, validation, epochs, batch_size, patience)
  if steps_per_call is not None:
    _validation.check_positive_int("steps_per_call", steps_per_call)
  _validation.check_bool("fast", fast)
  if state is None:
    seed = dnn.config.seed if dnn.config.seed is not None else np.random.randint(2**31)
    state = TrainState(shuffle_seed=int(seed))
  if best_weights is None:
    with sess.graph.as_default():  # The caller's default graph may be another one.
      best_weights = BestWeights()
  progress = Progress(verbose, stream)
  held = HeldInterrupt()
  hooks = (standard_hooks(dnn, patience=patience, best_weights=best_weights)
           + list(hooks) + [held])
  call_hooks(hooks, "begin", sess, dnn, state)
  # Built after `begin`: a hook's graph (TensorBoard's) shows the net, not the loop.
  steps = _StepRunner(sess, dnn, (X, y), batch_size, steps_per_call, hooks, fast)
  with guarded(sess, state, hooks), held:
    while state.epoch < epochs and not state.stopped_early:
      started = time.perf_counter()
      _train_epoch(steps, epochs, state, progress, hooks, sess)
      end_epoch(sess, dnn, validation, state, hooks, n_seen=len(X), started=started,
                progress=progress)
  call_hooks(hooks, "end", sess, state)
  return state


@contextlib.contextmanager
def guarded(sess: tf.compat.v1.Session, state: TrainState,
            hooks: Sequence[Any]) -> Iterator[None]:
  """Runs the hooks' `on_interrupt` / `on_diverged` when the loop inside ends so.

  A KeyboardInterrupt propagates after the hooks saw it (a checkpoint hook saves the
  position); a `TrainingDivergedError` is raised again naming the last good checkpoint
  any hook wrote.
  """
  try:
    yield
  except KeyboardInterrupt:
    call_hooks(hooks, "on_interrupt", sess, state)
    raise
  except TrainingDivergedError as error:
    call_hooks(hooks, "on_diverged", sess, state)
    raise TrainingDivergedError(f"{error} {_last_checkpoint(hooks)}") from None


def end_epoch(sess: tf.compat.v1.Session, dnn: Any,
              validation: tuple[np.ndarray, np.ndarray], state: TrainState,
              hooks: Sequence[Any], *, n_seen: int, started: float,
              progress: Progress | None = None) -> dict[str, Any]:
  """Ends epoch `state.epoch`: validates, records it, and calls the hooks' `after_epoch`.

  The one epoch's end of `fit` and the cluster chief: the epoch's metrics are appended
  to `state.history`, a new lowest validation loss is recorded (`best_val_loss`,
  `best_epoch`) and passed to the hooks as `improved`.

  Args:
    sess: the Session.
    dnn: the built net.
    validation: (images `[n, n_inputs]`, labels `[n]`).
    state: the `TrainState`; its running sums cover the epoch's training steps.
    hooks: the hook list, policies first.
    n_seen: the training examples the running sums cover.
    started: `time.perf_counter()` at the epoch's start.
    progress: where the epoch's line goes, or None.

  Returns:
    The epoch's metrics: epoch, global_step, loss, accuracy, val_loss, val_accuracy,
    learning_rate, seconds.
  """
  valid = evaluate(sess, dnn, *validation)
  seen = max(n_seen, 1)
  metrics: dict[str, Any] = {"epoch": state.epoch + 1, "global_step": state.global_step,
             "loss": state.epoch_loss_sum / seen, "accuracy": state.epoch_correct / seen,
             "val_loss": valid["loss"], "val_accuracy": valid["accuracy"],
             "learning_rate": float(sess.run(dnn.learning_rate)),
             "seconds": time.perf_counter() - started}
  state.epoch, state.batch = state.epoch + 1, 0
  state.epoch_loss_sum = state.epoch_correct = 0.0
  state.history.append(metrics)
  improved = metrics["val_loss"] < state.best_val_loss  # False for a NaN.
  if improved:
    state.best_val_loss, state.best_epoch = metrics["val_loss"], metrics["epoch"]
  if progress is not None:
    progress.end_epoch(metrics)
  call_hooks(hooks, "after_epoch", sess, state, metrics, improved)
  return metrics


def _train_epoch(steps, epochs, state, progress, hooks, sess):
  """Runs the remaining batches of epoch `state.epoch`, updating `state` after each."""
  n_batches = math.ceil(steps.num_examples / steps.batch_size)
  order = epoch_permutation(steps.num_examples, state.shuffle_seed, state.epoch)
  steps.start_epoch(order)
  progress.start_epoch(state.epoch, epochs, n_batches)
  first = state.batch
  while state.batch < n_batches:
    count = max(1, min(steps.steps_per_call(state.batch), n_batches - state.batch,
                       _steps_to_boundary(hooks, state.global_step)))
    stats, (X_batch, y_batch) = steps.run(order, state.batch, count)  # [count, 2]
    bad = np.flatnonzero(~np.isfinite(stats[:, 0]))
    if bad.size:  # The hooks see the first NaN step (`TerminateOnNaN` stops there).
      stats = stats[:bad[0] + 1]
    for loss, accuracy in stats.tolist():  # Counted as one step per call counts them.
      _count_step(state, loss, accuracy, steps.batch_size, steps.num_examples)
    seen = min(state.batch * steps.batch_size, steps.num_examples)
    progress.update(state.batch, state.epoch_loss_sum / seen,
                    (state.batch - first) * steps.batch_size, state.epoch_correct / seen)
    call_hooks(hooks, "after_step", sess, state, loss, X_batch, y_batch)


def _count_step(state, loss, accuracy, batch_size, n):
  """Counts one step of `batch_size` examples (fewer at the epoch's end) in `state`."""
  size = min(batch_size, n - state.batch * batch_size)
  state.batch, state.global_step = state.batch + 1, state.global_step + 1
  state.epoch_loss_sum += float(loss) * size
  state.epoch_correct += float(accuracy) * size


def _next_step_needed(hook, global_step):
  method = getattr(hook, "next_step_needed", None)
  if method is not None:
    return method(global_step)
  return global_step + 1 if hasattr(hook, "after_step") else None


def _needs_every_step(hook):
  """Whether `hook` declares no steps of its own but sees `after_step` (every step)."""
  declared = getattr(type(hook), "next_step_needed", None)
  if declared is None:
    return hasattr(hook, "after_step")
  return (declared is Hook.next_step_needed
          and type(hook).after_step is not Hook.after_step)


def _steps_to_boundary(hooks, global_step):
  """Steps until the first step a hook needs (`Hook.next_step_needed`); inf if none."""
  needed = [_next_step_needed(h, global_step) for h in hooks]
  needed = [n for n in needed if n is not None]
  return min(needed) - global_step if needed else math.inf


class _StepRunner:
  """Runs `fit`'s training steps: fed one per call, or several per call in the graph.

  Attributes:
    batch_size, num_examples: the batch size and the training set's size.
  """

  def __init__(self, sess, dnn, train, batch_size, steps_per_call, hooks, fast):
    self.X, self.y = train
    self.batch_size, self.num_examples = batch_size, len(self.y)
    self._fixed = steps_per_call
    self._seconds_per_step = None  # Of the last timed multi-step call.
    self._calls = 0
    self._step = _fast_run.step_function(sess, dnn.train_op, dnn.batch_stats,
                                         [dnn.X, dnn.y, dnn.is_training])
    self._clip = (sess.make_callable(dnn.max_norm_op) if dnn.max_norm_op is not None
                  else None)
    self._multi = None
    if steps_per_call != 1 and not any(_needs_every_step(h) for h in hooks):
      self._multi = multistep.build(sess, dnn, self.X, self.y, batch_size, fast)

  def start_epoch(self, order):
    if self._multi is not None:
      self._multi.start_epoch(order)

  def steps_per_call(self, batch):
    """The most steps the next call, from the epoch's batch `batch`, may run."""
    if self._multi is None:
      return 1
    if self._fixed is not None:
      return self._fixed
    if self._seconds_per_step is None:
      steps = _FIRST_CALL_STEPS
    else:
      steps = int(TARGET_SECONDS_PER_CALL / max(self._seconds_per_step, 1e-9))
    steps = max(1, min(MAX_STEPS_PER_CALL, steps))
    block = self._multi.block_steps
    if block > 1:
      # Fast mode: calls sized by timing end where compiled blocks end, so which steps
      # run compiled together never depends on the machine's speed.
      steps = max((batch + steps) // block, batch // block + 1) * block - batch
    return steps

  def run(self, order, batch, count):
    """Runs `count` steps from `batch`; returns (stats `[m, 2]`, the last batch).

    m = `count`, or fewer when a loss was not finite (the last row is that step's).
    """
    def batch_of(b):
      indices = order[b * self.batch_size:(b + 1) * self.batch_size]
      return self.X[indices], self.y[indices]  # [batch_size, n_inputs], [batch_size]

    if self._multi is None:
      X_batch, y_batch = batch_of(batch)
      stats = self._step(X_batch, y_batch, True)  # [2]
      if self._clip is not None and math.isfinite(stats[0]):
        self._clip()
      return np.asarray(stats)[None], (X_batch, y_batch)
    started = time.perf_counter()
    stats = self._multi.run(batch, count)  # [m, 2]
    self._calls += 1
    if self._calls > 1 and len(stats):  # The first call also optimizes the graph.
      self._seconds_per_step = (time.perf_counter() - started) / len(stats)
    return stats, batch_of(batch + len(stats) - 1)


def _last_checkpoint(hooks):
  paths = [getattr(h, "last_checkpoint", None) for h in hooks]
  paths = [p for p in paths if p]
  return (f"Last good checkpoint: {paths[-1]}" if paths
          else "No checkpoint had been written.")
