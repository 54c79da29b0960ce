"""TF 1.x's `tf.layers.Layer` and `tf.layers.InputSpec`, on variable scopes, not Keras.

A layer object owns a variable scope, chosen at its first call as TF 1.15's tf.layers
chose it: `name` (or, unnamed, the class name in snake case) made unique among the
variable scopes (`dense`, `dense_1`, ...), or the `_scope` its functional form gives.
Its first call builds the variables (`build`), every call computes (`call`); a second
call reuses the same variables and names its ops in the same name scope:

    layer = Dense(10)
    a = layer(x1)                      # creates dense/kernel, dense/bias
    b = layer.apply(x2)                # shares them
    layer.variables                    # [<dense/kernel>, <dense/bias>]

Unnamed layers get object names counted per graph from 1, as TF 1.15's did
(`Dense(2).name` is 'dense_1' while its variables are under `dense/`). Penalties of
new weights join `tf.GraphKeys.REGULARIZATION_LOSSES` (named
`<scope>/<weight>/Regularizer/...`), update ops `tf.GraphKeys.UPDATE_OPS`.
"""

import re
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit.layers import core

_V1 = tf.compat.v1

# graph -> {base name: count} of the object names given to unnamed layers.
_NAME_COUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_Regularizer = Callable[[tf.Tensor], tf.Tensor | None]


def to_snake_case(name: str) -> str:
  """`Conv2DTranspose` -> 'conv2d_transpose', as TF 1.x named layers by class."""
  intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
  return re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()


def _unique_object_name(base_name: str) -> str:
  """'dense_1', 'dense_2', ... per graph: TF 1.15's object names of unnamed layers."""
  counts = _NAME_COUNTS.setdefault(_V1.get_default_graph(), {})
  counts[base_name] = counts.get(base_name, 0) + 1
  return f"{base_name}_{counts[base_name]}"


class InputSpec:
  """What a layer accepts: a rank (exact, minimum or maximum), known axes, a dtype.

  Attributes:
    dtype: expected dtype, or None.
    shape: expected full shape (None entries match anything), or None.
    ndim, min_ndim, max_ndim: expected rank, or bounds of it.
    axes: dict {axis: dimension} of dimensions that must match.
  """

  def __init__(self, dtype: tf.DType | None = None,
               shape: Sequence[int | None] | None = None, ndim: int | None = None,
               max_ndim: int | None = None, min_ndim: int | None = None,
               axes: dict[int, int] | None = None) -> None:
    self.dtype = None if dtype is None else tf.as_dtype(dtype).name
    self.shape = None if shape is None else tuple(shape)
    self.ndim = len(shape) if shape is not None else ndim
    self.max_ndim = max_ndim
    self.min_ndim = min_ndim
    self.axes = dict(axes or {})

  def __repr__(self) -> str:
    fields = [f"{k}={v!r}" for k, v in vars(self).items() if v not in (None, {})]
    return f"InputSpec({', '.join(fields)})"

  def check(self, inputs: tf.Tensor, fn_name: str, layer_name: str) -> None:
    """Raises ValueError naming the layer if `inputs` does not fit this spec."""
    shape = inputs.shape
    rank = shape.rank
    problem = None
    if self.ndim is not None and rank != self.ndim:
      problem = f"expected `inputs` of rank {self.ndim}"
    elif self.min_ndim is not None and rank is not None and rank < self.min_ndim:
      problem = f"expected `inputs` of rank >= {self.min_ndim}"
    elif self.max_ndim is not None and rank is not None and rank > self.max_ndim:
      problem = f"expected `inputs` of rank <= {self.max_ndim}"
    elif self.dtype is not None and inputs.dtype.base_dtype.name != self.dtype:
      problem = f"expected `inputs` of dtype {self.dtype}"
    elif rank is not None:
      for axis, value in self.axes.items():
        if value is not None and shape[axis] not in (None, value):
          problem = (f"expected axis {axis} of `inputs` to be {value}, as when the "
                     "layer was built")
    if problem:
      raise ValueError(f"{fn_name} (layer {layer_name!r}): {problem}. "
                       f"Received: inputs.shape={shape}, inputs.dtype="
                       f"{inputs.dtype.name}")


class Layer:
  """TF 1.15's `tf.layers.Layer`: variables in a variable scope, built at first call.

  Subclasses override `build(input_shape)` (create weights with `add_weight`) and
  `call(inputs, ...)`; `__call__`/`apply` run them in the layer's scopes.

  Args:
    trainable: whether the weights join `TRAINABLE_VARIABLES`. Default True.
    name: the layer's name, also its variable scope (made unique: a second layer
      named 'hidden' gets scope 'hidden_1'). Default: the class name in snake case.
    dtype: the weights' dtype; None takes the first input's.
    activity_regularizer: optional `fn(outputs)`; its penalty divided by the batch
      size joins `REGULARIZATION_LOSSES`.
    _scope: (the functional forms') a scope name or VariableScope used as given.
    _reuse: (the functional forms') reuse for the first call's variables.

  Attributes:
    name, dtype, trainable, built, input_spec; `variables`, `trainable_variables`,
    `non_trainable_variables` (also as `*weights`), `updates`, `losses`, `scope_name`.

  Raises:
    TypeError: for a keyword argument the layer does not take.
  """

  # Whether `inputs` must be floating point (checked before anything is built).
  _requires_float = False

  def __init__(self, trainable: bool = True, name: str | None = None,
               dtype: tf.DType | None = None, *,
               activity_regularizer: _Regularizer | None = None,
               **kwargs: Any) -> None:
    scope = kwargs.pop("_scope", None)
    self._reuse = kwargs.pop("_reuse", None)
    if kwargs:
      raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                      f"{sorted(kwargs)}.")
    _validation.check_bool("trainable", trainable)
    _validation.check_callable("activity_regularizer", activity_regularizer)
    self.trainable = trainable
    self.activity_regularizer = activity_regularizer
    self._dtype = None if dtype is None else tf.as_dtype(dtype).base_dtype
    self.built = False
    self.input_spec: InputSpec | None = None
    self._trainable_weights: list[tf.Variable] = []
    self._non_trainable_weights: list[tf.Variable] = []
    self._updates: list[tf.Tensor] = []
    self._losses: list[tf.Tensor] = []
    if isinstance(name, _V1.VariableScope):
      self._base_name = name.name
      self._name = _unique_object_name(to_snake_case(type(self).__name__))
    elif name:
      self._name = self._base_name = name
    else:
      self._base_name = to_snake_case(type(self).__name__)
      self._name = _unique_object_name(self._base_name)
    self._scope: Any = None  # A VariableScope, chosen by the first call.
    if scope:
      with _V1.variable_scope(scope) as captured:
        self._scope = captured
    self._current_scope: Any = None

  # Properties -------------------------------------------------------------------------

  @property
  def name(self) -> str:
    return self._name

  @property
  def _fn_name(self) -> str:
    """The name errors give: the layer's kind, e.g. 'conv2d_transpose'."""
    return to_snake_case(type(self).__name__)

  @property
  def dtype(self) -> tf.DType | None:
    return self._dtype

  @property
  def scope_name(self) -> str:
    """The variable scope's name; known after the first call."""
    if self._scope is None:
      raise ValueError(f"No name available for layer scope because the layer "
                       f"{self._name!r} has not been used yet: the scope name is "
                       "determined the first time the layer is called.")
    return self._scope.name

  @property
  def trainable_weights(self) -> list[tf.Variable]:
    return list(self._trainable_weights) if self.trainable else []

  @property
  def non_trainable_weights(self) -> list[tf.Variable]:
    if self.trainable:
      return list(self._non_trainable_weights)
    return self._trainable_weights + self._non_trainable_weights

  @property
  def weights(self) -> list[tf.Variable]:
    """The trainable weights, then the others, in creation order."""
    return self.trainable_weights + self.non_trainable_weights

  trainable_variables = trainable_weights
  non_trainable_variables = non_trainable_weights
  variables = weights

  @property
  def updates(self) -> list[tf.Tensor]:
    return list(self._updates)

  @property
  def losses(self) -> list[tf.Tensor]:
    return list(self._losses)

  # Building ---------------------------------------------------------------------------

  def _set_scope(self, scope=None):
    if self._scope is not None:
      return
    if self._reuse:  # TF 1.x reused the un-numbered base name, not a fresh one.
      context = _V1.variable_scope(scope if scope is not None else self._base_name)
    else:
      context = _V1.variable_scope(scope, default_name=self._base_name)
    with context as captured:
      self._scope = captured

  def _name_scope(self) -> str:
    return self._current_scope.original_name_scope

  def add_weight(self, name: str, shape: Sequence[int], dtype: tf.DType | None = None,
                 initializer: Callable[..., tf.Tensor] | None = None,
                 regularizer: _Regularizer | None = None, trainable: bool = True,
                 constraint: Callable[[tf.Tensor], tf.Tensor] | None = None,
                 partitioner: Any = None) -> tf.Variable:
    """Creates (or, reusing, gets) weight `name` in the layer's scope; returns it.

    A new weight's penalty `regularizer(weight)` joins `REGULARIZATION_LOSSES` and
    `losses`, named `<layer scope>/<name>/Regularizer/`.

    Args:
      name: the weight's name in the layer's scope, e.g. 'kernel'.
      shape: its shape.
      dtype: its dtype. Default: the layer's, else float32.
      initializer: optional initializer; None takes the scope's (Glorot uniform).
      regularizer: optional `fn(weight) -> scalar tensor or None`.
      trainable: whether it is trained (and the layer is trainable).
      constraint: optional projection applied by the optimizers after updates.
      partitioner: False to create it whole in a partitioned scope; else ignored.

    Returns:
      The variable.
    """
    self._set_scope(None)
    reuse = self.built or self._reuse
    dtype = tf.as_dtype(dtype or self._dtype or tf.float32)
    trainable = trainable and self.trainable
    losses_before = len(_V1.get_collection(core.REGULARIZATION_LOSSES))
    with _V1.variable_scope(self._scope, reuse=reuse,
                            auxiliary_name_scope=False) as scope:
      self._current_scope = scope
      with tf.name_scope(self._name_scope()):
        penalty_scope = None
        if regularizer is not None:  # Reserves the name scope TF 1.x gave the penalty.
          with tf.name_scope(f"{name}/Regularizer") as penalty_scope:
            pass
        variable = core.add_variable(
            name, shape, dtype, initializer=initializer, regularizer=regularizer,
            trainable=trainable, constraint=constraint, penalty_scope=penalty_scope,
            unpartitioned=partitioner is False)
    self._losses += _V1.get_collection(core.REGULARIZATION_LOSSES)[losses_before:]
    # A custom getter may have turned `trainable` off (TF 1.x moved it, too).
    if trainable and any(v is variable for v in _V1.trainable_variables()):
      self._trainable_weights.append(variable)
    else:
      self._non_trainable_weights.append(variable)
    return variable

  def add_update(self, updates: tf.Tensor | Sequence[tf.Tensor]) -> None:
    """Records update ops; `__call__` adds them to `tf.GraphKeys.UPDATE_OPS`."""
    self._updates += list(updates) if isinstance(updates, (list, tuple)) else [updates]

  def add_loss(self, losses: tf.Tensor | Sequence[tf.Tensor]) -> None:
    """Records losses and adds them to `tf.GraphKeys.REGULARIZATION_LOSSES`."""
    losses = list(losses) if isinstance(losses, (list, tuple)) else [losses]
    self._losses += losses
    for loss in losses:
      _V1.add_to_collection(core.REGULARIZATION_LOSSES, loss)

  def build(self, input_shape: tf.TensorShape) -> None:
    """Creates the weights; called once, before the first `call`."""
    del input_shape
    self.built = True

  def _identity(self, inputs: tf.Tensor, **kwargs: Any) -> tf.Tensor:
    del kwargs
    return inputs

  # `call(inputs, ...)`: the layer's computation (default: the identity). Subclasses
  # define their own arguments, e.g. BatchNormalization's `training`.
  call: Callable[..., tf.Tensor] = _identity

  def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
    """The output shape for `input_shape` (default: unchanged)."""
    return tf.TensorShape(input_shape)

  # Calling ----------------------------------------------------------------------------

  def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> tf.Tensor:
    """Builds the layer at the first call, then applies `call` in its scopes.

    Args:
      inputs: the input tensor (or something convertible to one).
      *args, **kwargs: passed to `call` (e.g. `training=`); `scope=` is reserved.

    Returns:
      The output tensor.
    """
    scope = kwargs.pop("scope", None)
    inputs = (core.float_inputs(inputs, self._fn_name) if self._requires_float
              else tf.convert_to_tensor(inputs))
    self._set_scope(scope)
    reuse = True if self.built else self._reuse
    updates_before = len(self._updates)
    with _V1.variable_scope(self._scope, reuse=reuse,
                            auxiliary_name_scope=False) as current:
      self._current_scope = current
      with tf.name_scope(self._name_scope()):
        if self.input_spec is not None:
          self.input_spec.check(inputs, self._fn_name, self._name)
        if not self.built:
          if self._dtype is None:
            self._dtype = inputs.dtype.base_dtype
          self.build(inputs.shape)
          self.built = True
        outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
          self._add_activity_loss(outputs)
    collected = {id(op) for op in _V1.get_collection(core.UPDATE_OPS)}
    for update in self._updates[updates_before:]:
      if id(update) not in collected:
        _V1.add_to_collection(core.UPDATE_OPS, update)
    return outputs

  apply = __call__

  def _add_activity_loss(self, outputs):
    """Adds `activity_regularizer(outputs) / batch_size` to the losses (TF 1.x)."""
    with tf.name_scope("ActivityRegularizer"):
      loss = self.activity_regularizer(outputs)
      if loss is not None:
        batch_size = tf.cast(tf.shape(outputs)[0], loss.dtype)
        self.add_loss(loss / batch_size)
