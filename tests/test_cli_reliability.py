"""Nothing lost, on the command line: two trainers on one run directory, a full disk,
a damaged record, a resume on other data; each as a real `dnn-toolkit` process.

What a user relies on: the second trainer is refused in one line naming the first's pid
and exits 2 without touching the run; a full disk is one line, exit 2, the last good
checkpoint intact and resumable; a damaged record is one line and nothing new written.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from _helpers import files_of, fill_disk, mount_tmpfs

CLI = [sys.executable, "-m", "dnn_toolkit"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


@pytest.fixture(scope="module")
def own_data(tmp_path_factory):
  """A .npz of 300 examples, 6 features, 3 classes: not MNIST-shaped."""
  rng = np.random.default_rng(0)
  X = rng.normal(size=(300, 6)).astype(np.float32)
  y = np.argmax(X[:, :3], axis=1)
  path = str(tmp_path_factory.mktemp("data") / "own.npz")
  np.savez(path, x=X, y=y)
  return path


def _train(data, run_dir, *flags):
  return CLI + ["train", "--data", data, "--hidden-layers", "8", "--batch-size", "50",
                "--run-dir", run_dir, "--quiet", *flags]


def _run(argv, timeout=120):
  return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ENV,
                        check=False)


def _error_lines(stderr):
  return [line for line in stderr.splitlines() if line.strip()]


def _wait_for_record(proc, run_dir, timeout=90):
  deadline = time.monotonic() + timeout
  while not os.path.isfile(os.path.join(run_dir, "state.json")):
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
    assert time.monotonic() < deadline, "no record within the deadline"
    time.sleep(0.05)


def test_a_second_trainer_on_a_run_directory_is_refused(own_data, tmp_path):
  run_dir = str(tmp_path / "run")
  argv = _train(own_data, run_dir, "--epochs", "100000", "--patience", "0")
  first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, env=ENV)
  try:
    _wait_for_record(first, run_dir)
    for extra in ([], ["--resume"]):
      second = _run(_train(own_data, run_dir, "--epochs", "2", *extra))
      assert second.returncode == 2, second.stderr
      lines = _error_lines(second.stderr)
      assert len(lines) == 1 and f"process {first.pid} is training there" in lines[0]
  finally:
    first.send_signal(signal.SIGINT)  # Ctrl-C: the first saves its position.
    first.wait(timeout=60)
  assert first.returncode == 130
  record = json.loads(open(os.path.join(run_dir, "state.json")).read())
  assert record["state"]["epoch"] >= 1 and record["batch_size"] == 50
  resumed = _run(_train(own_data, run_dir, "--resume", "--epochs",
                        str(record["state"]["epoch"] + 1)))
  assert resumed.returncode == 0, resumed.stderr


def test_a_damaged_record_is_one_line_and_nothing_is_written(own_data, tmp_path):
  run_dir = str(tmp_path / "run")
  assert _run(_train(own_data, run_dir, "--epochs", "1")).returncode == 0
  path = os.path.join(run_dir, "state.json")
  with open(path) as f:
    record = json.load(f)
  with open(path, "w") as f:
    json.dump([record], f)
  before = files_of(run_dir)
  result = _run(_train(own_data, run_dir, "--resume", "--epochs", "2"))
  assert result.returncode == 2
  lines = _error_lines(result.stderr)
  assert len(lines) == 1 and "is damaged: it holds a list, not an object" in lines[0]
  assert files_of(run_dir) == before


def test_resuming_on_other_data_names_it(own_data, tmp_path):
  run_dir = str(tmp_path / "run")
  assert _run(_train(own_data, run_dir, "--epochs", "1")).returncode == 0
  other = str(tmp_path / "other.npz")
  with np.load(own_data) as data:
    np.savez(other, x=data["x"][:250], y=data["y"][:250])
  before = files_of(run_dir)
  result = _run(CLI + ["train", "--resume", "--run-dir", run_dir, "--data", other,
                       "--epochs", "2"])
  assert result.returncode == 2
  lines = _error_lines(result.stderr)
  assert len(lines) == 1 and "on other data" in lines[0]
  assert files_of(run_dir) == before
  # Without --data, the run reads its own data again: no flag needs repeating.
  assert _run(CLI + ["train", "--resume", "--run-dir", run_dir, "--epochs", "2",
                     "--quiet"]).returncode == 0


def test_a_full_disk_is_one_line_and_the_run_resumes(own_data, tmp_path):
  disk = str(tmp_path / "disk")
  mount_tmpfs(disk, "6m")
  try:
    run_dir = os.path.join(disk, "run")
    proc = subprocess.Popen(_train(own_data, run_dir, "--epochs", "100000", "--patience",
                                   "0", "--save-every-steps", "1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=ENV)
    try:
      _wait_for_record(proc, run_dir)
      fill_disk(os.path.join(disk, "filler"))
      _, stderr = proc.communicate(timeout=120)
    finally:
      if proc.poll() is None:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2, stderr
    lines = [l for l in _error_lines(stderr) if not l.startswith("epoch ")]
    assert len(lines) == 1, stderr
    assert "No space left on device" in lines[0] and "intact" in lines[0]
    os.remove(os.path.join(disk, "filler"))
    record = json.loads(open(os.path.join(run_dir, "state.json")).read())
    result = _run(_train(own_data, run_dir, "--resume", "--epochs",
                         str(record["state"]["epoch"] + 1)))
    assert result.returncode == 0, result.stderr
  finally:
    subprocess.run(["umount", "-l", disk], check=False)
