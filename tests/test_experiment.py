"""Tests of dnn_toolkit.experiment.train: a run in a run directory, and resuming it.

The central promise: a run interrupted at any point (Ctrl-C, or a SIGKILL that gives no
chance to save) and resumed reaches the same weights as a run never interrupted. Dropout
and batch norm are on, so the per-step dropout masks and the moving statistics must be
restored exactly too.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf
from _helpers import files_of

from dnn_toolkit import checkpoints, scopes

from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import (
  CheckpointError,
  ConfigMismatchError,
  TrainingDivergedError,
)
from dnn_toolkit.training import _fast_run

CONFIG = DNNConfig(hidden_layers=(16, 8), n_outputs=3, dropout_rate=0.2, max_norm=2.0)
PLAIN = DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False, dropout_rate=0.0)
V1 = tf.compat.v1
# Three epochs of 8 steps (240 examples in batches of 32).
RUN = {"epochs": 3, "batch_size": 32, "patience": None, "verbose": 0}


def outcome(run_dir):
  """What a finished run reached: its state and the values of its checkpoints."""
  saved = checkpoints.read_run_state(run_dir)
  history = [{k: v for k, v in m.items() if k != "seconds"}
             for m in saved["state"].pop("history")]
  latest = scopes.load_values(os.path.join(run_dir, saved["latest_checkpoint"]))
  best = scopes.load_values(os.path.join(run_dir, saved["best_checkpoint"]))
  return saved["state"], history, latest, best


def assert_same_outcome(run_dir, reference):
  state, history, latest, best = outcome(run_dir)
  assert state == reference[0]
  for got, expected in zip(history, reference[1]):
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)
  for got, expected in ((latest, reference[2]), (best, reference[3])):
    assert set(got) == set(expected)
    for name, value in expected.items():
      np.testing.assert_allclose(got[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, make_toy_data):
  """The outcome of CONFIG trained for 3 epochs without interruption."""
  train, valid = make_toy_data()
  run_dir = str(tmp_path_factory.mktemp("reference") / "run")
  lifecycle.train(CONFIG, train, valid, run_dir=run_dir, **RUN)
  result = outcome(run_dir)
  val_losses = [m["val_loss"] for m in result[1]]
  assert val_losses[1] < val_losses[0]  # Epoch 2 is a new best: best is saved twice.
  return result


def test_train_writes_a_finished_run(tmp_path, toy_data):
  run_dir = str(tmp_path / "run")
  result = lifecycle.train(PLAIN, *toy_data, test=toy_data[1], run_dir=run_dir,
                            epochs=2, batch_size=32, verbose=0)
  assert result.run_dir == run_dir
  assert result.state.epoch == 2 and len(result.history) == 2
  assert result.best_checkpoint == os.path.join(run_dir, "best",
                                                f"model.ckpt-{8 * result.state.best_epoch}")
  assert result.test["loss"] == pytest.approx(result.state.best_val_loss, rel=1e-5)
  assert result.seconds > 0
  assert {"state.json", "latest", "best"} <= set(os.listdir(run_dir))
  saved = checkpoints.read_run_state(run_dir)
  assert saved["finished"] is True and saved["batch_size"] == 32


def test_default_run_dir_is_new_under_checkpoints():
  assert lifecycle.default_run_dir().startswith(os.path.join("checkpoints", "run-"))
  assert lifecycle.default_run_dir("runs").startswith(os.path.join("runs", "run-"))


# Resuming ------------------------------------------------------------------------------


class InterruptAt:
  """A hook that raises KeyboardInterrupt (as Ctrl-C does) after a given step."""

  def __init__(self, global_step):
    self.global_step = global_step

  def after_step(self, sess, state, loss, X_batch, y_batch):
    if state.global_step == self.global_step:
      raise KeyboardInterrupt


def test_resume_after_ctrl_c_reaches_the_uninterrupted_weights(tmp_path, toy_data,
                                                               reference):
  run_dir = str(tmp_path / "run")
  with pytest.raises(KeyboardInterrupt):
    lifecycle.train(CONFIG, *toy_data, run_dir=run_dir, **RUN,
                     hook_factories=[lambda dnn, run_dir: InterruptAt(11)])
  saved = checkpoints.read_run_state(run_dir)
  assert saved["finished"] is False
  assert (saved["state"]["epoch"], saved["state"]["batch"]) == (1, 3)  # Mid-epoch 2.
  assert saved["state"]["global_step"] == 11
  assert saved["latest_checkpoint"] == os.path.join("latest", "model.ckpt-11")
  result = lifecycle.train(CONFIG, *toy_data, run_dir=run_dir, resume=True, **RUN)
  assert result.state.epoch == 3
  assert_same_outcome(run_dir, reference)


CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from dnn_toolkit.runs import lifecycle
    from dnn_toolkit.config import DNNConfig

    data_file, config_json, run_dir, run_json = sys.argv[1:]
    data = np.load(data_file)

    class Slow:  # Leaves the parent time to kill the run mid-way, at step 20 at last.
      def after_step(self, sess, state, *args):
        time.sleep(600 if state.global_step == 20 else 0.05)

    lifecycle.train(DNNConfig.from_dict(json.loads(config_json)),
                     (data["X"], data["y"]), (data["X_valid"], data["y_valid"]),
                     run_dir=run_dir, save_every_steps=2,
                     hook_factories=[lambda dnn, run_dir: Slow()],
                     **json.loads(run_json))
""")


def _wait_for_step(proc, run_dir, global_step, timeout=90):
  """Polls state.json until the child has saved `global_step` steps or more."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    assert proc.poll() is None, f"the child exited {proc.returncode} before the kill"
    if checkpoints.has_run(run_dir):  # Replaced atomically: never half-written.
      if checkpoints.read_run_state(run_dir)["state"]["global_step"] >= global_step:
        return
    time.sleep(0.01)
  raise AssertionError(f"no checkpoint of step {global_step} within {timeout} s")


def test_resume_after_sigkill_reaches_the_uninterrupted_weights(tmp_path, toy_data,
                                                                 reference):
  (X, y), (X_valid, y_valid) = toy_data
  data_file = str(tmp_path / "data.npz")
  np.savez(data_file, X=X, y=y, X_valid=X_valid, y_valid=y_valid)
  run_dir = str(tmp_path / "run")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  with open(tmp_path / "child.log", "wb") as log:
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-c", CHILD, data_file, json.dumps(CONFIG.to_dict()), run_dir,
         json.dumps(RUN)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
      _wait_for_step(proc, run_dir, 10)  # Past epoch 1, so a best checkpoint exists.
      os.kill(proc.pid, signal.SIGKILL)
    finally:
      if proc.poll() is None:
        proc.kill()
      proc.wait()
  assert proc.returncode == -signal.SIGKILL
  saved = checkpoints.read_run_state(run_dir)
  assert saved["finished"] is False
  assert 10 <= saved["state"]["global_step"] <= 20
  result = lifecycle.train(CONFIG, *toy_data, run_dir=run_dir, resume=True, **RUN)
  assert result.state.epoch == 3
  assert_same_outcome(run_dir, reference)


def test_resume_of_a_finished_run_with_more_epochs_continues(tmp_path, toy_data):
  run_dir = str(tmp_path / "run")
  lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, epochs=1, batch_size=32,
                   verbose=0)
  result = lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True, epochs=2,
                            batch_size=32, verbose=0)
  assert result.state.epoch == 2 and result.state.global_step == 16
  assert [m["epoch"] for m in result.history] == [1, 2]


# Refusals: nothing overwritten -----------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, make_toy_data):
  """A run directory holding one finished epoch of PLAIN; the tests must not touch it."""
  run_dir = str(tmp_path_factory.mktemp("finished") / "run")
  lifecycle.train(PLAIN, *make_toy_data(), run_dir=run_dir, epochs=1, batch_size=32,
                   verbose=0)
  return run_dir


def test_resume_with_another_config_names_the_fields_and_changes_nothing(finished_run,
                                                                         toy_data):
  before = files_of(finished_run)
  other = DNNConfig(hidden_layers=(32,), n_outputs=3, batch_norm=False, dropout_rate=0.5)
  with pytest.raises(ConfigMismatchError) as raised:
    lifecycle.train(other, *toy_data, run_dir=finished_run, resume=True, epochs=2,
                     batch_size=32, verbose=0)
  message = str(raised.value)
  assert "hidden_layers: run has (8,), given (32,)" in message
  assert "dropout_rate: run has 0.0, given 0.5" in message
  assert "n_outputs" not in message
  assert files_of(finished_run) == before


def test_resume_with_another_batch_size_refuses_and_changes_nothing(finished_run,
                                                                     toy_data):
  before = files_of(finished_run)
  with pytest.raises(ConfigMismatchError, match=r"batch_size: run has 32, given 16"):
    lifecycle.train(PLAIN, *toy_data, run_dir=finished_run, resume=True, epochs=2,
                     batch_size=16, verbose=0)
  assert files_of(finished_run) == before


def test_a_new_run_into_a_directory_holding_a_run_refuses(finished_run, toy_data):
  before = files_of(finished_run)
  with pytest.raises(CheckpointError, match=r"already holds a training run; nothing was "
                                            r"overwritten.*resume=True"):
    lifecycle.train(PLAIN, *toy_data, run_dir=finished_run, epochs=1, batch_size=32,
                     verbose=0)
  assert files_of(finished_run) == before


def test_resume_without_a_run_refuses_and_creates_nothing(tmp_path, toy_data):
  run_dir = str(tmp_path / "none")
  with pytest.raises(CheckpointError, match="No training run to resume"):
    lifecycle.train(PLAIN, *toy_data, run_dir=run_dir, resume=True, epochs=1,
                     batch_size=32, verbose=0)
  assert not os.path.exists(run_dir)


BAD_RUNS = [
    ("config", {"config": DNNConfig(dropout_rate=1.0)}, ValueError,
     "Received: dropout_rate=1.0"),
    ("hidden size", {"config": DNNConfig(hidden_layers=(0,))}, ValueError,
     "Received: hidden_layers=0"),
    ("learning rate", {"config": DNNConfig(learning_rate=0.0)}, ValueError,
     "Received: learning_rate=0.0"),
    ("unknown activation", {"config": DNNConfig(activation="gelu")}, ValueError,
     "Received: activation='gelu'"),
    ("patience", {"patience": 0}, ValueError, "Received: patience=0"),
    ("batch size", {"batch_size": 500}, ValueError, "Received: batch_size=500"),
    ("epochs", {"epochs": -1}, ValueError, "Received: epochs=-1"),
    ("save_every_steps", {"save_every_steps": 0}, ValueError,
     "Received: save_every_steps=0"),
    ("labels", {"n_outputs": 2}, ValueError, "`n_outputs` of at least 3"),
]


@pytest.mark.parametrize("change, error, part", [b[1:] for b in BAD_RUNS],
                         ids=[b[0] for b in BAD_RUNS])
@pytest.mark.parametrize("resume", [False, True], ids=["new", "resume"])
def test_bad_input_writes_nothing(tmp_path, toy_data, finished_run, change, error, part,
                                  resume):
  run_dir = finished_run if resume else str(tmp_path / "run")
  before = files_of(run_dir)
  arguments = {"config": PLAIN, "run_dir": run_dir, "epochs": 2, "batch_size": 32,
               "verbose": 0, "resume": resume, **change}
  if "n_outputs" in arguments:
    arguments["config"] = DNNConfig(**{**PLAIN.to_dict(), "hidden_layers": (8,),
                                       "n_outputs": arguments.pop("n_outputs")})
  with pytest.raises(error) as raised:
    lifecycle.train(arguments.pop("config"), *toy_data, **arguments)
  assert part in str(raised.value)
  assert files_of(run_dir) == before
  assert os.path.exists(run_dir) == resume


# Divergence ------------------------------------------------------------------------------


def test_divergence_stops_and_leaves_the_last_good_checkpoint_intact(tmp_path,
                                                                     toy_data):
  config = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, optimizer="sgd", learning_rate=1e6)
  run_dir = str(tmp_path / "run")
  steps = []

  class Watch:  # Runs after the CheckpointHook: sees each step's files.
    def after_step(self, sess, state, loss, X_batch, y_batch):
      steps.append((state.global_step, files_of(run_dir, skip=("logs",))))

  with pytest.raises(TrainingDivergedError) as raised:
    lifecycle.train(config, *toy_data, run_dir=run_dir, epochs=2, batch_size=32,
                     verbose=0, save_every_steps=1,
                     hook_factories=[lambda dnn, run_dir: Watch()])
  last_good, files = steps[-1]
  assert 1 <= last_good < 8
  good = os.path.join(run_dir, "latest", f"model.ckpt-{last_good}")
  message = str(raised.value)
  assert "Training diverged" in message
  assert "epoch 1" in message and f"global step {last_good + 1}" in message, message
  assert message.endswith(f"Last good checkpoint: {good}"), message
  # Nothing written after the last good step but the TensorBoard logs, which show the
  # loss blowing up.
  assert files_of(run_dir, skip=("logs",)) == files
  saved = checkpoints.read_run_state(run_dir)
  assert saved["latest_checkpoint"] == os.path.join("latest", f"model.ckpt-{last_good}")
  assert saved["finished"] is False
  values = scopes.load_values(good)
  assert all(np.isfinite(v).all() for v in values.values())


def test_resume_after_a_real_sigint_during_a_step(tmp_path, toy_data, reference,
                                                  monkeypatch):
  """Ctrl-C lands inside `sess.run` as a rule: after the step ran, before it is counted.

  Here in the last step of epoch 1, before its validation.
  """
  step_function = _fast_run.step_function
  calls = []

  def interrupted_during_step_8(sess, target, fetch, feeds):
    run = step_function(sess, target, fetch, feeds)

    def step(*feeds):
      results = run(*feeds)
      calls.append(len(calls) + 1)
      if len(calls) == 8:
        os.kill(os.getpid(), signal.SIGINT)  # Python raises it at the next bytecode.
      return results

    return step

  run_dir = str(tmp_path / "run")
  with monkeypatch.context() as patch:
    patch.setattr(_fast_run, "step_function", interrupted_during_step_8)
    with pytest.raises(KeyboardInterrupt):  # The per-step path; test_multistep: K > 1.
      lifecycle.train(CONFIG, *toy_data, run_dir=run_dir, steps_per_call=1, **RUN)
  saved = checkpoints.read_run_state(run_dir)
  latest = scopes.load_values(os.path.join(run_dir, saved["latest_checkpoint"]))
  assert latest["global_step"] == saved["state"]["global_step"] == 8
  assert (saved["state"]["epoch"], saved["state"]["batch"]) == (0, 8)
  lifecycle.train(CONFIG, *toy_data, run_dir=run_dir, resume=True, **RUN)
  assert_same_outcome(run_dir, reference)
