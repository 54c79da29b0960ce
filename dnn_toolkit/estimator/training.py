"""`tf.estimator.train_and_evaluate`: locally, or as one task of a TF 1.x cluster.

    train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=10000)
    eval_spec = tf.estimator.EvalSpec(eval_input_fn, steps=None, throttle_secs=60,
                                      exporters=tf.estimator.FinalExporter("mnist", fn))
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)

Without a cluster in `TF_CONFIG` the Estimator trains here and evaluates after a saved
checkpoint (at most every `throttle_secs`) and after the last step. With one, each
process runs its task's part, as TF 1.15 did:

  chief      starts its server, trains and keeps the model directory (checkpoints,
             summaries, the run lock);
  worker     starts its server, waits `(index + 1) * 5` s (at most 60, or
             `RunConfig.experimental_max_worker_delay_secs`), trains on the same
             variables, which live on the ps tasks;
  ps         serves the variables until every chief and worker has finished (TF 1.x's
             ps never stopped; here it ends with the cluster, `cluster.worker.run_ps`);
  evaluator  evaluates each new checkpoint of the model directory, at most every
             `throttle_secs`, runs the exporters, and ends once it has evaluated the
             checkpoint of `max_steps`.

The server start, its session config and the ps task are the toolkit's own cluster
pieces (`dnn_toolkit.cluster.worker`); `dnn-toolkit cluster --ps 1 --workers 2
--evaluator --script train.py` runs a whole such cluster on this machine.
"""

import collections
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError
from dnn_toolkit.estimator.estimator import Estimator
from dnn_toolkit.estimator.model_fn import ModeKeys, check_hooks, fn_args
from dnn_toolkit.estimator.run_config import TaskType, get_default_session_config

_V1 = tf.compat.v1
# TensorFlow's listener base class (a name mypy can use as a base).
_CheckpointSaverListener: Any = _V1.train.CheckpointSaverListener
_LOG = logging.getLogger("tensorflow")
#: TF 1.x's stagger of non-chief workers: (index + 1) * this, at most _MAX_DELAY_SECS.
_DELAY_SECS_PER_WORKER = 5
_MAX_DELAY_SECS = 60


class TrainSpec(collections.namedtuple(
    "TrainSpec", ["input_fn", "max_steps", "hooks", "saving_listeners"])):
  """The training part of `train_and_evaluate`.

  Args:
    input_fn: the training input function.
    max_steps: optional positive int, the global step to train to (None: forever).
    hooks: `SessionRunHook`s run on every training task.
    saving_listeners: `CheckpointSaverListener`s run on the chief.
  """

  def __new__(cls, input_fn: Callable[..., Any], max_steps: int | None = None,
              hooks: Sequence[Any] | None = None,
              saving_listeners: Sequence[Any] | None = None) -> "TrainSpec":
    _validation.check_callable("input_fn", input_fn, allow_none=False)
    if max_steps is not None:
      _validation.check_positive_int("max_steps", max_steps)
    listeners = tuple(saving_listeners or ())
    for listener in listeners:
      if not isinstance(listener, _V1.train.CheckpointSaverListener):
        raise ArgumentTypeError("saving_listeners", "Expected {name} to be "
                                                    "CheckpointSaverListener "
                                                    f"instances. Received: {listener!r}",
                                listener)
    return super().__new__(cls, input_fn, max_steps, check_hooks("hooks", hooks),
                           listeners)


class EvalSpec(collections.namedtuple(
    "EvalSpec", ["input_fn", "steps", "name", "hooks", "exporters", "start_delay_secs",
                 "throttle_secs"])):
  """The evaluation (and export) part of `train_and_evaluate`.

  Args:
    input_fn: the evaluation input function.
    steps: positive int, batches per evaluation (default 100), or None for the
      whole input.
    name: optional name of the evaluation (its summaries go to `eval_<name>/`).
    hooks: `SessionRunHook`s run during evaluation.
    exporters: an `Exporter` or a list of them, run after each evaluation.
    start_delay_secs: seconds the evaluator task waits before its first evaluation.
      Default 120.
    throttle_secs: the least seconds between two evaluations. Default 600.
  """

  def __new__(cls, input_fn: Callable[..., Any], steps: int | None = 100,
              name: str | None = None, hooks: Sequence[Any] | None = None,
              exporters: Any = None, start_delay_secs: float = 120,
              throttle_secs: float = 600) -> "EvalSpec":
    _validation.check_callable("input_fn", input_fn, allow_none=False)
    if steps is not None:
      _validation.check_positive_int("steps", steps)
    if name is not None and not isinstance(name, str):
      raise ArgumentTypeError("name", "Expected {name} to be a string. Received: "
                                      "{received}", name)
    _validation.check_in_range("start_delay_secs", start_delay_secs, 0, None)
    _validation.check_in_range("throttle_secs", throttle_secs, 0, None)
    return super().__new__(cls, input_fn, steps, name, check_hooks("hooks", hooks),
                           _check_exporters(exporters), start_delay_secs,
                           throttle_secs)


# ------------------------------------------------------------------------ exporters


class Exporter:
  """Exports a model after an evaluation; subclasses choose when and how.

  Attributes:
    name: the export's name: its SavedModels go to `model_dir/export/<name>/`.
  """

  name: str = ""

  def export(self, estimator: Estimator, export_path: str, checkpoint_path: str,
             eval_result: dict[str, Any], is_the_final_export: bool) -> bytes | None:
    """Exports the model of `checkpoint_path`; returns the export directory or None."""
    raise NotImplementedError


class _SavedModelExporter(Exporter):
  """An exporter of `Estimator.export_saved_model` with a serving input fn."""

  def __init__(self, name: str, serving_input_receiver_fn: Callable[[], Any],
               assets_extra: dict[str, str] | None = None, as_text: bool = False):
    if not isinstance(name, str) or not name:
      raise ArgumentError("name", "Received an invalid value for {name}, expected a "
                                  "non-empty string. Received: {received}", name)
    _validation.check_callable("serving_input_receiver_fn", serving_input_receiver_fn,
                               allow_none=False)
    self.name = name
    self._receiver_fn, self._assets_extra, self._as_text = (
        serving_input_receiver_fn, assets_extra, as_text)

  def _export(self, estimator, export_path, checkpoint_path):
    return estimator.export_saved_model(export_path, self._receiver_fn,
                                        assets_extra=self._assets_extra,
                                        as_text=self._as_text,
                                        checkpoint_path=checkpoint_path)


class FinalExporter(_SavedModelExporter):
  """Exports once, after the evaluation of the last checkpoint (at `max_steps`)."""

  def export(self, estimator: Estimator, export_path: str, checkpoint_path: str,
             eval_result: dict[str, Any], is_the_final_export: bool) -> bytes | None:
    del eval_result  # Unused.
    if not is_the_final_export:
      return None
    return self._export(estimator, export_path, checkpoint_path)


class LatestExporter(_SavedModelExporter):
  """Exports after every evaluation and keeps the newest `exports_to_keep`.

  Args:
    name, serving_input_receiver_fn, assets_extra, as_text: as `FinalExporter`.
    exports_to_keep: positive int (default 5), or None to keep every export.
  """

  def __init__(self, name: str, serving_input_receiver_fn: Callable[[], Any],
               assets_extra: dict[str, str] | None = None, as_text: bool = False,
               exports_to_keep: int | None = 5):
    super().__init__(name, serving_input_receiver_fn, assets_extra, as_text)
    if exports_to_keep is not None:
      _validation.check_positive_int("exports_to_keep", exports_to_keep)
    self._keep = exports_to_keep

  def export(self, estimator: Estimator, export_path: str, checkpoint_path: str,
             eval_result: dict[str, Any], is_the_final_export: bool) -> bytes | None:
    del eval_result, is_the_final_export  # Unused.
    path = self._export(estimator, export_path, checkpoint_path)
    if self._keep is not None:
      stamps = sorted(int(d) for d in os.listdir(export_path) if d.isdigit())
      for stamp in stamps[:-self._keep]:
        shutil.rmtree(os.path.join(export_path, str(stamp)), ignore_errors=True)
    return path


def _check_exporters(exporters):
  if exporters is None:
    return ()
  if isinstance(exporters, Exporter):
    exporters = [exporters]
  exporters = tuple(exporters)
  names = [getattr(e, "name", None) for e in exporters]
  if not all(isinstance(e, Exporter) for e in exporters):
    raise ArgumentTypeError("exporters", "Expected {name} to be an Exporter or a list "
                                         "of them. Received: {received}", exporters)
  if len(set(names)) != len(names):
    raise ArgumentError("exporters", "Expected {name} with distinct names. Received "
                                     f"the names {names}", None)
  return exporters


# ------------------------------------------------------------- train_and_evaluate


def train_and_evaluate(estimator: Estimator, train_spec: TrainSpec,
                       eval_spec: EvalSpec) -> tuple[dict[str, Any] | None, list[Any]]:
  """Trains `estimator`, evaluating and exporting along the way; locally or as a task.

  Args:
    estimator: an `Estimator`.
    train_spec: a `TrainSpec`; its `max_steps` ends training (None: never).
    eval_spec: an `EvalSpec`.

  Returns:
    Locally, (the last evaluation's metrics, the exporters' results); on a cluster,
    (None, []) (TF 1.x's result there was undefined).

  Raises:
    ArgumentTypeError: an argument of the wrong type.
    ArgumentError: a task type this cluster cannot run ('master').
  """
  if not isinstance(estimator, Estimator):
    raise ArgumentTypeError("estimator", "Expected {name} to be a tf.estimator."
                                         "Estimator. Received: {received}", estimator)
  if not isinstance(train_spec, TrainSpec):
    raise ArgumentTypeError("train_spec", "Expected {name} to be a "
                                          "tf.estimator.TrainSpec. Received: "
                                          "{received}", train_spec)
  if not isinstance(eval_spec, EvalSpec):
    raise ArgumentTypeError("eval_spec", "Expected {name} to be a tf.estimator."
                                         "EvalSpec. Received: {received}", eval_spec)
  config = estimator.config
  if not config.cluster_spec.jobs and config.task_type != TaskType.EVALUATOR:
    _LOG.info("Running training and evaluation locally (non-distributed).")
    return _run_local(estimator, train_spec, eval_spec)
  runs = {TaskType.CHIEF: _run_trainer, TaskType.WORKER: _run_trainer,
          TaskType.PS: _run_ps, TaskType.EVALUATOR: _run_evaluator}
  runs[config.task_type](estimator, train_spec, eval_spec)
  return None, []


class _Evaluator:
  """Evaluates the newest checkpoint if it is new, then runs the exporters."""

  def __init__(self, estimator, eval_spec, max_steps):
    self.estimator, self.eval_spec, self.max_steps = estimator, eval_spec, max_steps
    self.previous = None
    self.metrics, self.exports = None, []

  def evaluate_and_export(self):
    """Returns whether a new checkpoint was evaluated."""
    latest = self.estimator.latest_checkpoint()
    if not latest or latest == self.previous:
      return False
    spec = self.eval_spec
    self.metrics = self.estimator.evaluate(spec.input_fn, steps=spec.steps,
                                           hooks=spec.hooks, checkpoint_path=latest,
                                           name=spec.name)
    final = bool(self.max_steps) and self.final_step_reached()
    base = os.path.join(self.estimator.model_dir, "export")
    self.exports = [e.export(self.estimator, os.path.join(base, e.name), latest,
                             self.metrics, final) for e in spec.exporters]
    self.previous = latest
    return True

  def final_step_reached(self):
    step = (self.metrics or {}).get(_V1.GraphKeys.GLOBAL_STEP)
    return bool(self.max_steps) and step is not None and step >= self.max_steps


class _EvaluateOnSave(_CheckpointSaverListener):
  """Evaluates after a checkpoint is saved, at most every `throttle_secs` (local)."""

  def __init__(self, evaluator, throttle_secs):
    self._evaluator, self._throttle_secs = evaluator, throttle_secs
    self._timer, self._first = None, True

  def begin(self):
    self._timer = _V1.train.SecondOrStepTimer(every_secs=self._throttle_secs)
    self._first = True

  def after_save(self, session, global_step_value):
    del session  # Unused.
    if self._first:  # The checkpoint of the start: nothing trained yet.
      self._first = False
      return
    if self._timer.should_trigger_for_step(global_step_value):
      self._evaluate(global_step_value)

  def end(self, session, global_step_value):
    del session  # Unused.
    if global_step_value != self._timer.last_triggered_step():
      self._evaluate(global_step_value)

  def _evaluate(self, global_step_value):
    self._timer.update_last_triggered_step(global_step_value)
    self._evaluator.evaluate_and_export()


def _run_local(estimator, train_spec, eval_spec):
  evaluator = _Evaluator(estimator, eval_spec, train_spec.max_steps)
  listener = _EvaluateOnSave(evaluator, eval_spec.throttle_secs)
  estimator.train(train_spec.input_fn, max_steps=train_spec.max_steps,
                  hooks=list(train_spec.hooks),
                  saving_listeners=list(train_spec.saving_listeners) + [listener])
  return evaluator.metrics, evaluator.exports


def _run_trainer(estimator, train_spec, eval_spec):
  """A chief's or worker's part: serve, (worker) wait, train, tell the ps tasks."""
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.cluster import worker
  del eval_spec  # The evaluator evaluates.
  config = estimator.config
  task = config.task_spec
  server = None
  if config.master:  # A cluster of one trains locally, with no server.
    server, _ = worker.start_server(task, config.session_config
                                    or get_default_session_config())
  if config.task_type == TaskType.WORKER:
    most = (_MAX_DELAY_SECS if config.experimental_max_worker_delay_secs is None
            else config.experimental_max_worker_delay_secs)
    delay = min(most, (config.task_id + 1) * _DELAY_SECS_PER_WORKER)
    if delay:
      _LOG.info("Waiting %d secs before starting training.", delay)
      time.sleep(delay)
  listeners = train_spec.saving_listeners if config.is_chief else ()
  estimator.train(train_spec.input_fn, max_steps=train_spec.max_steps,
                  hooks=list(train_spec.hooks), saving_listeners=list(listeners))
  if server is not None and config.num_ps_replicas:
    session_config = estimator._session_config  # pylint: disable=protected-access
    worker.post_done(task, server, session_config)


def _run_ps(estimator, train_spec, eval_spec):
  """A ps task's part: serve the variables until every trainer has finished."""
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.cluster import worker
  del train_spec, eval_spec  # A ps only serves.
  worker.run_ps(estimator.config.task_spec)


def _run_evaluator(estimator, train_spec, eval_spec):
  """The evaluator's part: each new checkpoint, until the one of `max_steps`."""
  if eval_spec.start_delay_secs:
    _LOG.info("Waiting %f secs before starting eval.", eval_spec.start_delay_secs)
    time.sleep(eval_spec.start_delay_secs)
  evaluator = _Evaluator(estimator, eval_spec, train_spec.max_steps)
  while not evaluator.final_step_reached():
    started = time.monotonic()
    evaluator.evaluate_and_export()
    if evaluator.final_step_reached():
      _LOG.info("Exiting evaluation, global_step=%s >= train max_steps=%s",
                evaluator.metrics[_V1.GraphKeys.GLOBAL_STEP], train_spec.max_steps)
      return
    time.sleep(max(eval_spec.throttle_secs - (time.monotonic() - started), 0.5))


# ------------------------------------------------------------------------ extenders


def add_metrics(estimator: Estimator, metric_fn: Callable[..., Any]) -> Estimator:
  """A copy of `estimator` whose evaluation also reports `metric_fn`'s metrics.

  Args:
    estimator: an `Estimator`.
    metric_fn: `fn(predictions, features, labels, config)` (any subset with
      `predictions`) returning {name: (value, update_op)}.

  Returns:
    A new `Estimator` on the same model_dir and config.
  """
  _validation.check_callable("metric_fn", metric_fn, allow_none=False)
  args = fn_args(metric_fn)
  allowed = ("predictions", "features", "labels", "config")
  if "predictions" not in args or any(a not in allowed for a in args):
    raise ArgumentError("metric_fn", "Received an invalid value for {name}, expected "
                                     "a function of predictions (and features, "
                                     f"labels, config). Received: arguments {args}",
                        None)

  def model_fn(features, labels, mode, config):
    spec = estimator.model_fn(features, labels, mode, config)
    if mode != ModeKeys.EVAL:
      return spec
    given = {"predictions": spec.predictions, "features": features, "labels": labels,
             "config": config}
    extra = metric_fn(**{k: v for k, v in given.items() if k in args})
    return spec._replace(eval_metric_ops={**spec.eval_metric_ops, **extra})

  warm_start = estimator._warm_start_settings  # pylint: disable=protected-access
  return Estimator(model_fn, model_dir=estimator.model_dir, config=estimator.config,
                   warm_start_from=warm_start)
