"""Checkpoints: the run directory, its record and lock, saving, inspection.

A run directory holds

    state.json          the run record (`RunRecord`): config, data identity, training
                        position, early-stopping counters, history, test metrics
    latest/model.ckpt-N the newest training state (written each epoch and on Ctrl-C)
    best/model.ckpt-N   the weights of the lowest validation loss (model variables)
    .lock               locked (a POSIX record lock) by the one process training there

`RunRecord` is the only reader and writer of `state.json`. The record is replaced
atomically and only after the checkpoint it names is complete, and the previous latest
checkpoint is kept until the next one is written, so a process killed at any instant
leaves a consistent run to resume. Reading, writing and restoring checkpoints (whole,
or by scope) live in `dnn_toolkit.scopes`.
"""

import collections
import contextlib
import dataclasses
import glob
import json
import os
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _files, compat
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import (
  CheckpointError,
  ConfigMismatchError,
  RunLockedError,
  TrainingDivergedError,
  describe,
)
from dnn_toolkit.scopes import (
  READ_ERRORS,
  checkpoint_contents,
  checkpoint_exists,
  load_values,
  scope_prefixes,
)
from dnn_toolkit.training.hooks import Hook
from dnn_toolkit.training.state import TrainState

if TYPE_CHECKING:
  from dnn_toolkit.model import DNN

_V1 = tf.compat.v1

Pretrained = collections.namedtuple("Pretrained", ["config", "checkpoint"])
Pretrained.__doc__ = """A saved model to reuse: its `DNNConfig` and a checkpoint prefix.

Written by `runs.lifecycle.train` (see `transfer.load_pretrained`) and by layer-wise
pretraining; read by `transfer.build_transfer_dnn`.
"""

STATE_FILE = "state.json"
LOCK_FILE = ".lock"
LATEST = "latest"
BEST = "best"
CKPT_NAME = "model.ckpt"


@dataclasses.dataclass
class RunRecord:
  """The record of a run directory (`state.json`): the one owner of its layout.

      record = RunRecord.read("checkpoints/mnist")
      record.config.hidden_layers, record.state.best_epoch, record.best_checkpoint

  Attributes:
    run_dir: the run directory.
    config: the run's `DNNConfig`.
    state: the `TrainState` at the latest checkpoint.
    batch_size, epochs, patience: the training settings (None where not recorded).
    latest_checkpoint, best_checkpoint: checkpoint prefixes (paths under `run_dir`),
      or None before the first. Stored relative, so a run directory can be moved.
    finished: whether the run ended normally (not interrupted).
    data: the identity of the training data (source, sizes, digests), or None.
    test: the test metrics with the best weights, or None.
    transfer: for a transfer run, what was restored from which checkpoint, what is
      frozen and what is new, or None.
    extra: other JSON fields, kept as they are.
  """
  run_dir: str
  config: DNNConfig
  state: TrainState = dataclasses.field(default_factory=TrainState)
  batch_size: int | None = None
  epochs: int | None = None
  patience: int | None = None
  latest_checkpoint: str | None = None
  best_checkpoint: str | None = None
  finished: bool = False
  data: dict[str, Any] | None = None
  test: dict[str, Any] | None = None
  transfer: dict[str, Any] | None = None
  extra: dict[str, Any] = dataclasses.field(default_factory=dict)

  @staticmethod
  def path(run_dir: str) -> str:
    """The record file of `run_dir`."""
    return os.path.join(run_dir, STATE_FILE)

  @staticmethod
  def exists(run_dir: str) -> bool:
    """Whether `run_dir` holds a run (a record file)."""
    return os.path.isfile(RunRecord.path(run_dir))

  @classmethod
  def read(cls, run_dir: str) -> "RunRecord":
    """Reads and checks the record of `run_dir`.

    Raises:
      CheckpointError: one line naming the file and what is wrong with it: missing,
        unreadable, not JSON, not an object, a missing or malformed field.
    """
    fields = _read_json(run_dir)
    path = cls.path(run_dir)
    for key in ("config", "state"):
      if key not in fields:
        raise CheckpointError(f"The run record {path} is damaged: it has no {key!r} "
                              "field. Nothing was changed; start a new run directory.")
    try:
      config = DNNConfig.from_dict(fields.pop("config")).validate()
      state = TrainState.from_dict(fields.pop("state"))
      known = {f.name for f in dataclasses.fields(cls)} - {"run_dir", "extra"}
      values = {k: fields.pop(k) for k in list(fields) if k in known}
      for key in ("latest_checkpoint", "best_checkpoint"):
        if values.get(key) is not None:
          values[key] = os.path.join(run_dir, _check_type(key, values[key], str))
      for key in ("batch_size", "epochs", "patience"):
        if values.get(key) is not None:
          _check_type(key, values[key], int)
      for key in ("data", "test", "transfer"):
        if values.get(key) is not None:
          _check_type(key, values[key], dict)
      _check_type("finished", values.get("finished", False), bool)
    except (ValueError, TypeError) as error:
      raise CheckpointError(f"The run record {path} is damaged: {error}. Nothing was "
                            "changed; start a new run directory.") from None
    return cls(run_dir=run_dir, config=config, state=state, extra=fields, **values)

  def to_dict(self) -> dict[str, Any]:
    """The JSON layout of `state.json` (checkpoint paths relative to the run)."""
    fields = {"config": self.config.to_dict(), "state": self.state.to_dict()}
    for field in dataclasses.fields(self):
      if field.name not in ("run_dir", "config", "state", "extra"):
        fields[field.name] = getattr(self, field.name)
    for key in ("latest_checkpoint", "best_checkpoint"):
      fields[key] = _relative(getattr(self, key), self.run_dir)
    return {**self.extra, **fields}

  def write(self) -> None:
    """Replaces `state.json` atomically.

    Raises:
      CheckpointError: if it cannot be written (disk full, permission); the previous
        record stays intact.
    """
    text = json.dumps(self.to_dict(), indent=1, default=_json_default)
    try:
      _files.atomic_write_text(self.path(self.run_dir), text)
    except OSError as error:
      raise CheckpointError(f"Cannot write the run record {self.path(self.run_dir)}: "
                            f"{error.strerror or error}. The previous record and "
                            "checkpoints are intact; free space or fix permissions, then "
                            "resume.") from None


def _read_json(run_dir):
  path = RunRecord.path(run_dir)
  if not os.path.isfile(path):
    raise CheckpointError(f"No training run to resume in {run_dir!r}: {STATE_FILE} is "
                          "missing. "
                          "Start a new run there instead of resuming.")
  try:
    with open(path) as f:
      fields = json.load(f)
  except (OSError, ValueError) as error:
    raise CheckpointError(f"Cannot read {path}: {error}") from None
  if not isinstance(fields, dict):
    raise CheckpointError(f"The run record {path} is damaged: it holds a "
                          f"{type(fields).__name__}, not an object. Nothing was changed; "
                          "start a new run directory.")
  return fields


def _check_type(name, value, expected):
  if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
    raise ValueError(f"`{name}` is {value!r}, expected {expected.__name__}")
  return value


def read_run_state(run_dir: str) -> dict[str, Any]:
  """Returns the parsed `state.json` of a run directory, as JSON (see `RunRecord`).

  Raises:
    CheckpointError: if the directory or its state file is missing or unreadable.
  """
  return _read_json(run_dir)


def has_run(run_dir: str) -> bool:
  """Returns whether `run_dir` holds a training run (a state file)."""
  return RunRecord.exists(run_dir)


#: Set by a launcher that took a run's lock for the tasks it starts: its own pid.
LOCK_HOLDER_ENV = "DNN_TOOLKIT_RUN_LOCK_HOLDER"


class _LauncherLock:
  """The lock a launching parent process holds for this one; releasing it is a no-op."""

  def release(self) -> None:
    pass


def lock_run(run_dir: str) -> "_files.ExclusiveLock | _LauncherLock":
  """Takes the run directory's exclusive lock for this process; returns the lock.

  Training holds it from before anything is written until the process ends or
  releases it (`lock.release()`); a SIGKILLed process leaves no stale lock. Readers
  (inspect, tensorboard, evaluate, transfer from a finished run) need none. A process
  started by a launcher that holds the lock for it (its parent, named by
  `LOCK_HOLDER_ENV`, as `dnn-toolkit cluster` does for its chief) trains under that
  lock.

  Raises:
    RunLockedError: if another process trains there, naming its pid. Nothing in the
      directory was changed.
  """
  try:
    return _files.ExclusiveLock(os.path.join(run_dir, LOCK_FILE)).acquire()
  except _files.LockHeld as held:
    launcher = os.environ.get(LOCK_HOLDER_ENV, "")
    if held.pid is not None and launcher == str(held.pid) == str(os.getppid()):
      return _LauncherLock()
    who = f"process {held.pid}" if held.pid else "another process"
    raise RunLockedError(f"{run_dir!r} is in use: {who} is training there. Nothing was "
                         "changed; wait for it to finish or choose another run "
                         "directory.", pid=held.pid) from None


def check_same_config(run_dir: str, saved_config: DNNConfig, config: DNNConfig) -> None:
  """Raises ConfigMismatchError naming the fields where `config` differs from the run's.

  Args:
    run_dir: the run directory, for the message.
    saved_config: the `DNNConfig` the run was started with.
    config: the `DNNConfig` of the resuming call.
  """
  fields = config.differences(saved_config)
  if fields:
    details = ", ".join(f"{k}: run has {getattr(saved_config, k)!r}, "
                        f"given {getattr(config, k)!r}" for k in fields)
    raise ConfigMismatchError(
        f"Cannot resume {run_dir!r} with a different configuration ({details}). "
        "Nothing was changed; resume with the run's configuration or start a new run "
        "directory.", fields=fields)


class CheckpointHook(Hook):
  """A training-loop hook that keeps a run directory resumable.

  Build it after the model and before the Session is finalized: it creates its Savers
  and a finiteness check in the default graph.

  Every latest checkpoint carries its position: beside `model.ckpt-N.index` a
  `model.ckpt-N.json` holds the `TrainState` at step N and the best checkpoint then, so
  a run can continue from any intact checkpoint, not only the newest
  (`verify_resume(..., from_checkpoint=...)`). A resumed run deletes nothing until it
  has written a newer checkpoint of its own: only then are the files no record names
  removed.

  Args:
    run_dir: the run directory, or a `RunRecord` to keep (its config, data identity,
      settings); the hook updates and writes it.
    config: the run's `DNNConfig` (ignored when a record is given).
    save_every_steps: optional positive int; also save `latest` whenever the global
      step crosses a multiple of it, bounding what a killed process loses.
    extra: optional JSON-ready dict stored in `state.json` (e.g. batch size, epochs).
  """

  def __init__(self, run_dir: "str | RunRecord", config: DNNConfig | None = None,
               save_every_steps: int | None = None,
               extra: dict[str, Any] | None = None) -> None:
    if isinstance(run_dir, RunRecord):
      self.record = run_dir
    else:
      extra = dict(extra or {})
      known = {f.name for f in dataclasses.fields(RunRecord)}
      self.record = RunRecord(run_dir=run_dir, config=config,  # type: ignore[arg-type]
                              **{k: extra.pop(k) for k in list(extra) if k in known},
                              extra=extra)
    self.run_dir = self.record.run_dir
    self.config = self.record.config
    self.save_every_steps = save_every_steps
    self.last_checkpoint: str | None = None
    self.best_checkpoint: str | None = None
    self._saved_step: int | None = None  # The global step of the last `latest` save.
    self._stale = False  # A resumed run's leftovers wait for its first new checkpoint.
    # Two of each: a save deletes the oldest file only after the new one is complete,
    # and state.json still names the previous one until it is rewritten; keeping one
    # would delete what state.json names, and a kill right then breaks resuming.
    self._latest = _V1.train.Saver(max_to_keep=2, name="latest_saver",
                                   save_relative_paths=True)
    self._best = _V1.train.Saver(_V1.model_variables(), max_to_keep=2, name="best_saver",
                                 save_relative_paths=True)
    with tf.name_scope("checkpoint_check"):
      self._finite = tf.reduce_all(
          [tf.reduce_all(tf.math.is_finite(v)) for v in _V1.model_variables()])

  def begin(self, sess: tf.compat.v1.Session, dnn: "DNN", state: TrainState) -> None:
    for sub in (LATEST, BEST):
      os.makedirs(os.path.join(self.run_dir, sub), exist_ok=True)

  def resume_from(self, latest: str, best: str | None) -> None:
    """Continues the checkpoint bookkeeping of a resumed run; deletes nothing.

    Args:
      latest: the checkpoint prefix the run continues from (verified).
      best: the best checkpoint of that position, or None.
    """
    self.last_checkpoint, self.best_checkpoint = latest, best
    # Let the Savers delete the run's earlier checkpoints in turn, as if never stopped.
    for saver, path in ((self._latest, latest), (self._best, best)):
      if path:
        with compat.silenced_tf_deprecations():
          saver.recover_last_checkpoints([path])
    self._stale = True

  def next_step_needed(self, global_step: int) -> int | None:
    """The next multiple of `save_every_steps` (None without it): where it saves."""
    if not self.save_every_steps:
      return None
    return (global_step // self.save_every_steps + 1) * self.save_every_steps

  def after_step(self, sess: tf.compat.v1.Session, state: TrainState, loss: float,
                 X_batch: np.ndarray, y_batch: np.ndarray) -> None:
    every, step = self.save_every_steps, state.global_step
    # A multiple of `every` reached (the loop stops there) or passed since the last
    # save (a cluster chief's global step also counts the other workers' steps).
    last = self._saved_step if self._saved_step is not None else step - 1
    if every and step // every > last // every:
      self._save_latest(sess, state)

  def after_epoch(self, sess: tf.compat.v1.Session, state: TrainState,
                  metrics: dict[str, Any], improved: bool) -> None:
    self._check_finite(sess, state)
    if improved:
      self.best_checkpoint = _save(self._best, sess, BEST, self.run_dir, state,
                                   self.last_checkpoint)
    self._save_latest(sess, state, checked=True)

  def on_interrupt(self, sess: tf.compat.v1.Session, state: TrainState) -> None:
    self._save_latest(sess, state)

  def end(self, sess: tf.compat.v1.Session, state: TrainState) -> None:
    self._write_state(state, finished=True)

  def _save_latest(self, sess, state, checked=False):
    if not checked:
      self._check_finite(sess, state)
    prefix = _save(self._latest, sess, LATEST, self.run_dir, state,
                   self.last_checkpoint)
    # The position beside the checkpoint first, then the record that names both.
    position = json.dumps({"state": state.to_dict(), "best_checkpoint": _relative(
        self.best_checkpoint, self.run_dir)}, default=_json_default)
    try:
      _files.atomic_write_text(position_path(prefix), position)
    except OSError as error:
      good = (f"the last good checkpoint {self.last_checkpoint} is intact"
              if self.last_checkpoint else "no earlier checkpoint exists")
      raise CheckpointError(f"Cannot write {position_path(prefix)}: "
                            f"{error.strerror or error}. Nothing was recorded for it and "
                            f"{good}; free space or fix permissions, then resume."
                            ) from None
    self.last_checkpoint, self._saved_step = prefix, state.global_step
    self._write_state(state)
    _remove_orphan_positions(os.path.dirname(prefix))
    if self._stale:  # A newer good checkpoint exists now: the leftovers can go.
      self._stale = False
      _remove_stale_checkpoints(self.run_dir, self.last_checkpoint,
                                self.best_checkpoint)

  def _check_finite(self, sess, state):
    # The loop appends the last good checkpoint to the message.
    if not sess.run(self._finite):
      epoch = state.epoch + 1 if state.batch else state.epoch  # 1-based, as fit counts
      raise TrainingDivergedError(
          f"Training diverged: the weights hold NaN or Inf at epoch {epoch}, "
          f"global step {state.global_step}. No checkpoint was written with them.")

  def _write_state(self, state, finished=False):
    self.record.state = state
    self.record.latest_checkpoint = self.last_checkpoint
    self.record.best_checkpoint = self.best_checkpoint
    self.record.finished = finished
    self.record.write()


def _relative(path, run_dir):
  return os.path.relpath(path, run_dir) if path else None


def _save(saver, sess, subdir, run_dir, state, last_good):
  """Saves into `run_dir/subdir`; returns the checkpoint prefix.

  Raises:
    CheckpointError: if the file system refuses (disk full, permission), naming the
      last good checkpoint, which stays intact.
  """
  # Saver.save calls TensorFlow's own deprecated remove_checkpoint; its notice says
  # nothing to our users, so only that call is silenced.
  try:
    with compat.silenced_tf_deprecations():
      return saver.save(sess, os.path.join(run_dir, subdir, CKPT_NAME),
                        global_step=state.global_step, write_meta_graph=False)
  except (tf.errors.OpError, OSError) as error:
    good = f"the last good checkpoint {last_good} is intact" if last_good else (
        "no earlier checkpoint exists")
    raise CheckpointError(f"Cannot write a checkpoint in {os.path.join(run_dir, subdir)}"
                          f": {describe(error)}. Nothing was recorded for it and {good};"
                          " free space or fix permissions, then resume.") from None


_CHECKPOINT_FILE = re.compile(re.escape(CKPT_NAME)
                              + r"-(\d+)\.(index|data-\d+-of-\d+|json)$")


def position_path(prefix: str) -> str:
  """The file beside a latest checkpoint that holds its position: `<prefix>.json`."""
  return prefix + ".json"


def _remove_orphan_positions(directory):
  """Removes the positions of checkpoints the Saver has deleted (`max_to_keep`)."""
  for name in os.listdir(directory):
    if name.endswith(".json") and _CHECKPOINT_FILE.match(name) and not os.path.isfile(
        os.path.join(directory, name[:-len(".json")] + ".index")):
      with contextlib.suppress(OSError):
        os.remove(os.path.join(directory, name))


def _remove_stale_checkpoints(run_dir, latest, best):
  """Removes the checkpoint files of `run_dir` that neither Saver keeps any more.

  Called once a resumed run has written a newer checkpoint: what a killed process left
  behind (a checkpoint no record named, a damaged one the run did not continue from)
  would otherwise stay forever. The previous latest and best checkpoints stay: the
  Savers delete those in turn.
  """
  for sub, named in ((LATEST, latest), (BEST, best)):
    directory = os.path.join(run_dir, sub)
    state = _V1.train.get_checkpoint_state(directory)
    keep = {os.path.basename(p) for p in
            (list(state.all_model_checkpoint_paths) if state else []) + [named or ""]}
    for name in os.listdir(directory):
      match = _CHECKPOINT_FILE.match(name)
      if match and f"{CKPT_NAME}-{match.group(1)}" not in keep:
        os.remove(os.path.join(directory, name))
  _files.remove_partial_files(run_dir)


# ------------------------------------------------------------- resuming: verify first


@dataclasses.dataclass
class Resumption:
  """Where an accepted resume continues: a verified checkpoint and its position.

  Attributes:
    latest: the latest checkpoint prefix to restore (every variable).
    best: the best checkpoint of that position (the best weights so far), or None.
    state: the `TrainState` at `latest`.
  """
  latest: str
  best: str | None
  state: TrainState


def damage(prefix: str) -> str | None:
  """What is wrong with the checkpoint `prefix`, or None if every variable reads back.

  Reads every tensor, so a truncated or missing data file is found before anything
  restores from it.
  """
  if not os.path.isfile(prefix + ".index"):
    return f"its index file {os.path.basename(prefix)}.index is missing"
  if not glob.glob(glob.escape(prefix) + ".data-*-of-*"):
    return f"its data file {os.path.basename(prefix)}.data-00000-of-00001 is missing"
  try:
    load_values(prefix)
  except CheckpointError as error:
    cause = str(error).split(": ", 1)[-1]
    return f"it is corrupt or truncated ({cause})"
  return None


def _position(run_dir, prefix):
  """(TrainState, best prefix) stored beside a latest checkpoint, or None."""
  try:
    with open(position_path(prefix)) as f:
      fields = json.load(f)
    state = TrainState.from_dict(fields["state"])
    best = fields.get("best_checkpoint")
    return state, os.path.join(run_dir, best) if best else None
  except (OSError, ValueError, KeyError, TypeError):
    return None


def _intact_positions(run_dir, exclude=()):
  """[(prefix, state, best)] of the intact latest checkpoints with a position, newest
  first: those a run can continue from."""
  directory = os.path.join(run_dir, LATEST)
  found = []
  for index in glob.glob(os.path.join(glob.escape(directory), CKPT_NAME + "-*.index")):
    prefix = index[:-len(".index")]
    position = _position(run_dir, prefix)
    if prefix in exclude or position is None or damage(prefix):
      continue
    state, best = position
    if best is None or not damage(best):
      found.append((prefix, state, best))
  return sorted(found, key=lambda f: f[1].global_step, reverse=True)


def verify_resume(record: RunRecord, from_checkpoint: str | None = None) -> Resumption:
  """Checks that the run of `record` can continue, and from where; changes nothing.

  The latest checkpoint (or `from_checkpoint`) and the best one of its position are
  read back in full. When one is missing or damaged and an older intact checkpoint
  exists, the error names it: continuing from it is the caller's explicit choice
  (`from_checkpoint`), since the run then goes back to that step.

  Args:
    record: the run's `RunRecord`.
    from_checkpoint: a latest checkpoint of the run to continue from instead of the
      record's (a prefix under `<run_dir>/latest`, or its file name), e.g. an older
      intact one when the newest is damaged.

  Returns:
    A `Resumption`.

  Raises:
    CheckpointError: one line naming the missing or damaged file and, where one
      exists, the intact checkpoint to continue from.
  """
  run_dir = record.run_dir
  latest_dir = os.path.join(run_dir, LATEST)
  if from_checkpoint is not None:
    return _from_chosen(record, from_checkpoint)
  if not os.path.isdir(latest_dir):
    raise CheckpointError(f"Cannot resume {run_dir!r}: its checkpoint directory "
                          f"{latest_dir} is missing. Nothing was changed; start a new "
                          "run directory.")
  latest, best = record.latest_checkpoint, record.best_checkpoint
  problem = None
  if latest is None:
    problem = "its record names no latest checkpoint"
  elif damage(latest):
    problem = f"its latest checkpoint {latest} is damaged: {damage(latest)}"
  elif best and damage(best):
    problem = f"its best checkpoint {best} is damaged: {damage(best)}"
  if problem is None and latest is not None:
    return Resumption(latest, best, record.state)
  others = _intact_positions(run_dir, exclude=(latest,))
  if latest is None and not others:
    raise CheckpointError(f"{run_dir!r} holds no checkpoint yet; nothing was changed. "
                          "Start it anew.")
  if others:
    prefix, state, _ = others[0]
    hint = (f"{'an' if latest is None else 'an older'} intact checkpoint exists: "
            f"{prefix} (epoch {state.epoch}, step "
            f"{state.global_step}); continue from it with {{from_checkpoint}} (the run "
            "goes back to that step)")
  else:
    hint = "no intact checkpoint is left to continue from; start a new run directory"
  raise CheckpointError(f"Cannot resume {run_dir!r}: {problem}. Nothing was changed; "
                        f"{hint}.", arguments={"from_checkpoint": os.path.basename(
                            others[0][0])} if others else None)


def _from_chosen(record, from_checkpoint):
  """The `Resumption` of an explicitly chosen latest checkpoint."""
  run_dir = record.run_dir
  prefix = from_checkpoint
  if not os.path.dirname(prefix):  # A file name: under latest/.
    prefix = os.path.join(run_dir, LATEST, prefix)
  for suffix in (".index", ".json"):
    if prefix.endswith(suffix):
      prefix = prefix[:-len(suffix)]
  if os.path.realpath(os.path.dirname(prefix)) != os.path.realpath(
      os.path.join(run_dir, LATEST)):
    raise CheckpointError(f"Cannot resume {run_dir!r} from {from_checkpoint!r}: expected "
                          f"a checkpoint of the run's {LATEST}/ directory.")
  problem = damage(prefix)
  if problem:
    raise CheckpointError(f"Cannot resume {run_dir!r} from {prefix}: {problem}. Nothing "
                          "was changed.")
  if prefix == record.latest_checkpoint:
    position = (record.state, record.best_checkpoint)
  else:
    position = _position(run_dir, prefix)
  if position is None:
    raise CheckpointError(f"Cannot resume {run_dir!r} from {prefix}: its position "
                          f"({os.path.basename(position_path(prefix))}) is missing, so "
                          "where the run stood there is unknown. Nothing was changed.")
  state, best = position
  if best and damage(best):
    raise CheckpointError(f"Cannot resume {run_dir!r} from {prefix}: its best checkpoint "
                          f"{best} is damaged: {damage(best)}. Nothing was changed.")
  return Resumption(prefix, best, state)


def _json_default(value):
  if isinstance(value, (np.floating, np.integer)):
    return value.item()
  if isinstance(value, np.ndarray):
    return value.tolist()
  raise TypeError(f"{type(value).__name__} is not JSON serializable")


# ----------------------------------------------------------------------- inspection


def _inspect_target(path):
  """Returns what `inspect_checkpoint` reads for `path`: a prefix or a directory.

  A run directory gives its best checkpoint (else its latest); a directory with a
  'checkpoint' state file, or a prefix, is returned as it is.
  """
  if not isinstance(path, (str, os.PathLike)):
    raise TypeError("Expected `path` to be a checkpoint prefix, a checkpoint directory "
                    f"or a run directory. Received: path={path!r}")
  path = os.fspath(path)
  if not os.path.isdir(path):
    if not os.path.exists(path) and not checkpoint_exists(path):
      raise CheckpointError(f"No checkpoint at {path!r}: no such file, directory or "
                            f"checkpoint prefix ({path}.index).")
    return path
  if os.path.isfile(os.path.join(path, "checkpoint")):
    return path
  if has_run(path):
    record = RunRecord.read(path)
    for prefix in (record.best_checkpoint, record.latest_checkpoint):
      if prefix:
        return prefix
  for sub in (BEST, LATEST):
    if os.path.isfile(os.path.join(path, sub, "checkpoint")):
      return os.path.join(path, sub)
  raise CheckpointError(f"No checkpoint in the directory {path!r}: it holds no "
                        "'checkpoint' state file, nor a run's best/ or latest/ one.")


def _statistics(value):
  """Returns min, max, mean and std of the finite entries, and the non-finite count."""
  stats = {"min": None, "max": None, "mean": None, "std": None, "non_finite": 0}
  if value.dtype.kind not in "biuf" or value.size == 0:
    return stats
  value = value.astype(np.float64).ravel()
  finite = value[np.isfinite(value)]
  stats["non_finite"] = int(value.size - finite.size)
  if finite.size:
    stats.update(min=float(finite.min()), max=float(finite.max()),
                 mean=float(finite.mean()), std=float(finite.std()))
  return stats


def inspect_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
  """Describes every variable of a checkpoint and the scopes they sit in.

      report = inspect_checkpoint("checkpoints/run1")   # its best checkpoint
      report["variables"][0]   # {'name': 'global_step', 'shape': [], 'dtype': 'int64',
                               #  'size': 1, 'min': 120.0, ...}

  Args:
    path: a checkpoint prefix ('run1/best/model.ckpt-120'), a directory with a
      'checkpoint' state file (its latest checkpoint), or a run directory (its best
      checkpoint, else its latest).

  Returns:
    A JSON-ready dict: 'checkpoint' (the prefix read), 'variables' (sorted by name,
    each with 'name', 'shape', 'dtype', 'size' and 'min', 'max', 'mean', 'std' of its
    finite entries, None where there are none or the dtype is not numeric, and
    'non_finite', the count of NaN and Inf), 'scopes' (each scope path with its
    'variables' and 'size', the number of values under it) and 'total_size'.

  Raises:
    TypeError: if `path` is not a path.
    CheckpointError: if nothing is there, or the checkpoint is truncated or corrupt.
  """
  prefix, reader, contents = checkpoint_contents(_inspect_target(path))
  variables = []
  for name in sorted(contents):
    shape, dtype = contents[name]
    try:
      value = np.asarray(reader.get_tensor(name))
    except READ_ERRORS as error:
      raise CheckpointError(f"Cannot read variable {name!r} of checkpoint {prefix!r}, "
                            f"truncated or corrupt: {describe(error)}") from None
    variables.append({"name": name, "shape": shape, "dtype": dtype.name,
                      "size": int(value.size), **_statistics(value)})
  scopes: dict[str, dict[str, Any]] = {}
  for variable in variables:
    for scope in scope_prefixes(variable["name"])[:-1]:
      entry = scopes.setdefault(scope, {"scope": scope, "variables": 0, "size": 0})
      entry["variables"] += 1
      entry["size"] += variable["size"]
  return {"checkpoint": prefix, "variables": variables,
          "scopes": [scopes[s] for s in sorted(scopes)],
          "total_size": sum(v["size"] for v in variables)}
