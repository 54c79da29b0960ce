"""Demo 4 (beyond the lesson): the lesson's techniques measured on one MNIST budget.

Run from the repository root:

    .venv/bin/python demos/compare_techniques.py             # full run, 3 min
    .venv/bin/python demos/compare_techniques.py --quick     # 40-65 s

(times measured on a shared 2-core machine; they vary with its load.)

The lesson lists ways to train deep nets faster and better: a good initializer, a
non-saturating activation, batch normalization, a faster optimizer. It also ranks the
activations: "In general: ELU > leaky ReLU > ReLU > tanh > logistic". This demo checks
those claims on MNIST. One reference net (five hidden layers of 100 units: deep enough
for vanishing gradients to matter) is changed one choice at a time, and every variant
trains on the same examples for the same epochs, once per seed. The table reports the
mean and standard deviation over the seeds, so a difference smaller than the
seed-to-seed spread reads as noise, not as a ranking (--quick has one seed: no spread).

Every variant is an ordinary `runs.lifecycle.train` run: a fresh `tf.Graph`, a `Session`,
checkpoints in its own run directory. Only the `DNNConfig` differs, which is the point
of building the graph from a config: the comparison changes data, not code.

Outputs go under checkpoints/compare_techniques (--out DIR to change it): results.md
(the table and the activation ranking), comparison.png (validation accuracy from 0 to
100% and seconds per variant), runs/<variant>-seed<N>/ (one run directory per run).
"""

import dataclasses
import math
import os
import sys

import _common

DEMO = "compare_techniques"
if __name__ == "__main__":
  ARGS = _common.preflight(__doc__, DEMO)  # a bad flag or --out stops here, in a second

# pylint: disable=wrong-import-position
import matplotlib

from dnn_toolkit import import_tensorflow_quietly

import_tensorflow_quietly()  # before any module that imports TensorFlow
from dnn_toolkit import lr_finder, plots
from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.errors import TrainingDivergedError

# pylint: enable=wrong-import-position

# ---------------------------------------------------------------------------- flags

# The budget every variant gets; --quick trains fewer variants on fewer examples, with
# one seed.
FULL = {"examples_per_class": 2000, "epochs": 5, "seeds": (0, 1, 2)}
QUICK = {"examples_per_class": 200, "epochs": 2, "seeds": (0,)}
BATCH_SIZE = 50
HIDDEN_LAYERS = (100, 100, 100, 100, 100)

# The reference: the lesson's default DNN without batch norm and dropout, so that each
# choice below shows on its own. Every variant changes one field of it.
REFERENCE = {"hidden_layers": HIDDEN_LAYERS, "initializer": "he", "activation": "elu",
             "batch_norm": False, "dropout_rate": 0.0, "optimizer": "adam",
             "learning_rate": 0.001}

# A sensible learning rate per optimizer (batch size 50): each is near the best of a
# short sweep on this budget, so the comparison is of optimizers, not of one rate.
# 'momentum', 'nesterov' and 'rmsprop' use momentum 0.9.
LEARNING_RATES = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.05,
                  "rmsprop": 0.0003, "adam": 0.001}

# (group, variant, changes to REFERENCE, also in --quick). "lesson default" is the
# lesson's whole default configuration (He, ELU, batch norm, dropout 0.2, Adam).
VARIANTS = (
    [("initializer", name, {"initializer": name}, name in ("he", "normal"))
     for name in ("xavier", "he", "normal")] +
    [("activation", name, {"activation": name}, name != "selu")
     for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu")] +
    [("batch norm", name, {"batch_norm": name == "on"}, True) for name in ("off", "on")] +
    [("optimizer", name, {"optimizer": name, "learning_rate": rate},
      name in ("sgd", "adam")) for name, rate in LEARNING_RATES.items()] +
    [("lesson default", "he+elu+BN+dropout+adam",
      {"batch_norm": True, "dropout_rate": 0.2}, True)])

# "Increasing the learning rate": start higher, then reduce it when the validation loss
# stops falling (the plateau schedule), beside the rate a range test suggests.
PLATEAU = {"learning_rate": 3 * REFERENCE["learning_rate"], "schedule": "plateau",
           "plateau_factor": 0.5, "plateau_patience": 1}

# The lesson's ranking, best first.
CLAIM = ("elu", "leaky_relu", "relu", "tanh", "sigmoid")

# ------------------------------------------------------------------------ the runs


def unique_configs(variants):
  """Maps each distinct config to a run name; the reference appears in every group.

  Returns:
    (configs, names): `configs` is a list of (run name, run name, DNNConfig) without
    repeats, for `_common.run_variants`; `names[i]` is the run name of `variants[i]`.
  """
  reference = DNNConfig(**REFERENCE)
  configs, names, by_fields = [], [], {}
  for group, variant, changes, _ in variants:
    config = dataclasses.replace(reference, **changes)
    key = repr(sorted(config.to_dict().items()))
    if key not in by_fields:
      name = "reference" if config == reference else f"{group}-{variant}"
      by_fields[key] = name.replace(" ", "_").replace("+", "_")
      configs.append((by_fields[key], by_fields[key], config))
    names.append(by_fields[key])
  return configs, names


def train_one(config, seed, run_dir, budget, sets):
  """Trains one config with one seed; returns its metrics (NaN if it diverged)."""
  train, validation, test = sets
  try:
    # The config's seed fixes the initial weights, the dropout masks and the
    # shuffling: two runs differ only by what the table compares.
    run = lifecycle.train(dataclasses.replace(config, seed=seed), train, validation,
                           test=test, run_dir=run_dir, epochs=budget["epochs"],
                           batch_size=BATCH_SIZE, patience=None, verbose=0)
  except TrainingDivergedError:
    return {"val": math.nan, "test": math.nan, "seconds": math.nan}
  # training.fit put back the weights of the lowest validation loss: report them.
  kept = run.history[run.state.best_epoch - 1]
  return {"val": kept["val_accuracy"], "test": run.test["accuracy"],
          "seconds": run.seconds}


def learning_rate_variants(train):
  """The range test's rate for the reference net, and the plateau schedule from 3x."""
  found = lr_finder.find_learning_rate(DNNConfig(**REFERENCE), train, steps=200,
                                       batch_size=BATCH_SIZE)
  print(f"range test: {found.rule}", flush=True)
  variants = [("learning rate", "plateau from 3x, halved", PLATEAU, True)]
  if found.suggested_learning_rate is not None:
    variants.insert(0, ("learning rate", "range test",
                        {"learning_rate": found.suggested_learning_rate}, True))
  return variants


def summary(metrics):
  if math.isnan(metrics["val"]):
    return "diverged"
  return (f"val acc {metrics['val']:.4f}  test acc {metrics['test']:.4f}  "
          f"{metrics['seconds']:5.1f}s")


# --------------------------------------------------------------------------- main


def main(args):
  budget = QUICK if args.quick else FULL
  variants = [v for v in VARIANTS if v[3] or not args.quick]
  datasets = _common.load_mnist_or_exit(DEMO)
  # The same balanced subset for every run: the budget is fixed, only configs vary.
  train = data.sample_per_class(datasets.train, budget["examples_per_class"], seed=0)
  variants += learning_rate_variants(train)
  configs, names = unique_configs(variants)
  print(f"{len(configs)} variants x {len(budget['seeds'])} seed(s), "
        f"{train.num_examples} examples, {budget['epochs']} epochs each", flush=True)
  sets = (train, datasets.validation, datasets.test)
  results = _common.run_variants(
      args.out, configs, budget["seeds"],
      lambda config, seed, run_dir: train_one(config[2], seed, run_dir, budget, sets),
      summary)

  n_seeds = len(budget["seeds"])
  rows = table_rows(variants, names, results)
  ranking = activation_ranking(variants, names, results, n_seeds)
  headers = HEADERS[:3] + [f"{h} ({_common.over_seeds(n_seeds)})" for h in HEADERS[3:5]
                           ] + HEADERS[5:]
  _common.print_table(headers, rows)
  print(f"\nActivation ranking (validation accuracy, %, {_common.over_seeds(n_seeds)}):")
  print("\n".join(ranking))
  _common.write_results(
      os.path.join(args.out, "results.md"),
      "Techniques of the lesson on one MNIST budget",
      [("Every variant", headers, rows, []),
       (f"Activation ranking (validation accuracy, {_common.over_seeds(n_seeds)})",
        None, None, ranking)],
      intro=[f"Budget, the same for every variant: {train.num_examples} training "
             f"examples ({budget['examples_per_class']} per digit), {budget['epochs']} "
             f"epochs, batch {BATCH_SIZE}, seeds {list(budget['seeds'])}. Accuracies "
             "are of the weights with the lowest validation loss, on the 5,000 "
             "validation and 10,000 test images, in percent. Seconds are training "
             "time per run (wall clock; noisy on a shared machine).",
             "Reference: " + ", ".join(f"{k}={v}" for k, v in REFERENCE.items()) +
             ". Each row changes only what its settings say."])
  plot(os.path.join(args.out, "comparison.png"), variants, names, results, n_seeds)
  _common.finish(args.out)
  return 0


# ---------------------------------------------------------------------- reporting


HEADERS = ["group", "variant", "settings", "val acc %", "test acc %", "s / run"]


def table_rows(variants, names, results):
  rows = []
  for (group, variant, changes, _), name in zip(variants, names):
    runs = results[name]
    seconds = _common.mean([r["seconds"] for r in runs])
    settings = ""
    if group == "optimizer":
      momentum = changes["optimizer"] in ("momentum", "nesterov", "rmsprop")
      settings = f"lr {changes['learning_rate']:g}" + (", momentum 0.9" if momentum
                                                       else "")
    elif group == "lesson default":
      settings = "batch norm, dropout 0.2"
    elif group == "learning rate":
      settings = f"lr {changes['learning_rate']:.2g}" + (
          f", x{changes['plateau_factor']:g} after {changes['plateau_patience']} epoch "
          "without a lower val loss" if "schedule" in changes else "")
    rows.append([group, variant + (" (reference)" if name == "reference" else ""),
                 settings, _common.percent([r["val"] for r in runs]),
                 _common.percent([r["test"] for r in runs]),
                 f"{seconds:.1f}" if math.isfinite(seconds) else "-"])
  return rows


def activation_ranking(variants, names, results, n_seeds):
  """Returns lines: the observed ranking of the claimed activations, and the verdict."""
  values = {variant: [r["val"] for r in results[name]]
            for (group, variant, _, _), name in zip(variants, names)
            if group == "activation" and variant in CLAIM}
  if len(values) < len(CLAIM):
    return ["Not every activation of the lesson's claim was trained."]
  stats = {a: _common.mean_std(v) for a, v in values.items()}
  observed = sorted(stats, key=lambda a: -stats[a][0] if math.isfinite(stats[a][0])
                    else math.inf)
  lines = ["Observed: " + " > ".join(f"{a} ({_common.percent(values[a])})"
                                     for a in observed),
           "Lesson:   " + " > ".join(CLAIM)]
  held = clear = 0
  for better, worse in zip(CLAIM, CLAIM[1:]):
    gap = stats[better][0] - stats[worse][0]
    spread = stats[better][1] + stats[worse][1]
    held += gap > 0
    clear += gap > spread and n_seeds > 1
    lines.append(f"  {better} > {worse}: {'yes' if gap > 0 else 'no'} ({100 * gap:+.2f} "
                 f"points, {_common.noise_verdict(gap, spread, n_seeds)})")
  verdict = "matches" if tuple(observed) == CLAIM else "does not match"
  lines.append(f"The observed ranking {verdict} the lesson's claim ({held} of "
               f"{len(CLAIM) - 1} pairs in the claimed order, {clear} of them by more "
               "than the seed spread).")
  return lines


def plot(path, variants, names, results, n_seeds):
  """Draws validation accuracy (from 0, with the seed spread) and seconds per variant."""
  colors = dict(zip(dict.fromkeys(g for g, _, _, _ in variants),
                    matplotlib.colormaps["tab10"].colors))
  labels, accuracy, spread, seconds = [], [], [], []
  for (group, variant, _, _), name in zip(variants, names):
    mean, std = _common.mean_std([r["val"] for r in results[name]])
    labels.append(f"{group}: {variant}")
    accuracy.append(100 * mean if math.isfinite(mean) else 0.0)
    spread.append(100 * std if math.isfinite(std) and n_seeds > 1 else 0.0)
    seconds.append(_common.mean([r["seconds"] for r in results[name]]))
  figure = plots.new_figure(11, 0.32 * len(labels) + 1.8)
  left, right = figure.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": (3, 1)})
  rows, bar_colors = range(len(labels)), [colors[g] for g, _, _, _ in variants]
  bars = left.barh(rows, accuracy, xerr=spread if n_seeds > 1 else None,
                   color=bar_colors, capsize=2)
  left.bar_label(bars, labels=[f"{a:.1f}" for a in accuracy], padding=4, fontsize=8)
  left.set_xlim(0.0, 108.0)  # bars start at 0; room for the labels past 100
  left.set_xticks(range(0, 101, 20))
  left.set_xlabel("validation accuracy (%), " + _common.over_seeds(n_seeds) +
                  (" (error bars: std)" if n_seeds > 1 else ""))
  right.barh(rows, [s if math.isfinite(s) else 0.0 for s in seconds], color=bar_colors)
  right.set_xlabel("training seconds per run")
  left.set_yticks(list(rows), labels)
  left.invert_yaxis()
  figure.suptitle("One MNIST budget, one change at a time from the reference")
  plots.save(figure, path)


if __name__ == "__main__":
  sys.exit(main(ARGS))
