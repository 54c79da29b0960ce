"""`tf.examples.tutorials.mnist` of the stand-in: `input_data` (offline) and `mnist`."""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.examples.tutorials.mnist import input_data, mnist

__getattr__ = _module_getattr(__name__, "tf.examples.tutorials.mnist")
