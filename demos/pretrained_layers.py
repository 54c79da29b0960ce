"""Demo 2: techniques to improve network performance: initializers, activations, reuse.

Run from the repository root:

    .venv/bin/python demos/pretrained_layers.py                     # full run, ~1 min
    .venv/bin/python demos/pretrained_layers.py --quick             # ~15 s
    .venv/bin/python demos/pretrained_layers.py --skip-pretraining  # part 2 alone
    .venv/bin/python demos/pretrained_layers.py --pretrained RUN_DIR

(times on 2 cores). --skip-pretraining reuses the pretrained net an earlier run left in
<out>/runs/pretrained; --pretrained reuses the one of another run directory (this
demo's, or one of `dnn-toolkit train` with at least 5 hidden layers). Both skip part 1.

Part 1 trains the same net (5 hidden layers of 100 units, plain SGD, so that a bad start
is not rescaled away by an adaptive optimizer) on an MNIST subset for a fixed budget,
once per choice: Xavier or He initialization with ReLU, then ReLU, leaky ReLU or ELU with
He initialization. It prints the validation accuracy after the first and the last
epoch, the test accuracy, and the share of units off for a whole batch (a ReLU unit
there has no gradient: it is dead), mean ± std over the seeds.

Part 2 is the lesson's "Reusing a TensorFlow model". A net of 5 hidden layers (He, ELU,
Adam) is trained on digits 0-4 and saved as a checkpoint. A NEW net for digits 5-9 (a
new task with few labelled images) restores hidden1-3 and hidden5 from it with a Saver
on a scope-filtered var_list, replaces the 4th hidden layer with a new one (fresh
weights) and gets a new output layer. It trains briefly with hidden1-3 frozen, then
again with every layer fine-tuned; the same net trained from scratch on the same budget
is the baseline. The output lists the variables restored and those freshly
initialized, checked against the checkpoint's values. How much reuse helps depends on
how alike the tasks are: digits 0-4 and 5-9 share strokes, but a small dense net's
layers learn patterns fairly specific to its digits, and frozen layers cannot adapt, so
expect a small gain at most here; the seeds tell whether a difference is noise.

Outputs go under checkpoints/pretrained_layers (--out DIR to change it): results.md (the
tables), pretrained_layers.png (validation accuracy per epoch, both parts), and
runs/<name>/ (one run directory per training run, with checkpoints and TensorBoard logs;
runs/pretrained/ holds the pretrained net). The TensorBoard commands are printed at the
end: the transferred net's graph shows its `restore_pretrained` Saver wired to exactly
the reused layers.
"""

import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

import _common
from dnn_toolkit import import_tensorflow_quietly

DEMO = "pretrained_layers"

# ---------------------------------------------------------------------------- flags

# A full run measured about a minute on 2 cores; --quick trains on fewer examples, for
# fewer epochs, with one seed.
FULL = {"part1": {"examples_per_class": 1000, "epochs": 5, "seeds": (0, 1, 2)},
        "pretrain": {"examples_per_class": None, "epochs": 3},  # None: every image
        "transfer": {"examples_per_class": 100, "epochs": 10, "seeds": (0, 1, 2, 3, 4)}}
QUICK = {"part1": {"examples_per_class": 200, "epochs": 2, "seeds": (0,)},
         "pretrain": {"examples_per_class": 500, "epochs": 2},
         "transfer": {"examples_per_class": 100, "epochs": 3, "seeds": (0,)}}
BATCH_SIZE = 50
HIDDEN_LAYERS = (100, 100, 100, 100, 100)

# Part 1: plain SGD with a learning rate that lets the initializers' differences show.
PART1_BASE = {"hidden_layers": HIDDEN_LAYERS, "batch_norm": False, "dropout_rate": 0.0,
              "optimizer": "sgd", "learning_rate": 0.01}
PART1_VARIANTS = (
    ("Xavier, ReLU", {"initializer": "xavier", "activation": "relu"}),
    ("He, ReLU", {"initializer": "he", "activation": "relu"}),
    ("He, leaky ReLU", {"initializer": "he", "activation": "leaky_relu"}),
    ("He, ELU", {"initializer": "he", "activation": "elu"}),
)

# Part 2: the pretrained net (the lesson's choices without batch norm and dropout) and
# the layers the new net takes from it.
OLD_DIGITS, NEW_DIGITS = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
PRETRAINED = {"hidden_layers": HIDDEN_LAYERS, "n_outputs": len(OLD_DIGITS),
              "initializer": "he", "activation": "elu", "batch_norm": False,
              "dropout_rate": 0.0, "optimizer": "adam", "learning_rate": 0.001,
              "seed": 0}
REUSED = (1, 2, 3, 5)     # hidden layers restored from the checkpoint
REPLACED = 4              # the new hidden layer, fresh weights
FROZEN = 3                # hidden1-3 stay as restored in the "frozen" variant
REUSE_SCOPE = "hidden[" + "".join(map(str, REUSED)) + "]"  # as the lesson's 'hidden[123]'
# (label, run name, frozen layers or None for no reuse, how the layers are restored)
TRANSFER_VARIANTS = (
    ("transfer, hidden1-3 frozen", "transfer-frozen", FROZEN, "the lesson's Saver"),
    ("transfer, all fine-tuned", "transfer-tuned", 0, "restore_scopes"),
    ("from scratch", "scratch", None, None),
)
PRETRAINED_RUN = "pretrained"
TASK_FILE = "pretraining.json"  # what the pretrained net learned, for the report
DIAGNOSTICS_EVERY = 10  # steps between TensorBoard's layer diagnostics in part 2


def parse_args(argv=None):
  p = _common.parser(__doc__, DEMO)
  reuse = p.add_mutually_exclusive_group()
  reuse.add_argument("--pretrained", metavar="RUN_DIR",
                     help="skip part 1 and the pretraining: reuse the pretrained net of "
                          "this run directory (this demo's or dnn-toolkit train's)")
  reuse.add_argument("--skip-pretraining", action="store_true",
                     help="skip part 1 and the pretraining: reuse the pretrained net an "
                          "earlier run left in <out>/runs/pretrained")
  return p.parse_args(argv)


def existing_pretrained_dir(args, out):
  """Returns the pretrained run directory to reuse (None: pretrain here), or exits.

  Runs before TensorFlow loads: a missing run costs a second, not a training run.
  """
  if args.pretrained is None and not args.skip_pretraining:
    return None
  path = args.pretrained or os.path.join(out, "runs", PRETRAINED_RUN)
  if not os.path.isfile(os.path.join(path, "state.json")):
    fix = ("run the demo once without --skip-pretraining to create it, or give a "
           "pretrained run directory with --pretrained RUN_DIR" if args.skip_pretraining
           else "give a run directory written by this demo or by `dnn-toolkit train`, or "
                "run the demo without --pretrained to pretrain one")
    _common.fail(DEMO, f"no pretrained checkpoint in {path!r} (no state.json there); "
                       f"{fix}")
  replaced = [os.path.abspath(os.path.join(out, "runs", run)) + "-seed"
              for _, run, _, _ in TRANSFER_VARIANTS]
  if any(os.path.abspath(path).startswith(prefix) for prefix in replaced):
    _common.fail(DEMO, f"--pretrained {path!r} is a run this demo replaces; "
                       "choose another --out DIR")
  return path


# --------------------------------------------- part 1: initializers and activations


def dead_percent(run_dir):
  """The mean share of hidden units off for a whole batch at the last logged step, %.

  SummaryHook logged it for TensorBoard (`dead_fraction/<layer>`); a ReLU unit there
  has a zero gradient. Leaky ReLU and ELU units are counted by the same rule, but still
  pass a small gradient and can recover.
  """
  from dnn_toolkit import summaries  # pylint: disable=import-outside-toplevel
  scalars = summaries.read_scalars(os.path.join(summaries.logdir_of(run_dir), "train"))
  last = [values[-1] for tag, (_, values) in scalars.items()
          if tag.startswith("dead_fraction/")]
  return 100 * float(np.mean(last)) if last else math.nan


def run_part1(budget, datasets, out):
  """Trains each part 1 variant once per seed; returns {variant: [per-seed metrics]}."""
  from dnn_toolkit import data, experiment  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.model import DNNConfig  # pylint: disable=import-outside-toplevel
  train = data.sample_per_class(datasets.train, budget["examples_per_class"], seed=0)
  print(f"Part 1: {len(PART1_VARIANTS)} initializer/activation choices x "
        f"{len(budget['seeds'])} seed(s); net 784-{'-'.join(map(str, HIDDEN_LAYERS))}-10"
        f", SGD (lr {PART1_BASE['learning_rate']:g}), {train.num_examples} training "
        f"images, {budget['epochs']} epochs", flush=True)
  results = {name: [] for name, _ in PART1_VARIANTS}
  total, done = len(PART1_VARIANTS) * len(budget["seeds"]), 0
  for name, choice in PART1_VARIANTS:
    for seed in budget["seeds"]:
      done += 1
      config = DNNConfig(**PART1_BASE, **choice, seed=seed)
      run_name = f"{choice['initializer']}-{choice['activation']}-seed{seed}"
      # Only the config differs between variants: the same seed gives the same shuffles,
      # and the initializer draws from the same random stream.
      run = experiment.train(
          config, train, datasets.validation, test=datasets.test,
          run_dir=_common.run_dir(out, run_name), epochs=budget["epochs"],
          batch_size=BATCH_SIZE, patience=None, verbose=0,
          hook_factories=experiment.default_hook_factories())
      curve = [h["val_accuracy"] for h in run.history]  # one per epoch
      results[name].append({"curve": curve, "test": run.test["accuracy"],
                            "dead": dead_percent(run.run_dir), "seconds": run.seconds})
      print(f"[{done:2d}/{total}] {name:<15} seed {seed}  val acc {curve[0]:.4f} (epoch "
            f"1) -> {curve[-1]:.4f} (epoch {len(curve)})  test acc "
            f"{run.test['accuracy']:.4f}  {run.seconds:5.1f}s", flush=True)
  return results


# ----------------------------------------------------- part 2: pretrained layers


def digit_task(datasets, digits):
  """(train, validation, test) holding only `digits`, relabelled 0..len(digits)-1."""
  from dnn_toolkit import data  # pylint: disable=import-outside-toplevel
  return tuple(data.relabel(data.filter_digits(split, digits), -min(digits))
               for split in (datasets.train, datasets.validation, datasets.test))


def pretrain(budget, datasets, out):
  """Trains the net to reuse on digits 0-4 and checkpoints it; returns its run dir."""
  from dnn_toolkit import data, experiment  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.model import DNNConfig  # pylint: disable=import-outside-toplevel
  train, validation, test = digit_task(datasets, OLD_DIGITS)
  if budget["examples_per_class"] is not None:
    train = data.sample_per_class(train, budget["examples_per_class"], seed=0)
  run_dir = _common.run_dir(out, PRETRAINED_RUN)
  # experiment.train saves the weights of the lowest validation loss under best/:
  # that checkpoint is what the new net reuses. Its variables are named by scope,
  # hidden1/weights ... hidden5/biases, outputs/weights: the names a Saver restores by.
  run = experiment.train(DNNConfig(**PRETRAINED), train, validation, test=test,
                         run_dir=run_dir, epochs=budget["epochs"], batch_size=BATCH_SIZE,
                         patience=None, verbose=0,
                         hook_factories=experiment.default_hook_factories())
  task = {"digits": list(OLD_DIGITS), "train_examples": train.num_examples,
          "epochs": budget["epochs"], "test_accuracy": run.test["accuracy"]}
  with open(os.path.join(run_dir, TASK_FILE), "w") as f:
    json.dump(task, f, indent=1)
  print(f"[pretrain] digits 0-4, {train.num_examples} images, {budget['epochs']} "
        f"epochs  test acc {run.test['accuracy']:.4f}  {run.seconds:5.1f}s", flush=True)
  return run_dir


def load_pretrained_or_exit(run_dir):
  """Returns the run's `transfer.Pretrained` (config, best checkpoint), or exits."""
  from dnn_toolkit import checkpoints, transfer  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.errors import DnnToolkitError  # pylint: disable=import-outside-toplevel
  try:
    pretrained = transfer.load_pretrained(run_dir, which="best")
  except (DnnToolkitError, ValueError) as error:
    _common.fail(DEMO, str(error).splitlines()[0])
  if not checkpoints.checkpoint_exists(pretrained.checkpoint):
    _common.fail(DEMO, f"no pretrained checkpoint at {pretrained.checkpoint!r} (its "
                       f"state.json names it, but {pretrained.checkpoint}.index is "
                       "missing); run the demo without --pretrained/--skip-pretraining")
  if len(pretrained.config.hidden_layers) < max(REUSED):
    _common.fail(DEMO, f"the pretrained net in {run_dir!r} has "
                       f"{len(pretrained.config.hidden_layers)} hidden layers; this demo "
                       f"reuses hidden{', hidden'.join(map(str, REUSED))}, so it needs "
                       f"at least {max(REUSED)}")
  return pretrained


def lesson_saver(v1):
  """The lesson's partial restore: a Saver whose var_list is the reused layers only.

  A Saver restores exactly the variables it was given, by name, and leaves every other
  variable as it is. Leaving hidden4 out is what replaces it: its new weights keep
  their fresh random values, while hidden1-3 and hidden5 get the pretrained ones.

  Returns:
    (the Saver, its {checkpoint name: variable} dict).
  """
  # `scope` is matched with re.match at the start of each name: 'hidden[1235]' takes
  # hidden1/, hidden2/, hidden3/ and hidden5/, not hidden4/ (it would also take
  # hidden10/ and up: checkpoints.scope_variables matches whole scope names instead).
  # The lesson lists TRAINABLE_VARIABLES; MODEL_VARIABLES holds those and batch norm's
  # moving averages (not trainable, yet part of a layer). Here, without batch norm,
  # the two are the same.
  reuse_vars = v1.get_collection(v1.GraphKeys.MODEL_VARIABLES, scope=REUSE_SCOPE)
  # A Saver's dict maps checkpoint names to variables. The lesson's
  # dict([(var.name, var.name) ...]) maps names to names, which a Saver rejects.
  reuse_vars_dict = {var.op.name: var for var in reuse_vars}
  original_saver = v1.train.Saver(reuse_vars_dict, name="restore_pretrained")
  return original_saver, reuse_vars_dict


def compare_with_checkpoint(sess, variables, checkpoint):
  """Returns {variable name: equal to the checkpoint's value?} for `variables`."""
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  saved = checkpoints.load_values(checkpoint)
  values = sess.run(variables)
  return {v.op.name: v.op.name in saved and np.array_equal(value, saved[v.op.name])
          for v, value in zip(variables, values)}


def train_transferred(tf, pretrained, config, frozen, run_dir, sets, epochs):
  """Builds the new net, restores the reused layers, trains it; returns its metrics.

  `frozen` hidden layers from the bottom stay as restored; the lesson's Saver restores
  when they are frozen, `TransferDNN.restore` (checkpoints.restore_scopes) otherwise.
  """
  from dnn_toolkit import checkpoints, summaries, training, transfer  # pylint: disable=import-outside-toplevel
  v1 = tf.compat.v1
  train, validation, test = sets
  graph = tf.Graph()
  with graph.as_default():
    # Building creates every variable of the new net with its initializer; nothing
    # has a value yet. build_transfer_dnn checks now, before any Session, that the
    # checkpoint holds the reused layers with these shapes; frozen layers are left out
    # of the optimizer's var_list, so no training step changes them.
    model = transfer.build_transfer_dnn(pretrained, config, train.images.shape[1],
                                        reuse=REUSED, frozen_layers=frozen)
    if frozen:
      saver, reuse_vars_dict = lesson_saver(v1)  # its ops show in TensorBoard's graph
    hooks = [checkpoints.CheckpointHook(run_dir, config, extra={
                 "batch_size": BATCH_SIZE, "pretrained": pretrained.checkpoint,
                 "reused": list(REUSED), "frozen_layers": frozen}),
             summaries.SummaryHook(model.dnn, summaries.logdir_of(run_dir),
                                   every_n_steps=DIAGNOSTICS_EVERY)]
    snapshot = training.ParamSnapshot()
    layers = v1.model_variables()  # weights and biases of hidden1-5 and outputs
    init = v1.global_variables_initializer()
  with v1.Session(graph=graph) as sess:
    # Restore after the initializer, in the Session, before training: the initializer
    # gives every variable a random value, the restore then overwrites the reused ones.
    # The other order would lose the pretrained values.
    sess.run(init)
    if frozen:
      saver.restore(sess, pretrained.checkpoint)  # the lesson's original_saver.restore
      restored = list(reuse_vars_dict)
    else:
      restored = list(model.restore(sess))  # the toolkit's one call
    equal = compare_with_checkpoint(sess, layers, pretrained.checkpoint)
    started = time.perf_counter()
    state = training.fit(sess, model.dnn, train, validation, epochs, BATCH_SIZE, None,
                         hooks, snapshot=snapshot, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = training.evaluate(sess, model.dnn, *test)["accuracy"]
  # CheckpointHook saved the whole new net (the lesson's new_saver.save), reused
  # layers included, under best/ and latest/.
  return {"curve": [h["val_accuracy"] for h in state.history], "test": accuracy,
          "seconds": seconds, "restored": restored, "equal": equal, "run_dir": run_dir}


def train_scratch(config, run_dir, sets, epochs):
  """Trains the same net from random weights, the baseline; returns its metrics."""
  from dnn_toolkit import experiment, summaries  # pylint: disable=import-outside-toplevel
  train, validation, test = sets
  run = experiment.train(
      config, train, validation, test=test, run_dir=run_dir, epochs=epochs,
      batch_size=BATCH_SIZE, patience=None, verbose=0,
      hook_factories=(summaries.SummaryHook.factory(every_n_steps=DIAGNOSTICS_EVERY),))
  return {"curve": [h["val_accuracy"] for h in run.history],
          "test": run.test["accuracy"], "seconds": run.seconds, "run_dir": run_dir}


def new_config(pretrained, seed):
  """The new net: the pretrained one's first 5 layer sizes, a 5-class output layer."""
  return dataclasses.replace(pretrained.config, n_outputs=len(NEW_DIGITS), seed=seed,
                             hidden_layers=pretrained.config.hidden_layers[:max(REUSED)])


def run_part2(tf, pretrained, budget, datasets, out):
  """Trains each transfer variant once per seed; returns {label: [per-seed metrics]}."""
  from dnn_toolkit import data  # pylint: disable=import-outside-toplevel
  train, validation, test = digit_task(datasets, NEW_DIGITS)
  train = data.sample_per_class(train, budget["examples_per_class"], seed=0)
  sets = (train, validation, test)
  print(f"Part 2: new task digits 5-9, {train.num_examples} training images, "
        f"{budget['epochs']} epochs, {len(budget['seeds'])} seed(s); reusing "
        f"{REUSE_SCOPE} of {pretrained.checkpoint}", flush=True)
  results = {label: [] for label, _, _, _ in TRANSFER_VARIANTS}
  total, done = len(TRANSFER_VARIANTS) * len(budget["seeds"]), 0
  for label, name, frozen, how in TRANSFER_VARIANTS:
    for seed in budget["seeds"]:
      done += 1
      run_dir = _common.run_dir(out, f"{name}-seed{seed}")
      config = new_config(pretrained, seed)
      if frozen is None:
        metrics = train_scratch(config, run_dir, sets, budget["epochs"])
      else:
        metrics = train_transferred(tf, pretrained, config, frozen, run_dir, sets,
                                    budget["epochs"])
      results[label].append(metrics)
      curve = metrics["curve"]
      print(f"[{done:2d}/{total}] {label:<27} seed {seed}  val acc {curve[0]:.4f} "
            f"(epoch 1) -> {curve[-1]:.4f} (epoch {len(curve)})  test acc "
            f"{metrics['test']:.4f}  {metrics['seconds']:5.1f}s", flush=True)
      if frozen is not None and seed == budget["seeds"][0]:
        print_restore(how, metrics, pretrained.checkpoint)
  return results


def print_restore(how, metrics, checkpoint):
  """Prints what a transferred net restored, what it initialized, and the check."""
  equal = metrics["equal"]  # {layer variable: equal to the checkpoint's value?}
  fresh = [name for name, same in equal.items() if not same]
  same = sorted(name for name, same in equal.items() if same)
  print(f"    restored by {how} from {os.path.basename(checkpoint)} "
        f"(scope {REUSE_SCOPE!r}): {', '.join(metrics['restored'])}")
  print(f"    freshly initialized: {', '.join(fresh)} (and global_step and the "
        "optimizer's own variables)")
  verdict = ("those restored, and only they, equal" if same == sorted(metrics["restored"])
             else "MISMATCH: other variables than those restored equal")
  print(f"    checked before training: {verdict} the checkpoint's values", flush=True)


# --------------------------------------------------------------------- the summary


def gap(better, worse):
  """'+x.xx points (verdict)': mean(better) - mean(worse) of two lists of fractions."""
  (m1, s1), (m2, s2) = _common.mean_std(better), _common.mean_std(worse)
  verdict = ("one seed: cannot tell from noise" if len(better) < 2 else
             "more than the seed spread" if abs(m1 - m2) > s1 + s2 else "within noise")
  return f"{100 * (m1 - m2):+.2f} points ({verdict})"


def part1_table(results, epochs):
  headers = ["initialization, activation", "val acc % after epoch 1",
             f"val acc % after epoch {epochs}", "test acc %",
             "units off for a whole batch % (end)", "s / run"]
  rows = []
  for name, _ in PART1_VARIANTS:
    runs = results[name]
    rows.append([name, _common.percent([r["curve"][0] for r in runs]),
                 _common.percent([r["curve"][-1] for r in runs]),
                 _common.percent([r["test"] for r in runs]),
                 f"{_common.mean_std([r['dead'] for r in runs])[0]:.1f}",
                 f"{_common.mean_std([r['seconds'] for r in runs])[0]:.1f}"])
  return headers, rows


def part1_effects(results):
  """Lines saying how far each choice moved the validation accuracy, and if by noise."""
  def compare(label, better, worse):
    def at(epoch, name):
      return [r["curve"][epoch] for r in results[name]]
    return (f"{label}: val acc {gap(at(0, better), at(0, worse))} after epoch 1, "
            f"{gap(at(-1, better), at(-1, worse))} after the last")
  return [compare("He instead of Xavier (ReLU)", "He, ReLU", "Xavier, ReLU"),
          compare("leaky ReLU instead of ReLU (He)", "He, leaky ReLU", "He, ReLU"),
          compare("ELU instead of ReLU (He)", "He, ELU", "He, ReLU")]


def layers_text(numbers):
  return ", ".join(f"hidden{i}" for i in numbers)


def part2_table(results, epochs):
  headers = ["net for digits 5-9", "from the checkpoint", "trained",
             "val acc % after epoch 1", f"val acc % after epoch {epochs}",
             "test acc %", "s / run"]
  trained = {FROZEN: f"hidden{REPLACED} (new), hidden5, outputs (new)",
             0: f"all (hidden{REPLACED} and outputs new)",
             None: "all (every layer new)"}
  rows = []
  for label, _, frozen, _ in TRANSFER_VARIANTS:
    runs = results[label]
    rows.append([label, "nothing" if frozen is None else layers_text(REUSED),
                 trained[frozen], _common.percent([r["curve"][0] for r in runs]),
                 _common.percent([r["curve"][-1] for r in runs]),
                 _common.percent([r["test"] for r in runs]),
                 f"{_common.mean_std([r['seconds'] for r in runs])[0]:.1f}"])
  return headers, rows


def part2_effects(results):
  """Lines comparing each transferred net with the one trained from scratch."""
  scratch = results["from scratch"]
  lines = []
  for label, _, frozen, _ in TRANSFER_VARIANTS:
    if frozen is None:
      continue
    runs = results[label]
    first = gap([r["curve"][0] for r in runs], [r["curve"][0] for r in scratch])
    test = gap([r["test"] for r in runs], [r["test"] for r in scratch])
    lines.append(f"{label} vs from scratch: val acc {first} after epoch 1, test "
                 f"acc {test}")
  return lines


def pretrained_text(run_dir, pretrained):
  """One line saying what the pretrained net is and what it learned."""
  task_path = os.path.join(run_dir, TASK_FILE)
  layers = "-".join(map(str, pretrained.config.hidden_layers))
  text = (f"Pretrained net {run_dir} (hidden {layers}, {pretrained.config.initializer}, "
          f"{pretrained.config.activation})")
  if os.path.isfile(task_path):
    with open(task_path) as f:
      task = json.load(f)
    text += (f": digits {task['digits'][0]}-{task['digits'][-1]}, "
             f"{task['train_examples']} images, {task['epochs']} epochs, test acc "
             f"{100 * task['test_accuracy']:.2f}%")
  return text


def tensorboard_lines(out, results):
  """The commands that show the transferred net's graph and every run's curves."""
  from dnn_toolkit import summaries  # pylint: disable=import-outside-toplevel
  frozen_run = results[TRANSFER_VARIANTS[0][0]][0]["run_dir"]
  runs = summaries.find_logdir(os.path.join(out, "runs"))
  return [f"dnn-toolkit tensorboard {frozen_run}   # the transferred net: its graph "
          "(restore_pretrained -> hidden1-3, hidden5) and curves",
          summaries.format_command(summaries.tensorboard_command(runs)) +
          "   # every run of this demo, overlaid"]


def write_markdown(path, sections):
  """Writes results.md from (title, table headers, rows, bullet lines) sections."""
  lines = ["# Demo 2: techniques to improve network performance", ""]
  for title, headers, rows, bullets in sections:
    lines += [f"## {title}", "", _common.format_table(headers, rows, markdown=True), ""]
    lines += [f"- {b}" for b in bullets] + [""]
  with open(path, "w") as f:
    f.write("\n".join(lines))


def plot(path, part1, part2):
  """Draws the mean validation accuracy per epoch: part 1 (if run) and part 2."""
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  from matplotlib.ticker import MaxNLocator  # pylint: disable=import-outside-toplevel
  panels = [(title, results) for title, results in (
      ("Part 1: initialization and activation (SGD)", part1),
      ("Part 2: digits 5-9, reused layers vs scratch", part2)) if results]
  figure = Figure(figsize=(6 * len(panels), 4.5))
  styles = ("o-", "s--", "^-.", "D:")  # He+ReLU and He+leaky ReLU may overlap
  for i, (title, results) in enumerate(panels):
    axes = figure.add_subplot(1, len(panels), i + 1)
    for style, (name, runs) in zip(styles, results.items()):
      curve = 100 * np.mean([r["curve"] for r in runs], axis=0)  # [epochs]
      axes.plot(np.arange(1, len(curve) + 1), curve, style, label=name)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy % (mean over seeds)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
  figure.tight_layout()
  figure.savefig(path, dpi=100)


# --------------------------------------------------------------------------- main


def main(argv=None):
  args = parse_args(argv)
  out = _common.output_dir(args.out, DEMO)  # fails in a second, before TF loads
  pretrained_dir = existing_pretrained_dir(args, out)  # likewise, when reusing one
  budget = QUICK if args.quick else FULL
  tf = import_tensorflow_quietly()  # first: it hides TF's start-up log lines
  if pretrained_dir is not None:
    pretrained = load_pretrained_or_exit(pretrained_dir)  # before any training
  datasets = _common.load_mnist_or_exit(DEMO)

  sections, part1 = [], None
  if pretrained_dir is None:
    part1 = run_part1(budget["part1"], datasets, out)
    headers, rows = part1_table(part1, budget["part1"]["epochs"])
    print()
    _common.print_table(headers, rows)
    effects = part1_effects(part1)
    print("\n".join(effects) + "\n", flush=True)
    sections.append(("Part 1: Xavier vs He, leaky ReLU and ELU vs ReLU", headers, rows,
                     effects))
    pretrained_dir = pretrain(budget["pretrain"], datasets, out)
    pretrained = load_pretrained_or_exit(pretrained_dir)
  about = pretrained_text(pretrained_dir, pretrained)
  print(about, flush=True)

  part2 = run_part2(tf, pretrained, budget["transfer"], datasets, out)
  headers, rows = part2_table(part2, budget["transfer"]["epochs"])
  print()
  _common.print_table(headers, rows)
  effects = part2_effects(part2)
  commands = tensorboard_lines(out, part2)
  print("\n".join(effects))
  print("\nTensorBoard:\n  " + "\n  ".join(commands), flush=True)
  sections.append(("Part 2: reusing pretrained layers, a new hidden4", headers, rows,
                   [about] + effects + [f"`{c}`" for c in commands]))
  write_markdown(os.path.join(out, "results.md"), sections)
  plot(os.path.join(out, "pretrained_layers.png"), part1, part2)
  _common.finish(out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
