"""The heads of the canned Estimators: loss, predictions, metrics, train op from logits.

A head turns a model's logits into an `EstimatorSpec`, as TF 1.15's `head.py` did:

  binary      (`n_classes=2`) sigmoid cross-entropy over logits `[batch, 1]`;
              predictions logits, logistic, probabilities, class_ids, classes,
              all_class_ids, all_classes; metrics average_loss, accuracy, precision,
              recall, prediction/mean, label/mean, accuracy_baseline, auc,
              auc_precision_recall
  multi-class softmax cross-entropy over `[batch, n_classes]`; predictions logits,
              probabilities, class_ids, classes, all_class_ids, all_classes; metrics
              average_loss, accuracy
  regression  squared error over `[batch, label_dimension]`; predictions
              `predictions`; metrics average_loss, prediction/mean, label/mean

The training loss is reduced over the batch by `loss_reduction` (TF 1.x's canned
Estimators: SUM); the Estimator adds `loss`, the mean of that loss over the evaluation
batches. Training writes the summaries `loss` and `average_loss`. The export outputs
are TF 1.15's: 'serving_default' and 'classification' (or 'regression'), which need a
`tf.Example` input, and 'predict', which serves any input.
"""

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import compat
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError
from dnn_toolkit.estimator import export
from dnn_toolkit.estimator.model_fn import EstimatorSpec, ModeKeys

_V1 = tf.compat.v1
_REDUCTION = _V1.losses.Reduction


class MetricKeys:
  """The names of the canned heads' metrics."""

  LOSS = "loss"
  LOSS_MEAN = "average_loss"
  LOSS_REGULARIZATION = "regularization_loss"
  ACCURACY = "accuracy"
  PRECISION = "precision"
  RECALL = "recall"
  ACCURACY_BASELINE = "accuracy_baseline"
  AUC = "auc"
  AUC_PR = "auc_precision_recall"
  LABEL_MEAN = "label/mean"
  PREDICTION_MEAN = "prediction/mean"
  ACCURACY_AT_THRESHOLD = "accuracy/positive_threshold_%g"
  PRECISION_AT_THRESHOLD = "precision/positive_threshold_%g"
  RECALL_AT_THRESHOLD = "recall/positive_threshold_%g"


class PredictionKeys:
  """The names of the canned heads' predictions."""

  CLASSES = "classes"
  CLASS_IDS = "class_ids"
  ALL_CLASSES = "all_classes"
  ALL_CLASS_IDS = "all_class_ids"
  LOGISTIC = "logistic"
  LOGITS = "logits"
  PREDICTIONS = "predictions"
  PROBABILITIES = "probabilities"


_CLASSIFY_KEY, _REGRESS_KEY, _PREDICT_KEY = "classification", "regression", "predict"


class Head:
  """What a canned model's logits become; subclasses define the loss and outputs.

  Attributes:
    logits_dimension: the size of the logits' last dimension.
  """

  logits_dimension: int

  def __init__(self, weight_column: Any = None,
               loss_reduction: str = _REDUCTION.SUM) -> None:
    if loss_reduction not in _REDUCTION.all() or loss_reduction == _REDUCTION.NONE:
      raise ArgumentError("loss_reduction", "Invalid loss_reduction: expected {name} "
                                            "among tf.losses.Reduction but NONE. "
                                            "Received: {received}", loss_reduction)
    self._weight_column = weight_column
    self._loss_reduction = loss_reduction

  def create_estimator_spec(self, features: dict[str, Any], mode: str, logits: Any,
                            labels: Any = None, optimizer: Any = None,
                            train_op_fn: Any = None,
                            regularization_losses: Sequence[Any] | None = None
                            ) -> EstimatorSpec:
    """The spec of `mode`: predictions; loss and metrics; the train op.

    Args:
      features: the input features (for the weight column).
      mode: a `ModeKeys` value.
      logits: float tensor `[batch, logits_dimension]`.
      labels: the labels, needed in TRAIN and EVAL.
      optimizer: an Optimizer minimizing the loss (TRAIN), or None with
        `train_op_fn(loss) -> op`.
      regularization_losses: optional scalars added to the training loss.
    """
    with tf.name_scope("head"):
      logits = self._check_logits(logits)
      with tf.name_scope("predictions"):
        predictions = self._predictions(logits)
      if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode, predictions=predictions,
                             export_outputs=self._export_outputs(predictions))
      labels = self._processed_labels(labels, logits)
      unweighted = self._unweighted_loss(labels, logits)  # [batch, dimension]
      weights = _weights(features, self._weight_column)
      training_loss = _V1.losses.compute_weighted_loss(
          unweighted, weights=weights, reduction=self._loss_reduction)
      regularization = (tf.add_n(list(regularization_losses))
                        if regularization_losses else None)
      loss = training_loss + regularization if regularization is not None else (
          training_loss)
      if mode == ModeKeys.EVAL:
        with tf.name_scope("metrics"):
          metrics = self._metrics(labels, predictions, weights, unweighted)
          if regularization is not None:
            metrics[MetricKeys.LOSS_REGULARIZATION] = _V1.metrics.mean(
                regularization, name=MetricKeys.LOSS_REGULARIZATION)
        return EstimatorSpec(mode, predictions=predictions, loss=loss,
                             eval_metric_ops=metrics)
      train_op = self._train_op(loss, optimizer, train_op_fn)
      mean_loss = (training_loss / tf.reduce_sum(weights * tf.ones_like(unweighted))
                   if self._loss_reduction == _REDUCTION.SUM else None)
    self._train_summaries(loss, mean_loss, regularization)
    return EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op)

  # What a subclass defines.
  def _check_logits(self, logits):
    logits = tf.cast(tf.convert_to_tensor(logits), tf.float32)
    last = logits.shape[-1] if logits.shape.rank else None
    if last is not None and last != self.logits_dimension:
      raise ArgumentError("logits", "logits shape must be [D0, D1, ... DN, "
                                    f"logits_dimension={self.logits_dimension}]: "
                                    f"received {{name}} of shape {logits.shape}.", None)
    return logits

  def _predictions(self, logits):
    raise NotImplementedError

  def _export_outputs(self, predictions):
    raise NotImplementedError

  def _processed_labels(self, labels, logits):
    raise NotImplementedError

  def _unweighted_loss(self, labels, logits):
    raise NotImplementedError

  def _metrics(self, labels, predictions, weights, unweighted_loss):
    raise NotImplementedError

  # Shared.
  @staticmethod
  def _train_op(loss, optimizer, train_op_fn):
    if optimizer is not None and train_op_fn is not None:
      raise ArgumentError("train_op_fn", "train_op_fn and optimizer cannot both be "
                                         "set: received {name} and an optimizer.", None)
    if optimizer is not None:
      train_op = optimizer.minimize(loss, global_step=_V1.train.get_global_step())
    elif train_op_fn is not None:
      train_op = train_op_fn(loss)
    else:
      raise ArgumentError("optimizer", "train_op_fn and optimizer cannot both be "
                                       "None: a TRAIN spec needs one.", None)
    # Batch normalization's moving statistics update with each step.
    updates = _V1.get_collection(_V1.GraphKeys.UPDATE_OPS)
    return tf.group(train_op, *updates) if updates else train_op

  @staticmethod
  def _train_summaries(loss, mean_loss, regularization):
    with _V1.name_scope(""):  # At the top: tags 'loss', 'average_loss'.
      _V1.summary.scalar(MetricKeys.LOSS, loss)
      if mean_loss is not None:
        _V1.summary.scalar(MetricKeys.LOSS_MEAN, mean_loss)
      if regularization is not None:
        _V1.summary.scalar(MetricKeys.LOSS_REGULARIZATION, regularization)


# --------------------------------------------------------------------- the heads


class _ClassificationHead(Head):
  """What the binary and multi-class heads share: vocabularies and class outputs."""

  def __init__(self, n_classes, weight_column, label_vocabulary, loss_reduction):
    super().__init__(weight_column, loss_reduction)
    if label_vocabulary is not None and not isinstance(label_vocabulary, (list, tuple)):
      raise ArgumentTypeError("label_vocabulary", "Expected {name} to be a list or a "
                                                  "tuple of strings. Received: "
                                                  "{received}", label_vocabulary)
    if label_vocabulary is not None and len(label_vocabulary) != n_classes:
      raise ArgumentError("label_vocabulary", f"Expected {{name}} of {n_classes} "
                                              "classes (n_classes). Received: "
                                              "{received}", label_vocabulary)
    self.n_classes = n_classes
    self._vocabulary = tuple(label_vocabulary) if label_vocabulary else None

  def _class_strings(self, batch_size):
    """[batch, n_classes] string: every class's name, per example."""
    names = (tf.constant(self._vocabulary) if self._vocabulary else
             tf.strings.as_string(tf.range(self.n_classes)))
    return tf.tile(names[tf.newaxis], [batch_size, 1])

  def _class_predictions(self, logits, class_logits):
    """class_ids, classes, all_class_ids, all_classes from `class_logits`."""
    batch_size = tf.shape(logits)[0]
    class_ids = tf.expand_dims(tf.argmax(class_logits, axis=-1,
                                         name=PredictionKeys.CLASS_IDS), -1)
    if self._vocabulary:
      table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
          tf.range(self.n_classes, dtype=tf.int64), tf.constant(self._vocabulary)),
          default_value="UNK", name="class_string_lookup")
      classes = table.lookup(class_ids)
    else:
      classes = tf.strings.as_string(class_ids, name="str_classes")
    return {PredictionKeys.CLASS_IDS: class_ids,  # [batch, 1] int64
            PredictionKeys.CLASSES: classes,      # [batch, 1] string
            PredictionKeys.ALL_CLASS_IDS: tf.tile(
                tf.range(self.n_classes)[tf.newaxis], [batch_size, 1]),
            PredictionKeys.ALL_CLASSES: self._class_strings(batch_size)}

  def _label_ids(self, labels):
    """Integer class ids of `labels` (string labels through the vocabulary)."""
    if self._vocabulary is None:
      if labels.dtype == tf.string:
        raise ArgumentError("labels", "Labels dtype should be integer without a "
                                      "label_vocabulary: received string {name}; pass "
                                      "label_vocabulary.", None)
      return labels
    if labels.dtype != tf.string:
      raise ArgumentError("labels", "Labels dtype should be string when there is a "
                                    f"label_vocabulary: received {{name}} of dtype "
                                    f"{labels.dtype.name}.", None)
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(self._vocabulary), tf.range(len(self._vocabulary), dtype=tf.int64)),
        default_value=-1, name="class_id_lookup")
    return table.lookup(labels)

  def _classification_output(self, probabilities):
    return export.ClassificationOutput(
        scores=probabilities, classes=self._class_strings(tf.shape(probabilities)[0]))


class BinaryClassHead(_ClassificationHead):
  """Binary classification with sigmoid cross-entropy over logits `[batch, 1]`.

  Args:
    weight_column: optional feature name (or numeric column) of example weights.
    thresholds: optional floats in (0, 1): accuracy, precision and recall at each.
    label_vocabulary: optional two class names (then labels are strings).
    loss_reduction: how the training loss is reduced over the batch. Default SUM.
  """

  logits_dimension = 1

  def __init__(self, weight_column: Any = None, thresholds: Sequence[float] = (),
               label_vocabulary: Sequence[str] | None = None,
               loss_reduction: str = _REDUCTION.SUM) -> None:
    super().__init__(2, weight_column, label_vocabulary, loss_reduction)
    self._thresholds = tuple(thresholds or ())
    for threshold in self._thresholds:
      if not 0.0 < threshold < 1.0:
        raise ArgumentError("thresholds", "thresholds not in (0, 1): expected each of "
                                          "{name} in (0, 1). Received: {received}",
                            self._thresholds)

  def _predictions(self, logits):
    logistic = tf.sigmoid(logits, name=PredictionKeys.LOGISTIC)
    two_class_logits = tf.concat([tf.zeros_like(logits), logits], axis=-1,
                                 name="two_class_logits")
    predictions = {PredictionKeys.LOGITS: logits, PredictionKeys.LOGISTIC: logistic,
                   PredictionKeys.PROBABILITIES: tf.nn.softmax(
                       two_class_logits, name=PredictionKeys.PROBABILITIES)}
    predictions.update(self._class_predictions(logits, two_class_logits))
    return predictions

  def _export_outputs(self, predictions):
    classification = self._classification_output(
        predictions[PredictionKeys.PROBABILITIES])
    return {export.DEFAULT_SERVING_KEY: classification,
            _CLASSIFY_KEY: classification,
            _REGRESS_KEY: export.RegressionOutput(predictions[PredictionKeys.LOGISTIC]),
            _PREDICT_KEY: export.PredictOutput(predictions)}

  def _processed_labels(self, labels, logits):
    labels = _dense_labels(labels, logits, 1)
    labels = tf.cast(self._label_ids(labels), tf.float32)
    return _assert_range(labels, 2)

  def _unweighted_loss(self, labels, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)

  def _metrics(self, labels, predictions, weights, unweighted_loss):
    keys = MetricKeys
    logistic = predictions[PredictionKeys.LOGISTIC]
    class_ids = predictions[PredictionKeys.CLASS_IDS]
    every = _broadcast(weights, labels)
    labels_mean = _V1.metrics.mean(labels, weights=every, name=keys.LABEL_MEAN)
    metrics = {
        keys.LOSS_MEAN: _V1.metrics.mean(unweighted_loss, weights=weights,
                                         name=keys.LOSS_MEAN),
        keys.ACCURACY: _V1.metrics.accuracy(labels, class_ids, weights=weights,
                                            name=keys.ACCURACY),
        keys.PRECISION: _V1.metrics.precision(labels, class_ids, weights=weights,
                                              name=keys.PRECISION),
        keys.RECALL: _V1.metrics.recall(labels, class_ids, weights=weights,
                                        name=keys.RECALL),
        keys.PREDICTION_MEAN: _V1.metrics.mean(logistic, weights=_broadcast(
            weights, logistic), name=keys.PREDICTION_MEAN),
        keys.LABEL_MEAN: labels_mean,
        keys.ACCURACY_BASELINE: (tf.maximum(labels_mean[0], 1.0 - labels_mean[0]),
                                 tf.maximum(labels_mean[1], 1.0 - labels_mean[1])),
        keys.AUC: _V1.metrics.auc(labels, logistic, weights=_broadcast(
            weights, logistic), curve="ROC", name=keys.AUC),
    }
    with compat.silenced_tf_notice("Trapezoidal rule"):  # TF 1.15's summation.
      metrics[keys.AUC_PR] = _V1.metrics.auc(labels, logistic, weights=_broadcast(
          weights, logistic), curve="PR", name=keys.AUC_PR)
    for threshold in self._thresholds:
      above = tf.cast(logistic >= threshold, tf.float32)
      metrics[keys.ACCURACY_AT_THRESHOLD % threshold] = _V1.metrics.accuracy(
          labels, above, weights=weights)
      for key, fn in ((keys.PRECISION_AT_THRESHOLD, _V1.metrics.precision_at_thresholds),
                      (keys.RECALL_AT_THRESHOLD, _V1.metrics.recall_at_thresholds)):
        value, update = fn(labels, logistic, thresholds=(threshold,), weights=weights)
        metrics[key % threshold] = (tf.squeeze(value), tf.squeeze(update))
    return metrics


class MultiClassHead(_ClassificationHead):
  """Multi-class classification with softmax cross-entropy over `[batch, n_classes]`.

  Args:
    n_classes: int > 2.
    weight_column, label_vocabulary, loss_reduction: as `BinaryClassHead`.
  """

  def __init__(self, n_classes: int, weight_column: Any = None,
               label_vocabulary: Sequence[str] | None = None,
               loss_reduction: str = _REDUCTION.SUM) -> None:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes <= 2:
      raise ArgumentError("n_classes", "n_classes must be > 2 for a multi-class head: "
                                       "received {received}.", n_classes)
    super().__init__(n_classes, weight_column, label_vocabulary, loss_reduction)
    self.logits_dimension = n_classes

  def _predictions(self, logits):
    predictions = {PredictionKeys.LOGITS: logits,
                   PredictionKeys.PROBABILITIES: tf.nn.softmax(
                       logits, name=PredictionKeys.PROBABILITIES)}
    predictions.update(self._class_predictions(logits, logits))
    return predictions

  def _export_outputs(self, predictions):
    classification = self._classification_output(
        predictions[PredictionKeys.PROBABILITIES])
    return {export.DEFAULT_SERVING_KEY: classification, _CLASSIFY_KEY: classification,
            _PREDICT_KEY: export.PredictOutput(predictions)}

  def _processed_labels(self, labels, logits):
    labels = _dense_labels(labels, logits, 1)
    return _assert_range(self._label_ids(labels), self.n_classes)

  def _unweighted_loss(self, labels, logits):
    loss = _V1.losses.sparse_softmax_cross_entropy(labels, logits,
                                                   reduction=_REDUCTION.NONE)
    return tf.expand_dims(loss, -1)  # [batch, 1], as the weights.

  def _metrics(self, labels, predictions, weights, unweighted_loss):
    keys = MetricKeys
    return {keys.LOSS_MEAN: _V1.metrics.mean(unweighted_loss, weights=weights,
                                             name=keys.LOSS_MEAN),
            keys.ACCURACY: _V1.metrics.accuracy(
                labels, predictions[PredictionKeys.CLASS_IDS], weights=weights,
                name=keys.ACCURACY)}


class RegressionHead(Head):
  """Regression with the squared error over `[batch, label_dimension]`.

  Args:
    label_dimension: positive int, the targets per example. Default 1.
    weight_column, loss_reduction: as `BinaryClassHead`.
  """

  def __init__(self, label_dimension: int = 1, weight_column: Any = None,
               loss_reduction: str = _REDUCTION.SUM) -> None:
    super().__init__(weight_column, loss_reduction)
    if isinstance(label_dimension, bool) or not isinstance(label_dimension, int) or (
        label_dimension < 1):
      raise ArgumentError("label_dimension", "Invalid label_dimension: expected a "
                                             "positive {name}. Received: {received}",
                          label_dimension)
    self.logits_dimension = label_dimension

  def _predictions(self, logits):
    return {PredictionKeys.PREDICTIONS: tf.identity(logits,
                                                    name=PredictionKeys.PREDICTIONS)}

  def _export_outputs(self, predictions):
    value = predictions[PredictionKeys.PREDICTIONS]
    return {export.DEFAULT_SERVING_KEY: export.RegressionOutput(value),
            _REGRESS_KEY: export.RegressionOutput(value),
            _PREDICT_KEY: export.PredictOutput(predictions)}

  def _processed_labels(self, labels, logits):
    return tf.cast(_dense_labels(labels, logits, self.logits_dimension), tf.float32)

  def _unweighted_loss(self, labels, logits):
    return _V1.losses.mean_squared_error(labels, logits, reduction=_REDUCTION.NONE)

  def _metrics(self, labels, predictions, weights, unweighted_loss):
    keys = MetricKeys
    value = predictions[PredictionKeys.PREDICTIONS]
    return {keys.LOSS_MEAN: _V1.metrics.mean(unweighted_loss, weights=_broadcast(
                weights, unweighted_loss), name=keys.LOSS_MEAN),
            keys.PREDICTION_MEAN: _V1.metrics.mean(value, weights=_broadcast(
                weights, value), name=keys.PREDICTION_MEAN),
            keys.LABEL_MEAN: _V1.metrics.mean(labels, weights=_broadcast(
                weights, labels), name=keys.LABEL_MEAN)}


def check_n_classes(n_classes: Any) -> int:
  """`n_classes` if it is an int > 1, else ArgumentError."""
  if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
    raise ArgumentError("n_classes", "n_classes must be > 1: received {received}.",
                        n_classes)
  return n_classes


def binary_or_multi_class_head(n_classes: int, weight_column: Any = None,
                               label_vocabulary: Sequence[str] | None = None,
                               loss_reduction: str = _REDUCTION.SUM) -> Head:
  """The head of a canned classifier: binary for 2 classes, multi-class above."""
  if n_classes == 2:
    return BinaryClassHead(weight_column, label_vocabulary=label_vocabulary,
                           loss_reduction=loss_reduction)
  return MultiClassHead(n_classes, weight_column, label_vocabulary, loss_reduction)


# ---------------------------------------------------------------------- helpers


def _dense_labels(labels, logits, dimension):
  """`labels` as a dense tensor `[batch, dimension]`, its shape checked against logits."""
  if labels is None:
    raise ArgumentError("labels", "You must provide a labels Tensor: received {name}="
                                  "None. Check that your input_fn returns (features, "
                                  "labels) for training and evaluation.", None)
  if isinstance(labels, dict):
    raise ArgumentTypeError("labels", "Expected {name} to be a tensor, not a dict: a "
                                      "canned head takes one label. Received the keys "
                                      f"{sorted(labels)}", None)
  if isinstance(labels, tf.SparseTensor):
    raise ArgumentTypeError("labels", "Expected {name} to be a dense tensor. Received: "
                                      "a SparseTensor", None)
  labels = tf.convert_to_tensor(labels)
  if labels.shape.rank is not None and labels.shape.rank == logits.shape.rank - 1:
    labels = tf.expand_dims(labels, -1)
  last = labels.shape[-1] if labels.shape.rank else None
  if last is not None and last != dimension:
    raise ArgumentError("labels", "Mismatched label shape: expected {name} of "
                                  f"dimension {dimension} (one label per example; for "
                                  "one-hot labels check n_classes). Received labels "
                                  f"of shape {labels.shape}", None)
  check = tf.debugging.assert_equal(
      tf.shape(labels)[:-1], tf.shape(logits)[:-1],
      message="labels and logits differ in batch size")
  with tf.control_dependencies([check]):
    return tf.identity(labels, name="labels")


def _assert_range(labels, n_classes):
  """`labels` once they are checked to lie in [0, n_classes)."""
  checks = [tf.debugging.assert_less(labels, tf.cast(n_classes, labels.dtype),
                                     message="Labels must <= n_classes - 1"),
            tf.debugging.assert_non_negative(labels, message="Labels must >= 0")]
  with tf.control_dependencies(checks):
    return tf.identity(labels)


def _weights(features, weight_column):
  """The example weights `[batch, 1]` of `weight_column`, or 1.0."""
  if weight_column is None:
    return 1.0
  fc = _V1.feature_column
  if isinstance(weight_column, str):
    weight_column = fc.numeric_column(weight_column, shape=(1,))
  if not hasattr(weight_column, "normalizer_fn"):
    raise ArgumentTypeError("weight_column", "Weight column must be either a string "
                                             "or a numeric column: received {received}.",
                            weight_column)
  with tf.name_scope("weights"):
    weights = fc.input_layer(features, [weight_column])  # [batch, 1]
  return tf.cast(weights, tf.float32)


def _broadcast(weights, values):
  """`weights` broadcast to the shape of `values` (for metrics that need equal shapes)."""
  if isinstance(weights, float):
    return None if weights == 1.0 else weights
  return weights * tf.ones_like(values)


def classifier_parse_example_spec(feature_columns: Sequence[Any], label_key: str,
                                  label_dtype: Any = tf.int64,
                                  label_default: Any = None,
                                  weight_column: Any = None) -> dict[str, Any]:
  """The `tf.io.parse_example` spec of a classifier's features, label and weight."""
  return _parse_example_spec(feature_columns, label_key, label_dtype, label_default,
                             weight_column, 1)


def regressor_parse_example_spec(feature_columns: Sequence[Any], label_key: str,
                                 label_dtype: Any = tf.float32,
                                 label_default: Any = None, label_dimension: int = 1,
                                 weight_column: Any = None) -> dict[str, Any]:
  """The `tf.io.parse_example` spec of a regressor's features, label and weight."""
  return _parse_example_spec(feature_columns, label_key, label_dtype, label_default,
                             weight_column, label_dimension)


def _parse_example_spec(feature_columns, label_key, label_dtype, label_default,
                        weight_column, dimension):
  spec = _V1.feature_column.make_parse_example_spec(feature_columns)
  if label_key in spec:
    raise ArgumentError("label_key", "Received a {name} that a feature column uses "
                                     "too. Received: {received}", label_key)
  spec[label_key] = tf.io.FixedLenFeature((dimension,), label_dtype, label_default)
  if weight_column is not None:
    if isinstance(weight_column, str):
      weight_column = _V1.feature_column.numeric_column(weight_column)
    spec.update(_V1.feature_column.make_parse_example_spec([weight_column]))
  return spec
