"""TF 1.x Estimator programs, written as tutorials wrote them, through `dnn-toolkit run`.

A custom `model_fn` MLP on MNIST with `tf.estimator.inputs.numpy_input_fn` trains,
evaluates, predicts and exports; the tests recompute its accuracy and loss from its
predictions with NumPy, load its SavedModel in a fresh TensorFlow 2 process, kill it
with SIGKILL mid-training and resume it, point TensorBoard at its model_dir, and run a
`DNNClassifier` with `train_and_evaluate` on a cluster of a chief, a worker, a ps and
an evaluator on 127.0.0.1 (`dnn-toolkit cluster --script`). MNIST is the 1,600 + 400
image subset of tests/test_distributed.py; every process started is ended by its pid.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import test_cli_tensorboard
from test_cli_tensorboard import _end, _start, _wait_until_served
from test_distributed import small_mnist  # noqa: F401  # pylint: disable=unused-import
from test_tf1 import child_env, run_child

from dnn_toolkit import cli, summaries
from dnn_toolkit.cluster import launcher

RUNNER = [sys.executable, "-m", "dnn_toolkit", "run"]
STEPS = 300
CLUSTER_TIMEOUT_S = 300

# The MLP of TF 1.x's "Creating Estimators" tutorials: a model_fn on tf.layers, the
# arrays through numpy_input_fn, a LoggingTensorHook on the softmax, then evaluate,
# predict and export. Arguments: DATA MODEL_DIR OUT_JSON MAX_STEPS [BLOCK_AT_STEP].
MNIST_MLP = """\
import json, sys
import numpy as np
import tensorflow as tf

data, model_dir, out, max_steps = sys.argv[1:5]
block_at = int(sys.argv[5]) if len(sys.argv) > 5 else None
tf.logging.set_verbosity(tf.logging.INFO)


def mlp_model_fn(features, labels, mode, params):
  net = tf.reshape(features["x"], [-1, 784])
  for units in params["hidden_units"]:
    net = tf.layers.dense(net, units=units, activation=tf.nn.relu)
  logits = tf.layers.dense(net, units=10)
  predictions = {
      "classes": tf.argmax(input=logits, axis=1),
      "probabilities": tf.nn.softmax(logits, name="softmax_tensor")}
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode=mode, predictions=predictions)
  loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  if mode == tf.estimator.ModeKeys.TRAIN:
    optimizer = tf.train.AdamOptimizer(learning_rate=0.001)
    train_op = optimizer.minimize(loss=loss, global_step=tf.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)
  eval_metric_ops = {"accuracy": tf.metrics.accuracy(
      labels=labels, predictions=predictions["classes"])}
  return tf.estimator.EstimatorSpec(mode=mode, loss=loss,
                                    eval_metric_ops=eval_metric_ops)


class StartAndBlock(tf.train.SessionRunHook):
  # Says where training starts; stops (for a SIGKILL) after step `block_at`.
  def begin(self):
    self._step = tf.train.get_global_step()

  def after_create_session(self, session, coord):
    print("start step", session.run(self._step), flush=True)

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._step)

  def after_run(self, run_context, run_values):
    if block_at is not None and run_values.results + 1 == block_at:
      print("blocked at step", block_at, flush=True)
      sys.stdin.readline()


(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data(path=data)
train_data = (x_train / 255.0).reshape(-1, 784).astype(np.float32)
train_labels = y_train.astype(np.int32)
eval_data = (x_test / 255.0).reshape(-1, 784).astype(np.float32)
eval_labels = y_test.astype(np.int32)

mnist_classifier = tf.estimator.Estimator(
    model_fn=mlp_model_fn, model_dir=model_dir, params={"hidden_units": [128]},
    config=tf.estimator.RunConfig(tf_random_seed=42, save_checkpoints_steps=50,
                                  save_summary_steps=50, log_step_count_steps=50))
logging_hook = tf.train.LoggingTensorHook(
    tensors={"probabilities": "softmax_tensor"}, every_n_iter=100)
train_input_fn = tf.estimator.inputs.numpy_input_fn(
    x={"x": train_data}, y=train_labels, batch_size=100, num_epochs=None,
    shuffle=True)
mnist_classifier.train(input_fn=train_input_fn, max_steps=int(max_steps),
                       hooks=[logging_hook, StartAndBlock()])

eval_input_fn = tf.estimator.inputs.numpy_input_fn(
    x={"x": eval_data}, y=eval_labels, batch_size=100, num_epochs=1, shuffle=False)
eval_results = mnist_classifier.evaluate(input_fn=eval_input_fn)
predict_input_fn = tf.estimator.inputs.numpy_input_fn(
    x={"x": eval_data}, num_epochs=1, shuffle=False)
predictions = list(mnist_classifier.predict(input_fn=predict_input_fn))


def serving_input_receiver_fn():
  x = tf.placeholder(tf.float32, [None, 784], name="x")
  return tf.estimator.export.ServingInputReceiver({"x": x}, {"x": x})


export_dir = mnist_classifier.export_savedmodel(model_dir + "/export",
                                                serving_input_receiver_fn)
json.dump({
    "eval": {k: float(v) for k, v in eval_results.items()},
    "classes": [int(p["classes"]) for p in predictions],
    "probabilities": [p["probabilities"].tolist() for p in predictions],
    "export_dir": export_dir.decode(),
    "variables": mnist_classifier.get_variable_names(),
}, open(out, "w"))
"""


def _labels(small_mnist_path):
  with np.load(small_mnist_path) as mnist:
    return mnist["x_test"], mnist["y_test"].astype(np.int64)


def _run_mlp(tmp_path, data, model_dir, max_steps=STEPS):
  script = tmp_path / "mnist_mlp.py"
  script.write_text(MNIST_MLP)
  out = tmp_path / "results.json"
  proc = run_child(RUNNER + [str(script), data, model_dir, str(out), str(max_steps)],
                   cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return json.loads(out.read_text()), proc


@pytest.fixture(scope="module")
def mlp_run(small_mnist, tmp_path_factory):  # pylint: disable=redefined-outer-name
  """(model_dir, results, stdout+stderr) of the tutorial MLP trained STEPS steps."""
  tmp_path = tmp_path_factory.mktemp("mlp")
  model_dir = str(tmp_path / "model")
  results, proc = _run_mlp(tmp_path, small_mnist, model_dir)
  return model_dir, results, proc.stdout + proc.stderr


def test_tutorial_mlp_trains_evaluates_and_predicts(mlp_run, small_mnist):
  _, results, output = mlp_run
  _, labels = _labels(small_mnist)
  evaluated = results["eval"]
  assert evaluated["global_step"] == STEPS
  assert evaluated["accuracy"] > 0.85  # A 784-128-10 MLP on 1,600 images.
  classes = np.array(results["classes"])
  probabilities = np.array(results["probabilities"])  # [400, 10]
  assert classes.shape == labels.shape
  # evaluate's metrics, recomputed with NumPy from what predict gave: four equal
  # batches, so the mean of the batch losses is the mean loss.
  np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))
  assert evaluated["accuracy"] == pytest.approx(np.mean(classes == labels), abs=1e-6)
  cross_entropy = -np.log(probabilities[np.arange(len(labels)), labels])
  assert evaluated["loss"] == pytest.approx(cross_entropy.mean(), rel=1e-4)
  assert {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
          "global_step", "dense/kernel/Adam", "beta1_power"} <= set(results["variables"])
  assert "start step 0" in output
  assert "probabilities = [[" in output  # The LoggingTensorHook, at INFO.
  assert "Loss for final step:" in output


def test_the_savedmodel_serves_in_a_fresh_tf2_process(mlp_run, small_mnist, tmp_path):
  results = mlp_run[1]
  images, _ = _labels(small_mnist)
  np.save(tmp_path / "images.npy", (images[:50] / 255.0).reshape(-1, 784))
  code = f"""
import json, numpy as np, tensorflow as tf
model = tf.saved_model.load({results["export_dir"]!r})
serve = model.signatures["serving_default"]
out = serve(x=tf.constant(np.load({str(tmp_path / "images.npy")!r}), tf.float32))
print(json.dumps({{k: v.numpy().tolist() for k, v in out.items()}}))
"""
  proc = run_child([sys.executable, "-c", code], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  served = json.loads(proc.stdout.strip().splitlines()[-1])
  assert sorted(served) == ["classes", "probabilities"]
  np.testing.assert_allclose(served["probabilities"],
                             np.array(results["probabilities"])[:50], atol=1e-6)
  np.testing.assert_array_equal(served["classes"], results["classes"][:50])


def test_tensorboard_reads_the_model_dir(mlp_run, monkeypatch):
  model_dir, _, _ = mlp_run
  # A deadline that fails only on a hang: TensorBoard starts slowly on a busy machine.
  monkeypatch.setattr(test_cli_tensorboard, "START_DEADLINE_S", 300)
  port = launcher.free_ports(1)[0]
  proc = _start(model_dir, port)
  try:
    _wait_until_served(proc, port)
    url = f"http://127.0.0.1:{port}/data/plugin/scalars/tags"
    with urllib.request.urlopen(url, timeout=30) as reply:
      tags = json.loads(reply.read())
  finally:
    _end(proc, port)
  assert {"loss", "global_step/sec"} <= set(tags["."])
  assert {"accuracy", "loss"} <= set(tags["eval"])
  train = summaries.read_scalars(model_dir)
  assert list(train["loss"][0]) == [1, 51, 101, 151, 201, 251]
  assert list(summaries.read_scalars(os.path.join(model_dir, "eval"))["accuracy"][0]) \
      == [STEPS]
  assert os.path.isfile(os.path.join(model_dir, "graph.pbtxt"))


def test_sigkill_mid_training_resumes_from_the_last_checkpoint(small_mnist, tmp_path):
  script = tmp_path / "mnist_mlp.py"
  script.write_text(MNIST_MLP)
  model_dir = str(tmp_path / "model")
  argv = RUNNER + [str(script), small_mnist, model_dir, str(tmp_path / "out.json"),
                   "200", "130"]
  proc = subprocess.Popen(argv, cwd=tmp_path, env=child_env(), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
  try:
    deadline = time.monotonic() + 240
    line = ""
    while line != "blocked at step 130\n":  # Stops after step 130, holding its lock.
      assert time.monotonic() < deadline, "the trainer never reached step 130"
      line = proc.stdout.readline()
      assert line, f"the trainer ended: {proc.wait()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  with open(os.path.join(model_dir, "checkpoint")) as f:
    assert f.readline() == 'model_checkpoint_path: "model.ckpt-100"\n'
  results, resumed = _run_mlp(tmp_path, small_mnist, model_dir, max_steps=200)
  # 30 steps lost, fewer than the 50 between checkpoints; nothing else.
  assert "start step 100" in resumed.stdout + resumed.stderr
  assert results["eval"]["global_step"] == 200
  assert results["eval"]["accuracy"] > 0.8
  assert not any(name.startswith(".tmp") for name in os.listdir(model_dir))


# The premade DNNClassifier of TF 1.x's "Premade Estimators" guide, distributed with
# train_and_evaluate: each task reads its role from TF_CONFIG. Arguments: DATA
# MODEL_DIR. Each task prints its pid and the steps it trained.
DISTRIBUTED_DNN = """\
import os, sys
import numpy as np
import tensorflow as tf

data, model_dir = sys.argv[1:3]
print("pid", os.getpid(), flush=True)
(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data(path=data)
x_train = (x_train / 255.0).reshape(-1, 784).astype(np.float32)
x_test = (x_test / 255.0).reshape(-1, 784).astype(np.float32)


class CountSteps(tf.train.SessionRunHook):
  def begin(self):
    self.steps = 0

  def after_run(self, run_context, run_values):
    self.steps += 1

  def end(self, session):
    config = tf.estimator.RunConfig()
    print("trained", config.task_type, self.steps, flush=True)


feature_columns = [tf.feature_column.numeric_column("x", shape=[784])]
classifier = tf.estimator.DNNClassifier(
    feature_columns=feature_columns, hidden_units=[64], n_classes=10,
    optimizer=tf.train.AdamOptimizer(0.002),
    config=tf.estimator.RunConfig(model_dir=model_dir, save_checkpoints_steps=50,
                                  tf_random_seed=3,
                                  experimental_max_worker_delay_secs=1))
train_input_fn = tf.estimator.inputs.numpy_input_fn(
    {"x": x_train}, y_train.astype(np.int32), batch_size=50, num_epochs=None,
    shuffle=True)
eval_input_fn = tf.estimator.inputs.numpy_input_fn(
    {"x": x_test}, y_test.astype(np.int32), batch_size=100, shuffle=False)


def serving_input_receiver_fn():
  x = tf.placeholder(tf.float32, [None, 784], name="x")
  return tf.estimator.export.ServingInputReceiver({"x": x}, {"x": x})


train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=200,
                                    hooks=[CountSteps()])
eval_spec = tf.estimator.EvalSpec(
    eval_input_fn, steps=None, start_delay_secs=0, throttle_secs=1,
    exporters=tf.estimator.FinalExporter("mnist", serving_input_receiver_fn))
tf.estimator.train_and_evaluate(classifier, train_spec, eval_spec)
"""


def test_train_and_evaluate_on_a_ps_cluster(small_mnist, tmp_path):
  script = tmp_path / "distributed_dnn.py"
  script.write_text(DISTRIBUTED_DNN)
  model_dir = str(tmp_path / "model")
  argv = [sys.executable, "-m", "dnn_toolkit", "cluster", "--ps", "1", "--workers", "2",
          "--evaluator", "--script", str(script), small_mnist, model_dir]
  proc = run_child(argv, cwd=tmp_path, timeout=CLUSTER_TIMEOUT_S)
  output = proc.stdout + proc.stderr
  assert proc.returncode == 0, output[-6000:]
  lines = output.splitlines()
  pids = [int(line.split()[-1]) for line in lines if " pid " in line]
  assert len(pids) == 4  # chief, worker, ps, evaluator: each ended by the launcher.
  for pid in pids:
    with pytest.raises(ProcessLookupError):
      os.kill(pid, 0)
  steps = {line.split()[-2]: int(line.split()[-1]) for line in lines
           if "] trained " in line}
  # Both trained the one model on the ps: their steps add up to the global step.
  assert steps["chief"] > 0 and steps["worker"] > 0
  with open(os.path.join(model_dir, "checkpoint")) as f:
    final = int(f.readline().split("-")[-1].strip('"\n'))
  assert 200 <= final <= steps["chief"] + steps["worker"] <= final + 2
  assert any("[ps 0] ps 0: all 2 workers finished" in line for line in lines)
  with open(os.path.join(model_dir, "graph.pbtxt")) as f:
    graph = f.read()
  assert 'name: "dnn/hiddenlayer_0/kernel/part_0"\n  op: "VarHandleOp"' in graph or (
      'name: "dnn/hiddenlayer_0/kernel/part_0"\n  op: "VariableV2"' in graph)
  assert 'device: "/job:ps/task:0"' in graph
  evaluated = summaries.read_scalars(os.path.join(model_dir, "eval"))
  assert evaluated["accuracy"][0][-1] == final  # The evaluator saw the last one.
  assert evaluated["accuracy"][1][-1] > 0.8
  exports = os.listdir(os.path.join(model_dir, "export", "mnist"))
  assert len(exports) == 1
  assert os.path.isfile(os.path.join(model_dir, "export", "mnist", exports[0],
                                     "saved_model.pb"))


@pytest.mark.parametrize("argv, message", [
    (["--ps", "1", "--workers", "2", "--script"], "--script needs a SCRIPT"),
    (["--ps", "1", "--workers", "2", "--evaluator"], "--evaluator goes with --script"),
    (["--ps", "1", "--workers", "2", "--epochs", "3", "--script", "{script}"],
     "--epochs does not go with --script"),
    (["--ps", "1", "--workers", "0", "--script", "{script}"],
     "Expected --workers to be a positive integer with --script. Received: --workers 0"),
    (["--workers", "2", "--script", "{script}"],
     "Expected --ps to be a positive integer with --script. Received: no --ps"),
    (["--ps", "1", "--workers", "2", "--script", "{missing}"], "--script: "),
])
def test_cluster_script_refuses_bad_flags_in_one_line_starting_nothing(
    argv, message, tmp_path, capsys):
  script = tmp_path / "train.py"
  script.write_text(DISTRIBUTED_DNN)
  argv = [a.format(script=script, missing=tmp_path / "missing.py") for a in argv]
  assert cli.main(["cluster"] + argv) == cli.EXIT_ERROR
  out, err = capsys.readouterr()
  assert message in err and err.count("\n") == 1
  assert "[cluster]" not in out  # Nothing was launched.
  assert os.listdir(tmp_path) == ["train.py"]
