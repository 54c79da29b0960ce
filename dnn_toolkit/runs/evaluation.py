"""A run's evaluation: loss, accuracy, per-class table and confusion matrix, saved.

    report = evaluation.evaluate_run("checkpoints/mnist")   # its data's test split
    print(evaluation.format_report(report))
    evaluation.save_evaluation(report, "checkpoints/mnist")

saves, replacing them atomically,

    RUN/evaluation.json      loss, accuracy, per-class precision / recall / F1 /
                             support, the confusion matrix, what was evaluated
    RUN/confusion_matrix.png the confusion matrix (rows: true class)

which `read_evaluation` reads back for `inspect` and `runs`.
"""

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from dnn_toolkit import _files, plots
from dnn_toolkit.checkpoints import RunRecord
from dnn_toolkit.data import arrays
from dnn_toolkit.runs import loading, run_data

EVALUATION_FILE = "evaluation.json"
CONFUSION_PNG = "confusion_matrix.png"
# Up to this many classes, each cell of the PNG shows its count.
_MAX_ANNOTATED = 20


def evaluate_run(run_dir: str, *, which: str = "best", data: str | None = None,
                 label_column: str | int | None = None, batch_size: int = 5000,
                 scaled: bool | None = None) -> dict[str, Any]:
  """Evaluates a run read-only on its own test split, or on a data file.

  Args:
    run_dir: the run directory (a run still training is evaluated from its best
      checkpoint).
    which: 'best' or 'latest' checkpoint.
    data: a labelled data file (`data.files.load_features` formats), its features
      as the file holds them (raw pixels for an MNIST run); default the test split
      of the run's own data.
    label_column: CSV only, the label column's name or index (default: the run's).
    batch_size: examples per Session run.
    scaled: True if the file's features are already scaled as the run's inputs
      (see `scaling.Scaling.prepare`).

  Returns:
    The report of `evaluation_report`, with 'loss', 'accuracy', 'data' (what was
    evaluated), 'checkpoint' (relative to the run) and 'which'.

  Raises:
    CheckpointError: no run or checkpoint there; DataError, ValueError: the data.
  """
  record = RunRecord.read(run_dir)
  if data is None:
    inputs, indices, described = run_data.record_test_split(record)
  else:
    inputs, labelled = run_data.load_examples(record, data, label_column=label_column,
                                              labels_required=True, scaled=scaled)
    assert labelled is not None  # labels_required: a file without them was refused.
    indices, described = labelled, os.path.abspath(data)
  classes = run_data.class_labels(record)
  with loading.load_run(run_dir, which=which) as loaded:
    metrics = loaded.evaluate(inputs, arrays.class_labels(indices, classes),
                              batch_size, scaled=True)
    probabilities = loaded.probabilities(inputs, batch_size, scaled=True)
    checkpoint = loaded.checkpoint
  report = evaluation_report(indices, probabilities.argmax(axis=1),
                             record.config.n_outputs, class_names=classes)
  report.update(loss=metrics["loss"], accuracy=metrics["accuracy"], data=described,
                checkpoint=os.path.relpath(checkpoint, run_dir), which=which)
  return report


def evaluation_report(labels: np.ndarray, predictions: np.ndarray, n_classes: int,
                      class_names: Sequence[Any] | None = None) -> dict[str, Any]:
  """The per-class table and confusion matrix of predictions against labels.

  Args:
    labels: int array `[n]`, the true classes in [0, n_classes).
    predictions: int array `[n]`, the predicted classes.
    n_classes: positive int.
    class_names: optional names of classes 0..n_classes-1 (the run's labels).

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


def format_report(report: dict[str, Any]) -> str:
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


def save_evaluation(report: dict[str, Any], run_dir: str) -> tuple[str, str]:
  """Writes RUN/evaluation.json and RUN/confusion_matrix.png atomically; returns them."""
  json_path = os.path.join(run_dir, EVALUATION_FILE)
  png_path = os.path.join(run_dir, CONFUSION_PNG)
  figure = confusion_figure(report)
  with _files.atomic_writer(png_path) as f:
    figure.savefig(f, format="png", dpi=100)
  _files.atomic_write_text(json_path, json.dumps(report, indent=1) + "\n")
  return json_path, png_path


def confusion_figure(report: dict[str, Any]) -> Any:
  """The confusion matrix as a matplotlib Figure on the Agg canvas (no pyplot)."""
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


def read_evaluation(run_dir: str) -> dict[str, Any] | None:
  """The last evaluation saved in a run directory (evaluation.json), or None.

  For `inspect` and `runs`: a missing or unreadable file is None, never an error.
  """
  try:
    with open(os.path.join(run_dir, EVALUATION_FILE)) as f:
      report = json.load(f)
  except (OSError, ValueError):
    return None
  return report if isinstance(report, dict) and "accuracy" in report else None


def stale_evaluation(report: dict[str, Any], record: RunRecord) -> str | None:
  """The run's checkpoint that replaced the one a saved evaluation used, or None.

  Args:
    report: a saved evaluation (`read_evaluation`).
    record: the run's record now.

  Returns:
    The checkpoint (relative to the run) its `which` ('best' or 'latest') names now,
    if that is not the one evaluated; else None.
  """
  now = record.best_checkpoint if report.get("which", "best") == "best" else (
      record.latest_checkpoint)
  if not now:
    return None
  now = os.path.relpath(now, record.run_dir)
  return None if now == report.get("checkpoint") else now


def evaluation_lines(run_dir: str, record: RunRecord | None = None) -> list[str]:
  """Lines that show a run's saved evaluation and its figure, or [] if there is none.

      evaluation: accuracy 0.9440, loss 0.1902 on 4861 examples of MNIST (test split),
        best/model.ckpt-30: checkpoints/digits/evaluation.json
      confusion matrix: checkpoints/digits/confusion_matrix.png

  Given the run's `record`, an evaluation of a checkpoint the run has since replaced
  is marked stale, with the command that evaluates the current one.
  """
  report = read_evaluation(run_dir)
  if report is None:
    return []
  lines = [f"evaluation: accuracy {report['accuracy']:.4f}, loss "
           f"{report.get('loss', float('nan')):.4f} on {report.get('n')} examples of "
           f"{report.get('data')}, {report.get('checkpoint')}: "
           f"{os.path.join(run_dir, EVALUATION_FILE)}"]
  now = stale_evaluation(report, record) if record is not None else None
  if now is not None:
    which = report.get("which", "best")
    again = "" if which == "best" else " --checkpoint latest"
    lines.append(f"  stale: the run's {which} checkpoint is now {now}; evaluate it "
                 f"with: dnn-toolkit evaluate {run_dir}{again}")
  png = os.path.join(run_dir, CONFUSION_PNG)
  if os.path.isfile(png):
    lines.append(f"confusion matrix: {png}")
  return lines
