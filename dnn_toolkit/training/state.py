"""Where a training run is: `TrainState`, everything needed to continue it exactly.

`fit` updates it step by step, the hooks read and extend it (early stopping's counter,
the best epoch), and a run's record and every checkpoint store it, so a resumed run
sees the same batches and stops where an uninterrupted one would.
"""

import dataclasses
import math
import typing
from typing import Any


@dataclasses.dataclass
class TrainState:
  """Where a run is; everything `fit` needs to continue it exactly.

  Attributes:
    epoch: epochs completed.
    batch: batches completed in the current epoch (non-zero only mid-epoch).
    global_step: training steps completed.
    best_val_loss: lowest validation loss so far.
    best_epoch: the epoch (1-based) that reached it, 0 before any.
    epochs_without_improvement: epochs since then, for early stopping.
    stopped_early: whether early stopping ended the run.
    shuffle_seed: the seed of the per-epoch shuffles.
    epoch_loss_sum, epoch_correct: running sums over the current epoch's batches.
    history: one dict of metrics per completed epoch.
  """
  epoch: int = 0
  batch: int = 0
  global_step: int = 0
  best_val_loss: float = math.inf
  best_epoch: int = 0
  epochs_without_improvement: int = 0
  stopped_early: bool = False
  shuffle_seed: int = 0
  epoch_loss_sum: float = 0.0
  epoch_correct: float = 0.0
  history: list[dict[str, Any]] = dataclasses.field(default_factory=list)

  def to_dict(self) -> dict[str, Any]:
    fields = dataclasses.asdict(self)
    fields["best_val_loss"] = None if math.isinf(self.best_val_loss) else self.best_val_loss
    return fields

  @classmethod
  def from_dict(cls, fields: Any) -> "TrainState":
    """Builds a state from `to_dict()` output; raises ValueError naming a bad field."""
    if not isinstance(fields, dict):
      raise ValueError("Expected the training state as a dict of fields. Received: "
                       f"{type(fields).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
      raise ValueError(f"Unknown training state fields {unknown}; known: "
                       f"{sorted(known)}")
    fields = dict(fields)
    if fields.get("best_val_loss") is None:
      fields["best_val_loss"] = math.inf
    for name, value in fields.items():
      declared = known[name].type
      expected = _STATE_TYPES[typing.get_origin(declared) or declared]
      if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ValueError(f"Expected the training state's `{name}` to be "
                         f"{_STATE_TYPE_NAMES[expected]}. Received: {name}={value!r}")
    return cls(**fields)


_STATE_TYPES: dict[Any, Any] = {int: int, float: (int, float), bool: bool, list: list}
_STATE_TYPE_NAMES: dict[Any, str] = {int: "an integer", (int, float): "a number",
                                     bool: "a bool", list: "a list"}


