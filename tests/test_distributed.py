"""Tests of training on a cluster: `dnn_toolkit.cluster.tasks`, `dnn_toolkit.cluster.worker`.

The clusters are real TensorFlow processes (`tf.compat.v1.train.Server`) on 127.0.0.1,
started by the project's own launcher (`cluster.LocalCluster` running
`dnn-toolkit cluster` tasks); every one is stopped by its pid when the test leaves the
`with` block, and every wait has a deadline. The data is a 1,200 + 400 image subset of
MNIST written as a `mnist.npz`, so a 784-30-10 net trains a few epochs in seconds.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from _helpers import files_of

from dnn_toolkit import checkpoints, scopes
from dnn_toolkit.cluster import launcher
from dnn_toolkit.cluster import tasks as cluster
from dnn_toolkit.cluster import worker as distributed
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import DataError

N_TRAIN, N_VALID, N_TEST = 1200, 400, 400
EPOCHS, BATCH = 4, 50
CONFIG = DNNConfig(hidden_layers=(30,), seed=7)
# Flags of the same net and data as CONFIG; then the training flags of EPOCHS, BATCH.
NET_FLAGS = ["--hidden-layers", "30", "--seed", "7", "--validation-size", str(N_VALID),
             "--no-verify", "--startup-timeout", "60", "--replica-timeout", "30"]
RUN_FLAGS = NET_FLAGS + ["--epochs", str(EPOCHS), "--batch-size", str(BATCH),
                         "--patience", "0"]
# Enough epochs that no test's cluster finishes before what the test does to it lands;
# those tests stop the cluster themselves.
ENDLESS = "100000"
# Best validation loss (cross-entropy; 2.3 at the start) of a distributed run vs a
# single-process run of the same global steps and examples. Async workers apply
# gradients computed on stale weights and the order of updates depends on timing, sync
# replicas differ in dropout masks and batch statistics: over 4 short epochs the gap
# varies run to run by about 0.1.
LOSS_TOLERANCE = 0.25
# Deadlines that only a hang reaches: a cluster's start takes 10-40 s on a loaded
# 2-core machine.
CLUSTER_TIMEOUT_S = 600
EXIT_DEADLINE_S = 300


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
  """A `mnist.npz` of the first 1,600 training and 400 test images of MNIST."""
  return _write_small_mnist(tmp_path_factory.mktemp("data") / "mnist.npz", start=0)


def _write_small_mnist(path, start):
  """Writes 1,600 training and 400 test images of MNIST from image `start`; the path."""
  from dnn_toolkit.data import mnist  # pylint: disable=import-outside-toplevel
  try:
    data = mnist.load_mnist(validation_size=0, allow_download=False)
  except DataError as error:
    pytest.skip(f"MNIST is not available offline: {error}")
  as_uint8 = lambda images: np.round(images * 255).astype(np.uint8).reshape(-1, 28, 28)
  n = N_TRAIN + N_VALID
  np.savez(path, x_train=as_uint8(data.train.images[start:start + n]),
           y_train=data.train.labels[start:start + n].astype(np.uint8),
           x_test=as_uint8(data.test.images[:N_TEST]),
           y_test=data.test.labels[:N_TEST].astype(np.uint8))
  return str(path)


def _task_argv(data, run_dir, *flags):
  return [sys.executable, "-m", "dnn_toolkit", "cluster", "--data", data,
          *RUN_FLAGS, "--run-dir", run_dir, *flags]


def _launcher_argv(data, run_dir, *flags, workers=2):
  return [sys.executable, "-m", "dnn_toolkit", "cluster", "--ps", "1",
          "--workers", str(workers), "--data", data, *RUN_FLAGS, "--run-dir", run_dir,
          *flags]


def _quiet_env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop(cluster.TF_CONFIG, None)
  return env


class _Lines:
  """A stream that keeps what the launcher writes (and shows it on failure).

  `wait_for(text)` blocks until a line holding `text` has come: the event a test
  waits on, not a timer.
  """

  def __init__(self):
    self.lines = []
    self._changed = threading.Condition()

  def write(self, text):
    with self._changed:
      self.lines.append(text)
      self._changed.notify_all()

  def flush(self):
    pass

  def count(self, text):
    with self._changed:
      return sum(text in line for line in self.lines)

  def wait_for(self, text, deadline_s=CLUSTER_TIMEOUT_S):
    with self._changed:
      if not self._changed.wait_for(lambda: any(text in l for l in self.lines),
                                    timeout=deadline_s):
        raise AssertionError(f"no line with {text!r} in {deadline_s} s:\n{self}")

  def __str__(self):
    with self._changed:
      return "".join(self.lines[-80:])


def _single_process_loss(small_mnist, tmp_path, batch_size):
  """Best validation loss of `runs.lifecycle.train` on the same data and epochs."""
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.runs import lifecycle
  from dnn_toolkit.data import mnist
  data = mnist.load_mnist(validation_size=N_VALID, path=small_mnist, verify=False)
  result = lifecycle.train(CONFIG, data.train, data.validation,
                            run_dir=str(tmp_path / f"single-{batch_size}"),
                            epochs=EPOCHS, batch_size=batch_size, patience=None,
                            verbose=0)
  return result.state.best_val_loss


def _run_cluster(small_mnist, run_dir, *flags, workers=2):
  out = _Lines()
  argv = _task_argv(small_mnist, run_dir, *flags)
  with launcher.LocalCluster(1, workers, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    code = local.run(timeout=CLUSTER_TIMEOUT_S)
    pids = [p.pid for p in local.processes.values()]
  assert code == 0, str(out)
  _assert_all_ended(pids)
  return out


def _assert_all_ended(pids):
  for pid in pids:
    assert not _alive(pid), pid


def _alive(pid):
  """Whether process `pid` runs (a zombie, dead but not yet reaped, does not)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except OSError:
    return False


def _wait_until_ended(pids, deadline_s=EXIT_DEADLINE_S):
  deadline = time.monotonic() + deadline_s
  while any(_alive(pid) for pid in pids):
    assert time.monotonic() < deadline, f"still running: {[p for p in pids if _alive(p)]}"
    time.sleep(0.1)


# cluster specs ------------------------------------------------------------------------


SPEC = {"ps": ["127.0.0.1:2222"], "worker": ["127.0.0.1:2223", "127.0.0.1:2224"]}


def test_resolve_task_from_flags_json_and_tf_config():
  task = cluster.resolve_task(cluster=json.dumps(SPEC), job_name="worker", task_index=1)
  assert task.address == "127.0.0.1:2224" and not task.is_chief
  assert task.num_workers == 2
  hosts = cluster.resolve_task(ps_hosts="127.0.0.1:2222",
                               worker_hosts="127.0.0.1:2223,127.0.0.1:2224",
                               job_name="worker", task_index=0)
  assert hosts.is_chief and hosts.cluster == task.cluster
  env = {"TF_CONFIG": json.dumps({"cluster": SPEC, "task": {"type": "ps", "index": 0}})}
  from_env = cluster.resolve_task(environ=env)
  assert (from_env.job_name, from_env.task_index) == ("ps", 0)
  # Flags win over TF_CONFIG's task; the round trip keeps the task.
  assert cluster.resolve_task(environ=env, job_name="worker", task_index=1) == task
  assert cluster.resolve_task(environ={"TF_CONFIG": task.to_tf_config()}) == task


@pytest.mark.parametrize("kwargs, message", [
    (dict(cluster="{ps: 1}"), "--cluster, expected JSON"),
    (dict(cluster="[1, 2]"), "expected a JSON object"),
    (dict(cluster=json.dumps({"ps": ["h:1"]})), "list of host:port for the job 'worker'"),
    (dict(cluster=json.dumps({"ps": ["h:1"], "worker": []})), "job 'worker'"),
    (dict(cluster=json.dumps(dict(SPEC, chief=["h:9"]))), "only the jobs 'ps' and"),
    (dict(cluster=json.dumps({"ps": ["h"], "worker": ["h:2"]})), "host:port"),
    (dict(cluster=json.dumps({"ps": ["h:0"], "worker": ["h:2"]})), "[1, 65535]"),
    (dict(cluster=json.dumps({"ps": ["h:1"], "worker": ["h:1"]})), "given twice"),
    (dict(ps_hosts="h:1"), "--worker-hosts is missing"),
    (dict(ps_hosts=" , ", worker_hosts="h:2"), "--ps-hosts"),
    (dict(cluster=json.dumps(SPEC), ps_hosts="h:1", worker_hosts="h:2"), "not both"),
    (dict(), "No cluster was given"),
])
def test_malformed_cluster_spec_names_the_setting(kwargs, message):
  kwargs.setdefault("job_name", "worker")
  kwargs.setdefault("task_index", 0)
  with pytest.raises(ValueError) as error:
    cluster.resolve_task(environ={}, **kwargs)
  assert message in str(error.value)


@pytest.mark.parametrize("job, index, message", [
    ("worker", 2, "--task-index, expected an index of the job 'worker' in [0, 1]"),
    ("ps", 1, "--task-index, expected an index of the job 'ps' in [0, 0]"),
    ("worker", -1, "in [0, 1]"),
    ("chief", 0, "--job-name, expected 'ps' or 'worker'"),
])
def test_task_index_outside_the_job(job, index, message):
  with pytest.raises(ValueError) as error:
    cluster.resolve_task(cluster=json.dumps(SPEC), job_name=job, task_index=index,
                         environ={})
  assert message in str(error.value)


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", "TF_CONFIG, expected JSON"),
    (json.dumps({"cluster": SPEC, "task": {"type": "worker", "index": 5}}),
     "TF_CONFIG task.index"),
    (json.dumps({"cluster": SPEC, "task": {"type": "worker", "index": True}}),
     "TF_CONFIG task.index to be an integer"),
    (json.dumps({"cluster": SPEC}), "Which task this process is was not given"),
])
def test_bad_tf_config(tf_config, message):
  with pytest.raises((ValueError, TypeError)) as error:
    cluster.resolve_task(environ={"TF_CONFIG": tf_config})
  assert message in str(error.value)


def test_port_in_use_is_refused_before_the_server_starts():
  with socket.socket() as holder:
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    task = cluster.resolve_task(
        cluster=json.dumps({"ps": [f"127.0.0.1:{port}"], "worker": ["127.0.0.1:1"]}),
        job_name="ps", task_index=0, environ={})
    with pytest.raises(cluster.ClusterError, match=f"its port {port} .* is in use"):
      cluster.check_port_free(task)
    # The command line: one line naming it, exit code 2, nothing left running.
    proc = subprocess.run(
        [sys.executable, "-m", "dnn_toolkit", "cluster", "--cluster",
         json.dumps(task.cluster), "--job-name", "ps", "--task-index", "0"],
        capture_output=True, text=True, timeout=60, env=_quiet_env(), check=False)
  assert proc.returncode == 2, proc.stderr
  assert f"its port {port}" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_ps_times_out_with_the_setting_named(small_mnist, tmp_path):
  ps_port, worker_port = launcher.free_ports(2)
  spec = {"ps": [f"127.0.0.1:{ps_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
  task = cluster.resolve_task(cluster=json.dumps(spec), job_name="worker",
                              task_index=0, environ={})
  with pytest.raises(cluster.ClusterError, match="within 1 s .*startup-timeout"):
    cluster.wait_for_ps(task, timeout=1.0)  # Gives up: returning at all shows it.
  argv = _task_argv(small_mnist, str(tmp_path / "run"), "--cluster", json.dumps(spec),
                    "--job-name", "worker", "--task-index", "0", "--startup-timeout", "2")
  proc = subprocess.run(argv, capture_output=True, text=True, timeout=EXIT_DEADLINE_S,
                        env=_quiet_env(), check=False)
  assert proc.returncode == 2, proc.stderr
  assert f"could not reach the ps task at 127.0.0.1:{ps_port} within 2 s" in proc.stderr
  assert not os.path.exists(tmp_path / "run" / "state.json")  # Nothing was written.


@pytest.mark.parametrize("flags, message", [
    (["--ps", "0", "--workers", "2"], "--ps to be a positive integer"),
    (["--ps", "1", "--workers", "2", "--job-name", "ps"], "--job-name name one task"),
    (["--ps", "1", "--workers", "2", "--replica-timeout", "0"],
     "argument --replica-timeout: Received an invalid value for --replica-timeout"),
    (["--ps", "1", "--workers", "2", "--on-worker-loss", "wait"],
     "argument --on-worker-loss: invalid choice: 'wait'"),
])
def test_launcher_refuses_bad_flags_before_starting_anything(flags, message, tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "dnn_toolkit", "cluster", *flags, "--run-dir",
       str(tmp_path / "run")], capture_output=True, text=True, timeout=EXIT_DEADLINE_S,
      env=_quiet_env(), check=False)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr
  assert "[cluster]" not in proc.stdout and not os.path.exists(tmp_path / "run")


# the watches, in one process ----------------------------------------------------------


class _Clock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def test_worker_watch_names_joined_lost_and_back_workers():
  from dnn_toolkit.cluster.chief import WorkerWatch  # pylint: disable=import-outside-toplevel
  clock = _Clock()
  watch = WorkerWatch(3, lost_timeout=5.0, join_timeout=60.0, clock=clock)
  assert watch.update([0, 0, 0]) == ([], [], [])
  clock.now = 1.0
  assert watch.update([3, 1, 0]) == ([], [], [1])      # Worker 1's first step.
  clock.now = 6.0                                       # 5 s without a step of 1 ...
  assert watch.update([9, 1, 0]) == ([1], [], [])       # ... lost; 2 has 60 s to join.
  clock.now = 59.9
  assert watch.update([20, 1, 0]) == ([], [], [])       # Said once.
  assert watch.lost == {1}
  clock.now = 60.0
  assert watch.update([21, 1, 0]) == ([2], [], [])      # Never joined within 60 s.
  assert watch.timeout(1) == 5.0 and watch.timeout(2) == 60.0
  clock.now = 61.0
  assert watch.update([22, 2, 1]) == ([], [1, 2], [2])  # Both step again.
  assert watch.lost == set()


def _task_of_a_dead_ps():
  ps, own = launcher.free_ports(2)  # Nothing listens on `ps`.
  return cluster.resolve_task(
      cluster=json.dumps({"ps": [f"127.0.0.1:{ps}"], "worker": [f"127.0.0.1:{own}"]}),
      job_name="worker", task_index=0, environ={})


class _Ended:
  """The watch's `end`: records the exit code it was given (instead of exiting)."""

  def __init__(self):
    self.codes, self.called = [], threading.Event()

  def __call__(self, code):
    self.codes.append(code)
    self.called.set()


def test_task_watch_ends_a_worker_whose_ps_stays_gone(capsys):
  from dnn_toolkit.cluster import watch  # pylint: disable=import-outside-toplevel
  task, ended = _task_of_a_dead_ps(), _Ended()
  with watch.TaskWatch(task, ps_timeout=1.5, launcher=os.getppid(), end=ended):
    assert ended.called.wait(EXIT_DEADLINE_S)
  address = task.cluster["ps"][0]
  assert ended.codes == [cluster.EXIT_FAILED]
  said, gone = capsys.readouterr().err.splitlines()
  assert said == (f"worker 0: ps 0 at {address} does not answer (Connection refused); "
                  "waiting up to 1.5 s (replica_timeout, --replica-timeout) for it to "
                  "come back.")
  # How long it waited past the timeout depends on the machine's load.
  seconds = re.fullmatch(
      f"worker 0: the ps task at {re.escape(address)} \\(ps 0\\) has not answered for "
      "([0-9]+) s \\(replica_timeout, --replica-timeout\\): it is gone. Restart it "
      "with its command: the workers then recover from the chief's last checkpoint.",
      gone)
  assert seconds and int(seconds.group(1)) >= 1, gone


def test_task_watch_ends_a_task_whose_launcher_is_gone(capsys):
  from dnn_toolkit.cluster import watch  # pylint: disable=import-outside-toplevel
  task, ended = _task_of_a_dead_ps(), _Ended()
  # A ps task watches no ps; its launcher is not its parent: that one has died.
  ps_task = cluster.resolve_task(cluster=json.dumps(task.cluster), job_name="ps",
                                 task_index=0, environ={})
  with watch.TaskWatch(ps_task, launcher=os.getppid() + 1, end=ended):
    assert ended.called.wait(EXIT_DEADLINE_S)
  assert ended.codes == [cluster.EXIT_FAILED]
  assert capsys.readouterr().err == (
      f"ps 0: its launcher (pid {os.getppid() + 1}) is gone; stopping.\n")


# training on a local cluster ----------------------------------------------------------


@pytest.fixture(scope="module")
def async_run(small_mnist, tmp_path_factory):
  """(run directory, output) of an async 1 ps + 2 workers run of EPOCHS, finished."""
  run_dir = str(tmp_path_factory.mktemp("cluster") / "async")
  return run_dir, _run_cluster(small_mnist, run_dir)


def test_async_cluster_matches_single_process_and_checkpoints_restore(
    async_run, small_mnist, tmp_path, capsys):
  run_dir, out = async_run
  assert f"[worker 0] trained {EPOCHS} epochs" in str(out) and "[ps 0]" in str(out)
  record = checkpoints.RunRecord.read(run_dir)
  assert record.finished and record.state.epoch == EPOCHS
  assert record.extra["distributed"] == {"ps": 1, "workers": 2, "sync": False}
  assert record.data["n_train"] == N_TRAIN and record.data["n_inputs"] == 784
  assert record.state.global_step >= EPOCHS * N_TRAIN // BATCH  # 24 steps per epoch
  assert record.state.best_val_loss < 1.2
  reference = _single_process_loss(small_mnist, tmp_path, BATCH)
  assert abs(record.state.best_val_loss - reference) < LOSS_TOLERANCE, (
      record.state.best_val_loss, reference)
  # The chief's best checkpoint restores into a fresh build_dnn graph ...
  metrics = distributed.evaluate_checkpoint(CONFIG, 784, record.best_checkpoint,
                                            *_test_set(small_mnist))
  assert metrics == pytest.approx({k: record.test[k] for k in metrics})
  assert record.test["n_test"] == N_TEST
  assert metrics["accuracy"] > 0.6  # 4 epochs of 1,200 images; chance is 0.1
  # ... and `dnn-toolkit inspect` reads the run.
  from dnn_toolkit import cli  # pylint: disable=import-outside-toplevel
  capsys.readouterr()
  assert cli.main(["inspect", run_dir, "--json"]) == 0
  report = json.loads(capsys.readouterr().out)
  names = {v["name"] for v in report["variables"]}
  assert {"hidden1/weights", "hidden1/BatchNorm/moving_mean", "outputs/biases"} <= names


def _test_set(small_mnist):
  from dnn_toolkit.data import mnist  # pylint: disable=import-outside-toplevel
  data = mnist.load_mnist(validation_size=N_VALID, path=small_mnist, verify=False)
  return data.test.images, data.test.labels


def test_sync_cluster_matches_single_process_of_the_same_steps(small_mnist, tmp_path):
  run_dir = str(tmp_path / "sync")
  out = _run_cluster(small_mnist, run_dir, "--sync")
  record = checkpoints.RunRecord.read(run_dir)
  assert record.finished and record.extra["distributed"]["sync"] is True
  # One global step aggregates 2 batches: 12 steps per epoch, as batches of 100.
  assert EPOCHS * 12 <= record.state.global_step <= EPOCHS * 12 + 2
  assert record.state.best_val_loss < 1.2
  reference = _single_process_loss(small_mnist, tmp_path, 2 * BATCH)
  assert abs(record.state.best_val_loss - reference) < LOSS_TOLERANCE, (
      record.state.best_val_loss, reference)
  # The latest checkpoint holds the training state; other replicas' updates may land
  # between the chief's last step and its save.
  values = scopes.load_values(record.latest_checkpoint)
  assert 0 <= values["global_step"] - record.state.global_step <= 2
  assert "hidden1/weights" in values
  # The chief's progress says which epoch of how many; TensorFlow's "Object was never
  # used" block (SyncReplicasOptimizer's readiness check) is gone at its source.
  assert f"[worker 0] epoch {EPOCHS}/{EPOCHS} " in str(out)
  assert "never used" not in "".join(out.lines), str(out)


def _wait_for_epoch(run_dir, epoch, deadline_s=CLUSTER_TIMEOUT_S):
  """Waits until the chief's record has reached `epoch`; returns the record."""
  deadline = time.monotonic() + deadline_s
  while time.monotonic() < deadline:
    if checkpoints.RunRecord.exists(run_dir):
      try:
        record = checkpoints.RunRecord.read(run_dir)
      except checkpoints.CheckpointError:  # Being replaced this instant.
        record = None
      if record is not None and record.state.epoch >= epoch:
        return record
    time.sleep(0.2)
  raise AssertionError(f"the chief did not finish epoch {epoch} in {deadline_s} s")


def _training_together(local, run_dir, out):
  """Starts the cluster and waits until both workers train (the chief has seen worker
  1 step) and an epoch has ended since; returns the chief's record then."""
  local.start()
  out.wait_for(f"[worker 0] worker 0: worker 1 ({local.spec['worker'][1]}) joined")
  return _wait_for_epoch(run_dir, _wait_for_epoch(run_dir, 0).state.epoch + 1)


def test_lost_worker_is_named_rejoins_and_killed_cluster_resumes(small_mnist, tmp_path):
  run_dir = str(tmp_path / "faults")
  # Async; a worker that makes no step for 5 s is lost.
  argv = _task_argv(small_mnist, run_dir, "--epochs", ENDLESS, "--save-every-steps",
                    "10", "--replica-timeout", "5")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    _training_together(local, run_dir, out)
    address = local.spec["worker"][1]
    local.kill_task("worker", 1)       # SIGKILL mid-run: the chief names it ...
    out.wait_for(f"worker 1 ({address}) has not stepped for 5 s")
    local.start_task("worker", 1)      # ... and back: it rejoins.
    out.wait_for(f"worker 1 ({address}) steps again")
    rejoined = _wait_for_epoch(run_dir, _wait_for_epoch(run_dir, 1).state.epoch + 1)
    pids = [p.pid for p in local.processes.values()]
    for job, index in (("worker", 0), ("worker", 1), ("ps", 0)):
      local.kill_task(job, index)      # The whole cluster dies, the chief first.
  _assert_all_ended(pids)
  before = checkpoints.RunRecord.read(run_dir)
  assert not before.finished and before.state.epoch >= rejoined.state.epoch
  assert "[worker 1] worker 1: training on 600 examples" in str(out)
  assert out.count("is lost") == 1, str(out)  # Said once.
  assert out.count("Training goes on without it (async, --on-worker-loss continue)") == 1
  assert out.count("worker 0: training on 1200 examples, its own and those of worker 1") == 1
  # A new cluster (new ports) on the same run directory continues from `latest`, with
  # the run's own batch size and patience (flags not given).
  target = before.state.epoch + 2
  resumed = _Lines()
  argv = [sys.executable, "-m", "dnn_toolkit", "cluster", "--data", small_mnist,
          *NET_FLAGS, "--epochs", str(target), "--run-dir", run_dir]
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=resumed,
                             run_dir=run_dir) as local:
    assert local.run(timeout=CLUSTER_TIMEOUT_S) == 0, str(resumed)
  record = checkpoints.RunRecord.read(run_dir)
  assert record.finished and record.state.epoch == target
  assert (record.batch_size, record.patience) == (BATCH, None)
  assert record.state.history[:len(before.state.history)] == before.state.history
  assert f"epoch {before.state.epoch}/" not in str(resumed)  # Nothing is redone.


def _pids_mentioning(text):
  """Pids of this machine's live processes whose command line contains `text`."""
  pids = []
  for name in os.listdir("/proc"):
    if name.isdigit():
      try:
        with open(f"/proc/{name}/cmdline", "rb") as f:
          if text.encode() in f.read() and _alive(int(name)):
            pids.append(int(name))
      except OSError:
        continue
  return pids


def test_sync_worker_whose_chief_died_ends_within_the_replica_timeout(small_mnist,
                                                                       tmp_path):
  run_dir = str(tmp_path / "orphan")
  argv = _task_argv(small_mnist, run_dir, "--sync", "--epochs", ENDLESS,
                    "--replica-timeout", "6")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    local.start()
    _wait_for_epoch(run_dir, 1)
    local.kill_task("worker", 0)  # Worker 1 now waits for tokens no chief will send.
    code = local.processes[("worker", 1)].wait(timeout=EXIT_DEADLINE_S)
  assert code == 1, str(out)  # A task that failed while training.
  assert ("worker 1 waited 6 s (replica_timeout, --replica-timeout) for the other "
          "workers' gradients (sync)") in str(out)


# faults: a dead ps, a dead launcher, a lost worker --------------------------------------


def test_a_dead_ps_ends_every_worker_with_one_line_naming_it(small_mnist, tmp_path):
  run_dir = str(tmp_path / "dead-ps")
  argv = _task_argv(small_mnist, run_dir, "--epochs", ENDLESS, "--replica-timeout", "5")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    _training_together(local, run_dir, out)
    address = local.spec["ps"][0]
    local.kill_task("ps", 0)
    codes = [local.processes[("worker", i)].wait(timeout=EXIT_DEADLINE_S)
             for i in (0, 1)]
    # The launcher, for its part, names the ps and fails (never a negative code).
    assert local.wait(timeout=EXIT_DEADLINE_S) == 1
  assert codes == [1, 1], str(out)
  for index in (0, 1):
    # Each worker ends on its own, once, naming the ps, within the bound it states.
    assert out.count(f"[worker {index}] worker {index}: the ps task at {address} (ps 0) "
                     "has not answered for") == 1, str(out)
  assert out.count(f"[cluster] ps 0 ({address}) was killed by SIGKILL while the workers "
                   "train: stopping every task") == 1, str(out)
  assert "Traceback" not in str(out) and "Graph execution error" not in str(out)
  record = checkpoints.RunRecord.read(run_dir)  # The last checkpoint is intact.
  assert not record.finished and record.state.epoch >= 1
  assert checkpoints.verify_resume(record).latest == record.latest_checkpoint


def test_a_restarted_ps_is_recovered_without_restarting_the_workers(small_mnist,
                                                                     tmp_path):
  run_dir = str(tmp_path / "restarted-ps")
  # The new ps must be serving within the replica timeout: its start takes 10-40 s here.
  argv = _task_argv(small_mnist, run_dir, "--epochs", ENDLESS, "--replica-timeout",
                    "240")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    before = _training_together(local, run_dir, out)
    workers = [local.processes[("worker", i)].pid for i in (0, 1)]
    local.kill_task("ps", 0)
    out.wait_for("[worker 0] worker 0: ps 0 at")  # It noticed ...
    local.start_task("ps", 0)                       # ... the ps is restarted, same port.
    out.wait_for("worker 0: the ps tasks are back: training goes on from checkpoint")
    after = _wait_for_epoch(run_dir, before.state.epoch + 2)
    assert [local.processes[("worker", i)].pid for i in (0, 1)] == workers
    assert all(local.processes[("worker", i)].poll() is None for i in (0, 1))
  # The run went on from a checkpoint it had written: its history up to there is kept,
  # and every later epoch is recorded once, in order.
  epochs = [h["epoch"] for h in after.state.history]
  assert epochs == sorted(set(epochs)) and epochs[-1] == after.state.epoch
  assert after.state.history[0] == before.state.history[0]
  assert "Traceback" not in str(out), str(out)


def _children(pid):
  with open(f"/proc/{pid}/task/{pid}/children") as f:
    return [int(p) for p in f.read().split()]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_tasks_die_with_a_killed_launcher(small_mnist, tmp_path):
  run_dir = str(tmp_path / "orphans")
  proc = subprocess.Popen(_launcher_argv(small_mnist, run_dir, "--epochs", ENDLESS),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=_quiet_env(), start_new_session=True)
  tasks = []
  try:
    _wait_for_epoch(run_dir, 1)
    tasks = _children(proc.pid)
    assert len(tasks) == 3, tasks
    proc.kill()  # SIGKILL: the launcher cannot stop anything itself.
    proc.wait(timeout=EXIT_DEADLINE_S)
    _wait_until_ended(tasks)  # The kernel's parent-death signal: at once.
  finally:
    for pid in [proc.pid] + tasks:
      if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    proc.wait()
  # Nothing holds the run any more: its lock is free and its checkpoint intact.
  checkpoints.lock_run(run_dir).release()
  record = checkpoints.RunRecord.read(run_dir)
  assert checkpoints.verify_resume(record).latest == record.latest_checkpoint


def test_sync_worker_lost_stops_the_run_with_the_position_saved(small_mnist, tmp_path):
  run_dir = str(tmp_path / "sync-lost")
  argv = _task_argv(small_mnist, run_dir, "--sync", "--epochs", ENDLESS,
                    "--replica-timeout", "5")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    _training_together(local, run_dir, out)
    address = local.spec["worker"][1]
    local.kill_task("worker", 1)
    code = local.wait(timeout=CLUSTER_TIMEOUT_S)
  assert code == 1, str(out)
  lost = (f"worker 1 ({address}) has not stepped for 5 s (replica_timeout, "
          "--replica-timeout): it is lost. Training stopped at epoch ")
  assert out.count(lost) == 1, str(out)  # Said once, by the chief ...
  assert "(--on-worker-loss stop); the position is saved in" in str(out)
  assert out.count("[cluster] worker 0 (") == 1  # ... and the launcher names it.
  # The position saved is where the chief stood: the run resumes from there.
  record = checkpoints.RunRecord.read(run_dir)
  assert not record.finished
  assert scopes.load_values(record.latest_checkpoint)["global_step"] >= (
      record.state.global_step)
  assert checkpoints.verify_resume(record).state.global_step == record.state.global_step


def test_sync_worker_lost_with_continue_trains_its_examples_too(small_mnist, tmp_path):
  run_dir = str(tmp_path / "sync-continue")
  argv = _task_argv(small_mnist, run_dir, "--sync", "--epochs", ENDLESS,
                    "--replica-timeout", "5", "--on-worker-loss", "continue")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out,
                             run_dir=run_dir) as local:
    _training_together(local, run_dir, out)
    local.kill_task("worker", 1)
    out.wait_for("Training goes on without it (sync, --on-worker-loss continue)")
    at_loss = _wait_for_epoch(run_dir, 1).state.epoch
    _wait_for_epoch(run_dir, at_loss + 2)  # It trains on ...
    assert local.processes[("worker", 0)].poll() is None
  assert out.count("is lost") == 1, str(out)
  # ... on all the examples: its own 600 and the lost worker's 600.
  assert out.count("worker 0: training on 1200 examples, its own and those of worker 1") == 1


# a resumed cluster run: its data and config checked, its lock -----------------------


def test_resuming_a_cluster_run_on_other_data_is_refused(async_run, tmp_path_factory,
                                                          tmp_path):
  run_dir = str(tmp_path / "run")
  shutil.copytree(async_run[0], run_dir)
  before = files_of(run_dir, skip=("logs",))
  other = _write_small_mnist(tmp_path_factory.mktemp("other") / "mnist.npz",
                             start=N_TRAIN + N_VALID)
  proc = subprocess.run(_launcher_argv(other, run_dir, "--epochs", str(EPOCHS + 2)),
                        capture_output=True, text=True, timeout=CLUSTER_TIMEOUT_S,
                        env=_quiet_env(), check=False)
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert (f"Cannot resume {run_dir!r} on other data (train_sha256, validation_sha256 "
          "differ)") in proc.stdout, proc.stdout
  assert "[cluster] worker 0 (" in proc.stdout  # The launcher names the chief.
  assert files_of(run_dir, skip=("logs",)) == before  # Nothing was changed.


def test_a_chief_with_another_config_names_the_flags(async_run, small_mnist, tmp_path):
  run_dir = str(tmp_path / "run")
  shutil.copytree(async_run[0], run_dir)
  before = files_of(run_dir, skip=("logs",))
  ps, chief = launcher.free_ports(2)
  spec = {"ps": [f"127.0.0.1:{ps}"], "worker": [f"127.0.0.1:{chief}"]}
  argv = _task_argv(small_mnist, run_dir, "--hidden-layers", "50", "--epochs",
                    str(EPOCHS + 2), "--cluster", json.dumps(spec), "--job-name",
                    "worker", "--task-index", "0")
  proc = subprocess.run(argv, capture_output=True, text=True, timeout=EXIT_DEADLINE_S,
                        env=_quiet_env(), check=False)
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.splitlines() == [
      f"dnn-toolkit: error: Cannot resume {run_dir!r} with other settings "
      "(--hidden-layers: run has 30, given 50). Nothing was changed; leave those flags "
      "out (the run's own are used) or start a new --run-dir."]
  assert files_of(run_dir, skip=("logs",)) == before


def test_a_second_launcher_on_a_busy_run_is_refused_before_any_task(small_mnist,
                                                                    tmp_path):
  run_dir = str(tmp_path / "busy")
  lock = checkpoints.lock_run(run_dir)  # This process trains there.
  try:
    proc = subprocess.run(_launcher_argv(small_mnist, run_dir), capture_output=True,
                          text=True, timeout=EXIT_DEADLINE_S, env=_quiet_env(),
                          check=False)
  finally:
    lock.release()
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.splitlines() == [
      f"dnn-toolkit: error: {run_dir!r} is in use: process {os.getpid()} is training "
      "there. Nothing was changed; wait for it to finish or choose another run "
      "directory."]
  assert "[ps 0]" not in proc.stdout and "[worker" not in proc.stdout


@pytest.mark.slow  # 20 s more on 2 cores; the launcher's own stop() is tested above.
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_sigterm_stops_the_launcher_and_every_task(small_mnist, tmp_path):
  run_dir = str(tmp_path / "stopped")
  launcher_process = subprocess.Popen(
      _launcher_argv(small_mnist, run_dir, "--epochs", ENDLESS), stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, env=_quiet_env(), start_new_session=True)
  try:
    _wait_for_epoch(run_dir, 1)
    tasks = _children(launcher_process.pid)
    assert len(tasks) == 3, tasks
    launcher_process.send_signal(signal.SIGTERM)
    output = launcher_process.communicate(timeout=EXIT_DEADLINE_S)[0].decode()
    assert launcher_process.returncode == 130, output
    assert "interrupted: stopping every task" in output
    assert not any(_alive(pid) for pid in tasks)
  finally:
    if launcher_process.poll() is None:
      os.killpg(launcher_process.pid, signal.SIGKILL)
      launcher_process.wait()
    for pid in _pids_mentioning(run_dir):
      os.kill(pid, signal.SIGKILL)
