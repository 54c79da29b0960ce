"""`tf.keras.datasets` of the stand-in: `mnist` only, answered offline."""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.keras.datasets import mnist

__getattr__ = _module_getattr(__name__, "tf.keras.datasets")
