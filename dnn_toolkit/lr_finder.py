"""The learning-rate range test: how high a learning rate to start with.

The lesson's scheduling slide says "start with a slightly higher learning rate and then
reduce it"; this module owns finding how high (Smith, "Cyclical Learning Rates", 2017).
`find_learning_rate` trains the config's net, freshly initialised, for a few hundred
mini-batch steps while the learning rate grows exponentially from `low` to `high`,
records the mini-batch loss at each step, and stops early once the loss diverges. The
loss first barely moves (the rate is too small to matter), then falls fast, then
blows up: a good starting rate lies where it falls fastest, well below the blow-up.

    result = lr_finder.find_learning_rate(config, datasets.train, steps=200)
    print(result.suggested_learning_rate, result.rule)
    lr_finder.plot_range_test(result, "lr_range.png")

The growing rate is the package's exponential schedule run backwards: a `DNNConfig`
with `schedule='exponential'`, `learning_rate=low`, `decay_rate=high / low` and
`decay_steps=steps - 1`, so `lr(step) = low * (high / low) ** (step / (steps - 1))`
and `build_dnn` builds the net, the optimizer and the train op as for training.
"""

import dataclasses
import itertools
import math
import os
import time

import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dnn_toolkit import _validation, model
from dnn_toolkit.errors import ArgumentError
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data

_V1 = tf.compat.v1

#: The rules `find_learning_rate` can suggest a rate by, and how each is stated.
RULES = {
    "steepest": "the steepest descent of the smoothed loss (its most negative slope "
                "against log10 of the rate) between the first tenth of the steps and "
                "the loss's minimum",
    "minimum": "a tenth of the rate at the minimum of the smoothed loss",
}


@dataclasses.dataclass
class RangeTest:
  """The result of a learning-rate range test.

  Attributes:
    learning_rates: float64 `[steps_run]`, the rate of each step, increasing.
    losses: float64 `[steps_run]`, each step's mini-batch loss, `dnn.loss` with any
      weight penalty (computed before the step's own update).
    smoothed_losses: float64 `[steps_run]`, their bias-corrected exponential moving
      average, which the suggestion and the divergence test read.
    suggested_learning_rate: the rate the rule picks, or None if the smoothed loss
      never fell below its first value (start lower).
    rule: the sentence saying how the rate was picked (one of `RULES`' values, or why
      there is no suggestion).
    rate_at_minimum: the rate at the minimum of the smoothed loss.
    diverged_at: the step (0-based) whose smoothed loss passed `divergence` times its
      minimum, or was not finite, ending the test; None if all steps ran.
    config: the `DNNConfig` of the test's net and schedule.
    seconds: wall time of the test.
  """
  learning_rates: np.ndarray
  losses: np.ndarray
  smoothed_losses: np.ndarray
  suggested_learning_rate: float | None
  rule: str
  rate_at_minimum: float
  diverged_at: int | None
  config: DNNConfig
  seconds: float


def check_range(low: float, high: float, steps: int) -> tuple[float, float, int]:
  """Validates the range of a range test; returns (low, high, steps).

  Raises:
    TypeError, ValueError: `low` or `high` not positive, `high <= low` (the bounds
      reversed), or `steps` not an integer >= 2, naming the argument.
  """
  low, high = _validation.check_bounds("low", low, "high", high)
  steps = _validation.check_positive_int("steps", steps)
  if steps < 2:
    raise ArgumentError("steps", "Received an invalid value for {name}, expected an "
                        "integer >= 2 (a first and a last rate). Received: {received}",
                        steps)
  return low, high, steps


def range_test_config(config: DNNConfig, low: float, high: float,
                      steps: int) -> DNNConfig:
  """The config whose exponential schedule raises the rate from `low` to `high`.

  Args:
    config: a `DNNConfig`.
    low, high, steps: as `find_learning_rate`.

  Returns:
    `config` with `schedule='exponential'`, `learning_rate=low`,
    `decay_rate=high / low` and `decay_steps=steps - 1`.
  """
  low, high, steps = check_range(low, high, steps)
  return dataclasses.replace(config, schedule="exponential", learning_rate=low,
                             decay_rate=high / low, decay_steps=steps - 1)


def find_learning_rate(config: DNNConfig,
                       train: data.DataSet | tuple[np.ndarray, np.ndarray], *,
                       low: float = 1e-6, high: float = 1.0, steps: int = 200,
                       batch_size: int = 50, rule: str = "steepest",
                       smoothing: float = 0.9, divergence: float = 4.0,
                       verbose: int = 0) -> RangeTest:
  """Runs a learning-rate range test of `config`'s net on `train`.

  The net is built by `model.build_dnn` in a fresh graph and trained from its initial
  weights (seeded by `config.seed`) on shuffled mini-batches of `train`
  (`data.minibatch_indices`, as `training.fit` draws them), one step per rate, with
  the config's optimizer, clipping, regularization, dropout and batch norm.

  Args:
    config: the `DNNConfig` to test; its learning-rate schedule is replaced.
    train: a `DataSet` or (images `[n, n_inputs]`, labels `[n]`) pair.
    low: positive float, the first learning rate. Default 1e-6.
    high: float greater than `low`, the last. Default 1.0.
    steps: int >= 2, the number of steps (and rates). Default 200.
    batch_size: positive int, at most n. Default 50.
    rule: how to suggest a rate, a key of `RULES`: 'steepest' (default) or 'minimum'.
    smoothing: float in [0, 1), the moving average's weight of the past. Default 0.9:
      about 10 steps of memory, enough to tame the mini-batch noise without shifting
      the curve far to the right (0.98 lags about 50 steps).
    divergence: float > 1; the test stops once the smoothed loss exceeds this many
      times its minimum. Default 4.0.
    verbose: 0 silent, 1 a line at the end.

  Returns:
    A `RangeTest`.

  Raises:
    TypeError, ValueError: on a bad argument (reversed or non-positive bounds,
      steps < 2, labels outside [0, n_outputs)), before anything is built.
  """
  low, high, steps = check_range(low, high, steps)
  test_config = range_test_config(config, low, high, steps).validate()
  images, labels = data.as_arrays("train", train)
  batch_size = _validation.check_positive_int("batch_size", batch_size)
  if batch_size > len(images):
    raise ValueError("Received an invalid value for `batch_size`, expected at most the "
                     f"{len(images)} training examples. "
                     f"Received: batch_size={batch_size}")
  if labels.min() < 0 or labels.max() >= config.n_outputs:
    raise ValueError(f"Expected `train` labels in [0, {config.n_outputs}) (n_outputs). "
                     f"Received labels from {labels.min()} to {labels.max()}")
  _validation.check_choice("rule", rule, tuple(RULES))
  smoothing = _validation.check_in_range("smoothing", smoothing, 0.0, 1.0,
                                         high_open=True)
  divergence = _validation.check_in_range("divergence", divergence, 1.0, None,
                                          low_open=True)
  started = time.perf_counter()
  rates, losses, smoothed, diverged_at = _run_range_test(
      test_config, images, labels, steps=steps, batch_size=batch_size,
      smoothing=smoothing, divergence=divergence)
  suggested, rule_text, at_minimum = suggest(rates, smoothed, rule)
  result = RangeTest(learning_rates=rates, losses=losses, smoothed_losses=smoothed,
                     suggested_learning_rate=suggested, rule=rule_text,
                     rate_at_minimum=at_minimum, diverged_at=diverged_at,
                     config=test_config, seconds=time.perf_counter() - started)
  if verbose:
    print(format_result(result), flush=True)
  return result


def _batches(n, batch_size, seed):
  """Index arrays `[batch_size]` of shuffled full batches, epoch after epoch."""
  for epoch in itertools.count():
    yield from data.minibatch_indices(n, batch_size, seed, epoch, drop_remainder=True)


def _run_range_test(config, images, labels, *, steps, batch_size, smoothing,
                    divergence):
  """Trains one step per rate; returns (rates, losses, smoothed, diverged_at)."""
  with tf.Graph().as_default() as graph:
    dnn = model.build_dnn(config, images.shape[1])
    fetches = [dnn.train_op, dnn.loss, dnn.learning_rate]
    init = _V1.global_variables_initializer()
  rates, losses, smoothed = [], [], []
  average, best, diverged_at = 0.0, math.inf, None
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    step = sess.make_callable(fetches, [dnn.X, dnn.y, dnn.is_training])
    for i, rows in zip(range(steps), _batches(len(images), batch_size, config.seed)):
      _, loss, rate = step(images[rows], labels[rows], True)
      if dnn.max_norm_op is not None:
        sess.run(dnn.max_norm_op)
      average = smoothing * average + (1.0 - smoothing) * float(loss)
      value = average / (1.0 - smoothing ** (i + 1))  # Bias-corrected: no warm-up.
      rates.append(float(rate))
      losses.append(float(loss))
      smoothed.append(value)
      best = min(best, value)
      if not math.isfinite(value) or value > divergence * best:
        diverged_at = i
        break
  return (np.array(rates), np.array(losses), np.array(smoothed), diverged_at)


def suggest(learning_rates: np.ndarray, smoothed_losses: np.ndarray,
            rule: str = "steepest") -> tuple[float | None, str, float]:
  """Suggests a starting learning rate from a range test's smoothed loss curve.

  Args:
    learning_rates: increasing positive rates `[m]`.
    smoothed_losses: the smoothed loss at each `[m]`; a last non-finite value (the
      divergence that ended the test) is ignored.
    rule: a key of `RULES`.

  Returns:
    (suggested rate or None, the rule's sentence, the rate at the minimum).

  Raises:
    ValueError: on an unknown rule, or rates and losses that are not 1-D of one
      length with at least one finite loss.
  """
  _validation.check_choice("rule", rule, tuple(RULES))
  rates = np.asarray(learning_rates, np.float64)
  values = np.asarray(smoothed_losses, np.float64)
  if rates.ndim != 1 or rates.shape != values.shape or not np.isfinite(values).any():
    raise ValueError("Expected `learning_rates` and `smoothed_losses` 1-D of one length, "
                     f"with a finite loss. Received: shapes {rates.shape} and "
                     f"{values.shape}")
  finite = np.isfinite(values)
  rates, values = rates[finite], values[finite]
  lowest = int(np.argmin(values))
  at_minimum = float(rates[lowest])
  if lowest == 0:
    return (None, "no suggestion: the smoothed loss never fell below its first value "
                  "(start the range lower)", at_minimum)
  if rule == "minimum":
    return at_minimum / 10.0, RULES[rule], at_minimum
  # The first tenth is left out: the average has seen only a few batches there.
  start = min(len(learning_rates) // 10, lowest - 1)
  slopes = np.gradient(values[:lowest + 1], np.log10(rates[:lowest + 1]))
  steepest = start + int(np.argmin(slopes[start:]))
  return float(rates[steepest]), RULES[rule], at_minimum


def format_result(result: RangeTest) -> str:
  """A short report of a `RangeTest`: the suggestion, its rule, where the loss went."""
  smoothed = result.smoothed_losses
  lines = [f"range test: {len(smoothed)} steps, learning rate "
           f"{result.learning_rates[0]:.3g} to {result.learning_rates[-1]:.3g}"
           + (f" (stopped at step {result.diverged_at}: the loss diverged)"
              if result.diverged_at is not None else ""),
           f"smoothed loss {smoothed[0]:.4f} at the start, lowest "
           f"{np.nanmin(smoothed):.4f} at learning rate {result.rate_at_minimum:.3g}"]
  if result.suggested_learning_rate is None:
    lines.append(result.rule)
  else:
    lines.append(f"suggested learning rate: {result.suggested_learning_rate:.3g} "
                 f"(rule: {result.rule})")
  return "\n".join(lines)


def plot_range_test(result: RangeTest, path: str) -> str:
  """Plots a `RangeTest`'s loss against the learning rate (log scale) into a PNG.

  Drawn on matplotlib's Agg canvas directly, as `dnn_toolkit.plots` draws: no display
  and no pyplot state.

  Args:
    result: a `RangeTest`.
    path: the PNG file to write; its directory is created.

  Returns:
    `path`.
  """
  figure = Figure(figsize=(7, 4.5))
  axes = figure.add_subplot(1, 1, 1)
  rates, smoothed = result.learning_rates, result.smoothed_losses
  axes.plot(rates, result.losses, color="0.75", linewidth=0.8, label="mini-batch loss")
  axes.plot(rates, smoothed, color="C0", label="smoothed loss")
  if result.suggested_learning_rate is not None:
    axes.axvline(result.suggested_learning_rate, color="C3", linestyle="--",
                 label=f"suggested {result.suggested_learning_rate:.2g}")
  axes.set_xscale("log")
  finite = smoothed[np.isfinite(smoothed)]
  if finite.size:  # The blow-up would squash the interesting part of the curve.
    bottom = np.nanmin(np.where(np.isfinite(result.losses), result.losses, np.nan))
    axes.set_ylim(0.9 * min(bottom, finite.min()),
                  1.1 * min(finite.max(), 1.5 * finite[0]))
  axes.set_xlabel("learning rate (log scale)")
  axes.set_ylabel("mini-batch training loss")
  axes.set_title("Learning-rate range test")
  axes.grid(True, which="both", alpha=0.3)
  axes.legend()
  figure.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.92)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  FigureCanvasAgg(figure).print_png(path)
  return path
