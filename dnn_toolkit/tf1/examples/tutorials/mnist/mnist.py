"""TF 1.x's tutorial MNIST model, the companion of the official `fully_connected_feed.py`.

`fully_connected_feed.py` (TensorFlow's "TensorFlow Mechanics 101") builds its graph
with this module's four functions, and runs here as written:

    from tensorflow.examples.tutorials.mnist import input_data
    from tensorflow.examples.tutorials.mnist import mnist

    images = tf.placeholder(tf.float32, shape=(batch_size, mnist.IMAGE_PIXELS))
    labels = tf.placeholder(tf.int32, shape=(batch_size))
    logits = mnist.inference(images, hidden1_units=128, hidden2_units=32)
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, learning_rate=0.01)
    eval_correct = mnist.evaluation(logits, labels)

The graph is TF 1.15's: the variables `hidden1/weights`, `hidden1/biases`,
`hidden2/...`, `softmax_linear/...` and `global_step` (so its checkpoints restore
here and there), weights drawn from a truncated normal with standard deviation
1/sqrt(fan-in), biases zero, the mean sparse softmax cross-entropy in `tf.losses`'s
LOSSES collection, a `loss` scalar summary and a plain gradient-descent step.
"""

import math

import tensorflow as tf

#: MNIST's classes, the digits 0 through 9.
NUM_CLASSES = 10
#: MNIST's images are IMAGE_SIZE x IMAGE_SIZE pixels, IMAGE_PIXELS in all.
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def _layer_variables(fan_in: int, units: int) -> tuple[tf.Variable, tf.Variable]:
  """Returns `weights` [fan_in, units] and `biases` [units] in the current scope."""
  weights = tf.compat.v1.Variable(
      tf.random.truncated_normal([fan_in, units], stddev=1.0 / math.sqrt(fan_in)),
      name="weights")
  biases = tf.compat.v1.Variable(tf.zeros([units]), name="biases")
  return weights, biases


def inference(images: tf.Tensor, hidden1_units: int, hidden2_units: int) -> tf.Tensor:
  """Builds the model up to the logits: two ReLU layers and a linear one.

  Args:
    images: float32 [batch_size, IMAGE_PIXELS], e.g. the images placeholder.
    hidden1_units: size of the first hidden layer (scope `hidden1`).
    hidden2_units: size of the second hidden layer (scope `hidden2`).

  Returns:
    The logits, float32 [batch_size, NUM_CLASSES] (scope `softmax_linear`).
  """
  with tf.compat.v1.name_scope("hidden1"):
    weights, biases = _layer_variables(IMAGE_PIXELS, hidden1_units)
    hidden1 = tf.nn.relu(tf.matmul(images, weights) + biases)  # [batch, hidden1]
  with tf.compat.v1.name_scope("hidden2"):
    weights, biases = _layer_variables(hidden1_units, hidden2_units)
    hidden2 = tf.nn.relu(tf.matmul(hidden1, weights) + biases)  # [batch, hidden2]
  with tf.compat.v1.name_scope("softmax_linear"):
    weights, biases = _layer_variables(hidden2_units, NUM_CLASSES)
    logits = tf.matmul(hidden2, weights) + biases  # [batch, NUM_CLASSES]
  return logits


def loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
  """Returns the mean softmax cross-entropy of `logits` against the digit `labels`.

  Args:
    logits: float [batch_size, NUM_CLASSES], from `inference`.
    labels: int32 or int64 [batch_size], the digits.

  Returns:
    A float32 scalar, also added to the LOSSES collection (`tf.losses`).
  """
  labels = tf.cast(labels, tf.int64)
  return tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)


# pylint: disable-next=redefined-outer-name
def training(loss: tf.Tensor, learning_rate: float) -> tf.Operation:
  """Returns the op of one gradient-descent step on `loss`.

  It also adds a `loss` scalar summary (for `tf.summary.merge_all()`) and a
  `global_step` variable, which each step increments.

  Args:
    loss: the scalar loss, from `loss()`.
    learning_rate: the gradient-descent learning rate.

  Returns:
    The training op, to pass to `sess.run`.
  """
  tf.compat.v1.summary.scalar("loss", loss)
  optimizer = tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
  global_step = tf.compat.v1.Variable(0, name="global_step", trainable=False)
  return optimizer.minimize(loss, global_step=global_step)


def evaluation(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
  """Returns how many of the batch's `logits` rank the true label first.

  Args:
    logits: float [batch_size, NUM_CLASSES], from `inference`.
    labels: int32 [batch_size], the digits.

  Returns:
    An int32 scalar: the number of correct predictions in the batch.
  """
  correct = tf.nn.in_top_k(predictions=logits, targets=labels, k=1)  # [batch] bool
  return tf.reduce_sum(tf.cast(correct, tf.int32))
