"""The chief's job on a cluster: the run's hooks, epochs, evaluation, and its faults.

Worker 0 is the chief. Beside its own training steps (`cluster.worker`) it keeps the run
directory through the run lifecycle (`runs.lifecycle.Run`), as a local run does, and it
answers the cluster's faults:

- a ps restarted: MonitoredTrainingSession re-creates the session and restores the
  run's last checkpoint onto the new ps; the chief puts its `TrainState` back to the
  position saved with that checkpoint (`Chief.after_create_session`), so the epochs,
  history and early-stopping counters go on from there, as after a resume.
- a worker lost: every worker counts its steps on the ps; one whose count stands still
  for `replica_timeout` seconds (`startup_timeout` before its first step) is lost. The
  chief says so once and follows `Options.on_worker_loss`: 'stop' (sync's default)
  saves the position and ends the run with `ClusterFault`; 'continue' (async's
  default) trains on, the chief taking the lost worker's examples into its own batches
  until the worker steps again.

Imports TensorFlow: the cluster's checks (`cluster.tasks`) run before it loads.
"""

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import tensorflow as tf

from dnn_toolkit import scopes
from dnn_toolkit.cluster.tasks import PS, WORKER, ClusterFault, TaskSpec, answers
from dnn_toolkit.errors import CheckpointError, TrainingDivergedError
from dnn_toolkit.progress import Progress
from dnn_toolkit.runs import nets
from dnn_toolkit.training import hooks as training_hooks
from dnn_toolkit.training import loop
from dnn_toolkit.training.state import TrainState

#: Seconds between two looks at the workers' step counts while the chief waits.
POLL_S = 0.2


class WorkerWatch:
  """Which workers still step, from the step counts every worker keeps on the ps.

  Fed the counts `[num_workers]` after each of the chief's steps (`update`). A worker
  whose count has not moved for `lost_timeout` seconds is lost (`join_timeout` before it
  moved once: a worker may still be starting); one whose count moves again is back.

  Args:
    num_workers: the workers of the cluster; worker 0 (the chief) is not watched.
    lost_timeout: positive seconds without a step before a worker is lost.
    join_timeout: positive seconds a worker has to make its first step.
    clock: `() -> seconds`. Default `time.monotonic`.

  Attributes:
    lost: the indices of the workers lost now.
  """

  def __init__(self, num_workers: int, *, lost_timeout: float, join_timeout: float,
               clock: Callable[[], float] = time.monotonic) -> None:
    self.others = range(1, num_workers)
    self.lost_timeout, self.join_timeout, self.clock = lost_timeout, join_timeout, clock
    self.lost: set[int] = set()
    self._joined: set[int] = set()
    self._counts: list[int] | None = None
    self._moved: dict[int, float] = {}

  def reset(self) -> None:
    """Starts every worker's time afresh (after the session was re-created)."""
    self._counts = None

  def update(self, counts: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
    """Takes the step counts now.

    Returns:
      (workers newly lost, workers back after being lost, workers that made their
      first step since the chief started).
    """
    now, counts = self.clock(), [int(c) for c in counts]
    if self._counts is None:
      self._counts, self._moved = counts, {i: now for i in self.others}
      return [], [], []
    lost, back, joined = [], [], []
    for i in self.others:
      if counts[i] != self._counts[i]:
        self._moved[i] = now
        if i not in self._joined:
          self._joined.add(i)
          joined.append(i)
        if i in self.lost:
          self.lost.discard(i)
          back.append(i)
      elif i not in self.lost and now - self._moved[i] >= self.timeout(i):
        self.lost.add(i)
        lost.append(i)
    self._counts = counts
    return lost, back, joined

  def joined(self, index: int) -> bool:
    """Whether worker `index` has stepped since the chief started."""
    return index in self._joined

  def timeout(self, index: int) -> float:
    """The seconds worker `index` may stand still now."""
    return self.lost_timeout if self.joined(index) else self.join_timeout


class Chief:
  """The chief's part: the run's hooks, epochs and evaluation, on the cluster's Session.

  It composes the hook list `training.loop.fit` composes (`hooks.standard_hooks`: NaN
  stop, early stopping, best weights, the plateau schedule; then the run's checkpoint
  and TensorBoard hooks, `runs.lifecycle.Run.make_hooks`) and ends epochs with the
  loop's own `end_epoch`. It is also a session hook of MonitoredSession (duck-typed
  `SessionRunHook`), to learn of the raw Session it creates and of every re-creation
  after a ps restart.

  Global steps count every worker's updates, so the chief sees them jump: a step is
  passed to the hooks as it comes (the checkpoint and log hooks act on the multiples
  they cross), and an epoch ends whenever the global step crosses one.

  Args:
    task: the chief's `TaskSpec`.
    dnn: the built `DNN`.
    run: the opened `runs.lifecycle.Run`.
    validation: (images, labels), evaluated after each epoch.
    options: the cluster's `worker.Options`, its settings resolved by the run.
    spe: global steps per epoch.
    stream: where progress and messages go.
  """

  def __init__(self, task: TaskSpec, dnn: Any, run: Any, validation: Any,
               options: Any, spe: int, stream: TextIO) -> None:
    self.task, self.dnn, self.run, self.validation = task, dnn, run, validation
    self.options, self.spe, self.stream = options, spe, stream
    self.built = nets.Built(dnn)
    self.checkpoint, run_hooks = run.make_hooks(self.built)
    run.record.extra["distributed"] = {  # The cluster may change between runs.
        "ps": len(task.cluster["ps"]), "workers": task.num_workers, "sync": options.sync}
    self.best_weights = training_hooks.BestWeights()
    self.hooks = training_hooks.standard_hooks(
        dnn, patience=run.settings.patience, best_weights=self.best_weights) + run_hooks
    self.progress = Progress(options.verbose, stream)
    self.workers = WorkerWatch(task.num_workers, lost_timeout=options.replica_timeout,
                               join_timeout=options.startup_timeout)
    self._state: TrainState | None = None
    self.sess = None
    self._saved: tuple[str | None, dict[str, Any], str | None] | None = None
    self._seen = 0
    self._started = time.perf_counter()

  @property
  def state(self) -> TrainState:
    """The run's training state, set when the first session is created."""
    if self._state is None:
      raise RuntimeError("The chief's state is set when its first session starts.")
    return self._state

  # Session hook protocol, called by MonitoredSession.
  def begin(self) -> None:
    pass

  def after_create_session(self, session: Any, coord: Any) -> None:
    """The first session starts the run's state; a re-created one rewinds it."""
    del coord  # Unused.
    self.sess = session
    if self._state is not None:
      self._rewind(session)
      return
    self._state = self.run.initial_state(self.checkpoint, self.best_weights)
    # Means over the examples this process trains on since the epoch began: a
    # restarted chief starts its sums afresh.
    self.state.epoch_loss_sum = self.state.epoch_correct = 0.0
    training_hooks.call_hooks(self.hooks, "begin", session, self.dnn, self.state)
    self._keep_position()

  def before_run(self, run_context: Any) -> None:
    return None

  def after_run(self, run_context: Any, run_values: Any) -> None:
    pass

  def end(self, session: Any) -> None:
    pass

  # The training loop's calls.
  def after_step(self, step: int, stats: Any, X_batch: Any, y_batch: Any) -> None:
    """Records one of the chief's own steps; `step` is the global step after it.

    Its hooks run on the raw Session (evaluation, checkpoints), out of reach of
    MonitoredSession's recovery: when a ps goes away under them, what they did is let
    go, and the next step re-creates the session and rewinds the state.
    """
    try:
      self._record_step(step, stats, X_batch, y_batch)
    except (tf.errors.OpError, CheckpointError) as error:
      if not self._ps_lost(error):
        raise
      self.say("a ps task went away during the chief's evaluation or checkpoint; "
                "training goes on from the last checkpoint once it is back.")

  def _record_step(self, step, stats, X_batch, y_batch):
    state = self.state
    state.global_step = max(step, state.global_step)
    state.batch = state.global_step - state.epoch * self.spe
    state.epoch_loss_sum += float(stats[0]) * len(y_batch)
    state.epoch_correct += float(stats[1]) * len(y_batch)
    self._seen += len(y_batch)
    training_hooks.call_hooks(self.hooks, "after_step", self.sess, state,
                              float(stats[0]), X_batch, y_batch)
    if state.global_step >= (state.epoch + 1) * self.spe and not self.done:
      # The other workers may have crossed several epochs while this one stepped once
      # (async): they end as one, numbered by the global step.
      self._end_epoch(min(state.global_step // self.spe, self.options.epochs))
    self._keep_position()

  @property
  def done(self) -> bool:
    return self.state.stopped_early or self.state.epoch >= self.options.epochs

  def catch_up(self) -> None:
    """Ends the last epoch if the global step is past it but it was not ended.

    A chief restarted after the last step (killed before its evaluation) gets here
    without a step of its own.
    """
    if not self.done and self.state.global_step >= self.options.epochs * self.spe:
      self._end_epoch(self.options.epochs)

  def check_workers(self, counts: Sequence[int]) -> list[int]:
    """Follows the other workers' step counts; returns the shards the chief trains.

    Returns:
      The worker indices whose examples the chief's batches come from: its own, and
      those of the workers lost while training goes on ('continue').

    Raises:
      ClusterFault: a worker was lost with `on_worker_loss` 'stop'; the position is
        saved first.
    """
    lost, back, joined = self.workers.update(counts)
    for index in joined:
      self.say(f"worker {index} ({self._address(index)}) joined: it made its first step.")
    for index in lost:
      self._worker_lost(index)
    for index in back:
      self.say(f"worker {index} ({self._address(index)}) steps again; it trains its "
                "own examples again.")
    return [self.task.task_index] + sorted(self.workers.lost)

  def wait_for_workers(self, read_counts: Callable[[], Sequence[int]]) -> list[int]:
    """Sync: waits, before the first step, until every worker has stepped (or is lost).

    Every sync step aggregates one batch of each worker: without the wait, the chief
    would aggregate batches of its own while the others start. A worker that has not
    stepped within `startup_timeout` seconds is lost (`check_workers`).

    Args:
      read_counts: `() -> [num_workers]` step counts, read from the ps.

    Returns:
      The worker indices whose examples the chief trains, as `check_workers`.
    """
    said = False
    while True:
      shards = self.check_workers(read_counts())
      waiting = [str(i) for i in self.workers.others
                 if not self.workers.joined(i) and i not in self.workers.lost]
      if not waiting:
        return shards
      if not said:
        said = True
        self.say(f"waiting for worker{'s' * (len(waiting) > 1)} {', '.join(waiting)} to "
                 f"step (sync: every step aggregates a batch of each worker; up to "
                 f"{self.options.startup_timeout:g} s, --startup-timeout)")
      time.sleep(POLL_S)

  @contextlib.contextmanager
  def guarded(self) -> Iterator[None]:
    """As `training.loop.guarded`, on the session and state current when it ends."""
    try:
      yield
    except (KeyboardInterrupt, TrainingDivergedError):
      with loop.guarded(self.sess, self.state, self.hooks):
        raise

  def finish(self, test: Any) -> dict[str, float] | None:
    """Puts the best weights back, marks the run finished, evaluates `test`."""
    training_hooks.call_hooks(self.hooks, "end", self.sess, self.state)
    return self.run.finish(self.sess, self.built, test)

  # ------------------------------------------------------------------- helpers

  def _end_epoch(self, epoch):
    self.state.epoch = epoch - 1  # `end_epoch` ends epoch `state.epoch + 1`.
    self.progress.start_epoch(self.state.epoch, self.options.epochs, self.spe)
    loop.end_epoch(self.sess, self.dnn, self.validation, self.state, self.hooks,
                   n_seen=self._seen, started=self._started, progress=self.progress)
    self._seen, self._started = 0, time.perf_counter()

  def _keep_position(self):
    """Keeps the state of the newest checkpoint written: where a ps restart goes back."""
    latest = self.checkpoint.last_checkpoint
    if self._saved is None or self._saved[0] != latest:
      self._saved = (latest, self.state.to_dict(), self.checkpoint.best_checkpoint)

  def _rewind(self, session):
    """Back to the position of the checkpoint the re-created session restored."""
    latest, state, best = self._saved
    self._state = TrainState.from_dict(state)
    self.state.epoch_loss_sum = self.state.epoch_correct = 0.0
    self.state.global_step = int(session.run(self.dnn.global_step))
    self.checkpoint.best_checkpoint = best
    if best is not None:
      self.best_weights.snapshot.load(scopes.load_values(best))
    else:
      self.best_weights.snapshot.values = None
    self._seen, self._started = 0, time.perf_counter()
    self.workers.reset()
    source = f"checkpoint {latest}" if latest else "the start (no checkpoint yet)"
    self.say(f"the ps tasks are back: training goes on from {source}, epoch "
              f"{self.state.epoch}, global step {self.state.global_step}.")

  def _worker_lost(self, index):
    seconds = self.workers.timeout(index)
    if self.workers.joined(index):
      what = (f"worker {index} ({self._address(index)}) has not stepped for {seconds:g} "
              "s (replica_timeout, --replica-timeout): it is lost")
    else:
      what = (f"worker {index} ({self._address(index)}) has not joined within "
              f"{seconds:g} s (startup_timeout, --startup-timeout): it is lost")
    if self.options.worker_loss == "continue":
      mode = "sync" if self.options.sync else "async"
      self.say(f"{what}. Training goes on without it ({mode}, --on-worker-loss "
                f"continue): the chief trains its examples too until it steps again.")
      return
    training_hooks.call_hooks(self.hooks, "on_interrupt", self.sess, self.state)
    raise ClusterFault(
        f"{self.task.name}: {what}. Training stopped at epoch {self.state.epoch}, global "
        f"step {self.state.global_step} (--on-worker-loss stop); the position is saved "
        f"in {self.run.run_dir}. Restart the cluster (the same commands) to continue, "
        "or give --on-worker-loss continue to train on without a lost worker.")

  def _ps_lost(self, error):
    """Whether `error` comes of a ps gone (or restarted): not the chief's own fault."""
    if isinstance(error, (tf.errors.AbortedError, tf.errors.UnavailableError)):
      return True
    return any(answers(address) is not None for address in self.task.cluster[PS])

  def _address(self, index):
    return self.task.cluster[WORKER][index]

  def say(self, text: str) -> None:
    """Writes one line of the chief's, naming it."""
    print(f"{self.task.name}: {text}", file=self.stream, flush=True)

