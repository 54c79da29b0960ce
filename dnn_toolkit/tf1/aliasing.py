"""Makes `import tensorflow` give the stand-in, for one process (the runner, %load_ext).

`install()` puts sys.modules entries under TF 1.x's module names for the stand-in's
modules (`tensorflow`, `tensorflow.layers`, `tensorflow.contrib.layers`,
`tensorflow.examples.tutorials.mnist.input_data`, ...) and a meta-path finder that
answers the TF 1.x modules the stand-in cannot provide (`import
tensorflow.contrib.slim`) with `UnavailableModuleError`, naming what to use instead.

Modules imported before `install()` (TensorFlow itself, Keras, the toolkit) keep the
real TensorFlow they bound; code imported after it, the script and the libraries it
imports, sees the stand-in as it would have seen TF 1.x. Nothing on disk changes: the
installed TensorFlow stays as it is, and other processes are unaffected.

Without `install()` (a script that imports the stand-in by name, `import
dnn_toolkit.tf1 as tf`), `import tensorflow` is TensorFlow's own, and a TF 1.x
import it lacks is answered by `answer_removed_modules()`, which importing the
stand-in calls: `from tensorflow.contrib.factorization import KMeans` raises
`UnavailableModuleError` saying what to use instead, and `from
tensorflow.contrib.layers import fully_connected` one naming the stand-in module to
import it from, rather than a bare `No module named 'tensorflow.contrib'`.
"""

import importlib.abc
import importlib.machinery
import sys
import types

import tensorflow as _tf

# Importing the stand-in imports every module that MODULES names.
import dnn_toolkit.tf1  # pylint: disable=unused-import
from dnn_toolkit.tf1._unavailable import UnavailableModuleError, advice

#: TF 1.x module name -> the stand-in module (by name) that answers it.
MODULES: dict[str, str] = {
    "tensorflow": "dnn_toolkit.tf1",
    "tensorflow.compat": "dnn_toolkit.tf1.compat",
    "tensorflow.compat.v1": "dnn_toolkit.tf1",
    "tensorflow.layers": "dnn_toolkit.tf1.layers",
    "tensorflow.nn": "dnn_toolkit.tf1.nn",
    "tensorflow.nn.rnn_cell": "dnn_toolkit.tf1.nn.rnn_cell",
    "tensorflow.contrib": "dnn_toolkit.tf1.contrib",
    "tensorflow.contrib.layers": "dnn_toolkit.tf1.contrib.layers",
    "tensorflow.contrib.framework": "dnn_toolkit.tf1.contrib.framework",
    "tensorflow.contrib.rnn": "dnn_toolkit.tf1.contrib.rnn",
    "tensorflow.contrib.eager": "dnn_toolkit.tf1.contrib.eager",
    "tensorflow.contrib.eager.metrics": "dnn_toolkit.tf1.contrib.eager.metrics",
    "tensorflow.estimator": "dnn_toolkit.tf1.estimator",
    "tensorflow.estimator.export": "dnn_toolkit.estimator.export",
    "tensorflow.estimator.inputs": "dnn_toolkit.estimator.inputs",
    "tensorflow_estimator": "dnn_toolkit.tf1.estimator",
    "tensorflow_estimator.estimator": "dnn_toolkit.tf1.estimator",
    "tensorflow.keras": "dnn_toolkit.tf1.keras",
    "tensorflow.keras.datasets": "dnn_toolkit.tf1.keras.datasets",
    "tensorflow.keras.datasets.mnist": "dnn_toolkit.tf1.keras.datasets.mnist",
    "tensorflow.examples": "dnn_toolkit.tf1.examples",
    "tensorflow.examples.tutorials": "dnn_toolkit.tf1.examples.tutorials",
    "tensorflow.examples.tutorials.mnist": "dnn_toolkit.tf1.examples.tutorials.mnist",
    "tensorflow.examples.tutorials.mnist.input_data":
        "dnn_toolkit.tf1.examples.tutorials.mnist.input_data",
    "tensorflow.examples.tutorials.mnist.mnist":
        "dnn_toolkit.tf1.examples.tutorials.mnist.mnist",
}

# The stand-in namespaces: a submodule of these that is not in MODULES is TF 1.x's.
_NAMESPACES = ("contrib", "estimator", "examples", "keras", "layers")

_saved = None  # {module name: the sys.modules entry install() replaced, or None}


class _TF1Finder(importlib.abc.MetaPathFinder):
  """Finds `tensorflow.*` modules that are not in sys.modules once aliasing is on."""

  def find_spec(self, fullname, path=None, target=None):
    """Raises for TF 1.x modules the stand-in lacks; finds TF's own top-level ones."""
    del path, target
    if not fullname.startswith("tensorflow."):
      return None
    parts = fullname.split(".")
    api = "tf." + ".".join(parts[1:])
    if parts[1] in _NAMESPACES:
      raise UnavailableModuleError(api, fullname)
    if len(parts) == 2:
      # Its parent is the stand-in, whose __path__ is not TensorFlow's: look there.
      spec = importlib.machinery.PathFinder.find_spec(fullname, list(_tf.__path__))
      if spec is None and advice(api) is not None:
        raise UnavailableModuleError(api, fullname)
      return spec
    return None


_FINDER = _TF1Finder()


def _removed_module_error(fullname):
  """Returns the error for TF 1.x module `fullname` that today's TensorFlow lacks.

  None when `fullname` is no TF 1.x module the stand-in knows of (a plain
  ModuleNotFoundError then follows, as for any missing module).
  """
  api = "tf." + fullname[len("tensorflow."):]
  if fullname in MODULES:
    return UnavailableModuleError(api, fullname, provided_as=MODULES[fullname])
  parent = sys.modules.get(fullname.rpartition(".")[0])
  if advice(api) is not None or getattr(parent, "__loader__", None) is _REMOVED_MODULES:
    return UnavailableModuleError(api, fullname)
  return None


def _is_namespace(stand_in):
  """Whether stand-in module `stand_in` only holds modules (`tf.contrib`)."""
  return hasattr(stand_in, "__path__") and all(
      isinstance(value, types.ModuleType) for name, value in vars(stand_in).items()
      if not name.startswith("_"))


class _RemovedTF1Modules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Answers TF 1.x imports that today's TensorFlow lacks, when it is `tensorflow`.

  It is last on sys.meta_path, so it only sees what no other finder found. A removed
  TF 1.x namespace package (`tensorflow.contrib`, `tensorflow.examples`, ...) loads as
  an empty placeholder, so that the import of its submodule reaches this finder under
  its full name (`tensorflow.contrib.factorization`) and the error can name it; the placeholder's attributes raise the same errors (UnavailableModuleError,
  an ImportError, since they stand for modules).
  """

  def find_spec(self, fullname, path=None, target=None):
    """Returns a placeholder's spec, raises for a removed TF 1.x module, else None."""
    del path, target
    if installed() or not fullname.startswith("tensorflow."):
      return None  # With install(), the stand-in answers `tensorflow.*` itself.
    if _is_namespace(sys.modules.get(MODULES.get(fullname, ""))):
      return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
    error = _removed_module_error(fullname)
    if error is not None:
      raise error
    return None

  def create_module(self, spec):
    module = types.ModuleType(spec.name, f"TF 1.x's {spec.name}: removed from "
                              "TensorFlow; see dnn_toolkit.tf1.")
    module.__path__ = []

    def __getattr__(name):  # pylint: disable=invalid-name
      error = None if name.startswith("_") else _removed_module_error(
          f"{spec.name}.{name}")
      if error is None:
        raise AttributeError(f"module {spec.name!r} has no attribute {name!r}")
      # Its attributes are the modules it lacks. Not an AttributeError, whose message
      # `from ... import` would replace; an ImportError, which `except ImportError`
      # around `from tensorflow.contrib import slim` expects.
      raise error

    module.__getattr__ = __getattr__
    return module

  def exec_module(self, module):
    del module


_REMOVED_MODULES = _RemovedTF1Modules()


def answer_removed_modules() -> None:
  """Makes imports of TF 1.x modules TensorFlow lacks raise the guided errors.

  Idempotent; importing the stand-in calls it. Modules that exist are unaffected:
  the finder is asked only after every other one has failed.
  """
  if _REMOVED_MODULES not in sys.meta_path:
    sys.meta_path.append(_REMOVED_MODULES)


def _modules():
  """Returns {TF 1.x module name: module object} of everything install() aliases."""
  modules = {name: sys.modules[target] for name, target in MODULES.items()}
  modules["tensorflow.compat.v2"] = _tf.compat.v2
  return modules


def install() -> None:
  """Makes `import tensorflow` (and its TF 1.x submodules) give the stand-in.

  Idempotent. Importing the stand-in switches the process to TF 1.x behaviour; see
  `dnn_toolkit.tf1`.
  """
  global _saved
  if _saved is not None:
    return
  modules = _modules()
  _saved = {name: sys.modules.get(name) for name in modules}
  sys.modules.update(modules)
  sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
  """Puts back the sys.modules entries `install()` replaced, and removes its finder."""
  global _saved
  if _saved is None:
    return
  for name, module in _saved.items():
    if module is None:
      sys.modules.pop(name, None)
    else:
      sys.modules[name] = module
  if _FINDER in sys.meta_path:
    sys.meta_path.remove(_FINDER)
  _saved = None


def installed() -> bool:
  """Returns whether `install()` is in effect."""
  return _saved is not None
