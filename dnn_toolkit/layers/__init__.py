"""Layer builders in TF 1.x graphs: the contrib and tf.layers faces, and their parts.

    from dnn_toolkit.layers.contrib import fully_connected, batch_norm, dropout
    from dnn_toolkit.layers import tf_layers            # tf.layers.dense, ...

Modules:
  contrib        tf.contrib.layers' builders (`fully_connected`, `batch_norm`, ...)
  tf_layers      TF 1.x's `tf.layers` functions (`dense`, `batch_normalization`, ...)
  initializers   contrib's weight initializers, with their exact distributions
  activations    the lesson's activation functions (leaky ReLU, ELU, SELU)
  regularizers   l1, l2 and max-norm weight regularization
  arg_scope      shared default arguments over a block of layer calls
  rnn_cell       TF 1.x's RNN cells (`BasicLSTMCell`, `GRUCell`, ...) and `RNNCell`
  rnn_cell_wrappers  `MultiRNNCell`, `DropoutWrapper` and the other cell wrappers
  rnn            the functions that run a cell over a sequence (`dynamic_rnn`, ...)

Every builder creates its variables with `tf.compat.v1.get_variable` and computes with
`tf.nn` ops; none uses Keras.
"""
