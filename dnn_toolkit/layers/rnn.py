"""TF 1.x's functions that run an RNN cell over a sequence.

    x = tf.unstack(X, n_steps, axis=1)             # X [batch, n_steps, n_inputs]
    outputs, state = static_rnn(BasicLSTMCell(128), x, dtype=tf.float32)
    # n_steps outputs [batch, 128]; variables rnn/basic_lstm_cell/kernel, .../bias

`static_rnn`, `static_bidirectional_rnn`, `static_state_saving_rnn`, `dynamic_rnn`,
`bidirectional_dynamic_rnn` and `raw_rnn` are TensorFlow's own (`tf.compat.v1.nn`):
they are TF 1.15's code, still in TensorFlow 2.21, and take any object with
`state_size`, `output_size`, `zero_state` and a call, so they run the cells of
`dnn_toolkit.layers.rnn_cell` in graph mode with TF 1.15's semantics (scopes `rnn`,
`rnn/while`, `bidirectional_rnn/fw` and `bw`, `sequence_length` masking,
`initial_state`, `time_major`). `stack_bidirectional_rnn` and
`stack_bidirectional_dynamic_rnn`, which only `tf.contrib.rnn` had, are written here.
"""

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

_V1 = tf.compat.v1

static_rnn = _V1.nn.static_rnn
static_bidirectional_rnn = _V1.nn.static_bidirectional_rnn
static_state_saving_rnn = _V1.nn.static_state_saving_rnn
dynamic_rnn = _V1.nn.dynamic_rnn
bidirectional_dynamic_rnn = _V1.nn.bidirectional_dynamic_rnn
raw_rnn = _V1.nn.raw_rnn


def _check_layers(cells_fw, cells_bw, initial_states_fw, initial_states_bw):
  """The argument checks both stacking functions make before building anything."""
  for name, cells in (("cells_fw", cells_fw), ("cells_bw", cells_bw)):
    if not isinstance(cells, list) or not cells:
      raise ValueError(f"Received an invalid value for `{name}`, expected a non-empty "
                       f"list of RNNCells, one per layer. Received: {name}={cells!r}")
  if len(cells_fw) != len(cells_bw):
    raise ValueError(f"Received an invalid value for `cells_bw`, expected as many "
                     f"layers as cells_fw ({len(cells_fw)}). Received: "
                     f"{len(cells_bw)} cells")
  for name, states in (("initial_states_fw", initial_states_fw),
                       ("initial_states_bw", initial_states_bw)):
    if states is not None and (not isinstance(states, list)
                               or len(states) != len(cells_fw)):
      raise ValueError(f"Received an invalid value for `{name}`, expected a list of "
                       f"{len(cells_fw)} states, one per layer. Received: {name}="
                       f"{states!r}")


def _layer_states(initial_states, i):
  return initial_states[i] if initial_states else None


def stack_bidirectional_rnn(
    cells_fw: list[Any], cells_bw: list[Any], inputs: Sequence[tf.Tensor],
    initial_states_fw: list[Any] | None = None,
    initial_states_bw: list[Any] | None = None, dtype: tf.DType | None = None,
    sequence_length: tf.Tensor | None = None, scope: Any = None
) -> tuple[list[tf.Tensor], tuple[Any, ...], tuple[Any, ...]]:
  """Stacked bidirectional static RNNs: each layer reads the last one's outputs.

  Layer `i` is `static_bidirectional_rnn(cells_fw[i], cells_bw[i], ...)` in the
  variable scope `stack_bidirectional_rnn/cell_<i>` (so
  `stack_bidirectional_rnn/cell_0/fw/basic_lstm_cell/kernel`), its inputs the
  forward and backward outputs of layer `i - 1` concatenated (Graves et al., 2013).

  Args:
    cells_fw: list of RNNCells, one per layer, for the forward direction.
    cells_bw: list of as many RNNCells for the backward direction.
    inputs: list of T tensors `[batch_size, input_size]`.
    initial_states_fw: optional list of the layers' initial forward states.
    initial_states_bw: optional list of the layers' initial backward states.
    dtype: the states' dtype; needed unless every initial state is given.
    sequence_length: optional int vector `[batch_size]` of the sequences' lengths.
    scope: optional variable scope. Default 'stack_bidirectional_rnn'.

  Returns:
    `(outputs, states_fw, states_bw)`: T tensors `[batch_size, fw + bw output
    sizes]` of the last layer, and tuples of each layer's final states.

  Raises:
    ValueError: if the cell lists are empty, differ in length, or an initial-state
      list does not have one state per layer.
  """
  _check_layers(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
  states_fw, states_bw, layer_inputs = [], [], list(inputs)
  with _V1.variable_scope(scope or "stack_bidirectional_rnn"):
    for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
      with _V1.variable_scope(f"cell_{i}") as cell_scope:
        layer_inputs, state_fw, state_bw = static_bidirectional_rnn(
            cell_fw, cell_bw, layer_inputs,
            initial_state_fw=_layer_states(initial_states_fw, i),
            initial_state_bw=_layer_states(initial_states_bw, i),
            dtype=dtype, sequence_length=sequence_length, scope=cell_scope)
      states_fw.append(state_fw)
      states_bw.append(state_bw)
  return layer_inputs, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_dynamic_rnn(
    cells_fw: list[Any], cells_bw: list[Any], inputs: tf.Tensor,
    initial_states_fw: list[Any] | None = None,
    initial_states_bw: list[Any] | None = None, dtype: tf.DType | None = None,
    sequence_length: tf.Tensor | None = None, parallel_iterations: int | None = None,
    time_major: bool = False, scope: Any = None
) -> tuple[tf.Tensor, tuple[Any, ...], tuple[Any, ...]]:
  """Stacked bidirectional dynamic RNNs: each layer reads the last one's outputs.

  Layer `i` is `bidirectional_dynamic_rnn(cells_fw[i], cells_bw[i], ...)` in the
  variable scope `stack_bidirectional_rnn/cell_<i>` (so
  `stack_bidirectional_rnn/cell_0/bidirectional_rnn/fw/lstm_cell/kernel`), its inputs
  the forward and backward outputs of layer `i - 1` concatenated on the last axis.

  Args:
    cells_fw: list of RNNCells, one per layer, for the forward direction.
    cells_bw: list of as many RNNCells for the backward direction.
    inputs: `[batch_size, max_time, input_size]` (`[max_time, batch_size, ...]`
      with `time_major`).
    initial_states_fw: optional list of the layers' initial forward states.
    initial_states_bw: optional list of the layers' initial backward states.
    dtype: the states' dtype; needed unless every initial state is given.
    sequence_length: optional int vector `[batch_size]` of the sequences' lengths.
    parallel_iterations: iterations run in parallel. Default 32.
    time_major: whether inputs and outputs are time-major. Default False.
    scope: optional variable scope. Default 'stack_bidirectional_rnn'.

  Returns:
    `(outputs, states_fw, states_bw)`: outputs `[batch_size, max_time, fw + bw
    output sizes]` of the last layer, and tuples of each layer's final states.

  Raises:
    ValueError: if the cell lists are empty, differ in length, or an initial-state
      list does not have one state per layer.
  """
  _check_layers(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
  states_fw, states_bw, layer_inputs = [], [], inputs
  with _V1.variable_scope(scope or "stack_bidirectional_rnn"):
    for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
      with _V1.variable_scope(f"cell_{i}"):
        outputs, (state_fw, state_bw) = bidirectional_dynamic_rnn(
            cell_fw, cell_bw, layer_inputs,
            initial_state_fw=_layer_states(initial_states_fw, i),
            initial_state_bw=_layer_states(initial_states_bw, i),
            sequence_length=sequence_length, parallel_iterations=parallel_iterations,
            dtype=dtype, time_major=time_major)
        layer_inputs = tf.concat(outputs, 2)  # [batch, time, fw + bw sizes]
      states_fw.append(state_fw)
      states_bw.append(state_bw)
  return layer_inputs, tuple(states_fw), tuple(states_bw)
