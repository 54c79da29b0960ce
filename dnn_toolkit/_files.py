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
from collections.abc import Iterator
from typing import IO, Any

#: Mode of every file the package writes: readable by all, like TensorFlow's checkpoints.
FILE_MODE = 0o644
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
  """Writes `text` to `path` through `atomic_writer`: never half-written."""
  with atomic_writer(path, "w") as f:
    f.write(text)


def remove_partial_files(directory: str | os.PathLike[str]) -> list[str]:
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


class LockHeld(Exception):
  """Another process holds the lock; `pid` is the holder's (None where unknown)."""

  def __init__(self, path: str | os.PathLike[str], pid: int | None) -> None:
    super().__init__(path, pid)
    self.path: str | os.PathLike[str] = path
    self.pid: int | None = pid


# struct flock of Linux (x86_64 and aarch64): type, whence, start, len, pid, padding.
_FLOCK = "hhqqi"
_FLOCK_SIZE = 32


class ExclusiveLock:
  """A POSIX record lock on a file, held for as long as the process keeps it.

  The kernel releases it when the process ends, however it ends, so a killed holder
  never leaves a stale lock, and it tells a refused process the holder's pid, so
  nothing is written into the file: taking the lock, or being refused it, changes
  nothing but creating the (empty) file once.

      with ExclusiveLock("run/.lock"):
        ...   # raises LockHeld at entry if another process holds it

  The lock is per process: a second `acquire` in the holding process succeeds.

  Args:
    path: the lock file; created empty if missing (its directory too).
  """

  def __init__(self, path: str | os.PathLike[str]) -> None:
    self.path: str | os.PathLike[str] = path
    self._fd: int | None = None

  def acquire(self) -> "ExclusiveLock":
    """Takes the lock without waiting; raises `LockHeld` if another process has it."""
    import fcntl  # pylint: disable=import-outside-toplevel  # POSIX only.
    os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
      fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      pid = _lock_holder(fd)
      os.close(fd)
      raise LockHeld(self.path, pid) from None
    self._fd = fd
    return self

  def release(self) -> None:
    if self._fd is not None:
      os.close(self._fd)  # Closing the descriptor releases the lock.
      self._fd = None

  def __enter__(self) -> "ExclusiveLock":
    return self.acquire()

  def __exit__(self, *exc_info: object) -> None:
    self.release()


def lock_holder(path: str) -> int | None:
  """The pid of the process holding the `ExclusiveLock` of `path`, or None; takes none.

  A reader's question ("is a run training now?") that never takes the lock, so it
  cannot refuse a trainer starting at that instant.
  """
  try:
    fd = os.open(path, os.O_RDWR)
  except OSError:
    return None
  try:
    return _lock_holder(fd)
  finally:
    os.close(fd)


def _lock_holder(fd):
  """The pid of the process holding a write lock on `fd`'s file, or None."""
  import fcntl  # pylint: disable=import-outside-toplevel
  import struct  # pylint: disable=import-outside-toplevel
  query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
  query += b"\0" * (_FLOCK_SIZE - len(query))
  try:
    answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
  except OSError:
    return None
  l_type, _, _, _, pid = struct.unpack_from(_FLOCK, answer)
  return pid if l_type != fcntl.F_UNLCK and pid > 0 else None
