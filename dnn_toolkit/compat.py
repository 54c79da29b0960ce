"""The one call that switches TensorFlow to TF 1.x behaviour for lesson-style scripts."""

import tensorflow as tf


def enable_tf1_behavior():
  """Makes the rest of the process behave like TensorFlow 1.x.

  Call it once, at the top of a script, before building any graph, to write code as the
  lesson does: placeholders and variables at the top level (no `tf.Graph().as_default()`
  block), reference variables (`get_tensor_by_name("hidden1/weights:0")` gives the
  weights), TF 1.x control flow, `tf.Session()`:

      import tensorflow.compat.v1 as tf
      import dnn_toolkit
      dnn_toolkit.enable_tf1_behavior()
      X = tf.placeholder(tf.float32, shape=(None, 784), name="X")

  It calls `tf.compat.v1.disable_v2_behavior()`, which is process-wide and cannot be
  undone: do not call it in a process that also runs Keras 3 or eager code. Importing
  dnn_toolkit never calls it; without it, the builders still work inside any
  `with tf.Graph().as_default():` block.
  """
  tf.compat.v1.disable_v2_behavior()
