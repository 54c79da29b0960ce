"""Checkpoints: run directories that survive interruption, safe restore, inspection.

A run directory holds

    state.json          config, training position, early-stopping counters, history
    latest/model.ckpt-N the newest training state (written each epoch and on Ctrl-C)
    best/model.ckpt-N   the weights of the lowest validation loss

`state.json` is replaced atomically and only after the checkpoint it names is complete,
and the previous latest checkpoint is kept until the next one is written, so a process
killed at any instant leaves a consistent run to resume.
"""

import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from dnn_toolkit.errors import (CheckpointError, ConfigMismatchError,
                                TrainingDivergedError)

_V1 = tf.compat.v1

STATE_FILE = "state.json"
LATEST = "latest"
BEST = "best"
CKPT_NAME = "model.ckpt"


def atomic_write_text(path, text):
  """Writes `text` to `path` through a temporary file and a rename: never half-written."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def read_run_state(run_dir):
  """Returns the parsed `state.json` of a run directory.

  Raises:
    CheckpointError: if the directory or its state file is missing or unreadable.
  """
  path = os.path.join(run_dir, STATE_FILE)
  if not os.path.isfile(path):
    raise CheckpointError(f"No training run to resume in {run_dir!r}: {STATE_FILE} is "
                          "missing. Start a new run there instead of resuming.")
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as error:
    raise CheckpointError(f"Cannot read {path}: {error}") from None


def has_run(run_dir):
  """Returns whether `run_dir` holds a training run (a state file)."""
  return os.path.isfile(os.path.join(run_dir, STATE_FILE))


def check_same_config(run_dir, saved_config, config):
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
        "directory.")


def checkpoint_exists(prefix):
  """Returns whether a V2 checkpoint with this prefix is complete on disk."""
  return bool(prefix) and os.path.isfile(prefix + ".index")


def restore(sess, prefix, var_list=None):
  """Restores `var_list` (default: all saveable variables) from a checkpoint.

  Raises:
    CheckpointError: if the checkpoint is missing or cannot be read, with the path.
  """
  if not checkpoint_exists(prefix):
    raise CheckpointError(f"No checkpoint at {prefix!r} (expected {prefix}.index).")
  saver = _V1.train.Saver(var_list=var_list)
  try:
    saver.restore(sess, prefix)
  except (tf.errors.OpError, ValueError) as error:
    first = str(error).strip().splitlines()[0]
    raise CheckpointError(f"Cannot restore {prefix!r}: {first}") from None


def load_values(prefix):
  """Returns {variable name: numpy value} of every variable in a checkpoint."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    return {name: reader.get_tensor(name) for name in names}
  except (tf.errors.OpError, ValueError) as error:
    first = str(error).strip().splitlines()[0]
    raise CheckpointError(f"Cannot read checkpoint {prefix!r}: {first}") from None


class CheckpointHook:
  """A `training.fit` hook that keeps a run directory resumable.

  Build it after the model and before the Session is finalized: it creates its Savers
  and a finiteness check in the default graph.

  Args:
    run_dir: the run directory.
    config: the run's `DNNConfig`, recorded in `state.json`.
    save_every_steps: optional positive int; also save `latest` every that many steps,
      bounding what a killed process loses.
    extra: optional JSON-ready dict stored in `state.json` (e.g. batch size, epochs).
  """

  def __init__(self, run_dir, config, save_every_steps=None, extra=None):
    self.run_dir = run_dir
    self.config = config
    self.save_every_steps = save_every_steps
    self.extra = dict(extra or {})
    self.last_checkpoint = None
    self.best_checkpoint = None
    self._latest = _V1.train.Saver(max_to_keep=2, name="latest_saver")
    self._best = _V1.train.Saver(_V1.model_variables(), max_to_keep=1, name="best_saver")
    with tf.name_scope("checkpoint_check"):
      self._finite = tf.reduce_all(
          [tf.reduce_all(tf.math.is_finite(v)) for v in _V1.model_variables()])

  def begin(self, sess, dnn, state):
    for sub in (LATEST, BEST):
      os.makedirs(os.path.join(self.run_dir, sub), exist_ok=True)

  def resume_from(self, saved):
    """Continues the checkpoint bookkeeping of a resumed run's parsed state."""
    self.last_checkpoint = self._abs(saved.get("latest_checkpoint"))
    self.best_checkpoint = self._abs(saved.get("best_checkpoint"))

  def after_step(self, sess, state, loss, X_batch, y_batch):
    if self.save_every_steps and state.global_step % self.save_every_steps == 0:
      self._save_latest(sess, state)

  def after_epoch(self, sess, state, metrics, improved):
    self._check_finite(sess, state)
    if improved:
      self.best_checkpoint = self._best.save(
          sess, os.path.join(self.run_dir, BEST, CKPT_NAME),
          global_step=state.global_step, write_meta_graph=False)
    self._save_latest(sess, state, checked=True)

  def on_interrupt(self, sess, state):
    self._save_latest(sess, state)

  def end(self, sess, state):
    self._write_state(state, finished=True)

  def _save_latest(self, sess, state, checked=False):
    if not checked:
      self._check_finite(sess, state)
    self.last_checkpoint = self._latest.save(
        sess, os.path.join(self.run_dir, LATEST, CKPT_NAME),
        global_step=state.global_step, write_meta_graph=False)
    self._write_state(state)

  def _check_finite(self, sess, state):
    if not sess.run(self._finite):
      raise TrainingDivergedError(
          f"Training diverged: the weights hold NaN or Inf at epoch {state.epoch}, "
          f"global step {state.global_step}. Not saved. Last good checkpoint: "
          f"{self.last_checkpoint}")

  def _write_state(self, state, finished=False):
    record = {"config": self.config.to_dict(), "state": state.to_dict(),
              "latest_checkpoint": self._rel(self.last_checkpoint),
              "best_checkpoint": self._rel(self.best_checkpoint),
              "finished": finished, **self.extra}
    atomic_write_text(os.path.join(self.run_dir, STATE_FILE),
                      json.dumps(record, indent=1, default=_json_default))

  def _rel(self, path):
    return os.path.relpath(path, self.run_dir) if path else None

  def _abs(self, path):
    return os.path.join(self.run_dir, path) if path else None


def _json_default(value):
  if isinstance(value, (np.floating, np.integer)):
    return value.item()
  raise TypeError(f"{type(value).__name__} is not JSON serializable")
