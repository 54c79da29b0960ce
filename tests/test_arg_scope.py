"""Tests of dnn_toolkit.layers.arg_scope with the layer builders."""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers.arg_scope import (
  NotDecoratedError,
  add_arg_scope,
  arg_scope,
  arg_scope_func_key,
  arg_scoped_arguments,
  current_arg_scope,
  has_arg_scope,
)
from dnn_toolkit.layers.contrib import batch_norm, dropout, fully_connected

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


# contrib's semantics, as its arg_scope tests define them ------------------------------


@add_arg_scope
def func1(*args, **kwargs):
  return args, kwargs


@add_arg_scope
def func2(*args, **kwargs):
  return args, kwargs


@add_arg_scope
def func3(args, a=None, b=1, c=2):
  """Some cool doc string."""
  return args, a, b, c


FUNC1_KWARGS = {"a": 1, "b": None, "c": [1]}


def test_scope_dicts_are_keyed_by_contribs_op_key():
  key = getattr(func1, "_key_op")
  assert key == arg_scope_func_key(func1)
  assert key.startswith("<function func1 at ")  # str() of the undecorated function.
  with arg_scope([]) as empty:
    assert empty == {}
  with arg_scope([func1], a=1, b=None, c=[1]) as scope:
    assert scope == {key: FUNC1_KWARGS}
    assert current_arg_scope() == {key: FUNC1_KWARGS}
    with arg_scope([func2], b=2, d=[2]) as nested:
      assert nested == {key: FUNC1_KWARGS, arg_scope_func_key(func2): {"b": 2, "d": [2]}}
  assert current_arg_scope() == {}


def test_layer_keys_are_their_functions(graph):
  with arg_scope([fully_connected, batch_norm], trainable=False) as scope:
    assert set(scope) == {arg_scope_func_key(fully_connected),
                          arg_scope_func_key(batch_norm)}


def test_reenter_a_saved_scope():
  with arg_scope([func1], a=1, b=None, c=[1]) as scope1:
    with arg_scope([func2], b=2, d=[2]) as scope2:
      pass
  assert func1(0) == ((0,), {})
  with arg_scope(scope1) as scope:
    assert scope == scope1
    assert func1(0) == ((0,), FUNC1_KWARGS)
    assert func2(0) == ((0,), {})
  with arg_scope(scope2):
    with arg_scope([]) as current:
      assert current == scope2
    assert func2(0) == ((0,), {"b": 2, "d": [2]})
  with arg_scope({}) as cleared:
    assert cleared == {}


def test_reentered_scope_replaces_the_outer_one():
  def saved():
    with arg_scope([func1], a=1, b=None, c=[1]) as sc:
      return sc

  outside = saved()
  with arg_scope([func1], b=2, d=10):
    with arg_scope(outside):
      assert func1(0) == ((0,), FUNC1_KWARGS)  # d=10 is gone: the saved scope rules.
    with arg_scope(saved()):  # Saved inside: it inherited d=10.
      assert func1(0) == ((0,), {**FUNC1_KWARGS, "d": 10})


def test_model_zoo_pattern_with_layers(graph):
  def my_arg_scope():
    with arg_scope([fully_connected], activation_fn=None) as sc:
      return sc

  X = V1.placeholder(tf.float32, shape=(None, 4))
  with arg_scope(my_arg_scope()):
    out = fully_connected(X, 3, scope="hidden1")
  assert out.op.type == "BiasAdd"
  assert fully_connected(X, 3, scope="hidden2").op.type == "Relu"


def test_saved_scope_with_kwargs_raises():
  with arg_scope([func1], a=1) as scope:
    pass
  with pytest.raises(ValueError, match="takes no keyword arguments"):
    with arg_scope(scope, a=2):
      pass


def test_undecorated_function_raises_value_error_as_contrib():
  def my_func(t, a=None):
    return t, a

  with pytest.raises(ValueError, match="`my_func` in `list_ops`"):
    with arg_scope([my_func], a=1):
      pass
  assert issubclass(NotDecoratedError, ValueError)
  assert issubclass(NotDecoratedError, TypeError)


def test_unexpected_argument_raises_at_the_call():
  with pytest.raises(TypeError):
    with arg_scope([func3], d=1):
      func3(1)


def test_arg_scoped_arguments():
  assert arg_scoped_arguments(func3) == ("a", "b", "c")
  assert "activation_fn" in arg_scoped_arguments(fully_connected)
  assert "inputs" not in arg_scoped_arguments(fully_connected)
  with pytest.raises(ValueError, match="`print` was not decorated"):
    arg_scoped_arguments(print)


def test_redefined_functions_keep_their_own_arguments():
  for _ in range(4):
    @add_arg_scope
    def func4(a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8):
      del a, b, c, d, e, f, g, h

    assert arg_scoped_arguments(func4) == tuple("abcdefgh")


def test_shared_and_partially_shared_scopes():
  with arg_scope((func1, func2), a=1, b=None):
    with arg_scope([func1], c=[1]):
      with arg_scope([func2], d=[2]):
        assert func1(0) == ((0,), FUNC1_KWARGS)
        assert func2(1) == ((1,), {"a": 1, "b": None, "d": [2]})
        assert func1(0, b=2) == ((0,), {**FUNC1_KWARGS, "b": 2})


def test_doc_string_is_kept():
  assert func3.__doc__ == "Some cool doc string."
