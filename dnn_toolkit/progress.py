"""Per-epoch progress: a live bar on a terminal, plain lines otherwise, or silence."""

import sys
import time


class Progress:
  """Reports training progress.

  Args:
    verbose: 0 for silence, 1 for progress.
    stream: where to write. Default sys.stderr.
    min_interval: seconds between two redraws of the bar.
  """

  def __init__(self, verbose=1, stream=None, min_interval=0.2):
    self.verbose = verbose
    self.stream = stream or sys.stderr
    self.min_interval = min_interval
    self.live = bool(verbose) and hasattr(self.stream, "isatty") and self.stream.isatty()
    self._start = self._last_draw = 0.0

  def start_epoch(self, epoch, epochs, n_batches):
    self._epoch, self._epochs, self._n_batches = epoch, epochs, n_batches
    self._start = time.perf_counter()
    self._last_draw = 0.0

  def update(self, batch, loss, samples, accuracy=None):
    """Redraws the bar after `batch` batches (1-based), at most every min_interval.

    Args:
      batch: batches done in this epoch, 1-based.
      loss: the epoch's running mean training loss.
      samples: examples trained on since `start_epoch`, for the speed.
      accuracy: optional running mean training accuracy.
    """
    if not self.live:
      return
    now = time.perf_counter()
    if now - self._last_draw < self.min_interval and batch < self._n_batches:
      return
    self._last_draw = now
    width = 24
    done = int(width * batch / self._n_batches)
    speed = samples / max(now - self._start, 1e-9)
    self.stream.write(f"\repoch {self._epoch + 1}/{self._epochs} "
                      f"[{'=' * done}{'.' * (width - done)}] {batch}/{self._n_batches} "
                      f"loss {loss:.4f}  "
                      + ("" if accuracy is None else f"accuracy {accuracy:.4f}  ")
                      + f"{speed:,.0f} samples/s")
    self.stream.flush()

  def end_epoch(self, metrics):
    """Writes the epoch's summary line."""
    if not self.verbose:
      return
    parts = [f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)]
    prefix = "\r" if self.live else ""
    self.stream.write(f"{prefix}epoch {self._epoch + 1}/{self._epochs}  "
                      + "  ".join(parts) + " " * 8 + "\n")
    self.stream.flush()

  def message(self, text):
    if self.verbose:
      self.stream.write(text + "\n")
      self.stream.flush()
