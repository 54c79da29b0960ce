"""A child process that never outlives its command: TensorBoard, a demo.

`run_child(argv)` starts the child in its own process group, passes Ctrl-C (SIGINT)
and SIGTERM on to it, and waits for it; a child that has not stopped
`STOP_TIMEOUT_S` seconds after the signal is killed. On Linux the kernel also sends the
child SIGTERM if the command itself dies without a chance to clean up (SIGKILL), so no
server is left orphaned.
"""

import signal
import subprocess
import sys
import threading
from typing import Callable, Mapping, Optional, Sequence

from dnn_toolkit import _signals

STOP_TIMEOUT_S = 10
POLL_S = 0.1


def run_child(argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None,
              keep_stderr_line: Optional[Callable[[str], bool]] = None,
              while_running: Optional[Callable[[], None]] = None) -> int:
  """Runs `argv` to its end, or until this process is told to stop; returns the code.

  Args:
    argv: the child's command line.
    env: the child's environment; default this process's.
    keep_stderr_line: optional `line -> bool`; when given, the child's stderr is read
      line by line and only the lines it keeps are written to this process's stderr.
    while_running: optional `() -> None`, called every 0.1 s while the child runs
      (e.g. to announce a server once it answers).

  Returns:
    The child's exit code, or 0 when SIGINT or SIGTERM stopped it.
  """
  stderr = subprocess.PIPE if keep_stderr_line else None
  process = subprocess.Popen(  # pylint: disable=consider-using-with
      argv, env=env, stderr=stderr, process_group=0,
      preexec_fn=_signals.die_with_parent())
  pump = None
  if process.stderr is not None:
    pump = threading.Thread(target=_copy_lines, daemon=True,
                            args=(process.stderr, keep_stderr_line))
    pump.start()
  code, signum = None, signal.SIGTERM
  try:
    with _signals.sigterm_as_keyboard_interrupt():
      code = _wait(process, while_running)
  except _signals.Terminated:
    code = 0
  except KeyboardInterrupt:
    code, signum = 0, signal.SIGINT
  finally:
    _stop(process, signum)  # Also when anything else went wrong: it never outlives us.
    if pump is not None:
      pump.join(timeout=STOP_TIMEOUT_S)
  return code


def _wait(process, while_running):
  while True:
    try:
      return process.wait(timeout=POLL_S)
    except subprocess.TimeoutExpired:
      if while_running is not None:
        while_running()


def _stop(process, signum):
  """Sends the child `signum`, then kills it if it has not stopped in time."""
  if process.poll() is not None:
    return
  process.send_signal(signum)
  try:
    process.wait(timeout=STOP_TIMEOUT_S)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()


def _copy_lines(stream, keep):
  """Writes the lines of the child's stderr that `keep` keeps to our stderr."""
  with stream:
    for raw in stream:
      line = raw.decode(errors="replace")
      if line.strip() and keep(line.rstrip("\n")):
        sys.stderr.write(line)
        sys.stderr.flush()

