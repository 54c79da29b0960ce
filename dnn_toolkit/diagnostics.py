"""Gradient and saturation probes of each layer: vanishing gradients as numbers.

    with graph.as_default():
      dnn = build_dnn(DNNConfig(hidden_layers=(100,) * 10, activation="sigmoid",
                                initializer="xavier", batch_norm=False,
                                dropout_rate=0.0), n_inputs=784)
    ...
    report = diagnostics.gradient_report(sess, dnn, X_batch, y_batch)
    print(diagnostics.format_report(report))
    # layer       grad norm  / last hidden  / output  ...  saturated    dead
    # hidden1      3.51e-06       8.56e-06  2.67e-06  ...       0.0%       -
    # ...
    # hidden10     4.10e-01       1.00e+00  3.12e-01  ...       0.0%       -

The probes are graph ops built once (`build_probes`, or `probes_for_dnn` for a `DNN`)
and run on a batch (`run_probes`). They need no TensorBoard; `summaries.SummaryHook`
logs the same numbers during training.

Definitions, per layer and batch:

* gradient norm: the L2 norm of d(loss)/d(weights) of the layer. For a `DNN` the loss is
  `dnn.base_loss` (the cross-entropy, without weight penalties) and the gradient is
  taken before any clipping, so it shows how much error signal backpropagation
  delivers to the layer. It is also given relative to the last hidden layer's and to
  the output layer's: "hidden1 receives 1e-6 of the gradient of hidden10".
* weight norm: the L2 (Frobenius) norm of the layer's weights.
* activation mean and std: over every output of the layer in the batch (after the
  activation function).
* saturated fraction (sigmoid and tanh only): the fraction of the layer's outputs,
  over units and examples, where the activation's derivative is below
  `saturation_threshold` (default 5%) of its peak: sigmoid's derivative s(1 - s) is
  below 0.05 * 0.25 when the output s is outside [0.0127, 0.9873] (|z| > 4.36); tanh's
  1 - t^2 is below 0.05 when |t| > 0.975 (|z| > 2.18). Such units pass back almost
  no gradient.
* dead fraction (the ReLU family only): the fraction of units whose output is <= 0 for
  every example of the batch. For ReLU that output is exactly 0 and the unit's
  gradient is exactly 0: it is dead for this batch. Leaky ReLU, ELU and SELU units in
  that state still pass a small gradient (alpha, or one that decays exponentially
  with z) and can recover; they are counted by the same rule so the families compare.

Saturation is None for the ReLU family (it does not saturate for positive inputs) and
dead units are None for sigmoid and tanh (they have no flat zero region); the output
layer, having no activation, has neither.
"""

import dataclasses
import math
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, model
from dnn_toolkit.layers import activations

if TYPE_CHECKING:
  from dnn_toolkit.model import DNN

#: Default: a unit is saturated where its derivative is below 5% of the peak.
SATURATION_THRESHOLD = 0.05

_SATURATING = ("sigmoid", "tanh")
_PEAK_DERIVATIVE = {"sigmoid": 0.25, "tanh": 1.0}
_RELU_FAMILY = ("relu", "leaky_relu", "elu", "selu")

# Probes built for a DNN, per graph, so repeated reports do not grow the graph. They are
# kept as tensor names: tensors would hold their graph, and so this cache's key, alive.
_DNN_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TENSOR_FIELDS = ("gradient_norms", "weight_norms", "activation_means",
                  "activation_stds", "saturated", "dead")


@dataclasses.dataclass
class LayerProbes:
  """The probe tensors of L = N + 1 layers (N hidden layers, then the output layer).

  Attributes:
    names: the L layer names, bottom up (e.g. hidden1..hiddenN, outputs).
    gradient_norms: L scalar tensors, the norm of d(loss)/d(weights) per layer.
    weight_norms: L scalar tensors.
    activation_means, activation_stds: N scalar tensors (hidden layers).
    saturated: N scalar tensors, or None where the activation does not saturate.
    dead: N scalar tensors, or None where the activation has no dead region.
  """
  names: list[str]
  gradient_norms: list[tf.Tensor]
  weight_norms: list[tf.Tensor]
  activation_means: list[tf.Tensor]
  activation_stds: list[tf.Tensor]
  saturated: list[tf.Tensor | None]
  dead: list[tf.Tensor | None]

  def fetches(self) -> dict[str, dict[int, tf.Tensor]]:
    """Returns the tensors as a dict for `sess.run` (None entries left out)."""
    return {field: {i: t for i, t in enumerate(getattr(self, field)) if t is not None}
            for field in _TENSOR_FIELDS}


def _map_tensors(probes, fn):
  """Returns a copy of `probes` with `fn` applied to each tensor (None entries kept)."""
  return dataclasses.replace(probes, **{
      field: [None if t is None else fn(t) for t in getattr(probes, field)]
      for field in _TENSOR_FIELDS})


def build_probes(loss: tf.Tensor, hidden_outputs: Sequence[tf.Tensor],
                 weights: Sequence[tf.Tensor | tf.Variable],
                 activation: str | Sequence[str | None] | None,
                 names: Sequence[str] | None = None,
                 saturation_threshold: float = SATURATION_THRESHOLD,
                 scope: str = "diagnostics") -> LayerProbes:
  """Builds the probe ops of a layered net in the graph of `loss`.

  Works for any stack of layers, not only a `DNN`:

      hidden = [fully_connected(...), ...]          # each [batch_size, units_i]
      probes = build_probes(loss, hidden, hidden_weights + [output_weights], "sigmoid")
      report = run_probes(sess, probes, {X: X_batch, y: y_batch})

  Args:
    loss: scalar float tensor; the gradients are taken of it.
    hidden_outputs: N tensors `[batch_size, ..., units_i]`, each hidden layer's output
      after its activation, bottom up.
    weights: N + 1 weight tensors or variables: each hidden layer's, then the output
      layer's.
    activation: the hidden activation's name ('sigmoid', 'tanh', 'relu',
      'leaky_relu', 'elu', 'selu', or None / 'linear' for none), or a list of N names.
    names: optional N + 1 distinct layer names. Default hidden1..hiddenN, outputs.
    saturation_threshold: float in (0, 1): a unit is saturated where its derivative
      is below this fraction of the peak derivative. Default 0.05.
    scope: the name scope of the ops. Default 'diagnostics'.

  Returns:
    A `LayerProbes`.

  Raises:
    TypeError: if `loss` is not a tensor or the lists are not lists.
    ValueError: on a non-scalar `loss`, lists of mismatched lengths, an unknown
      activation, duplicate names, a threshold outside (0, 1), or weights the loss
      does not depend on.
  """
  n_hidden, layer_activations, names = _check_probe_args(
      loss, hidden_outputs, weights, activation, names)
  saturation_threshold = _validation.check_in_range(
      "saturation_threshold", saturation_threshold, 0.0, 1.0, low_open=True,
      high_open=True)
  with tf.name_scope(scope):
    grads = tf.gradients(loss, list(weights), name="gradients")
    missing = [name for name, g in zip(names, grads) if g is None]
    if missing:
      raise ValueError(f"Expected `loss` to depend on every layer's weights; it does "
                       f"not depend on the weights of {missing}.")
    gradient_norms, weight_norms = [], []
    for name, grad, w in zip(names, grads, weights):
      with tf.name_scope(name):
        gradient_norms.append(tf.norm(tf.convert_to_tensor(grad), name="gradient_norm"))
        weight_norms.append(tf.norm(w, name="weight_norm"))
    means, stds, saturated, dead = [], [], [], []
    for name, out, act in zip(names[:n_hidden], hidden_outputs, layer_activations):
      with tf.name_scope(name):
        mean, std, sat, dd = _activation_probes(out, act, saturation_threshold)
      means.append(mean)
      stds.append(std)
      saturated.append(sat)
      dead.append(dd)
  return LayerProbes(names, gradient_norms, weight_norms, means, stds, saturated, dead)


def _check_probe_args(loss, hidden_outputs, weights, activation,
                      names) -> tuple[int, list[Any], list[str]]:
  """Validates `build_probes`' arguments; returns (N, N activations, L names)."""
  if not isinstance(loss, tf.Tensor):
    raise TypeError(f"Expected `loss` to be a scalar tensor. Received: loss of type "
                    f"{type(loss).__name__}")
  if loss.shape.rank not in (0, None):
    raise ValueError(f"Expected `loss` to be a scalar. Received: loss.shape={loss.shape}")
  for arg, value in (("hidden_outputs", hidden_outputs), ("weights", weights)):
    if not isinstance(value, (list, tuple)):
      raise TypeError(f"Expected `{arg}` to be a list of tensors. Received: {arg} of "
                      f"type {type(value).__name__}")
  n_hidden = len(hidden_outputs)
  if n_hidden == 0 or len(weights) != n_hidden + 1:
    raise ValueError("Expected N >= 1 `hidden_outputs` and N + 1 `weights` (the hidden "
                     "layers', then the output layer's). Received: "
                     f"{n_hidden} hidden_outputs and {len(weights)} weights")
  if isinstance(activation, (list, tuple)):
    if len(activation) != n_hidden:
      raise ValueError(f"Expected one `activation` per hidden layer ({n_hidden}). "
                       f"Received: {len(activation)} activations")
    layer_activations = list(activation)
  else:
    layer_activations = [activation] * n_hidden
  for act in layer_activations:
    activations.get(act)  # Raises ValueError listing the known names.
  if names is None:
    names = [model.hidden_scope(i + 1) for i in range(n_hidden)] + [model.OUTPUTS_SCOPE]
  names = list(names)
  if len(names) != n_hidden + 1 or len(set(names)) != len(names):
    raise ValueError(f"Expected {n_hidden + 1} distinct layer `names`. "
                     f"Received: names={names!r}")
  return n_hidden, layer_activations, names


def _activation_probes(outputs, activation, threshold):
  """Returns (mean, std, saturated fraction or None, dead fraction or None) tensors."""
  outputs = tf.convert_to_tensor(outputs)
  mean, variance = tf.nn.moments(tf.reshape(outputs, [-1]), axes=[0])
  mean = tf.identity(mean, name="activation_mean")
  std = tf.sqrt(variance, name="activation_std")
  saturated = dead = None
  if activation in _SATURATING:
    if activation == "sigmoid":
      derivative = outputs * (1.0 - outputs)   # s'(z) = s(1 - s)
    else:
      derivative = 1.0 - tf.square(outputs)    # tanh'(z) = 1 - t^2
    flat = derivative < threshold * _PEAK_DERIVATIVE[activation]
    saturated = tf.reduce_mean(tf.cast(flat, tf.float32), name="saturated_fraction")
  elif activation in _RELU_FAMILY:
    batch_axes = list(range(max(outputs.shape.rank or 2, 2) - 1))
    inactive = tf.reduce_all(outputs <= 0.0, axis=batch_axes)  # [units]
    dead = tf.reduce_mean(tf.cast(inactive, tf.float32), name="dead_fraction")
  return mean, std, saturated, dead


def probes_for_dnn(dnn: "DNN",
                   saturation_threshold: float = SATURATION_THRESHOLD) -> LayerProbes:
  """Returns the `LayerProbes` of a `DNN`, built once per graph and threshold.

  Args:
    dnn: a `DNN` from `model.build_dnn`.
    saturation_threshold: as in `build_probes`.

  Returns:
    A `LayerProbes` over hidden1..N and outputs, of `dnn.base_loss`.

  Raises:
    ValueError, TypeError: if `saturation_threshold` is not a number in (0, 1).
  """
  saturation_threshold = _validation.check_in_range(
      "saturation_threshold", saturation_threshold, 0.0, 1.0, low_open=True,
      high_open=True)
  graph = dnn.base_loss.graph
  cache = _DNN_PROBES.setdefault(graph, {})
  key = (dnn.base_loss.name, saturation_threshold)
  if key not in cache:
    with graph.as_default():
      probes = build_probes(dnn.base_loss, list(dnn.hidden), list(dnn.weights),
                            dnn.config.activation, names=dnn.layer_scopes,
                            saturation_threshold=saturation_threshold)
    cache[key] = _map_tensors(probes, lambda t: t.name)
  return _map_tensors(cache[key], graph.get_tensor_by_name)


def run_probes(sess: tf.compat.v1.Session, probes: LayerProbes,
               feed_dict: dict[Any, Any]) -> list[dict[str, Any]]:
  """Runs `probes` on one batch; returns one dict per layer, bottom up.

  Args:
    sess: a Session on the probes' graph with the variables initialized.
    probes: a `LayerProbes`.
    feed_dict: the feed of the batch (inputs, labels, is_training, ...).

  Returns:
    A list of L dicts with keys 'layer', 'gradient_norm',
    'relative_to_last_hidden', 'relative_to_output', 'weight_norm', and, None for
    the output layer or where undefined, 'activation_mean', 'activation_std',
    'saturated_fraction', 'dead_fraction'. Values are Python floats.
  """
  values = sess.run(probes.fetches(), feed_dict)
  grads = [float(values["gradient_norms"][i]) for i in range(len(probes.names))]
  last_hidden, output = grads[-2], grads[-1]
  report = []
  for i, name in enumerate(probes.names):
    row = {"layer": name, "gradient_norm": grads[i],
           "relative_to_last_hidden": _ratio(grads[i], last_hidden),
           "relative_to_output": _ratio(grads[i], output),
           "weight_norm": float(values["weight_norms"][i])}
    for key, field in (("activation_mean", "activation_means"),
                       ("activation_std", "activation_stds"),
                       ("saturated_fraction", "saturated"), ("dead_fraction", "dead")):
      value = values[field].get(i)
      row[key] = None if value is None else float(value)
    report.append(row)
  return report


def _ratio(numerator, denominator):
  if denominator == 0.0:
    return math.inf if numerator > 0.0 else math.nan
  return numerator / denominator


def gradient_report(sess: tf.compat.v1.Session, dnn: "DNN", X: np.ndarray,
                    y: np.ndarray, is_training: bool = False,
                    saturation_threshold: float = SATURATION_THRESHOLD
                    ) -> list[dict[str, Any]]:
  """Probes a `DNN` on one batch; returns one dict per layer (see `run_probes`).

  By default it probes the net as it predicts: dropout off and batch normalization
  using its moving averages. Pass `is_training=True` to see what a training step sees
  (batch statistics, dropout masks). Before any training, a batch-norm net's moving
  averages are still 0 and 1, so only `is_training=True` shows the normalization at
  work. Probing never updates a variable.

  Args:
    sess: a Session holding `dnn`'s variables.
    dnn: a `DNN` from `model.build_dnn`.
    X: float array `[batch_size, n_inputs]`.
    y: int array `[batch_size]` of labels.
    is_training: bool fed to `dnn.is_training`. Default False.
    saturation_threshold: as in `build_probes`.

  Returns:
    A list of dicts, hidden1..N then outputs.

  Raises:
    ValueError, TypeError: on bad arrays or a bad `is_training`.
  """
  if not isinstance(is_training, bool):
    raise TypeError(f"Expected `is_training` to be a bool. "
                    f"Received: is_training={is_training!r}")
  X, y = np.asarray(X, np.float32), np.asarray(y, np.int64)
  if X.ndim != 2 or y.shape != (X.shape[0],) or not len(y):
    raise ValueError("Expected `X` `[batch_size, n_inputs]` and `y` `[batch_size]` "
                     f"with batch_size >= 1. Received: X {X.shape}, y {y.shape}")
  probes = probes_for_dnn(dnn, saturation_threshold)
  return run_probes(sess, probes, {dnn.X: X, dnn.y: y, dnn.is_training: is_training})


def first_to_last_ratio(report: Sequence[dict[str, Any]]) -> float:
  """Returns the first hidden layer's gradient norm over the last hidden layer's."""
  return report[0]["relative_to_last_hidden"]


def format_report(report: Sequence[dict[str, Any]]) -> str:
  """Returns `report` (from `run_probes` or `gradient_report`) as a text table.

      layer     grad norm  / last hidden  / output  weight norm  act mean  ...
      hidden1     4.1e-08       6.2e-06    1.4e-06        11.3     0.500   ...
  """
  header = (f"{'layer':<10}{'grad norm':>11}{'/ last hidden':>15}{'/ output':>10}"
            f"{'weight norm':>13}{'act mean':>10}{'act std':>9}{'saturated':>11}"
            f"{'dead':>8}")
  lines = [header]
  for row in report:
    lines.append(
        f"{row['layer']:<10}{row['gradient_norm']:>11.2e}"
        f"{row['relative_to_last_hidden']:>15.2e}{row['relative_to_output']:>10.2e}"
        f"{row['weight_norm']:>13.4g}{_cell(row['activation_mean'], '.3f', 10)}"
        f"{_cell(row['activation_std'], '.3f', 9)}"
        f"{_cell(row['saturated_fraction'], '.1%', 11)}"
        f"{_cell(row['dead_fraction'], '.1%', 8)}")
  return "\n".join(lines)


def _cell(value, spec, width):
  text = "-" if value is None else format(value, spec)
  return f"{text:>{width}}"
