"""`tf.examples` of the stand-in: only `tutorials.mnist` (`input_data`, `mnist`)."""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.examples import tutorials

__getattr__ = _module_getattr(__name__, "tf.examples")
