"""`tf.examples.tutorials.mnist` of the stand-in: `input_data`, offline."""

from dnn_toolkit.tf1._unavailable import module_getattr
from dnn_toolkit.tf1.examples.tutorials.mnist import input_data

__getattr__ = module_getattr(__name__, "tf.examples.tutorials.mnist")
