"""Training a built DNN in a Session: the step loop, evaluation, early stopping.

`fit` runs the loop; what happens around it (checkpoints, TensorBoard logs) is done by
hooks, subclasses of `Hook` (see its docstring for the order of the calls and the
contracts). `run_batched` is the package's one batched inference loop.

Where the net and the hooks allow, `fit` runs several steps per Session call
(`dnn_toolkit.training.multistep`): K is chosen so that a call takes about
`TARGET_SECONDS_PER_CALL`, and every call ends where a hook needs to see the weights
(`Hook.next_step_needed`), at the epoch's end, or after a NaN loss.
"""

import dataclasses
import math
import signal
import threading
import time

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.data.arrays import ScaledImages, epoch_permutation
from dnn_toolkit.errors import TrainingDivergedError
from dnn_toolkit.progress import Progress
from dnn_toolkit.training import _fast_run, multistep

_V1 = tf.compat.v1

#: What an automatically sized multi-step call aims at: short enough that progress,
#: Ctrl-C and hooks stay responsive, long enough that the per-call cost is amortized.
TARGET_SECONDS_PER_CALL = 0.2
#: The most steps one call runs, whatever the step time.
MAX_STEPS_PER_CALL = 1000
# Steps of the first call, before a step has been timed; it also pays the loop's
# one-time graph optimization, so its time is not used to size the next ones.
_FIRST_CALL_STEPS = 10


@dataclasses.dataclass
class TrainState:
  """Where a run is; everything `fit` needs to continue it exactly.

  Attributes:
    epoch: epochs completed.
    batch: batches completed in the current epoch (non-zero only mid-epoch).
    global_step: training steps completed.
    best_val_loss: lowest validation loss so far.
    best_epoch: the epoch (1-based) that reached it, 0 before any.
    epochs_without_improvement: epochs since then, for early stopping.
    stopped_early: whether early stopping ended the run.
    shuffle_seed: the seed of the per-epoch shuffles.
    epoch_loss_sum, epoch_correct: running sums over the current epoch's batches.
    history: one dict of metrics per completed epoch.
  """
  epoch: int = 0
  batch: int = 0
  global_step: int = 0
  best_val_loss: float = math.inf
  best_epoch: int = 0
  epochs_without_improvement: int = 0
  stopped_early: bool = False
  shuffle_seed: int = 0
  epoch_loss_sum: float = 0.0
  epoch_correct: float = 0.0
  history: list = dataclasses.field(default_factory=list)

  def to_dict(self):
    fields = dataclasses.asdict(self)
    fields["best_val_loss"] = None if math.isinf(self.best_val_loss) else self.best_val_loss
    return fields

  @classmethod
  def from_dict(cls, fields):
    """Builds a state from `to_dict()` output; raises ValueError naming a bad field."""
    if not isinstance(fields, dict):
      raise ValueError("Expected the training state as a dict of fields. Received: "
                       f"{type(fields).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
      raise ValueError(f"Unknown training state fields {unknown}; known: "
                       f"{sorted(known)}")
    fields = dict(fields)
    if fields.get("best_val_loss") is None:
      fields["best_val_loss"] = math.inf
    for name, value in fields.items():
      expected = _STATE_TYPES[known[name].type]
      if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ValueError(f"Expected the training state's `{name}` to be "
                         f"{_STATE_TYPE_NAMES[expected]}. Received: {name}={value!r}")
    return cls(**fields)


_STATE_TYPES = {"int": int, "float": (int, float), "bool": bool, "list": list,
                int: int, float: (int, float), bool: bool, list: list}
_STATE_TYPE_NAMES = {int: "an integer", (int, float): "a number", bool: "a bool",
                     list: "a list"}


class Hook:
  """Something `fit` calls around the loop; override the methods you need.

  `fit` calls, in this order:

      begin(sess, dnn, state)                            # before the first step
      after_step(sess, state, loss, X_batch, y_batch)    # after each Session call
      next_step_needed(global_step)                      # before each Session call
      after_epoch(sess, state, metrics, improved)        # after validation
      on_interrupt(sess, state)                          # Ctrl-C, before it propagates
      on_diverged(sess, state)                           # NaN loss: flush, save nothing
      end(sess, state)                                   # after the best weights are back

  Hooks run in the order given; `fit` appends its own Ctrl-C hook last, so an
  interrupt surfaces only after every hook has seen the step (a checkpoint hook first
  saves the position). `state` is the `TrainState`, already counting the step or
  epoch just done.

  A Session call runs one training step, or several (`fit(steps_per_call=...)`): it
  ends at the first step any hook's `next_step_needed` names, and `after_step` then
  sees that step's loss and batch. A hook whose `after_step` needs every step (the
  default for a hook that overrides `after_step` without `next_step_needed`, and for
  hook objects without the method) keeps training at one step per call.

  Attributes:
    last_checkpoint: the path prefix of the newest checkpoint this hook wrote, or None.
      `fit` quotes the last one any hook wrote when training diverges ("Last good
      checkpoint: ..."). Hooks that write no checkpoints leave it None.
  """

  last_checkpoint = None

  def begin(self, sess, dnn, state):
    """Called once before the first step."""

  def after_step(self, sess, state, loss, X_batch, y_batch):
    """Called after each Session call of training steps, with its last step's float
    loss and batch (`X_batch` `[batch_size, n_inputs]`, `y_batch` `[batch_size]`)."""

  def next_step_needed(self, global_step):
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

  def after_epoch(self, sess, state, metrics, improved):
    """Called after each epoch's validation; `improved`: a new best validation loss."""

  def on_interrupt(self, sess, state):
    """Called on Ctrl-C, before the KeyboardInterrupt propagates."""

  def on_diverged(self, sess, state):
    """Called when the loss became NaN or infinite; nothing should be saved then."""

  def end(self, sess, state):
    """Called once after the loop, the best weights put back."""


def as_arrays(name, data):
  """Returns (images, labels) of a DataSet-like object or an (images, labels) pair."""
  if hasattr(data, "images") and hasattr(data, "labels"):
    images, labels = data.images, data.labels
  elif isinstance(data, (tuple, list)) and len(data) == 2:
    images, labels = data
  else:
    raise TypeError(f"Expected `{name}` to be a DataSet or an (images, labels) pair. "
                    f"Received: {name} of type {type(data).__name__}")
  labels = np.asarray(labels)
  if labels.dtype.kind == "f":
    fractional = labels[labels != np.round(labels)]
    if fractional.size:
      raise ValueError(f"Expected `{name}` labels to be class indices (integers). "
                       f"Received non-integer labels such as {fractional[0]}")
  labels = labels.astype(np.int64)
  if not isinstance(images, ScaledImages):  # Compact images stay uint8 until used.
    images = np.asarray(images, np.float32)
  if images.ndim != 2 or labels.shape != (images.shape[0],):
    raise ValueError(f"Expected `{name}` images [n, n_inputs] and labels [n]. "
                     f"Received: images {images.shape}, labels {labels.shape}")
  return images, labels


def check_fit_arguments(config, n_inputs, train, validation, epochs, batch_size,
                        patience):
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
    raise ValueError("Received an invalid value for `batch_size`, expected at most the "
                     f"{len(X_train)} training examples. Received: batch_size={batch_size}")
  if not len(X_valid):  # Its loss would read 0.0: a best epoch that means nothing.
    raise ValueError("Expected `validation` to hold at least one example; it drives "
                     "early stopping and the epoch metrics. Received: 0 examples")
  for name, X, y in (("train", X_train, y_train), ("validation", X_valid, y_valid)):
    if X.shape[1] != n_inputs:
      raise ValueError(f"Expected `{name}` images of {n_inputs} features. "
                       f"Received: {X.shape[1]}")
    if len(y) and (y.min() < 0 or y.max() >= config.n_outputs):
      raise ValueError(f"Expected `{name}` labels in [0, {config.n_outputs}) "
                       f"(n_outputs). Received labels from {y.min()} to {y.max()}")
  return (X_train, y_train), (X_valid, y_valid)


def run_batched(sess, fetch, feeds, batch_size=5000):
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


def evaluate(sess, dnn, images, labels, batch_size=5000):
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


def predict(sess, dnn, images, batch_size=5000):
  """Returns the predicted classes `[n]` (int64) of `images` `[n, n_inputs]`."""
  return run_batched(sess, dnn.predictions, {dnn.X: images}, batch_size)


class ParamSnapshot:
  """Keeps the values of variables (default: the model's) in memory and puts them back.

  Early stopping uses it for the best weights: a copy in memory costs far less than a
  checkpoint per improvement. Its ops are built at construction, before the loop.
  """

  def __init__(self, variables=None):
    self.variables = list(variables if variables is not None
                          else _V1.model_variables())
    with tf.name_scope("param_snapshot"):
      self._feeds = [_V1.placeholder(v.dtype.base_dtype, v.shape) for v in self.variables]
      self._restore = tf.group(*[_V1.assign(v, p) for v, p in
                                 zip(self.variables, self._feeds)])
    self.values = None

  def capture(self, sess):
    self.values = sess.run(self.variables)

  def load(self, values):
    """Sets the snapshot from a dict {variable op name: value} (e.g. a checkpoint)."""
    self.values = [values[v.op.name] for v in self.variables]

  def restore(self, sess):
    if self.values is not None:
      sess.run(self._restore, dict(zip(self._feeds, self.values)))


def fit(sess, dnn, train, validation, *, epochs=20, batch_size=50, patience=None,
        hooks=(), state=None, snapshot=None, verbose=1, stream=None,
        steps_per_call=None):
  """Trains `dnn` in `sess`, validating after each epoch, with optional early stopping.

  Each epoch visits every training example once, in an order drawn from
  (`state.shuffle_seed`, epoch) alone, so a run resumed from `state` sees the same
  batches as an uninterrupted one. Batch-norm updates run with each step (they are tied
  to `dnn.train_op`); max-norm clipping runs after each step; dropout is on only for
  training steps. After the loop the weights of the best validation loss are put back.

  Several steps can run in one Session call (`dnn_toolkit.training.multistep`), with the same
  batches and weights bit for bit as one step per call; the training set is then also
  held in the graph (uint8 for `data.ScaledImages`). Calls end where a hook needs a
  step (`Hook.next_step_needed`), at each epoch's end and after a NaN loss.

  Args:
    sess: a Session on the graph of `dnn`, variables initialized or restored.
    dnn: a `DNN` from `build_dnn`.
    train: DataSet or (images `[n, n_inputs]`, labels `[n]`).
    validation: same, for early stopping and the epoch metrics.
    epochs: positive int, the last epoch to train (counting those in `state`).
    batch_size: positive int, at most the number of training examples. Default 50.
    patience: stop after this many epochs without a lower validation loss; None
      trains all `epochs`.
    hooks: objects with any of the methods listed in the module docstring.
    state: a `TrainState` to continue from; default a new one seeded from the config.
    snapshot: a `ParamSnapshot` holding the best weights so far (resume).
    verbose: 0 for silence, 1 for a progress bar (terminal) or a line per epoch.
    stream: where progress goes. Default sys.stderr.
    steps_per_call: positive int, the most training steps per Session call; 1 feeds
      each step's batch. Default None: sized to about `TARGET_SECONDS_PER_CALL` per
      call where the net allows several (`multistep.unsupported_reason`), else 1.

  Returns:
    The final `TrainState`; `state.history` has one metrics dict per epoch.

  Raises:
    TrainingDivergedError: when a loss becomes NaN or infinite; only the hooks'
      `on_diverged` run after it (a checkpoint hook saves nothing then).
    KeyboardInterrupt: after the hooks' `on_interrupt` (which save the position). A
      Ctrl-C during a Session call is held until its steps are counted in `state`
      (about `TARGET_SECONDS_PER_CALL` at most with the automatic K).
    ValueError, TypeError: on a bad argument (`steps_per_call` not a positive int),
      before any step.
  """
  (X, y), (X_valid, y_valid) = check_fit_arguments(
      dnn.config, int(dnn.X.shape[1]), train, validation, epochs, batch_size, patience)
  if steps_per_call is not None:
    _validation.check_positive_int("steps_per_call", steps_per_call)
  if state is None:
    seed = dnn.config.seed if dnn.config.seed is not None else np.random.randint(2**31)
    state = TrainState(shuffle_seed=int(seed))
  if snapshot is None:
    with sess.graph.as_default():  # The caller's default graph may be another one.
      snapshot = ParamSnapshot()
  progress = Progress(verbose, stream)
  held = _HeldInterrupt()
  # The net's own hooks first (a plateau schedule updates the rate before a checkpoint
  # is written); the held Ctrl-C last: it surfaces once every hook saw the step.
  hooks = list(dnn.hooks) + list(hooks) + [held]
  _call(hooks, "begin", sess, dnn, state)
  # Built after `begin`: a hook's graph (TensorBoard's) shows the net, not the loop.
  steps = _StepRunner(sess, dnn, (X, y), batch_size, steps_per_call, hooks)
  try:
    with held:
      while state.epoch < epochs and not state.stopped_early:
        started = time.perf_counter()
        _train_epoch(steps, epochs, state, progress, hooks, sess)
        metrics = _validate(sess, dnn, X_valid, y_valid, state, len(X), started)
        improved = _early_stopping(sess, snapshot, state, metrics, patience)
        progress.end_epoch(metrics)
        _call(hooks, "after_epoch", sess, state, metrics, improved)
  except KeyboardInterrupt:
    _call(hooks, "on_interrupt", sess, state)
    raise
  except TrainingDivergedError as error:
    _call(hooks, "on_diverged", sess, state)
    raise TrainingDivergedError(f"{error} {_last_checkpoint(hooks)}") from None
  snapshot.restore(sess)
  _call(hooks, "end", sess, state)
  return state


def _train_epoch(steps, epochs, state, progress, hooks, sess):
  """Runs the remaining batches of epoch `state.epoch`, updating `state` after each."""
  n_batches = math.ceil(steps.num_examples / steps.batch_size)
  order = epoch_permutation(steps.num_examples, state.shuffle_seed, state.epoch)
  steps.start_epoch(order)
  progress.start_epoch(state.epoch, epochs, n_batches)
  first = state.batch
  while state.batch < n_batches:
    count = max(1, min(steps.steps_per_call(), n_batches - state.batch,
                       _steps_to_boundary(hooks, state.global_step)))
    stats, (X_batch, y_batch) = steps.run(order, state.batch, count)  # [count, 2]
    for loss, accuracy in stats.tolist():  # Counted as one step per call counts them.
      _count_step(state, loss, accuracy, steps.batch_size, steps.num_examples)
    seen = min(state.batch * steps.batch_size, steps.num_examples)
    progress.update(state.batch, state.epoch_loss_sum / seen,
                    (state.batch - first) * steps.batch_size, state.epoch_correct / seen)
    _call(hooks, "after_step", sess, state, loss, X_batch, y_batch)


def _count_step(state, loss, accuracy, batch_size, n):
  """Counts one step in `state`; raises TrainingDivergedError on a NaN or Inf loss."""
  if not math.isfinite(loss):
    raise TrainingDivergedError(
        f"Training diverged: the loss became {loss} at epoch {state.epoch + 1}, "
        f"batch {state.batch + 1} (global step {state.global_step + 1}); lower the "
        "learning rate or clip the gradients. No checkpoint was written after it.")
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

  def __init__(self, sess, dnn, train, batch_size, steps_per_call, hooks):
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
      self._multi = multistep.build(sess, dnn, self.X, self.y, batch_size)

  def start_epoch(self, order):
    if self._multi is not None:
      self._multi.start_epoch(order)

  def steps_per_call(self):
    """The most steps the next call may run."""
    if self._multi is None:
      return 1
    if self._fixed is not None:
      return self._fixed
    if self._seconds_per_step is None:
      return _FIRST_CALL_STEPS
    steps = int(TARGET_SECONDS_PER_CALL / max(self._seconds_per_step, 1e-9))
    return max(1, min(MAX_STEPS_PER_CALL, steps))

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


def _validate(sess, dnn, X_valid, y_valid, state, n_train, started):
  """Returns the epoch's metrics and moves `state` to the next epoch."""
  valid = evaluate(sess, dnn, X_valid, y_valid)
  if not math.isfinite(valid["loss"]):
    raise TrainingDivergedError(
        f"Training diverged: the validation loss became {valid['loss']} after epoch "
        f"{state.epoch + 1} (global step {state.global_step}). No checkpoint was "
        "written after it.")
  seconds = time.perf_counter() - started
  metrics = {"epoch": state.epoch + 1, "global_step": state.global_step,
             "loss": state.epoch_loss_sum / n_train,
             "accuracy": state.epoch_correct / n_train,
             "val_loss": valid["loss"], "val_accuracy": valid["accuracy"],
             "learning_rate": float(sess.run(dnn.learning_rate)), "seconds": seconds}
  state.epoch, state.batch = state.epoch + 1, 0
  state.epoch_loss_sum = state.epoch_correct = 0.0
  state.history.append(metrics)
  return metrics


def _early_stopping(sess, snapshot, state, metrics, patience):
  """Records a new best (and captures its weights); returns whether it improved."""
  improved = metrics["val_loss"] < state.best_val_loss
  if improved:
    state.best_val_loss, state.best_epoch = metrics["val_loss"], metrics["epoch"]
    state.epochs_without_improvement = 0
    snapshot.capture(sess)
  else:
    state.epochs_without_improvement += 1
    if patience is not None and state.epochs_without_improvement >= patience:
      state.stopped_early = True
  return improved


def _call(hooks, method, *args):
  for hook in hooks:
    fn = getattr(hook, method, None)
    if fn is not None:
      fn(*args)


def _last_checkpoint(hooks):
  paths = [getattr(h, "last_checkpoint", None) for h in hooks]
  paths = [p for p in paths if p]
  return (f"Last good checkpoint: {paths[-1]}" if paths
          else "No checkpoint had been written.")


class _HeldInterrupt:
  """Holds Ctrl-C (SIGINT) until the Session call in progress is counted, then raises.

  Ctrl-C nearly always arrives inside `sess.run`. Raised there, it would leave the
  variables one or more steps ahead of the `TrainState`, and a run resumed from the position
  saved on interrupt would repeat that step. As the last hook, this raises the held
  KeyboardInterrupt once every hook has seen the step. A second Ctrl-C raises at once.
  Signals can be held in the main thread only; elsewhere Ctrl-C is left alone.
  """

  def __init__(self):
    self.pending = False
    self._previous = None

  def __enter__(self):
    if (threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
      self._previous = signal.signal(signal.SIGINT, self._hold)
    return self

  def __exit__(self, exc_type, exc_value, traceback):
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)
      self._previous = None
    if exc_type is None:
      self._raise_if_pending()  # Held through the last epoch's end.

  def _hold(self, signum, frame):
    del signum, frame  # Unused.
    if self.pending:
      raise KeyboardInterrupt
    self.pending = True

  def next_step_needed(self, global_step):
    del global_step  # Unused: a held Ctrl-C waits for the end of any call.
    return None

  def after_step(self, sess, state, loss, X_batch, y_batch):
    del sess, state, loss, X_batch, y_batch  # Unused.
    self._raise_if_pending()

  def after_epoch(self, sess, state, metrics, improved):
    del sess, state, metrics, improved  # Unused.
    self._raise_if_pending()

  def _raise_if_pending(self):
    if self.pending:
      self.pending = False
      raise KeyboardInterrupt
