"""`dnn-toolkit demo`: list the demos, or run one with its own flags.

The demos are the repository's `demos/` directory, installed as the package
`dnn_toolkit.demos`, so they run from a `pip install` too. Each runs as its own Python
process (a demo may switch TensorFlow to TF 1.x behaviour for the whole process), which
this command ends with itself.
"""

import argparse
import importlib.util
import os
import sys
from typing import List, Optional

from dnn_toolkit.commands import _child

LOADS_TENSORFLOW = False  # The demo's own process loads it.
PACKAGE = "dnn_toolkit.demos"

EXAMPLES = """\
examples:
  dnn-toolkit demo                                        # list the demos
  dnn-toolkit demo vanishing_gradients --quick --out checkpoints/vg
  dnn-toolkit demo pretrained_layers --help               # the demo's own flags
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `demo [NAME [ARGS...]]`."""
  p = subparsers.add_parser(
      "demo", help="list the lesson demos, or run one with its flags",
      description="Run one of the lesson demos; without NAME, list them. Every "
                  "argument after NAME is the demo's own (try NAME --help).",
      epilog=EXAMPLES)
  p.add_argument("name", nargs="?", metavar="NAME", choices=demo_names(),
                 help="the demo to run; one of: " + ", ".join(demo_names()))
  p.add_argument("demo_args", nargs="...", metavar="ARGS",
                 help="the demo's flags, e.g. --quick --out DIR")
  return p


def run(args: argparse.Namespace) -> int:
  """Lists the demos (returns 0), or runs one and returns its exit code."""
  if args.name is None:
    print(format_listing())
    return 0
  directory = demos_dir()
  if directory is None:
    print(format_listing())
    return 2
  path = os.path.join(directory, args.name + ".py")
  return _child.run_child([sys.executable, path, *args.demo_args])


def demos_dir() -> Optional[str]:
  """Returns the directory of the installed demos, or None if they are not installed."""
  spec = importlib.util.find_spec(PACKAGE)
  if spec is None or not spec.submodule_search_locations:
    return None
  return list(spec.submodule_search_locations)[0]


def demo_names() -> List[str]:
  """Returns the names of the demos (their file names without .py), sorted."""
  directory = demos_dir()
  if directory is None:
    return []
  return sorted(name[:-3] for name in os.listdir(directory)
                if name.endswith(".py") and not name.startswith("_"))


def format_listing() -> str:
  """Returns one line per demo: its name and the first line of its docstring."""
  directory = demos_dir()
  names = demo_names()
  if directory is None or not names:
    return "no demos are installed (the package was built without dnn_toolkit.demos)"
  lines = ["demos (run one with: dnn-toolkit demo NAME [ARGS]):"]
  width = max(map(len, names))
  for name in names:
    with open(os.path.join(directory, name + ".py"), encoding="utf-8") as f:
      first = f.readline().strip()
    summary = first.strip('"').strip() if first.startswith('"""') else ""
    lines.append(f"  {name:<{width}}  {summary}")
  return "\n".join(lines)
