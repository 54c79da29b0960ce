"""Tests of TF 1.x eager programs on the stand-in (`dnn_toolkit.tf1.contrib.eager`).

The programs are written as TF 1.x's eager tutorials wrote them
(`tf.enable_eager_execution()` first, `tfe = tf.contrib.eager`, `tfe.Variable`,
`tfe.implicit_gradients`, `tfe.Iterator`) and run unmodified through `dnn-toolkit run` in child processes, each
ended by its pid past a deadline. Each writes what it found to `results.json` (and
its weights) in the directory given as its first argument; the checks recompute the
numbers with NumPy.
"""

import json
import sys

import numpy as np
import pytest
import tensorflow as tf
from test_tf1 import run_child

from dnn_toolkit.data import mnist as toolkit_mnist

CLI_RUN = [sys.executable, "-m", "dnn_toolkit", "run"]

# TensorFlow-Examples' linear regression with the eager API, with its plot replaced
# by results.json.
LINEAR_REGRESSION = """\
import json, os, sys
import numpy as np
import tensorflow as tf
import tensorflow.contrib.eager as tfe

tfe.enable_eager_execution()

train_X = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167,
           7.042, 10.791, 5.313, 7.997, 5.654, 9.27, 3.1]
train_Y = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221,
           2.827, 3.465, 1.65, 2.904, 2.42, 2.94, 1.3]
n_samples = len(train_X)
learning_rate = 0.01
display_step = 100
num_steps = 1000

np.random.seed(1)
W = tfe.Variable(np.random.randn())
b = tfe.Variable(np.random.randn())
W0, b0 = W.numpy(), b.numpy()

def linear_regression(inputs):
    return inputs * W + b

def mean_square_fn(model_fn, inputs, labels):
    return tf.reduce_sum(tf.pow(model_fn(inputs) - labels, 2)) / (2 * n_samples)

optimizer = tf.train.GradientDescentOptimizer(learning_rate=learning_rate)
grad = tfe.implicit_gradients(mean_square_fn)

initial_cost = mean_square_fn(linear_regression, train_X, train_Y)
print("Initial cost= {:.9f}".format(initial_cost), "W=", W.numpy(), "b=", b.numpy())
costs = []
for step in range(num_steps):
    optimizer.apply_gradients(grad(linear_regression, train_X, train_Y))
    if (step + 1) % display_step == 0 or step == 0:
        cost = mean_square_fn(linear_regression, train_X, train_Y)
        costs.append(float(cost))
        print("Epoch:", '%04d' % (step + 1), "cost=", "{:.9f}".format(cost),
              "W=", W.numpy(), "b=", b.numpy())

json.dump({"eager": tf.executing_eagerly(), "W0": float(W0), "b0": float(b0),
           "W": float(W.numpy()), "b": float(b.numpy()),
           "initial_cost": float(initial_cost), "costs": costs,
           "fitted": np.array(W * train_X + b).tolist()},
          open(os.path.join(sys.argv[1], "results.json"), "w"))
"""

# float64, as TensorFlow converts the program's lists (W and b are float64 too).
_X = np.array([3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042,
               10.791, 5.313, 7.997, 5.654, 9.27, 3.1])
_Y = np.array([1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827,
               3.465, 1.65, 2.904, 2.42, 2.94, 1.3])


def _np_cost(w, b):
  return float(np.sum((w * _X + b - _Y) ** 2) / (2 * len(_X)))


def check_linear_regression(results):
  """Gradient descent as NumPy does it, from the program's own starting point."""
  assert results["eager"] is True
  w, b = np.float64(results["W0"]), np.float64(results["b0"])
  assert results["initial_cost"] == pytest.approx(_np_cost(w, b), rel=1e-5)
  for _ in range(1000):
    error = w * _X + b - _Y
    w, b = w - 0.01 * np.mean(error * _X), b - 0.01 * np.mean(error)
  assert results["W"] == pytest.approx(w, abs=1e-4)
  assert results["b"] == pytest.approx(b, abs=1e-4)
  assert results["costs"][-1] == pytest.approx(_np_cost(w, b), rel=1e-4)
  assert results["costs"] == sorted(results["costs"], reverse=True)  # loss falls
  assert results["costs"][-1] < results["initial_cost"] / 10
  np.testing.assert_allclose(results["fitted"], w * _X + b, rtol=1e-4)


@pytest.mark.parametrize("route", ["runner", "one_line_change"])
def test_linear_regression_eager_program_learns(tmp_path, route):
  text = LINEAR_REGRESSION
  if route == "one_line_change":
    text = text.replace("import tensorflow as tf", "import dnn_toolkit.tf1 as tf")
    text = text.replace("import tensorflow.contrib.eager as tfe",
                        "import dnn_toolkit.tf1.contrib.eager as tfe")
    argv_head = [sys.executable]
  else:
    argv_head = CLI_RUN
  check_linear_regression(_run(text, tmp_path, argv_head))


def _run(text, out_dir, argv_head=tuple(CLI_RUN), args=()):
  """Writes `text` to out_dir/program.py, runs it with argv_head; returns results."""
  script = out_dir / "program.py"
  script.write_text(text)
  proc = run_child(list(argv_head) + [str(script), str(out_dir), *args], cwd=out_dir)
  assert proc.returncode == 0, (f"exit {proc.returncode}\n{proc.stdout}\n"
                                f"{proc.stderr[-6000:]}")
  return json.loads((out_dir / "results.json").read_text())


# TensorFlow-Examples' logistic regression with the eager API, for 300 steps.
LOGISTIC_REGRESSION = """\
from __future__ import absolute_import, division, print_function
import json, os, sys
import numpy as np
import tensorflow as tf

tf.enable_eager_execution()
tfe = tf.contrib.eager

from tensorflow.examples.tutorials.mnist import input_data
mnist = input_data.read_data_sets("/tmp/data/", one_hot=False)

learning_rate = 0.1
batch_size = 128
num_steps = 300
display_step = 100

dataset = tf.data.Dataset.from_tensor_slices(
    (mnist.train.images, mnist.train.labels)).batch(batch_size)
dataset_iter = tfe.Iterator(dataset)

W = tfe.Variable(tf.zeros([784, 10]), name='weights')
b = tfe.Variable(tf.zeros([10]), name='bias')

def logistic_regression(inputs):
    return tf.matmul(inputs, W) + b

def loss_fn(inference_fn, inputs, labels):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        logits=inference_fn(inputs), labels=labels))

def accuracy_fn(inference_fn, inputs, labels):
    prediction = tf.nn.softmax(inference_fn(inputs))
    correct_pred = tf.equal(tf.argmax(prediction, 1), labels)
    return tf.reduce_mean(tf.cast(correct_pred, tf.float32))

optimizer = tf.train.GradientDescentOptimizer(learning_rate=learning_rate)
grad = tfe.implicit_gradients(loss_fn)

average_loss = 0.
average_acc = 0.
losses = []
for step in range(num_steps):
    try:
        d = dataset_iter.next()
    except StopIteration:
        dataset_iter = tfe.Iterator(dataset)
        d = dataset_iter.next()
    x_batch = d[0]
    y_batch = tf.cast(d[1], dtype=tf.int64)
    batch_loss = loss_fn(logistic_regression, x_batch, y_batch)
    average_loss += batch_loss
    batch_accuracy = accuracy_fn(logistic_regression, x_batch, y_batch)
    average_acc += batch_accuracy
    if step == 0:
        print("Initial loss= {:.9f}".format(average_loss))
    optimizer.apply_gradients(grad(logistic_regression, x_batch, y_batch))
    if (step + 1) % display_step == 0 or step == 0:
        if step > 0:
            average_loss /= display_step
            average_acc /= display_step
        losses.append(float(average_loss))
        print("Step:", '%04d' % (step + 1), " loss=",
              "{:.9f}".format(average_loss), " accuracy=",
              "{:.4f}".format(average_acc))
        average_loss = 0.
        average_acc = 0.

testX = mnist.test.images
testY = mnist.test.labels
test_acc = accuracy_fn(logistic_regression, testX, testY)
print("Testset Accuracy: {:.4f}".format(test_acc))
np.savez(os.path.join(sys.argv[1], "weights.npz"), W=W.numpy(), b=b.numpy())
json.dump({"losses": losses, "accuracy": float(test_acc)},
          open(os.path.join(sys.argv[1], "results.json"), "w"))
"""


def _np_accuracy(logits, labels):
  return float(np.mean(np.argmax(logits, axis=1) == labels))


def test_logistic_regression_eager_program_learns(tmp_path):
  results = _run(LOGISTIC_REGRESSION, tmp_path)
  assert results["losses"][0] == pytest.approx(np.log(10), rel=1e-6)  # zero weights
  assert results["losses"] == sorted(results["losses"], reverse=True)
  w = np.load(tmp_path / "weights.npz")
  test = toolkit_mnist.load_mnist(validation_size=0).test
  numpy_accuracy = _np_accuracy(test.images @ w["W"] + w["b"], test.labels)
  assert results["accuracy"] == pytest.approx(numpy_accuracy, abs=0.001)
  assert numpy_accuracy >= 0.85


# TensorFlow-Examples' neural network with the eager API: a tfe.Network of
# tf.layers.Dense layers, tfe.implicit_gradients, tfe.Iterator; 300 steps, and its
# variables saved at the end (tfe.Saver, tf.train.Checkpoint) for the check.
MLP = """\
from __future__ import print_function
import json, os, sys
import numpy as np
import tensorflow as tf
import tensorflow.contrib.eager as tfe

tfe.enable_eager_execution()

from tensorflow.examples.tutorials.mnist import input_data
mnist = input_data.read_data_sets("/tmp/data/", one_hot=False)

learning_rate = 0.001
num_steps = 300
batch_size = 128
display_step = 100
n_hidden_1 = 256
n_hidden_2 = 256
num_input = 784
num_classes = 10

dataset = tf.data.Dataset.from_tensor_slices(
    (mnist.train.images, mnist.train.labels)).batch(batch_size)
dataset_iter = tfe.Iterator(dataset)

class NeuralNet(tfe.Network):
    def __init__(self):
        super(NeuralNet, self).__init__()
        self.layer1 = self.track_layer(
            tf.layers.Dense(n_hidden_1, activation=tf.nn.relu))
        self.layer2 = self.track_layer(
            tf.layers.Dense(n_hidden_2, activation=tf.nn.relu))
        self.out_layer = self.track_layer(tf.layers.Dense(num_classes))

    def call(self, x):
        x = self.layer1(x)
        x = self.layer2(x)
        return self.out_layer(x)

neural_net = NeuralNet()

def loss_fn(inference_fn, inputs, labels):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        logits=inference_fn(inputs), labels=labels))

def accuracy_fn(inference_fn, inputs, labels):
    prediction = tf.nn.softmax(inference_fn(inputs))
    correct_pred = tf.equal(tf.argmax(prediction, 1), labels)
    return tf.reduce_mean(tf.cast(correct_pred, tf.float32))

optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
grad = tfe.implicit_gradients(loss_fn)

average_loss = 0.
average_acc = 0.
losses = []
for step in range(num_steps):
    try:
        d = dataset_iter.next()
    except StopIteration:
        dataset_iter = tfe.Iterator(dataset)
        d = dataset_iter.next()
    x_batch = d[0]
    y_batch = tf.cast(d[1], dtype=tf.int64)
    batch_loss = loss_fn(neural_net, x_batch, y_batch)
    average_loss += batch_loss
    batch_accuracy = accuracy_fn(neural_net, x_batch, y_batch)
    average_acc += batch_accuracy
    if step == 0:
        print("Initial loss= {:.9f}".format(average_loss))
    optimizer.apply_gradients(grad(neural_net, x_batch, y_batch))
    if (step + 1) % display_step == 0 or step == 0:
        if step > 0:
            average_loss /= display_step
            average_acc /= display_step
        losses.append(float(average_loss))
        print("Step:", '%04d' % (step + 1), " loss=",
              "{:.9f}".format(average_loss), " accuracy=",
              "{:.4f}".format(average_acc))
        average_loss = 0.
        average_acc = 0.

testX = mnist.test.images
testY = mnist.test.labels
test_acc = accuracy_fn(neural_net, testX, testY)
print("Testset Accuracy: {:.4f}".format(test_acc))
variables = neural_net.variables
prefix = tfe.Saver(variables).save(os.path.join(sys.argv[1], "ckpt", "mlp"),
                                   global_step=num_steps)
checkpoint_path = tf.train.Checkpoint(layer1=neural_net.layer1.kernel).save(
    os.path.join(sys.argv[1], "obj", "w"))
json.dump({"accuracy": float(test_acc), "losses": losses, "prefix": prefix,
           "checkpoint_path": checkpoint_path,
           "variables": [v.name for v in variables],
           "grad_variables": [v.name for _, v in grad(neural_net, x_batch, y_batch)]},
          open(os.path.join(sys.argv[1], "results.json"), "w"))
"""


def test_mlp_eager_program_learns_and_saves(tmp_path):
  results = _run(MLP, tmp_path)
  losses = results["losses"]
  assert len(losses) == 4 and losses[0] > losses[1] > losses[2], losses
  names = ["neural_net/dense/kernel:0", "neural_net/dense/bias:0",
           "neural_net/dense_1/kernel:0", "neural_net/dense_1/bias:0",
           "neural_net/dense_2/kernel:0", "neural_net/dense_2/bias:0"]
  assert results["variables"] == names  # the network's scope, then each layer's
  assert results["grad_variables"] == names
  assert results["prefix"] == str(tmp_path / "ckpt" / "mlp-300")
  reader = tf.train.load_checkpoint(results["prefix"])
  w = [reader.get_tensor(name[:-len(":0")]) for name in names]
  test = toolkit_mnist.load_mnist(validation_size=0).test
  a = np.maximum(test.images @ w[0] + w[1], 0)
  a = np.maximum(a @ w[2] + w[3], 0)
  numpy_accuracy = _np_accuracy(a @ w[4] + w[5], test.labels)
  assert results["accuracy"] == pytest.approx(numpy_accuracy, abs=0.001)
  assert numpy_accuracy >= 0.9
  objects = tf.train.load_checkpoint(results["checkpoint_path"])
  np.testing.assert_array_equal(
      objects.get_tensor("layer1/.ATTRIBUTES/VARIABLE_VALUE"), w[0])


# --------------------------------------- the tfe API and the eager switch, one child

TFE_API = """\
import json, os, sys
import numpy as np
import tensorflow as tf
tfe = tf.contrib.eager
config = tf.ConfigProto()  # TF 1.x programs often start with options, as here
config.gpu_options.allow_growth = True
tf.enable_eager_execution(config=config, device_policy=tfe.DEVICE_PLACEMENT_SILENT)
out = {"eager": tf.executing_eagerly(), "gpus": tfe.num_gpus(),
       "devices": tfe.list_devices()}

x = tfe.Variable(3.0, name="x")
f = lambda a, b: a * a * b + x
out["gradients_function"] = [float(g) for g in tfe.gradients_function(f)(2.0, 5.0)]
value, grads = tfe.value_and_gradients_function(f, params=["b"])(2.0, 5.0)
out["value_and_gradients"] = [float(value), [float(g) for g in grads]]
out["implicit"] = [[float(g), v.name] for g, v in
                   tfe.implicit_gradients(lambda: x * x * 4.0)()]

rng = np.random.RandomState(0)
values, weights = rng.rand(5), rng.randint(0, 3, 5).astype(np.float64)
labels, logits = rng.randint(0, 4, 7), rng.randn(7, 4)
mean = tfe.metrics.Mean()
mean(values[:2]); mean(values[2:])
weighted = tfe.metrics.Mean("weighted loss")
weighted(values, weights=weights)
sparse = tfe.metrics.SparseAccuracy()
sparse(labels, logits)
categorical = tfe.metrics.CategoricalAccuracy()
categorical(np.eye(4)[labels], logits)
accuracy = tfe.metrics.Accuracy()
accuracy(labels, np.argmax(logits, 1))
binary = tfe.metrics.BinaryAccuracy(threshold=0.0)
binary((labels % 2).astype(np.float32), logits[:, 0])
out["metrics"] = {m.name: float(m.result()) for m in
                  (mean, weighted, sparse, categorical, accuracy, binary)}
out["metric_variables"] = [v.name for v in weighted.variables]
mean.init_variables(); mean([10.0])
out["after_reset"] = float(mean.result())

saver = tfe.Saver({"x": x})
prefix = saver.save(os.path.join(sys.argv[1], "model"), global_step=7)
x.assign(-1.0); saver.restore(prefix)
out["saver"] = [os.path.basename(prefix), float(x.numpy())]
out["iterator"] = [int(v) for v in tfe.Iterator(tf.data.Dataset.range(3))]
try:
    tfe.Sequential
except tf.UnavailableAPIError as e:
    out["sequential"] = str(e)
json.dump(out, open(os.path.join(sys.argv[1], "results.json"), "w"))
"""


def test_tfe_api_numbers_against_numpy(tmp_path):
  out = _run(TFE_API, tmp_path)
  assert out["eager"] is True and out["gpus"] == sum("GPU" in d for d in out["devices"])
  assert any(d.endswith("CPU:0") for d in out["devices"])
  assert out["gradients_function"] == [2 * 2.0 * 5.0, 2.0 ** 2]  # d/da, d/db
  assert out["value_and_gradients"] == [4.0 * 5.0 + 3.0, [4.0]]
  assert out["implicit"] == [[2 * 3.0 * 4.0, "x:0"]]
  rng = np.random.RandomState(0)
  values, weights = rng.rand(5), rng.randint(0, 3, 5).astype(np.float64)
  labels, logits = rng.randint(0, 4, 7), rng.randn(7, 4)
  predicted = np.argmax(logits, 1)
  assert out["metrics"] == pytest.approx({
      "Mean": values.mean(), "weighted loss": np.sum(values * weights) / weights.sum(),
      "SparseAccuracy": np.mean(predicted == labels),
      "CategoricalAccuracy": np.mean(predicted == labels),
      "Accuracy": np.mean(predicted == labels),
      "BinaryAccuracy": np.mean((logits[:, 0] > 0) == (labels % 2 == 1))}, abs=1e-12)
  assert out["metric_variables"] == ["weighted_loss/numer:0", "weighted_loss/denom:0"]
  assert out["after_reset"] == 10.0
  assert out["saver"] == ["model-7", 3.0]
  assert (tmp_path / "model-7.index").is_file()
  assert not (tmp_path / "model-7.meta").exists()  # no graph to write, as in TF 1.x
  assert out["iterator"] == [0, 1, 2]
  assert out["sequential"].startswith("tf.contrib.eager.Sequential is not available")
  assert "subclass tfe.Network" in out["sequential"]


GRAPH_THEN_EAGER = """\
import sys
import tensorflow as tf
tfe = tf.contrib.eager
X = tf.placeholder(tf.float32, shape=(None, 3), name="X")
w = tf.Variable(tf.zeros([3, 1]), name="w")
print("eager", tf.executing_eagerly(), w.dtype.name)
try:
    tfe.Iterator(tf.data.Dataset.range(3))
except RuntimeError as e:
    print("iterator:", e)
try:
    tfe.Saver([])
except RuntimeError as e:
    print("saver:", e)
tf.enable_eager_execution()
"""


def test_eager_switch_is_for_program_start_only(tmp_path):
  """A graph program runs in TF 1.x graph mode from its first line (reference
  variables); asking for eager mode after building a graph fails as in TF 1.x."""
  script = tmp_path / "late.py"
  script.write_text(GRAPH_THEN_EAGER)
  proc = run_child(CLI_RUN + [str(script)], cwd=tmp_path)
  assert proc.returncode == 1
  lines = proc.stdout.splitlines()
  assert lines[0] == "eager False float32_ref"
  assert lines[1].startswith("iterator: tf.contrib.eager.Iterator can only be used "
                             "when eager execution is enabled")
  assert lines[2].startswith("saver: tfe.Saver can only be used when eager")
  assert proc.stderr.strip().splitlines()[-1] == (
      "ValueError: tf.enable_eager_execution must be called at program startup.")
