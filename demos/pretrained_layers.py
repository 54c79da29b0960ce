"""Demo 2b: reusing pretrained layers from a checkpoint, with a new 4th hidden layer.

Run from the repository root:

    .venv/bin/python demos/pretrained_layers.py                     # full run, 62 s
    .venv/bin/python demos/pretrained_layers.py --quick             # 12-32 s
    .venv/bin/python demos/pretrained_layers.py --skip-pretraining  # part 2 alone
    .venv/bin/python demos/pretrained_layers.py --pretrained RUN_DIR

(times measured on a shared 2-core machine; they vary with its load). The lesson's
demo 2, part 3, "Reusing a TensorFlow model" (parts 1 and 2 are
demos/initializers_activations.py).

Part 1 trains a net of 5 hidden layers (He, ELU, Adam) on digits 0-4 and saves it as a
checkpoint; --skip-pretraining and --pretrained reuse one saved before (this demo's, or
`dnn-toolkit train`'s with at least 5 hidden layers). Part 2 builds a NEW net for digits
5-9, a task with few labelled images: it restores hidden1-3 and hidden5 with a Saver on
a scope-filtered var_list, replaces the 4th hidden layer with a new one (fresh weights)
and gets a new output layer. It trains with hidden1-3 frozen, then with every layer
fine-tuned, against the same net trained from scratch, and lists what was restored and
what is new, checked against the checkpoint. Digits 0-4 and 5-9 share strokes, but a
small dense net's layers are fairly specific to its digits: expect a small gain at most.

Outputs go under checkpoints/pretrained_layers (--out DIR to change it): results.md,
pretrained_layers.png (validation accuracy per epoch) and runs/<name>/ (checkpoints and
TensorBoard logs; runs/pretrained/ is the pretrained net). In TensorBoard, the
transferred nets' graphs mark the restored layers ("Color by: Device") and their Text
tab lists what was restored from which checkpoint, what is frozen and what is new.
"""

import dataclasses
import os
import sys
import time

import _common

DEMO = "pretrained_layers"
if __name__ == "__main__":  # a bad flag or --out stops here, in a second
  ARGS = _common.preflight(__doc__, DEMO, _common.add_pretrained_flags)

# pylint: disable=wrong-import-position
import numpy as np

from dnn_toolkit import import_tensorflow_quietly

tf = import_tensorflow_quietly()  # before any module that imports TensorFlow
from dnn_toolkit import checkpoints, scopes, summaries, transfer
from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.model import hidden_scope
from dnn_toolkit.training import loop as training
from dnn_toolkit.training import hooks as training_hooks

# pylint: enable=wrong-import-position

v1 = tf.compat.v1

# ---------------------------------------------------------------------------- flags

# --quick pretrains on fewer examples, trains fewer epochs, with one seed.
FULL = {"pretrain": {"examples_per_class": None, "epochs": 3},  # None: every image
        "transfer": {"examples_per_class": 100, "epochs": 10, "seeds": (0, 1, 2, 3, 4)}}
QUICK = {"pretrain": {"examples_per_class": 500, "epochs": 2},
         "transfer": {"examples_per_class": 100, "epochs": 3, "seeds": (0,)}}
BATCH_SIZE = 50
OLD_DIGITS, NEW_DIGITS = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
# The pretrained net: the lesson's choices without batch norm and dropout.
PRETRAINED = {"hidden_layers": (100,) * 5, "n_outputs": len(OLD_DIGITS),
              "initializer": "he", "activation": "elu", "batch_norm": False,
              "dropout_rate": 0.0, "optimizer": "adam", "learning_rate": 0.001,
              "seed": 0}
REUSED = (1, 2, 3, 5)     # hidden layers restored from the checkpoint
REPLACED = 4              # the new hidden layer, fresh weights
FROZEN = 3                # hidden1-3 stay as restored in the "frozen" variant
REUSE_SCOPE = "hidden[" + "".join(map(str, REUSED)) + "]"  # as the lesson's 'hidden[123]'
# (label, run name, frozen layers or None for no reuse, how the layers are restored,
# what trains)
VARIANTS = (
    ("transfer, hidden1-3 frozen", "transfer-frozen", FROZEN, "the lesson's Saver",
     f"hidden{REPLACED} (new), hidden5, outputs (new)"),
    ("transfer, all fine-tuned", "transfer-tuned", 0, "restore_scopes",
     f"all (hidden{REPLACED} and outputs new)"),
    ("from scratch", "scratch", None, None, "all (every layer new)"),
)
PRETRAINED_RUN = "pretrained"
DIAGNOSTICS_EVERY = 10  # steps between TensorBoard's layer diagnostics

# ------------------------------------------------------------ part 1: pretraining


def digit_task(datasets, digits):
  """(train, validation, test) holding only `digits`, relabelled 0..len(digits)-1."""
  return tuple(data.relabel(data.filter_digits(split, digits), -min(digits))
               for split in (datasets.train, datasets.validation, datasets.test))


def pretrain(budget, datasets, run_dir):
  """Trains the net to reuse on digits 0-4 and checkpoints it; returns a summary line."""
  train, validation, test = digit_task(datasets, OLD_DIGITS)
  if budget["examples_per_class"] is not None:
    train = data.sample_per_class(train, budget["examples_per_class"], seed=0)
  # lifecycle.train saves the weights of the lowest validation loss under best/:
  # that checkpoint is what the new net reuses. Its variables are named by scope,
  # hidden1/weights ... hidden5/biases, outputs/weights: the names a Saver restores by.
  run = lifecycle.train(DNNConfig(**PRETRAINED), train, validation, test=test,
                         run_dir=run_dir, epochs=budget["epochs"], batch_size=BATCH_SIZE,
                         patience=None, verbose=0)
  line = (f"digits 0-4, {train.num_examples} images, {budget['epochs']} epochs  test "
          f"acc {run.test['accuracy']:.4f}")
  print(f"[pretrain] {line}  {run.seconds:5.1f}s", flush=True)
  return line


# ------------------------------------------------------- part 2: the reused layers


def lesson_saver():
  """The lesson's partial restore: a Saver whose var_list is the reused layers only.

  A Saver restores exactly the variables it was given, by name, and leaves every other
  variable as it is. Leaving hidden4 out is what replaces it: its new weights keep
  their fresh random values, while hidden1-3 and hidden5 get the pretrained ones.

  Returns:
    (the Saver, its {checkpoint name: variable} dict).
  """
  # `scope` is matched with re.match at the start of each name: 'hidden[1235]' takes
  # hidden1/, hidden2/, hidden3/ and hidden5/, not hidden4/ (it would also take
  # hidden10/ and up: scopes.scope_variables matches whole scope names instead).
  # The lesson lists TRAINABLE_VARIABLES; MODEL_VARIABLES also holds batch norm's
  # moving averages (not trainable, yet part of a layer). Without batch norm they agree.
  reuse_vars = v1.get_collection(v1.GraphKeys.MODEL_VARIABLES, scope=REUSE_SCOPE)
  # A Saver's dict maps checkpoint names to variables. The lesson's
  # dict([(var.name, var.name) ...]) maps names to names, which a Saver rejects.
  reuse_vars_dict = {var.op.name: var for var in reuse_vars}
  original_saver = v1.train.Saver(reuse_vars_dict, name="restore_pretrained")
  return original_saver, reuse_vars_dict


def train_transferred(pretrained, config, frozen, run_dir, sets, epochs,
                      show_restore=None):
  """Builds the new net, restores the reused layers, trains it; returns its metrics.

  `frozen` hidden layers from the bottom stay as restored; the lesson's Saver restores
  when they are frozen, `TransferDNN.restore` (scopes.restore_scopes) otherwise.
  If `show_restore` (how the layers are restored) is given, what was restored, and
  the check of it, are printed.
  """
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
      saver, reuse_vars_dict = lesson_saver()
    # TensorBoard's graph marks the restored and the frozen layers; only this code
    # knows which they are, so it tells the hook.
    hooks = [checkpoints.CheckpointHook(run_dir, config, extra={
                 "batch_size": BATCH_SIZE, "pretrained": pretrained.checkpoint,
                 "reused": list(REUSED), "frozen_layers": frozen}),
             summaries.SummaryHook(
                 model.dnn, summaries.logdir_of(run_dir), every_n_steps=DIAGNOSTICS_EVERY,
                 restored={hidden_scope(i): pretrained.checkpoint for i in REUSED},
                 frozen=[hidden_scope(i) for i in range(1, frozen + 1)])]
    best_weights = training_hooks.BestWeights()
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
    saved = scopes.load_values(pretrained.checkpoint)
    equal = {v.op.name: v.op.name in saved and np.array_equal(value, saved[v.op.name])
             for v, value in zip(layers, sess.run(layers))}
    if show_restore:
      _common.print_restore(show_restore, REUSE_SCOPE, pretrained.checkpoint, restored,
                            equal)
    started = time.perf_counter()
    state = training.fit(sess, model.dnn, train, validation, epochs=epochs,
                         batch_size=BATCH_SIZE, patience=None, hooks=hooks,
                         best_weights=best_weights, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = training.evaluate(sess, model.dnn, *test)["accuracy"]
  # CheckpointHook saved the whole new net (the lesson's new_saver.save), reused
  # layers included, under best/ and latest/.
  return {"curve": [h["val_accuracy"] for h in state.history], "test": accuracy,
          "seconds": seconds}


def run_part2(pretrained, budget, datasets, out):
  """Trains each net for digits 5-9 once per seed; returns {label: [per-seed metrics]}."""
  train, validation, test = digit_task(datasets, NEW_DIGITS)
  sets = (data.sample_per_class(train, budget["examples_per_class"], seed=0),
          validation, test)
  print(f"Part 2: new task digits 5-9, {sets[0].num_examples} training images, "
        f"{budget['epochs']} epochs, {len(budget['seeds'])} seed(s); reusing "
        f"{REUSE_SCOPE} of {pretrained.checkpoint}", flush=True)

  def train_one(variant, seed, run_dir):
    _, _, frozen, how, _ = variant
    # The new net: the pretrained one's first 5 layer sizes, a 5-class output layer.
    config = dataclasses.replace(
        pretrained.config, n_outputs=len(NEW_DIGITS), seed=seed,
        hidden_layers=pretrained.config.hidden_layers[:max(REUSED)])
    if frozen is None:  # the baseline: the same net from random weights
      run = lifecycle.train(config, *sets[:2], test=sets[2], run_dir=run_dir,
                             epochs=budget["epochs"], batch_size=BATCH_SIZE,
                             patience=None, verbose=0,
                             log_every_steps=DIAGNOSTICS_EVERY)
      return {"curve": [h["val_accuracy"] for h in run.history],
              "test": run.test["accuracy"], "seconds": run.seconds}
    return train_transferred(pretrained, config, frozen, run_dir, sets,
                             budget["epochs"],
                             show_restore=how if seed == budget["seeds"][0] else None)
  return _common.run_variants(out, VARIANTS, budget["seeds"], train_one)


# --------------------------------------------------------------------------- main


def main(args):
  budget = QUICK if args.quick else FULL
  reusing = args.pretrained or args.skip_pretraining
  pretrained_dir = args.pretrained or os.path.join(args.out, "runs", PRETRAINED_RUN)
  if reusing:
    pretrained = load_pretrained_or_exit(args, pretrained_dir)  # before any training
  datasets = _common.load_mnist_or_exit(DEMO)
  sections = []
  if not reusing:
    print("Part 1: pretraining the net to reuse", flush=True)
    line = pretrain(budget["pretrain"], datasets,
                    _common.run_dir(args.out, PRETRAINED_RUN))
    pretrained = load_pretrained_or_exit(args, pretrained_dir)
    sections.append(("Part 1: the pretrained net", None, None, [line]))
  results = run_part2(pretrained, budget["transfer"], datasets, args.out)

  runs = os.path.join(args.out, "runs")
  commands = _common.tensorboard_commands([
      (os.path.join(runs, f"{VARIANTS[0][1]}-seed{budget['transfer']['seeds'][0]}"),
       "the transferred net: restored layers marked in its graph, listed in Text"),
      (runs, "every run of this demo, overlaid")])
  reused = ", ".join(hidden_scope(i) for i in REUSED)
  _common.report_accuracies(
      args.out, DEMO, title="Demo 2b: reusing pretrained layers",
      heading="Part 2: reusing pretrained layers, a new hidden4",
      columns=["net for digits 5-9", "from the checkpoint", "trained"],
      rows={label: [label, reused if frozen is not None else "nothing", trained]
            for label, _, frozen, _, trained in VARIANTS},
      results=results, epochs=budget["transfer"]["epochs"],
      comparisons=[(f"{label} vs from scratch", label, "from scratch")
                   for label, *_ in VARIANTS[:2]],
      plot_title="Digits 5-9: reused layers vs from scratch", before=sections,
      bullets=[f"pretrained net {pretrained.checkpoint}"], commands=commands)
  _common.finish(args.out)
  return 0


def load_pretrained_or_exit(args, run_dir):
  """Returns the `Pretrained` net to reuse, or exits with one line saying why."""
  return _common.load_pretrained_or_exit(
      DEMO, args, run_dir, max(REUSED),
      replaced=[os.path.join(args.out, "runs", f"{run}-seed") for _, run, *_ in VARIANTS])


if __name__ == "__main__":
  sys.exit(main(ARGS))
