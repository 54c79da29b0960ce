"""Tests of dnn_toolkit.checkpoints: the run directory, its state file and CheckpointHook.

The promise under test: at any instant the run directory names complete checkpoints
(so a killed run resumes), and no checkpoint ever holds NaN or Inf.
"""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from _helpers import files_of

from dnn_toolkit import checkpoints, scopes
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import (
  CheckpointError,
  ConfigMismatchError,
  TrainingDivergedError,
)
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training

V1 = tf.compat.v1
N_INPUTS = 20
PLAIN = DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False, dropout_rate=0.0)


@pytest.fixture
def hooked(graph, tmp_path):
  """(dnn, sess, hook): a small DNN in the test's graph with a CheckpointHook."""
  dnn = build_dnn(PLAIN, N_INPUTS)
  hook = checkpoints.CheckpointHook(str(tmp_path / "run"), PLAIN,
                                    extra={"batch_size": 32})
  init = V1.global_variables_initializer()
  with V1.Session(graph=graph) as sess:
    sess.run(init)
    yield dnn, sess, hook


# The state file --------------------------------------------------------------------


def test_read_run_state_without_a_run_says_so(tmp_path):
  assert not checkpoints.has_run(str(tmp_path))
  with pytest.raises(CheckpointError, match=r"No training run to resume in .*state\.json "
                                            r"is missing"):
    checkpoints.read_run_state(str(tmp_path))


def test_read_run_state_of_a_corrupt_file_names_it(tmp_path):
  (tmp_path / "state.json").write_text("{not json")
  assert checkpoints.has_run(str(tmp_path))
  with pytest.raises(CheckpointError, match=r"Cannot read .*state\.json"):
    checkpoints.read_run_state(str(tmp_path))


def test_check_same_config_names_each_differing_field():
  saved = DNNConfig(hidden_layers=(16, 8), dropout_rate=0.2)
  checkpoints.check_same_config("runs/a", saved, saved)
  with pytest.raises(ConfigMismatchError) as raised:
    checkpoints.check_same_config("runs/a", saved, DNNConfig(hidden_layers=(32,),
                                                             dropout_rate=0.5))
  message = str(raised.value)
  assert "Cannot resume 'runs/a'" in message
  assert "hidden_layers: run has (16, 8), given (32,)" in message
  assert "dropout_rate: run has 0.2, given 0.5" in message
  assert "Nothing was changed" in message
  assert "optimizer" not in message


def test_restore_and_load_values_of_a_missing_checkpoint_name_it(graph, sess, tmp_path):
  prefix = str(tmp_path / "model.ckpt-3")
  V1.get_variable("w", [2])
  with pytest.raises(CheckpointError, match=r"No checkpoint at .*model\.ckpt-3"):
    scopes.restore(sess, prefix)
  with pytest.raises(CheckpointError, match=r"Cannot read checkpoint .*model\.ckpt-3"):
    scopes.load_values(prefix)


# CheckpointHook --------------------------------------------------------------------


def test_a_run_directory_holds_state_latest_and_best(hooked, toy_data):
  dnn, sess, hook = hooked
  hook.save_every_steps = 3
  state = training.fit(sess, dnn, *toy_data, epochs=2, batch_size=32, verbose=0,
                       hooks=[hook])
  run_dir = hook.run_dir
  saved = checkpoints.read_run_state(run_dir)
  assert saved["config"] == PLAIN.to_dict()
  assert training.TrainState.from_dict(saved["state"]) == state
  assert saved["finished"] is True and saved["batch_size"] == 32
  assert saved["latest_checkpoint"] == os.path.join("latest", "model.ckpt-16")
  best = f"model.ckpt-{8 * state.best_epoch}"
  assert saved["best_checkpoint"] == os.path.join("best", best)
  assert hook.last_checkpoint == os.path.join(run_dir, "latest", "model.ckpt-16")
  # The previous checkpoint is kept, older ones are deleted.
  latest = sorted(n for n in os.listdir(os.path.join(run_dir, "latest"))
                  if n.endswith(".index"))
  assert latest == ["model.ckpt-15.index", "model.ckpt-16.index"]
  assert scopes.load_values(hook.last_checkpoint)["global_step"] == 16
  best_values = scopes.load_values(hook.best_checkpoint)
  assert set(best_values) == {v.op.name for v in V1.model_variables()}
  # fit put the best weights back: they are the session's.
  for variable in V1.model_variables():
    np.testing.assert_array_equal(best_values[variable.op.name], sess.run(variable))


def test_the_hook_never_writes_a_checkpoint_holding_nan(hooked, toy_data):
  dnn, sess, hook = hooked
  hook.save_every_steps = 1
  state = training.TrainState(epoch=0, batch=2, global_step=2)
  hook.begin(sess, dnn, state)
  hook.after_step(sess, state, 1.0, None, None)
  good = hook.last_checkpoint
  before = files_of(hook.run_dir)
  sess.run(dnn.weights[0][0, 0].assign(np.nan))
  state = training.TrainState(epoch=0, batch=3, global_step=3)
  with pytest.raises(TrainingDivergedError,
                     match=r"NaN or Inf at epoch 1, global step 3\. No checkpoint"):
    hook.after_step(sess, state, 1.0, None, None)
  for method in ("on_interrupt", "after_epoch"):
    args = (sess, state) + ((None, True) if method == "after_epoch" else ())
    with pytest.raises(TrainingDivergedError):
      getattr(hook, method)(*args)
  assert files_of(hook.run_dir) == before
  assert hook.last_checkpoint == good
  assert all(np.isfinite(v).all() for v in scopes.load_values(good).values())


def test_state_file_always_names_existing_checkpoints(hooked, toy_data, monkeypatch):
  """A kill after a new best is saved but before state.json is rewritten is safe."""
  dnn, sess, hook = hooked

  class Killed(Exception):
    pass

  writes = []
  write_state = checkpoints.CheckpointHook._write_state  # pylint: disable=protected-access

  def dies_on_second_write(self, state, finished=False):
    writes.append(state.global_step)
    if len(writes) == 2:
      raise Killed
    write_state(self, state, finished)

  monkeypatch.setattr(checkpoints.CheckpointHook, "_write_state", dies_on_second_write)
  # The toy labels are learnable: epoch 2 improves on epoch 1, a new best is saved.
  with pytest.raises(Killed):
    training.fit(sess, dnn, *toy_data, epochs=3, batch_size=32, verbose=0,
                 hooks=[hook])
  saved = checkpoints.read_run_state(hook.run_dir)
  assert saved["state"]["epoch"] == 1
  assert os.path.basename(hook.best_checkpoint) == "model.ckpt-16"  # A new best...
  for key in ("latest_checkpoint", "best_checkpoint"):  # ...yet the old ones remain.
    assert saved[key].endswith("model.ckpt-8")
    assert scopes.checkpoint_exists(os.path.join(hook.run_dir, saved[key])), key


def test_resume_from_continues_the_bookkeeping(hooked, toy_data):
  dnn, sess, hook = hooked
  training.fit(sess, dnn, *toy_data, epochs=1, batch_size=32, verbose=0, hooks=[hook])
  other = checkpoints.CheckpointHook(hook.run_dir, PLAIN)
  record = checkpoints.RunRecord.read(hook.run_dir)
  other.resume_from(record.latest_checkpoint, record.best_checkpoint)
  assert other.last_checkpoint == hook.last_checkpoint
  assert other.best_checkpoint == hook.best_checkpoint
  scopes.restore(sess, other.last_checkpoint)
  assert sess.run(dnn.global_step) == 8
  assert math.isfinite(checkpoints.read_run_state(hook.run_dir)["state"]["best_val_loss"])
  with open(os.path.join(hook.run_dir, "state.json")) as f:
    json.load(f)  # Plain JSON: no NaN, no Infinity.


def test_checkpoint_hook_needs_only_its_saving_steps(graph):
  """Between saves, training may run several steps per Session call."""
  build_dnn(PLAIN, 20)
  assert checkpoints.CheckpointHook("unused", PLAIN).next_step_needed(7) is None
  every_4 = checkpoints.CheckpointHook("unused", PLAIN, save_every_steps=4)
  assert [every_4.next_step_needed(s) for s in (0, 3, 4, 7)] == [4, 4, 8, 8]
