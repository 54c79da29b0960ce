"""The cluster: which task a process is, and its network checks.

    task = resolve_task(cluster='{"ps": ["h0:2222"], "worker": ["h1:2222"]}',
                        job_name="worker", task_index=0)       # or from TF_CONFIG

A TF 1.x cluster has two jobs: 'ps' (parameter servers holding the variables) and
'worker' (each trains the same graph; worker 0 is the chief). `resolve_task` reads the
cluster from `--cluster` JSON, `--ps-hosts/--worker-hosts`, or the `TF_CONFIG`
environment variable that cluster managers set, and checks it before anything starts.
A TF 1.x Estimator's cluster (`jobs=ESTIMATOR_JOBS`) names its chief in a job of its
own, 'chief', beside the workers, and may have an 'evaluator' task outside the cluster
that evaluates the chief's checkpoints.
Training itself is `dnn_toolkit.cluster.worker`; `dnn_toolkit.cluster.launcher` starts a
whole cluster on this machine. This module imports no TensorFlow.
"""

import dataclasses
import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from dnn_toolkit.errors import DnnToolkitError

PS, WORKER = "ps", "worker"
CHIEF, EVALUATOR = "chief", "evaluator"
JOBS = (PS, WORKER)
#: The jobs of a TF 1.x Estimator's cluster: one chief, the ps tasks, other workers.
ESTIMATOR_JOBS = (CHIEF, PS, WORKER)
TF_CONFIG = "TF_CONFIG"

# Exit codes of a task and of the local launcher: those of the command line
# (`commands.EXIT_ERROR`, `commands.EXIT_INTERRUPTED`), and 1 for a task that failed.
EXIT_FAILED = 1       # a task failed while training (a ps or a worker lost, ...)
EXIT_REFUSED = 2      # bad input or state, refused before training started
EXIT_INTERRUPTED = 130


class ClusterError(DnnToolkitError):
  """The cluster cannot start: a port in use, a ps unreachable, no chief.

  A task refuses with it before it trains: exit code `EXIT_REFUSED`.
  """


class ClusterFault(ClusterError):
  """The cluster failed while training: a ps or a worker lost, a step blocked too long.

  The task's input was good: it ends with exit code `EXIT_FAILED`, the run directory as
  its last checkpoint left it.
  """


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One task of a cluster: the cluster's addresses and which of them this task is.

  Attributes:
    cluster: {'ps': ['host:port', ...], 'worker': ['host:port', ...]}, and for an
      Estimator's cluster {'chief': ['host:port']} too.
    job_name: 'ps' or 'worker'; for an Estimator's cluster also 'chief' or
      'evaluator' (a task outside the cluster).
    task_index: index of this task in its job.
  """
  cluster: dict[str, tuple[str, ...]]
  job_name: str
  task_index: int

  @property
  def address(self) -> str | None:
    """This task's 'host:port'; None for an evaluator, which serves nothing."""
    if self.job_name == EVALUATOR:
      return None
    return self.cluster[self.job_name][self.task_index]

  @property
  def num_workers(self) -> int:
    """The tasks that train: the workers and the chief, if it has a job of its own."""
    return len(self.cluster.get(WORKER, ())) + len(self.cluster.get(CHIEF, ()))

  @property
  def is_chief(self) -> bool:
    """The chief task; without one, worker 0, as in TF 1.x between-graph replication."""
    if CHIEF in self.cluster:
      return self.job_name == CHIEF
    return self.job_name == WORKER and self.task_index == 0

  @property
  def worker_id(self) -> int | None:
    """This task's index among the tasks that train, the chief first; else None."""
    if self.job_name == CHIEF:
      return 0
    if self.job_name == WORKER:
      return self.task_index + len(self.cluster.get(CHIEF, ()))
    return None

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


def check_cluster(cluster: Any, setting: str, *,
                  jobs: tuple[str, ...] = JOBS) -> dict[str, tuple[str, ...]]:
  """Validates a cluster dict; returns it with tuples of addresses.

  Args:
    cluster: {'ps': [...], 'worker': [...]}, each a non-empty list of 'host:port'.
      With `jobs=ESTIMATOR_JOBS`: {'chief': [one 'host:port'], 'ps': [...],
      'worker': [...]}, where 'worker' may be absent and 'ps' too when there is no
      worker (a chief alone trains locally); an 'evaluator' entry is left out, the
      evaluator not being part of the training cluster.
    setting: where it came from ('--cluster', 'TF_CONFIG', ...), for messages.
    jobs: `JOBS` (the toolkit's clusters) or `ESTIMATOR_JOBS` (TF 1.x Estimators').

  Raises:
    ValueError: naming `setting`: not a dict, a missing, empty or unknown job, an
      entry that is not host:port with a port in [1, 65535], or an address twice.
  """
  if not isinstance(cluster, dict):
    raise ValueError(f"Received an invalid value for {setting}, expected a JSON object "
                     f"{{\"ps\": [\"host:port\", ...], \"worker\": [...]}}. Received: "
                     f"{cluster!r}")
  estimator = CHIEF in jobs
  if estimator:
    cluster = {job: hosts for job, hosts in cluster.items() if job != EVALUATOR}
  unknown = sorted(set(cluster) - set(jobs))
  if unknown:
    expected = ("'chief', 'ps' and 'worker' (and an 'evaluator' task outside the "
                "cluster)" if estimator else "'ps' and 'worker' (worker 0 is the "
                "chief; no 'chief' or 'evaluator' job)")
    raise ValueError(f"Received an invalid value for {setting}, expected only the jobs "
                     f"{expected}. Received the jobs {sorted(cluster)}")
  checked, seen = {}, set()
  for job in _required_jobs(cluster, jobs, setting):
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


def _required_jobs(cluster, jobs, setting):
  """The jobs `check_cluster` checks: both of `JOBS`; of an Estimator's, those given."""
  if CHIEF not in jobs:
    return JOBS
  present = [job for job in jobs if cluster.get(job) not in (None, [], ())]
  if CHIEF not in present:
    raise ValueError(f"Received an invalid value for {setting}, expected a 'chief' job "
                     "of one task, as TF 1.x Estimators require beside 'ps' and "
                     f"'worker'. Received the jobs {sorted(cluster)}")
  if len(cluster[CHIEF]) != 1:
    raise ValueError(f"Received an invalid value for {setting}, expected one chief "
                     f"task. Received: chief={cluster[CHIEF]!r}")
  if WORKER in present and PS not in present:
    raise ValueError(f"Received an invalid value for {setting}: its workers need at "
                     "least one 'ps' task to hold the variables they share. Received "
                     f"the jobs {sorted(cluster)}")
  return tuple(present)


def _check_address(setting, job, host):
  name, _, port = host.rpartition(":") if isinstance(host, str) else ("", "", "")
  if not name or not port.isdigit() or not 1 <= int(port) <= 65535:
    raise ValueError(f"Received an invalid value for {setting}, expected each {job} "
                     f"address as host:port with a port in [1, 65535]. Received: "
                     f"{host!r}")


def resolve_task(*, cluster: str | None = None, ps_hosts: str | None = None,
                 worker_hosts: str | None = None, job_name: str | None = None,
                 task_index: int | None = None,
                 environ: Mapping[str, str] | None = None,
                 jobs: tuple[str, ...] = JOBS) -> TaskSpec:
  """Returns this process's `TaskSpec` from the flags or the `TF_CONFIG` variable.

  The cluster comes from `cluster` (a JSON object as text, as `--cluster` takes it), or
  from `ps_hosts` and `worker_hosts` (comma-separated), or else from `TF_CONFIG`'s
  'cluster'. The task comes from `job_name` and `task_index`, else from `TF_CONFIG`'s
  'task' ({"type": "worker", "index": 0}), as cluster managers set it.

  Args:
    cluster: optional JSON text {"ps": [...], "worker": [...]}.
    ps_hosts, worker_hosts: optional comma-separated host:port lists (both or none).
    job_name: optional 'ps' or 'worker' (with `ESTIMATOR_JOBS`, also 'chief' or
      'evaluator').
    task_index: optional int, the index in the job.
    environ: the environment to read `TF_CONFIG` from. Default `os.environ`.
    jobs: `JOBS`, or `ESTIMATOR_JOBS` for a TF 1.x Estimator's cluster (see
      `check_cluster`); its one evaluator, outside the cluster, is task 0.

  Returns:
    A `TaskSpec`.

  Raises:
    ValueError, TypeError: naming the flag or `TF_CONFIG` key: malformed JSON, a
      malformed cluster, no cluster or task given, an unknown job, a task index outside
      its job.
  """
  environ = os.environ if environ is None else environ
  tf_config = _read_tf_config(environ.get(TF_CONFIG))
  spec, source = _cluster_source(cluster, ps_hosts, worker_hosts, tf_config, jobs)
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
  roles = jobs + ((EVALUATOR,) if CHIEF in jobs else ())
  if job_name not in roles:
    expected = " or ".join(repr(role) for role in roles)
    raise ValueError(f"Received an invalid value for {job_setting}, expected "
                     f"{expected}. Received: {job_name!r}")
  if isinstance(task_index, bool) or not isinstance(task_index, int):
    raise TypeError(f"Expected {index_setting} to be an integer. Received: "
                    f"{task_index!r}")
  if job_name == EVALUATOR:  # Outside the cluster; TF 1.x runs one.
    if task_index != 0:
      raise ValueError(f"Received an invalid value for {index_setting}, expected 0: "
                       f"there is one evaluator task. Received: {task_index}")
    return TaskSpec(spec, job_name, task_index)
  if job_name not in spec:
    raise ValueError(f"Received an invalid value for {job_setting}: {source} has no "
                     f"{job_name!r} job (it has {sorted(spec)}). Received: {job_name!r}")
  hosts = spec[job_name]
  if not 0 <= task_index < len(hosts):
    raise ValueError(f"Received an invalid value for {index_setting}, expected an index "
                     f"of the job {job_name!r} in [0, {len(hosts) - 1}] ({source} lists "
                     f"{len(hosts)} {job_name} tasks). Received: {task_index}")
  return TaskSpec(spec, job_name, task_index)


def read_tf_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
  """The `TF_CONFIG` variable of `environ` (default `os.environ`) as a dict; {} if unset.

  Raises:
    ValueError: if it is set but not a JSON object.
  """
  environ = os.environ if environ is None else environ
  return _read_tf_config(environ.get(TF_CONFIG)) or {}


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


def _cluster_source(cluster, ps_hosts, worker_hosts, tf_config, jobs=JOBS):
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
    return check_cluster(value, "--cluster", jobs=jobs), "--cluster"
  if ps_hosts is not None or worker_hosts is not None:
    if ps_hosts is None or worker_hosts is None:
      missing = "--ps-hosts" if ps_hosts is None else "--worker-hosts"
      raise ValueError(f"{missing} is missing: --ps-hosts and --worker-hosts go "
                       "together.")
    spec = {PS: parse_hosts("--ps-hosts", ps_hosts),
            WORKER: parse_hosts("--worker-hosts", worker_hosts)}
    setting = "--ps-hosts/--worker-hosts"
    return check_cluster(spec, setting, jobs=jobs), setting
  if tf_config and "cluster" in tf_config:
    setting = f"{TF_CONFIG} 'cluster'"
    return check_cluster(tf_config["cluster"], setting, jobs=jobs), TF_CONFIG
  raise ValueError("No cluster was given: pass --cluster JSON, or --ps-hosts and "
                   f"--worker-hosts, or set {TF_CONFIG}.")


# ----------------------------------------------------------- network preconditions


def check_port_free(task: TaskSpec) -> None:
  """Raises ClusterError if this task's port is already bound on this machine.

  `tf.compat.v1.train.Server` listens on every interface, so the port is tried there.
  gRPC would share a port with another server (SO_REUSEPORT) instead of failing.
  """
  if task.address is None:  # An evaluator serves nothing.
    return
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


def answers(address: str, timeout: float = 1.0) -> OSError | None:
  """Opens (and closes) a TCP connection to 'host:port'; returns None, or why it failed.

  A task's server accepts connections from its start to its end: a refused connection
  means no process serves there, a timeout an unreachable host.
  """
  host, _, port = address.rpartition(":")
  try:
    with socket.create_connection((host, int(port)), timeout=timeout):
      return None
  except OSError as error:
    return error


def wait_for_ps(task: TaskSpec, timeout: float) -> None:
  """Waits until every ps task accepts connections; raises ClusterError after `timeout`.

  Args:
    task: this worker's `TaskSpec`.
    timeout: positive seconds (the `startup_timeout` setting).
  """
  deadline = time.monotonic() + timeout
  for address in task.cluster[PS]:
    while (error := answers(address)) is not None:
      if time.monotonic() >= deadline:
        raise ClusterError(
            f"{task.name} could not reach the ps task at {address} within "
            f"{timeout:g} s (startup_timeout, --startup-timeout): {error}. Is it "
            "running, and is the address right?") from None
      time.sleep(0.2)

