"""A transfer-learning run in a run directory: the lesson's recipe, checkpointed.

`experiment.train` builds `build_dnn(config)` itself; a transfer run builds
`transfer.build_transfer_dnn` instead, restores the reused layers after the
initializer, and may train on cached frozen outputs. This module is that run, made of
the same parts: `checkpoints.lock_run`, a `checkpoints.RunRecord` (with its `transfer`
field), `checkpoints.CheckpointHook`, `summaries.SummaryHook` (restored and frozen
layers marked) and `training.fit` (or `transfer.fit_cached`). The run directory it
writes is a normal one: `experiment.load_run`, `evaluate`, `inspect`, `tensorboard`
and a further transfer read it.

    base = transfer.load_pretrained("checkpoints/digits-0-4")
    config = dataclasses.replace(base.config, n_outputs=5)
    result = transfer_run.train_transfer(
        base, config, train, validation, test=test, run_dir="checkpoints/digits-5-9",
        reuse=(1, 2, 3), frozen_layers=2, cache_frozen=True, epochs=10)
    result.record.transfer
    # {'from': '.../best/model.ckpt-5500', 'restored': ['hidden1', 'hidden2', 'hidden3'],
    #  'frozen': ['hidden1', 'hidden2'], 'new': ['hidden4', 'outputs'], ...}
"""

import dataclasses
import os
import time
from collections.abc import Sequence
from typing import Any, TextIO, cast

import numpy as np
import tensorflow as tf

from dnn_toolkit import checkpoints, experiment, scopes, summaries, transfer
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data.arrays import DataSet
from dnn_toolkit.errors import CheckpointError
from dnn_toolkit.model import hidden_scope
from dnn_toolkit.training import loop as training

_V1 = tf.compat.v1


@dataclasses.dataclass
class TransferResult(experiment.RunResult):
  """A `RunResult` with the run's record (its `transfer` field says what was reused).

  Attributes:
    record: the `checkpoints.RunRecord` written.
  """
  record: checkpoints.RunRecord | None = None


class _EpochSummaryHook(summaries.SummaryHook):
  """A SummaryHook for training on cached frozen outputs: no per-step diagnostics.

  The steps feed cached features, not the net's input, so the layer diagnostics
  (which run the net from `X`) cannot be computed; the graph, the transfer text and the
  epoch curves are written as for any run.
  """

  def begin(self, sess, dnn, state):
    super().begin(sess, self.dnn, state)  # The whole net, not the cached view.

  def after_step(self, sess, state, loss, X_batch, y_batch):
    del sess, state, loss, X_batch, y_batch  # Unused.


def train_transfer(pretrained: checkpoints.Pretrained | tuple[DNNConfig, str],
                   config: DNNConfig,
                   train_set: DataSet | tuple[np.ndarray, np.ndarray],
                   validation_set: DataSet | tuple[np.ndarray, np.ndarray], *,
                   reuse: int | Sequence[int], frozen_layers: int = 0,
                   cache_frozen: bool = False,
                   test: DataSet | tuple[np.ndarray, np.ndarray] | None = None,
                   run_dir: str | os.PathLike[str] | None = None,
                   epochs: int | None = None, batch_size: int | None = None,
                   patience: int | None = experiment.DEFAULT_PATIENCE,
                   save_every_steps: int | None = None, log_every_steps: int = 100,
                   verbose: int = 1, stream: TextIO | None = None,
                   data: dict[str, Any] | None = None) -> TransferResult:
  """Trains a net that reuses layers of `pretrained`, in a new run directory.

  Args:
    pretrained: a `checkpoints.Pretrained` (e.g. `transfer.load_pretrained(run)`).
    config: the new net's `DNNConfig` (reused layers keep their sizes).
    train_set, validation_set: DataSets or (images `[n, n_inputs]`, labels `[n]`).
    reuse: the hidden layer numbers restored from `pretrained`, e.g. (1, 2, 3).
    frozen_layers: int, the lowest hidden layers left unchanged (all reused).
    cache_frozen: train on the frozen layers' outputs, computed once
      (`transfer.fit_cached`); needs `frozen_layers > 0`.
    test: optional DataSet or pair, evaluated with the best weights; saved in the
      record.
    run_dir: the new run directory. Default `checkpoints/run-<time>`.
    epochs, batch_size, patience, save_every_steps, verbose, stream: as in
      `experiment.train` (defaults 20, 50, 5).
    log_every_steps: positive int, steps between TensorBoard layer diagnostics.
    data: optional JSON-ready description of the data (a loader's identity, the
      digits kept), recorded with the digests of `experiment.data_identity`.

  Returns:
    A `TransferResult`.

  Raises:
    ValueError, TypeError: a bad argument, before anything is written.
    CheckpointError, NoMatchError, ShapeMismatchError: `run_dir` already holds a run;
      or the checkpoint lacks the reused layers, or holds them with other shapes.
    RunLockedError: another process trains in `run_dir`.
    TrainingDivergedError: the loss became NaN or infinite.
  """
  run_dir = os.fspath(run_dir) if run_dir is not None else experiment.default_run_dir()
  config = config.validate()
  epochs = experiment.DEFAULT_EPOCHS if epochs is None else epochs
  batch_size = experiment.DEFAULT_BATCH_SIZE if batch_size is None else batch_size
  n_inputs = training.as_arrays("train_set", train_set)[0].shape[1]
  training.check_fit_arguments(config, n_inputs, train_set, validation_set, epochs,
                               batch_size, patience)
  if cache_frozen and not frozen_layers:
    raise ValueError("`cache_frozen=True` needs frozen layers to cache, expected "
                     "frozen_layers > 0. Received: frozen_layers=0")
  if checkpoints.RunRecord.exists(run_dir):
    raise CheckpointError(f"{run_dir!r} already holds a training run; nothing was "
                          "overwritten. Choose another run directory.")
  identity = experiment.data_identity(train_set, validation_set, data)
  graph = tf.Graph()
  with graph.as_default():
    # Checks the checkpoint against the reused layers before anything is written.
    model = transfer.build_transfer_dnn(pretrained, config, n_inputs, reuse=reuse,
                                        frozen_layers=frozen_layers)
  lock = checkpoints.lock_run(run_dir)
  try:
    if checkpoints.RunRecord.exists(run_dir):  # Started while we built: now locked.
      raise CheckpointError(f"{run_dir!r} already holds a training run; nothing was "
                            "overwritten. Choose another run directory.")
    record = checkpoints.RunRecord(
        run_dir=run_dir, config=config, batch_size=batch_size, epochs=epochs,
        patience=patience, data=identity,
        transfer=transfer_summary(model, config, cache_frozen))
    with graph.as_default():
      return _train_in_session(model, record, train_set, validation_set, test,
                               cache_frozen, save_every_steps, log_every_steps,
                               verbose, stream)
  finally:
    lock.release()


def transfer_summary(model: transfer.TransferDNN, config: DNNConfig,
                     cache_frozen: bool = False) -> dict[str, Any]:
  """The record's `transfer` field: what was restored from where, frozen and new.

  Returns:
    {'from': the checkpoint (absolute path), 'restored', 'frozen', 'new': layer
    scopes; 'reused_layers': the restored layer numbers, 'frozen_layers': the frozen
    count, 'cached': whether training runs on cached frozen outputs}.
  """
  layers = [hidden_scope(i + 1) for i in range(len(config.hidden_layers))]
  restored = [hidden_scope(i) for i in model.reused]
  return {"from": os.path.abspath(model.pretrained.checkpoint), "restored": restored,
          "frozen": [hidden_scope(i) for i in range(1, model.frozen_layers + 1)],
          "new": [s for s in layers if s not in restored] + [model.dnn.layer_scopes[-1]],
          "reused_layers": list(model.reused), "frozen_layers": model.frozen_layers,
          "cached": bool(cache_frozen)}


def resume_transfer(run_dir: str | os.PathLike[str],
                    train_set: DataSet | tuple[np.ndarray, np.ndarray],
                    validation_set: DataSet | tuple[np.ndarray, np.ndarray], *,
                    test: DataSet | tuple[np.ndarray, np.ndarray] | None = None,
                    epochs: int | None = None, batch_size: int | None = None,
                    save_every_steps: int | None = None, log_every_steps: int = 100,
                    verbose: int = 1, stream: TextIO | None = None) -> TransferResult:
  """Continues a transfer run from its latest checkpoint, as it was built.

  The net is rebuilt from the record (the same layers frozen, the same caching); the
  latest checkpoint restores every variable, so the pretrained run's checkpoint is no
  longer needed. The data must be the run's (by the record's digests).

  Args:
    run_dir: the transfer run's directory.
    train_set, validation_set, test: as in `train_transfer`.
    epochs: the total epochs (default: the record's); batch_size: None or the
      record's.
    save_every_steps, log_every_steps, verbose, stream: as in `train_transfer`.

  Returns:
    A `TransferResult`.

  Raises:
    CheckpointError: no run, not a transfer run, or no checkpoint yet.
    ConfigMismatchError: another batch size, or other data.
    RunLockedError: another process trains there.
  """
  run_dir = os.fspath(run_dir)
  check_resumable(checkpoints.RunRecord.read(run_dir))
  lock = checkpoints.lock_run(run_dir)
  try:
    saved = checkpoints.RunRecord.read(run_dir)  # Now no other process writes it.
    epochs = saved.epochs if epochs is None else epochs
    batch_size = saved.batch_size if batch_size is None else batch_size
    n_inputs = training.as_arrays("train_set", train_set)[0].shape[1]
    training.check_fit_arguments(saved.config, n_inputs, train_set, validation_set,
                                 epochs, batch_size, saved.patience)
    identity = experiment.data_identity(train_set, validation_set, saved.data)
    # The one check of a resume (batch size, data digests), owned by experiment.
    # pylint: disable-next=protected-access
    experiment.check_resume(saved, saved.config, batch_size, identity)
    record = dataclasses.replace(saved, epochs=epochs)
    layout = cast(dict[str, Any], saved.transfer)  # Not None: check_resumable passed.
    graph = tf.Graph()
    with graph.as_default():
      # The latest checkpoint holds the reused layers under their names and shapes.
      model = transfer.build_transfer_dnn(
          checkpoints.Pretrained(saved.config, saved.latest_checkpoint), saved.config,
          n_inputs, reuse=layout["reused_layers"],
          frozen_layers=layout["frozen_layers"])
      return _train_in_session(model, record, train_set, validation_set, test,
                               layout["cached"], save_every_steps,
                               log_every_steps, verbose, stream, saved=saved)
  finally:
    lock.release()


def check_resumable(record: checkpoints.RunRecord) -> None:
  """Raises CheckpointError unless `record` is a transfer run with a checkpoint."""
  if not record.transfer or "reused_layers" not in record.transfer:
    raise CheckpointError(f"{record.run_dir!r} holds no transfer run (its record names "
                          "no reused layers); resume it with `dnn-toolkit train "
                          "--resume`.")
  if not record.latest_checkpoint:
    raise CheckpointError(f"{record.run_dir!r} holds no checkpoint yet; start it anew.")


def _train_in_session(model, record, train_set, validation_set, test, cache_frozen,
                      save_every_steps, log_every_steps, verbose, stream, saved=None):
  """Initializes, restores, trains, evaluates; returns the result.

  A new run restores the reused layers from the pretrained checkpoint; a resumed one
  (`saved`, its record) every variable from its latest checkpoint.
  """
  summary = record.transfer
  hook_class = _EpochSummaryHook if cache_frozen else summaries.SummaryHook
  hooks = [checkpoints.CheckpointHook(record, save_every_steps=save_every_steps),
           hook_class(model.dnn, summaries.logdir_of(record.run_dir),
                      every_n_steps=log_every_steps,
                      restored={s: summary["from"] for s in summary["restored"]},
                      frozen=summary["frozen"])]
  snapshot = training.ParamSnapshot()
  init = _V1.global_variables_initializer()
  with _V1.Session() as sess:
    # The initializer gives every variable a random value; the restore then
    # overwrites the reused ones. The other order would lose the pretrained values.
    sess.run(init)
    state = None
    if saved is None:
      model.restore(sess)
    else:
      state = _restore_latest(sess, saved, hooks[0], snapshot)
    fit = transfer.fit_cached if cache_frozen else training.fit
    net = model if cache_frozen else model.dnn
    started = time.perf_counter()
    state = fit(sess, net, train_set, validation_set, epochs=record.epochs,
                batch_size=record.batch_size, patience=record.patience, hooks=hooks,
                state=state, snapshot=snapshot, verbose=verbose, stream=stream)
    seconds = time.perf_counter() - started
    metrics = None
    if test is not None:
      X_test, y_test = training.as_arrays("test", test)
      metrics = training.evaluate(sess, model.dnn, X_test, y_test)
      record.test = dict(metrics, n_test=int(len(y_test)))
      record.write()
  return TransferResult(record.run_dir, state, metrics, hooks[0].best_checkpoint,
                        seconds, record=record)


def _restore_latest(sess, saved, hook, snapshot):
  """Restores a resumed run's latest checkpoint and best weights; returns its state."""
  hook.resume_from(saved)
  scopes.restore(sess, hook.last_checkpoint)
  if hook.best_checkpoint is not None:
    snapshot.load(scopes.load_values(hook.best_checkpoint))
  return saved.state
