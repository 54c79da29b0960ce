"""Plain helpers shared by test modules (fixtures live in conftest.py)."""

import os


def files_of(directory):
  """{relative path: (mtime_ns, bytes)} of every file under `directory`."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = (os.stat(path).st_mtime_ns, f.read())
  return found
