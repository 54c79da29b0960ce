"""`tf.estimator.inputs`: input functions over NumPy arrays and pandas DataFrames.

    train_input_fn = tf.estimator.inputs.numpy_input_fn(
        x={"x": train_images}, y=train_labels, batch_size=100, num_epochs=None,
        shuffle=True)
    estimator.train(train_input_fn, steps=1000)

TF 1.15's signatures and results: features are a dict of tensors named as the keys of
`x` (a lone array gives one tensor), labels a tensor (or a dict when `y` is one); a
batch holds `batch_size` rows, the last of the last epoch fewer; `num_epochs=None`
repeats forever; `shuffle` must be given. TF 1.x fed the arrays through queues and
threads; here a `tf.data` pipeline draws the row indices (shuffled from a window of
`queue_capacity` rows when `shuffle`, with the graph's seed) and one `numpy_function`
per batch gathers the rows, so the arrays stay in memory, out of the graph and its
`graph.pbtxt`.
"""

import collections
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError

_V1 = tf.compat.v1
_SINGLE_KEY = "__direct_np_input__"
_TARGET_KEY = "__target_key__"


def _check_shuffle(shuffle):
  if not isinstance(shuffle, bool):
    raise ArgumentTypeError("shuffle", "shuffle must be provided and explicitly set as "
                                       "boolean (it is recommended to set it as True "
                                       "for training): expected {name} to be True or "
                                       "False. Received: {received}", shuffle)


def _check_counts(batch_size, num_epochs, queue_capacity, num_threads):
  _validation.check_positive_int("batch_size", batch_size)
  if num_epochs is not None:
    _validation.check_positive_int("num_epochs", num_epochs)
  _validation.check_positive_int("queue_capacity", queue_capacity)
  _validation.check_positive_int("num_threads", num_threads)


def _ordered(name, value, allow_array):
  """`value` (a dict of arrays, or an array when allowed) as an OrderedDict by key."""
  if isinstance(value, dict):
    if not value:
      raise ArgumentError(name, "Received an invalid value for {name}, expected a "
                                "non-empty dict of arrays. Received: {received}", value)
    return collections.OrderedDict((k, np.asarray(value[k])) for k in sorted(value))
  if allow_array and isinstance(value, np.ndarray):
    if value.size == 0:
      raise ArgumentError(name, "Received an invalid value for {name}, expected a "
                                "non-empty array. Received: an array of shape "
                                f"{value.shape}", None)
    return collections.OrderedDict({_SINGLE_KEY: value})
  raise ArgumentTypeError(name, f"Expected {{name}} to be a dict of arrays"
                                f"{' or an array' if allow_array else ''}. Received: "
                                f"a {type(value).__name__}", value)


def _columns(x, y):
  """(OrderedDict of every array, feature keys, target key(s) or None)."""
  columns = _ordered("x", x, allow_array=True)
  feature_keys = list(columns)
  target_keys: Any = None
  if isinstance(y, dict):
    labels = _ordered("y", y, allow_array=False)
    doubled = sorted(set(feature_keys) & set(labels))
    if doubled:
      raise ArgumentError("y", f"Received {{name}} whose keys {doubled} are keys of `x` "
                               "too; features and labels need different keys.", None)
    target_keys = list(labels)
    columns.update(labels)
  elif y is not None:
    target_keys = _TARGET_KEY
    while target_keys in columns:
      target_keys += "_n"
    columns[target_keys] = np.asarray(y)
  lengths = {k: (len(v) if v.ndim else None) for k, v in columns.items()}
  if None in lengths.values() or len(set(lengths.values())) != 1:
    shapes = {k: columns[k].shape for k in feature_keys}
    labels = (None if target_keys is None else columns[target_keys].shape
              if isinstance(target_keys, str) else
              {k: columns[k].shape for k in target_keys})
    raise ArgumentError("y" if target_keys else "x",
                        "Length of tensors in x and y is mismatched: every array of x "
                        f"and y needs the same first dimension. Shapes in x: {shapes}; "
                        f"shapes in y: {labels}", None)
  return columns, feature_keys, target_keys


def _for_tensorflow(array):
  """`array` as TensorFlow takes it: text as bytes objects, other types unchanged."""
  if array.dtype.kind in "US" or (array.dtype == object and array.size
                                 and isinstance(array.flat[0], str)):
    return np.vectorize(lambda s: str(s).encode("utf-8"), otypes=[object])(array)
  return array


def _dtype_of(array):
  if array.dtype == object:
    return tf.string
  return tf.as_dtype(array.dtype)


def _batches(columns, batch_size, num_epochs, shuffle, queue_capacity):
  """Tensors of one batch of every column, from a tf.data pipeline over row indices."""
  arrays = [_for_tensorflow(v) for v in columns.values()]
  n = len(arrays[0])
  indices = tf.data.Dataset.range(n).repeat(num_epochs)
  if shuffle:
    indices = indices.shuffle(queue_capacity)
  # As TF 1.x's queues: whole batches when repeating forever, the last one short else.
  indices = indices.batch(batch_size, drop_remainder=num_epochs is None)

  def gather(rows):  # rows: int64 [batch]
    return [array[rows] for array in arrays]

  dtypes = [_dtype_of(a) for a in arrays]
  batch = (batch_size if num_epochs is None else None)
  dataset = indices.map(lambda rows: tuple(tf.numpy_function(gather, [rows], dtypes)))
  tensors = _V1.data.make_one_shot_iterator(dataset).get_next()
  for tensor, array in zip(tensors, arrays):
    tensor.set_shape([batch] + list(array.shape[1:]))  # [batch, ...]
  return dict(zip(columns, tensors))


def numpy_input_fn(x: Any, y: Any = None, batch_size: int = 128,
                   num_epochs: int | None = 1, shuffle: bool | None = None,
                   queue_capacity: int = 1000,
                   num_threads: int = 1) -> Callable[[], Any]:
  """An input function feeding NumPy arrays to a model, batch by batch.

  Args:
    x: a dict {name: array}, or one array (then features are one tensor).
    y: optional array, or dict of arrays, of labels.
    batch_size: positive int, rows per batch. Default 128.
    num_epochs: positive int, passes over the data, or None to repeat forever.
    shuffle: True or False; required (shuffle for training, not for predicting).
    queue_capacity: positive int, the rows the shuffle draws from. Default 1000.
    num_threads: positive int; accepted for TF 1.x's signature (one pipeline here).

  Returns:
    `input_fn()` returning `(features, labels)`, or `features` when `y` is None.

  Raises:
    ArgumentTypeError: `shuffle` not a bool, `x` or `y` of the wrong type.
    ArgumentError: a bad count; (when called) empty or mismatched arrays, keys in both
      `x` and `y`.
  """
  _check_shuffle(shuffle)
  _check_counts(batch_size, num_epochs, queue_capacity, num_threads)

  def input_fn():
    columns, feature_keys, target_keys = _columns(x, y)
    batch = _batches(columns, batch_size, num_epochs, shuffle, queue_capacity)
    features = (batch[_SINGLE_KEY] if isinstance(x, np.ndarray) else
                {k: batch[k] for k in feature_keys})
    if target_keys is None:
      return features
    if isinstance(target_keys, str):
      return features, batch[target_keys]
    return features, {k: batch[k] for k in target_keys}

  return input_fn


def pandas_input_fn(x: Any, y: Any = None, batch_size: int = 128,
                    num_epochs: int | None = 1, shuffle: bool | None = None,
                    queue_capacity: int = 1000, num_threads: int = 1,
                    target_column: str = "target") -> Callable[[], Any]:
  """An input function feeding a pandas DataFrame to a model: one feature per column.

  Args:
    x: a `pandas.DataFrame`.
    y: optional `pandas.Series` (labels a tensor) or DataFrame (labels a dict), on
      the same index as `x`.
    batch_size, num_epochs, shuffle, queue_capacity, num_threads: as
      `numpy_input_fn`.
    target_column: the name the labels may not share with a column of `x`.

  Returns:
    `input_fn()` returning `(features, labels)`, or `features` when `y` is None.

  Raises:
    ArgumentTypeError: pandas is not installed, or `x`/`y` are not pandas objects.
    ArgumentError: `x` has a column named `target_column`, or the indexes differ.
  """
  try:
    import pandas as pd  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ArgumentTypeError("x", "pandas_input_fn needs pandas, which is not "
                                 "installed (pip install pandas).", None) from None
  _check_shuffle(shuffle)
  if not isinstance(x, pd.DataFrame):
    raise ArgumentTypeError("x", "Expected {name} to be a pandas.DataFrame. Received: "
                                 f"a {type(x).__name__}", None)
  features = {str(column): x[column].to_numpy() for column in x.columns}
  labels = None
  if y is not None:
    if not isinstance(y, (pd.Series, pd.DataFrame)):
      raise ArgumentTypeError("y", "Expected {name} to be a pandas.Series or "
                                   f"DataFrame. Received: a {type(y).__name__}", None)
    if target_column in features:
      raise ArgumentError("target_column", "Received {name} that `x` already has as a "
                                           "column; pass another name. Received: "
                                           "{received}", target_column)
    if not x.index.equals(y.index):
      raise ArgumentError("y", "Index for x and y are mismatched: expected {name} on "
                               "the index of `x`.", None)
    labels = (y.to_numpy() if isinstance(y, pd.Series) else
              {str(column): y[column].to_numpy() for column in y.columns})
  return numpy_input_fn(features, labels, batch_size=batch_size, num_epochs=num_epochs,
                        shuffle=shuffle, queue_capacity=queue_capacity,
                        num_threads=num_threads)

