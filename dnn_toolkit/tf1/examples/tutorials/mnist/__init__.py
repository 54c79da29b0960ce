"""`tf.examples.tutorials.mnist` of the stand-in: `input_data`, offline."""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.examples.tutorials.mnist import input_data

__getattr__ = _module_getattr(__name__, "tf.examples.tutorials.mnist")
