"""Tests of dnn_toolkit.training.loop: fit, evaluate, predict, early stopping, progress.

A tiny net trains for a few steps on synthetic data (20 features, 3 classes). The checks
are what the lesson insists on: batch-norm statistics move while training, dropout is off
at evaluation, max-norm holds after every step, early stopping restores the best weights,
a seed makes runs repeatable, and a diverging run stops at once.
"""

import contextlib
import io
import math
import os
import re
import signal

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import TrainingDivergedError
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training

V1 = tf.compat.v1
N_INPUTS = 20
SMALL = DNNConfig(hidden_layers=(16, 8), n_outputs=3, dropout_rate=0.0)
# Without batch norm and dropout the graph builds and runs about three times faster.
PLAIN = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False, dropout_rate=0.0)
# Plain gradient descent at this rate overflows within a few steps.
DIVERGING = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                      dropout_rate=0.0, optimizer="sgd", learning_rate=1e6)


class Recorder:
  """A hook recording its calls, the step losses and, per epoch, the model's values."""

  def __init__(self):
    self.calls, self.losses, self.epoch_values = [], [], []

  def begin(self, sess, dnn, state):
    self.calls.append("begin")
    self.variables = sess.graph.get_collection(V1.GraphKeys.MODEL_VARIABLES)

  def after_step(self, sess, state, loss, X_batch, y_batch):
    self.calls.append("after_step")
    self.losses.append((state.global_step, loss))

  def after_epoch(self, sess, state, metrics, improved):
    self.calls.append("after_epoch")
    self.epoch_values.append(sess.run(self.variables))

  def on_interrupt(self, sess, state):
    self.calls.append("on_interrupt")

  def on_diverged(self, sess, state):
    self.calls.append("on_diverged")

  def end(self, sess, state):
    self.calls.append("end")


def _start(config, graph):
  """Builds `config`'s DNN in `graph`; returns it and a Session with fresh variables."""
  with graph.as_default():
    dnn = build_dnn(config, N_INPUTS)
    init = V1.global_variables_initializer()
  sess = V1.Session(graph=graph)
  sess.run(init)
  return dnn, sess


@pytest.fixture
def session():
  """`start(config)` -> (dnn, sess): a fresh graph, the default one until the test ends."""
  with contextlib.ExitStack() as stack:

    def start(config):
      graph = tf.Graph()
      stack.enter_context(graph.as_default())
      dnn, sess = _start(config, graph)
      stack.enter_context(sess)
      return dnn, sess

    yield start


def _fit(sess, dnn, data, **kwargs):
  kwargs = {"epochs": 2, "batch_size": 32, "verbose": 0, **kwargs}
  return training.fit(sess, dnn, data[0], data[1], **kwargs)


# What training must do ----------------------------------------------------------------


def test_batch_norm_moving_statistics_change_during_training(session, toy_data):
  dnn, sess = session(SMALL)
  stats = [v for v in dnn.train_op.graph.get_collection(V1.GraphKeys.MODEL_VARIABLES)
           if "moving_" in v.op.name]
  assert len(stats) == 4
  initial = sess.run(stats)
  _fit(sess, dnn, toy_data, epochs=1)
  trained = sess.run(stats)
  for name, before, after in zip([v.op.name for v in stats], initial, trained):
    assert not np.allclose(before, after), name
  training.evaluate(sess, dnn, *toy_data[1])  # Evaluation leaves them alone.
  for after, again in zip(trained, sess.run(stats)):
    np.testing.assert_array_equal(after, again)


def test_dropout_is_inactive_at_evaluation(session, toy_data):
  config = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                     dropout_rate=0.5)
  dnn, sess = session(config)
  _fit(sess, dnn, toy_data, epochs=1)
  X_valid, y_valid = toy_data[1]
  first = training.evaluate(sess, dnn, X_valid, y_valid)
  assert first == training.evaluate(sess, dnn, X_valid, y_valid)
  np.testing.assert_array_equal(training.predict(sess, dnn, X_valid),
                                training.predict(sess, dnn, X_valid))
  # Training mode does drop: the same inputs give other logits.
  train_logits = sess.run(dnn.logits, {dnn.X: X_valid, dnn.is_training: True})
  sess.run(dnn.global_step.assign_add(1))
  assert not np.allclose(
      train_logits, sess.run(dnn.logits, {dnn.X: X_valid, dnn.is_training: True}))


def test_max_norm_holds_after_every_step(session, toy_data):
  config = DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, max_norm=0.5, initializer="normal",
                     optimizer="sgd", learning_rate=0.5)
  dnn, sess = session(config)
  hidden = dnn.weights[:-1]
  assert all(np.linalg.norm(w, axis=1).max() > 0.5 for w in sess.run(hidden))
  norms = []

  class NormHook:
    def after_step(self, sess, state, loss, X_batch, y_batch):
      norms.append(max(np.linalg.norm(w, axis=1).max() for w in sess.run(hidden)))

  _fit(sess, dnn, toy_data, epochs=1, hooks=[NormHook()])
  assert len(norms) == 8
  assert max(norms) <= 0.5 * (1 + 1e-5)
  assert max(norms) > 0.49  # The step pushes past the threshold; the clip brings back.


def test_early_stopping_stops_and_restores_the_best_weights(session, make_toy_data):
  # Labels that are noise: the validation loss is lowest early, then rises.
  (X, _), (X_valid, _) = make_toy_data(n_train=100, n_valid=100)
  rng = np.random.default_rng(1)
  data = ((X, rng.integers(0, 3, 100)), (X_valid, rng.integers(0, 3, 100)))
  config = DNNConfig(hidden_layers=(64,), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, learning_rate=0.02)
  dnn, sess = session(config)
  recorder = Recorder()
  state = _fit(sess, dnn, data, epochs=40, batch_size=20, patience=3, hooks=[recorder])
  assert state.stopped_early
  assert state.epoch == len(state.history) == state.best_epoch + 3 < 40
  val_losses = [m["val_loss"] for m in state.history]
  assert state.best_val_loss == min(val_losses) == val_losses[state.best_epoch - 1]
  assert state.epochs_without_improvement == 3
  # The weights at the end are those of the best epoch, not of the last.
  best = recorder.epoch_values[state.best_epoch - 1]
  for variable, value in zip(recorder.variables, best):
    np.testing.assert_array_equal(sess.run(variable), value, err_msg=variable.op.name)
  assert not all(np.array_equal(a, b) for a, b in zip(best, recorder.epoch_values[-1]))
  assert training.evaluate(sess, dnn, *data[1])["loss"] == pytest.approx(
      state.best_val_loss, rel=1e-6)
  assert recorder.calls[-1] == "end"


def test_the_same_seed_gives_identical_losses(session, toy_data):
  def losses(seed):
    dnn, sess = session(DNNConfig(hidden_layers=(16, 8), n_outputs=3, batch_norm=False,
                                  dropout_rate=0.3, seed=seed))
    recorder = Recorder()
    state = _fit(sess, dnn, toy_data, hooks=[recorder])
    return recorder.losses, [(m["loss"], m["val_loss"]) for m in state.history]
  first = losses(3)
  assert losses(3) == first
  assert losses(4) != first


def test_a_diverging_loss_stops_training_naming_epoch_and_step(session, toy_data):
  dnn, sess = session(DIVERGING)
  recorder = Recorder()
  with pytest.raises(TrainingDivergedError) as raised:
    _fit(sess, dnn, toy_data, epochs=3, hooks=[recorder])
  last_good = recorder.losses[-1][0]
  assert all(math.isfinite(loss) for _, loss in recorder.losses)
  assert last_good < 8  # It diverged within the first epoch.
  message = str(raised.value)
  assert (f"at epoch 1, batch {last_good + 1} (global step {last_good + 1})"
          in message), message
  assert "No checkpoint had been written" in message
  # Only `on_diverged` runs after the divergence (logs flush): no epoch end, no `end`.
  assert recorder.calls == ["begin"] + ["after_step"] * last_good + ["on_diverged"]


def test_a_diverging_loss_names_the_last_good_checkpoint(session, toy_data):
  dnn, sess = session(DIVERGING)

  class FakeCheckpoints:
    last_checkpoint = "runs/x/latest/model.ckpt-2"

  with pytest.raises(TrainingDivergedError,
                     match=r"Last good checkpoint: runs/x/latest/model.ckpt-2$"):
    _fit(sess, dnn, toy_data, hooks=[FakeCheckpoints()])


def test_hooks_are_called_in_order(session, toy_data):
  dnn, sess = session(PLAIN)
  recorder = Recorder()
  state = _fit(sess, dnn, toy_data, hooks=[recorder])
  epoch = ["after_step"] * 8 + ["after_epoch"]  # 240 examples in batches of 32
  assert recorder.calls == ["begin"] + epoch + epoch + ["end"]
  assert [step for step, _ in recorder.losses] == list(range(1, 17))
  assert (state.epoch, state.batch, state.global_step) == (2, 0, 16)
  assert sess.run(dnn.global_step) == 16
  assert [m["epoch"] for m in state.history] == [1, 2]


def test_keyboard_interrupt_runs_on_interrupt_and_propagates(session, toy_data):
  dnn, sess = session(PLAIN)
  recorder, seen = Recorder(), []

  class Interrupt:
    def after_step(self, sess, state, loss, X_batch, y_batch):
      if state.global_step == 11:
        raise KeyboardInterrupt

    def on_interrupt(self, sess, state):
      seen.append((state.epoch, state.batch, state.global_step))

  with pytest.raises(KeyboardInterrupt):
    _fit(sess, dnn, toy_data, hooks=[recorder, Interrupt()])
  assert seen == [(1, 3, 11)]  # Epoch 1 done, 3 batches into the second.
  assert recorder.calls[-1] == "on_interrupt"


def test_a_real_ctrl_c_is_held_until_every_hook_saw_the_step(session, toy_data):
  dnn, sess = session(PLAIN)
  recorder, seen = Recorder(), []

  class CtrlC:
    def after_step(self, sess, state, loss, X_batch, y_batch):
      if state.global_step == 5:
        os.kill(os.getpid(), signal.SIGINT)

    def on_interrupt(self, sess, state):
      seen.append((state.global_step, sess.run(dnn.global_step)))

  with pytest.raises(KeyboardInterrupt):
    _fit(sess, dnn, toy_data, hooks=[CtrlC(), recorder])
  assert [step for step, _ in recorder.losses] == [1, 2, 3, 4, 5]  # Step 5 recorded.
  assert seen == [(5, 5)]  # The state and the variables agree.
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  _fit(sess, dnn, toy_data, epochs=1)
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fit_without_a_snapshot_outside_the_graph_context(toy_data):
  """The best-weights snapshot is built in the Session's graph, not the default one."""
  dnn, sess = _start(PLAIN, tf.Graph())
  with sess:
    state = training.fit(sess, dnn, *toy_data, epochs=1, batch_size=32, verbose=0)
  assert state.best_epoch == 1


# Evaluation ----------------------------------------------------------------------------


def test_evaluate_and_predict_match_numpy(session, toy_data):
  dnn, sess = session(PLAIN)
  _fit(sess, dnn, toy_data, epochs=1)
  X, y = toy_data[1]
  logits = sess.run(dnn.logits, {dnn.X: X}).astype(np.float64)
  log_probs = logits - logits.max(axis=1, keepdims=True)
  log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
  expected_loss = -log_probs[np.arange(len(y)), y].mean()
  metrics = training.evaluate(sess, dnn, X, y, batch_size=7)  # Uneven batches.
  assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-5)
  assert metrics["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == y))
  predictions = training.predict(sess, dnn, X, batch_size=7)
  assert predictions.dtype == np.int64
  np.testing.assert_array_equal(predictions, logits.argmax(axis=1))


def test_history_holds_the_epoch_metrics(session, toy_data):
  dnn, sess = session(PLAIN)
  state = _fit(sess, dnn, toy_data, epochs=3)
  assert len(state.history) == 3
  last = state.history[-1]
  assert set(last) == {"epoch", "global_step", "loss", "accuracy", "val_loss",
                       "val_accuracy", "learning_rate", "seconds"}
  assert last["global_step"] == 24
  assert last["learning_rate"] == pytest.approx(SMALL.learning_rate)
  assert last["val_loss"] < state.history[0]["val_loss"]
  assert 0.0 <= last["accuracy"] <= 1.0


def test_train_state_round_trips_through_a_dict():
  state = training.TrainState(epoch=2, batch=3, global_step=19, shuffle_seed=5,
                              history=[{"epoch": 1}])
  record = state.to_dict()
  assert record["best_val_loss"] is None  # JSON has no inf
  assert training.TrainState.from_dict(record) == state


# Bad input ----------------------------------------------------------------------------


def _relabel(labels, old, new):
  return np.where(labels == old, new, labels)


# (name, arguments to change given ((X, y), (X_valid, y_valid)), error, message parts)
BAD_FIT_ARGUMENTS = [
    ("epochs=0", lambda d: {"epochs": 0}, ValueError, ["`epochs`", "Received: epochs=0"]),
    ("batch_size=0", lambda d: {"batch_size": 0}, ValueError,
     ["`batch_size`", "Received: batch_size=0"]),
    ("batch_size=-5", lambda d: {"batch_size": -5}, ValueError,
     ["`batch_size`", "Received: batch_size=-5"]),
    ("batch_size=2.5", lambda d: {"batch_size": 2.5}, TypeError,
     ["`batch_size`", "positive integer"]),
    ("batch_size>n", lambda d: {"batch_size": 241}, ValueError,
     ["`batch_size`", "at most the 240 training examples", "Received: batch_size=241"]),
    ("patience=0", lambda d: {"patience": 0}, ValueError,
     ["`patience`", "Received: patience=0"]),
    ("patience=-1", lambda d: {"patience": -1}, ValueError,
     ["`patience`", "Received: patience=-1"]),
    ("patience=True", lambda d: {"patience": True}, TypeError,
     ["`patience`", "got type bool"]),
    ("label<0", lambda d: {"train": (d[0][0], _relabel(d[0][1], 0, -1))}, ValueError,
     ["`train` labels to be classes 0 .. n_outputs-1", "Received labels from -1 to 2"]),
    ("label=n_outputs", lambda d: {"validation": (d[1][0], _relabel(d[1][1], 0, 3))},
     ValueError, ["`n_outputs` of at least 4, the classes of the `validation` labels "
                  "(0 .. 3)", "Received: n_outputs=3"]),
    ("features", lambda d: {"train": (d[0][0][:, :10], d[0][1])}, ValueError,
     ["`train` images of 20 features", "Received: 10"]),
    ("lengths", lambda d: {"train": (d[0][0], d[0][1][:-1])}, ValueError,
     ["`train` images [n, n_inputs] and labels [n]", "labels (239,)"]),
    ("not a pair", lambda d: {"train": d[0][0]}, TypeError,
     ["`train`", "(images, labels) pair", "Received: train of type ndarray"]),
    ("empty validation", lambda d: {"validation": (d[1][0][:0], d[1][1][:0])},
     ValueError, ["`validation` to hold at least one example", "Received: 0 examples"]),
]


@pytest.mark.parametrize("change, error, parts", [c[1:] for c in BAD_FIT_ARGUMENTS],
                         ids=[c[0] for c in BAD_FIT_ARGUMENTS])
def test_bad_fit_arguments_raise_before_anything_runs(session, toy_data, change, error,
                                                      parts):
  dnn, sess = session(DNNConfig(hidden_layers=(4,), n_outputs=3, batch_norm=False,
                                dropout_rate=0.0, optimizer="sgd"))
  count = len(dnn.train_op.graph.get_operations())
  arguments = {"train": toy_data[0], "validation": toy_data[1], "verbose": 0,
               **change(toy_data)}
  with pytest.raises(error) as raised:
    training.fit(sess, dnn, arguments.pop("train"), arguments.pop("validation"),
                 **arguments)
  for part in parts:
    assert part in str(raised.value), str(raised.value)
  assert len(dnn.train_op.graph.get_operations()) == count
  assert sess.run(dnn.global_step) == 0


# Progress ------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
  def isatty(self):
    return True


def test_progress_writes_plain_lines_when_not_a_terminal(session, toy_data):
  dnn, sess = session(PLAIN)
  stream = io.StringIO()
  _fit(sess, dnn, toy_data, verbose=1, stream=stream)
  lines = stream.getvalue().splitlines()
  assert "\r" not in stream.getvalue()
  assert len(lines) == 2
  for epoch, line in enumerate(lines, 1):  # The Keras convention, within 80 columns.
    assert line.startswith(f"epoch {epoch}/2  loss ") and len(line) <= 80
    for name in ("acc", "val_loss", "val_acc"):
      assert f" {name} " in line


def test_progress_is_silent_with_verbose_0(session, toy_data):
  dnn, sess = session(PLAIN)
  stream = FakeTerminal()
  _fit(sess, dnn, toy_data, verbose=0, stream=stream)
  assert stream.getvalue() == ""


def test_progress_draws_a_bar_on_a_terminal(session, toy_data):
  dnn, sess = session(PLAIN)
  stream = FakeTerminal()
  _fit(sess, dnn, toy_data, epochs=1, verbose=1, stream=stream)
  text = stream.getvalue()
  assert "\repoch 1/1 " in text and " 8/8 " in text  # Redrawn in place, then done.
  assert re.search(r"loss \d\.\d{4}", text), text
  assert text.endswith("\n") and text.count("\n") == 1

