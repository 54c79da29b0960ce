"""Demo 1: the vanishing gradients problem, seen in a sigmoid curve and in a deep net.

Run from the repository root:

    .venv/bin/python demos/vanishing_gradients.py            # full run, 26 s
    .venv/bin/python demos/vanishing_gradients.py --quick    # 13-30 s

(times measured on a shared 2-core machine; they vary with its load.)

Part 1 plots the logistic (sigmoid) function and its derivative, shading where the
derivative is under 5% of its peak of 0.25 (|z| > 4.4): there a unit is saturated, and
backpropagation multiplies the gradient passing through it by almost nothing. The same
5% (`diagnostics.SATURATION_THRESHOLD`) counts the saturated units of part 2.

Part 2 builds the same deep net, 10 hidden layers of 100 units, four ways and probes the
gradient that reaches each layer from one batch of MNIST, before and after a brief
training run:

- sigmoid with N(0, 1) weights: the units saturate (about half of them);
- sigmoid with Xavier weights: no saturation, yet each sigmoid layer shrinks the gradient
  (its derivative is at most 0.25), so layer 1 gets a millionth of what layer 10 gets;
- He initialization with ELU: the gradient reaches every layer;
- sigmoid with Xavier and batch normalization: normalizing each layer's inputs keeps
  the sigmoid in its steep middle, and the gradient reaches every layer.

Outputs go under checkpoints/vanishing_gradients (--out DIR to change it): sigmoid.png,
gradient_norms.png (per layer, each variant), results.md, and logs/<variant>/ with the
TensorBoard logs of each brief training run (gradient norm, saturation and dead units
per layer over the steps).
"""

import os
import sys

import _common

DEMO = "vanishing_gradients"
if __name__ == "__main__":
  ARGS = _common.preflight(__doc__, DEMO)  # a bad flag or --out stops here, in a second

# pylint: disable=wrong-import-position
import numpy as np

from dnn_toolkit import import_tensorflow_quietly

tf = import_tensorflow_quietly()  # before any module that imports TensorFlow
from dnn_toolkit import diagnostics, plots, summaries
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training
from dnn_toolkit.training import hooks as training_hooks

# pylint: enable=wrong-import-position

# ---------------------------------------------------------------------------- flags

DEPTH, UNITS = 10, 100
PROBE_BATCH = 500
FULL = {"train_examples": 20000, "epochs": 2}
QUICK = {"train_examples": 2000, "epochs": 1}
SATURATED = diagnostics.SATURATION_THRESHOLD  # derivative below 5% of its peak
# name: DNNConfig fields. Plain SGD, so that what a layer learns is proportional to the
# gradient it receives: adaptive optimizers would rescale a vanished gradient.
BASE = {"hidden_layers": (UNITS,) * DEPTH, "batch_norm": False, "dropout_rate": 0.0,
        "optimizer": "sgd", "learning_rate": 0.05}
VARIANTS = (
    ("sigmoid, N(0,1)", {"activation": "sigmoid", "initializer": "normal"}),
    ("sigmoid, Xavier", {"activation": "sigmoid", "initializer": "xavier"}),
    ("ELU, He", {"activation": "elu", "initializer": "he"}),
    ("sigmoid, Xavier, batch norm", {"activation": "sigmoid", "initializer": "xavier",
                                     "batch_norm": True}),
)

# ------------------------------------------------------- part 1: the sigmoid curve


def sigmoid_curve():
  """Returns z, sigmoid(z), its derivative, and the |z| beyond which it saturates."""
  z = np.linspace(-10, 10, 801)
  sigma = 1 / (1 + np.exp(-z))
  derivative = sigma * (1 - sigma)  # peaks at 0.25 for z = 0
  edge = float(np.min(np.abs(z[derivative < SATURATED * 0.25])))
  return z, sigma, derivative, edge


# ------------------------------------------------ part 2: gradients in a deep net


def probe_variant(fields, datasets, budget, logdir, seed=42):
  """Builds one variant, probes it, trains it briefly (logging to `logdir`), probes again.

  Returns:
    (report before training, report after, validation accuracy after).
  """
  config = DNNConfig(**{**BASE, **fields, "seed": seed})
  X_probe = datasets.validation.images[:PROBE_BATCH]  # [500, 784]
  y_probe = datasets.validation.labels[:PROBE_BATCH]  # [500]
  # The graph is built once, before the Session: the net, the probe ops (gradient
  # norm and saturation per layer) and the TensorBoard summaries of the same numbers.
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(config, n_inputs=784)
    diagnostics.probes_for_dnn(dnn)
    logs = summaries.SummaryHook(dnn, logdir, every_n_steps=20)
    best_weights = training_hooks.BestWeights()
    init = tf.compat.v1.global_variables_initializer()
  # The Session runs it: probes, then training steps, then probes again.
  with tf.compat.v1.Session(graph=graph) as sess:
    sess.run(init)
    # Batch norm probes what a training step sees (batch statistics): before training
    # its moving averages are still 0 and 1, which would hide the normalization.
    bn = config.batch_norm
    before = diagnostics.gradient_report(sess, dnn, X_probe, y_probe, is_training=bn)
    n = budget["train_examples"]
    training.fit(sess, dnn, (datasets.train.images[:n], datasets.train.labels[:n]),
                 datasets.validation, epochs=budget["epochs"], batch_size=50,
                 hooks=[logs], best_weights=best_weights, verbose=0)
    after = diagnostics.gradient_report(sess, dnn, X_probe, y_probe, is_training=bn)
    accuracy = training.evaluate(sess, dnn, datasets.validation.images,
                                 datasets.validation.labels)["accuracy"]
  return before, after, accuracy


# --------------------------------------------------------------------------- main


def main(args):
  budget = QUICK if args.quick else FULL
  z, sigma, derivative, edge = sigmoid_curve()
  plot_sigmoid(os.path.join(args.out, "sigmoid.png"), z, sigma, derivative, edge)
  print(f"Part 1: the sigmoid's derivative is under {SATURATED:.0%} of its peak for "
        f"|z| > {edge:.1f} (sigmoid.png)")
  datasets = _common.load_mnist_or_exit(DEMO)
  print(f"Part 2: {DEPTH} hidden layers of {UNITS} units, gradients probed on "
        f"{PROBE_BATCH} images, then {budget['epochs']} epoch(s) of SGD on "
        f"{budget['train_examples']} images", flush=True)
  logs = os.path.join(args.out, "logs")
  results = {}
  for name, fields in VARIANTS:
    results[name] = probe_variant(fields, datasets, budget,
                                  os.path.join(logs, slug(name)))
    before, _, accuracy = results[name]
    print(f"  {name}: layer 1 / layer {DEPTH} gradient "
          f"{diagnostics.first_to_last_ratio(before):.1e} before training, "
          f"validation accuracy {accuracy:.1%} after", flush=True)

  print(f"\nPer-layer gradients of '{VARIANTS[1][0]}' before training:")
  print(diagnostics.format_report(results[VARIANTS[1][0]][0]))
  headers = ["variant", f"layer1/layer{DEPTH} grad (init)", "after training",
             f"saturated (slope < {SATURATED:.0%} of peak)", "val accuracy"]
  rows = [[name, f"{diagnostics.first_to_last_ratio(before):.1e}",
           f"{diagnostics.first_to_last_ratio(after):.1e}",
           mean_fraction(before, "saturated_fraction"), f"{accuracy:.1%}"]
          for name, (before, after, accuracy) in results.items()]
  _common.print_table(headers, rows)
  plot_profiles(os.path.join(args.out, "gradient_norms.png"), results)
  _common.write_results(os.path.join(args.out, "results.md"),
                        "Demo 1: vanishing gradients", [
                            ("Gradient reaching layer 1, relative to layer 10", headers,
                             rows, [f"one batch of {PROBE_BATCH} validation images; "
                                    "one seed"])])
  print("\nSee the gradients per layer in TensorBoard (scalars gradient_norm/...):\n"
        f"  dnn-toolkit tensorboard {logs}\n  or: "
        + summaries.format_command(summaries.tensorboard_command(logs)))
  _common.finish(args.out)
  return 0


# ---------------------------------------------------------------------- reporting


def mean_fraction(report, key):
  """The mean of `key` over the hidden layers of a report, as '42%', or '-'."""
  values = [row[key] for row in report[:-1] if row[key] is not None]
  return f"{np.mean(values):.0%}" if values else "-"


def slug(name):
  """'sigmoid, Xavier, batch norm' -> 'sigmoid-xavier-batch-norm', a log run name."""
  return "-".join(name.lower().replace(",", " ").replace("(", " ").replace(")", " ")
                  .split())


def plot_sigmoid(path, z, sigma, derivative, edge):
  """Plots sigmoid and its derivative, shading where the sigmoid is saturated."""
  figure = plots.new_figure(8, 4.5)
  axes = figure.add_subplot(1, 1, 1)
  axes.plot(z, sigma, "-", label="sigmoid(z)")
  axes.plot(z, derivative, "--", label="derivative sigmoid(z)(1 - sigmoid(z))")
  for side in (-1, 1):
    axes.axvspan(*sorted((side * edge, side * 10)), color="red", alpha=0.12,
                 label=f"saturated: derivative < {SATURATED:.0%} of its peak"
                 if side < 0 else None)
  axes.set_xlabel("z (a unit's input)")
  axes.set_ylabel("value")
  axes.set_title(f"The sigmoid saturates: its gradient vanishes for |z| > {edge:.1f}")
  axes.grid(True, alpha=0.3)
  plots.legend_outside(axes)
  plots.save(figure, path)


def plot_profiles(path, results):
  """Plots gradient norm against layer, one styled line per variant, before training."""
  figure = plots.new_figure(8, 4.5)
  axes = figure.add_subplot(1, 1, 1)
  for i, (name, (before, _, _)) in enumerate(results.items()):
    hidden = before[:-1]
    axes.plot(range(1, len(hidden) + 1), [r["gradient_norm"] for r in hidden],
              label=name, **plots.line_style(i))
  axes.set_yscale("log")
  axes.set_xticks(range(1, DEPTH + 1))
  axes.set_xlabel("hidden layer (1 = nearest the inputs)")
  axes.set_ylabel(plots.GRADIENT_LABEL)
  axes.set_title(f"Gradient reaching each layer of a {DEPTH}-layer net, one batch")
  axes.grid(True, which="both", alpha=0.3)
  plots.legend_outside(axes)
  plots.save(figure, path)


if __name__ == "__main__":
  sys.exit(main(ARGS))
