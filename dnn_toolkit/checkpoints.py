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
import dataclasses
import json
import os
import re
from collections.abc import Mapping
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
  scope_prefixes,
)
from dnn_toolkit.training.loop import Hook, TrainState

if TYPE_CHECKING:
  from dnn_toolkit.model import DNN

_V1 = tf.compat.v1

Pretrained = collections.namedtuple("Pretrained", ["config", "checkpoint"])
Pretrained.__doc__ = """A saved model to reuse: its `DNNConfig` and a checkpoint prefix.

Written by `experiment.train` (see `transfer.load_pretrained`) and by layer-wise
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
      if fields[key]:
        fields[key] = os.path.relpath(fields[key], self.run_dir)
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


def lock_run(run_dir: str) -> _files.ExclusiveLock:
  """Takes the run directory's exclusive lock for this process; returns the lock.

  Training holds it from before anything is written until the process ends or
  releases it (`lock.release()`); a SIGKILLed process leaves no stale lock. Readers
  (inspect, tensorboard, evaluate, transfer from a finished run) need none.

  Raises:
    RunLockedError: if another process trains there, naming its pid. Nothing in the
      directory was changed.
  """
  try:
    return _files.ExclusiveLock(os.path.join(run_dir, LOCK_FILE)).acquire()
  except _files.LockHeld as held:
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
  """A `training.fit` hook that keeps a run directory resumable.

  Build it after the model and before the Session is finalized: it creates its Savers
  and a finiteness check in the default graph.

  Args:
    run_dir: the run directory, or a `RunRecord` to keep (its config, data identity,
      settings); the hook updates and writes it.
    config: the run's `DNNConfig` (ignored when a record is given).
    save_every_steps: optional positive int; also save `latest` every that many steps,
      bounding what a killed process loses.
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
    # Hook declares the attribute None; a checkpoint hook sets it to a prefix.
    self.last_checkpoint: str | None = None  # type: ignore[assignment]
    self.best_checkpoint: str | None = None
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

  def resume_from(self, saved: RunRecord | Mapping[str, Any]) -> None:
    """Continues the checkpoint bookkeeping of a resumed run (a `RunRecord` or dict).

    Files a killed process left behind (a half-written record, checkpoints no longer
    named) are removed, so `latest/` holds what the Savers track and nothing else.
    """
    if not isinstance(saved, RunRecord):
      saved = dict(saved)
      for key in ("latest_checkpoint", "best_checkpoint"):
        saved[key] = os.path.join(self.run_dir, saved[key]) if saved.get(key) else None
    else:
      saved = saved.__dict__
    self.last_checkpoint = saved.get("latest_checkpoint")
    self.best_checkpoint = saved.get("best_checkpoint")
    # Let the Savers delete the run's earlier checkpoints in turn, as if never stopped.
    for saver, path, sub in ((self._latest, self.last_checkpoint, LATEST),
                             (self._best, self.best_checkpoint, BEST)):
      if path:
        with compat.silenced_tf_deprecations():
          saver.recover_last_checkpoints([path])
        _remove_stale_checkpoints(os.path.join(self.run_dir, sub), keep=path)
    _files.remove_partial_files(self.run_dir)

  def next_step_needed(self, global_step: int) -> int | None:
    """The next multiple of `save_every_steps` (None without it): where it saves."""
    if not self.save_every_steps:
      return None
    return (global_step // self.save_every_steps + 1) * self.save_every_steps

  def after_step(self, sess: tf.compat.v1.Session, state: TrainState, loss: float,
                 X_batch: np.ndarray, y_batch: np.ndarray) -> None:
    if self.save_every_steps and state.global_step % self.save_every_steps == 0:
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
    self.last_checkpoint = _save(self._latest, sess, LATEST, self.run_dir, state,
                                 self.last_checkpoint)
    self._write_state(state)

  def _check_finite(self, sess, state):
    # `fit` appends the last good checkpoint to the message.
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


def _remove_stale_checkpoints(directory, keep):
  """Removes the checkpoints of `directory` other than `keep`, the one the record names.

  A process killed between writing a checkpoint and the record leaves a checkpoint no
  record names, and the Savers of a resumed run track only the named one: without this,
  such files would stay forever.
  """
  keep_name = os.path.basename(keep)
  pattern = re.compile(re.escape(CKPT_NAME) + r"-\d+\.(index|data-\d+-of-\d+)$")
  for name in os.listdir(directory):
    if pattern.match(name) and not name.startswith(keep_name + "."):
      os.remove(os.path.join(directory, name))
  _V1.train.update_checkpoint_state(directory, keep_name, [keep_name])


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
