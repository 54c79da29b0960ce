"""`dnn-toolkit cluster`: train on a TF 1.x cluster of ps and worker tasks.

Two ways to run it. With `--ps N --workers M` it launches a whole cluster of local
processes on free 127.0.0.1 ports, streams their output with task prefixes and stops
every process it started. With `--job-name/--task-index` (or a `TF_CONFIG` variable)
it runs one task of a real cluster whose addresses come from `--cluster` JSON,
`--ps-hosts/--worker-hosts` or `TF_CONFIG`. The train flags are the same either way.
"""

import argparse
import os
import sys

from dnn_toolkit.commands import _flags

LOADS_TENSORFLOW = False  # Cluster checks and the launcher need none; tasks load it.
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

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
"""

_LAUNCHER_FLAGS = ("ps", "workers")
_TASK_FLAGS = ("job_name", "task_index", "cluster", "ps_hosts", "worker_hosts")


def add_parser(subparsers):
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
  _flags.add_training_flags(p)
  _flags.add_run_flags(p)
  p.set_defaults(_parser=p)
  return p


def add_cluster_flags(parser):
  """Adds the flags of the local launcher, of one task, and of distributed training."""
  g = parser.add_argument_group("local cluster (all tasks on this machine)")
  g.add_argument("--ps", type=int, default=None, metavar="N",
                 help="launch N ps tasks on 127.0.0.1")
  g.add_argument("--workers", type=int, default=None, metavar="N",
                 help="launch N worker tasks on 127.0.0.1 (worker 0 is the chief)")
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
                 help="how long a training step may stay blocked, e.g. waiting for "
                      "the other workers' gradients (default: %(default)s)")


def run(args):
  """Launches a local cluster (--ps/--workers) or runs one task; returns the code."""
  local = args.ps is not None or args.workers is not None
  if local:
    return _run_local(args)
  return _run_task(args)


def _run_local(args):
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import compat
  from dnn_toolkit.cluster import launcher as cluster_launcher
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
  run_dir = args.run_dir
  if run_dir is None:  # runs.lifecycle imports TensorFlow, which the launcher needs not.
    from dnn_toolkit.runs import lifecycle
    run_dir = lifecycle.default_run_dir()
  argv = task_argv(args, run_dir)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("TF_CONFIG", None)  # The tasks get --cluster; a stale TF_CONFIG must not win.
  keep = lambda line: not compat.is_startup_notice(line)
  launcher = cluster_launcher.LocalCluster(args.ps, args.workers, argv, env=env, keep_line=keep)
  print(f"[cluster] {args.ps} ps + {args.workers} workers on 127.0.0.1: "
        f"ps {launcher.spec['ps']}, workers {launcher.spec['worker']}; run directory "
        f"{run_dir}", flush=True)
  code = launcher.run()
  if code == EXIT_INTERRUPTED:
    print(f"[cluster] interrupted; continue with the same command and --run-dir "
          f"{run_dir}: the chief resumes from its last checkpoint.", file=sys.stderr)
  return code


def task_argv(args, run_dir):
  """The command line of one task: this command with the same train flags."""
  argv = [sys.executable, "-m", "dnn_toolkit.commands.cluster"]
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
  """Checks the train flags before anything starts; returns (config, options)."""
  from dnn_toolkit.cluster import worker as distributed  # pylint: disable=import-outside-toplevel
  config = _flags.config_from_args(args)
  _flags.check_log_every_steps(args)
  options = distributed.Options(
      epochs=args.epochs, batch_size=args.batch_size, patience=args.patience or None,
      sync=args.sync, save_every_steps=args.save_every_steps,
      log_every_steps=args.log_every_steps, startup_timeout=args.startup_timeout,
      replica_timeout=args.replica_timeout, verbose=0 if args.quiet else 1)
  options.validate()  # Its messages name the options as the flags do, with '_'.
  return config, options


def _run_task(args):
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.cluster import tasks as cluster
  task = cluster.resolve_task(cluster=args.cluster, ps_hosts=args.ps_hosts,
                              worker_hosts=args.worker_hosts, job_name=args.job_name,
                              task_index=args.task_index)
  config, options = _check_training_flags(args)
  cluster.check_port_free(task)
  if task.job_name == cluster.WORKER:  # Before TensorFlow loads: a quick refusal.
    cluster.wait_for_ps(task, options.startup_timeout)
  from dnn_toolkit import checkpoints, compat
  from dnn_toolkit.cluster import worker as distributed
  from dnn_toolkit.runs import lifecycle
  from dnn_toolkit.errors import CheckpointError
  compat.import_tensorflow_quietly()
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
  result = distributed.train_worker(
      task, config, datasets.train, datasets.validation, test=datasets.test,
      run_dir=args.run_dir or lifecycle.default_run_dir(), options=options,
      data=datasets.identity)
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


def main(argv=None):
  """Runs `dnn-toolkit cluster` on its own: how the local launcher starts each task."""
  from dnn_toolkit.errors import DnnToolkitError  # pylint: disable=import-outside-toplevel
  parser = argparse.ArgumentParser(prog="dnn-toolkit")
  add_parser(parser.add_subparsers(dest="command"))
  args = parser.parse_args(["cluster"] + list(sys.argv[1:] if argv is None else argv))
  try:
    return run(args)
  except KeyboardInterrupt:
    return EXIT_INTERRUPTED
  except (DnnToolkitError, ValueError, TypeError, OSError) as error:
    print(f"dnn-toolkit cluster: error: {error}", file=sys.stderr)
    return EXIT_ERROR
  except Exception as error:  # pylint: disable=broad-except
    # TensorFlow's OpError: one line, not a traceback.
    if type(error).__module__.startswith("tensorflow"):
      message = getattr(error, "message", str(error)).strip().splitlines()
      print(f"dnn-toolkit cluster: error: {message[0] if message else error}",
            file=sys.stderr)
      return EXIT_ERROR
    raise


if __name__ == "__main__":
  sys.exit(main())
