"""Tests of dnn_toolkit.regularizers: penalty values, the collection, max-norm clipping."""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.errors import GraphStateError
from dnn_toolkit.layers import fully_connected
from dnn_toolkit.regularizers import (MAX_NORM_OPS, l1_l2_regularizer, l1_regularizer,
                                      l2_regularizer, max_norm_op, max_norm_regularizer)

V1 = tf.compat.v1
REG_LOSSES = V1.GraphKeys.REGULARIZATION_LOSSES
W = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)

PENALTIES = [
    ("l1", lambda: l1_regularizer(0.3), lambda w: 0.3 * np.abs(w).sum()),
    ("l2", lambda: l2_regularizer(0.3), lambda w: 0.3 * (w ** 2).sum() / 2),
    ("l1_l2", lambda: l1_l2_regularizer(0.3, 0.2),
     lambda w: 0.3 * np.abs(w).sum() + 0.2 * (w ** 2).sum() / 2),
    ("l1_l2 l1 only", lambda: l1_l2_regularizer(0.3, 0.0), lambda w: 0.3 * np.abs(w).sum()),
    ("l1_l2 l2 only", lambda: l1_l2_regularizer(0.0, 0.2),
     lambda w: 0.2 * (w ** 2).sum() / 2),
]


@pytest.mark.parametrize("factory, reference",
                         [p[1:] for p in PENALTIES], ids=[p[0] for p in PENALTIES])
def test_penalty_value(graph, sess, factory, reference):
  penalty = factory()(tf.constant(W))
  assert penalty.shape.rank == 0
  np.testing.assert_allclose(sess.run(penalty), reference(W), rtol=1e-5)


@pytest.mark.parametrize("factory, reference",
                         [p[1:] for p in PENALTIES], ids=[p[0] for p in PENALTIES])
def test_penalty_of_get_variable_joins_regularization_losses(graph, sess, factory,
                                                              reference):
  weights = V1.get_variable("weights", initializer=W, regularizer=factory())
  base_loss = tf.constant(1.5)
  reg_losses = V1.get_collection(REG_LOSSES)
  assert len(reg_losses) == 1
  loss = tf.add_n([base_loss] + reg_losses, name="loss")
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(loss), 1.5 + reference(sess.run(weights)),
                             rtol=1e-5)


@pytest.mark.parametrize("factory", [lambda: l1_regularizer(0.0),
                                     lambda: l2_regularizer(0),
                                     lambda: l1_l2_regularizer(0.0, 0.0)],
                         ids=["l1", "l2", "l1_l2"])
def test_zero_scale_disables_the_regularizer(graph, factory):
  regularizer = factory()
  n_ops = len(graph.get_operations())
  assert regularizer(tf.constant(W)) is None
  assert len(graph.get_operations()) == n_ops + 1  # The constant only.
  X = V1.placeholder(tf.float32, shape=(None, 6))
  fully_connected(X, 4, weights_regularizer=regularizer)
  assert V1.get_collection(REG_LOSSES) == []


BAD_SCALES = [(-0.1, ValueError), (-3, ValueError), ("0.1", TypeError),
              (None, TypeError), (True, TypeError)]


@pytest.mark.parametrize("scale, error", BAD_SCALES)
@pytest.mark.parametrize("factory, name", [
    (l1_regularizer, "scale"), (l2_regularizer, "scale"),
    (lambda s: l1_l2_regularizer(scale_l1=s), "scale_l1"),
    (lambda s: l1_l2_regularizer(scale_l2=s), "scale_l2")],
                         ids=["l1", "l2", "l1_l2-scale_l1", "l1_l2-scale_l2"])
def test_bad_scale(graph, factory, name, scale, error):
  with pytest.raises(error, match=re.escape(f"`{name}`")) as raised:
    factory(scale)
  assert re.search(re.escape(f"Received: {name}={scale!r}"), str(raised.value))
  assert graph.get_operations() == []


def test_penalty_scope_names(graph):
  penalty = l2_regularizer(0.1, scope="my_l2")(tf.constant(W))
  assert penalty.op.name == "my_l2/value"
  assert l1_regularizer(0.1)(tf.constant(W)).op.name == "l1_regularizer/value"


# max-norm --------------------------------------------------------------------------


def _rows_with_norms(norms, seed=0):
  rows = np.random.default_rng(seed).normal(size=(len(norms), 5))
  rows /= np.linalg.norm(rows, axis=1, keepdims=True)
  return (rows * np.asarray(norms)[:, None]).astype(np.float32)


def test_max_norm_clips_rows(graph, sess):
  w0 = _rows_with_norms([0.3, 0.99, 1.0, 1.5, 4.0, 10.0])
  weights = V1.get_variable("weights", initializer=w0,
                            regularizer=max_norm_regularizer(1.0))
  assert V1.get_collection(REG_LOSSES) == []  # Max-norm adds no loss term.
  clip_all = max_norm_op()
  assert clip_all.name == "max_norm_clip"
  sess.run(V1.global_variables_initializer())
  sess.run(clip_all)
  w1 = sess.run(weights)
  norms = np.linalg.norm(w1, axis=1)
  assert (norms <= 1.0 + 1e-6).all()
  np.testing.assert_array_equal(w1[:3], w0[:3])  # Already within: unchanged.
  np.testing.assert_allclose(norms[3:], 1.0, rtol=1e-6)
  np.testing.assert_allclose(w1[3:], w0[3:] / np.linalg.norm(w0[3:], axis=1)[:, None],
                             rtol=1e-5, atol=1e-7)


def test_max_norm_axes_zero_clips_columns(graph, sess):
  w0 = _rows_with_norms([0.5, 3.0, 2.0]).T  # Columns of norms 0.5, 3, 2.
  weights = V1.get_variable("weights", initializer=w0,
                            regularizer=max_norm_regularizer(1.0, axes=0))
  clip_all = max_norm_op()
  sess.run(V1.global_variables_initializer())
  sess.run(clip_all)
  w1 = sess.run(weights)
  np.testing.assert_allclose(np.linalg.norm(w1, axis=0), [0.5, 1.0, 1.0], rtol=1e-6)
  np.testing.assert_array_equal(w1[:, 0], w0[:, 0])


def test_max_norm_with_fully_connected(graph, sess):
  X = V1.placeholder(tf.float32, shape=(None, 100))
  fully_connected(X, 50, weights_regularizer=max_norm_regularizer(0.1), scope="hidden1")
  fully_connected(X, 50, weights_regularizer=max_norm_regularizer(0.2), scope="hidden2")
  assert len(V1.get_collection(MAX_NORM_OPS)) == 2
  assert V1.get_collection(REG_LOSSES) == []
  clip_all = max_norm_op()
  sess.run(V1.global_variables_initializer())
  sess.run(clip_all)
  for scope, threshold in (("hidden1", 0.1), ("hidden2", 0.2)):
    (weights,) = V1.get_collection(V1.GraphKeys.GLOBAL_VARIABLES, f"{scope}/weights")
    # Xavier rows [50] have norms near 0.8: every one is clipped to the threshold.
    np.testing.assert_allclose(np.linalg.norm(sess.run(weights), axis=1), threshold,
                               rtol=1e-5)


def test_max_norm_custom_collection(graph):
  V1.get_variable("weights", initializer=W,
                  regularizer=max_norm_regularizer(1.0, collection="my_clips"))
  assert V1.get_collection(MAX_NORM_OPS) == []
  assert max_norm_op(collection="my_clips").type == "NoOp"


@pytest.mark.parametrize("collection", [MAX_NORM_OPS, "my_clips"])
def test_max_norm_op_without_clips_raises(graph, collection):
  with pytest.raises(GraphStateError, match=re.escape(f"collection {collection!r}")):
    max_norm_op(collection=collection)
  assert graph.get_operations() == []


@pytest.mark.parametrize("threshold, error", [
    (0, ValueError), (-3, ValueError), (None, TypeError), ("1.0", TypeError),
    (True, TypeError)])
def test_max_norm_bad_threshold(graph, threshold, error):
  with pytest.raises(error, match=re.escape(f"threshold={threshold!r}")):
    max_norm_regularizer(threshold)
  assert graph.get_operations() == []
