"""TF 1.x's cells made of cells: MultiRNNCell and the RNN cell wrappers.

    cells = [DropoutWrapper(BasicLSTMCell(100), output_keep_prob=keep_prob)
             for _ in range(3)]
    multi_cell = MultiRNNCell(cells)      # rnn/multi_rnn_cell/cell_0/basic_lstm_cell/...
    outputs, states = tf.compat.v1.nn.dynamic_rnn(multi_cell, X, dtype=tf.float32)
    top_h = states[-1].h                  # one LSTMStateTuple per layer

`MultiRNNCell`, `DropoutWrapper`, `ResidualWrapper` and `DeviceWrapper` of TF 1.15's
`tf.nn.rnn_cell`, and `OutputProjectionWrapper`, `InputProjectionWrapper` and
`EmbeddingWrapper` of its `tf.contrib.rnn`, with their signatures and variable names
(`multi_rnn_cell/cell_<i>/...`, `output_projection_wrapper/kernel`, ...). The dropout,
residual and device wrappers add no scope: the wrapped cell names its variables as it
would alone. The cells themselves are in `dnn_toolkit.layers.rnn_cell`.
"""

import hashlib
import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers.rnn_cell import (
  BIAS,
  KERNEL,
  LSTMStateTuple,
  RNNCell,
  _Activation,
  _check_activation,
  _State,
  as_tensors,
)

_V1 = tf.compat.v1


def check_cell(name: str, cell: Any) -> Any:
  """Returns `cell` if it behaves like an RNNCell (TF's duck test), else TypeError."""
  missing = [what for what, ok in (
      ("an `output_size` property", hasattr(cell, "output_size")),
      ("a `state_size` property", hasattr(cell, "state_size")),
      ("a `zero_state` or `get_initial_state` method",
       hasattr(cell, "zero_state") or hasattr(cell, "get_initial_state")),
      ("a call (`cell(inputs, state)`)", callable(cell))) if not ok]
  if missing:
    raise TypeError(f"Expected `{name}` to be an RNNCell, but it lacks "
                    f"{', '.join(missing)}. Received: {name}={cell!r}")
  return cell


class MultiRNNCell(RNNCell):
  """Cells stacked: each cell's output is the next one's input (a deep RNN).

  Cell `i` runs in the variable scope `multi_rnn_cell/cell_<i>`; the state is a tuple
  of the cells' states (or, with `state_is_tuple=False`, their concatenation), the
  output the last cell's. Give each layer its own cell object: one object listed twice
  shares its variables (and fails if the layers' input sizes differ).
  """

  def __init__(self, cells: Sequence[Any], state_is_tuple: bool = True) -> None:
    """Args:
      cells: non-empty list of RNNCells, run in this order.
      state_is_tuple: True: the state is a tuple of the cells' states; False: their
        concatenation `[batch_size, sum of state sizes]` (cells with int state sizes).

    Raises:
      TypeError: if `cells` is not a list or tuple of RNNCells.
      ValueError: if `cells` is empty, or a cell's state is a tuple while
        `state_is_tuple` is False.
    """
    super().__init__()
    if not isinstance(cells, (list, tuple)):
      raise TypeError(f"Expected `cells` to be a list or tuple of RNNCells. "
                      f"Received: cells={cells!r}")
    if not cells:
      raise ValueError("Received an invalid value for `cells`, expected at least one "
                       "RNNCell. Received: cells=[]")
    for i, cell in enumerate(cells):
      check_cell(f"cells[{i}]", cell)
    if len({id(cell) for cell in cells}) < len(cells):
      warnings.warn("At least two cells provided to MultiRNNCell are the same object "
                    "and will share weights.", stacklevel=2)
    self._cells = list(cells)
    self._state_is_tuple = _validation.check_bool("state_is_tuple", state_is_tuple)
    if not state_is_tuple and any(tf.nest.is_nested(c.state_size) for c in cells):
      raise ValueError("Received an invalid value for `state_is_tuple`: some cells "
                       "have tuple states, so it must be True. State sizes: "
                       f"{[c.state_size for c in cells]}. Received: state_is_tuple=False")

  @property
  def state_size(self) -> Any:
    sizes = tuple(cell.state_size for cell in self._cells)
    return sizes if self._state_is_tuple else sum(sizes)

  @property
  def output_size(self) -> Any:
    return self._cells[-1].output_size

  def zero_state(self, batch_size: int | tf.Tensor, dtype: Any) -> _State:
    if not self._state_is_tuple:
      return super().zero_state(batch_size, dtype)
    with tf.name_scope(f"{type(self).__name__}ZeroState"):
      return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)

  def _sub_cells(self):
    return self._cells

  def call(self, inputs: Any, state: _State) -> tuple[Any, _State]:
    if self._state_is_tuple and not isinstance(state, (tuple, list)):
      raise ValueError(f"Expected state to be a tuple of length {len(self._cells)}, "
                       f"but received: {state}")
    new_states, start, output = [], 0, inputs
    for i, cell in enumerate(self._cells):
      with _V1.variable_scope(f"cell_{i}"):
        if self._state_is_tuple:
          cell_state = state[i]
        else:  # Columns [start, start + size) of the concatenated state.
          cell_state = tf.slice(state, [0, start], [-1, cell.state_size])
          start += cell.state_size
        output, cell_state = cell(output, cell_state)
      new_states.append(cell_state)
    if self._state_is_tuple:
      return output, tuple(new_states)
    return output, tf.concat(new_states, 1)


class _Wrapper(RNNCell):
  """A cell around `cell`: its sizes and zero state, its variables."""

  def __init__(self, cell: Any, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.cell = check_cell("cell", cell)

  @property
  def wrapped_cell(self) -> Any:
    return self.cell

  @property
  def state_size(self) -> Any:
    return self.cell.state_size

  @property
  def output_size(self) -> Any:
    return self.cell.output_size

  def zero_state(self, batch_size: int | tf.Tensor, dtype: Any) -> _State:
    with tf.name_scope(f"{type(self).__name__}ZeroState"):
      return self.cell.zero_state(batch_size, dtype)

  def _sub_cells(self):
    return [self.cell]


def _check_keep_prob(name, keep_prob):
  """A keep probability in (0, 1] as a float, or a tensor (a placeholder) as is."""
  if isinstance(keep_prob, (tf.Tensor, tf.Variable)):
    static = tf.get_static_value(tf.convert_to_tensor(keep_prob))
    if static is None:
      return keep_prob
    keep_prob = static.item() if hasattr(static, "item") else static
  return _validation.check_in_range(name, keep_prob, 0.0, 1.0, low_open=True)


def _default_state_filter(part):
  """Drop out every part of the state but an LSTM's memory `c` (and TensorArrays)."""
  if isinstance(part, LSTMStateTuple):
    return LSTMStateTuple(c=False, h=True)
  return not isinstance(part, tf.TensorArray)


def _map_selected(visit, value, noise, fn):
  """Returns `value` with `fn(leaf, leaf_noise)` applied to the leaves `visit` picks.

  `visit(part)` answers for a part of the structure: a bool (all of it or none), or,
  for a tuple, a tuple of bools, one per element (TF 1.x's
  `dropout_state_filter_visitor`); the chosen elements are asked in turn.
  """
  choice = visit(value)
  if not isinstance(value, (tuple, list)):
    if not isinstance(choice, bool):
      raise TypeError(f"dropout_state_filter_visitor must return a bool for a tensor. "
                      f"Received: {choice!r}")
    return fn(value, noise) if choice else value
  if isinstance(choice, bool):
    if not choice:
      return value
    choice = [True] * len(value)
  if len(choice) != len(value):
    raise ValueError(f"dropout_state_filter_visitor returned {choice!r} for a state "
                     f"part of {len(value)} elements")
  noises = [None] * len(value) if noise is None else list(noise)
  parts = [_map_selected(visit, v, n, fn) if chosen else v
           for v, n, chosen in zip(value, noises, choice)]
  if hasattr(value, "_fields"):  # A namedtuple, such as LSTMStateTuple.
    return type(value)(*parts)
  return type(value)(parts)


def _should_drop(keep_prob):
  return not isinstance(keep_prob, float) or keep_prob < 1.0


class DropoutWrapper(_Wrapper):
  """Dropout on a cell's inputs, outputs and (outgoing) state.

      cell = DropoutWrapper(BasicLSTMCell(100), output_keep_prob=keep_prob)

  Units are kept with probability `keep_prob` and scaled by `1 / keep_prob`. A keep
  probability may be a tensor, such as a `placeholder_with_default(1.0, shape=())`
  fed 0.5 while training; at the constant 1.0 no dropout op is built. The state's
  LSTM memory `c` is never dropped (see `dropout_state_filter_visitor`). With
  `variational_recurrent` one mask per run call is drawn and used at every time step
  (Gal and Ghahramani, 2016), shared by the batch; otherwise each step draws anew.
  """

  def __init__(self, cell: Any, input_keep_prob: float | tf.Tensor = 1.0,
               output_keep_prob: float | tf.Tensor = 1.0,
               state_keep_prob: float | tf.Tensor = 1.0,
               variational_recurrent: bool = False, input_size: Any = None,
               dtype: Any = None, seed: int | None = None,
               dropout_state_filter_visitor: Callable[[Any], Any] | None = None
               ) -> None:
    """Args:
      cell: the RNNCell to wrap.
      input_keep_prob: keep probability of the inputs, in (0, 1], or a scalar tensor.
      output_keep_prob: likewise of the outputs.
      state_keep_prob: likewise of the new state (the parts the filter picks).
      variational_recurrent: one mask per run call, the same at every step.
      input_size: the inputs' depth (an int, TensorShape or structure of them);
        needed with `variational_recurrent` when the inputs are dropped.
      dtype: the dtype of inputs, state and outputs; needed with
        `variational_recurrent`.
      seed: optional int; each mask's op seed derives from it, as in TF 1.x.
      dropout_state_filter_visitor: `fn(part) -> bool or tuple of bools` choosing
        the state parts to drop; default: all but an LSTMStateTuple's `c`.

    Raises:
      TypeError: if `cell` is not an RNNCell or the filter is not callable.
      ValueError: if a keep probability is outside (0, 1], or `variational_recurrent`
        lacks `dtype` (or `input_size`).
    """
    super().__init__(cell)
    self._state_filter = _validation.check_callable(
        "dropout_state_filter_visitor", dropout_state_filter_visitor
    ) or _default_state_filter
    with tf.name_scope("DropoutWrapperInit"):
      self._input_keep_prob = _check_keep_prob("input_keep_prob", input_keep_prob)
      self._state_keep_prob = _check_keep_prob("state_keep_prob", state_keep_prob)
      self._output_keep_prob = _check_keep_prob("output_keep_prob", output_keep_prob)
    self._variational_recurrent = _validation.check_bool("variational_recurrent",
                                                         variational_recurrent)
    self._seed = None if seed is None else _validation.check_int("seed", seed)
    self._noise = {"input": None, "state": None, "output": None}
    if variational_recurrent:
      self._make_noise(input_size, dtype)

  def _make_noise(self, input_size, dtype):
    """Draws the variational masks' uniform noise `[1, size]`, once, as TF 1.x did."""
    if dtype is None:
      raise ValueError("Received an invalid value for `dtype`: variational_recurrent="
                       "True needs the dtype of the inputs and state. Received: "
                       "dtype=None")
    sizes = {"state": self.cell.state_size, "output": self.cell.output_size}
    if _should_drop(self._input_keep_prob):
      if input_size is None:
        raise ValueError("Received an invalid value for `input_size`: "
                         "variational_recurrent=True with input dropout needs the "
                         "inputs' depth. Received: input_size=None")
      sizes["input"] = input_size
    for kind, size in sizes.items():
      index = itertools.count()
      self._noise[kind] = tf.nest.map_structure(
          lambda s, kind=kind, index=index: tf.random.uniform(
              [1] + tf.TensorShape(s).as_list(), dtype=dtype,
              seed=self._gen_seed(kind, next(index))), size)

  def _gen_seed(self, salt_prefix, index):
    """The op seed of one mask: TF 1.x's hash of `seed`, the mask's kind and index."""
    if self._seed is None:
      return None
    text = f"{self._seed}{salt_prefix}_{index}".encode()
    return int(hashlib.md5(text).hexdigest()[:8], 16) & 0x7FFFFFFF

  def _dropout(self, values, kind, keep_prob, visit=lambda part: True):
    index = itertools.count()

    def drop(value, noise):
      if self._variational_recurrent:  # floor(keep + U[0, 1)) is 1 with prob. keep.
        mask = tf.floor(keep_prob + noise)
        dropped = tf.math.divide(value, keep_prob) * mask
        dropped.set_shape(value.shape)
        return dropped
      return tf.nn.dropout(value, rate=1.0 - keep_prob,
                           seed=self._gen_seed(kind, next(index)))

    return _map_selected(visit, values, self._noise[kind], drop)

  def __call__(self, inputs: Any, state: _State, scope: Any = None
               ) -> tuple[Any, _State]:
    """Runs the wrapped cell (in its own scope) with the dropouts."""
    inputs = as_tensors(inputs)
    if _should_drop(self._input_keep_prob):
      inputs = self._dropout(inputs, "input", self._input_keep_prob)
    output, new_state = self.cell(inputs, state, scope=scope)
    if _should_drop(self._state_keep_prob):
      new_state = self._dropout(new_state, "state", self._state_keep_prob,
                                visit=self._state_filter)
    if _should_drop(self._output_keep_prob):
      output = self._dropout(output, "output", self._output_keep_prob)
    return output, new_state


class ResidualWrapper(_Wrapper):
  """Adds the cell's inputs to its outputs: `output = inputs + cell_output`."""

  def __init__(self, cell: Any,
               residual_fn: Callable[[Any, Any], Any] | None = None) -> None:
    """Args:
      cell: the RNNCell to wrap (its output size must equal the input size).
      residual_fn: optional `fn(inputs, outputs) -> outputs` replacing the sum.
    """
    super().__init__(cell)
    self._residual_fn = _validation.check_callable("residual_fn", residual_fn)

  def __call__(self, inputs: Any, state: _State, scope: Any = None
               ) -> tuple[Any, _State]:
    inputs = as_tensors(inputs)
    outputs, new_state = self.cell(inputs, state, scope=scope)
    if self._residual_fn is not None:
      return self._residual_fn(inputs, outputs), new_state
    tf.nest.assert_same_structure(inputs, outputs)
    tf.nest.map_structure(lambda i, o: i.shape.assert_is_compatible_with(o.shape),
                          inputs, outputs)
    return tf.nest.map_structure(lambda i, o: i + o, inputs, outputs), new_state


class DeviceWrapper(_Wrapper):
  """Runs the cell (and builds its zero state) on `device`."""

  def __init__(self, cell: Any, device: Any) -> None:
    """Args:
      cell: the RNNCell to wrap.
      device: a device string ('/cpu:0') or function, as `tf.device` takes.
    """
    super().__init__(cell)
    self._device = device

  def zero_state(self, batch_size: int | tf.Tensor, dtype: Any) -> _State:
    with tf.name_scope(f"{type(self).__name__}ZeroState"), tf.device(self._device):
      return self.cell.zero_state(batch_size, dtype)

  def __call__(self, inputs: Any, state: _State, scope: Any = None
               ) -> tuple[Any, _State]:
    with tf.device(self._device):
      return self.cell(inputs, state, scope=scope)


def _linear(args, output_size, dtype=None):
  """`concat(args, 1) @ kernel + bias` with `kernel` and `bias` of the current scope.

  contrib's `_Linear`: kernel `[sum of depths, output_size]` (the scope's initializer,
  else Glorot uniform), bias `[output_size]` of zeros, never partitioned.
  """
  args = list(args) if isinstance(args, (list, tuple)) else [args]
  depths = [tf.compat.dimension_value(a.shape[-1]) for a in args]
  if any(a.shape.rank != 2 or d is None for a, d in zip(args, depths)):
    raise ValueError("expected 2-D arguments with a known last dimension. Received "
                     f"shapes: {[a.shape for a in args]}")
  dtype = dtype or args[0].dtype
  kernel = _V1.get_variable(KERNEL, [sum(int(d) for d in depths), output_size], dtype)
  with _V1.variable_scope(_V1.get_variable_scope()) as scope:
    scope.set_partitioner(None)
    bias = _V1.get_variable(BIAS, [output_size], dtype,
                            initializer=_V1.zeros_initializer())
  x = args[0] if len(args) == 1 else tf.concat(args, 1)
  return tf.nn.bias_add(tf.matmul(x, kernel), bias)


class OutputProjectionWrapper(_Wrapper):
  """The cell's output projected to `output_size` units (`tf.contrib.rnn`).

  Variables: the cell's under `output_projection_wrapper/` (for instance
  `rnn/output_projection_wrapper/basic_rnn_cell/kernel`), then
  `output_projection_wrapper/kernel` `[cell output size, output_size]` and
  `output_projection_wrapper/bias` `[output_size]`.
  """

  def __init__(self, cell: Any, output_size: int, activation: _Activation = None,
               reuse: bool | None = None) -> None:
    """Args:
      cell: the RNNCell to wrap.
      output_size: positive int, the projected size.
      activation: optional function applied to the projection. Default: none.
      reuse: True (or tf.AUTO_REUSE) to reuse the variables.
    """
    super().__init__(cell, _reuse=reuse)
    self._output_size = _validation.check_positive_int("output_size", output_size)
    self._activation = None if activation is None else _check_activation(activation)

  @property
  def output_size(self) -> int:
    return self._output_size

  def call(self, inputs: Any, state: _State) -> tuple[tf.Tensor, _State]:
    output, new_state = self.cell(inputs, state)
    projected = _linear(output, self._output_size)
    if self._activation is not None:
      projected = self._activation(projected)
    return projected, new_state


class InputProjectionWrapper(_Wrapper):
  """The inputs projected to `num_proj` units before the cell (`tf.contrib.rnn`).

  Variables: `input_projection_wrapper/kernel` `[input_size, num_proj]`,
  `input_projection_wrapper/bias` `[num_proj]`, then the cell's under
  `input_projection_wrapper/`.
  """

  def __init__(self, cell: Any, num_proj: int, activation: _Activation = None,
               input_size: Any = None, reuse: bool | None = None) -> None:
    """Args:
      cell: the RNNCell to wrap.
      num_proj: positive int, the projected input size.
      activation: optional function applied to the projection. Default: none.
      input_size: ignored (deprecated in TF 1.x).
      reuse: True (or tf.AUTO_REUSE) to reuse the variables.
    """
    del input_size
    super().__init__(cell, _reuse=reuse)
    self._num_proj = _validation.check_positive_int("num_proj", num_proj)
    self._activation = None if activation is None else _check_activation(activation)

  def call(self, inputs: tf.Tensor, state: _State) -> tuple[Any, _State]:
    projected = _linear(inputs, self._num_proj)
    if self._activation is not None:
      projected = self._activation(projected)
    return self.cell(projected, state)


class EmbeddingWrapper(_Wrapper):
  """Integer inputs embedded before the cell (`tf.contrib.rnn`).

  The inputs are symbol ids `[batch_size]` or `[batch_size, 1]`; variable
  `embedding_wrapper/embedding` `[embedding_classes, embedding_size]` (the scope's
  initializer, else uniform in +-sqrt(3): variance 1), kept on the CPU.
  """

  def __init__(self, cell: Any, embedding_classes: int, embedding_size: int,
               initializer: Callable[..., tf.Tensor] | None = None,
               reuse: bool | None = None) -> None:
    """Args:
      cell: the RNNCell to wrap.
      embedding_classes: positive int, the number of symbols.
      embedding_size: positive int, the size of their vectors.
      initializer: optional initializer of the embedding.
      reuse: True (or tf.AUTO_REUSE) to reuse the variables.
    """
    super().__init__(cell, _reuse=reuse)
    self._classes = _validation.check_positive_int("embedding_classes",
                                                   embedding_classes)
    self._size = _validation.check_positive_int("embedding_size", embedding_size)
    self._initializer = _validation.check_callable("initializer", initializer)

  def call(self, inputs: tf.Tensor, state: _State) -> tuple[Any, _State]:
    with tf.device("/cpu:0"):
      initializer = (self._initializer or _V1.get_variable_scope().initializer
                     or _V1.random_uniform_initializer(-math.sqrt(3), math.sqrt(3)))
      dtype = tf.nest.flatten(state)[0].dtype
      embedding = _V1.get_variable("embedding", [self._classes, self._size], dtype,
                                   initializer=initializer)
      embedded = tf.nn.embedding_lookup(embedding, tf.reshape(inputs, [-1]))
    return self.cell(embedded, state)
