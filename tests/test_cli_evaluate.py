"""Tests of `dnn-toolkit evaluate` (child processes) and of restoring a finished run.

Runs train in-process on a user's small .npz (standardized) and CSV; evaluate then runs
as `python -m dnn_toolkit`, on the run's own test split and on `--data`. Its numbers are
checked against the record's test metrics and a NumPy confusion matrix.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from _cli_jobs import (
  N_CLASSES,
  assert_refused,
  cli,
  files_under,
  train_run,
  write_csv,
  write_npz,
)

from dnn_toolkit import checkpoints, scopes

from dnn_toolkit.runs import lifecycle, loading
from dnn_toolkit.errors import CheckpointError
from dnn_toolkit.model import build_dnn

_V1 = tf.compat.v1


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
  """(run_dir, data path, Datasets) of a standardized run on an .npz."""
  root = tmp_path_factory.mktemp("evaluate")
  path = write_npz(root / "data.npz")
  loaded = train_run(root / "run", path, standardize=True)
  return str(root / "run"), path, loaded


def _saved(run_dir):
  with open(os.path.join(run_dir, "evaluation.json")) as f:
    return json.load(f)


def test_evaluate_uses_the_runs_test_split_and_saves_json_and_png(npz_run):
  run_dir, _, loaded = npz_run
  code, out, err = cli("evaluate", run_dir)
  assert (code, err) == (0, ""), err
  report = _saved(run_dir)
  record = checkpoints.RunRecord.read(run_dir)
  assert report["n"] == len(loaded.test.labels) == record.test["n_test"]
  assert report["accuracy"] == pytest.approx(record.test["accuracy"], abs=1e-6)
  assert report["loss"] == pytest.approx(record.test["loss"], rel=1e-5)
  matrix = np.array(report["confusion_matrix"])
  assert matrix.shape == (N_CLASSES, N_CLASSES)
  np.testing.assert_array_equal(matrix.sum(axis=1),
                                np.bincount(loaded.test.labels, minlength=N_CLASSES))
  assert np.trace(matrix) / matrix.sum() == pytest.approx(report["accuracy"])
  for i, row in enumerate(report["per_class"]):
    assert row["support"] == matrix[i].sum()
    if matrix[:, i].sum():
      assert row["precision"] == pytest.approx(matrix[i, i] / matrix[:, i].sum())
    if matrix[i].sum():
      assert row["recall"] == pytest.approx(matrix[i, i] / matrix[i].sum())
  assert report["checkpoint"] == os.path.relpath(record.best_checkpoint, run_dir)
  with open(os.path.join(run_dir, "confusion_matrix.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert f"accuracy {report['accuracy']:.4f}" in out
  assert "confusion matrix (rows: true class" in out
  # inspect shows what training and evaluate measured, in text and in JSON.
  code, out, err = cli("inspect", run_dir)
  assert code == 0, err
  assert f"test (at the end of training): accuracy {record.test['accuracy']:.4f}" in out
  assert f"evaluation: accuracy {report['accuracy']:.4f}" in out
  assert "confusion_matrix.png" in out
  code, out, err = cli("inspect", run_dir, "--json")
  shown = json.loads(out)
  assert shown["evaluation"]["accuracy"] == report["accuracy"]
  assert shown["test"]["n_test"] == record.test["n_test"]


def test_evaluate_on_a_csv_with_latest_weights_of_a_locked_run(tmp_path):
  path = write_csv(tmp_path / "data.csv")
  run_dir = str(tmp_path / "run")
  train_run(run_dir, path)
  other = write_csv(tmp_path / "other.csv", n=90, seed=5)
  lock = checkpoints.lock_run(run_dir)  # As if still training: evaluating needs no lock.
  try:
    code, out, err = cli("evaluate", run_dir, "--data", other, "--checkpoint", "latest",
                         "--json")
  finally:
    lock.release()
  assert (code, err) == (0, ""), err
  report = json.loads(out)
  assert report == _saved(run_dir)
  assert report["n"] == 90 and report["which"] == "latest"
  assert report["data"] == os.path.abspath(other)
  with loading.load_run(run_dir, which="latest") as run:
    features = np.loadtxt(other, delimiter=",", skiprows=1, dtype=np.float32)
    expected = run.evaluate(features[:, :-1], features[:, -1].astype(np.int64))
  assert report["accuracy"] == pytest.approx(expected["accuracy"])


@pytest.mark.parametrize("case", ["no run", "missing data", "no labels", "width",
                                  "batch size"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(npz_run, tmp_path, case):
  run_dir, _, _ = npz_run
  for name in ("evaluation.json", "confusion_matrix.png"):
    if os.path.exists(os.path.join(run_dir, name)):
      os.remove(os.path.join(run_dir, name))
  before = files_under(run_dir)
  argv, fragments = {
      "no run": (["evaluate", str(tmp_path / "nowhere")], ["RUN", "nowhere"]),
      "missing data": (["evaluate", run_dir, "--data", str(tmp_path / "gone.npz")],
                       ["gone.npz"]),
      "no labels": (["evaluate", run_dir, "--data",
                     write_npz(tmp_path / "x.npz", with_labels=False)],
                    ["x.npz", "no labels"]),
      "width": (["evaluate", run_dir, "--data",
                 write_csv(tmp_path / "w.csv", n_features=4)],
                ["w.csv", "4 features", "expected 6"]),
      "batch size": (["evaluate", run_dir, "--batch-size", "0"], ["--batch-size"]),
  }[case]
  assert_refused(cli(*argv), *fragments)
  assert files_under(run_dir) == before


def test_restoring_a_best_checkpoint_into_a_training_graph_names_load_run(npz_run):
  """`scopes.restore` of a model-only checkpoint says what to call instead."""
  run_dir, _, loaded = npz_run
  record = checkpoints.RunRecord.read(run_dir)
  with tf.Graph().as_default() as graph:
    build_dnn(record.config, loaded.n_inputs)
    init = _V1.global_variables_initializer()
    with _V1.Session(graph=graph) as sess:
      sess.run(init)
      with pytest.raises(CheckpointError, match=r"loading\.load_run\(run_dir\)"):
        scopes.restore(sess, record.best_checkpoint)


def test_a_changed_source_is_refused_rather_than_evaluated(tmp_path):
  path = write_npz(tmp_path / "data.npz")
  run_dir = str(tmp_path / "run")
  train_run(run_dir, path, epochs=1)
  write_npz(path, seed=1)  # Same layout, other rows: the record's digests differ.
  before = files_under(run_dir)
  assert_refused(cli("evaluate", run_dir), "no longer gives the data it trained on",
                 "--data")
  assert files_under(run_dir) == before
