"""Tests of dnn_toolkit.transfer: reuse, replace, freeze, unfreeze, cache.

Each test builds in a fresh graph. What a user relies on: reused layers hold the saved
values, replaced ones their fresh initialization, frozen variables do not move, and
cached training reaches the weights of uncached training.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from _helpers import (
  N_INPUTS,
  SMALL,
  V1,
  assert_values_differ,
  assert_values_equal,
  small_data,
  variable_values,
)

from dnn_toolkit import transfer

from dnn_toolkit.runs import lifecycle
from dnn_toolkit.errors import CheckpointError, NoMatchError
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training

# ------------------------------------------------------------------- freezing


@pytest.mark.parametrize("stop_gradient", [False, True])
def test_frozen_layers_do_not_change(stop_gradient, sess):
  # l2 and max-norm on, to check that neither reaches the frozen layers either.
  config = dataclasses.replace(SMALL, dropout_rate=0.3, l2_scale=0.1, max_norm=0.01)
  dnn = build_dnn(config, N_INPUTS, frozen_layers=2, stop_gradient=stop_gradient)
  trained = [v.op.name for v in transfer.trained_variables(dnn)]
  assert not [n for n in trained if n.startswith(("hidden1/", "hidden2/"))]
  assert "hidden3/weights" in trained
  stops = [op.name for op in sess.graph.get_operations()
           if op.type == "StopGradient" and op.name.endswith("_stop_gradient")]
  assert (stops == ["dnn/hidden2_stop_gradient"]) is stop_gradient
  sess.run(V1.global_variables_initializer())
  before = variable_values(sess)
  training.fit(sess, dnn, small_data(), small_data(seed=1), epochs=2, verbose=0)
  after = variable_values(sess)
  frozen = [n for n in before if n.startswith(("hidden1/", "hidden2/"))]
  assert_values_equal(after, before, frozen)  # Batch norm's moving statistics included.
  assert_values_differ(after, before, ["hidden3/weights", "hidden3/BatchNorm/moving_mean",
                                     "outputs/weights"])


@pytest.mark.parametrize("kwargs, error", [
    (dict(frozen_layers=-1), ValueError), (dict(frozen_layers=4), ValueError),
    (dict(frozen_layers=True), TypeError), (dict(frozen_layers=1.5), TypeError),
    (dict(frozen_layers=1, stop_gradient="yes"), TypeError),
    (dict(stop_gradient=True), ValueError)])
def test_build_dnn_rejects_bad_freezing(kwargs, error, graph):
  with pytest.raises(error, match="frozen_layers|stop_gradient"):
    build_dnn(SMALL, N_INPUTS, **kwargs)
  assert not graph.get_operations()  # Checked before any op is created.


def test_freeze_then_unfreeze(sess):
  config = dataclasses.replace(SMALL, batch_norm=False)
  dnn = build_dnn(config, N_INPUTS)
  frozen_dnn, init_new = transfer.freeze(dnn, "hidden[12]")
  assert [v.op.name for v in transfer.trained_variables(frozen_dnn)] == [
      "hidden3/weights", "hidden3/biases", "outputs/weights", "outputs/biases"]
  sess.run(V1.global_variables_initializer())
  start = variable_values(sess)
  training.fit(sess, frozen_dnn, small_data(), small_data(seed=1), epochs=1, verbose=0)
  frozen_end = variable_values(sess)
  assert_values_equal(frozen_end, start, [n for n in start if n.startswith(("hidden1/",
                                                                      "hidden2/"))])
  assert_values_differ(frozen_end, start, ["hidden3/weights"])
  thawed, init_new = transfer.unfreeze(frozen_dnn, "hidden2")
  sess.run(init_new)  # The new optimizer's slots only: no trained value is reset.
  assert_values_equal(variable_values(sess), frozen_end, frozen_end)
  training.fit(sess, thawed, small_data(), small_data(seed=1), epochs=1, verbose=0)
  end = variable_values(sess)
  assert_values_equal(end, start, ["hidden1/weights", "hidden1/biases"])
  assert_values_differ(end, frozen_end, ["hidden2/weights", "hidden3/weights"])


def test_unfreeze_below_stop_gradient_is_refused(graph):
  dnn = build_dnn(SMALL, N_INPUTS, frozen_layers=2, stop_gradient=True)
  with pytest.raises(ValueError, match=r"\['hidden2/BatchNorm/beta', .*'hidden2/weights'\]"
                                       r".*stop_gradient"):
    transfer.unfreeze(dnn, "hidden2")


def test_freeze_errors(graph):
  dnn = build_dnn(SMALL, N_INPUTS)
  with pytest.raises(NoMatchError, match="hidden7.*It holds: hidden1/weights"):
    transfer.freeze(dnn, "hidden7")
  with pytest.raises(ValueError, match="leaves no variable to train"):
    transfer.freeze(dnn, ".*")


# -------------------------------------------------------- reuse and replace


def test_transfer_dnn_reuses_and_replaces_layers(saved, sess):
  prefix, saved_values = saved
  base = transfer.Pretrained(SMALL, prefix)
  # Replace hidden2 by a new layer; keep hidden1 and hidden3; a new 2-class output.
  config = dataclasses.replace(SMALL, n_outputs=2, seed=9)
  model = transfer.build_transfer_dnn(base, config, N_INPUTS, reuse=(1, 3))
  assert model.pattern == "hidden(1|3)"
  sess.run(V1.global_variables_initializer())
  initial = variable_values(sess)
  model.restore(sess)
  values = variable_values(sess)
  reused = [n for n in initial if n.startswith(("hidden1/", "hidden3/"))]
  assert_values_equal(values, saved_values, reused)
  assert_values_equal(values, initial, [n for n in initial if n not in reused])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(reuse=(1, 2, 3), hidden_layers=(6, 8, 4)), ValueError,
     "Cannot reuse hidden2: it has 5 units in the pretrained model and 8"),
    (dict(reuse=4), ValueError, r"expected distinct hidden layer numbers in \[1, 3\]"),
    (dict(reuse=(1, 1)), ValueError, "distinct"),
    (dict(reuse=True), TypeError, "reuse"),
    (dict(reuse=(2, 3), frozen_layers=1), ValueError, "frozen layers that are all reused"),
    (dict(reuse=2, batch_norm=False), ValueError, "batch_norm"),
])
def test_build_transfer_dnn_rejects_bad_arguments(kwargs, error, message, saved, graph):
  reuse = kwargs.pop("reuse")
  frozen = kwargs.pop("frozen_layers", 0)
  config = dataclasses.replace(SMALL, **kwargs)
  with pytest.raises(error, match=message):
    transfer.build_transfer_dnn((SMALL, saved[0]), config, N_INPUTS, reuse=reuse,
                                frozen_layers=frozen)


def test_build_transfer_dnn_checks_the_checkpoint_before_a_session(tmp_path, graph):
  with pytest.raises(CheckpointError, match="No checkpoint at"):
    transfer.build_transfer_dnn((SMALL, str(tmp_path / "none")), SMALL, N_INPUTS, 2)


def test_load_pretrained_from_a_run_directory(tmp_path):
  config = dataclasses.replace(SMALL, batch_norm=False)
  run = lifecycle.train(config, small_data(), small_data(seed=1), run_dir=str(tmp_path / "run"),
                         epochs=1, verbose=0)
  base = transfer.load_pretrained(run.run_dir)
  assert base.config == config and base.checkpoint == run.best_checkpoint
  with pytest.raises(ValueError, match="which"):
    transfer.load_pretrained(run.run_dir, which="worst")
  with pytest.raises(CheckpointError, match="state.json"):
    transfer.load_pretrained(str(tmp_path / "nothing"))


# -------------------------------------------------------------------- caching


def _train_transfer(base, cached):
  """Trains a new 2-class head on frozen hidden1-2 of `base`; returns (values, state)."""
  X, y = small_data(seed=4)
  train, valid = (X, y % 2), (small_data(seed=5)[0], small_data(seed=5)[1] % 2)
  config = dataclasses.replace(SMALL, n_outputs=2, dropout_rate=0.5, seed=11)
  with tf.Graph().as_default() as graph:
    model = transfer.build_transfer_dnn(base, config, N_INPUTS, reuse=3, frozen_layers=2)
    init = V1.global_variables_initializer()
    with V1.Session(graph=graph) as sess:
      sess.run(init)
      model.restore(sess)
      fit = transfer.fit_cached if cached else (
          lambda sess, model, *args, **kwargs: training.fit(sess, model.dnn, *args,
                                                            **kwargs))
      state = fit(sess, model, train, valid, epochs=3, batch_size=16, verbose=0)
      return variable_values(sess), state


def test_cached_and_uncached_training_give_the_same_weights(saved):
  base = transfer.Pretrained(SMALL, saved[0])
  uncached, uncached_state = _train_transfer(base, cached=False)
  cached, cached_state = _train_transfer(base, cached=True)
  assert set(cached) == set(uncached)
  for name in uncached:
    np.testing.assert_allclose(cached[name], uncached[name], rtol=1e-5, atol=1e-6,
                               err_msg=name)
  assert [h["val_loss"] for h in cached_state.history] == pytest.approx(
      [h["val_loss"] for h in uncached_state.history], rel=1e-5)


def test_cache_frozen_equals_the_frozen_layers_output(saved, sess):
  model = transfer.build_transfer_dnn((SMALL, saved[0]), SMALL, N_INPUTS, reuse=2,
                                      frozen_layers=2)
  sess.run(V1.global_variables_initializer())
  model.restore(sess)
  X = small_data()[0]
  cache = transfer.cache_frozen(sess, model, X, batch_size=50)
  assert cache.shape == (len(X), 5)
  np.testing.assert_allclose(cache, sess.run(model.dnn.hidden[1], {model.dnn.X: X}),
                             rtol=1e-6)
  unfrozen = dataclasses.replace(model, frozen_layers=0)
  with pytest.raises(ValueError, match="frozen_layers > 0"):
    transfer.cached_view(unfrozen)
