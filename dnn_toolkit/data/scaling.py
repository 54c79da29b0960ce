"""A run's input scaling: how features as your data holds them become the net's inputs.

One owner for one idea. The loaders scale training data with a `Scaling`, the run
records it (`to_identity`, in `RunRecord.data`), and evaluation, prediction,
`runs.loading.load_run` and the exported SavedModel apply the same one to features
given as the data holds them, so that raw MNIST pixels (0-255, any dtype) work
everywhere a run is used:

    scaling = Scaling(divide_by=255)          # MNIST's: pixels / 255
    scaling = Scaling().fitted(train_x)       # standardize: train mean and std
    inputs = scaling.prepare(features, where="new.csv")   # raw -> the net's inputs

What the loaders return is already scaled, and says so by its type: a `ScaledArray`
(float32, a NumPy array with a `scaling` attribute) or compact `arrays.ScaledImages`.
`prepare` takes those as they are, and any other array as raw features; an array that
plainly is not raw (a /255 run given fractional values no larger than 1) is refused in
one line that names the expected range and how to say the input is already scaled
(`scaled=True`, on the command line `--scaled`).

A `Scaling` is applied in this order: divide by `divide_by` (if any), then subtract
`mean` and divide by `std` (if standardized), in float32. This module is pure NumPy.
"""

import dataclasses
from typing import Any

import numpy as np

from dnn_toolkit.errors import DataError

#: MNIST's pixels are divided by this.
PIXEL_MAX = 255
NONE = "none"
DIVIDE = "divide by {divide_by:g}"
STANDARDIZE = "standardize"
#: A standardized input is refused as "not raw" only when it has at least this many
#: rows: its column statistics then say what it is.
_MIN_ROWS_TO_JUDGE = 10


def divide(values: Any, divide_by: float) -> np.ndarray:
  """float32 `values / divide_by`: the one division of pixels the package makes.

  uint8, integer and float inputs of the same values give the same bits: the values
  are converted to float32 (exact up to 2**24) before NumPy's float32 division.
  """
  return np.divide(values, np.float32(divide_by), dtype=np.float32)


def standardize(features: Any, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
  """Returns float32 `(features - mean) / std`.

  Args:
    features: array `[n, n_inputs]`.
    mean, std: float32 `[n_inputs]` (std > 0), as a `Scaling` holds them.

  Returns:
    float32 `[n, n_inputs]`.
  """
  features = np.asarray(features, dtype=np.float32)
  return ((features - mean) / std).astype(np.float32, copy=False)


@dataclasses.dataclass(frozen=True, eq=False)
class Scaling:
  """What turns raw features into the net's inputs: a division, then standardization.

  Attributes:
    divide_by: positive number the raw values are divided by first (255 for MNIST's
      pixels), or None.
    mean, std: float32 `[n_inputs]` of the standardization applied after the
      division (std > 0), or None for none.
  """
  divide_by: float | None = None
  mean: np.ndarray | None = None
  std: np.ndarray | None = None

  def __post_init__(self):
    if (self.mean is None) != (self.std is None):
      raise ValueError("Expected both `mean` and `std` of a standardization, or "
                       f"neither. Received: mean={self.mean!r}, std={self.std!r}")
    if self.mean is not None:
      object.__setattr__(self, "mean", np.asarray(self.mean, np.float32))
      object.__setattr__(self, "std", np.asarray(self.std, np.float32))

  def __eq__(self, other: object) -> bool:
    if not isinstance(other, Scaling):
      return NotImplemented
    return (self.divide_by == other.divide_by and
            _same(self.mean, other.mean) and _same(self.std, other.std))

  __hash__ = None  # type: ignore[assignment]  # Holds arrays.

  @property
  def standardized(self) -> bool:
    return self.mean is not None

  @property
  def is_identity(self) -> bool:
    """Whether raw features are the net's inputs as they are (scaling "none")."""
    return self.divide_by is None and not self.standardized

  @property
  def description(self) -> str:
    """`"none"`, `"divide by 255"`, `"standardize"` or `"divide by 255, then
    standardize"`: the `identity["scaling"]` text."""
    steps = []
    if self.divide_by is not None:
      steps.append(DIVIDE.format(divide_by=self.divide_by))
    if self.standardized:
      steps.append(STANDARDIZE)
    return ", then ".join(steps) or NONE

  def expects(self) -> str:
    """What raw input this scaling expects, for messages and the exported signature."""
    if self.divide_by is not None:
      return (f"raw values in [0, {self.divide_by:g}] such as pixels, in any dtype; "
              f"{self.description} is applied")
    if self.standardized:
      return "raw features as the training data held them; they are standardized"
    return "features as the training data held them; no scaling is applied"

  # ----------------------------------------------------------------- making one

  def fitted(self, train_inputs: Any) -> "Scaling":
    """This scaling followed by standardization with the training split's statistics.

    Args:
      train_inputs: the training split `[n, n_inputs]` as this scaling made it (a
        loader's images). A constant feature gets std 1.

    Returns:
      A new `Scaling` with `mean` and `std` (float32 `[n_inputs]`); apply its
      standardization to inputs of this one with `standardize`.
    """
    values = np.asarray(train_inputs, np.float64)
    mean, std = values.mean(axis=0), values.std(axis=0)
    std[std == 0] = 1.0  # A constant feature stays 0 rather than dividing by zero.
    return Scaling(self.divide_by, mean.astype(np.float32), std.astype(np.float32))

  def to_identity(self) -> dict[str, Any]:
    """The identity entries that record this scaling: `scaling` (the description)
    and, if standardized, `standardization` ({"mean": [...], "std": [...]})."""
    entries: dict[str, Any] = {"scaling": self.description}
    if self.mean is not None and self.std is not None:
      entries["standardization"] = {"mean": self.mean.tolist(),
                                    "std": self.std.tolist()}
    return entries

  @classmethod
  def from_identity(cls, identity: dict[str, Any] | None) -> "Scaling | None":
    """The scaling a data identity (a run's `RunRecord.data`) records, or None.

    None when the identity says nothing of scaling (a run trained on arrays given by
    hand), or says "standardize" without the values (a record written before they
    were kept: `runs.run_data.scaling_of` then recomputes them from the source).
    """
    identity = identity or {}
    text = identity.get("scaling")
    if not isinstance(text, str):
      return None
    divide_by = None
    for step in text.split(", then "):
      if step.startswith("divide by "):
        divide_by = float(step[len("divide by "):])
        divide_by = int(divide_by) if divide_by.is_integer() else divide_by
    if STANDARDIZE not in text:
      return cls(divide_by)
    stored = identity.get("standardization")
    if not stored:
      return None
    return cls(divide_by, stored["mean"], stored["std"])

  # -------------------------------------------------------------- applying one

  def apply(self, features: Any) -> np.ndarray:
    """Raw features `[n, n_inputs]` (any numeric dtype) -> float32 net inputs."""
    values = np.asarray(features)
    values = (divide(values, self.divide_by) if self.divide_by is not None
              else np.asarray(values, np.float32))
    if self.mean is not None and self.std is not None:
      values = standardize(values, self.mean, self.std)
    return values

  def mark(self, inputs: np.ndarray) -> "ScaledArray":
    """`inputs` (already scaled by this) as a `ScaledArray` that says so; no copy."""
    marked = np.asarray(inputs).view(ScaledArray)
    marked.scaling = self
    return marked

  def prepare(self, features: Any, *, scaled: bool | None = None,
              where: str = "`images`") -> np.ndarray:
    """Features as given -> the net's float32 inputs, checked.

    Args:
      features: `[n, n_inputs]`: raw features (any numeric dtype), or what a loader
        returned (a `ScaledArray` or `arrays.ScaledImages`, whose type says how it
        was scaled).
      scaled: None (default): raw unless the type says otherwise, and refused if it
        plainly is not raw; True: already scaled as this run's inputs, used as
        given; False: raw, not checked.
      where: how messages name the features (a file, or the Python argument).

    Returns:
      float32 `[n, n_inputs]`.

    Raises:
      DataError: the features plainly are not raw (see `check_raw`), or were scaled
        otherwise than this run's inputs.
    """
    if scaled:
      return np.asarray(features, np.float32)
    own = getattr(features, "scaling", None) if scaled is None else None
    if isinstance(own, Scaling):
      pixels = getattr(features, "pixels", None)  # Compact images keep them.
      if own == self:
        return np.asarray(features, np.float32)
      if pixels is not None:
        return self.apply(pixels)
      raise DataError(f"{where} were scaled ({own.description}) otherwise than the "
                      f"run's inputs ({self.description}); give the raw features.")
    features = np.asarray(features)
    if scaled is None:
      self.check_raw(features, where)
    return self.apply(features)

  def check_raw(self, features: np.ndarray, where: str = "`images`") -> None:
    """Raises unless `features` could be raw features of this scaling.

    A divided run (pixels / 255) refuses values outside [0, 255], and fractional
    values no larger than 1 (already divided). A standardized run refuses, given at
    least 10 rows, features that look standardized already (every column's mean
    near 0 and std near 1) while the run's training features lie far from that.

    Raises:
      DataError: naming `where`, what was expected, and `scaled` (the way to say the
        features are already scaled) in `arguments`.
    """
    values = np.asarray(features)
    if values.size == 0 or values.dtype.kind not in "iuf":
      return
    if self.divide_by is not None:
      self._check_divided(values, where)
    elif self.standardized:
      self._check_standardized(values, where)

  def _check_divided(self, values, where):
    low, high = values.min().item(), values.max().item()
    top = self.divide_by
    if low < 0 or high > top:
      raise DataError(
          f"{where} holds values from {low:g} to {high:g}; expected raw values in "
          f"[0, {top:g}] (the run divides its inputs by {top:g}). Give the values as "
          "your data holds them, or pass {scaled} if they are already scaled as the "
          "run's inputs.", arguments={"scaled": True})
    if high <= 1 and values.dtype.kind == "f" and np.any(values != np.round(values)):
      raise DataError(
          f"{where} holds fractional values from {low:g} to {high:g}; expected raw "
          f"values in [0, {top:g}] (the run divides its inputs by {top:g}, and these "
          f"look divided already). Give the raw values, or pass {{scaled}} if they are "
          "already scaled as the run's inputs.", arguments={"scaled": True})

  def _check_standardized(self, values, where):
    if values.ndim != 2 or len(values) < _MIN_ROWS_TO_JUDGE or (
        values.shape[1] != self.mean.shape[0]):
      return
    values = values.astype(np.float64)
    own_mean, own_std = values.mean(axis=0), values.std(axis=0)
    looks_standard = bool(np.all(np.abs(own_mean) < 0.5) and
                          np.all((own_std > 0.5) & (own_std < 2.0)))
    offset = np.median(np.abs((own_mean - self.mean) / self.std))  # in training stds
    if looks_standard and offset > 3:
      means = ", ".join(f"{m:.3g}" for m in self.mean[:4]) + (
          ", ..." if len(self.mean) > 4 else "")
      raise DataError(
          f"{where} looks standardized already (every column's mean near 0 and std "
          f"near 1), while the run standardizes raw features whose training means are "
          f"{means}. Give the features as your data holds them, or pass {{scaled}} if "
          "they are already scaled as the run's inputs.", arguments={"scaled": True})


def _same(a, b):
  if a is None or b is None:
    return a is b
  return a.shape == b.shape and bool(np.array_equal(a, b))


class ScaledArray(np.ndarray):
  """A float32 array of net inputs that knows its `scaling`: what the loaders return.

  Slices, views and index selections keep the mark; arithmetic results (`x * 255`)
  are plain arrays, and writing into a marked array in place removes its mark, so the
  mark never outlives the values it describes. `Scaling.prepare` takes a marked array
  as it is.

  Attributes:
    scaling: the `Scaling` that made these values from raw features, or None.
  """

  scaling: Scaling | None

  def __array_finalize__(self, obj):
    self.scaling = getattr(obj, "scaling", None)

  def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
    inputs = tuple(x.view(np.ndarray) if isinstance(x, ScaledArray) else x
                   for x in inputs)
    if out is not None:
      for o in out:
        if isinstance(o, ScaledArray):
          o.scaling = None  # Its values change: they are no longer what it says.
      kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, ScaledArray) else o
                            for o in out)
    return getattr(ufunc, method)(*inputs, **kwargs)

  def __reduce__(self):
    rebuild, args, state = super().__reduce__()
    return rebuild, args, (state, self.scaling)

  def __setstate__(self, state):
    base_state, self.scaling = state
    super().__setstate__(base_state)
