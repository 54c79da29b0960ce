"""`DNNLinearCombinedClassifier` and `...Regressor`: TF 1.x's "wide and deep" models.

    model = tf.estimator.DNNLinearCombinedClassifier(
        linear_feature_columns=[occupation, crossed],      # wide
        dnn_feature_columns=[age, occupation_embedding],   # deep
        dnn_hidden_units=[100, 50])

The logits are the sum of a linear model's (`linear/`, `canned.linear`) and a DNN's
(`dnn/`, `canned.dnn`), each trained by its own optimizer on its own variables: FTRL
with learning rate min(0.005, 1/sqrt(linear columns)) and Adagrad with 0.001 by
default, as in TF 1.15; one training step increments the global step once.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit.errors import ArgumentError
from dnn_toolkit.estimator.canned import head as head_lib
from dnn_toolkit.estimator.canned.dnn import (
  INPUT_LAYER_MIN_SLICE_SIZE,
  check_columns,
  check_dnn_arguments,
  check_features,
  dnn_logits,
)
from dnn_toolkit.estimator.canned.linear import linear_logits
from dnn_toolkit.estimator.canned.optimizers import get_optimizer_instance
from dnn_toolkit.estimator.estimator import Estimator
from dnn_toolkit.estimator.model_fn import ModeKeys

_V1 = tf.compat.v1
DNN_LEARNING_RATE = 0.001
LINEAR_LEARNING_RATE = 0.005


def linear_learning_rate(num_linear_feature_columns: int) -> float:
  """TF 1.15's default: min(0.005, 1 / sqrt(number of linear feature columns))."""
  return min(LINEAR_LEARNING_RATE, 1.0 / math.sqrt(num_linear_feature_columns))


def combined_model_fn(features: Any, labels: Any, mode: str, *, head: head_lib.Head,
                      linear_feature_columns: Sequence[Any], linear_optimizer: Any,
                      dnn_feature_columns: Sequence[Any], dnn_optimizer: Any,
                      dnn_hidden_units: Sequence[int],
                      dnn_activation_fn: Callable[..., Any], dnn_dropout: float | None,
                      input_layer_partitioner: Any, config: Any, batch_norm: bool,
                      linear_sparse_combiner: str) -> Any:
  """The model_fn of the combined Estimators: `dnn/` and `linear/` logits summed."""
  check_features(features)
  num_ps = config.num_ps_replicas if config is not None else 0
  input_layer_partitioner = input_layer_partitioner or (
      _V1.min_max_variable_partitioner(max_partitions=num_ps,
                                       min_slice_size=INPUT_LAYER_MIN_SLICE_SIZE))
  logits, scopes = [], {}
  if dnn_feature_columns:
    with _V1.variable_scope("dnn", values=list(features.values()),
                            partitioner=_V1.min_max_variable_partitioner(
                                max_partitions=num_ps)) as scope:
      logits.append(dnn_logits(
          features, mode, units=head.logits_dimension, hidden_units=dnn_hidden_units,
          feature_columns=dnn_feature_columns, activation_fn=dnn_activation_fn,
          dropout=dnn_dropout, batch_norm=batch_norm,
          input_layer_partitioner=input_layer_partitioner))
      scopes[scope.name] = dnn_optimizer
  if linear_feature_columns:
    with _V1.variable_scope("linear", values=list(features.values()),
                            partitioner=input_layer_partitioner) as scope:
      logits.append(linear_logits(features, units=head.logits_dimension,
                                  feature_columns=linear_feature_columns,
                                  sparse_combiner=linear_sparse_combiner))
      scopes[scope.name] = linear_optimizer

  def train_op_fn(loss):
    """Each part's optimizer on its own variables; the global step once."""
    ops = [get_optimizer_instance(optimizer).minimize(
        loss, var_list=_V1.get_collection(_V1.GraphKeys.TRAINABLE_VARIABLES,
                                          scope=name + "/"))
           for name, optimizer in scopes.items()]
    with tf.control_dependencies([tf.group(*ops)]):
      return _V1.assign_add(_V1.train.get_global_step(), 1).op

  return head.create_estimator_spec(
      features, mode, tf.add_n(logits), labels=labels,
      train_op_fn=train_op_fn if mode == ModeKeys.TRAIN else None)


def _combined_init(estimator, head, model_dir, linear_feature_columns,
                   linear_optimizer, dnn_feature_columns, dnn_optimizer,
                   dnn_hidden_units, dnn_activation_fn, dnn_dropout,
                   input_layer_partitioner, config, warm_start_from, batch_norm,
                   linear_sparse_combiner):
  """Checks the arguments of a combined Estimator and initializes it."""
  if not linear_feature_columns and not dnn_feature_columns:
    raise ArgumentError("linear_feature_columns", "Either {name} or "
                                                  "dnn_feature_columns must be "
                                                  "defined.", None)
  linear = (check_columns("linear_feature_columns", linear_feature_columns)
            if linear_feature_columns else ())
  dnn, units, activation = (), (), dnn_activation_fn
  if dnn_feature_columns:
    if not dnn_hidden_units:
      raise ArgumentError("dnn_hidden_units", "{name} must be defined when "
                                              "dnn_feature_columns is specified. "
                                              "Received: {received}", dnn_hidden_units)
    units, dnn, activation = check_dnn_arguments(dnn_hidden_units, dnn_feature_columns,
                                                  dnn_activation_fn, dnn_dropout,
                                                  batch_norm)
  # The optimizers are made in the model_fn's graph, by name with TF 1.15's rates.
  linear_opt = (lambda: get_optimizer_instance(
      linear_optimizer, linear_learning_rate(len(linear) or 1)))
  dnn_opt = lambda: get_optimizer_instance(dnn_optimizer, DNN_LEARNING_RATE)

  def _model_fn(features, labels, mode, config):
    return combined_model_fn(
        features, labels, mode, head=head, linear_feature_columns=linear,
        linear_optimizer=linear_opt, dnn_feature_columns=dnn, dnn_optimizer=dnn_opt,
        dnn_hidden_units=units, dnn_activation_fn=activation, dnn_dropout=dnn_dropout,
        input_layer_partitioner=input_layer_partitioner, config=config,
        batch_norm=batch_norm, linear_sparse_combiner=linear_sparse_combiner)

  Estimator.__init__(estimator, _model_fn, model_dir=model_dir, config=config,
                     warm_start_from=warm_start_from)


class DNNLinearCombinedClassifier(Estimator):
  """TF 1.15's wide-and-deep classifier: linear and DNN logits summed.

  Args:
    model_dir, config, warm_start_from: as `Estimator`.
    linear_feature_columns: the wide part's columns (or None).
    linear_optimizer: default 'Ftrl'.
    dnn_feature_columns: the deep part's columns (or None).
    dnn_optimizer: default 'Adagrad'.
    dnn_hidden_units: the deep part's hidden layers (needed with its columns).
    dnn_activation_fn, dnn_dropout, batch_norm, input_layer_partitioner: as
      `DNNClassifier`'s.
    n_classes, weight_column, label_vocabulary, loss_reduction: as `DNNClassifier`.
    linear_sparse_combiner: as `LinearClassifier`'s `sparse_combiner`.
  """

  def __init__(self, model_dir: str | None = None,
               linear_feature_columns: Sequence[Any] | None = None,
               linear_optimizer: Any = "Ftrl",
               dnn_feature_columns: Sequence[Any] | None = None,
               dnn_optimizer: Any = "Adagrad",
               dnn_hidden_units: Sequence[int] | None = None,
               dnn_activation_fn: Callable[..., Any] = tf.nn.relu,
               dnn_dropout: float | None = None, n_classes: int = 2,
               weight_column: Any = None, label_vocabulary: Sequence[str] | None = None,
               input_layer_partitioner: Any = None, config: Any = None,
               warm_start_from: Any = None,
               loss_reduction: str = _V1.losses.Reduction.SUM, batch_norm: bool = False,
               linear_sparse_combiner: str = "sum") -> None:
    head = head_lib.binary_or_multi_class_head(
        head_lib.check_n_classes(n_classes), weight_column, label_vocabulary,
        loss_reduction)
    _combined_init(self, head, model_dir, linear_feature_columns, linear_optimizer,
                   dnn_feature_columns, dnn_optimizer, dnn_hidden_units,
                   dnn_activation_fn, dnn_dropout, input_layer_partitioner, config,
                   warm_start_from, batch_norm, linear_sparse_combiner)


class DNNLinearCombinedRegressor(Estimator):
  """TF 1.15's wide-and-deep regressor: linear and DNN outputs summed.

  Args: as `DNNLinearCombinedClassifier`, with `label_dimension` (default 1) for
    `n_classes` and `label_vocabulary`.
  """

  def __init__(self, model_dir: str | None = None,
               linear_feature_columns: Sequence[Any] | None = None,
               linear_optimizer: Any = "Ftrl",
               dnn_feature_columns: Sequence[Any] | None = None,
               dnn_optimizer: Any = "Adagrad",
               dnn_hidden_units: Sequence[int] | None = None,
               dnn_activation_fn: Callable[..., Any] = tf.nn.relu,
               dnn_dropout: float | None = None, label_dimension: int = 1,
               weight_column: Any = None, input_layer_partitioner: Any = None,
               config: Any = None, warm_start_from: Any = None,
               loss_reduction: str = _V1.losses.Reduction.SUM, batch_norm: bool = False,
               linear_sparse_combiner: str = "sum") -> None:
    head = head_lib.RegressionHead(label_dimension, weight_column, loss_reduction)
    _combined_init(self, head, model_dir, linear_feature_columns, linear_optimizer,
                   dnn_feature_columns, dnn_optimizer, dnn_hidden_units,
                   dnn_activation_fn, dnn_dropout, input_layer_partitioner, config,
                   warm_start_from, batch_norm, linear_sparse_combiner)
