"""Tests of `dnn-toolkit runs` as a child process: the table of the runs in a directory."""

import json
import os
import shutil

import pytest
from _cli_jobs import assert_refused, cli, train_run, write_csv, write_npz

from dnn_toolkit import checkpoints
from dnn_toolkit.runs import evaluation


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
  """A directory with a run, a nested run, a damaged record and a plain folder."""
  root = tmp_path_factory.mktemp("runs")
  train_run(root / "a", write_npz(root / "data.npz"), epochs=2)
  train_run(root / "group" / "b", write_csv(root / "data.csv"), epochs=3)
  os.makedirs(root / "damaged")
  (root / "damaged" / checkpoints.STATE_FILE).write_text("{")
  os.makedirs(root / "empty")
  return str(root)


def test_json_rows_describe_each_run_from_its_record(runs_root):
  code, out, err = cli("runs", runs_root, "--json")
  assert (code, err) == (0, ""), err
  rows = {row["run"]: row for row in json.loads(out)}
  assert sorted(rows) == ["a", "damaged", os.path.join("group", "b")]
  assert rows["damaged"]["status"] == "damaged"
  for name in ("a", os.path.join("group", "b")):
    record = checkpoints.RunRecord.read(os.path.join(runs_root, name))
    row = rows[name]
    best = [h for h in record.state.history if h["epoch"] == record.state.best_epoch][0]
    assert row["hidden_layers"] == list(record.config.hidden_layers)
    assert row["epochs"] == record.state.epoch and row["status"] == "finished"
    assert row["best_epoch"] == record.state.best_epoch
    assert row["val_accuracy"] == best["val_accuracy"]
    assert row["test_accuracy"] == record.test["accuracy"]
    assert row["seconds"] == pytest.approx(sum(h["seconds"]
                                               for h in record.state.history))


def test_table_lists_runs_with_accuracies_in_percent(runs_root):
  code, out, err = cli("runs", runs_root, "--sort", "val")
  assert (code, err) == (0, ""), err
  lines = out.splitlines()
  assert lines[0].split() == ["run", "config", "epochs", "best", "val", "acc", "test",
                              "acc", "time", "status"]
  record = checkpoints.RunRecord.read(os.path.join(runs_root, "a"))
  row = [line for line in lines if line.startswith("a ")][0]
  assert f"{100 * record.test['accuracy']:.2f}%" in row and "12-8 elu bn" in row
  assert lines[-1].startswith("damaged") and "damaged record" in lines[-1]


def test_a_missing_directory_is_refused(tmp_path):
  assert_refused(cli("runs", tmp_path / "nowhere"), "DIR", "nowhere")
  assert not (tmp_path / "nowhere").exists()


def test_a_run_without_test_metrics_shows_its_last_evaluation(runs_root, tmp_path):
  run_dir = str(tmp_path / "untested")
  shutil.copytree(os.path.join(runs_root, "a"), run_dir)
  record = checkpoints.RunRecord.read(run_dir)
  record.test = None
  record.write()
  assert cli("evaluate", run_dir)[0] == 0
  code, out, err = cli("runs", str(tmp_path), "--json")
  assert (code, err) == (0, ""), err
  (row,) = json.loads(out)
  assert row["test_from"] == "evaluate"
  assert row["test_accuracy"] == evaluation.read_evaluation(run_dir)["accuracy"]
  lines = evaluation.evaluation_lines(run_dir)
  assert lines[0].startswith(f"evaluation: accuracy {row['test_accuracy']:.4f}")
  assert lines[1] == f"confusion matrix: {os.path.join(run_dir, 'confusion_matrix.png')}"
