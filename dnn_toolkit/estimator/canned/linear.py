"""`LinearClassifier` and `LinearRegressor`: linear models over feature columns.

    classifier = tf.estimator.LinearClassifier(feature_columns=[
        tf.feature_column.numeric_column("age"),
        tf.feature_column.categorical_column_with_vocabulary_list(
            "city", ["Mountain View", "Palo Alto"])])

TF 1.15's models: `tf.compat.v1.feature_column.linear_model` under the scope `linear`
(variables `linear/linear_model/<column>/weights` and `linear/linear_model/bias_weights`,
summed over a categorical column's values by `sparse_combiner`), FTRL with learning
rate 0.2 by default, the training loss summed over the batch, and the summaries `bias`
and `fraction_of_zero_weights`.
"""

import warnings
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation, compat
from dnn_toolkit.estimator.canned import head as head_lib
from dnn_toolkit.estimator.canned.dnn import (
  INPUT_LAYER_MIN_SLICE_SIZE,
  check_columns,
  check_features,
)
from dnn_toolkit.estimator.canned.optimizers import get_optimizer_instance
from dnn_toolkit.estimator.estimator import Estimator
from dnn_toolkit.estimator.model_fn import ModeKeys

_V1 = tf.compat.v1
#: TF 1.x's learning rate of a linear optimizer given by name.
LEARNING_RATE = 0.2
SPARSE_COMBINERS = ("sum", "mean", "sqrtn")


def linear_logits(features: dict[str, Any], *, units: int,
                  feature_columns: Sequence[Any], sparse_combiner: str) -> tf.Tensor:
  """The logits `[batch, units]` of the linear model, in the current variable scope."""
  cols_to_vars: dict[Any, Any] = {}
  # TensorFlow's notices about its own code (linear_model's Keras 2 layer).
  with compat.silenced_tf_deprecations(), warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="`layer.add_variable` is deprecated")
    logits = _V1.feature_column.linear_model(
        features, list(feature_columns), units=units, sparse_combiner=sparse_combiner,
        cols_to_vars=cols_to_vars)
  bias = cols_to_vars.pop("bias")
  if units > 1:
    _V1.summary.histogram("bias", bias)
  else:  # One bias: a scalar summary.
    _V1.summary.scalar("bias", tf.reshape(bias[0], []))
  weights = [tf.reshape(v, [-1]) for parts in cols_to_vars.values()
             for v in (parts if isinstance(parts, list) else [parts])]
  _V1.summary.scalar("fraction_of_zero_weights",
                     tf.math.zero_fraction(tf.concat(weights, axis=0)))
  return logits


def linear_model_fn(features: Any, labels: Any, mode: str, *, head: head_lib.Head,
                    feature_columns: Sequence[Any], optimizer: Any = "Ftrl",
                    partitioner: Any = None, config: Any = None,
                    sparse_combiner: str = "sum") -> Any:
  """The model_fn of the linear Estimators: the model under `linear/`, then the head."""
  check_features(features)
  num_ps = config.num_ps_replicas if config is not None else 0
  partitioner = partitioner or _V1.min_max_variable_partitioner(
      max_partitions=num_ps, min_slice_size=INPUT_LAYER_MIN_SLICE_SIZE)
  with _V1.variable_scope("linear", values=list(features.values()),
                          partitioner=partitioner):
    logits = linear_logits(features, units=head.logits_dimension,
                           feature_columns=feature_columns,
                           sparse_combiner=sparse_combiner)
    optimizer = (get_optimizer_instance(optimizer, LEARNING_RATE)
                 if mode == ModeKeys.TRAIN else None)
    return head.create_estimator_spec(features, mode, logits, labels=labels,
                                      optimizer=optimizer)


class LinearClassifier(Estimator):
  """A linear classifier of TF 1.15 (logistic regression for 2 classes, else softmax).

  Args:
    feature_columns: the model's input columns (`tf.feature_column.*`).
    model_dir, config, warm_start_from: as `Estimator`.
    n_classes: int >= 2 (default 2).
    weight_column: optional feature name (or numeric column) of example weights.
    label_vocabulary: optional class names; labels are then strings.
    optimizer: 'Ftrl' (default, rate 0.2), another name, an Optimizer or a function
      making one.
    partitioner: optional partitioner of the variables.
    loss_reduction: how the training loss is reduced. Default SUM (TF 1.x).
    sparse_combiner: 'sum' (default), 'mean' or 'sqrtn', over a categorical
      column's values.
  """

  def __init__(self, feature_columns: Sequence[Any], model_dir: str | None = None,
               n_classes: int = 2, weight_column: Any = None,
               label_vocabulary: Sequence[str] | None = None, optimizer: Any = "Ftrl",
               config: Any = None, partitioner: Any = None, warm_start_from: Any = None,
               loss_reduction: str = _V1.losses.Reduction.SUM,
               sparse_combiner: str = "sum") -> None:
    feature_columns = check_columns("feature_columns", feature_columns)
    _validation.check_choice("sparse_combiner", sparse_combiner, SPARSE_COMBINERS)
    head = head_lib.binary_or_multi_class_head(head_lib.check_n_classes(n_classes),
                                               weight_column, label_vocabulary,
                                               loss_reduction)

    def _model_fn(features, labels, mode, config):
      return linear_model_fn(features, labels, mode, head=head,
                             feature_columns=feature_columns, optimizer=optimizer,
                             partitioner=partitioner, config=config,
                             sparse_combiner=sparse_combiner)

    super().__init__(_model_fn, model_dir=model_dir, config=config,
                     warm_start_from=warm_start_from)


class LinearRegressor(Estimator):
  """A linear regressor of TF 1.15, squared-error loss.

  Args:
    feature_columns, model_dir, weight_column, optimizer, config, partitioner,
      warm_start_from, loss_reduction, sparse_combiner: as `LinearClassifier`.
    label_dimension: the targets per example. Default 1.
  """

  def __init__(self, feature_columns: Sequence[Any], model_dir: str | None = None,
               label_dimension: int = 1, weight_column: Any = None,
               optimizer: Any = "Ftrl", config: Any = None, partitioner: Any = None,
               warm_start_from: Any = None,
               loss_reduction: str = _V1.losses.Reduction.SUM,
               sparse_combiner: str = "sum") -> None:
    feature_columns = check_columns("feature_columns", feature_columns)
    _validation.check_choice("sparse_combiner", sparse_combiner, SPARSE_COMBINERS)
    head = head_lib.RegressionHead(label_dimension, weight_column, loss_reduction)

    def _model_fn(features, labels, mode, config):
      return linear_model_fn(features, labels, mode, head=head,
                             feature_columns=feature_columns, optimizer=optimizer,
                             partitioner=partitioner, config=config,
                             sparse_combiner=sparse_combiner)

    super().__init__(_model_fn, model_dir=model_dir, config=config,
                     warm_start_from=warm_start_from)
