"""A run's data as the run saw it: reload, split, scale, label.

A run's record (`checkpoints.RunRecord.data`) names the data it trained on: the loader's
identity (source, format, split sizes and seed, scaling) plus, for a transfer run, the
digits it kept. This module owns turning that record back into arrays, for resuming,
evaluating, predicting, exporting and transferring:

    train, validation, test = reload_splits(record)    # checked against its digests
    X, y = load_examples(record, "new.csv")            # a file, scaled as the run was

Features are scaled as the run's were: a standardized run's (mean, std) comes from
`record.data["standardization"]` where stored, else from the training split of its
source, reloaded and checked against the record's digests. Labels are kept or relabelled
as the run's were (a run on digits 5-9 calls them classes 0-4).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from dnn_toolkit.checkpoints import RunRecord
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import files, mnist
from dnn_toolkit.errors import DataError

STANDARDIZE = "standardize"


def class_digits(record) -> Sequence[int] | None:
  """The original labels a run's classes 0..k-1 stand for (a digits run), or None."""
  digits = (record.data or {}).get("digits")
  return list(digits) if digits else None


def select_digits(dataset, digits):
  """Keeps the examples of `digits` and relabels them 0..len(digits)-1, in order."""
  kept = data.filter_digits(dataset, digits)
  return data.relabel(kept, {d: i for i, d in enumerate(digits)})


def task_splits(loaded, digits=None, per_class=None, seed=0):
  """The (train, validation, test) `DataSet`s of a task drawn from loaded data.

  The one recipe of the transfer command's `--digits` and `--per-class`, so that a run
  of it can be reloaded exactly.

  Args:
    loaded: a `data.Datasets`.
    digits: optional labels to keep, relabelled 0..len(digits)-1 in every split.
    per_class: optional positive int: that many training examples of each class, a
      draw seeded by `seed`.
    seed: the draw's seed.

  Raises:
    ValueError: a split holds none of `digits`, or a class too few examples.
  """
  splits = list(loaded)
  if digits:
    splits = [select_digits(split, digits) for split in splits]
    for name, split in zip(("train", "validation", "test"), splits):
      if not len(split.labels):
        raise ValueError(f"argument --digits: the {name} split holds no examples of "
                         f"the labels {list(digits)}.")
  if per_class:
    splits[0] = data.sample_per_class(splits[0], per_class, seed=seed)
  return tuple(splits)


def reload_source(identity: dict | None):
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
    kwargs = {"validation_size": identity.get("validation_size"),
              "standardize": STANDARDIZE in (identity.get("scaling") or ""),
              "verify": identity.get("format") != "mnist-format"}
    if identity.get("format") in ("npz", "csv"):
      kwargs.update(test_size=identity.get("test_size"),
                    seed=identity.get("split_seed", 0),
                    label_column=identity.get("label_column"))
    loaded = files.load_arrays(source, **kwargs)
  splits = task_splits(loaded, identity.get("digits"), identity.get("per_class"),
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


def record_test_split(record):
  """The test split of the data the run trained on (digits selected as the run's).

  Returns:
    (images float32 [n, n_inputs], labels int64 [n], a description of the source).

  Raises:
    DataError: the source is gone or changed, or its test split is empty.
  """
  _, (_, _, test) = reload_source(record.data)
  source = (record.data or {}).get("source")
  source = "MNIST" if source in (None, "auto") else source
  if not len(test.labels):
    raise DataError(f"The run's data source {source} has no test examples; pass the "
                    "data to evaluate with --data.")
  return test.images, test.labels, f"{source} (test split)"


def standardization(record) -> tuple[np.ndarray, np.ndarray] | None:
  """The (mean, std) float32 [n_inputs] a run standardized with, or None if it did not.

  Read from `record.data["standardization"]` ({"mean": [...], "std": [...]}) when the
  record holds it; else recomputed from the training split of the run's source, which
  `reload_source` checks against the record's digest.
  """
  identity = record.data or {}
  if STANDARDIZE not in (identity.get("scaling") or ""):
    return None
  stored = identity.get("standardization")
  if stored:
    return (np.asarray(stored["mean"], np.float32), np.asarray(stored["std"], np.float32))
  mean, std = reload_source(identity)[0].standardization
  return mean, std


def standardization_json(pair) -> dict | None:
  """(mean, std) arrays as the record stores them: {"mean": [...], "std": [...]}."""
  if pair is None:
    return None
  return {"mean": np.asarray(pair[0]).tolist(), "std": np.asarray(pair[1]).tolist()}


def load_examples(record, path, *, label_column=None, labels_required=False):
  """Reads a data file to run a run's net on: scaled and labelled as the run's data.

  Args:
    record: the run's `RunRecord`.
    path: a data file (`datasets.load_features` formats).
    label_column: CSV only, as in `datasets.load_features`.
    labels_required: raise unless the file holds labels (to evaluate on); else any
      labels are ignored and every row is returned (to predict on).

  Returns:
    (features float32 [n, n_inputs], labels int64 [n] or None). With labels, a
    digits run's rows of other labels are left out and the rest relabelled.

  Raises:
    DataError, ValueError: unreadable file, no labels where required, a width other
      than the run's n_inputs, labels outside the run's classes.
  """
  features, labels = files.load_features(path, label_column=label_column)
  n_inputs = (record.data or {}).get("n_inputs")
  if n_inputs is not None and features.shape[1] != n_inputs:
    raise DataError(f"{path} holds {features.shape[1]} features per example, expected "
                    f"{n_inputs} (the run's n_inputs).")
  if labels_required and labels is None:
    raise DataError(f"{path} holds no labels (a CSV needs a 'label' column or "
                    "--label-column; an .npz a y or y_test array).")
  if not labels_required:
    labels = None  # To predict on: every row counts, whatever its label.
  digits = class_digits(record)
  if digits and labels is not None:
    features, labels = select_digits((features, labels), digits)
    if not len(labels):
      raise DataError(f"{path} holds no examples of the run's digits {digits}.")
  n_classes = record.config.n_outputs
  if labels is not None and len(labels) and labels.max() >= n_classes:
    row = int(np.argmax(labels >= n_classes))
    raise DataError(f"{path}, row {row}: the label is {int(labels[row])}, expected a "
                    f"class below {n_classes} (the run's n_outputs).")
  pair = standardization(record)
  if pair is not None:
    features = data.standardize(features, *pair)
  return features, labels
