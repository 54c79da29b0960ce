"""Tests of scope-filtered restore (dnn_toolkit.checkpoints) and dnn_toolkit.transfer.

Each test builds in a fresh graph. Checkpoints are written by a first graph and restored
into a second one, as a user would between two scripts. What a user relies on: the
restored values equal the saved ones, the others keep their initial values, `hidden1`
never catches `hidden10`, frozen variables do not move, and a failed restore changes
nothing.
"""

import dataclasses
import glob
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import checkpoints, experiment, training, transfer
from dnn_toolkit.checkpoints import (plan_restore, restore_scopes, reuse_saver,
                                     scope_matches, scope_variables, write_checkpoint)
from dnn_toolkit.errors import CheckpointError, NoMatchError, ShapeMismatchError
from dnn_toolkit.layers import batch_norm, fully_connected
from dnn_toolkit.model import DNNConfig, build_dnn

V1 = tf.compat.v1
GK = V1.GraphKeys
N_INPUTS = 7
SMALL = DNNConfig(hidden_layers=(6, 5, 4), n_outputs=3, batch_norm=True,
                  dropout_rate=0.0, seed=1)


def _data(n=120, seed=0, n_classes=3):
  rng = np.random.RandomState(seed)
  X = rng.rand(n, N_INPUTS).astype(np.float32)
  y = (np.digitize(X[:, 0] + X[:, 1], [0.7, 1.3]) % n_classes).astype(np.int64)
  return X, y


def _values(sess, collection=GK.MODEL_VARIABLES):
  """{op name: value} of a collection's variables in the Session's graph."""
  variables = sess.graph.get_collection(collection)
  return dict(zip([v.op.name for v in variables], sess.run(variables)))


def _save_model(prefix, config=SMALL, train_steps=True):
  """Builds, trains briefly and saves `config` (all global variables, optimizer slots
  included, as the 'latest' checkpoint does); returns {name: value} of its model
  variables."""
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    init = V1.global_variables_initializer()
    with V1.Session(graph=graph) as sess:
      sess.run(init)
      if train_steps:  # Moves weights and batch norm's moving statistics off their init.
        training.fit(sess, dnn, _data(), _data(seed=1), epochs=1, verbose=0)
      V1.train.Saver().save(sess, prefix, write_meta_graph=False)
      return _values(sess)


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory):
  prefix = str(tmp_path_factory.mktemp("base") / "model.ckpt")
  return prefix, _save_model(prefix)


@pytest.fixture
def saved(saved_once, tmp_path):
  """(prefix, {name: value}) of a trained SMALL model, a copy the test may damage."""
  prefix, values = saved_once
  os.makedirs(tmp_path / "base")
  for path in glob.glob(prefix + ".*"):
    shutil.copy(path, tmp_path / "base")
  return str(tmp_path / "base" / "model.ckpt"), values


def _assert_equal(values, expected, names):
  for name in names:
    np.testing.assert_array_equal(values[name], expected[name], err_msg=name)


def _assert_all_differ(values, other, names):
  for name in names:
    assert not np.array_equal(values[name], other[name]), name


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
  initial = _values(sess)
  restored = restore_scopes(sess, prefix, "hidden[12]")
  values = _values(sess)
  reused = [n for n in initial if n.startswith(("hidden1/", "hidden2/"))]
  assert sorted(restored) == sorted(reused)
  assert {"hidden1/BatchNorm/moving_mean", "hidden2/BatchNorm/moving_variance"} <= set(
      restored)  # Not trainable, restored all the same.
  _assert_equal(values, saved_values, reused)
  _assert_all_differ(values, initial, ["hidden1/weights", "hidden1/BatchNorm/moving_mean"])
  _assert_equal(values, initial, [n for n in initial if n not in reused])


def test_hidden1_does_not_restore_hidden10(tmp_path, sess):
  config = dataclasses.replace(SMALL, hidden_layers=(3,) * 10, batch_norm=False)
  prefix = str(tmp_path / "ten" / "model.ckpt")
  saved_values = _save_model(prefix, config)
  build_dnn(dataclasses.replace(config, seed=5), N_INPUTS)
  sess.run(V1.global_variables_initializer())
  initial = _values(sess)
  restored = restore_scopes(sess, prefix, "hidden1")
  assert sorted(restored) == ["hidden1/biases", "hidden1/weights"]
  values = _values(sess)
  _assert_equal(values, saved_values, ["hidden1/weights", "hidden1/biases"])
  _assert_equal(values, initial, ["hidden10/weights", "hidden10/biases"])


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
  initial = _values(sess)
  restored = restore_scopes(sess, prefix, "hidden[12]",
                            name_map={"hidden1": "pre1", "hidden2": "pre2"})
  assert restored["pre1/weights"] == "hidden1/weights"
  assert restored["pre2/BatchNorm/moving_mean"] == "hidden2/BatchNorm/moving_mean"
  values = _values(sess)
  for name, source in restored.items():
    np.testing.assert_array_equal(values[name], saved_values[source])
  # The map moved hidden1 to pre1: the graph's own hidden1 is not restored.
  _assert_equal(values, initial, [n for n in initial if n.startswith("hidden1/")])


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
  before = _values(sess, GK.GLOBAL_VARIABLES)
  kwargs = {k: options[k] for k in ("name_map", "collection") if k in options}
  with pytest.raises(error, match=message):
    restore_scopes(sess, prefix, options.get("pattern", "hidden[12]"), **kwargs)
  after = _values(sess, GK.GLOBAL_VARIABLES)
  _assert_equal(after, before, before)  # Nothing half-restored.


def test_failed_restore_leaves_earlier_matches_unrestored(saved, sess):
  # hidden1 fits, hidden2 does not: hidden1 must not be restored either.
  build_dnn(dataclasses.replace(SMALL, hidden_layers=(6, 9, 4)), N_INPUTS)
  sess.run(V1.global_variables_initializer())
  before = _values(sess)
  with pytest.raises(ShapeMismatchError, match="Nothing was restored"):
    restore_scopes(sess, saved[0], "hidden[12]")
  _assert_equal(_values(sess), before, before)


def test_restore_works_in_a_finalized_graph_from_a_directory(saved_once, sess):
  prefix, saved_values = saved_once
  build_dnn(SMALL, N_INPUTS)
  sess.run(V1.global_variables_initializer())
  sess.graph.finalize()  # As under a MonitoredTrainingSession: no new op allowed.
  restore_scopes(sess, os.path.dirname(prefix), "hidden3")
  _assert_equal(_values(sess), saved_values, ["hidden3/weights"])


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
  _assert_equal(_values(sess), saved_values, ["hidden1/weights", "hidden3/BatchNorm/beta"])


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
from dnn_toolkit.checkpoints import restore_scopes, scope_variables
from dnn_toolkit.layers import fully_connected
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
  X = _data()[0][:4]
  values = _values(sess)
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
  graph_has_gamma = "hidden1/BatchNorm/gamma" in _values(sess)
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
  _assert_equal(_values(sess), written, expected)
  _check_hidden1(sess, dnn, written)


def test_write_checkpoint_round_trips(tmp_path):
  values = {"hidden1/weights": np.eye(2, dtype=np.float32), "global_step": np.int64(5)}
  prefix = write_checkpoint(str(tmp_path / "w" / "model.ckpt"), values)
  loaded = checkpoints.load_values(prefix)
  assert set(loaded) == set(values)
  np.testing.assert_array_equal(loaded["hidden1/weights"], values["hidden1/weights"])


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
  before = _values(sess)
  training.fit(sess, dnn, _data(), _data(seed=1), epochs=2, verbose=0)
  after = _values(sess)
  frozen = [n for n in before if n.startswith(("hidden1/", "hidden2/"))]
  _assert_equal(after, before, frozen)  # Batch norm's moving statistics included.
  _assert_all_differ(after, before, ["hidden3/weights", "hidden3/BatchNorm/moving_mean",
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
  start = _values(sess)
  training.fit(sess, frozen_dnn, _data(), _data(seed=1), epochs=1, verbose=0)
  frozen_end = _values(sess)
  _assert_equal(frozen_end, start, [n for n in start if n.startswith(("hidden1/",
                                                                      "hidden2/"))])
  _assert_all_differ(frozen_end, start, ["hidden3/weights"])
  thawed, init_new = transfer.unfreeze(frozen_dnn, "hidden2")
  sess.run(init_new)  # The new optimizer's slots only: no trained value is reset.
  _assert_equal(_values(sess), frozen_end, frozen_end)
  training.fit(sess, thawed, _data(), _data(seed=1), epochs=1, verbose=0)
  end = _values(sess)
  _assert_equal(end, start, ["hidden1/weights", "hidden1/biases"])
  _assert_all_differ(end, frozen_end, ["hidden2/weights", "hidden3/weights"])


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
  initial = _values(sess)
  model.restore(sess)
  values = _values(sess)
  reused = [n for n in initial if n.startswith(("hidden1/", "hidden3/"))]
  _assert_equal(values, saved_values, reused)
  _assert_equal(values, initial, [n for n in initial if n not in reused])


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
  run = experiment.train(config, _data(), _data(seed=1), run_dir=str(tmp_path / "run"),
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
  X, y = _data(seed=4)
  train, valid = (X, y % 2), (_data(seed=5)[0], _data(seed=5)[1] % 2)
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
      return _values(sess), state


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
  X = _data()[0]
  cache = transfer.cache_frozen(sess, model, X, batch_size=50)
  assert cache.shape == (len(X), 5)
  np.testing.assert_allclose(cache, sess.run(model.dnn.hidden[1], {model.dnn.X: X}),
                             rtol=1e-6)
  unfrozen = dataclasses.replace(model, frozen_layers=0)
  with pytest.raises(ValueError, match="frozen_layers > 0"):
    transfer.cached_view(unfrozen)
