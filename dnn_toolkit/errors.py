"""The exceptions dnn_toolkit raises for graph, checkpoint, data and training state.

Bad argument values raise the built-in `ValueError` and bad argument types `TypeError`;
the classes here describe states of the world rather than a wrong argument, so callers
can catch them apart from programming errors.
"""

from collections.abc import Iterable


class DnnToolkitError(Exception):
  """Base class of every error specific to dnn_toolkit."""


class GraphStateError(DnnToolkitError):
  """The graph does not hold what the call needs (a missing collection or tensor)."""


class CheckpointError(DnnToolkitError):
  """A checkpoint is missing, corrupt or does not fit the graph."""


class NoMatchError(CheckpointError):
  """A scope pattern matched no variable in the graph or in the checkpoint."""


class ShapeMismatchError(CheckpointError):
  """A checkpoint variable and a graph variable share a name but not a shape."""


class ConfigMismatchError(CheckpointError):
  """A run directory was written by a different configuration or other data.

  Attributes:
    fields: the names of the settings that differ (`DNNConfig` fields, 'batch_size',
      'data'), so a caller can name them its own way (the command line: flags).
  """

  def __init__(self, message: str, fields: Iterable[str] = ()) -> None:
    super().__init__(message)
    self.fields: tuple[str, ...] = tuple(fields)


class RunLockedError(CheckpointError):
  """Another process is training in the run directory.

  Attributes:
    pid: the holder's process id, or None if it could not be read.
  """

  def __init__(self, message: str, pid: int | None = None) -> None:
    super().__init__(message)
    self.pid: int | None = pid


class LogsNotFoundError(DnnToolkitError, FileNotFoundError):
  """A run directory, or the TensorBoard event files it should hold, is missing.

  Also a `FileNotFoundError`, which earlier versions raised.
  """


class TrainingDivergedError(DnnToolkitError):
  """The loss became NaN or infinite during training."""


class DataError(DnnToolkitError):
  """A data set could not be found, decoded or verified."""


class DataNotFoundError(DataError):
  """No source of a data set could be found."""


class DataIntegrityError(DataError):
  """A data file is corrupt, truncated or differs from the official contents."""


_NOISE_PREFIXES = ("Graph execution error", "Detected at node", "File \"", "[[", "Node:",
                   "Hint:", "Original stack trace", "Errors may have originated",
                   "Traceback")


def describe(error: BaseException) -> str:
  """One line saying what went wrong in `error`, for a message of our own.

  TensorFlow's errors start with "Graph execution error:" and node traces; this returns
  the first line that says what is wrong ("Data loss: ...", "No space left on device").

  Args:
    error: an exception.

  Returns:
    A non-empty str.
  """
  text = getattr(error, "message", None) or str(error)
  lines = [line.strip() for line in str(text).splitlines()]
  lines = [line for line in lines if line and not line.startswith(_NOISE_PREFIXES)]
  if lines:
    return lines[0].rstrip(".:")
  return type(error).__name__ + (f" ({error!r})" if str(error) else "")
