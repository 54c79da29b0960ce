"""Checkpoints: run directories that survive interruption, safe restore, inspection.

A run directory holds

    state.json          config, training position, early-stopping counters, history
    latest/model.ckpt-N the newest training state (written each epoch and on Ctrl-C)
    best/model.ckpt-N   the weights of the lowest validation loss

`state.json` is replaced atomically and only after the checkpoint it names is complete,
and the previous latest checkpoint is kept until the next one is written, so a process
killed at any instant leaves a consistent run to resume.
"""

import collections
import contextlib
import json
import os
import re

import numpy as np
import tensorflow as tf

from dnn_toolkit._files import atomic_write_text
from dnn_toolkit.errors import CheckpointError, ConfigMismatchError, TrainingDivergedError
# Scope-filtered restore lives in `scopes`; its public names are re-exported here.
from dnn_toolkit.scopes import (READ_ERRORS, checkpoint_contents, checkpoint_exists,  # noqa: F401
                                plan_restore, restore_scopes, reuse_saver,
                                scope_matches, scope_prefixes, scope_variables)

_V1 = tf.compat.v1

Pretrained = collections.namedtuple("Pretrained", ["config", "checkpoint"])
Pretrained.__doc__ = """A saved model to reuse: its `DNNConfig` and a checkpoint prefix.

Written by `experiment.train` (see `transfer.load_pretrained`) and by layer-wise
pretraining; read by `transfer.build_transfer_dnn`.
"""

STATE_FILE = "state.json"
LATEST = "latest"
BEST = "best"
CKPT_NAME = "model.ckpt"


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

  def begin(self, sess, dnn, state):
    for sub in (LATEST, BEST):
      os.makedirs(os.path.join(self.run_dir, sub), exist_ok=True)

  def resume_from(self, saved):
    """Continues the checkpoint bookkeeping of a resumed run's parsed state."""
    self.last_checkpoint = self._abs(saved.get("latest_checkpoint"))
    self.best_checkpoint = self._abs(saved.get("best_checkpoint"))
    # Let the Savers delete the run's earlier checkpoints in turn, as if never stopped.
    for saver, path in ((self._latest, self.last_checkpoint),
                        (self._best, self.best_checkpoint)):
      if path:
        with _silenced_tf_deprecations():
          saver.recover_last_checkpoints([path])

  def after_step(self, sess, state, loss, X_batch, y_batch):
    if self.save_every_steps and state.global_step % self.save_every_steps == 0:
      self._save_latest(sess, state)

  def after_epoch(self, sess, state, metrics, improved):
    self._check_finite(sess, state)
    if improved:
      self.best_checkpoint = _save(self._best, sess, BEST, self.run_dir, state)
    self._save_latest(sess, state, checked=True)

  def on_interrupt(self, sess, state):
    self._save_latest(sess, state)

  def end(self, sess, state):
    self._write_state(state, finished=True)

  def _save_latest(self, sess, state, checked=False):
    if not checked:
      self._check_finite(sess, state)
    self.last_checkpoint = _save(self._latest, sess, LATEST, self.run_dir, state)
    self._write_state(state)

  def _check_finite(self, sess, state):
    # `fit` appends the last good checkpoint to the message.
    if not sess.run(self._finite):
      epoch = state.epoch + 1 if state.batch else state.epoch  # 1-based, as fit counts
      raise TrainingDivergedError(
          f"Training diverged: the weights hold NaN or Inf at epoch {epoch}, "
          f"global step {state.global_step}. No checkpoint was written with them.")

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


def _save(saver, sess, subdir, run_dir, state):
  """Saves into `run_dir/subdir`; returns the checkpoint prefix."""
  # Saver.save calls TensorFlow's own deprecated remove_checkpoint; its notice says
  # nothing to our users, so only that call is silenced.
  with _silenced_tf_deprecations():
    return saver.save(sess, os.path.join(run_dir, subdir, CKPT_NAME),
                      global_step=state.global_step, write_meta_graph=False)


def _silenced_tf_deprecations():
  try:
    from tensorflow.python.util import deprecation  # pylint: disable=g-import-not-at-top
    return deprecation.silence()
  except (ImportError, AttributeError):
    return contextlib.nullcontext()


def _json_default(value):
  if isinstance(value, (np.floating, np.integer)):
    return value.item()
  raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_checkpoint(prefix, values):
  """Writes arrays as a checkpoint whose variables have the given names.

  Builds in a fresh graph and Session, leaving the caller's untouched. Useful for
  weights computed outside a model graph (layer-wise pretraining) and for tests of
  checkpoints written by TF 1.x code:

      write_checkpoint("/tmp/contrib.ckpt", {"hidden1/weights": w, "hidden1/biases": b})

  Args:
    prefix: the checkpoint path prefix; its directory is created.
    values: a non-empty dict {variable name: array-like}.

  Returns:
    The prefix written (pass it to `restore_scopes`).

  Raises:
    TypeError: if `values` is not a dict of names to arrays.
    ValueError: if it is empty or a name is a tensor name ending in ':0'.
  """
  if not isinstance(values, dict) or not values:
    raise TypeError("Expected `values` to be a non-empty dict {variable name: array}. "
                    f"Received: values of type {type(values).__name__}")
  for name in values:
    if not isinstance(name, str) or not name or re.search(r":\d+$", name):
      raise ValueError(f"Expected `values` keys to be variable names such as "
                       f"'hidden1/weights' (no ':0'). Received the key {name!r}")
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  with tf.Graph().as_default() as graph:
    variables = {name: _V1.Variable(np.asarray(value), name=name.replace("/", "_"))
                 for name, value in values.items()}
    saver = _V1.train.Saver(variables)
    with _V1.Session(graph=graph) as sess:
      sess.run(_V1.global_variables_initializer())
      return saver.save(sess, prefix, write_meta_graph=False, write_state=False)


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
    saved = read_run_state(path)
    for key in ("best_checkpoint", "latest_checkpoint"):
      if saved.get(key):
        return os.path.join(path, saved[key])
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


def inspect_checkpoint(path):
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
      first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
      raise CheckpointError(f"Cannot read variable {name!r} of checkpoint {prefix!r}, "
                            f"truncated or corrupt: {first}") from None
    variables.append({"name": name, "shape": shape, "dtype": dtype.name,
                      "size": int(value.size), **_statistics(value)})
  scopes = {}
  for variable in variables:
    for scope in scope_prefixes(variable["name"])[:-1]:
      entry = scopes.setdefault(scope, {"scope": scope, "variables": 0, "size": 0})
      entry["variables"] += 1
      entry["size"] += variable["size"]
  return {"checkpoint": prefix, "variables": variables,
          "scopes": [scopes[s] for s in sorted(scopes)],
          "total_size": sum(v["size"] for v in variables)}
