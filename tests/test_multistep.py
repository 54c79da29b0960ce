"""Tests of several training steps per Session call (dnn_toolkit.training.multistep in fit).

The promise: K steps in one call leave every variable bit for bit where K calls of one
step leave them (dropout, batch norm and max-norm on), a NaN at a step inside a call is
reported with that step, calls end where hooks need a step (checkpoints every N steps,
an interrupt), and a run interrupted and resumed reaches the uninterrupted weights.
"""

import dataclasses
import json
import os
import signal
import threading

import numpy as np
import pytest
import tensorflow as tf

from _cli_jobs import cli

from dnn_toolkit import checkpoints, scopes

from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import mnist
from dnn_toolkit.data import scaling
from dnn_toolkit.errors import TrainingDivergedError
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training
from dnn_toolkit.training import multistep

V1 = tf.compat.v1
N_INPUTS = 20
# Dropout with a seed (per-step masks from the global step), batch norm, max-norm.
FULL = DNNConfig(hidden_layers=(16, 8), n_outputs=3, dropout_rate=0.3, max_norm=1.0,
                 seed=7)
PLAIN = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                  dropout_rate=0.0, seed=7)
DIVERGING = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                      dropout_rate=0.0, optimizer="sgd", learning_rate=1e6, seed=7)
# 240 examples in batches of 32: 8 steps an epoch, the last of 16 examples.
FIT = {"epochs": 2, "batch_size": 32, "verbose": 0}


def _train(config, train, valid, **kwargs):
  """Fits a fresh `config` net; returns ({variable: value}, state, used multi-step)."""
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    init = V1.global_variables_initializer()
    with V1.Session(graph=graph) as sess:
      sess.run(init)
      state = training.fit(sess, dnn, train, valid, **{**FIT, **kwargs})
      variables = graph.get_collection(V1.GraphKeys.GLOBAL_VARIABLES)
      values = dict(zip([v.op.name for v in variables], sess.run(variables)))
      used = any(op.name.startswith("multistep/") for op in graph.get_operations())
  return values, state, used


def _assert_same_values(got, expected):
  assert set(got) == set(expected)
  for name, value in expected.items():
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def _uint8_toy_data(toy_data):
  """The toy data quantized to uint8: as ScaledImages and as the float32 it reads as."""
  (X, y), (X_valid, y_valid) = toy_data
  pixels = np.round(X / X.max() * 255).astype(np.uint8)
  compact = data.ScaledImages(pixels)
  return (compact, y), (np.asarray(compact), y), (X_valid, y_valid)


@pytest.mark.parametrize("config", [FULL, PLAIN], ids=["dropout-bn-maxnorm", "plain"])
@pytest.mark.parametrize("steps_per_call", [5, None])
def test_multistep_reaches_the_per_step_weights_bit_for_bit(toy_data, config,
                                                             steps_per_call):
  expected, expected_state, used = _train(config, *toy_data, steps_per_call=1)
  assert not used
  got, state, used = _train(config, *toy_data, steps_per_call=steps_per_call)
  assert used
  _assert_same_values(got, expected)
  assert state.global_step == expected_state.global_step == 16
  for metrics, reference in zip(state.history, expected_state.history):
    reference = dict(reference, seconds=metrics["seconds"])
    assert metrics == reference  # Losses and accuracies summed in the same order.


def test_uint8_images_in_the_graph_train_as_their_float32_values(toy_data):
  compact, floats, valid = _uint8_toy_data(toy_data)
  expected, _, _ = _train(FULL, floats, valid, steps_per_call=1)
  got, _, used = _train(FULL, compact, valid, steps_per_call=4)
  assert used
  _assert_same_values(got, expected)
  fed, _, used = _train(FULL, compact, valid, steps_per_call=1)  # Converted per batch.
  assert not used
  _assert_same_values(fed, expected)


def test_a_fit_per_epoch_copies_the_training_set_into_the_graph_once(toy_data,
                                                                     monkeypatch):
  # A `fit` per epoch (as the benchmark and TF 1.x-style loops call it) must not copy
  # the training set again each time; the loaders' marked arrays (ScaledArray) too.
  (X, y), valid = toy_data
  marked = np.asarray(X, np.float32).view(scaling.ScaledArray)
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(PLAIN, N_INPUTS)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      fetched = []
      real_run = sess.run
      monkeypatch.setattr(sess, "run", lambda fetches, *args, **kwargs: (
          fetched.append(fetches) or real_run(fetches, *args, **kwargs)))

      def loads():
        return sum(isinstance(f, list) and any(
            getattr(op, "name", "") == "multistep/images/Assign" for op in f)
                   for f in fetched)

      state = training.fit(sess, dnn, (marked, y), valid, **FIT, steps_per_call=4)
      state = training.fit(sess, dnn, (marked, y), valid, **{**FIT, "epochs": 3},
                           state=state, steps_per_call=4)
      assert state.global_step == 24
      assert loads() == 1
      other = marked[::-1].copy()  # Another array: its values are loaded.
      training.fit(sess, dnn, (other, y), valid, **{**FIT, "epochs": 4}, state=state,
                   steps_per_call=4)
      assert loads() == 2
      multi = multistep.build(sess, dnn, other, y, FIT["batch_size"])
      np.testing.assert_array_equal(real_run(multi._images), other)


def test_scaled_images_read_as_numpy_float32_division():
  pixels = np.arange(256, dtype=np.uint8).reshape(8, 32)
  images = data.ScaledImages(pixels)
  expected = np.divide(pixels, np.float32(255), dtype=np.float32)
  assert images.shape == (8, 32) and len(images) == 8 and images.dtype == np.float32
  np.testing.assert_array_equal(np.asarray(images), expected)
  np.testing.assert_array_equal(images[[3, 1]], expected[[3, 1]])
  np.testing.assert_array_equal(images * 2, expected * 2)
  assert images.max() == 1.0 and images[0].dtype == np.float32


@pytest.mark.parametrize("pixels, scale, error, match", [
    (np.zeros((2, 3), np.float32), 255, TypeError, "uint8 array"),
    ([[1, 2]], 255, TypeError, "uint8 array"),
    (np.zeros((2, 3), np.uint8), 0, ValueError, "scale=0"),
    (np.zeros((2, 3), np.uint8), True, ValueError, "scale=True"),
])
def test_scaled_images_refuse_bad_arguments(pixels, scale, error, match):
  with pytest.raises(error, match=match):
    data.ScaledImages(pixels, scale)


class EveryN(training.Hook):
  """Needs every `n`-th step; records what `after_step` saw there."""

  def __init__(self, n):
    self.n, self.seen = n, []

  def begin(self, sess, dnn, state):
    self.global_step = dnn.global_step

  def next_step_needed(self, global_step):
    return (global_step // self.n + 1) * self.n

  def after_step(self, sess, state, loss, X_batch, y_batch):
    self.seen.append((state.global_step, int(sess.run(self.global_step)),
                      len(X_batch)))


def test_calls_end_at_the_steps_hooks_need_and_at_epoch_ends(toy_data):
  hook = EveryN(3)
  _, _, used = _train(PLAIN, *toy_data, steps_per_call=100, hooks=[hook])
  assert used
  # Steps 3, 6, 9, 12, 15 for the hook; 8 and 16 end the epochs (16 examples each).
  assert hook.seen == [(3, 3, 32), (6, 6, 32), (8, 8, 16), (9, 9, 32), (12, 12, 32),
                       (15, 15, 32), (16, 16, 16)]


def test_a_hook_without_declared_steps_keeps_one_step_per_call(toy_data):

  class EveryStep:  # Not a Hook subclass and no next_step_needed: sees every step.
    def __init__(self):
      self.steps = []

    def after_step(self, sess, state, loss, X_batch, y_batch):
      self.steps.append(state.global_step)

  hook = EveryStep()
  _, _, used = _train(PLAIN, *toy_data, hooks=[hook])
  assert not used and hook.steps == list(range(1, 17))


def test_a_nan_inside_a_call_is_reported_with_its_step(toy_data):
  with pytest.raises(TrainingDivergedError) as per_step:
    _train(DIVERGING, *toy_data, epochs=3, steps_per_call=1)
  with pytest.raises(TrainingDivergedError) as multi:
    _train(DIVERGING, *toy_data, epochs=3, steps_per_call=50)
  assert str(multi.value) == str(per_step.value)
  assert "at epoch 1, batch " in str(multi.value)
  assert "No checkpoint had been written" in str(multi.value)


@pytest.fixture
def checkpoints_declare_steps(monkeypatch):
  """CheckpointHook declaring its save steps, so runs with it train several steps per
  call (checkpoints.py is asked to define this method itself)."""

  def next_step_needed(self, global_step):
    n = self.save_every_steps
    return (global_step // n + 1) * n if n else None

  monkeypatch.setattr(checkpoints.CheckpointHook, "next_step_needed", next_step_needed,
                      raising=False)


def test_no_checkpoint_is_written_after_a_nan_inside_a_call(tmp_path, toy_data,
                                                            checkpoints_declare_steps):
  del checkpoints_declare_steps  # Used for its effect.
  with pytest.raises(TrainingDivergedError) as raised:
    _train(DIVERGING, *toy_data, steps_per_call=1)
  bad_step = int(str(raised.value).split("(global step ")[1].split(")")[0])
  run_dir = str(tmp_path / "run")
  with pytest.raises(TrainingDivergedError, match=f"global step {bad_step}\\)"):
    lifecycle.train(DIVERGING, *toy_data, run_dir=run_dir, epochs=3, batch_size=32,
                     save_every_steps=2, verbose=0)
  written = [int(name.split("-")[1].split(".")[0])
             for name in os.listdir(os.path.join(run_dir, "latest")) if "ckpt-" in name]
  assert written and max(written) < bad_step


def test_save_every_steps_checkpoints_the_weights_of_exactly_that_step(
    tmp_path, toy_data, checkpoints_declare_steps):
  del checkpoints_declare_steps  # Used for its effect.
  saved = {}
  for steps_per_call in (1, 100):
    run_dir = str(tmp_path / f"k{steps_per_call}")
    used = _train_with_checkpoints(FULL, toy_data, steps_per_call, run_dir)
    assert used == (steps_per_call > 1)
    saved[steps_per_call] = scopes.load_values(
        os.path.join(run_dir, "latest", "model.ckpt-15"))
  assert saved[100]["global_step"] == 15
  _assert_same_values(saved[100], saved[1])


def _train_with_checkpoints(config, toy_data, steps_per_call, run_dir):
  """Fits with a CheckpointHook saving every 5 steps; returns whether it multi-stepped."""
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    hook = checkpoints.CheckpointHook(run_dir, config, save_every_steps=5)
    init = V1.global_variables_initializer()
    with V1.Session(graph=graph) as sess:
      sess.run(init)
      training.fit(sess, dnn, *toy_data, hooks=[hook],
                   **{**FIT, "steps_per_call": steps_per_call})
      return any(op.name.startswith("multistep/") for op in graph.get_operations())


class InterruptAt(training.Hook):
  """Raises KeyboardInterrupt (as Ctrl-C does) after a given step, a declared one."""

  def __init__(self, global_step):
    self.global_step = global_step

  def next_step_needed(self, global_step):
    return self.global_step if global_step < self.global_step else None

  def after_step(self, sess, state, loss, X_batch, y_batch):
    if state.global_step == self.global_step:
      raise KeyboardInterrupt


def test_resume_after_an_interrupt_reaches_the_uninterrupted_weights(
    tmp_path, toy_data, checkpoints_declare_steps):
  del checkpoints_declare_steps  # Used for its effect.
  run = {"epochs": 3, "batch_size": 32, "patience": None, "verbose": 0}
  reference_dir, run_dir = str(tmp_path / "reference"), str(tmp_path / "run")
  lifecycle.train(FULL, *toy_data, run_dir=reference_dir, **run)
  with pytest.raises(KeyboardInterrupt):
    lifecycle.train(FULL, *toy_data, run_dir=run_dir, **run, save_every_steps=4,
                     hook_factories=[lambda dnn, run_dir: InterruptAt(11)])
  saved = checkpoints.read_run_state(run_dir)
  assert (saved["state"]["global_step"], saved["state"]["batch"]) == (11, 3)
  lifecycle.train(FULL, *toy_data, run_dir=run_dir, resume=True, **run)
  expected = scopes.load_values(os.path.join(reference_dir, "latest",
                                                  "model.ckpt-24"))
  _assert_same_values(scopes.load_values(
      os.path.join(run_dir, "latest", "model.ckpt-24")), expected)


def test_a_ctrl_c_during_a_call_is_held_until_the_call_is_counted(toy_data):
  seen = []

  class Watch(training.Hook):
    def begin(self, sess, dnn, state):
      self.global_step = dnn.global_step
      self.sent = False

    def next_step_needed(self, global_step):
      return None  # Any call's end will do: the calls stay 4 steps long.

    def after_step(self, sess, state, loss, X_batch, y_batch):
      # Once a call has been counted (the loop holds Ctrl-C from then on), Ctrl-C
      # comes from another thread while the next calls run (epochs of 8 steps, 2 calls
      # each); when it lands is up to the machine, as a user's key press.
      if not self.sent:
        self.sent = True
        threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT)).start()

    def on_interrupt(self, sess, state):
      seen.append((state.global_step, int(sess.run(self.global_step))))

  with pytest.raises(KeyboardInterrupt):
    _train(PLAIN, *toy_data, epochs=100000, steps_per_call=4, hooks=[Watch()])
  (counted, ran), = seen
  assert counted == ran > 0  # The state counts every step the variables took.
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError),
                                          (2.5, TypeError), ("64", TypeError),
                                          (True, TypeError)])
def test_bad_steps_per_call_is_refused(toy_data, value, error):
  with pytest.raises(error, match="steps_per_call"):
    _train(PLAIN, *toy_data, steps_per_call=value)


def test_unsupported_reason_names_a_finalized_graph(toy_data):
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(PLAIN, N_INPUTS)
    graph.finalize()
    assert multistep.unsupported_reason(dnn, *toy_data[0]) == "the graph is finalized"


def test_compact_mnist_reads_as_the_float32_mnist():
  floats, compact = mnist.load_mnist(), mnist.load_mnist(compact=True)
  for got, expected in zip(compact, floats):
    assert isinstance(got.images, data.ScaledImages)
    assert got.images.pixels.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(got.images), expected.images)
    np.testing.assert_array_equal(got.labels, expected.labels)
  assert compact.identity == floats.identity
  # A run record names the same data either way, so a run resumes on either.
  assert (data.data_identity(compact.train, compact.validation) ==
          data.data_identity(floats.train, floats.validation))


def test_load_mnist_refuses_a_non_bool_compact():
  with pytest.raises(TypeError, match="compact=1"):
    mnist.load_mnist(compact=1)


def test_tf1_behavior_trains_by_feeding_each_step(run_python):
  # Reference variables and TF 1.x control flow cannot be copied into the loop body.
  out = run_python("""
      import dnn_toolkit
      dnn_toolkit.enable_tf1_behavior()
      import tensorflow as tf
      from conftest import _make_toy_data
      from dnn_toolkit.training import multistep
      from dnn_toolkit.training import loop as training
      from dnn_toolkit.config import DNNConfig
      from dnn_toolkit.model import build_dnn
      (X, y), valid = _make_toy_data()
      with tf.Graph().as_default() as graph:
        dnn = build_dnn(DNNConfig(hidden_layers=(8,), n_outputs=3, seed=1), 20)
        init = tf.compat.v1.global_variables_initializer()
        print(multistep.unsupported_reason(dnn, X, y))
        with tf.compat.v1.Session(graph=graph) as sess:
          sess.run(init)
          state = training.fit(sess, dnn, (X, y), valid, epochs=1, batch_size=32,
                               verbose=0)
          print(state.global_step, sess.run(dnn.global_step),
                any(op.name.startswith("multistep/") for op in graph.get_operations()))
  """)
  assert out.splitlines()[-2:] == ["TF 1.x control flow is enabled", "8 8 False"]


@pytest.fixture
def blocks_of_three(monkeypatch):
  """Fast mode's compiled blocks hold 3 steps of the toy batch of 32 (96 examples)."""
  monkeypatch.setattr(multistep, "FAST_BLOCK_EXAMPLES", 96)


def _compiled_calls(graph):
  """The calls of functions XLA must compile in `graph` (the loop bodies hold them)."""
  functions = graph.as_graph_def().library.function
  return [node.name for function in functions for node in function.node_def
          if node.op in ("PartitionedCall", "StatefulPartitionedCall")
          and node.attr["_XlaMustCompile"].b]


def _train_fast(config, train, valid, **kwargs):
  """`_train` with `fast=True`; also asserts the steps ran in XLA-compiled calls."""
  compiled = []
  real_fit = training.fit

  def fit(sess, *args, **fit_kwargs):
    state = real_fit(sess, *args, **fit_kwargs)
    compiled.extend(_compiled_calls(sess.graph))
    return state

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(training, "fit", fit)
    values, state, used = _train(config, train, valid, fast=True, **kwargs)
  assert used and compiled
  return values, state


# Batch norm's statistics are summed in another order by XLA: further from the exact
# path than the plain net's float32 rounding, still far below a step's size.
BN_MAXNORM = dataclasses.replace(FULL, dropout_rate=0.0)


@pytest.mark.parametrize("config, atol", [(PLAIN, 1e-5), (BN_MAXNORM, 5e-3)],
                         ids=["plain", "bn-maxnorm"])
def test_fast_mode_trains_as_the_exact_path_up_to_rounding(toy_data, config, atol,
                                                             blocks_of_three):
  expected, expected_state, _ = _train(config, *toy_data, steps_per_call=1)
  got, state = _train_fast(config, *toy_data)
  assert state.global_step == expected_state.global_step == 16
  assert set(got) == set(expected)
  for name, value in expected.items():
    np.testing.assert_allclose(got[name], value, rtol=0, atol=atol, err_msg=name)
  for metrics, reference in zip(state.history, expected_state.history):
    assert metrics["loss"] == pytest.approx(reference["loss"], rel=atol)


def test_fast_mode_dropout_is_seeded_by_the_step_as_the_exact_path(toy_data,
                                                                  blocks_of_three):
  # XLA draws dropout's masks with its own Philox stream, so they are not the exact
  # path's masks; they are as reproducible: the same run twice, the same weights.
  first, state = _train_fast(FULL, *toy_data, epochs=3)
  again, _ = _train_fast(FULL, *toy_data, epochs=3)
  _assert_same_values(again, first)
  assert state.global_step == 24
  losses = [metrics["loss"] for metrics in state.history]
  assert losses[-1] < losses[0]


def test_fast_mode_gives_the_same_weights_whatever_the_machine_speed(
    toy_data, blocks_of_three, monkeypatch):
  # The automatic K follows the measured speed; in fast mode calls still end on the
  # compiled blocks' boundaries, so the arithmetic, and the weights, stay the same.
  runs = []
  for seconds in (1e-9, 1e9):  # One block per call; as many steps as a call may run.
    monkeypatch.setattr(training, "TARGET_SECONDS_PER_CALL", seconds)
    runs.append(_train(PLAIN, *toy_data, epochs=3, fast=True)[0])
  _assert_same_values(runs[1], runs[0])


def test_a_nan_in_fast_mode_is_reported_with_its_step(toy_data, blocks_of_three):
  with pytest.raises(TrainingDivergedError) as per_step:
    _train(DIVERGING, *toy_data, epochs=3, steps_per_call=1)
  with pytest.raises(TrainingDivergedError) as fast:
    _train(DIVERGING, *toy_data, epochs=3, fast=True)
  assert str(fast.value) == str(per_step.value)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_non_bool_fast_is_refused(toy_data, value):
  with pytest.raises(TypeError, match="fast"):
    _train(PLAIN, *toy_data, fast=value)


def test_a_step_xla_cannot_compile_trains_on_the_exact_path_and_says_so(
    toy_data, blocks_of_three):
  # A piecewise schedule branches on the global step: XLA would get the Switch ops
  # TensorFlow lowers that branch to.
  config = dataclasses.replace(PLAIN, schedule="piecewise", boundaries=(5,),
                               values=(0.01, 0.001))
  expected, _, _ = _train(config, *toy_data, steps_per_call=1)
  with pytest.warns(UserWarning) as caught:
    got, _, used = _train(config, *toy_data, fast=True)
  assert used
  _assert_same_values(got, expected)
  (warning,) = [w for w in caught if "fast=True" in str(w.message)]
  assert str(warning.message).startswith(
      "fast=True: XLA cannot compile this net's training step: it branches on other "
      "values than is_training, at train/PiecewiseConstant/")
  assert str(warning.message).endswith("It trains on the exact path.")


def test_an_op_xla_refuses_when_compiling_falls_back_before_any_step(
    toy_data, blocks_of_three, monkeypatch):
  # Without the training specialization, batch norm's gradient keeps Optional ops
  # XLA refuses when it compiles the first call: no step may have run by then.
  monkeypatch.setattr(multistep, "_specialized_for_training",
                      lambda dnn, graph_def: graph_def)
  expected, _, _ = _train(FULL, *toy_data, steps_per_call=1)
  with pytest.warns(UserWarning, match=r"^fast=True: XLA cannot compile this net's "
                    r"training step: it has \w+ ops\. It trains on the exact path\.$"):
    got, state, _ = _train(FULL, *toy_data, fast=True)
  _assert_same_values(got, expected)
  assert state.global_step == 16


def test_train_fast_on_the_command_line(tmp_path):
  data = tmp_path / "flowers.csv"
  rng = np.random.default_rng(0)
  classes = rng.integers(0, 3, 240)
  features = classes[:, None] + rng.normal(scale=0.3, size=(240, 4))
  with open(data, "w") as f:
    f.write("a,b,c,d,kind\n")
    f.writelines(",".join(f"{v:.2f}" for v in row) + f",{c}\n"
                 for row, c in zip(features, classes))
  records = {}
  for name, extra in (("exact", []), ("fast", ["--fast"])):
    run_dir = str(tmp_path / name)
    code, _, err = cli("train", "--data", str(data), "--label-column", "kind",
                       "--hidden-layers", "16", "--epochs", "10", "--batch-size", "20",
                       "--run-dir", run_dir, "--quiet", *extra)
    assert (code, err) == (0, ""), err
    records[name] = checkpoints.RunRecord.read(run_dir)
  exact, fast = records["exact"].state, records["fast"].state
  assert fast.global_step == exact.global_step
  assert fast.history[-1]["val_loss"] < fast.history[0]["val_loss"]
  assert fast.history[-1]["val_loss"] == pytest.approx(exact.history[-1]["val_loss"],
                                                       rel=0.25)
  assert "fast" not in json.dumps(records["fast"].extra)  # Not kept for a resume.
