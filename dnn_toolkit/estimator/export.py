"""`tf.estimator.export`: what a served model receives and what it answers.

    def serving_input_receiver_fn():              # raw tensors in
      x = tf.placeholder(tf.float32, [None, 784], name="x")
      return tf.estimator.export.ServingInputReceiver({"x": x}, {"x": x})

    fn = tf.estimator.export.build_raw_serving_input_receiver_fn(
        {"x": tf.placeholder(tf.float32, [None, 784])})
    fn = tf.estimator.export.build_parsing_serving_input_receiver_fn(
        tf.feature_column.make_parse_example_spec(columns))   # tf.Example protos in

A receiver names the SavedModel's inputs (`receiver_tensors`) and the features the
`model_fn` gets from them; an `ExportOutput` (`PredictOutput`, `ClassificationOutput`,
`RegressionOutput`) becomes one SignatureDef. As in TF 1.15, a classification or
regression signature needs one string input (serialized `tf.Example`s); one that
cannot be built is left out, and the 'predict' signature serves the raw inputs.
Writing the SavedModel is `Estimator.export_saved_model`, through
`dnn_toolkit.export`.
"""

import collections
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from dnn_toolkit.errors import ArgumentError, ArgumentTypeError

_V1 = tf.compat.v1
_SIGNATURES = _V1.saved_model.signature_def_utils

#: The signature a server uses when a request names none.
DEFAULT_SERVING_KEY = _V1.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
#: The names a single feature tensor and a single receiver tensor get.
SINGLE_FEATURE_KEY = "feature"
SINGLE_RECEIVER_KEY = "input"
SINGLE_LABEL_KEY = "label"
_TENSORS = (tf.Tensor, tf.SparseTensor)


def _as_tensor_dict(name, value, single_key):
  """`value` (a tensor or a dict {str: tensor}) as a dict; raises naming `name`."""
  if isinstance(value, _TENSORS):
    return {single_key: value}
  if not isinstance(value, dict) or not value:
    raise ArgumentTypeError(name, "Expected {name} to be a tensor or a non-empty dict "
                                  "{str: tensor}. Received: {received}", value)
  for key, tensor in value.items():
    if not isinstance(key, str):
      raise ArgumentTypeError(name, "Expected the keys of {name} to be strings. "
                                    f"Received the key {key!r}", value)
    if not isinstance(tensor, _TENSORS):
      raise ArgumentTypeError(name, "Expected every value of {name} to be a tensor or "
                                    f"a SparseTensor. Received: {key!r}: {tensor!r}",
                              value)
  return dict(value)


class ServingInputReceiver(collections.namedtuple(
    "ServingInputReceiver", ["features", "receiver_tensors",
                             "receiver_tensors_alternatives"])):
  """The inputs of a served model (`receiver_tensors`) and the features made of them.

  Args:
    features: a tensor or a dict {name: tensor}, what `model_fn` gets; a single
      tensor is passed as {'feature': tensor}.
    receiver_tensors: a tensor or a dict {name: tensor}, the signature's inputs; a
      single tensor is named 'input'.
    receiver_tensors_alternatives: optional {signature name: receiver tensors}, more
      input signatures over the same graph.
  """

  def __new__(cls, features: Any, receiver_tensors: Any,
              receiver_tensors_alternatives: Mapping[str, Any] | None = None
              ) -> "ServingInputReceiver":
    features = _as_tensor_dict("features", features, SINGLE_FEATURE_KEY)
    receiver_tensors = _as_tensor_dict("receiver_tensors", receiver_tensors,
                                       SINGLE_RECEIVER_KEY)
    alternatives = None
    if receiver_tensors_alternatives is not None:
      if not isinstance(receiver_tensors_alternatives, dict):
        raise ArgumentTypeError("receiver_tensors_alternatives",
                                "Expected {name} to be a dict {signature name: "
                                "tensors}. Received: {received}",
                                receiver_tensors_alternatives)
      alternatives = {key: _as_tensor_dict("receiver_tensors_alternatives", value,
                                           SINGLE_RECEIVER_KEY)
                      for key, value in receiver_tensors_alternatives.items()}
    return super().__new__(cls, features, receiver_tensors, alternatives)


class TensorServingInputReceiver(collections.namedtuple(
    "TensorServingInputReceiver", ["features", "receiver_tensors",
                                   "receiver_tensors_alternatives"])):
  """A `ServingInputReceiver` whose one feature tensor reaches `model_fn` as it is.

  Args:
    features: one tensor, passed to `model_fn` unwrapped.
    receiver_tensors, receiver_tensors_alternatives: as `ServingInputReceiver`.
  """

  def __new__(cls, features: Any, receiver_tensors: Any,
              receiver_tensors_alternatives: Mapping[str, Any] | None = None
              ) -> "TensorServingInputReceiver":
    if not isinstance(features, _TENSORS):
      raise ArgumentTypeError("features", "Expected {name} to be one tensor. "
                                          "Received: {received}", features)
    checked = ServingInputReceiver({SINGLE_FEATURE_KEY: features}, receiver_tensors,
                                   receiver_tensors_alternatives)
    return super().__new__(cls, features, checked.receiver_tensors,
                           checked.receiver_tensors_alternatives)


def _placeholder_like(tensor, default_batch_size, name):
  """A placeholder of `tensor`'s dtype and shape, batch dimension `default_batch_size`."""
  if isinstance(tensor, tf.SparseTensor):
    return _V1.sparse_placeholder(tensor.dtype, name=name)
  shape = tensor.shape.as_list() if tensor.shape.rank is not None else None
  if shape:
    shape[0] = default_batch_size
  with _V1.name_scope(None):  # At the top: the input is named `name`.
    return _V1.placeholder(tensor.dtype, shape, name=name)


def build_raw_serving_input_receiver_fn(
    features: Mapping[str, Any] | Any,
    default_batch_size: int | None = None) -> Callable[[], ServingInputReceiver]:
  """A `serving_input_receiver_fn` taking the features themselves as its inputs.

  Args:
    features: a tensor or a dict {name: tensor} whose dtypes and shapes the inputs
      copy (the first dimension is the batch).
    default_batch_size: the inputs' batch size; None (default) for any.

  Returns:
    A function that builds placeholders like `features` and returns a
    `ServingInputReceiver` with them as both features and receiver tensors.
  """
  checked = _as_tensor_dict("features", features, SINGLE_FEATURE_KEY)

  def serving_input_receiver_fn():
    placeholders = {key: _placeholder_like(tensor, default_batch_size, key)
                    for key, tensor in checked.items()}
    return ServingInputReceiver(placeholders, placeholders)

  return serving_input_receiver_fn


def build_parsing_serving_input_receiver_fn(
    feature_spec: Mapping[str, Any],
    default_batch_size: int | None = None) -> Callable[[], ServingInputReceiver]:
  """A `serving_input_receiver_fn` of serialized `tf.Example`s, parsed by `feature_spec`.

  Args:
    feature_spec: {name: `tf.io.FixedLenFeature` / `VarLenFeature`}, e.g. from
      `tf.feature_column.make_parse_example_spec`.
    default_batch_size: the batch size; None (default) for any.

  Returns:
    A function returning a `ServingInputReceiver` whose one input, 'examples', is a
    string tensor `[batch]` named `input_example_tensor`.
  """
  if not isinstance(feature_spec, dict) or not feature_spec:
    raise ArgumentTypeError("feature_spec", "Expected {name} to be a non-empty dict "
                                            "{name: tf.io.FixedLenFeature or "
                                            "VarLenFeature}. Received: {received}",
                            feature_spec)

  def serving_input_receiver_fn():
    examples = _V1.placeholder(tf.string, [default_batch_size],
                               name="input_example_tensor")
    features = tf.io.parse_example(examples, feature_spec)
    return ServingInputReceiver(features, {"examples": examples})

  return serving_input_receiver_fn


# ------------------------------------------------------------------ export outputs


class ExportOutput:
  """One signature of a served model; subclasses say how its outputs are named."""

  def as_signature_def(self, receiver_tensors: Mapping[str, Any]) -> Any:
    """The SignatureDef over `receiver_tensors`; ValueError if it cannot be built."""
    raise NotImplementedError

  @staticmethod
  def _single_example_input(receiver_tensors, kind):
    if len(receiver_tensors) != 1:
      raise ValueError(f"{kind} input must be a single string tensor; got "
                       f"{sorted(receiver_tensors)}")
    examples = next(iter(receiver_tensors.values()))
    if examples.dtype != tf.string:
      raise ValueError(f"{kind} input must be a single string tensor; got "
                       f"{examples.dtype.name}")
    return examples


class ClassificationOutput(ExportOutput):
  """The classification signature: `scores` (float) and/or `classes` (string).

  Args:
    scores: optional float tensor `[batch, n_classes]`.
    classes: optional string tensor `[batch, n_classes]`.
  """

  def __init__(self, scores: Any = None, classes: Any = None) -> None:
    if scores is None and classes is None:
      raise ArgumentError("scores", "Received neither {name} nor `classes`; a "
                                    "ClassificationOutput needs at least one.", None)
    if scores is not None and not (isinstance(scores, tf.Tensor)
                                   and scores.dtype.is_floating):
      raise ArgumentTypeError("scores", "Expected {name} to be a float tensor. "
                                        "Received: {received}", scores)
    if classes is not None and not (isinstance(classes, tf.Tensor)
                                    and classes.dtype == tf.string):
      raise ArgumentTypeError("classes", "Expected {name} to be a string tensor. "
                                         "Received: {received}", classes)
    self.scores, self.classes = scores, classes

  def as_signature_def(self, receiver_tensors: Mapping[str, Any]) -> Any:
    examples = self._single_example_input(receiver_tensors, "Classification")
    return _SIGNATURES.classification_signature_def(examples, self.classes, self.scores)


class RegressionOutput(ExportOutput):
  """The regression signature: one float tensor `value` `[batch]` or `[batch, 1]`."""

  def __init__(self, value: Any) -> None:
    if not (isinstance(value, tf.Tensor) and value.dtype.is_floating):
      raise ArgumentTypeError("value", "Expected {name} to be a float tensor. "
                                       "Received: {received}", value)
    self.value = value

  def as_signature_def(self, receiver_tensors: Mapping[str, Any]) -> Any:
    examples = self._single_example_input(receiver_tensors, "Regression")
    return _SIGNATURES.regression_signature_def(examples, self.value)


class PredictOutput(ExportOutput):
  """The predict signature: any named tensors over the receiver's inputs.

  Args:
    outputs: a tensor (named 'output') or a dict {str: tensor}.
  """

  def __init__(self, outputs: Any) -> None:
    self.outputs = _as_tensor_dict("outputs", outputs, "output")

  def as_signature_def(self, receiver_tensors: Mapping[str, Any]) -> Any:
    return _SIGNATURES.predict_signature_def(receiver_tensors, self.outputs)


def build_all_signature_defs(receiver_tensors: Mapping[str, Any],
                             export_outputs: Mapping[str, ExportOutput],
                             receiver_tensors_alternatives: Mapping[str, Any] | None
                             = None) -> dict[str, Any]:
  """{signature name: SignatureDef} of every export output that fits the inputs.

  An output that cannot be built over the inputs (a classification signature over raw
  float inputs) is left out, as in TF 1.15; alternative receivers add signatures named
  '<receiver>:<output>'.

  Raises:
    ArgumentError: no signature could be built (naming why each failed).
  """
  receivers: dict[str | None, Mapping[str, Any]] = {None: receiver_tensors}
  receivers.update(receiver_tensors_alternatives or {})
  signatures, excluded = {}, {}
  for receiver_name, tensors in receivers.items():
    for key, output in export_outputs.items():
      name = key if receiver_name is None else f"{receiver_name}:{key}"
      try:
        signature = output.as_signature_def(tensors)
      except ValueError as error:
        excluded[name] = str(error)
        continue
      if _V1.saved_model.is_valid_signature(signature):
        signatures[name] = signature
  if not signatures:
    why = "; ".join(f"{name}: {reason}" for name, reason in excluded.items())
    raise ArgumentError("export_outputs", "No signature of {name} could be built over "
                                          f"the serving inputs: {why}", None)
  return signatures
