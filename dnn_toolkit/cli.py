"""The `dnn-toolkit` command line: its parser, its registry of commands, its errors.

    dnn-toolkit train --hidden-layers 300 100 --epochs 20 --run-dir checkpoints/mnist
    dnn-toolkit train --resume --run-dir checkpoints/mnist --epochs 30
    dnn-toolkit tensorboard checkpoints/mnist      # TensorBoard on 127.0.0.1:6006
    dnn-toolkit inspect checkpoints/mnist --json   # variables, statistics, scopes
    dnn-toolkit demo                               # the lesson demos

Each command is a module of `dnn_toolkit.commands` named in `COMMANDS` (the protocol
is in that package's docstring). This module owns what every command shares: a parser
that takes no abbreviations and answers a near miss with "did you mean", `--version`,
TensorFlow imported quietly and only after parsing (so `--help` is fast), and every
error as one line on stderr that names the flag, exit code 2. It calls only the public
API.
"""

import argparse
import contextlib
import difflib
import importlib
import os
import signal
import sys
import types
import warnings
from typing import Any, Optional, Sequence

import dnn_toolkit
from dnn_toolkit import compat
from dnn_toolkit.commands import EXIT_ERROR, EXIT_INTERRUPTED
from dnn_toolkit.errors import (ArgumentError, ArgumentTypeError, ConfigMismatchError,
                                DnnToolkitError)

# The commands in the order `--help` lists them: module names in dnn_toolkit.commands.
# Adding a command is one line here.
COMMANDS = (
    "train",
    "cluster",
    "tensorboard",
    "inspect",
    "demo",
    "lr_find",
    "run",
    "evaluate",
    "predict",
    "export",
    "transfer",
    "runs",
)

#: Exit code when stdout was closed early (`dnn-toolkit inspect --json | head`), as a
#: shell reports a process that SIGPIPE ended.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

__all__ = ["COMMANDS", "EXIT_BROKEN_PIPE", "EXIT_ERROR", "EXIT_INTERRUPTED",
           "build_parser", "main"]


class _Formatter(argparse.HelpFormatter):
  """Wraps prose, but keeps text written with line breaks (the examples) as written."""

  def __init__(self, prog, **kwargs):
    kwargs.setdefault("max_help_position", 28)  # Room for "tensorboard" and "lr-find".
    super().__init__(prog, **kwargs)

  def add_argument(self, action):
    super().add_argument(action)
    if isinstance(action, argparse._SubParsersAction):  # pylint: disable=protected-access
      # argparse measures the command names without their indent (Python 3.11), so
      # "tensorboard" would wrap onto a line of its own.
      longest = max((len(name) for name in action.choices), default=0)
      self._action_max_length = max(self._action_max_length,
                                    longest + self._current_indent + self._indent_increment)

  def _fill_text(self, text, width, indent):
    if "\n" in text:
      return "".join(indent + line for line in text.splitlines(keepends=True))
    return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
  """The parser of the command and of each subcommand.

  It takes flags only as spelled (`--epoch` is an error, not `--epochs`), suggests the
  nearest choice or command for a mistyped one, knows each argument's flag, and
  reports a bad command line in one line (the usage is `--help`'s).
  """

  # The top-level parser's commands: name (or alias) -> (module, its parser).
  commands: dict[str, tuple[types.ModuleType, argparse.ArgumentParser]]

  def __init__(self, *args: Any, **kwargs: Any):
    kwargs.setdefault("allow_abbrev", False)
    kwargs.setdefault("formatter_class", _Formatter)
    super().__init__(*args, **kwargs)
    self._suggested = False

  def error(self, message):
    """Exits with code 2 after one line: the error, and where the flags are listed
    (unless the line already suggests the fix)."""
    hint = "" if self._suggested else f" (see '{self.prog} --help')"
    self.exit(EXIT_ERROR, f"{self.prog}: error: {message}{hint}\n")

  def _check_value(self, action, value):
    try:
      super()._check_value(action, value)
    except argparse.ArgumentError as error:
      near = _nearest(str(value), [str(c) for c in action.choices])
      if near is None:
        raise
      self._suggested = True
      raise argparse.ArgumentError(
          action, f"{error.message}; did you mean {near!r}?") from None

  def parse_args(self, args=None, namespace=None):
    """Parses as argparse does; an unknown flag's error suggests the nearest one."""
    args, extras = self.parse_known_args(args, namespace)
    if extras:
      commands = getattr(self, "commands", {})
      parser = commands[args.command][1] if args.command in commands else self
      message = f"unrecognized arguments: {' '.join(extras)}"
      known = list(parser._option_string_actions)  # pylint: disable=protected-access
      for extra in extras:
        near = _nearest(extra.split("=")[0], known) if extra.startswith("-") else None
        if near is not None:
          message += f"; did you mean {near!r}?"
          parser._suggested = True  # pylint: disable=protected-access
          break
      parser.error(message)
    return args

  def flag_of(self, name: str, value: Optional[bool] = None) -> Optional[str]:
    """Returns the flag that sets argument `name` (to bool `value`), or None.

    Args:
      name: an argument's destination, e.g. 'run_dir' (for --run-dir).
      value: for a boolean flag, the value meant: True gives '--verify', False
        '--no-verify'; None gives the flag's first long spelling.
    """
    for action in self._actions:
      if action.dest != name or not action.option_strings:
        continue
      spellings = [s for s in action.option_strings if s.startswith("--")]
      if value is False:
        spellings = [s for s in spellings if s.startswith("--no-")]
      elif value is True:
        if action.const is not True and not isinstance(action,
                                                        argparse.BooleanOptionalAction):
          return None
        spellings = [s for s in spellings if not s.startswith("--no-")]
      return spellings[0] if spellings else None
    return None


def _nearest(word: str, names: Sequence[str]) -> Optional[str]:
  """Returns the name nearest to `word` (case aside), or None if none is near."""
  by_lower = {name.lower(): name for name in names}
  near = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
  return by_lower[near[0]] if near else None


def build_parser() -> _Parser:
  """Returns the argument parser of `dnn-toolkit`, with every command of `COMMANDS`.

  The parser's `commands` attribute maps each command name to its
  `(module, parser)`.
  """
  parser = _Parser(
      prog="dnn-toolkit",
      description="Train deep neural nets the TensorFlow 1.x way (graph mode, "
                  "Sessions) on today's TensorFlow.",
      epilog="Run 'dnn-toolkit COMMAND --help' for a command's flags and examples.")
  parser.add_argument("--version", action="version",
                      version=f"%(prog)s {dnn_toolkit.__version__}")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_Parser)
  subparsers.required = True
  parser.commands = {}
  for name in COMMANDS:
    module = importlib.import_module(f"dnn_toolkit.commands.{name}")
    before = set(subparsers.choices)
    module.add_parser(subparsers)
    for command in set(subparsers.choices) - before:  # Its name, and any aliases.
      parser.commands[command] = (module, subparsers.choices[command])
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command line on `argv` (default `sys.argv[1:]`); returns the exit code.

  Bad flags exit through argparse (SystemExit, code 2) before anything is built;
  errors of the command itself print one line and return `EXIT_ERROR`.
  """
  parser = build_parser()
  args = parser.parse_args(argv)
  module, command_parser = parser.commands[args.command]
  try:
    with _package_warnings_as_lines():
      if getattr(module, "LOADS_TENSORFLOW", True):
        compat.import_tensorflow_quietly()
      code = module.run(args)
    sys.stdout.flush()  # A closed pipe shows here, not at exit.
    return code
  except BrokenPipeError:
    _discard_stdout()
    return EXIT_BROKEN_PIPE
  except KeyboardInterrupt:
    print("\ndnn-toolkit: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED
  except _reported_errors() as error:
    print(f"dnn-toolkit: error: {error_line(error, command_parser)}", file=sys.stderr)
    return EXIT_ERROR


_PACKAGE_DIR = os.path.dirname(os.path.abspath(dnn_toolkit.__file__)) + os.sep


@contextlib.contextmanager
def _package_warnings_as_lines():
  """Shows the package's own warnings (a class with no training example) as one line,
  `dnn-toolkit: warning: ...`; any other warning as Python shows it."""
  shown = warnings.showwarning

  def show(message, category, filename, lineno, file=None, line=None):
    if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
      return shown(message, category, filename, lineno, file, line)
    (file or sys.stderr).write(f"dnn-toolkit: warning: {_one_line(str(message))}\n")
    return None

  warnings.showwarning = show
  try:
    yield
  finally:
    warnings.showwarning = shown


def _reported_errors():
  """The errors that mean bad input or state, not a bug: one line, not a traceback."""
  errors = (DnnToolkitError, ValueError, TypeError, OSError)
  tf = sys.modules.get("tensorflow")  # Loaded by the command, if it needed it.
  if tf is not None:
    errors += (tf.errors.OpError,)
  return errors


# Python argument names whose command-line argument (the parser's destination) has
# another name: `load_arrays(path=...)` is `--data`; the validation split is made by
# --validation-size.
_ALIASES = {"path": "data", "validation": "validation_size"}


def error_line(error: BaseException, command_parser: argparse.ArgumentParser) -> str:
  """Returns the error's message as one line that names flags, not Python arguments.

  The package's errors carry what they are about: an `ArgumentError` (or
  `ArgumentTypeError`) its `argument`, a `ConfigMismatchError` its `fields` and
  `values`. This is the one place that maps them to the command's flags; the message
  text is never parsed. An error about an argument starts with `argument --flag:`, as
  argparse's own errors do.

  Args:
    error: the exception.
    command_parser: the parser of the command that raised it.
  """
  tf = sys.modules.get("tensorflow")
  if tf is not None and isinstance(error, tf.errors.OpError):
    # An OpError's first line is its message; node definitions and a traceback follow.
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
  if isinstance(error, (ArgumentError, ArgumentTypeError)):
    flag = _flag(command_parser, error.argument)
    if flag is not None:
      shown = _spelled(command_parser, error.argument, error.value)
      return f"argument {flag}: {_one_line(error.render(flag, shown))}"
  if isinstance(error, ConfigMismatchError) and error.values:
    flags = {field: _flag(command_parser, field) for field in error.values}
    if all(flags.values()):
      details = "; ".join(f"{flags[k]}: run has {_shown(a)}, given {_shown(b)}"
                          for k, (a, b) in error.values.items())
      where = f" {error.run_dir!r}" if error.run_dir else ""
      return (f"Cannot resume{where} with other settings ({details}). Nothing was "
              "changed; leave those flags out (the run's own are used) or start a new "
              "--run-dir.")
  if isinstance(error, DnnToolkitError) and error.arguments:
    return _one_line(error.render(lambda name, value: _spelled(command_parser, name,
                                                                value)))
  return _one_line(str(error)) or type(error).__name__


def _spelled(parser, name, value):
  """`--flag value` (`--flag` / `--no-flag` for a bool), or None without a flag."""
  if isinstance(value, bool):
    return _flag(parser, name, value)
  flag = _flag(parser, name)
  return f"{flag} {_shown(value)}" if flag else None


def _flag(parser, name, value=None):
  """The flag that sets argument `name` (to bool `value`), or None if it has none."""
  return parser.flag_of(name, value) or parser.flag_of(_ALIASES.get(name, ""), value)


def _shown(value):
  """A value as a command line spells it: lists space-separated."""
  if isinstance(value, (list, tuple)):
    return " ".join(map(str, value)) or "none"
  return str(value)


def _one_line(text):
  return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _discard_stdout():
  """Points stdout at /dev/null, so that the exit's own flush meets no closed pipe."""
  try:
    fd = sys.stdout.fileno()
  except (AttributeError, OSError, ValueError):
    return  # Not a real file (a test's capture): nothing will flush to a pipe.
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, fd)
  os.close(devnull)


if __name__ == "__main__":
  sys.exit(main())
