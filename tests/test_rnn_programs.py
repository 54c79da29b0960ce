"""TF 1.x tutorial RNN programs, unmodified, through `dnn-toolkit run`.

The LSTM, GRU and bidirectional LSTM classifiers of TF 1.x's example collections and
book, reading MNIST rows as 28 time steps (`from tensorflow.contrib import rnn`,
`rnn.static_rnn`, `tf.nn.rnn_cell`, `tf.nn.dynamic_rnn`), run as written in a child
process and learn; each saves its weights, and the tests recompute its test accuracy
with the NumPy cells of tests/test_rnn_cell.py. Also the import forms TF 1.x code used
for the RNN modules.
"""

import json
import sys

import numpy as np
import pytest
from test_rnn_cell import np_gru, np_lstm, np_unroll
from test_tf1 import run_child

from dnn_toolkit.data import mnist as toolkit_mnist

CLI = [sys.executable, "-m", "dnn_toolkit", "run"]

# The LSTM classifier of TF 1.x's example collections: MNIST rows as 28 time steps,
# `from tensorflow.contrib import rnn`, one-hot labels, outputs[-1] @ weights.
LSTM_STATIC_RNN = """\
import json, os, sys
import numpy as np
import tensorflow as tf
from tensorflow.contrib import rnn
from tensorflow.examples.tutorials.mnist import input_data

out_dir = sys.argv[1]
mnist = input_data.read_data_sets("/tmp/data/", one_hot=True, seed=1)
learning_rate = 0.01
training_steps = 200
batch_size = 64
num_input = 28
timesteps = 28
num_hidden = 64
num_classes = 10

tf.set_random_seed(1)
X = tf.placeholder("float", [None, timesteps, num_input])
Y = tf.placeholder("float", [None, num_classes])
weights = {'out': tf.Variable(tf.random_normal([num_hidden, num_classes]))}
biases = {'out': tf.Variable(tf.random_normal([num_classes]))}

def RNN(x, weights, biases):
    x = tf.unstack(x, timesteps, 1)
    lstm_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    outputs, states = rnn.static_rnn(lstm_cell, x, dtype=tf.float32)
    return tf.matmul(outputs[-1], weights['out']) + biases['out']

logits = RNN(X, weights, biases)
prediction = tf.nn.softmax(logits)
loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
    logits=logits, labels=Y))
train_op = tf.train.AdamOptimizer(learning_rate=learning_rate).minimize(loss_op)
correct_pred = tf.equal(tf.argmax(prediction, 1), tf.argmax(Y, 1))
accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1, training_steps + 1):
        batch_x, batch_y = mnist.train.next_batch(batch_size)
        batch_x = batch_x.reshape((batch_size, timesteps, num_input))
        sess.run(train_op, feed_dict={X: batch_x, Y: batch_y})
    test_data = mnist.test.images[:1000].reshape((-1, timesteps, num_input))
    test_label = mnist.test.labels[:1000]
    acc = sess.run(accuracy, feed_dict={X: test_data, Y: test_label})
    print("Testing Accuracy:", acc)
    weights = {v.op.name: v.eval() for v in tf.trainable_variables()}
np.savez(os.path.join(out_dir, "weights.npz"), **weights)
json.dump({"accuracy": float(acc), "variables": sorted(weights)},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# The TF 1.x book's deep RNN: tf.nn.rnn_cell cells, DropoutWrapper with a keep_prob
# placeholder, MultiRNNCell, tf.nn.dynamic_rnn, a dense layer on the top state.
GRU_DYNAMIC_RNN = """\
import json, os, sys
import numpy as np
import tensorflow as tf
from tensorflow.examples.tutorials.mnist import input_data

out_dir = sys.argv[1]
n_steps, n_inputs, n_neurons, n_layers, n_outputs = 28, 28, 64, 2, 10
tf.set_random_seed(2)
X = tf.placeholder(tf.float32, [None, n_steps, n_inputs])
y = tf.placeholder(tf.int32, [None])
keep_prob = tf.placeholder_with_default(1.0, shape=())
cells = [tf.nn.rnn_cell.GRUCell(num_units=n_neurons) for layer in range(n_layers)]
cells_drop = [tf.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=keep_prob)
              for cell in cells]
multi_layer_cell = tf.nn.rnn_cell.MultiRNNCell(cells_drop)
outputs, states = tf.nn.dynamic_rnn(multi_layer_cell, X, dtype=tf.float32)
logits = tf.layers.dense(states[-1], n_outputs)
xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
loss = tf.reduce_mean(xentropy)
training_op = tf.train.AdamOptimizer(learning_rate=0.005).minimize(loss)
correct = tf.nn.in_top_k(logits, y, 1)
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

mnist = input_data.read_data_sets("/tmp/data/", seed=2)
X_test = mnist.test.images[:1000].reshape((-1, n_steps, n_inputs))
y_test = mnist.test.labels[:1000]
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    for iteration in range(200):
        X_batch, y_batch = mnist.train.next_batch(64)
        X_batch = X_batch.reshape((-1, n_steps, n_inputs))
        sess.run(training_op, feed_dict={X: X_batch, y: y_batch, keep_prob: 0.9})
    acc_test = accuracy.eval(feed_dict={X: X_test, y: y_test})
    print("Test accuracy:", acc_test)
    weights = {v.op.name: v.eval() for v in tf.trainable_variables()}
np.savez(os.path.join(out_dir, "weights.npz"), **weights)
json.dump({"accuracy": float(acc_test), "variables": sorted(weights)},
          open(os.path.join(out_dir, "results.json"), "w"))
"""

# The bidirectional LSTM classifier of the same example collections.
BILSTM_STATIC = LSTM_STATIC_RNN.replace(
    "weights = {'out': tf.Variable(tf.random_normal([num_hidden, num_classes]))}",
    "weights = {'out': tf.Variable(tf.random_normal([2 * num_hidden, num_classes]))}"
).replace("""    lstm_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    outputs, states = rnn.static_rnn(lstm_cell, x, dtype=tf.float32)""",
          """    lstm_fw_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    lstm_bw_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    outputs, _, _ = rnn.static_bidirectional_rnn(lstm_fw_cell, lstm_bw_cell, x,
                                                 dtype=tf.float32)""")

assert "static_bidirectional_rnn" in BILSTM_STATIC and "2 * num_hidden" in BILSTM_STATIC

ONE_LINE_CHANGES = {
    "import tensorflow as tf": "import dnn_toolkit.tf1 as tf",
    "from tensorflow.examples.tutorials.mnist import input_data":
        "from dnn_toolkit.tf1.examples.tutorials.mnist import input_data",
}


def _run_program(text, out_dir, through_cli=True):
  """Runs the program in `out_dir` (its argument) through `dnn-toolkit run`, or with
  the one-line import change as `python program.py`; returns its results.json."""
  argv_head = CLI
  if not through_cli:
    argv_head = [sys.executable]
    for tf1_line, stand_in_line in ONE_LINE_CHANGES.items():
      text = text.replace(tf1_line, stand_in_line)
  script = out_dir / "program.py"
  script.write_text(text)
  proc = run_child(argv_head + [str(script), str(out_dir)], cwd=out_dir)
  assert proc.returncode == 0, (f"exit {proc.returncode}\n{proc.stdout}\n"
                                f"{proc.stderr[-6000:]}")
  return json.loads((out_dir / "results.json").read_text()), proc.stdout


IMPORTS = """\
import tensorflow as tf
from tensorflow.contrib import rnn
import tensorflow.contrib.rnn as contrib_rnn
from tensorflow.contrib.rnn import BasicLSTMCell, static_rnn
from tensorflow.nn import rnn_cell
import tensorflow.nn.rnn_cell as nn_rnn_cell
from tensorflow.nn.rnn_cell import GRUCell
from dnn_toolkit.layers import rnn_cell as toolkit_cells
assert rnn is contrib_rnn is tf.contrib.rnn and rnn_cell is nn_rnn_cell
assert GRUCell is rnn.GRUCell is toolkit_cells.GRUCell
assert BasicLSTMCell is tf.nn.rnn_cell.BasicLSTMCell and static_rnn is tf.nn.static_rnn
for statement in ("from tensorflow.contrib.rnn import LSTMBlockCell",
                  "from tensorflow.contrib.rnn.python.ops import core_rnn_cell"):
    try:
        exec(statement)
    except (NotImplementedError, ImportError) as e:
        print(type(e).__name__, str(e).split(":")[0])
"""


def test_tf1_import_forms_through_dnn_toolkit_run(tmp_path):
  script = tmp_path / "imports.py"
  script.write_text(IMPORTS)
  proc = run_child(CLI + [str(script)], cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-6000:]
  assert proc.stdout.splitlines() == [
      ("UnavailableAPIError tf.contrib.rnn.LSTMBlockCell is not available in "
       "dnn_toolkit.tf1"),
      "UnavailableModuleError tf.contrib.rnn.python is not available in dnn_toolkit.tf1"]


def _test_rows(n=1000):
  """The first `n` MNIST test images as [time=28, n, 28] rows, and their labels."""
  test = toolkit_mnist.load_mnist(validation_size=0).test
  return test.images[:n].reshape(n, 28, 28).transpose(1, 0, 2), test.labels[:n]


def _assert_learned(logits, labels, results):
  numpy_accuracy = np.mean(np.argmax(logits, axis=1) == labels)
  assert results["accuracy"] == pytest.approx(numpy_accuracy, abs=0.0025)
  assert numpy_accuracy >= 0.75, numpy_accuracy  # chance is 0.1


def test_lstm_static_rnn_program_learns_through_dnn_toolkit_run(tmp_path):
  results, stdout = _run_program(LSTM_STATIC_RNN, tmp_path)
  assert results["variables"] == ["Variable", "Variable_1", "rnn/basic_lstm_cell/bias",
                                  "rnn/basic_lstm_cell/kernel"]
  assert "Testing Accuracy:" in stdout
  w = np.load(tmp_path / "weights.npz")
  lstm = {k: w[f"rnn/basic_lstm_cell/{k}"] for k in ("kernel", "bias")}
  rows, labels = _test_rows()
  zeros = np.zeros((len(labels), 64))
  outputs, _ = np_unroll(lambda x, s: np_lstm(x, s, lstm), rows, (zeros, zeros))
  _assert_learned(outputs[-1] @ w["Variable"] + w["Variable_1"], labels, results)


@pytest.mark.parametrize("through_cli", [True, False], ids=["dnn-toolkit run",
                                                            "import dnn_toolkit.tf1"])
def test_gru_dynamic_rnn_program_learns(tmp_path, through_cli):
  results, _ = _run_program(GRU_DYNAMIC_RNN, tmp_path, through_cli)
  cell = "rnn/multi_rnn_cell/cell_{}/gru_cell/{}"
  assert results["variables"] == sorted(
      ["dense/kernel", "dense/bias"] + [cell.format(i, f"{part}/{kind}")
                                        for i in range(2)
                                        for part in ("gates", "candidate")
                                        for kind in ("kernel", "bias")])
  w = np.load(tmp_path / "weights.npz")
  layers = [{name: w[cell.format(i, name)] for name in (
      "gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")}
            for i in range(2)]

  def step(x, states):  # dropout is off at test time (keep_prob defaults to 1.0)
    hidden, first = np_gru(x, states[0], layers[0])
    output, second = np_gru(hidden, states[1], layers[1])
    return output, (first, second)

  rows, labels = _test_rows()
  zeros = np.zeros((len(labels), 64))
  _, states = np_unroll(step, rows, (zeros, zeros))
  _assert_learned(states[-1] @ w["dense/kernel"] + w["dense/bias"], labels, results)


def test_bidirectional_lstm_program_learns_through_dnn_toolkit_run(tmp_path):
  results, _ = _run_program(BILSTM_STATIC, tmp_path)
  prefix = "bidirectional_rnn/{}/basic_lstm_cell/{}"
  assert results["variables"] == sorted(
      ["Variable", "Variable_1"] + [prefix.format(d, k) for d in ("fw", "bw")
                                    for k in ("kernel", "bias")])
  w = np.load(tmp_path / "weights.npz")
  cells = {d: {k: w[prefix.format(d, k)] for k in ("kernel", "bias")}
           for d in ("fw", "bw")}
  rows, labels = _test_rows()
  zeros = np.zeros((len(labels), 64))
  forward, _ = np_unroll(lambda x, s: np_lstm(x, s, cells["fw"]), rows, (zeros, zeros))
  backward, _ = np_unroll(lambda x, s: np_lstm(x, s, cells["bw"]), rows[::-1],
                          (zeros, zeros))
  last = np.concatenate([forward[-1], backward[0]], axis=1)  # outputs[-1]: [fw, bw]
  _assert_learned(last @ w["Variable"] + w["Variable_1"], labels, results)
