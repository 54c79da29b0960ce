"""Demo 3: techniques to prevent overfitting, l1 regularization and dropout (50%).

Run from the repository root:

    .venv/bin/python demos/regularization.py             # full run, 2 min
    .venv/bin/python demos/regularization.py --quick     # 28-32 s

(times measured on a shared 2-core machine; they vary with its load.)

Part 1 is the lesson's code in graph mode: the l1 penalty of a small net written out by
hand (`scale * sum(|weights|)` per layer), and the same penalty collected by TensorFlow
from `weights_regularizer=` into `tf.GraphKeys.REGULARIZATION_LOSSES`. Both are printed,
and must agree.

Part 2 trains the same net on a small MNIST subset (small, so that it overfits) four
ways: without regularization, with l1, with dropout at rate 50%, with both; once per
seed. It prints the accuracy on the training subset and on the test set (overfitting is
the gap between them), and the validation loss at its lowest and at the last epoch: an
overfitting net's validation loss climbs back up while its training accuracy nears 100%.
`runs.lifecycle.train` keeps the weights of the lowest validation loss: that is early
stopping, the lesson's first regularizer, so even "none" is early-stopped. A regularizer
shows as a flatter validation loss, a later best epoch, and (sometimes) a higher test
accuracy; the seeds tell whether a difference is more than noise.

Outputs go under checkpoints/regularization (--out DIR to change it): results.md,
regularization.png (validation loss per epoch: it rises again when a net overfits) and
runs/<variant>-seed<N>/ (one run directory per training run).
"""

import math
import os
import statistics
import sys

import _common

DEMO = "regularization"
if __name__ == "__main__":
  ARGS = _common.preflight(__doc__, DEMO)  # a bad flag or --out stops here, in a second

# pylint: disable=wrong-import-position
import numpy as np

from dnn_toolkit import import_tensorflow_quietly

tf = import_tensorflow_quietly()  # before any module that imports TensorFlow
from dnn_toolkit import plots, scopes
from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.layers.contrib import fully_connected
from dnn_toolkit.layers.regularizers import l1_regularizer
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training

# pylint: enable=wrong-import-position

v1 = tf.compat.v1

# ---------------------------------------------------------------------------- flags

# A small training subset overfits within a few epochs; --quick trains on fewer
# examples, for fewer epochs, with one seed.
FULL = {"examples_per_class": 200, "epochs": 40, "seeds": (0, 1, 2)}
QUICK = {"examples_per_class": 100, "epochs": 8, "seeds": (0,)}
BATCH_SIZE = 50
HIDDEN_LAYERS = (300, 100)
L1_SCALE = 1e-4
DROPOUT_RATE = 0.5  # the lesson's p = 50%

# The net every variant shares: the lesson's default DNN without batch norm and
# dropout. Each variant adds only its regularizer to it.
BASE = {"hidden_layers": HIDDEN_LAYERS, "initializer": "he", "activation": "elu",
        "batch_norm": False, "dropout_rate": 0.0, "optimizer": "adam",
        "learning_rate": 0.001}
# (label, run name, DNNConfig fields)
VARIANTS = (
    ("none", "none", {}),
    ("l1", "l1", {"l1_scale": L1_SCALE}),
    ("dropout", "dropout", {"dropout_rate": DROPOUT_RATE}),
    ("l1 + dropout", "l1_dropout", {"l1_scale": L1_SCALE, "dropout_rate": DROPOUT_RATE}),
)

# ------------------------------------------------- part 1: the l1 penalty two ways


def l1_two_ways(images, labels, scale=L1_SCALE):
  """Builds a 784-300-100-10 net and computes its l1 penalty and loss both ways.

  Returns:
    {'by hand': (penalty, loss), 'collection': (penalty, loss)}, and prints them.
  """
  graph = tf.Graph()
  with graph.as_default():
    v1.set_random_seed(0)
    X = v1.placeholder(tf.float32, shape=(None, 784), name="X")
    y = v1.placeholder(tf.int64, shape=(None,), name="y")
    # `weights_regularizer` is called on each layer's new weights by get_variable,
    # which puts the returned penalty tensor in REGULARIZATION_LOSSES. Nothing is
    # computed yet: these lines only add ops to the graph.
    l1 = l1_regularizer(scale)
    hidden1 = fully_connected(X, 300, weights_regularizer=l1, scope="hidden1")
    hidden2 = fully_connected(hidden1, 100, weights_regularizer=l1, scope="hidden2")
    logits = fully_connected(hidden2, 10, activation_fn=None, weights_regularizer=l1,
                             scope="outputs")  # [batch_size, 10]
    xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    base_loss = tf.reduce_mean(xentropy, name="avg_xentropy")

    # Way 1, the lesson's code for a small net: one term per weight matrix, by hand.
    weights = [v for v in v1.trainable_variables() if v.op.name.endswith("/weights")]
    penalty_by_hand = scale * tf.add_n([tf.reduce_sum(tf.abs(w)) for w in weights])
    loss_by_hand = tf.add(base_loss, penalty_by_hand, name="loss_by_hand")

    # Way 2, for any number of layers: the penalties are already in a collection.
    reg_losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    penalty = tf.add_n(reg_losses)
    loss = tf.add_n([base_loss] + reg_losses, name="loss")
    init = v1.global_variables_initializer()

  with v1.Session(graph=graph) as sess:
    sess.run(init)  # Only now do the weights get values.
    values = sess.run({"by hand": (penalty_by_hand, loss_by_hand),
                       "collection": (penalty, loss),
                       "each": reg_losses}, {X: images, y: labels})
  print("Part 1: the l1 penalty of a 784-300-100-10 net, computed two ways "
        f"(scale {scale:g}, one batch of {len(labels)} images)")
  for tensor, value in zip(reg_losses, values["each"]):
    print(f"  REGULARIZATION_LOSSES holds {tensor.name:<46} = {value:.6f}")
  for way in ("by hand", "collection"):
    penalty, total = values[way]
    print(f"  {way:<10}  penalty {penalty:.6f}   loss (cross-entropy + penalty) "
          f"{total:.6f}")
  return values


# ------------------------------------------------------------- part 2: the effects


def train_variant(config, train, datasets, run_dir, epochs):
  """Trains one variant; returns its metrics (accuracies of the best weights)."""
  # The penalty joins the loss through REGULARIZATION_LOSSES (way 2 above); the
  # dropout layers are switched on by feeding is_training=True to training steps.
  run = lifecycle.train(config, train, datasets.validation, test=datasets.test,
                         run_dir=run_dir, epochs=epochs, batch_size=BATCH_SIZE,
                         patience=None, verbose=0)
  return {"train": accuracy_of_checkpoint(config, run.best_checkpoint, train),
          "test": run.test["accuracy"], "best_epoch": run.state.best_epoch,
          "small": small_weight_fraction(run.best_checkpoint),
          "val_loss": [h["val_loss"] for h in run.history],  # per epoch
          "seconds": run.seconds}


def accuracy_of_checkpoint(config, checkpoint, dataset):
  """Returns the accuracy on `dataset` of the weights saved in `checkpoint`.

  A graph is the model and a checkpoint holds its values, by variable name: rebuild
  the same graph from the config, restore the weights, run the accuracy op. Dropout is
  off because `is_training` defaults to False.
  """
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(config, dataset.images.shape[1])
    init = v1.global_variables_initializer()
    weights = v1.model_variables()
  with v1.Session(graph=graph) as sess:
    sess.run(init)  # global_step and the optimizer's slots, which best/ does not hold
    scopes.restore(sess, checkpoint, var_list=weights)
    return training.evaluate(sess, dnn, *dataset)["accuracy"]


def small_weight_fraction(checkpoint, threshold=1e-3):
  """The fraction of weights with |w| < threshold: l1 drives many of them to ~0."""
  values = scopes.load_values(checkpoint)
  weights = np.concatenate([v.ravel() for name, v in values.items()
                            if name.endswith("/weights")])
  return float(np.mean(np.abs(weights) < threshold))


# --------------------------------------------------------------------------- main


def main(args):
  budget = QUICK if args.quick else FULL
  datasets = _common.load_mnist_or_exit(DEMO)
  two_ways = l1_two_ways(*(split[:100] for split in datasets.validation))
  penalties, losses = zip(two_ways["by hand"], two_ways["collection"])
  agree = math.isclose(*penalties, rel_tol=1e-5) and math.isclose(*losses, rel_tol=1e-5)
  print(f"  The two ways {'agree' if agree else 'DISAGREE'}.\n", flush=True)
  if not agree:
    _common.fail(DEMO, "the l1 penalty by hand differs from REGULARIZATION_LOSSES")

  train = data.sample_per_class(datasets.train, budget["examples_per_class"], seed=0)
  seeds = budget["seeds"]
  print(f"Part 2: {len(VARIANTS)} variants x {len(seeds)} seed(s), "
        f"{train.num_examples} training examples, {budget['epochs']} epochs each",
        flush=True)
  results = _common.run_variants(
      args.out, VARIANTS, seeds,
      lambda variant, seed, run_dir: train_variant(
          DNNConfig(**{**BASE, **variant[2]}, seed=seed), train, datasets, run_dir,
          budget["epochs"]),
      lambda m: (f"train acc {m['train']:.4f}  test acc {m['test']:.4f}  best epoch "
                 f"{m['best_epoch']:2d}  {m['seconds']:5.1f}s"))

  rows, lines = table_rows(results), effects(results)
  aggregate = f"Accuracies in percent, {_common.over_seeds(len(seeds))}."
  _common.print_table(HEADERS, rows, [aggregate, ""] + lines)
  hand, collected = two_ways["by hand"], two_ways["collection"]
  _common.write_results(
      os.path.join(args.out, "results.md"),
      "Regularization: l1 and dropout (50%) on a small MNIST subset",
      [("Part 1: the l1 penalty two ways", None, None,
        [f"by hand: penalty {hand[0]:.6f}, loss {hand[1]:.6f}",
         f"REGULARIZATION_LOSSES: penalty {collected[0]:.6f}, loss {collected[1]:.6f}"]),
       ("Part 2: the effects", HEADERS, rows, lines)],
      intro=[f"Net {'-'.join(map(str, (784,) + HIDDEN_LAYERS + (10,)))}, He "
             f"initialization, ELU, Adam (lr 0.001); {train.num_examples} training "
             f"examples, {budget['epochs']} epochs, batch {BATCH_SIZE}, seeds "
             f"{list(seeds)}; l1 scale {L1_SCALE:g}, dropout rate {DROPOUT_RATE:g}. "
             "Accuracies of the weights with the lowest validation loss, in percent, "
             f"{_common.over_seeds(len(seeds))}."])
  _common.plot_curves(os.path.join(args.out, "regularization.png"),
                      {name: [r["val_loss"] for r in runs]
                       for name, runs in results.items()},
                      f"validation {plots.LOSS_LABEL}", len(seeds),
                      "Overfitting: the validation loss rises again")
  _common.finish(args.out)
  return 0


# ---------------------------------------------------------------------- reporting


HEADERS = ["regularization", "train acc %", "test acc %", "gap (points)", "best epoch",
           "val loss: lowest -> last epoch", "weights near 0 (abs < 1e-3)"]


def table_rows(results):
  """One row per variant, means over the seeds."""
  def mean(name, fn):
    return _common.mean([fn(r) for r in results[name]])
  return [[name, _common.percent([r["train"] for r in results[name]]),
           _common.percent([r["test"] for r in results[name]]),
           f"{mean(name, lambda r: 100 * (r['train'] - r['test'])):.2f}",
           f"{mean(name, lambda r: r['best_epoch']):.0f}",
           f"{mean(name, lambda r: min(r['val_loss'])):.3f} -> "
           f"{mean(name, lambda r: r['val_loss'][-1]):.3f}",
           f"{100 * mean(name, lambda r: r['small']):.0f}%"] for name, *_ in VARIANTS]


def effects(results):
  """Lines saying how much each regularizer moved the test accuracy and the gap."""
  def mean(name, key):
    return _common.mean([r[key] for r in results[name]])
  def rise(name):  # how far the validation loss climbed back from its lowest
    return statistics.fmean(r["val_loss"][-1] - min(r["val_loss"]) for r in results[name])
  lines = [f"none: the validation loss rose {rise('none'):.3f} above its lowest by the "
           "last epoch"]
  for name in ("l1", "dropout", "l1 + dropout"):
    test = _common.gap([r["test"] for r in results[name]],
                       [r["test"] for r in results["none"]])
    gap = 100 * ((mean(name, "train") - mean(name, "test")) -
                 (mean("none", "train") - mean("none", "test")))
    lines.append(f"{name}: test accuracy {test}, train-test gap {gap:+.2f} points, "
                 f"validation loss rose {rise(name):.3f}")
  return lines


if __name__ == "__main__":
  sys.exit(main(ARGS))
