"""tf.estimator on the run machinery: TF 1.15's Estimator API on today's TensorFlow.

    import tensorflow as tf          # through `dnn-toolkit run`, or:
    from dnn_toolkit import estimator as tf_estimator

    classifier = tf.estimator.DNNClassifier(
        hidden_units=[300, 100], n_classes=10,
        feature_columns=[tf.feature_column.numeric_column("x", shape=[784])])
    classifier.train(tf.estimator.inputs.numpy_input_fn(
        {"x": images}, labels, batch_size=100, num_epochs=None, shuffle=True),
        steps=2000)
    tf.estimator.train_and_evaluate(classifier, train_spec, eval_spec)  # TF_CONFIG

TensorFlow 2.16 removed `tf.estimator`; this package gives TF 1.x code its signatures,
defaults, model directories and checkpoints back, built on TensorFlow's own
`MonitoredTrainingSession`, hooks, `tf.feature_column` and `tf.compat.v1.metrics`, and
on the toolkit's run lock, checkpoint checks, SavedModel writer and cluster tasks
(docs/estimator.md). The stand-in serves it as `tf.estimator`.

Modules:
  estimator    `Estimator`: train, evaluate, predict, export_saved_model
  model_fn     `EstimatorSpec`, `ModeKeys`, how a model_fn is called
  run_config   `RunConfig`: settings and the task of a cluster (TF_CONFIG)
  training     `TrainSpec`, `EvalSpec`, `train_and_evaluate`, exporters
  inputs       `numpy_input_fn`, `pandas_input_fn`
  export       serving input receivers and export outputs
  model_dir    what a model directory holds; the checks before it is touched
  warm_start   `WarmStartSettings`, `VocabInfo`
  canned       DNNClassifier, DNNRegressor, LinearClassifier, LinearRegressor,
               DNNLinearCombinedClassifier, DNNLinearCombinedRegressor
"""

import tensorflow as _tf

from dnn_toolkit.estimator import export, inputs
from dnn_toolkit.estimator.canned.dnn import DNNClassifier, DNNRegressor
from dnn_toolkit.estimator.canned.dnn_linear_combined import (
  DNNLinearCombinedClassifier,
  DNNLinearCombinedRegressor,
)
from dnn_toolkit.estimator.canned.head import (
  classifier_parse_example_spec,
  regressor_parse_example_spec,
)
from dnn_toolkit.estimator.canned.linear import LinearClassifier, LinearRegressor
from dnn_toolkit.estimator.estimator import Estimator
from dnn_toolkit.estimator.model_fn import EstimatorSpec, ModeKeys
from dnn_toolkit.estimator.run_config import RunConfig
from dnn_toolkit.estimator.training import (
  EvalSpec,
  Exporter,
  FinalExporter,
  LatestExporter,
  TrainSpec,
  add_metrics,
  train_and_evaluate,
)
from dnn_toolkit.estimator.warm_start import VocabInfo, WarmStartSettings

_train = _tf.compat.v1.train
# TF 1.x's tf.estimator also named TensorFlow's own hooks and listeners.
CheckpointSaverHook = _train.CheckpointSaverHook
CheckpointSaverListener = _train.CheckpointSaverListener
FeedFnHook = _train.FeedFnHook
FinalOpsHook = _train.FinalOpsHook
GlobalStepWaiterHook = _train.GlobalStepWaiterHook
LoggingTensorHook = _train.LoggingTensorHook
NanLossDuringTrainingError = _train.NanLossDuringTrainingError
NanTensorHook = _train.NanTensorHook
ProfilerHook = _train.ProfilerHook
SecondOrStepTimer = _train.SecondOrStepTimer
SessionRunArgs = _train.SessionRunArgs
SessionRunContext = _train.SessionRunContext
SessionRunHook = _train.SessionRunHook
SessionRunValues = _train.SessionRunValues
StepCounterHook = _train.StepCounterHook
StopAtStepHook = _train.StopAtStepHook
SummarySaverHook = _train.SummarySaverHook
del _train

__all__ = [
    "CheckpointSaverHook", "CheckpointSaverListener", "DNNClassifier",
    "DNNLinearCombinedClassifier", "DNNLinearCombinedRegressor", "DNNRegressor",
    "Estimator", "EstimatorSpec", "EvalSpec", "Exporter", "FeedFnHook", "FinalExporter",
    "FinalOpsHook", "GlobalStepWaiterHook", "LatestExporter", "LinearClassifier",
    "LinearRegressor", "LoggingTensorHook", "ModeKeys", "NanLossDuringTrainingError",
    "NanTensorHook", "ProfilerHook", "RunConfig", "SecondOrStepTimer", "SessionRunArgs",
    "SessionRunContext", "SessionRunHook", "SessionRunValues", "StepCounterHook",
    "StopAtStepHook", "SummarySaverHook", "TrainSpec", "VocabInfo", "WarmStartSettings",
    "add_metrics", "classifier_parse_example_spec", "export", "inputs",
    "regressor_parse_example_spec", "train_and_evaluate",
]
