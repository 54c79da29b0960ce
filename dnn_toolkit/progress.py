"""Training progress in the Keras convention: a live bar on a terminal, a line an epoch.

On a terminal, each epoch draws one line that redraws in place (tqdm), fitted to the
terminal's width so it never wraps:

    epoch 3/20 |██████████▍         | 570/1100 [00:02<00:02], loss 0.3184 acc 91.02%

(elapsed < remaining time of the epoch) and once the epoch is validated the bar gives
way to its summary line, which fits 80 columns:

    epoch 3/20  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.34%  4.1s

On a narrow terminal both lines keep the metrics and drop decoration first: the bar,
the times, the word "epoch", the double spaces; only then digits, and last the
validation figures. At 60 columns:

    epoch 3/20 570/1100 [00:02<00:02], loss 0.3184 acc 91.02%
    3/20 loss 0.3184 acc 91.02% val_loss 0.2716 val_acc 92.34%

Written to a file or a pipe (no terminal), only the summary lines are written, one per
epoch. `training.fit` drives a `Progress` with `start_epoch`, `update`, `end_epoch` and
`message`.
"""

import io
import os
import sys
from typing import TextIO

import tqdm

#: The summary line of an epoch fits this many columns when the width is unknown.
DEFAULT_WIDTH = 80
# On a wide terminal the bar line stops here: the bar itself stays readable.
_MAX_BAR_LINE = 120
# The bar is drawn only where it gets at least this many columns.
_MIN_BAR = 10
# The live line's layouts, richest first: (bar format, whether the description says
# "epoch"). The first that fits the width is drawn.
_LAYOUTS = (
    ("{desc} |{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}", True),
    ("{desc} {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}", True),
    ("{desc} {n_fmt}/{total_fmt}{postfix}", True),
    ("{desc} {n_fmt}/{total_fmt}{postfix}", False),
)


class Progress:
  """Reports training progress (see the module docstring for what it writes).

  Args:
    verbose: 0 for silence, 1 for progress.
    stream: where to write. Default sys.stderr.
    min_interval: seconds between two redraws of the bar. Default 0.2.
    width: the columns a line may take. Default None: the terminal's width, read at
      each redraw (so resizing the window is followed), or 80 when it is unknown; the
      summary line never takes more than 80.
  """

  verbose: int
  stream: TextIO
  min_interval: float
  width: int | None
  live: bool

  def __init__(self, verbose: int = 1, stream: TextIO | None = None,
               min_interval: float = 0.2, *, width: int | None = None) -> None:
    self.verbose = verbose
    self.stream = stream or sys.stderr
    self.min_interval = min_interval
    self.width = width
    self.live = bool(verbose) and hasattr(self.stream, "isatty") and self.stream.isatty()
    self._bar: tqdm.tqdm | None = None
    self._epoch = self._epochs = self._n_batches = 0

  def start_epoch(self, epoch: int, epochs: int, n_batches: int) -> None:
    """Starts the bar of epoch `epoch` (0-based) of `epochs`, of `n_batches` batches."""
    self._close_bar()
    self._epoch, self._epochs, self._n_batches = epoch, epochs, n_batches

  def update(self, batch: int, loss: float, samples: int,
             accuracy: float | None = None) -> None:
    """Moves the bar to `batch` batches (1-based); redraws at most every min_interval.

    Args:
      batch: batches done in this epoch, 1-based (a resumed epoch starts above 1).
      loss: the epoch's running mean training loss.
      samples: examples trained on since `start_epoch`, for the speed.
      accuracy: optional running mean training accuracy.
    """
    del samples  # The pace shows as elapsed and remaining time.
    if not self.live:
      return
    postfix = f"loss {loss:.4f}"
    if accuracy is not None:
      postfix += f" acc {accuracy:.2%}"
    desc, bar_format = self._layout(postfix)
    if self._bar is None:
      # Made at the first batch: a resumed epoch starts mid-way, and the time left
      # is estimated from the batches this process trains.
      self._bar = tqdm.tqdm(
          total=self._n_batches, initial=batch, postfix=postfix, file=self.stream,
          desc=desc, ncols=self._bar_columns(), mininterval=self.min_interval,
          miniters=1, bar_format=bar_format, unit="batch", leave=False,
          dynamic_ncols=False)
      return
    self._bar.set_postfix_str(postfix, refresh=False)
    self._bar.set_description_str(desc, refresh=False)
    self._bar.ncols, self._bar.bar_format = self._bar_columns(), bar_format
    self._bar.update(batch - self._bar.n)  # Redraws only after min_interval ...
    if batch >= self._n_batches:
      self._bar.refresh()  # ... but the last batch always shows.

  def end_epoch(self, metrics: dict[str, float]) -> None:
    """Replaces the bar by the epoch's summary line (see `format_epoch`)."""
    self._close_bar()
    if not self.verbose:
      return
    width = min(self._columns(), DEFAULT_WIDTH)
    self.stream.write(format_epoch(self._epoch, self._epochs, metrics, width) + "\n")
    self.stream.flush()

  def message(self, text: str) -> None:
    """Writes a line of text (above the bar, which then redraws)."""
    if not self.verbose:
      return
    if self._bar is not None:
      self._bar.write(text, file=self.stream)
    else:
      self.stream.write(text + "\n")
      self.stream.flush()

  def _close_bar(self):
    if self._bar is not None:
      self._bar.close()  # leave=False: the line is cleared for what follows.
      self._bar = None

  def _times_width(self):
    """The width of `[elapsed<remaining]` as tqdm will draw it now (mm:ss, or h:mm:ss
    once either passes an hour)."""
    if self._bar is None:
      return len("[00:00<?]")
    done = self._bar.n - self._bar.initial
    elapsed = self._bar.format_dict["elapsed"]
    remaining = elapsed * (self._bar.total - self._bar.n) / done if done > 0 else 0
    return len(f"[{tqdm.tqdm.format_interval(elapsed)}<"
               f"{tqdm.tqdm.format_interval(remaining)}]")

  def _bar_columns(self):
    return min(self._columns(), _MAX_BAR_LINE)

  def _layout(self, postfix):
    """(description, bar format) of the richest layout that fits the width."""
    width = self._bar_columns()
    counts = 2 * len(str(self._n_batches)) + 1
    for bar_format, says_epoch in _LAYOUTS:
      desc = f"epoch {self._epoch + 1}/{self._epochs}" if says_epoch else (
          f"{self._epoch + 1}/{self._epochs}")
      needed = len(desc) + 1 + counts + 2 + len(postfix)  # ", " before the postfix
      if "{elapsed}" in bar_format:
        needed += 1 + self._times_width()
      if "{bar}" in bar_format:
        needed += 3 + _MIN_BAR
      if needed <= width:
        return desc, bar_format
    return desc, bar_format  # The plainest; tqdm cuts it at the width.

  def _columns(self):
    """The width given, else the terminal's, else 80."""
    if self.width is not None:
      return self.width
    try:
      return os.get_terminal_size(self.stream.fileno()).columns or DEFAULT_WIDTH
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
      return DEFAULT_WIDTH


def format_epoch(epoch: int, epochs: int, metrics: dict[str, float],
                 width: int = DEFAULT_WIDTH) -> str:
  """Returns the summary line of an epoch, at most `width` characters.

      epoch 3/20  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.34%  4.1s

  Where it would not fit, decoration goes before any metric: the learning rate (shown
  only where there is room), the time, the double spaces, the word "epoch"; then the
  metrics lose a digit (`loss 0.318 acc 91.0%`); only then are fields left out from
  the end (the validation figures), and the epoch number is cut as a last resort.

  Args:
    epoch: the epoch, 0-based.
    epochs: the number of epochs.
    metrics: the dict `training.fit` reports: 'loss', 'accuracy', 'val_loss',
      'val_accuracy', 'seconds', 'learning_rate' (any may be missing).
    width: positive int, the columns the line may take. Default 80.

  Returns:
    The line, without a newline.
  """
  def fields(precise, timed):
    loss, percent = ("{:.4f}", "{:.2%}") if precise else ("{:.3f}", "{:.1%}")
    specs = (("loss", "loss " + loss), ("accuracy", "acc " + percent),
             ("val_loss", "val_loss " + loss), ("val_accuracy", "val_acc " + percent),
             ("seconds", "{}"), ("learning_rate", "lr {:.3g}"))
    shown = []
    for key, spec in specs:
      value = metrics.get(key)
      if key in ("seconds", "learning_rate") and not timed:
        continue
      if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown.append(spec.format(_duration(value) if key == "seconds" else value))
    return shown

  number = f"{epoch + 1}/{epochs}"
  full = fields(True, True)
  layouts = [([f"epoch {number}"] + full[:n], "  ") for n in
             range(len(full), len(fields(True, False)) - 1, -1)]
  layouts += [([f"epoch {number}"] + fields(True, False), " "),
              ([number] + fields(True, False), " "),
              ([number] + fields(False, False), " ")]
  for parts, separator in layouts:
    line = separator.join(parts)
    if len(line) <= width:
      return line
  parts = [number] + fields(False, False)
  while len(parts) > 1 and len(" ".join(parts)) > width:
    parts.pop()
  return " ".join(parts)[:width]


def _duration(seconds):
  """'4.1s' under 10 s, '42s' under a minute, else tqdm's '1:05:03' form."""
  if seconds < 10:
    return f"{seconds:.1f}s"
  if seconds < 60:
    return f"{seconds:.0f}s"
  return tqdm.tqdm.format_interval(seconds)
