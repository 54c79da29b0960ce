"""Signals between a launcher and its children: SIGTERM as Ctrl-C, death of the parent.

A launcher (the local cluster, the TensorBoard command) stops its children the same
way whether the user pressed Ctrl-C or a manager sent SIGTERM
(`sigterm_as_keyboard_interrupt`), and its children never outlive it, even when it is
killed without a chance to clean up (`die_with_parent`).
"""

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

_PR_SET_PDEATHSIG = 1


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


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
  """A `preexec_fn` for `subprocess.Popen`: the child gets `signum` when we die.

  On Linux the kernel sends the signal the moment the thread that started the child
  ends, however it ends (SIGKILL included), so start children from a thread that lives
  as long as they should (the main thread). Elsewhere returns None (no such signal).
  """
  if not sys.platform.startswith("linux"):
    return None
  # The C library is already loaded: its prctl is looked up here, before the fork.
  prctl = ctypes.CDLL(None, use_errno=True).prctl
  parent = os.getpid()

  def preexec():
    prctl(_PR_SET_PDEATHSIG, int(signum))
    if os.getppid() != parent:  # We died between the fork and the prctl.
      os._exit(1)  # pylint: disable=protected-access
  return preexec
