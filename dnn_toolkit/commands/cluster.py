"""`dnn-toolkit cluster`: train on a TF 1.x cluster of ps and worker tasks.

Two ways to run it. With `--ps N --workers M` it launches a whole cluster of local
processes on free 127.0.0.1 ports (`cluster.launcher.LocalCluster`, which locks the run
directory first), streams their output with task prefixes and stops every process it
started. With `--job-name/--task-index` (or a `TF_CONFIG` variable) it runs one task of
a real cluster whose addresses come from `--cluster` JSON, `--ps-hosts/--worker-hosts`
or `TF_CONFIG`. The train flags are the same either way; as with `train --resume`, a
training flag not given takes the run's own value (the chief's record).

With `--script SCRIPT [ARGS...]` the local cluster runs a TF 1.x Estimator script
instead: every task is the script under the runner (`dnn-toolkit run`) with its own
`TF_CONFIG` (a chief and M - 1 workers, N ps tasks, and with `--evaluator` an
evaluator), as `tf.estimator.train_and_evaluate` expects.

Exit codes: 0; 1 when a task failed while training (one line names it); 2 for bad input
or state, refused before training; 130 when interrupted. Errors go through the command
line's one-line mapping (`cli.error_line`), also in a task started as
`python -m dnn_toolkit cluster`.
"""

import argparse
import os
import sys

from dnn_toolkit.cluster.tasks import EXIT_FAILED, EXIT_INTERRUPTED
from dnn_toolkit.commands import _flags

LOADS_TENSORFLOW = False  # Cluster checks and the launcher's flags need none.

EXAMPLES = """\
examples:
  dnn-toolkit cluster --ps 1 --workers 2 --epochs 5 --run-dir checkpoints/cluster
  dnn-toolkit cluster --ps 1 --workers 2 --sync --hidden-layers 300 100
  # one task of a cluster on several hosts (run each line on its host):
  dnn-toolkit cluster --ps-hosts h0:2222 --worker-hosts h1:2222,h2:2222 \\
      --job-name ps --task-index 0
  dnn-toolkit cluster --ps-hosts h0:2222 --worker-hosts h1:2222,h2:2222 \\
      --job-name worker --task-index 0 --run-dir /shared/run1 --epochs 10
  # under a cluster manager that sets TF_CONFIG:
  dnn-toolkit cluster --epochs 10 --run-dir /shared/run1
  # a TF 1.x Estimator script (train_and_evaluate) on a local cluster:
  dnn-toolkit cluster --ps 1 --workers 2 --evaluator --script train.py --steps 1000
"""

_LAUNCHER_FLAGS = ("ps", "workers")
_TASK_FLAGS = ("job_name", "task_index", "cluster", "ps_hosts", "worker_hosts")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `cluster` with the train flags and the cluster flags."""
  p = subparsers.add_parser(
      "cluster", help="train on a cluster of ps and worker tasks (TF 1.x distributed)",
      description="Between-graph replicated training on TensorFlow's own distributed "
                  "runtime: the ps tasks hold the variables, every worker trains the "
                  "same graph, worker 0 (the chief) keeps the run directory.",
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_cluster_flags(p)
  _flags.add_config_flags(p)
  _flags.add_data_flags(p)
  _flags.add_training_flags(p, resumable=True)
  _flags.add_run_flags(p)
  p.set_defaults(_parser=p)
  return p


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
  """Adds the flags of the local launcher, of one task, and of distributed training."""
  g = parser.add_argument_group("local cluster (all tasks on this machine)")
  g.add_argument("--ps", type=int, default=None, metavar="N",
                 help="launch N ps tasks on 127.0.0.1")
  g.add_argument("--workers", type=int, default=None, metavar="N",
                 help="launch N worker tasks on 127.0.0.1 (worker 0 is the chief)")
  g.add_argument("--script", nargs=argparse.REMAINDER, default=None,
                 metavar="SCRIPT [ARGS]",
                 help="run a TF 1.x Estimator script as every task, under the runner "
                      "with its TF_CONFIG (a chief, workers, ps); everything after "
                      "SCRIPT is its own")
  g.add_argument("--evaluator", action="store_true",
                 help="with --script: also run an evaluator task")
  t = parser.add_argument_group("one task of a cluster (else from $TF_CONFIG)")
  t.add_argument("--job-name", choices=("ps", "worker"), default=None,
                 help="this task's job")
  t.add_argument("--task-index", type=int, default=None, metavar="I",
                 help="this task's index in its job")
  t.add_argument("--cluster", default=None, metavar="JSON",
                 help='the cluster, e.g. \'{"ps": ["h0:2222"], "worker": ["h1:2222"]}\'')
  t.add_argument("--ps-hosts", default=None, metavar="HOST:PORT,...",
                 help="the ps tasks' addresses, comma-separated")
  t.add_argument("--worker-hosts", default=None, metavar="HOST:PORT,...",
                 help="the worker tasks' addresses, comma-separated")
  d = parser.add_argument_group("distributed training")
  d.add_argument("--sync", action="store_true",
                 help="aggregate the workers' gradients each step (SyncReplicasOptimizer);"
                      " default asynchronous, as TF 1.x")
  d.add_argument("--startup-timeout", type=float, default=60.0, metavar="SECONDS",
                 help="how long a worker waits for the ps tasks and the chief "
                      "(default: %(default)s)")
  d.add_argument("--replica-timeout", type=float, default=60.0, metavar="SECONDS",
                 help="how long a training step may stay blocked (e.g. waiting for "
                      "the other workers' gradients), a ps may stay unreachable, and a "
                      "worker may make no step before it is lost (default: "
                      "%(default)s)")
  d.add_argument("--on-worker-loss", choices=("stop", "continue"), default=None,
                 help="when a worker is lost, the chief saves the position and stops "
                      "(stop) or trains on, taking the lost worker's examples "
                      "(continue); default: stop with --sync, continue without")


def run(args: argparse.Namespace) -> int:
  """Launches a local cluster (--ps/--workers) or runs one task; returns the code."""
  if args.script is not None or args.evaluator:
    return _run_script(args)
  local = args.ps is not None or args.workers is not None
  if local:
    return _run_local(args)
  return _run_task(args)


def _run_local(args):
  # pylint: disable=import-outside-toplevel
  given = [f"--{k.replace('_', '-')}" for k in _TASK_FLAGS if getattr(args, k) is not None]
  if given:
    raise ValueError(f"{', '.join(given)} name one task of a cluster; --ps and "
                     "--workers launch a whole local one. Give one or the other.")
  for flag in ("ps", "workers"):
    value = getattr(args, flag)
    if value is None or value < 1:
      raise ValueError(f"Expected --{flag} to be a positive integer with the local "
                       f"launcher. Received: --{flag} {value}")
  _check_training_flags(args)
  from dnn_toolkit import compat
  compat.import_tensorflow_quietly()  # The run's record and lock need it.
  from dnn_toolkit.cluster import launcher as cluster_launcher
  from dnn_toolkit.runs import lifecycle
  run_dir = args.run_dir or lifecycle.default_run_dir()
  _take_the_runs_settings(args, run_dir)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("TF_CONFIG", None)  # The tasks get --cluster; a stale TF_CONFIG must not win.
  keep = lambda line: not compat.is_startup_notice(line)
  launcher = cluster_launcher.LocalCluster(args.ps, args.workers, task_argv(args, run_dir),
                                           env=env, keep_line=keep, run_dir=run_dir)
  print(f"[cluster] {args.ps} ps + {args.workers} workers on 127.0.0.1: "
        f"ps {launcher.spec['ps']}, workers {launcher.spec['worker']}; run directory "
        f"{run_dir}", flush=True)
  code = launcher.run()
  if code in (EXIT_INTERRUPTED, EXIT_FAILED):
    print(f"[cluster] {'interrupted' if code == EXIT_INTERRUPTED else 'failed'}; "
          f"continue with the same command and --run-dir {run_dir}: the chief resumes "
          "from its last checkpoint.", file=sys.stderr)
  return code


def _take_the_runs_settings(args, run_dir):
  """Fills the training flags not given with the run's own, so every task gets them.

  A non-chief worker reads no record: the launcher, which can, gives them explicitly.
  """
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import checkpoints
  from dnn_toolkit.runs import lifecycle
  saved = checkpoints.RunRecord.read(run_dir) if checkpoints.RunRecord.exists(
      run_dir) else None
  given = lifecycle.Settings(epochs=args.epochs, batch_size=args.batch_size,
                             patience=_patience(args, lifecycle.UNSET))
  settings = given.resolved(saved)
  args.epochs, args.batch_size = settings.epochs, settings.batch_size
  args.patience = settings.patience or 0


def _patience(args, unset):
  """The patience of the flags: `unset` when not given, None for --patience 0."""
  return unset if args.patience is None else args.patience or None


#: Flags a --script cluster takes; the others configure the toolkit's own training.
_SCRIPT_FLAGS = ("ps", "workers", "script", "evaluator", "help")


def _run_script(args):
  """Launches a local cluster whose every task is the Estimator script --script names."""
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import compat, runner
  from dnn_toolkit.cluster import launcher as cluster_launcher
  if not args.script:
    raise ValueError("--script needs a SCRIPT: dnn-toolkit cluster --ps 1 --workers 2 "
                     "--script train.py [ARGS...]" if args.script is not None else
                     "--evaluator goes with --script SCRIPT, an Estimator script whose "
                     "train_and_evaluate runs the evaluator.")
  for action in args._parser._actions:  # pylint: disable=protected-access
    value = getattr(args, action.dest, None)
    if action.option_strings and action.dest not in _SCRIPT_FLAGS and (
        value != action.default):
      raise ValueError(f"{action.option_strings[0]} does not go with --script: the "
                       "script trains as it is written; pass its own flags after "
                       "SCRIPT.")
  for flag in ("ps", "workers"):
    value = getattr(args, flag)
    if value is None or value < 1:
      received = f"no --{flag}" if value is None else f"--{flag} {value}"
      raise ValueError(f"Expected --{flag} to be a positive integer with --script. "
                       f"Received: {received}")
  script, script_args = args.script[0], args.script[1:]
  problem = runner.check_script(script)
  if problem is not None:
    raise ValueError(f"--script: {problem}")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("TF_CONFIG", None)  # Each task gets its own.
  argv = [sys.executable, "-m", "dnn_toolkit.runner", script, *script_args]
  keep = lambda line: not compat.is_startup_notice(line)
  launcher = cluster_launcher.ScriptCluster(args.ps, args.workers, argv,
                                            evaluator=args.evaluator, env=env,
                                            keep_line=keep)
  roles = ", ".join(f"{job} {launcher.cluster[job]}" for job in launcher.cluster)
  print(f"[cluster] {script} as every task on 127.0.0.1: {roles}"
        f"{' and an evaluator' if args.evaluator else ''}", flush=True)
  return launcher.run()


def task_argv(args: argparse.Namespace, run_dir: str) -> list[str]:
  """The command line of one task: this command with the same train flags."""
  argv = [sys.executable, "-m", "dnn_toolkit", "cluster"]
  skip = set(_LAUNCHER_FLAGS + _TASK_FLAGS + ("run_dir",))
  for action in args._parser._actions:  # pylint: disable=protected-access
    if not action.option_strings or action.dest in skip or action.dest == "help":
      continue
    value = getattr(args, action.dest, None)
    if value == action.default:
      continue
    flag = action.option_strings[0]
    if isinstance(action, argparse.BooleanOptionalAction):
      argv.append(flag if value else "--no-" + flag[2:])
    elif action.nargs == 0:
      argv.append(flag)
    elif isinstance(value, list):
      argv += [flag] + [str(v) for v in value]
    else:
      argv += [flag, str(value)]
  return argv + ["--run-dir", run_dir]


def _check_training_flags(args):
  """Checks the train flags before anything starts (no TensorFlow); returns the config."""
  config = _flags.config_from_args(args)
  _flags.check_log_every_steps(args)
  _options(args, patience=_patience(args, None)).validate()
  return config


def _options(args, patience):
  """The `worker.Options` of the flags, with `patience` as given."""
  from dnn_toolkit.cluster import worker as distributed  # pylint: disable=import-outside-toplevel
  return distributed.Options(
      epochs=args.epochs, batch_size=args.batch_size, patience=patience,
      sync=args.sync, save_every_steps=args.save_every_steps,
      log_every_steps=args.log_every_steps, startup_timeout=args.startup_timeout,
      replica_timeout=args.replica_timeout, on_worker_loss=args.on_worker_loss,
      verbose=0 if args.quiet else 1)


def _run_task(args):
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.cluster import tasks as cluster
  task = cluster.resolve_task(cluster=args.cluster, ps_hosts=args.ps_hosts,
                              worker_hosts=args.worker_hosts, job_name=args.job_name,
                              task_index=args.task_index)
  config = _check_training_flags(args)
  cluster.check_port_free(task)
  if task.job_name == cluster.WORKER and not task.is_chief:
    # Before TensorFlow loads: a quick refusal. The chief checks its run first.
    cluster.wait_for_ps(task, args.startup_timeout)
  from dnn_toolkit import compat
  tf = compat.import_tensorflow_quietly()  # Before any module that imports it.
  from dnn_toolkit import checkpoints
  from dnn_toolkit.cluster import worker as distributed
  from dnn_toolkit.errors import CheckpointError, describe
  from dnn_toolkit.runs import lifecycle
  if task.job_name == cluster.PS:
    distributed.run_ps(task)
    return 0
  if task.is_chief and args.run_dir is None:
    raise ValueError("The chief (worker 0) needs --run-dir: the run directory it "
                     "keeps, and where a restarted chief continues from.")
  if task.is_chief and args.resume and not checkpoints.RunRecord.exists(args.run_dir):
    raise CheckpointError(f"--resume: {args.run_dir!r} holds no run to continue. "
                          "Without --resume the chief starts one there (and a "
                          "restarted chief always continues its unfinished run).")
  datasets = _flags.datasets_from_args(args)
  options = _options(args, _patience(args, lifecycle.UNSET))
  try:
    result = distributed.train_worker(
        task, config, datasets.train, datasets.validation, test=datasets.test,
        run_dir=args.run_dir or lifecycle.default_run_dir(), options=options,
        data=datasets.identity)
  except cluster.ClusterFault as fault:
    return _failed(str(fault))
  except tf.errors.OpError as error:  # A ps or worker gone in a way TensorFlow saw.
    return _failed(f"{task.name}: {describe(error)}")
  if result is not None:
    state = result.state
    stop = " (early stopping)" if state.stopped_early else ""
    print(f"trained {state.epoch} epochs{stop}; best epoch {state.best_epoch}, "
          f"validation loss {state.best_val_loss:.4f}")
    if result.test:
      print(f"test accuracy {result.test['accuracy']:.4f}, "
            f"loss {result.test['loss']:.4f}")
    print(f"run directory: {result.run_dir}")
  return 0


def _failed(line):
  """Reports a task that failed while training (its input was good); returns 1."""
  print(f"dnn-toolkit: error: {line}", file=sys.stderr, flush=True)
  return EXIT_FAILED
