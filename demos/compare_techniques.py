"""Demo 4 (beyond the lesson): the lesson's techniques measured on one MNIST budget.

Run from the repository root:

    .venv/bin/python demos/compare_techniques.py             # full run, ~3 min on 2 cores
    .venv/bin/python demos/compare_techniques.py --quick     # under a minute

The lesson lists ways to train deep nets faster and better: a good initializer, a
non-saturating activation, batch normalization, a faster optimizer. It also ranks the
activations: "In general: ELU > leaky ReLU > ReLU > tanh > logistic". This demo checks
those claims on MNIST. One reference net (five hidden layers of 100 units: deep enough
for vanishing gradients to matter) is changed one choice at a time, and every variant
trains on the same examples for the same epochs, once per seed. The table reports the
mean and standard deviation over the seeds, so a difference smaller than the
seed-to-seed spread reads as noise, not as a ranking.

Every variant is an ordinary `experiment.train` run: a fresh `tf.Graph`, a `Session`,
checkpoints in its own run directory. Only the `DNNConfig` differs, which is the point
of building the graph from a config: the comparison changes data, not code.

Outputs go under checkpoints/compare_techniques (--out DIR to change it): results.md
(the table and the activation ranking), comparison.png (validation accuracy and
seconds per variant), runs/<variant>-seed<N>/ (one run directory per training run).
"""

import dataclasses
import math
import os
import sys

import _common
from dnn_toolkit import import_tensorflow_quietly

DEMO = "compare_techniques"

# ---------------------------------------------------------------------------- flags

# The budget every variant gets. A full run measured 5.5 minutes on a busy 2-core
# machine; --quick trains fewer variants on fewer examples, with one seed.
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

# The lesson's ranking, best first.
CLAIM = ("elu", "leaky_relu", "relu", "tanh", "sigmoid")


def parse_args(argv=None):
  return _common.parser(__doc__, DEMO).parse_args(argv)


# ------------------------------------------------------------------------ the runs


def unique_configs(variants):
  """Maps each distinct config to a run name; the reference appears in every group.

  Returns:
    (configs, names): `configs` is a list of (run name, DNNConfig) without repeats;
    `names[i]` is the run name of `variants[i]`.
  """
  from dnn_toolkit.model import DNNConfig  # pylint: disable=import-outside-toplevel
  reference = DNNConfig(**REFERENCE)
  configs, names, by_fields = [], [], {}
  for group, variant, changes, _ in variants:
    config = dataclasses.replace(reference, **changes)
    key = repr(sorted(config.to_dict().items()))
    if key not in by_fields:
      name = "reference" if config == reference else f"{group}-{variant}"
      by_fields[key] = name.replace(" ", "_").replace("+", "_")
      configs.append((by_fields[key], config))
    names.append(by_fields[key])
  return configs, names


def run_all(configs, budget, datasets, out):
  """Trains every config once per seed; returns {run name: [per-seed metrics]}."""
  from dnn_toolkit import experiment  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.errors import TrainingDivergedError  # pylint: disable=import-outside-toplevel
  train, validation, test = datasets
  results = {name: [] for name, _ in configs}
  total, done = len(configs) * len(budget["seeds"]), 0
  for name, config in configs:
    for seed in budget["seeds"]:
      done += 1
      try:
        # The config's seed fixes the initial weights, the dropout masks and the
        # shuffling: two runs differ only by what the table compares.
        run = experiment.train(
            dataclasses.replace(config, seed=seed), train, validation, test=test,
            run_dir=_common.run_dir(out, f"{name}-seed{seed}"), epochs=budget["epochs"],
            batch_size=BATCH_SIZE, patience=None, verbose=0,
            hook_factories=experiment.default_hook_factories())
      except TrainingDivergedError:
        results[name].append({"val": math.nan, "test": math.nan, "seconds": math.nan})
        print(f"[{done:2d}/{total}] {name:<32} seed {seed}  diverged", flush=True)
        continue
      # training.fit put back the weights of the lowest validation loss: report them.
      kept = run.history[run.state.best_epoch - 1]
      results[name].append({"val": kept["val_accuracy"], "test": run.test["accuracy"],
                            "seconds": run.seconds})
      print(f"[{done:2d}/{total}] {name:<32} seed {seed}  val acc "
            f"{kept['val_accuracy']:.4f}  test acc {run.test['accuracy']:.4f}  "
            f"{run.seconds:5.1f}s", flush=True)
  return results


# --------------------------------------------------------------------- the summary


def settings(group, changes):
  """The settings a row changes, as the table states them."""
  if group == "optimizer":
    momentum = ", momentum 0.9" if changes["optimizer"] in (
        "momentum", "nesterov", "rmsprop") else ""
    return f"lr {changes['learning_rate']:g}{momentum}"
  if group == "lesson default":
    return "batch norm, dropout 0.2"
  return ""


def table_rows(variants, names, results):
  rows = []
  for (group, variant, changes, _), name in zip(variants, names):
    runs = results[name]
    label = variant + (" (reference)" if name == "reference" else "")
    seconds = _common.mean_std([r["seconds"] for r in runs])[0]
    rows.append([group, label, settings(group, changes),
                 _common.percent([r["val"] for r in runs]), _common.percent([r["test"] for r in runs]),
                 f"{seconds:.1f}" if math.isfinite(seconds) else "-"])
  return rows


HEADERS = ["group", "variant", "settings", "val acc % (mean ± std)",
           "test acc % (mean ± std)", "s / run"]


def activation_ranking(variants, names, results, n_seeds):
  """Returns lines: the observed ranking of the claimed activations, and the verdict."""
  stats = {variant: _common.mean_std([r["val"] for r in results[name]])
           for (group, variant, _, _), name in zip(variants, names)
           if group == "activation" and variant in CLAIM}
  if len(stats) < len(CLAIM):
    return ["Not every activation of the lesson's claim was trained."]
  observed = sorted(stats, key=lambda a: -stats[a][0] if math.isfinite(stats[a][0])
                    else math.inf)
  lines = ["Observed: " + " > ".join(
               f"{a} ({100 * stats[a][0]:.2f} ± {100 * stats[a][1]:.2f})"
               for a in observed),
           "Lesson:   " + " > ".join(CLAIM)]
  held = clear = 0
  for better, worse in zip(CLAIM, CLAIM[1:]):
    gap = stats[better][0] - stats[worse][0]
    spread = stats[better][1] + stats[worse][1]
    held += gap > 0
    clear += gap > spread and n_seeds > 1
    noise = ("one seed: cannot tell from noise" if n_seeds < 2 else
             "larger than the seed spread" if abs(gap) > spread else "within noise")
    lines.append(f"  {better} > {worse}: {'yes' if gap > 0 else 'no'} "
                 f"({100 * gap:+.2f} points, {noise})")
  verdict = "matches" if tuple(observed) == CLAIM else "does not match"
  lines.append(f"The observed ranking {verdict} the lesson's claim ({held} of "
               f"{len(CLAIM) - 1} pairs in the claimed order, {clear} of them by more "
               "than the seed spread).")
  return lines


def write_markdown(path, budget, n_train, rows, ranking):
  reference = ", ".join(f"{k}={v}" for k, v in REFERENCE.items())
  text = "\n".join([
      "# Techniques of the lesson on one MNIST budget", "",
      f"Budget, the same for every variant: {n_train} training examples "
      f"({budget['examples_per_class']} per digit), {budget['epochs']} epochs, batch "
      f"{BATCH_SIZE}, seeds {list(budget['seeds'])}. Accuracies are of the weights "
      "with the lowest validation loss, on the 5,000 validation and 10,000 test "
      "images, in percent: mean ± standard deviation over the seeds. Seconds are "
      "training time per run (wall clock; noisy on a shared machine).", "",
      f"Reference: {reference}. Each row changes only what its settings say.", "",
      _common.format_table(HEADERS, rows, markdown=True), "",
      "## Activation ranking (validation accuracy)", "",
      "```", *ranking, "```", ""])
  with open(path, "w") as f:
    f.write(text)


def plot(path, variants, names, results):
  """Draws validation accuracy (with the seed spread) and seconds per variant."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  labels, accuracy, spread, seconds, colors = [], [], [], [], []
  palette = dict(zip(dict.fromkeys(g for g, _, _, _ in variants), plt.cm.tab10.colors))
  for (group, variant, _, _), name in zip(variants, names):
    mean, std = _common.mean_std([r["val"] for r in results[name]])
    labels.append(f"{group}: {variant}")
    accuracy.append(100 * mean if math.isfinite(mean) else 0.0)
    spread.append(100 * std if math.isfinite(std) else 0.0)
    seconds.append(_common.mean_std([r["seconds"] for r in results[name]])[0])
    colors.append(palette[group])
  seconds = [s if math.isfinite(s) else 0.0 for s in seconds]
  fig, (left, right) = plt.subplots(1, 2, sharey=True,
                                    figsize=(11, 0.32 * len(labels) + 1.5))
  rows = range(len(labels))
  bars = left.barh(rows, accuracy, xerr=spread, color=colors, capsize=2)
  left.bar_label(bars, labels=[f"{a:.1f}" for a in accuracy], padding=8, fontsize=8)
  low = min(a for a in accuracy if a > 0) if any(accuracy) else 0.0
  left.set_xlim(max(0.0, low - 2.0), 108.0)  # room for the labels past 100
  left.set_xticks([t for t in left.get_xticks() if t <= 100])
  left.set_xlabel("validation accuracy (%), mean ± std over seeds")
  right.barh(rows, seconds, color=colors)
  right.set_xlabel("training seconds per run")
  left.set_yticks(list(rows), labels)
  left.invert_yaxis()
  fig.suptitle("One MNIST budget, one change at a time from the reference")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


# --------------------------------------------------------------------------- main


def main(argv=None):
  args = parse_args(argv)
  out = _common.output_dir(args.out, DEMO)  # fails in a second, before TF loads
  budget = QUICK if args.quick else FULL
  variants = [v for v in VARIANTS if v[3] or not args.quick]
  import_tensorflow_quietly()  # first: it hides TF's start-up log lines
  from dnn_toolkit import data  # pylint: disable=import-outside-toplevel
  datasets = _common.load_mnist_or_exit(DEMO)
  # The same balanced subset for every run: the budget is fixed, only configs vary.
  train = data.sample_per_class(datasets.train, budget["examples_per_class"], seed=0)
  configs, names = unique_configs(variants)
  print(f"{len(configs)} variants x {len(budget['seeds'])} seed(s), "
        f"{train.num_examples} examples, {budget['epochs']} epochs each", flush=True)

  results = run_all(configs, budget, (train, datasets.validation, datasets.test), out)

  rows = table_rows(variants, names, results)
  ranking = activation_ranking(variants, names, results, len(budget["seeds"]))
  print()
  _common.print_table(HEADERS, rows)
  print("\nActivation ranking (validation accuracy, %):")
  print("\n".join(ranking))
  write_markdown(os.path.join(out, "results.md"), budget, train.num_examples, rows,
                 ranking)
  plot(os.path.join(out, "comparison.png"), variants, names, results)
  _common.finish(out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
