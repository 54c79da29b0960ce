"""`dnn-toolkit predict`: a run's classes and class probabilities for a data file.

The run is loaded read-only (`runs.loading.load_run`); the features, as the file holds
them (MNIST's raw pixels 0-255; a CSV's columns but the run's label column), become the
run's inputs through its own scaling, and are run through the net in batches of
`--batch-size`. `--out` gets, per example, the predicted class as the training data
named it and the probability of each class:

    .npy  a structured array: out["class"] [n] (int64, or str for named classes),
          out["probabilities"] float32 [n, n_outputs] (np.load(path) reads it, no
          pickle)
    .csv  a header `class,p<label>...` (`p_<name>` for named classes) and one row per
          example

An existing `--out` is refused (it may be the input): nothing is overwritten.
"""

import argparse
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from dnn_toolkit.commands import _flags

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

OUT_SUFFIXES = (".npy", ".csv")

EXAMPLES = """\
examples:
  dnn-toolkit predict checkpoints/iris --data new.csv --out predictions.csv
  dnn-toolkit predict checkpoints/mnist --data images.npy --out predictions.npy
  dnn-toolkit predict checkpoints/mnist --data scaled.npz --scaled --out p.csv
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `predict RUN --data PATH --out FILE`."""
  p = subparsers.add_parser(
      "predict", help="a run's classes and probabilities for a data file",
      description="Predict the class and class probabilities of each example of a data "
                  "file with a run's best (or latest) weights, in batches. Give the "
                  "features as your data holds them (MNIST's raw pixels 0-255): the "
                  "run's own scaling is applied.",
      epilog=EXAMPLES)
  p.add_argument("run_dir", metavar="RUN", help="the run directory")
  p.add_argument("--data", required=True, metavar="PATH",
                 help="the examples: .npy (the features), .npz (x, or x_test), .csv "
                      "(the run's label column, or a 'label' column, is left out), "
                      "MNIST's files (test images)")
  p.add_argument("--out", required=True, metavar="FILE",
                 help="where the predictions go: .npy or .csv (must not exist)")
  _flags.add_label_column_flag(p)
  _flags.add_scaled_flag(p)
  _flags.add_checkpoint_flag(p)
  _flags.add_inference_batch_flag(p)
  return p


def check_out(out: str) -> None:
  """Raises ValueError or FileExistsError naming --out unless it is a new .npy/.csv."""
  if not out.lower().endswith(OUT_SUFFIXES):
    raise ValueError(f"argument --out: expected a file ending in .npy or .csv. "
                     f"Received: --out {out}")
  if os.path.lexists(out):
    raise FileExistsError(f"argument --out: {out} already exists; nothing was written. "
                          "Choose a new file or remove it.")


def run(args: argparse.Namespace) -> int:
  """Predicts and writes --out; prints a summary line. Returns 0."""
  check_out(args.out)
  _flags.check_positive_flag(args, "batch_size", "--batch-size")
  _flags.check_data_path(args.data)
  _flags.check_run_dir(args.run_dir)
  # pylint: disable-next=import-outside-toplevel
  from dnn_toolkit import checkpoints
  from dnn_toolkit.runs import loading, run_data  # pylint: disable=import-outside-toplevel
  record = checkpoints.RunRecord.read(args.run_dir)
  inputs, _ = run_data.load_examples(
      record, args.data, label_column=_flags.label_column(args.label_column),
      scaled=args.scaled or None)
  with loading.load_run(args.run_dir, which=args.checkpoint) as loaded:
    probabilities = loaded.probabilities(inputs, args.batch_size, scaled=True)
    classes = loaded.classes
  write_predictions(args.out, probabilities, classes)
  shown = ", ".join(map(str, classes[:10])) + (", ..." if len(classes) > 10 else "")
  print(f"predicted {len(probabilities)} examples into {args.out} (classes {shown})")
  return 0


def write_predictions(path: str, probabilities: np.ndarray,
                      classes: Sequence[Any] | np.ndarray) -> None:
  """Writes each example's class and the probabilities `[n, k]` of the `classes`
  (labels as the data names them) to a .npy or .csv, atomically."""
  from dnn_toolkit import _files  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.data import arrays  # pylint: disable=import-outside-toplevel
  n, k = probabilities.shape
  labels = arrays.class_labels(probabilities.argmax(axis=1), classes)  # [n]
  if path.lower().endswith(".npy"):
    table = np.zeros(n, dtype=[("class", labels.dtype),
                               ("probabilities", np.float32, (k,))])
    table["class"], table["probabilities"] = labels, probabilities
    with _files.atomic_writer(path) as f:
      np.save(f, table, allow_pickle=False)
    return
  columns = [f"p{c}" if isinstance(c, int) else f"p_{c}" for c in classes]
  with _files.atomic_writer(path, "w") as f:
    f.write(",".join(["class"] + [_csv_field(c) for c in columns]) + "\n")
    for start in range(0, n, 10000):  # Any size: rows are formatted a block at a time.
      block = probabilities[start:start + 10000]
      f.writelines(_csv_field(str(c)) + "," + ",".join(f"{p:.7g}" for p in row) + "\n"
                   for c, row in zip(labels[start:start + 10000].tolist(), block))


def _csv_field(text):
  """A CSV field: quoted if it holds a comma, a quote or a line break."""
  if any(c in text for c in ',"\n\r'):
    return '"' + text.replace('"', '""') + '"'
  return text
