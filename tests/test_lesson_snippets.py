"""The lesson's code snippets that build layers, dropout and regularization, run as text.

Each snippet below is the lesson's code with only its import lines changed
(`import tensorflow.compat.v1 as tf`, `from dnn_toolkit.layers.contrib import ...` for
`from tensorflow.contrib.layers import ...`); the lines marked `# [...]` fill in what
the lesson leaves out (sizes, the X placeholder, the network before the loss). The
snippets use top-level placeholders, lesson style: they run in a child process after
`dnn_toolkit.enable_tf1_behavior()`, and here inside a fresh `tf.Graph()`.
"""

import numpy as np
import pytest
import tensorflow as tf

V1 = tf.compat.v1

IMPORTS = """\
# Lesson code below: only the imports differ (tensorflow, tensorflow.contrib.layers).
import tensorflow.compat.v1 as tf
from dnn_toolkit.layers.contrib import fully_connected
"""

INPUTS = """\
n_inputs, n_hidden1, n_hidden2, n_outputs = 28 * 28, 300, 100, 10  # [...]
X = tf.placeholder(tf.float32, shape=(None, n_inputs), name="X")  # [...]
y = tf.placeholder(tf.int64, shape=(None), name="y")  # [...]
"""

LEAKY_RELU = IMPORTS + INPUTS + """
def leaky_relu(z, name=None):
    return tf.maximum(0.01 * z, z, name=name)
hidden1 = fully_connected(X, n_hidden1, activation_fn=leaky_relu)
"""

ELU = IMPORTS + INPUTS + """
hidden1 = fully_connected(X, n_hidden1, activation_fn=tf.nn.elu)
"""

DROPOUT = IMPORTS + """\
from dnn_toolkit.layers.contrib import dropout
""" + INPUTS + """
is_training = tf.placeholder(tf.bool, shape=(), name='is_training')
keep_prob = 0.5
X_drop = dropout(X, keep_prob, is_training=is_training)
hidden1 = fully_connected(X_drop, n_hidden1, scope="hidden1")
hidden1_drop = dropout(hidden1, keep_prob, is_training=is_training)
hidden2 = fully_connected(hidden1_drop, n_hidden2, scope="hidden2")
hidden2_drop = dropout(hidden2, keep_prob, is_training=is_training)
logits = fully_connected(hidden2_drop, n_outputs, activation_fn=None,
                         scope="outputs")
"""

# The lesson's l1 loss by hand. It leaves out how weights1 and weights2 are found.
L1_NETWORK = IMPORTS + INPUTS + """
hidden1 = fully_connected(X, n_hidden1, scope="hidden1")  # [...]
logits = fully_connected(hidden1, n_outputs, activation_fn=None, scope="outputs")  # [...]
xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)  # [...]
scale = 0.001  # [...]
"""

# With reference variables (enable_tf1_behavior), as TF 1.x code found them.
WEIGHTS_BY_NAME = """
weights1 = tf.get_default_graph().get_tensor_by_name("hidden1/weights:0")  # [...]
weights2 = tf.get_default_graph().get_tensor_by_name("outputs/weights:0")  # [...]
"""

# In either mode: with resource variables "hidden1/weights:0" is the variable's handle.
WEIGHTS_BY_GET_VARIABLE = """
with tf.variable_scope("hidden1", reuse=True):  # [...]
    weights1 = tf.get_variable("weights")  # [...]
with tf.variable_scope("outputs", reuse=True):  # [...]
    weights2 = tf.get_variable("weights")  # [...]
"""

L1_LOSS = """
base_loss = tf.reduce_mean(xentropy, name="avg_xentropy")
reg_losses = tf.reduce_sum(tf.abs(weights1)) + tf.reduce_sum(tf.abs(weights2))
loss = tf.add(base_loss, scale * reg_losses, name="loss")
"""

# The lesson shows only the last two lines; the network (the lesson's "use the
# function l1_regularizer()") is filled in with the arg_scope of the book it follows.
REGULARIZATION_LOSSES = IMPORTS + """\
from dnn_toolkit.layers.arg_scope import arg_scope
from dnn_toolkit.layers.regularizers import l1_regularizer
""" + INPUTS + """
scale = 0.001  # [...]
with arg_scope([fully_connected], weights_regularizer=l1_regularizer(scale)):  # [...]
    hidden1 = fully_connected(X, n_hidden1, scope="hidden1")  # [...]
    hidden2 = fully_connected(hidden1, n_hidden2, scope="hidden2")  # [...]
    logits = fully_connected(hidden2, n_outputs, activation_fn=None, scope="out")  # [...]
xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)  # [...]
base_loss = tf.reduce_mean(xentropy, name="avg_xentropy")  # [...]

reg_losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
loss = tf.add_n([base_loss] + reg_losses, name="loss")
"""


def _batch(n=8):
  rng = np.random.default_rng(0)
  return (rng.uniform(0.0, 1.0, size=(n, 28 * 28)).astype(np.float32),
          rng.integers(0, 10, size=n))


def _np_xentropy(logits, labels):
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  return -log_probs[np.arange(len(labels)), labels].mean()


def _session_with_values(names):
  """Opens a session on the default graph, initializes, returns it and the values."""
  sess = V1.Session()
  sess.run(V1.global_variables_initializer())
  by_name = {v.op.name: v for v in V1.global_variables()}
  return sess, [sess.run(by_name[name]) for name in names]


def _check_activation(np_activation):
  def check(ns):
    x, _ = _batch()
    sess, (w, b) = _session_with_values(["fully_connected/weights",
                                         "fully_connected/biases"])
    with sess:
      out = sess.run(ns["hidden1"], {ns["X"]: x})
    assert out.shape == (8, 300)
    np.testing.assert_allclose(out, np_activation(x @ w + b), rtol=1e-4, atol=1e-5)
  return check


def _np_elu(a):
  return np.where(a >= 0, a, np.expm1(np.minimum(a, 0)))


def check_dropout(ns):
  X, is_training, logits = ns["X"], ns["is_training"], ns["logits"]
  names = [f"{layer}/{kind}" for layer in ("hidden1", "hidden2", "outputs")
           for kind in ("weights", "biases")]
  assert sorted(v.op.name for v in V1.trainable_variables()) == sorted(names)
  x, _ = _batch()
  sess, (w1, b1, w2, b2, w3, b3) = _session_with_values(names)
  with sess:
    test1 = sess.run(logits, {X: x, is_training: False})
    test2 = sess.run(logits, {X: x, is_training: False})
    train1 = sess.run(logits, {X: x, is_training: True})
    train2 = sess.run(logits, {X: x, is_training: True})
  assert test1.shape == train1.shape == (8, 10)
  np.testing.assert_array_equal(test1, test2)  # Deterministic at inference.
  assert not np.array_equal(train1, train2)  # A new mask each training step.
  relu = lambda a: np.maximum(a, 0)
  expected = relu(relu(x @ w1 + b1) @ w2 + b2) @ w3 + b3  # No dropout at inference.
  np.testing.assert_allclose(test1, expected, rtol=1e-4, atol=1e-4)


def check_l1_loss(ns):
  x, labels = _batch()
  sess, (w1, w2) = _session_with_values(["hidden1/weights", "outputs/weights"])
  with sess:
    logits, base_loss, loss = sess.run([ns["logits"], ns["base_loss"], ns["loss"]],
                                       {ns["X"]: x, ns["y"]: labels})
  np.testing.assert_allclose(base_loss, _np_xentropy(logits, labels), rtol=1e-5)
  penalty = 0.001 * (np.abs(w1).sum() + np.abs(w2).sum())
  np.testing.assert_allclose(loss, base_loss + penalty, rtol=1e-5)


def check_l1_loss_by_name(ns):
  assert ns["weights1"].dtype == tf.as_dtype("float32_ref")
  check_l1_loss(ns)


def check_regularization_losses(ns):
  assert len(ns["reg_losses"]) == 3
  x, labels = _batch()
  sess, weights = _session_with_values(["hidden1/weights", "hidden2/weights",
                                        "out/weights"])
  with sess:
    logits, base_loss, loss = sess.run([ns["logits"], ns["base_loss"], ns["loss"]],
                                       {ns["X"]: x, ns["y"]: labels})
  np.testing.assert_allclose(base_loss, _np_xentropy(logits, labels), rtol=1e-5)
  penalty = 0.001 * sum(np.abs(w).sum() for w in weights)
  np.testing.assert_allclose(loss, base_loss + penalty, rtol=1e-5)


# name -> (code, check(namespace)), for either graph mode.
SNIPPETS = {
    "leaky_relu": (LEAKY_RELU, _check_activation(lambda a: np.maximum(0.01 * a, a))),
    "elu": (ELU, _check_activation(_np_elu)),
    "dropout": (DROPOUT, check_dropout),
    "l1_loss_by_get_variable": (L1_NETWORK + WEIGHTS_BY_GET_VARIABLE + L1_LOSS,
                                check_l1_loss),
    "regularization_losses": (REGULARIZATION_LOSSES, check_regularization_losses),
}
# Only with reference variables: the lesson's get_tensor_by_name("hidden1/weights:0").
TF1_ONLY_SNIPPETS = {
    "l1_loss_by_name": (L1_NETWORK + WEIGHTS_BY_NAME + L1_LOSS, check_l1_loss_by_name),
}


def run_snippet(code, check):
  """Runs the snippet in the default graph, as a script would, then checks it."""
  namespace = {}
  exec(compile(code, "<lesson snippet>", "exec"), namespace)  # pylint: disable=exec-used
  check(namespace)


@pytest.mark.parametrize("name", list(SNIPPETS))
def test_snippet_in_a_graph(graph, name):
  run_snippet(*SNIPPETS[name])


def test_snippets_with_tf1_behavior(run_python):
  out = run_python("""
      import sys
      import traceback
      import dnn_toolkit
      dnn_toolkit.enable_tf1_behavior()
      import tensorflow.compat.v1 as tf
      import test_lesson_snippets as lesson
      failed = []
      for name, (code, check) in {**lesson.SNIPPETS, **lesson.TF1_ONLY_SNIPPETS}.items():
        tf.reset_default_graph()
        try:
          lesson.run_snippet(code, check)
        except Exception:  # Report every failing snippet, not only the first.
          failed.append(name)
          traceback.print_exc(file=sys.stdout)
      print("failed:", failed)
  """)
  assert "failed: []" in out, out


def test_weights_by_name_need_tf1_behavior(graph):
  """Why the by-name snippet runs only in the child: here the name is a handle."""
  code = L1_NETWORK + WEIGHTS_BY_NAME
  namespace = {}
  exec(compile(code, "<lesson snippet>", "exec"), namespace)  # pylint: disable=exec-used
  assert namespace["weights1"].dtype == tf.resource
  assert namespace["weights1"].shape.rank == 0
