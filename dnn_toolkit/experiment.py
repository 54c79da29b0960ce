"""A training run in a run directory: build, train, checkpoint, log, resume, reload.

This is the one-call entry point the command line and the demos use:

    datasets = mnist.load_mnist()
    result = experiment.train(DNNConfig(), datasets.train, datasets.validation,
                              test=datasets.test, run_dir="checkpoints/default",
                              data=datasets.identity)
    result = experiment.train(None, datasets.train, datasets.validation,
                              run_dir="checkpoints/default", resume=True, epochs=30)
    run = experiment.load_run("checkpoints/default")     # best weights, for inference

It composes the lower modules: `model.build_dnn` builds the graph, `training.fit` runs
the loop, `checkpoints.CheckpointHook` keeps the run resumable, `checkpoints.RunRecord`
is its record and `summaries.SummaryHook` writes TensorBoard logs. A training process
holds the run directory's lock (`checkpoints.lock_run`) from before anything is written
until it ends.
"""

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, scopes, summaries
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data.arrays import DataSet
from dnn_toolkit.errors import CheckpointError, ConfigMismatchError
from dnn_toolkit.model import DNN, build_dnn, hidden_scope
from dnn_toolkit.training import loop as training

_V1 = tf.compat.v1

#: Defaults of a new run's settings; a resumed run takes its record's instead.
DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 50
DEFAULT_PATIENCE = 5
_HASH_CHUNK = 4096  # examples hashed at a time


@dataclasses.dataclass
class RunResult:
  """What a run produced.

  Attributes:
    run_dir: the run directory.
    state: the final `training.TrainState` (history, best epoch, early stopping).
    test: {'loss', 'accuracy'} on the test set with the best weights, or None.
    best_checkpoint: path prefix of the best weights.
    seconds: wall time of this call's training.
  """
  run_dir: str
  state: training.TrainState
  test: dict[str, float] | None
  best_checkpoint: str | None
  seconds: float

  @property
  def history(self) -> list[dict[str, Any]]:
    return self.state.history


def default_hook_factories(every_n_steps: int = 100
                           ) -> tuple[Callable[[DNN, str], Any], ...]:
  """The hooks every command-line and demo run gets: TensorBoard logs and plots.

  Args:
    every_n_steps: positive int, the steps between layer diagnostics. Default 100.

  Returns:
    A tuple of `(dnn, run_dir) -> hook` factories for `train(hook_factories=...)`.
  """
  return (summaries.SummaryHook.factory(every_n_steps=every_n_steps),)


def default_run_dir(root: str = "checkpoints") -> str:
  """Returns a new run directory name under `root`, from the current time."""
  return os.path.join(root, time.strftime("run-%Y%m%d-%H%M%S"))


def data_identity(train_set: DataSet | tuple[np.ndarray, np.ndarray],
                  validation_set: DataSet | tuple[np.ndarray, np.ndarray],
                  source: dict[str, Any] | None = None) -> dict[str, Any]:
  """The identity of a run's data: sizes and SHA-256 digests of the arrays it sees.

  Args:
    train_set, validation_set: DataSets or (images `[n, n_inputs]`, labels `[n]`).
    source: optional JSON-ready dict describing where the data came from (e.g. a data
      loader's `identity`: source path, format, validation size); kept as it is.

  Returns:
    A JSON-ready dict: `source`'s fields plus 'n_train', 'n_validation', 'n_inputs',
    'train_sha256' and 'validation_sha256' (of the float32 images and int64 labels).
  """
  identity = dict(source or {})
  for name, part in (("train", train_set), ("validation", validation_set)):
    images, labels = training.as_arrays(name, part)
    digest = hashlib.sha256()
    # In chunks: compact (uint8) images are hashed as the float32 values they read as,
    # without a full float32 copy, so compact and float32 data have one identity.
    for start in range(0, len(labels), _HASH_CHUNK):
      digest.update(np.ascontiguousarray(images[start:start + _HASH_CHUNK],
                                         np.float32).data)
    digest.update(np.ascontiguousarray(labels).data)
    identity[f"n_{name}"] = int(len(labels))
    identity[f"{name}_sha256"] = digest.hexdigest()
    identity["n_inputs"] = int(images.shape[1])
  return identity


def train(config: DNNConfig | None,
          train_set: DataSet | tuple[np.ndarray, np.ndarray],
          validation_set: DataSet | tuple[np.ndarray, np.ndarray], *,
          test: DataSet | tuple[np.ndarray, np.ndarray] | None = None,
          run_dir: str | os.PathLike[str] | None = None, epochs: int | None = None,
          batch_size: int | None = None, patience: int | None = DEFAULT_PATIENCE,
          resume: bool = False, save_every_steps: int | None = None, verbose: int = 1,
          hook_factories: Iterable[Callable[[DNN, str], Any]] = (),
          stream: TextIO | None = None, data: dict[str, Any] | None = None,
          steps_per_call: int | None = None) -> RunResult:
  """Trains a DNN of `config` in a fresh graph and Session, checkpointing to `run_dir`.

  Args:
    config: a `DNNConfig`; None to resume with the run's own.
    train_set: DataSet or (images `[n, n_inputs]`, labels `[n]`).
    validation_set: same, for early stopping.
    test: optional same, evaluated with the best weights at the end; the metrics are
      saved in the run record.
    run_dir: the run directory. Default `checkpoints/run-<time>`.
    epochs: positive int, the total epochs (a resumed run counts those done). Default:
      the run's (resume) or 20.
    batch_size: positive int. Default: the run's (resume) or 50.
    patience: early-stopping patience in epochs, or None. Default 5.
    resume: continue the run in `run_dir` from its latest checkpoint.
    save_every_steps: optional positive int, also checkpoint every that many steps.
    verbose: 0 silent, 1 progress.
    hook_factories: callables `(dnn, run_dir) -> hook`, called in the graph before
      the Session starts (e.g. `summaries.SummaryHook.factory()`).
    stream: where progress goes. Default sys.stderr.
    data: optional JSON-ready description of the data's source (a loader's
      `identity`), recorded with the digests of `data_identity`.
    steps_per_call: training steps per Session call, as `training.fit` takes it
      (default: chosen automatically).

  Returns:
    A `RunResult`.

  Raises:
    ValueError, TypeError: on a bad argument, before anything is built or written.
    RunLockedError: if another process trains in `run_dir`; nothing is touched.
    CheckpointError: if `run_dir` holds a run and `resume` is False, holds none
      and `resume` is True, or its record or checkpoints are damaged.
    ConfigMismatchError: if resuming with another config, batch size or data.
    TrainingDivergedError: if the loss becomes NaN or infinite.
  """
  if run_dir is None:
    run_dir = default_run_dir()
  elif not isinstance(run_dir, (str, os.PathLike)) or not os.fspath(run_dir):
    raise ValueError("Expected `run_dir` to be a non-empty directory path. "
                     f"Received: run_dir={run_dir!r}")
  run_dir = os.fspath(run_dir)
  if config is not None:
    config = config.validate()
  elif not resume:
    raise ValueError("Expected a `config` for a new run (only a resumed run takes its "
                     "record's). Received: config=None")
  if save_every_steps is not None:
    _validation.check_positive_int("save_every_steps", save_every_steps)
  saved = checkpoints.RunRecord.read(run_dir) if resume else None
  config, epochs, batch_size = _settings(saved, config, epochs, batch_size)
  n_inputs = training.as_arrays("train_set", train_set)[0].shape[1]
  training.check_fit_arguments(config, n_inputs, train_set, validation_set, epochs,
                               batch_size, patience)
  identity = data_identity(train_set, validation_set, data)
  lock = checkpoints.lock_run(run_dir)
  try:
    if resume:
      saved = checkpoints.RunRecord.read(run_dir)  # Now no other process writes it.
      _refuse_transfer_run(saved)
      check_resume(saved, config, batch_size, identity)
    elif checkpoints.RunRecord.exists(run_dir):
      raise CheckpointError(
          f"{run_dir!r} already holds a training run; nothing was overwritten. Pass "
          "resume=True (--resume) to continue it, or choose another run directory.")
    record = checkpoints.RunRecord(run_dir=run_dir, config=config, batch_size=batch_size,
                                   epochs=epochs, patience=patience, data=identity,
                                   transfer=saved.transfer if saved else None,
                                   extra=saved.extra if saved else {})
    return _train_in_session(record, saved, train_set, validation_set, test, n_inputs,
                             save_every_steps=save_every_steps, verbose=verbose,
                             hook_factories=hook_factories, stream=stream,
                             steps_per_call=steps_per_call)
  finally:
    lock.release()


def _settings(saved, config, epochs, batch_size):
  """The config, epochs and batch size of a run: given, else the record's, else defaults."""
  if saved is None:
    return (config, DEFAULT_EPOCHS if epochs is None else epochs,
            DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
  config = saved.config if config is None else config.validate()
  epochs = epochs if epochs is not None else saved.epochs or DEFAULT_EPOCHS
  batch_size = (batch_size if batch_size is not None
                else saved.batch_size or DEFAULT_BATCH_SIZE)
  return config, epochs, batch_size


def _refuse_transfer_run(saved):
  """A transfer run's net is not `build_dnn`'s alone: it resumes through transfer_run."""
  if saved.transfer and saved.transfer.get("reused_layers"):
    raise CheckpointError(f"{saved.run_dir!r} is a transfer run (layers restored from "
                          f"{saved.transfer.get('from')}); continue it with "
                          f"`dnn-toolkit transfer --resume --run-dir {saved.run_dir}`. "
                          "Nothing was changed.")


def check_resume(saved: checkpoints.RunRecord, config: DNNConfig, batch_size: int | None,
                 identity: dict[str, Any]) -> None:
  """Raises unless the run `saved` can continue with this config, batch size and data.

  Args:
    saved: the run's `checkpoints.RunRecord`.
    config: the `DNNConfig` of the resuming call.
    batch_size: its batch size.
    identity: its `data_identity`.

  Raises:
    ConfigMismatchError: naming what differs (its `fields`).
  """
  run_dir = saved.run_dir
  checkpoints.check_same_config(run_dir, saved.config, config)
  if saved.batch_size != batch_size:
    raise ConfigMismatchError(
        f"Cannot resume {run_dir!r} with a different batch size (batch_size: run has "
        f"{saved.batch_size!r}, given {batch_size!r}); the shuffle position "
        "depends on it. Nothing was changed.", fields=("batch_size",))
  if saved.data is None:
    return  # A run recorded before data identities: nothing to compare.
  keys = ("n_train", "n_validation", "n_inputs", "train_sha256", "validation_sha256")
  differs = [k for k in keys if saved.data.get(k) != identity.get(k)]
  if differs:
    described = lambda d: (f"{d.get('source', 'arrays')} (train {d.get('n_train')}, "
                           f"validation {d.get('n_validation')} examples, train sha256 "
                           f"{str(d.get('train_sha256'))[:12]}...)")
    raise ConfigMismatchError(
        f"Cannot resume {run_dir!r} on other data ({', '.join(differs)} differ): the run "
        f"trained on {described(saved.data)}, given {described(identity)}. Nothing was "
        "changed; resume with the run's data or start a new run directory.",
        fields=("data",))


def _train_in_session(record, saved, train_set, validation_set, test, n_inputs, *,
                      save_every_steps, verbose, hook_factories, stream, steps_per_call):
  """Builds the graph, restores a resumed run, trains, evaluates; returns a RunResult."""
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(record.config, n_inputs)
    hook = checkpoints.CheckpointHook(record, save_every_steps=save_every_steps)
    hooks = [hook] + [factory(dnn, record.run_dir) for factory in hook_factories]
    snapshot = training.ParamSnapshot()
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    state = _restore_run(sess, saved, hook, snapshot) if saved else None
    started = time.perf_counter()
    state = training.fit(sess, dnn, train_set, validation_set, epochs=record.epochs,
                         batch_size=record.batch_size, patience=record.patience,
                         hooks=hooks, state=state, snapshot=snapshot, verbose=verbose,
                         stream=stream, steps_per_call=steps_per_call)
    seconds = time.perf_counter() - started
    test_metrics = None
    if test is not None:
      X_test, y_test = training.as_arrays("test", test)
      test_metrics = training.evaluate(sess, dnn, X_test, y_test)
      record.test = dict(test_metrics, n_test=int(len(y_test)))
      record.write()
  return RunResult(record.run_dir, state, test_metrics, hook.best_checkpoint, seconds)


def _restore_run(sess, saved, hook, snapshot):
  """Restores the latest checkpoint and the best weights; returns the TrainState."""
  hook.resume_from(saved)
  if hook.last_checkpoint is None:
    raise CheckpointError(f"{saved.run_dir!r} holds no checkpoint yet; start it anew.")
  scopes.restore(sess, hook.last_checkpoint)
  if hook.best_checkpoint is not None:
    snapshot.load(scopes.load_values(hook.best_checkpoint))
  return saved.state


@dataclasses.dataclass
class LoadedRun:
  """A finished (or running) run's net in a Session, ready for inference.

  Attributes:
    record: the run's `checkpoints.RunRecord`.
    dnn: the built `DNN` (in `sess.graph`).
    sess: a Session holding the restored weights; close it (or use `with`) when done.
    checkpoint: the checkpoint prefix restored.
  """
  record: checkpoints.RunRecord
  dnn: DNN
  sess: tf.compat.v1.Session
  checkpoint: str

  def evaluate(self, images: np.ndarray, labels: np.ndarray,
               batch_size: int = 5000) -> dict[str, float]:
    """{'loss', 'accuracy'} of `images` `[n, n_inputs]`, `labels` `[n]`."""
    return training.evaluate(self.sess, self.dnn, images, labels, batch_size)

  def predict(self, images: np.ndarray, batch_size: int = 5000) -> np.ndarray:
    """Predicted classes `[n]` of `images` `[n, n_inputs]`."""
    return training.predict(self.sess, self.dnn, images, batch_size)

  def close(self) -> None:
    self.sess.close()

  def __enter__(self) -> "LoadedRun":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()


def load_run(run_dir: str, which: str = "best") -> LoadedRun:
  """Rebuilds a run's net and restores its weights for inference, read-only.

      with experiment.load_run("checkpoints/mnist") as run:
        classes = run.predict(images)

  Needs no lock: a run still training can be evaluated from its best checkpoint.

  Args:
    run_dir: the run directory.
    which: 'best' (default; the lowest validation loss) or 'latest'.

  Returns:
    A `LoadedRun`.

  Raises:
    ValueError: if `which` is neither 'best' nor 'latest'.
    CheckpointError: if the run, its record or that checkpoint is missing or damaged.
  """
  _validation.check_choice("which", which, ("best", "latest"))
  record = checkpoints.RunRecord.read(run_dir)
  prefix = record.best_checkpoint if which == "best" else record.latest_checkpoint
  if not prefix:
    raise CheckpointError(f"The run in {run_dir!r} has no {which} checkpoint yet.")
  n_inputs = (record.data or {}).get("n_inputs")
  if n_inputs is None:
    weights = f"{hidden_scope(1)}/weights"  # [n_inputs, units]
    n_inputs = scopes.checkpoint_contents(prefix)[2][weights][0][0]
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(record.config, n_inputs)
    init = _V1.global_variables_initializer()
  sess = _V1.Session(graph=graph)
  try:
    sess.run(init)
    scopes.restore(sess, prefix, var_list=graph.get_collection(
        _V1.GraphKeys.MODEL_VARIABLES))
  except BaseException:
    sess.close()
    raise
  return LoadedRun(record, dnn, sess, prefix)
