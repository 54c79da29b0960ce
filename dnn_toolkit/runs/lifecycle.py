"""The run lifecycle: one path for every training run kept in a run directory.

    result = lifecycle.train(DNNConfig(), train, validation, test=test,
                             run_dir="checkpoints/mnist", epochs=20)
    result = lifecycle.train(None, run_dir="checkpoints/mnist", resume=True, epochs=30)
    result = lifecycle.train(nets.TransferNet(base, config, reuse=(1, 2, 3)), ...)

A run, local or on a cluster, plain or transfer, goes through the same steps, in order:

1. `Run.open`: lock the run directory, read its record once, resolve the settings once
   (what the caller gives, else the record's, else the defaults), and check everything
   a resume depends on: the kind of net, the config, the batch size, the data, and
   the checkpoints it continues from, read back in full. Nothing is written before
   every check has passed; a refused resume leaves the directory as it was.
2. Build the net (`nets.PlainNet`, `nets.TransferNet`) and the hooks (checkpoints,
   TensorBoard logs, the caller's), restore (the latest checkpoint and best weights of
   a resumed run; the reused layers of a new transfer run), fit, and `Run.finish`:
   the test metrics with the best weights, into the record.

What differs between a local run and a cluster chief is only step 2's session: a local
`tf.compat.v1.Session` (`LocalSession`, here) or `MonitoredTrainingSession` on a cluster
task (`dnn_toolkit.cluster.worker.ClusterSession`); both take a `Run`.
"""

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TextIO, cast

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, scopes
from dnn_toolkit.checkpoints import CheckpointHook, Resumption, RunRecord
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data.arrays import as_arrays, data_identity
from dnn_toolkit.errors import ArgumentError, CheckpointError, ConfigMismatchError
from dnn_toolkit.runs import nets
from dnn_toolkit.training import loop
from dnn_toolkit.training.hooks import BestWeights
from dnn_toolkit.training.state import TrainState

_V1 = tf.compat.v1

#: Defaults of a new run's settings; a resumed run takes its record's instead.
DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 50
DEFAULT_PATIENCE = 5

#: The keys of a data identity that say which arrays a run saw.
_DATA_KEYS = ("n_train", "n_validation", "n_inputs", "train_sha256", "validation_sha256")


class _Unset:
  """The value of a setting not given: the run's own (resume), else the default."""

  def __repr__(self) -> str:
    return "UNSET"


#: A `Settings.patience` not given (None is a given value: no early stopping).
UNSET: Any = _Unset()


@dataclasses.dataclass
class Settings:
  """How a run trains. None means: the run's own (resume), else the default.

  Attributes:
    epochs: positive int, the total epochs (a resumed run counts those done).
      Default: the run's, else 20.
    batch_size: positive int. Default: the run's, else 50.
    patience: positive int, the early-stopping patience in epochs; None disables it.
      Default (`UNSET`): the run's, else 5.
    save_every_steps: positive int: also checkpoint whenever the global step crosses a
      multiple of it. Default: each epoch only.
    log_every_steps: positive int, the steps between TensorBoard layer diagnostics.
    steps_per_call: positive int, training steps per Session call (default: chosen by
      `loop.fit`).
    fast: `loop.fit`'s fast mode (XLA-compiled steps, not bit for bit the exact
      path); for this invocation only, as `steps_per_call`: the record does not keep it.
    verbose: 0 silent, 1 progress.
  """
  epochs: int | None = None
  batch_size: int | None = None
  patience: int | None = UNSET
  save_every_steps: int | None = None
  log_every_steps: int = 100
  steps_per_call: int | None = None
  fast: bool = False
  verbose: int = 1

  def validate(self) -> "Settings":
    """Raises ValueError or TypeError naming the first bad setting; returns self."""
    for name in ("epochs", "batch_size", "save_every_steps", "steps_per_call"):
      if getattr(self, name) is not None:
        _validation.check_positive_int(name, getattr(self, name))
    if self.patience is not UNSET and self.patience is not None:
      _validation.check_positive_int("patience", self.patience)
    _validation.check_positive_int("log_every_steps", self.log_every_steps)
    _validation.check_bool("fast", self.fast)
    _validation.check_choice("verbose", self.verbose, (0, 1))
    return self

  def resolved(self, saved: RunRecord | None) -> "Settings":
    """These settings with every None filled: the record's value, else the default."""
    def pick(given, recorded, default):
      if given is not None:
        return given
      return recorded if saved is not None and recorded is not None else default

    patience = self.patience
    if patience is UNSET:
      patience = saved.patience if saved is not None else DEFAULT_PATIENCE
    return dataclasses.replace(
        self, epochs=pick(self.epochs, saved and saved.epochs, DEFAULT_EPOCHS),
        batch_size=pick(self.batch_size, saved and saved.batch_size,
                        DEFAULT_BATCH_SIZE),
        patience=patience)


@dataclasses.dataclass
class RunResult:
  """What a run produced.

  Attributes:
    run_dir: the run directory.
    state: the final `TrainState` (history, best epoch, early stopping).
    test: {'loss', 'accuracy', 'n_test'} on the test set with the best weights, or None.
    best_checkpoint: path prefix of the best weights.
    seconds: wall time of this call's training.
    record: the run's record as written.
    trained: whether this call trained at all (False: the run had nothing left).
  """
  run_dir: str
  state: TrainState
  test: dict[str, float] | None
  best_checkpoint: str | None
  seconds: float
  record: RunRecord
  trained: bool = True

  @property
  def history(self) -> list[dict[str, Any]]:
    return self.state.history


def default_run_dir(root: str = "checkpoints") -> str:
  """Returns a new run directory name under `root`, from the current time."""
  return os.path.join(root, time.strftime("run-%Y%m%d-%H%M%S"))


class Run:
  """A run directory held by this process for training: locked, read once, checked.

  Made by `Run.open`; used as a context manager, which releases the lock. The session
  that trains it (`LocalSession`, a cluster chief's) calls, in order: `make_hooks`,
  `restore_variables` (after the initializer), `initial_state`, the loop, `finish`.

  Attributes:
    run_dir: the run directory.
    net: the net builder (`nets.PlainNet` or `nets.TransferNet`).
    config: the run's `DNNConfig`.
    settings: the resolved `Settings` (no None left but the optional ones).
    saved: the record read (a resumed run), or None (a new run).
    resumption: where a resumed run continues (`checkpoints.Resumption`), or None.
    identity: the data identity the record keeps.
    data: (train, validation, test), as given or reloaded.
    record: the `RunRecord` this run writes (set by `make_hooks`).
  """

  record: RunRecord  # Set by `make_hooks`.

  def __init__(self, run_dir: str, net: nets.PlainNet, config: DNNConfig,
               settings: Settings, saved: RunRecord | None,
               resumption: Resumption | None, identity: dict[str, Any] | None,
               data: tuple[Any, Any, Any], lock: Any) -> None:
    self.run_dir, self.net, self.config = run_dir, net, config
    self.settings, self.saved, self.resumption = settings, saved, resumption
    self.identity, self.data = identity, data
    self._lock = lock

  # ------------------------------------------------------------------------- open

  @classmethod
  def open(cls, run_dir: str | os.PathLike[str], net: DNNConfig | nets.PlainNet | None,
           *, resume: bool | str = False, settings: Settings | None = None,
           train: Any = None, validation: Any = None, test: Any = None,
           data: dict[str, Any] | None = None,
           from_checkpoint: str | None = None) -> "Run":
    """Locks `run_dir` and checks that the run can start or continue as asked.

    Every check runs before anything is written: a bad argument or a refused resume
    leaves the directory as it was (a new run directory is not even created).

    Args:
      run_dir: the run directory.
      net: a `DNNConfig` (a plain net), a net builder, or None to resume the run's own.
      resume: True to continue the run in `run_dir`, False for a new run, 'auto' to
        continue one if there is one (a cluster chief, restarted).
      settings: the caller's `Settings` (None fields: the run's, else defaults).
      train, validation, test: the data (DataSets or (images, labels) pairs). A
        resumed run given none reloads its record's source, split as it was, and
        checks it against the record's digests.
      data: JSON-ready description of the data's source (a loader's `identity`), kept
        in the record with the digests of `data_identity`.
      from_checkpoint: a latest checkpoint to continue from instead of the newest
        (see `checkpoints.verify_resume`).

    Returns:
      The opened `Run`, holding the lock; `run.data` is (train, validation, test).

    Raises:
      ValueError, TypeError: a bad argument.
      RunLockedError: another process trains there; nothing is touched.
      CheckpointError: no run to resume, a run where a new one was asked, another
        kind of run, a damaged record or checkpoint (naming what to do).
      ConfigMismatchError: another config, batch size or data (`fields`, `values`).
    """
    if not isinstance(run_dir, (str, os.PathLike)) or not os.fspath(run_dir).strip():
      raise ArgumentError("run_dir", "Expected {name} to be a non-empty directory path. "
                          "Received: {received}", run_dir)
    _validation.check_choice("resume", resume, (True, False, "auto"))
    run_dir = os.fspath(run_dir)
    settings = (settings or Settings()).validate()
    if isinstance(net, DNNConfig):
      net = nets.PlainNet(net)
    if net is None and resume is not True:
      raise ArgumentError("config", "Expected {name} for a new run (only a resumed run "
                          "takes its record's). Received: {received}", None)
    if train is None and (validation is not None or resume is not True):
      raise ArgumentError("train", "Expected {name} and `validation` data (only a "
                          "resumed run reloads its own). Received: {received}", None)
    if resume is True:  # Else the lock would create the directory it looks for.
      _check_exists(run_dir, RunRecord.exists(run_dir), resume, from_checkpoint)
    identity = None
    if train is not None:
      if net is not None and resume is False:  # Refuse bad data before writing.
        _check_data(net.new_config(), settings.resolved(None), train, validation)
      identity = data_identity(train, validation, data)
    lock = checkpoints.lock_run(run_dir)
    try:
      saved = RunRecord.read(run_dir) if RunRecord.exists(run_dir) else None
      if resume == "auto":
        resume = saved is not None
      _check_exists(run_dir, saved is not None, resume, from_checkpoint)
      if saved is None:
        if net is None:  # resume='auto' found no run and was given no net.
          raise ArgumentError("config", "Expected {name} for a new run (no run to "
                              "resume was found). Received: {received}", None)
        return cls(run_dir, net, net.new_config(), settings.resolved(None), None, None,
                   identity, (train, validation, test), lock)
      resolved = settings.resolved(saved)
      if train is not None:  # Bad data first, as for a new run.
        _check_data(net.given_config(saved.config) if net else saved.config, resolved,
                    train, validation)
      resumed_net = _check_kind(saved, net)
      config = resumed_net.resumed_config(saved)
      _check_same_batches(saved, resolved.batch_size)
      if train is None:
        from dnn_toolkit.runs import run_data  # pylint: disable=import-outside-toplevel
        train, validation, test = run_data.reload_splits(saved)
        identity = saved.data
        _check_data(config, resolved, train, validation)
      else:
        check_same_data(saved, cast(dict[str, Any], identity))
      resumption = checkpoints.verify_resume(saved, from_checkpoint)
      return cls(run_dir, resumed_net, config, resolved, saved, resumption, identity,
                 (train, validation, test), lock)
    except BaseException:
      lock.release()
      raise

  def close(self) -> None:
    """Releases the run directory's lock."""
    self._lock.release()

  def __enter__(self) -> "Run":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()

  @property
  def nothing_left(self) -> bool:
    """Whether a resumed run has no epoch left to train at these settings."""
    if self.resumption is None:
      return False
    state = self.resumption.state
    return state.epoch >= cast(int, self.settings.epochs) or _stays_stopped(
        state, self.settings.patience)

  # -------------------------------------------------------------- build and train

  def make_hooks(self, built: nets.Built,
                 hook_factories: Iterable[Callable[[Any, str], Any]] = ()
                 ) -> tuple[CheckpointHook, list[Any]]:
    """The run's record and hooks, built in the net's graph before the Session starts.

    Returns:
      (the `CheckpointHook`, [it, the TensorBoard `SummaryHook`, the caller's hooks]).
    """
    s = self.settings
    base = self.saved or RunRecord(run_dir=self.run_dir, config=self.config)
    self.record = dataclasses.replace(
        base, config=self.config, epochs=s.epochs, batch_size=s.batch_size,
        patience=s.patience,
        data=self.identity if self.identity is not None else base.data,
        **(self.net.record_fields(built) if self.saved is None else {}))
    checkpoint = CheckpointHook(self.record, save_every_steps=s.save_every_steps)
    summary = self.net.summary_hook(built, self.run_dir, s.log_every_steps, self.record)
    return checkpoint, [checkpoint, summary] + [
        factory(built.dnn, self.run_dir) for factory in hook_factories]

  def restore_variables(self, sess: tf.compat.v1.Session, built: nets.Built) -> None:
    """After the initializer: a resumed run's latest checkpoint, or the net's own
    restore of a new run (a transfer net's reused layers)."""
    if self.resumption is not None:
      scopes.restore(sess, self.resumption.latest)
    else:
      self.net.restore_new(sess, built)

  def initial_state(self, checkpoint: CheckpointHook,
                    best_weights: BestWeights) -> TrainState:
    """The `TrainState` to start from; a resumed run's bookkeeping continued."""
    if self.resumption is None:
      seed = self.config.seed if self.config.seed is not None else int(
          np.random.randint(2**31))
      return TrainState(shuffle_seed=seed)
    resumption = self.resumption
    checkpoint.resume_from(resumption.latest, resumption.best)
    if resumption.best is not None:
      best_weights.snapshot.load(scopes.load_values(resumption.best))
    state = dataclasses.replace(resumption.state,
                                history=list(resumption.state.history))
    if state.stopped_early and not _stays_stopped(state, self.settings.patience):
      state.stopped_early = False  # A larger patience lets the run go on.
    return state

  def finish(self, sess: tf.compat.v1.Session, built: nets.Built,
             test: Any) -> dict[str, float] | None:
    """Evaluates `test` (best weights back) into the record; returns its metrics."""
    if test is None:
      return None
    X_test, y_test = as_arrays("test", test)
    metrics = loop.evaluate(sess, built.dnn, X_test, y_test)
    self.record.test = dict(metrics, n_test=int(len(y_test)))
    self.record.write()
    return metrics

  def unchanged_result(self) -> RunResult:
    """The result of a resumed run with nothing left to train; nothing is written."""
    saved, resumption = cast(RunRecord, self.saved), cast(Resumption, self.resumption)
    return RunResult(self.run_dir, resumption.state, saved.test,
                     saved.best_checkpoint, 0.0, saved, trained=False)


def _stays_stopped(state: TrainState, patience: int | None) -> bool:
  """Whether early stopping still holds with this patience (None: none)."""
  return (state.stopped_early and patience is not None
          and state.epochs_without_improvement >= patience)


def _check_data(config, settings, train, validation):
  """Checks the data against the net and the settings, before anything is built."""
  n_inputs = as_arrays("train", train)[0].shape[1]
  loop.check_fit_arguments(config, n_inputs, train, validation, settings.epochs,
                           settings.batch_size, settings.patience)


def _check_exists(run_dir, exists, resume, from_checkpoint):
  if resume is True and not exists:
    raise CheckpointError(f"No training run to resume in {run_dir!r}: "
                          f"{checkpoints.STATE_FILE} is missing. Nothing was changed; "
                          "start a new run there instead of resuming.")
  if resume is False and exists:
    raise CheckpointError(
        f"{run_dir!r} already holds a training run; nothing was overwritten. Pass "
        "{resume} to continue it, or choose another run directory.",
        arguments={"resume": True})
  if from_checkpoint is not None and resume is False:
    raise ArgumentError("from_checkpoint", "{name} continues a saved run; give it with "
                        "resume=True (--resume). Received: {received}", from_checkpoint)


def _check_kind(saved, net):
  """The net builder of a resumed run: the caller's, if of the run's kind."""
  kind = nets.kind_of(saved)
  if net is None:
    return nets.net_from_record(saved)
  if net.kind != kind:
    how = {nets.TRANSFER: "`dnn-toolkit transfer --resume` (transfer_run)",
           nets.PLAIN: "`dnn-toolkit train --resume`"}[kind]
    source = (f" (layers restored from {saved.transfer.get('from')})"
              if kind == nets.TRANSFER else "")
    raise CheckpointError(f"{saved.run_dir!r} is a {kind} run{source}, not a "
                          f"{net.kind} one; continue it with {how}. Nothing was "
                          "changed.")
  return net


def _check_same_batches(saved, batch_size):
  if saved.batch_size is not None and saved.batch_size != batch_size:
    raise ConfigMismatchError(
        f"Cannot resume {saved.run_dir!r} with a different batch size (batch_size: run "
        f"has {saved.batch_size!r}, given {batch_size!r}); the shuffle position "
        "depends on it. Nothing was changed.", fields=("batch_size",),
        values={"batch_size": (saved.batch_size, batch_size)},
        run_dir=saved.run_dir)


def check_same_data(saved: RunRecord, identity: dict[str, Any]) -> None:
  """Raises unless `identity` names the data the run of `saved` trained on.

  Args:
    saved: the run's `RunRecord`.
    identity: the `data_identity` of the data given to continue it.

  Raises:
    ConfigMismatchError: naming the keys that differ (`fields` is ('data',)).
  """
  if saved.data is None:
    return  # A run recorded before data identities: nothing to compare.
  differs = [k for k in _DATA_KEYS if saved.data.get(k) != identity.get(k)]
  if differs:
    raise ConfigMismatchError(
        f"Cannot resume {saved.run_dir!r} on other data ({', '.join(differs)} differ): "
        f"the run trained on {_described(saved.data)}, given {_described(identity)}. "
        "Nothing was changed; resume with the run's data or start a new run directory.",
        fields=("data",), run_dir=saved.run_dir)


def _described(identity):
  return (f"{identity.get('source', 'arrays')} (train {identity.get('n_train')}, "
          f"validation {identity.get('n_validation')} examples, train sha256 "
          f"{str(identity.get('train_sha256'))[:12]}...)")


# ------------------------------------------------------------------------- sessions


class SessionStrategy(Protocol):
  """How an opened `Run` is trained: in a local Session or on a cluster task."""

  def train(self, run: Run, *, hook_factories: Iterable[Callable[[Any, str], Any]],
            stream: TextIO | None) -> RunResult:
    """Builds, restores, fits and finishes `run` (on `run.data`); returns its result."""


class LocalSession:
  """A run in one `tf.compat.v1.Session` of this process, trained by the net's `fit`."""

  def train(self, run: Run, *,
            hook_factories: Iterable[Callable[[Any, str], Any]] = (),
            stream: TextIO | None = None) -> RunResult:
    s = run.settings
    train, validation, test = run.data
    n_inputs = as_arrays("train", train)[0].shape[1]
    graph = tf.Graph()
    with graph.as_default():
      built = run.net.build(run.config, n_inputs, run.saved, run.resumption)
      checkpoint, hooks = run.make_hooks(built, hook_factories)
      best_weights = BestWeights()
      init = _V1.global_variables_initializer()
    with _V1.Session(graph=graph) as sess:
      # The initializer gives every variable a value; the restore then overwrites the
      # saved ones. The other order would lose them.
      sess.run(init)
      run.restore_variables(sess, built)
      state = run.initial_state(checkpoint, best_weights)
      started = time.perf_counter()
      state = run.net.fit(sess, built, train, validation, epochs=s.epochs,
                          batch_size=s.batch_size, patience=s.patience,
                          hooks=hooks, state=state, best_weights=best_weights,
                          verbose=s.verbose, stream=stream,
                          steps_per_call=s.steps_per_call, fast=s.fast)
      seconds = time.perf_counter() - started
      test_metrics = run.finish(sess, built, test)
    return RunResult(run.run_dir, state, test_metrics, checkpoint.best_checkpoint,
                     seconds, run.record)


def train(net: DNNConfig | nets.PlainNet | None, train: Any = None,
          validation: Any = None, *, test: Any = None,
          run_dir: str | os.PathLike[str] | None = None, resume: bool | str = False,
          from_checkpoint: str | None = None, settings: Settings | None = None,
          data: dict[str, Any] | None = None,
          hook_factories: Iterable[Callable[[Any, str], Any]] = (),
          stream: TextIO | None = None, session: SessionStrategy | None = None,
          **setting_values: Any) -> RunResult:
  """Trains a run in `run_dir`: a new one, or (`resume`) the one there, continued.

      result = train(DNNConfig(), datasets.train, datasets.validation,
                     test=datasets.test, run_dir="checkpoints/mnist", epochs=20,
                     data=datasets.identity)
      result = train(None, run_dir="checkpoints/mnist", resume=True, epochs=30)

  Args:
    net: a `DNNConfig` (a plain net), a `nets.PlainNet` / `nets.TransferNet`, or None
      to resume the run's own net.
    train, validation: DataSets or (images `[n, n_inputs]`, labels `[n]`). A resumed
      run given neither reloads its own data from its record's source (checked
      against its digests).
    test: optional, evaluated with the best weights at the end (the record keeps it).
      A resumed run reloading its data takes the source's test split.
    run_dir: the run directory. Default `checkpoints/run-<time>`.
    resume: continue the run in `run_dir` (True), start a new one (False), or
      continue one if it exists ('auto').
    from_checkpoint: resume from this latest checkpoint instead of the newest.
    settings: a `Settings`; or give its fields as keywords (`epochs=5`).
    data: a JSON-ready description of the data's source (a loader's `identity`),
      recorded with the digests of `data_identity`.
    hook_factories: callables `(dnn, run_dir) -> hook` for more hooks.
    stream: where progress goes. Default sys.stderr.
    session: how to train (`LocalSession()` by default; a cluster chief's).
    **setting_values: `Settings` fields, when `settings` is not given.

  Returns:
    A `RunResult`; `trained` is False when a resumed run had nothing left to train.

  Raises:
    ValueError, TypeError: a bad argument, before anything is written.
    RunLockedError, CheckpointError, ConfigMismatchError: see `Run.open`.
    TrainingDivergedError: the loss became NaN or infinite.
  """
  if settings is None:
    settings = Settings(**setting_values)
  elif setting_values:
    raise TypeError("Give the settings either as `settings` or as keywords, not both. "
                    f"Received: settings and {sorted(setting_values)}")
  run_dir = default_run_dir() if run_dir is None else run_dir
  with Run.open(run_dir, net, resume=resume, settings=settings, train=train,
                validation=validation, test=test, data=data,
                from_checkpoint=from_checkpoint) as run:
    if run.nothing_left:
      return run.unchanged_result()
    return (session or LocalSession()).train(run, hook_factories=hook_factories,
                                              stream=stream)
