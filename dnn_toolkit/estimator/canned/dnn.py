"""`DNNClassifier` and `DNNRegressor`: fully connected nets over feature columns.

    classifier = tf.estimator.DNNClassifier(
        hidden_units=[300, 100], n_classes=10,
        feature_columns=[tf.feature_column.numeric_column("x", shape=[784])])

TF 1.15's models, defaults and variable names, so TF 1.x checkpoints restore:
`dnn/input_from_feature_columns/input_layer/...` (embeddings), then per hidden layer
`dnn/hiddenlayer_<i>/kernel` and `bias` (Glorot-uniform, ReLU), a dropout when
training, `dnn/hiddenlayer_<i>/batchnorm_<i>/...` with `batch_norm` (momentum 0.999),
and `dnn/logits/kernel`, `bias`. The variables are made under a
`min_max_variable_partitioner` over the ps tasks, as in TF 1.15 (one part without a
cluster: `.../kernel/part_0` in the graph, `.../kernel` in the checkpoint). Adagrad
with learning rate 0.05 trains by default; the training loss is summed over the
batch. The layers are the toolkit's `tf.layers` (`dnn_toolkit.layers.tf_layers`),
whose names and numerics are TF 1.15's; the input layer is
`tf.compat.v1.feature_column.input_layer`.
"""

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import compat
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError
from dnn_toolkit.estimator.canned import head as head_lib
from dnn_toolkit.estimator.canned.optimizers import get_optimizer_instance
from dnn_toolkit.estimator.estimator import Estimator
from dnn_toolkit.estimator.model_fn import ModeKeys
from dnn_toolkit.layers import tf_layers

_V1 = tf.compat.v1
#: TF 1.x's learning rate of a DNN optimizer given by name.
LEARNING_RATE = 0.05
#: The input layer's slices on a cluster (TF 1.15's default partitioner): 64 MiB.
INPUT_LAYER_MIN_SLICE_SIZE = 64 << 20


def check_features(features: Any) -> None:
  """Canned models take a dict of feature tensors."""
  if not isinstance(features, dict):
    raise ArgumentTypeError("features", "features should be a dictionary of `Tensor`s "
                                        "(a canned Estimator reads them by feature "
                                        "column): expected {name} to be a dict. "
                                        f"Received: a {type(features).__name__}", None)


def check_columns(name: str, columns: Any) -> tuple[Any, ...]:
  """`columns` as a tuple of feature columns, or raises naming `name`."""
  if columns is None or isinstance(columns, (str, bytes)) or not hasattr(
      columns, "__iter__"):
    raise ArgumentTypeError(name, "Expected {name} to be an iterable of feature "
                                  "columns (tf.feature_column.*). Received: {received}",
                            columns)
  columns = tuple(columns)
  if not columns:
    raise ArgumentError(name, "Received an empty {name}; give the model at least one "
                              "feature column.", None)
  for column in columns:
    if not hasattr(column, "name") or isinstance(column, str):
      raise ArgumentTypeError(name, "Expected {name} to hold feature columns "
                                    "(tf.feature_column.*). Received: "
                                    f"{column!r}", column)
  return columns


def check_hidden_units(hidden_units: Any) -> tuple[int, ...]:
  if isinstance(hidden_units, (str, bytes)) or not hasattr(hidden_units, "__iter__"):
    raise ArgumentTypeError("hidden_units", "Expected {name} to be a list of positive "
                                            "ints, e.g. [300, 100]. Received: "
                                            "{received}", hidden_units)
  units = tuple(hidden_units)
  if not units or any(isinstance(u, bool) or not isinstance(u, int) or u <= 0
                      for u in units):
    raise ArgumentError("hidden_units", "Received an invalid value for {name}, expected "
                                        "a non-empty list of positive ints. Received: "
                                        "{received}", hidden_units)
  return units


def _hidden_layer_summary(value, tag):
  _V1.summary.scalar(f"{tag}/fraction_of_zero_values", tf.math.zero_fraction(value))
  _V1.summary.histogram(f"{tag}/activation", value)


def dnn_logits(features: dict[str, Any], mode: str, *, units: int,
               hidden_units: Sequence[int], feature_columns: Sequence[Any],
               activation_fn: Callable[..., Any], dropout: float | None,
               batch_norm: bool, input_layer_partitioner: Any) -> tf.Tensor:
  """The logits `[batch, units]` of the net, built in the current variable scope.

  Layer i is `hiddenlayer_<i>` (dense, then dropout when training, then batch
  normalization); the output layer is `logits`.
  """
  training = mode == ModeKeys.TRAIN
  # TensorFlow's notices about its own API are silenced.
  with _V1.variable_scope("input_from_feature_columns", values=list(features.values()),
                          partitioner=input_layer_partitioner), (
                              compat.silenced_tf_deprecations()):
    net = _V1.feature_column.input_layer(features, list(feature_columns))
  scope = _V1.get_variable_scope().name
  for i, size in enumerate(hidden_units):
    name = f"hiddenlayer_{i}"
    net = tf_layers.dense(net, size, activation=activation_fn,
                          kernel_initializer=_V1.glorot_uniform_initializer(), name=name)
    if dropout is not None and training:
      net = tf_layers.dropout(net, rate=dropout, training=True)
    if batch_norm:
      with _V1.variable_scope(name):
        net = tf_layers.batch_normalization(net, momentum=0.999, training=training,
                                            name=f"batchnorm_{i}")
    _hidden_layer_summary(net, f"{scope}/{name}")
  logits = tf_layers.dense(net, units, name="logits",
                           kernel_initializer=_V1.glorot_uniform_initializer())
  _hidden_layer_summary(logits, f"{scope}/logits")
  return logits


def dnn_model_fn(features: Any, labels: Any, mode: str, *, head: head_lib.Head,
                 hidden_units: Sequence[int], feature_columns: Sequence[Any],
                 optimizer: Any = "Adagrad",
                 activation_fn: Callable[..., Any] = tf.nn.relu,
                 dropout: float | None = None, input_layer_partitioner: Any = None,
                 config: Any = None, batch_norm: bool = False) -> Any:
  """The model_fn of the DNN Estimators: the net under `dnn/`, then the head."""
  check_features(features)
  num_ps = config.num_ps_replicas if config is not None else 0
  with _V1.variable_scope("dnn", values=list(features.values()),
                          partitioner=_V1.min_max_variable_partitioner(
                              max_partitions=num_ps)):
    input_layer_partitioner = input_layer_partitioner or (
        _V1.min_max_variable_partitioner(max_partitions=num_ps,
                                         min_slice_size=INPUT_LAYER_MIN_SLICE_SIZE))
    logits = dnn_logits(features, mode, units=head.logits_dimension,
                        hidden_units=hidden_units, feature_columns=feature_columns,
                        activation_fn=activation_fn, dropout=dropout,
                        batch_norm=batch_norm,
                        input_layer_partitioner=input_layer_partitioner)
    optimizer = (get_optimizer_instance(optimizer, LEARNING_RATE)
                 if mode == ModeKeys.TRAIN else None)
    return head.create_estimator_spec(features, mode, logits, labels=labels,
                                      optimizer=optimizer)


def check_dnn_arguments(hidden_units: Any, feature_columns: Any, activation_fn: Any,
                        dropout: Any, batch_norm: Any
                        ) -> tuple[tuple[int, ...], tuple[Any, ...], Callable[..., Any]]:
  """The DNN Estimators' checks, before anything is built.

  Returns:
    (hidden units, feature columns, activation function).
  """
  hidden_units = check_hidden_units(hidden_units)
  feature_columns = check_columns("feature_columns", feature_columns)
  if activation_fn is None:
    activation_fn = tf.nn.relu
  if not callable(activation_fn):
    raise ArgumentTypeError("activation_fn", "Expected {name} to be callable. "
                                             "Received: {received}", activation_fn)
  if dropout is not None and not (isinstance(dropout, (int, float))
                                  and not isinstance(dropout, bool)
                                  and 0 <= dropout < 1):
    raise ArgumentError("dropout", "Received an invalid value for {name}, expected "
                                   "None or a probability in [0, 1). Received: "
                                   "{received}", dropout)
  if not isinstance(batch_norm, bool):
    raise ArgumentTypeError("batch_norm", "Expected {name} to be a bool. Received: "
                                          "{received}", batch_norm)
  return hidden_units, feature_columns, activation_fn


class DNNClassifier(Estimator):
  """A classifier of TF 1.15: a DNN over feature columns, softmax (or sigmoid) output.

  Args:
    hidden_units: the sizes of the hidden layers, e.g. [300, 100].
    feature_columns: the model's input columns (`tf.feature_column.*`).
    model_dir, config, warm_start_from: as `Estimator`.
    n_classes: int >= 2 (default 2: binary, a sigmoid head).
    weight_column: optional feature name (or numeric column) of example weights.
    label_vocabulary: optional class names; labels are then strings.
    optimizer: 'Adagrad' (default, rate 0.05), another name, an Optimizer or a
      function making one.
    activation_fn: the hidden layers' activation. Default `tf.nn.relu`.
    dropout: optional probability of dropping a unit while training.
    input_layer_partitioner: optional partitioner of the input layer's variables.
    loss_reduction: how the training loss is reduced. Default SUM (TF 1.x).
    batch_norm: batch-normalize after each hidden layer.
  """

  def __init__(self, hidden_units: Sequence[int], feature_columns: Sequence[Any],
               model_dir: str | None = None, n_classes: int = 2,
               weight_column: Any = None, label_vocabulary: Sequence[str] | None = None,
               optimizer: Any = "Adagrad", activation_fn: Callable[..., Any] = tf.nn.relu,
               dropout: float | None = None, input_layer_partitioner: Any = None,
               config: Any = None, warm_start_from: Any = None,
               loss_reduction: str = _V1.losses.Reduction.SUM,
               batch_norm: bool = False) -> None:
    hidden_units, feature_columns, activation_fn = check_dnn_arguments(
        hidden_units, feature_columns, activation_fn, dropout, batch_norm)
    head = head_lib.binary_or_multi_class_head(head_lib.check_n_classes(n_classes),
                                               weight_column, label_vocabulary,
                                               loss_reduction)

    def _model_fn(features, labels, mode, config):
      return dnn_model_fn(features, labels, mode, head=head, hidden_units=hidden_units,
                          feature_columns=feature_columns, optimizer=optimizer,
                          activation_fn=activation_fn, dropout=dropout,
                          input_layer_partitioner=input_layer_partitioner,
                          config=config, batch_norm=batch_norm)

    super().__init__(_model_fn, model_dir=model_dir, config=config,
                     warm_start_from=warm_start_from)


class DNNRegressor(Estimator):
  """A regressor of TF 1.15: a DNN over feature columns, squared-error loss.

  Args:
    hidden_units, feature_columns, model_dir, weight_column, optimizer,
      activation_fn, dropout, input_layer_partitioner, config, warm_start_from,
      loss_reduction, batch_norm: as `DNNClassifier`.
    label_dimension: the targets per example. Default 1.
  """

  def __init__(self, hidden_units: Sequence[int], feature_columns: Sequence[Any],
               model_dir: str | None = None, label_dimension: int = 1,
               weight_column: Any = None, optimizer: Any = "Adagrad",
               activation_fn: Callable[..., Any] = tf.nn.relu,
               dropout: float | None = None, input_layer_partitioner: Any = None,
               config: Any = None, warm_start_from: Any = None,
               loss_reduction: str = _V1.losses.Reduction.SUM,
               batch_norm: bool = False) -> None:
    hidden_units, feature_columns, activation_fn = check_dnn_arguments(
        hidden_units, feature_columns, activation_fn, dropout, batch_norm)
    head = head_lib.RegressionHead(label_dimension, weight_column, loss_reduction)

    def _model_fn(features, labels, mode, config):
      return dnn_model_fn(features, labels, mode, head=head, hidden_units=hidden_units,
                          feature_columns=feature_columns, optimizer=optimizer,
                          activation_fn=activation_fn, dropout=dropout,
                          input_layer_partitioner=input_layer_partitioner,
                          config=config, batch_norm=batch_norm)

    super().__init__(_model_fn, model_dir=model_dir, config=config,
                     warm_start_from=warm_start_from)

