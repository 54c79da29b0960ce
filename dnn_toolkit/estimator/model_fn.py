"""What a `model_fn` returns and how the Estimator calls it: `EstimatorSpec`, `ModeKeys`.

    def model_fn(features, labels, mode, params):       # any subset, as in TF 1.x
      logits = tf.layers.dense(features["x"], 10)
      if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions={"classes": ...})
      loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
      ...
      return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

`EstimatorSpec` checks its fields as TF 1.15's did (a train spec needs `loss` and
`train_op`, an eval spec `loss`, a predict spec `predictions`; the loss is a scalar;
hooks are `SessionRunHook`s), naming the field and the mode in one line.
`call_model_fn` passes the arguments the function names and refuses what it returns
when it is not an `EstimatorSpec` of the mode asked for, which is how a `model_fn`
that does not handle a mode shows itself.
"""

import collections
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from dnn_toolkit.errors import ArgumentError, ArgumentTypeError

_V1 = tf.compat.v1


class ModeKeys:
  """The modes a `model_fn` is called in: 'train', 'eval' and 'infer' (TF 1.x's)."""

  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


MODES = (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT)
#: The metric every evaluation reports, the mean of the spec's loss over the batches.
LOSS_METRIC_KEY = "loss"
#: The canned heads' mean loss per example.
AVERAGE_LOSS_METRIC_KEY = "average_loss"
#: The SavedModel tags of each mode's MetaGraph.
_TAGS = _V1.saved_model.tag_constants
EXPORT_TAG_MAP = {ModeKeys.PREDICT: [_TAGS.SERVING], ModeKeys.TRAIN: [_TAGS.TRAINING],
                  ModeKeys.EVAL: ["eval"]}
#: The arguments a `model_fn` may take, by name.
MODEL_FN_ARGS = ("features", "labels", "mode", "params", "config")

class EstimatorSpec(collections.namedtuple("EstimatorSpec", (
    "mode", "predictions", "loss", "train_op", "eval_metric_ops", "export_outputs",
    "training_chief_hooks", "training_hooks", "scaffold", "evaluation_hooks",
    "prediction_hooks"))):
  """Ops and objects a `model_fn` returns: the model of one mode, checked.

  Args:
    mode: a `ModeKeys` value.
    predictions: a tensor or a dict {name: tensor}; needed in PREDICT.
    loss: a scalar (or `[1]`) float tensor; needed in TRAIN and EVAL.
    train_op: the op of one training step; needed in TRAIN.
    eval_metric_ops: {name: (value tensor, update op)}, as `tf.metrics` return them.
    export_outputs: {signature name: `export.ExportOutput`}; default a `PredictOutput`
      of `predictions` named 'serving_default'.
    training_chief_hooks, training_hooks, evaluation_hooks, prediction_hooks:
      iterables of `tf.compat.v1.train.SessionRunHook`.
    scaffold: a `tf.compat.v1.train.Scaffold`; default a new one.

  Raises:
    ArgumentError, ArgumentTypeError: naming the field and the mode: a field the mode
      needs is missing, the loss is not a scalar, a value has the wrong type.
  """

  def __new__(cls, mode: str, predictions: Any = None, loss: Any = None,
              train_op: Any = None, eval_metric_ops: Mapping[str, Any] | None = None,
              export_outputs: Mapping[str, Any] | None = None,
              training_chief_hooks: Any = None, training_hooks: Any = None,
              scaffold: Any = None, evaluation_hooks: Any = None,
              prediction_hooks: Any = None) -> "EstimatorSpec":
    if mode not in MODES:
      raise ArgumentError("mode", f"Received an invalid value for {{name}}, expected "
                                  f"one of {list(MODES)} (tf.estimator.ModeKeys). "
                                  "Received: {received}", mode)
    train_op = _check_train_op(train_op, mode)
    loss = _check_loss(loss, mode)
    predictions = _check_predictions(predictions, mode)
    export_outputs = _check_export_outputs(export_outputs, predictions, mode)
    hooks = {name: check_hooks(name, value) for name, value in (
        ("training_chief_hooks", training_chief_hooks),
        ("training_hooks", training_hooks), ("evaluation_hooks", evaluation_hooks),
        ("prediction_hooks", prediction_hooks))}
    eval_metric_ops = _check_metric_ops(eval_metric_ops)
    if scaffold is None:
      scaffold = _V1.train.Scaffold()
    elif not isinstance(scaffold, _V1.train.Scaffold):
      raise ArgumentTypeError("scaffold", "Expected {name} to be a "
                                          "tf.compat.v1.train.Scaffold. Received: "
                                          "{received}", scaffold)
    return super().__new__(cls, mode=mode, predictions=predictions, loss=loss,
                           train_op=train_op, eval_metric_ops=eval_metric_ops,
                           export_outputs=export_outputs, scaffold=scaffold, **hooks)

  def _replace(self, **changes: Any) -> "EstimatorSpec":
    """A new, checked spec with `changes`; the mode stays."""
    if changes.get("mode", self.mode) != self.mode:
      raise ArgumentError("mode", "Received an invalid value for {name}: the mode of "
                                  f"an EstimatorSpec ({self.mode!r}) cannot change. "
                                  "Received: {received}", changes["mode"])
    return EstimatorSpec(**{**self._asdict(), **changes})


def _in_mode(mode):
  return f"an EstimatorSpec of mode {mode!r}"


def _check_train_op(train_op, mode):
  if train_op is None:
    if mode == ModeKeys.TRAIN:
      raise ArgumentError("train_op", f"Missing train_op: {_in_mode(mode)} needs "
                                      "{name}, the op of one training step (e.g. "
                                      "optimizer.minimize(loss, global_step=...)). "
                                      "Received: {received}", None)
    return None
  # A resource variable's assign_add gives a Variable; TF 1.x took it as a tensor.
  if not isinstance(train_op, (tf.Tensor, tf.Operation, tf.Variable)):
    raise ArgumentTypeError("train_op", "Expected {name} to be an op or a tensor. "
                                        "Received: {received}", train_op)
  _check_graph("train_op", train_op)
  return train_op


def _check_loss(loss, mode):
  if loss is None:
    if mode in (ModeKeys.TRAIN, ModeKeys.EVAL):
      raise ArgumentError("loss", f"Missing loss: {_in_mode(mode)} needs {{name}}, a "
                                  "scalar tensor. Received: {received}", None)
    return None
  if not isinstance(loss, tf.Tensor):
    raise ArgumentTypeError("loss", "Expected {name} to be a scalar tensor. Received: "
                                    "{received}", loss)
  if loss.shape.num_elements() not in (None, 1):
    raise ArgumentError("loss", "Loss must be scalar: expected {name} of shape [] or "
                                f"[1]. Received: a tensor of shape {loss.shape}", None)
  _check_graph("loss", loss)
  if loss.shape.rank != 0:
    loss = tf.reshape(loss, [])
  return loss


def _check_predictions(predictions, mode):
  if predictions is None:
    if mode == ModeKeys.PREDICT:
      raise ArgumentError("predictions", f"Missing predictions: {_in_mode(mode)} "
                                         "needs {name}, a tensor or a dict of tensors. "
                                         "Received: {received}", None)
    return None
  values = predictions.values() if isinstance(predictions, dict) else [predictions]
  for value in values:
    if not isinstance(value, (tf.Tensor, tf.SparseTensor)):
      raise ArgumentTypeError("predictions", "Expected {name} to be a tensor or a dict "
                                             "of tensors. Received: {received}",
                              predictions)
    _check_graph("predictions", value)
  return predictions


def _check_export_outputs(export_outputs, predictions, mode):
  # pylint: disable=import-outside-toplevel  # export imports this module.
  from dnn_toolkit.estimator import export
  if mode != ModeKeys.PREDICT:
    return export_outputs
  if export_outputs is None:
    export_outputs = {export.DEFAULT_SERVING_KEY: export.PredictOutput(predictions)}
  if not isinstance(export_outputs, dict) or not all(
      isinstance(v, export.ExportOutput) for v in export_outputs.values()):
    raise ArgumentTypeError("export_outputs", "Expected {name} to be a dict {signature "
                                              "name: ExportOutput}. Received: "
                                              "{received}", export_outputs)
  export_outputs = dict(export_outputs)
  if len(export_outputs) == 1:
    export_outputs.setdefault(export.DEFAULT_SERVING_KEY,
                              next(iter(export_outputs.values())))
  elif export.DEFAULT_SERVING_KEY not in export_outputs:
    raise ArgumentError("export_outputs", "Received several {name} and none named "
                                          f"{export.DEFAULT_SERVING_KEY!r}, the "
                                          "signature a server uses by default. "
                                          f"Received the names {sorted(export_outputs)}",
                        None)
  return export_outputs


def check_hooks(name: str, hooks: Any) -> tuple[Any, ...]:
  """`hooks` as a tuple of SessionRunHooks (None: none), or ArgumentTypeError."""
  hooks = tuple(hooks or ())
  for hook in hooks:
    if not isinstance(hook, _V1.train.SessionRunHook):
      raise ArgumentTypeError(name, "Expected every one of {name} to be a "
                                    "tf.compat.v1.train.SessionRunHook. Received: "
                                    f"{hook!r}", hook)
  return hooks


def _check_metric_ops(eval_metric_ops):
  if eval_metric_ops is None:
    return {}
  if not isinstance(eval_metric_ops, dict):
    raise ArgumentTypeError("eval_metric_ops", "Expected {name} to be a dict {name: "
                                               "(value, update_op)}. Received: "
                                               "{received}", eval_metric_ops)
  for key, value in eval_metric_ops.items():
    if not (isinstance(value, tuple) and len(value) == 2):
      raise ArgumentTypeError("eval_metric_ops", "Expected each of {name} to be a "
                                                 "(metric value, update op) tuple, as "
                                                 "tf.metrics functions return. "
                                                 f"Received: {key!r}: {value!r}", value)
  return dict(eval_metric_ops)


def _check_graph(name, value):
  if value.graph is not tf.compat.v1.get_default_graph():
    raise ArgumentError(name, "Expected {name} from the model_fn's graph, the default "
                              "graph when the Estimator calls it: was it made outside "
                              f"model_fn, or in an earlier call? Received: {value.name}",
                        None)


# ------------------------------------------------------------------ calling model_fn


def fn_args(fn: Callable[..., Any]) -> tuple[str, ...]:
  """The names of the arguments `fn` takes (a function, a method, a partial)."""
  return tuple(p.name for p in inspect.signature(fn).parameters.values()
               if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def check_model_fn(model_fn: Any, params: Any) -> Callable[..., Any]:
  """Returns `model_fn` if it takes `features` and only TF 1.x's arguments.

  Raises:
    ArgumentTypeError: `model_fn` is not callable.
    ArgumentError: it takes no `features`, another argument, or no `params` while
      `params` are given.
  """
  if not callable(model_fn):
    raise ArgumentTypeError("model_fn", "Expected {name} to be a function (features, "
                                        "labels, mode, params, config) returning an "
                                        "EstimatorSpec. Received: {received}", model_fn)
  args = fn_args(model_fn)
  if "features" not in args:
    raise ArgumentError("model_fn", "Received an invalid value for {name}, expected a "
                                    "function with a `features` argument. Received: "
                                    f"{_describe(model_fn)}({', '.join(args)})", None)
  unexpected = [a for a in args if a not in MODEL_FN_ARGS]
  if unexpected:
    raise ArgumentError("model_fn", "Received an invalid value for {name}, expected "
                                    f"arguments among {', '.join(MODEL_FN_ARGS)}. "
                                    f"Received: {_describe(model_fn)} also takes "
                                    f"{', '.join(unexpected)}", None)
  if params is not None and "params" not in args:
    raise ArgumentError("params", "Received {name}, but the model_fn "
                                  f"{_describe(model_fn)} takes no `params` argument. "
                                  "Received: {received}", params)
  return model_fn


def call_model_fn(model_fn: Callable[..., Any], features: Any, labels: Any, mode: str,
                  *, params: dict[str, Any], config: Any) -> EstimatorSpec:
  """Calls `model_fn` with the arguments it names; returns its checked spec.

  Raises:
    ArgumentError: the input_fn gives labels and model_fn takes none, or model_fn
      returns something other than an `EstimatorSpec` of `mode` (None when it does
      not handle `mode`).
  """
  args = fn_args(model_fn)
  kwargs = {"features": features}
  if "labels" in args:
    kwargs["labels"] = labels
  elif labels is not None:
    raise ArgumentError("model_fn", "The input_fn returns labels, but {name} "
                                    f"{_describe(model_fn)} takes no `labels` argument.",
                        None)
  given = {"mode": mode, "params": params, "config": config}
  kwargs.update({name: value for name, value in given.items() if name in args})
  spec = model_fn(**kwargs)
  if not isinstance(spec, EstimatorSpec):
    what = ("None: it does not handle that mode" if spec is None
            else f"a {type(spec).__name__}")
    raise ArgumentError("model_fn", f"{{name}} {_describe(model_fn)} should return an "
                                    f"EstimatorSpec for mode {mode!r}. Received: {what}",
                        None)
  if spec.mode != mode:
    raise ArgumentError("model_fn", f"{{name}} {_describe(model_fn)} was called with "
                                    f"mode {mode!r} and returned an EstimatorSpec of "
                                    f"mode {spec.mode!r}: pass the `mode` argument "
                                    "through.", None)
  return spec


def _describe(fn):
  return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
