"""The configuration of a DNN and its training: `DNNConfig`, and the names it accepts.

This module owns every choice a run is made of and the names of the initializers,
activations, optimizers and schedules, and imports no TensorFlow, so the command line
can build its flags (and answer `--help`) before TensorFlow loads. `dnn_toolkit.model`
builds the graph of a config; `DNNConfig` is re-exported there.
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

from dnn_toolkit import _validation

#: Weight initializers by name ('glorot' is also accepted as 'xavier').
INITIALIZERS = ("xavier", "glorot", "he", "normal")
#: Hidden-layer activations by name.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu")
#: Optimizers by name.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: Learning-rate schedules by name.
SCHEDULES = ("none", "exponential", "piecewise", "plateau")
_TUPLE_FIELDS = {"hidden_layers", "boundaries", "values"}


@dataclasses.dataclass(frozen=True)
class DNNConfig:
  """Every choice of a DNN classifier and its training, checked by `validate()`.

  The defaults are the lesson's "Default DNN configuration": He initialization, ELU,
  batch normalization, dropout, Adam, no learning-rate schedule.

  Attributes:
    hidden_layers: units of each hidden layer, e.g. (300, 100).
    n_outputs: number of classes.
    initializer: 'he', 'xavier' or 'normal' (N(0, 1), to show the problem).
    activation: 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu' or 'selu'.
    batch_norm: batch normalization before each hidden activation.
    batch_norm_decay: decay of the moving averages, in [0, 1).
    dropout_rate: probability of dropping a hidden unit when training, in [0, 1).
    l1_scale, l2_scale: non-negative weight penalties (0 disables).
    max_norm: optional max-norm threshold of the hidden weights, clipped each step.
    optimizer: 'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop' or 'adam'.
    learning_rate: positive initial learning rate.
    momentum: momentum of 'momentum', 'nesterov' and 'rmsprop'.
    schedule: 'none', 'exponential', 'piecewise' or 'plateau' (reduce on plateau: the
      rate is multiplied by `plateau_factor` after `plateau_patience` epochs without
      a lower validation loss).
    decay_steps, decay_rate: parameters of 'exponential'.
    boundaries, values: parameters of 'piecewise' (global steps and rates).
    plateau_factor: in (0, 1), the multiplier of 'plateau'.
    plateau_patience: positive int, epochs without improvement before 'plateau'
      lowers the rate.
    clip_value: optional positive bound of each gradient component.
    clip_norm: optional positive bound of the gradients' global norm.
    seed: graph-level seed: same seed, same initial weights, dropout masks and
      shuffling. None for a fresh draw each run.
  """
  hidden_layers: tuple[int, ...] = (300, 100)
  n_outputs: int = 10
  initializer: str = "he"
  activation: str = "elu"
  batch_norm: bool = True
  batch_norm_decay: float = 0.9
  dropout_rate: float = 0.2
  l1_scale: float = 0.0
  l2_scale: float = 0.0
  max_norm: float | None = None
  optimizer: str = "adam"
  learning_rate: float = 0.001
  momentum: float = 0.9
  schedule: str = "none"
  decay_steps: int = 10000
  decay_rate: float = 0.1
  boundaries: tuple[int, ...] = ()
  values: tuple[float, ...] = ()
  plateau_factor: float = 0.5
  plateau_patience: int = 2
  clip_value: float | None = None
  clip_norm: float | None = None
  seed: int | None = 42

  def validate(self) -> "DNNConfig":
    """Raises ValueError or TypeError naming the first bad field; returns self."""
    if not isinstance(self.hidden_layers, (tuple, list)) or not self.hidden_layers:
      raise ValueError("Expected `hidden_layers` to be a non-empty sequence of positive "
                       f"integers. Received: hidden_layers={self.hidden_layers!r}")
    for units in self.hidden_layers:
      _validation.check_positive_int("hidden_layers", units)
    _validation.check_positive_int("n_outputs", self.n_outputs)
    _validation.check_choice("initializer", self.initializer, INITIALIZERS)
    _validation.check_choice("activation", self.activation, ACTIVATIONS)
    _validation.check_bool("batch_norm", self.batch_norm)
    _validation.check_in_range("batch_norm_decay", self.batch_norm_decay, 0.0, 1.0,
                               high_open=True)
    _validation.check_in_range("dropout_rate", self.dropout_rate, 0.0, 1.0,
                               high_open=True)
    _validation.check_in_range("l1_scale", self.l1_scale, 0.0, None)
    _validation.check_in_range("l2_scale", self.l2_scale, 0.0, None)
    for name in ("max_norm", "clip_value", "clip_norm"):
      if getattr(self, name) is not None:
        _validation.check_in_range(name, getattr(self, name), 0.0, None, low_open=True)
    _validation.check_choice("optimizer", self.optimizer, OPTIMIZERS)
    _validation.check_in_range("momentum", self.momentum, 0.0, 1.0, high_open=True)
    check_schedule(self.schedule, self.learning_rate, self.decay_steps,
                   self.decay_rate, self.boundaries, self.values)
    if self.schedule == "plateau":
      _validation.check_in_range("plateau_factor", self.plateau_factor, 0.0, 1.0,
                                 low_open=True, high_open=True)
      _validation.check_positive_int("plateau_patience", self.plateau_patience)
    if self.seed is not None:
      _validation.check_non_negative_int("seed", self.seed)
    return self

  def to_dict(self) -> dict[str, Any]:
    """Returns the fields as a JSON-ready dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()}

  @classmethod
  def from_dict(cls, fields: dict[str, Any]) -> "DNNConfig":
    """Builds a config from `to_dict()` output; unknown keys raise ValueError."""
    if not isinstance(fields, dict):
      raise ValueError("Expected a DNNConfig as a dict of fields. Received: "
                       f"{type(fields).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
      raise ValueError(f"Unknown DNNConfig fields {unknown}; known: {sorted(known)}")
    values = dict(fields)
    for name in _TUPLE_FIELDS & set(values):
      if not isinstance(values[name], (list, tuple)):
        raise ValueError(f"Expected `{name}` to be a list. "
                         f"Received: {name}={values[name]!r}")
      values[name] = tuple(values[name])
    return cls(**values)

  def differences(self, other: "DNNConfig") -> list[str]:
    """Returns the names of the fields whose values differ from `other`'s."""
    mine, theirs = self.to_dict(), other.to_dict()
    return [k for k in mine if mine[k] != theirs.get(k)]


def check_schedule(schedule: str, learning_rate: float, decay_steps: int,
                   decay_rate: float, boundaries: Sequence[int],
                   values: Sequence[float]) -> None:
  """Raises ValueError/TypeError if the schedule's parameters do not fit together."""
  _validation.check_choice("schedule", schedule, SCHEDULES)
  _validation.check_in_range("learning_rate", learning_rate, 0.0, None, low_open=True)
  if schedule == "exponential":
    _validation.check_positive_int("decay_steps", decay_steps)
    _validation.check_in_range("decay_rate", decay_rate, 0.0, None, low_open=True)
  if schedule == "piecewise":
    boundaries, values = list(boundaries), list(values)
    for b in boundaries:
      _validation.check_positive_int("boundaries", b)
    for v in values:
      _validation.check_in_range("values", v, 0.0, None, low_open=True)
    if len(values) != len(boundaries) + 1 or not boundaries:
      raise ValueError("A 'piecewise' schedule needs at least one boundary and one more "
                       "value than boundaries. Received: "
                       f"boundaries={boundaries}, values={values}")
    if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
      raise ValueError("Expected `boundaries` to increase strictly. "
                       f"Received: boundaries={boundaries}")
