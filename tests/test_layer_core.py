"""Tests of dnn_toolkit.layers.core, the one core under the contrib and tf.layers faces:
one owner for the batch-norm maths and the training switch, variables and their
penalties, and the kernel choice of batch normalization against NumPy.
"""

import ast
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import dnn_toolkit.layers
from dnn_toolkit.layers import core

V1 = tf.compat.v1
GK = V1.GraphKeys
LAYERS = pathlib.Path(dnn_toolkit.layers.__file__).parent
FACES = ["contrib.py", "tf_layers.py", "tf_base.py", "tf_core.py", "tf_convolutional.py"]


def _imports(path):
  tree = ast.parse(path.read_text())
  return [(node.module or "", alias.name) for node in ast.walk(tree)
          if isinstance(node, ast.ImportFrom) for alias in node.names]


@pytest.mark.parametrize("face", FACES)
def test_no_face_imports_private_names_of_another_module(face):
  private = [(module, name) for module, name in _imports(LAYERS / face)
             if module.startswith("dnn_toolkit") and name.startswith("_")
             and module != "dnn_toolkit"]  # `from dnn_toolkit import _validation`
  assert private == []
  assert ("dnn_toolkit.layers", "tf_layers") not in _imports(LAYERS / face)


def _code(path):
  """The module's code without its docstrings and comments."""
  tree = ast.parse(path.read_text())
  for node in ast.walk(tree):
    body = getattr(node, "body", None)
    if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)):
      body[0] = ast.Pass()
  return ast.unparse(tree)


@pytest.mark.parametrize("recipe", ["tf.nn.moments", "fused_batch_norm", "assign_sub",
                                    "tf.nn.convolution", "tf.nn.dropout",
                                    "get_variable(", "_V1.cond("])
def test_the_maths_has_one_owner(recipe):
  owners = [face for face in FACES + ["core.py"] if recipe in _code(LAYERS / face)]
  assert owners == ["core.py"], owners


def test_smart_cond_builds_a_cond_only_for_a_tensor(graph):
  assert core.smart_cond(True, lambda: 1, lambda: 2) == 1
  assert core.smart_cond(False, lambda: 1, lambda: 2) == 2
  assert not {op.type for op in graph.get_operations()} & {"If", "StatelessIf",
                                                           "Switch"}
  out = core.smart_cond(V1.placeholder(tf.bool, []), lambda: tf.constant(1),
                        lambda: tf.constant(2))
  assert {op.type for op in graph.get_operations()} & {"If", "StatelessIf", "Switch"}
  assert out.dtype == tf.int32


def test_add_variable_penalizes_a_new_variable_once(graph, sess):
  calls = []

  def regularizer(v):
    calls.append(v)
    return tf.reduce_sum(v) * 0.5

  with V1.variable_scope("block"):
    v = core.add_variable("w", [3], tf.float32, initializer=V1.ones_initializer(),
                          regularizer=regularizer,
                          collections=["mine", GK.GLOBAL_VARIABLES])
  with V1.variable_scope("block", reuse=True):
    again = core.add_variable("w", [3], tf.float32, regularizer=regularizer)
  assert again is v and len(calls) == 1
  [penalty] = V1.get_collection(GK.REGULARIZATION_LOSSES)
  assert penalty.op.name == "block/w/Regularizer/mul"
  assert V1.get_collection("mine") == [v]
  sess.run(V1.global_variables_initializer())
  assert sess.run(penalty) == 1.5


def test_add_variable_in_a_partitioned_scope(graph):
  partitioner = V1.fixed_size_partitioner(2, axis=0)
  with V1.variable_scope("p", partitioner=partitioner):
    parts = core.add_variable("w", [4, 2], tf.float32,
                              regularizer=lambda v: tf.reduce_sum(v))
    whole = core.add_variable("m", [4], tf.float32, unpartitioned=True)
  assert not isinstance(parts, tf.Variable) and len(list(parts)) == 2
  assert len(V1.get_collection(GK.REGULARIZATION_LOSSES)) == 2  # one per part
  assert isinstance(whole, tf.Variable)


def _params(channels):
  make = lambda name, init: V1.get_variable(name, [channels], initializer=init)
  return core.BatchNormParams(make("beta", V1.zeros_initializer()),
                              make("gamma", V1.ones_initializer()),
                              make("moving_mean", V1.zeros_initializer()),
                              make("moving_variance", V1.ones_initializer()))


@pytest.mark.parametrize("shape, axis", [((8, 3), 1), ((6, 2, 2, 3), 3),
                                         ((6, 3, 2, 2), 1)])
def test_fused_and_plain_normalize_alike_and_store_different_variances(sess, shape,
                                                                       axis):
  x = np.random.default_rng(0).normal(2.0, 3.0, size=shape).astype(np.float32)
  reduced = tuple(a for a in range(len(shape)) if a != axis)
  n = x.size // shape[axis]
  results = {}
  for fused in (True, False):
    with V1.variable_scope(f"fused_{fused}"):
      params = _params(shape[axis])
      out, updates = core.batch_normalization(
          tf.constant(x), params, channel_axes=[axis], training=True, momentum=0.0,
          epsilon=1e-3, fused=fused)
    results[fused] = (out, updates, params.moving_variance)
  sess.run(V1.global_variables_initializer())
  for fused, (out, updates, moving_variance) in results.items():
    sess.run(updates)
    mean = x.mean(reduced, keepdims=True)
    var = x.var(reduced, keepdims=True)
    np.testing.assert_allclose(sess.run(out), (x - mean) / np.sqrt(var + 1e-3),
                               rtol=1e-4, atol=1e-4)
    stored = x.var(reduced) * (n / (n - 1) if fused else 1.0)
    np.testing.assert_allclose(sess.run(moving_variance), stored, rtol=1e-4)


def test_inference_builds_no_update(graph):
  out, updates = core.batch_normalization(
      tf.zeros([4, 3]), _params(3), channel_axes=[1], training=False, momentum=0.9,
      epsilon=1e-3, fused=True)
  assert updates == [] and out.shape.as_list() == [4, 3]
  assert "AssignSubVariableOp" not in {op.type for op in graph.get_operations()}
