"""Tests of dnn_toolkit._files: the atomic writer and the exclusive lock.

What a user relies on: a file is never half-written, a failed write leaves the old file
and no temporary, the mode is 0644, and a lock is exclusive across processes, names its
holder, and is released by the kernel when the holder is killed.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dnn_toolkit import _files


def test_atomic_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path):
  path = str(tmp_path / "sub" / "state.json")
  _files.atomic_write_text(path, "one")
  _files.atomic_write_text(path, "two")
  with open(path) as f:
    assert f.read() == "two"
  assert os.listdir(tmp_path / "sub") == ["state.json"]


def test_atomic_write_text_keeps_the_old_file_when_writing_fails(tmp_path):
  path = str(tmp_path / "state.json")
  _files.atomic_write_text(path, "good")
  with pytest.raises(TypeError):
    _files.atomic_write_text(path, b"not text")
  with open(path) as f:
    assert f.read() == "good"
  assert os.listdir(tmp_path) == ["state.json"]


def test_atomic_writer_writes_binary_with_mode_0644(tmp_path):
  path = str(tmp_path / "cache.npz")
  with _files.atomic_writer(path) as f:
    np.savez(f, x=np.arange(3))
  assert np.load(path)["x"].tolist() == [0, 1, 2]
  assert os.stat(path).st_mode & 0o777 == 0o644


def test_remove_partial_files_clears_what_a_killed_writer_left(tmp_path):
  (tmp_path / ".tmp-abc.part").write_text("half")
  (tmp_path / "state.json").write_text("{}")
  removed = _files.remove_partial_files(str(tmp_path))
  assert [os.path.basename(p) for p in removed] == [".tmp-abc.part"]
  assert os.listdir(tmp_path) == ["state.json"]


_HOLDER = """
import sys, time
from dnn_toolkit import _files
_files.ExclusiveLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def _start_holder(path):
  proc = subprocess.Popen([sys.executable, "-c", _HOLDER, path], stdout=subprocess.PIPE,
                          text=True)
  assert proc.stdout.readline().strip() == "held"
  return proc


def test_lock_is_exclusive_names_the_holder_and_dies_with_it(tmp_path):
  path = str(tmp_path / "run" / ".lock")
  holder = _start_holder(path)
  try:
    with pytest.raises(_files.LockHeld) as error:
      _files.ExclusiveLock(path).acquire()
    assert error.value.pid == holder.pid
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
  deadline = time.monotonic() + 10
  lock = _files.ExclusiveLock(path)
  lock.acquire()  # The kernel released the killed holder's lock: no stale lock.
  lock.release()
  assert time.monotonic() < deadline


def test_lock_holder_names_the_holder_without_taking_the_lock(tmp_path):
  path = str(tmp_path / "run" / ".lock")
  assert _files.lock_holder(path) is None  # No file: nobody.
  holder = _start_holder(path)
  try:
    assert _files.lock_holder(path) == holder.pid
    assert _files.lock_holder(path) == holder.pid  # Asking twice takes nothing.
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
  assert _files.lock_holder(path) is None
