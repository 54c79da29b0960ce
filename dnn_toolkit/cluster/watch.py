"""What a task watches beside its training: the ps tasks, and the launcher that started it.

TensorFlow's own recovery (MonitoredSession's recoverable session) re-creates a session
whenever a ps is unavailable and waits for the ps without end, and a Session closing
toward a dead ps blocks inside TensorFlow, where no Python timeout reaches. So every task
runs a `TaskWatch`, a thread that looks at what it can see without TensorFlow once every
`PROBE_S` seconds:

- each ps task (a worker's), with a TCP connection to its address. One that has not
  answered for `ps_timeout` seconds (the `replica_timeout` setting) ends this process
  with one line naming it, exit code `EXIT_FAILED`; the bound is `ps_timeout` plus
  `2 * PROBE_S` plus one probe (at most `PROBE_S`). A ps that answers again before then
  is recovered from: the session is re-created and the chief restores its last
  checkpoint onto the new ps (`cluster.chief`).
- the launcher named by `LAUNCHER_PID_ENV` (`cluster.launcher.LocalCluster` sets it):
  once it is gone the task ends within `PROBE_S`. On Linux the kernel has already sent
  SIGTERM at its death (`_signals.die_with_parent`), which ends a task at once; the
  watch covers the systems without it.

The process ends through `os._exit`: its main thread may be blocked in TensorFlow. What
the run directory holds stays as the chief's last checkpoint left it (the variables
lived on the ps), and the kernel releases the run's lock. This module imports no
TensorFlow.
"""

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from dnn_toolkit.cluster.tasks import EXIT_FAILED, PS, TaskSpec, answers

#: Seconds between two looks; also each probe's connection timeout.
PROBE_S = 1.0
#: The environment variable naming the pid of the launcher a task must not outlive.
LAUNCHER_PID_ENV = "DNN_TOOLKIT_CLUSTER_LAUNCHER"


def launcher_pid() -> int | None:
  """The pid of the launcher this process must not outlive, from `LAUNCHER_PID_ENV`."""
  text = os.environ.get(LAUNCHER_PID_ENV, "")
  return int(text) if text.isdigit() else None


class TaskWatch:
  """A thread that ends this task when a ps is gone for good or its launcher died.

      with TaskWatch(task, ps_timeout=options.replica_timeout):
        ...   # the training

  Args:
    task: this task's `TaskSpec`; a worker watches every ps task, a ps task none.
    ps_timeout: positive seconds a ps may stay unreachable (a worker's watch).
    launcher: the pid of the launcher to outlive not, or None. Default: from
      `LAUNCHER_PID_ENV`.
    stream: where its lines go. Default sys.stderr.
    end: `(code) -> None` that ends the process. Default `os._exit`.
  """

  def __init__(self, task: TaskSpec, *, ps_timeout: float | None = None,
               launcher: int | None = None, stream: TextIO | None = None,
               end: Callable[[int], None] | None = None) -> None:
    self.task, self.ps_timeout = task, ps_timeout
    self.launcher = launcher_pid() if launcher is None else launcher
    self.stream = stream or sys.stderr
    self._end = end or os._exit  # pylint: disable=protected-access
    self._stopped = threading.Event()
    self._thread = threading.Thread(target=self._run, name="task-watch", daemon=True)
    self._down: dict[str, float] = {}  # ps address -> when it first did not answer

  def __enter__(self) -> "TaskWatch":
    self._thread.start()
    return self

  def __exit__(self, *exc_info: object) -> None:
    self._stopped.set()
    self._thread.join()

  def _run(self):
    while not self._stopped.wait(PROBE_S):
      if self.launcher is not None and os.getppid() != self.launcher:
        self._fail(f"{self.task.name}: its launcher (pid {self.launcher}) is gone; "
                   "stopping.")
      if self.ps_timeout is not None and self.task.job_name != PS:
        for index, address in enumerate(self.task.cluster[PS]):
          self._probe(index, address)

  def _probe(self, index, address):
    error, now = answers(address, timeout=PROBE_S), time.monotonic()
    if error is None:
      if self._down.pop(address, None) is not None:
        self._say(f"ps {index} at {address} answers again: the session is re-created "
                  "from the chief's last checkpoint.")
      return
    first = self._down.setdefault(address, now)
    if first == now:
      self._say(f"ps {index} at {address} does not answer ({error.strerror or error}); "
                f"waiting up to {self.ps_timeout:g} s (replica_timeout, "
                "--replica-timeout) for it to come back.")
    elif now - first >= self.ps_timeout:
      self._fail(
          f"{self.task.name}: the ps task at {address} (ps {index}) has not answered "
          f"for {now - first:.0f} s (replica_timeout, --replica-timeout): it is gone. "
          "Restart it with its command: the workers then recover from the chief's "
          "last checkpoint.")

  def _say(self, text):
    print(f"{self.task.name}: {text}", file=self.stream, flush=True)

  def _fail(self, line):
    for stream in (sys.stdout, self.stream):
      stream.flush()
    print(line, file=self.stream, flush=True)
    self._end(EXIT_FAILED)
    self._stopped.set()  # Only reached when `end` returns (a test's).
