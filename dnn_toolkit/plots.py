"""PNG plots of a run, and the one way the toolkit and its demos draw figures.

    plots.plot_learning_curves(result.history, "checkpoints/run1/logs/learning_curves.png")
    plots.plot_gradient_norms({"hidden1": (steps, norms), ...}, "gradient_norms.png",
                              frozen=["hidden1"])

`summaries.SummaryHook` writes both at the end of every run. Any other figure is drawn
the same way, with these helpers:

    figure = plots.new_figure(7.5, 4.5)
    axes = figure.add_subplot(1, 1, 1)
    for i, (name, values) in enumerate(curves.items()):
      axes.plot(epochs, values, label=name, **plots.line_style(i))
    plots.epoch_axis(axes, epochs)
    axes.set_ylabel("validation accuracy (%)")
    plots.legend_outside(axes)
    plots.save(figure, "curves.png")

Figures are drawn on matplotlib's Agg canvas directly: no display is needed and
pyplot's global state (and backend) is left untouched, so importing this module in a
notebook changes nothing. Every axis says what it measures and in which unit; lines
differ in colour, marker and dash, so they stay apart in grey print and where they
overlap; legends sit outside the axes, where they hide no data.
"""

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.ticker import MaxNLocator

# At most this many logged steps are drawn as depth profiles in the left panel.
_MAX_PROFILES = 5
# Up to this many epochs, each gets its own tick.
_MAX_EPOCH_TICKS = 12
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DASHES = ("-", "--", "-.", ":")
_COLORS = matplotlib.colormaps["tab10"].colors  # type: ignore[attr-defined]  # Listed.
_FROZEN_COLOR = "#9e9e9e"
LOSS_LABEL = "cross-entropy loss (nats)"
ACCURACY_LABEL = "accuracy (%)"
GRADIENT_LABEL = r"gradient norm $\|\partial L / \partial W\|_2$ (log scale)"


# ---------------------------------------------------------- the rendering idiom


def new_figure(width: float, height: float) -> Figure:
  """Returns a matplotlib `Figure` of `width` x `height` inches on the Agg canvas.

  Its layout is "constrained": labels and outside legends get room without a manual
  `subplots_adjust`.
  """
  figure = Figure(figsize=(width, height), layout="constrained")
  FigureCanvasAgg(figure)
  return figure


def save(figure: Figure, path: str, dpi: int = 100) -> str:
  """Writes `figure` as a PNG at `path` (its directory is created); returns `path`."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  figure.savefig(path, dpi=dpi)
  return path


def line_style(index: int) -> dict[str, Any]:
  """Returns the `axes.plot` keywords of the `index`-th line: colour, marker, dash.

  Markers and dashes cycle with different periods (8 and 4) beside the 10 colours,
  and every other marker is hollow, so lines that coincide stay visible.
  """
  return {"color": _COLORS[index % len(_COLORS)],
          "marker": _MARKERS[index % len(_MARKERS)],
          "linestyle": _DASHES[index % len(_DASHES)],
          "markerfacecolor": "none" if index % 2 else None,
          "markersize": 6}


def epoch_axis(axes: Axes, epochs: Sequence[int]) -> None:
  """Labels the x axis 'epoch' with integer ticks only (one per epoch for short runs).

  Args:
    axes: matplotlib axes.
    epochs: the epoch numbers drawn, e.g. [1, 2, 3].
  """
  epochs = sorted(set(int(e) for e in epochs))
  if epochs and len(epochs) <= _MAX_EPOCH_TICKS:
    axes.set_xticks(epochs)
    axes.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)  # A single epoch: no 0.95..1.05.
  else:
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
  axes.set_xlabel("epoch")


def legend_outside(axes: Axes, **kwargs: Any) -> Legend:
  """Puts the legend of `axes` right of it, where it hides no data; returns it."""
  kwargs.setdefault("fontsize", "small")
  return axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     **kwargs)


# ------------------------------------------------------------ the run's plots


def plot_learning_curves(history: Sequence[Mapping[str, Any]], path: str) -> str:
  """Plots loss and accuracy per epoch, training and validation, into a PNG.

  Args:
    history: non-empty list of metrics dicts, one per epoch, with keys 'epoch',
      'loss', 'accuracy', 'val_loss' and 'val_accuracy' (`TrainState.history`,
      `RunResult.history`); accuracies are fractions in [0, 1].
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
  figure = new_figure(11, 4)
  panels = (("loss", "Loss", LOSS_LABEL, 1.0), ("accuracy", "Accuracy",
                                                 ACCURACY_LABEL, 100.0))
  for column, (metric, title, label, scale) in enumerate(panels):
    axes = figure.add_subplot(1, 2, column + 1)
    for index, (run, key) in enumerate((("train", metric),
                                        ("validation", f"val_{metric}"))):
      axes.plot(epochs, [scale * e[key] for e in history], label=run,
                **line_style(index))
    epoch_axis(axes, epochs)
    axes.set_ylabel(label)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
  legend_outside(axes)
  return save(figure, path)


def plot_gradient_norms(norms: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str,
                        *, frozen: Iterable[str] = ()) -> str:
  """Plots each layer's gradient norm, by depth and over training, into a PNG.

  The left panel draws the norm against the layer at a few logged steps (vanishing
  gradients show as a slope of orders of magnitude), the right one each layer's norm
  over the steps. Both use a log scale; zero norms are left out. Frozen layers are
  shaded and labelled "(frozen)" on the left and drawn grey and dotted on the right:
  their gradient is computed but never applied.

  Args:
    norms: {layer name: (steps `[n]`, gradient norms `[n]`)}, bottom layer first
      (e.g. `summaries.read_scalars` values of the `gradient_norm/<layer>` tags).
    path: the PNG file to write; its directory is created.
    frozen: names of layers that training leaves unchanged. Default (): none.

  Returns:
    `path`.

  Raises:
    ValueError: if `norms` is empty, a layer's steps and values differ in length, or
      `frozen` names a layer `norms` does not have.
    TypeError: if `frozen` is not a list of names.
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
  frozen = _check_frozen(frozen, series)
  figure = new_figure(12, 4.5)
  _plot_depth_profiles(figure.add_subplot(1, 2, 1), series, frozen)
  axes = figure.add_subplot(1, 2, 2)
  colors = _depth_colors(len(series))
  for index, (color, (name, (steps, values))) in enumerate(zip(colors,
                                                               series.items())):
    keep = values > 0
    style = dict(line_style(index), color=color, markersize=4)
    if name in frozen:
      style.update(color=_FROZEN_COLOR, linestyle=":")
    axes.plot(steps[keep], values[keep], label=_layer_label(name, frozen), **style)
  axes.set_yscale("log")
  axes.xaxis.set_major_locator(MaxNLocator(integer=True))
  axes.set_xlabel("global step (training batches)")
  axes.set_ylabel(GRADIENT_LABEL)
  axes.set_title("Gradient norm over training")
  axes.grid(True, which="both", alpha=0.3)
  legend_outside(axes, ncol=1 if len(series) <= 12 else 2)
  return save(figure, path)


def _check_frozen(frozen, series):
  """Returns `frozen` as a set of layer names of `series`, or raises."""
  if isinstance(frozen, str) or not isinstance(frozen, (list, tuple, set, frozenset)):
    raise TypeError("Expected `frozen` to be a list of layer names. "
                    f"Received: frozen={frozen!r}")
  unknown = [name for name in frozen if name not in series]
  if unknown:
    raise ValueError(f"Received an invalid value for `frozen`, expected layers of "
                     f"`norms` ({', '.join(series)}). Received: {unknown}")
  return set(frozen)


def _layer_label(name, frozen):
  return f"{name} (frozen)" if name in frozen else name


def _plot_depth_profiles(axes, series, frozen):
  """Draws gradient norm against layer at up to `_MAX_PROFILES` logged steps."""
  names = list(series)
  all_steps = sorted(set().union(*(set(steps.tolist()) for steps, _ in
                                   series.values())))
  if len(all_steps) > _MAX_PROFILES:
    picks = np.linspace(0, len(all_steps) - 1, _MAX_PROFILES).round().astype(int)
    all_steps = [all_steps[i] for i in sorted(set(picks))]
  for index, step in enumerate(all_steps):
    profile = []
    for name in names:
      steps, values = series[name]
      found = values[steps == step]
      profile.append(found[-1] if len(found) and found[-1] > 0 else np.nan)
    axes.plot(range(len(names)), profile, label=f"step {step}", **line_style(index))
  for position in (i for i, name in enumerate(names) if name in frozen):
    axes.axvspan(position - 0.5, position + 0.5, color=_FROZEN_COLOR, alpha=0.25,
                 hatch="//", linewidth=0,
                 label="frozen" if position == _first_frozen(names, frozen) else None)
  axes.set_yscale("log")
  axes.set_xticks(range(len(names)))
  axes.set_xticklabels([_layer_label(n, frozen) for n in names], rotation=45,
                       ha="right", fontsize="small")
  axes.set_xlabel("layer (bottom to top)")
  axes.set_ylabel(GRADIENT_LABEL)
  axes.set_title("Gradient norm by layer")
  axes.grid(True, which="both", alpha=0.3)
  legend_outside(axes)


def _first_frozen(names, frozen):
  return next((i for i, name in enumerate(names) if name in frozen), None)


def _depth_colors(n):
  """n colors from dark (bottom layer) to light (top layer)."""
  colormap = matplotlib.colormaps["viridis"]
  return [colormap(x) for x in np.linspace(0.0, 0.9, n)]
