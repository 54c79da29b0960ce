"""Tests of `dnn-toolkit predict` as a child process on a user's .npz and CSV.

The reference is the run loaded in this process (`runs.loading.load_run`) on features
standardized with the `Datasets.standardization` the run trained with.
"""

import shutil

import numpy as np
import pytest
from _cli_jobs import (
  N_CLASSES,
  assert_refused,
  cli,
  files_under,
  make_arrays,
  train_run,
  write_csv,
  write_npz,
)

from dnn_toolkit import checkpoints

from dnn_toolkit.runs import lifecycle, loading
from dnn_toolkit.data import scaling


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """(run_dir, Datasets) of a standardized run on an .npz."""
  root = tmp_path_factory.mktemp("predict")
  loaded = train_run(root / "run", write_npz(root / "data.npz"), standardize=True)
  return str(root / "run"), loaded


def _reference(run_dir, features, standardization):
  with loading.load_run(run_dir) as loaded:
    logits = loaded.sess.run(loaded.dnn.logits, {
        loaded.dnn.X: scaling.standardize(features, *standardization)})
  exp = np.exp(logits - logits.max(axis=1, keepdims=True))
  return exp / exp.sum(axis=1, keepdims=True)


def test_predict_npy_holds_classes_and_probabilities_of_the_standardized_run(run,
                                                                             tmp_path):
  run_dir, loaded = run
  path = write_npz(tmp_path / "new.npz", n=257, seed=3, with_labels=False)
  out = tmp_path / "predictions.npy"
  code, stdout, err = cli("predict", run_dir, "--data", path, "--out", out,
                          "--batch-size", "50")
  assert (code, err) == (0, ""), err
  assert stdout == f"predicted 257 examples into {out} (classes 0, 1, 2)\n"
  table = np.load(out, allow_pickle=False)
  assert table.shape == (257,) and table["probabilities"].shape == (257, N_CLASSES)
  expected = _reference(run_dir, make_arrays(257, 3)[0], loaded.standardization)
  np.testing.assert_allclose(table["probabilities"], expected, atol=1e-5)
  np.testing.assert_array_equal(table["class"], expected.argmax(axis=1))
  np.testing.assert_allclose(table["probabilities"].sum(axis=1), 1.0, atol=1e-5)


def test_predict_csv_uses_stored_standardization_once_the_source_is_gone(run, tmp_path):
  """A record holding its (mean, std) needs no source; the CSV's labels are ignored."""
  run_dir, loaded = run
  moved = str(tmp_path / "run")
  shutil.copytree(run_dir, moved)
  record = checkpoints.RunRecord.read(moved)
  mean, std = loaded.standardization
  record.data = dict(record.data, source=str(tmp_path / "deleted.npz"),
                     standardization={"mean": mean.tolist(), "std": std.tolist()})
  record.write()
  path = write_csv(tmp_path / "new.csv", n=40, seed=4)
  out = tmp_path / "predictions.csv"
  code, _, err = cli("predict", moved, "--data", path, "--out", out)
  assert (code, err) == (0, ""), err
  with open(out) as f:
    assert f.readline() == "class,p0,p1,p2\n"
  table = np.loadtxt(out, delimiter=",", skiprows=1)
  expected = _reference(moved, make_arrays(40, 4)[0], loaded.standardization)
  np.testing.assert_allclose(table[:, 1:], expected, atol=1e-5)
  np.testing.assert_array_equal(table[:, 0].astype(int), expected.argmax(axis=1))


@pytest.mark.parametrize("case", ["exists", "suffix", "width", "no data", "no run"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path, case):
  run_dir, _ = run
  data_path = write_npz(tmp_path / "new.npz", n=20)
  existing = tmp_path / "taken.csv"
  existing.write_text("keep me\n")
  out = tmp_path / "out.npy"
  argv, fragments = {
      "exists": (["--data", data_path, "--out", existing], ["--out", "already exists"]),
      "suffix": (["--data", data_path, "--out", tmp_path / "out.txt"],
                 ["--out", ".npy or .csv"]),
      "width": (["--data", write_csv(tmp_path / "w.csv", n=20, n_features=5),
                 "--out", out], ["w.csv", "5 features"]),
      "no data": (["--data", tmp_path / "gone.csv", "--out", out], ["gone.csv"]),
      "no run": (["--data", data_path, "--out", out], ["RUN"]),
  }[case]
  before = files_under(tmp_path)
  target = tmp_path / "nowhere" if case == "no run" else run_dir
  assert_refused(cli("predict", target, *argv), *fragments)
  assert files_under(tmp_path) == before
  assert checkpoints.RunRecord.read(run_dir).finished
