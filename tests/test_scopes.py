"""Tests of whole-scope selection and restore (dnn_toolkit.scopes).

Checkpoints are written by a first graph and restored into a second one, as a user
would between two scripts. What a user relies on: the restored values equal the saved
ones, the others keep their initial values, `hidden1` never catches `hidden10`, a
failed restore changes nothing, and checkpoints written by TF 1.x contrib code restore.
"""

import dataclasses
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from _helpers import (
  GK,
  N_INPUTS,
  SMALL,
  V1,
  assert_values_differ,
  assert_values_equal,
  save_small_model,
  small_data,
  variable_values,
)

from dnn_toolkit import scopes
from dnn_toolkit.errors import CheckpointError, NoMatchError, ShapeMismatchError
from dnn_toolkit.layers.contrib import batch_norm, fully_connected
from dnn_toolkit.model import build_dnn
from dnn_toolkit.scopes import (
  plan_restore,
  restore_scopes,
  reuse_saver,
  scope_matches,
  scope_variables,
  write_checkpoint,
)

# ------------------------------------------------------------ scope matching


@pytest.mark.parametrize("pattern, name, expected", [
    ("hidden[123]", "hidden1/weights", True),
    ("hidden[123]", "hidden3/BatchNorm/moving_mean", True),
    ("hidden[123]", "hidden10/weights", False),
    ("hidden1", "hidden10/weights", False),
    ("hidden1", "xhidden1/weights", False),
    ("hidden1", "dnn/hidden1/weights", False),  # Paths start at the root.
    ("hidden1/weights", "hidden1/weights", True),
    ("hidden1/weights", "hidden1/biases", False),
    ("hidden1|outputs", "outputs/biases", True),
    (re.compile(r"hidden\d+"), "hidden12/biases", True),
])
def test_scope_matches_whole_scope_names(pattern, name, expected):
  assert scope_matches(pattern, name) is expected


@pytest.mark.parametrize("pattern, error", [(3, TypeError), (None, TypeError),
                                            ("", ValueError), ("hidden(", ValueError)])
def test_scope_matches_rejects_bad_patterns(pattern, error):
  with pytest.raises(error, match="pattern"):
    scope_matches(pattern, "hidden1/weights")


def test_scope_variables_does_not_catch_hidden10_unlike_get_collection(graph):
  X = V1.placeholder(tf.float32, (None, 3))
  for scope in ("hidden1", "hidden2", "hidden10"):
    fully_connected(X, 2, normalizer_fn=batch_norm, scope=scope)
  ours = [v.op.name for v in scope_variables("hidden[123]")]
  assert ours == ["hidden1/weights", "hidden1/BatchNorm/beta",
                  "hidden2/weights", "hidden2/BatchNorm/beta"]
  # tf.get_collection's scope filter is re.match on the name: it catches hidden10.
  theirs = [v.op.name for v in V1.get_collection(GK.TRAINABLE_VARIABLES,
                                                 scope="hidden[123]")]
  assert "hidden10/weights" in theirs
  model = [v.op.name for v in scope_variables("hidden1", GK.MODEL_VARIABLES)]
  assert model == ["hidden1/weights", "hidden1/BatchNorm/beta",
                   "hidden1/BatchNorm/moving_mean", "hidden1/BatchNorm/moving_variance"]


def test_scope_variables_no_match_lists_what_exists(graph):
  fully_connected(V1.placeholder(tf.float32, (None, 3)), 2, scope="hidden1")
  with pytest.raises(NoMatchError, match=r"'hidden9'.*hidden1/weights, hidden1/biases"):
    scope_variables("hidden9")


# ------------------------------------------------------------------- restore


def test_restore_values_equal_saved_and_others_keep_init(saved, sess):
  prefix, saved_values = saved
  build_dnn(dataclasses.replace(SMALL, n_outputs=2, seed=7), N_INPUTS)
  sess.run(V1.global_variables_initializer())
  initial = variable_values(sess)
  restored = restore_scopes(sess, prefix, "hidden[12]")
  values = variable_values(sess)
  reused = [n for n in initial if n.startswith(("hidden1/", "hidden2/"))]
  assert sorted(restored) == sorted(reused)
  assert {"hidden1/BatchNorm/moving_mean", "hidden2/BatchNorm/moving_variance"} <= set(
      restored)  # Not trainable, restored all the same.
  assert_values_equal(values, saved_values, reused)
  assert_values_differ(values, initial, ["hidden1/weights", "hidden1/BatchNorm/moving_mean"])
  assert_values_equal(values, initial, [n for n in initial if n not in reused])


def test_hidden1_does_not_restore_hidden10(tmp_path, sess):
  config = dataclasses.replace(SMALL, hidden_layers=(3,) * 10, batch_norm=False)
  prefix = str(tmp_path / "ten" / "model.ckpt")
  saved_values = save_small_model(prefix, config)
  build_dnn(dataclasses.replace(config, seed=5), N_INPUTS)
  sess.run(V1.global_variables_initializer())
  initial = variable_values(sess)
  restored = restore_scopes(sess, prefix, "hidden1")
  assert sorted(restored) == ["hidden1/biases", "hidden1/weights"]
  values = variable_values(sess)
  assert_values_equal(values, saved_values, ["hidden1/weights", "hidden1/biases"])
  assert_values_equal(values, initial, ["hidden10/weights", "hidden10/biases"])


def _renamed_graph():
  """Layers pre1, pre2 shaped as SMALL's hidden1, hidden2, and a fresh 'hidden1'."""
  X = V1.placeholder(tf.float32, (None, N_INPUTS))
  bn = {"is_training": False}  # No gamma: restores whether the checkpoint has one or not.
  top = fully_connected(X, 6, normalizer_fn=batch_norm, normalizer_params=bn,
                        scope="pre1")
  fully_connected(top, 5, normalizer_fn=batch_norm, normalizer_params=bn, scope="pre2")
  fully_connected(X, 6, normalizer_fn=batch_norm, normalizer_params=bn, scope="hidden1")


def test_name_map_restores_into_renamed_scopes(saved, sess):
  prefix, saved_values = saved
  _renamed_graph()
  sess.run(V1.global_variables_initializer())
  initial = variable_values(sess)
  restored = restore_scopes(sess, prefix, "hidden[12]",
                            name_map={"hidden1": "pre1", "hidden2": "pre2"})
  assert restored["pre1/weights"] == "hidden1/weights"
  assert restored["pre2/BatchNorm/moving_mean"] == "hidden2/BatchNorm/moving_mean"
  values = variable_values(sess)
  for name, source in restored.items():
    np.testing.assert_array_equal(values[name], saved_values[source])
  # The map moved hidden1 to pre1: the graph's own hidden1 is not restored.
  assert_values_equal(values, initial, [n for n in initial if n.startswith("hidden1/")])


# ------------------------------------------------------------- bad input


def _corrupt_index(prefix):
  with open(prefix + ".index", "wb") as f:
    f.write(b"not a checkpoint" * 8)


def _truncate_data(prefix):
  data_file = prefix + ".data-00000-of-00001"
  with open(data_file, "rb") as f:
    head = f.read(16)
  with open(data_file, "wb") as f:
    f.write(head)


BAD_RESTORES = {
    "pattern matches nothing in the checkpoint": (
        dict(pattern="hidden9"), NoMatchError,
        r"'hidden9' matches no variable of checkpoint .* holds: .*hidden1/weights"),
    "pattern matches nothing in the graph": (
        dict(pattern="outputs", collection=GK.TRAINABLE_VARIABLES, graph="renamed"),
        NoMatchError, r"matches no variable of collection 'trainable_variables' in the "
        r"graph. It holds: .*pre1/weights"),
    "shape mismatch": (
        dict(pattern="hidden[12]", graph="wide"), ShapeMismatchError,
        r"hidden2/weights: graph \[6, 9\], checkpoint \[6, 5\]"),
    "graph variable not in the checkpoint": (
        dict(pattern="hidden[12]", graph="no_bn"), NoMatchError,
        r"not in checkpoint .*hidden1/biases.*holds: .*hidden1/BatchNorm/beta"),
    "missing checkpoint": (
        dict(prefix="missing"), CheckpointError, r"No checkpoint at .*missing"),
    "corrupt index": (
        dict(damage=_corrupt_index), CheckpointError, r"Cannot read checkpoint .*corrupt"),
    "truncated data": (
        dict(damage=_truncate_data), CheckpointError,
        r"corrupt.*Nothing was restored"),
    "name map source missing": (
        dict(name_map={"hidden7": "hidden1"}), NoMatchError,
        r"\['hidden7'\] that the checkpoint does not hold. Its scopes: .*hidden1"),
    "name map target missing": (
        dict(name_map={"hidden1": "pre9"}), NoMatchError,
        r"targets scope\(s\) \['pre9'\] .* The graph's scopes: hidden1, hidden1/BatchNorm"),
    "name map of names to variables": (
        dict(name_map={"hidden1": 3}), TypeError, r"`name_map`.*'hidden1': 3"),
    "name map with a tensor name": (
        dict(name_map={"hidden1/weights:0": "hidden1/weights"}), ValueError,
        r"no ':0'"),
}


def _bad_graph(kind):
  if kind == "renamed":
    _renamed_graph()
  elif kind == "wide":
    build_dnn(dataclasses.replace(SMALL, hidden_layers=(6, 9, 4)), N_INPUTS)
  elif kind == "no_bn":
    build_dnn(dataclasses.replace(SMALL, batch_norm=False), N_INPUTS)
  else:
    build_dnn(SMALL, N_INPUTS)


@pytest.mark.parametrize("case", sorted(BAD_RESTORES))
def test_bad_restore_raises_and_changes_nothing(case, saved, sess, tmp_path):
  options, error, message = BAD_RESTORES[case]
  prefix = saved[0]
  if options.get("prefix") == "missing":
    prefix = str(tmp_path / "missing" / "model.ckpt")
  if "damage" in options:
    options["damage"](prefix)
  _bad_graph(options.get("graph"))
  sess.run(V1.global_variables_initializer())
  before = variable_values(sess, GK.GLOBAL_VARIABLES)
  kwargs = {k: options[k] for k in ("name_map", "collection") if k in options}
  with pytest.raises(error, match=message):
    restore_scopes(sess, prefix, options.get("pattern", "hidden[12]"), **kwargs)
  after = variable_values(sess, GK.GLOBAL_VARIABLES)
  assert_values_equal(after, before, before)  # Nothing half-restored.


def test_failed_restore_leaves_earlier_matches_unrestored(saved, sess):
  # hidden1 fits, hidden2 does not: hidden1 must not be restored either.
  build_dnn(dataclasses.replace(SMALL, hidden_layers=(6, 9, 4)), N_INPUTS)
  sess.run(V1.global_variables_initializer())
  before = variable_values(sess)
  with pytest.raises(ShapeMismatchError, match="Nothing was restored"):
    restore_scopes(sess, saved[0], "hidden[12]")
  assert_values_equal(variable_values(sess), before, before)


def test_restore_works_in_a_finalized_graph_from_a_directory(saved_once, sess):
  prefix, saved_values = saved_once
  build_dnn(SMALL, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  sess.graph.finalize()  # As under a MonitoredTrainingSession: no new op allowed.
  restore_scopes(sess, os.path.dirname(prefix), "hidden3")
  assert_values_equal(variable_values(sess), saved_values, ["hidden3/weights"])


def test_plan_restore_checks_without_a_session(saved, graph):
  build_dnn(SMALL, N_INPUTS)
  var_list = plan_restore(saved[0], "hidden1")
  expected = [v.op.name for v in V1.model_variables() if v.op.name.startswith("hidden1/")]
  assert list(var_list) == expected
  assert {"hidden1/weights", "hidden1/BatchNorm/moving_mean"} <= set(var_list)
  assert all(var.op.name == name for name, var in var_list.items())


# ------------------------------------------------- Savers and the lesson's slip


def test_saver_given_names_to_names(saved, sess):
  prefix, saved_values = saved
  build_dnn(SMALL, N_INPUTS)
  reuse_vars = V1.get_collection(GK.TRAINABLE_VARIABLES, scope="hidden[123]")
  reuse_vars_dict = dict([(var.name, var.name) for var in reuse_vars])  # The slip.
  # What tf.compat.v1.train.Saver itself says:
  with pytest.raises(TypeError, match="names_to_saveables must be a dict mapping string "
                                      "names to Tensors/Variables. Not a variable"):
    V1.train.Saver(reuse_vars_dict)
  # What ours says:
  with pytest.raises(TypeError, match=re.escape(
      "A Saver needs the variables themselves: write {var.op.name: var for var in "
      "reuse_vars}")):
    reuse_saver(reuse_vars_dict)
  with pytest.raises(ValueError, match=r"'hidden1/weights:0' is a tensor name.*"
                                       r"var.op.name"):
    reuse_saver({var.name: var for var in reuse_vars})
  sess.run(V1.global_variables_initializer())
  reuse_saver({var.op.name: var for var in reuse_vars}).restore(sess, prefix)
  assert_values_equal(variable_values(sess), saved_values, ["hidden1/weights", "hidden3/BatchNorm/beta"])


@pytest.mark.parametrize("var_list, error", [
    ([], ValueError), ({}, ValueError), ("hidden1", TypeError), (["hidden1"], TypeError)])
def test_reuse_saver_rejects_bad_var_lists(var_list, error, graph):
  with pytest.raises(error, match="var_list"):
    reuse_saver(var_list)


LESSON_SNIPPET = """
import os
import numpy as np
import tensorflow.compat.v1 as tf
import dnn_toolkit
from dnn_toolkit.scopes import restore_scopes, scope_variables
from dnn_toolkit.layers.contrib import fully_connected
dnn_toolkit.enable_tf1_behavior()
os.chdir({workdir!r})

def build(n_hidden4):  # The lesson's original model and, rebuilt, the new one.
  X = tf.placeholder(tf.float32, shape=(None, 8), name="X")
  hidden1 = fully_connected(X, 6, scope="hidden1")
  hidden2 = fully_connected(hidden1, 5, scope="hidden2")
  hidden3 = fully_connected(hidden2, 4, scope="hidden3")
  hidden4 = fully_connected(hidden3, n_hidden4, scope="hidden4")
  return X, tf.reduce_sum(hidden4 ** 2)

X, loss = build(n_hidden4=3)
saver = tf.train.Saver()
with tf.Session() as sess:
  sess.run(tf.global_variables_initializer())
  saver.save(sess, "./my_original_model.ckpt")
  original = {{v.op.name: sess.run(v) for v in tf.global_variables()}}

tf.reset_default_graph()
X, loss = build(n_hidden4=2)  # A new hidden4 of another size
training_op = tf.train.GradientDescentOptimizer(0.01).minimize(loss)

# ---- the lesson's snippet; slips corrected: tf.train.Saver, sess in restore and
# ---- save, a dict of names to variables; `[...]` replaced by a training step.
init = tf.global_variables_initializer()
reuse_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES,
                               scope="hidden[123]")
reuse_vars_dict = dict([(var.op.name, var) for var in reuse_vars])
original_saver = tf.train.Saver(reuse_vars_dict) # saver to restore the original model
new_saver = tf.train.Saver() # saver to save the new model
with tf.Session() as sess:
   sess.run(init)
   original_saver.restore(sess, "./my_original_model.ckpt") # restore layers 1 to 3
   restored = {{v.op.name: sess.run(v) for v in tf.global_variables()}}
   sess.run(training_op, feed_dict={{X: np.ones((4, 8), np.float32)}})
   new_saver.save(sess, "./my_new_model.ckpt") # save the whole model
# ---- end of the snippet

for name in ("hidden1/weights", "hidden2/biases", "hidden3/weights"):
  assert np.array_equal(restored[name], original[name]), name
assert restored["hidden4/weights"].shape == (4, 2)
assert sorted(v.op.name for v in reuse_vars) == sorted(
    v.op.name for v in scope_variables("hidden[123]"))

# The same with dnn_toolkit, on reference variables (TF 1.x behaviour):
with tf.Session() as sess:
  sess.run(init)
  restore_scopes(sess, "./my_original_model.ckpt", "hidden[123]",
                 collection=tf.GraphKeys.GLOBAL_VARIABLES)
  assert np.array_equal(sess.run(reuse_vars[0]), original[reuse_vars[0].op.name])
print("snippet ok", type(reuse_vars[0]).__name__)
"""


def test_lesson_restore_snippet_runs_with_its_slips_corrected(run_python, tmp_path):
  out = run_python(LESSON_SNIPPET.format(workdir=str(tmp_path)))
  assert "snippet ok RefVariable" in out
  assert os.path.exists(tmp_path / "my_new_model.ckpt.index")


# ------------------------------------------------- TF 1.x contrib checkpoints


def _write_contrib_checkpoint(prefix, with_gamma):
  """Writes SMALL's layers as plain TF 1.x code with tf.contrib.layers' names would.

  contrib's batch_norm had scale=False by default: no gamma unless `with_gamma`.
  """
  rng = np.random.RandomState(3)
  sizes = {"hidden1": (N_INPUTS, 6), "hidden2": (6, 5), "hidden3": (5, 4)}
  written = {}
  for scope, (fan_in, units) in sizes.items():
    written[f"{scope}/weights"] = rng.randn(fan_in, units)
    bn = ("beta", "moving_mean", "moving_variance") + (("gamma",) if with_gamma else ())
    for name in bn:
      written[f"{scope}/BatchNorm/{name}"] = rng.rand(units) + 0.5
  written.update({"outputs/weights": rng.randn(4, 3), "outputs/biases": rng.randn(3)})
  written = {name: value.astype(np.float32) for name, value in written.items()}
  with tf.Graph().as_default() as contrib_graph:
    for name, value in written.items():
      scope, var_name = name.rsplit("/", 1)
      with V1.variable_scope(scope):
        V1.get_variable(var_name, initializer=value)
    V1.train.get_or_create_global_step()
    with V1.Session(graph=contrib_graph) as contrib_sess:
      contrib_sess.run(V1.global_variables_initializer())
      V1.train.Saver().save(contrib_sess, prefix)
  return written


def _check_hidden1(sess, dnn, written):
  """hidden1's output against NumPy: ELU of batch norm in inference mode."""
  X = small_data()[0][:4]
  values = variable_values(sess)
  gamma = values.get("hidden1/BatchNorm/gamma", 1.0)
  mean, var = (written[f"hidden1/BatchNorm/moving_{s}"] for s in ("mean", "variance"))
  z = (X @ written["hidden1/weights"] - mean) / np.sqrt(var + 0.001) * gamma + written[
      "hidden1/BatchNorm/beta"]
  np.testing.assert_allclose(sess.run(dnn.hidden[0], {dnn.X: X}),
                             np.where(z > 0, z, np.expm1(z)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("with_gamma", [False, True])
def test_checkpoint_with_contrib_names_restores(with_gamma, tmp_path, sess):
  prefix = str(tmp_path / "contrib" / "model.ckpt")
  written = _write_contrib_checkpoint(prefix, with_gamma)
  dnn = build_dnn(SMALL, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  graph_has_gamma = "hidden1/BatchNorm/gamma" in variable_values(sess)
  if graph_has_gamma and not with_gamma:
    with pytest.raises(NoMatchError, match="hidden1/BatchNorm/gamma"):
      restore_scopes(sess, prefix, "hidden[123]|outputs")
    # Leave gamma out: at its initial 1.0 it computes what contrib's scale=False did.
    pattern = r"hidden[123]/(weights|BatchNorm/(beta|moving_mean|moving_variance))|outputs"
  else:
    pattern = "hidden[123]|outputs"
  restored = restore_scopes(sess, prefix, pattern)
  expected = {n for n in written if graph_has_gamma or not n.endswith("/gamma")}
  assert set(restored) == expected
  assert_values_equal(variable_values(sess), written, expected)
  _check_hidden1(sess, dnn, written)


def test_write_checkpoint_round_trips(tmp_path):
  values = {"hidden1/weights": np.eye(2, dtype=np.float32), "global_step": np.int64(5)}
  prefix = write_checkpoint(str(tmp_path / "w" / "model.ckpt"), values)
  loaded = scopes.load_values(prefix)
  assert set(loaded) == set(values)
  np.testing.assert_array_equal(loaded["hidden1/weights"], values["hidden1/weights"])


