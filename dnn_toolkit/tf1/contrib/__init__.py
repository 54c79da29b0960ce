"""`tf.contrib` of the stand-in: `layers`, `framework` (arg_scope), `rnn` and `eager`.

tf.contrib was removed in TensorFlow 2.0. The contrib builders the toolkit rebuilds
are here under their TF 1.x names; every other `tf.contrib` name (slim, learn, ...)
raises `UnavailableAPIError` saying what to use instead.
"""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.contrib import framework, layers, rnn
from dnn_toolkit.tf1.contrib import eager

__getattr__ = _module_getattr(__name__, "tf.contrib")
