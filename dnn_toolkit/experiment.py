"""A training run in a run directory: build, train, checkpoint, log, resume.

This is the one-call entry point the command line and the demos use:

    datasets = data.load_mnist()
    result = experiment.train(DNNConfig(), datasets.train, datasets.validation,
                              test=datasets.test, run_dir="checkpoints/default")
    result = experiment.train(..., run_dir="checkpoints/default", resume=True)

It composes the lower modules: `model.build_dnn` builds the graph, `training.fit` runs
the loop, `checkpoints.CheckpointHook` keeps the run resumable and
`summaries.SummaryHook` writes TensorBoard logs.
"""

import dataclasses
import os
import time
from typing import Optional

import tensorflow as tf

from dnn_toolkit import checkpoints
from dnn_toolkit import summaries
from dnn_toolkit import training
from dnn_toolkit.errors import CheckpointError, ConfigMismatchError
from dnn_toolkit.model import DNNConfig, build_dnn

_V1 = tf.compat.v1


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
  test: Optional[dict]
  best_checkpoint: Optional[str]
  seconds: float

  @property
  def history(self):
    return self.state.history


def default_hook_factories(every_n_steps=100):
  """The hooks every command-line and demo run gets: TensorBoard logs and plots.

  Args:
    every_n_steps: positive int, the steps between layer diagnostics. Default 100.

  Returns:
    A tuple of `(dnn, run_dir) -> hook` factories for `train(hook_factories=...)`.
  """
  return (summaries.SummaryHook.factory(every_n_steps=every_n_steps),)


def default_run_dir(root="checkpoints"):
  """Returns a new run directory name under `root`, from the current time."""
  return os.path.join(root, time.strftime("run-%Y%m%d-%H%M%S"))


def train(config, train_set, validation_set, test=None, run_dir=None, epochs=20,
          batch_size=50, patience=5, resume=False, save_every_steps=None, verbose=1,
          hook_factories=(), stream=None):
  """Trains a DNN of `config` in a fresh graph and Session, checkpointing to `run_dir`.

  Args:
    config: a `DNNConfig`.
    train_set: DataSet or (images `[n, n_inputs]`, labels `[n]`).
    validation_set: same, for early stopping.
    test: optional same, evaluated with the best weights at the end.
    run_dir: the run directory. Default `checkpoints/run-<time>`.
    epochs: positive int, the total epochs (a resumed run counts those done).
    batch_size: positive int. Default 50.
    patience: early-stopping patience in epochs, or None. Default 5.
    resume: continue the run in `run_dir` from its latest checkpoint.
    save_every_steps: optional positive int, also checkpoint every that many steps.
    verbose: 0 silent, 1 progress.
    hook_factories: callables `(dnn, run_dir) -> hook`, called in the graph before
      the Session starts (e.g. `summaries.SummaryHook.factory()`).
    stream: where progress goes. Default sys.stderr.

  Returns:
    A `RunResult`.

  Raises:
    ValueError, TypeError: on a bad argument, before anything is built or written.
    CheckpointError: if `run_dir` holds a run and `resume` is False, or holds none
      and `resume` is True.
    ConfigMismatchError: if resuming with another config or batch size.
    TrainingDivergedError: if the loss becomes NaN or infinite.
  """
  config = config.validate()
  n_inputs = training.as_arrays("train_set", train_set)[0].shape[1]
  training.check_fit_arguments(config, n_inputs, train_set, validation_set, epochs,
                               batch_size, patience)
  if save_every_steps is not None:
    from dnn_toolkit._validation import check_positive_int  # pylint: disable=g-import-not-at-top
    check_positive_int("save_every_steps", save_every_steps)
  run_dir = run_dir or default_run_dir()
  saved = _check_run_dir(run_dir, config, batch_size, resume)
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(config, n_inputs)
    hook = checkpoints.CheckpointHook(run_dir, config, save_every_steps,
                                      extra={"batch_size": batch_size})
    hooks = [hook] + [factory(dnn, run_dir) for factory in hook_factories]
    snapshot = training.ParamSnapshot()
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    state = _restore_run(sess, saved, hook, snapshot, run_dir) if saved else None
    started = time.perf_counter()
    state = training.fit(sess, dnn, train_set, validation_set, epochs, batch_size,
                         patience, hooks, state, snapshot, verbose, stream)
    seconds = time.perf_counter() - started
    test_metrics = None
    if test is not None:
      X_test, y_test = training.as_arrays("test", test)
      test_metrics = training.evaluate(sess, dnn, X_test, y_test)
  return RunResult(run_dir, state, test_metrics, hook.best_checkpoint, seconds)


def _check_run_dir(run_dir, config, batch_size, resume):
  """Returns the saved state to resume from (None for a new run); raises on conflicts."""
  if not resume:
    if checkpoints.has_run(run_dir):
      raise CheckpointError(
          f"{run_dir!r} already holds a training run; nothing was overwritten. Pass "
          "resume=True (--resume) to continue it, or choose another run directory.")
    return None
  saved = checkpoints.read_run_state(run_dir)
  checkpoints.check_same_config(run_dir, DNNConfig.from_dict(saved["config"]), config)
  if saved.get("batch_size") != batch_size:
    raise ConfigMismatchError(
        f"Cannot resume {run_dir!r} with a different batch size (batch_size: run has "
        f"{saved.get('batch_size')!r}, given {batch_size!r}); the shuffle position "
        "depends on it. Nothing was changed.")
  return saved


def _restore_run(sess, saved, hook, snapshot, run_dir):
  """Restores the latest checkpoint and the best weights; returns the TrainState."""
  hook.resume_from(saved)
  if hook.last_checkpoint is None:
    raise CheckpointError(f"{run_dir!r} holds no checkpoint yet; start it anew.")
  checkpoints.restore(sess, hook.last_checkpoint)
  if hook.best_checkpoint is not None:
    snapshot.load(checkpoints.load_values(hook.best_checkpoint))
  return training.TrainState.from_dict(saved["state"])
