"""TF 1.x's tutorial MNIST reader, `input_data.read_data_sets`, answered offline.

TF 1.x courses start with

    from tensorflow.examples.tutorials.mnist import input_data
    mnist = input_data.read_data_sets("MNIST_data/", one_hot=True)
    X_batch, y_batch = mnist.train.next_batch(50)

This gives the same splits, dtypes, shapes and batches as TF 1.x's reader (including
its habit of seeding NumPy's global random generator when a `DataSet` is made, which
fixes the order of `next_batch` for a given `seed`), but reads the four IDX files from
`train_dir` only when they are there, and otherwise the toolkit's offline MNIST; it
never downloads.
"""

import collections
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.data import mnist as _toolkit_mnist
from dnn_toolkit.tf1 import _mnist

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])
Datasets.__doc__ = """The three splits of `read_data_sets`, each a `DataSet`."""


def dense_to_one_hot(labels_dense: np.ndarray, num_classes: int) -> np.ndarray:
  """Returns float64 one-hot rows `[num_labels, num_classes]` of integer labels."""
  labels_dense = np.asarray(labels_dense)
  one_hot = np.zeros((labels_dense.shape[0], num_classes))
  one_hot[np.arange(labels_dense.shape[0]), labels_dense.ravel()] = 1
  return one_hot


def _check_dtype(dtype):
  dtype = tf.as_dtype(dtype).base_dtype
  if dtype not in (tf.uint8, tf.float32):
    raise TypeError(f"Invalid image dtype {dtype!r}, expected uint8 or float32. "
                    f"Received: dtype={dtype.name}")
  return dtype


class DataSet:
  """One split, with TF 1.x's epoch-wise shuffled `next_batch`.

  Attributes:
    images: float32 [n, 784] in [0, 1] (uint8 in [0, 255] with `dtype=tf.uint8`;
      [n, 28, 28, 1] with `reshape=False`).
    labels: uint8 [n] digits, or float64 [n, 10] one-hot rows.
    num_examples: n.
    epochs_completed: how many times `next_batch` went through the whole split.
  """

  def __init__(self, images: np.ndarray, labels: np.ndarray,
               fake_data: bool = False, one_hot: bool = False,
               dtype: tf.DType = tf.float32, reshape: bool = True,
               seed: int | None = None) -> None:
    """Makes a split of uint8 `images` [n, 28, 28, 1] and `labels`; see the class."""
    seed1, seed2 = tf.compat.v1.get_seed(seed)
    # TF 1.x seeded NumPy's global generator here; next_batch's order depends on it.
    np.random.seed(seed1 if seed is None else seed2)
    dtype = _check_dtype(dtype)
    self.one_hot = one_hot
    if fake_data:
      self._num_examples = 10000
    else:
      if images.shape[0] != labels.shape[0]:
        raise ValueError(f"images and labels differ in length: images.shape="
                         f"{images.shape}, labels.shape={labels.shape}")
      self._num_examples = images.shape[0]
      if reshape:
        images = images.reshape(images.shape[0], images.shape[1] * images.shape[2])
      if dtype == tf.float32:
        images = np.multiply(images.astype(np.float32), 1.0 / 255.0)  # [0, 1]
    self._images = images
    self._labels = labels
    self._epochs_completed = 0
    self._index_in_epoch = 0

  @property
  def images(self) -> np.ndarray:
    return self._images

  @property
  def labels(self) -> np.ndarray:
    return self._labels

  @property
  def num_examples(self) -> int:
    return self._num_examples

  @property
  def epochs_completed(self) -> int:
    return self._epochs_completed

  def next_batch(self, batch_size: int, fake_data: bool = False, shuffle: bool = True
                 ) -> tuple[np.ndarray, np.ndarray] | tuple[list[Any], list[Any]]:
    """Returns the next `(images, labels)` batch, as TF 1.x did.

    The split is shuffled before the first batch and at the end of each epoch; a
    batch that crosses the end of an epoch is the rest of the old order followed by
    the start of the new one.

    Args:
      batch_size: positive int.
      fake_data: return `batch_size` copies of a fake image and label.
      shuffle: shuffle at each epoch. Default True.

    Returns:
      `(images [batch_size, ...], labels [batch_size, ...])`.

    Raises:
      TypeError: if `batch_size` is not an int. ValueError: if it is not positive.
    """
    batch_size = _validation.check_positive_int("batch_size", batch_size)
    if fake_data:
      fake_label = [1] + [0] * 9 if self.one_hot else 0
      return [[1] * 784] * batch_size, [fake_label] * batch_size
    start = self._index_in_epoch
    if self._epochs_completed == 0 and start == 0 and shuffle:
      self._shuffle()
    if start + batch_size <= self._num_examples:
      self._index_in_epoch += batch_size
      return (self._images[start:self._index_in_epoch],
              self._labels[start:self._index_in_epoch])
    self._epochs_completed += 1
    images_rest = self._images[start:self._num_examples]
    labels_rest = self._labels[start:self._num_examples]
    if shuffle:
      self._shuffle()
    self._index_in_epoch = batch_size - (self._num_examples - start)
    end = self._index_in_epoch
    return (np.concatenate((images_rest, self._images[:end]), axis=0),
            np.concatenate((labels_rest, self._labels[:end]), axis=0))

  def _shuffle(self):
    order = np.arange(self._num_examples)
    np.random.shuffle(order)
    self._images = self._images[order]
    self._labels = self._labels[order]


def read_data_sets(train_dir: str | None, fake_data: bool = False, one_hot: bool = False,
                   dtype: tf.DType = tf.float32, reshape: bool = True,
                   validation_size: int = 5000, seed: int | None = None,
                   source_url: str | None = None) -> Datasets:
  """Returns MNIST's train / validation / test splits as TF 1.x's reader did.

  The validation set is the first `validation_size` official training images, the
  training set the rest (55,000 by default), the test set the official 10,000.

  Args:
    train_dir: a directory; its four IDX files (raw or .gz) are read when it holds
      them, otherwise the toolkit's offline MNIST. Nothing is written there.
    fake_data: splits of 10,000 fake examples, for tests.
    one_hot: labels as float64 one-hot rows [n, 10] instead of uint8 digits.
    dtype: tf.float32 (images scaled to [0, 1], default) or tf.uint8 ([0, 255]).
    reshape: images as [n, 784] (default) rather than [n, 28, 28, 1].
    validation_size: int in [0, 60000]. Default 5000.
    seed: optional int; with it (or a graph seed, `tf.set_random_seed`) the order of
      `next_batch` is reproducible.
    source_url: accepted for TF 1.x code and ignored: nothing is downloaded.

  Returns:
    `Datasets(train, validation, test)`, each a `DataSet`.

  Raises:
    TypeError: if `dtype` is not uint8 or float32, or `validation_size` not an int.
    ValueError: if `validation_size` is outside [0, 60000].
    DataNotFoundError: no offline source holds MNIST; the message says how to fix it.
  """
  del source_url  # Nothing is downloaded.
  dtype = _check_dtype(dtype)
  if fake_data:
    # A fake split has no arrays; `[]` stands in for them.
    fake = lambda: DataSet(
        [], [], fake_data=True, one_hot=one_hot, dtype=dtype,  # type: ignore[arg-type]
        seed=seed)
    return Datasets(train=fake(), validation=fake(), test=fake())
  validation_size = _validation.check_non_negative_int("validation_size",
                                                       validation_size)
  if validation_size > _toolkit_mnist.NUM_TRAIN:
    raise ValueError("Validation size should be between 0 and "
                     f"{_toolkit_mnist.NUM_TRAIN}. Received: "
                     f"validation_size={validation_size}")
  (train_images, train_labels), (test_images, test_labels) = _mnist.load_uint8(
      train_dir)
  if validation_size > len(train_images):  # A train_dir with a smaller data set.
    raise ValueError(f"Validation size should be between 0 and {len(train_images)}. "
                     f"Received: validation_size={validation_size}")
  if one_hot:
    train_labels = dense_to_one_hot(train_labels, 10)
    test_labels = dense_to_one_hot(test_labels, 10)
  train_images = train_images[..., None]  # [60000, 28, 28, 1], as TF 1.x read it
  test_images = test_images[..., None]
  options = dict(dtype=dtype, reshape=reshape, seed=seed)
  return Datasets(
      train=DataSet(train_images[validation_size:], train_labels[validation_size:],
                    **options),
      validation=DataSet(train_images[:validation_size],
                         train_labels[:validation_size], **options),
      test=DataSet(test_images, test_labels, **options))
