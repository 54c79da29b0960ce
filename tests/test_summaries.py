"""Tests of dnn_toolkit.summaries: the logs of a real (short) run, read back two ways.

One module-scoped run trains a 10-layer sigmoid net with Xavier initialization on random
inputs through `runs.lifecycle.train`, which logs every run, as the command line
does. Its logs are read with `summaries.read_scalars`, with TensorBoard's
own event reader, and through the HTTP API of a real TensorBoard server started on
127.0.0.1. A second run reuses layers of a first one (`train_transfer_run`, also used
by the browser test) to check how restored and frozen layers are marked.
"""

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from _helpers import stop_process
from tensorboard.backend.event_processing import event_accumulator

from dnn_toolkit import checkpoints, summaries, transfer

from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training
from dnn_toolkit.training import hooks as training_hooks

_V1 = tf.compat.v1
N_LAYERS = 10
LAYERS = [f"hidden{i + 1}" for i in range(N_LAYERS)] + ["outputs"]
EVERY_N_STEPS = 2
EPOCHS, BATCH_SIZE, N_TRAIN = 2, 50, 200  # 4 steps an epoch, 8 in all
DIAGNOSTIC_STEPS = [1, 2, 4, 6, 8]
CONFIG = DNNConfig(hidden_layers=(100,) * N_LAYERS, activation="sigmoid",
                   initializer="xavier", batch_norm=False, dropout_rate=0.0)
SERVER_DEADLINE_S = 60
MODEL_SCOPES = {"X", "y", "is_training", "global_step", "dnn", "loss", "train",
                "eval"} | set(LAYERS)
# Scopes and op types of what the Session's graph holds besides the model.
NOT_MODEL_SCOPES = ("diagnostics", "summaries", "save", "param_snapshot", "init")
NOT_MODEL_OPS = {"SaveV2", "RestoreV2", "MergeSummary", "ScalarSummary",
                 "HistogramSummary", "NoOp"}


def _random_data(n, seed):
  rng = np.random.RandomState(seed)
  return rng.rand(n, 784).astype(np.float32), rng.randint(0, 10, n).astype(np.int64)


def _train(run_dir, epochs=EPOCHS, resume=False):
  return lifecycle.train(
      CONFIG, _random_data(N_TRAIN, 0), _random_data(100, 1), run_dir=run_dir,
      epochs=epochs, batch_size=BATCH_SIZE, patience=None, resume=resume, verbose=0,
      log_every_steps=EVERY_N_STEPS)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """(run_dir, RunResult) of the short run."""
  run_dir = str(tmp_path_factory.mktemp("summaries") / "run")
  return run_dir, _train(run_dir)


@pytest.fixture(scope="module")
def scalars(run):
  logdir = summaries.logdir_of(run[0])
  return {name: summaries.read_scalars(os.path.join(logdir, name))
          for name in (summaries.TRAIN, summaries.VALIDATION)}


def _events(directory):
  paths = sorted(os.listdir(directory))
  return [event for path in paths if path.startswith("events.out.tfevents.")
          for event in _V1.train.summary_iterator(os.path.join(directory, path))]


# ------------------------------------------------------------------ the logs


def test_every_run_logs_train_and_validation_and_plots(run):
  logs = summaries.logdir_of(run[0])
  assert logs == os.path.join(run[0], "logs")
  for sub in ("train", "validation"):
    assert any(f.startswith("events.out.tfevents.") for f in os.listdir(
        os.path.join(logs, sub)))
  for png in ("learning_curves.png", "gradient_norms.png"):
    with open(os.path.join(logs, png), "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_epoch_scalars_are_the_values_training_reported(run, scalars):
  history = run[1].history
  steps = [m["global_step"] for m in history]
  assert steps == [4, 8]
  for run_name, tag, key in (("train", "loss", "loss"), ("train", "accuracy", "accuracy"),
                             ("train", "learning_rate", "learning_rate"),
                             ("validation", "loss", "val_loss"),
                             ("validation", "accuracy", "val_accuracy")):
    logged_steps, values = scalars[run_name][tag]
    assert logged_steps.tolist() == steps
    # Event files store float32: the reported float64 rounded once.
    np.testing.assert_array_equal(values, np.float32([m[key] for m in history]))


def test_diagnostics_are_logged_every_n_steps_per_layer(scalars):
  train = scalars["train"]
  for name in LAYERS:
    for prefix in ("gradient_norm", "weight_norm"):
      assert train[f"{prefix}/{name}"][0].tolist() == DIAGNOSTIC_STEPS
  for name in LAYERS[:-1]:
    for prefix in ("activation_mean", "activation_std", "saturated_fraction"):
      assert train[f"{prefix}/{name}"][0].tolist() == DIAGNOSTIC_STEPS
    assert f"dead_fraction/{name}" not in train  # undefined for sigmoid
  assert "activation_mean/outputs" not in train
  assert train["batch_loss"][0].tolist() == DIAGNOSTIC_STEPS
  assert "gradient_norm/hidden1" not in scalars["validation"]


def test_logged_diagnostics_show_the_vanishing_gradient(scalars):
  train = scalars["train"]
  first, last = train["gradient_norm/hidden1"][1], train["gradient_norm/hidden10"][1]
  assert np.all(first * 100 <= last), first / last  # measured: about 5e-6
  sigmoid_mean = train["activation_mean/hidden5"][1]
  assert np.all((sigmoid_mean > 0.3) & (sigmoid_mean < 0.7))


def test_histograms_are_logged(run):
  events = _events(os.path.join(summaries.logdir_of(run[0]), "train"))
  histograms = {v.tag for e in events for v in e.summary.value if v.HasField("histo")}
  assert histograms == ({f"weights/{n}" for n in LAYERS} |
                        {f"activations/{n}" for n in LAYERS[:-1]})


def _logged_graph(logdir):
  """The GraphDef in a run's event files, read with TensorBoard's own reader."""
  accumulator = event_accumulator.EventAccumulator(logdir)
  accumulator.Reload()
  return accumulator.Graph()


def test_the_logged_graph_is_the_models_alone(run):
  graph_def = _logged_graph(os.path.join(summaries.logdir_of(run[0]), "train"))
  names = {node.name for node in graph_def.node}
  # is_training feeds nothing this net (no batch norm, no dropout) runs.
  assert {name.split("/")[0] for name in names} == MODEL_SCOPES - {"is_training"}
  for name in ("hidden1/weights", "dnn/hidden1/MatMul", "loss/loss", "eval/accuracy",
               "train/training_op"):
    assert name in names
  assert not [n for n in names if set(n.split("/")) & set(NOT_MODEL_SCOPES)]
  assert not [node.name for node in graph_def.node
              if node.op in NOT_MODEL_OPS - {"NoOp"}]
  assert not graph_def.HasField("library")  # TensorBoard would list each cond branch.
  assert not [node.device for node in graph_def.node if node.device]  # Nothing reused.


def test_the_logged_graph_is_a_fraction_of_the_sessions(run):
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(CONFIG, 784)
    summaries.SummaryHook(dnn, "unused")
    training_hooks.ParamSnapshot()
    _V1.train.Saver()
    full = len(graph.as_graph_def().node)
    drawn = len(summaries.model_graph_def(dnn).node)
  logged = _logged_graph(os.path.join(summaries.logdir_of(run[0]), "train"))
  assert len(logged.node) == drawn
  assert drawn < full / 2, (drawn, full)  # measured: 344 of 2,025


def test_a_resumed_run_continues_the_curves(run, tmp_path):
  run_dir = str(tmp_path / "run")
  shutil.copytree(run[0], run_dir)
  result = _train(run_dir, epochs=EPOCHS + 1, resume=True)
  train = summaries.read_scalars(os.path.join(run_dir, "logs", "train"))
  steps, values = train["loss"]
  assert steps.tolist() == [4, 8, 12]
  np.testing.assert_array_equal(values, np.float32([m["loss"] for m in result.history]))
  assert train["gradient_norm/hidden1"][0].tolist() == DIAGNOSTIC_STEPS + [10, 12]


def test_read_scalars_stops_quietly_at_a_truncated_record(run, tmp_path):
  source = os.path.join(summaries.logdir_of(run[0]), "validation")
  (name,) = os.listdir(source)
  with open(os.path.join(source, name), "rb") as f:
    data = f.read()
  with open(tmp_path / name, "wb") as f:
    f.write(data[:-7])  # the last record (epoch 2's) loses its end
  steps, _ = summaries.read_scalars(str(tmp_path))["loss"]
  assert steps.tolist() == [4]


# ------------------------------------------------------ a real TensorBoard


def _free_port():
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _get(port, path, **query):
  url = f"http://127.0.0.1:{port}{path}"
  if query:
    url += "?" + urllib.parse.urlencode(query)
  with urllib.request.urlopen(url, timeout=5) as response:
    return response.read().decode()


def _wait_for_tags(process, port, expected, log):
  """Polls the scalar tags until `expected` {run: tags} are all served; returns them."""
  deadline = time.monotonic() + SERVER_DEADLINE_S
  while time.monotonic() < deadline:
    if process.poll() is not None:
      pytest.fail(f"TensorBoard exited with {process.returncode}:\n{log.read_text()}")
    try:
      tags = json.loads(_get(port, "/data/plugin/scalars/tags"))
      if all(set(t) <= set(tags.get(r, {})) for r, t in expected.items()):
        return tags
    except (urllib.error.URLError, ConnectionError, OSError):
      pass  # not listening yet
    time.sleep(0.5)
  pytest.fail(f"TensorBoard served no {expected} within {SERVER_DEADLINE_S} s:\n"
              f"{log.read_text()[-3000:]}")


def _scalar_values(port, run_name, tag):
  rows = json.loads(_get(port, "/data/plugin/scalars/scalars", run=run_name, tag=tag))
  return [row[1] for row in rows], np.array([row[2] for row in rows])


def test_tensorboard_serves_the_graph_and_the_scalars(run, scalars, tmp_path):
  run_dir, result = run
  port = _free_port()
  argv = summaries.tensorboard_command(summaries.find_logdir(run_dir), port)
  argv += ["--load_fast=false", "--reload_interval=1"]
  log = tmp_path / "tensorboard.log"
  with open(log, "wb") as out:
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
  try:
    gradient_tags = {f"gradient_norm/{name}" for name in LAYERS}
    _wait_for_tags(process, port, log=log, expected={
        "train": {"loss", "accuracy", "learning_rate"} | gradient_tags,
        "validation": {"loss", "accuracy"}})
    info = json.loads(_get(port, "/data/plugin/graphs/info"))
    assert info["train"]["run_graph"] is True
    graph = _get(port, "/data/plugin/graphs/graph", run="train")
    assert 'name: "dnn/hidden1/MatMul"' in graph
    assert 'name: "diagnostics/' not in graph
    history = result.history
    for run_name, tag, key in (("train", "loss", "loss"),
                               ("train", "accuracy", "accuracy"),
                               ("validation", "loss", "val_loss"),
                               ("validation", "accuracy", "val_accuracy")):
      steps, values = _scalar_values(port, run_name, tag)
      assert steps == [m["global_step"] for m in history]
      np.testing.assert_allclose(values, [m[key] for m in history], rtol=1e-6)
    for name in ("hidden1", "hidden10", "outputs"):
      steps, values = _scalar_values(port, "train", f"gradient_norm/{name}")
      assert steps == DIAGNOSTIC_STEPS
      np.testing.assert_allclose(values, scalars["train"][f"gradient_norm/{name}"][1],
                                 rtol=1e-6)
  finally:
    stop_process(process)


# --------------------------------------------- locating logs, the command


def test_find_logdir_prefers_the_runs_logs(run):
  assert summaries.find_logdir(run[0]) == os.path.join(run[0], "logs")
  train = os.path.join(run[0], "logs", "train")
  assert summaries.find_logdir(train) == train


def test_find_logdir_says_when_there_are_no_event_files(tmp_path):
  (tmp_path / "logs").mkdir()
  with pytest.raises(FileNotFoundError, match="No TensorBoard event files were found"):
    summaries.find_logdir(str(tmp_path))
  with pytest.raises(FileNotFoundError, match="does not exist"):
    summaries.find_logdir(str(tmp_path / "missing"))


def test_tensorboard_command_serves_loopback_only():
  argv = summaries.tensorboard_command("/runs/a b/logs", 6007)
  assert argv[1:] == ["-m", "tensorboard.main", "--logdir", "/runs/a b/logs",
                      "--host", "127.0.0.1", "--port", "6007"]
  assert "'/runs/a b/logs'" in summaries.format_command(argv)


@pytest.mark.parametrize("port, error", [(-1, ValueError), (65536, ValueError),
                                         (True, TypeError), ("6006", TypeError),
                                         (6006.0, TypeError)])
def test_tensorboard_command_rejects_bad_ports(port, error):
  with pytest.raises(error, match="port"):
    summaries.tensorboard_command("logs", port)


@pytest.mark.parametrize("every_n_steps, error", [(0, ValueError), (-3, ValueError),
                                                  (2.5, TypeError), (None, TypeError),
                                                  ("64", TypeError), (True, TypeError)])
def test_summary_hook_rejects_bad_every_n_steps(every_n_steps, error):
  with pytest.raises(error, match="every_n_steps"):
    summaries.SummaryHook.factory(every_n_steps=every_n_steps)
  with pytest.raises(error, match="every_n_steps"):
    summaries.SummaryHook(None, "logs", every_n_steps=every_n_steps)


@pytest.mark.parametrize("name, value, error, message", [
    ("histograms", 1, TypeError, "`histograms` to be a bool"),
    ("is_training", "yes", TypeError, "`is_training` to be a bool"),
    ("write_plots", None, TypeError, "`write_plots` to be a bool"),
    ("saturation_threshold", 0.0, ValueError, "saturation_threshold"),
    ("saturation_threshold", "5%", TypeError, "saturation_threshold"),
])
def test_summary_hook_rejects_bad_options(name, value, error, message):
  with pytest.raises(error, match=message):
    summaries.SummaryHook.factory(**{name: value})
  with pytest.raises(error, match=message):
    summaries.SummaryHook(None, "logs", **{name: value})


@pytest.mark.parametrize("arguments, error, message", [
    ({"restored": ["hidden1"]}, TypeError, "`restored` to be a dict"),
    ({"restored": {"hidden1": 3}}, TypeError, "checkpoint paths"),
    ({"restored": {1: "ckpt"}}, TypeError, "checkpoint paths"),
    ({"frozen": "hidden1"}, TypeError, "`frozen` to be a list"),
    ({"frozen": [1]}, TypeError, "layer scopes"),
])
def test_summary_hook_rejects_bad_transfer_facts(arguments, error, message):
  with pytest.raises(error, match=message):
    summaries.SummaryHook.factory(**arguments)


@pytest.mark.parametrize("arguments, message", [
    ({"restored": {"hidden10": "ckpt"}}, r"`restored`.*Received: \['hidden10'\]"),
    ({"frozen": ["hidden"]}, r"`frozen`.*Received: \['hidden'\]"),
])
def test_transfer_facts_must_name_layers_of_the_net(graph, arguments, message):
  dnn = build_dnn(DNNConfig(hidden_layers=(3,), batch_norm=False), 4)
  count = len(graph.get_operations())
  with pytest.raises(ValueError, match=message):
    summaries.SummaryHook(dnn, "logs", **arguments)
  assert len(graph.get_operations()) == count


# ------------------------------------------- restored and frozen layers marked

TRANSFER_INPUTS = 20
BASE = DNNConfig(hidden_layers=(8, 8, 8), n_outputs=3, dropout_rate=0.0, seed=3)
REUSED, FROZEN_LAYERS = (1, 2, 3), 2
NEW = dataclasses.replace(BASE, hidden_layers=(8, 8, 8, 6))


def _transfer_data(n, seed):
  rng = np.random.RandomState(seed)
  return (rng.rand(n, TRANSFER_INPUTS).astype(np.float32),
          rng.randint(0, 3, n).astype(np.int64))


def train_transfer_run(root):
  """Trains a base net, then one reusing its hidden1-3 (1-2 frozen) with a new hidden4.

  Returns:
    (the transfer run's directory, the base's checkpoint prefix, restored, frozen).
  """
  base_dir = os.path.join(root, "base")
  lifecycle.train(BASE, _transfer_data(100, 0), _transfer_data(50, 1),
                   run_dir=base_dir, epochs=1, verbose=0)
  pretrained = transfer.load_pretrained(base_dir)
  run_dir = os.path.join(root, "transfer")
  graph = tf.Graph()
  with graph.as_default():
    model = transfer.build_transfer_dnn(pretrained, NEW, TRANSFER_INPUTS, reuse=REUSED,
                                        frozen_layers=FROZEN_LAYERS)
    restored = {f"hidden{i}": pretrained.checkpoint for i in model.reused}
    frozen = [f"hidden{i}" for i in range(1, model.frozen_layers + 1)]
    hooks = [checkpoints.CheckpointHook(run_dir, NEW, extra={"batch_size": 50}),
             summaries.SummaryHook(model.dnn, summaries.logdir_of(run_dir),
                                   every_n_steps=1, restored=restored, frozen=frozen)]
    best_weights = training_hooks.BestWeights()
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    model.restore(sess)
    training.fit(sess, model.dnn, _transfer_data(100, 2), _transfer_data(50, 3),
                 epochs=1, hooks=hooks, best_weights=best_weights, verbose=0)
  return run_dir, pretrained.checkpoint, restored, frozen


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory):
  return train_transfer_run(str(tmp_path_factory.mktemp("transfer")))


def test_restored_layers_carry_their_mark_in_the_logged_graph(transfer_run):
  run_dir, checkpoint, _, _ = transfer_run
  graph_def = _logged_graph(os.path.join(summaries.logdir_of(run_dir), "train"))
  by_name = {node.name: node for node in graph_def.node}
  expected = {"hidden1": "/device:restored_frozen:0",
              "hidden2": "/device:restored_frozen:0", "hidden3": "/device:restored:0",
              "hidden4": "/device:new:0", "outputs": "/device:new:0"}
  for layer, device in expected.items():
    for name in (f"{layer}/weights", f"{layer}/biases" if layer == "outputs"
                 else f"{layer}/BatchNorm/beta", f"dnn/{layer}/MatMul"):
      assert by_name[name].device == device, name
    marker = by_name.get(f"{layer}/{summaries.RESTORED_MARKER}")
    if layer in ("hidden1", "hidden2", "hidden3"):
      assert tf.make_ndarray(marker.attr["value"].tensor) == checkpoint.encode()
    else:
      assert marker is None
  assert os.path.exists(os.path.join(summaries.logdir_of(run_dir), "gradient_norms.png"))
  # Gradients and the optimizer's slots are training's, not the restored layer's.
  assert by_name["hidden3/weights/Adam"].device == ""
  assert not [n for n in by_name if n.startswith("train/") and by_name[n].device]
  assert {n.split("/")[0] for n in by_name} == {
      "X", "y", "is_training", "global_step", "dnn", "loss", "train", "eval",
      "hidden1", "hidden2", "hidden3", "hidden4", "outputs"}


def test_the_transfer_text_lists_each_layers_origin(transfer_run):
  run_dir, checkpoint, _, _ = transfer_run
  accumulator = event_accumulator.EventAccumulator(
      os.path.join(summaries.logdir_of(run_dir), "train"),
      size_guidance={event_accumulator.TENSORS: 0})
  accumulator.Reload()
  (event,) = accumulator.Tensors(summaries.TRANSFER_TAG)
  text = tf.make_ndarray(event.tensor_proto).item().decode()
  assert text.startswith("**3 of 5 layers restored** (2 frozen), from checkpoint 0: "
                         f"`{checkpoint}`.\n")
  assert "| hidden1 | restored (checkpoint 0) | frozen | restored_frozen:0 |" in text
  assert "| hidden3 | restored (checkpoint 0) | trained | restored:0 |" in text
  assert "| hidden4 | new (random init) | trained | new:0 |" in text
  assert "| outputs | new (random init) | trained | new:0 |" in text


def test_a_run_without_transfer_facts_writes_no_transfer_text(run):
  accumulator = event_accumulator.EventAccumulator(
      os.path.join(summaries.logdir_of(run[0]), "train"))
  accumulator.Reload()
  assert summaries.TRANSFER_TAG not in accumulator.Tags()["tensors"]


def test_layers_from_two_checkpoints_are_numbered_in_graph_and_text(graph):
  dnn = build_dnn(DNNConfig(hidden_layers=(3, 3), batch_norm=False), 4)
  restored = {"hidden1": "runs/b/best", "hidden2": "runs/a/best"}
  graph_def = summaries.model_graph_def(dnn, restored=restored, frozen=["hidden1"])
  devices = {node.name: node.device for node in graph_def.node}
  assert devices["hidden1/weights"] == "/device:restored_frozen:1"  # runs/b: the 2nd
  assert devices["hidden2/weights"] == "/device:restored:0"
  assert devices["outputs/weights"] == "/device:new:0"
  assert devices["loss/loss"] == ""
  text = summaries.transfer_markdown(dnn.layer_scopes, restored=restored,
                                     frozen=["hidden1"])
  assert "checkpoint 0: `runs/a/best`; checkpoint 1: `runs/b/best`." in text


def test_layer_scopes_match_whole_names(graph):
  dnn = build_dnn(DNNConfig(hidden_layers=(2,) * 10, batch_norm=False,
                            dropout_rate=0.0), 4)
  graph_def = summaries.model_graph_def(dnn, restored={"hidden1": "ckpt"})
  devices = {node.name: node.device for node in graph_def.node}
  assert devices["hidden1/weights"] == "/device:restored:0"
  assert devices["dnn/hidden1/MatMul"] == "/device:restored:0"
  assert devices["hidden10/weights"] == devices["dnn/hidden10/MatMul"] == "/device:new:0"


def test_find_logdir_raises_the_packages_own_error(tmp_path):
  from dnn_toolkit.errors import DnnToolkitError, LogsNotFoundError
  with pytest.raises(LogsNotFoundError) as error:
    summaries.find_logdir(str(tmp_path / "missing"))
  assert isinstance(error.value, DnnToolkitError)


def test_summary_hook_needs_only_its_logging_steps(graph):
  from dnn_toolkit.config import DNNConfig
  from dnn_toolkit.model import build_dnn
  dnn = build_dnn(DNNConfig(hidden_layers=(4,), n_outputs=3), 5)
  hook = summaries.SummaryHook(dnn, "unused", every_n_steps=100)
  assert [hook.next_step_needed(s) for s in (0, 1, 99, 100, 250)] == [1, 100, 100, 200,
                                                                       300]
