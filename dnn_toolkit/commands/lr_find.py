"""`dnn-toolkit lr-find`: a learning-rate range test of a model on MNIST, as a PNG.

The command line of `lr_finder.find_learning_rate`: the model flags as `train` takes
them (their learning rate and schedule are replaced by the growing rate), a range, and
the PNG to draw loss against learning rate into.
"""

import argparse
import os

import dnn_toolkit
from dnn_toolkit.errors import ArgumentError
from dnn_toolkit.commands import _flags

LOADS_TENSORFLOW = False  # A bad --out is refused first; `run` loads it after.

EXAMPLES = """\
examples:
  dnn-toolkit lr-find --out lr_range.png                   # the lesson's default DNN
  dnn-toolkit lr-find --optimizer momentum --low 1e-4 --high 10 --out momentum.png
  dnn-toolkit lr-find --hidden-layers 100 --no-batch-norm --steps 300 --rule minimum \\
      --out lr.png
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `lr-find` with the model, optimization, data and range-test flags."""
  p = subparsers.add_parser(
      "lr-find", help="find a starting learning rate (range test, PNG plot)",
      description="Train the model for a few hundred steps while the learning rate "
                  "grows exponentially from --low to --high, plot the mini-batch loss "
                  "against the rate, and suggest a starting rate, stating the rule. "
                  "--learning-rate and the schedule flags are ignored.",
      epilog=EXAMPLES)
  _flags.add_config_flags(p)
  _flags.add_data_flags(p)
  g = p.add_argument_group("range test")
  g.add_argument("--low", type=float, default=1e-6, metavar="LR",
                 help="the first learning rate (default: %(default)s)")
  g.add_argument("--high", type=float, default=1.0, metavar="LR",
                 help="the last learning rate (default: %(default)s)")
  g.add_argument("--steps", type=int, default=200,
                 help="training steps, one per rate; stops early when the loss "
                      "diverges (default: %(default)s)")
  g.add_argument("--batch-size", type=int, default=50, metavar="N",
                 help="examples per step (default: %(default)s)")
  g.add_argument("--rule", choices=("steepest", "minimum"), default="steepest",
                 help="steepest: where the smoothed loss falls fastest; minimum: a "
                      "tenth of the rate at its minimum (default: %(default)s)")
  g.add_argument("--out", required=True, metavar="PNG",
                 help="the plot to write (a .png file; its directory is created)")
  return p


def run(args: argparse.Namespace) -> int:
  """Runs the range test, prints the suggestion and writes the plot. Returns 0."""
  # pylint: disable=import-outside-toplevel
  check_out(args.out)
  dnn_toolkit.import_tensorflow_quietly()
  from dnn_toolkit import lr_finder
  config = _flags.config_from_args(args)
  lr_finder.check_range(args.low, args.high, args.steps)  # Before the data loads.
  datasets = _flags.datasets_from_args(args)
  result = lr_finder.find_learning_rate(
      config, datasets.train, low=args.low, high=args.high, steps=args.steps,
      batch_size=args.batch_size, rule=args.rule)
  path = lr_finder.plot_range_test(result, args.out)
  print(lr_finder.format_result(result))
  print(f"plot: {path}")
  return 0


def check_out(out: str) -> None:
  """Raises ValueError unless `out` names a .png file that is not a directory."""
  if not out.lower().endswith(".png") or os.path.isdir(out):
    raise ArgumentError("out", "Expected {name} to be a .png file path. Received: "
                        "{received}", out)
