"""Tests of training on a cluster: `dnn_toolkit.cluster.tasks`, `dnn_toolkit.cluster.worker`.

The clusters are real TensorFlow processes (`tf.compat.v1.train.Server`) on 127.0.0.1,
started by the project's own launcher (`cluster.LocalCluster` running
`dnn-toolkit cluster` tasks); every one is stopped by its pid when the test leaves the
`with` block, and every wait has a deadline. The data is a 1,200 + 400 image subset of
MNIST written as a `mnist.npz`, so a 784-30-10 net trains a few epochs in seconds.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from dnn_toolkit import checkpoints, scopes
from dnn_toolkit.cluster import launcher
from dnn_toolkit.cluster import tasks as cluster
from dnn_toolkit.cluster import worker as distributed
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import DataError

N_TRAIN, N_VALID, N_TEST = 1200, 400, 400
EPOCHS, BATCH = 4, 50
CONFIG = DNNConfig(hidden_layers=(30,), seed=7)
# Flags of the same run as CONFIG, EPOCHS and BATCH.
RUN_FLAGS = ["--hidden-layers", "30", "--seed", "7", "--epochs", str(EPOCHS),
             "--batch-size", str(BATCH), "--patience", "0", "--validation-size",
             str(N_VALID), "--no-verify", "--startup-timeout", "60",
             "--replica-timeout", "30"]
# Best validation loss (cross-entropy; 2.3 at the start) of a distributed run vs a
# single-process run of the same global steps and examples. Async workers apply
# gradients computed on stale weights and the order of updates depends on timing, sync
# replicas differ in dropout masks and batch statistics: over 4 short epochs the gap
# varies run to run by about 0.1.
LOSS_TOLERANCE = 0.25
CLUSTER_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
  """A `mnist.npz` of the first 1,600 training and 400 test images of MNIST."""
  from dnn_toolkit.data import mnist  # pylint: disable=import-outside-toplevel
  try:
    data = mnist.load_mnist(validation_size=0, allow_download=False)
  except DataError as error:
    pytest.skip(f"MNIST is not available offline: {error}")
  as_uint8 = lambda images: np.round(images * 255).astype(np.uint8).reshape(-1, 28, 28)
  path = str(tmp_path_factory.mktemp("data") / "mnist.npz")
  n = N_TRAIN + N_VALID
  np.savez(path, x_train=as_uint8(data.train.images[:n]),
           y_train=data.train.labels[:n].astype(np.uint8),
           x_test=as_uint8(data.test.images[:N_TEST]),
           y_test=data.test.labels[:N_TEST].astype(np.uint8))
  return path


def _task_argv(data, run_dir, *flags):
  return [sys.executable, "-m", "dnn_toolkit.commands.cluster", "--data", data,
          *RUN_FLAGS, "--run-dir", run_dir, *flags]


def _quiet_env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop(cluster.TF_CONFIG, None)
  return env


class _Lines:
  """A stream that keeps what the launcher writes (and shows it on failure)."""

  def __init__(self):
    self.lines = []

  def write(self, text):
    self.lines.append(text)

  def flush(self):
    pass

  def __str__(self):
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
  with launcher.LocalCluster(1, workers, argv, env=_quiet_env(), stream=out) as local:
    code = local.run(timeout=CLUSTER_TIMEOUT_S)
    pids = [p.pid for p in local.processes.values()]
  assert code == 0, str(out)
  _assert_all_ended(pids)
  return out


def _assert_all_ended(pids):
  for pid in pids:
    with pytest.raises(ProcessLookupError):
      os.kill(pid, 0)  # Reaped by the launcher: no such process any more.


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
        [sys.executable, "-m", "dnn_toolkit.commands.cluster", "--cluster",
         json.dumps(task.cluster), "--job-name", "ps", "--task-index", "0"],
        capture_output=True, text=True, timeout=60, env=_quiet_env(), check=False)
  assert proc.returncode == 2, proc.stderr
  assert f"its port {port}" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_ps_times_out_with_the_setting_named(small_mnist, tmp_path):
  ps_port, worker_port = launcher.free_ports(2)
  spec = {"ps": [f"127.0.0.1:{ps_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
  task = cluster.resolve_task(cluster=json.dumps(spec), job_name="worker",
                              task_index=0, environ={})
  started = time.monotonic()
  with pytest.raises(cluster.ClusterError, match="within 1 s .*startup-timeout"):
    cluster.wait_for_ps(task, timeout=1.0)
  assert time.monotonic() - started < 5
  argv = _task_argv(small_mnist, str(tmp_path / "run"), "--cluster", json.dumps(spec),
                    "--job-name", "worker", "--task-index", "0", "--startup-timeout", "2")
  proc = subprocess.run(argv, capture_output=True, text=True, timeout=90,
                        env=_quiet_env(), check=False)
  assert proc.returncode == 2, proc.stderr
  assert f"could not reach the ps task at 127.0.0.1:{ps_port} within 2 s" in proc.stderr
  assert not os.path.exists(tmp_path / "run" / "state.json")  # Nothing was written.


@pytest.mark.parametrize("flags, message", [
    (["--ps", "0", "--workers", "2"], "--ps to be a positive integer"),
    (["--ps", "1", "--workers", "2", "--job-name", "ps"], "--job-name name one task"),
    (["--ps", "1", "--workers", "2", "--replica-timeout", "0"], "replica_timeout"),
])
def test_launcher_refuses_bad_flags_before_starting_anything(flags, message, tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "dnn_toolkit.commands.cluster", *flags, "--run-dir",
       str(tmp_path / "run")], capture_output=True, text=True, timeout=60,
      env=_quiet_env(), check=False)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr
  assert "[cluster]" not in proc.stdout and not os.path.exists(tmp_path / "run")


# training on a local cluster ----------------------------------------------------------


def test_async_cluster_matches_single_process_and_checkpoints_restore(
    small_mnist, tmp_path, capsys):
  run_dir = str(tmp_path / "async")
  out = _run_cluster(small_mnist, run_dir)
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
  assert metrics["accuracy"] > 0.6  # 3 epochs of 1,200 images; chance is 0.1
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
  _run_cluster(small_mnist, run_dir, "--sync")
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


def _wait_for_epoch(run_dir, epoch, deadline_s=CLUSTER_TIMEOUT_S):
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


def test_killed_worker_rejoins_and_killed_cluster_resumes(small_mnist, tmp_path):
  run_dir = str(tmp_path / "faults")
  argv = _task_argv(small_mnist, run_dir, "--epochs", "8", "--save-every-steps", "10")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out) as local:
    local.start()
    _wait_for_epoch(run_dir, 1)
    local.kill_task("worker", 1)       # SIGKILL mid-run ...
    local.start_task("worker", 1)      # ... and back: it rejoins.
    before = _wait_for_epoch(run_dir, 2)
    pids = [p.pid for p in local.processes.values()]
    for job, index in (("worker", 0), ("worker", 1), ("ps", 0)):
      local.kill_task(job, index)      # The whole cluster dies, the chief first.
  _assert_all_ended(pids)
  assert not before.finished and before.state.epoch < 8
  assert "[worker 1] worker 1: training on 600 examples" in str(out)
  # A new cluster (new ports) on the same run directory continues from `latest`.
  resumed = _run_cluster(small_mnist, run_dir, "--epochs", "8", "--save-every-steps",
                         "10")
  record = checkpoints.RunRecord.read(run_dir)
  assert record.finished and record.state.epoch == 8
  assert record.state.history[:len(before.state.history)] == before.state.history
  assert "epoch 1/8" not in str(resumed)  # Nothing before the checkpoint is redone.


def _pids_mentioning(text):
  """Pids of this machine's processes whose command line contains `text`."""
  pids = []
  for name in os.listdir("/proc"):
    if name.isdigit():
      try:
        with open(f"/proc/{name}/cmdline", "rb") as f:
          if text.encode() in f.read():
            pids.append(int(name))
      except OSError:
        continue
  return pids


def test_sync_worker_whose_chief_died_ends_within_the_replica_timeout(small_mnist,
                                                                       tmp_path):
  run_dir = str(tmp_path / "orphan")
  argv = _task_argv(small_mnist, run_dir, "--sync", "--epochs", "20",
                    "--replica-timeout", "6")
  out = _Lines()
  with launcher.LocalCluster(1, 2, argv, env=_quiet_env(), stream=out) as local:
    local.start()
    _wait_for_epoch(run_dir, 1)
    local.kill_task("worker", 0)  # Worker 1 now waits for tokens no chief will send.
    orphan = local.processes[("worker", 1)]
    started = time.monotonic()
    code = orphan.wait(timeout=60)
    waited = time.monotonic() - started
  assert code == 2, str(out)
  assert waited < 6 + 20, waited
  assert "(replica_timeout, --replica-timeout) for the other workers' gradients" in str(out)


@pytest.mark.slow  # 20 s more on 2 cores; the launcher's own stop() is tested above.
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_sigterm_stops_the_launcher_and_every_task(small_mnist, tmp_path):
  run_dir = str(tmp_path / "stopped")
  argv = [sys.executable, "-m", "dnn_toolkit.commands.cluster", "--ps", "1",
          "--workers", "2", "--data", small_mnist, *RUN_FLAGS, "--epochs", "50",
          "--run-dir", run_dir]
  launcher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=_quiet_env(), start_new_session=True)
  try:
    _wait_for_epoch(run_dir, 1)
    tasks = [p for p in _pids_mentioning(run_dir) if p != launcher.pid]
    assert len(tasks) == 3, tasks
    launcher.send_signal(signal.SIGTERM)
    output = launcher.communicate(timeout=60)[0].decode()
    assert launcher.returncode == 130, output
    assert "interrupted: stopping every task" in output
    assert _pids_mentioning(run_dir) == []
  finally:
    if launcher.poll() is None:
      os.killpg(launcher.pid, signal.SIGKILL)
      launcher.wait()
    for pid in _pids_mentioning(run_dir):
      os.kill(pid, signal.SIGKILL)
