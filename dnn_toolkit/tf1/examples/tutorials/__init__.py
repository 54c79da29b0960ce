"""`tf.examples.tutorials` of the stand-in: only `mnist` (`input_data`, `mnist`)."""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.examples.tutorials import mnist

__getattr__ = _module_getattr(__name__, "tf.examples.tutorials")
