"""Tests of `dnn-toolkit transfer`: the lesson's recipe on MNIST, as a child process.

A small net of 4 hidden layers trains in-process on digits 0-4 (200 images per class,
one epoch); `transfer` then restores hidden1-3, replaces hidden4, freezes and caches
hidden1-2 and trains on 100 images per class of digits 5-9. The new run directory must
be one that evaluate, inspect, TensorBoard and a further transfer accept, and that
`transfer --resume` continues as built. A transfer on a user's standardized CSV ends the
file.
"""

import argparse
import json
import os
import shutil

import numpy as np
import pytest
from _cli_jobs import assert_refused, cli, files_under, train_run, write_csv

from dnn_toolkit import checkpoints, scopes, summaries, transfer
from dnn_toolkit.runs import lifecycle, loading, nets, run_data
from dnn_toolkit.commands import transfer as transfer_command
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import files as datasets
from dnn_toolkit.data import mnist as mnist_data
from dnn_toolkit.errors import DataError

BASE = DNNConfig(hidden_layers=(20, 20, 20, 20), n_outputs=5, seed=0, dropout_rate=0.0)
RECIPE = ["--reuse", "hidden[123]", "--replace", "4", "--freeze", "hidden[12]",
          "--cache-frozen", "--digits", "5-9", "--per-class", "100", "--epochs", "2",
          "--batch-size", "50", "--quiet"]


@pytest.fixture(scope="module")
def mnist():
  return mnist_data.load_mnist()


@pytest.fixture(scope="module")
def base(tmp_path_factory, mnist):
  """A run on digits 0-4 (its record says so, as a transfer run's would)."""
  run_dir = str(tmp_path_factory.mktemp("transfer") / "base")
  train = data.sample_per_class(data.filter_digits(mnist.train, range(5)), 200, seed=0)
  validation = data.filter_digits(mnist.validation, range(5))
  lifecycle.train(BASE, train, validation, run_dir=run_dir, epochs=1, verbose=0,
                   data=dict(mnist.identity, digits=[0, 1, 2, 3, 4], per_class=200,
                             per_class_seed=0))
  return run_dir


@pytest.fixture(scope="module")
def transferred(base):
  run_dir = os.path.join(os.path.dirname(base), "digits-5-9")
  code, out, err = cli("transfer", "--from", base, *RECIPE, "--run-dir", run_dir)
  assert (code, err) == (0, ""), err
  return run_dir, out


def test_record_names_what_was_restored_frozen_and_new(base, transferred, mnist):
  run_dir, out = transferred
  record = checkpoints.RunRecord.read(run_dir)
  base_record = checkpoints.RunRecord.read(base)
  assert record.transfer == {
      "from": os.path.abspath(base_record.best_checkpoint),
      "restored": ["hidden1", "hidden2", "hidden3"], "frozen": ["hidden1", "hidden2"],
      "new": ["hidden4", "outputs"], "reused_layers": [1, 2, 3], "frozen_layers": 2,
      "cached": True}
  assert record.config.hidden_layers == (20, 20, 20, 20)
  assert record.config.n_outputs == 5 and record.finished
  assert record.data["digits"] == [5, 6, 7, 8, 9] and record.data["n_train"] == 500
  n_test = int(np.isin(mnist.test.labels, range(5, 10)).sum())
  assert record.test["n_test"] == n_test == record.data["n_test"]
  assert "restored hidden1, hidden2, hidden3 (frozen: hidden1, hidden2)" in out
  assert "new: hidden4, outputs" in out


def test_frozen_layers_keep_the_base_values_and_the_others_train(base, transferred):
  run_dir, _ = transferred
  old = scopes.load_values(checkpoints.RunRecord.read(base).best_checkpoint)
  new = scopes.load_values(checkpoints.RunRecord.read(run_dir).best_checkpoint)
  for name in new:
    if name.startswith(("hidden1/", "hidden2/")):  # Moving statistics included.
      np.testing.assert_array_equal(new[name], old[name], err_msg=name)
  assert not np.array_equal(new["hidden3/weights"], old["hidden3/weights"])
  assert not np.array_equal(new["hidden4/weights"], old["hidden4/weights"])


def test_evaluate_inspect_tensorboard_and_transfer_accept_the_run(transferred, mnist):
  run_dir, _ = transferred
  code, out, err = cli("evaluate", run_dir)
  assert (code, err) == (0, ""), err
  record = checkpoints.RunRecord.read(run_dir)
  assert f"accuracy {record.test['accuracy']:.4f}" in out
  assert [line.split()[0] for line in out.splitlines()[5:10]] == list("56789")
  assert checkpoints.inspect_checkpoint(run_dir)["checkpoint"] == record.best_checkpoint
  assert summaries.find_logdir(run_dir) == summaries.logdir_of(run_dir)
  # A transfer from the transfer run, through the Python API.
  train, validation = (run_data.select_digits(s, [5, 6, 7, 8, 9]) for s in mnist[:2])
  again = lifecycle.train(
      nets.TransferNet(transfer.load_pretrained(run_dir), record.config,
                       reuse=(1, 2, 3, 4)),
      (train.images[:200], train.labels[:200]),
      (validation.images[:200], validation.labels[:200]),
      run_dir=os.path.join(os.path.dirname(run_dir), "again"), epochs=1, batch_size=50,
      verbose=0)
  assert again.record.transfer["restored"] == ["hidden1", "hidden2", "hidden3",
                                               "hidden4"]
  assert again.record.transfer["new"] == ["outputs"]


@pytest.mark.parametrize("argv,fragments", [
    (["--reuse", "hidden[123]", "--cache-frozen"], ["--cache-frozen", "--freeze"]),
    (["--reuse", "hidden[123]", "--digits", "9-5"], ["--digits", "'9-5'"]),
    (["--reuse", "hidden9"], ["--reuse", "matches no hidden layer", "hidden4"]),
    (["--reuse", "hidden[123]", "--replace", "3"], ["--replace", "hidden3"]),
    (["--reuse", "hidden[123]", "--freeze", "hidden[23]"],
     ["--freeze", "lowest", "hidden2, hidden3"]),
])
def test_bad_flags_are_one_line_exit_2_and_write_nothing(base, tmp_path, argv,
                                                         fragments):
  before = files_under(os.path.dirname(base))
  result = cli("transfer", "--from", base, *argv, "--run-dir", tmp_path / "new")
  assert_refused(result, *fragments)
  assert not (tmp_path / "new").exists()
  assert files_under(os.path.dirname(base)) == before


def test_an_existing_run_dir_is_refused_unchanged(base):
  before = files_under(base)
  assert_refused(cli("transfer", "--from", base, "--reuse", "hidden1", "--run-dir",
                     base), "--run-dir", "already holds a run")
  assert files_under(base) == before


def test_resolve_layers_keeps_the_runs_layers_up_to_the_top_one():
  args = argparse.Namespace(reuse="hidden[12]", replace=[3], freeze="hidden1",
                            hidden_layers=None)
  base_config = DNNConfig(hidden_layers=(30, 20, 10, 5))
  assert transfer_command.resolve_layers(args, base_config) == ([1, 2], 1, (30, 20, 10))


def test_resume_continues_the_transfer_run_as_it_was_built(base, transferred, tmp_path):
  run_dir = str(tmp_path / "resumed")
  shutil.copytree(transferred[0], run_dir)
  code, out, err = cli("transfer", "--resume", "--run-dir", run_dir, "--epochs", "3",
                       "--quiet")
  assert (code, err) == (0, ""), err
  record = checkpoints.RunRecord.read(run_dir)
  assert record.state.epoch == 3 and len(record.state.history) == 3
  assert record.transfer == checkpoints.RunRecord.read(transferred[0]).transfer
  old = scopes.load_values(checkpoints.RunRecord.read(base).best_checkpoint)
  new = scopes.load_values(record.latest_checkpoint)
  for name in ("hidden1/weights", "hidden2/BatchNorm/moving_mean"):
    np.testing.assert_array_equal(new[name], old[name], err_msg=name)
  assert "trained 3 epochs on 500 examples" in out


@pytest.mark.parametrize("argv,fragments", [
    (["--reuse", "hidden1"], ["--reuse", "not taken with --resume"]),
    ([], ["--resume", "--run-dir"]),
])
def test_resume_refuses_flags_the_record_holds(transferred, argv, fragments):
  run_dir = transferred[0] if argv else None
  before = files_under(transferred[0])
  where = ["--run-dir", run_dir] if run_dir else []
  assert_refused(cli("transfer", "--resume", *where, *argv), *fragments)
  assert files_under(transferred[0]) == before


def test_resume_of_a_run_that_is_no_transfer_says_what_to_use(base):
  before = files_under(base)
  assert_refused(cli("transfer", "--resume", "--run-dir", base), "train --resume")
  assert files_under(base) == before


def test_transfer_on_a_users_standardized_csv_then_predict(tmp_path):
  path = write_csv(tmp_path / "data.csv")
  base_dir = str(tmp_path / "base")
  train_run(base_dir, path, standardize=True)
  run_dir = str(tmp_path / "new")
  code, out, err = cli("transfer", "--from", base_dir, "--reuse", "hidden1", "--data",
                       path, "--standardize", "--epochs", "1", "--batch-size", "20",
                       "--run-dir", run_dir, "--quiet")
  assert (code, err) == (0, ""), err
  record = checkpoints.RunRecord.read(run_dir)
  assert record.config.hidden_layers == (12,)  # The layers above hidden1 are dropped.
  assert record.transfer["new"] == ["outputs"]
  loaded = datasets.load_arrays(path, standardize=True)
  np.testing.assert_allclose(record.data["standardization"]["mean"],
                             loaded.standardization[0])
  out_path = tmp_path / "predictions.npy"
  code, _, err = cli("predict", run_dir, "--data", path, "--out", out_path)
  assert (code, err) == (0, ""), err
  raw = datasets.load_features(path)[0]
  features = loaded.scaling.apply(raw)
  with loading.load_run(run_dir) as run:
    np.testing.assert_array_equal(np.load(out_path)["class"], run.predict(raw))
    np.testing.assert_array_equal(run.predict(features, scaled=True), run.predict(raw))
    # Standardized twice would be garbage: features scaled already are refused.
    with pytest.raises(DataError, match="looks standardized already"):
      run.predict(features)


def test_a_digits_run_predicts_every_row_and_evaluates_on_its_digits(transferred, mnist,
                                                                     tmp_path):
  run_dir, _ = transferred
  path = str(tmp_path / "some.npz")
  (_, _), (pixels, labels) = mnist_data.load_data()  # uint8, as Keras gives them
  np.savez(path, x=pixels[:40], y=labels[:40])
  out = tmp_path / "p.npy"
  code, stdout, err = cli("predict", run_dir, "--data", path, "--out", out)
  assert (code, err) == (0, ""), err
  assert len(np.load(out)) == 40 and "(classes 5, 6, 7, 8, 9)" in stdout
  assert set(np.load(out)["class"].tolist()) <= {5, 6, 7, 8, 9}
  code, stdout, err = cli("evaluate", run_dir, "--data", path, "--json")
  assert (code, err) == (0, ""), err
  report = json.loads(stdout)
  assert report["n"] == int(np.isin(mnist.test.labels[:40], range(5, 10)).sum())
  assert report["classes"] == [5, 6, 7, 8, 9]
