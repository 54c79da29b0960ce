"""Imports TensorFlow without its start-up log lines, for the command line and demos.

TensorFlow's C++ runtime writes informational lines straight to file descriptor 2 while
it loads and finds its devices, before `TF_CPP_MIN_LOG_LEVEL` can take effect. This
captures that descriptor for the import alone and writes back every line that is not a
known start-up notice, so real warnings still reach the user. It also drops the
notices TensorFlow logs about its own deprecated internals. Library code never calls
it: only entry points (the command line, demos, benchmarks).
"""

import logging
import os
import re
import sys
import tempfile

# Start-up notices: informational lines, the absl preamble, and the CUDA probe failing on
# a machine without a GPU.
_NOISE = re.compile(r"^(I\d{4} |WARNING: All log messages before absl|"
                    r"E\d{4} .*(cuInit|cuda_platform|cuda_dnn|cuda_blas|cuda_fft)|"
                    r"To enable the following instructions|"
                    r"This TensorFlow binary is optimized)")


def import_tensorflow_quietly():
  """Imports TensorFlow with its start-up notices hidden; returns the module."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if "tensorflow" not in sys.modules:
    _import_with_stderr_captured()
  tf = sys.modules["tensorflow"]
  logger = tf.get_logger()
  if not any(isinstance(f, _TensorFlowDeprecations) for f in logger.filters):
    logger.addFilter(_TensorFlowDeprecations())
  return tf


def _import_with_stderr_captured():
  """Imports TensorFlow, writing back the captured stderr lines that are not noise."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=import-outside-toplevel
      tf.config.list_physical_devices()  # Probes the devices now, under the capture.
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      kept = [line for line in captured.read().decode(errors="replace").splitlines()
              if line.strip() and not _NOISE.match(line)]
  for line in kept:
    sys.stderr.write(line + "\n")


class _TensorFlowDeprecations(logging.Filter):
  """Drops the notices that TensorFlow's own tf.compat.v1 internals are deprecated.

  The Saver's checkpoint rotation and the v1 optimizers' slot set-up log them through
  TensorFlow's logger; they are about TensorFlow's code, not the user's. Every other
  record, warnings included, passes.
  """

  def filter(self, record):
    return "is deprecated and will be removed" not in record.getMessage()
