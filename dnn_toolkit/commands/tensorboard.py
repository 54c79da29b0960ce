"""`dnn-toolkit tensorboard`: serve a run's TensorBoard logs on 127.0.0.1 until stopped.

TensorBoard runs as a child process that this command always ends (Ctrl-C, SIGTERM,
or the kernel's parent-death signal), with TensorFlow's C++ start-up lines dropped from
its stderr. A missing directory or a port already in use is refused before anything
slow is loaded. The URL it prints opens TensorBoard's Time Series with the loss and the
accuracy pinned at the top (`summaries.OPENING_CARDS`), the learning curves a run is
looked at for first, above the layer diagnostics.
"""

import argparse
import errno
import json
import os
import socket
import urllib.parse

from dnn_toolkit import compat
from dnn_toolkit.commands import _child

# TensorFlow is loaded late: the port check answers first.
LOADS_TENSORFLOW = False
HOST = "127.0.0.1"
DEFAULT_PORT = 6006

EXAMPLES = """\
examples:
  dnn-toolkit tensorboard checkpoints/mnist            # then open http://127.0.0.1:6006/
  dnn-toolkit tensorboard checkpoints/mnist --port 0   # any free port; prints the URL
  dnn-toolkit tensorboard checkpoints/mnist --print-command
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `tensorboard RUN_DIR [--port PORT] [--print-command]`."""
  p = subparsers.add_parser(
      "tensorboard", help="serve a run's TensorBoard logs on 127.0.0.1",
      description="Start TensorBoard on 127.0.0.1 for the logs of a run directory "
                  "(<run_dir>/logs), or print the command that does. Ctrl-C or "
                  "SIGTERM stops it.",
      epilog=EXAMPLES)
  p.add_argument("run_dir", metavar="RUN_DIR",
                 help="a run directory, or any directory holding event files")
  p.add_argument("--port", type=int, default=DEFAULT_PORT,
                 help="port on 127.0.0.1; 0 picks a free one (default: %(default)s)")
  p.add_argument("--print-command", action="store_true",
                 help="print the command instead of running it")
  return p


def run(args: argparse.Namespace) -> int:
  """Serves the logs until stopped (returns 0) or prints the command."""
  if not os.path.isdir(args.run_dir):
    raise FileNotFoundError(f"argument RUN_DIR: no directory at {args.run_dir!r}; give "
                            "a run directory (or one holding event files).")
  if not args.print_command and 0 < args.port <= 65535:
    check_port_free(args.port)  # Before TensorFlow loads: the answer comes at once.
  compat.import_tensorflow_quietly()
  from dnn_toolkit import summaries  # pylint: disable=import-outside-toplevel
  logdir = summaries.find_logdir(args.run_dir)
  argv = summaries.tensorboard_command(logdir, args.port)  # It checks the port's range.
  if args.print_command:
    print(summaries.format_command(argv))
    return 0
  port = args.port or free_port()
  if port != args.port:
    argv = summaries.tensorboard_command(logdir, port)
  announce = _Announcer(logdir, port)
  return _child.run_child(argv, keep_stderr_line=_keep_line,
                          while_running=announce)


def check_port_free(port: int) -> None:
  """Raises OSError naming --port if something on this machine listens on `port`."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    # TensorBoard's server sets SO_REUSEADDR too: a port in TIME_WAIT is free to it.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind((HOST, port))
    except OSError as error:
      if error.errno != errno.EADDRINUSE:
        raise
      raise OSError(f"argument --port: {HOST}:{port} is already in use (another "
                    "TensorBoard?); stop that server, or choose another --port "
                    "(--port 0 picks a free one).") from None


def free_port() -> int:
  """Returns a port on 127.0.0.1 that nothing listens on now."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    probe.bind((HOST, 0))
    return probe.getsockname()[1]


def _keep_line(line):
  return not compat.is_startup_notice(line)


class _Announcer:
  """Prints the URL to open once TensorBoard answers on its port (once)."""

  def __init__(self, logdir, port):
    self.logdir = logdir
    self.port = port
    self.done = False

  def __call__(self):
    if self.done:
      return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
      client.settimeout(_child.POLL_S)
      if client.connect_ex((HOST, self.port)) != 0:
        return
    self.done = True
    print(f"TensorBoard is serving {self.logdir}\n"
          f"  open {opening_url(self.port)}\n"
          f"  (loss and accuracy pinned at the top; Ctrl-C stops it)", flush=True)


def opening_url(port: int) -> str:
  """The URL that opens TensorBoard's Time Series on the loss and accuracy cards.

  TensorBoard reads the cards to pin from the `pinnedCards` query parameter (the one
  its own "share" links carry); the rest of the scalars follow, grouped by tag.
  """
  # pylint: disable-next=import-outside-toplevel
  from dnn_toolkit.summaries import OPENING_CARDS
  cards = [{"plugin": "scalars", "tag": tag} for tag in OPENING_CARDS]
  query = urllib.parse.urlencode({"pinnedCards": json.dumps(cards,
                                                            separators=(",", ":"))})
  return f"http://{HOST}:{port}/?{query}#timeseries"
