"""Training a built DNN in a Session: the step loop, evaluation, early stopping.

`fit` runs the loop; what happens around it (checkpoints, TensorBoard logs) is done by
hooks, subclasses of `Hook` (see its docstring for the order of the calls and the
contracts). `run_batched` is the package's one batched inference loop.
"""

import dataclasses
import math
import signal
import threading
import time

import numpy as np
import tensorflow as tf

from dnn_toolkit import _fast_run
from dnn_toolkit import _validation
from dnn_toolkit.data import epoch_permutation
from dnn_toolkit.errors import TrainingDivergedError
from dnn_toolkit.progress import Progress

_V1 = tf.compat.v1


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
      after_step(sess, state, loss, X_batch, y_batch)    # every training step
      after_epoch(sess, state, metrics, improved)        # after validation
      on_interrupt(sess, state)                          # Ctrl-C, before it propagates
      on_diverged(sess, state)                           # NaN loss: flush, save nothing
      end(sess, state)                                   # after the best weights are back

  Hooks run in the order given; `fit` appends its own Ctrl-C hook last, so an
  interrupt surfaces only after every hook has seen the step (a checkpoint hook first
  saves the position). `state` is the `TrainState`, already counting the step or
  epoch just done.

  Attributes:
    last_checkpoint: the path prefix of the newest checkpoint this hook wrote, or None.
      `fit` quotes the last one any hook wrote when training diverges ("Last good
      checkpoint: ..."). Hooks that write no checkpoints leave it None.
  """

  last_checkpoint = None

  def begin(self, sess, dnn, state):
    """Called once before the first step."""

  def after_step(self, sess, state, loss, X_batch, y_batch):
    """Called after every training step; `loss` is the step's float loss."""

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
  images, labels = np.asarray(images, np.float32), labels.astype(np.int64)
  if images.ndim != 2 or labels.shape != (images.shape[0],):
    raise ValueError(f"Expected `{name}` images [n, n_inputs] and labels [n]. "
                     f"Received: images {images.shape}, labels {labels.shape}")
  return images, labels


def check_fit_arguments(config, n_inputs, train, validation, epochs, batch_size,
                        patience):
  """Validates the training arguments before a graph is built; returns the arrays.

  Returns:
    ((X_train, y_train), (X_valid, y_valid)) as float32 / int64 arrays.

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
  arrays = [np.asarray(feeds[p]) for p in placeholders]
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
        hooks=(), state=None, snapshot=None, verbose=1, stream=None):
  """Trains `dnn` in `sess`, validating after each epoch, with optional early stopping.

  Each epoch visits every training example once, in an order drawn from
  (`state.shuffle_seed`, epoch) alone, so a run resumed from `state` sees the same
  batches as an uninterrupted one. Batch-norm updates run with each step (they are tied
  to `dnn.train_op`); max-norm clipping runs after each step; dropout is on only for
  training steps. After the loop the weights of the best validation loss are put back.

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

  Returns:
    The final `TrainState`; `state.history` has one metrics dict per epoch.

  Raises:
    TrainingDivergedError: when a loss becomes NaN or infinite; only the hooks'
      `on_diverged` run after it (a checkpoint hook saves nothing then).
    KeyboardInterrupt: after the hooks' `on_interrupt` (which save the position). A
      Ctrl-C during a step is held until the step is counted in `state`.
  """
  (X, y), (X_valid, y_valid) = check_fit_arguments(
      dnn.config, int(dnn.X.shape[1]), train, validation, epochs, batch_size, patience)
  if state is None:
    seed = dnn.config.seed if dnn.config.seed is not None else np.random.randint(2**31)
    state = TrainState(shuffle_seed=int(seed))
  if snapshot is None:
    with sess.graph.as_default():  # The caller's default graph may be another one.
      snapshot = ParamSnapshot()
  step = _fast_run.step_function(sess, dnn.train_op, dnn.batch_stats,
                                 [dnn.X, dnn.y, dnn.is_training])
  clip = sess.make_callable(dnn.max_norm_op) if dnn.max_norm_op is not None else None
  progress = Progress(verbose, stream)
  held = _HeldInterrupt()
  # The net's own hooks first (a plateau schedule updates the rate before a checkpoint
  # is written); the held Ctrl-C last: it surfaces once every hook saw the step.
  hooks = list(dnn.hooks) + list(hooks) + [held]
  _call(hooks, "begin", sess, dnn, state)
  try:
    with held:
      while state.epoch < epochs and not state.stopped_early:
        started = time.perf_counter()
        _train_epoch(step, clip, X, y, batch_size, epochs, state, progress, hooks, sess)
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


def _train_epoch(step, clip, X, y, batch_size, epochs, state, progress, hooks, sess):
  """Runs the remaining batches of epoch `state.epoch`, updating `state` after each."""
  n_batches = math.ceil(len(X) / batch_size)
  order = epoch_permutation(len(X), state.shuffle_seed, state.epoch)
  progress.start_epoch(state.epoch, epochs, n_batches)
  first = state.batch
  for batch in range(first, n_batches):
    indices = order[batch * batch_size:(batch + 1) * batch_size]
    X_batch, y_batch = X[indices], y[indices]  # [batch_size, n_inputs], [batch_size]
    loss, accuracy = step(X_batch, y_batch, True)
    if not math.isfinite(loss):
      raise TrainingDivergedError(
          f"Training diverged: the loss became {loss} at epoch {state.epoch + 1}, "
          f"batch {batch + 1} (global step {state.global_step + 1}); lower the learning "
          "rate or clip the gradients. No checkpoint was written after it.")
    if clip is not None:
      clip()
    state.batch, state.global_step = batch + 1, state.global_step + 1
    state.epoch_loss_sum += float(loss) * len(indices)
    state.epoch_correct += float(accuracy) * len(indices)
    seen = min((batch + 1) * batch_size, len(X))
    progress.update(batch + 1, state.epoch_loss_sum / seen,
                    (batch + 1 - first) * batch_size, state.epoch_correct / seen)
    _call(hooks, "after_step", sess, state, float(loss), X_batch, y_batch)


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
  """Holds Ctrl-C (SIGINT) until the step in progress is counted, then raises it.

  Ctrl-C nearly always arrives inside `sess.run`. Raised there, it would leave the
  variables one step ahead of the `TrainState`, and a run resumed from the position
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
