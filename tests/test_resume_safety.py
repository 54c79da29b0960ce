"""A refused resume touches nothing: every damaged-run case, and the way out.

A run directory damaged the way a crash mid-copy, a bad disk or a hand edit damages it:
the newest latest checkpoint truncated or missing a file, the best one truncated, the
record naming no checkpoint, an edited config, `latest/` deleted. What a user relies
on: one line naming the damaged file, every file of the run left as it was (nothing
deleted, rewritten or added), and, when an older intact checkpoint exists, the way to
continue from it, which then resumes exactly from that step.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from _helpers import files_of

from dnn_toolkit import checkpoints, scopes
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import CheckpointError, ConfigMismatchError
from dnn_toolkit.runs import lifecycle

PLAIN = DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False, dropout_rate=0.0,
                  seed=3)
# 240 examples in batches of 32: 8 steps an epoch; a checkpoint every 4 steps, so
# latest/ holds the two newest (steps 12 and 16 after 2 epochs), each with its position.
RUN = {"epochs": 2, "batch_size": 32, "patience": None, "verbose": 0,
       "save_every_steps": 4}


@pytest.fixture
def run_dir(tmp_path, toy_data):
  path = str(tmp_path / "run")
  lifecycle.train(PLAIN, *toy_data, run_dir=path, **RUN)
  return path


def _record(run_dir):
  return checkpoints.RunRecord.read(run_dir)


def _older(run_dir):
  """The intact latest checkpoint before the record's newest one."""
  latest = _record(run_dir).latest_checkpoint
  step = int(latest.rsplit("-", 1)[1])
  return os.path.join(run_dir, "latest", f"model.ckpt-{step - 4}")


def _truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def _edit_record(run_dir, edit):
  path = os.path.join(run_dir, checkpoints.STATE_FILE)
  with open(path) as f:
    fields = json.load(f)
  edit(fields)
  with open(path, "w") as f:
    json.dump(fields, f)


def _latest_data(run_dir):
  return _record(run_dir).latest_checkpoint + ".data-00000-of-00001"


def _latest_index(run_dir):
  return _record(run_dir).latest_checkpoint + ".index"


def _best_index(run_dir):
  return _record(run_dir).best_checkpoint + ".index"


# (case, damage(run_dir) -> the file it damaged, what the message says, whether an
# older intact checkpoint is offered; None: if its own best checkpoint is another).
DAMAGE = [
    ("latest .data deleted", lambda d: _gone(_latest_data(d)),
     "its data file model.ckpt-16.data-00000-of-00001 is missing", True),
    ("latest .data truncated", lambda d: _cut(_latest_data(d)),
     "is corrupt or truncated", True),
    ("latest .index deleted", lambda d: _gone(_latest_index(d)),
     "its index file model.ckpt-16.index is missing", True),
    ("latest .index truncated", lambda d: _cut(_latest_index(d)),
     "is corrupt or truncated", True),
    ("best .index truncated", lambda d: _cut(_best_index(d)),
     "its best checkpoint", None),
    ("latest_checkpoint null",  # A hand edit, or a record written before any save.
     lambda d: _edit_record(d, lambda r: r.update(latest_checkpoint=None)),
     "its record names no latest checkpoint", True),
]


def _gone(path):
  os.remove(path)
  return path


def _cut(path):
  _truncate(path)
  return path


@pytest.mark.parametrize("case, damage, message, offered", DAMAGE,
                         ids=[d[0] for d in DAMAGE])
def test_a_refused_resume_changes_nothing_and_names_the_damage(run_dir, toy_data, case,
                                                               damage, message,
                                                               offered):
  del case  # Only the test's id.
  older = _older(run_dir)
  if offered is None:  # The older position is intact if its best is not the damaged one.
    with open(older + ".json") as f:
      offered = json.load(f)["best_checkpoint"] != os.path.relpath(
          _record(run_dir).best_checkpoint, run_dir)
  damage(run_dir)
  before = files_of(run_dir)
  with pytest.raises(CheckpointError) as raised:
    lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True,
                    **dict(RUN, epochs=4))
  text = str(raised.value)
  assert message in text and "Nothing was changed" in text and "\n" not in text, text
  assert files_of(run_dir) == before  # Nothing deleted, rewritten or added.
  if offered:
    if "names no latest" in message:  # The newest is intact: it is the one offered.
      older = older[:-2] + "16"
    assert f"intact checkpoint exists: {older}" in text, text
    assert f"from_checkpoint='{os.path.basename(older)}'" in text
  else:
    assert "older intact checkpoint" not in text


def test_the_offered_checkpoint_resumes_exactly_from_its_step(run_dir, toy_data,
                                                              tmp_path):
  older = _older(run_dir)
  _truncate(_latest_data(run_dir))
  result = lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True,
                           from_checkpoint=os.path.basename(older),
                           **dict(RUN, epochs=4))
  assert result.state.epoch == 4 and result.state.global_step == 32
  # The same as a run never damaged: resumed from step 12 of the same seeded run.
  reference = str(tmp_path / "reference")
  lifecycle.train(PLAIN, *toy_data, run_dir=reference, **dict(RUN, epochs=4))
  mine = scopes.load_values(_record(run_dir).latest_checkpoint)
  theirs = scopes.load_values(_record(reference).latest_checkpoint)
  for name, value in theirs.items():
    np.testing.assert_array_equal(mine[name], value, err_msg=name)
  # Once the resumed run wrote newer checkpoints, the damaged one is gone.
  names = os.listdir(os.path.join(run_dir, "latest"))
  assert not any(n.startswith("model.ckpt-16.") for n in names), names


def test_a_deleted_latest_directory_is_one_line(run_dir, toy_data):
  shutil.rmtree(os.path.join(run_dir, "latest"))
  before = files_of(run_dir)
  with pytest.raises(CheckpointError,
                     match=r"its checkpoint directory .*latest is missing"):
    lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True, **RUN)
  assert files_of(run_dir) == before


def test_an_edited_config_is_refused_before_anything_changes(run_dir, toy_data):
  _edit_record(run_dir, lambda r: r["config"].update(hidden_layers=[16]))
  before = files_of(run_dir)
  with pytest.raises(ConfigMismatchError, match="hidden_layers: run has"):
    lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True, **RUN)
  assert files_of(run_dir) == before


def test_an_api_resume_keeps_the_records_patience(tmp_path, toy_data):
  run_dir = str(tmp_path / "run")
  lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, epochs=1, batch_size=32,
                  patience=12, verbose=0)
  result = lifecycle.train(None, *toy_data, run_dir=run_dir, resume=True, epochs=2,
                           verbose=0)
  assert result.record.patience == 12 and _record(run_dir).patience == 12


def test_a_larger_patience_lets_an_early_stopped_run_go_on(tmp_path, toy_data):
  run_dir = str(tmp_path / "run")
  lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, epochs=1, batch_size=32,
                  patience=1, verbose=0)
  _edit_record(run_dir, lambda r: r["state"].update(stopped_early=True,
                                                    epochs_without_improvement=1))
  stopped = lifecycle.train(None, run_dir=run_dir, resume=True, epochs=3, verbose=0,
                            train=toy_data[0], validation=toy_data[1])
  assert not stopped.trained  # Patience 1 still holds: nothing left, nothing written.
  resumed = lifecycle.train(None, *toy_data, run_dir=run_dir, resume=True, epochs=3,
                            patience=5, verbose=0)
  assert resumed.trained and resumed.state.epoch == 3


def test_the_command_line_names_the_flag_to_continue(tmp_path, toy_data):
  data = str(tmp_path / "toy.npz")
  (X, y), (X_valid, y_valid) = toy_data
  np.savez(data, x=np.concatenate([X, X_valid]), y=np.concatenate([y, y_valid]))
  run_dir = str(tmp_path / "run")
  cli = [sys.executable, "-m", "dnn_toolkit", "train", "--run-dir", run_dir, "--quiet"]
  train = subprocess.run(cli + ["--data", data, "--hidden-layers", "8", "--batch-size",
                                "32", "--epochs", "2", "--patience", "0",
                                "--save-every-steps", "4"],
                         capture_output=True, text=True, timeout=300, check=False)
  assert train.returncode == 0, train.stderr
  older = os.path.basename(_older(run_dir))
  _truncate(_latest_data(run_dir))
  before = files_of(run_dir)
  proc = subprocess.run(cli + ["--resume", "--epochs", "4"], capture_output=True,
                        text=True, timeout=300, check=False)
  assert proc.returncode == 2
  lines = [l for l in proc.stderr.splitlines() if l.startswith("dnn-toolkit: error:")]
  assert len(lines) == 1 and f"--from-checkpoint {older}" in lines[0], proc.stderr
  assert files_of(run_dir) == before
  resumed = subprocess.run(cli + ["--resume", "--epochs", "4", "--from-checkpoint",
                                  older], capture_output=True, text=True, timeout=300,
                           check=False)
  assert resumed.returncode == 0, resumed.stderr
  assert _record(run_dir).state.epoch == 4
