"""Tests of dnn_toolkit.progress: the bar and the epoch lines, at several widths.

The bar is drawn into a StringIO that says it is a terminal, with the width given, and
into a real pseudo-terminal whose window size is set, as a user's window would be.
"""

import fcntl
import io
import os
import re
import struct
import termios

import pytest

from dnn_toolkit.progress import DEFAULT_WIDTH, Progress, format_epoch

METRICS = {"epoch": 3, "global_step": 3300, "loss": 0.318412, "accuracy": 0.910234,
           "val_loss": 0.271634, "val_accuracy": 0.923451, "learning_rate": 0.001,
           "seconds": 4.1234}
N_BATCHES = 1100


class FakeTerminal(io.StringIO):
  def isatty(self):
    return True


def _drawn_lines(text):
  """What a terminal shows in turn: the text split at newlines and carriage returns."""
  return [part for line in text.split("\n") for part in line.split("\r")]


def _run_epoch(progress, epoch=2, epochs=20, first_batch=1):
  progress.start_epoch(epoch, epochs, N_BATCHES)
  for batch in range(first_batch, N_BATCHES + 1, 50):
    progress.update(batch, 0.318412, batch * 50, 0.910234)
  progress.update(N_BATCHES, 0.3, N_BATCHES * 50, 0.9)
  progress.end_epoch(dict(METRICS, epoch=epoch + 1))


@pytest.mark.parametrize("width", [40, 80, 200])
def test_no_line_exceeds_the_width(width):
  stream = FakeTerminal()
  progress = Progress(stream=stream, min_interval=0, width=width)
  _run_epoch(progress)
  progress.message("a message between two epochs " * 10)
  _run_epoch(progress, epoch=99, epochs=100)
  lines = _drawn_lines(stream.getvalue())
  message = [line for line in lines if line.startswith("a message")]
  assert len(lines) > 20  # The bar was redrawn.
  assert max(len(line) for line in lines if line not in message) <= width
  summaries = [line for line in stream.getvalue().split("\n") if line][-1:]
  assert len(summaries[0].split("\r")[-1]) <= min(width, 80)


@pytest.mark.parametrize("width", [80, 200])
def test_the_bar_shows_elapsed_and_remaining_time_and_the_loss(width):
  stream = FakeTerminal()
  _run_epoch(Progress(stream=stream, min_interval=0, width=width))
  bars = [line for line in _drawn_lines(stream.getvalue()) if "|" in line]
  assert bars[0].startswith("epoch 3/20 |") and "| 1/1100 [00:00<?]" in bars[0]
  assert re.fullmatch(r"epoch 3/20 \|[#0-9 ]+\| 51/1100 \[\d\d:\d\d<\d\d:\d\d\], "
                      r"loss 0\.3184 acc 91\.02%", bars[1]), bars[1]
  assert "| 1100/1100 [" in bars[-1]


def test_a_narrow_terminal_gets_no_bar_and_still_the_counts():
  stream = FakeTerminal()
  _run_epoch(Progress(stream=stream, min_interval=0, width=50))
  drawn = _drawn_lines(stream.getvalue())
  assert drawn[2] == "epoch 3/20 51/1100, loss 0.3184 acc 91.02%"
  assert "|" not in stream.getvalue()


def test_a_60_column_terminal_keeps_every_metric_whole():
  """What a user of a 60-column window sees: decoration goes, the metrics stay."""
  stream = FakeTerminal()
  progress = Progress(stream=stream, min_interval=0, width=60)
  _run_epoch(progress)
  _run_epoch(progress, epoch=99, epochs=100)
  drawn = [line for line in _drawn_lines(stream.getvalue()) if line]
  assert max(len(line) for line in drawn) <= 60
  bars = [line for line in drawn if "/1100" in line]
  assert bars[1] == "epoch 3/20 51/1100 [00:00<00:00], loss 0.3184 acc 91.02%"
  # (tqdm pads a shorter redraw with spaces, to clear the longer one before it.)
  assert all(re.search(r", loss \d\.\d{4} acc \d+\.\d\d% *$", line) for line in bars)
  summaries = stream.getvalue().split("\n")[:-1]
  assert [s.split("\r")[-1] for s in summaries] == [
      "3/20 loss 0.3184 acc 91.02% val_loss 0.2716 val_acc 92.35%",
      "100/100 loss 0.318 acc 91.0% val_loss 0.272 val_acc 92.3%"]


def test_a_real_terminal_of_57_columns():
  leader, follower = os.openpty()
  fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 57, 0, 0))
  stream = os.fdopen(follower, "w", encoding="utf-8")
  try:
    _run_epoch(Progress(stream=stream, min_interval=0))
    stream.flush()
    os.set_blocking(leader, False)
    chunks = []
    try:
      while True:
        chunks.append(os.read(leader, 65536))
    except BlockingIOError:
      pass
  finally:
    stream.close()
    os.close(leader)
  text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")  # tty's ONLCR
  lines = _drawn_lines(text)
  assert any(line.startswith("epoch 3/20 ") and "<" in line for line in lines)
  assert max(len(line) for line in lines) <= 57


def test_the_last_batch_always_shows_and_redraws_are_spaced():
  stream = FakeTerminal()
  progress = Progress(verbose=1, stream=stream, min_interval=3600)
  progress.start_epoch(0, 1, 100)
  for batch in range(1, 101):
    progress.update(batch, 0.5, batch * 10)
  assert stream.getvalue().count("\r") <= 2  # At most the first batch and the last.
  assert "100/100" in stream.getvalue()


def test_a_resumed_epoch_starts_where_it_stopped():
  stream = FakeTerminal()
  progress = Progress(stream=stream, min_interval=0, width=100)
  progress.start_epoch(0, 1, 10)
  progress.update(7, 0.5, 10)
  assert "| 7/10 [" in _drawn_lines(stream.getvalue())[1]


def test_not_a_terminal_one_line_an_epoch():
  stream = io.StringIO()
  progress = Progress(stream=stream)
  for epoch in range(2):
    _run_epoch(progress, epoch=epoch, epochs=2)
  progress.message("done")
  assert "\r" not in stream.getvalue()
  assert stream.getvalue().splitlines() == [
      "epoch 1/2  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.35%  4.1s",
      "epoch 2/2  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.35%  4.1s",
      "done"]


def test_verbose_0_is_silent():
  stream = FakeTerminal()
  progress = Progress(verbose=0, stream=stream)
  _run_epoch(progress)
  progress.message("nothing")
  assert stream.getvalue() == ""


def test_the_epoch_line_fits_80_columns_even_for_long_runs():
  metrics = dict(METRICS, loss=123.456789, val_loss=1234.5678, seconds=3725.0)
  line = format_epoch(998, 1000, metrics)
  assert len(line) <= DEFAULT_WIDTH
  assert line == ("epoch 999/1000  loss 123.4568  acc 91.02%  val_loss 1234.5678  "
                  "val_acc 92.35%")


@pytest.mark.parametrize("width, line", [
    (200, "epoch 3/20  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.35%  4.1s  "
          "lr 0.001"),
    (75, "epoch 3/20  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.35%  4.1s"),
    (70, "epoch 3/20  loss 0.3184  acc 91.02%  val_loss 0.2716  val_acc 92.35%"),
    (64, "epoch 3/20 loss 0.3184 acc 91.02% val_loss 0.2716 val_acc 92.35%"),
    (60, "3/20 loss 0.3184 acc 91.02% val_loss 0.2716 val_acc 92.35%"),
    (55, "3/20 loss 0.318 acc 91.0% val_loss 0.272 val_acc 92.3%"),
    (40, "3/20 loss 0.318 acc 91.0% val_loss 0.272"),
    (3, "3/2"),
])
def test_epoch_line_drops_decoration_before_metrics(width, line):
  assert format_epoch(2, 20, METRICS, width) == line
  assert len(line) <= width


@pytest.mark.parametrize("seconds, shown", [(0.42, "0.4s"), (42.4, "42s"),
                                            (3725, "1:02:05")])
def test_epoch_durations(seconds, shown):
  assert format_epoch(0, 1, {"seconds": seconds}) == f"epoch 1/1  {shown}"
