"""Tests of `dnn-toolkit export`: the SavedModel, loaded in a fresh TF 2 process, and the
frozen GraphDef, imported in a fresh TF 1.x-style graph, agree with `predict`.

Features go in unscaled: the standardized run's mean and std are in the exported graph.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from _cli_jobs import (
  N_CLASSES,
  N_FEATURES,
  assert_refused,
  cli,
  files_under,
  train_run,
  write_npz,
)

# Runs in a child: nothing of dnn_toolkit is imported there.
_LOAD_BOTH = """
import sys
import numpy as np
import tensorflow as tf
export_dir, data_path, out_path = sys.argv[1:]
x = np.load(data_path)["x"]
model = tf.saved_model.load(export_dir)
outputs = model.signatures["serving_default"](inputs=tf.constant(x))
graph_def = tf.compat.v1.GraphDef()
with open(export_dir + "/frozen_graph.pb", "rb") as f:
  graph_def.ParseFromString(f.read())
with tf.Graph().as_default() as graph:
  tf.compat.v1.import_graph_def(graph_def, name="")
  with tf.compat.v1.Session(graph=graph) as sess:
    classes, probabilities = sess.run(["classes:0", "probabilities:0"], {"inputs:0": x})
np.savez(out_path, classes=outputs["classes"].numpy(),
         probabilities=outputs["probabilities"].numpy(), frozen_classes=classes,
         frozen_probabilities=probabilities)
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  root = tmp_path_factory.mktemp("export")
  train_run(root / "run", write_npz(root / "data.npz"), standardize=True)
  return str(root / "run")


def test_exported_model_agrees_with_predict_in_a_fresh_process(run, tmp_path):
  data_path = write_npz(tmp_path / "new.npz", n=123, seed=7, with_labels=False)
  export_dir = tmp_path / "exported"
  code, out, err = cli("export", run, "--out", export_dir, "--frozen-graph")
  assert (code, err) == (0, ""), err
  assert f"inputs 'inputs' float32 [None, {N_FEATURES}]" in out
  assert {"saved_model.pb", "frozen_graph.pb"} <= set(os.listdir(export_dir))
  assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-export")]
  predicted = tmp_path / "predicted.npy"
  assert cli("predict", run, "--data", data_path, "--out", predicted)[0] == 0
  script = tmp_path / "load.py"
  script.write_text(_LOAD_BOTH)
  proc = subprocess.Popen([sys.executable, str(script), str(export_dir), data_path,
                           str(tmp_path / "served.npz")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  try:
    _, err = proc.communicate(timeout=180)
  finally:
    if proc.poll() is None:
      os.kill(proc.pid, 9)
      proc.wait()
  assert proc.returncode == 0, err[-3000:]
  served = np.load(tmp_path / "served.npz")
  expected = np.load(predicted)
  assert served["probabilities"].shape == (123, N_CLASSES)
  for prefix in ("", "frozen_"):
    np.testing.assert_array_equal(served[prefix + "classes"], expected["class"])
    np.testing.assert_allclose(served[prefix + "probabilities"],
                               expected["probabilities"], atol=1e-5)


@pytest.mark.parametrize("case", ["not empty", "a file", "no run"])
def test_refuses_an_existing_out_and_overwrites_nothing(run, tmp_path, case):
  target = tmp_path / "exported"
  if case == "not empty":
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
  elif case == "a file":
    target.write_text("mine\n")
  before = files_under(tmp_path)
  run_dir = tmp_path / "nowhere" if case == "no run" else run
  fragments = ["RUN", "nowhere"] if case == "no run" else ["--out", "already exists"]
  assert_refused(cli("export", run_dir, "--out", target), *fragments)
  assert files_under(tmp_path) == before
  assert case != "no run" or not target.exists()


def test_an_empty_out_directory_is_used(run, tmp_path):
  target = tmp_path / "exported"
  target.mkdir()
  code, _, err = cli("export", run, "--out", target, "--checkpoint", "latest")
  assert (code, err) == (0, ""), err
  assert "saved_model.pb" in os.listdir(target)
