"""`tf.contrib.rnn` of the stand-in: TF 1.x's core RNN cells and static RNN functions.

The cells and wrappers of `dnn_toolkit.layers.rnn_cell` and `rnn_cell_wrappers`
(`BasicLSTMCell`, `GRUCell`, `MultiRNNCell`, `DropoutWrapper`,
`OutputProjectionWrapper`, ...), and `static_rnn`, `static_bidirectional_rnn`,
`static_state_saving_rnn` (TensorFlow's own) and the `stack_bidirectional_*` functions
of `dnn_toolkit.layers.rnn`, as TF 1.15's `tf.contrib.rnn` exported them:

    from tensorflow.contrib import rnn
    lstm_cell = rnn.BasicLSTMCell(128, forget_bias=1.0)
    outputs, states = rnn.static_rnn(lstm_cell, x, dtype=tf.float32)

Its other cells (fused LSTM/GRU blocks, grid, convolutional, attention, ...) raise
`UnavailableAPIError` saying what to use instead.
"""

from dnn_toolkit.layers import rnn as _rnn
from dnn_toolkit.layers import rnn_cell as _cells
from dnn_toolkit.layers import rnn_cell_wrappers as _wrappers
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

# The tf.contrib.rnn names of TF 1.15 provided here, by module.
_SOURCES = {
    _cells: ("RNNCell", "LayerRNNCell", "BasicRNNCell", "BasicLSTMCell", "GRUCell",
             "LSTMCell", "LSTMStateTuple"),
    _wrappers: ("MultiRNNCell", "DropoutWrapper", "DeviceWrapper", "ResidualWrapper",
                "EmbeddingWrapper", "InputProjectionWrapper",
                "OutputProjectionWrapper"),
    _rnn: ("static_rnn", "static_state_saving_rnn", "static_bidirectional_rnn",
           "stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn"),
}

# TF 1.15's other tf.contrib.rnn names; they raise UnavailableAPIError.
_TF1_NAMES = frozenset("""
    AttentionCellWrapper BidirectionalGridLSTMCell CompiledWrapper Conv1DLSTMCell
    Conv2DLSTMCell Conv3DLSTMCell ConvLSTMCell CoupledInputForgetGateLSTMCell
    FusedRNNCell FusedRNNCellAdaptor GLSTMCell GRUBlockCell GRUBlockCellV2
    GridLSTMCell HighwayWrapper IndRNNCell IndyGRUCell IndyLSTMCell
    IntersectionRNNCell LSTMBlockCell LSTMBlockFusedCell LSTMBlockWrapper
    LayerNormBasicLSTMCell NASCell PhasedLSTMCell SRUCell TimeFreqLSTMCell
    TimeReversedFusedRNN UGRNNCell best_effort_input_batch_size transpose_batch_time
    """.split()).union(*_SOURCES.values())

__all__ = []
for _module, _names in _SOURCES.items():
  for _name in _names:
    globals()[_name] = getattr(_module, _name)
    __all__.append(_name)
del _module, _names, _name

__getattr__ = _module_getattr(__name__, "tf.contrib.rnn", known=_TF1_NAMES)
# A package with no files: `import tensorflow.contrib.rnn.python.ops.rnn_cell` (TF
# 1.x's own modules) then reaches the stand-in's finder, which names what to use
# instead, rather than failing with "'tensorflow.contrib.rnn' is not a package".
__path__: list[str] = []
