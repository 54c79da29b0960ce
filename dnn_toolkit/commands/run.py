"""`dnn-toolkit run`: run an unmodified TF 1.x script on the `dnn_toolkit.tf1` stand-in.

The script keeps `import tensorflow as tf` and its contrib and tutorial imports; see
`dnn_toolkit.runner`. Its output, exceptions (with their traceback) and exit code pass
through unchanged. A missing file, a directory or a file that is not a Python script
is refused with one line, exit code 2, before TensorFlow loads. The NumPy names TF
1.x-era code used (np.float, np.int, ...) are put back for the script's process;
`--no-numpy-compat` (before SCRIPT) leaves NumPy as it is.
"""

import argparse

# The SCRIPT check answers before TensorFlow loads; the runner loads it itself.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit run mnist_tf1.py                  # `import tensorflow as tf` inside
  dnn-toolkit run train.py --epochs 5 --help    # everything after SCRIPT is its own
  dnn-toolkit run --no-numpy-compat train.py    # NumPy without np.float, np.int, ...
  python -m dnn_toolkit.runner mnist_tf1.py     # the same, without the CLI
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `run SCRIPT [ARGS...]`."""
  p = subparsers.add_parser(
      "run", help="run an unmodified TF 1.x script (import tensorflow as tf)",
      description="Run a TF 1.x script as written: for this process only, `import "
                  "tensorflow` and its tf.layers, tf.contrib.layers and "
                  "tf.examples.tutorials.mnist imports give dnn_toolkit.tf1, which "
                  "switches the process to TF 1.x behaviour (or, if the script calls "
                  "tf.enable_eager_execution() first, TF 1.x eager execution). The "
                  "installed TensorFlow is not modified.",
      epilog=EXAMPLES)
  p.add_argument("--no-numpy-compat", dest="numpy_compat", action="store_false",
                 help="do not put back the NumPy names TF 1.x-era code used and NumPy "
                      "removed (np.float, np.int, np.object, np.NaN, np.asscalar, "
                      "reshape(newshape=), ...); such code then fails with NumPy's "
                      "own error")
  p.add_argument("script", metavar="SCRIPT", help="the Python script to run")
  p.add_argument("script_args", nargs=argparse.REMAINDER, metavar="ARGS",
                 help="the script's own arguments, passed to it unchanged")
  return p


def run(args: argparse.Namespace) -> int:
  """Runs the script; returns its exit code (1 after an uncaught exception)."""
  from dnn_toolkit import runner as script_runner  # pylint: disable=import-outside-toplevel
  problem = script_runner.check_script(args.script)
  if problem is not None:
    raise ValueError(problem)
  return script_runner.run_script(args.script, args.script_args,
                                  numpy_compat=args.numpy_compat)
