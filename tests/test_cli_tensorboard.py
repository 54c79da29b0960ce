"""Tests of `dnn-toolkit tensorboard` serving for real, in a subprocess, and stopping.

Each test starts the command on a free port of 127.0.0.1, waits until TensorBoard
answers HTTP there, stops the command (SIGTERM, Ctrl-C's SIGINT, or SIGKILL), and checks
that the command and its TensorBoard child are gone and nothing listens on the port.
Every process started is killed by its pid at the end if it is still there.
"""

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import tensorflow as tf

from dnn_toolkit.commands import _child
from dnn_toolkit.commands import tensorboard as tensorboard_command

# Deadlines that only a hang reaches; TensorBoard's start and stop take seconds on a
# loaded machine (the command itself gives its child 10 s after SIGTERM).
START_DEADLINE_S = 300
STOP_DEADLINE_S = 60


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
  """A directory with one event file (a scalar), as a run's logs/ holds."""
  path = tmp_path_factory.mktemp("run")
  with tf.Graph().as_default():
    writer = tf.compat.v1.summary.FileWriter(str(path / "logs" / "train"))
    summary = tf.compat.v1.Summary(
        value=[tf.compat.v1.Summary.Value(tag="loss", simple_value=1.0)])
    writer.add_summary(summary, 1)
    writer.close()
  return str(path)


def _listening(port):
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
    client.settimeout(1)
    return client.connect_ex(("127.0.0.1", port)) == 0


def _tensorboard_children(port):
  """Pids of the processes whose command line serves TensorBoard on `port`."""
  pids = []
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    except OSError:
      continue
    if b"tensorboard.main" in argv and str(port).encode() in argv:
      pids.append(int(pid))
  return pids


def _start(run_dir, port):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  return subprocess.Popen([sys.executable, "-m", "dnn_toolkit", "tensorboard", run_dir,
                           "--port", str(port)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)


def _wait_until_served(proc, port):
  """Waits for the command's URL line, then checks TensorBoard answers HTTP there."""
  url = f"http://127.0.0.1:{port}/"
  deadline = time.monotonic() + START_DEADLINE_S
  with selectors.DefaultSelector() as selector:
    selector.register(proc.stdout, selectors.EVENT_READ)
    seen = ""
    while not seen.endswith("Ctrl-C stops it)\n"):
      left = deadline - time.monotonic()
      assert left > 0, f"no URL on stdout in {START_DEADLINE_S} s: {seen!r}"
      if selector.select(timeout=left):
        # Unbuffered: both lines of the announcement may come in one read.
        chunk = os.read(proc.stdout.fileno(), 4096).decode()
        assert chunk, f"the command ended: {proc.wait()} {proc.stderr.read()}"
        seen += chunk
  opening = (f"{url}?pinnedCards=%5B%7B%22plugin%22%3A%22scalars%22%2C%22tag%22%3A"
             "%22loss%22%7D%2C%7B%22plugin%22%3A%22scalars%22%2C%22tag%22%3A"
             "%22accuracy%22%7D%5D#timeseries")  # loss and accuracy pinned
  assert seen.endswith(f"  open {opening}\n  (loss and accuracy pinned at the top; "
                       "Ctrl-C stops it)\n"), seen
  with urllib.request.urlopen(opening, timeout=START_DEADLINE_S) as reply:
    assert reply.status == 200


def _end(proc, port):
  """Kills, by pid, the command and any TensorBoard child still there."""
  for pid in _tensorboard_children(port):
    os.kill(pid, signal.SIGKILL)
  if proc.poll() is None:
    proc.kill()
    proc.communicate(timeout=STOP_DEADLINE_S)


def test_sigterm_stops_tensorboard_and_frees_the_port(logdir):
  port = tensorboard_command.free_port()
  proc = _start(logdir, port)
  try:
    _wait_until_served(proc, port)
    assert _tensorboard_children(port)
    proc.terminate()
    _, err = proc.communicate(timeout=STOP_DEADLINE_S)
    assert proc.returncode == 0, err
    assert _tensorboard_children(port) == []
    assert not _listening(port)
  finally:
    _end(proc, port)
  for noise in ("I0000", "absl::InitializeLog", "cuInit", "oneDNN", "Traceback"):
    assert noise not in err, err


def test_tensorboard_dies_with_a_killed_command(logdir):
  port = tensorboard_command.free_port()
  proc = _start(logdir, port)
  try:
    _wait_until_served(proc, port)
    proc.kill()  # SIGKILL: the command cannot clean up; the kernel tells the child.
    proc.wait(timeout=STOP_DEADLINE_S)
    deadline = time.monotonic() + STOP_DEADLINE_S
    while _tensorboard_children(port) and time.monotonic() < deadline:
      time.sleep(0.1)
    assert _tensorboard_children(port) == []
    assert not _listening(port)
  finally:
    _end(proc, port)


def test_a_port_in_use_is_one_line_at_once(logdir):
  # "At once": before TensorFlow loads (0.3 s on an idle machine, seconds with it).
  code = ("import sys\nfrom dnn_toolkit import cli\n"
          f"code = cli.main(['tensorboard', {logdir!r}, '--port', sys.argv[1]])\n"
          "print(code, 'tensorflow' in sys.modules)")
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    proc = subprocess.run([sys.executable, "-c", code, str(port)], capture_output=True,
                          text=True, timeout=START_DEADLINE_S, check=False)
  assert proc.stdout == "2 False\n", proc.stderr  # Exit code 2; TensorFlow not loaded.
  assert proc.stderr == (f"dnn-toolkit: error: argument --port: 127.0.0.1:{port} is "
                         "already in use (another TensorBoard?); stop that server, or "
                         "choose another --port (--port 0 picks a free one).\n")


# ------------------------------------------- the child runner, with a Python child


def _sleeper(ignore_sigint=False):
  """A child that says 'kept' once it waits for Ctrl-C (sleeping an hour otherwise)."""
  code = "import signal, sys, time\n"
  if ignore_sigint:
    code += "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
  code += ("try:\n  sys.stderr.write('I0000 00:00 port.cc] noise\\nkept\\n')\n"
           "  sys.stderr.flush()\n  time.sleep(3600)\nexcept KeyboardInterrupt:\n"
           "  sys.stderr.write('got SIGINT\\n')\n")
  return [sys.executable, "-c", code]


class _CtrlCWhenReady:
  """Acts as Ctrl-C (the `while_running` callback) once the child said 'kept': it then
  waits in its `try`. `keep` is the stderr filter that sees the line go by."""

  def __init__(self):
    self.ready = threading.Event()

  def keep(self, line):
    if line == "kept":
      self.ready.set()
    return "I0000" not in line

  def __call__(self):
    if self.ready.is_set():
      raise KeyboardInterrupt


def _run_child_within_deadline(argv, **kwargs):
  """`run_child` in a thread; fails (instead of hanging) if it has not returned in time,
  killing by pid the child it left."""
  before, result = _children(), []
  thread = threading.Thread(target=lambda: result.append(_child.run_child(argv, **kwargs)),
                            daemon=True)
  thread.start()
  thread.join(timeout=STOP_DEADLINE_S)
  if not result:
    for pid in _children() - before:
      os.kill(pid, signal.SIGKILL)
    raise AssertionError("run_child did not return: its child was not stopped")
  return result[0]


def _children():
  """Pids of this process's live children."""
  with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
    return {int(pid) for pid in f.read().split()}


def test_ctrl_c_ends_the_child_and_returns_0(capsys):
  before = _children()
  ctrl_c = _CtrlCWhenReady()
  code = _run_child_within_deadline(_sleeper(), keep_stderr_line=ctrl_c.keep,
                                    while_running=ctrl_c)
  assert code == 0
  assert _children() == before
  assert capsys.readouterr().err == "kept\ngot SIGINT\n"


def test_a_child_that_ignores_ctrl_c_is_killed(monkeypatch):
  monkeypatch.setattr(_child, "STOP_TIMEOUT_S", 0.5)
  before = _children()
  ctrl_c = _CtrlCWhenReady()
  # The child sleeps an hour: returning at all means it was killed.
  assert _run_child_within_deadline(_sleeper(ignore_sigint=True),
                                    keep_stderr_line=ctrl_c.keep,
                                    while_running=ctrl_c) == 0
  assert _children() == before


def test_the_child_exit_code_is_returned():
  assert _child.run_child([sys.executable, "-c", "raise SystemExit(3)"]) == 3
