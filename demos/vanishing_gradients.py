"""Demo 1: the vanishing gradients problem, seen in a sigmoid curve and in a deep net.

Run from the repository root:

    .venv/bin/python demos/vanishing_gradients.py            # full run, ~20 s on 2 cores
    .venv/bin/python demos/vanishing_gradients.py --quick    # under a minute

Part 1 plots the logistic (sigmoid) function and its derivative, shading where the
derivative is under 1% of its peak of 0.25: there a unit is saturated, and
backpropagation multiplies the gradient passing through it by almost nothing.

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

import numpy as np

import _common
from dnn_toolkit import import_tensorflow_quietly

DEMO = "vanishing_gradients"

# ---------------------------------------------------------------------------- flags

DEPTH, UNITS = 10, 100
PROBE_BATCH = 500
FULL = {"train_examples": 20000, "epochs": 2}
QUICK = {"train_examples": 2000, "epochs": 1}
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


def plot_sigmoid(path, threshold=0.01):
  """Plots sigmoid and its derivative; shades where the derivative < threshold * peak.

  Returns:
    The |z| beyond which the sigmoid is saturated.
  """
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  z = np.linspace(-10, 10, 801)
  sigma = 1 / (1 + np.exp(-z))
  derivative = sigma * (1 - sigma)  # peaks at 0.25 for z = 0
  edge = float(np.min(np.abs(z[derivative < threshold * 0.25])))
  figure = Figure(figsize=(8, 4.5))
  axes = figure.add_subplot(1, 1, 1)
  axes.plot(z, sigma, label="sigmoid(z)")
  axes.plot(z, derivative, label="derivative sigmoid(z)(1 - sigmoid(z))")
  for side in (-1, 1):
    axes.axvspan(*sorted((side * edge, side * 10)), color="red", alpha=0.12)
  axes.text(-9.7, 0.55, f"saturated:\nderivative < {threshold:.0%}\nof its peak",
            color="darkred")
  axes.set_xlabel("z")
  axes.set_title("The sigmoid saturates: its gradient vanishes for |z| > "
                 f"{edge:.1f}")
  axes.grid(True, alpha=0.3)
  axes.legend(loc="center right")
  figure.savefig(path, dpi=100)
  return edge


# ------------------------------------------------ part 2: gradients in a deep net


def probe_variant(tf, name, fields, datasets, budget, logdir, seed=42):
  """Builds one variant, probes it, trains it briefly (logging to `logdir`), probes again.

  Returns:
    (report before training, report after, validation accuracy after).
  """
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import diagnostics, summaries, training
  from dnn_toolkit.model import DNNConfig, build_dnn
  # pylint: enable=import-outside-toplevel
  config = DNNConfig(**{**BASE, **fields, "seed": seed})
  X_probe = datasets.validation.images[:PROBE_BATCH]
  y_probe = datasets.validation.labels[:PROBE_BATCH]
  # The graph is built once; the Session runs it (probes, then training, then probes).
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(config, n_inputs=784)
    diagnostics.probes_for_dnn(dnn)  # Probe ops are built before the Session starts.
    # TensorBoard: per-layer gradient norms, saturation, histograms every 20 steps.
    logs = summaries.SummaryHook(dnn, logdir, every_n_steps=20)
    snapshot = training.ParamSnapshot()
    init = tf.compat.v1.global_variables_initializer()
  with tf.compat.v1.Session(graph=graph) as sess:
    sess.run(init)
    # Batch norm probes what a training step sees (batch statistics): before training
    # its moving averages are still 0 and 1, which would hide the normalization.
    bn = config.batch_norm
    before = diagnostics.gradient_report(sess, dnn, X_probe, y_probe, is_training=bn)
    n = budget["train_examples"]
    training.fit(sess, dnn, (datasets.train.images[:n], datasets.train.labels[:n]),
                 datasets.validation, epochs=budget["epochs"], batch_size=50,
                 hooks=[logs], snapshot=snapshot, verbose=0)
    after = diagnostics.gradient_report(sess, dnn, X_probe, y_probe, is_training=bn)
    accuracy = training.evaluate(sess, dnn, datasets.validation.images,
                                 datasets.validation.labels)["accuracy"]
  print(f"  {name}: layer 1 / layer {DEPTH} gradient "
        f"{diagnostics.first_to_last_ratio(before):.1e} before training, "
        f"validation accuracy {accuracy:.1%} after", flush=True)
  return before, after, accuracy


def mean_fraction(report, key):
  values = [row[key] for row in report[:-1] if row[key] is not None]
  return float(np.mean(values)) if values else None


def plot_profiles(results, path):
  """Plots gradient norm against layer, one line per variant, before training."""
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  figure = Figure(figsize=(8, 4.5))
  axes = figure.add_subplot(1, 1, 1)
  for name, (before, _, _) in results.items():
    hidden = before[:-1]
    axes.plot(range(1, len(hidden) + 1), [r["gradient_norm"] for r in hidden], "o-",
              label=name)
  axes.set_yscale("log")
  axes.set_xlabel("hidden layer (1 = nearest the inputs)")
  axes.set_ylabel("gradient norm of its weights")
  axes.set_title(f"Gradient reaching each layer of a {DEPTH}-layer net, one batch")
  axes.grid(True, which="both", alpha=0.3)
  axes.legend(fontsize="small")
  figure.savefig(path, dpi=100)


def results_rows(results):
  from dnn_toolkit import diagnostics  # pylint: disable=import-outside-toplevel
  rows = []
  for name, (before, after, accuracy) in results.items():
    saturated = mean_fraction(before, "saturated_fraction")
    rows.append([name, f"{diagnostics.first_to_last_ratio(before):.1e}",
                 f"{diagnostics.first_to_last_ratio(after):.1e}",
                 "-" if saturated is None else f"{saturated:.0%}",
                 f"{accuracy:.1%}"])
  return rows


def main(argv=None):
  args = _common.parser(__doc__, DEMO).parse_args(argv)
  out = _common.output_dir(args.out, DEMO)
  budget = QUICK if args.quick else FULL
  edge = plot_sigmoid(os.path.join(out, "sigmoid.png"))
  print(f"Part 1: the sigmoid's derivative is under 1% of its peak for |z| > {edge:.1f}"
        " (sigmoid.png)")
  tf = import_tensorflow_quietly()
  datasets = _common.load_mnist_or_exit(DEMO)
  print(f"Part 2: {DEPTH} hidden layers of {UNITS} units, gradients probed on "
        f"{PROBE_BATCH} images, then {budget['epochs']} epoch(s) of SGD on "
        f"{budget['train_examples']} images")
  logs = os.path.join(out, "logs")
  results = {name: probe_variant(tf, name, fields, datasets, budget,
                                 os.path.join(logs, slug(name)))
             for name, fields in VARIANTS}
  print(f"\nPer-layer gradients of '{VARIANTS[1][0]}' before training:")
  from dnn_toolkit import diagnostics  # pylint: disable=import-outside-toplevel
  print(diagnostics.format_report(results[VARIANTS[1][0]][0]))
  headers = ["variant", "layer1/layer10 grad (init)", "after training",
             "saturated (slope < 5% of peak)", "val accuracy"]
  rows = results_rows(results)
  print()
  _common.print_table(headers, rows)
  plot_profiles(results, os.path.join(out, "gradient_norms.png"))
  with open(os.path.join(out, "results.md"), "w") as f:
    f.write(_common.format_table(headers, rows, markdown=True) + "\n")
  from dnn_toolkit import summaries  # pylint: disable=import-outside-toplevel
  print("\nSee the gradients per layer in TensorBoard (scalars gradient_norm/...):\n"
        f"  dnn-toolkit tensorboard {logs}\n  or: "
        + summaries.format_command(summaries.tensorboard_command(logs)))
  _common.finish(out)


def slug(name):
  """'sigmoid, Xavier, batch norm' -> 'sigmoid-xavier-batch-norm', a log run name."""
  return "-".join(name.lower().replace(",", " ").replace("(", " ").replace(")", " ")
                  .split())


if __name__ == "__main__":
  main()
