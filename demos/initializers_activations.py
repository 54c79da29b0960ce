"""Demo 2a: Xavier and He initialization, leaky ReLU and ELU against ReLU.

Run from the repository root:

    .venv/bin/python demos/initializers_activations.py            # full run, 41 s
    .venv/bin/python demos/initializers_activations.py --quick    # 13-20 s

(times measured on a shared 2-core machine; they vary with its load). The lesson's
demo 2, parts 1 and 2; part 3, reusing pretrained layers, is demos/pretrained_layers.py.

The same net (5 hidden layers of 100 units, plain SGD, so that a bad start is not
rescaled away by an adaptive optimizer) trains on an MNIST subset for a fixed budget,
once per choice and seed: Xavier or He initialization with ReLU, then ReLU, leaky ReLU
or ELU with He initialization. Only the `DNNConfig` differs between runs: the graph is
built from it, so `initializer="he"` is `variance_scaling_initializer()` and
`activation="leaky_relu"` is `tf.nn.leaky_relu` in every hidden layer. Each run prints
the validation accuracy after the first and the last epoch, the test accuracy, and the
share of units off for a whole batch (a ReLU unit there has no gradient: it is dead).

Outputs go under checkpoints/initializers_activations (--out DIR to change it):
results.md (the table and how far each choice moved the accuracy),
initializers_activations.png (validation accuracy per epoch) and runs/<name>-seed<N>/
(one run directory per training run, with TensorBoard logs).
"""

import os
import sys

import _common

DEMO = "initializers_activations"
if __name__ == "__main__":
  ARGS = _common.preflight(__doc__, DEMO)  # a bad flag or --out stops here, in a second

# pylint: disable=wrong-import-position
from dnn_toolkit import import_tensorflow_quietly

import_tensorflow_quietly()  # before any module that imports TensorFlow
from dnn_toolkit import summaries
from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data

# pylint: enable=wrong-import-position

# ---------------------------------------------------------------------------- flags

# --quick trains on fewer examples, for fewer epochs, with one seed.
FULL = {"examples_per_class": 1000, "epochs": 5, "seeds": (0, 1, 2)}
QUICK = {"examples_per_class": 200, "epochs": 2, "seeds": (0,)}
BATCH_SIZE = 50
HIDDEN_LAYERS = (100, 100, 100, 100, 100)

# Plain SGD with a learning rate that lets the initializers' differences show.
BASE = {"hidden_layers": HIDDEN_LAYERS, "batch_norm": False, "dropout_rate": 0.0,
        "optimizer": "sgd", "learning_rate": 0.01}
# (label, run name, DNNConfig fields)
VARIANTS = (
    ("Xavier, ReLU", "xavier-relu", {"initializer": "xavier", "activation": "relu"}),
    ("He, ReLU", "he-relu", {"initializer": "he", "activation": "relu"}),
    ("He, leaky ReLU", "he-leaky_relu", {"initializer": "he",
                                         "activation": "leaky_relu"}),
    ("He, ELU", "he-elu", {"initializer": "he", "activation": "elu"}),
)
# (what the line says, the better choice, the one it replaces)
EFFECTS = (("He instead of Xavier (ReLU)", "He, ReLU", "Xavier, ReLU"),
           ("leaky ReLU instead of ReLU (He)", "He, leaky ReLU", "He, ReLU"),
           ("ELU instead of ReLU (He)", "He, ELU", "He, ReLU"))

# ------------------------------------------------------------------------ the runs


def train_variant(choice, seed, train, datasets, run_dir, epochs):
  """Trains one initializer/activation choice; returns its metrics."""
  # Same seed, same shuffles: the initializer draws from the same random stream, and
  # only the config differs between variants.
  config = DNNConfig(**BASE, **choice, seed=seed)
  run = lifecycle.train(config, train, datasets.validation, test=datasets.test,
                         run_dir=run_dir, epochs=epochs, batch_size=BATCH_SIZE,
                         patience=None, verbose=0)
  return {"curve": [h["val_accuracy"] for h in run.history],  # one per epoch
          "test": run.test["accuracy"], "dead": dead_percent(run.run_dir),
          "seconds": run.seconds}


def dead_percent(run_dir):
  """The mean share of hidden units off for a whole batch at the last logged step, %.

  SummaryHook logged it for TensorBoard (`dead_fraction/<layer>`); a ReLU unit there
  has a zero gradient. Leaky ReLU and ELU units are counted by the same rule, but still
  pass a small gradient and can recover.
  """
  scalars = summaries.read_scalars(os.path.join(summaries.logdir_of(run_dir),
                                                summaries.TRAIN))
  last = [values[-1] for tag, (_, values) in scalars.items()
          if tag.startswith("dead_fraction/")]
  return 100 * _common.mean(last) if last else float("nan")


# --------------------------------------------------------------------------- main


def main(args):
  budget = QUICK if args.quick else FULL
  datasets = _common.load_mnist_or_exit(DEMO)
  train = data.sample_per_class(datasets.train, budget["examples_per_class"], seed=0)
  seeds = budget["seeds"]
  print(f"{len(VARIANTS)} initializer/activation choices x {len(seeds)} seed(s); net "
        f"784-{'-'.join(map(str, HIDDEN_LAYERS))}-10, SGD (lr {BASE['learning_rate']:g})"
        f", {train.num_examples} training images, {budget['epochs']} epochs", flush=True)
  results = _common.run_variants(
      args.out, VARIANTS, seeds,
      lambda variant, seed, run_dir: train_variant(variant[2], seed, train, datasets,
                                                   run_dir, budget["epochs"]))

  _common.report_accuracies(
      args.out, DEMO, title="Demo 2a: initializers and activations",
      heading="Xavier vs He, leaky ReLU and ELU vs ReLU",
      columns=["initialization, activation", "units off for a whole batch % (end)"],
      rows={name: [name, f"{_common.mean([r['dead'] for r in results[name]]):.1f}"]
            for name, *_ in VARIANTS},
      results=results, epochs=budget["epochs"], comparisons=EFFECTS,
      plot_title="Initialization and activation, plain SGD",
      bullets=[f"Net 784-{'-'.join(map(str, HIDDEN_LAYERS))}-10, SGD (lr "
               f"{BASE['learning_rate']:g}), {train.num_examples} training images, "
               f"{budget['epochs']} epochs, batch {BATCH_SIZE}."])
  _common.finish(args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main(ARGS))
