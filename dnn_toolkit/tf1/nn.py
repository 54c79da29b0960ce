"""`tf.nn` of the stand-in: TensorFlow's `tf.compat.v1.nn`, with our `tf.nn.rnn_cell`.

TensorFlow's own `tf.compat.v1.nn.rnn_cell` holds Keras 2 layers that Keras 3 no longer
provides ("not available with Keras 3"); here `tf.nn.rnn_cell` holds the cells of
`dnn_toolkit.layers.rnn_cell` (and `rnn_cell_wrappers`) under TF 1.15's ten names.
Every other name, `tf.nn.dynamic_rnn`, `static_rnn`, `bidirectional_dynamic_rnn` and
`static_bidirectional_rnn` included, is TensorFlow's own object; those functions run
these cells (see `dnn_toolkit.layers.rnn`). `import tensorflow.nn.rnn_cell` works too.
"""

import sys as _sys
import types as _types

import tensorflow as _tf

from dnn_toolkit.layers import rnn_cell as _cells
from dnn_toolkit.layers import rnn_cell_wrappers as _wrappers

for _name in dir(_tf.compat.v1.nn):
  if not _name.startswith("_") and _name != "rnn_cell":
    globals()[_name] = getattr(_tf.compat.v1.nn, _name)
del _name

rnn_cell = _types.ModuleType(
    f"{__name__}.rnn_cell", "TF 1.x's tf.nn.rnn_cell: the cells of "
    "dnn_toolkit.layers.rnn_cell and rnn_cell_wrappers, under TF 1.15's names.")
for _module, _names in (
    (_cells, ("RNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell",
              "LSTMStateTuple")),
    (_wrappers, ("MultiRNNCell", "DropoutWrapper", "ResidualWrapper",
                 "DeviceWrapper"))):
  for _name in _names:
    setattr(rnn_cell, _name, getattr(_module, _name))
del _module, _names, _name
rnn_cell.__all__ = sorted(  # type: ignore[attr-defined]  # a module's own __all__
    n for n in vars(rnn_cell) if not n.startswith("_"))
# Importable by name (`import tensorflow.nn.rnn_cell` once aliased), as a submodule.
_sys.modules[rnn_cell.__name__] = rnn_cell
