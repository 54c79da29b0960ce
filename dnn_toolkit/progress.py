"""Training progress in the Keras convention: a live bar on a terminal, a line an epoch.

On a terminal, each epoch draws one line that redraws in place (tqdm), cut to the
terminal's width so it never wraps:

    epoch 3/20 |██████████▍         | 570/1100 [00:02<00:02], loss 0.3184 acc 91.02%

(elapsed < remaining time of the epoch; under 64 columns without the bar)
and once the epoch is validated the bar gives way to its summary line, which fits 80
columns (fields at its end are left out where they would not fit):

    epoch 3/20  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.34%  4.1s

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
# Narrower than this, the bar is left out so that the loss still shows.
_MIN_BAR_LINE = 64
_BAR_FORMAT = "{desc} |{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}"
_NO_BAR_FORMAT = "{desc} {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}"


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
    if self._bar is None:
      # Made at the first batch: a resumed epoch starts mid-way, and the time left
      # is estimated from the batches this process trains.
      self._bar = tqdm.tqdm(
          total=self._n_batches, initial=batch, postfix=postfix, file=self.stream,
          desc=f"epoch {self._epoch + 1}/{self._epochs}", ncols=self._bar_columns(),
          mininterval=self.min_interval, miniters=1, bar_format=self._bar_format(),
          unit="batch", leave=False, dynamic_ncols=False)
      return
    self._bar.set_postfix_str(postfix, refresh=False)
    self._bar.ncols, self._bar.bar_format = self._bar_columns(), self._bar_format()
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

  def _bar_columns(self):
    return min(self._columns(), _MAX_BAR_LINE)

  def _bar_format(self):
    return _BAR_FORMAT if self._columns() >= _MIN_BAR_LINE else _NO_BAR_FORMAT

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

  Fields are left out from the end (the learning rate, which fits only where others
  are missing, then the time, then the validation figures) until the line fits; the
  epoch number itself is cut as a last resort.

  Args:
    epoch: the epoch, 0-based.
    epochs: the number of epochs.
    metrics: the dict `training.fit` reports: 'loss', 'accuracy', 'val_loss',
      'val_accuracy', 'seconds', 'learning_rate' (any may be missing).
    width: positive int, the columns the line may take. Default 80.

  Returns:
    The line, without a newline.
  """
  fields = [f"epoch {epoch + 1}/{epochs}"]
  formats = (("loss", "loss {:.4f}"), ("accuracy", "acc {:.2%}"),
             ("val_loss", "val_loss {:.4f}"), ("val_accuracy", "val_acc {:.2%}"),
             ("seconds", "{}"), ("learning_rate", "lr {:.3g}"))
  for key, spec in formats:
    value = metrics.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      fields.append(spec.format(_duration(value) if key == "seconds" else value))
  while len(fields) > 1 and len("  ".join(fields)) > width:
    fields.pop()
  return "  ".join(fields)[:width]


def _duration(seconds):
  """'4.1s' under 10 s, '42s' under a minute, else tqdm's '1:05:03' form."""
  if seconds < 10:
    return f"{seconds:.1f}s"
  if seconds < 60:
    return f"{seconds:.0f}s"
  return tqdm.tqdm.format_interval(seconds)
