"""The process-wide TensorFlow switches: TF 1.x behaviour, quiet import, quiet notices.

Each of these changes state of the whole process, so they are for entry points (the
command line, demos, benchmarks, launched cluster tasks); `silenced_tf_deprecations` is
scoped to a `with` block, so library code may use it around one call:

    enable_tf1_behavior()        the lesson's top-level placeholders and Sessions
    import_tensorflow_quietly()  TensorFlow without its C++ start-up lines; also drops
                                 its notices about its own deprecated internals (not
                                 those about the user's calls)
    silenced_tf_deprecations()   a `with` block in which those notices are dropped
    silenced_tf_notice(text)     one in which a notice about the package's own call is
    is_startup_notice(line)      whether a stderr line is a TensorFlow start-up notice
                                 (for filtering a child process, e.g. TensorBoard)

Importing this module does not import TensorFlow; each function does when it needs it.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile
import types
from typing import Iterator

# TensorFlow's Python logger; `tf.get_logger()` returns this same object.
_TF_LOGGER = "tensorflow"
# What TensorFlow's notices about its own deprecated internals say.
_DEPRECATED = "is deprecated and will be removed"

# Start-up notices: informational lines, the absl preamble, and the CUDA probe failing on
# a machine without a GPU.
_NOISE = re.compile(r"^(I\d{4} |WARNING: All log messages before absl|"
                    r"E\d{4} .*(cuInit|cuda_platform|cuda_dnn|cuda_blas|cuda_fft)|"
                    r"To enable the following instructions|"
                    r"This TensorFlow binary is optimized)")


def enable_tf1_behavior() -> None:
  """Makes the rest of the process behave like TensorFlow 1.x.

  Call it once, at the top of a script, before building any graph, to write code as the
  lesson does: placeholders and variables at the top level (no `tf.Graph().as_default()`
  block), reference variables (`get_tensor_by_name("hidden1/weights:0")` gives the
  weights), TF 1.x control flow, `tf.Session()`:

      import tensorflow.compat.v1 as tf
      import dnn_toolkit
      dnn_toolkit.enable_tf1_behavior()
      X = tf.placeholder(tf.float32, shape=(None, 784), name="X")

  It calls `tf.compat.v1.disable_v2_behavior()`, which is process-wide and cannot be
  undone: do not call it in a process that also runs Keras 3 or eager code. Importing
  dnn_toolkit never calls it; without it, the builders still work inside any
  `with tf.Graph().as_default():` block.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  tf.compat.v1.disable_v2_behavior()


def import_tensorflow_quietly() -> types.ModuleType:
  """Imports TensorFlow with its start-up notices hidden; returns the module.

  TensorFlow's C++ runtime writes informational lines straight to file descriptor 2
  while it loads and finds its devices, before `TF_CPP_MIN_LOG_LEVEL` can take effect.
  This captures that descriptor for the import alone and writes back every line that is
  not a known start-up notice, so real warnings still reach the user. It also installs
  a filter on TensorFlow's logger for good that drops TensorFlow's notices about its
  own deprecated internals and keeps those about the user's calls. Calling it again
  returns the module at once.

  Returns:
    The `tensorflow` module.
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if "tensorflow" not in sys.modules:
    _import_with_stderr_captured()
  logger = logging.getLogger(_TF_LOGGER)
  if not any(isinstance(f, _TensorFlowDeprecations) for f in logger.filters):
    logger.addFilter(_TensorFlowDeprecations(users_kept=True))
  return sys.modules["tensorflow"]


@contextlib.contextmanager
def silenced_tf_deprecations() -> Iterator[None]:
  """A `with` block in which TensorFlow's notices about its own deprecated code drop.

  The Saver's checkpoint rotation and the v1 optimizers' slot set-up log that
  TensorFlow's internals are deprecated; the notices are about TensorFlow's code, not
  the user's. Every other record, warnings included, still passes:

      with compat.silenced_tf_deprecations():
        saver.save(sess, prefix)   # calls TensorFlow's deprecated remove_checkpoint

  Yields:
    None.
  """
  logger = logging.getLogger(_TF_LOGGER)
  silencer = _TensorFlowDeprecations()
  logger.addFilter(silencer)
  try:
    yield
  finally:
    logger.removeFilter(silencer)


@contextlib.contextmanager
def silenced_tf_notice(text: str) -> Iterator[None]:
  """A `with` block in which TensorFlow's log records containing `text` drop.

  For one notice that TensorFlow logs about a call the package makes on the user's
  behalf (a canned model's metric, say); the user's own calls keep every notice.
  """
  logger = logging.getLogger(_TF_LOGGER)
  silencer = _Notice(text)
  logger.addFilter(silencer)
  try:
    yield
  finally:
    logger.removeFilter(silencer)


def is_startup_notice(line: str) -> bool:
  """Returns whether `line` (one line of stderr) is a TensorFlow start-up notice."""
  return bool(_NOISE.match(line))


def _import_with_stderr_captured():
  """Imports TensorFlow, writing back the captured stderr lines that are not noise."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow  # pylint: disable=import-outside-toplevel,unused-import
      _probe_devices()  # Now, under the capture.
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      kept = [line for line in captured.read().decode(errors="replace").splitlines()
              if line.strip() and not is_startup_notice(line)]
  for line in kept:
    sys.stderr.write(line + "\n")


def _probe_devices():
  """Makes TensorFlow look for its devices (the CUDA probe logs then), and no more.

  TensorFlow's own device listing, not `tf.config.list_physical_devices()`: that
  would also create TensorFlow's eager context, after which a TF 1.x program's
  `tf.enable_eager_execution(config=...)` at its start would be refused.
  """
  try:
    from tensorflow.python import pywrap_tfe  # pylint: disable=import-outside-toplevel
    pywrap_tfe.TF_ListPhysicalDevices()
  except (ImportError, AttributeError):  # A TensorFlow without it: the public way.
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.config.list_physical_devices()


class _TensorFlowDeprecations(logging.Filter):
  """Drops the records saying that TensorFlow's own internals are deprecated.

  Inside `silenced_tf_deprecations` every such notice drops. The filter installed for
  good by `import_tensorflow_quietly` (`users_kept=True`) keeps the notices about the
  user's own calls: it drops a notice unless the deprecated function was called from
  outside TensorFlow, Keras and this package, so a TF 1.x script's
  `tf.nn.dropout(x, keep_prob=0.5)` is still told it is deprecated while the Saver's
  own use of a deprecated helper is not reported.
  """

  def __init__(self, users_kept: bool = False):
    super().__init__()
    self._users_kept = users_kept

  def filter(self, record: logging.LogRecord) -> bool:
    if "is deprecated and will be removed" not in record.getMessage():
      return True
    return self._users_kept and _called_by_the_user()


class _Notice(logging.Filter):
  """Drops the records whose message contains `text`."""

  def __init__(self, text: str) -> None:
    super().__init__()
    self.text = text

  def filter(self, record: logging.LogRecord) -> bool:
    return self.text not in record.getMessage()


# The libraries whose own calls of deprecated TensorFlow code are not the user's.
_LIBRARIES = ("tensorflow", "keras", "tf_keras", "absl", "tensorboard", "dnn_toolkit")


def _called_by_the_user() -> bool:
  """Whether the deprecated TensorFlow function being reported was called by the user.

  The caller is the frame just outside TensorFlow's deprecation wrapper and the
  decorators around it (`tensorflow/python/util`: dispatch, traceback filtering).
  """
  util = os.sep + os.path.join("tensorflow", "python", "util") + os.sep
  frame: types.FrameType | None = sys._getframe(1)  # pylint: disable=protected-access
  while frame is not None and not frame.f_code.co_filename.endswith(
      util + "deprecation.py"):
    frame = frame.f_back
  if frame is None:
    return False
  # TensorFlow's own directory (under the runner, sys.modules names the stand-in).
  roots = [frame.f_code.co_filename.split(util)[0] + os.sep + "tensorflow" + os.sep]
  while frame is not None and util in frame.f_code.co_filename:
    frame = frame.f_back
  if frame is None:
    return False
  path = os.path.abspath(frame.f_code.co_filename)
  roots += [os.path.dirname(origin) + os.sep
            for origin in (getattr(sys.modules.get(name), "__file__", None)
                           for name in _LIBRARIES) if origin]
  return not any(path.startswith(root) for root in roots)
