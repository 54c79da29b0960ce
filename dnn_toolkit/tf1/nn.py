"""`tf.nn` of the stand-in: TensorFlow's `tf.compat.v1.nn`, except `tf.nn.rnn_cell`.

TF 2's RNN cells are Keras layers that Keras 3 no longer builds in TF 1.x graphs, so
`tf.nn.rnn_cell.<anything>` raises `UnavailableAPIError` saying what to use instead
(TensorFlow's own answer is a ModuleNotFoundError about Keras internals). Every other
name is TensorFlow's own object.
"""

import types as _types

import tensorflow as _tf

from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

for _name in dir(_tf.compat.v1.nn):
  if not _name.startswith("_") and _name != "rnn_cell":
    globals()[_name] = getattr(_tf.compat.v1.nn, _name)
del _name

rnn_cell = _types.ModuleType(f"{__name__}.rnn_cell", "TF 1.x's tf.nn.rnn_cell: not "
                            "available (its cells need Keras 2).")
# A module's own __getattr__ (PEP 562), which mypy takes for a method.
rnn_cell.__getattr__ = _module_getattr(  # type: ignore[method-assign]
    rnn_cell.__name__, "tf.nn.rnn_cell")
