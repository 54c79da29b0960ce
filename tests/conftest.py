"""Fixtures shared by the test files.

Every test builds in a fresh `tf.Graph()` (the `graph` fixture) in this process, where
TensorFlow keeps its TF 2 defaults (resource variables, control flow v2). Checks of the
TF 1.x mode run in a child process (`run_python`), because
`dnn_toolkit.enable_tf1_behavior()` is process-wide and cannot be undone.
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dnn_toolkit import compat

# Without its C++ start-up lines, which would otherwise close the test run's output
# (pytest writes a process's uncaptured stderr at exit); tests of the quieting itself
# run in children of their own.
tf = compat.import_tensorflow_quietly()

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

# A suite started in the background by a shell without job control (`make test &` in a
# script) inherits SIGINT ignored, and so would every child it starts; the Ctrl-C tests
# need it delivered as a terminal delivers it. (The toolkit itself keeps an ignored
# SIGINT ignored, as Python does.)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
  signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def graph():
  """A fresh `tf.Graph`, the default graph for the duration of the test."""
  g = tf.Graph()
  with g.as_default():
    yield g


@pytest.fixture
def sess(graph):
  """A `tf.compat.v1.Session` on the test's fresh graph."""
  with tf.compat.v1.Session(graph=graph) as session:
    yield session


def _run_python(code, timeout=120):
  """Runs `code` in a new Python process (this interpreter); returns its stdout.

  The tests folder is on the child's `sys.path`, so it can import a test module and
  run the same checks there. Fails the test, with the child's output, unless it exits 0.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS_DIR, env.get("PYTHONPATH")]))
  proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                        capture_output=True, text=True, timeout=timeout, env=env,
                        check=False)
  assert proc.returncode == 0, (
      f"child process exited {proc.returncode}\n--- stdout ---\n{proc.stdout}"
      f"\n--- stderr (end) ---\n{proc.stderr[-6000:]}")
  return proc.stdout


@pytest.fixture(scope="session")
def run_python():
  """`run_python(code)`: runs a code string in a fresh process, asserts it exits 0."""
  return _run_python


def _make_toy_data(n_train=240, n_valid=60, n_features=20, n_classes=3, seed=0):
  """Learnable synthetic data: ((X_train, y_train), (X_valid, y_valid)).

  Features are float32 N(0, 1); labels (int64) are the argmax of a fixed random linear
  map of the features, so a tiny net learns them in a few epochs.
  """
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n_train + n_valid, n_features)).astype(np.float32)
  y = np.argmax(X @ rng.normal(size=(n_features, n_classes)), axis=1).astype(np.int64)
  return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


@pytest.fixture
def toy_data():
  """((X_train [240, 20], y_train [240]), (X_valid [60, 20], y_valid [60])), 3 classes."""
  return _make_toy_data()


@pytest.fixture(scope="session")
def make_toy_data():
  """`make_toy_data(n_train=240, n_valid=60, n_features=20, n_classes=3, seed=0)`."""
  return _make_toy_data


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory):
  """(prefix, {name: value}) of a briefly trained `_helpers.SMALL` model, saved once."""
  from _helpers import save_small_model  # pylint: disable=import-outside-toplevel
  prefix = str(tmp_path_factory.mktemp("base") / "model.ckpt")
  return prefix, save_small_model(prefix)


@pytest.fixture
def saved(saved_once, tmp_path):
  """(prefix, {name: value}) of a trained SMALL model, a copy the test may damage."""
  prefix, values = saved_once
  os.makedirs(tmp_path / "base")
  for path in glob.glob(prefix + ".*"):
    shutil.copy(path, tmp_path / "base")
  return str(tmp_path / "base" / "model.ckpt"), values
