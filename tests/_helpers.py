"""Plain helpers shared by test modules (fixtures live in conftest.py)."""

import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.config import DNNConfig
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training


def files_of(directory, skip=()):
  """{relative path: (mtime_ns, bytes)} of every file under `directory`.

  `skip`: names of subdirectories left out (e.g. ("logs",)).
  """
  found = {}
  for root, dirs, names in os.walk(directory):
    dirs[:] = [d for d in dirs if not (root == directory and d in skip)]
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = (os.stat(path).st_mtime_ns, f.read())
  return found


# ------------------------------------------- a small saved model (scopes, transfer)

V1 = tf.compat.v1
GK = V1.GraphKeys
N_INPUTS = 7
SMALL = DNNConfig(hidden_layers=(6, 5, 4), n_outputs=3, batch_norm=True,
                  dropout_rate=0.0, seed=1)


def small_data(n=120, seed=0, n_classes=3):
  """Learnable (X [n, N_INPUTS] float32, y [n] int64) for the SMALL net."""
  rng = np.random.RandomState(seed)
  X = rng.rand(n, N_INPUTS).astype(np.float32)
  y = (np.digitize(X[:, 0] + X[:, 1], [0.7, 1.3]) % n_classes).astype(np.int64)
  return X, y


def variable_values(sess, collection=GK.MODEL_VARIABLES):
  """{op name: value} of a collection's variables in the Session's graph."""
  variables = sess.graph.get_collection(collection)
  return dict(zip([v.op.name for v in variables], sess.run(variables)))


def save_small_model(prefix, config=SMALL, train_steps=True):
  """Builds, trains briefly and saves `config` (all global variables, optimizer slots
  included, as the 'latest' checkpoint does); returns {name: value} of its model
  variables."""
  with tf.Graph().as_default() as graph:
    dnn = build_dnn(config, N_INPUTS)
    init = V1.global_variables_initializer()
    with V1.Session(graph=graph) as sess:
      sess.run(init)
      if train_steps:  # Moves weights and batch norm's moving statistics off their init.
        training.fit(sess, dnn, small_data(), small_data(seed=1), epochs=1, verbose=0)
      V1.train.Saver().save(sess, prefix, write_meta_graph=False)
      return variable_values(sess)


def assert_values_equal(values, expected, names):
  for name in names:
    np.testing.assert_array_equal(values[name], expected[name], err_msg=name)


def assert_values_differ(values, other, names):
  for name in names:
    assert not np.array_equal(values[name], other[name]), name


def mount_tmpfs(path, size):
  """Mounts a tmpfs of `size` (e.g. '4m') at `path`, a small disk to fill; skips the test
  where mounting is not allowed (it needs root). Unmount with `umount -l path`."""
  os.makedirs(path, exist_ok=True)
  result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True, text=True, check=False)
  if result.returncode:
    pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")


def fill_disk(path):
  """Writes zeros to the file `path` until its file system is full."""
  # Unbuffered: a buffered file would try the refused bytes again when it closes.
  with open(path, "wb", buffering=0) as f:
    try:
      while True:
        f.write(b"\0" * 65536)
    except OSError:
      pass


def stop_process(process, timeout=10):
  """Ends `process` (a Popen) by its pid: SIGTERM, then SIGKILL after `timeout` s."""
  process.terminate()
  try:
    process.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
