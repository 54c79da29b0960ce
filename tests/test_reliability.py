"""Nothing lost, nothing silently substituted: run locks, data identity, full disks,
damaged records and checkpoints, safe full restores.

Each case is written as a user meets it: a real run directory, damaged the way a crash,
a full disk or a hand edit damages it, then the call a user makes. What a user relies on:
one clear error naming what is wrong, the last good checkpoint intact, and nothing new
written into a run that was refused.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf
from _helpers import files_of, fill_disk, mount_tmpfs

from dnn_toolkit import checkpoints, scopes

from dnn_toolkit.runs import lifecycle, loading
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import (
  CheckpointError,
  ConfigMismatchError,
  RunLockedError,
  ShapeMismatchError,
)
from dnn_toolkit.model import build_dnn

V1 = tf.compat.v1
PLAIN = DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False, dropout_rate=0.0)
RUN = {"epochs": 2, "batch_size": 32, "patience": None, "verbose": 0}


@pytest.fixture
def finished_run(tmp_path, toy_data):
  """The directory of a finished two-epoch run of PLAIN on the toy data."""
  run_dir = str(tmp_path / "run")
  lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, **RUN)
  return run_dir


def _edit_record(run_dir, edit):
  path = os.path.join(run_dir, checkpoints.STATE_FILE)
  with open(path) as f:
    record = json.load(f)
  record = edit(record)
  with open(path, "w") as f:
    json.dump(record, f)


def _set(keys, value):
  def edit(record):
    target = record
    for key in keys[:-1]:
      target = target[key]
    target[keys[-1]] = value
    return record
  return edit


def _drop(key):
  return lambda record: {k: v for k, v in record.items() if k != key}


@pytest.mark.parametrize("edit, message", [
    (_drop("config"), "it has no 'config' field"),
    (_drop("state"), "it has no 'state' field"),
    (lambda record: [record], "it holds a list, not an object"),
    (_set(["config", "hidden_layers"], 20), "Expected `hidden_layers` to be a list. "
                                            "Received: hidden_layers=20"),
    (_set(["state", "global_step"], "x"), "Expected the training state's `global_step` "
                                          "to be an integer. Received: global_step='x'"),
    (_set(["config", "activation"], "swish"), "Received: activation='swish'"),
    (_set(["latest_checkpoint"], 3), "`latest_checkpoint` is 3, expected str"),
])
def test_a_damaged_record_is_one_line_and_nothing_is_written(edit, message, finished_run,
                                                             toy_data):
  _edit_record(finished_run, edit)
  before = files_of(finished_run)
  with pytest.raises(CheckpointError) as error:
    lifecycle.train(PLAIN, *toy_data, run_dir=finished_run, resume=True, **RUN)
  text = str(error.value)
  assert message in text and "state.json is damaged" in text and "\n" not in text
  assert files_of(finished_run) == before  # No event file, no checkpoint, no record.


def test_a_truncated_checkpoint_says_what_is_wrong(finished_run, toy_data):
  latest = checkpoints.RunRecord.read(finished_run).latest_checkpoint
  data_file = latest + ".data-00000-of-00001"
  with open(data_file, "r+b") as f:
    f.truncate(os.path.getsize(data_file) // 2)
  with pytest.raises(CheckpointError) as error:
    lifecycle.train(PLAIN, *toy_data, run_dir=finished_run, resume=True,
                     **dict(RUN, epochs=3))
  text = str(error.value)
  assert "corrupt or truncated" in text and latest in text
  assert not text.rstrip().endswith(":") and "Graph execution error" not in text


def test_a_full_restore_checks_every_shape_first(tmp_path):
  prefix = str(tmp_path / "wide" / "model.ckpt")
  with tf.Graph().as_default() as graph:
    build_dnn(DNNConfig(hidden_layers=(50,), batch_norm=False), 784)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      V1.train.Saver().save(sess, prefix, write_meta_graph=False)
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(DNNConfig(hidden_layers=(30,), batch_norm=False), 784)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      before = sess.run(dnn.weights)
      with pytest.raises(ShapeMismatchError) as error:
        scopes.restore(sess, prefix)
      assert ("hidden1/weights: graph [784, 30], checkpoint [784, 50]" in
              str(error.value))
      for old, new in zip(before, sess.run(dnn.weights)):
        np.testing.assert_array_equal(old, new)  # Nothing was assigned.
      assert dnn.weights[0].shape.as_list() == [784, 30]


def test_restoring_a_best_checkpoint_into_a_training_graph_says_what_to_do(finished_run):
  best = checkpoints.RunRecord.read(finished_run).best_checkpoint
  with tf.Graph().as_default() as graph:
    build_dnn(PLAIN, 20)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      with pytest.raises(CheckpointError) as error:
        scopes.restore(sess, best)
  text = str(error.value)
  assert "model variables only" in text and "loading.load_run" in text
  with loading.load_run(finished_run) as run:  # The one call that does it right.
    assert run.predict(np.zeros((3, 20), np.float32)).shape == (3,)


def test_resume_on_other_data_names_what_differs(finished_run, toy_data):
  (X, y), validation = toy_data
  before = files_of(finished_run)
  with pytest.raises(ConfigMismatchError) as error:
    lifecycle.train(PLAIN, (X[:-32], y[:-32]), validation, run_dir=finished_run,
                     resume=True, **dict(RUN, epochs=3))
  assert "on other data (n_train, train_sha256 differ)" in str(error.value)
  assert error.value.fields == ("data",)
  assert files_of(finished_run) == before


def test_an_empty_run_dir_is_refused(toy_data):
  with pytest.raises(ValueError, match="Expected `run_dir` to be a non-empty"):
    lifecycle.train(PLAIN, *toy_data, run_dir="", **RUN)


def test_resume_clears_stale_checkpoints_and_partial_files(finished_run, toy_data):
  latest_dir = os.path.join(finished_run, checkpoints.LATEST)
  for name in ("model.ckpt-999.index", "model.ckpt-999.data-00000-of-00001"):
    shutil.copy(os.path.join(latest_dir, sorted(os.listdir(latest_dir))[-1]),
                os.path.join(latest_dir, name))
  with open(os.path.join(finished_run, ".tmp-killed.part"), "w") as f:
    f.write("half a record")
  lifecycle.train(PLAIN, *toy_data, run_dir=finished_run, resume=True,
                   **dict(RUN, epochs=3))
  names = os.listdir(latest_dir)
  assert not any("999" in n for n in names)
  assert not any(n.endswith(".part") for n in os.listdir(finished_run))
  steps = {n.split("-")[1].split(".")[0] for n in names if n.startswith("model.ckpt-")}
  assert len(steps) == 2  # The Savers keep the newest two, as in an unbroken run.


def test_record_and_checkpoints_have_one_file_mode(finished_run):
  record = os.path.join(finished_run, checkpoints.STATE_FILE)
  index = checkpoints.RunRecord.read(finished_run).latest_checkpoint + ".index"
  assert os.stat(record).st_mode & 0o777 == os.stat(index).st_mode & 0o777 == 0o644


_HOLDER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from dnn_toolkit.runs import lifecycle, loading
    from dnn_toolkit.config import DNNConfig

    class Slow:
      def after_step(self, sess, state, *args):
        time.sleep(0.2)

    data = np.load(sys.argv[1])
    lifecycle.train(DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False,
                               dropout_rate=0.0),
                     (data["X"], data["y"]), (data["X_valid"], data["y_valid"]),
                     run_dir=sys.argv[2], epochs=50, batch_size=32, patience=None,
                     verbose=0, hook_factories=[lambda dnn, run_dir: Slow()])
""")


def test_a_second_trainer_is_refused_naming_the_first(tmp_path, toy_data):
  (X, y), (X_valid, y_valid) = toy_data
  data_file = str(tmp_path / "data.npz")
  np.savez(data_file, X=X, y=y, X_valid=X_valid, y_valid=y_valid)
  run_dir = str(tmp_path / "run")
  proc = subprocess.Popen([sys.executable, "-c", _HOLDER, data_file, run_dir],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  try:
    deadline = time.monotonic() + 90
    while not checkpoints.has_run(run_dir):  # The first trainer has written a record.
      assert proc.poll() is None and time.monotonic() < deadline
      time.sleep(0.05)
    for resume in (False, True):
      with pytest.raises(RunLockedError) as error:
        lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=resume, **RUN)
      assert f"process {proc.pid} is training there" in str(error.value)
      assert error.value.pid == proc.pid
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
  # Killed, it left no stale lock: its run resumes.
  result = lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True,
                            **dict(RUN, epochs=checkpoints.RunRecord.read(
                                run_dir).state.epoch + 1))
  assert result.state.epoch >= 1


def test_a_full_disk_keeps_the_last_good_checkpoint(tmp_path, toy_data):
  disk = str(tmp_path / "disk")
  mount_tmpfs(disk, "4m")
  try:
    run_dir = os.path.join(disk, "run")

    class FillDisk:  # After the first epoch's checkpoint, the disk fills up.
      def after_epoch(self, sess, state, metrics, improved):
        if state.epoch == 1:
          fill_disk(os.path.join(disk, "filler"))

    with pytest.raises(CheckpointError) as error:
      lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, save_every_steps=1,
                       hook_factories=[lambda dnn, run_dir: FillDisk()], **RUN)
    text = str(error.value)
    assert "No space left on device" in text and "is intact" in text
    record = checkpoints.RunRecord.read(run_dir)
    assert record.state.epoch == 1  # The record names the last good checkpoint ...
    assert scopes.checkpoint_exists(record.latest_checkpoint)
    os.remove(os.path.join(disk, "filler"))  # ... from which the run resumes.
    result = lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True, **RUN)
    assert result.state.epoch == 2
  finally:
    subprocess.run(["umount", "-l", disk], check=False)


def test_a_transfer_run_is_not_resumed_as_a_plain_one(finished_run, toy_data):
  record = checkpoints.RunRecord.read(finished_run)
  record.transfer = {"from": "base/best/model.ckpt-8", "reused_layers": [1]}
  record.write()
  before = files_of(finished_run)
  with pytest.raises(CheckpointError, match="is a transfer run .* transfer --resume"):
    lifecycle.train(PLAIN, *toy_data, run_dir=finished_run, resume=True,
                     **dict(RUN, epochs=3))
  assert files_of(finished_run) == before
