"""Layer builders in TF 1.x graphs: one core, two faces (contrib and tf.layers).

    from dnn_toolkit.layers.contrib import fully_connected, batch_norm, dropout
    from dnn_toolkit.layers import tf_layers            # tf.layers.dense, conv2d, ...
    from dnn_toolkit.layers.tf_core import Dense        # tf.layers.Dense, ...

Modules:
  core              what both faces compute: input checks, variables and penalties,
                    batch-norm moments or TF's fused kernel and the moving averages,
                    the training switch, convolution, pooling, dropout
  contrib           tf.contrib.layers' builders (`fully_connected`, `batch_norm`,
                    `conv2d`, `max_pool2d`, ...): contrib's names and defaults
  tf_layers         TF 1.x's `tf.layers` functions (`dense`, `conv2d_transpose`, ...)
  tf_base           tf.layers' `Layer` and `InputSpec`
  tf_core           tf.layers' `Dense`, `Dropout`, `Flatten`, `BatchNormalization`
  tf_convolutional  tf.layers' convolution and pooling classes
  initializers      contrib's weight initializers, with their exact distributions
  activations       the lesson's activation functions (leaky ReLU, ELU, SELU)
  regularizers      l1, l2 and max-norm weight regularization
  arg_scope         shared default arguments over a block of layer calls
  rnn_cell          TF 1.x's RNN cells (`BasicLSTMCell`, `GRUCell`, ...) and `RNNCell`
  rnn_cell_wrappers `MultiRNNCell`, `DropoutWrapper` and the other cell wrappers
  rnn               the functions that run a cell over a sequence (`dynamic_rnn`, ...)

Every builder creates its variables with `tf.compat.v1.get_variable` and computes with
`tf.nn` ops; none uses Keras. docs/layers.md says what matches TF 1.15 and what not.
"""
