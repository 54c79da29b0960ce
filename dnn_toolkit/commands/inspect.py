"""`dnn-toolkit inspect`: a checkpoint's variables, their statistics and scopes."""

import argparse
import json
import os
from typing import Any, Dict

from dnn_toolkit import compat

# The path is checked first: a missing one is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit inspect checkpoints/mnist                   # its best checkpoint
  dnn-toolkit inspect checkpoints/mnist/latest            # the latest, with slots
  dnn-toolkit inspect checkpoints/mnist/best/model.ckpt-5500 --json | head
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `inspect CHECKPOINT [--json]`."""
  p = subparsers.add_parser(
      "inspect", help="list a checkpoint's variables, statistics and scopes",
      description="List each variable of a checkpoint with its shape, dtype, min, max, "
                  "mean and std, and the scopes they sit in.",
      epilog=EXAMPLES)
  p.add_argument("checkpoint", metavar="CHECKPOINT",
                 help="a checkpoint prefix (run/best/model.ckpt-120), a directory with "
                      "a 'checkpoint' file, or a run directory (its best checkpoint, "
                      "else its latest)")
  p.add_argument("--json", action="store_true", help="print JSON instead of tables")
  return p


def run(args: argparse.Namespace) -> int:
  """Prints the report of `checkpoints.inspect_checkpoint`; returns 0."""
  path = args.checkpoint
  if not os.path.exists(path) and not os.path.isfile(path + ".index"):
    raise FileNotFoundError(f"argument CHECKPOINT: nothing at {path!r}: no such file, "
                            f"directory or checkpoint prefix ({path}.index).")
  compat.import_tensorflow_quietly()
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.runs import evaluation  # pylint: disable=import-outside-toplevel
  report = checkpoints.inspect_checkpoint(args.checkpoint)
  is_run = os.path.isdir(args.checkpoint) and checkpoints.has_run(args.checkpoint)
  if args.json:
    if is_run:  # A run directory: also what training and `evaluate` measured.
      record = checkpoints.read_run_state(args.checkpoint)
      evaluated = evaluation.read_evaluation(args.checkpoint)
      if evaluated is not None:
        evaluated = dict(evaluated, stale=evaluation.stale_evaluation(
            evaluated, checkpoints.RunRecord.read(args.checkpoint)))
      report = dict(report, test=record.get("test"), evaluation=evaluated)
    print(json.dumps(report, indent=1))
  else:
    lines = [format_inspection(report)]
    if is_run:
      test = checkpoints.read_run_state(args.checkpoint).get("test")
      if isinstance(test, dict) and "accuracy" in test:
        lines.append(f"test (at the end of training): accuracy {test['accuracy']:.4f}, "
                     f"loss {test.get('loss', float('nan')):.4f}")
      lines += evaluation.evaluation_lines(args.checkpoint,
                                           checkpoints.RunRecord.read(args.checkpoint))
    print("\n".join(lines))
  return 0


def format_inspection(report: Dict[str, Any]) -> str:
  """The report of `checkpoints.inspect_checkpoint` as two text tables."""
  stat = lambda value: "-" if value is None else f"{value:.4g}"
  rows = [(v["name"], "[" + ", ".join(map(str, v["shape"])) + "]", v["dtype"],
           *(stat(v[k]) for k in ("min", "max", "mean", "std")),
           f"{v['non_finite']} NaN/Inf" if v["non_finite"] else "")
          for v in report["variables"]]
  header = ("variable", "shape", "dtype", "min", "max", "mean", "std", "")
  widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(7)]
  lines = [f"checkpoint: {report['checkpoint']}", ""]
  for row in [header] + rows:
    cells = [f"{row[i]:<{widths[i]}}" if i < 3 else f"{row[i]:>{widths[i]}}"
             for i in range(7)]
    lines.append("  ".join(cells + [row[7]]).rstrip())
  lines += ["", f"{'scope':<{widths[0]}}  {'variables':>9}  {'values':>10}"]
  lines += [f"{s['scope']:<{widths[0]}}  {s['variables']:>9}  {s['size']:>10,}"
            for s in report["scopes"]]
  lines += ["", f"{len(report['variables'])} variables, {report['total_size']:,} values"]
  return "\n".join(lines)
