"""A deep net configured with every choice the lesson discusses, built in a graph.

    config = DNNConfig(hidden_layers=(300, 100))        # the lesson's default DNN
    with tf.Graph().as_default():
      dnn = build_dnn(config, n_inputs=784)
      # dnn.X, dnn.y, dnn.is_training, dnn.logits, dnn.loss, dnn.train_op, ...

Variables are named as the lesson's code names them (`hidden1/weights`, ...,
`outputs/biases`), ops sit under the name scopes `dnn`, `loss`, `train` and `eval`, so
TensorBoard's graph reads like the lesson's diagrams. Building the graph is separate from
running it: `dnn_toolkit.training.loop` runs it in a Session, and a
`tf.compat.v1.train.MonitoredTrainingSession` can drive `dnn.train_op` as well.
"""

import dataclasses
from collections.abc import Iterable
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation, optimizers
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.layers import activations, initializers, regularizers
from dnn_toolkit.layers.contrib import batch_norm, dropout, fully_connected

_V1 = tf.compat.v1


#: The lesson's "Default DNN configuration" with two hidden layers of 300 and 100 units.
LESSON_DEFAULT = DNNConfig()


def hidden_scope(index: int) -> str:
  """The variable scope of hidden layer `index` (1-based): 'hidden1', 'hidden2', ...

  The one place the layer naming of `build_dnn` is spelled; checkpoints, transfer
  learning and pretraining name layers through it (and `OUTPUTS_SCOPE`).
  """
  return f"hidden{index}"


def hidden_scope_pattern(indices: Iterable[int]) -> str:
  """The scope pattern of hidden layers by number: (1, 2, 3) -> 'hidden(1|2|3)'.

  It matches exactly those layers' scopes (see `scopes.scope_matches`).
  """
  return "hidden(" + "|".join(str(int(i)) for i in indices) + ")"


#: The variable scope of the output layer.
OUTPUTS_SCOPE = "outputs"


@dataclasses.dataclass
class DNN:
  """The tensors and ops of a built DNN (see `build_dnn`)."""
  config: DNNConfig
  X: tf.Tensor                  # [batch_size, n_inputs] float32 placeholder
  y: tf.Tensor                  # [batch_size] int64 placeholder
  is_training: tf.Tensor        # scalar bool, False unless fed
  hidden: list[tf.Tensor]       # each [batch_size, units], after the activation
  logits: tf.Tensor             # [batch_size, n_outputs]
  predictions: tf.Tensor        # [batch_size] int64
  xentropy: tf.Tensor           # [batch_size] cross-entropy of each example
  base_loss: tf.Tensor          # mean cross-entropy
  loss: tf.Tensor               # base_loss + regularization penalties
  correct: tf.Tensor            # [batch_size] bool
  accuracy: tf.Tensor           # scalar
  batch_stats: tf.Tensor        # [2]: loss, accuracy
  global_step: tf.Variable
  learning_rate: tf.Tensor
  grads_and_vars: list[tuple[tf.Tensor, tf.Variable]]
  train_op: tf.Operation        # runs the batch-norm updates too
  max_norm_op: tf.Operation | None  # run after each train step (None: no max-norm)
  weights: list[tf.Variable]    # weight variables of hidden1..N and outputs
  frozen_layers: int = 0        # hidden1..frozen_layers run frozen (inference mode)
  stop_gradient_layer: int | None = None  # the layer whose output is stopped
  hooks: list[Any] = dataclasses.field(default_factory=list)  # run by fit before its own

  @property
  def layer_scopes(self) -> list[str]:
    """The variable scopes of the layers, bottom up: hidden1..N, outputs."""
    return [hidden_scope(i + 1) for i in range(len(self.hidden))] + [OUTPUTS_SCOPE]


def build_dnn(config: DNNConfig, n_inputs: int, frozen_layers: int = 0,
              stop_gradient: bool = False) -> DNN:
  """Builds the DNN of `config` for inputs of `n_inputs` features in the default graph.

  Args:
    config: a `DNNConfig`; validated before any op is created.
    n_inputs: positive int, the number of input features (784 for MNIST).
    frozen_layers: int in [0, len(hidden_layers)], the number of lowest hidden layers
      that training leaves unchanged (transfer learning, `dnn_toolkit.transfer`). They
      run in inference mode (batch norm on its moving statistics, no update ops, no
      dropout) and get no weight penalty or max-norm clipping, so their output is a
      fixed function of the input and can be cached. Default 0.
    stop_gradient: how they are frozen. False (default): their variables are left out
      of the optimizer's `var_list`. True: their top output passes through
      `tf.stop_gradient` and the optimizer is given every trainable variable; no
      gradient reaches the frozen ones. Needs `frozen_layers > 0`.

  Returns:
    A `DNN` holding the placeholders, outputs, loss and training ops.

  Raises:
    ValueError, TypeError: from `config.validate()` or on a bad `n_inputs`,
      `frozen_layers` or `stop_gradient`.
  """
  config.validate()
  n_inputs = _validation.check_positive_int("n_inputs", n_inputs)
  _check_frozen_layers(config, frozen_layers, stop_gradient)
  if config.seed is not None:
    _V1.set_random_seed(config.seed)
  X = _V1.placeholder(tf.float32, shape=(None, n_inputs), name="X")
  y = _V1.placeholder(tf.int64, shape=(None,), name="y")
  is_training = _V1.placeholder_with_default(False, shape=(), name="is_training")
  global_step = _V1.train.get_or_create_global_step()
  with tf.name_scope("dnn"):
    hidden, top = _hidden_layers(config, X, is_training, global_step, frozen_layers,
                                 stop_gradient)
    logits = fully_connected(top, config.n_outputs, activation_fn=None,
                             weights_initializer=initializers.get(config.initializer),
                             weights_regularizer=_weight_penalty(config),
                             scope=OUTPUTS_SCOPE)
  with tf.name_scope("loss"):
    xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    base_loss = tf.reduce_mean(xentropy, name="avg_xentropy")
    reg_losses = _V1.get_collection(_V1.GraphKeys.REGULARIZATION_LOSSES)
    loss = tf.add_n([base_loss] + reg_losses, name="loss")
  with tf.name_scope("train"):
    frozen = frozen_layers if not stop_gradient else 0  # stop_gradient: all in var_list
    learning_rate, grads_and_vars, train_op, hooks = _training_ops(
        config, loss, global_step, frozen)
  with tf.name_scope("eval"):
    predictions = tf.argmax(logits, axis=1, name="predictions")
    correct = tf.equal(predictions, y, name="correct")
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32), name="accuracy")
    # One fetch for the training loop instead of two: fetches cost per output.
    batch_stats = tf.stack([loss, accuracy], name="batch_stats")  # [2]
  max_norm = regularizers.max_norm_op() if config.max_norm is not None else None
  dnn = DNN(config=config, X=X, y=y, is_training=is_training, hidden=hidden,
            logits=logits, predictions=predictions, xentropy=xentropy,
            base_loss=base_loss, loss=loss, correct=correct, accuracy=accuracy,
            batch_stats=batch_stats, global_step=global_step,
            learning_rate=learning_rate, grads_and_vars=grads_and_vars,
            train_op=train_op, max_norm_op=max_norm, weights=[],
            frozen_layers=frozen_layers,
            stop_gradient_layer=frozen_layers if stop_gradient else None, hooks=hooks)
  by_name = {v.op.name: v for v in _V1.global_variables()}
  dnn.weights = [by_name[f"{scope}/weights"] for scope in dnn.layer_scopes]
  return dnn


def _weight_penalty(config):
  if config.l1_scale or config.l2_scale:
    return regularizers.l1_l2_regularizer(config.l1_scale, config.l2_scale)
  return None


def _check_frozen_layers(config, frozen_layers, stop_gradient):
  frozen_layers = _validation.check_non_negative_int("frozen_layers", frozen_layers)
  if frozen_layers > len(config.hidden_layers):
    raise ValueError("Received an invalid value for `frozen_layers`, expected at most "
                     f"the {len(config.hidden_layers)} hidden layers. "
                     f"Received: frozen_layers={frozen_layers}")
  _validation.check_bool("stop_gradient", stop_gradient)
  if stop_gradient and not frozen_layers:
    raise ValueError("`stop_gradient=True` needs frozen layers to stop at, expected "
                     "frozen_layers > 0. Received: frozen_layers=0")


def _hidden_layers(config, X, is_training, global_step, frozen_layers=0,
                   stop_gradient=False):
  """Builds hidden1..N; returns their outputs and the (dropped-out) top tensor.

  The lowest `frozen_layers` run in inference mode, without regularizer or dropout.
  """
  activation = activations.get(config.activation)
  penalty = _weight_penalty(config)
  max_norm = (regularizers.max_norm_regularizer(config.max_norm)
              if config.max_norm is not None else None)

  # Both a penalty and a max-norm clip may apply.
  regularizer = regularizers.sum_regularizer([penalty, max_norm])

  # scale=True: gamma lets each unit choose the spread of its input to ELU or
  # sigmoid, which (unlike ReLU) are not scale-invariant.
  bn_params = {"is_training": is_training, "decay": config.batch_norm_decay,
               "scale": True}
  frozen_bn_params = dict(bn_params, is_training=False)
  hidden, top = [], X
  for index, units in enumerate(config.hidden_layers):
    frozen = index < frozen_layers
    outputs = fully_connected(
        top, units, activation_fn=activation,
        weights_initializer=initializers.get(config.initializer),
        weights_regularizer=None if frozen else regularizer,
        normalizer_fn=batch_norm if config.batch_norm else None,
        normalizer_params=(frozen_bn_params if frozen else bn_params)
        if config.batch_norm else None,
        scope=hidden_scope(index + 1))  # [batch_size, units]
    hidden.append(outputs)
    top = outputs
    if stop_gradient and index + 1 == frozen_layers:
      top = tf.stop_gradient(outputs, name=f"{hidden_scope(index + 1)}_stop_gradient")
    if config.dropout_rate > 0.0 and not frozen:
      top = dropout(outputs, keep_prob=1.0 - config.dropout_rate,
                    is_training=is_training, seed=_step_seed(config, index, global_step),
                    scope=f"{hidden_scope(index + 1)}_dropout")
  return hidden, top


def _step_seed(config, index, global_step):
  """A per-layer, per-step seed of stateless dropout masks (None without a seed).

  A function, so the global step is read in dropout's training branch only: evaluating
  weights restored from a `best` checkpoint (model variables only) needs no step.
  """
  if config.seed is None:
    return None
  return lambda: tf.stack([tf.constant(config.seed * 1000 + index, tf.int64),
                           tf.cast(global_step, tf.int64)])


def _training_ops(config, loss, global_step, frozen_layers=0):
  """Returns (learning_rate, grads_and_vars, train_op, hooks) by `optimizers.train_op`.

  `hooks` holds the schedule's hook when the learning rate follows the validation loss
  ('plateau').

  The variables of hidden1..hidden<frozen_layers> are left out of the optimizer's
  var_list.
  """
  hooks = []
  if config.schedule == "plateau":
    plateau = optimizers.PlateauSchedule(config.learning_rate, config.plateau_factor,
                                         config.plateau_patience)
    learning_rate, hooks = plateau.learning_rate, [plateau]
  else:
    learning_rate = optimizers.learning_rate_schedule(
        config.schedule, config.learning_rate, global_step, config.decay_steps,
        config.decay_rate, config.boundaries, config.values)
  optimizer = optimizers.make_optimizer(config.optimizer, learning_rate, config.momentum)
  frozen = {hidden_scope(i + 1) for i in range(frozen_layers)}
  var_list = None  # Default: every trainable variable.
  if frozen:
    var_list = [v for v in _V1.trainable_variables()
                if v.op.name.split("/")[0] not in frozen]
  grads_and_vars, train_op = optimizers.train_op(
      optimizer, loss, global_step=global_step, var_list=var_list,
      clip_value=config.clip_value, clip_norm=config.clip_norm)
  return learning_rate, grads_and_vars, train_op, hooks
