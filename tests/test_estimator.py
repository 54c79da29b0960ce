"""Tests of `dnn_toolkit.estimator`: the Estimator, its specs, config and model dirs.

They run in this process (TF 2 behaviour; every Estimator call builds its own graph)
on small seeded data, checking numbers against NumPy. TF 1.x programs through the
stand-in are in test_estimator_programs.py, the canned models in
test_estimator_canned.py, inputs and export in test_estimator_io.py.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from _helpers import files_of, stop_process

from dnn_toolkit import checkpoints, summaries
from dnn_toolkit.errors import (
  ArgumentError,
  ArgumentTypeError,
  CheckpointError,
  RunLockedError,
  ShapeMismatchError,
)
from dnn_toolkit.estimator import (
  Estimator,
  EstimatorSpec,
  EvalSpec,
  FinalExporter,
  LatestExporter,
  ModeKeys,
  RunConfig,
  TrainSpec,
  WarmStartSettings,
  add_metrics,
  export,
  inputs,
  train_and_evaluate,
)

V1 = tf.compat.v1
N, N_FEATURES = 240, 4
TRUE_W = np.array([[1.5], [-2.0], [0.5], [3.0]], np.float32)


def make_data():
  """(X [240, 4] float32, y [240] float32): y = X @ TRUE_W + 1 + noise."""
  rng = np.random.default_rng(0)
  X = rng.normal(size=(N, N_FEATURES)).astype(np.float32)
  y = (X @ TRUE_W + 1.0)[:, 0] + rng.normal(scale=0.1, size=N).astype(np.float32)
  return X, y.astype(np.float32)


@pytest.fixture(scope="module")
def data():
  return make_data()


def linear_model_fn(features, labels, mode, params):
  """Linear regression on get_variable and tf ops, plain gradient descent."""
  n_features = features["x"].shape[-1]
  w = V1.get_variable("w", [n_features, 1], initializer=V1.zeros_initializer())
  b = V1.get_variable("b", [1], initializer=V1.zeros_initializer())
  prediction = (tf.matmul(features["x"], w) + b)[:, 0]  # [batch]
  if mode == ModeKeys.PREDICT:
    return EstimatorSpec(mode, predictions={"y": prediction})
  loss = V1.losses.mean_squared_error(labels, prediction)
  if mode == ModeKeys.EVAL:
    return EstimatorSpec(mode, loss=loss, predictions={"y": prediction},
                         eval_metric_ops={"mae": V1.metrics.mean_absolute_error(
                             labels, prediction)})
  train_op = V1.train.GradientDescentOptimizer(params["learning_rate"]).minimize(
      loss, global_step=V1.train.get_global_step())
  return EstimatorSpec(mode, loss=loss, train_op=train_op)


def make_estimator(model_dir, **config):
  config.setdefault("tf_random_seed", 7)
  return Estimator(linear_model_fn, model_dir=str(model_dir),
                   params={"learning_rate": 0.1}, config=RunConfig(**config))


def train_input(data, batch_size=40, num_epochs=None):
  X, y = data
  return inputs.numpy_input_fn({"x": X}, y, batch_size=batch_size,
                               num_epochs=num_epochs, shuffle=True)


def eval_input(data, batch_size=60):
  X, y = data
  return inputs.numpy_input_fn({"x": X}, y, batch_size=batch_size, shuffle=False)


# ------------------------------------------------- train, evaluate, predict: numbers


def test_train_evaluate_and_predict_agree_with_numpy(data, tmp_path):
  X, y = data
  est = make_estimator(tmp_path / "m")
  assert est.train(train_input(data), steps=60) is est
  assert est.get_variable_value("global_step") == 60
  w, b = est.get_variable_value("w"), est.get_variable_value("b")
  np.testing.assert_allclose(w, TRUE_W, atol=0.1)  # Learned the map.
  expected = (X @ w + b)[:, 0]
  predicted = np.array([p["y"] for p in est.predict(eval_input(data))])
  np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
  metrics = est.evaluate(eval_input(data))
  # Four equal batches: the mean of the batch losses is the mean over every example.
  assert metrics["global_step"] == 60
  np.testing.assert_allclose(metrics["loss"], np.mean((expected - y) ** 2), rtol=1e-5)
  np.testing.assert_allclose(metrics["mae"], np.mean(np.abs(expected - y)), rtol=1e-5)
  batches = list(est.predict(eval_input(data, batch_size=100),
                             yield_single_examples=False))
  assert [len(batch["y"]) for batch in batches] == [100, 100, 40]


def test_steps_add_up_and_max_steps_is_a_total(data, tmp_path):
  est = make_estimator(tmp_path / "m", save_checkpoints_steps=5)
  est.train(train_input(data), steps=10).train(train_input(data), steps=10)
  assert est.get_variable_value("global_step") == 20
  before = files_of(est.model_dir)
  est.train(train_input(data), max_steps=15)  # Already past: nothing happens.
  assert files_of(est.model_dir) == before
  est.train(train_input(data), max_steps=30)
  assert est.get_variable_value("global_step") == 30
  assert est.latest_checkpoint() == os.path.join(est.model_dir, "model.ckpt-30")


def test_training_ends_with_the_input(data, tmp_path):
  est = make_estimator(tmp_path / "m")
  est.train(train_input(data, batch_size=50, num_epochs=2))  # 480 rows: 10 batches.
  assert est.get_variable_value("global_step") == 10


def test_model_dir_has_the_layout_of_a_tf1_estimator(data, tmp_path):
  est = make_estimator(tmp_path / "m", save_checkpoints_steps=10, save_summary_steps=5,
                       log_step_count_steps=5, keep_checkpoint_max=2)
  est.train(train_input(data), steps=30)
  names = set(os.listdir(est.model_dir))
  assert {"checkpoint", "graph.pbtxt", ".lock", "model.ckpt-30.index",
          "model.ckpt-30.meta", "model.ckpt-20.index"} <= names
  assert "model.ckpt-10.index" not in names  # keep_checkpoint_max=2
  with open(os.path.join(est.model_dir, "checkpoint")) as f:  # Relative, as TF 1.x's.
    assert f.readline() == 'model_checkpoint_path: "model.ckpt-30"\n'

  scalars = summaries.read_scalars(est.model_dir)
  # Every 5 steps from the first, as TF 1.x's summary hook: it decides from the step it
  # fetched with the train op, which may be read before or after that op's increment,
  # so a summary lands on step 5k or 5k+1.
  steps = [int(step) for step in scalars["loss"][0]]
  assert steps[0] == 1 and 26 <= steps[-1] <= 30, steps
  assert all(4 <= b - a <= 6 for a, b in zip(steps, steps[1:])), steps
  assert "global_step/sec" in scalars
  est.evaluate(eval_input(data))
  est.evaluate(eval_input(data), name="train_data")
  evaluated = summaries.read_scalars(est.eval_dir())
  assert list(evaluated["loss"][0]) == [30] and list(evaluated["mae"][0]) == [30]
  assert os.path.isdir(os.path.join(est.model_dir, "eval_train_data"))


def test_model_fn_may_take_any_subset_of_its_arguments(data, tmp_path):
  seen = {}

  def features_labels(features, labels):
    seen["two"] = True
    return linear_model_fn(features, labels, ModeKeys.TRAIN, {"learning_rate": 0.1})

  def with_config(features, labels, config, mode):
    seen["config"], seen["mode"] = config, mode
    return linear_model_fn(features, labels, mode, {"learning_rate": 0.1})

  for i, fn in enumerate((features_labels, with_config)):
    Estimator(fn, model_dir=str(tmp_path / str(i))).train(train_input(data), steps=1)
  assert seen["two"] and seen["mode"] == ModeKeys.TRAIN
  assert isinstance(seen["config"], RunConfig)
  assert seen["config"].model_dir == str(tmp_path / "1")


def test_input_fn_may_return_a_dataset_and_take_params(data, tmp_path):
  X, y = data

  def input_fn(params, mode):
    assert params == {"learning_rate": 0.1} and mode == ModeKeys.EVAL
    return tf.data.Dataset.from_tensor_slices(({"x": X}, y)).batch(60)

  est = make_estimator(tmp_path / "m")
  est.train(train_input(data), steps=5)
  from_dataset = est.evaluate(input_fn)
  assert from_dataset["loss"] == pytest.approx(est.evaluate(eval_input(data))["loss"])


# ---------------------------------------------------------- EstimatorSpec and model_fn


def test_estimator_spec_checks_its_fields(graph):
  loss = tf.constant(1.0)
  with pytest.raises(ArgumentError, match="Missing train_op.*mode 'train'"):
    EstimatorSpec(ModeKeys.TRAIN, loss=loss)
  with pytest.raises(ArgumentError, match="Missing loss.*mode 'eval'"):
    EstimatorSpec(ModeKeys.EVAL)
  with pytest.raises(ArgumentError, match="Missing predictions"):
    EstimatorSpec(ModeKeys.PREDICT)
  with pytest.raises(ArgumentError, match=r"Loss must be scalar.*shape \(2,\)"):
    EstimatorSpec(ModeKeys.EVAL, loss=tf.constant([1.0, 2.0]))
  with pytest.raises(ArgumentTypeError, match="training_hooks.*SessionRunHook"):
    EstimatorSpec(ModeKeys.EVAL, loss=loss, training_hooks=["not a hook"])
  with pytest.raises(ArgumentTypeError, match="eval_metric_ops.*update op"):
    EstimatorSpec(ModeKeys.EVAL, loss=loss, eval_metric_ops={"a": loss})
  with pytest.raises(ArgumentError, match="one of \\['train', 'eval', 'infer'\\]"):
    EstimatorSpec("predict", predictions=loss)
  spec = EstimatorSpec(ModeKeys.EVAL, loss=tf.constant([3.0]))
  assert spec.loss.shape.rank == 0 and isinstance(spec.scaffold, V1.train.Scaffold)
  predict = EstimatorSpec(ModeKeys.PREDICT, predictions={"p": loss})
  assert list(predict.export_outputs) == ["serving_default"]


@pytest.mark.parametrize("model_fn, params, message", [
    (lambda x, labels: None, None, "expected a function with a `features` argument"),
    (lambda features, labels, extra: None, None, "also takes extra"),
    (lambda features, labels: None, {"a": 1}, "takes no `params` argument"),
    ("model_fn", None, "to be a function"),
])
def test_bad_model_fn_is_refused_at_construction(model_fn, params, message, tmp_path):
  with pytest.raises((ArgumentError, ArgumentTypeError), match=message) as error:
    Estimator(model_fn, model_dir=str(tmp_path / "m"), params=params)
  assert error.value.argument in ("model_fn", "params")
  assert not os.path.exists(tmp_path / "m")


# -------------------------------------------------- bad input: one line, nothing written


def _returns_a_dict(features, labels, mode):
  return {"loss": tf.constant(1.0)}


def _trains_only(features, labels, mode, params):
  if mode == ModeKeys.TRAIN:
    return linear_model_fn(features, labels, mode, params)
  return None  # Does not handle EVAL or PREDICT.


@pytest.mark.parametrize("case", ["no_spec", "mode_not_handled", "three_tuple",
                                  "none_from_input_fn", "input_fn_arguments",
                                  "spec_of_another_mode"])
def test_bad_model_fn_or_input_fn_fails_in_one_line_writing_nothing(case, data,
                                                                   tmp_path):
  model_dir = tmp_path / "m"
  params = {"learning_rate": 0.1}
  model_fn, call, message = {
      "no_spec": (_returns_a_dict, "train", "should return an EstimatorSpec for mode "
                  "'train'. Received: a dict"),
      "mode_not_handled": (_trains_only, "evaluate", "for mode 'eval'. Received: "
                           "None: it does not handle that mode"),
      "three_tuple": (linear_model_fn, "train3", "len 2 tuple; for mode 'train' it "
                      "returned a tuple of 3"),
      "none_from_input_fn": (linear_model_fn, "train_none", "its features are a "
                             "NoneType"),
      "input_fn_arguments": (linear_model_fn, "train_batch", "takes batch_size"),
      "spec_of_another_mode": (lambda features, labels: linear_model_fn(
          features, labels, ModeKeys.TRAIN, params), "evaluate",
          "called with mode 'eval' and returned an EstimatorSpec of mode 'train'"),
  }[case]
  est = Estimator(model_fn, model_dir=str(model_dir),
                  params=params if "params" in model_fn.__code__.co_varnames else None)
  X, y = data
  calls = {
      "train": lambda: est.train(train_input(data), steps=1),
      "evaluate": lambda: est.evaluate(eval_input(data)),
      "train3": lambda: est.train(lambda: ({"x": X}, y, y), steps=1),
      "train_none": lambda: est.train(lambda: None, steps=1),
      "train_batch": lambda: est.train(lambda batch_size: None, steps=1),
  }
  with pytest.raises(ArgumentError) as error:
    calls[call]()
  assert message in str(error.value)
  assert "\n" not in str(error.value)
  assert error.value.argument in ("model_fn", "input_fn")
  assert not os.path.exists(model_dir)


def test_model_dir_of_another_model_is_refused_with_nothing_written(data, tmp_path):
  model_dir = tmp_path / "m"
  make_estimator(model_dir).train(train_input(data), steps=3)
  before = files_of(str(model_dir))

  def other_model_fn(features, labels, mode):
    hidden = V1.get_variable("hidden", [N_FEATURES, 3])
    loss = tf.reduce_mean(tf.matmul(features["x"], hidden))
    return EstimatorSpec(mode, loss=loss, predictions={"h": loss},
                         train_op=V1.assign_add(V1.train.get_global_step(), 1))

  other = Estimator(other_model_fn, model_dir=str(model_dir))
  with tf.Graph().as_default():
    receiver_fn = _raw_receiver_fn()
  for call in (lambda: other.train(train_input(data), steps=1),
               lambda: other.evaluate(eval_input(data)),
               lambda: next(other.predict(eval_input(data))),
               lambda: other.export_saved_model(str(tmp_path / "export"),
                                                receiver_fn)):
    with pytest.raises(CheckpointError, match=r"holds another model: its checkpoint "
                       r"model.ckpt-3 lacks 1 variable\(s\) of this model_fn's graph "
                       r"\(hidden\)"):
      call()
  assert files_of(str(model_dir)) == before
  assert not os.path.exists(tmp_path / "export")


def test_model_dir_of_other_sizes_and_a_toolkit_run_are_refused(data, tmp_path):
  model_dir = tmp_path / "m"
  make_estimator(model_dir).train(train_input(data), steps=3)
  before = files_of(str(model_dir))
  wider = {"x": np.concatenate([data[0], data[0]], axis=1)}
  with pytest.raises(ShapeMismatchError, match=r"w: graph \[8, 1\], checkpoint "
                     r"\[4, 1\].*holds another model of other sizes"):
    make_estimator(model_dir).train(inputs.numpy_input_fn(wider, data[1],
                                                          shuffle=False), steps=1)
  assert files_of(str(model_dir)) == before
  run_dir = tmp_path / "run"
  run_dir.mkdir()
  (run_dir / checkpoints.STATE_FILE).write_text("{}")
  with pytest.raises(CheckpointError, match="holds a dnn_toolkit training run"):
    make_estimator(run_dir).train(train_input(data), steps=1)
  assert sorted(os.listdir(run_dir)) == [checkpoints.STATE_FILE]


def test_damaged_latest_checkpoint_is_refused_naming_the_intact_one(data, tmp_path):
  est = make_estimator(tmp_path / "m", save_checkpoints_steps=5)
  est.train(train_input(data), steps=10)
  data_file = os.path.join(est.model_dir, "model.ckpt-10.data-00000-of-00001")
  with open(data_file, "r+b") as f:
    f.truncate(os.path.getsize(data_file) // 2)
  before = files_of(est.model_dir)
  with pytest.raises(CheckpointError, match=r"model.ckpt-10 is damaged.*the newest "
                     r"intact one is .*model.ckpt-5"):
    est.train(train_input(data), steps=1)
  assert files_of(est.model_dir) == before


# ------------------------------------------------------ the run lock and interrupts


_BLOCKED_TRAINER = """
import sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, {tests!r})
import test_estimator as t
from dnn_toolkit.estimator import ModeKeys

class Block(tf.compat.v1.train.SessionRunHook):
  def after_run(self, run_context, run_values):
    print("training", flush=True)
    sys.stdin.readline()  # Holds the Session (and the lock) until the test lets go.

est = t.make_estimator({model_dir!r})
est.train(t.train_input(t.make_data()), steps=1, hooks=[Block()])
print("done", flush=True)
"""


def test_a_second_trainer_is_refused_naming_the_pid(data, tmp_path):
  model_dir = str(tmp_path / "m")
  code = _BLOCKED_TRAINER.format(tests=os.path.dirname(__file__), model_dir=model_dir)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=env)
  try:
    assert proc.stdout.readline() == "training\n"  # It holds the lock now.
    before = files_of(model_dir)
    with pytest.raises(RunLockedError, match=f"process {proc.pid} is training there"):
      make_estimator(model_dir).train(train_input(data), steps=1)
    assert files_of(model_dir) == before
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "done\n"
    assert proc.wait(timeout=60) == 0
  finally:
    stop_process(proc)
  make_estimator(model_dir).train(train_input(data), steps=1)  # Free again.


class _InterruptAt(V1.train.SessionRunHook):
  """Raises KeyboardInterrupt (Ctrl-C) after global step `step`."""

  def __init__(self, step):
    self.step = step

  def begin(self):
    self._global_step = V1.train.get_global_step()

  def after_run(self, run_context, run_values):
    # Read after the step: fetched with the train op, the read may precede the update.
    if run_context.session.run(self._global_step) == self.step:
      raise KeyboardInterrupt


def test_ctrl_c_saves_the_step_it_stopped_at(data, tmp_path):
  est = make_estimator(tmp_path / "m", save_checkpoints_steps=100)
  with pytest.raises(KeyboardInterrupt):
    est.train(train_input(data), steps=50, hooks=[_InterruptAt(7)])
  assert est.latest_checkpoint().endswith("model.ckpt-7")
  est.train(train_input(data), max_steps=10)  # Resumes from step 7.
  assert est.get_variable_value("global_step") == 10


# ----------------------------------------------------------------------- RunConfig


def test_run_config_has_tf1_defaults_and_replace(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  config = RunConfig()
  assert (config.save_checkpoints_secs, config.save_checkpoints_steps) == (600, None)
  assert (config.save_summary_steps, config.keep_checkpoint_max,
          config.log_step_count_steps) == (100, 5, 100)
  assert (config.is_chief, config.task_type, config.task_id, config.master,
          config.num_ps_replicas, config.num_worker_replicas) == (
              True, "worker", 0, "", 0, 1)
  steps = RunConfig(save_checkpoints_steps=50)
  assert (steps.save_checkpoints_steps, steps.save_checkpoints_secs) == (50, None)
  replaced = config.replace(save_checkpoints_steps=10)
  assert (replaced.save_checkpoints_steps, replaced.save_checkpoints_secs) == (10, None)
  assert config.save_checkpoints_secs == 600  # Unchanged.
  with pytest.raises(ArgumentError, match="both .*save_checkpoints_steps"):
    RunConfig(save_checkpoints_steps=1, save_checkpoints_secs=1)
  with pytest.raises(ArgumentError, match="replace cannot change"):
    config.replace(is_chief=False)
  with pytest.raises(ArgumentError, match="log_step_count_steps"):
    RunConfig(log_step_count_steps=0)
  with pytest.raises(ArgumentError, match="tf.distribute strategies are not supported"):
    RunConfig(train_distribute=object())


CLUSTER = {"chief": ["127.0.0.1:2220"], "ps": ["127.0.0.1:2221", "127.0.0.1:2222"],
           "worker": ["127.0.0.1:2223", "127.0.0.1:2224"]}


@pytest.mark.parametrize("task, expected", [
    ({"type": "chief", "index": 0},
     dict(is_chief=True, master="grpc://127.0.0.1:2220", num_ps_replicas=2,
          num_worker_replicas=3, global_id_in_cluster=0)),
    ({"type": "worker", "index": 1},
     dict(is_chief=False, master="grpc://127.0.0.1:2224", num_ps_replicas=2,
          num_worker_replicas=3, global_id_in_cluster=2)),
    ({"type": "ps", "index": 1},
     dict(is_chief=False, master="grpc://127.0.0.1:2222", global_id_in_cluster=4)),
    ({"type": "evaluator", "index": 0},
     dict(is_chief=False, master="", num_ps_replicas=0, num_worker_replicas=0)),
])
def test_run_config_reads_its_task_from_tf_config(task, expected, monkeypatch):
  monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": task}))
  config = RunConfig()
  assert (config.task_type, config.task_id) == (task["type"], task["index"])
  for name, value in expected.items():
    assert getattr(config, name) == value, name
  if task["type"] != "evaluator":
    assert config.cluster_spec.as_dict() == CLUSTER
  else:
    assert not config.cluster_spec.jobs


@pytest.mark.parametrize("tf_config, message", [
    ({"cluster": {"ps": ["h:1"], "worker": ["h:2"]}, "task": {"type": "worker",
                                                              "index": 0}},
     "expected a 'chief' job"),
    ({"cluster": {"chief": ["h:1", "h:3"], "ps": ["h:2"]},
      "task": {"type": "chief", "index": 0}}, "expected one chief task"),
    ({"cluster": {"chief": ["h:1"], "worker": ["h:2"]},
      "task": {"type": "chief", "index": 0}}, "at least one 'ps' task"),
    ({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}},
     "index of the job 'worker' in [0, 1]"),
    ({"cluster": CLUSTER, "task": {"type": "evaluator", "index": 1}},
     "there is one evaluator task"),
    ({"task": {"type": "ps", "index": 0}}, "without a 'cluster' the task must be"),
])
def test_bad_tf_config_is_one_line_naming_it(tf_config, message, monkeypatch):
  monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
  with pytest.raises(ValueError) as error:
    RunConfig()
  assert message in str(error.value) and "TF_CONFIG" in str(error.value)


def test_model_dir_from_the_config_or_a_temporary_one(tmp_path, monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  est = Estimator(linear_model_fn, config=RunConfig(model_dir=str(tmp_path / "a")),
                  params={})
  assert est.model_dir == str(tmp_path / "a")
  with pytest.raises(ArgumentError, match="another model_dir"):
    Estimator(linear_model_fn, model_dir=str(tmp_path / "b"),
              config=RunConfig(model_dir=str(tmp_path / "a")), params={})
  temporary = Estimator(linear_model_fn, params={}).model_dir
  assert os.path.isdir(temporary) and not os.listdir(temporary)
  os.rmdir(temporary)


# ------------------------------------------------------- warm start, metrics, specs


def test_warm_start_takes_the_trainable_variables_of_another_model(data, tmp_path):
  source = make_estimator(tmp_path / "a")
  source.train(train_input(data), steps=20)
  frozen = Estimator(linear_model_fn, model_dir=str(tmp_path / "b"),
                     params={"learning_rate": 0.0},
                     warm_start_from=source.model_dir)
  frozen.train(train_input(data), steps=1)
  for name in ("w", "b"):
    np.testing.assert_array_equal(frozen.get_variable_value(name),
                                  source.get_variable_value(name))
  only_w = Estimator(linear_model_fn, model_dir=str(tmp_path / "c"),
                     params={"learning_rate": 0.0},
                     warm_start_from=WarmStartSettings(source.model_dir, "w"))
  only_w.train(train_input(data), steps=1)
  np.testing.assert_array_equal(only_w.get_variable_value("w"),
                                source.get_variable_value("w"))
  np.testing.assert_array_equal(only_w.get_variable_value("b"), [0.0])


def test_add_metrics_and_reserved_metric_names(data, tmp_path):
  est = make_estimator(tmp_path / "m")
  est.train(train_input(data), steps=5)

  def metric_fn(predictions, labels):
    return {"rmse": V1.metrics.root_mean_squared_error(labels, predictions["y"])}

  metrics = add_metrics(est, metric_fn).evaluate(eval_input(data))
  assert metrics["rmse"] == pytest.approx(np.sqrt(metrics["loss"]), rel=1e-5)

  def loss_metric(features, labels, mode):
    spec = linear_model_fn(features, labels, mode, {"learning_rate": 0.1})
    return spec._replace(eval_metric_ops={"loss": V1.metrics.mean(spec.loss)})

  with pytest.raises(ArgumentError, match="Metric with name 'loss' is not allowed"):
    Estimator(loss_metric, model_dir=est.model_dir).evaluate(eval_input(data))


def test_evaluate_without_a_checkpoint_uses_initial_values(data, tmp_path):
  _, y = data
  metrics = make_estimator(tmp_path / "m").evaluate(eval_input(data))
  assert metrics["global_step"] == 0
  np.testing.assert_allclose(metrics["loss"], np.mean(y ** 2), rtol=1e-5)  # w = b = 0
  with pytest.raises(ArgumentError, match="Could not find trained model"):
    make_estimator(tmp_path / "n").get_variable_names()


def test_predict_keys(data, tmp_path):
  est = make_estimator(tmp_path / "m")
  est.train(train_input(data), steps=2)
  first = next(est.predict(eval_input(data), predict_keys=["y"]))
  assert list(first) == ["y"]
  with pytest.raises(ArgumentError, match="predict_keys.*\\['y'\\]"):
    next(est.predict(eval_input(data), predict_keys=["z"]))


# -------------------------------------------------------- train_and_evaluate (local)


def _raw_receiver_fn():
  return export.build_raw_serving_input_receiver_fn(
      {"x": V1.placeholder(tf.float32, [None, N_FEATURES])})


def test_train_and_evaluate_locally_evaluates_after_checkpoints_and_exports(
    data, tmp_path):
  est = make_estimator(tmp_path / "m", save_checkpoints_steps=10)
  with tf.Graph().as_default():
    receiver_fn = _raw_receiver_fn()
  train_spec = TrainSpec(train_input(data), max_steps=30)
  eval_spec = EvalSpec(eval_input(data), steps=None, throttle_secs=0,
                       exporters=[FinalExporter("final", receiver_fn),
                                  LatestExporter("latest", receiver_fn,
                                                 exports_to_keep=2)])
  metrics, exports = train_and_evaluate(est, train_spec, eval_spec)
  assert metrics["global_step"] == 30
  assert metrics == pytest.approx(est.evaluate(eval_input(data)))
  evaluated = summaries.read_scalars(est.eval_dir())
  assert list(evaluated["loss"][0]) == [10, 20, 30]  # After each checkpoint.
  assert len(exports) == 2 and all(isinstance(e, bytes) for e in exports)
  export_dir = os.path.join(est.model_dir, "export")
  assert len(os.listdir(os.path.join(export_dir, "final"))) == 1
  assert len(os.listdir(os.path.join(export_dir, "latest"))) <= 2


def test_train_and_evaluate_checks_its_specs(data, tmp_path):
  est = make_estimator(tmp_path / "m")
  with pytest.raises(ArgumentError, match="max_steps"):
    TrainSpec(train_input(data), max_steps=0)
  with pytest.raises(ArgumentError, match="throttle_secs"):
    EvalSpec(eval_input(data), throttle_secs=-1)
  with pytest.raises(ArgumentTypeError, match="tf.estimator.EvalSpec"):
    train_and_evaluate(est, TrainSpec(train_input(data)), None)
