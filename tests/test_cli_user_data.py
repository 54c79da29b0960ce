"""The data a user brings, answered right: each case as a user meets it.

Real `dnn-toolkit` processes on files of the formats users have: MNIST's test set as
the uint8 arrays `mnist.load_data()` returns (an .npz, a bare .npy), a CSV with a header
and class names, labels counted from 1. The references are computed here with NumPy
from the run's own weights (`loading.load_run`, fed the scaled inputs explicitly).

The MNIST run is small (100 images of each digit, 2 epochs): what is checked is that
raw pixels give the same answers as the run's own scaled test split, not how good the
net is.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _cli_jobs import DEADLINE, assert_refused, cli, files_under

from dnn_toolkit import checkpoints
from dnn_toolkit.data import mnist
from dnn_toolkit.data.scaling import Scaling
from dnn_toolkit.errors import DataError
from dnn_toolkit.runs import loading

SPECIES = ("setosa", "versicolor", "virginica")


@pytest.fixture(scope="module")
def pixels():
  """MNIST's test set as Keras gives it: uint8 [10000, 28, 28], uint8 [10000]."""
  return mnist.load_data()[1]


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp("mnist") / "run")
  code, out, err = cli("train", "--per-class", "100", "--hidden-layers", "50",
                       "--epochs", "2", "--batch-size", "50", "--run-dir", run_dir,
                       "--quiet")
  assert (code, err) == (0, ""), err
  return run_dir


def _reference(run_dir, inputs):
  """Probabilities `[n, k]` of the run's net on inputs already scaled, with NumPy."""
  with loading.load_run(run_dir) as run:
    logits = run.sess.run(run.dnn.logits, {run.dnn.X: inputs}).astype(np.float64)
  exp = np.exp(logits - logits.max(axis=1, keepdims=True))
  return exp / exp.sum(axis=1, keepdims=True)


def _evaluation(*argv):
  code, out, err = cli("evaluate", *argv, "--json")
  assert (code, err) == (0, ""), err
  return json.loads(out)


# ------------------------------------------------ 1. scaling is part of the model


def test_evaluate_takes_raw_uint8_pixels_as_the_run_scaled_them(mnist_run, pixels,
                                                                tmp_path):
  """Keras's uint8 test images give what the run's own test split gives, exactly."""
  images, labels = pixels
  path = tmp_path / "test.npz"
  np.savez(path, x=images, y=labels)
  own = _evaluation(mnist_run)
  raw = _evaluation(mnist_run, "--data", path)
  assert raw["n"] == own["n"] == 10000
  assert raw["accuracy"] == own["accuracy"] and raw["loss"] == own["loss"]
  assert raw["confusion_matrix"] == own["confusion_matrix"]
  expected = _reference(mnist_run, images.reshape(-1, 784) / np.float32(255))
  assert raw["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == labels),
                                          abs=1e-12)
  assert raw["accuracy"] > 0.5  # not what a net fed pixels it never saw gets


def test_predict_reads_a_bare_npy_of_pixels_in_any_dtype(mnist_run, pixels, tmp_path):
  images = pixels[0][:300]
  expected = _reference(mnist_run, images.reshape(-1, 784) / np.float32(255))
  for dtype in (np.uint8, np.int64, np.float32):
    source = tmp_path / f"images-{np.dtype(dtype).name}.npy"
    np.save(source, images.astype(dtype))
    out = tmp_path / f"predictions-{np.dtype(dtype).name}.npy"
    code, stdout, err = cli("predict", mnist_run, "--data", source, "--out", out)
    assert (code, err) == (0, ""), err
    assert stdout == (f"predicted 300 examples into {out} (classes 0, 1, 2, 3, 4, 5, 6, "
                      "7, 8, 9)\n")
    table = np.load(out)
    np.testing.assert_allclose(table["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(table["class"], expected.argmax(1))


def test_values_already_divided_by_255_are_refused_unless_said_so(mnist_run, pixels,
                                                                  tmp_path):
  images, labels = pixels
  path = tmp_path / "scaled.npz"
  np.savez(path, x=images / np.float32(255), y=labels)
  before = files_under(mnist_run)
  assert_refused(cli("evaluate", mnist_run, "--data", path),
                 f"{path} holds fractional values from 0 to 1; expected raw values in "
                 "[0, 255] (the run divides its inputs by 255",
                 "pass --scaled if they are already scaled as the run's inputs")
  assert_refused(cli("predict", mnist_run, "--data", path, "--out", tmp_path / "p.csv"),
                 "expected raw values in [0, 255]", "--scaled")
  assert files_under(mnist_run) == before
  assert not (tmp_path / "p.csv").exists()
  said = _evaluation(mnist_run, "--data", path, "--scaled")
  assert said["accuracy"] == _evaluation(mnist_run)["accuracy"]


def test_load_run_takes_raw_pixels_and_the_loaders_arrays_alike(mnist_run, pixels):
  images, labels = pixels
  flat = images.reshape(-1, 784)
  loaded = mnist.load_mnist()
  compact = mnist.load_mnist(compact=True)
  with loading.load_run(mnist_run) as run:
    assert run.scaling == Scaling(divide_by=255)
    expected = run.predict(flat)  # raw uint8
    assert np.mean(expected == labels) > 0.5
    np.testing.assert_array_equal(run.predict(loaded.test.images), expected)
    np.testing.assert_array_equal(run.predict(loaded.test.images[:50]), expected[:50])
    np.testing.assert_array_equal(run.predict(compact.test.images), expected)
    np.testing.assert_array_equal(run.predict(compact.test.images[:50]), expected[:50])
    np.testing.assert_array_equal(run.predict(flat.astype(np.float64)), expected)
    plain = np.array(loaded.test.images)  # a copy: no longer says it is scaled
    with pytest.raises(DataError, match=r"`images` holds fractional values from 0 to "
                       r"1; expected raw values in \[0, 255\].*pass scaled=True"):
      run.predict(plain)
    np.testing.assert_array_equal(run.predict(plain, scaled=True), expected)
    metrics = run.evaluate(images.reshape(-1, 784), labels)
    assert metrics == run.evaluate(loaded.test.images, loaded.test.labels)
    with pytest.raises(DataError, match=r"values from -1 to 255"):
      run.predict(np.where(flat == 0, -1, flat.astype(np.int64)))


_SERVE = """
import json, sys
import numpy as np
import tensorflow as tf
export_dir, images_path, out_path = sys.argv[1:]
model = tf.saved_model.load(export_dir)
pixels = np.load(images_path)
out = model.signatures["serving_default"](inputs=tf.constant(pixels, tf.float32))
classes = out["classes"].numpy()  # int64, or (string classes) bytes objects
np.savez(out_path, classes=classes.astype(bytes) if classes.dtype == object else classes,
         probabilities=out["probabilities"].numpy())
"""


def _serve(export_dir, images, tmp_path):
  """The exported model's answers in a fresh TensorFlow process, without dnn_toolkit."""
  images_path, out_path = tmp_path / "served-in.npy", tmp_path / "served-out.npz"
  np.save(images_path, images)
  script = tmp_path / "serve.py"
  script.write_text(_SERVE)
  proc = subprocess.Popen([sys.executable, str(script), str(export_dir),
                           str(images_path), str(out_path)], stderr=subprocess.PIPE,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                                              PYTHONPATH=""), cwd=tmp_path)
  try:
    _, err = proc.communicate(timeout=DEADLINE)
  finally:
    if proc.poll() is None:
      os.kill(proc.pid, 9)
      proc.wait()
  assert proc.returncode == 0, err[-3000:]
  return np.load(out_path)


def test_the_savedmodel_takes_raw_pixels_and_says_so(mnist_run, pixels, tmp_path):
  images = pixels[0][:200].reshape(-1, 784)
  export_dir = tmp_path / "exported"
  code, out, err = cli("export", mnist_run, "--out", export_dir)
  assert (code, err) == (0, ""), err
  assert ("inputs 'inputs' float32 [None, 784]: raw values in [0, 255] such as pixels, "
          "in any dtype; divide by 255 is applied") in out
  with open(export_dir / "assets.extra" / "signature.json") as f:
    doc = json.load(f)
  assert doc["inputs"]["inputs"]["scaling"] == {"scaling": "divide by 255"}
  assert doc["outputs"]["classes"]["labels"] == list(range(10))
  served = _serve(export_dir, images, tmp_path)
  expected = _reference(mnist_run, images / np.float32(255))
  np.testing.assert_allclose(served["probabilities"], expected, atol=1e-6)
  np.testing.assert_array_equal(served["classes"], expected.argmax(1))


# ---------------------------------- 2. the lesson's transfer recipe, all from the CLI


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
  """`train --digits 0-4`, then `transfer --digits 5-9`: the lesson's recipe."""
  root = tmp_path_factory.mktemp("recipe")
  base, new = str(root / "digits-0-4"), str(root / "digits-5-9")
  code, _, err = cli("train", "--digits", "0-4", "--per-class", "200",
                     "--hidden-layers", "20", "20", "20", "20", "--epochs", "1",
                     "--run-dir", base, "--quiet")
  assert (code, err) == (0, ""), err
  code, out, err = cli("transfer", "--from", base, "--reuse", "hidden[123]",
                       "--replace", "4", "--freeze", "hidden[12]", "--cache-frozen",
                       "--digits", "5-9", "--per-class", "100", "--epochs", "2",
                       "--run-dir", new, "--quiet")
  assert (code, err) == (0, ""), err
  return base, new, out


def test_train_digits_trains_the_base_net_on_those_digits_only(digits_runs, pixels):
  base, _, _ = digits_runs
  record = checkpoints.RunRecord.read(base)
  assert record.config.n_outputs == 5
  assert record.data["digits"] == record.data["classes"] == [0, 1, 2, 3, 4]
  assert record.data["n_train"] == 1000
  report = _evaluation(base)  # its own test split: the test images of 0-4
  assert report["classes"] == [0, 1, 2, 3, 4]
  assert report["n"] == int(np.isin(pixels[1], range(5)).sum())
  # Resuming reloads the same task (its digests would refuse another).
  code, out, err = cli("train", "--resume", "--run-dir", base, "--epochs", "2",
                       "--quiet")
  assert (code, err) == (0, ""), err
  assert out.startswith("trained 2 epochs")


def test_a_transfer_to_5_9_answers_5_9(digits_runs, pixels, tmp_path):
  _, new, out = digits_runs
  assert "restored hidden1, hidden2, hidden3 (frozen: hidden1, hidden2)" in out
  assert "trained 2 epochs on 500 examples" in out
  images, labels = pixels
  keep = labels >= 5
  path = tmp_path / "test.npz"
  np.savez(path, x=images, y=labels)  # all ten digits: 0-4 are not the run's
  report = _evaluation(new, "--data", path)
  assert report["classes"] == [5, 6, 7, 8, 9] and report["n"] == int(keep.sum())
  assert report == dict(_evaluation(new), data=report["data"])  # its own test split
  np.save(tmp_path / "images.npy", images[:400])
  out_path = tmp_path / "predictions.csv"
  code, stdout, err = cli("predict", new, "--data", tmp_path / "images.npy", "--out",
                          out_path)
  assert (code, err) == (0, ""), err
  assert "(classes 5, 6, 7, 8, 9)" in stdout
  with open(out_path) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["class", "p5", "p6", "p7", "p8", "p9"]
  expected = _reference(new, images[:400].reshape(-1, 784) / np.float32(255))
  assert [int(r[0]) for r in rows[1:]] == (expected.argmax(1) + 5).tolist()
  export_dir = tmp_path / "exported"
  assert cli("export", new, "--out", export_dir)[0] == 0
  served = _serve(export_dir, images[:400].reshape(-1, 784), tmp_path)
  np.testing.assert_array_equal(served["classes"], expected.argmax(1) + 5)


# ----------------------------------------------- 3. class labels as users have them


def _iris_like(path, n=240, seed=0, label_name="species", labels=SPECIES):
  """A CSV with a header, 4 features on a flower's scales and a class name per row."""
  rng = np.random.default_rng(seed)
  centres = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
  classes = rng.integers(0, 3, n)
  x = centres[classes] + rng.normal(scale=0.3, size=(n, 4))
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width",
                     label_name])
    for row, c in zip(x, classes):
      writer.writerow([f"{v:.1f}" for v in row] + [labels[c]])
  return str(path)


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("iris")
  data = _iris_like(root / "iris.csv")
  run_dir = str(root / "run")
  code, _, err = cli("train", "--data", data, "--label-column", "species",
                     "--standardize", "--hidden-layers", "16", "--epochs", "30",
                     "--batch-size", "20", "--run-dir", run_dir, "--quiet")
  assert (code, err) == (0, ""), err
  return run_dir


def test_a_csv_of_class_names_trains_and_answers_in_names(iris_run, tmp_path):
  record = checkpoints.RunRecord.read(iris_run)
  assert record.data["classes"] == list(SPECIES) and record.config.n_outputs == 3
  report = _evaluation(iris_run)
  assert report["classes"] == list(SPECIES) and report["accuracy"] > 0.8
  # New rows keep their species column: the run's label column is no feature.
  new = _iris_like(tmp_path / "new.csv", n=50, seed=1)
  out = tmp_path / "predictions.csv"
  code, stdout, err = cli("predict", iris_run, "--data", new, "--out", out)
  assert (code, err) == (0, ""), err
  assert "(classes setosa, versicolor, virginica)" in stdout
  with open(out) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["class", "p_setosa", "p_versicolor", "p_virginica"]
  with open(new) as f:
    table = list(csv.reader(f))[1:]
  features = np.array([[float(v) for v in r[:4]] for r in table])
  standardization = record.data["standardization"]
  expected = _reference(iris_run, ((features - standardization["mean"]) /
                                   standardization["std"]).astype(np.float32))
  assert [r[0] for r in rows[1:]] == [SPECIES[i] for i in expected.argmax(1)]
  np.testing.assert_allclose(np.array([r[1:] for r in rows[1:]], float), expected,
                             atol=1e-6)
  # Evaluating on the file uses the same column, by the names it holds.
  on_file = _evaluation(iris_run, "--data", new)
  assert on_file["n"] == 50 and on_file["classes"] == list(SPECIES)
  truth = np.array([SPECIES.index(r[4]) for r in table])
  assert on_file["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == truth))


def test_the_savedmodel_of_a_named_run_answers_names(iris_run, tmp_path):
  export_dir = tmp_path / "exported"
  code, out, err = cli("export", iris_run, "--out", export_dir)
  assert (code, err) == (0, ""), err
  assert "'classes' (string: setosa, versicolor, virginica)" in out
  features = np.array([[5.0, 3.4, 1.5, 0.2], [6.6, 3.0, 5.6, 2.0]], np.float32)
  served = _serve(export_dir, features, tmp_path)
  standardization = checkpoints.RunRecord.read(iris_run).data["standardization"]
  expected = _reference(iris_run, ((features - standardization["mean"]) /
                                   standardization["std"]).astype(np.float32))
  assert [c.decode() for c in served["classes"]] == [SPECIES[i] for i in
                                                     expected.argmax(1)]
  np.testing.assert_allclose(served["probabilities"], expected, atol=1e-6)


def test_labels_counted_from_1_train_as_their_own_classes(tmp_path):
  data = _iris_like(tmp_path / "one-based.csv", label_name="label", labels=(1, 2, 3))
  run_dir = str(tmp_path / "run")
  code, out, err = cli("train", "--data", data, "--standardize", "--hidden-layers", "16",
                       "--epochs", "30", "--batch-size", "20", "--run-dir", run_dir,
                       "--quiet")
  assert (code, err) == (0, ""), err
  record = checkpoints.RunRecord.read(run_dir)
  assert record.config.n_outputs == 3 and record.data["classes"] == [1, 2, 3]
  report = _evaluation(run_dir)
  assert report["classes"] == [1, 2, 3] and report["accuracy"] > 0.8
  assert f"test accuracy {report['accuracy']:.4f}" in out


def test_a_class_without_training_examples_is_named(tmp_path):
  rng = np.random.default_rng(0)
  path = tmp_path / "pets.npz"
  np.savez(path, x_train=rng.normal(size=(60, 3)),
           y_train=np.array(["cat", "dog"] * 30),
           x_test=rng.normal(size=(3, 3)), y_test=np.array(["cat", "dog", "fox"]))
  code, out, err = cli("train", "--data", path, "--hidden-layers", "4", "--epochs", "1",
                       "--run-dir", tmp_path / "run", "--quiet")
  assert code == 0, err
  assert err == (f"dnn-toolkit: warning: {path}: no training example of class(es) "
                 "'fox' (1 in test); the net will not learn to predict them. Give more "
                 "rows of them, or leave them out of the file.\n")


# ------------------------------------------------- 4. resume, and 5. the command line


def test_resuming_a_finished_run_says_how_to_extend_it(mnist_run):
  before = files_under(mnist_run)
  code, out, err = cli("train", "--resume", "--run-dir", mnist_run)
  assert (code, err) == (0, "")
  assert out == (f"nothing left to train: {mnist_run} has trained 2 of its 2 epochs. "
                 "To train on, resume with --epochs 12 (any number above 2).\n")
  assert files_under(mnist_run) == before


def test_resuming_a_finished_transfer_run_says_how_to_extend_it(digits_runs):
  _, new, _ = digits_runs
  before = files_under(new)
  code, out, err = cli("transfer", "--resume", "--run-dir", new)
  assert (code, err) == (0, ""), err
  assert out == (f"nothing left to train: {new} has trained 2 of its 2 epochs. To "
                 "train on, resume with --epochs 12 (any number above 2).\n")
  assert files_under(new) == before


def test_a_mistyped_flag_is_one_line_without_the_usage():
  code, out, err = cli("train", "--epoch", "3")
  assert (code, out) == (2, "")
  assert err == ("dnn-toolkit train: error: unrecognized arguments: --epoch 3; did you "
                 "mean '--epochs'?\n")
  code, _, err = cli("predict", "run")
  assert code == 2 and err == ("dnn-toolkit predict: error: the following arguments are "
                               "required: --data, --out (see 'dnn-toolkit predict "
                               "--help')\n")


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--data", "{missing}"],
     "argument --data: No data at {missing}: no such file"),
    (["inspect", "{missing}"], "argument CHECKPOINT: nothing at '{missing}'"),
    (["tensorboard", "{missing}"], "argument RUN_DIR: no directory at '{missing}'"),
    (["evaluate", "{run}", "--data", "{missing}"],
     "argument --data: No data at {missing}"),
    (["predict", "{run}", "--data", "{missing}", "--out", "{out}"],
     "argument --data: No data at {missing}"),
    (["transfer", "--from", "{run}", "--reuse", "hidden1", "--data", "{missing}"],
     "argument --data: No data at {missing}"),
])
def test_a_missing_path_is_refused_before_tensorflow_loads(tmp_path, argv, fragment):
  """A `tensorflow` that cannot be imported proves the answer needed none."""
  fake = tmp_path / "no_tensorflow" / "tensorflow"
  fake.mkdir(parents=True)
  (fake / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
  (tmp_path / "run").mkdir()
  names = {"missing": str(tmp_path / "gone.csv"), "run": str(tmp_path / "run"),
           "out": str(tmp_path / "p.csv")}
  argv = [a.format(**names) for a in argv]
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(fake.parent), os.environ.get("PYTHONPATH", "")]))
  proc = subprocess.run([sys.executable, "-m", "dnn_toolkit", *argv], capture_output=True,
                        text=True, env=env, timeout=DEADLINE, check=False)
  assert proc.returncode == 2 and proc.stdout == ""
  assert proc.stderr.count("\n") == 1 and fragment.format(**names) in proc.stderr, (
      proc.stderr)


def test_messages_a_flag_caused_name_the_flag(tmp_path):
  data = _iris_like(tmp_path / "iris.csv", n=60)
  run_dir = str(tmp_path / "run")
  base = ["train", "--data", data, "--hidden-layers", "4", "--epochs", "1",
          "--run-dir", run_dir, "--quiet"]
  assert_refused(cli(*base, "--label-column", "species", "--batch-size", "50"),
                 "argument --batch-size: Received an invalid value for --batch-size, "
                 "expected at most the 48 training examples. Received: --batch-size 50")
  assert_refused(cli(*base, "--label-column", "kind"),
                 "argument --label-column: Received an invalid value for "
                 "--label-column, expected one of the columns of", "Received: "
                 "--label-column kind")
  assert_refused(cli(*base), "argument --label-column: Received no --label-column for",
                 "which has no header column named 'label'")
  assert_refused(cli(*base, "--label-column", "species", "--n-outputs", "2",
                     "--batch-size", "20"),
                 "argument --n-outputs: Expected --n-outputs of at least 3, the classes "
                 "of the `train` labels (0 .. 2). Received: --n-outputs 2")
  assert not os.path.exists(run_dir)


def test_inspect_marks_an_evaluation_of_a_replaced_checkpoint(tmp_path):
  data = _iris_like(tmp_path / "iris.csv", n=120)
  run_dir = str(tmp_path / "run")
  train = ["train", "--data", data, "--label-column", "species", "--hidden-layers", "8",
           "--batch-size", "20", "--run-dir", run_dir, "--quiet"]
  assert cli(*train, "--epochs", "1")[0] == 0
  assert cli("evaluate", run_dir, "--checkpoint", "latest")[0] == 0
  code, out, _ = cli("inspect", run_dir)
  assert code == 0 and "stale" not in out
  assert cli("train", "--resume", "--run-dir", run_dir, "--epochs", "2", "--quiet")[0] == 0
  code, out, err = cli("inspect", run_dir)
  assert (code, err) == (0, ""), err
  latest = os.path.relpath(checkpoints.RunRecord.read(run_dir).latest_checkpoint,
                           run_dir)
  assert (f"  stale: the run's latest checkpoint is now {latest}; evaluate it with: "
          f"dnn-toolkit evaluate {run_dir} --checkpoint latest") in out.splitlines()
  code, out, _ = cli("inspect", run_dir, "--json")
  assert json.loads(out)["evaluation"]["stale"] == latest
