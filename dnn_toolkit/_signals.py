"""SIGTERM handled as Ctrl-C is: the one place a process turns it into an exception.

A launcher (the local cluster, the TensorBoard command) stops its children the same
way whether the user pressed Ctrl-C or a manager sent SIGTERM.
"""

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
  """SIGTERM arrived inside `sigterm_as_keyboard_interrupt`; a KeyboardInterrupt."""


@contextlib.contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
  """Within the block, SIGTERM raises `Terminated` (main thread only; elsewhere, as is).

  The previous handler is put back when the block ends.
  """
  if threading.current_thread() is not threading.main_thread():
    yield
    return

  def handler(signum, frame):  # pylint: disable=unused-argument
    raise Terminated()

  previous = signal.signal(signal.SIGTERM, handler)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)
