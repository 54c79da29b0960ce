"""Argument checks shared by the public functions.

Every check raises before any op is created, naming the argument, what was expected and
what was received, in the form `Received an invalid value for `units`, expected a
positive integer. Received: units=-3`.
"""

import numbers
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from dnn_toolkit.errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
  import tensorflow as tf

_T = TypeVar("_T")


def check_positive_int(name: str, value: Any) -> int:
  """Returns `value` as an int, or raises if it is not a positive integer (bools rejected)."""
  if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be a positive integer, got type "
              f"{type(value).__name__}. Received: {{received}}",
        value)
  if value <= 0:
    raise ArgumentError(
        name, "Received an invalid value for {name}, expected a positive "
              "integer. Received: {received}",
        value)
  return int(value)


def check_non_negative_int(name: str, value: Any) -> int:
  """Returns `value` as an int, or raises if it is not an integer >= 0 (bools rejected)."""
  if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be a non-negative integer, got type "
              f"{type(value).__name__}. Received: {{received}}",
        value)
  if value < 0:
    raise ArgumentError(
        name, "Received an invalid value for {name}, expected a non-negative "
              "integer. Received: {received}",
        value)
  return int(value)


def check_number(name: str, value: Any) -> float:
  """Returns `value` as a float, or raises TypeError if it is not a real number."""
  if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating,
                                                       np.integer)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be a number, got type "
              f"{type(value).__name__}. Received: {{received}}",
        value)
  value = float(value)
  if not np.isfinite(value):
    raise ArgumentError(
        name, "Received an invalid value for {name}, expected a finite "
              "number. Received: {received}",
        value)
  return value


def check_in_range(name: str, value: Any, low: float | None, high: float | None,
                   low_open: bool = False, high_open: bool = False) -> float:
  """Returns `value` as a float if it lies in the interval, else raises ValueError.

  Args:
    name: the argument's name, for the message.
    value: the value to check.
    low: lower bound, or None for none.
    high: upper bound, or None for none.
    low_open: whether `low` itself is excluded.
    high_open: whether `high` itself is excluded.
  """
  given, value = value, check_number(name, value)
  too_low = low is not None and (value <= low if low_open else value < low)
  too_high = high is not None and (value >= high if high_open else value > high)
  if too_low or too_high:
    left = "(" if low_open else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    raise ArgumentError(
        name, f"Received an invalid value for {{name}}, expected a number in "
              f"{left}{lo}, {hi}{right}. Received: {{received}}",
        given)
  return value


def check_choice(name: str, value: _T, choices: Collection[Any]) -> _T:
  """Returns `value` if it is one of `choices`, else raises ValueError listing them."""
  if value not in choices:
    listed = ", ".join(repr(c) for c in choices)
    raise ArgumentError(
        name, f"Received an invalid value for {{name}}, expected one of "
              f"{listed}. Received: {{received}}",
        value)
  return value


def check_callable(name: str, value: _T, allow_none: bool = True) -> _T:
  """Returns `value` if it is callable (or None when allowed), else raises TypeError."""
  if (value is None and allow_none) or callable(value):
    return value
  expected = "callable or None" if allow_none else "callable"
  raise ArgumentTypeError(
      name, f"Expected {{name}} to be {expected}. Received: {{received}}",
      value)


def check_optional_seed(name: str, value: Any) -> int | None:
  """Returns `value` if it is None or an integer >= 0 (bools rejected), else raises."""
  if value is None:
    return None
  return check_non_negative_int(name, value)


def check_float_dtype(name: str, dtype: Any) -> "tf.DType":
  """Returns `dtype` as a floating point `tf.DType`, else raises TypeError.

  The message keeps contrib's wording ("Cannot create initializer for non-floating
  point type"), which TF 1.x code may match.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  try:
    as_dtype = tf.as_dtype(dtype)
  except TypeError:
    as_dtype = None
  if as_dtype is None or not as_dtype.is_floating:
    shown = getattr(as_dtype, "name", None) or repr(dtype)
    raise ArgumentTypeError(
        name, f"Cannot create initializer for non-floating point type: expected "
              f"{{name}} to be a floating point type. Received: {name}={shown}",
        None)
  return as_dtype


def check_axes(name: str, value: Any) -> int | tuple[int, ...] | None:
  """Returns `value` (None, an int or a non-empty list of ints) or raises TypeError.

  Bools are rejected; the result is None, an int, or a tuple of ints.
  """
  if value is None:
    return None
  is_int = lambda v: (not isinstance(v, bool)
                      and isinstance(v, (numbers.Integral, np.integer)))
  if is_int(value):
    return int(value)
  if (isinstance(value, (list, tuple)) and value
      and all(is_int(v) for v in value)):
    return tuple(int(v) for v in value)
  raise ArgumentTypeError(
      name, "Expected {name} to be an int, a non-empty list of ints or None. "
            "Received: {received}",
      value)


def check_values_in_range(name: str, values: Any, low: float,
                          high: float) -> np.ndarray:
  """Returns `values`, or raises ValueError if an element lies outside [low, high].

  For inputs whose model assumes a range, e.g. a Bernoulli RBM's visible units in
  [0, 1]. The message quotes the smallest and largest element; NaN counts as outside.
  """
  values = np.asarray(values)
  if values.size and not np.all((values >= low) & (values <= high)):
    raise ArgumentError(
        name, f"Received an invalid value for {{name}}, expected every element "
              f"in [{low:g}, {high:g}]. Received: {name} with values from "
              f"{np.nanmin(values):g} to {np.nanmax(values):g}"
        + (" and NaN" if np.isnan(values).any() else ""),
        None)
  return values


def check_bounds(low_name: str, low: Any, high_name: str,
                 high: Any) -> tuple[float, float]:
  """Returns (low, high) as floats if 0 < low < high, else raises naming the argument.

  For a positive range explored geometrically (a learning-rate range test): both
  bounds must be positive and in increasing order.
  """
  low = check_in_range(low_name, low, 0.0, None, low_open=True)
  high = check_in_range(high_name, high, 0.0, None, low_open=True)
  if high <= low:
    raise ArgumentError(
        high_name, f"Received an invalid value for {{name}}, expected a number "
                   f"greater than `{low_name}`={low:g} (the bounds are reversed?). "
                   "Received: {received}",
        high)
  return low, high


def check_bool(name: str, value: Any, allow_none: bool = False) -> bool | None:
  """Returns `value` if it is a Python bool (or None when allowed), else TypeError."""
  if isinstance(value, bool) or (value is None and allow_none):
    return value
  expected = "None, True or False" if allow_none else "a bool"
  raise ArgumentTypeError(
      name, f"Expected {{name}} to be {expected}. Received: {{received}}",
      value)


def check_known_keys(name: str, mapping: Mapping[str, _T] | None,
                     allowed: Collection[str]) -> dict[str, _T]:
  """Returns `mapping` as a dict (None -> {}) if its keys are all in `allowed`.

  Raises:
    TypeError: if `mapping` is neither None nor a dict.
    ValueError: naming the unknown keys and the allowed ones.
  """
  if mapping is None:
    return {}
  if not isinstance(mapping, dict):
    raise ArgumentTypeError(
        name, "Expected {name} to be a dict or None. Received: {received}",
        mapping)
  unknown = sorted(set(mapping) - set(allowed))
  if unknown:
    raise ArgumentError(
        name, f"Received unknown keys in {{name}}: {unknown}; expected "
              f"{', '.join(allowed)}.",
        None)
  return dict(mapping)


def check_is_training(is_training: Any, name: str = "is_training") -> "bool | tf.Tensor":
  """Returns the layers' training switch: a Python bool, or a scalar bool tensor.

  A bool tensor with a constant value (`tf.constant(True)`) comes back as that bool, so
  no `cond` is built for it, as contrib's `utils.constant_value` did.

  Args:
    is_training: the switch.
    name: the argument's name for the message (contrib's `is_training`, tf.layers'
      `training`).

  Raises:
    TypeError: if `is_training` is neither a bool nor a bool tensor or variable.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if isinstance(is_training, (bool, np.bool_)):
    return bool(is_training)
  if (isinstance(is_training, (tf.Tensor, tf.Variable))
      and is_training.dtype.base_dtype == tf.bool):
    static = tf.get_static_value(is_training)
    return bool(static) if static is not None else is_training
  raise TypeError(f"Expected `{name}` to be a Python bool or a scalar bool tensor "
                  "(e.g. tf.placeholder_with_default(False, shape=())). "
                  f"Received: {name}={is_training!r}")


def check_int(name: str, value: Any) -> int:
  """Returns `value` as an int, or raises TypeError if it is not an integer (bools too)."""
  if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be an integer, got type "
              f"{type(value).__name__}. Received: {{received}}",
        value)
  return int(value)


def check_path(name: str, value: Any) -> str:
  """Returns `value` (a str or os.PathLike) as a str with `~` expanded, else TypeError."""
  import os  # pylint: disable=import-outside-toplevel
  if not isinstance(value, (str, os.PathLike)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be a str or os.PathLike, got type "
              f"{type(value).__name__}. Received: {{received}}",
        value)
  return os.path.expanduser(os.fspath(value))


def check_count_or_fraction(name: str, value: Any, allow_none: bool = True
                            ) -> int | float | None:
  """Returns `value` if it is a count (an integer >= 0) or a fraction in [0, 1).

  Bools are rejected; None passes when allowed.
  """
  if value is None and allow_none:
    return None
  if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be a count or a fraction in [0, 1), got "
              f"type {type(value).__name__}. Received: {{received}}",
        value)
  if isinstance(value, (numbers.Integral, np.integer)):
    return check_non_negative_int(name, value)
  if not 0 <= value < 1:  # type: ignore[operator]  # Real: no comparisons in typeshed.
    raise ArgumentError(
        name, "Received an invalid value for {name}, expected a count or a "
              "fraction in [0, 1). Received: {received}",
        value)
  return float(value)


def check_column(name: str, value: Any, allow_none: bool = True) -> str | int | None:
  """Returns `value` if it is a column name (str) or index (int; bools rejected)."""
  if (value is None and allow_none) or isinstance(value, str):
    return value
  if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
    raise ArgumentTypeError(
        name, f"Expected {{name}} to be a column name or index, got type "
              f"{type(value).__name__}. Received: {{received}}",
        value)
  return int(value)
