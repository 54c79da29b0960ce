"""`tf.keras` of the stand-in: only `tf.keras.datasets.mnist`, answered offline.

Keras 3, today's `tf.keras`, does not build TF 1.x graphs; every other `tf.keras` name
raises `UnavailableAPIError` saying what to use instead (`tf.layers`).
"""

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr
from dnn_toolkit.tf1.keras import datasets

__getattr__ = _module_getattr(__name__, "tf.keras")
