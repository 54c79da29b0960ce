"""`tf.contrib.eager` of the stand-in: TF 1.x's eager execution API (`tfe`).

TF 1.x eager programs start like this, and run here as written:

    import tensorflow as tf
    tf.enable_eager_execution()          # or: tfe.enable_eager_execution()
    tfe = tf.contrib.eager               # or: import tensorflow.contrib.eager as tfe

    W = tfe.Variable(tf.zeros([784, 10]), name="weights")
    b = tfe.Variable(tf.zeros([10]), name="bias")
    def loss_fn(inputs, labels):
      logits = tf.matmul(inputs, W) + b
      return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          logits=logits, labels=labels))
    grad = tfe.implicit_gradients(loss_fn)      # [(gradient, variable), ...]
    optimizer = tf.train.GradientDescentOptimizer(0.1)
    for x_batch, y_batch in tfe.Iterator(dataset):
      optimizer.apply_gradients(grad(x_batch, y_batch))

EAGER OR GRAPH, CHOSEN AT PROGRAM START. Importing the stand-in puts the process in
TF 1.x graph mode, which TF 1.x graph programs expect from their first line. Like TF
1.x, TensorFlow lets `tf.enable_eager_execution()` switch a process to eager execution
as long as nothing has used a graph yet ("must be called at program startup"
otherwise), and importing the stand-in builds no graph: so an eager program that calls
it first runs eagerly, with TF 1.x's other behaviours (TF 1.x shapes, `tf.data`'s V1
datasets, no tensor equality), exactly the state TF 1.15 gave it.

What is here is TensorFlow's own where it still has it: `Variable` (TF 1.15's
resource variable class), `implicit_gradients`, `implicit_value_and_gradients`,
`gradients_function`, `value_and_gradients_function`, `GradientTape`,
`custom_gradient`, `Checkpoint`, `py_func`, `make_template`, `EagerVariableStore`,
`run`, `executing_eagerly`, the device-placement and execution-mode constants;
rebuilt here: `Iterator`, `Saver`, `num_gpus`, `list_devices`,
`get_optimizer_variables`, `Network` (over the stand-in's `tf.layers` classes) and
`metrics` (Mean, Accuracy, CategoricalAccuracy, SparseAccuracy, BinaryAccuracy;
their results are not written to summaries). The other TF 1.x names
(`tfe.Sequential`, `tfe.defun`, the execution callbacks, ...) raise
`UnavailableAPIError` saying what to use instead.
"""

import re as _re
import sys as _sys
import types as _types
from typing import Any

import tensorflow as _tf
from tensorflow.python.data.ops import iterator_ops as _iterator_ops
from tensorflow.python.eager import backprop as _backprop
from tensorflow.python.eager import context as _context
from tensorflow.python.framework import ops as _ops
from tensorflow.python.ops import resource_variable_ops as _resource_variable_ops
from tensorflow.python.ops import variable_scope as _variable_scope

from dnn_toolkit import compat as _compat
from dnn_toolkit._validation import check_bool as _check_bool
from dnn_toolkit.layers import tf_base as _tf_base
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

_v1 = _tf.compat.v1

enable_eager_execution = _v1.enable_eager_execution
executing_eagerly = _v1.executing_eagerly
in_eager_mode = executing_eagerly

#: TF 1.x's `tfe.Variable`: a resource variable (TF 1.15's own class).
Variable = _resource_variable_ops.ResourceVariable

implicit_gradients = _backprop.implicit_grad
implicit_value_and_gradients = _backprop.implicit_val_and_grad
gradients_function = _backprop.gradients_function
value_and_gradients_function = _backprop.val_and_grad_function
GradientTape = _tf.GradientTape
custom_gradient = _tf.custom_gradient
Checkpoint = _v1.train.Checkpoint
py_func = _tf.py_function
make_template = _v1.make_template
TensorSpec = _tf.TensorSpec
EagerVariableStore = _variable_scope.EagerVariableStore
run = _ops.eager_run
DEVICE_PLACEMENT_EXPLICIT = _context.DEVICE_PLACEMENT_EXPLICIT
DEVICE_PLACEMENT_WARN = _context.DEVICE_PLACEMENT_WARN
DEVICE_PLACEMENT_SILENT = _context.DEVICE_PLACEMENT_SILENT
SYNC = _context.SYNC
ASYNC = _context.ASYNC


def get_optimizer_variables(optimizer: Any) -> list[Any]:
  """Returns the variables `optimizer` (a `tf.train.Optimizer`) has created."""
  return optimizer.variables()


def num_gpus() -> int:
  """Returns how many GPUs TensorFlow sees (0 on a machine without one)."""
  return len(_tf.config.list_logical_devices("GPU"))


def list_devices() -> list[str]:
  """Returns the names of the devices TensorFlow sees ('/job:localhost/.../CPU:0')."""
  return [device.name for device in _tf.config.list_logical_devices()]


class Iterator(_iterator_ops.OwnedIterator):
  """TF 1.x's eager iterator over a `tf.data.Dataset`: `next()`, `for x in it`.

  `next()` raises StopIteration at the end of the data set, as TF 1.x's did.
  """

  def __init__(self, dataset: Any) -> None:
    """Makes an iterator over `dataset`.

    Args:
      dataset: a `tf.data.Dataset`.

    Raises:
      RuntimeError: if eager execution is not enabled (TF 1.x's rule).
    """
    if not _tf.executing_eagerly():
      raise RuntimeError(
          "tf.contrib.eager.Iterator can only be used when eager execution is "
          "enabled (call tf.enable_eager_execution() at program start); to build a "
          "graph use dataset.make_one_shot_iterator() or "
          "dataset.make_initializable_iterator()")
    super().__init__(dataset)


class Saver:
  """TF 1.x's `tf.train.Saver` for eager execution: no Session, same files.

      saver = tfe.Saver([W, b])
      path = saver.save("ckpt/model", global_step=step)   # 'ckpt/model-<step>'
      saver.restore(path)
  """

  def __init__(self, var_list: Any) -> None:
    """Makes a saver of `var_list` (a list of variables, or {name: variable}).

    Raises:
      RuntimeError: if eager execution is not enabled (use tf.train.Saver in graphs).
    """
    if not _tf.executing_eagerly():
      raise RuntimeError("tfe.Saver can only be used when eager execution is "
                         "enabled. Use tf.train.Saver when building graphs.")
    self._saver = _v1.train.Saver(var_list=var_list)

  def save(self, file_prefix: str, global_step: Any = None) -> str:
    """Writes the variables; returns the checkpoint's prefix (with `-<step>`)."""
    with _tf.device("/device:CPU:0"), _compat.silenced_tf_deprecations():
      return self._saver.save(None, file_prefix, write_meta_graph=False,
                              global_step=global_step)

  def restore(self, file_prefix: str) -> None:
    """Reads the variables back from the checkpoint `file_prefix`."""
    with _tf.device("/device:CPU:0"):
      self._saver.restore(None, file_prefix)


class Network(_tf_base.Layer):
  """TF 1.x's `tfe.Network`: a layer made of the `tf.layers` it tracks.

  TF 1.x's eager tutorials built models this way (TF 1.x later deprecated it for
  `tf.keras.Model`, which Keras 3 does not run in TF 1.x's eager mode):

      class NeuralNet(tfe.Network):
        def __init__(self):
          super(NeuralNet, self).__init__()
          self.layer1 = self.track_layer(tf.layers.Dense(256, activation=tf.nn.relu))
          self.out_layer = self.track_layer(tf.layers.Dense(10))
        def call(self, x):
          return self.out_layer(self.layer1(x))

      neural_net = NeuralNet()
      logits = neural_net(images)   # variables 'neural_net/dense/kernel', ...

  Its variables are its tracked layers' (and any of its own), created in its scope at
  the first call, in graphs as eagerly; `tfe.implicit_gradients` finds them.
  """

  def __init__(self, name: str | None = None) -> None:
    super().__init__(name=name)
    self._layers: list[_tf_base.Layer] = []

  def track_layer(self, layer: _tf_base.Layer) -> _tf_base.Layer:
    """Adds `layer` (a `tf.layers` layer) to the network; returns it.

    Raises:
      TypeError: if `layer` is not a `tf.layers.Layer`.
    """
    if not isinstance(layer, _tf_base.Layer):
      raise TypeError("Network.track_layer() expects a tf.layers.Layer (e.g. "
                      f"tf.layers.Dense). Received: layer={layer!r}")
    self._layers.append(layer)
    return layer

  @property
  def layers(self) -> list[_tf_base.Layer]:
    return list(self._layers)

  def get_layer(self, name: str | None = None, index: int | None = None
                ) -> _tf_base.Layer:
    """Returns the tracked layer named `name`, or the `index`-th one.

    Raises:
      ValueError: if neither or both are given, or no layer matches.
    """
    if (name is None) == (index is None):
      raise ValueError("Exactly one of `name` and `index` must be given. Received: "
                       f"name={name!r}, index={index!r}")
    if index is not None:
      if not -len(self._layers) <= index < len(self._layers):
        raise ValueError(f"Network {self.name!r} has {len(self._layers)} layers. "
                         f"Received: index={index}")
      return self._layers[index]
    for layer in self._layers:
      if layer.name == name:
        return layer
    raise ValueError(f"Network {self.name!r} has no layer named {name!r}; its layers: "
                     f"{[layer.name for layer in self._layers]}")

  @property
  def trainable_weights(self) -> list[Any]:
    own = super().trainable_weights
    return own + [w for layer in self._layers for w in layer.trainable_weights]

  @property
  def non_trainable_weights(self) -> list[Any]:
    own = super().non_trainable_weights
    return own + [w for layer in self._layers for w in layer.non_trainable_weights]

  trainable_variables = trainable_weights
  non_trainable_variables = non_trainable_weights

  @property
  def weights(self) -> list[Any]:
    return self.trainable_weights + self.non_trainable_weights

  variables = weights


# ------------------------------------------------------------------ tfe.metrics

_NOT_IN_SCOPES = _re.compile("[^A-Za-z0-9.]")


class Metric:
  """TF 1.x's `tfe.metrics.Metric`: state aggregated over an evaluation run.

  Eagerly, calling the metric updates it and `result()` is the value so far:

      accuracy = tfe.metrics.Accuracy()
      for labels, predictions in batches:
        accuracy(labels, predictions)
      print(accuracy.result())

  In a graph, calling it returns its inputs, which update the metric when run;
  run `init_variables()` (or `tf.local_variables_initializer()`) first.
  Subclasses create their variables in `build()` with `add_variable` and update
  them in `call()` with `assign_add`.

  Results are not written to summaries (TF 1.x's `tf.contrib.summary` is gone).
  """

  def __init__(self, name: str | None = None, use_global_variables: bool = False
               ) -> None:
    self._built = False
    self._vars: list[Any] = []
    self._initial_values: dict[Any, Any] = {}
    self._updates: list[Any] = []
    self._use_global_variables = _check_bool("use_global_variables",
                                             use_global_variables)
    name = name or type(self).__name__
    scope_name = _NOT_IN_SCOPES.sub("_", name)
    with _v1.variable_scope(None, default_name=scope_name, use_resource=True,
                            reuse=False) as scope:
      self._name = name + scope.name[scope.name.rfind(scope_name) + len(scope_name):]
      self._scope = scope

  def __call__(self, *args: Any, **kwargs: Any) -> Any:
    """Updates the metric with a batch; returns the batch (see the class)."""
    if not self._built:
      with _v1.variable_scope(self._scope):
        self.build(*args, **kwargs)
      self._built = True
    self._updates = []
    outputs = self.call(*args, **kwargs)
    if _tf.executing_eagerly():
      return outputs
    with _tf.control_dependencies(self._updates):  # Running them runs the updates.
      return _tf.nest.map_structure(_tf.identity, outputs)

  @property
  def name(self) -> str:
    return self._name

  @property
  def variables(self) -> list[Any]:
    return list(self._vars)

  def init_variables(self) -> Any:
    """Resets the variables: an op to run in a graph, done at once eagerly."""
    if not _tf.executing_eagerly():
      return _tf.group(*[v.initializer for v in self._vars])
    for v in self._vars:
      v.assign(self._initial_values[v])
    return None

  def value(self) -> Any:
    """The result tensor in a graph; eagerly, the `result` method itself."""
    return self.result if _tf.executing_eagerly() else self.result()

  def build(self, *args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("Metrics must define a build() member function")

  def call(self, *args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("Metrics must define a call() member function")

  def result(self, write_summary: bool = True) -> Any:
    raise NotImplementedError("Metrics must define a result() member function")

  def add_variable(self, name: str, shape: Any = None, dtype: Any = None,
                   initializer: Any = None) -> Any:
    """Creates one of the metric's variables; for `build()` only."""
    if self._built:
      raise RuntimeError("Can't call add_variable() except in build().")
    collections = ([_v1.GraphKeys.GLOBAL_VARIABLES] if self._use_global_variables
                   else [_v1.GraphKeys.LOCAL_VARIABLES])
    variable = _v1.get_variable(
        name, shape, dtype, initializer, trainable=False, use_resource=True,
        collections=collections + [_v1.GraphKeys.METRIC_VARIABLES])
    self._vars.append(variable)
    if _tf.executing_eagerly():
      self._initial_values[variable] = variable.value()
    return variable

  def _assign_add(self, variable: Any, value: Any) -> None:
    self._updates.append(variable.assign_add(value))


class Mean(Metric):
  """The (weighted) mean of the values it is called with."""

  def __init__(self, name: str | None = None, dtype: Any = _tf.float64,
               use_global_variables: bool = False) -> None:
    super().__init__(name=name, use_global_variables=use_global_variables)
    self.dtype = _tf.as_dtype(dtype)

  def build(self, *args: Any, **kwargs: Any) -> None:
    del args, kwargs
    zeros = _v1.zeros_initializer()
    self.numer = self.add_variable("numer", (), self.dtype, zeros)
    self.denom = self.add_variable("denom", (), self.dtype, zeros)

  def call(self, values: Any, weights: Any = None) -> Any:
    """Adds `values` (any shape), each with its weight (default 1); returns them."""
    self._accumulate(values, weights)
    return values if weights is None else (values, weights)

  def result(self, write_summary: bool = True) -> Any:
    """Returns the mean so far (NaN before any value)."""
    _check_bool("write_summary", write_summary)
    return self.numer / self.denom

  def _accumulate(self, values: Any, weights: Any) -> None:
    if weights is None:
      self._assign_add(self.denom, _tf.cast(_tf.size(values), self.dtype))
      self._assign_add(self.numer, _tf.cast(_tf.reduce_sum(values), self.dtype))
    else:
      weights = _tf.cast(weights, self.dtype)
      self._assign_add(self.denom, _tf.reduce_sum(weights))
      self._assign_add(self.numer,
                       _tf.reduce_sum(_tf.cast(values, self.dtype) * weights))


class _MatchRate(Mean):
  """The mean of `_matches(labels, predictions)`: the accuracies' common part.

  As in TF 1.x, the accuracies are Means whose `call` takes labels and predictions.
  """

  def call(self, labels: Any, predictions: Any,  # type: ignore[override]
           weights: Any = None) -> Any:
    """Adds a batch; returns its `labels, predictions` (and `weights` if given)."""
    self._accumulate(_tf.cast(self._matches(labels, predictions), _tf.float64), weights)
    return (labels, predictions) if weights is None else (labels, predictions, weights)

  def _matches(self, labels: Any, predictions: Any) -> Any:
    raise NotImplementedError


class Accuracy(_MatchRate):
  """How often `predictions` equal `labels` (same shape and dtype)."""

  def _matches(self, labels: Any, predictions: Any) -> Any:
    return _tf.equal(labels, predictions)


class CategoricalAccuracy(_MatchRate):
  """How often the arg max of `predictions` is that of one-hot `labels`."""

  def _matches(self, labels: Any, predictions: Any) -> Any:
    return _tf.equal(_tf.argmax(labels, axis=-1), _tf.argmax(predictions, axis=-1))


class SparseAccuracy(_MatchRate):
  """How often the arg max of `predictions` [batch, classes] is the integer label."""

  def _matches(self, labels: Any, predictions: Any) -> Any:
    predicted = _tf.argmax(predictions, axis=-1)  # [batch]
    return _tf.equal(_tf.reshape(_tf.cast(labels, predicted.dtype),
                                 _tf.shape(predicted)), predicted)


class BinaryAccuracy(_MatchRate):
  """How often `predictions > threshold` equals the 0/1 `labels`."""

  def __init__(self, threshold: float, name: str | None = None,
               dtype: Any = _tf.float64) -> None:
    super().__init__(name=name, dtype=dtype)
    self.threshold = threshold

  def _matches(self, labels: Any, predictions: Any) -> Any:
    predicted = _tf.convert_to_tensor(predictions) > self.threshold
    return _tf.equal(_tf.cast(labels, _tf.bool), predicted)


metrics = _types.ModuleType(f"{__name__}.metrics",
                            "TF 1.x's tf.contrib.eager.metrics: Mean and the accuracies.")
for _metric in (Metric, Mean, Accuracy, CategoricalAccuracy, SparseAccuracy,
                BinaryAccuracy):
  setattr(metrics, _metric.__name__, _metric)
del _metric
_sys.modules[metrics.__name__] = metrics  # `import ...contrib.eager.metrics` finds it.

# TF 1.15's tf.contrib.eager names not provided here.
_TF1_NAMES = frozenset("""
    Checkpointable CheckpointableSaver Sequential add_execution_callback
    async_clear_error async_wait clear_execution_callbacks connect_to_remote_host
    defun enable_remote_eager_execution execution_mode function inf_callback
    inf_nan_callback nan_callback restore_network_checkpoint
    restore_variables_on_create run_all_tests_in_graph_and_eager_modes
    run_test_in_graph_and_eager_modes save_network_checkpoint set_execution_mode
    set_server_def seterr""".split())

__getattr__ = _module_getattr(__name__, "tf.contrib.eager", known=_TF1_NAMES)
