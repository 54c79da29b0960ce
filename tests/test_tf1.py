"""Tests of dnn_toolkit.tf1, the stand-in for TF 1.x's `tensorflow` namespace.

Importing the stand-in switches the process to TF 1.x behaviour for good, so nothing
here imports it: every check runs in a child process. The typical TF 1.x programs
below are script text, as a user has them (`import tensorflow as tf`); here each runs
with its one import line changed to `import dnn_toolkit.tf1 as tf`, and
tests/test_run.py runs the same text unmodified through the runner. Each program
writes what it found to `results.json` (and its weights to `weights.npz`) in the
directory given as its first argument, and the checks below recompute its numbers
with NumPy.
"""

import gzip
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dnn_toolkit import compat
from dnn_toolkit.data import mnist as toolkit_mnist

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TESTS_DIR)
CHILD_TIMEOUT_S = 240

# A tf.layers MLP with batch norm and dropout (the TF 1.x book's chapter-11 network),
# trained on tf.keras.datasets.mnist for a few hundred steps.
MLP_BN_DROPOUT = """\
import json, os, sys
import numpy as np
import tensorflow as tf

out_dir = sys.argv[1]
(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 28 * 28).astype(np.float32) / 255.0
x_test = x_test.reshape(-1, 28 * 28).astype(np.float32) / 255.0
y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)

tf.set_random_seed(42)
np.random.seed(42)
X = tf.placeholder(tf.float32, shape=(None, 28 * 28), name="X")
y = tf.placeholder(tf.int64, shape=(None), name="y")
training = tf.placeholder_with_default(False, shape=(), name="training")
with tf.name_scope("dnn"):
    hidden1 = tf.layers.dense(X, 300, name="hidden1")
    bn1 = tf.nn.elu(tf.layers.batch_normalization(hidden1, training=training,
                                                  momentum=0.9))
    drop1 = tf.layers.dropout(bn1, 0.2, training=training)
    hidden2 = tf.layers.dense(drop1, 100, name="hidden2")
    bn2 = tf.nn.elu(tf.layers.batch_normalization(hidden2, training=training,
                                                  momentum=0.9))
    drop2 = tf.layers.dropout(bn2, 0.2, training=training)
    logits = tf.layers.dense(drop2, 10, name="outputs")
with tf.name_scope("loss"):
    xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    loss = tf.reduce_mean(xentropy, name="loss")
with tf.name_scope("train"):
    extra_update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(extra_update_ops):
        training_op = tf.train.AdamOptimizer(0.01).minimize(loss)
with tf.name_scope("eval"):
    correct = tf.nn.in_top_k(logits, y, 1)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

init = tf.global_variables_initializer()
with tf.Session() as sess:
    init.run()
    for step in range(300):
        idx = np.random.randint(0, len(x_train), 100)
        sess.run(training_op, feed_dict={X: x_train[idx], y: y_train[idx],
                                         training: True})
    acc_test = accuracy.eval(feed_dict={X: x_test, y: y_test})
    weights = {v.op.name: v.eval() for v in tf.global_variables()
               if "Adam" not in v.op.name and "power" not in v.op.name}
np.savez(os.path.join(out_dir, "weights.npz"), **weights)
json.dump({"accuracy": float(acc_test), "update_ops": len(extra_update_ops),
           "variables": sorted(weights)},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# Train, save, then reuse through import_meta_graph: the tensors by name, the saved
# training op, and a new output layer on the restored hidden layer.
IMPORT_META_GRAPH = """\
import json, os, sys
import numpy as np
import tensorflow as tf

out_dir = sys.argv[1]
prefix = os.path.join(out_dir, "my_model_final.ckpt")
rng = np.random.RandomState(0)
X_data = rng.normal(size=(200, 20)).astype(np.float32)
y_data = np.argmax(X_data @ rng.normal(size=(20, 3)), axis=1).astype(np.int64)

tf.set_random_seed(0)
X = tf.placeholder(tf.float32, shape=(None, 20), name="X")
y = tf.placeholder(tf.int64, shape=(None), name="y")
with tf.name_scope("dnn"):
    hidden1 = tf.layers.dense(X, 30, activation=tf.nn.relu, name="hidden1")
    hidden2 = tf.layers.dense(hidden1, 20, activation=tf.nn.relu, name="hidden2")
    logits = tf.layers.dense(hidden2, 3, name="outputs")
loss = tf.reduce_mean(
    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits),
    name="loss")
training_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32),
                          name="accuracy")
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    for _ in range(50):
        sess.run(training_op, feed_dict={X: X_data, y: y_data})
    logits_before = logits.eval(feed_dict={X: X_data})
    tf.train.Saver().save(sess, prefix)

tf.reset_default_graph()
saver = tf.train.import_meta_graph(prefix + ".meta")
graph = tf.get_default_graph()
X = graph.get_tensor_by_name("X:0")
y = graph.get_tensor_by_name("y:0")
accuracy = graph.get_tensor_by_name("accuracy:0")
training_op = graph.get_operation_by_name("GradientDescent")
hidden2 = graph.get_tensor_by_name("dnn/hidden2/Relu:0")
with tf.Session() as sess:
    saver.restore(sess, prefix)
    logits_after = graph.get_tensor_by_name("dnn/outputs/BiasAdd:0").eval(
        feed_dict={X: X_data})
    acc_restored = accuracy.eval(feed_dict={X: X_data, y: y_data})
    for _ in range(50):
        sess.run(training_op, feed_dict={X: X_data, y: y_data})
    acc_continued = accuracy.eval(feed_dict={X: X_data, y: y_data})

new_logits = tf.layers.dense(tf.stop_gradient(hidden2), 3, name="new_outputs")
new_loss = tf.reduce_mean(
    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=new_logits))
new_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="new_outputs")
new_op = tf.train.GradientDescentOptimizer(0.5).minimize(new_loss, var_list=new_vars)
new_accuracy = tf.reduce_mean(tf.cast(tf.nn.in_top_k(new_logits, y, 1), tf.float32))
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    saver.restore(sess, prefix)
    for _ in range(100):
        sess.run(new_op, feed_dict={X: X_data, y: y_data})
    acc_new = new_accuracy.eval(feed_dict={X: X_data, y: y_data})
json.dump({"max_diff": float(np.abs(logits_after - logits_before).max()),
           "acc_restored": float(acc_restored), "acc_continued": float(acc_continued),
           "acc_new": float(acc_new), "new_vars": [v.op.name for v in new_vars],
           "acc_numpy": float(np.mean(np.argmax(logits_before, 1) == y_data))},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# Reuse the lower layers of a saved model: a Saver over the scope "hidden[123]".
HIDDEN123_RESTORE = """\
import json, os, sys
import numpy as np
import tensorflow as tf

out_dir = sys.argv[1]
prefix = os.path.join(out_dir, "my_model_final.ckpt")
rng = np.random.RandomState(1)
X_data = rng.normal(size=(100, 10)).astype(np.float32)
y_data = (X_data[:, 0] > 0).astype(np.int64)

def build(n_outputs):
    X = tf.placeholder(tf.float32, shape=(None, 10), name="X")
    y = tf.placeholder(tf.int64, shape=(None), name="y")
    hidden1 = tf.layers.dense(X, 16, activation=tf.nn.relu, name="hidden1")
    hidden2 = tf.layers.dense(hidden1, 16, activation=tf.nn.relu, name="hidden2")
    hidden3 = tf.layers.dense(hidden2, 16, activation=tf.nn.relu, name="hidden3")
    hidden4 = tf.layers.dense(hidden3, 8, activation=tf.nn.relu, name="hidden4")
    logits = tf.layers.dense(hidden4, n_outputs, name="outputs")
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return X, y, loss, tf.train.GradientDescentOptimizer(0.05).minimize(loss)

X, y, loss, training_op = build(2)
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    for _ in range(20):
        sess.run(training_op, feed_dict={X: X_data, y: y_data})
    saved = {v.op.name: v.eval() for v in tf.global_variables()}
    tf.train.Saver().save(sess, prefix)

tf.reset_default_graph()
X, y, loss, training_op = build(3)  # a new task: new hidden4 and outputs
reuse_vars = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[123]")
restore_saver = tf.train.Saver(reuse_vars)  # to restore layers 1-3
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    restore_saver.restore(sess, prefix)
    restored = {v.op.name: bool(np.array_equal(v.eval(), saved[v.op.name]))
                for v in tf.global_variables() if v.op.name in saved
                and v.shape.as_list() == list(saved[v.op.name].shape)}
    loss_before = loss.eval(feed_dict={X: X_data, y: y_data})
    for _ in range(30):
        sess.run(training_op, feed_dict={X: X_data, y: y_data})
    loss_after = loss.eval(feed_dict={X: X_data, y: y_data})
json.dump({"reuse_vars": [v.op.name for v in reuse_vars], "restored": restored,
           "checkpoint": sorted(name for name, _ in tf.train.list_variables(prefix)),
           "loss_before": float(loss_before), "loss_after": float(loss_after)},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# The TF 1.x tutorial: softmax regression on input_data.read_data_sets(...).train.
READ_DATA_SETS = """\
import json, os, sys
import numpy as np
import tensorflow as tf
from tensorflow.examples.tutorials.mnist import input_data

out_dir = sys.argv[1]
mnist = input_data.read_data_sets(os.path.join(out_dir, "MNIST_data"), one_hot=True,
                                  seed=7)
first_labels = mnist.train.next_batch(100)[1]
x = tf.placeholder(tf.float32, [None, 784])
y_ = tf.placeholder(tf.float32, [None, 10])
W = tf.Variable(tf.zeros([784, 10]))
b = tf.Variable(tf.zeros([10]))
y = tf.matmul(x, W) + b
cross_entropy = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=y))
train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
sess = tf.InteractiveSession()
tf.global_variables_initializer().run()
for _ in range(200):
    batch_xs, batch_ys = mnist.train.next_batch(100)
    sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
acc = sess.run(accuracy, feed_dict={x: mnist.test.images, y_: mnist.test.labels})
np.savez(os.path.join(out_dir, "weights.npz"), W=W.eval(), b=b.eval())
json.dump({"accuracy": float(acc), "first_labels": first_labels.argmax(1).tolist(),
           "epochs_completed": mnist.train.epochs_completed,
           "shapes": {s: [list(getattr(mnist, s).images.shape),
                          list(getattr(mnist, s).labels.shape)]
                      for s in ("train", "validation", "test")},
           "dtypes": [str(mnist.train.images.dtype), str(mnist.train.labels.dtype)]},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# The CNN of TF 1.x's tf.layers tutorial, in a Session loop; slow (CPU convolutions).
CNN = """\
import json, os, sys
import numpy as np
import tensorflow as tf
from tensorflow.examples.tutorials.mnist import input_data

out_dir = sys.argv[1]
mnist = input_data.read_data_sets("MNIST_data", seed=5)
tf.set_random_seed(5)
X = tf.placeholder(tf.float32, [None, 784], name="X")
y = tf.placeholder(tf.int64, [None], name="y")
training = tf.placeholder_with_default(False, shape=(), name="training")
input_layer = tf.reshape(X, [-1, 28, 28, 1])
conv1 = tf.layers.conv2d(input_layer, filters=16, kernel_size=[5, 5], padding="same",
                         activation=tf.nn.relu)
pool1 = tf.layers.max_pooling2d(conv1, pool_size=[2, 2], strides=2)
conv2 = tf.layers.conv2d(pool1, filters=32, kernel_size=[5, 5], padding="same",
                         activation=tf.nn.relu)
pool2 = tf.layers.max_pooling2d(conv2, pool_size=[2, 2], strides=2)
pool2_flat = tf.layers.flatten(pool2)
dense = tf.layers.dense(pool2_flat, units=128, activation=tf.nn.relu)
dropout = tf.layers.dropout(dense, rate=0.4, training=training)
logits = tf.layers.dense(dropout, units=10)
loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for _ in range(150):
        X_batch, y_batch = mnist.train.next_batch(50)
        sess.run(train_op, {X: X_batch, y: y_batch, training: True})
    acc = sess.run(accuracy, {X: mnist.test.images[:1000], y: mnist.test.labels[:1000]})
    weights = {v.op.name: v.eval() for v in tf.trainable_variables()}
np.savez(os.path.join(out_dir, "weights.npz"), **weights)
json.dump({"accuracy": float(acc), "shapes": [pool1.shape.as_list(),
                                             pool2_flat.shape.as_list()]},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# The one-line change of each TF 1.x import line, for `import dnn_toolkit.tf1 as tf`.
ONE_LINE_CHANGES = {
    "import tensorflow as tf": "import dnn_toolkit.tf1 as tf",
    "from tensorflow.examples.tutorials.mnist import input_data":
        "from dnn_toolkit.tf1.examples.tutorials.mnist import input_data",
}


def child_env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_DIR, TESTS_DIR,
                                                    env.get("PYTHONPATH")]))
  return env


def run_child(argv, cwd, timeout=CHILD_TIMEOUT_S):
  """Runs `argv` in `cwd`, killing it by its pid past `timeout`; returns the result."""
  with subprocess.Popen(argv, cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True) as proc:
    try:
      stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.communicate()
      pytest.fail(f"{argv} still ran after {timeout} s; killed pid {proc.pid}")
  return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def run_program(text, out_dir, through_runner):
  """Writes program `text` to `out_dir` and runs it there; returns its results.json.

  Args:
    text: the TF 1.x program, with `import tensorflow as tf`.
    out_dir: a pathlib directory; also the program's first argument.
    through_runner: True: unmodified, `python -m dnn_toolkit.runner`; False: with the
      one-line import change, `python SCRIPT`.
  """
  if through_runner:
    argv_head = [sys.executable, "-m", "dnn_toolkit.runner"]
  else:
    argv_head = [sys.executable]
    for tf1_line, stand_in_line in ONE_LINE_CHANGES.items():
      text = text.replace(tf1_line, stand_in_line)
  script = out_dir / "program.py"
  script.write_text(text)
  proc = run_child(argv_head + [str(script), str(out_dir)], cwd=out_dir)
  assert proc.returncode == 0, (f"exit {proc.returncode}\n{proc.stdout}\n"
                                f"{proc.stderr[-6000:]}")
  return json.loads((out_dir / "results.json").read_text())


def _np_elu(z):
  return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def check_mlp_bn_dropout(results, out_dir):
  """The MLP reaches 93% on the test set, and a NumPy forward pass agrees."""
  w = np.load(out_dir / "weights.npz")
  bn_names = ["batch_normalization", "batch_normalization_1"]
  assert sorted(results["variables"]) == sorted(
      [f"{layer}/{p}" for layer in ("hidden1", "hidden2", "outputs")
       for p in ("kernel", "bias")]
      + [f"{bn}/{p}" for bn in bn_names
         for p in ("gamma", "beta", "moving_mean", "moving_variance")])
  assert results["update_ops"] == 4
  test = toolkit_mnist.load_mnist(validation_size=0).test
  a = test.images
  for layer, bn in (("hidden1", bn_names[0]), ("hidden2", bn_names[1])):
    z = a @ w[f"{layer}/kernel"] + w[f"{layer}/bias"]
    z = (w[f"{bn}/gamma"] * (z - w[f"{bn}/moving_mean"])
         / np.sqrt(w[f"{bn}/moving_variance"] + 1e-3) + w[f"{bn}/beta"])
    a = _np_elu(z)  # dropout is off at inference
  logits = a @ w["outputs/kernel"] + w["outputs/bias"]
  numpy_accuracy = np.mean(np.argmax(logits, axis=1) == test.labels)
  assert results["accuracy"] == pytest.approx(numpy_accuracy, abs=0.002)
  assert numpy_accuracy >= 0.93


def check_import_meta_graph(results, out_dir):
  """The imported graph gives the saved model's logits, trains on, and is extended."""
  del out_dir
  assert results["max_diff"] < 1e-5
  assert results["acc_restored"] == pytest.approx(results["acc_numpy"], abs=1e-6)
  assert results["acc_continued"] >= results["acc_restored"] - 0.02
  assert results["new_vars"] == ["new_outputs/kernel", "new_outputs/bias"]
  assert results["acc_new"] >= 0.8


def check_hidden123_restore(results, out_dir):
  """Layers 1-3 come back from hidden1/kernel... in the checkpoint; 4 is new."""
  del out_dir
  expected = [f"hidden{i}/{p}" for i in (1, 2, 3) for p in ("kernel", "bias")]
  assert results["reuse_vars"] == expected
  assert {k for k, same in results["restored"].items() if same} == set(expected)
  assert "hidden1/kernel" in results["checkpoint"]
  assert "outputs/bias" in results["checkpoint"]
  assert results["loss_after"] < results["loss_before"]


def check_read_data_sets(results, out_dir):
  """TF 1.x's splits, dtypes and first batch; NumPy agrees on the test accuracy."""
  assert results["shapes"] == {"train": [[55000, 784], [55000, 10]],
                               "validation": [[5000, 784], [5000, 10]],
                               "test": [[10000, 784], [10000, 10]]}
  assert results["dtypes"] == ["float32", "float64"]
  # TF 1.x seeded NumPy with `seed` when it made each split, then shuffled at the
  # first next_batch: the first batch is this one.
  mnist = toolkit_mnist.load_mnist()
  np.random.seed(7)
  order = np.arange(55000)
  np.random.shuffle(order)
  assert results["first_labels"] == mnist.train.labels[order[:100]].tolist()
  assert results["epochs_completed"] == 0
  w = np.load(out_dir / "weights.npz")
  logits = mnist.test.images @ w["W"] + w["b"]
  numpy_accuracy = np.mean(np.argmax(logits, axis=1) == mnist.test.labels)
  assert results["accuracy"] == pytest.approx(numpy_accuracy, abs=0.002)
  assert numpy_accuracy >= 0.88


def _np_conv_same_relu(x, kernel, bias):
  """NumPy 'same' convolution (stride 1, odd kernel) + bias + ReLU of NHWC `x`."""
  kh, kw = kernel.shape[:2]
  padded = np.pad(x, [(0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
  out = np.empty(x.shape[:3] + (kernel.shape[3],), np.float32)
  for i in range(x.shape[1]):
    for j in range(x.shape[2]):
      out[:, i, j] = np.tensordot(padded[:, i:i + kh, j:j + kw], kernel, axes=3)
  return np.maximum(out + bias, 0)


def _np_max_pool_2x2(x):
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def check_cnn(results, out_dir):
  """The tutorial CNN reaches 90% on 1000 test images; NumPy's forward pass agrees."""
  assert results["shapes"] == [[None, 14, 14, 16], [None, 7 * 7 * 32]]
  w = np.load(out_dir / "weights.npz")
  test = toolkit_mnist.load_mnist(validation_size=0).test
  a = test.images[:1000].reshape(-1, 28, 28, 1)
  for conv in ("conv2d", "conv2d_1"):
    a = _np_max_pool_2x2(_np_conv_same_relu(a, w[f"{conv}/kernel"], w[f"{conv}/bias"]))
  a = np.maximum(a.reshape(1000, -1) @ w["dense/kernel"] + w["dense/bias"], 0)
  logits = a @ w["dense_1/kernel"] + w["dense_1/bias"]
  numpy_accuracy = np.mean(np.argmax(logits, axis=1) == test.labels[:1000])
  assert results["accuracy"] == pytest.approx(numpy_accuracy, abs=0.003)
  assert numpy_accuracy >= 0.9


PROGRAMS = {
    "mlp_bn_dropout": (MLP_BN_DROPOUT, check_mlp_bn_dropout),
    "import_meta_graph": (IMPORT_META_GRAPH, check_import_meta_graph),
    "hidden123_restore": (HIDDEN123_RESTORE, check_hidden123_restore),
    "read_data_sets": (READ_DATA_SETS, check_read_data_sets),
    "cnn": (CNN, check_cnn),
}
#: Programs too slow for the default test run (`pytest -m slow` runs them).
SLOW_PROGRAMS = {"cnn"}


def program_params():
  """PROGRAMS' names for parametrize, the slow ones marked slow."""
  return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_PROGRAMS else name
          for name in PROGRAMS]


@pytest.mark.parametrize("name", program_params())
def test_program_with_the_one_line_change(tmp_path, name):
  text, check = PROGRAMS[name]
  check(run_program(text, tmp_path, through_runner=False), tmp_path)


# ------------------------------------------ the namespace, in one child process
#
# Each check below is a block of code run after `import dnn_toolkit.tf1 as tf`. One
# child process runs them all (TensorFlow's start-up costs seconds) and reports each
# block's outcome; each test asserts its own block's.

CHECKS = {}


def run_checks(tmp_path):
  """Runs every block of CHECKS in one child; returns {name: 'ok' or traceback}."""
  blocks = []
  for name, code in CHECKS.items():
    body = textwrap.indent(textwrap.dedent(code), "    ")
    blocks.append(f"def check_{name}():\n{body}\n")
  runner = textwrap.dedent(f"""
      import json, traceback
      outcomes = {{}}
      for name in {list(CHECKS)!r}:
          try:
              globals()["check_" + name]()
              outcomes[name] = "ok"
          except BaseException:
              outcomes[name] = traceback.format_exc()
      print("OUTCOMES " + json.dumps(outcomes))
  """)
  script = tmp_path / "checks.py"
  script.write_text("import dnn_toolkit.tf1 as tf\n\n" + "\n".join(blocks) + runner)
  proc = run_child([sys.executable, str(script)], cwd=tmp_path)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("OUTCOMES ")]
  assert proc.returncode == 0 and lines, (f"exit {proc.returncode}\n{proc.stdout}\n"
                                          f"{proc.stderr[-6000:]}")
  return json.loads(lines[-1][len("OUTCOMES "):])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
  """The outcome of each block of CHECKS, from one child process."""
  directory = tmp_path_factory.mktemp("tf1_checks")
  _write_fashion(directory)
  return run_checks(directory)


def _check(outcomes, name):
  assert outcomes[name] == "ok", outcomes[name]

CHECKS["namespace_holds_compat_v1_and_the_tf1_modules"] = """
      import tensorflow as real_tf
      from dnn_toolkit.layers import arg_scope
      from dnn_toolkit.layers import initializers
      from dnn_toolkit.layers import contrib as layers
      from dnn_toolkit.layers import regularizers
      from dnn_toolkit.layers import tf_layers
      v1 = real_tf.compat.v1
      own = {"compat", "contrib", "examples", "keras", "layers", "nn"}
      names = [n for n in dir(v1) if not n.startswith("_") and n not in own]
      assert len(names) > 500, len(names)
      assert all(getattr(tf, n) is getattr(v1, n) for n in names)
      assert tf.compat.v1 is tf and tf.compat.v2 is real_tf.compat.v2
      nn_names = [n for n in dir(v1.nn) if not n.startswith("_") and n != "rnn_cell"]
      assert all(getattr(tf.nn, n) is getattr(v1.nn, n) for n in nn_names)
      assert tf.compat.as_bytes("a") == b"a"
      assert not tf.executing_eagerly()  # TF 1.x behaviour, process-wide
      assert tf.layers.dense is tf_layers.dense
      assert tf.layers.batch_normalization is tf_layers.batch_normalization
      assert tf.layers.dropout is tf_layers.dropout
      assert tf.layers.flatten is tf_layers.flatten
      assert tf.layers.conv2d is tf_layers.conv2d
      assert tf.layers.max_pooling2d is tf_layers.max_pooling2d
      c = tf.contrib.layers
      assert c.fully_connected is layers.fully_connected
      assert (c.batch_norm, c.dropout) == (layers.batch_norm, layers.dropout)
      assert c.xavier_initializer is initializers.xavier_initializer
      assert c.xavier_initializer_conv2d is initializers.xavier_initializer
      assert c.variance_scaling_initializer is initializers.variance_scaling_initializer
      assert c.l2_regularizer is regularizers.l2_regularizer
      assert tf.contrib.framework.arg_scope is arg_scope.arg_scope
      from tensorflow.python.eager import backprop
      from tensorflow.python.ops.resource_variable_ops import ResourceVariable
      assert tf.contrib.eager.Variable is ResourceVariable  # TF 1.15's tfe.Variable
      assert tf.contrib.eager.implicit_gradients is backprop.implicit_grad
      assert tf.examples.tutorials.mnist.mnist.IMAGE_PIXELS == 784
      assert tf.python is __import__("sys").modules["tensorflow.python"]

      X = tf.placeholder(tf.float32, shape=(None, 4), name="X")
      with tf.contrib.framework.arg_scope([c.fully_connected], activation_fn=None):
          h = c.fully_connected(X, 3, scope="hidden1")
      out = tf.layers.dense(h, 2, name="outputs")
      kernel = tf.get_default_graph().get_tensor_by_name("outputs/kernel:0")
      assert kernel.dtype.name == "float32_ref", kernel.dtype  # reference variables
      assert h.op.type == "BiasAdd"
      step = tf.contrib.framework.get_or_create_global_step()
      assert step.op.name == "global_step"
      print("ok")
  """


def test_namespace_holds_compat_v1_and_the_tf1_modules(outcomes):
  _check(outcomes, "namespace_holds_compat_v1_and_the_tf1_modules")


UNAVAILABLE = {
    "tf.contrib.slim": "tf.contrib.framework.arg_scope",
    "tf.contrib.learn": "read_data_sets",
    "tf.contrib.rnn.LayerNormBasicLSTMCell": "tf.nn.rnn_cell.RNNCell",
    "tf.contrib.layers.separable_conv2d": "tf.layers (TF 1.15's functions and classes",
    "tf.contrib.layers.layer_norm": "tf.get_variable and tf.nn",
    "tf.contrib.framework.get_variables_to_restore": "tf.get_collection",
    "tf.layers.experimental": "reuse=True",
    "tf.keras.layers": "tf.layers",
    "tf.keras.datasets.cifar10": "only tf.keras.datasets.mnist",
    "tf.examples.tutorials.word2vec": "tutorials.mnist (input_data and mnist)",
    "tf.contrib.factorization": "sklearn.cluster.KMeans",
    "tf.contrib.tensor_forest": "tensorflow_decision_forests",
    "tf.contrib.boosted_trees": "XGBoost",
    "tf.contrib.eager.Sequential": "subclass tfe.Network",
    "tf.contrib.eager.defun": "tf.function",
    "tf.contrib.tensorboard": "tensorboard.plugins.projector",
    "tf.estimator.BoostedTreesClassifier": "write a model_fn",
}


CHECKS["unavailable_names_say_what_to_use_instead"] = f"""
      from dnn_toolkit.errors import DnnToolkitError
      for api, hint in {UNAVAILABLE!r}.items():
          owner, name = api[len("tf."):].rsplit(".", 1) if api.count(".") > 1 else (
              "", api[len("tf."):])
          module = tf
          for part in filter(None, owner.split(".")):
              module = getattr(module, part)
          try:
              getattr(module, name)
          except tf.UnavailableAPIError as e:
              assert isinstance(e, (NotImplementedError, DnnToolkitError))
              assert str(e).startswith(api + " is not available in dnn_toolkit.tf1"), e
              assert hint in str(e), (hint, str(e))
              assert e.api == api
          else:
              raise AssertionError(api + " did not raise")
      # `from ... import` keeps the message (Python rewrites an AttributeError's).
      try:
          from dnn_toolkit.tf1.contrib.layers import separable_conv2d
      except tf.UnavailableAPIError as e:
          assert "tf.contrib.layers.separable_conv2d" in str(e)
      else:
          raise AssertionError("separable_conv2d was imported")
      # Typos and private names stay plain AttributeErrors; hasattr works on them.
      assert not hasattr(tf.contrib.layers, "fuly_connected")
      assert not hasattr(tf.layers, "__wrapped__") and not hasattr(tf, "_secret")
      try:
          tf.no_such_name
      except AttributeError as e:
          assert "no_such_name" in str(e)
      print("ok")
  """


def test_unavailable_names_say_what_to_use_instead(outcomes):
  _check(outcomes, "unavailable_names_say_what_to_use_instead")


# The one-line change leaves `import tensorflow` TensorFlow's own; its TF 1.x imports
# that TensorFlow lacks get the guided errors too (the runner's are in test_run.py).
REMOVED_MODULE_IMPORTS = {
    "from tensorflow.contrib.factorization import KMeans":
        ("tf.contrib.factorization", "sklearn.cluster.KMeans"),
    "from tensorflow.contrib.tensor_forest.python import tensor_forest":
        ("tf.contrib.tensor_forest", "sklearn.ensemble.RandomForestClassifier"),
    "from tensorflow.contrib.boosted_trees.estimator_batch.estimator import "
    "GradientBoostedDecisionTreeClassifier":
        ("tf.contrib.boosted_trees", "HistGradientBoostingClassifier"),
    "import tensorflow.contrib.slim as slim": ("tf.contrib.slim", "tf-slim"),
    "from tensorflow.contrib.learn.python.learn.datasets.mnist import read_data_sets":
        ("tf.contrib.learn", "read_data_sets"),
}

CHECKS["removed_modules_raise_the_guided_errors_after_the_one_line_change"] = f"""
      import importlib, sys
      import tensorflow as real_tf
      for statement, (api, hint) in {REMOVED_MODULE_IMPORTS!r}.items():
          try:
              exec(statement)
          except tf.UnavailableModuleError as e:
              assert isinstance(e, ModuleNotFoundError) and e.api == api, (statement, e)
              assert str(e).startswith(api + " is not available in dnn_toolkit.tf1: "), e
              assert hint in str(e), (hint, str(e))
              if api in ("tf.contrib.factorization", "tf.contrib.tensor_forest",
                         "tf.contrib.boosted_trees"):  # out of scope, and why
                  assert "dnn_toolkit.tf1 does not rebuild it" in str(e), str(e)
          else:
              raise AssertionError(statement + " did not raise")
      # What the stand-in provides under its own name: the error names that module.
      for statement, provided_as in [
          ("from tensorflow.contrib.layers import fully_connected",
           "dnn_toolkit.tf1.contrib.layers"),
          ("import tensorflow.contrib.eager as tfe", "dnn_toolkit.tf1.contrib.eager"),
          ("from tensorflow.contrib.rnn import BasicLSTMCell",
           "dnn_toolkit.tf1.contrib.rnn"),
          ("from tensorflow.examples.tutorials.mnist import input_data",
           "dnn_toolkit.tf1.examples.tutorials.mnist.input_data")]:
          try:
              exec(statement)
          except tf.UnavailableModuleError as e:
              assert e.provided_as == provided_as, (statement, e)
              assert "dnn-toolkit run" in str(e), str(e)
          else:
              raise AssertionError(statement + " did not raise")
      try:  # TF 1.x code that probes for a module catches ImportError
          from tensorflow.contrib import slim
      except ImportError as e:
          assert isinstance(e, tf.UnavailableModuleError) and e.api == "tf.contrib.slim"
      # Anything else is TensorFlow's own, or Python's plain answer.
      assert sys.modules["tensorflow"] is real_tf
      import tensorflow.compat.v1 as v1
      assert v1 is real_tf.compat.v1
      for name in ("tensorflow.no_such_module", "tensorflow.python.no_such_module"):
          try:
              importlib.import_module(name)
          except ModuleNotFoundError as e:
              assert not isinstance(e, tf.UnavailableModuleError), e
              assert str(e) == f"No module named {{name!r}}", e
"""


def test_removed_modules_raise_the_guided_errors_after_the_one_line_change(outcomes):
  _check(outcomes, "removed_modules_raise_the_guided_errors_after_the_one_line_change")


CHECKS["eager_metrics_in_a_graph"] = """
      import numpy as np
      tfe = tf.contrib.eager
      values = tf.placeholder(tf.float64, shape=(None,))
      mean = tfe.metrics.Mean("loss")
      update = mean(values)
      result = mean.result()
      assert [v.op.name for v in mean.variables] == ["loss/numer", "loss/denom"]
      assert tf.get_collection(tf.GraphKeys.LOCAL_VARIABLES) == mean.variables
      with tf.Session() as sess:
          sess.run(mean.init_variables())
          sess.run(update, {values: [1.0, 2.0]})
          sess.run(update, {values: [6.0]})
          assert sess.run(result) == 3.0
          sess.run(tf.local_variables_initializer())
          assert np.isnan(sess.run(result))
"""


def test_eager_metrics_in_a_graph(outcomes):
  """tfe.metrics in graph mode, as TF 1.15 had them: the call's output updates."""
  _check(outcomes, "eager_metrics_in_a_graph")


def _write_idx(path, array, magic):
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d)
                                                 for d in array.shape))
    f.write(array.astype(np.uint8).tobytes())


def _write_fashion(directory):
  """Writes a small data set in MNIST's formats: IDX files in fashion/, fashion.npz."""
  rng = np.random.default_rng(0)
  fashion = directory / "fashion"
  fashion.mkdir()
  arrays = {"train-images-idx3-ubyte.gz": (rng.integers(0, 256, (30, 28, 28)), 2051),
            "train-labels-idx1-ubyte.gz": (rng.integers(0, 10, 30), 2049),
            "t10k-images-idx3-ubyte.gz": (rng.integers(0, 256, (8, 28, 28)), 2051),
            "t10k-labels-idx1-ubyte.gz": (rng.integers(0, 10, 8), 2049)}
  for name, (array, magic) in arrays.items():
    _write_idx(fashion / name, array, magic)
  keras_keys = ("x_train", "y_train", "x_test", "y_test")
  np.savez(directory / "fashion.npz", **{key: a.astype(np.uint8) for key, (a, _) in
                                        zip(keras_keys, arrays.values())})


CHECKS["mnist_readers_answer_offline_as_tf1_did"] = """
      import hashlib
      import numpy as np
      from dnn_toolkit.data.mnist import MNIST_SHA256
      (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
      assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
      assert y_train.shape == (60000,) and y_train.dtype == np.uint8
      assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
      sha = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
      assert sha(x_train) == MNIST_SHA256["train_images"]
      assert sha(y_train) == MNIST_SHA256["train_labels"]
      assert sha(x_test) == MNIST_SHA256["test_images"]
      assert sha(y_test) == MNIST_SHA256["test_labels"]

      from dnn_toolkit.tf1.examples.tutorials.mnist import input_data
      mnist = input_data.read_data_sets("no_such_dir", dtype=tf.uint8, reshape=False,
                                        validation_size=100)
      assert mnist.train.images.shape == (59900, 28, 28, 1)
      assert mnist.train.images.dtype == np.uint8 and mnist.train.labels.dtype == np.uint8
      np.testing.assert_array_equal(mnist.validation.images[..., 0], x_train[:100])
      np.testing.assert_array_equal(mnist.train.labels, y_train[100:])
      images, labels = mnist.validation.next_batch(60, shuffle=False)
      np.testing.assert_array_equal(labels, y_train[:60])
      images, labels = mnist.validation.next_batch(60, shuffle=False)  # crosses the end
      np.testing.assert_array_equal(labels, np.concatenate([y_train[60:100],
                                                            y_train[:20]]))
      assert mnist.validation.epochs_completed == 1
      floats = input_data.read_data_sets("no_such_dir", validation_size=0).test.images
      expected = x_test.reshape(-1, 784).astype(np.float32) * (1.0 / 255.0)
      np.testing.assert_array_equal(floats, expected)

      fashion = input_data.read_data_sets("fashion", validation_size=10)
      assert fashion.train.num_examples == 20 and fashion.test.num_examples == 8
      assert not __import__("os").path.exists("no_such_dir")  # nothing written
      from_npz = tf.keras.datasets.mnist.load_data("fashion.npz")
      assert from_npz[0][0].shape == (30, 28, 28)

      for kwargs, error, text in [
          (dict(validation_size=60001), ValueError, "between 0 and 60000"),
          (dict(validation_size=True), TypeError, "validation_size"),
          (dict(dtype=tf.int32), TypeError, "expected uint8 or float32")]:
          try:
              input_data.read_data_sets("no_such_dir", **kwargs)
          except error as e:
              assert text in str(e), str(e)
          else:
              raise AssertionError(kwargs)
      try:
          mnist.train.next_batch(0)
      except ValueError as e:
          assert "batch_size" in str(e)
      print("ok")
  """


def test_mnist_readers_answer_offline_as_tf1_did(outcomes):
  """keras.datasets.mnist: Keras's exact arrays; read_data_sets: TF 1.x's splits and
  dtypes, its argument checks, and the IDX files of `train_dir` when it has them."""
  _check(outcomes, "mnist_readers_answer_offline_as_tf1_did")


# The lesson's snippets (tests/test_lesson_snippets.py) with their imports of the
# stand-in, as a TF 1.x user would write them after the one-line change.
STAND_IN_IMPORTS = {
    "import tensorflow.compat.v1 as tf": "import dnn_toolkit.tf1 as tf",
    "from dnn_toolkit.layers.contrib import ": "from dnn_toolkit.tf1.contrib.layers import ",
    "from dnn_toolkit.layers.regularizers import ":
        "from dnn_toolkit.tf1.contrib.layers import ",
    "from dnn_toolkit.layers.arg_scope import ":
        "from dnn_toolkit.tf1.contrib.framework import ",
}

CHECKS["lesson_snippets_with_the_one_line_change"] = f"""
      import test_lesson_snippets as lesson
      snippets = {{**lesson.SNIPPETS, **lesson.TF1_ONLY_SNIPPETS}}
      assert snippets
      for name, (code, check) in snippets.items():
          for toolkit_line, stand_in_line in {STAND_IN_IMPORTS!r}.items():
              code = code.replace(toolkit_line, stand_in_line)
          assert "import dnn_toolkit.tf1 as tf" in code, name
          tf.reset_default_graph()
          lesson.run_snippet(code, check)
"""


def test_lesson_snippets_with_the_one_line_change(outcomes):
  _check(outcomes, "lesson_snippets_with_the_one_line_change")


CHECKS["ipython_extension_aliases_tensorflow_in_the_kernel"] = """
      import sys
      import tensorflow as real_tf
      contrib_before = sys.modules.get("tensorflow.contrib")  # e.g. a placeholder
      tf.load_ipython_extension(None)   # what `%load_ext dnn_toolkit.tf1` calls
      import tensorflow
      import tensorflow.compat.v1 as v1
      from tensorflow.contrib.layers import fully_connected
      from tensorflow.examples.tutorials.mnist import input_data
      assert tensorflow is tf and v1 is tf
      assert fully_connected is tf.contrib.layers.fully_connected
      assert input_data is tf.examples.tutorials.mnist.input_data
      try:
          import tensorflow.contrib.slim
      except ImportError as e:
          assert isinstance(e, tf.UnavailableModuleError), type(e)
          assert "tf.contrib.slim is not available" in str(e)
      else:
          raise AssertionError("import tensorflow.contrib.slim did not raise")
      tf.unload_ipython_extension(None)
      assert sys.modules["tensorflow"] is real_tf
      assert sys.modules.get("tensorflow.contrib") is contrib_before
      assert "tensorflow.layers" not in sys.modules
      print("ok")
  """


def test_ipython_extension_aliases_tensorflow_in_the_kernel(outcomes):
  _check(outcomes, "ipython_extension_aliases_tensorflow_in_the_kernel")


# ------------------------------------------------ quiet start-up, in a fresh child

QUIET_PROGRAM = """\
import os, sys, warnings
if sys.argv[1] == "import":
    import dnn_toolkit.tf1 as tf
else:  # What `%load_ext dnn_toolkit.tf1` does in a notebook's kernel.
    import importlib
    importlib.import_module("dnn_toolkit.tf1").load_ipython_extension(None)
    import tensorflow as tf
print("level", os.environ.get("TF_CPP_MIN_LOG_LEVEL"), tf.__name__)
warnings.warn("a warning of the user's code")
tf.get_logger().warning("a tf.logging warning of the user's code")
with tf.Session() as sess:
    print("sum", sess.run(tf.reduce_sum(tf.constant([1.0, 2.0]))))
"""


@pytest.mark.parametrize("route, user_level", [("import", None),
                                               ("load_ext", None),
                                               ("import", "1")])
def test_stand_in_imports_tensorflow_quietly(tmp_path, route, user_level):
  """No C++ start-up line (I0000..., absl's preamble, cuInit) reaches stderr; the
  user's warnings do; TF_CPP_MIN_LOG_LEVEL is set only when the user has not."""
  script = tmp_path / "quiet.py"
  script.write_text(QUIET_PROGRAM)
  env = child_env()
  env.pop("TF_CPP_MIN_LOG_LEVEL")
  if user_level is not None:
    env["TF_CPP_MIN_LOG_LEVEL"] = user_level
  with subprocess.Popen([sys.executable, str(script), route], cwd=tmp_path, env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True) as proc:
    try:
      stdout, stderr = proc.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.communicate()
      pytest.fail(f"still ran after {CHILD_TIMEOUT_S} s; killed pid {proc.pid}")
  assert proc.returncode == 0, stderr[-6000:]
  expected_name = "dnn_toolkit.tf1"
  assert stdout.splitlines() == [f"level {user_level or '2'} {expected_name}",
                                 "sum 3.0"]
  lines = stderr.splitlines()
  assert not [l for l in lines if compat.is_startup_notice(l)], stderr
  assert not [l for l in lines if "cuInit" in l or "absl" in l or "oneDNN" in l], stderr
  assert "UserWarning: a warning of the user's code" in stderr
  assert "a tf.logging warning of the user's code" in stderr
