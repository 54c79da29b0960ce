"""The exceptions dnn_toolkit raises for graph, checkpoint, data and training state.

Bad argument values raise the built-in `ValueError` and bad argument types `TypeError`;
the classes here describe states of the world rather than a wrong argument, so callers
can catch them apart from programming errors.
"""


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
  """A run directory was written by a different model configuration."""


class TrainingDivergedError(DnnToolkitError):
  """The loss became NaN or infinite during training."""


class DataError(DnnToolkitError):
  """A data set could not be found, decoded or verified."""


class DataNotFoundError(DataError):
  """No source of a data set could be found."""


class DataIntegrityError(DataError):
  """A data file is corrupt, truncated or differs from the official contents."""
