"""A whole cluster on this machine: every task a process on a free 127.0.0.1 port.

    with LocalCluster(1, 2, task_argv, run_dir="runs/a") as cluster:   # 1 ps, 2 workers
      code = cluster.run()

`LocalCluster` takes the run directory's lock before any task starts (the chief trains
under it), starts the tasks, streams their output with task prefixes and stops every
process it started, by pid, on success, error, Ctrl-C or SIGTERM. The tasks never
outlive it: on Linux the kernel sends each SIGTERM the moment the launcher dies, even by
SIGKILL (`_signals.die_with_parent`), and each task also watches the launcher's pid
(`cluster.watch`, within a second elsewhere).

What a task's end means (`LocalCluster.wait`):

- the chief (worker 0) ending ends the cluster: 0, or its failure;
- a ps ending while the workers train is a failure: every task is stopped;
- another worker failing is reported, and the chief decides (`--on-worker-loss`);
  one refusing its input (exit code 2) stops the cluster.

Its exit codes are the command line's: 0, `EXIT_FAILED` (1: a task failed, named in a
line), `EXIT_REFUSED` (2: bad input, refused before training) and `EXIT_INTERRUPTED`
(130). `ScriptCluster` runs a TF 1.x Estimator script as every task, each with its
own `TF_CONFIG` (chief, workers, ps, evaluator). This module imports no TensorFlow
(the run's lock loads it).
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
from typing import Any, TextIO

from dnn_toolkit import _signals
from dnn_toolkit.cluster import watch
from dnn_toolkit.cluster.tasks import (
  EXIT_FAILED,
  EXIT_INTERRUPTED,
  EXIT_REFUSED,
  CHIEF,
  EVALUATOR,
  PS,
  TF_CONFIG,
  WORKER,
  ClusterError,
  TaskSpec,
)

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
  (SIGTERM to its group, SIGKILL after `STOP_TIMEOUT_S`) when the cluster is left, and
  dies with this process (start it from a thread that lives as long: the main one).

      with LocalCluster(1, 2, [sys.executable, "-m", "dnn_toolkit", "cluster", ...]) as c:
        code = c.run()          # or c.start(); c.kill_task("worker", 1); ...

  Args:
    num_ps: positive int, ps tasks.
    num_workers: positive int, worker tasks.
    task_argv: the command line of one task, without the cluster flags.
    env: the tasks' environment. Default this process's.
    stream: where the tasks' output goes. Default sys.stdout.
    keep_line: optional `line -> bool`; lines it rejects are not shown.
    run_dir: optional, the run directory the chief keeps: locked by `start` before any
      task starts, until the cluster is stopped; the chief trains under that lock
      (`checkpoints.LOCK_HOLDER_ENV`).

  Raises:
    ValueError, TypeError: on a bad count.
  """

  def __init__(self, num_ps: int, num_workers: int, task_argv: Sequence[str], *,
               env: Mapping[str, str] | None = None, stream: TextIO | None = None,
               keep_line: Callable[[str], bool] | None = None,
               run_dir: str | None = None) -> None:
    from dnn_toolkit import _validation  # pylint: disable=import-outside-toplevel
    _validation.check_positive_int("num_ps", num_ps)
    _validation.check_positive_int("num_workers", num_workers)
    self.spec = local_cluster_spec(num_ps, num_workers)
    self.task_argv = list(task_argv)
    self.env = dict(os.environ if env is None else env)
    self.stream = stream or sys.stdout
    self.keep_line = keep_line
    self.run_dir = run_dir
    self.processes: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
    self._pumps: list[threading.Thread] = []
    self._output = threading.Lock()
    self._run_lock: Any = None  # the run lock, taken by `start`

  def task_command(self, job: str, index: int) -> list[str]:
    return self.task_argv + ["--cluster", json.dumps(self.spec), "--job-name", job,
                             "--task-index", str(index)]

  def task_env(self, job: str, index: int) -> dict[str, str]:
    """The environment of task `index` of `job`: the cluster's."""
    del job, index  # The same for every task here.
    return self.env

  def start(self) -> None:
    """Locks the run directory, then starts every task, the ps tasks first.

    Raises:
      RunLockedError: another process trains in `run_dir`; nothing was started.
    """
    if self.run_dir is not None and self._run_lock is None:
      from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
      self._run_lock = checkpoints.lock_run(self.run_dir)
      self.env[checkpoints.LOCK_HOLDER_ENV] = str(os.getpid())
    for job in (PS, WORKER):
      for index in range(len(self.spec[job])):
        self.start_task(job, index)

  def start_task(self, job: str, index: int) -> subprocess.Popen[bytes]:
    """Starts (or restarts) one task; returns its `Popen`."""
    env = dict(self.task_env(job, index),
               **{watch.LAUNCHER_PID_ENV: str(os.getpid())})
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        self.task_command(job, index), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=_signals.die_with_parent())
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
    """Starts the cluster and waits for it; returns its exit code (see `wait`).

    Ctrl-C or SIGTERM stop every task and return `EXIT_INTERRUPTED`.

    Raises:
      RunLockedError: another process trains in `run_dir`; nothing was started.
      ClusterError: after `timeout` seconds (every task is stopped first).
    """
    with _signals.sigterm_as_keyboard_interrupt():
      try:
        self.start()
        return self.wait(timeout)
      except KeyboardInterrupt:
        self._say("interrupted: stopping every task")
        self.stop()
        return EXIT_INTERRUPTED

  def wait(self, timeout: float | None = None) -> int:
    """Waits until the chief ends, then for the other tasks; returns the exit code.

    Returns:
      0 once the chief finished; `EXIT_FAILED` when the chief or a ps failed (every
      task is then stopped at once); `EXIT_REFUSED` when a worker refused its input;
      `EXIT_INTERRUPTED` when the chief was interrupted. Another worker's failure is
      reported and the chief decides.

    Raises:
      ClusterError: after `timeout` seconds (every task is stopped first).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    reported: set[tuple[str, int]] = set()
    while (code := self._chief_code(reported)) is None:
      if deadline is not None and time.monotonic() > deadline:
        self.stop()
        raise ClusterError(f"The local cluster did not finish within {timeout:g} s; "
                           "every task was stopped.")
      time.sleep(0.1)
    if code != 0:
      self.stop()
      return code
    self._wait_for_the_rest()
    return 0

  def _chief_code(self, reported):
    """None while the run goes on; else the cluster's exit code (0: the chief finished)."""
    for key, process in self.processes.items():
      code = process.poll()
      if code is None or key in reported or (code == 0 and key != (WORKER, 0)):
        continue
      reported.add(key)
      job, index = key
      name = f"{job} {index} ({self.spec[job][index]})"
      if key == (WORKER, 0):
        if code == 0:
          return 0
        self._say(f"{name}, the chief, {_ended(code)}: stopping every task")
        return {EXIT_REFUSED: EXIT_REFUSED,
                EXIT_INTERRUPTED: EXIT_INTERRUPTED}.get(code, EXIT_FAILED)
      if job == PS:
        self._say(f"{name} {_ended(code)} while the workers train: stopping every task; "
                  "the run directory keeps the chief's last checkpoint")
        return EXIT_FAILED
      if code == EXIT_REFUSED:
        self._say(f"{name} refused its input: stopping every task")
        return EXIT_REFUSED
      self._say(f"{name} {_ended(code)}; the chief goes on without it or stops, as "
                "--on-worker-loss says")
    return None

  def _wait_for_the_rest(self):
    """The other workers stop on the chief's word, then the ps tasks once every worker
    reported; those that do not are stopped."""
    deadline = time.monotonic() + PS_EXIT_TIMEOUT_S
    for job in (WORKER, PS):
      for key, process in self.processes.items():
        if key[0] != job:
          continue
        try:
          process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
          self._say(f"{job} {key[1]} did not stop by itself; stopping it")
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
    if self._run_lock is not None:
      self._run_lock.release()
      self._run_lock = None

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
    with self._output:
      self.stream.write(text + "\n")
      self.stream.flush()


def _ended(code):
  """How a task ended, from its return code: 'exited with code 1', 'was killed by
  SIGKILL'."""
  if code < 0:
    try:
      return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
      return f"was killed by signal {-code}"
  return f"exited with code {code}"


def _signal_group(process, signum):
  """Signals the process group of `process` (its own: started in a new session)."""
  if process.poll() is not None:
    return
  with contextlib.suppress(ProcessLookupError):
    os.killpg(process.pid, signum)




class ScriptCluster(LocalCluster):
  """A TF 1.x Estimator cluster on this machine: every task runs the same script.

  Each task runs `script_argv` (e.g. the script under `python -m dnn_toolkit.runner`)
  with its own `TF_CONFIG`, as a cluster manager would set it for
  `tf.estimator.train_and_evaluate`: `num_workers` trainers, the first the 'chief'
  and the others 'worker' 0, 1, ..., `num_ps` 'ps' tasks, and optionally an
  'evaluator' outside the cluster. The launcher waits for every task but the ps ones,
  which end once every trainer has finished.

  Args:
    num_ps: positive int, ps tasks.
    num_workers: positive int, trainers including the chief.
    script_argv: the command line of every task.
    evaluator: also run an evaluator task.
    env, stream, keep_line: as `LocalCluster`.
  """

  def __init__(self, num_ps: int, num_workers: int, script_argv: Sequence[str], *,
               evaluator: bool = False, env: Mapping[str, str] | None = None,
               stream: TextIO | None = None,
               keep_line: Callable[[str], bool] | None = None) -> None:
    super().__init__(num_ps, num_workers, script_argv, env=env, stream=stream,
                     keep_line=keep_line)
    self.cluster = {CHIEF: self.spec[WORKER][:1], PS: self.spec[PS]}
    if num_workers > 1:
      self.cluster[WORKER] = self.spec[WORKER][1:]
    self.evaluator = evaluator

  def task_command(self, job: str, index: int) -> list[str]:
    del job, index  # Every task runs the script; TF_CONFIG says which it is.
    return list(self.task_argv)

  def task_env(self, job: str, index: int) -> dict[str, str]:
    spec = TaskSpec({k: tuple(v) for k, v in self.cluster.items()}, job, index)
    return dict(self.env, **{TF_CONFIG: spec.to_tf_config()})

  def wait(self, timeout: float | None = None) -> int:
    """Waits for every task but the ps tasks, then for those; returns the first
    failure's code (every task is then stopped).

    Raises:
      ClusterError: after `timeout` seconds (every task is stopped first).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    trainers = [k for k in self.processes if k[0] != PS]
    while True:
      codes = {k: self.processes[k].poll() for k in self.processes}
      failed = [(k, c) for k, c in codes.items() if c is not None and c != 0]
      if failed:
        (job, index), code = failed[0]
        self._say(f"{job} {index} exited with code {code}: stopping every task")
        self.stop()
        return code
      if all(codes[k] == 0 for k in trainers):
        break
      if deadline is not None and time.monotonic() > deadline:
        self.stop()
        raise ClusterError(f"The local cluster did not finish within {timeout:g} s; "
                           "every task was stopped.")
      time.sleep(0.1)
    ps_deadline = time.monotonic() + PS_EXIT_TIMEOUT_S  # They end once all reported.
    for (job, index), process in self.processes.items():
      if job == PS:
        try:
          process.wait(timeout=max(0.0, ps_deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
          self._say(f"{job} {index} did not stop by itself; stopping it")
    self.stop()
    return 0

  def start(self) -> None:
    """Starts the ps tasks, the chief, the workers, then the evaluator."""
    for job in (PS, CHIEF, WORKER):
      for index in range(len(self.cluster.get(job, ()))):
        self.start_task(job, index)
    if self.evaluator:
      self.start_task(EVALUATOR, 0)
