"""PNG plots of a run: learning curves and per-layer gradient norms.

    plots.plot_learning_curves(result.history, "checkpoints/run1/logs/learning_curves.png")
    plots.plot_gradient_norms({"hidden1": (steps, norms), ...}, "gradient_norms.png")

`summaries.SummaryHook` writes both at the end of every run. The figures are drawn with
matplotlib's Agg canvas directly: no display is needed and pyplot's global state (and
backend) is left untouched, so importing this module in a notebook changes nothing.
"""

import os

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# At most this many logged steps are drawn as depth profiles in the left panel.
_MAX_PROFILES = 5


def plot_learning_curves(history, path):
  """Plots loss and accuracy per epoch, training and validation, into a PNG.

  Args:
    history: non-empty list of metrics dicts, one per epoch, with keys 'epoch',
      'loss', 'accuracy', 'val_loss' and 'val_accuracy' (`TrainState.history`,
      `RunResult.history`).
    path: the PNG file to write; its directory is created.

  Returns:
    `path`.

  Raises:
    ValueError: if `history` is empty or an entry lacks a key.
  """
  keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")
  if not history:
    raise ValueError("Expected `history` to hold at least one epoch's metrics. "
                     "Received: an empty history")
  for entry in history:
    missing = [k for k in keys if k not in entry]
    if missing:
      raise ValueError(f"Expected each `history` entry to have the keys {list(keys)}. "
                       f"Received an entry without {missing}")
  epochs = [entry["epoch"] for entry in history]
  figure = Figure(figsize=(10, 4))
  for column, (metric, title) in enumerate((("loss", "Loss"),
                                            ("accuracy", "Accuracy"))):
    axes = figure.add_subplot(1, 2, column + 1)
    axes.plot(epochs, [e[metric] for e in history], "o-", label="train")
    axes.plot(epochs, [e[f"val_{metric}"] for e in history], "o-", label="validation")
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
  figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.2)
  return _save(figure, path)


def plot_gradient_norms(norms, path):
  """Plots each layer's gradient norm, by depth and over training, into a PNG.

  The left panel draws the norm against the layer at a few logged steps (vanishing
  gradients show as a slope of orders of magnitude), the right one each layer's norm
  over the steps. Both use a log scale; zero norms are left out.

  Args:
    norms: {layer name: (steps `[n]`, gradient norms `[n]`)}, bottom layer first
      (e.g. `summaries.read_scalars` values of the `gradient_norm/<layer>` tags).
    path: the PNG file to write; its directory is created.

  Returns:
    `path`.

  Raises:
    ValueError: if `norms` is empty or a layer's steps and values differ in length.
  """
  if not norms:
    raise ValueError("Expected `norms` to hold at least one layer. Received: {}")
  series = {}
  for name, (steps, values) in norms.items():
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    if steps.shape != values.shape or steps.ndim != 1:
      raise ValueError(f"Expected the steps and values of layer {name!r} to be 1-D of "
                       f"one length. Received: {steps.shape} and {values.shape}")
    series[name] = (steps, values)
  figure = Figure(figsize=(11, 4.5))
  _plot_depth_profiles(figure.add_subplot(1, 2, 1), series)
  axes = figure.add_subplot(1, 2, 2)
  for color, (name, (steps, values)) in zip(_depth_colors(len(series)), series.items()):
    keep = values > 0
    axes.plot(steps[keep], values[keep], ".-", color=color, label=name)
  axes.set_yscale("log")
  axes.set_xlabel("global step")
  axes.set_title("Gradient norm over training")
  axes.grid(True, which="both", alpha=0.3)
  axes.legend(fontsize="small", ncol=2)
  # Fixed margins: tight_layout would draw the figure twice more to measure it.
  figure.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.92, wspace=0.22)
  return _save(figure, path)


def _plot_depth_profiles(axes, series):
  """Draws gradient norm against layer at up to `_MAX_PROFILES` logged steps."""
  names = list(series)
  all_steps = sorted(set().union(*(set(steps.tolist()) for steps, _ in
                                   series.values())))
  if len(all_steps) > _MAX_PROFILES:
    picks = np.linspace(0, len(all_steps) - 1, _MAX_PROFILES).round().astype(int)
    all_steps = [all_steps[i] for i in sorted(set(picks))]
  for step in all_steps:
    profile = []
    for name in names:
      steps, values = series[name]
      found = values[steps == step]
      profile.append(found[-1] if len(found) and found[-1] > 0 else np.nan)
    axes.plot(range(len(names)), profile, "o-", label=f"step {step}")
  axes.set_yscale("log")
  axes.set_xticks(range(len(names)))
  axes.set_xticklabels(names, rotation=45, ha="right", fontsize="small")
  axes.set_title("Gradient norm by layer")
  axes.grid(True, which="both", alpha=0.3)
  axes.legend(fontsize="small")


def _depth_colors(n):
  """n colors from dark (bottom layer) to light (top layer)."""
  colormap = matplotlib.colormaps["viridis"]
  return [colormap(x) for x in np.linspace(0.0, 0.9, n)]


def _save(figure, path):
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  FigureCanvasAgg(figure).print_png(path)
  return path
