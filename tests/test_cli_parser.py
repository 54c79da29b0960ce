"""Tests of what every `dnn-toolkit` command shares: the parser, the registry, errors.

The fast paths (`--help`, `--version`, a mistyped flag) run as a user runs them, in a
subprocess (`python -m dnn_toolkit` and the installed `dnn-toolkit` script); the error
wording is checked through `cli.main` and `cli.error_line` in this process.
"""

import json
import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import dnn_toolkit
from dnn_toolkit import checkpoints, cli
from dnn_toolkit.errors import (ArgumentError, ArgumentTypeError, CheckpointError,
                                ConfigMismatchError, DataError)

# Generous: fails only on a hang (TensorFlow may take a minute to load on a busy machine)
DEADLINE_S = 180
SCRIPT = os.path.join(os.path.dirname(sys.executable), "dnn-toolkit")


def _run(*argv, script=None, timeout=DEADLINE_S):
  """Runs the command line in a new process; returns the CompletedProcess.

  `subprocess.run` kills the process (by its pid) if it outlives `timeout`.
  """
  command = [script] if script else [sys.executable, "-m", "dnn_toolkit"]
  return subprocess.run(command + list(argv), capture_output=True, text=True,
                        timeout=timeout, check=False)


# ------------------------------------------------------------ fast, TensorFlow-free


def test_help_answers_in_under_a_second_without_tensorflow():
  code = ("import sys, time; t = time.perf_counter(); from dnn_toolkit import cli\n"
          "try:\n  cli.main(['--help'])\nexcept SystemExit:\n  pass\n"
          "for name in cli.build_parser().commands:\n"
          "  try:\n    cli.main([name, '--help'])\n"
          "  except SystemExit:\n    pass\n"
          "print('TF', 'tensorflow' in sys.modules)")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        timeout=DEADLINE_S, check=False)
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip().endswith("TF False")  # No command imports it to parse.
  # CPU seconds, not wall: the figure must not depend on what else the machine runs.
  best = min(_cpu_seconds("--help") for _ in range(3))
  assert best < 1.0, f"dnn-toolkit --help took {best:.2f} s of CPU"


def _cpu_seconds(*argv):
  """CPU time (user + system) of running the installed `dnn-toolkit` with `argv`."""
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  proc = _run(*argv, script=SCRIPT)
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  assert proc.returncode == 0, proc.stderr
  return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_help_lists_every_command_and_each_command_has_examples():
  proc = _run("--help")
  assert proc.returncode == 0 and proc.stderr == ""
  parser = cli.build_parser()
  assert set(parser.commands) >= {"train", "tensorboard", "inspect", "demo"}
  for name, (_, command_parser) in parser.commands.items():
    assert name in proc.stdout
    assert not command_parser.allow_abbrev, name
    assert "examples:\n  dnn-toolkit " + name in command_parser.format_help(), name


def test_version_from_the_script_and_python_m():
  for proc in (_run("--version", script=SCRIPT), _run("--version")):
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, f"dnn-toolkit {dnn_toolkit.__version__}\n", "")


@pytest.mark.parametrize("argv, fragment", [
    (["trian"], "invalid choice: 'trian'"),
    (["train", "--optimizer", "adamm"], "did you mean 'adam'?"),
    (["train", "--activation", "Relu"], "did you mean 'relu'?"),
    (["inspect", "--jsn", "x"], "did you mean '--json'?"),
    (["demo", "vanishing_gradient"], "did you mean 'vanishing_gradients'?"),
])
def test_a_near_miss_suggests_the_nearest_name(argv, fragment):
  proc = _run(*argv)
  assert proc.returncode == 2 and proc.stdout == ""
  last = proc.stderr.splitlines()[-1]
  assert fragment in last and "error: " in last, proc.stderr
  if argv == ["trian"]:
    assert last.endswith("did you mean 'train'?")


def test_flags_are_never_abbreviated():
  proc = _run("train", "--epoch", "3", "--quiet")
  assert proc.returncode == 2
  assert proc.stderr.splitlines()[-1] == (
      "dnn-toolkit train: error: unrecognized arguments: --epoch 3; "
      "did you mean '--epochs'?")


# ---------------------------------------------------------------- errors name flags


def _train_parser():
  return cli.build_parser().commands["train"][1]


@pytest.mark.parametrize("error, line", [
    (ArgumentError("batch_size", "Received an invalid value for {name}, expected a "
                   "positive integer. Received: {received}", 0),
     "argument --batch-size: Received an invalid value for --batch-size, expected a "
     "positive integer. Received: --batch-size 0"),
    (ArgumentTypeError("hidden_layers", "Expected {name} to be a list. Received: "
                       "{received}", [3, 4]),
     "argument --hidden-layers: Expected --hidden-layers to be a list. Received: "
     "--hidden-layers 3 4"),
    (CheckpointError("'run' already holds a training run. Pass {resume} to continue it.",
                     arguments={"resume": True}),
     "'run' already holds a training run. Pass --resume to continue it."),
    (DataError("Another data set loads with {verify}.", arguments={"verify": False}),
     "Another data set loads with --no-verify."),
    (ConfigMismatchError("unused", fields=("hidden_layers", "batch_size"),
                         values={"hidden_layers": ((300, 100), (20,)),
                                 "batch_size": (50, 64)}, run_dir="run"),
     "Cannot resume 'run' with other settings (--hidden-layers: run has 300 100, given "
     "20; --batch-size: run has 50, given 64). Nothing was changed; leave those flags "
     "out (the run's own are used) or start a new --run-dir."),
    (ValueError("`units` is not a flag here.\n  A second line."),
     "`units` is not a flag here. A second line."),
    (ValueError(""), "ValueError"),
])
def test_error_line_names_the_flags_from_the_errors_fields(error, line):
  assert cli.error_line(error, _train_parser()) == line


def test_error_line_never_reads_the_message_text():
  """A plain error keeps its text: flag names come from the error's fields only."""
  text = "Received an invalid value for `batch_size` with verify=False."
  assert cli.error_line(ValueError(text), _train_parser()) == text


def test_error_line_maps_only_the_commands_own_flags():
  inspect_parser = cli.build_parser().commands["inspect"][1]
  error = ArgumentError("path", "Bad {name}. Received: {received}", "")
  assert cli.error_line(error, inspect_parser) == "Bad `path`. Received: path=''"
  error = DataError("Load it with {verify}.", arguments={"verify": False})
  assert cli.error_line(error, inspect_parser) == "Load it with verify=False."


def test_an_existing_run_names_the_resume_flag(tmp_path, capsys):
  rng = np.random.default_rng(0)
  data = str(tmp_path / "mnist.npz")
  np.savez(data, x_train=rng.integers(0, 256, (120, 28, 28), dtype=np.uint8),
           y_train=rng.integers(0, 10, 120, dtype=np.uint8),
           x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
           y_test=rng.integers(0, 10, 20, dtype=np.uint8))
  argv = ["train", "--data", data, "--no-verify", "--validation-size", "20",
          "--hidden-layers", "5", "--epochs", "1", "--run-dir", str(tmp_path / "run"),
          "--quiet"]
  assert cli.main(argv) == 0
  capsys.readouterr()
  assert cli.main(argv) == cli.EXIT_ERROR
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "--resume" in err and "resume=True" not in err, err


def test_a_tensorflow_op_error_is_one_line(capsys, monkeypatch, tmp_path):
  def failing(path):
    raise tf.errors.DataLossError(None, None, f"Checksum mismatch in {path}\n\n"
                                  "\t [[{{node RestoreV2}}]]")

  monkeypatch.setattr(checkpoints, "inspect_checkpoint", failing)
  monkeypatch.chdir(tmp_path)
  (tmp_path / "model.ckpt-1.index").write_bytes(b"")  # There: inspect reads it.
  assert cli.main(["inspect", "model.ckpt-1"]) == cli.EXIT_ERROR
  out, err = capsys.readouterr()
  assert out == ""
  assert err == "dnn-toolkit: error: Checksum mismatch in model.ckpt-1\n"


# ------------------------------------------------------------------ broken pipe


def _small_checkpoint(directory):
  prefix = os.path.join(str(directory), "model.ckpt")
  with tf.Graph().as_default() as graph:
    w = tf.compat.v1.Variable(np.arange(6.0).reshape(2, 3), name="hidden1/weights")
    saver = tf.compat.v1.train.Saver([w])
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run(w.initializer)
      saver.save(sess, prefix, write_meta_graph=False, write_state=False)
  return prefix


def test_inspect_into_a_closed_pipe_or_head_exits_quietly(tmp_path):
  prefix = _small_checkpoint(tmp_path)
  argv = [sys.executable, "-m", "dnn_toolkit", "inspect", prefix, "--json"]
  # A pipe whose reader has already gone, as after `| head` exited: every write fails.
  read_end, write_end = os.pipe()
  os.close(read_end)
  closed = subprocess.Popen(argv, stdout=write_end, stderr=subprocess.PIPE)
  os.close(write_end)
  # dnn-toolkit inspect PREFIX --json | head -n 2 (both run at once, to save time)
  inspect = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  head = subprocess.Popen(["head", "-n", "2"], stdin=inspect.stdout,
                          stdout=subprocess.PIPE)
  inspect.stdout.close()  # Only head reads it now.
  try:
    _, closed_err = closed.communicate(timeout=DEADLINE_S)
    out, _ = head.communicate(timeout=DEADLINE_S)
    _, err = inspect.communicate(timeout=DEADLINE_S)
  finally:
    for proc in (closed, inspect, head):
      if proc.poll() is None:
        proc.kill()
        proc.wait()
  assert closed.returncode == 128 + signal.SIGPIPE == cli.EXIT_BROKEN_PIPE
  assert closed_err == b""  # No "Broken pipe", no traceback.
  assert inspect.returncode in (0, cli.EXIT_BROKEN_PIPE) and err == b""
  assert out.decode().splitlines() == ["{", f' "checkpoint": {json.dumps(prefix)},']
