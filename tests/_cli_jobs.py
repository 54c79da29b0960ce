"""Helpers of the job-cycle CLI tests: a user's small data files, a run, a CLI child.

The data are not MNIST-shaped: 6 features on scales far from 0 and 1 (so that a
standardized run differs from one that is not), 3 classes, a few hundred rows.
"""

import csv
import os
import subprocess
import sys

import numpy as np
from _helpers import files_of

from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import files as datasets

N_FEATURES = 6
N_CLASSES = 3
CONFIG = DNNConfig(hidden_layers=(12, 8), n_outputs=N_CLASSES, seed=0, dropout_rate=0.0)
#: Seconds a CLI child may take before the test ends it (TensorFlow's import included).
DEADLINE = 180


def make_arrays(n=300, seed=0):
  """Learnable (x float32 [n, 6] around 50 with spread 10, y int64 [n] in 0..2)."""
  rng = np.random.default_rng(seed)
  z = rng.normal(size=(n, N_FEATURES))
  y = np.argmax(z @ np.random.default_rng(99).normal(size=(N_FEATURES, N_CLASSES)),
                axis=1).astype(np.int64)
  return (50.0 + 10.0 * z).astype(np.float32), y


def write_npz(path, n=300, seed=0, with_labels=True):
  x, y = make_arrays(n, seed)
  np.savez(path, **({"x": x, "y": y} if with_labels else {"x": x}))
  return str(path)


def write_csv(path, n=300, seed=0, with_labels=True, n_features=N_FEATURES):
  x, y = make_arrays(n, seed)
  x = x[:, :n_features]
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    names = [f"f{i}" for i in range(n_features)]
    writer.writerow(names + ["label"] if with_labels else names)
    for row, label in zip(x, y):
      writer.writerow([f"{v:.6f}" for v in row] + ([int(label)] if with_labels else []))
  return str(path)


def train_run(run_dir, data_path, *, standardize=False, epochs=3, **load_kwargs):
  """Trains CONFIG on a data file in-process as `train --data` does; returns Datasets."""
  loaded = datasets.load_arrays(data_path, standardize=standardize, **load_kwargs)
  lifecycle.train(CONFIG, loaded.train, loaded.validation, test=loaded.test,
                   run_dir=str(run_dir), epochs=epochs, batch_size=20, verbose=0,
                   data=loaded.identity)
  return loaded


def cli(*argv, timeout=DEADLINE):
  """Runs `python -m dnn_toolkit ARGV` as a child; returns (code, stdout, stderr).

  The child is ended by its pid if it outlives `timeout`, and always waited for.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.Popen([sys.executable, "-m", "dnn_toolkit", *map(str, argv)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env)
  try:
    out, err = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    os.kill(proc.pid, 9)
    proc.communicate()
    raise AssertionError(f"dnn-toolkit {' '.join(map(str, argv))} ran past {timeout} s")
  finally:
    if proc.poll() is None:
      os.kill(proc.pid, 9)
      proc.wait()
  return proc.returncode, out, _without_tf_noise(err)


def _without_tf_noise(err):
  """stderr without the C++ start-up lines TensorFlow prints before Python runs."""
  noise = ("WARNING: All log messages before absl", "E0000 ", "I0000 ", "W0000 ",
           "To enable the following instructions")
  return "".join(line for line in err.splitlines(keepends=True)
                 if not line.startswith(noise))


def assert_refused(result, *fragments):
  """Asserts exit code 2, nothing on stdout, one error line holding `fragments`."""
  code, out, err = result
  assert code == 2, (code, out, err)
  assert out == ""
  assert err.startswith("dnn-toolkit: error: ") and err.count("\n") == 1, err
  for fragment in fragments:
    assert fragment in err, err


def files_under(directory):
  """{relative path: bytes} of every file under `directory` (`files_of` without times)."""
  return {path: content for path, (_, content) in files_of(directory).items()}
