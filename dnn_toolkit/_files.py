"""Files that are never half-written: the package's one atomic writer.

Every file the package writes for the user to keep (the run record, the MNIST cache,
exported metrics) goes through `atomic_writer`: the bytes go to a temporary file in the
target's directory, are flushed to disk, and replace the target in one rename. A reader
sees the old file or the whole new one; a process killed at any instant leaves at most
a `.tmp-*.part` file, which `remove_partial_files` clears.
"""

import contextlib
import glob
import os
import tempfile

#: Mode of every file the package writes: readable by all, like TensorFlow's checkpoints.
FILE_MODE = 0o644
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_writer(path, mode="wb"):
  """Yields a file object whose contents replace `path` atomically when the block ends.

      with atomic_writer("cache/mnist.npz") as f:
        np.savez(f, **arrays)

  Args:
    path: the file to (re)place; its directory is created.
    mode: 'wb' (default) or 'w' for text.

  Yields:
    An open file object. If the block raises, `path` is left as it was and the
    temporary file is removed.

  Raises:
    OSError: if the directory cannot be created or the file written (disk full,
      permission); `path` is unchanged then.
  """
  if mode not in ("wb", "w"):
    raise ValueError(f"Expected `mode` to be 'wb' or 'w'. Received: mode={mode!r}")
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
  try:
    with os.fdopen(fd, mode) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, FILE_MODE)  # mkstemp makes it private; the run may be shared.
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def atomic_write_text(path, text):
  """Writes `text` to `path` through `atomic_writer`: never half-written."""
  with atomic_writer(path, "w") as f:
    f.write(text)


def remove_partial_files(directory):
  """Removes the temporary files a killed `atomic_writer` left in `directory`.

  Returns:
    The paths removed.
  """
  removed = []
  for path in glob.glob(os.path.join(directory, _TEMP_PREFIX + "*" + _TEMP_SUFFIX)):
    with contextlib.suppress(OSError):
      os.remove(path)
      removed.append(path)
  return removed
