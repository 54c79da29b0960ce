"""Tests of dnn_toolkit.layers.regularizers: penalties, contrib's names, max-norm clipping."""

import re

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import GraphStateError
from dnn_toolkit.layers.contrib import fully_connected
from dnn_toolkit.layers.regularizers import (
  MAX_NORM_OPS,
  apply_regularization,
  l1_l2_regularizer,
  l1_regularizer,
  l2_regularizer,
  max_norm_op,
  max_norm_regularizer,
  sum_regularizer,
)
from dnn_toolkit.model import build_dnn

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
  assert penalty.op.name == "my_l2"  # contrib's names: the scope is the op.
  assert l1_regularizer(0.1)(tf.constant(W)).op.name == "l1_regularizer"


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


def test_max_norm_bad_axes_raise_before_any_op(graph):
  for axes in ("x", True, [], [0, "1"], 1.0):
    with pytest.raises(TypeError, match=re.escape(f"axes={axes!r}")):
      max_norm_regularizer(1, axes=axes)
  assert graph.get_operations() == []


def test_max_norm_axes_list_and_none(graph, sess):
  w0 = _rows_with_norms([3.0, 4.0])  # Whole-matrix norm 5.
  whole = V1.get_variable("whole", initializer=w0,
                          regularizer=max_norm_regularizer(1.0, axes=None))
  both = V1.get_variable("both", initializer=w0,
                         regularizer=max_norm_regularizer(1.0, axes=[0, 1]))
  clip_all = max_norm_op()
  sess.run(V1.global_variables_initializer())
  sess.run(clip_all)
  for variable in (whole, both):
    np.testing.assert_allclose(sess.run(variable), w0 / 5.0, rtol=1e-5)


# One clip op per variable (issue: l1 + l2 + max-norm built 3 clips per variable) -------


def _clip_targets():
  """The op names of the variables the max-norm clips assign to."""
  return sorted(op.op.inputs[0].op.name for op in V1.get_collection(MAX_NORM_OPS))


@pytest.mark.parametrize("combine", [
    lambda: sum_regularizer([l1_regularizer(0.01), l2_regularizer(0.02),
                             max_norm_regularizer(1.0)]),
    lambda: sum_regularizer([l1_l2_regularizer(0.01, 0.02), max_norm_regularizer(1.0)]),
], ids=["l1+l2+max_norm", "l1_l2+max_norm"])
def test_max_norm_makes_one_clip_per_variable_whatever_it_is_combined_with(graph,
                                                                           combine):
  X = V1.placeholder(tf.float32, shape=(None, 6))
  regularizer = combine()
  hidden1 = fully_connected(X, 5, weights_regularizer=regularizer, scope="hidden1")
  fully_connected(hidden1, 4, weights_regularizer=regularizer, scope="hidden2")
  for _ in range(3):  # Each read of the lazy penalties calls the regularizer again.
    tf.add_n(V1.get_collection(REG_LOSSES))
  assert _clip_targets() == ["hidden1/weights", "hidden2/weights"]
  assert len(V1.get_collection(REG_LOSSES)) == 2
  assert max_norm_op().type == "NoOp"


def test_max_norm_second_clip_with_other_settings_raises(graph):
  weights = V1.get_variable("weights", initializer=W,
                            regularizer=max_norm_regularizer(1.0))
  max_norm_regularizer(1.0)(weights)  # Same settings: no second op.
  assert len(V1.get_collection(MAX_NORM_OPS)) == 1
  with pytest.raises(ValueError, match=r"`weights` already has a max-norm clip"):
    max_norm_regularizer(2.0)(weights)
  max_norm_regularizer(2.0, collection="other")(weights)  # Another collection: its own.
  assert len(V1.get_collection("other")) == 1


def _train_twice_the_same_seed():
  """Variables after a few steps of l1 + l2 + max-norm + dropout + batch norm."""
  # Layers this wide make racing duplicate clips show: with 3 clips per variable (the
  # bug), 27 of the 31 variables differed between the two runs.
  config = DNNConfig(hidden_layers=(64, 32), n_outputs=3, l1_scale=1e-3,
                     l2_scale=1e-3, max_norm=0.5, dropout_rate=0.3, batch_norm=True,
                     seed=7)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(64, 128)).astype(np.float32)
  y = rng.integers(0, 3, size=64).astype(np.int64)
  runs = []
  for _ in range(2):
    with tf.Graph().as_default(), V1.Session() as sess:
      dnn = build_dnn(config, n_inputs=128)
      assert len(V1.get_collection(MAX_NORM_OPS)) == 2  # hidden1, hidden2
      sess.run(V1.global_variables_initializer())
      feed = {dnn.X: x, dnn.y: y, dnn.is_training: True}
      for _ in range(4):
        sess.run(dnn.train_op, feed)
        sess.run(dnn.max_norm_op)
      runs.append({v.op.name: sess.run(v) for v in V1.global_variables()})
  return runs


def test_seeded_training_with_every_regularizer_is_bit_for_bit_reproducible():
  first, second = _train_twice_the_same_seed()
  assert sorted(first) == sorted(second)
  assert "hidden1/BatchNorm/moving_mean" in first
  for name, value in first.items():
    np.testing.assert_array_equal(value, second[name], err_msg=name)
  norms = np.linalg.norm(first["hidden1/weights"], axis=1)
  assert (norms <= 0.5 + 1e-6).all()


# contrib's names and relatives -------------------------------------------------------


def test_layer_penalty_op_names_are_contribs(graph):
  X = V1.placeholder(tf.float32, shape=(None, 6))
  fully_connected(X, 4, weights_regularizer=l2_regularizer(0.01))
  fully_connected(X, 4, weights_regularizer=l1_l2_regularizer(0.01, 0.01), scope="fc")
  first, second = V1.get_collection(REG_LOSSES)
  # TF 1.15's contrib named the penalty by its Dense layer's weight, `kernel`.
  assert first.op.name == "fully_connected/kernel/Regularizer/l2_regularizer"
  assert second.op.name == "fc/kernel/Regularizer/l1_l2_regularizer"


ONES = np.ones((5, 5, 5), np.float32)  # 125 elements


@pytest.mark.parametrize("scales, expected", [
    ((1.0, 1.0), 125 + 125 / 2), ((0.0, 1.0), 125 / 2), ((1.0, 0.0), 125.0)])
def test_l1_l2_names_and_values_as_contrib(graph, sess, scales, expected):
  loss = l1_l2_regularizer(*scales)(tf.constant(ONES))
  assert loss.op.name == "l1_l2_regularizer"
  np.testing.assert_allclose(sess.run(loss), expected, rtol=1e-6)
  with tf.name_scope("foo"):
    scoped = l1_l2_regularizer(*scales, scope="l1_l2")(tf.constant(ONES))
  assert scoped.op.name == "foo/l1_l2"


def test_integer_scales_are_accepted(graph, sess):
  # A deliberate deviation: contrib raised ValueError for l1_regularizer(1).
  values = np.array([1.0, -1.0, 4.0, 2.0], np.float32)
  np.testing.assert_allclose(sess.run(l1_regularizer(1)(tf.constant(values))), 8.0)
  np.testing.assert_allclose(sess.run(l2_regularizer(2)(tf.constant(values))), 22.0)
  np.testing.assert_allclose(sess.run(l1_l2_regularizer(1, 2)(tf.constant(values))),
                             30.0)


def test_sum_regularizer(graph, sess):
  values = np.array([-3.0, 2.0], np.float32)
  weights = tf.constant(values)
  l1, l2 = l1_regularizer(0.1), l2_regularizer(0.2)
  assert sum_regularizer([]) is None
  assert sum_regularizer([None]) is None
  only_l1 = sum_regularizer([l1, None])(weights)
  both = sum_regularizer([l1, l2], scope="both")(weights)
  assert both.op.name == "both"
  assert sum_regularizer([l1_regularizer(0.0)])(weights) is None
  np.testing.assert_allclose(sess.run(only_l1), 0.1 * np.abs(values).sum(), rtol=1e-6)
  np.testing.assert_allclose(
      sess.run(both), 0.1 * np.abs(values).sum() + 0.2 * (values ** 2).sum() / 2,
      rtol=1e-6)


@pytest.mark.parametrize("regularizer_list, error", [
    (l1_regularizer(0.1), TypeError), ("l1", TypeError), ([0.1], TypeError)])
def test_sum_regularizer_bad_list(graph, regularizer_list, error):
  with pytest.raises(error, match="regularizer_list"):
    sum_regularizer(regularizer_list)
  assert graph.get_operations() == []


ARRAYS = [[1.5], [2.0, 3.0, 4.2], [10.0, 42.0, 666.6]]


def test_apply_regularization(graph, sess):
  weights_list = [tf.constant(a) for a in ARRAYS]
  penalty = apply_regularization(lambda w: tf.reduce_sum(2 * w), weights_list)
  assert penalty.op.name == "get_regularization_penalty"
  assert V1.get_collection(REG_LOSSES) == [penalty]
  np.testing.assert_allclose(sess.run(penalty), sum(2 * x for a in ARRAYS for x in a),
                             rtol=1e-6)
  zero = apply_regularization(l2_regularizer(0.0), weights_list)
  assert sess.run(zero) == 0.0


def test_apply_regularization_defaults_to_the_weights_collection(graph, sess):
  a = V1.get_variable("a", initializer=np.array([1.0, -2.0], np.float32))
  V1.get_variable("b", initializer=np.array([5.0], np.float32))  # Not in WEIGHTS.
  V1.add_to_collection(V1.GraphKeys.WEIGHTS, a)
  penalty = apply_regularization(l1_regularizer(0.5))
  sess.run(V1.global_variables_initializer())
  np.testing.assert_allclose(sess.run(penalty), 1.5)


def test_apply_regularization_errors(graph):
  with pytest.raises(ValueError, match="No weights to regularize"):
    apply_regularization(l1_regularizer(0.5))
  with pytest.raises(TypeError, match="`regularizer`"):
    apply_regularization(0.5, [tf.constant(1.0)])
  with pytest.raises(ValueError, match="scalar"):
    apply_regularization(lambda w: tf.tile(w, [2]), [tf.constant(a) for a in ARRAYS])
  assert V1.get_collection(REG_LOSSES) == []
