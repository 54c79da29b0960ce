"""`dnn-toolkit runs`: a table of the runs under a directory, to compare them at a glance.

Each run directory (one holding a run record) under DIR, at any depth, is one row: its
config in brief, epochs, best epoch, validation accuracy at the best epoch, test
accuracy (the record's, else that of `evaluate`'s evaluation.json), training time and
status. A damaged record is a row saying so; the table still lists the others.
"""

import argparse
import json
import os
from typing import Any, Dict, List

EXAMPLES = """\
examples:
  dnn-toolkit runs                          # the runs under checkpoints/
  dnn-toolkit runs experiments/ --sort val
  dnn-toolkit runs experiments/ --json
"""

_SORT_KEYS = {"name": "run", "val": "val_accuracy", "test": "test_accuracy",
              "time": "seconds"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `runs [DIR] [--sort KEY] [--json]`."""
  p = subparsers.add_parser(
      "runs", help="a table of the runs under a directory",
      description="List the runs under a directory: config, epochs, best epoch, "
                  "validation and test accuracy, training time and status.",
      epilog=EXAMPLES)
  p.add_argument("directory", metavar="DIR", nargs="?", default="checkpoints",
                 help="where to look, at any depth (default: %(default)s)")
  p.add_argument("--sort", choices=tuple(_SORT_KEYS), default="name",
                 help="order of the rows; accuracies and time best first "
                      "(default: %(default)s)")
  p.add_argument("--json", action="store_true", help="print the rows as JSON")
  return p


def run(args: argparse.Namespace) -> int:
  """Prints the table (or JSON) of the runs under DIR; returns 0."""
  if not os.path.isdir(args.directory):
    raise FileNotFoundError(f"argument DIR: no directory at {args.directory!r}.")
  rows = [run_row(path, args.directory) for path in find_runs(args.directory)]
  key = _SORT_KEYS[args.sort]
  if key == "run":
    rows.sort(key=lambda r: r["run"])
  else:  # Best first (highest accuracy, shortest time); runs without a value last.
    sign = 1 if key == "seconds" else -1
    rows.sort(key=lambda r: (r.get(key) is None, sign * (r.get(key) or 0), r["run"]))
  if args.json:
    print(json.dumps(rows, indent=1))
  elif not rows:
    print(f"no runs under {args.directory}")
  else:
    print(format_table(rows))
  return 0


def find_runs(directory: str) -> List[str]:
  """The run directories under `directory` (itself included), sorted."""
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  found = []
  for root, subdirs, _ in os.walk(directory):
    if checkpoints.RunRecord.exists(root):
      found.append(root)
      subdirs[:] = []  # A run's own subdirectories (best/, logs/) hold no runs.
    else:
      subdirs.sort()
  return sorted(found)


def run_row(path: str, directory: str) -> Dict[str, Any]:
  """One row of the table: a JSON-ready dict describing the run at `path`."""
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  name = os.path.relpath(path, directory)
  try:
    record = checkpoints.RunRecord.read(path)
  except checkpoints.CheckpointError as error:
    return {"run": name, "status": "damaged", "error": str(error)}
  config, state = record.config, record.state
  best = next((h for h in state.history if h.get("epoch") == state.best_epoch), None)
  test = (record.test or {}).get("accuracy")
  tested = "record" if test is not None else None
  if test is None:
    test, tested = _evaluated_accuracy(path), "evaluate"
    tested = tested if test is not None else None
  status = "finished" if record.finished else (
      "training" if _is_locked(path) else "interrupted")
  if record.finished and state.stopped_early:
    status = "stopped early"
  return {"run": name, "hidden_layers": list(config.hidden_layers),
          "activation": config.activation, "batch_norm": config.batch_norm,
          "dropout_rate": config.dropout_rate, "optimizer": config.optimizer,
          "learning_rate": config.learning_rate, "transfer": bool(record.transfer),
          "epochs": state.epoch, "best_epoch": state.best_epoch or None,
          "val_accuracy": best.get("val_accuracy") if best else None,
          "test_accuracy": test, "test_from": tested,
          "seconds": sum(h.get("seconds", 0.0) for h in state.history),
          "status": status}


def _evaluated_accuracy(path):
  from dnn_toolkit.runs import evaluation  # pylint: disable=import-outside-toplevel
  report = evaluation.read_evaluation(path)
  accuracy = report.get("accuracy") if report else None
  return accuracy if isinstance(accuracy, (int, float)) else None


def _is_locked(path):
  """Whether a process trains in the run now (holds its lock); the lock is not taken."""
  from dnn_toolkit import _files, checkpoints  # pylint: disable=import-outside-toplevel
  return _files.lock_holder(os.path.join(path, checkpoints.LOCK_FILE)) is not None


def format_table(rows: List[Dict[str, Any]]) -> str:
  """The rows of `run_row` as a text table."""
  percent = lambda v: "-" if v is None else f"{100 * v:.2f}%"
  header = ("run", "config", "epochs", "best", "val acc", "test acc", "time", "status")
  lines = []
  for r in rows:
    if r["status"] == "damaged":
      lines.append((r["run"], "-", "-", "-", "-", "-", "-", "damaged record"))
      continue
    config = "-".join(map(str, r["hidden_layers"])) + f" {r['activation']}"
    config += " bn" if r["batch_norm"] else ""
    config += f" drop{r['dropout_rate']:g}" if r["dropout_rate"] else ""
    config += f" {r['optimizer']} {r['learning_rate']:g}"
    config += " transfer" if r["transfer"] else ""
    test = percent(r["test_accuracy"]) + ("*" if r["test_from"] == "evaluate" else "")
    lines.append((r["run"], config, str(r["epochs"]), str(r["best_epoch"] or "-"),
                  percent(r["val_accuracy"]), test, f"{r['seconds']:.1f}s",
                  r["status"]))
  widths = [max(len(row[i]) for row in lines + [header]) for i in range(len(header))]
  left = (0, 1, 7)
  text = ["  ".join(f"{row[i]:<{widths[i]}}" if i in left else f"{row[i]:>{widths[i]}}"
                    for i in range(len(header))).rstrip() for row in [header] + lines]
  if any(r.get("test_from") == "evaluate" for r in rows):
    text.append("* test accuracy of the last `dnn-toolkit evaluate` (evaluation.json)")
  return "\n".join(text)
