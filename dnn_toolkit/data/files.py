"""A user's own data: .npz and CSV files of features and labels, and `load_arrays`.

`load_arrays(path)` is the one entry for a data file you name (the CLI's `--data`). It
chooses the loader by what the path is, and every loader returns the same
`data.Datasets`, with an `identity` (see `data.Datasets`):

  - a directory, or an MNIST pickle (.pkl, .pkl.gz, .pickle): MNIST's formats, read by
    `mnist.load_mnist` (verified as MNIST or Fashion-MNIST; `verify=False` for another
    data set in that format); pixels are divided by 255;
  - an .npz whose arrays are MNIST (by `mnist.MNIST_SHA256`): loaded as MNIST, above;
  - any other .npz: arrays in Keras's layout `x_train, y_train[, x_test, y_test]`, or
    `x, y`; other keys are ignored; pickled (object) arrays are refused;
  - a .csv (comma) or .tsv (tab): one example per row, the label in one column (by
    name or index), a header row optional.
Anything else, or a path that does not exist, raises `DataNotFoundError` naming it: a
path you name is used or refused, never replaced by other data. `load_features(path)`
reads the same formats whole, labels optional, to predict on.

A user's features are used as given (any width; images [n, h, w] are flattened), or
standardized with the training split's mean and std (`standardize=True`). Labels must
be integers 0 .. k-1 (k = `n_classes`, else the largest label + 1). NaN or infinite
features, and negative, non-integer or out-of-range labels, are refused naming the file
and the row. The split is seeded: without a test split in the file, `test_size` rows
are held out for testing; then `validation_size` rows for validation.

Example:
  datasets = load_arrays("iris.csv", label_column="species", standardize=True)
  datasets.n_inputs, datasets.n_outputs      # (4, 3)
  datasets.identity["scaling"]               # 'standardize'
"""

import collections
import csv
import numbers
import os
import zipfile
import zlib

import numpy as np

from dnn_toolkit._validation import (
  check_bool,
  check_column,
  check_count_or_fraction,
  check_non_negative_int,
  check_path,
  check_positive_int,
)
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import mnist
from dnn_toolkit.errors import DataIntegrityError, DataNotFoundError

#: `validation_size` and `test_size` of a user's file when not given: a fraction of its
#: rows. (MNIST's formats keep MNIST's default, `mnist.load_mnist`'s 5000.)
DEFAULT_FRACTION = 0.1
_MNIST_VALIDATION_SIZE = 5000
_MNIST_SUFFIXES = (".pkl", ".pkl.gz", ".pickle")
_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_NPZ_LAYOUTS = (("x_train", "y_train", "x_test", "y_test"), ("x", "y"))

# What a reader decoded: features float32 [n, d] and labels int64 [n] of the file's
# training part, the same of its test part (or None), the per-array digests, the
# identity's "format", and extra identity entries.
_Decoded = collections.namedtuple(
    "_Decoded", ["x", "y", "x_test", "y_test", "digests", "data_format", "details"])


def load_arrays(path: str | os.PathLike[str], *, label_column: str | int | None = None,
                validation_size: int | float | None = None,
                test_size: int | float | None = None, standardize: bool = False,
                seed: int = 0, n_classes: int | None = None,
                verify: bool = True) -> data.Datasets:
  """Loads a data file you name into train / validation / test `DataSet`s.

  Args:
    path: a .npz, .csv or .tsv file, or MNIST's files (a directory of IDX files, an
      MNIST .npz or .pkl.gz); see the module docstring.
    label_column: CSV only: the label column's name (the file then needs a header) or
      index (negative counts from the end). Default: the header's column named
      "label" (any case).
    validation_size: examples held out for validation: a count, or a fraction in
      [0, 1) of the file's training rows. Default None: 0.1 of a user's file; for
      MNIST's formats (a count only), MNIST's rule: the first 5000 of the official
      training set.
    test_size: examples held out for testing, as `validation_size`, when the file has
      no test split. Default None: the file's test split, else 0.1. Refused when the
      file has a test split. The identity records both sizes as resolved.
    standardize: whether to scale each feature to zero mean and unit variance with the
      training split's statistics (a constant feature gets std 1).
    seed: a non-negative integer that fixes which rows go to which split.
    n_classes: the number of classes k, or None for the largest label + 1; labels
      outside [0, k) are refused.
    verify: for MNIST's formats only, as in `mnist.load_mnist`.

  Returns:
    A `data.Datasets`: images float32 [n, n_inputs], labels int64 [n]; its `identity`
    names the source, format, digest, sizes and scaling, and `standardization` holds
    the (mean, std) applied, if any.

  Raises:
    TypeError: an argument has the wrong type (bools are not counts).
    ValueError: a size or `label_column` is out of range, or the sizes leave no
      training examples.
    DataNotFoundError: `path` does not exist or is no data file this reads.
    DataIntegrityError: the file is corrupt or holds bad values; names the file and,
      for bad values, the row.
  """
  path = _check_path(path)
  validation_size = check_count_or_fraction("validation_size", validation_size)
  test_size = check_count_or_fraction("test_size", test_size)
  check_bool("standardize", standardize)
  seed = check_non_negative_int("seed", seed)
  if n_classes is not None:
    n_classes = check_positive_int("n_classes", n_classes)
  label_column = check_column("label_column", label_column)
  reader = _reader_for(path)
  if reader is None:  # MNIST's formats
    datasets = _load_mnist_format(path, validation_size, test_size, verify, n_classes)
  else:
    decoded = reader(path, label_column, n_classes)
    datasets = _split(decoded, path, validation_size=validation_size,
                      test_size=test_size, seed=seed, n_classes=n_classes)
  return _standardized(datasets) if standardize else datasets


def load_features(path: str | os.PathLike[str], *, label_column: str | int | None = None,
                  n_classes: int | None = None, verify: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None]:
  """Reads the examples of a data file to predict on: features, and labels if present.

  The formats of `load_arrays`, read whole, with no split and no standardization
  (apply a run's `Datasets.standardization` with `data.standardize`): MNIST's formats
  give their test images (/ 255) and labels; an .npz its `x` (and `y`, if present),
  else its `x_test` (and `y_test`); a CSV every column but the label column, which is
  `label_column` if given, else a header column named "label" if there is one.

  Args:
    path: as in `load_arrays`.
    label_column: CSV only: as in `load_arrays`; without one, every column is a
      feature unless the header names a "label" column.
    n_classes: None, or the number of classes labels must lie below.
    verify: as in `load_arrays`.

  Returns:
    (features float32 [n, n_inputs], labels int64 [n] or None).

  Raises:
    As `load_arrays`.
  """
  path = _check_path(path)
  if n_classes is not None:
    n_classes = check_positive_int("n_classes", n_classes)
  label_column = check_column("label_column", label_column)
  reader = _reader_for(path)
  if reader is None:
    test = mnist.load_mnist(validation_size=0, path=path, verify=verify).test
    return test.images, test.labels
  if reader is _read_csv:
    decoded = _read_csv(path, label_column, n_classes, labels_required=False)
  else:
    _no_label_column(path, label_column)
    keys, arrays = _npz_arrays(path, _npz_feature_keys)
    decoded = _Decoded(_features(arrays[keys[0]], f"{path} ({keys[0]})"), None, None,
                       None, {}, "npz", {})
    if len(keys) == 2:
      y = _labels(arrays[keys[1]], f"{path} ({keys[1]})", n_classes)
      _same_length(path, (keys[0], decoded.x), (keys[1], y))
      decoded = decoded._replace(y=y)
  return decoded.x, decoded.y


def _check_path(path):
  path = check_path("path", path)
  if not os.path.exists(path):
    raise _not_found(path, "no such file or directory")
  return path


def _not_found(path, why):
  error = DataNotFoundError(
      f"No data at {path}: {why}. A path you name is the only source used: expected "
      "a .npz, .csv or .tsv file, or MNIST's files (a directory of IDX files, "
      "mnist.npz, mnist.pkl.gz).")
  error.path = path
  return error


def _count(name, size, n_rows):
  """The number of rows `size` (a count or a fraction of `n_rows`) stands for."""
  if isinstance(size, (numbers.Integral, np.integer)):
    if size > n_rows:
      raise ValueError(f"Received an invalid value for `{name}`, expected at most "
                       f"{n_rows} (the rows available). Received: {name}={size}")
    return int(size)
  return int(round(float(size) * n_rows))


def _reader_for(path):
  """Returns the reader of `path`, None for MNIST's formats; raises if there is none."""
  lower = path.lower()
  if os.path.isdir(path) or lower.endswith(_MNIST_SUFFIXES):
    return None
  if not os.path.isfile(path):
    raise _not_found(path, "neither a file nor a directory")
  if lower.endswith(".npz"):
    # Keras's file name means MNIST's format: verified (or --no-verify), scaled / 255.
    mnist_named = os.path.basename(lower) == "mnist.npz"
    return None if mnist_named or _is_mnist_npz(path) else _read_npz
  suffix = os.path.splitext(lower)[1]
  if suffix in _CSV_DELIMITERS:
    return _read_csv
  raise _not_found(path, f"a file ending in {suffix or 'no extension'!r}, which is "
                   "none of these formats")


# -------------------------------------------------------------------------- MNIST


def _is_mnist_npz(path):
  """Whether `path` is an .npz holding exactly MNIST (its pinned digests)."""
  try:
    with np.load(path, allow_pickle=False) as archive:
      if set(_NPZ_LAYOUTS[0]) - set(archive.files):
        return False
      x_train = archive["x_train"]
      if x_train.dtype != np.uint8:
        return False
      return data.array_sha256(x_train) == mnist.MNIST_SHA256["train_images"]
  except Exception:  # pylint: disable=broad-except
    return False  # not MNIST; _read_npz names what is wrong with it


def _load_mnist_format(path, validation_size, test_size, verify, n_classes):
  if test_size is not None:
    raise ValueError(f"Received `test_size` for {path}, which is in MNIST's format and "
                     "has its own test set. Leave test_size out. Received: "
                     f"test_size={test_size!r}")
  if n_classes is not None and n_classes != 10:
    raise ValueError(f"Received an invalid value for `n_classes`, expected 10 for "
                     f"{path} (MNIST's format holds digits 0-9). Received: "
                     f"n_classes={n_classes}")
  if validation_size is None:
    validation_size = _MNIST_VALIDATION_SIZE
  if not isinstance(validation_size, (numbers.Integral, np.integer)):
    raise ValueError(f"Received a fraction for `validation_size`, but {path} is in "
                     "MNIST's format, whose validation set is the first N official "
                     "training images: give a count. Received: "
                     f"validation_size={validation_size!r}")
  return mnist.load_mnist(validation_size=int(validation_size), path=path,
                          verify=verify)


# ---------------------------------------------------------------------------- npz


def _read_npz(path, label_column, n_classes):
  """Reads a user's .npz (Keras's layout, or x and y) into a _Decoded."""
  _no_label_column(path, label_column)
  keys, arrays = _npz_arrays(path, _npz_keys)
  x_key, y_key = keys[:2]
  x = _features(arrays[x_key], f"{path} ({x_key})")
  y = _labels(arrays[y_key], f"{path} ({y_key})", n_classes)
  _same_length(path, (x_key, x), (y_key, y))
  x_test = y_test = None
  if len(keys) == 4:
    x_test = _features(arrays["x_test"], f"{path} (x_test)")
    y_test = _labels(arrays["y_test"], f"{path} (y_test)", n_classes)
    _same_length(path, ("x_test", x_test), ("y_test", y_test))
    if x_test.shape[1] != x.shape[1]:
      raise DataIntegrityError(f"{path} holds {x.shape[1]} features per row in x_train "
                               f"but {x_test.shape[1]} in x_test.")
  digests = {key: data.array_sha256(a)
             for key, a in zip(keys, (x, y, x_test, y_test)) if a is not None}
  return _Decoded(x, y, x_test, y_test, digests, "npz", {})


def _no_label_column(path, label_column):
  if label_column is not None:
    raise ValueError(f"Received `label_column` for {path}, an .npz, whose labels are "
                     f"its y array. Received: label_column={label_column!r}")


def _npz_arrays(path, choose_keys):
  """Returns (keys, {key: array}) of an .npz, the keys chosen by `choose_keys`."""
  decode_errors = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error)
  try:
    archive = np.load(path, allow_pickle=False)
  except decode_errors as e:
    raise DataIntegrityError(f"{path} is not a readable .npz archive ({e}).") from e
  if not isinstance(archive, np.lib.npyio.NpzFile):
    raise DataIntegrityError(f"{path} is a single .npy array, expected an .npz archive "
                             "with x_train and y_train (or x and y).")
  with archive:
    keys = choose_keys(path, archive.files)
    try:
      return keys, {key: archive[key] for key in keys}
    except decode_errors as e:
      # allow_pickle=False makes an object array a ValueError here.
      raise DataIntegrityError(f"{path} has a corrupt or pickled member ({e}); only "
                               "plain numeric arrays are read.") from e


def _npz_feature_keys(path, files):
  """The keys to predict on: x[, y], else x_test[, y_test]."""
  for x_key, y_key in (("x", "y"), ("x_test", "y_test")):
    if x_key in files:
      return (x_key, y_key) if y_key in files else (x_key,)
  raise DataIntegrityError(f"{path} lacks the features: expected an array x (or "
                           f"x_test); it has {', '.join(sorted(files)) or 'none'}.")


def _npz_keys(path, files):
  """The keys to read: (x_train, y_train[, x_test, y_test]) or (x, y)."""
  present = set(files)
  train, test = {"x_train", "y_train"}, {"x_test", "y_test"}
  if train <= present and {"x", "y"} <= present:
    raise DataIntegrityError(f"{path} holds both x_train/y_train and x/y: keep one "
                             "layout.")
  if train <= present:
    if len(test & present) == 1:
      raise DataIntegrityError(f"{path} holds {''.join(test & present)} without "
                               f"{''.join(test - present)}: give both or neither.")
    return _NPZ_LAYOUTS[0] if test <= present else _NPZ_LAYOUTS[0][:2]
  if {"x", "y"} <= present:
    return _NPZ_LAYOUTS[1]
  raise DataIntegrityError(f"{path} lacks the arrays: expected x_train and y_train "
                           f"(optionally x_test and y_test), or x and y; it has "
                           f"{', '.join(sorted(files)) or 'none'}.")


def _same_length(path, features, labels):
  (x_key, x), (y_key, y) = features, labels
  if len(x) != len(y):
    raise DataIntegrityError(f"{path} holds {len(x)} rows in {x_key} but {len(y)} "
                             f"labels in {y_key}: one label per row expected.")


def _features(array, where, row_names=None):
  """Returns float32 [n, d] features, or raises naming `where` and the first bad row."""
  array = np.asarray(array)
  if array.dtype.kind not in "iuf" or array.ndim < 2 or array.shape[0] == 0:
    raise DataIntegrityError(f"{where} holds an array of dtype {array.dtype} and shape "
                             f"{array.shape}, expected numbers of shape [n, n_features]"
                             f" (or [n, height, width]) with n >= 1.")
  with np.errstate(over="ignore"):  # a value beyond float32 becomes inf: refused below
    features = array.reshape(len(array), -1).astype(np.float32)
  if features.shape[1] == 0:
    raise DataIntegrityError(f"{where} holds rows of no features.")
  bad = ~np.isfinite(features)
  if bad.any():
    row, column = np.argwhere(bad)[0]
    value = array.reshape(len(array), -1)[row, column].item()
    why = "not finite" if not np.isfinite(value) else "beyond float32's range"
    name = row_names[row] if row_names is not None else f"row {row}"
    raise DataIntegrityError(
        f"{where}, {name}: feature {column} is {value!r} ({why}); expected finite "
        "numbers (NaN and infinity are refused).")
  return features


def _labels(array, where, n_classes, row_names=None):
  """Returns int64 [n] labels in [0, k), else raises naming `where` and the bad row."""
  array = np.asarray(array)
  if array.ndim == 2 and array.shape[1] == 1:
    array = array[:, 0]
  if array.dtype.kind not in "iuf" or array.ndim != 1:
    raise DataIntegrityError(f"{where} holds labels of dtype {array.dtype} and shape "
                             f"{array.shape}, expected integer class labels of shape "
                             "[n].")
  not_integer = np.zeros(len(array), bool)
  if array.dtype.kind == "f":
    with np.errstate(invalid="ignore"):
      not_integer = ~np.isfinite(array) | (np.floor(array) != array)
  checks = [(not_integer, "an integer class label"), (array < 0, "a label >= 0")]
  if n_classes is not None:
    checks.append((array >= n_classes, f"a label below n_classes={n_classes}"))
  for bad, expected in checks:
    if bad.any():
      row = int(np.flatnonzero(bad)[0])
      name = row_names[row] if row_names is not None else f"row {row}"
      raise DataIntegrityError(f"{where}, {name}: the label is {array[row].item()!r}, "
                               f"expected {expected}; labels are classes 0 .. k-1.")
  return array.astype(np.int64)


# ---------------------------------------------------------------------------- CSV


def _read_csv(path, label_column, n_classes, labels_required=True):
  """Reads a CSV (or TSV) with one example per row into a _Decoded.

  With `labels_required` False, a file without a label column gives labels None.
  """
  delimiter = _CSV_DELIMITERS[os.path.splitext(path.lower())[1]]
  header, rows, lines = _csv_rows(path, delimiter, label_column)
  n_columns = len(header) if header is not None else len(rows[0])
  label = _label_index(path, header, n_columns, label_column, labels_required)
  names = header or [f"column {i}" for i in range(n_columns)]
  row_names = [f"line {n}" for n in lines]
  feature_columns = [i for i in range(n_columns) if i != label]
  if not feature_columns:
    raise DataIntegrityError(f"{path} has only the label column: no features.")
  table = _csv_numbers(path, rows, lines, names)
  x = _features(table[:, feature_columns], path, row_names)
  if label is None:
    return _Decoded(x, None, None, None, {}, "csv", {})
  y = _labels(table[:, label], f"{path} (label column {names[label]!r})", n_classes,
              row_names)
  digests = {"x": data.array_sha256(x), "y": data.array_sha256(y)}
  shown = names[label] if header is not None else label
  return _Decoded(x, y, None, None, digests, "csv", {"label_column": shown})


def _csv_rows(path, delimiter, label_column):
  """Returns (header or None, rows of strings, their line numbers); checks row widths."""
  rows, lines = [], []
  try:
    with open(path, newline="", encoding="utf-8") as f:
      reader = csv.reader(f, delimiter=delimiter)
      for row in reader:
        if row and any(field.strip() for field in row):  # blank lines are skipped
          rows.append([field.strip() for field in row])
          lines.append(reader.line_num)
  except (UnicodeDecodeError, csv.Error) as e:
    raise DataIntegrityError(f"{path} is not a readable text table ({e}).") from e
  if not rows:
    raise DataIntegrityError(f"{path} holds no rows.")
  header = None
  width, first_line = len(rows[0]), lines[0]
  if isinstance(label_column, str) or not all(_is_number(v) for v in rows[0]):
    header, rows, lines = rows[0], rows[1:], lines[1:]
    if not rows:
      raise DataIntegrityError(f"{path} holds a header (line {first_line}) and no rows.")
  for row, line in zip(rows, lines):
    if len(row) != width:
      raise DataIntegrityError(f"{path}, line {line}: {len(row)} fields, expected "
                               f"{width} (as in line {first_line}).")
  return header, rows, lines


def _is_number(text):
  try:
    float(text)
  except ValueError:
    return False
  return True


def _label_index(path, header, n_columns, label_column, required=True):
  """Resolves `label_column` (a name, an index or None) to a column index, or None."""
  if label_column is None:
    lowered = [name.lower() for name in header] if header is not None else []
    if "label" in lowered:
      return lowered.index("label")
    if not required:
      return None
    raise ValueError(f"Received no `label_column` for {path}, which has no header "
                     f"column named 'label'; pass its name or index (columns: "
                     f"{', '.join(header) if header else f'{n_columns}, no header'}).")
  if isinstance(label_column, str):
    if label_column not in header:
      raise ValueError(f"Received an invalid value for `label_column`, expected one of "
                       f"the columns of {path}: {', '.join(header)}. Received: "
                       f"label_column={label_column!r}")
    return header.index(label_column)
  if not -n_columns <= label_column < n_columns:
    raise ValueError(f"Received an invalid value for `label_column`, expected an index "
                     f"in [{-n_columns}, {n_columns}) ({path} has {n_columns} columns)."
                     f" Received: label_column={label_column}")
  return int(label_column) % n_columns


def _csv_numbers(path, rows, lines, names):
  """Returns float64 [n_rows, n_columns], or raises naming the first non-number."""
  try:
    return np.array(rows, dtype=np.float64)
  except ValueError:
    pass  # find the field to name
  for row, line in zip(rows, lines):
    for name, field in zip(names, row):
      if not _is_number(field):
        raise DataIntegrityError(f"{path}, line {line}: column {name!r} holds "
                                 f"{field!r}, expected a number.")
  raise AssertionError("unreachable: numpy refused a table of numbers")


# -------------------------------------------------------------------------- split


def _split(decoded, path, *, validation_size, test_size, seed, n_classes):
  """Splits a _Decoded into a Datasets by a seeded permutation; states the identity."""
  n_rows = len(decoded.y)
  if decoded.x_test is not None and test_size is not None:
    raise ValueError(f"Received `test_size` for {path}, which has its own x_test and "
                     f"y_test. Leave test_size out. Received: test_size={test_size!r}")
  order = data.split_permutation(n_rows, seed)
  n_test = 0
  if decoded.x_test is None:
    test_size = DEFAULT_FRACTION if test_size is None else test_size
    n_test = _count("test_size", test_size, n_rows)
  if validation_size is None:
    validation_size = DEFAULT_FRACTION
  n_validation = _count("validation_size", validation_size, n_rows)
  if n_test + n_validation >= n_rows:
    raise ValueError(f"Received sizes that leave no training examples: {path} has "
                     f"{n_rows} rows, test takes {n_test} and validation "
                     f"{n_validation}. Received: validation_size={validation_size!r}, "
                     f"test_size={test_size!r}")

  def take(index):
    index = np.sort(index)
    return data.DataSet(decoded.x[index], decoded.y[index])

  if decoded.x_test is None:
    test = take(order[:n_test])
  else:
    test = data.DataSet(decoded.x_test, decoded.y_test)
  validation = take(order[n_test:n_test + n_validation])
  train = take(order[n_test + n_validation:])
  return data.make_datasets(
      train, validation, test, source=os.path.abspath(path),
      data_format=decoded.data_format,
      sha256=data.combined_sha256(decoded.digests), validation_size=validation_size,
      scaling="none", n_outputs=n_classes, test_size=test_size, split_seed=seed,
      **decoded.details)


def _standardized(datasets):
  """Scales every split with the training split's per-feature mean and std."""
  train = datasets.train.images.astype(np.float64)
  mean = train.mean(axis=0)
  std = train.std(axis=0)
  std[std == 0] = 1.0  # a constant feature stays 0 rather than dividing by zero
  mean, std = mean.astype(np.float32), std.astype(np.float32)
  splits = [data.DataSet(data.standardize(s.images, mean, std), s.labels)
            for s in datasets]
  identity = dict(datasets.identity)
  identity["scaling"] = ("standardize" if identity["scaling"] == "none" else
                         f"{identity['scaling']}, then standardize")
  return data.Datasets(*splits, identity=identity, standardization=(mean, std))
