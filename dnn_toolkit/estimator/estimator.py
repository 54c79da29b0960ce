"""`tf.estimator.Estimator`: train, evaluate, predict and export a `model_fn`'s model.

    estimator = tf.estimator.Estimator(model_fn, model_dir="runs/mnist",
                                       params={"hidden_units": [300, 100]})
    estimator.train(train_input_fn, max_steps=2000)
    metrics = estimator.evaluate(eval_input_fn)          # {'accuracy': ..., 'loss': ...}
    for prediction in estimator.predict(predict_input_fn): ...
    export_dir = estimator.export_saved_model("exported", serving_input_receiver_fn)

TF 1.15's Estimator, built as it was on TensorFlow's own machinery, which TF 2.21 still
has: each call builds a fresh graph (the input_fn, then the model_fn of its mode) and
runs it under `tf.compat.v1.train.MonitoredTrainingSession` (training: restore or
initialize, `CheckpointSaverHook`, `SummarySaverHook`, `StepCounterHook`, `NanTensorHook`)
or `MonitoredSession` (evaluation, prediction). What the toolkit adds is its run
guarantees: before a training step, the model directory is locked for this process
(`checkpoints.lock_run`) and the checkpoint to restore is read back and checked
against the graph (`model_dir.check_checkpoint`), so a second trainer or a directory
of another model is refused in one line with nothing written; Ctrl-C saves a
checkpoint of the step it stopped at; SavedModels are written through
`dnn_toolkit.export`. On a cluster (`TF_CONFIG`), the chief and workers place the
variables on the ps tasks, as TF 1.x did; see `dnn_toolkit.estimator.training`.
"""

import copy
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation, checkpoints
from dnn_toolkit import export as export_lib
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError
from dnn_toolkit.estimator import export as export_outputs
from dnn_toolkit.estimator import model_dir as model_dirs
from dnn_toolkit.estimator.model_fn import (
  LOSS_METRIC_KEY,
  EstimatorSpec,
  ModeKeys,
  call_model_fn,
  check_hooks,
  check_model_fn,
  fn_args,
)
from dnn_toolkit.estimator.run_config import (
  RunConfig,
  TaskType,
  get_default_session_config,
)
from dnn_toolkit.estimator.warm_start import WarmStartSettings, warm_start_settings

_V1 = tf.compat.v1
# TensorFlow's hook base class (a name mypy can use as a base).
_SessionRunHook: Any = _V1.train.SessionRunHook
_LOG = logging.getLogger("tensorflow")
_INPUT_FN_ARGS = ("mode", "params", "config", "input_context")
_EXPORT_ATTEMPTS = 10


class Estimator:
  """Trains, evaluates, predicts with and exports the model a `model_fn` builds.

  Args:
    model_fn: `fn(features, labels, mode, params, config)` (any subset naming
      `features`) returning an `EstimatorSpec`.
    model_dir: where checkpoints and summaries go; default `config.model_dir`, else a
      new temporary directory.
    config: a `RunConfig`. Default `RunConfig()`.
    params: optional dict of hyperparameters passed to `model_fn` (and to input
      functions taking `params`).
    warm_start_from: optional checkpoint (or directory, or SavedModel) to initialize
      the variables from when no checkpoint of `model_dir` exists, or a
      `WarmStartSettings`.

  Raises:
    ArgumentError, ArgumentTypeError: a bad argument (a model_fn without `features`,
      `params` given to a model_fn that takes none, two different model_dirs).
  """

  def __init__(self, model_fn: Callable[..., EstimatorSpec],
               model_dir: str | os.PathLike[str] | None = None,
               config: RunConfig | None = None, params: dict[str, Any] | None = None,
               warm_start_from: Any = None) -> None:
    self._config = _config_with_model_dir(config, model_dir)
    self._model_dir = self._config.model_dir
    self._session_config = self._config.session_config or get_default_session_config()
    self._model_fn = check_model_fn(model_fn, params)
    if params is not None and not isinstance(params, dict):
      raise ArgumentTypeError("params", "Expected {name} to be a dict. Received: "
                                        "{received}", params)
    self._params = copy.deepcopy(params or {})
    self._warm_start_settings = warm_start_settings(warm_start_from)
    self._device_fn = self._config.device_fn or _replica_device_setter(self._config)

  # ------------------------------------------------------------------ properties

  @property
  def model_dir(self) -> str:
    return self._model_dir

  @property
  def config(self) -> RunConfig:
    return copy.deepcopy(self._config)

  @property
  def params(self) -> dict[str, Any]:
    return copy.deepcopy(self._params)

  @property
  def model_fn(self) -> Callable[..., EstimatorSpec]:
    """The model_fn bound to `params`: `fn(features, labels, mode, config)`."""

    def public_model_fn(features, labels, mode, config):
      return call_model_fn(self._model_fn, features, labels, mode,
                           params=self.params, config=config)

    return public_model_fn

  def latest_checkpoint(self) -> str | None:
    """The newest checkpoint of `model_dir`, or None."""
    return model_dirs.latest_checkpoint(self._model_dir)

  def get_variable_names(self) -> list[str]:
    """The names of the variables in the newest checkpoint."""
    self._check_trained()
    return [name for name, _ in tf.train.list_variables(self._model_dir)]

  def get_variable_value(self, name: str) -> Any:
    """The value (a NumPy array) of variable `name` in the newest checkpoint."""
    self._check_trained()
    return tf.train.load_variable(self._model_dir, name)

  def eval_dir(self, name: str | None = None) -> str:
    """Where `evaluate(..., name=name)` writes its summaries."""
    return model_dirs.eval_dir(self._model_dir, name)

  def _check_trained(self):
    if not self.latest_checkpoint():
      raise ArgumentError("model_dir", "Could not find trained model in {name}: it "
                                       "holds no checkpoint yet. Received: "
                                       "{received}", self._model_dir)

  # ---------------------------------------------------------------------- train

  def train(self, input_fn: Callable[..., Any],
            hooks: Sequence[Any] | None = None, steps: int | None = None,
            max_steps: int | None = None,
            saving_listeners: Sequence[Any] | None = None) -> "Estimator":
    """Trains the model on `input_fn`'s batches.

    Args:
      input_fn: returns a `tf.data.Dataset` of (features, labels), or (features,
        labels) tensors; it may take `mode`, `params`, `config`.
      hooks: `tf.compat.v1.train.SessionRunHook`s run on every step.
      steps: train this many more steps (not with `max_steps`).
      max_steps: train until the global step reaches this (not with `steps`); a
        model_dir already there is left as it is.
      saving_listeners: `tf.compat.v1.train.CheckpointSaverListener`s, called around
        each checkpoint.

    Returns:
      self. Training also ends when the input ends (OutOfRangeError).

    Raises:
      ArgumentError, ArgumentTypeError: a bad argument, an input_fn or model_fn that
        returns the wrong thing (nothing is written then).
      RunLockedError: another process trains in `model_dir`.
      CheckpointError, ShapeMismatchError: `model_dir` holds another model or a
        damaged checkpoint; nothing is written.
    """
    if self._config.task_type in (TaskType.EVALUATOR, TaskType.PS):
      raise ArgumentError("config", f"train was called on a {self._config.task_type} "
                                    "task (from TF_CONFIG): use "
                                    "tf.estimator.train_and_evaluate, which runs each "
                                    "task's part.", None)
    if steps is not None and max_steps is not None:
      raise ArgumentError("steps", "Can not provide both steps and max_steps: received "
                                   "{name} and `max_steps`.", steps)
    for name, value in (("steps", steps), ("max_steps", max_steps)):
      if value is not None:
        _validation.check_positive_int(name, value)
    _validation.check_callable("input_fn", input_fn, allow_none=False)
    hooks = list(check_hooks("hooks", hooks))
    listeners = _check_listeners(saving_listeners)
    if max_steps is not None:
      start = model_dirs.global_step_of(self.latest_checkpoint())
      if max_steps <= start:
        _LOG.info("Skipping training since max_steps has already saved.")
        return self
    if steps is not None or max_steps is not None:
      hooks.append(_V1.train.StopAtStepHook(steps, max_steps))
    loss = self._train_model(input_fn, hooks, listeners)
    _LOG.info("Loss for final step: %s.", loss)
    return self

  def _train_model(self, input_fn, hooks, listeners):
    """Builds the training graph of `input_fn` and model_fn; trains; returns the loss."""
    with tf.Graph().as_default() as graph, graph.device(self._device_fn):
      _V1.set_random_seed(self._config.tf_random_seed)
      global_step = _V1.train.create_global_step(graph)
      features, labels, input_hooks = self._call_input_fn(input_fn, ModeKeys.TRAIN)
      spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
      return self._train_with_spec(spec, input_hooks, hooks, global_step, listeners)

  def _train_with_spec(self, spec, input_hooks, hooks, global_step, listeners):
    """Adds the Estimator's hooks and Saver to the graph of `spec`, then trains it."""
    config = self._config
    if self._warm_start_settings is not None:
      _V1.train.warm_start(*self._warm_start_settings)
    if not any(s.op.name == "loss" for s in _V1.get_collection(_V1.GraphKeys.SUMMARIES)):
      _V1.summary.scalar("loss", spec.loss)
    _V1.add_to_collection(_V1.GraphKeys.LOSSES, spec.loss)
    worker_hooks = [*input_hooks, *hooks, _V1.train.NanTensorHook(spec.loss)]
    if config.log_step_count_steps:
      worker_hooks.append(_V1.train.LoggingTensorHook(
          {"loss": spec.loss, "step": global_step},
          every_n_iter=config.log_step_count_steps))
    worker_hooks.extend(spec.training_hooks)
    if not (spec.scaffold.saver or _V1.get_collection(_V1.GraphKeys.SAVERS)):
      _V1.add_to_collection(_V1.GraphKeys.SAVERS, _V1.train.Saver(
          sharded=True, max_to_keep=config.keep_checkpoint_max,
          keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
          defer_build=True, save_relative_paths=True))
    chief_hooks = self._saver_hooks(spec, worker_hooks, listeners)
    keeper = _SessionKeeper()
    return _run_training(self, spec, worker_hooks + [keeper],
                         chief_hooks + list(spec.training_chief_hooks), keeper,
                         global_step)

  def _saver_hooks(self, spec, worker_hooks, listeners):
    """The chief's CheckpointSaverHook (unless the model_fn gives one), with listeners."""
    config = self._config
    given = [h for h in worker_hooks + list(spec.training_chief_hooks)
             if isinstance(h, _V1.train.CheckpointSaverHook)]
    chief_hooks = []
    if (config.save_checkpoints_secs or config.save_checkpoints_steps) and not given:
      chief_hooks = [_V1.train.CheckpointSaverHook(
          self._model_dir, save_secs=config.save_checkpoints_secs,
          save_steps=config.save_checkpoints_steps, scaffold=spec.scaffold,
          save_graph_def=config.checkpoint_save_graph_def)]
      given = chief_hooks
    if listeners:
      if not given:
        raise ArgumentError("saving_listeners", "Received {name}, but no checkpoint is "
                                                "saved: set RunConfig's "
                                                "save_checkpoints_steps or "
                                                "save_checkpoints_secs.", listeners)
      # TF 1.x added them to the first saver hook's own list.
      own = given[0]._listeners  # pylint: disable=protected-access
      own.extend(listener for listener in listeners if listener not in own)
    return chief_hooks

  # ------------------------------------------------------------------- evaluate

  def evaluate(self, input_fn: Callable[..., Any], steps: int | None = None,
               hooks: Sequence[Any] | None = None, checkpoint_path: str | None = None,
               name: str | None = None) -> dict[str, Any]:
    """Evaluates the model's metrics on `input_fn`, from the newest checkpoint.

    Args:
      input_fn: as for `train`; evaluation ends after `steps` batches or at the
        input's end.
      steps: optional positive int, batches to evaluate.
      hooks: `SessionRunHook`s run on every batch.
      checkpoint_path: the checkpoint to evaluate; default the newest one (without
        one, freshly initialized variables are evaluated, as in TF 1.x).
      name: optional name of the evaluation; its summaries go to `eval_<name>/`.

    Returns:
      {metric name: value}: the model_fn's `eval_metric_ops`, `loss` (the mean of the
      spec's loss over the batches) and `global_step`. The values are also written
      as summaries in `eval_dir(name)`.

    Raises:
      ArgumentError, ArgumentTypeError: a bad argument, input_fn or model_fn, a metric
        named `loss` or `global_step`.
      CheckpointError, ShapeMismatchError: the checkpoint is damaged or of another
        model; nothing is written.
    """
    if steps is not None:
      _validation.check_positive_int("steps", steps)
    if name is not None and not isinstance(name, str):
      raise ArgumentTypeError("name", "Expected {name} to be a string. Received: "
                                      "{received}", name)
    _validation.check_callable("input_fn", input_fn, allow_none=False)
    hooks = list(check_hooks("hooks", hooks))
    checkpoint_path = self._checkpoint_to_restore(checkpoint_path, "evaluate")
    with tf.Graph().as_default() as graph:
      _V1.set_random_seed(self._config.tf_random_seed)
      global_step = _V1.train.create_global_step(graph)
      features, labels, input_hooks = self._call_input_fn(input_fn, ModeKeys.EVAL)
      spec = self._call_model_fn(features, labels, ModeKeys.EVAL)
      update_op, values = _metric_ops(spec)
      values[_V1.GraphKeys.GLOBAL_STEP] = global_step
      self._prepare_restore(checkpoint_path, graph)
      final = _V1.train.FinalOpsHook(values)
      all_hooks = [*input_hooks, *hooks, *spec.evaluation_hooks, final]
      if steps is not None:
        all_hooks.append(_StopAfterSteps(steps))
      scaffold = _eval_scaffold(spec.scaffold)
      with _V1.train.MonitoredSession(
          session_creator=_V1.train.ChiefSessionCreator(
              scaffold=scaffold, checkpoint_filename_with_path=checkpoint_path,
              master=self._config.evaluation_master, config=self._session_config),
          hooks=all_hooks) as session:
        while not session.should_stop():
          session.run(update_op)
    results = final.final_ops_values
    step = int(results[_V1.GraphKeys.GLOBAL_STEP])
    _LOG.info("Saving dict for global step %d: %s", step, ", ".join(
        f"{k} = {v}" for k, v in sorted(results.items())))
    model_dirs.write_summary(self.eval_dir(name), results, step)
    return results

  # -------------------------------------------------------------------- predict

  def predict(self, input_fn: Callable[..., Any],
              predict_keys: Sequence[str] | None = None,
              hooks: Sequence[Any] | None = None, checkpoint_path: str | None = None,
              yield_single_examples: bool = True) -> Iterator[Any]:
    """Yields the model's predictions for `input_fn`'s features, until they end.

    Args:
      input_fn: returns features, (features, labels) (labels unused), or a Dataset.
      predict_keys: optional names of the predictions to keep (dict predictions).
      hooks: `SessionRunHook`s.
      checkpoint_path: the checkpoint to use; default the newest.
      yield_single_examples: yield one example at a time (default), else whole
        batches.

    Yields:
      A dict {key: value} (or a value) per example, or per batch.

    Raises:
      ArgumentError: `predict_keys` names no prediction, predictions of different
        batch sizes, a bad input_fn or model_fn, a damaged or other checkpoint.
    """
    _validation.check_callable("input_fn", input_fn, allow_none=False)
    _validation.check_bool("yield_single_examples", yield_single_examples)
    hooks = list(check_hooks("hooks", hooks))
    checkpoint_path = self._checkpoint_to_restore(checkpoint_path, "predict")
    with tf.Graph().as_default() as graph:
      _V1.set_random_seed(self._config.tf_random_seed)
      _V1.train.create_global_step(graph)
      features, _, input_hooks = self._call_input_fn(input_fn, ModeKeys.PREDICT)
      if not input_hooks and not _reads_a_pipeline(features, graph):
        _LOG.warning("Input graph does not use tf.data.Dataset or contain a "
                     "QueueRunner. That means predict yields forever. This is "
                     "probably a mistake.")
      spec = self._call_model_fn(features, None, ModeKeys.PREDICT)
      predictions = _extract_keys(spec.predictions, predict_keys)
      self._prepare_restore(checkpoint_path, graph)
      with _V1.train.MonitoredSession(
          session_creator=_V1.train.ChiefSessionCreator(
              scaffold=spec.scaffold, checkpoint_filename_with_path=checkpoint_path,
              master=self._config.master, config=self._session_config),
          hooks=[*input_hooks, *hooks, *spec.prediction_hooks]) as session:
        while not session.should_stop():
          batch = session.run(predictions)
          if not yield_single_examples:
            yield batch
          elif not isinstance(batch, dict):
            yield from batch
          else:
            for i in range(_batch_length(batch)):
              yield {key: value[i] for key, value in batch.items()}

  # --------------------------------------------------------------------- export

  def export_saved_model(self, export_dir_base: str | os.PathLike[str],
                         serving_input_receiver_fn: Callable[[], Any],
                         assets_extra: dict[str, str] | None = None,
                         as_text: bool = False, checkpoint_path: str | None = None,
                         experimental_mode: str = ModeKeys.PREDICT) -> bytes:
    """Writes the model for serving: a SavedModel in `export_dir_base/<timestamp>`.

    Builds a fresh graph from `serving_input_receiver_fn` and the model_fn in PREDICT
    mode, restores the checkpoint into it and writes it with one SignatureDef per
    export output of the spec that fits the receiver's inputs ('serving_default'
    among them when it fits).

    Args:
      export_dir_base: the directory under which the timestamped export is made.
      serving_input_receiver_fn: returns an `export.ServingInputReceiver` (or
        `TensorServingInputReceiver`).
      assets_extra: optional {path in assets.extra/: source file} to copy in.
      as_text: write `saved_model.pbtxt`.
      checkpoint_path: the checkpoint to export; default the newest.
      experimental_mode: `ModeKeys.PREDICT` (the only mode exported here).

    Returns:
      The export directory, as bytes (as TF 1.x returned it).

    Raises:
      ArgumentError, ArgumentTypeError: a bad argument, no checkpoint, a receiver fn
        that returns no receiver, no signature that fits the inputs.
      CheckpointError, ShapeMismatchError: a damaged checkpoint or another model's.
    """
    if serving_input_receiver_fn is None:
      raise ArgumentError("serving_input_receiver_fn", "An input_receiver_fn must be "
                                                       "defined: received no {name}.",
                          None)
    _validation.check_callable("serving_input_receiver_fn", serving_input_receiver_fn,
                               allow_none=False)
    if experimental_mode != ModeKeys.PREDICT:
      raise ArgumentError("experimental_mode", "Received an invalid value for {name}: "
                                               "only ModeKeys.PREDICT models are "
                                               "exported. Received: {received}",
                          experimental_mode)
    export_dir_base = _validation.check_path("export_dir_base", export_dir_base)
    checkpoint_path = checkpoint_path or self.latest_checkpoint() or (
        self._warm_start_checkpoint())
    if not checkpoint_path:
      raise ArgumentError("checkpoint_path", "Couldn't find trained model at "
                                             f"{self._model_dir!r} to export: it holds "
                                             "no checkpoint and {name} was not given.",
                          None)
    export_dir = _timestamped_dir(export_dir_base)
    with export_lib.staged_directory(export_dir) as staging:
      self._write_saved_model(staging, serving_input_receiver_fn, checkpoint_path,
                              as_text)
      for target, source in (assets_extra or {}).items():
        path = os.path.join(staging, "assets.extra", target)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(source, path)
    return export_dir.encode()

  def export_savedmodel(self, export_dir_base: str | os.PathLike[str],
                        serving_input_receiver_fn: Callable[[], Any],
                        assets_extra: dict[str, str] | None = None,
                        as_text: bool = False, checkpoint_path: str | None = None,
                        strip_default_attrs: bool = False) -> bytes:
    """TF 1.x's earlier name of `export_saved_model` (default attributes are stripped)."""
    del strip_default_attrs  # Always stripped: what serving needs.
    return self.export_saved_model(export_dir_base, serving_input_receiver_fn,
                                   assets_extra, as_text, checkpoint_path)

  def _write_saved_model(self, staging, receiver_fn, checkpoint_path, as_text):
    with tf.Graph().as_default() as graph:
      _V1.set_random_seed(self._config.tf_random_seed)
      _V1.train.create_global_step(graph)
      receiver = receiver_fn()
      if not isinstance(receiver, (export_outputs.ServingInputReceiver,
                                   export_outputs.TensorServingInputReceiver)):
        raise ArgumentTypeError("serving_input_receiver_fn",
                                "Expected {name} to return a "
                                "tf.estimator.export.ServingInputReceiver. Received: "
                                f"a {type(receiver).__name__}", receiver)
      spec = self._call_model_fn(receiver.features, None, ModeKeys.PREDICT)
      signatures = export_outputs.build_all_signature_defs(
          receiver.receiver_tensors, spec.export_outputs,
          receiver.receiver_tensors_alternatives)
      model_dirs.check_checkpoint(self._model_dir, checkpoint_path, graph)
      local_init = (spec.scaffold.local_init_op
                    or _V1.train.Scaffold.default_local_init_op())
      saver = spec.scaffold.saver or _V1.train.Saver(sharded=True)
      with _V1.Session(graph=graph, config=self._session_config) as sess:
        saver.restore(sess, checkpoint_path)
        export_lib.save_session(
            staging, sess, signatures, main_op=local_init, saver=saver,
            assets_collection=graph.get_collection(_V1.GraphKeys.ASSET_FILEPATHS),
            as_text=as_text)

  # ------------------------------------------------------------ shared pieces

  def _call_input_fn(self, input_fn, mode):
    """Calls `input_fn`; returns (features, labels or None, input hooks)."""
    args = fn_args(input_fn)
    unknown = [a for a in args if a not in _INPUT_FN_ARGS]
    if unknown:
      raise ArgumentError("input_fn", "Received an {name} that takes "
                                      f"{', '.join(unknown)}, which the Estimator "
                                      "cannot give (it gives mode, params, config): "
                                      "bind them with functools.partial or a lambda.",
                          None)
    given = {"mode": mode, "params": self.params, "config": self.config}
    with tf.device("/cpu:0"):
      result = input_fn(**{k: v for k, v in given.items() if k in args})
    return _parse_input_fn_result(result, mode)

  def _call_model_fn(self, features, labels, mode):
    return call_model_fn(self._model_fn, features, labels, mode, params=self.params,
                         config=self.config)

  def _checkpoint_to_restore(self, checkpoint_path, verb):
    if checkpoint_path:
      return _validation.check_path("checkpoint_path", checkpoint_path)
    latest = self.latest_checkpoint()
    if not latest:
      _LOG.info("Could not find trained model in model_dir: %s, running "
                "initialization to %s.", self._model_dir, verb)
    return latest

  def _prepare_restore(self, checkpoint_path, graph):
    """Checks the checkpoint against `graph`, or warm-starts a model without one."""
    if checkpoint_path:
      model_dirs.check_checkpoint(self._model_dir, checkpoint_path, graph)
    elif self._warm_start_settings is not None:
      _V1.train.warm_start(*self._warm_start_settings)

  def _warm_start_checkpoint(self):
    if self._warm_start_settings is None:
      return None
    source = self._warm_start_settings.ckpt_to_initialize_from
    return model_dirs.latest_checkpoint(source) if os.path.isdir(source) else source


# ------------------------------------------------------------------- training run


class _SessionKeeper(_SessionRunHook):
  """Keeps the raw Session MonitoredTrainingSession creates, to save on Ctrl-C."""

  session = None

  def after_create_session(self, session, coord):
    del coord  # Unused.
    self.session = session


def _run_training(estimator, spec, worker_hooks, chief_hooks, keeper, global_step):
  """The training loop of TF 1.x's Estimator, under the toolkit's run guarantees.

  The chief (or a local run) locks the model directory and checks the checkpoint it
  continues from before MonitoredTrainingSession writes anything; a non-chief worker
  waits for the chief to initialize the variables. Ctrl-C saves the step reached.
  """
  # pylint: disable=protected-access
  config, model_dir = estimator._config, estimator._model_dir
  lock = None
  if config.is_chief:
    model_dirs.check_not_a_run(model_dir)
    lock = checkpoints.lock_run(model_dir)
  try:
    if config.is_chief:
      latest = model_dirs.latest_checkpoint(model_dir)
      if latest and not spec.scaffold.saver:
        model_dirs.check_checkpoint(model_dir, latest, tf.compat.v1.get_default_graph())
    else:
      _wait_for_chief(config, estimator._session_config)
    with _V1.train.MonitoredTrainingSession(
        master=config.master, is_chief=config.is_chief, checkpoint_dir=model_dir,
        scaffold=spec.scaffold, hooks=worker_hooks, chief_only_hooks=chief_hooks,
        save_checkpoint_secs=0, save_summaries_steps=config.save_summary_steps,
        config=estimator._session_config,
        max_wait_secs=config.session_creation_timeout_secs,
        log_step_count_steps=config.log_step_count_steps) as session:
      return _train_loop(session, spec, keeper, global_step, model_dir,
                         config.is_chief)
  finally:
    if lock is not None:
      lock.release()


def _train_loop(session, spec, keeper, global_step, model_dir, is_chief):
  loss, steps = None, 0
  try:
    while not session.should_stop():
      _, loss = session.run([spec.train_op, spec.loss])
      steps += 1
  except KeyboardInterrupt:
    if is_chief and keeper.session is not None:
      step = keeper.session.run(global_step)
      prefix = spec.scaffold.saver.save(
          keeper.session, os.path.join(model_dir, model_dirs.CHECKPOINT_BASENAME),
          global_step=step)
      _LOG.warning("Interrupted: saved %s.", prefix)
    raise
  if not steps:
    _LOG.warning("Training with estimator made no steps. Perhaps input is empty or "
                 "misspecified.")
  return loss


def _wait_for_chief(config, session_config):
  """A non-chief worker waits (polling) until the chief has initialized the variables."""
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.cluster import worker
  ready = _V1.report_uninitialized_variables(_V1.global_variables())
  worker.wait_until_initialized(
      config.task_spec, config.master, session_config, ready,
      config.session_creation_timeout_secs,
      setting="RunConfig.session_creation_timeout_secs", chief="the chief")


# -------------------------------------------------------------- the pieces


def _config_with_model_dir(config, model_dir):
  if config is None:
    config = RunConfig()
  elif not isinstance(config, RunConfig):
    raise ArgumentTypeError("config", "Expected {name} to be a tf.estimator.RunConfig. "
                                      "Received: {received}", config)
  if model_dir is not None:
    model_dir = _validation.check_path("model_dir", model_dir)
    if config.model_dir is not None and (os.path.abspath(config.model_dir)
                                         != os.path.abspath(model_dir)):
      raise ArgumentError("model_dir", "Received {name} and a RunConfig with another "
                                       f"model_dir ({config.model_dir!r}); give one. "
                                       "Received: {received}", model_dir)
    return config.replace(model_dir=model_dir)
  if config.model_dir is None:
    model_dir = tempfile.mkdtemp()
    _LOG.warning("Using temporary folder as model directory: %s", model_dir)
    return config.replace(model_dir=model_dir)
  return config


def _replica_device_setter(config):
  """TF 1.x's default device function on a cluster: variables on the ps tasks."""
  if not config.num_ps_replicas:
    return None
  return _V1.train.replica_device_setter(
      ps_tasks=config.num_ps_replicas,
      worker_device=f"/job:{config.task_type}/task:{config.task_id}",
      merge_devices=True, cluster=config.cluster_spec)


def _check_listeners(listeners):
  listeners = list(listeners or ())
  for listener in listeners:
    if not isinstance(listener, _V1.train.CheckpointSaverListener):
      raise ArgumentTypeError("saving_listeners", "Expected {name} to be "
                                                  "CheckpointSaverListener instances. "
                                                  f"Received: {listener!r}", listener)
  return listeners


def _parse_input_fn_result(result, mode):
  """(features, labels, hooks) of what an input_fn returned, checked."""
  hooks = []
  if isinstance(result, tf.data.Dataset):
    iterator = _V1.data.make_initializable_iterator(result)
    hooks.append(_DatasetInitializerHook(iterator))
    result = iterator.get_next()
  if isinstance(result, (list, tuple)):
    if len(result) != 2:
      raise ArgumentError("input_fn", f"{{name}} should return (features, labels) as a "
                                      f"len 2 tuple; for mode {mode!r} it returned a "
                                      f"{type(result).__name__} of {len(result)}.",
                          None)
    features, labels = result
  else:
    features, labels = result, None
  if not isinstance(features, (tf.Tensor, tf.SparseTensor, dict)):
    raise ArgumentError("input_fn", f"{{name}} should return a tf.data.Dataset, "
                                    "(features, labels) or features, with features a "
                                    "tensor or a dict of tensors; for mode "
                                    f"{mode!r} its features are a "
                                    f"{type(features).__name__}.", None)
  if isinstance(features, dict) and not all(isinstance(k, str) for k in features):
    raise ArgumentError("input_fn", "{name} returned features whose keys are not all "
                                    f"strings: {sorted(map(repr, features))}.", None)
  return features, labels, hooks


class _DatasetInitializerHook(_SessionRunHook):
  """Initializes the iterator of an input_fn's Dataset when the Session is created."""

  def __init__(self, iterator):
    self._iterator = iterator
    self._initializer = None

  def begin(self):
    self._initializer = self._iterator.initializer

  def after_create_session(self, session, coord):
    del coord  # Unused.
    session.run(self._initializer)


class _StopAfterSteps(_SessionRunHook):
  """Requests a stop after `steps` evaluation batches."""

  def __init__(self, steps):
    self._steps, self._done = steps, 0

  def after_run(self, run_context, run_values):
    del run_values  # Unused.
    self._done += 1
    if self._done >= self._steps:
      run_context.request_stop()


def _reads_a_pipeline(features, graph):
  """Whether `features` come from a tf.data iterator or a queue (an input that ends)."""
  tensors = features.values() if isinstance(features, dict) else [features]
  return (any(getattr(t, "op", None) is not None and t.op.type == "IteratorGetNext"
              for t in tensors)
          or bool(graph.get_collection(_V1.GraphKeys.QUEUE_RUNNERS)))


def _metric_ops(spec):
  """(one update op, {name: value tensor}) of the spec's metrics plus the mean loss."""
  metrics = dict(spec.eval_metric_ops)
  for reserved in (LOSS_METRIC_KEY, _V1.GraphKeys.GLOBAL_STEP):
    if reserved in metrics:
      raise ArgumentError("eval_metric_ops", f"Metric with name {reserved!r} is not "
                                             "allowed in {name}, because Estimator "
                                             "already defines a default metric with "
                                             "the same name.", None)
  metrics[LOSS_METRIC_KEY] = _V1.metrics.mean(spec.loss)
  names = sorted(metrics)  # The same graph every time.
  update_op = tf.group(*[metrics[name][1] for name in names])
  return update_op, {name: metrics[name][0] for name in names}


def _eval_scaffold(scaffold):
  """The spec's scaffold; its own local init op also runs the metrics' (TF 1.x)."""
  if scaffold.local_init_op is None:
    return scaffold
  return _V1.train.Scaffold(
      local_init_op=tf.group(scaffold.local_init_op,
                             _V1.train.Scaffold.default_local_init_op()),
      copy_from_scaffold=scaffold)


def _extract_keys(predictions, predict_keys):
  if not predict_keys:
    return predictions
  if not isinstance(predictions, dict):
    raise ArgumentError("predict_keys", "Received {name}, but the model_fn's "
                                        "predictions are not a dict. Received: "
                                        "{received}", predict_keys)
  kept = {k: v for k, v in predictions.items() if k in predict_keys}
  if not kept:
    raise ArgumentError("predict_keys", "Expected {name} to name at least one of the "
                                        f"predictions {sorted(predictions)}. "
                                        "Received: {received}", list(predict_keys))
  return kept


def _batch_length(batch):
  lengths = {key: value.shape[0] for key, value in batch.items()}
  if len(set(lengths.values())) != 1:
    raise ArgumentError("predictions", "Batch length of predictions should be same: "
                                       "expected the values of {name} to share their "
                                       f"first dimension (or yield_single_examples="
                                       f"False). Received the lengths {lengths}", None)
  return next(iter(lengths.values()))


def _timestamped_dir(base):
  """A new `base/<seconds since the epoch>`, as TF 1.x named its exports."""
  for _ in range(_EXPORT_ATTEMPTS):
    path = os.path.join(base, str(int(time.time())))
    if not os.path.exists(path):
      return path
    time.sleep(1)
  raise ArgumentError("export_dir_base", "Could not find a new timestamped directory "
                                         "in {name}. Received: {received}", base)


__all__ = ["Estimator", "WarmStartSettings"]
