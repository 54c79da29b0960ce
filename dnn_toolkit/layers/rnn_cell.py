"""TF 1.x's RNN cells (`tf.nn.rnn_cell`, `tf.contrib.rnn`) on get_variable and tf ops.

    cell = BasicLSTMCell(128)                          # forget_bias=1.0, tuple state
    outputs, state = tf.compat.v1.nn.dynamic_rnn(cell, X, dtype=tf.float32)
    # variables rnn/basic_lstm_cell/kernel [n_inputs + 128, 512], .../bias [512];
    # outputs [batch, time, 128], state LSTMStateTuple(c, h), each [batch, 128]

TF 1.15's cells with their signatures, defaults, gate order (i, j, f, o for the
LSTMs; r, u for the GRU), initializers and variable names, so TF 1.x code and its
checkpoints work unchanged: `RNNCell` (the base class users subclass),
`BasicRNNCell`, `BasicLSTMCell`, `LSTMCell` (peepholes, projection, clipping),
`GRUCell`, `MultiRNNCell`, `DropoutWrapper`, `ResidualWrapper`, `DeviceWrapper`,
`LSTMStateTuple`, and the wrappers `tf.contrib.rnn` added, `OutputProjectionWrapper`,
`InputProjectionWrapper` and `EmbeddingWrapper`. Under Keras 3 TensorFlow's own
`tf.compat.v1.nn.rnn_cell` raises "not available with Keras 3" (its cells were Keras 2
layers); TensorFlow's RNN functions remain and run these cells (`dnn_toolkit.layers.rnn`).

Variable names follow TF 1.x's layer rules. On its first call a cell opens a new
variable scope named after its class in snake case (`basic_lstm_cell`; a second cell
in the same scope gets `basic_lstm_cell_1`), or after its `name`, or the `scope` given
to that call; every later call reuses that scope's variables, wherever it is made. So
`dynamic_rnn` (scope `rnn`) gives `rnn/basic_lstm_cell/kernel`, a `MultiRNNCell`
`rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel`, `bidirectional_dynamic_rnn`
`bidirectional_rnn/fw/basic_lstm_cell/kernel`. Kernels take the variable scope's
initializer, else Glorot uniform (`tf.compat.v1.get_variable`'s default); biases
start at zero, the GRU's gate bias at 1.
"""

import re
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers import activations

_V1 = tf.compat.v1
KERNEL = "kernel"
BIAS = "bias"
# The RNN cell's activation: a function, or a name `activations.get` knows.
_Activation = Callable[[tf.Tensor], tf.Tensor] | str | None
# A structure of state tensors: a tensor, or a (nested) tuple of them.
_State = Any


def _snake_case(class_name):
  """'BasicLSTMCell' -> 'basic_lstm_cell', as TF 1.x's layers named their scopes."""
  words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
  name = re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
  return "private" + name if name.startswith("_") else name


def _check_reuse(reuse):
  if reuse is None or isinstance(reuse, bool) or reuse is _V1.AUTO_REUSE:
    return reuse
  raise TypeError(f"Expected `reuse` to be None, True, False or tf.AUTO_REUSE. "
                  f"Received: reuse={reuse!r}")


def _check_activation(activation):
  """Returns the cell's activation function; None means tanh, as in TF 1.x."""
  if activation is None:
    return tf.tanh
  if isinstance(activation, str):
    return activations.get(activation) or tf.identity  # 'linear': the identity
  return _validation.check_callable("activation", activation, allow_none=False)


def _check_optional_positive(name, value, check=_validation.check_in_range):
  if value is None:
    return None
  if check is _validation.check_positive_int:
    return check(name, value)
  return check(name, value, 0.0, None, low_open=True)


class LSTMStateTuple(namedtuple("LSTMStateTuple", ("c", "h"))):
  """The state of an LSTM cell with `state_is_tuple=True`: `(c, h)`, in that order.

  `c` is the memory cell `[batch_size, num_units]`, `h` the output
  `[batch_size, num_proj or num_units]`; also the cells' `state_size` `(c, h)`.
  """
  __slots__ = ()

  @property
  def dtype(self) -> tf.DType:
    """The dtype of `c` and `h`; TypeError if they differ."""
    c, h = self
    if c.dtype != h.dtype:
      raise TypeError(f"Inconsistent internal state: {c.dtype!r} vs {h.dtype!r}")
    return c.dtype


def _zeros(batch_size, size, dtype):
  """Zeros `[batch_size] + size`, with the static shape known."""
  dims = tf.TensorShape(size).as_list()
  if isinstance(batch_size, (tf.Tensor, tf.Variable)):
    batch_size = tf.reshape(batch_size, [])  # A scalar, as TF 1.x also took a [1] one.
    zeros = tf.zeros(tf.concat([[batch_size], tf.constant(dims, tf.int32)], 0), dtype)
    zeros.set_shape([tf.get_static_value(batch_size)] + dims)
    return zeros
  return tf.zeros([batch_size] + dims, dtype)


class RNNCell:
  """An RNN cell: `(output, new_state) = cell(inputs, state)` (TF 1.x's `RNNCell`).

  Subclass it as in TF 1.x: define `state_size`, `output_size` and
  `call(inputs, state)`, and create variables in `build(inputs_shape)` with
  `self.add_variable(...)`, or in `call` with `tf.compat.v1.get_variable`.
  `__call__` runs both in the cell's variable scope, reusing the variables after the
  first call (see the module docstring for the scope):

      class MinimalRNNCell(RNNCell):
        def __init__(self, num_units):
          super().__init__()
          self._num_units = num_units

        @property
        def state_size(self):
          return self._num_units

        @property
        def output_size(self):
          return self._num_units

        def build(self, inputs_shape):
          depth = inputs_shape[-1] + self._num_units
          self._kernel = self.add_variable("kernel", [depth, self._num_units])

        def call(self, inputs, state):
          h = tf.tanh(tf.matmul(tf.concat([inputs, state], 1), self._kernel))
          return h, h

  What TensorFlow's RNN functions read (the RNNCell protocol): `state_size` (an int,
  a TensorShape, or a nested tuple of them), `output_size`, `zero_state` or
  `get_initial_state`, and the call. Subclasses that override `__call__` itself (TF
  1.0's style) keep working; they manage their own scope.
  """

  # Class-level defaults, so subclasses that skip `super().__init__()` still work.
  built = False
  _scope = None
  _reuse = None
  _dtype = None
  _trainable = True
  _base_name = None

  def __init__(self, trainable: bool = True, name: str | None = None,
               dtype: Any = None, **kwargs: Any) -> None:
    """Sets the cell's layer attributes; `_reuse` and `_scope` as TF 1.x took them.

    Args:
      trainable: False keeps the cell's variables out of `TRAINABLE_VARIABLES`.
      name: the cell's scope name. Default: the class name in snake case.
      dtype: the variables' dtype. Default: that of the first inputs.
      **kwargs: `_reuse` (see the cells' `reuse`) and `_scope` (the scope to use).

    Raises:
      TypeError: for another keyword, a non-bool `trainable` or a non-str `name`.
    """
    unknown = sorted(set(kwargs) - {"_reuse", "_scope"})
    if unknown:
      raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {unknown}")
    self._trainable = bool(_validation.check_bool("trainable", trainable))
    if name is not None and not isinstance(name, str):
      raise TypeError(f"Expected `name` to be a str or None. Received: name={name!r}")
    self._base_name = name
    self._reuse = _check_reuse(kwargs.get("_reuse"))
    self._scope_arg = kwargs.get("_scope")
    self._dtype = None if dtype is None else tf.as_dtype(dtype)
    self._own_variables: list = []

  # ------------------------------------------------------- the protocol

  @property
  def state_size(self) -> Any:
    """Size(s) of the state: an int, a TensorShape, or a nested tuple of them."""
    raise NotImplementedError(f"{type(self).__name__} must define `state_size`")

  @property
  def output_size(self) -> Any:
    """Size of the output: an int or a TensorShape."""
    raise NotImplementedError(f"{type(self).__name__} must define `output_size`")

  def build(self, inputs_shape: tf.TensorShape) -> None:
    """Creates the cell's variables, once, before its first `call`. Default: none."""

  def call(self, inputs: Any, state: _State) -> tuple[Any, _State]:
    """One step: returns `(output, new_state)`. Subclasses define it."""
    raise NotImplementedError(f"{type(self).__name__} must define `call`")

  def __call__(self, inputs: Any, state: _State, scope: Any = None, *args: Any,
               **kwargs: Any) -> tuple[Any, _State]:
    """Runs one step of the cell on `inputs` from `state`.

    Args:
      inputs: `[batch_size, input_size]` tensor (or a structure of them).
      state: a `[batch_size, state_size]` tensor, or a tuple of them matching
        `state_size`.
      scope: optional variable scope (name or VariableScope) of the cell's variables,
        used on the first call only.
      *args: passed on to `call`, as **kwargs.

    Returns:
      `(output, new_state)`: `[batch_size, output_size]` and a state like `state`.
    """
    inputs = as_tensors(inputs)
    if self._scope is None:
      self._scope = self._first_scope(scope)
    reuse = True if self.built else self._reuse
    # The ops go to the name scope the first call opened (`rnn/while/lstm_cell/`),
    # as with TF 1.x's layers; re-entering the variable scope would number a new one.
    with _V1.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False,
                            custom_getter=self._track_variable), \
         tf.name_scope(self._scope.original_name_scope):
      if not self.built:
        flat = tf.nest.flatten(inputs)
        if self._dtype is None and flat and hasattr(flat[0], "dtype"):
          self._dtype = tf.as_dtype(flat[0].dtype).base_dtype
        self.build(tf.nest.map_structure(_shape_of, inputs))
      outputs = self.call(inputs, state, *args, **kwargs)
      self.built = True
    return outputs

  def _first_scope(self, scope):
    """Opens the cell's variable scope at its first call, as TF 1.x's layers did."""
    scope = scope if scope is not None else getattr(self, "_scope_arg", None)
    if scope is not None:
      opened = _V1.variable_scope(scope)
    elif self._reuse:  # Reuse means the un-numbered name.
      opened = _V1.variable_scope(self.name, reuse=self._reuse)
    else:
      opened = _V1.variable_scope(None, default_name=self.name)
    with opened as captured:
      return captured

  def _track_variable(self, getter, *args, **kwargs):
    """Custom getter: records each variable the cell gets, for `variables`."""
    if not self._trainable:
      kwargs["trainable"] = False
    variable = getter(*args, **kwargs)
    own = self.__dict__.setdefault("_own_variables", [])
    if not any(v is variable for v in own):
      own.append(variable)
    return variable

  def add_variable(self, name: str, shape: Sequence[int], dtype: Any = None,
                   initializer: Callable[..., tf.Tensor] | None = None,
                   regularizer: Callable[[tf.Tensor], tf.Tensor] | None = None,
                   trainable: bool | None = None,
                   partitioner: Callable[..., Any] | None = None) -> tf.Variable:
    """Creates (or, after the first call, reuses) variable `name` in the cell's scope.

    Call it from `build` (or `call`). `initializer=None` takes the variable scope's
    initializer, else Glorot uniform; `dtype=None` the cell's dtype.
    """
    return _V1.get_variable(
        name, shape, dtype=dtype or self._dtype or tf.float32, initializer=initializer,
        regularizer=regularizer,
        trainable=self._trainable if trainable is None else trainable,
        partitioner=partitioner)

  add_weight = add_variable

  # ------------------------------------------------------- state and attributes

  def zero_state(self, batch_size: int | tf.Tensor, dtype: Any) -> _State:
    """Returns zero-filled state tensor(s) `[batch_size, s]` for each `s` of state_size.

    Args:
      batch_size: int or scalar int tensor.
      dtype: the state's dtype.

    Returns:
      A tensor, or a structure of tensors like `state_size` (an LSTMStateTuple of the
      LSTM cells' `(c, h)` for instance).
    """
    with tf.name_scope(f"{type(self).__name__}ZeroState"):
      return tf.nest.map_structure(lambda s: _zeros(batch_size, s, dtype),
                                   self.state_size)

  def get_initial_state(self, inputs: tf.Tensor | None = None,
                        batch_size: int | tf.Tensor | None = None,
                        dtype: Any = None) -> _State:
    """`zero_state`, with the batch size and dtype taken from `inputs` if given.

    Raises:
      ValueError: if `batch_size` or `dtype` disagree with `inputs`, or neither is
        known.
    """
    if inputs is not None:
      inputs = tf.convert_to_tensor(inputs, name="inputs")
      static = (tf.compat.dimension_value(inputs.shape[0]) if inputs.shape.rank
                else None)
      if batch_size is not None and not isinstance(batch_size, tf.Tensor) and (
          static is not None and static != batch_size):
        raise ValueError(f"batch_size {batch_size} disagrees with the batch size of "
                         f"`inputs`. Received: inputs.shape={inputs.shape}")
      if dtype is not None and tf.as_dtype(dtype) != inputs.dtype:
        raise ValueError(f"dtype {dtype!r} disagrees with that of `inputs`. "
                         f"Received: inputs.dtype={inputs.dtype.name}")
      batch_size = static if static is not None else tf.shape(inputs)[0]
      dtype = inputs.dtype
    if batch_size is None or dtype is None:
      raise ValueError("get_initial_state needs `inputs`, or `batch_size` and `dtype`. "
                       f"Received: batch_size={batch_size}, dtype={dtype}")
    return self.zero_state(batch_size, dtype)

  @property
  def name(self) -> str:
    """The cell's base scope name (`basic_lstm_cell` or the given `name`)."""
    return self._base_name or _snake_case(type(self).__name__)

  @property
  def scope_name(self) -> str | None:
    """The full name of the cell's variable scope, once called (else None)."""
    return self._scope.name if self._scope is not None else None

  @property
  def dtype(self) -> str | None:
    """The variables' dtype name ('float32'), known at the latest after the first call."""
    return self._dtype.name if self._dtype is not None else None

  @property
  def trainable(self) -> bool:
    return self._trainable

  def _sub_cells(self):
    """The cells this one runs (wrappers, MultiRNNCell); their variables are its own."""
    return []

  @property
  def variables(self) -> list:
    """Every variable the cell (and the cells it wraps) created or reused, in order."""
    found = list(self.__dict__.get("_own_variables", []))
    for cell in self._sub_cells():
      found += [v for v in getattr(cell, "variables", [])
                if not any(v is f for f in found)]
    return found

  @property
  def trainable_variables(self) -> list:
    trainable = {id(v) for v in _V1.trainable_variables()}
    return [v for v in self.variables if id(_first_part(v)) in trainable]

  @property
  def non_trainable_variables(self) -> list:
    trainable = {id(v) for v in _V1.trainable_variables()}
    return [v for v in self.variables if id(_first_part(v)) not in trainable]

  weights = variables
  trainable_weights = trainable_variables
  non_trainable_weights = non_trainable_variables


def as_tensors(inputs: Any) -> Any:
  """`inputs` with its NumPy arrays and numbers made tensors, as TF 1.x's layers did."""
  return tf.nest.map_structure(
      lambda x: tf.convert_to_tensor(x) if isinstance(x, (np.ndarray, float, int))
      else x, inputs)


def _first_part(variable):
  """A PartitionedVariable's first part (it is what the collections hold)."""
  if isinstance(variable, tf.Variable):
    return variable
  parts = list(variable) if hasattr(variable, "__iter__") else [variable]
  return parts[0] if parts else variable


def _shape_of(value):
  return value.shape if hasattr(value, "shape") else tf.TensorShape(None)


# `tf.contrib.rnn.LayerRNNCell`: in TF 1.x the cells whose variables come from `build`;
# here every RNNCell works that way or creates them in `call`.
LayerRNNCell = RNNCell


def _input_depth(cell, inputs_shape):
  """The known last dimension of a cell's 2-D float inputs, else ValueError/TypeError."""
  if not (cell._dtype.is_floating or cell._dtype.is_complex):
    raise TypeError(f"{type(cell).__name__}: RNN cells take floating point inputs and "
                    f"states. Received: dtype={cell._dtype.name}")
  shape = tf.TensorShape(inputs_shape)
  if shape.rank != 2 or tf.compat.dimension_value(shape[-1]) is None:
    raise ValueError(f"{type(cell).__name__}: expected 2-D `inputs` [batch_size, "
                     "input_size] with a known input_size (one time step; use "
                     "tf.nn.dynamic_rnn for a sequence). "
                     f"Received: inputs.shape={shape}")
  return int(tf.compat.dimension_value(shape[-1]))


def _check_float(cell, inputs, state):
  for value in tf.nest.flatten([inputs, state]):
    dtype = tf.as_dtype(value.dtype)
    if not (dtype.is_floating or dtype.is_complex):
      raise TypeError(f"{type(cell).__name__}: RNN cells take floating point inputs "
                      f"and states. Received: dtype={dtype.name}")


class BasicRNNCell(RNNCell):
  """The basic RNN cell: `output = new_state = activation([inputs, state] @ W + b)`.

  Variables: `basic_rnn_cell/kernel` `[input_size + num_units, num_units]`,
  `basic_rnn_cell/bias` `[num_units]` (zeros).
  """

  def __init__(self, num_units: int, activation: _Activation = None,
               reuse: bool | None = None, name: str | None = None, dtype: Any = None,
               **kwargs: Any) -> None:
    """Args:
      num_units: positive int, the state (and output) size.
      activation: the nonlinearity (a function, or 'relu', 'elu', ...). Default tanh.
      reuse: True (or tf.AUTO_REUSE) to reuse the variables of the scope `name`.
      name: the scope name. Default 'basic_rnn_cell'.
      dtype: the variables' dtype. Default: that of the inputs.
      **kwargs: `trainable`.

    Raises:
      TypeError, ValueError: for a bad argument, naming it.
    """
    super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
    self._num_units = _validation.check_positive_int("num_units", num_units)
    self._activation = _check_activation(activation)

  @property
  def state_size(self) -> int:
    return self._num_units

  @property
  def output_size(self) -> int:
    return self._num_units

  def build(self, inputs_shape: tf.TensorShape) -> None:
    depth = _input_depth(self, inputs_shape)
    self._kernel = self.add_variable(KERNEL, [depth + self._num_units, self._num_units])
    self._bias = self.add_variable(BIAS, [self._num_units],
                                   initializer=_V1.zeros_initializer())

  def call(self, inputs: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    _check_float(self, inputs, state)
    z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, state], 1), self._kernel),
                       self._bias)  # [batch_size, num_units]
    output = self._activation(z)
    return output, output


class GRUCell(RNNCell):
  """Gated recurrent unit (Cho et al., 2014), TF 1.x's gate layout.

      r, u = sigmoid([x, h] @ gates/kernel + gates/bias)       # reset, update
      c = activation([x, r * h] @ candidate/kernel + candidate/bias)
      new_h = u * h + (1 - u) * c                              # output and state

  Variables: `gru_cell/gates/kernel` `[input_size + num_units, 2 * num_units]`,
  `gru_cell/gates/bias` `[2 * num_units]` (ones: gates start open),
  `gru_cell/candidate/kernel` `[input_size + num_units, num_units]`,
  `gru_cell/candidate/bias` `[num_units]` (zeros).
  """

  def __init__(self, num_units: int, activation: _Activation = None,
               reuse: bool | None = None,
               kernel_initializer: Callable[..., tf.Tensor] | None = None,
               bias_initializer: Callable[..., tf.Tensor] | None = None,
               name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
    """Args:
      num_units: positive int, the state (and output) size.
      activation: the candidate's nonlinearity. Default tanh.
      reuse: True (or tf.AUTO_REUSE) to reuse the variables of the scope `name`.
      kernel_initializer: initializer of both kernels. Default: the scope's, else
        Glorot uniform.
      bias_initializer: initializer of both biases. Default: ones for the gates,
        zeros for the candidate.
      name: the scope name. Default 'gru_cell'.
      dtype: the variables' dtype. Default: that of the inputs.
      **kwargs: `trainable`.

    Raises:
      TypeError, ValueError: for a bad argument, naming it.
    """
    super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
    self._num_units = _validation.check_positive_int("num_units", num_units)
    self._activation = _check_activation(activation)
    self._kernel_initializer = _validation.check_callable("kernel_initializer",
                                                          kernel_initializer)
    self._bias_initializer = _validation.check_callable("bias_initializer",
                                                        bias_initializer)

  @property
  def state_size(self) -> int:
    return self._num_units

  @property
  def output_size(self) -> int:
    return self._num_units

  def build(self, inputs_shape: tf.TensorShape) -> None:
    rows = _input_depth(self, inputs_shape) + self._num_units
    n = self._num_units
    self._gate_kernel = self.add_variable(f"gates/{KERNEL}", [rows, 2 * n],
                                          initializer=self._kernel_initializer)
    self._gate_bias = self.add_variable(
        f"gates/{BIAS}", [2 * n],
        initializer=self._bias_initializer or _V1.constant_initializer(1.0))
    self._candidate_kernel = self.add_variable(f"candidate/{KERNEL}", [rows, n],
                                               initializer=self._kernel_initializer)
    self._candidate_bias = self.add_variable(
        f"candidate/{BIAS}", [n],
        initializer=self._bias_initializer or _V1.zeros_initializer())

  def call(self, inputs: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    _check_float(self, inputs, state)
    gates = tf.sigmoid(tf.nn.bias_add(
        tf.matmul(tf.concat([inputs, state], 1), self._gate_kernel),
        self._gate_bias))  # [batch_size, 2 * num_units]
    r, u = tf.split(gates, 2, axis=1)
    candidate = self._activation(tf.nn.bias_add(
        tf.matmul(tf.concat([inputs, r * state], 1), self._candidate_kernel),
        self._candidate_bias))
    new_h = u * state + (1 - u) * candidate
    return new_h, new_h


class _LSTMBase(RNNCell):
  """What the two LSTM cells share: arguments, state layout, state (un)packing."""

  def _check_lstm_arguments(self, num_units, forget_bias, state_is_tuple, activation):
    self._num_units = _validation.check_positive_int("num_units", num_units)
    self._forget_bias = _validation.check_number("forget_bias", forget_bias)
    self._state_is_tuple = _validation.check_bool("state_is_tuple", state_is_tuple)
    self._activation = _check_activation(activation)

  def _split_state(self, state, h_size):
    """(c [batch, num_units], h [batch, h_size]) from a tuple or concatenated state."""
    if self._state_is_tuple:
      c, h = state
      return c, h
    return (tf.slice(state, [0, 0], [-1, self._num_units]),
            tf.slice(state, [0, self._num_units], [-1, h_size]))

  def _pack_state(self, c, h):
    return LSTMStateTuple(c, h) if self._state_is_tuple else tf.concat([c, h], 1)


class BasicLSTMCell(_LSTMBase):
  """The basic LSTM cell (Zaremba et al., 2014), with `forget_bias` added to the forget
  gate; no peepholes, clipping or projection (see `LSTMCell`).

      i, j, f, o = split([x, h] @ kernel + bias, 4)   # input, new input, forget, output
      new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j)
      new_h = activation(new_c) * sigmoid(o)          # the output

  Variables: `basic_lstm_cell/kernel` `[input_size + num_units, 4 * num_units]`,
  `basic_lstm_cell/bias` `[4 * num_units]` (zeros). The state is
  `LSTMStateTuple(c, h)`, or `[c, h]` concatenated with `state_is_tuple=False`.
  """

  def __init__(self, num_units: int, forget_bias: float = 1.0,
               state_is_tuple: bool = True, activation: _Activation = None,
               reuse: bool | None = None, name: str | None = None, dtype: Any = None,
               **kwargs: Any) -> None:
    """Args:
      num_units: positive int, the size of `c` and `h`.
      forget_bias: added to the forget gate's pre-activation. Default 1.0 (set 0.0
        for weights trained by CudnnLSTM).
      state_is_tuple: True: state `LSTMStateTuple(c, h)`; False: `[c, h]`
        concatenated, `[batch_size, 2 * num_units]`.
      activation: the inner nonlinearity. Default tanh.
      reuse: True (or tf.AUTO_REUSE) to reuse the variables of the scope `name`.
      name: the scope name. Default 'basic_lstm_cell'.
      dtype: the variables' dtype. Default: that of the inputs.
      **kwargs: `trainable`.

    Raises:
      TypeError, ValueError: for a bad argument, naming it.
    """
    super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
    self._check_lstm_arguments(num_units, forget_bias, state_is_tuple, activation)

  @property
  def state_size(self) -> LSTMStateTuple | int:
    n = self._num_units
    return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

  @property
  def output_size(self) -> int:
    return self._num_units

  def build(self, inputs_shape: tf.TensorShape) -> None:
    rows = _input_depth(self, inputs_shape) + self._num_units
    self._kernel = self.add_variable(KERNEL, [rows, 4 * self._num_units])
    self._bias = self.add_variable(BIAS, [4 * self._num_units],
                                   initializer=_V1.zeros_initializer())

  def call(self, inputs: tf.Tensor, state: _State) -> tuple[tf.Tensor, _State]:
    _check_float(self, inputs, state)
    c, h = self._split_state(state, self._num_units)
    z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), self._kernel),
                       self._bias)  # [batch_size, 4 * num_units]
    i, j, f, o = tf.split(z, 4, axis=1)
    forget_bias = tf.constant(self._forget_bias, dtype=f.dtype)
    new_c = c * tf.sigmoid(f + forget_bias) + tf.sigmoid(i) * self._activation(j)
    new_h = self._activation(new_c) * tf.sigmoid(o)
    return new_h, self._pack_state(new_c, new_h)


class LSTMCell(_LSTMBase):
  """The LSTM cell with optional peepholes, cell clipping and an output projection.

      i, j, f, o = split([x, h] @ kernel + bias, 4)
      c = sigmoid(f + forget_bias + w_f_diag * c) * c + sigmoid(i + w_i_diag * c) * act(j)
      c = clip(c, -cell_clip, cell_clip)
      h = sigmoid(o + w_o_diag * c) * act(c)                 # peephole terms optional
      h = clip(h @ projection/kernel, -proj_clip, proj_clip) # with num_proj

  (Gers et al., 2000; peepholes and projection after Sak et al., 2014.) Variables:
  `lstm_cell/kernel` `[input_size + (num_proj or num_units), 4 * num_units]`,
  `lstm_cell/bias` `[4 * num_units]` (zeros), with `use_peepholes`
  `lstm_cell/w_f_diag`, `w_i_diag`, `w_o_diag` `[num_units]`, with `num_proj`
  `lstm_cell/projection/kernel` `[num_units, num_proj]`. The output and `h` have
  `num_proj` units with a projection, else `num_units`.
  """

  def __init__(self, num_units: int, use_peepholes: bool = False,
               cell_clip: float | None = None,
               initializer: Callable[..., tf.Tensor] | None = None,
               num_proj: int | None = None, proj_clip: float | None = None,
               num_unit_shards: int | None = None,
               num_proj_shards: int | None = None, forget_bias: float = 1.0,
               state_is_tuple: bool = True, activation: _Activation = None,
               reuse: bool | None = None, name: str | None = None, dtype: Any = None,
               **kwargs: Any) -> None:
    """Args:
      num_units: positive int, the size of `c`.
      use_peepholes: add the diagonal peephole connections. Default False.
      cell_clip: optional positive bound: `c` is clipped to [-cell_clip, cell_clip]
        before the output activation.
      initializer: initializer of the kernel, peepholes and projection. Default: the
        scope's, else Glorot uniform.
      num_proj: optional positive int, the size of the projected output (and `h`).
      proj_clip: optional positive bound of the projected output (with num_proj).
      num_unit_shards: optional number of shards of the kernel (TF 1.x's deprecated
        partitioning; variables `kernel/part_0`, ...).
      num_proj_shards: likewise for the projection kernel.
      forget_bias: added to the forget gate's pre-activation. Default 1.0.
      state_is_tuple: True: state `LSTMStateTuple(c, h)`; False: `[c, h]`
        concatenated.
      activation: the inner nonlinearity. Default tanh.
      reuse: True (or tf.AUTO_REUSE) to reuse the variables of the scope `name`.
      name: the scope name. Default 'lstm_cell'.
      dtype: the variables' dtype. Default: that of the inputs.
      **kwargs: `trainable`.

    Raises:
      TypeError, ValueError: for a bad argument, naming it.
    """
    super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
    self._check_lstm_arguments(num_units, forget_bias, state_is_tuple, activation)
    self._use_peepholes = _validation.check_bool("use_peepholes", use_peepholes)
    self._cell_clip = _check_optional_positive("cell_clip", cell_clip)
    self._proj_clip = _check_optional_positive("proj_clip", proj_clip)
    positive_int = _validation.check_positive_int
    self._num_proj = _check_optional_positive("num_proj", num_proj, positive_int)
    self._num_unit_shards = _check_optional_positive("num_unit_shards",
                                                     num_unit_shards, positive_int)
    self._num_proj_shards = _check_optional_positive("num_proj_shards",
                                                     num_proj_shards, positive_int)
    self._initializer = _validation.check_callable("initializer", initializer)

  @property
  def state_size(self) -> LSTMStateTuple | int:
    h_size = self._num_proj or self._num_units
    if self._state_is_tuple:
      return LSTMStateTuple(self._num_units, h_size)
    return self._num_units + h_size

  @property
  def output_size(self) -> int:
    return self._num_proj or self._num_units

  def build(self, inputs_shape: tf.TensorShape) -> None:
    rows = _input_depth(self, inputs_shape) + self.output_size
    n = self._num_units
    shards = lambda count: (None if count is None
                            else _V1.fixed_size_partitioner(count))
    self._kernel = self.add_variable(KERNEL, [rows, 4 * n],
                                     initializer=self._initializer,
                                     partitioner=shards(self._num_unit_shards))
    self._bias = self.add_variable(BIAS, [4 * n], initializer=_V1.zeros_initializer())
    if self._use_peepholes:
      self._w_f_diag, self._w_i_diag, self._w_o_diag = (
          self.add_variable(f"w_{gate}_diag", [n], initializer=self._initializer)
          for gate in "fio")
    if self._num_proj is not None:
      self._proj_kernel = self.add_variable(
          f"projection/{KERNEL}", [n, self._num_proj], initializer=self._initializer,
          partitioner=shards(self._num_proj_shards))

  def call(self, inputs: tf.Tensor, state: _State) -> tuple[tf.Tensor, _State]:
    _check_float(self, inputs, state)
    c_prev, h_prev = self._split_state(state, self.output_size)
    z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h_prev], 1), self._kernel),
                       self._bias)  # [batch_size, 4 * num_units]
    i, j, f, o = tf.split(z, 4, axis=1)
    if self._use_peepholes:
      f += self._w_f_diag * c_prev
      i += self._w_i_diag * c_prev
    c = (tf.sigmoid(f + self._forget_bias) * c_prev
         + tf.sigmoid(i) * self._activation(j))
    if self._cell_clip is not None:
      c = tf.clip_by_value(c, -self._cell_clip, self._cell_clip)
    if self._use_peepholes:
      o += self._w_o_diag * c
    h = tf.sigmoid(o) * self._activation(c)  # [batch_size, num_units]
    if self._num_proj is not None:
      h = tf.matmul(h, self._proj_kernel)  # [batch_size, num_proj]
      if self._proj_clip is not None:
        h = tf.clip_by_value(h, -self._proj_clip, self._proj_clip)
    return h, self._pack_state(c, h)
