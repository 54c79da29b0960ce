"""Training on a cluster: TensorFlow's own parameter servers and workers.

This module owns what one task of a between-graph replicated TF 1.x cluster does: a ps
task serves the variables, a worker trains, and the chief (worker 0) keeps the run
directory (its part is `dnn_toolkit.cluster.chief`). Which task a process is comes from
`dnn_toolkit.cluster.tasks`:

    task = cluster.resolve_task(ps_hosts="h0:2222", worker_hosts="h1:2222,h2:2222",
                                job_name="worker", task_index=0)  # or from TF_CONFIG
    if task.job_name == "ps":
      distributed.run_ps(task)
    else:
      result = distributed.train_worker(task, DNNConfig(), train, validation,
                                        test=test, run_dir="runs/a")

TensorFlow does the distributing: `tf.compat.v1.train.Server` serves each task,
`replica_device_setter` puts the variables of the `build_dnn` graph on the ps tasks,
and every worker trains the same graph under a `MonitoredSession`, asynchronously
(TF 1.x's default) or, with `sync=True`, through `SyncReplicasOptimizer`. Worker 0 is
the chief: it evaluates, writes the run directory (state.json, `latest/` and `best/`
checkpoints, TensorBoard logs, as `runs.lifecycle.train` does) and restores from it when
restarted. Each worker trains on its own shard of the training set, examples
`task_index::num_workers`, and counts its steps on the ps (`distributed/worker_steps`),
which is how the chief sees a worker lost.

Global steps count updates of the shared weights: each worker's step in async mode, one
aggregated step of `num_workers` batches in sync mode. An epoch is the number of global
steps that visit the training set once (`steps_per_epoch`); the chief ends one whenever
the global step crosses a multiple of it.

Every wait is bounded: the ps must answer within `startup_timeout` seconds at the start
and within `replica_timeout` seconds once lost (`cluster.watch.TaskWatch`: a ps restarted
in that time is recovered from, the chief restoring its last checkpoint), a blocked
training step (sync: the other replicas' gradients) gives up after `replica_timeout`,
and shutdown lasts at most `STOP_GRACE_S`, so the TF 1.x trap of a chief waiting forever
for tokens, or non-chief workers hanging at exit, ends every process with a message.
The local launcher of a whole cluster is `dnn_toolkit.cluster.launcher.LocalCluster`.
"""

import dataclasses
import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from dnn_toolkit import _validation
from dnn_toolkit.cluster.tasks import (
  PS,
  WORKER,
  ClusterError,
  ClusterFault,
  TaskSpec,
  check_port_free,
  wait_for_ps,
)
from dnn_toolkit.cluster.watch import TaskWatch
from dnn_toolkit.errors import CheckpointError

if TYPE_CHECKING:  # Not at run time: `training` would load TensorFlow on import.
  from dnn_toolkit.config import DNNConfig
  from dnn_toolkit.data.arrays import DataSet

#: Seconds the chief's MonitoredSession waits for its queue-runner threads.
STOP_GRACE_S = 3
#: Seconds one blocked training step may wait before the loop checks why.
POLL_S = 2.0
#: What a worker does when another is lost: stop (sync's default), continue (async's).
ON_WORKER_LOSS = ("stop", "continue")


def _tf():
  """TensorFlow, imported on first use: the cluster checks run before it loads."""
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  return compat.import_tensorflow_quietly()


# ---------------------------------------------------------------------- the ps task


def task_session_config(task: TaskSpec, session_config: Any = None) -> Any:
  """The session config of a task: `session_config` with the task's device filters.

  `session_config` is a `tf.compat.v1.ConfigProto` (default an empty one); unless it
  sets device filters, a ps task sees itself and a worker or chief the ps tasks and
  itself, so a worker's session starts without waiting for every other worker.
  """
  config = _tf().compat.v1.ConfigProto()
  if session_config is not None:
    config.CopyFrom(session_config)
  if not config.device_filters:
    config.device_filters.extend(
        [f"/job:{PS}/task:{task.task_index}"] if task.job_name == PS else
        [f"/job:{PS}", f"/job:{task.job_name}/task:{task.task_index}"])
  return config


def start_server(task: TaskSpec, session_config: Any = None) -> tuple[Any, Any]:
  """Starts this task's `tf.compat.v1.train.Server`; returns (server, session config).

  The one way a task of a cluster starts serving, for the toolkit's own tasks and for
  an Estimator's (`dnn_toolkit.estimator.training`); the session config is
  `task_session_config(task, session_config)`.

  Raises:
    ClusterError: the port is in use, or the server does not start.
  """
  tf = _tf()
  v1 = tf.compat.v1
  check_port_free(task)
  config = task_session_config(task, session_config)
  spec = v1.train.ClusterSpec({job: list(hosts) for job, hosts in task.cluster.items()})
  try:
    server = v1.train.Server(spec, job_name=task.job_name, task_index=task.task_index,
                             config=config, start=True)
  except tf.errors.OpError as error:
    raise ClusterError(f"Cannot start {task.name} at {task.address}: "
                       f"{error.message.splitlines()[0]}") from None
  return server, config


def _done_queues(task):
  """One queue per ps task, on it, where each worker posts its `worker_id` when done."""
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
  server, config = start_server(task)
  print(f"{task.name}: serving at {task.address}", file=stream, flush=True)
  with tf.Graph().as_default(), TaskWatch(task):  # Its launcher, if it has one.
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
  """How a worker trains; the distributed counterpart of `runs.lifecycle.train`'s arguments.

  Attributes:
    epochs: positive int, passes over the training set by all workers together.
      Default None: the chief's run's (a resumed run's record, else 20); a non-chief
      worker then trains until the chief stops it.
    batch_size: positive int, examples per step of one worker. Default None: the run's,
      else 50 (a non-chief worker, which reads no record: 50).
    patience: early-stopping patience in epochs; None disables it. Default
      `runs.lifecycle.UNSET`: the run's, else 5.
    sync: aggregate the workers' gradients with `SyncReplicasOptimizer`.
    save_every_steps: optional positive int; the chief also saves `latest` whenever the
      global step crosses a multiple of it.
    log_every_steps: positive int, global steps between TensorBoard diagnostics.
    startup_timeout: positive seconds to wait for the ps tasks and, on a non-chief
      worker, for the chief to initialize the variables; on the chief, how long a
      worker has to make its first step before it is lost.
    replica_timeout: positive seconds a training step may stay blocked (sync: waiting
      for the other workers' gradients), a ps may stay unreachable, and a worker may
      make no step before it is lost.
    on_worker_loss: what the chief does when a worker is lost: 'stop' (save the
      position, end the run) or 'continue' (train on, the chief taking the lost
      worker's examples). Default None: 'stop' with `sync`, else 'continue'.
    verbose: 0 for silence, 1 for a line per epoch (chief) and at start and end.
  """
  epochs: int | None = None
  batch_size: int | None = None
  patience: Any = dataclasses.field(default_factory=lambda: _lifecycle().UNSET)
  sync: bool = False
  save_every_steps: int | None = None
  log_every_steps: int = 100
  startup_timeout: float = 60.0
  replica_timeout: float = 60.0
  on_worker_loss: str | None = None
  verbose: int = 1

  def validate(self) -> "Options":
    """Raises ValueError or TypeError naming the first bad option; returns self."""
    for name in ("epochs", "batch_size", "save_every_steps"):
      if getattr(self, name) is not None:
        _validation.check_positive_int(name, getattr(self, name))
    if self.patience is not None and not _unset(self.patience):
      _validation.check_positive_int("patience", self.patience)
    _validation.check_positive_int("log_every_steps", self.log_every_steps)
    _validation.check_bool("sync", self.sync)
    for name in ("startup_timeout", "replica_timeout"):
      _validation.check_in_range(name, getattr(self, name), 0.0, None, low_open=True)
    if self.on_worker_loss is not None:
      _validation.check_choice("on_worker_loss", self.on_worker_loss, ON_WORKER_LOSS)
    return self

  @property
  def worker_loss(self) -> str:
    """`on_worker_loss`, its default resolved: 'stop' with `sync`, else 'continue'."""
    return self.on_worker_loss or ("stop" if self.sync else "continue")


def _lifecycle():
  from dnn_toolkit.runs import lifecycle  # pylint: disable=import-outside-toplevel
  return lifecycle


def _unset(value):
  """Whether `value` is `runs.lifecycle.UNSET`, without loading it (nor TensorFlow)."""
  lifecycle = sys.modules.get("dnn_toolkit.runs.lifecycle")
  return lifecycle is not None and value is lifecycle.UNSET


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
  ready: object           # names of the uninitialized variables (empty: ready)
  worker_steps: object    # int64 [num_workers] on a ps: the steps each worker ran
  count_step: object      # adds 1 to this worker's count (run with each step)


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
    worker_steps = v1.get_variable("distributed/worker_steps", shape=(task.num_workers,),
                                   dtype=tf.int64, initializer=v1.zeros_initializer(),
                                   trainable=False)
    train_op, release, sync_hook = dnn.train_op, None, None
    if sync:
      train_op, release, sync_hook = _sync_train_op(task, config, dnn, optimizers)
  with tf.device(worker_device):
    set_stop = v1.assign(stop, True).op
    count_step = v1.scatter_add(worker_steps, [task.task_index],
                                tf.constant([1], tf.int64)).op
    ready = (None if task.is_chief else
             v1.report_uninitialized_variables(v1.global_variables()))
  return _WorkerGraph(dnn, train_op, stop, set_stop, release, sync_hook, ready,
                      worker_steps, count_step)


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
  It runs after every session creation, the first and those after a ps restart.
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
    # TF's hook checks it too; unused, TensorFlow logs "Object was never used" at exit.
    self._ready = optimizer.ready_for_local_init_op
    self._tokens = optimizer.get_init_tokens_op()

  def begin(self):
    pass

  def after_create_session(self, session, coord):
    uninitialized = session.run(self._ready)
    if len(uninitialized):  # The session creator initializes or restores them first.
      raise ClusterError("The sync chief's session started with uninitialized variables: "
                         f"{', '.join(v.decode() for v in uninitialized[:5])}")
    session.run(self._init_op)
    self._runner.create_threads(session, coord=coord, daemon=True, start=True)
    session.run(self._tokens)

  def before_run(self, run_context):
    return None

  def after_run(self, run_context, run_values):
    pass

  def end(self, session):
    pass


# ------------------------------------------------------------------ a checkpoint


def evaluate_checkpoint(config: "DNNConfig", n_inputs: int, prefix: str,
                        images: "np.ndarray", labels: "np.ndarray") -> dict[str, float]:
  """Restores a checkpoint into a fresh `build_dnn` graph; returns its metrics.

  Returns:
    {'loss': mean cross-entropy, 'accuracy': ...}, as `training.loop.evaluate`.
  """
  tf = _tf()
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import model, scopes
  from dnn_toolkit.training import loop
  with tf.Graph().as_default() as graph:
    dnn = model.build_dnn(config, n_inputs)
    variables = tf.compat.v1.model_variables()
    with tf.compat.v1.Session(graph=graph) as sess:
      scopes.restore(sess, prefix, var_list=variables)
      return loop.evaluate(sess, dnn, images, labels)


# ----------------------------------------------------------------- a worker's loop


def train_worker(task: TaskSpec, config: "DNNConfig",
                 train: "DataSet | tuple[np.ndarray, np.ndarray]",
                 validation: "DataSet | tuple[np.ndarray, np.ndarray]",
                 test: "DataSet | tuple[np.ndarray, np.ndarray] | None" = None, *,
                 run_dir: str, options: Options | None = None,
                 data: dict[str, Any] | None = None,
                 stream: TextIO | None = None) -> Any:
  """Trains as one worker of the cluster; the chief (worker 0) also keeps `run_dir`.

  The chief opens its run directory through the run lifecycle, as a local run does
  (`runs.lifecycle.Run.open`: the lock, the record read once, the settings, the
  config, batch size and data checked, the checkpoints verified), with resume 'auto':
  a chief started on a run directory holding a run continues it from its latest
  checkpoint, as MonitoredTrainingSession's recovery does in TF 1.x, taking the run's
  epochs, batch size and patience where `options` leaves them None. Other workers may
  be restarted at any time and rejoin.

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
      `identity`), recorded by the chief with the digests of `data_identity`.
    stream: where progress goes. Default sys.stdout.

  Returns:
    On the chief a `runs.lifecycle.RunResult`; None on the other workers.

  Raises:
    ValueError, TypeError: a bad argument, before anything is started or written.
    RunLockedError, CheckpointError, ConfigMismatchError: (chief) `run_dir` is in use,
      or holds a run of another configuration, batch size or data, or damaged
      checkpoints; nothing is changed.
    ClusterError: the port is in use, a ps or the chief cannot be reached within
      `startup_timeout`.
    ClusterFault: training failed: a step stayed blocked for `replica_timeout`, or
      (chief, `on_worker_loss` 'stop') a worker was lost.
  """
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.data.arrays import as_arrays
  from dnn_toolkit.runs import lifecycle
  from dnn_toolkit.training import loop
  options = (options or Options()).validate()
  config = config.validate()
  stream = stream or sys.stdout
  if task.job_name != WORKER:
    raise ValueError(f"Expected a worker task. Received: job_name={task.job_name!r}")
  if not task.is_chief:  # It reads no record: the defaults stand for what is not given.
    batch_size = options.batch_size or lifecycle.DEFAULT_BATCH_SIZE
    options = dataclasses.replace(options, batch_size=batch_size, patience=None)
    loop.check_fit_arguments(config, as_arrays("train", train)[0].shape[1], train,
                             validation, options.epochs or 1, batch_size, None)
  check_port_free(task)
  if not task.is_chief:
    wait_for_ps(task, options.startup_timeout)
    _train(task, options, config, as_arrays("train", train), None, None, stream)
    return None
  settings = lifecycle.Settings(
      epochs=options.epochs, batch_size=options.batch_size, patience=options.patience,
      save_every_steps=options.save_every_steps,
      log_every_steps=options.log_every_steps, verbose=options.verbose)
  with lifecycle.Run.open(run_dir, config, resume="auto", settings=settings,
                          train=train, validation=validation, test=test,
                          data=data) as run:
    return ClusterSession(task, options).train(run, stream=stream)


class ClusterSession:
  """The chief's session strategy for the run lifecycle: a MonitoredSession.

  Args:
    task: the chief's `TaskSpec`.
    options: the cluster's `Options`; the run's resolved settings replace its
      epochs, batch size and patience.
  """

  def __init__(self, task: TaskSpec, options: Options) -> None:
    self.task, self.options = task, options

  def train(self, run: Any, *, hook_factories: Any = (),
            stream: TextIO | None = None) -> Any:
    """Trains the opened `run` as the chief; returns its `RunResult`."""
    # pylint: disable=import-outside-toplevel
    from dnn_toolkit.data.arrays import as_arrays
    from dnn_toolkit.runs import nets
    if hook_factories:
      raise ValueError("A cluster run takes no extra hooks. Received: "
                       f"hook_factories={hook_factories!r}")
    if run.net.kind != nets.PLAIN:
      raise CheckpointError(f"{run.run_dir!r} holds a {run.net.kind} run, which trains "
                            "in one process (`dnn-toolkit transfer`), not on a cluster. "
                            "Nothing was changed.")
    s = run.settings
    options = dataclasses.replace(self.options, epochs=s.epochs,
                                  batch_size=s.batch_size, patience=s.patience)
    wait_for_ps(self.task, options.startup_timeout)  # The run was checked first.
    train, validation, test = run.data
    return _train(self.task, options, run.config, as_arrays("train", train),
                  as_arrays("validation", validation), test, stream or sys.stdout,
                  run=run)


def _train(task, options, config, train, valid, test, stream, run=None):
  """A worker's training once every argument is checked; the chief's keeps `run`."""
  from dnn_toolkit.cluster.chief import Chief  # pylint: disable=import-outside-toplevel
  X = train[0]
  server, session_config = start_server(task)
  spe = steps_per_epoch(len(X), options.batch_size, task.num_workers, options.sync)
  tf = _tf()
  graph = tf.Graph()
  with TaskWatch(task, ps_timeout=options.replica_timeout):
    with graph.as_default():
      built = _build_worker_graph(task, config, X.shape[1], options.sync)
      chief = (Chief(task, built.dnn, run, valid, options, spe, stream)
               if run is not None else None)
      sess = _monitored_session(task, server, session_config, built, chief, options)
    if options.verbose:
      own, mode = len(range(task.task_index, len(X), task.num_workers)), (
          "sync" if options.sync else "async")
      print(f"{task.name}: training on {own} examples ({mode}, {spe} global steps per "
            "epoch)", file=stream, flush=True)
    started, test_metrics = time.perf_counter(), None
    try:
      with graph.as_default():
        if chief is None:
          steps = _train_loop(sess, built, None, train, options, spe, task)
        else:
          steps = _chief_loop(sess, built, chief, train, options, spe, task)
          test_metrics = chief.finish(test)
    finally:
      sess.close()  # Bounded: STOP_GRACE_S for the sync queue runner; a dead ps: the watch.
    post_done(task, server, session_config)
  if options.verbose:
    print(f"{task.name}: finished after {steps} steps of its own", file=stream,
          flush=True)
  if chief is None:
    return None
  from dnn_toolkit.runs import lifecycle  # pylint: disable=import-outside-toplevel
  return lifecycle.RunResult(run.run_dir, chief.state, test_metrics,
                             chief.checkpoint.best_checkpoint,
                             time.perf_counter() - started, run.record)


def _chief_loop(sess, built, chief, train, options, spe, task):
  """The chief's loop: as `fit`, an interrupt saves the position, a divergence nothing.

  Whatever ends it, the other workers are told to stop.
  """
  try:
    with chief.guarded():
      steps = _train_loop(sess, built, chief, train, options, spe, task)
      chief.catch_up()
  finally:
    try:
      _stop_others(sess, built)
    except _tf().errors.OpError:
      pass  # A ps gone: the others end on their own (their watch, their timeouts).
  return steps


def _monitored_session(task, server, session_config, built, chief, options):
  """The MonitoredSession of a worker; re-created (recovered) after a ps restart."""
  v1 = _tf().compat.v1
  hooks = [h for h in (built.sync_hook, chief) if h is not None]
  if chief:
    latest_dir = os.path.join(chief.run.run_dir, "latest")
    if chief.run.resumption is not None:
      # The session restores what the 'checkpoint' file names: the one the run
      # accepted to continue from (a killed process may have named a newer one).
      latest = chief.run.resumption.latest
      v1.train.update_checkpoint_state(latest_dir, os.path.basename(latest),
                                       [os.path.basename(latest)])
    # Restores `latest` on the chief's own disk (not sharded onto the ps tasks).
    scaffold = v1.train.Scaffold(saver=v1.train.Saver(max_to_keep=2,
                                                      save_relative_paths=True))
    creator = v1.train.ChiefSessionCreator(scaffold=scaffold, master=server.target,
                                           config=session_config,
                                           checkpoint_dir=latest_dir)
  else:
    creator = _InitializedFirst(task, server, session_config, built, options)
  return v1.train.MonitoredSession(session_creator=creator, hooks=hooks,
                                   stop_grace_period_secs=STOP_GRACE_S)


class _InitializedFirst:
  """A non-chief worker's session creator (`SessionCreator`): waits for the chief first.

  TensorFlow's `WorkerSessionCreator` checks whether the chief has initialized (or, after
  a ps restart, restored) the variables only every 30 s; this checks twice a second,
  then creates the session, which finds them ready at once.
  """

  def __init__(self, task, server, session_config, built, options):
    self.task, self.server, self.config = task, server, session_config
    self.built, self.options = built, options
    self.created = 0
    self._creator = _tf().compat.v1.train.WorkerSessionCreator(
        master=server.target, config=session_config,
        max_wait_secs=options.startup_timeout)

  def create_session(self):
    error = ClusterFault if self.created else ClusterError
    wait_until_initialized(self.task, self.server.target, self.config,
                           self.built.ready, self.options.startup_timeout, error=error)
    self.created += 1
    return self._creator.create_session()


def _shard(X, y, shards, num_workers):
  """The examples of the workers `shards`: `index::num_workers` for each index."""
  if len(shards) == 1:
    return X[shards[0]::num_workers], y[shards[0]::num_workers]
  indices = np.sort(np.concatenate([np.arange(i, len(X), num_workers) for i in shards]))
  return X[indices], y[indices]


def wait_until_initialized(task: TaskSpec, target: str, session_config: Any,
                           ready: Any, timeout: float, *,
                           setting: str = "startup_timeout, --startup-timeout",
                           chief: str = "the chief, worker 0",
                           error: type[Exception] = ClusterError) -> None:
  """Waits until the chief has initialized the variables on the ps tasks.

  MonitoredTrainingSession checks only every 30 s; this checks twice a second.

  Args:
    task: this (non-chief) worker's `TaskSpec`.
    target: the master to ask, this task's server (`server.target`).
    session_config: the task's session config (`task_session_config`).
    ready: `report_uninitialized_variables()` of the worker's graph: empty when ready.
    timeout: positive seconds.
    setting: how the message names the setting behind `timeout`.
    chief: how the message names the chief.
    error: the error raised (`ClusterFault` for a session re-created after a fault).

  Raises:
    `error` (ClusterError): after `timeout` seconds.
  """
  tf = _tf()
  deadline = time.monotonic() + timeout
  with tf.compat.v1.Session(target, graph=ready.graph, config=session_config) as sess:
    while len(sess.run(ready)):
      if time.monotonic() >= deadline:
        raise error(f"{task.name} waited {timeout:g} s ({setting}) for {chief} to "
                    "initialize the variables. Is it running?")
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


def _train_loop(sess, built, chief, train, options, spe, task):
  """Steps until the last global step or the chief's stop; returns this worker's steps.

  The chief also follows the other workers' step counts (`Chief.check_workers`) and
  takes the examples of a lost one into its batches while training goes on.
  """
  tf = _tf()
  dnn = built.dnn
  last_step = options.epochs * spe if options.epochs else None
  step, stop = sess.run([dnn.global_step, built.stop])
  seed = dnn.config.seed if dnn.config.seed is not None else task.task_index
  shards = [task.task_index]

  def batches_of(now):  # Of workers `now`, from the epoch where the global step is.
    examples = _shard(*train, now, task.num_workers)
    if now != [task.task_index]:
      others = [str(i) for i in now[1:]]
      chief.say(f"training on {len(examples[1])} examples, its own and those of "
                f"worker{'s' * (len(others) > 1)} {', '.join(others)}")
    elif shards != now:
      chief.say(f"training on {len(examples[1])} examples, its own")
    return _shard_batches(*examples, options.batch_size, seed, int(step) // spe)

  first = shards
  if chief is not None and options.sync:
    first = chief.wait_for_workers(lambda: sess.run(built.worker_steps))
  batches, shards = batches_of(first), first
  timeout = tf.compat.v1.RunOptions(timeout_in_ms=int(POLL_S * 1000))
  fetches = [built.train_op, dnn.batch_stats, dnn.global_step, built.count_step,
             built.worker_steps]
  steps = 0
  while not (stop or _ended(step, last_step) or (chief and chief.done)):
    X_batch, y_batch = next(batches)
    feed = {dnn.X: X_batch, dnn.y: y_batch, dnn.is_training: True}
    result = _blocking_step(sess, fetches, feed, timeout, built, last_step, options,
                            task)
    if result is None:  # Finished while this step waited.
      break
    _, stats, step, _, counts = result
    if not math.isfinite(stats[0]):
      from dnn_toolkit.errors import TrainingDivergedError  # pylint: disable=import-outside-toplevel
      raise TrainingDivergedError(f"Training diverged on {task.name}: the loss became "
                                  f"{stats[0]} at global step {step}.")
    if dnn.max_norm_op is not None:
      sess.run(dnn.max_norm_op)
    steps += 1
    if chief is None:
      stop = sess.run(built.stop) if steps % 10 == 0 else stop
      continue
    chief.after_step(int(step), stats, X_batch, y_batch)
    now = chief.check_workers(counts)
    if now != shards:  # A worker lost or back: the chief's examples change.
      batches, shards = batches_of(now), now
  return steps


def _ended(step, last_step):
  return last_step is not None and step >= last_step


def _blocking_step(sess, fetches, feed, timeout, built, last_step, options, task):
  """Runs one step, re-checking every POLL_S whether the run ended while it waited.

  Returns the step's results, or None if training ended (the global step reached the
  end, or the chief set the stop flag) while the step was blocked.

  Raises:
    ClusterFault: if the step stayed blocked for `options.replica_timeout` seconds.
  """
  errors = _tf().errors
  waited = 0.0
  while True:
    try:
      return sess.run(fetches, feed, options=timeout)
    except errors.DeadlineExceededError:
      step, stop = sess.run([built.dnn.global_step, built.stop])
      if stop or _ended(step, last_step):
        return None
      waited += POLL_S
      if waited >= options.replica_timeout:
        kind = ("the other workers' gradients (sync)" if options.sync
                else "the ps tasks")
        raise ClusterFault(
            f"{task.name} waited {waited:g} s (replica_timeout, --replica-timeout) for "
            f"{kind} at global step {step}; a worker or ps is gone. Restart it, or the "
            "cluster: the chief continues from its last checkpoint.") from None


def _stop_others(sess, built):
  """Tells the other workers to stop, and (sync) frees those blocked on a token."""
  sess.run(built.set_stop)
  if built.release_tokens is not None:
    sess.run(built.release_tokens)


def post_done(task: TaskSpec, server: Any, session_config: Any) -> None:
  """Posts this worker's `worker_id` to every ps task, which stops after all posted.

  The end of every task that trains (the toolkit's workers, an Estimator's chief and
  workers); `run_ps` waits for it.
  """
  tf = _tf()
  with tf.Graph().as_default() as graph:
    enqueues = [q.enqueue(task.worker_id) for q in _done_queues(task)]
  with tf.compat.v1.Session(server.target, graph=graph, config=session_config) as sess:
    for enqueue in enqueues:
      try:
        sess.run(enqueue, options=tf.compat.v1.RunOptions(timeout_in_ms=10000))
      except tf.errors.OpError as error:  # A ps already gone: nothing left to stop.
        print(f"note: could not tell a ps task this worker finished: "
              f"{error.message.splitlines()[0]}", file=sys.stderr, flush=True)
