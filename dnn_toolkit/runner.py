"""Runs an unmodified TF 1.x script on today's TensorFlow, through `dnn_toolkit.tf1`.

    python -m dnn_toolkit.runner [--no-numpy-compat] train_mnist.py --epochs 5
    dnn-toolkit run [--no-numpy-compat] train_mnist.py --epochs 5

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

The NumPy names TF 1.x-era code used and NumPy has since removed (`np.float`,
`np.int`, `np.object`, `np.NaN`, `np.asscalar`, `np.reshape(a, newshape=...)`, ...;
`REMOVED_NUMPY_NAMES`) are put back before the script runs, for this process only
(the script, and every module of the process, see them until it ends); NumPy on
disk is not modified. `--no-numpy-compat` leaves NumPy as it is, so such code fails
with NumPy's own AttributeError.
"""

import functools
import importlib.abc
import importlib.machinery
import inspect
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Exit code of a refused SCRIPT argument, as for the other commands.
EXIT_ERROR = 2
#: Exit code of a script that ended with an uncaught exception, as `python` exits.
EXIT_EXCEPTION = 1

_USAGE = "usage: {prog} [--no-numpy-compat] SCRIPT [ARGS...]"
#: The runner's own option; anything after SCRIPT is the script's.
NO_NUMPY_COMPAT = "--no-numpy-compat"


#: The NumPy names TF 1.x-era code used that NumPy has since removed -> what each
#: meant. NumPy 1.24 removed its aliases of Python's types (np.int was `int`), 1.18
#: to 1.23 a few functions, NumPy 2.0 the names NEP 52 retired, 2.4 `trapz` and
#: `in1d`. `np.bool` and `np.long` are not here: NumPy 2 has them again (as
#: `numpy.bool` and the C long), and they keep NumPy's meaning.
REMOVED_NUMPY_NAMES: dict[str, Any] = {
    # Python's own types, removed in NumPy 1.24.
    "int": int, "float": float, "complex": complex, "object": object, "str": str,
    "unicode": str,
    # Constants and scalar types, removed in NumPy 2.0.
    "infty": np.inf, "Inf": np.inf, "Infinity": np.inf, "PINF": np.inf,
    "NINF": -np.inf, "NaN": np.nan, "NAN": np.nan, "PZERO": 0.0, "NZERO": -0.0,
    "float_": np.float64, "complex_": np.complex128, "cfloat": np.complex128,
    "singlecomplex": np.complex64, "longfloat": np.longdouble,
    "longcomplex": np.clongdouble, "clongfloat": np.clongdouble,
    "string_": np.bytes_, "unicode_": np.str_, "bool8": np.bool_, "int0": np.intp,
    "uint0": np.uintp, "object0": np.object_, "str0": np.str_, "bytes0": np.bytes_,
    "void0": np.void,
    # Functions, as what replaced them.
    "asscalar": lambda a: np.asarray(a).item(),  # NumPy 1.23
    "rank": np.ndim,  # NumPy 1.18
    "alen": lambda a: len(np.array(a, ndmin=1)),  # NumPy 1.23
    "asfarray": lambda a, dtype=np.float64: np.asarray(
        a, dtype=dtype if np.issubdtype(dtype, np.inexact) else np.float64),
    "round_": np.round, "product": np.prod, "cumproduct": np.cumprod,
    "sometrue": np.any, "alltrue": np.all, "mat": np.asmatrix,
    "msort": lambda a: np.sort(a, axis=0),
    "trapz": lambda *args, **kwargs: np.trapezoid(*args, **kwargs),  # NumPy 2.4
    "in1d": lambda ar1, ar2, assume_unique=False, invert=False: np.isin(
        ar1, ar2, assume_unique=assume_unique, invert=invert).ravel(),
}


def restore_numpy_names() -> list[str]:
  """Puts back, in this process's NumPy, the names TF 1.x-era code used.

  Each of `REMOVED_NUMPY_NAMES` this NumPy lacks gets what it meant (`np.float` is
  `float`, `np.NaN` is `np.nan`, `np.asscalar(a)` is `a.item()`), and `np.reshape`
  accepts `newshape=` again; names NumPy still has are left alone. Process-wide
  until the process ends (the runner calls it just before the script runs);
  idempotent. NumPy on disk is not modified.

  Returns:
    The names it set, in `REMOVED_NUMPY_NAMES` order (`reshape` last if wrapped).
  """
  restored = [name for name in REMOVED_NUMPY_NAMES if name not in vars(np)]
  for name in restored:
    setattr(np, name, REMOVED_NUMPY_NAMES[name])
  if not (getattr(np.reshape, "accepts_newshape", False)
          or "newshape" in inspect.signature(np.reshape).parameters):
    np.reshape = _accepting_newshape(np.reshape)
    restored.append("reshape")
  return restored


def _accepting_newshape(reshape: Callable[..., Any]) -> Callable[..., Any]:
  """Returns `reshape` that also takes NumPy 1.x's `newshape=` keyword."""

  @functools.wraps(reshape)
  def reshape_with_newshape(a, *args, newshape=None, **kwargs):
    if newshape is None:
      return reshape(a, *args, **kwargs)
    if args or "shape" in kwargs:
      raise TypeError("reshape() got both `shape` and `newshape`; pass one. "
                      f"Received: newshape={newshape!r}")
    return reshape(a, newshape, **kwargs)

  reshape_with_newshape.accepts_newshape = True  # type: ignore[attr-defined]
  return reshape_with_newshape


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


def run_script(path: str, args: Sequence[str] = (), *, numpy_compat: bool = True
               ) -> int:
  """Runs the TF 1.x script `path` with `args` as `python path args...` would.

  Args:
    path: the script, already accepted by `check_script`.
    args: its command-line arguments (`sys.argv[1:]`).
    numpy_compat: put back the NumPy names TF 1.x-era code used first
      (`restore_numpy_names`). Default True.

  Returns:
    0 when the script ends normally, `EXIT_EXCEPTION` after printing the traceback
    of an uncaught exception. `sys.exit(code)` in the script raises SystemExit
    through this function, so its code reaches the shell unchanged.
  """
  if numpy_compat:
    restore_numpy_names()
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
    argv: `[--no-numpy-compat] SCRIPT ARGS...`.
    prog: how the usage and error lines name the command.

  Returns:
    The exit code: 0, `EXIT_EXCEPTION`, or `EXIT_ERROR` for a refused SCRIPT or
    option (one line on stderr). The script's `sys.exit(code)` passes through as
    SystemExit.
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  numpy_compat = True
  while argv and argv[0].startswith("-"):  # The runner's options come before SCRIPT.
    option = argv.pop(0)
    if option in ("-h", "--help"):
      print(_USAGE.format(prog=prog))
      print("Runs an unmodified TF 1.x script (`import tensorflow as tf`) on "
            "dnn_toolkit.tf1.\n\n"
            f"  {NO_NUMPY_COMPAT}  do not put back the NumPy names TF 1.x-era code "
            "used (np.float, np.int, ...)")
      return 0
    if option != NO_NUMPY_COMPAT:
      sys.stderr.write(f"{prog}: error: unrecognized option {option!r} before SCRIPT "
                       f"(expected {NO_NUMPY_COMPAT}; the script's own options go "
                       "after SCRIPT)\n")
      return EXIT_ERROR
    numpy_compat = False
  if not argv:
    sys.stderr.write(_USAGE.format(prog=prog) + " (missing SCRIPT)\n")
    return EXIT_ERROR
  problem = check_script(argv[0])
  if problem is not None:
    sys.stderr.write(f"{prog}: error: {problem}\n")
    return EXIT_ERROR
  return run_script(argv[0], argv[1:], numpy_compat=numpy_compat)


if __name__ == "__main__":
  sys.exit(main())
