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
    name or index), a header row optional;
  - a .npy (to predict on only, `load_features`): one array of features.
Anything else, or a path that does not exist, raises `DataNotFoundError` naming it: a
path you name is used or refused, never replaced by other data. `load_features(path)`
reads the same formats whole, labels optional, to predict on.

A user's features are used as given (any width; images [n, h, w] are flattened), or
standardized with the training split's mean and std (`standardize=True`): the
`scaling.Scaling` applied is the Datasets' `scaling`, and its identity records it.
Labels are taken as the file holds them: names ("setosa") or integers, mapped to
classes 0 .. k-1 in sorted order (integers 0 .. k-1 map to themselves); the map is
the identity's "classes". NaN or infinite features and non-integer numeric labels are
refused naming the file and the row. The split is seeded: without a test split in the
file, `test_size` rows are held out for testing; then `validation_size` rows for
validation. A class with no training example (all its rows went to the other splits)
is warned about, naming it.

Example:
  datasets = load_arrays("iris.csv", label_column="species", standardize=True)
  datasets.n_inputs, datasets.n_outputs      # (4, 3)
  datasets.identity["scaling"]               # 'standardize'
  datasets.classes                           # ['setosa', 'versicolor', 'virginica']
"""

import collections
import csv
import numbers
import os
import warnings
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
from dnn_toolkit.data import scaling as scaling_lib
from dnn_toolkit.data.scaling import Scaling
from dnn_toolkit.errors import ArgumentError, DataIntegrityError, DataNotFoundError

#: `validation_size` and `test_size` of a user's file when not given: a fraction of its
#: rows. (MNIST's formats keep MNIST's default, `mnist.load_mnist`'s 5000.)
DEFAULT_FRACTION = 0.1
_MNIST_VALIDATION_SIZE = 5000
_MNIST_SUFFIXES = (".pkl", ".pkl.gz", ".pickle")
_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_NPY = ".npy"
_NPZ_LAYOUTS = (("x_train", "y_train", "x_test", "y_test"), ("x", "y"))

# What a reader decoded: features float32 [n, d] and labels [n] as the file holds them
# (int64, or str names) of the file's training part, the same of its test part (or None), the per-array digests, the
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
    n_classes: integer labels only: the number of classes k, labels 0 .. k-1 (others
      are refused; a class without examples is warned about). Default None: the
      labels present, mapped to 0 .. k-1 in sorted order.
    verify: for MNIST's formats only, as in `mnist.load_mnist`.

  Returns:
    A `data.Datasets`: images float32 [n, n_inputs] (marked with their `scaling` when
    scaled: `scaling.ScaledArray`), labels int64 [n] of classes 0 .. k-1; its
    `identity` names the source, format, digest, sizes, scaling and the label map
    (`classes`), and `scaling` holds the `scaling.Scaling` applied.

  Raises:
    TypeError: an argument has the wrong type (bools are not counts).
    ValueError: a size or `label_column` is out of range, or the sizes leave no
      training examples (an `ArgumentError` naming the argument).
    DataNotFoundError: `path` does not exist or is no data file this reads.
    DataIntegrityError: the file is corrupt or holds bad values; names the file and,
      for bad values, the row.
  """
  path = check_data_path(path)
  validation_size = check_count_or_fraction("validation_size", validation_size)
  test_size = check_count_or_fraction("test_size", test_size)
  check_bool("standardize", standardize)
  seed = check_non_negative_int("seed", seed)
  if n_classes is not None:
    n_classes = check_positive_int("n_classes", n_classes)
  label_column = check_column("label_column", label_column)
  reader = _reader_for(path)
  if reader is _read_npy:
    raise DataIntegrityError(
        f"{path} is a single .npy array: features only, nothing to train on. Save "
        "the features and labels together: np.savez(path, x=x, y=y).")
  if reader is None:  # MNIST's formats
    datasets = _load_mnist_format(path, validation_size, test_size, verify, n_classes)
  else:
    decoded = reader(path, label_column)
    datasets = _split(decoded, path, validation_size=validation_size,
                      test_size=test_size, seed=seed, n_classes=n_classes)
  return _standardized(datasets) if standardize else datasets


def load_features(path: str | os.PathLike[str], *, label_column: str | int | None = None,
                  verify: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
  """Reads the examples of a data file to predict on, as the file holds them.

  The formats of `load_arrays` and a bare .npy of features, read whole, with no
  split and no scaling (a run's `scaling.Scaling` makes them its inputs): MNIST's
  formats give their test images (raw uint8 pixels) and labels; an .npz its `x` (and
  `y`, if present), else its `x_test` (and `y_test`); a .npy its one array; a CSV
  every column but the label column, which is `label_column` if given, else a header
  column named "label" if there is one.

  Args:
    path: as in `load_arrays`, or a .npy file.
    label_column: CSV only: as in `load_arrays`; without one, every column is a
      feature unless the header names a "label" column.
    verify: as in `load_arrays`.

  Returns:
    (features `[n, n_inputs]`: uint8 for MNIST's formats, else float32; labels `[n]`
    as the file holds them (int64 or str), or None).

  Raises:
    As `load_arrays`.
  """
  path = check_data_path(path)
  label_column = check_column("label_column", label_column)
  reader = _reader_for(path)
  if reader is None:
    _, (images, labels) = mnist.load_data(path=path, verify=verify)
    return images.reshape(len(images), -1), labels.astype(np.int64)
  if reader is _read_csv:
    decoded = _read_csv(path, label_column, labels_required=False)
  elif reader is _read_npy:
    _no_label_column(path, label_column)
    decoded = _read_npy(path)
  else:
    _no_label_column(path, label_column)
    keys, arrays = _npz_arrays(path, _npz_feature_keys)
    decoded = _Decoded(_features(arrays[keys[0]], f"{path} ({keys[0]})"), None, None,
                       None, {}, "npz", {})
    if len(keys) == 2:
      y = _labels(arrays[keys[1]], f"{path} ({keys[1]})")
      _same_length(path, (keys[0], decoded.x), (keys[1], y))
      decoded = decoded._replace(y=y)
  return decoded.x, decoded.y


def check_data_path(path: str | os.PathLike[str]) -> str:
  """Returns `path` as a str if it exists, else raises `DataNotFoundError` naming it.

  Cheap (no data is read): the command line checks `--data` with it before TensorFlow
  loads.

  Raises:
    TypeError: `path` is not a path.
    DataNotFoundError: nothing exists at `path`.
  """
  path = check_path("path", path)
  if not os.path.exists(path):
    raise _not_found(path, "no such file or directory")
  return path


def _not_found(path, why):
  error = DataNotFoundError(
      f"No data at {path}: {why}. A path you name is the only source used: expected "
      "a .npz, .csv or .tsv file (or a .npy of features to predict on), or MNIST's "
      "files (a directory of IDX files, mnist.npz, mnist.pkl.gz).")
  error.path = path
  return error


def _count(name, size, n_rows):
  """The number of rows `size` (a count or a fraction of `n_rows`) stands for."""
  if isinstance(size, (numbers.Integral, np.integer)):
    if size > n_rows:
      raise ArgumentError(name, "Received an invalid value for {name}, expected at "
                          f"most {n_rows} (the rows available). Received: {{received}}",
                          size)
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
  if suffix == _NPY:
    return _read_npy
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
    raise ArgumentError("test_size", f"Received {{name}} for {path}, which is in "
                        "MNIST's format and has its own test set. Leave it out. "
                        "Received: {received}", test_size)
  if n_classes is not None and n_classes != 10:
    raise ArgumentError("n_classes", "Received an invalid value for {name}, expected "
                        f"10 for {path} (MNIST's format holds digits 0-9). Received: "
                        "{received}", n_classes)
  if validation_size is None:
    validation_size = _MNIST_VALIDATION_SIZE
  if not isinstance(validation_size, (numbers.Integral, np.integer)):
    raise ArgumentError("validation_size", f"Received a fraction for {{name}}, but "
                        f"{path} is in MNIST's format, whose validation set is the "
                        "first N official training images: give a count. Received: "
                        "{received}", validation_size)
  return mnist.load_mnist(validation_size=int(validation_size), path=path,
                          verify=verify)


# ---------------------------------------------------------------------------- npz


def _read_npz(path, label_column):
  """Reads a user's .npz (Keras's layout, or x and y) into a _Decoded."""
  _no_label_column(path, label_column)
  keys, arrays = _npz_arrays(path, _npz_keys)
  x_key, y_key = keys[:2]
  x = _features(arrays[x_key], f"{path} ({x_key})")
  y = _labels(arrays[y_key], f"{path} ({y_key})")
  _same_length(path, (x_key, x), (y_key, y))
  x_test = y_test = None
  if len(keys) == 4:
    x_test = _features(arrays["x_test"], f"{path} (x_test)")
    y_test = _labels(arrays["y_test"], f"{path} (y_test)")
    _same_length(path, ("x_test", x_test), ("y_test", y_test))
    if x_test.shape[1] != x.shape[1]:
      raise DataIntegrityError(f"{path} holds {x.shape[1]} features per row in x_train "
                               f"but {x_test.shape[1]} in x_test.")
  digests = {key: _label_sha256(a) if key.startswith("y") else data.array_sha256(a)
             for key, a in zip(keys, (x, y, x_test, y_test)) if a is not None}
  return _Decoded(x, y, x_test, y_test, digests, "npz", {})


def _read_npy(path):
  """Reads a bare .npy of features (to predict on) into a _Decoded without labels."""
  try:
    array = np.load(path, allow_pickle=False)
  except (ValueError, EOFError, OSError) as e:
    raise DataIntegrityError(f"{path} is not a readable .npy array of numbers "
                             f"({e}).") from e
  return _Decoded(_features(array, path), None, None, None, {}, "npy", {})


def _label_sha256(labels):
  """The digest of labels as read: int64 bytes, or for names their UTF-8 text."""
  if labels.dtype.kind in "iu":
    return data.array_sha256(labels)
  return data.array_sha256(np.frombuffer("\n".join(labels.tolist()).encode(), np.uint8))


def _no_label_column(path, label_column):
  if label_column is not None:
    kind = "a .npy of features only" if path.lower().endswith(_NPY) else (
        "an .npz, whose labels are its y array")
    raise ArgumentError("label_column", f"Received {{name}} for {path}, {kind}. "
                        "Received: {received}", label_column)


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


def _labels(array, where, row_names=None):
  """Labels `[n]` as the file holds them: int64 integers, or str names.

  Numbers must be integers (1.0 is 1); a CSV column (`str` fields) holding any field
  that is no number is a column of names. Raises naming `where` and the bad row.
  """
  array = np.asarray(array)
  if array.ndim == 2 and array.shape[1] == 1:
    array = array[:, 0]
  if array.dtype.kind == "S":
    array = np.char.decode(array, "utf-8")
  if array.dtype.kind not in "iufU" or array.ndim != 1:
    raise DataIntegrityError(f"{where} holds labels of dtype {array.dtype} and shape "
                             f"{array.shape}, expected class labels (integers or "
                             "names) of shape [n].")
  if array.dtype.kind == "U":
    if not all(_is_number(v) for v in array.tolist()):
      return array  # Names.
    numbers_ = array.astype(np.float64)
  else:
    numbers_ = array
  if numbers_.dtype.kind == "f":
    with np.errstate(invalid="ignore"):
      bad = ~np.isfinite(numbers_) | (np.floor(numbers_) != numbers_)
    if bad.any():
      row = int(np.flatnonzero(bad)[0])
      name = row_names[row] if row_names is not None else f"row {row}"
      raise DataIntegrityError(
          f"{where}, {name}: the label is {array[row].item()!r}, expected a class: "
          "an integer or a name (a column of fractional numbers is no class label).")
  return numbers_.astype(np.int64)


# ---------------------------------------------------------------------------- CSV


def _read_csv(path, label_column, labels_required=True):
  """Reads a CSV (or TSV) with one example per row into a _Decoded.

  The label column may hold integers or names; every other column numbers. With
  `labels_required` False, a file without a label column gives labels None.
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
  table = _csv_numbers(path, [[row[i] for i in feature_columns] for row in rows], lines,
                       [names[i] for i in feature_columns])
  x = _features(table, path, row_names)
  if label is None:
    return _Decoded(x, None, None, None, {}, "csv", {})
  y = _labels(np.array([row[label] for row in rows], dtype=str),
              f"{path} (label column {names[label]!r})", row_names)
  digests = {"x": data.array_sha256(x), "y": _label_sha256(y)}
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
  if isinstance(label_column, str) or _is_header(rows):
    header, rows, lines = rows[0], rows[1:], lines[1:]
    if not rows:
      raise DataIntegrityError(f"{path} holds a header (line {first_line}) and no rows.")
  for row, line in zip(rows, lines):
    if len(row) != width:
      raise DataIntegrityError(f"{path}, line {line}: {len(row)} fields, expected "
                               f"{width} (as in line {first_line}).")
  return header, rows, lines


def csv_layout(path: str) -> tuple[list[str] | None, int]:
  """(the header, or None, and the number of columns) of a CSV or TSV file, from its
  first rows only."""
  delimiter = _CSV_DELIMITERS.get(os.path.splitext(path.lower())[1], ",")
  rows = []
  try:
    with open(path, newline="", encoding="utf-8") as f:
      for row in csv.reader(f, delimiter=delimiter):
        if row and any(field.strip() for field in row):
          rows.append([field.strip() for field in row])
          if len(rows) == 2:
            break
  except (UnicodeDecodeError, csv.Error) as e:
    raise DataIntegrityError(f"{path} is not a readable text table ({e}).") from e
  if not rows:
    return None, 0
  return (rows[0] if _is_header(rows) else None), len(rows[0])


def _is_header(rows):
  """Whether the first row names the columns: it holds text where the data holds
  numbers (a column of class names holds text in every row)."""
  first = [_is_number(v) for v in rows[0]]
  if len(rows) == 1:
    return not all(first)
  return any(not a and _is_number(b) for a, b in zip(first, rows[1]))


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
    columns = ", ".join(header) if header else f"{n_columns}, no header"
    raise ArgumentError("label_column", f"Received no {{name}} for {path}, which has no "
                        "header column named 'label'; give the label column's name "
                        f"or index (columns: {columns}). Received: {{received}}", None)
  if isinstance(label_column, str):
    if label_column not in header:
      raise ArgumentError("label_column", "Received an invalid value for {name}, "
                          f"expected one of the columns of {path}: "
                          f"{', '.join(header)}. Received: {{received}}", label_column)
    return header.index(label_column)
  if not -n_columns <= label_column < n_columns:
    raise ArgumentError("label_column", "Received an invalid value for {name}, "
                        f"expected an index in [{-n_columns}, {n_columns}) ({path} has "
                        f"{n_columns} columns). Received: {{received}}", label_column)
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
    raise ArgumentError("test_size", f"Received {{name}} for {path}, which has its own "
                        "x_test and y_test. Leave it out. Received: {received}",
                        test_size)
  order = data.split_permutation(n_rows, seed)
  n_test = 0
  if decoded.x_test is None:
    test_size = DEFAULT_FRACTION if test_size is None else test_size
    n_test = _count("test_size", test_size, n_rows)
  if validation_size is None:
    validation_size = DEFAULT_FRACTION
  n_validation = _count("validation_size", validation_size, n_rows)
  if n_test + n_validation >= n_rows:
    raise ArgumentError(
        "validation_size", f"Received sizes that leave no training examples: {path} "
        f"has {n_rows} rows, test takes {n_test} and validation {n_validation}. "
        "Received: {received}" + (f", test_size={test_size!r}" if n_test else ""),
        validation_size)
  classes = _classes(decoded, path, n_classes)
  y, y_test = (None if labels is None else data.class_indices(labels, classes)[0]
               for labels in (decoded.y, decoded.y_test))

  def take(index):
    index = np.sort(index)
    return data.DataSet(decoded.x[index], y[index])

  if decoded.x_test is None:
    test = take(order[:n_test])
  else:
    test = data.DataSet(decoded.x_test, y_test)
  validation = take(order[n_test:n_test + n_validation])
  train = take(order[n_test + n_validation:])
  _warn_untrained_classes(path, classes, train, validation, test)
  return data.make_datasets(
      train, validation, test, source=os.path.abspath(path),
      data_format=decoded.data_format,
      sha256=data.combined_sha256(decoded.digests), validation_size=validation_size,
      scaling=Scaling(), classes=classes, test_size=test_size, split_seed=seed,
      **decoded.details)


def _classes(decoded, path, n_classes):
  """The label map: the file's labels in sorted order, or 0 .. n_classes-1."""
  if n_classes is None:
    return data.label_classes(decoded.y, decoded.y_test)
  for name, labels in (("y", decoded.y), ("y_test", decoded.y_test)):
    if labels is None:
      continue
    if labels.dtype.kind not in "iu":
      raise ArgumentError("n_classes", f"Received {{name}} for {path}, whose labels are "
                          "names: its classes are the names. Received: {received}",
                          n_classes)
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
      row = int(np.flatnonzero(bad)[0])
      raise DataIntegrityError(f"{path} ({name}), row {row}: the label is "
                               f"{labels[row]}, expected a class in [0, {n_classes}) "
                               f"(n_classes={n_classes}).")
  return list(range(n_classes))


def _warn_untrained_classes(path, classes, train, validation, test):
  """Warns, naming them, of classes with no training example (the net never learns
  them)."""
  counts = np.bincount(train.labels, minlength=len(classes))
  missing = np.flatnonzero(counts == 0)
  if not len(missing):
    return
  where = []
  for index in missing.tolist():
    held = [f"{int(np.sum(s.labels == index))} in {name}"
            for name, s in (("validation", validation), ("test", test))
            if np.any(s.labels == index)]
    where.append(f"{classes[index]!r} ({', '.join(held) or 'no example at all'})")
  warnings.warn(f"{path}: no training example of class(es) {', '.join(where)}; the net "
                "will not learn to predict them. Give more rows of them, or leave them "
                "out of the file.", stacklevel=4)


def _standardized(datasets):
  """Scales every split with the training split's per-feature mean and std."""
  scaling = datasets.scaling.fitted(datasets.train.images)
  splits = [data.DataSet(scaling_lib.standardize(s.images, scaling.mean, scaling.std),
                         s.labels) for s in datasets]
  return data.make_datasets(
      *splits, scaling=scaling, **_builder_args(datasets.identity))


def _builder_args(identity):
  """`make_datasets`' keyword arguments that rebuild `identity` (all but scaling)."""
  derived = ("n_train", "n_validation", "n_test", "n_inputs", "n_outputs", "scaling",
             "standardization")
  args = {k: v for k, v in identity.items() if k not in derived}
  args["data_format"] = args.pop("format")
  return args
