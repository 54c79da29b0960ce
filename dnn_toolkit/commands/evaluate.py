"""`dnn-toolkit evaluate`: a run's loss, accuracy, per-class table and confusion matrix.

It loads the run read-only (`experiment.load_run`; a run still training is evaluated
from its best checkpoint), runs it on the test split of the data it trained on, or on
`--data`, prints the metrics and saves them into the run directory:

    RUN/evaluation.json      loss, accuracy, per-class precision / recall / F1 /
                             support, the confusion matrix, what was evaluated
    RUN/confusion_matrix.png the confusion matrix (rows: true class)

Both are replaced atomically by each evaluation (`_files.atomic_writer`).
"""

import argparse
import json
import os
from typing import Any, Dict, Optional, Sequence

import numpy as np

from dnn_toolkit.commands import _run_data

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EVALUATION_FILE = "evaluation.json"
CONFUSION_PNG = "confusion_matrix.png"
# Up to this many classes, each cell of the PNG shows its count.
_MAX_ANNOTATED = 20

EXAMPLES = """\
examples:
  dnn-toolkit evaluate checkpoints/mnist                 # its data's test split
  dnn-toolkit evaluate checkpoints/iris --data new.csv --label-column species
  dnn-toolkit evaluate checkpoints/mnist --checkpoint latest --json
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Adds `evaluate RUN [--data PATH] [--checkpoint best|latest]`."""
  p = subparsers.add_parser(
      "evaluate", help="a run's loss, accuracy, per-class table and confusion matrix",
      description="Evaluate a run on the test split of the data it trained on (or on "
                  "--data): loss, accuracy, per-class precision, recall and F1, and the "
                  f"confusion matrix, saved as RUN/{EVALUATION_FILE} and "
                  f"RUN/{CONFUSION_PNG}.",
      epilog=EXAMPLES)
  p.add_argument("run_dir", metavar="RUN", help="the run directory")
  p.add_argument("--data", default=None, metavar="PATH",
                 help="a labelled data file (.npz, .csv, MNIST's files); default: the "
                      "test split of the run's own data")
  _run_data.add_label_column_flag(p)
  _run_data.add_checkpoint_flag(p)
  _run_data.add_inference_batch_flag(p)
  p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
  return p


def run(args: argparse.Namespace) -> int:
  """Evaluates, saves evaluation.json and confusion_matrix.png, prints; returns 0."""
  _run_data.check_positive_flag(args, "batch_size", "--batch-size")
  _run_data.check_run_dir(args.run_dir)
  from dnn_toolkit import checkpoints, experiment  # pylint: disable=import-outside-toplevel
  record = checkpoints.RunRecord.read(args.run_dir)
  if args.data is None:
    images, labels, described = _run_data.record_test_split(record)
  else:
    images, labels = _run_data.load_examples(
        record, args.data, label_column=_run_data.label_column(args.label_column),
        labels_required=True)
    described = os.path.abspath(args.data)
  with experiment.load_run(args.run_dir, which=args.checkpoint) as loaded:
    metrics = loaded.evaluate(images, labels, batch_size=args.batch_size)
    probabilities = _run_data.class_probabilities(loaded, images, args.batch_size)
    checkpoint = loaded.checkpoint
  report = evaluation_report(labels, probabilities.argmax(axis=1),
                             record.config.n_outputs,
                             class_names=_run_data.class_digits(record))
  report.update(loss=metrics["loss"], accuracy=metrics["accuracy"], data=described,
                checkpoint=os.path.relpath(checkpoint, args.run_dir),
                which=args.checkpoint)
  paths = save_evaluation(report, args.run_dir)
  print(json.dumps(report, indent=1) if args.json else format_report(report))
  if not args.json:
    print(f"saved {paths[0]} and {paths[1]}")
  return 0


def evaluation_report(labels: np.ndarray, predictions: np.ndarray, n_classes: int,
                      class_names: Optional[Sequence[Any]] = None) -> Dict[str, Any]:
  """The per-class table and confusion matrix of predictions against labels.

  Args:
    labels: int array `[n]`, the true classes in [0, n_classes).
    predictions: int array `[n]`, the predicted classes.
    n_classes: positive int.
    class_names: optional names of classes 0..n_classes-1 (a digits run's digits).

  Returns:
    A JSON-ready dict: 'n', 'classes' (names), 'per_class' (one dict per class with
    'class', 'precision', 'recall', 'f1', 'support'; precision None for a class never
    predicted, recall None for one absent) and 'confusion_matrix' (`[n_classes,
    n_classes]` counts, rows the true class, columns the predicted one).
  """
  labels, predictions = np.asarray(labels, np.int64), np.asarray(predictions, np.int64)
  matrix = np.zeros((n_classes, n_classes), np.int64)
  np.add.at(matrix, (labels, predictions), 1)
  names = list(class_names) if class_names else list(range(n_classes))
  per_class = []
  for i in range(n_classes):
    hits, predicted, support = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
    precision = float(hits / predicted) if predicted else None
    recall = float(hits / support) if support else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision and recall else (0.0 if support else None))
    per_class.append({"class": names[i], "precision": precision, "recall": recall,
                      "f1": f1, "support": int(support)})
  return {"n": int(len(labels)), "classes": names, "per_class": per_class,
          "confusion_matrix": matrix.tolist()}


def format_report(report: Dict[str, Any]) -> str:
  """The report of `evaluation_report` (with loss and accuracy) as text tables."""
  number = lambda v: "-" if v is None else f"{v:.4f}"
  lines = [f"checkpoint: {report['checkpoint']} ({report['which']})",
           f"data: {report['data']}, {report['n']} examples",
           f"loss {report['loss']:.4f}, accuracy {report['accuracy']:.4f}", "",
           f"{'class':>6}  {'precision':>9}  {'recall':>9}  {'f1':>9}  {'support':>8}"]
  for row in report["per_class"]:
    lines.append(f"{row['class']!s:>6}  {number(row['precision']):>9}  "
                 f"{number(row['recall']):>9}  {number(row['f1']):>9}  "
                 f"{row['support']:>8}")
  matrix = report["confusion_matrix"]
  width = max(6, max(len(str(c)) for row in matrix for c in row) + 1)
  lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
            " " * 6 + "".join(f"{c!s:>{width}}" for c in report["classes"])]
  for name, row in zip(report["classes"], matrix):
    lines.append(f"{name!s:>6}" + "".join(f"{c:>{width}}" for c in row))
  return "\n".join(lines)


def save_evaluation(report: Dict[str, Any], run_dir: str):
  """Writes RUN/evaluation.json and RUN/confusion_matrix.png atomically; returns them."""
  from dnn_toolkit import _files  # pylint: disable=import-outside-toplevel
  json_path = os.path.join(run_dir, EVALUATION_FILE)
  png_path = os.path.join(run_dir, CONFUSION_PNG)
  figure = confusion_figure(report)
  with _files.atomic_writer(png_path) as f:
    figure.savefig(f, format="png", dpi=100)
  _files.atomic_write_text(json_path, json.dumps(report, indent=1) + "\n")
  return json_path, png_path


def confusion_figure(report: Dict[str, Any]):
  """The confusion matrix as a matplotlib Figure on the Agg canvas (no pyplot)."""
  from dnn_toolkit import plots  # pylint: disable=import-outside-toplevel
  matrix = np.asarray(report["confusion_matrix"])
  k = len(matrix)
  size = min(3.0 + 0.45 * k, 14.0)
  figure = plots.new_figure(size + 1.2, size)
  axes = figure.add_subplot(1, 1, 1)
  image = axes.imshow(matrix, cmap="Blues", vmin=0)
  figure.colorbar(image, ax=axes, label="examples")
  ticks = np.arange(k)
  axes.set_xticks(ticks, [str(c) for c in report["classes"]])
  axes.set_yticks(ticks, [str(c) for c in report["classes"]])
  axes.set_xlabel("predicted class")
  axes.set_ylabel("true class")
  axes.set_title(f"accuracy {report['accuracy']:.2%} on {report['n']} examples")
  if k <= _MAX_ANNOTATED:
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
      axes.text(column, row, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > threshold else "black")
  return figure


def read_evaluation(run_dir: str) -> Optional[Dict[str, Any]]:
  """The last evaluation saved in a run directory (evaluation.json), or None.

  For `inspect` and `runs`: a missing or unreadable file is None, never an error.
  """
  try:
    with open(os.path.join(run_dir, EVALUATION_FILE)) as f:
      report = json.load(f)
  except (OSError, ValueError):
    return None
  return report if isinstance(report, dict) and "accuracy" in report else None


def evaluation_lines(run_dir: str) -> list:
  """Lines that show a run's saved evaluation and its figure, or [] if there is none.

      evaluation: accuracy 0.9440, loss 0.1902 on 4861 examples of MNIST (test split),
        best/model.ckpt-30: checkpoints/digits/evaluation.json
      confusion matrix: checkpoints/digits/confusion_matrix.png
  """
  report = read_evaluation(run_dir)
  if report is None:
    return []
  lines = [f"evaluation: accuracy {report['accuracy']:.4f}, loss "
           f"{report.get('loss', float('nan')):.4f} on {report.get('n')} examples of "
           f"{report.get('data')}, {report.get('checkpoint')}: "
           f"{os.path.join(run_dir, EVALUATION_FILE)}"]
  png = os.path.join(run_dir, CONFUSION_PNG)
  if os.path.isfile(png):
    lines.append(f"confusion matrix: {png}")
  return lines
