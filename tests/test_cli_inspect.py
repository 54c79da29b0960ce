"""Tests of `dnn-toolkit inspect` and `dnn-toolkit tensorboard` (cli.main in-process).

One small real run, trained with the command line's hooks, gives the checkpoints and
logs; bad input is a missing path, an empty directory, a truncated or corrupt
checkpoint, each a one-line error and exit code 2.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import checkpoints, cli

from dnn_toolkit.runs import lifecycle
from dnn_toolkit import scopes as scopes_lib
from dnn_toolkit.config import DNNConfig

_V1 = tf.compat.v1
STEPS = 3  # 60 examples, batches of 20, one epoch


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
  rng = np.random.RandomState(0)
  data = (rng.rand(60, 8).astype(np.float32), rng.randint(0, 10, 60))
  path = str(tmp_path_factory.mktemp("cli") / "run")
  lifecycle.train(DNNConfig(hidden_layers=(6, 4)), data, data, run_dir=path, epochs=1,
                   batch_size=20, verbose=0)
  return path


def _main(capsys, *argv):
  """Runs the command line; returns (exit code, stdout, stderr)."""
  code = cli.main(list(argv))
  out, err = capsys.readouterr()
  return code, out, err


def _inspect_json(capsys, path):
  code, out, err = _main(capsys, "inspect", path, "--json")
  assert (code, err) == (0, "")
  return json.loads(out)


def _copy_best(run_dir, target):
  """Copies the run's best checkpoint files to `target`; returns the new prefix."""
  prefix = checkpoints.inspect_checkpoint(run_dir)["checkpoint"]
  os.makedirs(target)
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(prefix + suffix, target)
  return os.path.join(target, os.path.basename(prefix))


def _assert_one_line_error(code, out, err, *fragments):
  assert code == 2 and out == ""
  assert err.startswith("dnn-toolkit: error: ") and err.count("\n") == 1, err
  for fragment in fragments:
    assert fragment in err


# ---------------------------------------------------------------- inspect


def test_inspect_a_run_dir_lists_its_best_checkpoint(capsys, run_dir):
  code, out, err = _main(capsys, "inspect", run_dir)
  assert (code, err) == (0, "")
  lines = out.splitlines()
  best = os.path.join(run_dir, "best", f"model.ckpt-{STEPS}")
  assert lines[0] == f"checkpoint: {best}"
  values = scopes_lib.load_values(best)
  rows = [line.split() for line in lines[3:3 + len(values)]]
  assert lines[2].split() == ["variable", "shape", "dtype", "min", "max", "mean", "std"]
  assert [row[0] for row in rows] == sorted(values)
  by_name = {row[0]: row for row in rows}
  assert by_name["hidden1/weights"][1:4] == ["[8,", "6]", "float32"]
  assert float(by_name["outputs/weights"][4]) == pytest.approx(
      values["outputs/weights"].min(), rel=1e-3)
  scopes = [line.split()[0] for line in lines[4 + len(values):-2]]
  assert {"hidden1", "hidden1/BatchNorm", "hidden2", "outputs"} <= set(scopes[1:])
  n_values = sum(v.size for v in values.values())
  assert lines[-1] == f"{len(values)} variables, {n_values} values"


def test_inspect_json_statistics_match_the_checkpoint(capsys, run_dir):
  report = _inspect_json(capsys, run_dir)
  values = scopes_lib.load_values(report["checkpoint"])
  assert [v["name"] for v in report["variables"]] == sorted(values)
  for variable in report["variables"]:
    value = values[variable["name"]]
    assert variable["shape"] == list(value.shape)
    assert variable["dtype"] == value.dtype.name
    assert variable["size"] == value.size
    value = value.astype(np.float64)  # statistics are computed in float64
    assert variable["min"] == value.min() and variable["max"] == value.max()
    assert variable["mean"] == pytest.approx(value.mean(), rel=1e-12, abs=1e-15)
    assert variable["std"] == pytest.approx(value.std(), rel=1e-12, abs=1e-15)
    assert variable["non_finite"] == 0
  scopes = {s["scope"]: s for s in report["scopes"]}
  in_hidden1 = [n for n in values if n.startswith("hidden1/")]
  assert scopes["hidden1"] == {"scope": "hidden1", "variables": len(in_hidden1),
                               "size": sum(values[n].size for n in in_hidden1)}
  assert scopes["hidden1/BatchNorm"]["variables"] == len(in_hidden1) - 1
  assert "hidden10" not in scopes
  assert report["total_size"] == sum(v["size"] for v in report["variables"])


def test_inspect_a_checkpoint_dir_or_prefix(capsys, run_dir):
  latest = os.path.join(run_dir, "latest")
  report = _inspect_json(capsys, latest)
  assert report["checkpoint"] == os.path.join(latest, f"model.ckpt-{STEPS}")
  by_name = {v["name"]: v for v in report["variables"]}
  assert by_name["global_step"]["dtype"] == "int64"
  assert by_name["global_step"]["shape"] == []
  assert by_name["global_step"]["min"] == STEPS
  assert "hidden1/weights/Adam" in by_name  # the latest checkpoint keeps the slots
  assert _inspect_json(capsys, report["checkpoint"])["checkpoint"] == report["checkpoint"]


def test_inspect_counts_nan_and_inf(capsys, tmp_path):
  prefix = str(tmp_path / "diverged.ckpt")
  with tf.Graph().as_default() as graph:
    w = _V1.Variable([[1.0, np.nan], [np.inf, 3.0]], name="hidden1/weights")
    saver = _V1.train.Saver([w])
    with _V1.Session(graph=graph) as sess:
      sess.run(w.initializer)
      saver.save(sess, prefix, write_meta_graph=False, write_state=False)
  (variable,) = _inspect_json(capsys, prefix)["variables"]
  assert variable["non_finite"] == 2
  assert (variable["min"], variable["max"], variable["mean"]) == (1.0, 3.0, 2.0)
  code, out, _ = _main(capsys, "inspect", prefix)
  assert code == 0 and "2 NaN/Inf" in out


def test_inspect_missing_path(capsys, tmp_path):
  missing = str(tmp_path / "nope" / "model.ckpt-1")
  _assert_one_line_error(*_main(capsys, "inspect", missing),
                         "argument CHECKPOINT: nothing at", missing)


def test_inspect_directory_without_checkpoint(capsys, tmp_path):
  _assert_one_line_error(*_main(capsys, "inspect", str(tmp_path)),
                         "No checkpoint in the directory", str(tmp_path))


def test_inspect_checkpoint_file_naming_a_missing_checkpoint(capsys, tmp_path):
  (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-9"\n')
  _assert_one_line_error(*_main(capsys, "inspect", str(tmp_path)), "No checkpoint")


def test_inspect_truncated_data_file(capsys, run_dir, tmp_path):
  prefix = _copy_best(run_dir, str(tmp_path / "truncated"))
  data = prefix + ".data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  _assert_one_line_error(*_main(capsys, "inspect", prefix), "truncated or corrupt",
                         prefix)


def test_inspect_corrupt_index(capsys, run_dir, tmp_path):
  prefix = _copy_best(run_dir, str(tmp_path / "corrupt"))
  with open(prefix + ".index", "r+b") as f:
    content = bytearray(f.read())
    content[: len(content) // 2] = bytes(len(content) // 2)  # zero the first half
    f.seek(0)
    f.write(content)
  _assert_one_line_error(*_main(capsys, "inspect", prefix), "Cannot read checkpoint",
                         prefix)


def test_inspect_corrupt_data_bytes(capsys, run_dir, tmp_path):
  prefix = _copy_best(run_dir, str(tmp_path / "flipped"))
  with open(prefix + ".data-00000-of-00001", "r+b") as f:
    content = bytearray(f.read())
    f.seek(0)
    f.write(bytes(b ^ 0xFF for b in content))
  _assert_one_line_error(*_main(capsys, "inspect", prefix), "truncated or corrupt")


# ------------------------------------------------------------ tensorboard


def test_tensorboard_print_command(capsys, run_dir):
  code, out, err = _main(capsys, "tensorboard", run_dir, "--print-command",
                         "--port", "6123")
  assert (code, err) == (0, "")
  assert shlex.split(out) == [sys.executable, "-m", "tensorboard.main", "--logdir",
                              os.path.join(run_dir, "logs"), "--host", "127.0.0.1",
                              "--port", "6123"]


def test_tensorboard_runs_that_command(capsys, run_dir, monkeypatch):
  started = []

  class FakeProcess:
    stderr = None  # Not piped: the fake writes nothing.

    def __init__(self, argv, **kwargs):
      started.append(argv)

    def wait(self, timeout=None):
      return 0

    def poll(self):
      return 0

  monkeypatch.setattr(subprocess, "Popen", FakeProcess)
  code, _, _ = _main(capsys, "tensorboard", run_dir)
  assert code == 0
  assert started == [[sys.executable, "-m", "tensorboard.main", "--logdir",
                      os.path.join(run_dir, "logs"), "--host", "127.0.0.1",
                      "--port", "6006"]]


def test_tensorboard_on_a_directory_without_event_files(capsys, tmp_path):
  (tmp_path / "logs" / "train").mkdir(parents=True)
  _assert_one_line_error(*_main(capsys, "tensorboard", str(tmp_path)),
                         "No TensorBoard event files were found", str(tmp_path))


def test_tensorboard_on_a_missing_directory(capsys, tmp_path):
  _assert_one_line_error(*_main(capsys, "tensorboard", str(tmp_path / "nope")),
                         "argument RUN_DIR: no directory at", str(tmp_path / "nope"))


def test_tensorboard_bad_port(capsys, run_dir):
  _assert_one_line_error(*_main(capsys, "tensorboard", run_dir, "--port", "70000"),
                         "port")
