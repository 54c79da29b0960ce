"""Tests of the `dnn-toolkit` command line.

`dnn-toolkit train` runs through `cli.main([...])` on a small data set in the MNIST
layout (a `mnist.npz` of 300 + 60 random images written by the test), so it trains in a
second. Tests of the other subcommands go below the `train` ones, in their own functions.
"""

import json
import os

import numpy as np
import pytest

from dnn_toolkit import checkpoints, cli

# train ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
  """A `mnist.npz` of 300 training and 60 test images: MNIST's layout, not its data."""
  rng = np.random.default_rng(0)
  path = str(tmp_path_factory.mktemp("data") / "mnist.npz")
  np.savez(path, x_train=rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
           y_train=rng.integers(0, 10, 300, dtype=np.uint8),
           x_test=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
           y_test=rng.integers(0, 10, 60, dtype=np.uint8))
  return path


def _train_args(data, run_dir, *flags):
  return ["train", "--data", data, "--no-verify", "--validation-size", "50",
          "--hidden-layers", "20", "--epochs", "1", "--batch-size", "50",
          "--run-dir", run_dir, *flags]


def test_train_runs_one_epoch(small_mnist, tmp_path, capsys):
  run_dir = str(tmp_path / "run")
  assert cli.main(_train_args(small_mnist, run_dir, "--quiet")) == 0
  out, err = capsys.readouterr()
  assert "trained 1 epochs; best epoch 1, validation loss " in out
  assert "test accuracy " in out
  assert f"run directory: {run_dir}" in out
  assert "epoch 1/1" not in err  # --quiet
  saved = checkpoints.read_run_state(run_dir)
  assert saved["finished"] is True
  assert saved["state"]["epoch"] == 1 and saved["state"]["global_step"] == 5
  assert saved["config"]["hidden_layers"] == [20]
  assert saved["config"]["optimizer"] == "adam"  # The lesson's defaults otherwise.
  assert saved["batch_size"] == 50


def test_train_flags_set_the_config(small_mnist, tmp_path, capsys):
  run_dir = str(tmp_path / "run")
  flags = ["--activation", "selu", "--initializer", "xavier", "--no-batch-norm",
           "--dropout-rate", "0", "--optimizer", "momentum", "--learning-rate", "0.05",
           "--schedule", "piecewise", "--boundaries", "3", "--values", "0.05", "0.01",
           "--clip-norm", "5", "--max-norm", "2", "--l2-scale", "0.001", "--seed", "7",
           "--save-every-steps", "2"]
  assert cli.main(_train_args(small_mnist, run_dir, *flags)) == 0
  config = checkpoints.read_run_state(run_dir)["config"]
  assert {k: config[k] for k in ("activation", "initializer", "batch_norm",
                                 "dropout_rate", "optimizer", "learning_rate",
                                 "schedule", "boundaries", "values", "clip_norm",
                                 "max_norm", "l2_scale", "seed")} == {
      "activation": "selu", "initializer": "xavier", "batch_norm": False,
      "dropout_rate": 0.0, "optimizer": "momentum", "learning_rate": 0.05,
      "schedule": "piecewise", "boundaries": [3], "values": [0.05, 0.01],
      "clip_norm": 5.0, "max_norm": 2.0, "l2_scale": 0.001, "seed": 7}
  err = capsys.readouterr().err
  assert "epoch 1/1  loss " in err  # Progress, as a plain line: stderr is no terminal.


def test_train_resume_continues_and_refuses_another_config(small_mnist, tmp_path,
                                                           capsys):
  run_dir = str(tmp_path / "run")
  fast = ["--quiet", "--no-batch-norm", "--dropout-rate", "0"]
  assert cli.main(_train_args(small_mnist, run_dir, *fast)) == 0
  args = _train_args(small_mnist, run_dir, *fast, "--resume")
  args[args.index("--epochs") + 1] = "2"
  assert cli.main(args) == 0
  assert "trained 2 epochs" in capsys.readouterr().out
  with open(os.path.join(run_dir, "state.json")) as f:
    before = f.read()
  args[args.index("--hidden-layers") + 1] = "30"
  assert cli.main(args) == cli.EXIT_ERROR
  err = capsys.readouterr().err
  assert err.startswith("dnn-toolkit: error: Cannot resume")
  assert "--hidden-layers: run has 20, given 30" in err  # The flag, not the field.
  with open(os.path.join(run_dir, "state.json")) as f:
    assert f.read() == before
  assert json.loads(before)["state"]["epoch"] == 2


def test_train_refuses_data_that_is_not_mnist_unless_told(small_mnist, tmp_path, capsys):
  run_dir = str(tmp_path / "run")
  args = _train_args(small_mnist, run_dir)
  args.remove("--no-verify")
  assert cli.main(args) == cli.EXIT_ERROR
  err = capsys.readouterr().err
  assert "differs from the official data" in err
  assert "--no-verify" in err
  assert not os.path.exists(run_dir)


@pytest.mark.parametrize("flags, message", [
    (["--dropout-rate", "1.5"], "argument --dropout-rate: Received an invalid value for "
                                "--dropout-rate, expected a number in [0, 1). "
                                "Received: --dropout-rate 1.5"),
    (["--learning-rate", "0"], "Received: --learning-rate 0.0"),
    (["--hidden-layers", "20", "0"], "Received: --hidden-layers 0"),
    (["--batch-size", "251"], "at most the 250 training examples"),
    (["--patience", "-2"], "Received: --patience -2"),
    (["--validation-size", "400"], "argument --validation-size: Received an invalid "
                                   "value for --validation-size, expected an integer "
                                   "in [0, 300] (the size of the training set). "
                                   "Received: --validation-size 400"),
    (["--validation-size", "0"], "argument --validation-size: Expected "
                                 "--validation-size to hold at least one example"),
    (["--log-every-steps", "0"], "Received: --log-every-steps 0"),
])
def test_train_bad_flag_values_exit_2_and_write_nothing(small_mnist, tmp_path, capsys,
                                                        flags, message):
  run_dir = str(tmp_path / "run")
  assert cli.main(_train_args(small_mnist, run_dir, *flags)) == cli.EXIT_ERROR
  err = capsys.readouterr().err
  assert err.startswith("dnn-toolkit: error: ") and message in err, err
  assert not os.path.exists(run_dir)


def test_train_unknown_choice_lists_the_valid_ones(small_mnist, tmp_path, capsys):
  with pytest.raises(SystemExit) as exited:
    cli.main(_train_args(small_mnist, str(tmp_path / "run"), "--optimizer", "adamw"))
  assert exited.value.code == 2
  err = capsys.readouterr().err
  assert "invalid choice: 'adamw'" in err
  assert "'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'" in err


def test_train_help_lists_the_flags(capsys):
  with pytest.raises(SystemExit) as exited:
    cli.main(["train", "--help"])
  assert exited.value.code == 0
  out = capsys.readouterr().out
  for flag in ("--hidden-layers", "--activation", "--batch-norm, --no-batch-norm",
               "--dropout-rate", "--optimizer", "--schedule", "--clip-norm", "--data",
               "--no-verify", "--epochs", "--batch-size", "--patience", "--run-dir",
               "--resume", "--save-every-steps", "--quiet"):
    assert flag in out, flag
  assert "(default: adam)" in out
  assert "(default: 50)" in out and "(default: 20)" in out  # --batch-size, --epochs
  assert "(default: None)" not in out and ") (default:" not in out  # said once, plainly


def test_train_ctrl_c_tells_how_to_resume(small_mnist, tmp_path, capsys, monkeypatch):
  from dnn_toolkit.runs import lifecycle  # pylint: disable=import-outside-toplevel

  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(lifecycle, "train", interrupted)
  run_dir = str(tmp_path / "run")
  assert cli.main(_train_args(small_mnist, run_dir)) == cli.EXIT_INTERRUPTED
  err = capsys.readouterr().err
  assert f"dnn-toolkit train --resume --run-dir {run_dir}" in err
