"""Data sets as arrays: the split types, their identity, subsets and seeded batches.

This module owns what every data set becomes once loaded, whatever its source:
`DataSet` (features and labels of one split), `Datasets` (train / validation / test and
the JSON-ready `identity` a run record stores), the digests behind that identity, and
the pure-NumPy helpers (`filter_digits`, `sample_per_class`, `relabel`,
`epoch_permutation`, `minibatch_indices`, `iterate_minibatches`), which need no
TensorFlow. The loaders live above it: `dnn_toolkit.data.mnist` (MNIST and Fashion-MNIST:
sources, verification, cache) and `dnn_toolkit.data.files` (a user's .npz or CSV, and the
dispatcher `load_arrays`). This module imports neither.

Example:
  datasets = mnist.load_mnist()               # train 55000, validation 5000, test 10000
  first_five = filter_digits(datasets.train, (0, 1, 2, 3, 4))
  few = relabel(sample_per_class(filter_digits(datasets.train, range(5, 10)), 100,
                                 seed=0), -5)  # 500 examples of 5-9, labelled 0-4
  for epoch in range(10):
    for images, labels in iterate_minibatches(*datasets.train, 50, seed=42,
                                              epoch=epoch):
      sess.run(train_op, {x: images, y: labels})
"""

import collections
import collections.abc
import hashlib
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast, overload

import numpy as np
import numpy.typing as npt

from dnn_toolkit._validation import (
  check_int,
  check_non_negative_int,
  check_optional_seed,
  check_positive_int,
)
from dnn_toolkit.data import scaling as scaling_lib

# Tags that keep the random streams of shuffling, sampling and splitting apart for one
# seed.
_BATCH_STREAM = 0
_SAMPLE_STREAM = 1
_SPLIT_STREAM = 2

class DataSet(collections.namedtuple("DataSet", ["images", "labels"])):
  """One split of a data set: parallel arrays of features and labels.

  Fields:
    images: float32 [num_examples, n_inputs], one row per example. For MNIST the 784
      pixels of a 28x28 image in [0, 1]; for a user's data its features, as scaled
      by the loader (see `Datasets.identity["scaling"]`). `load_mnist(compact=True)`
      gives a `ScaledImages` instead, uint8 pixels read as those float32 values.
    labels: int64 [num_examples], classes 0 .. n_outputs - 1 (digits 0-9 for MNIST,
      or what `relabel` made of them).

  Unpacks as a pair: `images, labels = datasets.train`.
  """
  __slots__ = ()

  @property
  def num_examples(self) -> int:
    """The number of examples, `len(labels)`."""
    return len(self.labels)


class ScaledImages(np.lib.mixins.NDArrayOperatorsMixin):
  """uint8 pixels that read as float32 `pixels / scale`: a quarter of float32's memory.

  MNIST's 55,000 training images take 172 MB as float32 and 43 MB as uint8. This keeps
  the uint8 array and converts on access, with NumPy's own float32 division, so every
  value read is the float32 array's value bit for bit:

      images = ScaledImages(pixels)       # pixels: uint8 [n, 784]
      images[idx]                         # float32 [len(idx), 784], pixels[idx] / 255
      np.asarray(images)                  # float32 [n, 784], converted in full

  Indexing, `len`, `shape`, `dtype` (float32), arithmetic and NumPy functions work as
  on the float32 array (the latter two convert it in full). `training.fit` recognises
  it: its in-graph training set stays uint8, scaled in the graph, and fed batches are
  converted one batch at a time. Its `scaling` says how its values were made, so a
  run given it (`Scaling.prepare`) takes it as scaled; values read from it are
  `scaling.ScaledArray`s that say the same.

  Args:
    pixels: uint8 array `[n, ...]`.
    scale: the positive number the pixels are divided by. Default 255.

  Raises:
    TypeError: `pixels` is not a uint8 array.
    ValueError: `scale` is not positive.
  """

  dtype = np.dtype(np.float32)

  def __init__(self, pixels: np.ndarray, scale: float = 255) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
      raise TypeError("Expected `pixels` to be a uint8 array. Received: "
                      f"{type(pixels).__name__} of dtype "
                      f"{getattr(pixels, 'dtype', None)}")
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or scale <= 0:
      raise ValueError("Received an invalid value for `scale`, expected a positive "
                       f"number. Received: scale={scale!r}")
    self.pixels: np.ndarray = pixels
    self.scale: float = scale

  @property
  def shape(self) -> tuple[int, ...]:
    return self.pixels.shape

  @property
  def ndim(self) -> int:
    return self.pixels.ndim

  @property
  def size(self) -> int:
    return self.pixels.size

  def __len__(self):
    return len(self.pixels)

  def __repr__(self):
    return f"ScaledImages(shape={self.shape}, scale={self.scale})"

  @property
  def scaling(self) -> scaling_lib.Scaling:
    """The `scaling.Scaling` its values were made with: a division by `scale`."""
    return scaling_lib.Scaling(divide_by=self.scale)

  def _scaled(self, pixels):
    return scaling_lib.divide(pixels, self.scale)

  def take(self, index: Any) -> "ScaledImages":
    """The images `pixels[index]`, still compact (a new `ScaledImages`)."""
    return ScaledImages(self.pixels[index], self.scale)

  def __getitem__(self, index):
    """Returns the float32 values of `pixels[index]` (a new, marked array)."""
    return self.scaling.mark(self._scaled(self.pixels[index]))

  def __iter__(self):
    return (self._scaled(row) for row in self.pixels)

  def __array__(self, dtype=None, copy=None):
    del copy  # Always a new array.
    values = self._scaled(self.pixels)
    return values if dtype is None else values.astype(dtype, copy=False)

  def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    inputs = [np.asarray(x) if isinstance(x, ScaledImages) else x for x in inputs]
    return getattr(ufunc, method)(*inputs, **kwargs)

  def astype(self, dtype: npt.DTypeLike, copy: bool = True) -> np.ndarray:
    del copy  # Always a new array.
    return np.asarray(self, dtype=dtype)

  def __getattr__(self, name):
    # The rest of ndarray's methods (mean, max, reshape, ...) on the float32 values.
    if name.startswith("_") or not hasattr(np.ndarray, name):
      raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    return getattr(np.asarray(self), name)


class Datasets(collections.namedtuple("Datasets", ["train", "validation", "test"])):
  """The three splits a loader returns, each a `DataSet`, and the data's identity.

  Unpacks and iterates as the three splits: `train, validation, test = datasets`.

  Attributes:
    identity: a JSON-ready dict that names the data exactly, so a run record can
      refuse to resume on other data; None when the splits were put together by hand.
      Keys (all loaders):
        source: the absolute path the user named, or "auto" for MNIST found by
          `load_mnist` in its automatic sources (all verified to the same digests).
        format: "mnist", "fashion-mnist" (verified by their digests),
          "mnist-format" (MNIST's file layout, not verified), "npz" or "csv".
        sha256: hex digest of the decoded arrays as read, before splitting and
          scaling (`combined_sha256` of the per-array digests the loader computed).
        n_train, n_validation, n_test: examples in each split.
        validation_size: the validation size as resolved (a count, or for a user's
          file possibly a fraction of its rows).
        scaling: "divide by 255" (MNIST's pixels), "none" (features as given),
          "standardize" (train mean and std), or "divide by 255, then
          standardize" (`scaling.Scaling.description`); a standardized one also
          keeps standardization: {"mean": [...], "std": [...]}.
        n_inputs, n_outputs: features per example and number of classes.
        classes: the labels of classes 0 .. n_outputs-1 as the data holds them
          (integers, or names such as "setosa"): the label map.
      Keys of a user's .npz or CSV only: test_size (as resolved; None when the file
      has its own test split), split_seed (the seed of the shuffled split), and for a
      CSV label_column (its name, or its index in a file without a header).
    scaling: the `scaling.Scaling` that made the features from the data's raw
      values (apply it to new raw data with `scaling.apply`), or None.
  """

  identity: dict[str, Any] | None
  scaling: scaling_lib.Scaling | None

  def __new__(cls, train, validation, test, identity=None, scaling=None):
    self = super().__new__(cls, train, validation, test)
    self.identity = identity
    self.scaling = scaling
    return self

  def _replace(self, **changes):
    return Datasets(**dict(zip(self._fields, self), identity=self.identity,
                           scaling=self.scaling, **changes))

  @property
  def standardization(self) -> tuple[np.ndarray, np.ndarray] | None:
    """The (mean, std) float32 `[n_inputs]` of a standardized `scaling`, or None."""
    if self.scaling is None or not self.scaling.standardized:
      return None
    # `standardized` means both are set.
    return cast("tuple[np.ndarray, np.ndarray]", (self.scaling.mean, self.scaling.std))

  @property
  def classes(self) -> list[Any]:
    """The labels of classes 0 .. n_outputs-1 as the data holds them (the label
    map), from `identity["classes"]`; else 0 .. n_outputs-1."""
    if self.identity is not None and self.identity.get("classes") is not None:
      return list(self.identity["classes"])
    return list(range(self.n_outputs))

  @property
  def n_inputs(self) -> int:
    """Features per example: `identity["n_inputs"]`, else the width of the splits."""
    if self.identity is not None:
      return self.identity["n_inputs"]
    return _n_inputs(self)

  @property
  def n_outputs(self) -> int:
    """Number of classes: `identity["n_outputs"]`, else the largest label + 1."""
    if self.identity is not None:
      return self.identity["n_outputs"]
    return _n_outputs(self)


def _n_inputs(splits):
  widths = {int(np.prod(s.images.shape[1:], dtype=np.int64)) for s in splits}
  return max(widths) if widths else 0


def _n_outputs(splits):
  return max((int(s.labels.max()) + 1 for s in splits if s.num_examples), default=0)


def make_datasets(train: DataSet, validation: DataSet, test: DataSet, *, source: str,
                  data_format: str, sha256: str, validation_size: float,
                  scaling: scaling_lib.Scaling, classes: Iterable[Any] | None = None,
                  **details: Any) -> Datasets:
  """Returns `Datasets(train, validation, test)` with its `identity`: the one builder.

  Every loader ends here, so the identity has the same keys whatever the source.

  Args:
    train, validation, test: `DataSet`s, their images scaled by `scaling` (marked
      here as such: `scaling.ScaledArray`, or compact `ScaledImages` as they are).
    source, data_format, sha256, validation_size: identity entries (see `Datasets`;
      `data_format` is stored as "format").
    scaling: the `scaling.Scaling` the images were made with.
    classes: the labels of classes 0..k-1 as the data holds them; default
      0 .. the largest label present.
    **details: further JSON-ready identity entries (test_size, label_column, ...).

  Returns:
    A `Datasets`.
  """
  splits = [DataSet(images if isinstance(images, ScaledImages) or scaling.is_identity
                    else scaling.mark(images), labels)
            for images, labels in (train, validation, test)]
  classes = list(range(_n_outputs(splits))) if classes is None else list(classes)
  identity = {
      "source": source, "format": data_format, "sha256": sha256,
      "n_train": train.num_examples, "n_validation": validation.num_examples,
      "n_test": test.num_examples, "validation_size": validation_size,
      **scaling.to_identity(), "n_inputs": _n_inputs(splits),
      "n_outputs": len(classes), "classes": classes,
  }
  identity.update(details)
  return Datasets(splits[0], splits[1], splits[2], identity=identity, scaling=scaling)


def array_sha256(array: npt.ArrayLike) -> str:
  """Hex SHA-256 of an array's bytes in C order (for uint8, the plain payload)."""
  return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def combined_sha256(digests: Mapping[str, str]) -> str:
  """One hex SHA-256 for a data set from its per-array digests.

  Args:
    digests: an ordered mapping {name: hex digest}, e.g. {"train_images": ..., ...}.

  Returns:
    The SHA-256 of the lines "name digest", in order: a change of any array changes it.
  """
  text = "".join(f"{name} {digest}\n" for name, digest in digests.items())
  return hashlib.sha256(text.encode("ascii")).hexdigest()


def split_permutation(n: int, seed: int) -> np.ndarray:
  """The seeded order in which a loader splits `n` rows into test / validation / train.

  Raises:
    TypeError, ValueError: `n` or `seed` is not an integer >= 0.
  """
  n = check_non_negative_int("n", n)
  seed = check_non_negative_int("seed", seed)
  return _permutation(n, [seed, _SPLIT_STREAM]).astype(np.int64, copy=False)


# -------------------------------------------------------------------- subset helpers


def _check_dataset(dataset, name="dataset"):
  """Returns (images, labels) arrays of a DataSet or pair, checking they line up."""
  if not (isinstance(dataset, tuple) and len(dataset) == 2):
    raise TypeError(f"Expected `{name}` to be a DataSet or an (images, labels) pair, "
                    f"got type {type(dataset).__name__}.")
  return _check_images_labels(*dataset)


def _check_labels(labels):
  labels = np.asarray(labels)
  if labels.ndim != 1 or labels.dtype.kind not in "iu":
    raise ValueError(f"Received invalid `labels`, expected a 1-D integer array. "
                     f"Received: labels of shape {labels.shape} and dtype {labels.dtype}")
  return labels


def _check_images_labels(images, labels):
  # Compact and marked images keep their type (`take` keeps it through a selection).
  if not isinstance(images, ScaledImages):
    images = np.asanyarray(images)
  labels = _check_labels(labels)
  if images.ndim == 0 or len(images) != len(labels):
    raise ValueError(f"Received `images` and `labels` of different lengths, expected "
                     f"one label per image. Received: images of shape {images.shape}, "
                     f"labels of shape {labels.shape}")
  return images, labels


def _check_digits(digits):
  if isinstance(digits, (str, bytes)) or not isinstance(digits, collections.abc.Iterable):
    raise TypeError(f"Expected `digits` to be an iterable of integers, got type "
                    f"{type(digits).__name__}. Received: digits={digits!r}")
  digits = [check_int("digits", d) for d in digits]
  if not digits or min(digits) < 0:
    raise ValueError(f"Received an invalid value for `digits`, expected one or more "
                     f"labels >= 0 (MNIST's digits 0-9). Received: digits={digits!r}")
  return sorted(set(digits))


def filter_digits(dataset: DataSet | tuple[Any, Any],
                  digits: Iterable[int] = (0, 1, 2, 3, 4)) -> DataSet:
  """Keeps only the examples whose label is one of `digits`, in their original order.

  Args:
    dataset: a DataSet, or an (images [n, ...], labels [n]) pair.
    digits: the labels to keep, integers >= 0 (MNIST's digits 0-9). Default
      (0, 1, 2, 3, 4).

  Returns:
    A DataSet with images [m, ...] and labels [m], m <= n; labels are unchanged.

  Raises:
    TypeError: `dataset` is not a pair, or `digits` is not an iterable of integers.
    ValueError: `digits` is empty or negative; images and labels differ in length.
  """
  images, labels = _check_dataset(dataset)
  keep = np.flatnonzero(np.isin(labels, _check_digits(digits)))
  return DataSet(take(images, keep), labels[keep])


def take(images: np.ndarray | ScaledImages, index: Any) -> np.ndarray | ScaledImages:
  """`images[index]` of the rows `index`, keeping compact images compact and marked
  (`scaling.ScaledArray`) images marked."""
  if isinstance(images, ScaledImages):
    return images.take(index)
  return images[index]


def _class_counts_text(classes, counts):
  return ", ".join(f"{c}: {n}" for c, n in zip(classes.tolist(), counts.tolist()))


def sample_per_class(dataset: DataSet | tuple[Any, Any], n_per_class: int,
                     seed: int | None = None) -> DataSet:
  """Draws `n_per_class` examples of each label present, without replacement.

  The draw depends only on `seed` and the labels; the examples keep their original
  order (shuffle them with `iterate_minibatches`).

  Args:
    dataset: a DataSet, or an (images [n, ...], labels [n]) pair.
    n_per_class: a positive integer, at most the size of the smallest class.
    seed: a non-negative integer for a reproducible draw, or None for a fresh one.

  Returns:
    A DataSet of n_per_class * num_classes examples.

  Raises:
    TypeError: `n_per_class` or `seed` is not an integer, or `dataset` not a pair.
    ValueError: `dataset` is empty, a class has fewer than `n_per_class` examples
      (named with every class's count), or `n_per_class` / `seed` is out of range.
  """
  images, labels = _check_dataset(dataset)
  n_per_class = check_positive_int("n_per_class", n_per_class)
  seed = check_optional_seed("seed", seed)
  classes, counts = np.unique(labels, return_counts=True)
  if not len(classes):
    raise ValueError("Received an empty `dataset`, expected at least one example.")
  short = counts < n_per_class
  if short.any():
    raise ValueError(
        f"Received an invalid value for `n_per_class`, expected at most "
        f"{counts.min()} (the size of the smallest class). Too few examples in class(es) "
        f"{_class_counts_text(classes[short], counts[short])}; all class counts: "
        f"{_class_counts_text(classes, counts)}. Received: n_per_class={n_per_class}")
  chosen = []
  for label in classes.tolist():
    members = np.flatnonzero(labels == label)
    entropy = None if seed is None else [seed, _SAMPLE_STREAM, label]
    chosen.append(members[_permutation(len(members), entropy)[:n_per_class]])
  keep = np.sort(np.concatenate(chosen))
  return DataSet(take(images, keep), labels[keep])


def _map_labels(labels, mapping):
  """Returns int64 labels with each label looked up in the dict `mapping`."""
  if not mapping:
    raise ValueError("Received an empty dict for `mapping`, expected one entry per "
                     "label. Received: mapping={}")
  keys = np.array(sorted(check_int("mapping key", k) for k in mapping), dtype=np.int64)
  values = np.array([check_int("mapping value", mapping[k]) for k in keys.tolist()],
                    dtype=np.int64)
  positions = np.minimum(np.searchsorted(keys, labels), len(keys) - 1)
  unmapped = keys[positions] != labels
  if unmapped.any():
    raise ValueError(f"Received a `mapping` that lacks label(s) "
                     f"{np.unique(labels[unmapped]).tolist()}, expected an entry for "
                     f"every label present. Received: mapping={mapping!r}")
  return values[positions]


@overload
def relabel(data: DataSet, mapping: dict[int, int] | int) -> DataSet: ...


@overload
def relabel(data: np.ndarray, mapping: dict[int, int] | int) -> np.ndarray: ...


def relabel(data: DataSet | np.ndarray,
            mapping: dict[int, int] | int) -> DataSet | np.ndarray:
  """Renames labels, e.g. digits 5-9 to 0-4 for a transfer-learning head of 5 classes.

  Args:
    data: a DataSet, or an integer labels array [n].
    mapping: a dict {old_label: new_label} with an entry for every label present, or an
      integer added to every label (`relabel(data, -5)` maps 5-9 to 0-4).

  Returns:
    Of the type of `data`: a DataSet with the same images and new int64 labels, or the
    new int64 labels [n].

  Raises:
    TypeError: `mapping` is neither a dict nor an integer, or has non-integer entries.
    ValueError: `mapping` misses a label present, or a new label would be negative.

  Example:
    >>> relabel(np.array([5, 9, 7]), -5)
    array([0, 4, 2])
  """
  if isinstance(data, DataSet):
    return DataSet(data.images, relabel(data.labels, mapping))
  labels = _check_labels(data)
  if isinstance(mapping, dict):
    new = _map_labels(labels.astype(np.int64), mapping)
  elif isinstance(mapping, (numbers.Integral, np.integer)) and not isinstance(mapping,
                                                                                bool):
    new = labels.astype(np.int64) + int(mapping)
  else:
    raise TypeError(f"Expected `mapping` to be a dict or an integer offset, got type "
                    f"{type(mapping).__name__}. Received: mapping={mapping!r}")
  if new.size and new.min() < 0:
    raise ValueError(f"Received a `mapping` that makes labels negative (down to "
                     f"{new.min()}), expected new labels >= 0. Received: "
                     f"mapping={mapping!r}")
  return new


# ------------------------------------------------------------------------ label maps


def label_classes(*label_arrays: Sequence[Any] | np.ndarray | None) -> list[Any]:
  """The label map of labels as a data set holds them: its classes, sorted.

  Integer labels 0 .. k-1, all present, map to themselves; any other labels (names
  such as "setosa", integers from 1, integers with gaps) map in sorted order: class i
  stands for the i-th smallest label.

  Args:
    *label_arrays: 1-D arrays of labels, integers or strings (each array all one
      kind); None entries are skipped.

  Returns:
    The list of distinct labels (Python ints or strs), sorted: class i is `[i]`.
  """
  present = [np.asarray(a) for a in label_arrays if a is not None and len(a)]
  if not present:
    return []
  return np.unique(np.concatenate(present)).tolist()


def classes_of(identity: Mapping[str, Any] | None, n_outputs: int) -> list[Any]:
  """The labels of classes 0..n_outputs-1 that a data identity (a run's record)
  names: its `classes`, else (a record from before label maps) its `digits`, else
  0 .. n_outputs-1."""
  identity = identity or {}
  for key in ("classes", "digits"):
    if identity.get(key):
      return list(identity[key])
  return list(range(n_outputs))


def class_indices(labels: npt.ArrayLike,
                  classes: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Each label's class: its position in `classes` (the inverse of `class_labels`).

  Args:
    labels: 1-D array of labels as the data holds them.
    classes: the label map (`label_classes`, or a run's `classes`).

  Returns:
    (int64 `[n]` class indices, bool `[n]` of the labels that are no class; their
    index is 0).
  """
  labels = np.asarray(labels)
  keys = np.asarray(classes)
  if labels.dtype.kind == "f" and keys.dtype.kind in "iu" and np.all(
      np.isfinite(labels) & (labels == np.round(labels))):
    labels = labels.astype(np.int64)  # 5.0 is the label 5
  if not len(keys) or labels.dtype.kind != keys.dtype.kind and not (
      labels.dtype.kind in "iu" and keys.dtype.kind in "iu"):
    return np.zeros(len(labels), np.int64), np.ones(len(labels), bool)
  order = np.argsort(keys, kind="stable")
  positions = np.minimum(np.searchsorted(keys[order], labels), len(keys) - 1)
  indices = order[positions].astype(np.int64)
  unknown = keys[indices] != labels
  indices[unknown] = 0
  return indices, unknown


def class_labels(indices: npt.ArrayLike,
                 classes: Sequence[Any] | np.ndarray) -> np.ndarray:
  """The labels as the data holds them of class indices: `classes[indices]`.

  Args:
    indices: int array `[n]` of classes 0..len(classes)-1.
    classes: the label map.

  Returns:
    `[n]`: int64 labels, or str labels for named classes.
  """
  table = np.asarray(classes)
  if table.dtype.kind in "iu":
    table = table.astype(np.int64)
  return table[np.asarray(indices, np.int64)]


# --------------------------------------------------------------------------- batches


def _permutation(n, entropy):
  """A permutation of range(n) from `entropy` (a list of ints, or None for fresh).

  Built from the raw PCG64 stream and a stable sort rather than Generator.permutation,
  whose algorithm NumPy may change between versions: a run resumed under another NumPy
  must see the same order.
  """
  keys = np.random.PCG64(np.random.SeedSequence(entropy)).random_raw(n)  # uint64 [n]
  return np.argsort(keys, kind="stable")


def epoch_permutation(n: int, seed: int | None, epoch: int) -> np.ndarray:
  """The order in which one epoch visits `n` examples, reproducible from (seed, epoch).

  Args:
    n: number of examples, a non-negative integer.
    seed: a non-negative integer, or None for an order that cannot be reproduced.
    epoch: the epoch number, a non-negative integer; each epoch has its own order.

  Returns:
    int64 [n], a permutation of range(n). Batch b of size s is `perm[b*s:(b+1)*s]`.

  Raises:
    TypeError: an argument is not an integer (bools rejected).
    ValueError: an argument is negative.
  """
  n = check_non_negative_int("n", n)
  seed = check_optional_seed("seed", seed)
  epoch = check_non_negative_int("epoch", epoch)
  entropy = None if seed is None else [seed, _BATCH_STREAM, epoch]
  return _permutation(n, entropy).astype(np.int64, copy=False)


def batches_per_epoch(num_examples: int, batch_size: int,
                      drop_remainder: bool = False) -> int:
  """The number of batches `iterate_minibatches` yields per epoch.

  Raises:
    TypeError, ValueError: `num_examples` is not an integer >= 0 or `batch_size` not a
      positive integer.
  """
  num_examples = check_non_negative_int("num_examples", num_examples)
  batch_size = check_positive_int("batch_size", batch_size)
  if drop_remainder:
    return num_examples // batch_size
  return -(-num_examples // batch_size)


def iterate_minibatches(images: np.ndarray | ScaledImages, labels: np.ndarray,
                        batch_size: int, seed: int | None = None, epoch: int = 0,
                        start_batch: int = 0, drop_remainder: bool = False
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """Yields the shuffled mini-batches of one epoch; every example appears exactly once.

  The order is `epoch_permutation(len(labels), seed, epoch)`, so a run resumed from
  (seed, epoch, start_batch) continues exactly where it stopped. Arguments are checked
  at the call, not at the first batch.

  Args:
    images: array [n, ...].
    labels: integer array [n].
    batch_size: a positive integer.
    seed: a non-negative integer, or None for an order that cannot be reproduced.
    epoch: the epoch number, a non-negative integer.
    start_batch: the index of the first batch to yield, to resume mid-epoch.
    drop_remainder: if True, skip the last n % batch_size examples of the epoch
      instead of yielding them as a smaller final batch.

  Returns:
    An iterator of (images [batch_size, ...], labels [batch_size]) copies; the last
    batch holds n % batch_size examples when that is not 0 and `drop_remainder` is False.

  Raises:
    TypeError: a count is not an integer (bools rejected).
    ValueError: images and labels differ in length, `batch_size` <= 0, or `seed`,
      `epoch` or `start_batch` is negative, or `start_batch` past the epoch's end.

  Example:
    for images, labels in iterate_minibatches(*data.train, 50, seed=1, epoch=epoch):
      sess.run(train_op, feed_dict={x: images, y: labels})
  """
  images, labels = _check_images_labels(images, labels)
  return ((images[index], labels[index]) for index in
          minibatch_indices(len(labels), batch_size, seed, epoch, start_batch,
                            drop_remainder))


def minibatch_indices(n: int, batch_size: int, seed: int | None = None, epoch: int = 0,
                      start_batch: int = 0, drop_remainder: bool = False
                      ) -> Iterator[np.ndarray]:
  """Yields the example indices of each mini-batch of one epoch: the one batching rule.

  Batch b of epoch e holds `epoch_permutation(n, seed, e)[b*batch_size:(b+1)*batch_size]`.
  Every loop over mini-batches in the package (training, pretraining,
  `iterate_minibatches`) draws its batches here, so they agree and resume exactly.

  Args:
    n: number of examples, a non-negative integer.
    batch_size: a positive integer.
    seed: a non-negative integer, or None for an order that cannot be reproduced.
    epoch: the epoch number, a non-negative integer.
    start_batch: the index of the first batch to yield, to resume mid-epoch.
    drop_remainder: if True, skip the last n % batch_size examples.

  Returns:
    An iterator of int64 index arrays `[batch_size]` (the last one shorter when n is
    not a multiple and `drop_remainder` is False).

  Raises:
    TypeError, ValueError: as `iterate_minibatches`, at the call.
  """
  num_batches = batches_per_epoch(n, batch_size, drop_remainder)
  start_batch = check_non_negative_int("start_batch", start_batch)
  if start_batch > num_batches:
    raise ValueError(f"Received an invalid value for `start_batch`, expected an integer "
                     f"in [0, {num_batches}] (batches in this epoch). "
                     f"Received: start_batch={start_batch}")
  order = epoch_permutation(n, seed, epoch)
  return (order[b * batch_size:(b + 1) * batch_size]
          for b in range(start_batch, num_batches))


def _pair(data: Any, name: str = "data") -> tuple[Any, Any]:
  """(images, labels) of a DataSet-like object or a pair, as they are (no conversion)."""
  if hasattr(data, "images") and hasattr(data, "labels"):
    return data.images, data.labels
  if isinstance(data, (tuple, list)) and len(data) == 2:
    return tuple(data)
  raise TypeError(f"Expected `{name}` to be a DataSet or an (images, labels) pair. "
                  f"Received: {name} of type {type(data).__name__}")


def as_arrays(name: str, data: Any) -> tuple[Any, np.ndarray]:
  """Returns (images, labels) of a DataSet-like object or an (images, labels) pair."""
  images, labels = _pair(data, name)
  labels = np.asarray(labels)
  if labels.dtype.kind == "f":
    fractional = labels[labels != np.round(labels)]
    if fractional.size:
      raise ValueError(f"Expected `{name}` labels to be class indices (integers). "
                       f"Received non-integer labels such as {fractional[0]}")
  labels = labels.astype(np.int64)
  if not isinstance(images, ScaledImages):  # Compact images stay uint8 until used.
    # The caller's float32 array itself, a subclass (the loaders' ScaledArray) too: a
    # training set held in the graph is then recognised on the next `fit`.
    images = np.asanyarray(images, np.float32)
  if images.ndim != 2 or labels.shape != (images.shape[0],):
    raise ValueError(f"Expected `{name}` images [n, n_inputs] and labels [n]. "
                     f"Received: images {images.shape}, labels {labels.shape}")
  return images, labels


_HASH_CHUNK = 4096  # examples hashed at a time


def data_identity(train_set: DataSet | tuple[np.ndarray, np.ndarray],
                  validation_set: DataSet | tuple[np.ndarray, np.ndarray],
                  source: dict[str, Any] | None = None) -> dict[str, Any]:
  """The identity of a run's data: sizes and SHA-256 digests of the arrays it sees.

  Args:
    train_set, validation_set: DataSets or (images `[n, n_inputs]`, labels `[n]`).
    source: optional JSON-ready dict describing where the data came from (e.g. a data
      loader's `identity`: source path, format, validation size); kept as it is.

  Returns:
    A JSON-ready dict: `source`'s fields plus 'n_train', 'n_validation', 'n_inputs',
    'train_sha256' and 'validation_sha256' (of the float32 images and int64 labels).
    Without a 'scaling' in `source`, the training images' own (a loader's
    `scaling.ScaledArray` or `ScaledImages` says it) is recorded, so a run given
    a loader's splits applies it to raw features later.
  """
  identity = dict(source or {})
  own = getattr(_pair(train_set)[0], "scaling", None)
  if "scaling" not in identity and isinstance(own, scaling_lib.Scaling):
    identity.update(own.to_identity())
  for name, part in (("train", train_set), ("validation", validation_set)):
    images, labels = as_arrays(name, part)
    digest = hashlib.sha256()
    # In chunks: compact (uint8) images are hashed as the float32 values they read as,
    # without a full float32 copy, so compact and float32 data have one identity.
    for start in range(0, len(labels), _HASH_CHUNK):
      digest.update(np.ascontiguousarray(images[start:start + _HASH_CHUNK],
                                         np.float32).data)
    digest.update(np.ascontiguousarray(labels).data)
    identity[f"n_{name}"] = int(len(labels))
    identity[f"{name}_sha256"] = digest.hexdigest()
    identity["n_inputs"] = int(images.shape[1])
  return identity
