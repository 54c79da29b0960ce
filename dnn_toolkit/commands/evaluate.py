"""`dnn-toolkit evaluate`: a run's loss, accuracy, per-class table and confusion matrix.

It evaluates the run read-only (`runs.evaluation.evaluate_run`: a run still training is
evaluated from its best checkpoint) on the test split of the data it trained on, or on
`--data` (features as the file holds them, such as MNIST's raw pixels: the run's own
scaling is applied; labels as the training data named them), prints the metrics and
saves them into the run directory (evaluation.json, confusion_matrix.png).
"""

import argparse
import json

from dnn_toolkit.commands import _flags

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit evaluate checkpoints/mnist                 # its data's test split
  dnn-toolkit evaluate checkpoints/iris --data new.csv     # the run's label column
  dnn-toolkit evaluate checkpoints/mnist --data test_images.npz  # uint8 x, y
  dnn-toolkit evaluate checkpoints/mnist --checkpoint latest --json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `evaluate RUN [--data PATH] [--checkpoint best|latest]`."""
  p = subparsers.add_parser(
      "evaluate", help="a run's loss, accuracy, per-class table and confusion matrix",
      description="Evaluate a run on the test split of the data it trained on (or on "
                  "--data): loss, accuracy, per-class precision, recall and F1, and the "
                  "confusion matrix, saved as RUN/evaluation.json and "
                  "RUN/confusion_matrix.png.",
      epilog=EXAMPLES)
  p.add_argument("run_dir", metavar="RUN", help="the run directory")
  p.add_argument("--data", default=None, metavar="PATH",
                 help="a labelled data file (.npz, .csv, MNIST's files); default: the "
                      "test split of the run's own data")
  _flags.add_label_column_flag(p)
  _flags.add_scaled_flag(p)
  _flags.add_checkpoint_flag(p)
  _flags.add_inference_batch_flag(p)
  p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
  return p


def run(args: argparse.Namespace) -> int:
  """Evaluates, saves evaluation.json and confusion_matrix.png, prints; returns 0."""
  _flags.check_positive_flag(args, "batch_size", "--batch-size")
  if args.scaled and args.data is None:
    raise ValueError("argument --scaled: applies to --data; the run's own test split "
                     "is scaled as it was.")
  _flags.check_data_path(args.data)
  _flags.check_run_dir(args.run_dir)
  from dnn_toolkit.runs import evaluation  # pylint: disable=import-outside-toplevel
  report = evaluation.evaluate_run(
      args.run_dir, which=args.checkpoint, data=args.data,
      label_column=_flags.label_column(args.label_column), batch_size=args.batch_size,
      scaled=args.scaled or None)
  paths = evaluation.save_evaluation(report, args.run_dir)
  print(json.dumps(report, indent=1) if args.json else evaluation.format_report(report))
  if not args.json:
    print(f"saved {paths[0]} and {paths[1]}")
  return 0
