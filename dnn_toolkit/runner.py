"""Runs an unmodified TF 1.x script on today's TensorFlow, through `dnn_toolkit.tf1`.

    python -m dnn_toolkit.runner train_mnist.py --epochs 5
    dnn-toolkit run train_mnist.py --epochs 5

The script keeps `import tensorflow as tf`, `from tensorflow.contrib.layers import
fully_connected, batch_norm, dropout`, `tf.layers.dense`, `tf.train.Saver`,
`tf.summary.FileWriter`, `input_data.read_data_sets(...)`: for this process only,
those imports give the stand-in (`dnn_toolkit.tf1.aliasing`), which switches the
process to TF 1.x behaviour. The installed TensorFlow is never modified.

The script runs as `python SCRIPT ARGS...` would run it: as `__main__`, with
`sys.argv = [SCRIPT, ARGS...]` (SCRIPT made absolute, as are the paths in its
tracebacks) and its directory first on `sys.path`. Its output, its
exceptions (with their traceback, from the script's own frames) and its exit code
pass through unchanged. TensorFlow loads where the script first imports it, as with
TF 1.x. A missing file, a directory or a file that is not a Python script is refused
with one line on stderr and exit code 2.
"""

import importlib.abc
import importlib.machinery
import os
import runpy
import sys
from collections.abc import Sequence

#: Exit code of a refused SCRIPT argument, as for the other commands.
EXIT_ERROR = 2
#: Exit code of a script that ended with an uncaught exception, as `python` exits.
EXIT_EXCEPTION = 1

_USAGE = "usage: {prog} SCRIPT [ARGS...]"


def check_script(path: str) -> str | None:
  """Returns None if `path` is a Python script to run, else why it is not (one line).

  A Python script is a file named `*.py` (or `*.pyw`), or one whose first line is a
  shebang naming python.
  """
  if not os.path.exists(path):
    return f"no such file: {path}"
  if os.path.isdir(path):
    return f"{path} is a directory, expected a Python script (SCRIPT.py)"
  if os.path.splitext(path)[1].lower() in (".py", ".pyw"):
    return None
  try:
    with open(path, "rb") as f:
      first_line = f.readline(200)
  except OSError as e:
    return f"cannot read {path}: {e.strerror}"
  if first_line.startswith(b"#!") and b"python" in first_line:
    return None
  return (f"{path} is not a Python script (expected a .py file or a python shebang); "
          "for a notebook, run `%load_ext dnn_toolkit.tf1` in it")


def run_script(path: str, args: Sequence[str] = ()) -> int:
  """Runs the TF 1.x script `path` with `args` as `python path args...` would.

  Args:
    path: the script, already accepted by `check_script`.
    args: its command-line arguments (`sys.argv[1:]`).

  Returns:
    0 when the script ends normally, `EXIT_EXCEPTION` after printing the traceback
    of an uncaught exception. `sys.exit(code)` in the script raises SystemExit
    through this function, so its code reaches the shell unchanged.
  """
  if not any(isinstance(f, _FirstTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _FirstTensorFlowImport())
  path = os.path.abspath(path)  # As `python SCRIPT` names it in tracebacks.
  sys.argv = [path] + list(args)
  sys.path[0] = os.path.dirname(path)
  try:
    runpy.run_path(path, run_name="__main__")
  except (SystemExit, KeyboardInterrupt):
    raise
  except BaseException as e:  # pylint: disable=broad-except
    tb = _script_frames(e.__traceback__, path)
    sys.excepthook(type(e), e.with_traceback(tb), tb)
    return EXIT_EXCEPTION
  return 0


class _FirstTensorFlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Loads the stand-in when something first imports `tensorflow`, then aliases it.

  TensorFlow takes seconds to load: a script loads it where it imports it, as with
  TF 1.x, and one that fails before (a SyntaxError, a bad argument) fails at once.
  The import system asks for `tensorflow` before any of its submodules, so that is
  the one name answered here.
  """

  def __init__(self):
    self._stand_in = self._stand_in_spec = None

  def find_spec(self, fullname, path=None, target=None):
    """Answers the first `import tensorflow` with the stand-in, aliased for good."""
    del path, target
    if fullname != "tensorflow":
      return None
    sys.meta_path.remove(self)  # The real TensorFlow now imports as usual.
    import dnn_toolkit  # pylint: disable=import-outside-toplevel
    dnn_toolkit.import_tensorflow_quietly()
    from dnn_toolkit.tf1 import aliasing  # pylint: disable=import-outside-toplevel
    aliasing.install()  # Puts the stand-in in sys.modules["tensorflow"].
    # Taken out again until create_module: with the entry there, the import system
    # would load the stand-in's file afresh under its own spec.
    self._stand_in = sys.modules.pop("tensorflow")
    self._stand_in_spec = self._stand_in.__spec__
    return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

  def create_module(self, spec):
    del spec
    return self._stand_in

  def exec_module(self, module):
    module.__spec__ = self._stand_in_spec  # The import system re-labelled it.


def _script_frames(tb, path):
  """Drops the runner's and runpy's frames from the head of traceback `tb`.

  What is left starts at the script's own frame, as `python SCRIPT` shows it; None
  when no frame is the script's (a SyntaxError shows its file and line itself).
  """
  while tb is not None and tb.tb_frame.f_code.co_filename != path:
    tb = tb.tb_next
  return tb


def main(argv: Sequence[str] | None = None,
         prog: str = "python -m dnn_toolkit.runner") -> int:
  """Runs `SCRIPT ARGS...` from `argv` (default `sys.argv[1:]`); returns the exit code.

  Args:
    argv: `[SCRIPT, ARGS...]`.
    prog: how the usage and error lines name the command.

  Returns:
    The exit code: 0, `EXIT_EXCEPTION`, or `EXIT_ERROR` for a refused SCRIPT (one
    line on stderr). The script's `sys.exit(code)` passes through as SystemExit.
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  if not argv:
    sys.stderr.write(_USAGE.format(prog=prog) + " (missing SCRIPT)\n")
    return EXIT_ERROR
  if argv[0] in ("-h", "--help"):
    print(_USAGE.format(prog=prog))
    print("Runs an unmodified TF 1.x script (`import tensorflow as tf`) on "
          "dnn_toolkit.tf1.")
    return 0
  problem = check_script(argv[0])
  if problem is not None:
    sys.stderr.write(f"{prog}: error: {problem}\n")
    return EXIT_ERROR
  return run_script(argv[0], argv[1:])


if __name__ == "__main__":
  sys.exit(main())
