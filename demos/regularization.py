"""Demo 3: techniques to prevent overfitting, l1 regularization and dropout (50%).

Run from the repository root:

    .venv/bin/python demos/regularization.py             # full run, ~1 min on 2 cores
    .venv/bin/python demos/regularization.py --quick     # under a minute

Part 1 is the lesson's code in graph mode: the l1 penalty of a small net written out by
hand (`scale * sum(|weights|)` per layer), and the same penalty collected by TensorFlow
from `weights_regularizer=` into `tf.GraphKeys.REGULARIZATION_LOSSES`. Both are printed,
and must agree.

Part 2 trains the same net on a small MNIST subset (small, so that it overfits) four
ways: without regularization, with l1, with dropout at rate 50%, with both; once per
seed. It prints the accuracy on the training subset and on the test set (overfitting is
the gap between them), and the validation loss at its lowest and at the last epoch: an
overfitting net's validation loss climbs back up while its training accuracy nears 100%.
Note that `experiment.train` always keeps the weights of the lowest validation loss:
that is early stopping, the lesson's first regularizer, so even "none" is early-stopped.
A regularizer shows as a flatter validation loss, a later best epoch, and (sometimes) a
higher test accuracy; the seeds tell whether a difference is more than noise.

Outputs go under checkpoints/regularization (--out DIR to change it): results.md (the
table), regularization.png (validation loss per epoch: it rises again when a net
overfits), runs/<variant>-seed<N>/ (one run directory per training run).
"""

import math
import os
import statistics
import sys

import numpy as np

import _common
from dnn_toolkit import import_tensorflow_quietly

DEMO = "regularization"

# ---------------------------------------------------------------------------- flags

# A small training subset overfits within a few epochs. The full run measured 1-2 minutes
# on a busy 2-core machine; --quick trains on fewer examples, fewer epochs, one seed.
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
VARIANTS = (
    ("none", {}),
    ("l1", {"l1_scale": L1_SCALE}),
    ("dropout", {"dropout_rate": DROPOUT_RATE}),
    ("l1 + dropout", {"l1_scale": L1_SCALE, "dropout_rate": DROPOUT_RATE}),
)


def parse_args(argv=None):
  return _common.parser(__doc__, DEMO).parse_args(argv)


# ------------------------------------------------- part 1: the l1 penalty two ways


def l1_two_ways(tf, images, labels, scale=L1_SCALE):
  """Builds a 784-300-100-10 net and computes its l1 penalty and loss both ways.

  Returns:
    {'by hand': (penalty, loss), 'collection': (penalty, loss)}, and prints them.
  """
  from dnn_toolkit.layers import fully_connected  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.regularizers import l1_regularizer  # pylint: disable=import-outside-toplevel
  v1 = tf.compat.v1
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


def accuracy_of_checkpoint(config, checkpoint, dataset):
  """Returns the accuracy on `dataset` of the weights saved in `checkpoint`.

  A graph is the model and a checkpoint holds its values, by variable name: rebuild
  the same graph from the config, restore the weights, run the accuracy op. Dropout is
  off because `is_training` defaults to False.
  """
  from dnn_toolkit import checkpoints, training  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.model import build_dnn  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(config, dataset.images.shape[1])
    init = tf.compat.v1.global_variables_initializer()
    weights = tf.compat.v1.model_variables()
  with tf.compat.v1.Session(graph=graph) as sess:
    sess.run(init)  # global_step and the optimizer's slots, which best/ does not hold
    checkpoints.restore(sess, checkpoint, var_list=weights)
    return training.evaluate(sess, dnn, *dataset)["accuracy"]


def small_weight_fraction(checkpoint, threshold=1e-3):
  """The fraction of weights with |w| < threshold: l1 drives many of them to ~0."""
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  values = checkpoints.load_values(checkpoint)
  weights = np.concatenate([v.ravel() for name, v in values.items()
                            if name.endswith("/weights")])
  return float(np.mean(np.abs(weights) < threshold))


def train_variants(budget, train, datasets, out):
  """Trains each variant once per seed; returns {variant: [per-seed metrics]}."""
  from dnn_toolkit import experiment  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.model import DNNConfig  # pylint: disable=import-outside-toplevel
  results = {name: [] for name, _ in VARIANTS}
  total, done = len(VARIANTS) * len(budget["seeds"]), 0
  for name, changes in VARIANTS:
    for seed in budget["seeds"]:
      done += 1
      config = DNNConfig(**{**BASE, **changes}, seed=seed)
      # The penalty joins the loss through REGULARIZATION_LOSSES (way 2 above); the
      # dropout layers are switched on by feeding is_training=True to training steps.
      run = experiment.train(
          config, train, datasets.validation, test=datasets.test,
          run_dir=_common.run_dir(out, f"{name.replace(' + ', '_')}-seed{seed}"),
          epochs=budget["epochs"], batch_size=BATCH_SIZE, patience=None, verbose=0,
          hook_factories=experiment.default_hook_factories())
      metrics = {"train": accuracy_of_checkpoint(config, run.best_checkpoint, train),
                 "test": run.test["accuracy"], "best_epoch": run.state.best_epoch,
                 "small": small_weight_fraction(run.best_checkpoint),
                 "val_loss": [h["val_loss"] for h in run.history]}  # per epoch
      results[name].append(metrics)
      print(f"[{done:2d}/{total}] {name:<13} seed {seed}  train acc "
            f"{metrics['train']:.4f}  test acc {metrics['test']:.4f}  best epoch "
            f"{metrics['best_epoch']:2d}  {run.seconds:5.1f}s", flush=True)
  return results


# --------------------------------------------------------------------- the summary


HEADERS = ["regularization", "train acc %", "test acc %", "gap (points)", "best epoch",
           "val loss: lowest -> last epoch", "weights near 0 (abs < 1e-3)"]


def table_rows(results):
  rows = []
  for name, _ in VARIANTS:
    runs = results[name]
    gap = _common.mean_std([100 * (r["train"] - r["test"]) for r in runs])[0]
    rows.append([name, _common.percent([r["train"] for r in runs]),
                 _common.percent([r["test"] for r in runs]), f"{gap:.2f}",
                 f"{_common.mean_std([r['best_epoch'] for r in runs])[0]:.0f}",
                 f"{_common.mean_std([min(r['val_loss']) for r in runs])[0]:.3f} -> "
                 f"{_common.mean_std([r['val_loss'][-1] for r in runs])[0]:.3f}",
                 f"{100 * _common.mean_std([r['small'] for r in runs])[0]:.0f}%"])
  return rows


def effects(results):
  """Lines saying how much each regularizer moved the test accuracy and the gap."""
  def mean(name, key):
    return _common.mean_std([r[key] for r in results[name]])[0]
  def rise(name):  # how far the validation loss climbed back from its lowest
    return statistics.fmean(r["val_loss"][-1] - min(r["val_loss"]) for r in results[name])
  lines = [f"none: the validation loss rose {rise('none'):.3f} above its lowest by the "
           "last epoch"]
  for name in ("l1", "dropout", "l1 + dropout"):
    test = 100 * (mean(name, "test") - mean("none", "test"))
    spread = 100 * (_common.mean_std([r["test"] for r in results[name]])[1] +
                    _common.mean_std([r["test"] for r in results["none"]])[1])
    noise = ("one seed: cannot tell from noise" if len(results[name]) < 2 else
             "more than the seed spread" if abs(test) > spread else "within noise")
    gap = 100 * ((mean(name, "train") - mean(name, "test")) -
                 (mean("none", "train") - mean("none", "test")))
    lines.append(f"{name}: test accuracy {test:+.2f} points ({noise}), train-test gap "
                 f"{gap:+.2f} points, validation loss rose {rise(name):.3f}")
  return lines


def write_markdown(path, budget, n_train, rows, effect_lines, two_ways):
  hand, collected = two_ways["by hand"], two_ways["collection"]
  text = "\n".join([
      "# Regularization: l1 and dropout (50%) on a small MNIST subset", "",
      f"Net {'-'.join(map(str, (784,) + HIDDEN_LAYERS + (10,)))}, He initialization, "
      f"ELU, Adam (lr 0.001); {n_train} training examples, {budget['epochs']} epochs, "
      f"batch {BATCH_SIZE}, seeds {list(budget['seeds'])}; l1 scale {L1_SCALE:g}, "
      f"dropout rate {DROPOUT_RATE:g}. Accuracies of the weights with the lowest "
      "validation loss, in percent, mean ± std over the seeds.", "",
      _common.format_table(HEADERS, rows, markdown=True), "",
      *[f"- {line}" for line in effect_lines], "",
      "## The l1 penalty two ways (part 1)", "",
      f"- by hand: penalty {hand[0]:.6f}, loss {hand[1]:.6f}",
      f"- REGULARIZATION_LOSSES: penalty {collected[0]:.6f}, loss {collected[1]:.6f}",
      ""])
  with open(path, "w") as f:
    f.write(text)


def plot(path, results):
  """Draws the mean validation loss per epoch of each variant."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for name, _ in VARIANTS:
    curves = np.array([r["val_loss"] for r in results[name]])  # [seeds, epochs]
    epochs = np.arange(1, curves.shape[1] + 1)
    ax.plot(epochs, curves.mean(axis=0), label=name)
  ax.set_xlabel("epoch")
  ax.set_ylabel("validation loss (cross-entropy)")
  ax.set_title("Overfitting: the validation loss rises again")
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


# --------------------------------------------------------------------------- main


def main(argv=None):
  args = parse_args(argv)
  out = _common.output_dir(args.out, DEMO)  # fails in a second, before TF loads
  budget = QUICK if args.quick else FULL
  tf = import_tensorflow_quietly()  # first: it hides TF's start-up log lines
  from dnn_toolkit import data  # pylint: disable=import-outside-toplevel
  datasets = _common.load_mnist_or_exit(DEMO)

  batch = datasets.validation.images[:100], datasets.validation.labels[:100]
  two_ways = l1_two_ways(tf, *batch)
  penalties, losses = zip(two_ways["by hand"], two_ways["collection"])
  agree = math.isclose(*penalties, rel_tol=1e-5) and math.isclose(*losses, rel_tol=1e-5)
  print(f"  The two ways {'agree' if agree else 'DISAGREE'}.\n", flush=True)
  if not agree:
    _common.fail(DEMO, "the l1 penalty by hand differs from REGULARIZATION_LOSSES")

  train = data.sample_per_class(datasets.train, budget["examples_per_class"], seed=0)
  print(f"Part 2: {len(VARIANTS)} variants x {len(budget['seeds'])} seed(s), "
        f"{train.num_examples} training examples, {budget['epochs']} epochs each",
        flush=True)
  results = train_variants(budget, train, datasets, out)

  rows = table_rows(results)
  effect_lines = effects(results)
  print()
  _common.print_table(HEADERS, rows)
  print("\n".join(effect_lines))
  write_markdown(os.path.join(out, "results.md"), budget, train.num_examples, rows,
                 effect_lines, two_ways)
  plot(os.path.join(out, "regularization.png"), results)
  _common.finish(out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
