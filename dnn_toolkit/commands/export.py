"""`dnn-toolkit export`: a run as a SavedModel for serving (and a frozen GraphDef)."""

import argparse
import os

from dnn_toolkit.commands import _flags

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit export checkpoints/mnist --out exported/mnist
  dnn-toolkit export checkpoints/iris --out exported/iris --frozen-graph

then, in any TensorFlow 2 process (features as your data holds them: raw pixels):
  model = tf.saved_model.load("exported/mnist")
  out = model.signatures["serving_default"](inputs=tf.constant(pixels, tf.float32))
  out["classes"], out["probabilities"]
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `export RUN --out DIR [--frozen-graph] [--checkpoint best|latest]`."""
  p = subparsers.add_parser(
      "export", help="write a run as a SavedModel for serving",
      description="Write a run's net as a SavedModel whose serving signature takes "
                  "'inputs' (float32 [None, n_inputs]: features as your data holds "
                  "them, raw; the run's scaling, such as MNIST's division by 255 or a "
                  "standardization, is in the graph) and returns 'classes' (as your "
                  "data names them) and 'probabilities', in inference mode. "
                  "DIR/assets.extra/signature.json says the same.",
      epilog=EXAMPLES)
  p.add_argument("run_dir", metavar="RUN", help="the run directory")
  p.add_argument("--out", required=True, metavar="DIR",
                 help="the SavedModel directory to create (must not exist, or be empty)")
  p.add_argument("--frozen-graph", action="store_true",
                 help="also write DIR/frozen_graph.pb, variables as constants, for "
                      "TF 1.x tools")
  _flags.add_checkpoint_flag(p)
  return p


def run(args: argparse.Namespace) -> int:
  """Exports; prints what was written. Returns 0."""
  if os.path.lexists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
    raise FileExistsError(f"argument --out: {args.out} already exists and is not "
                          "empty; nothing was written. Choose a new directory.")
  _flags.check_run_dir(args.run_dir)
  # pylint: disable-next=import-outside-toplevel
  from dnn_toolkit import checkpoints, export
  from dnn_toolkit.runs import run_data  # pylint: disable=import-outside-toplevel
  record = checkpoints.RunRecord.read(args.run_dir)
  doc = export.export_saved_model(args.run_dir, args.out, which=args.checkpoint,
                                  scaling=run_data.scaling_of(record),
                                  classes=run_data.class_labels(record),
                                  frozen_graph=args.frozen_graph)
  inputs = doc["inputs"][export.INPUTS]
  classes = doc["outputs"][export.CLASSES]
  print(f"exported {args.run_dir} ({args.checkpoint} checkpoint) to {args.out}: "
        f"signature '{export.SIGNATURE_KEY}'")
  print(f"  inputs '{export.INPUTS}' float32 [None, {inputs['shape'][1]}]: "
        f"{inputs['takes']}")
  print(f"  outputs '{export.CLASSES}' ({classes['dtype']}: "
        f"{_listed(classes['labels'])}), '{export.PROBABILITIES}' (float32, a column "
        "per class)")
  print(f"  described in {os.path.join(args.out, export.SIGNATURE_DOC)}")
  if args.frozen_graph:
    print(f"frozen graph: {os.path.join(args.out, export.FROZEN_GRAPH)}")
  return 0


def _listed(values, limit=10):
  shown = ", ".join(map(str, values[:limit]))
  return shown + (", ..." if len(values) > limit else "")
