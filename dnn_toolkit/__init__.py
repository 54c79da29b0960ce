"""dnn_toolkit: train deep neural nets the TensorFlow 1.x way on today's TensorFlow.

Graph mode, `tf.compat.v1`, Sessions, and the tf.contrib.layers builders back:

    import tensorflow.compat.v1 as tf
    from dnn_toolkit.layers.contrib import fully_connected, batch_norm, dropout

Importing the package changes no global TensorFlow state (it does not even import
TensorFlow until a submodule is used); see `enable_tf1_behavior` for the lesson's
top-level placeholder style. The command line is `dnn-toolkit` (or
`python -m dnn_toolkit`); `dnn-toolkit --help` lists its commands.
"""

import os
import types

__version__ = "0.1.0"


def enable_tf1_behavior() -> None:
  """Switches the process to TF 1.x behaviour; see `dnn_toolkit.compat`."""
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  compat.enable_tf1_behavior()


def import_tensorflow_quietly() -> types.ModuleType:
  """Imports TensorFlow without its start-up log lines; returns the module.

  For scripts and entry points: TensorFlow's C++ start-up notices and its notices about
  its own deprecated internals are dropped, every other warning still shows. See
  `dnn_toolkit.compat`.
  """
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  return compat.import_tensorflow_quietly()


def _module_summaries(directory):
  """Returns `  name  summary` lines for the public modules of a package directory.

  The summary is the first line of each module's docstring, read from its source so
  that nothing is imported; the package's own docstring then always lists every module.
  """
  lines = []
  for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    if name.startswith("_"):
      continue
    if os.path.isfile(os.path.join(path, "__init__.py")):
      name, path = name + ".py", os.path.join(path, "__init__.py")
    elif not name.endswith(".py"):
      continue
    with open(path, encoding="utf-8") as f:
      first = f.readline().strip()
    summary = first.strip('"').strip() if first.startswith('"""') else ""
    lines.append(f"  {name[:-3]:<14} {summary}")
  return lines


try:
  __doc__ += "\nModules:\n\n" + "\n".join(_module_summaries(os.path.dirname(__file__)))
except OSError:  # A zipped install has no directory to list; the summary stays short.
  pass

__all__ = ["enable_tf1_behavior", "import_tensorflow_quietly", "__version__"]
