"""Tests of dnn_toolkit.runner: unmodified TF 1.x scripts, run as `python SCRIPT` would.

The typical TF 1.x programs of tests/test_tf1.py run here as written (`import
tensorflow as tf`, `from tensorflow.examples.tutorials.mnist import input_data`)
through `python -m dnn_toolkit.runner`, with the same NumPy checks. Every run is a
child process, ended by its pid past a deadline.
"""

import json
import os
import re
import sys
import textwrap

import numpy as np

import pytest
from test_tf1 import PROGRAMS, program_params, run_child, run_program

RUNNER = [sys.executable, "-m", "dnn_toolkit.runner"]


@pytest.mark.parametrize("name", program_params())
def test_program_runs_unmodified(tmp_path, name):
  text, check = PROGRAMS[name]
  check(run_program(text, tmp_path, through_runner=True), tmp_path)


# The lesson's contrib code as TF 1.x had it: contrib imports, arg_scope, batch norm's
# UPDATE_OPS, tf.summary.FileWriter and tf.train.Saver.
CONTRIB_SCRIPT = """\
import os, sys
import tensorflow as tf
from tensorflow.contrib.layers import fully_connected, batch_norm, dropout
from tensorflow.contrib.framework import arg_scope
from tensorflow.examples.tutorials.mnist import input_data

out_dir = sys.argv[1]
mnist = input_data.read_data_sets("MNIST_data/", seed=3)
X = tf.placeholder(tf.float32, shape=(None, 784), name="X")
y = tf.placeholder(tf.int64, shape=(None), name="y")
is_training = tf.placeholder(tf.bool, shape=(), name="is_training")
bn_params = {"is_training": is_training, "decay": 0.9, "updates_collections": None}
with arg_scope([fully_connected], normalizer_fn=batch_norm,
               normalizer_params=bn_params):
    hidden1 = fully_connected(X, 100, scope="hidden1")
    hidden1_drop = dropout(hidden1, 0.9, is_training=is_training)
    logits = fully_connected(hidden1_drop, 10, scope="outputs", activation_fn=None)
xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
loss = tf.reduce_mean(xentropy, name="loss")
training_op = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))
loss_summary = tf.summary.scalar("loss", loss)
file_writer = tf.summary.FileWriter(os.path.join(out_dir, "logs"),
                                    tf.get_default_graph())
saver = tf.train.Saver()
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    for step in range(100):
        X_batch, y_batch = mnist.train.next_batch(100)
        _, summary = sess.run([training_op, loss_summary],
                              feed_dict={X: X_batch, y: y_batch, is_training: True})
        if step % 50 == 0:
            file_writer.add_summary(summary, step)
    acc = accuracy.eval(feed_dict={X: mnist.test.images, y: mnist.test.labels,
                                   is_training: False})
    saver.save(sess, os.path.join(out_dir, "my_model_final.ckpt"))
file_writer.close()
print("accuracy", acc)
print("variables", " ".join(v.op.name for v in tf.global_variables()
                            if "Momentum" not in v.op.name))
"""


def test_lesson_contrib_script_runs_unmodified(tmp_path):
  script = tmp_path / "contrib_mlp.py"
  script.write_text(CONTRIB_SCRIPT)
  proc = run_child(RUNNER + [str(script), str(tmp_path)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-6000:]
  lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
  assert float(lines["accuracy"]) >= 0.9
  assert lines["variables"].split() == [
      "hidden1/weights", "hidden1/BatchNorm/beta", "hidden1/BatchNorm/moving_mean",
      "hidden1/BatchNorm/moving_variance", "outputs/weights", "outputs/BatchNorm/beta",
      "outputs/BatchNorm/moving_mean", "outputs/BatchNorm/moving_variance"]
  assert any(f.startswith("events.out.tfevents.")
             for f in os.listdir(tmp_path / "logs"))
  assert (tmp_path / "my_model_final.ckpt.index").is_file()
  assert (tmp_path / "my_model_final.ckpt.meta").is_file()
  assert not os.path.exists(tmp_path / "MNIST_data")  # read_data_sets wrote nothing


# The lesson's snippets (tests/test_lesson_snippets.py) with their TF 1.x imports back.
TF1_IMPORTS = {
    "import tensorflow.compat.v1 as tf": "import tensorflow as tf",
    "from dnn_toolkit.layers.contrib import ": "from tensorflow.contrib.layers import ",
    "from dnn_toolkit.layers.regularizers import ": "from tensorflow.contrib.layers import ",
    "from dnn_toolkit.layers.arg_scope import ": "from tensorflow.contrib.framework import ",
}

LESSON_DRIVER = """\
import sys, traceback
import tensorflow as tf
import test_lesson_snippets as lesson
failed = []
for name, (code, check) in {**lesson.SNIPPETS, **lesson.TF1_ONLY_SNIPPETS}.items():
    for toolkit_line, tf1_line in %r.items():
        code = code.replace(toolkit_line, tf1_line)
    assert "dnn_toolkit" not in code.split("# Lesson code below")[-1], code
    tf.reset_default_graph()
    try:
        lesson.run_snippet(code, check)
    except Exception:
        failed.append(name)
        traceback.print_exc(file=sys.stdout)
print("ran", len(lesson.SNIPPETS) + len(lesson.TF1_ONLY_SNIPPETS), "failed:", failed)
""" % (TF1_IMPORTS,)


def test_lesson_snippets_run_with_their_tf1_imports(tmp_path):
  script = _write(tmp_path / "lesson.py", LESSON_DRIVER)
  proc = run_child(RUNNER + [str(script)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stdout + proc.stderr[-6000:]
  assert re.fullmatch(r"ran [1-9]\d* failed: \[\]", proc.stdout.splitlines()[-1]), (
      proc.stdout)


# ------------------------------------------------------------- refused SCRIPTs


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing.py", "no such file: "),
    (lambda d: d, "is a directory"),
    (lambda d: _write(d / "notes.txt", "print('hi')\n"), "is not a Python script"),
    (lambda d: _write(d / "model.ipynb", "{}"), "%load_ext dnn_toolkit.tf1"),
])
def test_refused_script_gives_one_line_and_exit_2(tmp_path, make, expected):
  path = make(tmp_path)
  proc = run_child(RUNNER + [str(path), "--flag"], cwd=tmp_path, timeout=60)
  assert proc.returncode == 2
  assert proc.stdout == ""
  assert proc.stderr.count("\n") == 1, proc.stderr
  assert proc.stderr.startswith("python -m dnn_toolkit.runner: error: ")
  assert expected in proc.stderr


def test_no_script_gives_usage_and_exit_2(tmp_path):
  proc = run_child(RUNNER, cwd=tmp_path, timeout=60)
  assert proc.returncode == 2
  assert proc.stderr == ("usage: python -m dnn_toolkit.runner [--no-numpy-compat] "
                         "SCRIPT [ARGS...] (missing SCRIPT)\n")


def test_unknown_runner_option_gives_one_line_and_exit_2(tmp_path):
  script = _write(tmp_path / "s.py", "print('ran')\n")
  proc = run_child(RUNNER + ["--epochs", str(script)], cwd=tmp_path, timeout=60)
  assert proc.returncode == 2 and proc.stdout == ""
  assert proc.stderr == (
      "python -m dnn_toolkit.runner: error: unrecognized option '--epochs' before "
      "SCRIPT (expected --no-numpy-compat; the script's own options go after "
      "SCRIPT)\n")


def _write(path, text):
  path.write_text(text)
  return path


# ------------------------------------------- what passes through from the script


def test_exit_code_argv_output_and_sibling_imports_pass_through(tmp_path):
  """sys.exit(3) exits 3; argv, __name__, sys.path[0] are python's; a module the
  script imports sees the stand-in too."""
  _write(tmp_path / "helpers.py", "import tensorflow as tf\nlayers = tf.layers\n")
  script = _write(tmp_path / "tool", textwrap.dedent("""\
      #!/usr/bin/env python3
      import os, sys
      import tensorflow as tf
      import helpers
      print("argv", sys.argv[1:])
      print("name", __name__, os.path.basename(__file__))
      print("path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
      print("stand-in", tf.layers is helpers.layers, tf.__name__)
      sys.stdout.flush()
      sys.exit(3)
  """))
  proc = run_child(RUNNER + [str(script), "--epochs", "2", "--help"], cwd=tmp_path)
  assert proc.returncode == 3, proc.stderr[-3000:]
  assert proc.stdout.splitlines() == [
      "argv ['--epochs', '2', '--help']", "name __main__ tool", "path0 True",
      "stand-in True dnn_toolkit.tf1"]


TRACEBACK_SCRIPT = """\
import sys
def fail(message):
    raise ValueError(message)
print("before", flush=True)
try:
    fail("inner")
except ValueError as e:
    raise RuntimeError("outer") from e
"""


def test_script_exception_passes_through_with_its_traceback(tmp_path):
  script = _write(tmp_path / "fails.py", TRACEBACK_SCRIPT)
  direct = run_child([sys.executable, str(script)], cwd=tmp_path, timeout=60)
  proc = run_child(RUNNER + [str(script)], cwd=tmp_path)
  assert proc.returncode == direct.returncode == 1
  assert proc.stdout == direct.stdout == "before\n"
  traceback = proc.stderr[proc.stderr.index("Traceback (most recent call last):"):]
  assert traceback == direct.stderr  # The same text, no runner or runpy frames.
  assert "RuntimeError: outer" in traceback and "ValueError: inner" in traceback


def test_syntax_error_passes_through(tmp_path):
  script = _write(tmp_path / "broken.py", "x = (1,\nprint(x\n")
  direct = run_child([sys.executable, str(script)], cwd=tmp_path, timeout=60)
  proc = run_child(RUNNER + [str(script)], cwd=tmp_path)
  assert proc.returncode == direct.returncode == 1
  assert "SyntaxError" in proc.stderr and str(script) in proc.stderr
  assert "runpy" not in proc.stderr and "dnn_toolkit/runner.py" not in proc.stderr


OUT_OF_SCOPE_SCRIPT = """\
import tensorflow as tf
for statement in [
        "from tensorflow.contrib.factorization import KMeans",
        "from tensorflow.contrib.tensor_forest.python import tensor_forest",
        "from tensorflow.contrib.boosted_trees.estimator_batch.estimator import "
        "GradientBoostedDecisionTreeClassifier"]:
    try:
        exec(statement)
    except ImportError as e:
        print(type(e).__name__, e)
"""


def test_out_of_scope_contrib_families_say_so_and_what_to_use(tmp_path):
  """tf.contrib.factorization, tensor_forest and boosted_trees: why they are not
  rebuilt, and the libraries that do the job today."""
  script = _write(tmp_path / "trees.py", OUT_OF_SCOPE_SCRIPT)
  proc = run_child(RUNNER + [str(script)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = proc.stdout.splitlines()
  assert len(lines) == 3
  for line, api, alternatives in zip(lines, [
      "tf.contrib.factorization", "tf.contrib.tensor_forest", "tf.contrib.boosted_trees"
  ], [("sklearn.cluster.KMeans", "sklearn.mixture.GaussianMixture"),
      ("tensorflow_decision_forests", "sklearn.ensemble.RandomForestClassifier"),
      ("XGBoost", "LightGBM", "tf.estimator.BoostedTreesClassifier")]):
    assert line.startswith(f"UnavailableModuleError {api} is not available in "
                           "dnn_toolkit.tf1: tf.contrib was removed in TensorFlow 2.0, "
                           "and dnn_toolkit.tf1 does not rebuild it: it is a whole "
                           "training algorithm"), line
    assert all(name in line for name in alternatives), line


def test_unavailable_module_import_names_the_replacement(tmp_path):
  script = _write(tmp_path / "slim.py", "import tensorflow.contrib.slim as slim\n")
  proc = run_child(RUNNER + [str(script)], cwd=tmp_path)
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("dnn_toolkit.tf1._unavailable.UnavailableModuleError: "
                         "tf.contrib.slim is not available in dnn_toolkit.tf1")
  assert "arg_scope" in last


# ------------------------------------------------------------ dnn-toolkit run

CLI = [sys.executable, "-m", "dnn_toolkit", "run"]


def test_cli_run_passes_args_and_exit_code(tmp_path):
  script = _write(tmp_path / "tf1_script.py", textwrap.dedent("""\
      import sys
      import tensorflow as tf
      from tensorflow.contrib.layers import fully_connected
      x = tf.placeholder(tf.float32, shape=(None, 3), name="X")
      print(sys.argv[1:], tf.layers.dense(x, 2, name="hidden1").op.name,
            fully_connected(x, 2).op.name)
      sys.exit(5)
  """))
  proc = run_child(CLI + [str(script), "--epochs", "2", "-h"], cwd=tmp_path)
  assert proc.returncode == 5, proc.stderr[-3000:]
  assert proc.stdout == "['--epochs', '2', '-h'] hidden1/BiasAdd fully_connected/Relu\n"


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing.py", "dnn-toolkit: error: no such file: "),
    (lambda d: d, "is a directory"),
    (lambda d: _write(d / "data.csv", "a,b\n"), "is not a Python script"),
])
def test_cli_run_refuses_bad_scripts_with_one_line(tmp_path, make, expected):
  proc = run_child(CLI + [str(make(tmp_path))], cwd=tmp_path, timeout=60)
  assert proc.returncode == 2
  assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr


# ------------------------------------------------- NumPy names TF 1.x code used

NUMPY_SCRIPT = """\
import json, sys
import numpy as np
import tensorflow as tf
x = tf.constant(np.zeros(3, dtype=np.float))  # TF 1.x-era dtype spelling
out = {
    "types": [np.int is int, np.float is float, np.complex is complex,
              np.object is object, np.str is str, np.unicode is str],
    "scalars": [np.float_ is np.float64, np.complex_ is np.complex128,
                np.string_ is np.bytes_, np.unicode_ is np.str_,
                np.bool8 is np.bool_, np.int0 is np.intp],
    "kept": [np.bool is np.bool_, np.long is np.dtype("long").type],
    "constants": [np.infty, np.Inf, np.PINF, np.NINF, repr(np.NaN), repr(np.NAN)],
    "functions": [np.asscalar(np.array([[2.5]])), int(np.product([2, 3, 4])),
                  bool(np.alltrue([True, True])), bool(np.sometrue([False, True])),
                  np.in1d([[1, 5], [7, 1]], [1]).tolist(),
                  int(np.rank(np.zeros((2, 3)))), np.asfarray([1, 2]).dtype.name],
    "reshape": list(np.reshape(np.arange(6), newshape=(2, 3)).shape),
    "tensor": x.dtype.name,
}
json.dump(out, sys.stdout)
"""


def test_runner_puts_back_the_numpy_names_tf1_code_used(tmp_path):
  script = _write(tmp_path / "old_numpy.py", NUMPY_SCRIPT)
  proc = run_child(CLI + [str(script)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout)
  assert out["types"] == [True] * 6 and out["scalars"] == [True] * 6
  assert out["kept"] == [True, True]  # NumPy 2's own np.bool and np.long
  assert out["constants"] == [np.inf, np.inf, np.inf, -np.inf, "nan", "nan"]
  assert out["functions"] == [2.5, 24, True, True, [True, False, False, True], 2,
                              "float64"]
  assert out["reshape"] == [2, 3] and out["tensor"] == "float64"


def test_no_numpy_compat_leaves_numpy_as_it_is(tmp_path):
  """Without the names, the script fails with NumPy's own error, as under `python`."""
  script = _write(tmp_path / "old_numpy.py", NUMPY_SCRIPT)
  proc = run_child(RUNNER + ["--no-numpy-compat", str(script)], cwd=tmp_path)
  assert proc.returncode == 1 and proc.stdout == ""
  assert ("AttributeError: module 'numpy' has no attribute 'float'.\n"
          "`np.float` was a deprecated alias for the builtin `float`.") in proc.stderr


SCOPE_SCRIPT = """\
import inspect, json, sys
import numpy as np
import dnn_toolkit.tf1 as tf           # the one-line change: no NumPy names
from dnn_toolkit import runner
before = sorted(vars(np))
missing = [name for name in runner.REMOVED_NUMPY_NAMES if name not in vars(np)]
restored = runner.restore_numpy_names()
again = runner.restore_numpy_names()
out = {"before_has_float": "float" in before, "missing": missing,
       "restored": restored, "again": again,
       "reshape_positional": list(np.reshape(np.arange(4), (2, 2)).shape)}
try:
    np.reshape(np.arange(4), (2, 2), newshape=(4, 1))
except TypeError as e:
    out["both"] = str(e)
json.dump(out, sys.stdout)
"""


def test_numpy_names_are_restored_only_where_asked(tmp_path):
  """Importing the stand-in or the runner changes no NumPy name; restoring is
  idempotent and leaves the names NumPy has alone."""
  script = _write(tmp_path / "scope.py", SCOPE_SCRIPT)
  proc = run_child([sys.executable, str(script)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout)
  assert out["before_has_float"] is False
  assert out["restored"] == out["missing"] + ["reshape"]
  assert {"float", "int", "object", "NaN", "float_", "asscalar"} <= set(out["missing"])
  assert "bool" not in out["restored"] and "long" not in out["restored"]
  assert out["again"] == []
  assert out["reshape_positional"] == [2, 2]
  assert out["both"].startswith("reshape() got both `shape` and `newshape`")
  assert not hasattr(np, "float")  # this process (pytest's) is untouched
