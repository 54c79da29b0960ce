"""Tests of dnn_toolkit.data.arrays: the split types, their identity, subsets and batches.

The loaders have their own files: tests/test_mnist.py (MNIST's sources, cache and
verification) and tests/test_datasets.py (a user's .npz and CSV files).
"""

import hashlib

import numpy as np
import pytest

from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import scaling
from dnn_toolkit.data.scaling import Scaling

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
    ((), ValueError), ([-1], ValueError), ("01", TypeError),
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


# ----------------------------------------------------------------------- identity


def test_make_datasets_states_the_identity_and_the_splits_keep_it():
  train = data.DataSet(np.zeros((8, 5), np.float32), np.array([0, 1, 2, 0, 1, 2, 0, 1]))
  validation = data.DataSet(np.zeros((2, 5), np.float32), np.array([3, 0]))
  test = data.DataSet(np.zeros((0, 5), np.float32), np.zeros(0, np.int64))
  datasets = data.make_datasets(train, validation, test, source="/d/x.npz",
                                data_format="npz", sha256="ab", validation_size=2,
                                scaling=Scaling(), split_seed=4)
  assert datasets.identity == {
      "source": "/d/x.npz", "format": "npz", "sha256": "ab", "n_train": 8,
      "n_validation": 2, "n_test": 0, "validation_size": 2, "scaling": "none",
      "n_inputs": 5, "n_outputs": 4, "classes": [0, 1, 2, 3], "split_seed": 4}
  assert list(datasets) == [train, validation, test]
  assert datasets._replace(test=validation).identity is datasets.identity
  stated = data.make_datasets(train, validation, test, source="s", data_format="npz",
                              sha256="ab", validation_size=2, scaling=Scaling(255),
                              classes=list(range(10)))
  assert stated.n_outputs == 10 and stated.identity["scaling"] == "divide by 255"
  # Scaled images say so by their type, through slices and selections.
  assert stated.train.images.scaling == Scaling(255)
  assert stated.train.images[2:5].scaling == Scaling(255)
  assert data.filter_digits(stated.train, [1]).images.scaling == Scaling(255)
  by_hand = data.Datasets(train, validation, test)
  assert by_hand.identity is None and by_hand.standardization is None
  assert (by_hand.n_inputs, by_hand.n_outputs) == (5, 4)  # derived from the arrays


def test_combined_sha256_is_the_digest_of_the_named_digests():
  arrays = {"x": np.arange(6, dtype=np.float32), "y": np.array([1, 0], np.int64)}
  digests = {name: data.array_sha256(a) for name, a in arrays.items()}
  assert digests["x"] == hashlib.sha256(arrays["x"].tobytes()).hexdigest()
  expected = hashlib.sha256(
      f"x {digests['x']}\ny {digests['y']}\n".encode()).hexdigest()
  assert data.combined_sha256(digests) == expected
  swapped = {"y": digests["y"], "x": digests["x"]}
  assert data.combined_sha256(swapped) != expected  # the order is part of it
  strided = np.arange(12, dtype=np.float32)[::2]
  assert data.array_sha256(strided) == hashlib.sha256(strided.tobytes()).hexdigest()


def test_standardize_matches_numpy():
  x = np.array([[1.0, 10.0], [3.0, 30.0]])
  mean, std = np.float32([2, 20]), np.float32([1, 10])
  out = scaling.standardize(x, mean, std)
  assert out.dtype == np.float32
  np.testing.assert_array_equal(out, [[-1, -1], [1, 1]])


def test_split_permutation_is_seeded_pinned_and_apart_from_the_batches():
  order = data.split_permutation(10, 0)
  assert order.dtype == np.int64
  assert order.tolist() == [0, 4, 6, 3, 9, 5, 7, 1, 8, 2]
  np.testing.assert_array_equal(order, data.split_permutation(10, 0))
  assert not np.array_equal(order, data.split_permutation(10, 1))
  assert not np.array_equal(order, data.epoch_permutation(10, 0, 0))


@pytest.mark.parametrize("kwargs,error", [
    ({"n": -1}, ValueError), ({"seed": None}, TypeError), ({"seed": True}, TypeError),
    ({"n": 2.0}, TypeError)])
def test_split_permutation_bad_arguments(kwargs, error):
  arguments = dict({"n": 5, "seed": 0}, **kwargs)
  with pytest.raises(error, match=next(iter(kwargs))):
    data.split_permutation(**arguments)
