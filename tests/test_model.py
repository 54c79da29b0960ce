"""Tests of dnn_toolkit.model: DNNConfig, and the graph build_dnn builds.

What a user relies on: the config's checks (each bad field named, nothing built), the
variable names a TF 1.x checkpoint uses, the name scopes TensorBoard shows, the train op
running the batch-norm updates, and a graph any Session loop can drive.
"""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import GraphStateError
from dnn_toolkit.model import LESSON_DEFAULT, build_dnn

V1 = tf.compat.v1
N_INPUTS = 20
SMALL = DNNConfig(hidden_layers=(16, 8), n_outputs=3)


def _names(variables):
  return [v.op.name for v in variables]


def _ancestors(op):
  """Every op `op` depends on, through data inputs and control inputs."""
  seen, todo = set(), [op]
  while todo:
    current = todo.pop()
    for parent in [t.op for t in current.inputs] + list(current.control_inputs):
      if parent not in seen:
        seen.add(parent)
        todo.append(parent)
  return seen


# DNNConfig -------------------------------------------------------------------------


def test_default_config_is_the_lessons_default_dnn():
  config = DNNConfig()
  assert config == LESSON_DEFAULT
  assert config.hidden_layers == (300, 100)
  assert (config.initializer, config.activation) == ("he", "elu")
  assert config.batch_norm and 0.0 < config.dropout_rate < 1.0
  assert (config.optimizer, config.schedule) == ("adam", "none")
  assert config.validate() is config


def test_config_round_trips_through_a_dict_and_names_differences():
  config = DNNConfig(hidden_layers=(16, 8), schedule="piecewise", boundaries=(10,),
                     values=(0.1, 0.01), clip_norm=5.0)
  assert DNNConfig.from_dict(config.to_dict()) == config
  assert config.to_dict()["hidden_layers"] == [16, 8]
  other = DNNConfig(hidden_layers=(16,), schedule="piecewise", boundaries=(10,),
                    values=(0.1, 0.01), clip_norm=5.0, dropout_rate=0.5)
  assert config.differences(other) == ["hidden_layers", "dropout_rate"]
  assert config.differences(config) == []


def test_config_from_dict_rejects_unknown_fields():
  with pytest.raises(ValueError, match=r"Unknown DNNConfig fields \['units'\]"):
    DNNConfig.from_dict({"units": 3})


# Each bad field: (overrides, error type, parts the message must hold).
BAD_CONFIGS = [
    ({"hidden_layers": ()}, ValueError, ["`hidden_layers`", "non-empty",
                                         "Received: hidden_layers=()"]),
    ({"hidden_layers": 16}, ValueError, ["`hidden_layers`", "Received: hidden_layers=16"]),
    ({"hidden_layers": (16, 0)}, ValueError, ["`hidden_layers`", "positive integer",
                                              "Received: hidden_layers=0"]),
    ({"hidden_layers": (-3,)}, ValueError, ["`hidden_layers`",
                                            "Received: hidden_layers=-3"]),
    ({"hidden_layers": (2.5,)}, TypeError, ["`hidden_layers`", "positive integer"]),
    ({"hidden_layers": ("64",)}, TypeError, ["`hidden_layers`", "got type str"]),
    ({"hidden_layers": (True,)}, TypeError, ["`hidden_layers`", "got type bool"]),
    ({"n_outputs": 0}, ValueError, ["`n_outputs`", "Received: n_outputs=0"]),
    ({"n_outputs": -1}, ValueError, ["`n_outputs`", "Received: n_outputs=-1"]),
    ({"initializer": "uniform"}, ValueError,
     ["`initializer`", "'he'", "'xavier'", "'normal'", "Received: initializer='uniform'"]),
    ({"activation": "swish"}, ValueError,
     ["`activation`", "'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'selu'",
      "Received: activation='swish'"]),
    ({"optimizer": "adamw"}, ValueError,
     ["`optimizer`", "'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'",
      "Received: optimizer='adamw'"]),
    ({"schedule": "cosine"}, ValueError,
     ["`schedule`", "'none', 'exponential', 'piecewise'", "Received: schedule='cosine'"]),
    ({"batch_norm": "yes"}, TypeError, ["`batch_norm`", "bool",
                                        "Received: batch_norm='yes'"]),
    ({"batch_norm_decay": 1.0}, ValueError, ["`batch_norm_decay`", "[0, 1)"]),
    ({"dropout_rate": -0.1}, ValueError, ["`dropout_rate`", "[0, 1)",
                                          "Received: dropout_rate=-0.1"]),
    ({"dropout_rate": 1.0}, ValueError, ["`dropout_rate`", "[0, 1)",
                                         "Received: dropout_rate=1.0"]),
    ({"dropout_rate": 1.5}, ValueError, ["`dropout_rate`", "Received: dropout_rate=1.5"]),
    ({"dropout_rate": None}, TypeError, ["`dropout_rate`", "number"]),
    ({"learning_rate": 0.0}, ValueError, ["`learning_rate`", "expected a number in (0,",
                                          "Received: learning_rate=0.0"]),
    ({"learning_rate": -0.01}, ValueError, ["`learning_rate`",
                                            "Received: learning_rate=-0.01"]),
    ({"learning_rate": "0.01"}, TypeError, ["`learning_rate`", "number"]),
    ({"l1_scale": -1.0}, ValueError, ["`l1_scale`", "expected a number in [0,"]),
    ({"l2_scale": -1.0}, ValueError, ["`l2_scale`", "expected a number in [0,"]),
    ({"max_norm": 0.0}, ValueError, ["`max_norm`", "expected a number in (0,"]),
    ({"clip_value": -1.0}, ValueError, ["`clip_value`", "expected a number in (0,"]),
    ({"clip_norm": 0.0}, ValueError, ["`clip_norm`", "expected a number in (0,"]),
    ({"momentum": 1.0}, ValueError, ["`momentum`", "[0, 1)"]),
    ({"schedule": "exponential", "decay_steps": 0}, ValueError,
     ["`decay_steps`", "Received: decay_steps=0"]),
    ({"schedule": "piecewise", "boundaries": (10,), "values": (0.1,)}, ValueError,
     ["one more value than boundaries", "boundaries=[10], values=[0.1]"]),
    ({"schedule": "piecewise", "boundaries": (10, 5), "values": (0.1, 0.01, 0.001)},
     ValueError, ["`boundaries`", "increase"]),
    ({"seed": -1}, ValueError, ["`seed`", "Received: seed=-1"]),
    ({"seed": True}, TypeError, ["`seed`", "got type bool"]),
]


@pytest.mark.parametrize("overrides, error, parts", BAD_CONFIGS,
                         ids=[repr(c[0]) for c in BAD_CONFIGS])
def test_bad_config_raises_before_any_op_is_built(graph, overrides, error, parts):
  config = DNNConfig(**{**SMALL.to_dict(), **overrides})
  with pytest.raises(error) as raised:
    build_dnn(config, N_INPUTS)
  for part in parts:
    assert part in str(raised.value)
  assert graph.get_operations() == []


@pytest.mark.parametrize("n_inputs, error", [(0, ValueError), (-3, ValueError),
                                             (2.5, TypeError), (None, TypeError),
                                             (True, TypeError)])
def test_bad_n_inputs_raises_before_any_op_is_built(graph, n_inputs, error):
  with pytest.raises(error, match=rf"`n_inputs`.*Received: n_inputs={n_inputs!r}"):
    build_dnn(SMALL, n_inputs)
  assert graph.get_operations() == []


# The graph ---------------------------------------------------------------------------


def test_variables_are_named_like_the_lessons_code(graph):
  dnn = build_dnn(SMALL, N_INPUTS)
  bn = ["BatchNorm/beta", "BatchNorm/gamma", "BatchNorm/moving_mean",
        "BatchNorm/moving_variance"]
  expected = (["hidden1/weights"] + [f"hidden1/{n}" for n in bn]
              + ["hidden2/weights"] + [f"hidden2/{n}" for n in bn]
              + ["outputs/weights", "outputs/biases"])
  assert _names(V1.model_variables()) == expected
  assert _names(V1.trainable_variables()) == [
      "hidden1/weights", "hidden1/BatchNorm/beta", "hidden1/BatchNorm/gamma",
      "hidden2/weights", "hidden2/BatchNorm/beta", "hidden2/BatchNorm/gamma",
      "outputs/weights", "outputs/biases"]
  shapes = {v.op.name: v.shape.as_list() for v in V1.model_variables()}
  assert shapes["hidden1/weights"] == [N_INPUTS, 16]
  assert shapes["hidden2/BatchNorm/moving_mean"] == [8]
  assert shapes["outputs/weights"] == [8, 3]
  assert _names(dnn.weights) == ["hidden1/weights", "hidden2/weights", "outputs/weights"]
  assert dnn.layer_scopes == ["hidden1", "hidden2", "outputs"]
  assert dnn.global_step.op.name == "global_step"


def test_without_batch_norm_hidden_layers_have_biases(graph):
  build_dnn(DNNConfig(hidden_layers=(4,), n_outputs=3, batch_norm=False), N_INPUTS)
  assert _names(V1.model_variables()) == [
      "hidden1/weights", "hidden1/biases", "outputs/weights", "outputs/biases"]
  assert V1.get_collection(V1.GraphKeys.UPDATE_OPS) == []


def test_ops_sit_under_the_dnn_loss_train_and_eval_name_scopes(graph):
  dnn = build_dnn(SMALL, N_INPUTS)
  assert [dnn.X.op.name, dnn.y.op.name, dnn.is_training.op.name] == [
      "X", "y", "is_training"]
  assert dnn.X.shape.as_list() == [None, N_INPUTS]
  assert dnn.logits.shape.as_list() == [None, 3]
  assert dnn.logits.op.name.startswith("dnn/outputs/")
  assert all(h.op.name.startswith(f"dnn/hidden{i + 1}/")
             for i, h in enumerate(dnn.hidden))
  assert dnn.base_loss.op.name == "loss/avg_xentropy"
  assert dnn.loss.op.name == "loss/loss"
  assert dnn.learning_rate.op.name == "train/learning_rate"
  assert dnn.train_op.name == "train/training_op"
  assert dnn.predictions.op.name == "eval/predictions"
  assert dnn.correct.op.name == "eval/correct"
  assert dnn.accuracy.op.name == "eval/accuracy"
  scopes = {op.name.split("/")[0] for op in graph.get_operations()}
  assert {"dnn", "loss", "train", "eval"} <= scopes


def test_train_op_runs_the_batch_norm_updates(graph):
  dnn = build_dnn(SMALL, N_INPUTS)
  update_ops = V1.get_collection(V1.GraphKeys.UPDATE_OPS)
  assert len(update_ops) == 4  # moving mean and variance of hidden1 and hidden2
  ancestors = _ancestors(dnn.train_op)
  for update in update_ops:
    assert update.op in ancestors, update.name


def test_regularization_penalties_join_the_loss(graph, sess):
  config = DNNConfig(hidden_layers=(4,), n_outputs=3, l1_scale=0.01, l2_scale=0.02,
                     batch_norm=False, dropout_rate=0.0)
  dnn = build_dnn(config, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  X = np.ones((5, N_INPUTS), np.float32)
  y = np.zeros(5, np.int64)
  loss, base_loss, weights = sess.run([dnn.loss, dnn.base_loss, dnn.weights],
                                      {dnn.X: X, dnn.y: y})
  penalty = sum(0.01 * np.abs(w).sum() + 0.02 * (w ** 2).sum() / 2 for w in weights)
  np.testing.assert_allclose(loss - base_loss, penalty, rtol=1e-4)


def test_max_norm_op_only_with_a_threshold(graph):
  assert build_dnn(SMALL, N_INPUTS).max_norm_op is None


def test_max_norm_op_clips_the_hidden_weights(graph, sess):
  dnn = build_dnn(DNNConfig(hidden_layers=(16, 8), n_outputs=3, max_norm=0.5,
                            initializer="normal"), N_INPUTS)
  sess.run(V1.global_variables_initializer())
  before = sess.run(dnn.weights[:-1])
  assert all(np.linalg.norm(w, axis=1).max() > 0.5 for w in before)
  sess.run(dnn.max_norm_op)
  for w0, w1 in zip(before, sess.run(dnn.weights[:-1])):
    norms = np.linalg.norm(w0, axis=1, keepdims=True)
    np.testing.assert_allclose(w1, w0 * np.minimum(1.0, 0.5 / norms), rtol=1e-5)


def test_same_seed_gives_the_same_initial_weights():
  def initial_weights(seed):
    with tf.Graph().as_default() as graph:
      dnn = build_dnn(DNNConfig(hidden_layers=(8,), n_outputs=3, seed=seed), N_INPUTS)
      with V1.Session(graph=graph) as sess:
        sess.run(V1.global_variables_initializer())
        return sess.run(dnn.weights)
  first, again, other = initial_weights(7), initial_weights(7), initial_weights(8)
  for a, b, c in zip(first, again, other):
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_masks_depend_on_the_global_step_only(graph, sess, toy_data):
  """The same step draws the same mask (so a resumed run repeats it), the next another."""
  config = DNNConfig(hidden_layers=(32,), n_outputs=3, batch_norm=False,
                     dropout_rate=0.5)
  dnn = build_dnn(config, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  (X, _), _ = toy_data
  train = {dnn.X: X[:50], dnn.is_training: True}
  first, again = sess.run(dnn.logits, train), sess.run(dnn.logits, train)
  np.testing.assert_array_equal(first, again)
  sess.run(dnn.global_step.assign(1))
  assert not np.allclose(sess.run(dnn.logits, train), first)
  evaluation = sess.run(dnn.logits, {dnn.X: X[:50]})
  assert not np.allclose(evaluation, first)


def test_a_monitored_training_session_drives_the_train_op(tmp_path, toy_data):
  (X, y), _ = toy_data
  with tf.Graph().as_default():  # Building the graph is separate from the loop.
    dnn = build_dnn(DNNConfig(hidden_layers=(8,), n_outputs=3, max_norm=1.0), N_INPUTS)
  with dnn.train_op.graph.as_default():
    hooks = [V1.train.StopAtStepHook(last_step=5)]
    losses = []
    with V1.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), hooks=hooks, save_summaries_steps=None,
        save_summaries_secs=None, log_step_count_steps=None) as sess:
      while not sess.should_stop():
        _, loss = sess.run([dnn.train_op, dnn.loss],
                           {dnn.X: X[:50], dnn.y: y[:50], dnn.is_training: True})
        losses.append(loss)
        if not sess.should_stop():
          sess.run(dnn.max_norm_op)
  assert len(losses) == 5 and all(np.isfinite(losses))
  assert V1.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-5")
  values = tf.train.load_checkpoint(str(tmp_path))
  assert values.get_tensor("global_step") == 5
  assert values.get_tensor("hidden1/weights").shape == (N_INPUTS, 8)


def test_max_norm_op_raises_without_max_norm_layers(graph):
  from dnn_toolkit.layers import regularizers  # pylint: disable=import-outside-toplevel
  build_dnn(SMALL, N_INPUTS)
  with pytest.raises(GraphStateError, match="max_norm_regularizer"):
    regularizers.max_norm_op()


def test_evaluation_needs_only_the_model_variables_even_with_dropout():
  """Weights restored from a `best` checkpoint (model variables only) evaluate as is."""
  with tf.Graph().as_default():
    dnn = build_dnn(DNNConfig(hidden_layers=(8,), n_outputs=3, dropout_rate=0.5), 5)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.variables_initializer(tf.compat.v1.model_variables()))
      X = np.ones((4, 5), np.float32)
      first = sess.run(dnn.logits, {dnn.X: X})  # global_step was never initialized
      np.testing.assert_array_equal(sess.run(dnn.logits, {dnn.X: X}), first)

