"""The cluster: which task a process is, its network checks, and a local launcher.

    task = resolve_task(cluster='{"ps": ["h0:2222"], "worker": ["h1:2222"]}',
                        job_name="worker", task_index=0)       # or from TF_CONFIG
    with LocalCluster(1, 2, task_argv) as cluster:             # all on 127.0.0.1
      code = cluster.run()

A TF 1.x cluster has two jobs: 'ps' (parameter servers holding the variables) and
'worker' (each trains the same graph; worker 0 is the chief). `resolve_task` reads the
cluster from `--cluster` JSON, `--ps-hosts/--worker-hosts`, or the `TF_CONFIG`
environment variable that cluster managers set, and checks it before anything starts.
`LocalCluster` runs a whole cluster as processes of this machine on free 127.0.0.1
ports, streams their output with task prefixes and stops every process it started, by
pid, on success, error, Ctrl-C or SIGTERM. Training itself is `dnn_toolkit.distributed`.
This module imports no TensorFlow.
"""

import contextlib
import dataclasses
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
from dnn_toolkit.errors import DnnToolkitError

PS, WORKER = "ps", "worker"
JOBS = (PS, WORKER)
TF_CONFIG = "TF_CONFIG"
#: Seconds a stopped task gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10
#: Seconds the ps tasks get to exit by themselves once every worker has finished.
PS_EXIT_TIMEOUT_S = 15


class ClusterError(DnnToolkitError):
  """The cluster cannot run: a port in use, a ps unreachable, replicas gone quiet."""


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One task of a cluster: the cluster's addresses and which of them this task is.

  Attributes:
    cluster: {'ps': ['host:port', ...], 'worker': ['host:port', ...]}.
    job_name: 'ps' or 'worker'.
    task_index: index of this task in its job.
  """
  cluster: dict[str, tuple[str, ...]]
  job_name: str
  task_index: int

  @property
  def address(self) -> str:
    """This task's 'host:port'."""
    return self.cluster[self.job_name][self.task_index]

  @property
  def num_workers(self) -> int:
    return len(self.cluster[WORKER])

  @property
  def is_chief(self) -> bool:
    """Worker 0 is the chief, as in TF 1.x between-graph replication."""
    return self.job_name == WORKER and self.task_index == 0

  @property
  def name(self) -> str:
    """'worker 0', 'ps 1': how messages name the task."""
    return f"{self.job_name} {self.task_index}"

  def to_tf_config(self) -> str:
    """This task as the JSON of a `TF_CONFIG` environment variable."""
    return json.dumps({"cluster": {job: list(hosts) for job, hosts in self.cluster.items()},
                       "task": {"type": self.job_name, "index": self.task_index}})


# ---------------------------------------------------------------- which task am I


def parse_hosts(setting: str, text: Any) -> list[str]:
  """Returns the 'host:port' entries of a comma-separated list such as '--ps-hosts'.

  Raises:
    ValueError: naming `setting`, if the list is empty or an entry is not host:port.
  """
  if not isinstance(text, str):
    raise TypeError(f"Expected {setting} to be a comma-separated list of host:port. "
                    f"Received: {setting}={text!r}")
  hosts = [h.strip() for h in text.split(",") if h.strip()]
  if not hosts:
    raise ValueError(f"Received an invalid value for {setting}, expected a "
                     f"comma-separated list of host:port. Received: {setting}={text!r}")
  return hosts


def check_cluster(cluster: Any, setting: str) -> dict[str, tuple[str, ...]]:
  """Validates a cluster dict; returns it with tuples of addresses.

  Args:
    cluster: {'ps': [...], 'worker': [...]}, each a non-empty list of 'host:port'.
    setting: where it came from ('--cluster', 'TF_CONFIG', ...), for messages.

  Raises:
    ValueError: naming `setting`: not a dict, a missing, empty or unknown job, an
      entry that is not host:port with a port in [1, 65535], or an address twice.
  """
  if not isinstance(cluster, dict):
    raise ValueError(f"Received an invalid value for {setting}, expected a JSON object "
                     f"{{\"ps\": [\"host:port\", ...], \"worker\": [...]}}. Received: "
                     f"{cluster!r}")
  unknown = sorted(set(cluster) - set(JOBS))
  if unknown:
    raise ValueError(f"Received an invalid value for {setting}, expected only the jobs "
                     f"'ps' and 'worker' (worker 0 is the chief; no 'chief' or "
                     f"'evaluator' job). Received the jobs {sorted(cluster)}")
  checked, seen = {}, set()
  for job in JOBS:
    hosts = cluster.get(job)
    if not isinstance(hosts, (list, tuple)) or not hosts:
      raise ValueError(f"Received an invalid value for {setting}, expected a non-empty "
                       f"list of host:port for the job {job!r}. Received: {job}="
                       f"{hosts!r}")
    for host in hosts:
      _check_address(setting, job, host)
      if host in seen:
        raise ValueError(f"Received an invalid value for {setting}: the address "
                         f"{host!r} is given twice; every task needs its own port.")
      seen.add(host)
    checked[job] = tuple(hosts)
  return checked


def _check_address(setting, job, host):
  name, _, port = host.rpartition(":") if isinstance(host, str) else ("", "", "")
  if not name or not port.isdigit() or not 1 <= int(port) <= 65535:
    raise ValueError(f"Received an invalid value for {setting}, expected each {job} "
                     f"address as host:port with a port in [1, 65535]. Received: "
                     f"{host!r}")


def resolve_task(*, cluster: str | None = None, ps_hosts: str | None = None,
                 worker_hosts: str | None = None, job_name: str | None = None,
                 task_index: int | None = None,
                 environ: Mapping[str, str] | None = None) -> TaskSpec:
  """Returns this process's `TaskSpec` from the flags or the `TF_CONFIG` variable.

  The cluster comes from `cluster` (a JSON object as text, as `--cluster` takes it), or
  from `ps_hosts` and `worker_hosts` (comma-separated), or else from `TF_CONFIG`'s
  'cluster'. The task comes from `job_name` and `task_index`, else from `TF_CONFIG`'s
  'task' ({"type": "worker", "index": 0}), as cluster managers set it.

  Args:
    cluster: optional JSON text {"ps": [...], "worker": [...]}.
    ps_hosts, worker_hosts: optional comma-separated host:port lists (both or none).
    job_name: optional 'ps' or 'worker'.
    task_index: optional int, the index in the job.
    environ: the environment to read `TF_CONFIG` from. Default `os.environ`.

  Returns:
    A `TaskSpec`.

  Raises:
    ValueError, TypeError: naming the flag or `TF_CONFIG` key: malformed JSON, a
      malformed cluster, no cluster or task given, an unknown job, a task index outside
      its job.
  """
  environ = os.environ if environ is None else environ
  tf_config = _read_tf_config(environ.get(TF_CONFIG))
  spec, source = _cluster_source(cluster, ps_hosts, worker_hosts, tf_config)
  task = tf_config.get("task", {}) if tf_config else {}
  if not isinstance(task, dict):
    raise ValueError(f"Received an invalid value for {TF_CONFIG} 'task', expected "
                     f"{{\"type\": \"worker\", \"index\": 0}}. Received: {task!r}")
  job_setting = "--job-name" if job_name is not None else f"{TF_CONFIG} task.type"
  index_setting = "--task-index" if task_index is not None else f"{TF_CONFIG} task.index"
  job_name = job_name if job_name is not None else task.get("type")
  task_index = task_index if task_index is not None else task.get("index")
  if job_name is None or task_index is None:
    raise ValueError("Which task this process is was not given: pass --job-name and "
                     f"--task-index, or set {TF_CONFIG} with a 'task'. Received: "
                     f"job_name={job_name!r}, task_index={task_index!r}")
  if job_name not in JOBS:
    raise ValueError(f"Received an invalid value for {job_setting}, expected 'ps' or "
                     f"'worker'. Received: {job_name!r}")
  if isinstance(task_index, bool) or not isinstance(task_index, int):
    raise TypeError(f"Expected {index_setting} to be an integer. Received: "
                    f"{task_index!r}")
  hosts = spec[job_name]
  if not 0 <= task_index < len(hosts):
    raise ValueError(f"Received an invalid value for {index_setting}, expected an index "
                     f"of the job {job_name!r} in [0, {len(hosts) - 1}] ({source} lists "
                     f"{len(hosts)} {job_name} tasks). Received: {task_index}")
  return TaskSpec(spec, job_name, task_index)


def _read_tf_config(text):
  if not text:
    return None
  try:
    value = json.loads(text)
  except ValueError as error:
    raise ValueError(f"Received an invalid value for the environment variable "
                     f"{TF_CONFIG}, expected JSON ({error}). Received: {text!r}") from None
  if not isinstance(value, dict):
    raise ValueError(f"Received an invalid value for {TF_CONFIG}, expected a JSON "
                     f"object with 'cluster' and 'task'. Received: {text!r}")
  return value


def _cluster_source(cluster, ps_hosts, worker_hosts, tf_config):
  """Returns (checked cluster dict, the setting it came from)."""
  if cluster is not None and (ps_hosts is not None or worker_hosts is not None):
    raise ValueError("Give the cluster once: --cluster, or --ps-hosts with "
                     "--worker-hosts, not both.")
  if cluster is not None:
    try:
      value = json.loads(cluster) if isinstance(cluster, str) else cluster
    except ValueError as error:
      raise ValueError(f"Received an invalid value for --cluster, expected JSON such as "
                       f"'{{\"ps\": [\"h0:2222\"], \"worker\": [\"h1:2222\"]}}' "
                       f"({error}). Received: {cluster!r}") from None
    return check_cluster(value, "--cluster"), "--cluster"
  if ps_hosts is not None or worker_hosts is not None:
    if ps_hosts is None or worker_hosts is None:
      missing = "--ps-hosts" if ps_hosts is None else "--worker-hosts"
      raise ValueError(f"{missing} is missing: --ps-hosts and --worker-hosts go "
                       "together.")
    spec = {PS: parse_hosts("--ps-hosts", ps_hosts),
            WORKER: parse_hosts("--worker-hosts", worker_hosts)}
    return check_cluster(spec, "--ps-hosts/--worker-hosts"), "--ps-hosts/--worker-hosts"
  if tf_config and "cluster" in tf_config:
    return check_cluster(tf_config["cluster"], f"{TF_CONFIG} 'cluster'"), TF_CONFIG
  raise ValueError("No cluster was given: pass --cluster JSON, or --ps-hosts and "
                   f"--worker-hosts, or set {TF_CONFIG}.")


# ----------------------------------------------------------- network preconditions


def check_port_free(task: TaskSpec) -> None:
  """Raises ClusterError if this task's port is already bound on this machine.

  `tf.compat.v1.train.Server` listens on every interface, so the port is tried there.
  gRPC would share a port with another server (SO_REUSEPORT) instead of failing.
  """
  port = int(task.address.rpartition(":")[2])
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    # Like the server: a port whose last connections are closing (TIME_WAIT) is free.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind(("", port))
    except OSError as error:
      raise ClusterError(
          f"Cannot start {task.name}: its port {port} ({task.address}, from the "
          f"cluster spec) is in use on this machine ({error.strerror}). Stop what holds "
          "it or give the task another port.") from None


def wait_for_ps(task: TaskSpec, timeout: float) -> None:
  """Waits until every ps task accepts connections; raises ClusterError after `timeout`.

  Args:
    task: this worker's `TaskSpec`.
    timeout: positive seconds (the `startup_timeout` setting).
  """
  deadline = time.monotonic() + timeout
  for address in task.cluster[PS]:
    host, _, port = address.rpartition(":")
    while True:
      try:
        with socket.create_connection((host, int(port)), timeout=1.0):
          break
      except OSError as error:
        if time.monotonic() >= deadline:
          raise ClusterError(
              f"{task.name} could not reach the ps task at {address} within "
              f"{timeout:g} s (startup_timeout, --startup-timeout): {error}. Is it "
              "running, and is the address right?") from None
        time.sleep(0.2)


# ----------------------------------------------------------------- local launcher


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


