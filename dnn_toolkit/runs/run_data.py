"""A run's data as the run saw it: its task, reloaded, scaled and labelled.

A run's record (`checkpoints.RunRecord.data`) names the data it trained on: the loader's
identity (source, format, split sizes and seed, scaling, the label map `classes`) plus,
for a task drawn from it (`--digits`, `--per-class`), the labels it kept and the draw.
This module owns turning that record back into arrays, for resuming, evaluating,
predicting, exporting and transferring:

    splits, identity = make_task(loaded, digits=[0, 1, 2, 3, 4])   # a new run's task
    train, validation, test = reload_splits(record)    # checked against its digests
    inputs, classes = load_examples(record, "new.csv")  # a file, as the run's inputs

Features become the run's inputs through the run's `scaling.Scaling` (`scaling_of`):
raw values as the file holds them are scaled as the training data was. Labels become
the run's classes through its label map (`class_labels`): a run on digits 5-9 calls
them classes 0-4 and answers 5-9; a run on a CSV of names answers in names.
"""

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from dnn_toolkit.checkpoints import RunRecord
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import files, mnist
from dnn_toolkit.data.scaling import STANDARDIZE, Scaling
from dnn_toolkit.errors import ArgumentError, DataError


def class_labels(record: RunRecord) -> list[Any]:
  """The labels, as the data holds them, of a run's classes 0..k-1 (its label map)."""
  return data.classes_of(record.data, record.config.n_outputs)


def select_digits(dataset: data.DataSet, digits: Sequence[int]) -> data.DataSet:
  """Keeps the examples of class indices `digits` and renumbers them 0..len-1, in order."""
  kept = data.filter_digits(dataset, digits)
  return data.relabel(kept, {d: i for i, d in enumerate(digits)})


def make_task(loaded: data.Datasets, digits: Sequence[Any] | None = None,
              per_class: int | None = None, seed: int = 0) -> tuple[
                  tuple[data.DataSet, data.DataSet, data.DataSet], dict[str, Any]]:
  """The (train, validation, test) of a task drawn from loaded data, and its identity.

  The one recipe of `--digits` and `--per-class` (`train` and `transfer`), so that a
  run of it can be reloaded exactly (`reload_source`).

  Args:
    loaded: a `data.Datasets`.
    digits: optional labels to keep, as the data holds them (MNIST's digits), in
      every split; they become classes 0..len(digits)-1, in sorted order.
    per_class: optional positive int: that many training examples of each class, a
      draw seeded by `seed`.
    seed: the draw's seed.

  Returns:
    ((train, validation, test) `DataSet`s, the identity the record keeps: the
    loader's, with digits, per_class and per_class_seed, the task's n_test,
    n_outputs and classes).

  Raises:
    ArgumentError: `digits` names a label the data does not have, or a split holds
      none of them; `per_class` exceeds a class's training examples.
  """
  identity = dict(loaded.identity or {})
  classes = loaded.classes
  splits = list(loaded)
  if digits:
    digits = sorted(digits)
    unknown = [d for d in digits if d not in classes]
    if unknown:
      raise ArgumentError("digits", f"The data has no class {unknown[0]} (its classes: "
                          f"{_listed(classes)}). Received: {{received}}", digits)
    indices = [classes.index(d) for d in digits]
    splits = [select_digits(split, indices) for split in splits]
    for name, split in zip(("train", "validation", "test"), splits):
      if not len(split.labels):
        raise ArgumentError("digits", f"The {name} split holds no examples of the "
                            "labels {received}.", digits)
    classes = list(digits)
    identity["digits"] = list(digits)
  if per_class:
    try:
      splits[0] = data.sample_per_class(splits[0], per_class, seed=seed)
    except ValueError as error:
      raise ArgumentError("per_class", f"{{name}} {per_class} is more than the training "
                          f"split holds of some class: {error}", per_class) from None
    identity.update(per_class=per_class, per_class_seed=seed)
  if digits or per_class:
    identity.update(n_test=len(splits[2].labels), n_outputs=len(classes),
                    classes=classes)
  return (splits[0], splits[1], splits[2]), identity


def _listed(values, limit=12):
  shown = ", ".join(map(str, values[:limit]))
  return shown + (", ..." if len(values) > limit else "")


def reload_source(identity: dict | None) -> tuple[
    data.Datasets, tuple[data.DataSet, data.DataSet, data.DataSet]]:
  """Loads the data a record's identity names, split and scaled as the run's was.

  Args:
    identity: `RunRecord.data` (None or without a source: MNIST's automatic sources).

  Returns:
    (a `data.Datasets` as loaded, its (train, validation, test) as the run used them).

  Raises:
    DataError: the source is gone, or its training or validation split is not the
      one the run trained on (by the record's digests).
  """
  identity = identity or {}
  source = identity.get("source")
  if source in (None, "auto"):
    loaded = mnist.load_mnist(validation_size=identity.get("validation_size", 5000))
  else:
    kwargs: dict[str, Any] = {
        "validation_size": identity.get("validation_size"),
        "standardize": STANDARDIZE in (identity.get("scaling") or ""),
        "verify": identity.get("format") != "mnist-format"}
    if identity.get("format") in ("npz", "csv"):
      kwargs.update(test_size=identity.get("test_size"),
                    seed=identity.get("split_seed", 0),
                    label_column=identity.get("label_column"))
    loaded = files.load_arrays(source, **kwargs)
  splits, _ = make_task(loaded, identity.get("digits"), identity.get("per_class"),
                        identity.get("per_class_seed", 0))
  found = data.data_identity(splits[0], splits[1])
  differs = [k for k in ("train_sha256", "validation_sha256")
             if identity.get(k) and identity[k] != found[k]]
  if differs:
    shown = "MNIST" if source in (None, "auto") else source
    raise DataError(f"The run's data source ({shown}) no longer gives the "
                    f"data it trained on ({', '.join(differs)} differ); pass the data "
                    "to use with --data.")
  return loaded, splits


def reload_splits(record: RunRecord) -> tuple[Any, Any, Any]:
  """The (train, validation, test) `DataSet`s a run trained on, reloaded from its source.

  Raises:
    DataError: the source is gone, or no longer gives the data the run trained on.
  """
  return reload_source(record.data)[1]


def record_test_split(record: RunRecord) -> tuple[np.ndarray, np.ndarray, str]:
  """The test split of the data the run trained on (its task, as the run's).

  Returns:
    (inputs float32 [n, n_inputs], scaled as the run's, class indices int64 [n], a
    description of the source).

  Raises:
    DataError: the source is gone or changed, or its test split is empty.
  """
  _, (_, _, test) = reload_source(record.data)
  source = (record.data or {}).get("source")
  source = "MNIST" if source in (None, "auto") else source
  if not len(test.labels):
    raise DataError(f"The run's data source {source} has no test examples; pass the "
                    "data to evaluate with --data.")
  return np.asarray(test.images, np.float32), test.labels, f"{source} (test split)"


def scaling_of(record: RunRecord) -> Scaling | None:
  """The `Scaling` from raw features to the run's inputs, or None if unrecorded.

  Read from the record (`Scaling.from_identity`); a standardized run recorded before
  the values were kept gets them from the training split of its source, which
  `reload_source` checks against the record's digests.
  """
  identity = record.data or {}
  scaling = Scaling.from_identity(identity)
  if scaling is None and STANDARDIZE in (identity.get("scaling") or ""):
    scaling = reload_source(identity)[0].scaling
  return scaling


def label_column_for(record: RunRecord, path: str,
                     label_column: str | int | None) -> str | int | None:
  """The label column to read a CSV `path` with: the one given, else the run's own
  if the file has it (by name in its header, or by index when the file is one
  column wider than the run's features), else None (a 'label' column, if any)."""
  identity = record.data or {}
  recorded = identity.get("label_column")
  if label_column is not None or recorded is None or not path.lower().endswith(
      (".csv", ".tsv")) or not os.path.isfile(path):
    return label_column
  header, n_columns = files.csv_layout(path)
  if isinstance(recorded, str):
    return recorded if header is not None and recorded in header else None
  return recorded if n_columns == identity.get("n_inputs", -2) + 1 else None


def load_examples(record: RunRecord, path: str | os.PathLike[str], *,
                  label_column: str | int | None = None, labels_required: bool = False,
                  scaled: bool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
  """Reads a data file to run a run's net on: as the run's inputs and classes.

  Args:
    record: the run's `RunRecord`.
    path: a data file (`files.load_features` formats: also a bare .npy).
    label_column: CSV only; default the run's own, if the file has that column
      (`label_column_for`), else a 'label' column if there is one.
    labels_required: raise unless the file holds labels (to evaluate on); else any
      labels are ignored and every row is returned (to predict on).
    scaled: as in `scaling.Scaling.prepare`: None, the features are raw (refused if
      they plainly are not); True, already scaled as the run's inputs.

  Returns:
    (inputs float32 [n, n_inputs], class indices int64 [n] or None). With labels, a
    digits run keeps only the rows of its digits; any other run refuses labels that
    are none of its classes.

  Raises:
    DataError, ValueError: unreadable file, no labels where required, a width other
      than the run's n_inputs, labels outside the run's classes, features that are
      plainly not raw.
  """
  features, labels = files.load_features(
      path, label_column=label_column_for(record, os.fspath(path), label_column))
  identity = record.data or {}
  n_inputs = identity.get("n_inputs")
  if n_inputs is not None and features.shape[1] != n_inputs:
    raise DataError(f"{path} holds {features.shape[1]} features per example, expected "
                    f"{n_inputs} (the run's inputs).")
  if labels_required and labels is None:
    raise DataError(f"{path} holds no labels (a CSV needs a 'label' column or "
                    "--label-column; an .npz a y or y_test array).")
  indices = None
  if labels_required:
    features, indices = _as_classes(record, path, features, labels)
  scaling = scaling_of(record)
  if scaling is None:
    return np.asarray(features, np.float32), indices
  return scaling.prepare(features, scaled=scaled, where=os.fspath(path)), indices


def _as_classes(record, path, features, labels):
  """(features, class indices) of the rows whose labels are the run's classes."""
  classes = class_labels(record)
  indices, unknown = data.class_indices(labels, classes)
  if (record.data or {}).get("digits"):  # A task of some labels: the others are not.
    keep = ~unknown
    if not keep.any():
      raise DataError(f"{path} holds no examples of the run's classes "
                      f"{_listed(classes)}.")
    return features[keep], indices[keep]
  if unknown.any():
    row = int(np.flatnonzero(unknown)[0])
    others = np.unique(labels[unknown]).tolist()
    raise DataError(f"{path}, row {row}: the label {labels[row].item()!r} is none of "
                    f"the run's classes ({_listed(classes)}); {len(others)} unknown "
                    f"label(s): {_listed(others)}.")
  return features, indices

