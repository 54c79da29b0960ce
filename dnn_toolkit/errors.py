"""The exceptions dnn_toolkit raises for bad arguments, graph, checkpoint, data and
training state.

Bad argument values raise `ValueError` and bad argument types `TypeError`; where one
argument is at fault, the error is an `ArgumentError` (a `ValueError`) that carries the
argument's name, so the command line names its flag without reading the message. The
other classes describe states of the world rather than a wrong argument, so callers can
catch them apart from programming errors.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any


class DnnToolkitError(Exception):
  """Base class of every error specific to dnn_toolkit.

  A message that tells the user to pass an argument names it through a placeholder,
  so each caller can spell it its own way without reading text:

      raise DataIntegrityError("... load it with {verify}.", arguments={"verify": False})

  reads "load it with verify=False" from Python (`str(error)`) and "load it with
  --no-verify" on the command line (`render` with the flag's spelling).

  Args:
    message: the message; `{name}` stands for each argument of `arguments`.
    arguments: {argument name: the value to suggest}.

  Attributes:
    arguments: that dict.
  """

  def __init__(self, message: str = "", *args: Any,
               arguments: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    self.template = message
    self.arguments: dict[str, Any] = dict(arguments or {})
    # `kwargs` go to a second base (ModuleNotFoundError's `name`).
    super().__init__(self.render(), *args, **kwargs)

  def render(self, spell: Callable[[str, Any], str | None] | None = None) -> str:
    """The message, each argument spelled by `spell(name, value)` (None: Python's)."""
    text = self.template
    for name, value in self.arguments.items():
      shown = spell(name, value) if spell is not None else None
      text = text.replace("{" + name + "}", shown or f"{name}={value!r}")
    return text


class _ArgumentProblem:
  """What `ArgumentError` and `ArgumentTypeError` share: the argument and the message.

  The message is a template with two fields, so that each caller can name the argument
  its own way without reading text: `{name}` (the Python API: "`batch_size`", the
  command line: "--batch-size") and `{received}` (what came: "batch_size=100",
  "--batch-size 100"):

      raise ArgumentError("batch_size", "Received an invalid value for {name}, expected "
                          "at most the 60 training examples. Received: {received}", 100)

  Attributes:
    argument: the Python name of the argument at fault.
    template: the message, with `{name}` and `{received}` where they appear.
    value: the value received.
  """

  argument: str
  template: str
  value: Any

  def render(self, name: str | None = None, received: str | None = None) -> str:
    """The message with the argument named `name` and the value shown as `received`.

    Defaults are the Python API's: "`argument`" and "argument=value".
    """
    name = f"`{self.argument}`" if name is None else name
    received = f"{self.argument}={self.value!r}" if received is None else received
    # Not str.format: the rest of the message may hold braces (a dict's repr).
    return self.template.replace("{name}", name).replace("{received}", received)


class ArgumentError(_ArgumentProblem, ValueError):
  """An argument's value is wrong: `ValueError` naming the argument (`argument`).

  Args:
    argument: the Python name of the argument (`batch_size`), which a command line maps
      to its flag (`--batch-size`).
    template: the message (see `render`).
    value: the value received.
  """

  def __init__(self, argument: str, template: str, value: Any = None) -> None:
    self.argument, self.template, self.value = argument, template, value
    super().__init__(self.render())


class ArgumentTypeError(_ArgumentProblem, TypeError):
  """An argument's type is wrong: `TypeError` naming the argument (`argument`).

  Args: as `ArgumentError`.
  """

  def __init__(self, argument: str, template: str, value: Any = None) -> None:
    self.argument, self.template, self.value = argument, template, value
    super().__init__(self.render())


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
    values: {field: (the run's value, the given value)} where known.
    run_dir: the run directory refused, or None.
  """

  def __init__(self, message: str, fields: Iterable[str] = (),
               values: Mapping[str, tuple[Any, Any]] | None = None,
               run_dir: str | None = None, **kwargs: Any) -> None:
    super().__init__(message, **kwargs)
    self.fields: tuple[str, ...] = tuple(fields)
    self.values: dict[str, tuple[Any, Any]] = dict(values or {})
    self.run_dir: str | None = run_dir


class RunLockedError(CheckpointError):
  """Another process is training in the run directory.

  Attributes:
    pid: the holder's process id, or None if it could not be read.
  """

  def __init__(self, message: str, pid: int | None = None, **kwargs: Any) -> None:
    super().__init__(message, **kwargs)
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
