"""`RunConfig`: where an Estimator writes, how often, and which task of a cluster it is.

    config = tf.estimator.RunConfig(model_dir="runs/mnist", save_checkpoints_steps=500,
                                    keep_checkpoint_max=3, tf_random_seed=42)

TF 1.15's settings and defaults: a checkpoint every 600 seconds unless
`save_checkpoints_steps` is given, summaries every 100 steps, the global step per
second logged every 100 steps, the 5 newest checkpoints kept. The cluster comes from
the `TF_CONFIG` environment variable, read and checked by the toolkit's one reader of
it (`dnn_toolkit.cluster.tasks.resolve_task` with `ESTIMATOR_JOBS`): a 'chief', 'ps'
and 'worker' jobs, and an 'evaluator' task outside the cluster. Without a cluster the
Estimator trains in this process.
"""

import copy
import os
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.cluster import tasks
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError

_V1 = tf.compat.v1
_USE_DEFAULT = object()
#: Seconds between checkpoints when neither `save_checkpoints_steps` nor `_secs` is set.
DEFAULT_SAVE_CHECKPOINTS_SECS = 600


class TaskType:
  """The task types of `TF_CONFIG`."""

  MASTER = "master"
  PS = tasks.PS
  WORKER = tasks.WORKER
  CHIEF = tasks.CHIEF
  EVALUATOR = tasks.EVALUATOR


_REPLACEABLE = ("model_dir", "tf_random_seed", "save_summary_steps",
                "save_checkpoints_steps", "save_checkpoints_secs", "session_config",
                "keep_checkpoint_max", "keep_checkpoint_every_n_hours",
                "log_step_count_steps", "train_distribute", "device_fn", "protocol",
                "eval_distribute", "experimental_distribute",
                "experimental_max_worker_delay_secs", "session_creation_timeout_secs",
                "checkpoint_save_graph_def")


def get_default_session_config() -> Any:
  """The session config of an Estimator given none: soft placement, one Grappler pass."""
  # pylint: disable=import-outside-toplevel
  from tensorflow.core.protobuf import rewriter_config_pb2
  rewrite = rewriter_config_pb2.RewriterConfig(
      meta_optimizer_iterations=rewriter_config_pb2.RewriterConfig.ONE)
  return _V1.ConfigProto(allow_soft_placement=True,
                         graph_options=_V1.GraphOptions(rewrite_options=rewrite))


class RunConfig:
  """The run settings of an Estimator, and its task of a cluster (from `TF_CONFIG`).

  Args:
    model_dir: where checkpoints and summaries go; None: the Estimator's argument,
      else a temporary directory.
    tf_random_seed: optional int, the graph-level random seed.
    save_summary_steps: summaries every this many steps (0: none). Default 100.
    save_checkpoints_steps: a checkpoint every this many steps; not with
      `save_checkpoints_secs`.
    save_checkpoints_secs: a checkpoint every this many seconds. Default 600 when
      neither is given; both None: no checkpoints while training.
    session_config: optional `tf.compat.v1.ConfigProto`.
    keep_checkpoint_max: the newest checkpoints kept (0 or None: all). Default 5.
    keep_checkpoint_every_n_hours: also keep one checkpoint per this many hours.
    log_step_count_steps: the loss and global step per second are logged (and
      written as `global_step/sec`) every this many steps. Default 100.
    train_distribute, eval_distribute, experimental_distribute: `tf.distribute`
      strategies; not supported (None), see docs/estimator.md.
    device_fn: optional `fn(op) -> device`; default the ps placement of a cluster.
    protocol: None or 'grpc'.
    experimental_max_worker_delay_secs: optional int, the longest a non-chief worker
      waits before it starts training (TF 1.x staggers them by 5 s each, up to 60).
    session_creation_timeout_secs: positive seconds a worker waits for its session
      (for the chief to initialize the variables). Default 7200.
    checkpoint_save_graph_def: write `graph.pbtxt` and the `.meta` files. Default True.

  Raises:
    ArgumentError, ArgumentTypeError: a bad setting, or both checkpoint intervals.
    ValueError: `TF_CONFIG` is malformed or names a task outside its cluster.
  """

  def __init__(self, model_dir: str | os.PathLike[str] | None = None,
               tf_random_seed: int | None = None, save_summary_steps: int = 100,
               save_checkpoints_steps: Any = _USE_DEFAULT,
               save_checkpoints_secs: Any = _USE_DEFAULT, session_config: Any = None,
               keep_checkpoint_max: int = 5, keep_checkpoint_every_n_hours: float = 10000,
               log_step_count_steps: int = 100, train_distribute: Any = None,
               device_fn: Any = None, protocol: str | None = None,
               eval_distribute: Any = None, experimental_distribute: Any = None,
               experimental_max_worker_delay_secs: int | None = None,
               session_creation_timeout_secs: float = 7200,
               checkpoint_save_graph_def: bool = True) -> None:
    steps_default = save_checkpoints_steps is _USE_DEFAULT
    secs_default = save_checkpoints_secs is _USE_DEFAULT
    if steps_default and secs_default:
      save_checkpoints_steps, save_checkpoints_secs = None, DEFAULT_SAVE_CHECKPOINTS_SECS
    elif secs_default:
      save_checkpoints_secs = None
    elif steps_default:
      save_checkpoints_steps = None
    tf_config = tasks.read_tf_config()
    values = dict(
        model_dir=_model_dir(model_dir, tf_config), tf_random_seed=tf_random_seed,
        save_summary_steps=save_summary_steps,
        save_checkpoints_steps=save_checkpoints_steps,
        save_checkpoints_secs=save_checkpoints_secs, session_config=session_config,
        keep_checkpoint_max=keep_checkpoint_max,
        keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
        log_step_count_steps=log_step_count_steps, train_distribute=train_distribute,
        device_fn=device_fn, protocol=protocol, eval_distribute=eval_distribute,
        experimental_distribute=experimental_distribute,
        experimental_max_worker_delay_secs=experimental_max_worker_delay_secs,
        session_creation_timeout_secs=session_creation_timeout_secs,
        checkpoint_save_graph_def=checkpoint_save_graph_def)
    _check(values)
    self.__dict__.update({"_" + k: v for k, v in values.items()})
    self._init_task(tf_config)

  # ------------------------------------------------------------------- the task

  def _init_task(self, tf_config):
    """Sets the cluster properties from `TF_CONFIG`, as TF 1.15's RunConfig did."""
    self._task_spec = None
    if tf_config.get("cluster"):
      task = tasks.resolve_task(environ={tasks.TF_CONFIG: _dumps(tf_config)},
                                jobs=tasks.ESTIMATOR_JOBS)
      self._task_spec = task
      self._task_type, self._task_id = task.job_name, task.task_index
      self._is_chief = task.is_chief
      if task.job_name == tasks.EVALUATOR:  # Outside the training cluster.
        self._cluster_spec = _V1.train.ClusterSpec({})
        self._master, self._num_ps_replicas, self._num_worker_replicas = "", 0, 0
        self._global_id_in_cluster = None
      else:
        self._cluster_spec = _V1.train.ClusterSpec(
            {job: list(hosts) for job, hosts in task.cluster.items()})
        single = sum(len(hosts) for hosts in task.cluster.values()) == 1
        self._master = tf_config.get("session_master") or (
            "" if single else "grpc://" + task.address)
        self._num_ps_replicas = len(task.cluster.get(tasks.PS, ()))
        self._num_worker_replicas = task.num_workers
        self._global_id_in_cluster = (task.worker_id if task.worker_id is not None
                                      else task.num_workers + task.task_index)
      return
    task = tf_config.get("task") or {}
    self._task_type = task.get("type", TaskType.WORKER)
    self._task_id = task.get("index", 0)
    if self._task_type != TaskType.WORKER or self._task_id != 0:
      raise ValueError(f"Received an invalid value for {tasks.TF_CONFIG} 'task': "
                       "without a 'cluster' the task must be worker 0 (local "
                       f"training). Received: {task!r}")
    self._cluster_spec = _V1.train.ClusterSpec({})
    self._master = tf_config.get("session_master", "")
    self._is_chief, self._num_ps_replicas, self._num_worker_replicas = True, 0, 1
    self._global_id_in_cluster = 0

  @property
  def cluster_spec(self) -> Any:
    return self._cluster_spec

  @property
  def task_type(self) -> str:
    return self._task_type

  @property
  def task_id(self) -> int:
    return self._task_id

  @property
  def is_chief(self) -> bool:
    return self._is_chief

  @property
  def master(self) -> str:
    return self._master

  @property
  def evaluation_master(self) -> str:
    return ""

  @property
  def num_ps_replicas(self) -> int:
    return self._num_ps_replicas

  @property
  def num_worker_replicas(self) -> int:
    return self._num_worker_replicas

  @property
  def global_id_in_cluster(self) -> int | None:
    return self._global_id_in_cluster

  @property
  def task_spec(self) -> tasks.TaskSpec | None:
    """This task as the toolkit's `TaskSpec` (None without a cluster)."""
    return self._task_spec

  @property
  def service(self) -> None:
    return None

  # --------------------------------------------------------------- the settings

  def __getattr__(self, name: str) -> Any:
    if name in _REPLACEABLE:
      return self.__dict__["_" + name]
    raise AttributeError(f"'RunConfig' object has no attribute {name!r}")

  def replace(self, **changes: Any) -> "RunConfig":
    """A copy with `changes` (only the constructor's settings may change).

    Setting one checkpoint interval clears the other, as in TF 1.15.

    Raises:
      ArgumentError: an unknown or bad setting, or both intervals set.
    """
    unknown = sorted(set(changes) - set(_REPLACEABLE))
    if unknown:
      raise ArgumentError(unknown[0], "Received {name}, which RunConfig.replace cannot "
                                      f"change; it changes {', '.join(_REPLACEABLE)}.",
                          changes[unknown[0]])
    values = {k: getattr(self, k) for k in _REPLACEABLE}
    values.update(changes)
    steps, secs = "save_checkpoints_steps", "save_checkpoints_secs"
    if steps in changes and secs not in changes and changes[steps] is not None:
      values[secs] = None
    if secs in changes and steps not in changes and changes[secs] is not None:
      values[steps] = None
    _check(values)
    new = copy.copy(self)
    new.__dict__.update({"_" + k: v for k, v in values.items()})
    return new

  def __repr__(self) -> str:
    shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in _REPLACEABLE[:9])
    return f"RunConfig({shown}, task_type={self.task_type!r}, task_id={self.task_id})"


def _dumps(value):
  import json  # pylint: disable=import-outside-toplevel
  return json.dumps(value)


def _model_dir(model_dir, tf_config):
  """The model directory: the argument, or `TF_CONFIG`'s 'model_dir'; not both apart."""
  if model_dir is not None:
    model_dir = _validation.check_path("model_dir", model_dir)
    if not model_dir:
      raise ArgumentError("model_dir", "Received an invalid value for {name}, expected "
                                       "a directory. Received: {received}", model_dir)
  from_env = tf_config.get("model_dir")
  if from_env and model_dir and os.path.abspath(from_env) != os.path.abspath(model_dir):
    raise ArgumentError("model_dir", f"Received {{name}} that differs from "
                                     f"{tasks.TF_CONFIG}'s model_dir {from_env!r}. "
                                     "Received: {received}", model_dir)
  return model_dir or from_env or None


def _check(values):
  """Checks the settings of a RunConfig, naming the first bad one."""
  if (values["save_checkpoints_steps"] is not None
      and values["save_checkpoints_secs"] is not None):
    raise ArgumentError("save_checkpoints_steps", "Received both {name} and "
                                                  "`save_checkpoints_secs`; set one "
                                                  "of them. Received: {received}",
                        values["save_checkpoints_steps"])
  for name in ("save_summary_steps", "save_checkpoints_steps", "save_checkpoints_secs",
               "keep_checkpoint_max"):
    if values[name] is not None:
      _validation.check_non_negative_int(name, values[name])
  _validation.check_positive_int("log_step_count_steps", values["log_step_count_steps"])
  _validation.check_in_range("keep_checkpoint_every_n_hours",
                             values["keep_checkpoint_every_n_hours"], 0, None,
                             low_open=True)
  _validation.check_in_range("session_creation_timeout_secs",
                             values["session_creation_timeout_secs"], 0, None,
                             low_open=True)
  _validation.check_optional_seed("tf_random_seed", values["tf_random_seed"])
  if values["experimental_max_worker_delay_secs"] is not None:
    _validation.check_non_negative_int("experimental_max_worker_delay_secs",
                                       values["experimental_max_worker_delay_secs"])
  if values["session_config"] is not None and not isinstance(values["session_config"],
                                                             _V1.ConfigProto):
    raise ArgumentTypeError("session_config", "Expected {name} to be a "
                                              "tf.compat.v1.ConfigProto. Received: "
                                              "{received}", values["session_config"])
  _validation.check_choice("protocol", values["protocol"], (None, "grpc"))
  _validation.check_callable("device_fn", values["device_fn"])
  _validation.check_bool("checkpoint_save_graph_def", values["checkpoint_save_graph_def"])
  for name in ("train_distribute", "eval_distribute", "experimental_distribute"):
    if values[name] is not None:
      raise ArgumentError(name, "Received {name}: tf.distribute strategies are not "
                                "supported by this Estimator; it trains in one "
                                "process, or on a parameter-server cluster from "
                                "TF_CONFIG. Received: {received}", values[name])
