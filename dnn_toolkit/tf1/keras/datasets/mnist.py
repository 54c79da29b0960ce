"""`tf.keras.datasets.mnist.load_data()`, answered from the toolkit's offline MNIST."""

import os

import numpy as np

from dnn_toolkit.tf1 import _mnist


def load_data(path: str | os.PathLike[str] = "mnist.npz"
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
  """Returns MNIST exactly as Keras's `mnist.load_data()` does, without a network.

      (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
      x_train.shape, x_train.dtype   # (60000, 28, 28) uint8

  Args:
    path: Keras's name of its cached file, relative to ~/.keras/datasets; the Keras
      cache is one of the offline sources tried. An existing `.npz` file given here
      is read instead.

  Returns:
    `((x_train, y_train), (x_test, y_test))`: uint8 images [60000, 28, 28] and
    [10000, 28, 28], uint8 labels [60000] and [10000], in the official order.

  Raises:
    TypeError: if `path` is not a string or path.
    DataNotFoundError: no offline source holds MNIST; the message says how to fix it.
  """
  if not isinstance(path, (str, os.PathLike)):
    raise TypeError(f"Expected `path` to be a file name. Received: path={path!r}")
  return _mnist.load_uint8(  # It reads a path object as it reads a string.
      path if os.path.isfile(path) else None)  # type: ignore[arg-type]
