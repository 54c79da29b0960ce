"""Training on a cluster: TensorFlow's own parameter servers and workers.

This module owns what one task of a between-graph replicated TF 1.x cluster does: a ps
task serves the variables, a worker trains, and the chief (worker 0) keeps the run
directory. Which task a process is comes from `dnn_toolkit.cluster.tasks`:

    task = cluster.resolve_task(ps_hosts="h0:2222", worker_hosts="h1:2222,h2:2222",
                                job_name="worker", task_index=0)  # or from TF_CONFIG
    if task.job_name == "ps":
      distributed.run_ps(task)
    else:
      result = distributed.train_worker(task, DNNConfig(), train, validation,
                                        test=test, run_dir="runs/a")

TensorFlow does the distributing: `tf.compat.v1.train.Server` serves each task,
`replica_device_setter` puts the variables of the `build_dnn` graph on the ps tasks,
and every worker trains the same graph under `MonitoredTrainingSession`, asynchronously
(TF 1.x's default) or, with `sync=True`, through `SyncReplicasOptimizer`. Worker 0 is
the chief: it evaluates, writes the run directory (state.json, `latest/` and `best/`
checkpoints, TensorBoard logs, as `experiment.train` does) and restores from it when
restarted. Each worker trains on its own shard of the training set, examples
`task_index::num_workers`.

Global steps count updates of the shared weights: each worker's step in async mode, one
aggregated step of `num_workers` batches in sync mode. An epoch is the number of global
steps that visit the training set once (`steps_per_epoch`); the chief ends one whenever
the global step crosses a multiple of it.

Every wait is bounded: the ps must answer within `startup_timeout` seconds, a blocked
training step (sync: the other replicas' gradients) gives up after `replica_timeout`,
and shutdown lasts at most `STOP_GRACE_S`, so the TF 1.x trap of a chief waiting forever
for tokens, or non-chief workers hanging at exit, ends every process with a message.
The local launcher of a whole cluster is `dnn_toolkit.cluster.tasks.LocalCluster`.
"""

import dataclasses
import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from dnn_toolkit import _validation
from dnn_toolkit.cluster.tasks import (
  PS,
  WORKER,
  ClusterError,
  TaskSpec,
  check_port_free,
  wait_for_ps,
)
from dnn_toolkit.errors import CheckpointError, ConfigMismatchError

if TYPE_CHECKING:  # Not at run time: `training` would load TensorFlow on import.
  import numpy as np

  from dnn_toolkit.config import DNNConfig
  from dnn_toolkit.data.arrays import DataSet
  from dnn_toolkit.training.loop import TrainState

#: Seconds the chief's MonitoredTrainingSession waits for its queue-runner threads.
STOP_GRACE_S = 3
#: Seconds one blocked training step may wait before the loop checks why.
POLL_S = 2.0


def _tf():
  """TensorFlow, imported on first use: the cluster checks run before it loads."""
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  return compat.import_tensorflow_quietly()


# ---------------------------------------------------------------------- the ps task


def _server(task):
  """Starts this task's `tf.compat.v1.train.Server`; returns (server, session config)."""
  tf = _tf()
  v1 = tf.compat.v1
  check_port_free(task)
  # A worker talks to the ps tasks and itself only: without the filter it would wait
  # for every other worker to be up before its session starts.
  filters = ([f"/job:{PS}/task:{task.task_index}"] if task.job_name == PS else
             [f"/job:{PS}", f"/job:{WORKER}/task:{task.task_index}"])
  config = v1.ConfigProto(device_filters=filters)
  spec = v1.train.ClusterSpec({job: list(hosts) for job, hosts in task.cluster.items()})
  try:
    server = v1.train.Server(spec, job_name=task.job_name, task_index=task.task_index,
                             config=config, start=True)
  except tf.errors.OpError as error:
    raise ClusterError(f"Cannot start {task.name} at {task.address}: "
                       f"{error.message.splitlines()[0]}") from None
  return server, config


def _done_queues(task):
  """One queue per ps task, on it, where each worker posts its index when finished."""
  tf = _tf()
  queues = []
  for index in range(len(task.cluster[PS])):
    with tf.device(f"/job:{PS}/task:{index}"):
      queues.append(tf.queue.FIFOQueue(task.num_workers, tf.int32,
                                       shared_name=f"done_queue_{index}",
                                       name=f"done_queue_{index}"))
  return queues


def run_ps(task: TaskSpec, stream: TextIO | None = None) -> None:
  """Serves the variables of `task` (a ps task) until every worker has finished.

  TF 1.x's `server.join()` never returns; here the ps waits on a queue where each
  worker posts its index when done, so a finished cluster ends by itself.

  Args:
    task: a `TaskSpec` of the job 'ps'.
    stream: where messages go. Default sys.stdout.

  Raises:
    ClusterError: if the port is in use or the server cannot start.
  """
  stream = stream or sys.stdout
  tf = _tf()
  server, config = _server(task)
  print(f"{task.name}: serving at {task.address}", file=stream, flush=True)
  with tf.Graph().as_default():
    dequeue = _done_queues(task)[task.task_index].dequeue()
    with tf.compat.v1.Session(server.target, config=config) as sess:
      finished: set[int] = set()
      while len(finished) < task.num_workers:
        finished.add(int(sess.run(dequeue)))
  print(f"{task.name}: all {task.num_workers} workers finished; stopping",
        file=stream, flush=True)


# ------------------------------------------------------------------ a worker's graph


@dataclasses.dataclass
class Options:
  """How a worker trains; the distributed counterpart of `experiment.train`'s arguments.

  Attributes:
    epochs: positive int, passes over the training set by all workers together.
    batch_size: positive int, examples per step of one worker.
    patience: early-stopping patience in epochs, or None.
    sync: aggregate the workers' gradients with `SyncReplicasOptimizer`.
    save_every_steps: optional positive int; the chief also saves `latest` whenever the
      global step crosses a multiple of it.
    log_every_steps: positive int, global steps between TensorBoard diagnostics.
    startup_timeout: positive seconds to wait for the ps tasks and, on a non-chief
      worker, for the chief to initialize the variables.
    replica_timeout: positive seconds a training step may stay blocked (sync: waiting
      for the other workers' gradients) before the worker gives up.
    verbose: 0 for silence, 1 for a line per epoch (chief) and at start and end.
  """
  epochs: int = 20
  batch_size: int = 50
  patience: int | None = 5
  sync: bool = False
  save_every_steps: int | None = None
  log_every_steps: int = 100
  startup_timeout: float = 60.0
  replica_timeout: float = 60.0
  verbose: int = 1

  def validate(self) -> "Options":
    """Raises ValueError or TypeError naming the first bad option; returns self."""
    _validation.check_positive_int("epochs", self.epochs)
    _validation.check_positive_int("batch_size", self.batch_size)
    for name in ("patience", "save_every_steps"):
      if getattr(self, name) is not None:
        _validation.check_positive_int(name, getattr(self, name))
    _validation.check_positive_int("log_every_steps", self.log_every_steps)
    if not isinstance(self.sync, bool):
      raise TypeError(f"Expected `sync` to be a bool. Received: sync={self.sync!r}")
    for name in ("startup_timeout", "replica_timeout"):
      _validation.check_in_range(name, getattr(self, name), 0.0, None, low_open=True)
    return self


def steps_per_epoch(n_train: int, batch_size: int, num_workers: int, sync: bool) -> int:
  """Global steps in which all workers together visit `n_train` examples once."""
  batches = math.ceil(n_train / batch_size)
  return math.ceil(batches / num_workers) if sync else batches


@dataclasses.dataclass
class _WorkerGraph:
  dnn: object
  train_op: object
  stop: object            # bool variable on a ps: the chief's signal to stop
  set_stop: object
  release_tokens: object  # sync chief only: unblocks workers waiting for a token
  sync_hook: object
  done: list              # enqueue ops of the done queues, one per ps
  ready: object           # names of the uninitialized variables (empty: ready)


def _build_worker_graph(task, config, n_inputs, sync):
  """Builds the replicated graph: variables on the ps tasks, ops on this worker."""
  tf = _tf()
  v1 = tf.compat.v1
  from dnn_toolkit import model, optimizers  # pylint: disable=import-outside-toplevel
  spec = v1.train.ClusterSpec({job: list(hosts) for job, hosts in task.cluster.items()})
  worker_device = f"/job:{WORKER}/task:{task.task_index}"
  with v1.device(v1.train.replica_device_setter(worker_device=worker_device,
                                                cluster=spec)):
    dnn = model.build_dnn(config, n_inputs)
    stop = v1.get_variable("distributed/stop", shape=(), dtype=tf.bool,
                           initializer=v1.zeros_initializer(), trainable=False)
    train_op, release, sync_hook = dnn.train_op, None, None
    if sync:
      train_op, release, sync_hook = _sync_train_op(task, config, dnn, optimizers)
  with tf.device(worker_device):
    set_stop = v1.assign(stop, True).op
    done = [q.enqueue(task.task_index) for q in _done_queues(task)]
    ready = (None if task.is_chief else
             v1.report_uninitialized_variables(v1.global_variables()))
  return _WorkerGraph(dnn, train_op, stop, set_stop, release, sync_hook, done, ready)


def _sync_train_op(task, config, dnn, optimizers):
  """The sync train op: `SyncReplicasOptimizer` around the config's optimizer.

  `build_dnn` has already built the async op with its own optimizer; this second one
  (slots named 'Adam_2', ...) is the one that runs. `optimizers.train_op` is not used:
  it applies the gradients under a control dependency on the batch-norm updates, and
  SyncReplicasOptimizer builds its readiness check inside `apply_gradients`, which
  would then need a fed batch. The updates run in the same step through a group.
  """
  tf = _tf()
  v1 = tf.compat.v1
  optimizer = v1.train.SyncReplicasOptimizer(
      optimizers.make_optimizer(config.optimizer, dnn.learning_rate, config.momentum),
      replicas_to_aggregate=task.num_workers, total_num_replicas=task.num_workers)
  grads_and_vars = optimizers.clip_gradients(optimizer.compute_gradients(dnn.loss),
                                             config.clip_value, config.clip_norm)
  apply = optimizer.apply_gradients(grads_and_vars, global_step=dnn.global_step)
  updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
  train_op = tf.group(apply, *updates, name="sync_training_op")
  if not task.is_chief:
    return train_op, None, optimizer.make_session_run_hook(False)
  return (train_op, optimizer.get_init_tokens_op(task.num_workers),
          _SyncChiefHook(optimizer))


class _SyncChiefHook:
  """The chief's part of sync training (duck-typed `SessionRunHook`).

  What `SyncReplicasOptimizer.make_session_run_hook(True)` does, except that its queue
  runner treats the cancellation at Session close as the end it is, not a traceback.
  """

  def __init__(self, optimizer):
    v1 = _tf().compat.v1
    errors = _tf().errors
    runner = optimizer.get_chief_queue_runner()
    self._runner = v1.train.QueueRunner(
        runner.queue, runner.enqueue_ops, close_op=runner.close_op,
        cancel_op=runner.cancel_op,
        queue_closed_exception_types=(errors.OutOfRangeError, errors.CancelledError))
    self._init_op = optimizer.chief_init_op
    self._tokens = optimizer.get_init_tokens_op()

  def begin(self):
    pass

  def after_create_session(self, session, coord):
    session.run(self._init_op)
    self._runner.create_threads(session, coord=coord, daemon=True, start=True)
    session.run(self._tokens)

  def before_run(self, run_context):
    return None

  def after_run(self, run_context, run_values):
    pass

  def end(self, session):
    pass


# -------------------------------------------------------------------- the chief's job


class _Chief:
  """The chief's bookkeeping: epochs, evaluation, early stopping, the run directory.

  It drives the same hooks as `training.fit` (`checkpoints.CheckpointHook`,
  `summaries.SummaryHook`) on the raw Session that MonitoredTrainingSession creates, and
  is itself a session hook (duck-typed `SessionRunHook`) to learn of that Session and
  of every re-creation after a ps restart.
  """

  def __init__(self, graph, record, validation, options, spe, resumed, stream):
    # pylint: disable=import-outside-toplevel
    from dnn_toolkit import checkpoints, summaries
    self.graph, self.dnn, self.validation = graph, graph.dnn, validation
    self.options, self.spe, self.stream = options, spe, stream
    # Both hooks are called only when a save or a log is due (`after_step`), since the
    # global steps this chief sees skip those of the other workers.
    self.checkpoint = checkpoints.CheckpointHook(record, save_every_steps=1)
    self.summary = summaries.SummaryHook(graph.dnn, summaries.logdir_of(record.run_dir),
                                         every_n_steps=1)
    self.state = record.state
    if resumed:
      self.checkpoint.resume_from(record)
    # Means over the examples this process trained on since the epoch began: a
    # restarted chief starts its sums afresh.
    self.state.epoch_loss_sum = self.state.epoch_correct = 0.0
    self._seen = 0
    self.sess = None
    self._started = time.perf_counter()
    self._began = False

  # Session hook protocol, called by MonitoredTrainingSession.
  def begin(self):
    pass

  def after_create_session(self, session, coord):
    del coord  # Unused.
    self.sess = session
    step = int(session.run(self.dnn.global_step))
    if step != self.state.global_step:  # Restored from `latest` after a ps restart.
      self.state.global_step = step
      self.state.epoch = min(self.state.epoch, step // self.spe)
    if not self._began:
      self._began = True
      self.checkpoint.begin(session, self.dnn, self.state)
      self.summary.begin(session, self.dnn, self.state)

  def before_run(self, run_context):
    return None

  def after_run(self, run_context, run_values):
    pass

  def end(self, session):
    pass

  # The training loop's calls.
  def after_step(self, step, stats, X_batch, y_batch):
    """Records one of the chief's own steps; `step` is the global step after it."""
    previous, state = self.state.global_step, self.state
    state.global_step = max(step, previous)
    state.batch = state.global_step - state.epoch * self.spe
    state.epoch_loss_sum += float(stats[0]) * len(y_batch)
    state.epoch_correct += float(stats[1]) * len(y_batch)
    self._seen += len(y_batch)
    every = self.options.log_every_steps
    if previous == 0 or state.global_step // every > previous // every:
      self.summary.after_step(self.sess, state, float(stats[0]), X_batch, y_batch)
    every = self.options.save_every_steps
    if every and state.global_step // every > previous // every:
      self.checkpoint.after_step(self.sess, state, float(stats[0]), X_batch, y_batch)
    if state.global_step >= (state.epoch + 1) * self.spe and not self.done:
      # The other workers may have crossed several epochs while this one stepped once
      # (async): they end as one, numbered by the global step.
      self._end_epoch(min(state.global_step // self.spe, self.options.epochs))

  @property
  def done(self):
    return self.state.stopped_early or self.state.epoch >= self.options.epochs

  def catch_up(self):
    """Ends the last epoch if the global step is past it but it was not ended.

    A chief restarted after the last step (killed before its evaluation) gets here
    without a step of its own.
    """
    if not self.done and self.state.global_step >= self.options.epochs * self.spe:
      self._end_epoch(self.options.epochs)

  def _end_epoch(self, epoch):
    from dnn_toolkit.training import loop as training  # pylint: disable=import-outside-toplevel
    state, options = self.state, self.options
    valid = training.evaluate(self.sess, self.dnn, *self.validation)
    seen = max(self._seen, 1)
    metrics = {"epoch": epoch, "global_step": state.global_step,
               "loss": state.epoch_loss_sum / seen, "accuracy": state.epoch_correct / seen,
               "val_loss": valid["loss"], "val_accuracy": valid["accuracy"],
               "learning_rate": float(self.sess.run(self.dnn.learning_rate)),
               "seconds": time.perf_counter() - self._started}
    state.epoch, state.batch = epoch, 0
    state.epoch_loss_sum = state.epoch_correct = 0.0
    self._seen, self._started = 0, time.perf_counter()
    state.history.append(metrics)
    improved = metrics["val_loss"] < state.best_val_loss
    if improved:  # The early-stopping rule of `training.fit`.
      state.best_val_loss, state.best_epoch = metrics["val_loss"], metrics["epoch"]
      state.epochs_without_improvement = 0
    else:
      state.epochs_without_improvement += 1
      state.stopped_early = bool(options.patience and
                                 state.epochs_without_improvement >= options.patience)
    # As `training.fit`: the net's own hooks (a 'plateau' schedule) first, so the
    # checkpoint written after the epoch holds what they changed.
    for hook in list(self.dnn.hooks) + [self.checkpoint, self.summary]:
      hook.after_epoch(self.sess, state, metrics, improved)
    if options.verbose:
      print(f"epoch {metrics['epoch']}/{options.epochs}  step {state.global_step}  "
            f"loss {metrics['loss']:.4f}  val_loss {metrics['val_loss']:.4f}  "
            f"val_accuracy {metrics['val_accuracy']:.4f}", file=self.stream, flush=True)

  def finish(self, config, n_inputs, test):
    """Evaluates `test` with the best weights and marks the run finished."""
    if test is not None and self.checkpoint.best_checkpoint:
      self.checkpoint.record.test = evaluate_checkpoint(
          config, n_inputs, self.checkpoint.best_checkpoint, *test)
    self.checkpoint.end(self.sess, self.state)
    self.summary.end(self.sess, self.state)


def evaluate_checkpoint(config: "DNNConfig", n_inputs: int, prefix: str,
                        images: "np.ndarray", labels: "np.ndarray") -> dict[str, float]:
  """Restores a checkpoint into a fresh `build_dnn` graph; returns its metrics.

  The chief evaluates the test set so, on its own machine, without the ps tasks.

  Returns:
    {'loss': mean cross-entropy, 'accuracy': ...}, as `training.evaluate`.
  """
  tf = _tf()
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import model, scopes
  from dnn_toolkit.training import loop as training
  with tf.Graph().as_default() as graph:
    dnn = model.build_dnn(config, n_inputs)
    variables = tf.compat.v1.model_variables()
    with tf.compat.v1.Session(graph=graph) as sess:
      scopes.restore(sess, prefix, var_list=variables)
      return training.evaluate(sess, dnn, images, labels)


# ----------------------------------------------------------------- a worker's loop


def _run_record(run_dir, config, options, task, data):
  """Returns (the chief's `RunRecord`, whether it continues a saved run).

  Raises:
    CheckpointError, ConfigMismatchError: the run directory holds a finished run, or
      one of another configuration or batch size. Nothing is changed.
  """
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import checkpoints
  from dnn_toolkit.training import loop as training
  layout = {"ps": len(task.cluster[PS]), "workers": task.num_workers,
            "sync": options.sync}
  if not checkpoints.RunRecord.exists(run_dir):
    seed = config.seed if config.seed is not None else 0
    return checkpoints.RunRecord(
        run_dir=run_dir, config=config, state=training.TrainState(shuffle_seed=seed),
        batch_size=options.batch_size, epochs=options.epochs, patience=options.patience,
        data=data, extra={"distributed": layout}), False
  record = checkpoints.RunRecord.read(run_dir)
  checkpoints.check_same_config(run_dir, record.config, config)
  if record.batch_size != options.batch_size:
    raise ConfigMismatchError(
        f"Cannot continue {run_dir!r} with another batch size (batch_size: run has "
        f"{record.batch_size!r}, given {options.batch_size!r}). Nothing was changed.")
  if record.finished:
    raise CheckpointError(f"{run_dir!r} holds a finished run; nothing was changed. "
                          "Choose another run directory.")
  record.epochs, record.patience = options.epochs, options.patience
  record.extra["distributed"] = layout  # The cluster may change shape between runs.
  return record, True


@dataclasses.dataclass
class WorkerResult:
  """What the chief's run produced (as `experiment.RunResult`).

  Attributes:
    run_dir: the run directory.
    state: the final `training.TrainState` (history, best epoch, early stopping).
    test: {'loss', 'accuracy'} on the test set with the best weights, or None.
    best_checkpoint: path prefix of the best weights.
  """
  run_dir: str
  state: "TrainState"
  test: dict[str, float] | None
  best_checkpoint: str | None


def train_worker(task: TaskSpec, config: "DNNConfig",
                 train: "DataSet | tuple[np.ndarray, np.ndarray]",
                 validation: "DataSet | tuple[np.ndarray, np.ndarray]",
                 test: "DataSet | tuple[np.ndarray, np.ndarray] | None" = None, *,
                 run_dir: str, options: Options | None = None,
                 data: dict[str, Any] | None = None,
                 stream: TextIO | None = None) -> WorkerResult | None:
  """Trains as one worker of the cluster; the chief (worker 0) also keeps `run_dir`.

  A chief started on a run directory that holds an unfinished run of the same
  configuration continues it from its latest checkpoint, as MonitoredTrainingSession's
  recovery does in TF 1.x; other workers may be restarted at any time and rejoin.

  Args:
    task: this worker's `TaskSpec`.
    config: the `DNNConfig`; the same on every worker.
    train: DataSet or (images `[n, n_inputs]`, labels `[n]`); this worker trains on
      examples `task_index::num_workers`.
    validation: same, evaluated by the chief after each epoch (early stopping).
    test: optional same, evaluated by the chief with the best weights at the end.
    run_dir: the run directory, written by the chief only.
    options: an `Options`. Default `Options()`.
    data: optional JSON-ready description of the data's source (a loader's
      `identity`), recorded by the chief with the digests of
      `experiment.data_identity`.
    stream: where progress goes. Default sys.stdout.

  Returns:
    On the chief a `WorkerResult`; None on the other workers.

  Raises:
    ValueError, TypeError: a bad argument, before anything is started or written.
    CheckpointError, ConfigMismatchError: `run_dir` holds a finished run or another
      configuration (chief).
    ClusterError: the port is in use, a ps or the chief cannot be reached within
      `startup_timeout`, or a step stayed blocked for `replica_timeout`.
  """
  from dnn_toolkit.training import loop as training  # pylint: disable=import-outside-toplevel
  options = (options or Options()).validate()
  config = config.validate()
  stream = stream or sys.stdout
  if task.job_name != WORKER:
    raise ValueError(f"Expected a worker task. Received: job_name={task.job_name!r}")
  n_inputs = training.as_arrays("train", train)[0].shape[1]
  (X, y), valid = training.check_fit_arguments(
      config, n_inputs, train, validation, options.epochs, options.batch_size,
      options.patience)
  test = training.as_arrays("test", test) if test is not None else None
  record, resumed = None, False
  if task.is_chief:
    from dnn_toolkit import experiment  # pylint: disable=import-outside-toplevel
    identity = experiment.data_identity(train, validation, data)
    record, resumed = _run_record(run_dir, config, options, task, identity)
  check_port_free(task)
  wait_for_ps(task, options.startup_timeout)
  lock = _lock_run_dir(run_dir) if task.is_chief else None
  try:
    return _train(task, config, (X, y), valid, test, record, resumed, options, stream)
  finally:
    if lock is not None:
      lock.release()


def _lock_run_dir(run_dir):
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  os.makedirs(run_dir, exist_ok=True)
  return checkpoints.lock_run(run_dir)


def _train(task, config, train, valid, test, record, resumed, options, stream):
  """`train_worker` once every argument is checked."""
  X, y = train
  n_inputs = X.shape[1]
  run_dir = record.run_dir if record else None
  server, session_config = _server(task)
  spe = steps_per_epoch(len(X), options.batch_size, task.num_workers, options.sync)
  shard = (X[task.task_index::task.num_workers], y[task.task_index::task.num_workers])
  tf = _tf()
  graph = tf.Graph()
  with graph.as_default():
    built = _build_worker_graph(task, config, n_inputs, options.sync)
    chief = (_Chief(built, record, valid, options, spe, resumed, stream)
             if task.is_chief else None)
    sess = _monitored_session(task, server, session_config, built, chief, run_dir,
                              options)
  if options.verbose:
    print(f"{task.name}: training on {len(shard[0])} examples "
          f"({'sync' if options.sync else 'async'}, {spe} global steps per epoch)",
          file=stream, flush=True)
  try:
    with graph.as_default():
      steps = _train_loop(sess, built, chief, shard, options, spe, task)
      if chief:
        chief.catch_up()
        _stop_others(sess, built)
        chief.finish(config, n_inputs, test)
  finally:
    sess.close()  # Bounded: STOP_GRACE_S for the sync queue runner.
  _post_done(server, session_config, built, graph)
  if options.verbose:
    print(f"{task.name}: finished after {steps} steps of its own", file=stream,
          flush=True)
  if chief:
    return WorkerResult(run_dir, chief.state, chief.checkpoint.record.test,
                        chief.checkpoint.best_checkpoint)
  return None


def _monitored_session(task, server, session_config, built, chief, run_dir, options):
  v1 = _tf().compat.v1
  hooks = [h for h in (built.sync_hook, chief) if h is not None]
  scaffold = None
  if chief:
    # Restores `latest` on the chief's own disk (not sharded onto the ps tasks).
    scaffold = v1.train.Scaffold(saver=v1.train.Saver(max_to_keep=2,
                                                      save_relative_paths=True))
  if not task.is_chief:
    _wait_until_initialized(task, server, session_config, built, options)
  try:
    return v1.train.MonitoredTrainingSession(
        master=server.target, is_chief=task.is_chief,
        checkpoint_dir=os.path.join(run_dir, "latest") if chief else None,
        scaffold=scaffold, hooks=hooks, config=session_config,
        save_checkpoint_secs=None, save_checkpoint_steps=None,
        save_summaries_steps=None, save_summaries_secs=None, log_step_count_steps=None,
        stop_grace_period_secs=STOP_GRACE_S, max_wait_secs=options.startup_timeout)
  except _tf().errors.DeadlineExceededError:
    raise ClusterError(
        f"{task.name} waited {options.startup_timeout:g} s (startup_timeout, "
        "--startup-timeout) for the chief, worker 0, to initialize the variables. Is "
        "it running?") from None


def _wait_until_initialized(task, server, session_config, built, options):
  """Waits until the chief has initialized the variables on the ps tasks.

  MonitoredTrainingSession checks only every 30 s; this checks twice a second.

  Raises:
    ClusterError: after `options.startup_timeout` seconds.
  """
  tf = _tf()
  deadline = time.monotonic() + options.startup_timeout
  with tf.compat.v1.Session(server.target, graph=built.ready.graph,
                            config=session_config) as sess:
    while len(sess.run(built.ready)):
      if time.monotonic() >= deadline:
        raise ClusterError(
            f"{task.name} waited {options.startup_timeout:g} s (startup_timeout, "
            "--startup-timeout) for the chief, worker 0, to initialize the variables. "
            "Is it running?")
      time.sleep(0.5)


def _shard_batches(X, y, batch_size, seed, epoch):
  """Yields this worker's batches from `epoch` on, each epoch in its seeded order."""
  from dnn_toolkit.data.arrays import epoch_permutation  # pylint: disable=import-outside-toplevel
  while True:
    order = epoch_permutation(len(X), seed, epoch)
    for start in range(0, len(X), batch_size):
      indices = order[start:start + batch_size]
      yield X[indices], y[indices]  # [batch_size, n_inputs], [batch_size]
    epoch += 1


def _train_loop(sess, built, chief, shard, options, spe, task):
  """Steps until the last global step or the chief's stop; returns this worker's steps."""
  tf = _tf()
  dnn, last_step = built.dnn, options.epochs * spe
  step, stop = sess.run([dnn.global_step, built.stop])
  seed = dnn.config.seed if dnn.config.seed is not None else task.task_index
  batches = _shard_batches(*shard, options.batch_size, seed, int(step) // spe)
  timeout = tf.compat.v1.RunOptions(timeout_in_ms=int(POLL_S * 1000))
  fetches = [built.train_op, dnn.batch_stats, dnn.global_step]
  steps = 0
  while not (stop or step >= last_step or (chief and chief.done)):
    X_batch, y_batch = next(batches)
    feed = {dnn.X: X_batch, dnn.y: y_batch, dnn.is_training: True}
    result = _blocking_step(sess, fetches, feed, timeout, built, last_step, options,
                            task)
    if result is None:  # Finished while this step waited.
      break
    _, stats, step = result
    if not math.isfinite(stats[0]):
      from dnn_toolkit.errors import TrainingDivergedError  # pylint: disable=import-outside-toplevel
      raise TrainingDivergedError(f"Training diverged on {task.name}: the loss became "
                                  f"{stats[0]} at global step {step}.")
    if dnn.max_norm_op is not None:
      sess.run(dnn.max_norm_op)
    steps += 1
    if chief:
      chief.after_step(int(step), stats, X_batch, y_batch)
    else:
      stop = sess.run(built.stop) if steps % 10 == 0 else stop
  return steps


def _blocking_step(sess, fetches, feed, timeout, built, last_step, options, task):
  """Runs one step, re-checking every POLL_S whether the run ended while it waited.

  Returns the step's results, or None if training ended (the global step reached the
  end, or the chief set the stop flag) while the step was blocked.

  Raises:
    ClusterError: if the step stayed blocked for `options.replica_timeout` seconds.
  """
  errors = _tf().errors
  waited = 0.0
  while True:
    try:
      return sess.run(fetches, feed, options=timeout)
    except errors.DeadlineExceededError:
      step, stop = sess.run([built.dnn.global_step, built.stop])
      if stop or step >= last_step:
        return None
      waited += POLL_S
      if waited >= options.replica_timeout:
        kind = ("the other workers' gradients (sync)" if options.sync
                else "the ps tasks")
        raise ClusterError(
            f"{task.name} waited {waited:g} s (replica_timeout, --replica-timeout) for "
            f"{kind} at global step {step}; a worker or ps is gone. Restart it, or the "
            "cluster: the chief continues from its last checkpoint.") from None


def _stop_others(sess, built):
  """Tells the other workers to stop, and (sync) frees those blocked on a token."""
  sess.run(built.set_stop)
  if built.release_tokens is not None:
    sess.run(built.release_tokens)


def _post_done(server, session_config, built, graph):
  """Posts this worker's index to every ps task, which stops after all have posted."""
  tf = _tf()
  with tf.compat.v1.Session(server.target, graph=graph, config=session_config) as sess:
    for enqueue in built.done:
      try:
        sess.run(enqueue, options=tf.compat.v1.RunOptions(timeout_in_ms=10000))
      except tf.errors.OpError as error:  # A ps already gone: nothing left to stop.
        print(f"note: could not tell a ps task this worker finished: "
              f"{error.message.splitlines()[0]}", file=sys.stderr, flush=True)
