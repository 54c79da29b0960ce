"""A whole cluster on this machine: every task a process on a free 127.0.0.1 port.

    with LocalCluster(1, 2, task_argv) as cluster:             # 1 ps, 2 workers
      code = cluster.run()

`LocalCluster` starts the tasks, streams their output with task prefixes and stops every
process it started, by pid, on success, error, Ctrl-C or SIGTERM. This module imports no
TensorFlow.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from dnn_toolkit import _signals
from dnn_toolkit.cluster.tasks import PS, WORKER, ClusterError

#: Seconds a stopped task gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10
#: Seconds the ps tasks get to exit by themselves once every worker has finished.
PS_EXIT_TIMEOUT_S = 15


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
  """Returns `count` distinct ports that were free on `host` a moment ago."""
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind((host, 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def local_cluster_spec(num_ps: int, num_workers: int,
                       host: str = "127.0.0.1") -> dict[str, list[str]]:
  """Returns {'ps': [...], 'worker': [...]} of free ports on `host`."""
  ports = free_ports(num_ps + num_workers, host)
  return {PS: [f"{host}:{p}" for p in ports[:num_ps]],
          WORKER: [f"{host}:{p}" for p in ports[num_ps:]]}


class LocalCluster:
  """A whole cluster as processes of this machine, each a task of `task_argv`.

  Task i of job j runs `task_argv + ['--cluster', JSON, '--job-name', j,
  '--task-index', i]` in its own process group; its output lines are written to
  `stream` prefixed with '[worker 0] '. Every process started is stopped by its pid
  (SIGTERM to its group, SIGKILL after `STOP_TIMEOUT_S`) when the cluster is left.

      with LocalCluster(1, 2, [sys.executable, "-m", "dnn_toolkit", "cluster", ...]) as c:
        code = c.run()          # or c.start(); c.kill_task("worker", 1); ...

  Args:
    num_ps: positive int, ps tasks.
    num_workers: positive int, worker tasks.
    task_argv: the command line of one task, without the cluster flags.
    env: the tasks' environment. Default this process's.
    stream: where the tasks' output goes. Default sys.stdout.
    keep_line: optional `line -> bool`; lines it rejects are not shown.

  Raises:
    ValueError, TypeError: on a bad count.
  """

  def __init__(self, num_ps: int, num_workers: int, task_argv: Sequence[str], *,
               env: Mapping[str, str] | None = None, stream: TextIO | None = None,
               keep_line: Callable[[str], bool] | None = None) -> None:
    from dnn_toolkit import _validation  # pylint: disable=import-outside-toplevel
    _validation.check_positive_int("num_ps", num_ps)
    _validation.check_positive_int("num_workers", num_workers)
    self.spec = local_cluster_spec(num_ps, num_workers)
    self.task_argv = list(task_argv)
    self.env = dict(os.environ if env is None else env)
    self.stream = stream or sys.stdout
    self.keep_line = keep_line
    self.processes: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
    self._pumps: list[threading.Thread] = []
    self._lock = threading.Lock()

  def task_command(self, job: str, index: int) -> list[str]:
    return self.task_argv + ["--cluster", json.dumps(self.spec), "--job-name", job,
                             "--task-index", str(index)]

  def start(self) -> None:
    """Starts every task, the ps tasks first."""
    for job in (PS, WORKER):
      for index in range(len(self.spec[job])):
        self.start_task(job, index)

  def start_task(self, job: str, index: int) -> subprocess.Popen[bytes]:
    """Starts (or restarts) one task; returns its `Popen`."""
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        self.task_command(job, index), env=self.env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    self.processes[(job, index)] = process
    pump = threading.Thread(target=self._pump, args=(f"[{job} {index}] ", process),
                            daemon=True)
    pump.start()
    self._pumps.append(pump)
    return process

  def kill_task(self, job: str, index: int,
                signum: signal.Signals | int = signal.SIGKILL) -> None:
    """Sends `signum` (default SIGKILL) to one task's process group and waits for it."""
    process = self.processes[(job, index)]
    _signal_group(process, signum)
    process.wait(timeout=STOP_TIMEOUT_S)

  def run(self, timeout: float | None = None) -> int:
    """Starts the cluster and waits for it; returns 0 if every worker succeeded.

    A worker that fails stops the whole cluster at once; its exit code is returned.
    Ctrl-C or SIGTERM stop it too and return 130.
    """
    with _signals.sigterm_as_keyboard_interrupt():
      try:
        self.start()
        return self.wait(timeout)
      except KeyboardInterrupt:
        self._say("interrupted: stopping every task")
        self.stop()
        return 130

  def wait(self, timeout: float | None = None) -> int:
    """Waits for the workers, then the ps tasks; returns the first failure's code.

    Raises:
      ClusterError: after `timeout` seconds (every task is stopped first).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    workers = [k for k in self.processes if k[0] == WORKER]
    while True:
      codes = {k: self.processes[k].poll() for k in self.processes}
      failed = [(k, c) for k, c in codes.items() if c is not None and c != 0]
      if failed:
        (job, index), code = failed[0]
        self._say(f"{job} {index} exited with code {code}: stopping every task")
        self.stop()
        return code
      if all(codes[k] == 0 for k in workers):
        break
      if deadline is not None and time.monotonic() > deadline:
        self.stop()
        raise ClusterError(f"The local cluster did not finish within {timeout:g} s; "
                           "every task was stopped.")
      time.sleep(0.1)
    self._wait_for_ps()
    return 0

  def _wait_for_ps(self):
    """The ps tasks stop once every worker reported; those that do not are stopped."""
    deadline = time.monotonic() + PS_EXIT_TIMEOUT_S
    for key, process in self.processes.items():
      if key[0] == PS:
        try:
          process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
          self._say(f"ps {key[1]} did not stop by itself; stopping it")
    self.stop()

  def stop(self) -> None:
    """Stops every task still running: SIGTERM to its group, SIGKILL after a while."""
    running = [p for p in self.processes.values() if p.poll() is None]
    for process in running:
      _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in running:
      try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
      except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    for pump in self._pumps:
      pump.join(timeout=2)

  def __enter__(self) -> "LocalCluster":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.stop()

  def _pump(self, prefix, process):
    with process.stdout:
      for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if line.strip() and (self.keep_line is None or self.keep_line(line)):
          self._write(prefix + line)

  def _say(self, text):
    self._write(f"[cluster] {text}")

  def _write(self, text):
    with self._lock:
      self.stream.write(text + "\n")
      self.stream.flush()


def _signal_group(process, signum):
  """Signals the process group of `process` (its own: started in a new session)."""
  if process.poll() is not None:
    return
  with contextlib.suppress(ProcessLookupError):
    os.killpg(process.pid, signum)


