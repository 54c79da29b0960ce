"""Tests of dnn_toolkit.arg_scope with the layer builders."""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.arg_scope import add_arg_scope, arg_scope, has_arg_scope
from dnn_toolkit.layers import batch_norm, dropout, fully_connected

V1 = tf.compat.v1


def _initial_weights(sess, name):
  sess.run(V1.global_variables_initializer())
  (weights,) = [v for v in V1.global_variables() if v.op.name == f"{name}/weights"]
  return sess.run(weights)


def test_defaults_apply_and_explicit_arguments_win(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  with arg_scope([fully_connected], activation_fn=None,
                 weights_initializer=V1.constant_initializer(0.5)):
    hidden1 = fully_connected(X, 3, scope="hidden1")
    hidden2 = fully_connected(X, 3, activation_fn=tf.nn.relu,
                              weights_initializer=V1.constant_initializer(2.0),
                              scope="hidden2")
  x = -np.abs(np.random.default_rng(0).normal(size=(5, 4))).astype(np.float32)
  np.testing.assert_allclose(_initial_weights(sess, "hidden1"), np.full((4, 3), 0.5))
  np.testing.assert_allclose(_initial_weights(sess, "hidden2"), np.full((4, 3), 2.0))
  out1, out2 = sess.run([hidden1, hidden2], {X: x})
  np.testing.assert_allclose(out1, x @ np.full((4, 3), 0.5), rtol=1e-6)  # Linear.
  np.testing.assert_array_equal(out2, np.zeros((5, 3)))  # ReLU of negatives.


def test_defaults_end_with_the_block(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  with arg_scope([fully_connected], activation_fn=None):
    pass
  out = fully_connected(X, 3)
  assert out.op.type == "Relu"


def test_defaults_end_when_the_block_raises(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  with pytest.raises(RuntimeError):
    with arg_scope([fully_connected], activation_fn=None):
      raise RuntimeError("boom")
  assert fully_connected(X, 3).op.type == "Relu"


def test_inner_scope_wins_and_outer_comes_back(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  with arg_scope([fully_connected], activation_fn=tf.nn.elu, trainable=False):
    with arg_scope([fully_connected], activation_fn=tf.nn.tanh):
      inner = fully_connected(X, 3, scope="inner")
    outer = fully_connected(X, 3, scope="outer")
  assert inner.op.type == "Tanh"
  assert outer.op.type == "Elu"
  assert V1.trainable_variables() == []  # trainable=False reached both.


def test_batch_norm_defaults_reach_it_as_normalizer(graph):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  with arg_scope([batch_norm], updates_collections=None, scale=True):
    fully_connected(X, 3, normalizer_fn=batch_norm, scope="hidden1")
  assert V1.get_collection(V1.GraphKeys.UPDATE_OPS) == []
  names = [v.op.name for v in V1.global_variables()]
  assert "hidden1/BatchNorm/gamma" in names


def test_several_functions_in_one_scope(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 4))
  with arg_scope([dropout, batch_norm], is_training=False):
    dropped = dropout(X, 0.5)
    fully_connected(X, 3, normalizer_fn=batch_norm, scope="hidden1")
  assert V1.get_collection(V1.GraphKeys.UPDATE_OPS) == []  # No training branch built.
  x = np.ones((3, 4), np.float32)
  np.testing.assert_array_equal(sess.run(dropped, {X: x}), x)


def test_custom_function_with_add_arg_scope():
  @add_arg_scope
  def scaled(x, factor=1.0):
    return x * factor

  assert has_arg_scope(scaled)
  assert scaled.__name__ == "scaled"
  with arg_scope([scaled], factor=3.0):
    assert scaled(2.0) == 6.0
    assert scaled(2.0, factor=0.5) == 1.0
  assert scaled(2.0) == 2.0


def test_undecorated_function_rejected():
  def plain(x):
    return x

  assert not has_arg_scope(plain)
  with pytest.raises(TypeError, match="`plain` in `list_ops` does not accept arg_scope"):
    with arg_scope([fully_connected, plain], activation_fn=None):
      pass


@pytest.mark.parametrize("list_ops", [fully_connected, "fully_connected", None])
def test_list_ops_must_be_a_list(list_ops):
  with pytest.raises(TypeError, match="Expected `list_ops` to be a list or tuple"):
    with arg_scope(list_ops, activation_fn=None):
      pass
