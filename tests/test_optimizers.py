"""Tests of dnn_toolkit.optimizers: optimizers by name, schedules, gradient clipping.

Rates and clipped gradients are checked against the NumPy formulas; each optimizer
must lower the loss of a small DNN built from a config naming it.
"""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import optimizers
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.model import build_dnn

V1 = tf.compat.v1
N_INPUTS = 20

# A rate each optimizer makes visible progress with in 30 steps.
RATES = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.1,
         "rmsprop": 0.01, "adam": 0.01}
CLASSES = {"sgd": V1.train.GradientDescentOptimizer, "momentum": V1.train.MomentumOptimizer,
           "nesterov": V1.train.MomentumOptimizer, "adagrad": V1.train.AdagradOptimizer,
           "rmsprop": V1.train.RMSPropOptimizer, "adam": V1.train.AdamOptimizer}


def _piecewise(step, boundaries, values):
  """NumPy reference: values[i] while step <= boundaries[i], the last value after."""
  return values[np.searchsorted(boundaries, step, side="left")]


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_make_optimizer_by_name(graph, name):
  optimizer = optimizers.make_optimizer(name, 0.01, momentum=0.8)
  assert type(optimizer) is CLASSES[name]  # pylint: disable=unidiomatic-typecheck
  if name in ("momentum", "nesterov"):
    assert optimizer._use_nesterov == (name == "nesterov")  # pylint: disable=protected-access
    assert optimizer._momentum == 0.8  # pylint: disable=protected-access
  assert graph.get_operations() == []  # An optimizer alone builds nothing.


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_each_optimizer_lowers_the_loss_of_a_dnn(graph, sess, toy_data, name):
  config = DNNConfig(hidden_layers=(16,), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, optimizer=name, learning_rate=RATES[name])
  dnn = build_dnn(config, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  (X, y), _ = toy_data
  feed = {dnn.X: X, dnn.y: y, dnn.is_training: True}
  first = sess.run(dnn.loss, feed)
  for _ in range(30):
    sess.run(dnn.train_op, feed)
  assert sess.run(dnn.loss, feed) < 0.9 * first
  assert sess.run(dnn.global_step) == 30


@pytest.mark.parametrize("kwargs, error, parts", [
    ({"name": "adamw"}, ValueError,
     ["`optimizer`", "'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'",
      "Received: optimizer='adamw'"]),
    ({"learning_rate": 0.0}, ValueError, ["`learning_rate`", "Received: learning_rate=0.0"]),
    ({"learning_rate": -1.0}, ValueError, ["`learning_rate`",
                                           "Received: learning_rate=-1.0"]),
    ({"learning_rate": None}, TypeError, ["`learning_rate`", "number"]),
    ({"momentum": 1.0}, ValueError, ["`momentum`", "[0, 1)", "Received: momentum=1.0"]),
])
def test_make_optimizer_rejects_bad_arguments(graph, kwargs, error, parts):
  arguments = {"name": "momentum", "learning_rate": 0.01, **kwargs}
  with pytest.raises(error) as raised:
    optimizers.make_optimizer(**arguments)
  for part in parts:
    assert part in str(raised.value)
  assert graph.get_operations() == []


# Schedules ---------------------------------------------------------------------------


def _rates_at(sess, rate, global_step, steps):
  values = []
  for step in steps:
    sess.run(global_step.assign(step))
    values.append(sess.run(rate))
  return np.array(values)


def test_exponential_schedule_matches_the_formula(graph, sess):
  global_step = V1.train.get_or_create_global_step()
  rate = optimizers.learning_rate_schedule("exponential", 0.1, global_step,
                                           decay_steps=10, decay_rate=0.5)
  assert rate.op.name == "learning_rate" and rate.dtype == tf.float32
  sess.run(V1.global_variables_initializer())
  steps = np.array([0, 1, 5, 10, 25, 100])
  np.testing.assert_allclose(_rates_at(sess, rate, global_step, steps),
                             0.1 * 0.5 ** (steps / 10), rtol=1e-6)


def test_piecewise_schedule_matches_the_formula(graph, sess):
  global_step = V1.train.get_or_create_global_step()
  boundaries, values = [5, 10], [1.0, 0.5, 0.1]
  rate = optimizers.learning_rate_schedule("piecewise", 1.0, global_step,
                                           boundaries=boundaries, values=values)
  sess.run(V1.global_variables_initializer())
  steps = [0, 4, 5, 6, 10, 11, 1000]
  expected = [_piecewise(s, boundaries, np.array(values)) for s in steps]
  assert expected == [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
  np.testing.assert_allclose(_rates_at(sess, rate, global_step, steps), expected)


def test_no_schedule_is_constant(graph, sess):
  global_step = V1.train.get_or_create_global_step()
  rate = optimizers.learning_rate_schedule("none", 0.03, global_step)
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(_rates_at(sess, rate, global_step, [0, 7, 10**6]), 0.03)


def test_the_optimizer_steps_with_the_scheduled_rate(graph, sess, toy_data):
  """A plain gradient-descent step moves each weight by -rate(global_step) * gradient."""
  config = DNNConfig(hidden_layers=(4,), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, optimizer="sgd", schedule="piecewise",
                     boundaries=(2,), values=(0.1, 0.01))
  dnn = build_dnn(config, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  (X, y), _ = toy_data
  feed = {dnn.X: X, dnn.y: y, dnn.is_training: True}
  grads = [g for g, _ in dnn.grads_and_vars]
  variables = [v for _, v in dnn.grads_and_vars]
  for step, rate in ((0, 0.1), (3, 0.01)):
    sess.run(dnn.global_step.assign(step))
    before, gradients = sess.run([variables, grads], feed)
    sess.run(dnn.train_op, feed)
    for w0, g, w1 in zip(before, gradients, sess.run(variables)):
      np.testing.assert_allclose(w1, w0 - rate * g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kwargs, error, parts", [
    ({"schedule": "cosine"}, ValueError,
     ["`schedule`", "'none', 'exponential', 'piecewise'", "Received: schedule='cosine'"]),
    ({"schedule": "exponential", "decay_steps": 0}, ValueError,
     ["`decay_steps`", "Received: decay_steps=0"]),
    ({"schedule": "exponential", "decay_rate": 0.0}, ValueError,
     ["`decay_rate`", "Received: decay_rate=0.0"]),
    ({"schedule": "piecewise", "boundaries": [], "values": [0.1]}, ValueError,
     ["at least one boundary"]),
    ({"schedule": "piecewise", "boundaries": [10], "values": [0.1, 0.01, 0.001]},
     ValueError, ["one more value than boundaries",
                  "boundaries=[10], values=[0.1, 0.01, 0.001]"]),
    ({"schedule": "piecewise", "boundaries": [10, 10], "values": [0.1, 0.01, 0.001]},
     ValueError, ["`boundaries`", "increase", "Received: boundaries=[10, 10]"]),
    ({"schedule": "piecewise", "boundaries": [10], "values": [0.1, -0.01]},
     ValueError, ["`values`", "Received: values=-0.01"]),
    ({"learning_rate": 0.0}, ValueError, ["`learning_rate`",
                                          "Received: learning_rate=0.0"]),
])
def test_bad_schedules_raise_before_any_op_is_built(graph, kwargs, error, parts):
  global_step = V1.train.get_or_create_global_step()
  count = len(graph.get_operations())
  arguments = {"schedule": "none", "learning_rate": 0.1, **kwargs}
  schedule, rate = arguments.pop("schedule"), arguments.pop("learning_rate")
  with pytest.raises(error) as raised:
    optimizers.learning_rate_schedule(schedule, rate, global_step, **arguments)
  for part in parts:
    assert part in str(raised.value)
  assert len(graph.get_operations()) == count


# Gradient clipping -------------------------------------------------------------------


GRADIENTS = [np.array([[3.0, -0.5], [0.2, -4.0]], np.float32),
             np.array([1.5, -2.5, 0.1], np.float32)]


def _clipped(sess, **kwargs):
  variables = [V1.get_variable(f"v{i}", g.shape) for i, g in enumerate(GRADIENTS)]
  pairs = [(tf.constant(g), v) for g, v in zip(GRADIENTS, variables)]
  pairs.append((None, V1.get_variable("unused", [2])))  # No gradient: dropped.
  clipped = optimizers.clip_gradients(pairs, **kwargs)
  assert [v for _, v in clipped] == variables
  return sess.run([g for g, _ in clipped])


def test_clip_by_value_matches_numpy(graph, sess):
  for got, g in zip(_clipped(sess, clip_value=1.0), GRADIENTS):
    np.testing.assert_allclose(got, np.clip(g, -1.0, 1.0))


def test_clip_by_global_norm_matches_numpy(graph, sess):
  global_norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in GRADIENTS))
  assert global_norm > 2.0
  for got, g in zip(_clipped(sess, clip_norm=2.0), GRADIENTS):
    np.testing.assert_allclose(got, g * 2.0 / global_norm, rtol=1e-6)


def test_clip_by_global_norm_leaves_small_gradients_alone(graph, sess):
  for got, g in zip(_clipped(sess, clip_norm=100.0), GRADIENTS):
    np.testing.assert_allclose(got, g, rtol=1e-6)


def test_clip_by_value_then_by_global_norm(graph, sess):
  by_value = [np.clip(g, -2.0, 2.0) for g in GRADIENTS]
  norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in by_value))
  for got, g in zip(_clipped(sess, clip_value=2.0, clip_norm=1.0), by_value):
    np.testing.assert_allclose(got, g / norm, rtol=1e-6)


def test_no_clipping_returns_the_gradients(graph, sess):
  for got, g in zip(_clipped(sess), GRADIENTS):
    np.testing.assert_array_equal(got, g)


def test_config_clipping_reaches_the_dnns_gradients(graph, sess, toy_data):
  config = DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, clip_value=0.05, clip_norm=0.1)
  dnn = build_dnn(config, N_INPUTS)
  variables = [v for _, v in dnn.grads_and_vars]
  raw = tf.gradients(dnn.loss, variables)
  sess.run(V1.global_variables_initializer())
  (X, y), _ = toy_data
  feed = {dnn.X: X, dnn.y: y}
  raw, clipped = sess.run([raw, [g for g, _ in dnn.grads_and_vars]], feed)
  by_value = [np.clip(g, -0.05, 0.05) for g in raw]
  norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in by_value))
  assert norm > 0.1
  for got, g in zip(clipped, by_value):
    np.testing.assert_allclose(got, g * 0.1 / norm, rtol=1e-5, atol=1e-8)


# ------------------------------------------------------------- reduce on plateau


def _plateau_reference(lr, factor, patience, improved_flags):
  """The rate after each epoch, by the rule in Python."""
  wait, rates = 0, []
  for improved in improved_flags:
    wait = 0 if improved else wait + 1
    if wait >= patience:
      lr, wait = lr * factor, 0
    rates.append(lr)
  return rates


def test_plateau_schedule_lowers_the_rate_as_the_rule_says(sess):
  schedule = optimizers.PlateauSchedule(0.1, factor=0.5, patience=2)
  sess.run(tf.compat.v1.global_variables_initializer())
  flags = [True, False, False, False, True, False, False, False, False]
  rates = []
  for improved in flags:
    schedule.after_epoch(sess, None, None, improved)
    rates.append(float(sess.run(schedule.learning_rate)))
  np.testing.assert_allclose(rates, _plateau_reference(0.1, 0.5, 2, flags), rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"factor": 1.0}, "`factor`, expected a number in (0, 1)"),
    ({"factor": 0}, "`factor`, expected a number in (0, 1)"),
    ({"patience": 0}, "`patience`, expected a positive integer"),
])
def test_plateau_schedule_rejects_bad_arguments(kwargs, message, graph):
  with pytest.raises(ValueError) as error:
    optimizers.PlateauSchedule(0.1, **kwargs)
  assert message in str(error.value)


def test_plateau_config_trains_and_resumes_exactly(tmp_path, toy_data):
  from dnn_toolkit import scopes
  from dnn_toolkit.runs import lifecycle
  from dnn_toolkit.config import DNNConfig
  config = DNNConfig(hidden_layers=(8,), n_outputs=3, batch_norm=False,
                     dropout_rate=0.0, learning_rate=2.0, optimizer="sgd",
                     schedule="plateau", plateau_factor=0.5, plateau_patience=1, seed=3)
  whole = lifecycle.train(config, *toy_data, run_dir=str(tmp_path / "whole"), epochs=6,
                           patience=None, verbose=0)
  flags = [m["val_loss"] < min([h["val_loss"] for h in whole.history[:i]] or [np.inf])
           for i, m in enumerate(whole.history)]
  used = [m["learning_rate"] for m in whole.history]
  assert min(used) < 2.0  # The validation loss rose at least once: a reduction.
  np.testing.assert_allclose(used[1:], _plateau_reference(2.0, 0.5, 1, flags)[:-1],
                             rtol=1e-6)
  lifecycle.train(config, *toy_data, run_dir=str(tmp_path / "split"), epochs=3,
                   patience=None, verbose=0)
  resumed = lifecycle.train(None, *toy_data, run_dir=str(tmp_path / "split"),
                             epochs=6, patience=None, verbose=0, resume=True)
  assert [m["learning_rate"] for m in resumed.history] == used
  a = scopes.load_values(whole.best_checkpoint)
  b = scopes.load_values(resumed.best_checkpoint)
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)
