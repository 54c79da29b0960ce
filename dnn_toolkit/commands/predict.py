"""`dnn-toolkit predict`: a run's classes and class probabilities for a data file.

The run is loaded read-only (`runs.loading.load_run`); the features are scaled as the
run's training data was (its standardization, if any) and run through the net in
batches of `--batch-size`. `--out` gets, per example, the predicted class and the
probability of each class:

    .npy  a structured array: out["class"] int64 [n], out["probabilities"] float32
          [n, n_outputs] (np.load(path) reads it, no pickle)
    .csv  a header `class,p0,p1,...` and one row per example

An existing `--out` is refused (it may be the input): nothing is overwritten.
"""

import argparse
import os

import numpy as np

from dnn_toolkit.commands import _flags

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

OUT_SUFFIXES = (".npy", ".csv")

EXAMPLES = """\
examples:
  dnn-toolkit predict checkpoints/iris --data new.csv --out predictions.csv
  dnn-toolkit predict checkpoints/mnist --data images.npz --out predictions.npy
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Adds `predict RUN --data PATH --out FILE`."""
  p = subparsers.add_parser(
      "predict", help="a run's classes and probabilities for a data file",
      description="Predict the class and class probabilities of each example of a data "
                  "file with a run's best (or latest) weights, in batches; the "
                  "features are scaled as the run's were.",
      epilog=EXAMPLES)
  p.add_argument("run_dir", metavar="RUN", help="the run directory")
  p.add_argument("--data", required=True, metavar="PATH",
                 help="the examples: .npz (x, or x_test), .csv (labels, if any, in a "
                      "'label' column or --label-column), MNIST's files (test images)")
  p.add_argument("--out", required=True, metavar="FILE",
                 help="where the predictions go: .npy or .csv (must not exist)")
  _flags.add_label_column_flag(p)
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
  _flags.check_run_dir(args.run_dir)
  # pylint: disable-next=import-outside-toplevel
  from dnn_toolkit import checkpoints
  from dnn_toolkit.runs import loading, run_data  # pylint: disable=import-outside-toplevel
  record = checkpoints.RunRecord.read(args.run_dir)
  features, _ = run_data.load_examples(
      record, args.data, label_column=_flags.label_column(args.label_column))
  with loading.load_run(args.run_dir, which=args.checkpoint) as loaded:
    probabilities = loaded.probabilities(features, args.batch_size)
  classes = probabilities.argmax(axis=1).astype(np.int64)  # [n]
  write_predictions(args.out, classes, probabilities)
  digits = run_data.class_digits(record)
  meaning = (f"; classes 0-{len(digits) - 1} stand for digits "
             f"{', '.join(map(str, digits))}" if digits else "")
  print(f"predicted {len(classes)} examples into {args.out}{meaning}")
  return 0


def write_predictions(path: str, classes: np.ndarray, probabilities: np.ndarray) -> None:
  """Writes classes `[n]` and probabilities `[n, k]` to a .npy or .csv, atomically."""
  from dnn_toolkit import _files  # pylint: disable=import-outside-toplevel
  n, k = probabilities.shape
  if path.lower().endswith(".npy"):
    table = np.zeros(n, dtype=[("class", np.int64), ("probabilities", np.float32, (k,))])
    table["class"], table["probabilities"] = classes, probabilities
    with _files.atomic_writer(path) as f:
      np.save(f, table, allow_pickle=False)
    return
  with _files.atomic_writer(path, "w") as f:
    f.write(",".join(["class"] + [f"p{i}" for i in range(k)]) + "\n")
    for start in range(0, n, 10000):  # Any size: rows are formatted a block at a time.
      block = probabilities[start:start + 10000]
      f.writelines(f"{c}," + ",".join(f"{p:.7g}" for p in row) + "\n"
                   for c, row in zip(classes[start:start + 10000], block))
