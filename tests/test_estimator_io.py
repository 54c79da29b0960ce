"""Tests of `tf.estimator.inputs` and `tf.estimator.export`: batches in, signatures out.

numpy_input_fn and pandas_input_fn are run in a fresh graph and Session here and their
batches compared with the arrays; the receivers and export outputs are checked for
TF 1.15's names and refusals.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from dnn_toolkit.errors import ArgumentError, ArgumentTypeError
from dnn_toolkit.estimator import export, inputs

V1 = tf.compat.v1


def batches(input_fn, seed=None, limit=100):
  """Every batch `input_fn` gives (at most `limit`), run in a fresh graph."""
  with tf.Graph().as_default() as graph:
    if seed is not None:
      V1.set_random_seed(seed)
    result = input_fn()
    out = []
    with V1.Session(graph=graph) as sess:
      try:
        while len(out) < limit:
          out.append(sess.run(result))
      except tf.errors.OutOfRangeError:
        pass
  return out


def test_numpy_input_fn_batches_in_order_and_ends_after_its_epochs():
  x = {"a": np.arange(10, dtype=np.float32), "b": np.arange(20).reshape(10, 2)}
  y = np.arange(10) * 10
  got = batches(inputs.numpy_input_fn(x, y, batch_size=4, num_epochs=2, shuffle=False))
  # Two epochs of 10 rows in batches of 4: the last batch is short, as TF 1.x's.
  assert [len(labels) for _, labels in got] == [4, 4, 4, 4, 4]
  np.testing.assert_array_equal(np.concatenate([f["a"] for f, _ in got]),
                                np.tile(x["a"], 2))
  np.testing.assert_array_equal(np.concatenate([f["b"] for f, _ in got]),
                                np.tile(x["b"], (2, 1)))
  np.testing.assert_array_equal(np.concatenate([l for _, l in got]), np.tile(y, 2))
  one = batches(inputs.numpy_input_fn(x, y, batch_size=4, shuffle=False))
  assert [len(labels) for _, labels in one] == [4, 4, 2]


def test_numpy_input_fn_shapes_and_forever_batches_are_whole():
  x = np.arange(30, dtype=np.float32).reshape(10, 3)
  with tf.Graph().as_default():
    features, labels = inputs.numpy_input_fn(x, np.arange(10), batch_size=4,
                                             num_epochs=None, shuffle=False)()
    assert isinstance(features, tf.Tensor)  # A lone array: one tensor.
    assert features.shape.as_list() == [4, 3] and labels.shape.as_list() == [4]
    assert features.dtype == tf.float32 and labels.dtype == tf.int64
  got = batches(inputs.numpy_input_fn(x, None, batch_size=4, num_epochs=None,
                                      shuffle=False), limit=5)
  assert [len(b) for b in got] == [4] * 5
  np.testing.assert_array_equal(np.concatenate(got)[:10], x)


def test_numpy_input_fn_shuffles_every_row_once_per_epoch_with_the_graph_seed():
  x = {"x": np.arange(50)}
  fn = inputs.numpy_input_fn(x, batch_size=10, num_epochs=1, shuffle=True,
                             queue_capacity=1000)
  first = np.concatenate([b["x"] for b in batches(fn, seed=3)])
  assert sorted(first) == list(range(50)) and list(first) != list(range(50))
  again = np.concatenate([b["x"] for b in batches(fn, seed=3)])
  np.testing.assert_array_equal(first, again)


def test_numpy_input_fn_strings_and_dict_labels():
  x = {"city": np.array(["a", "bc", "d"]), "n": np.array([1, 2, 3])}
  y = {"y1": np.array([0, 1, 0]), "y2": np.array([.5, .25, 1.])}
  (features, labels), = batches(inputs.numpy_input_fn(x, y, batch_size=3,
                                                      shuffle=False))
  assert list(features["city"]) == [b"a", b"bc", b"d"]
  np.testing.assert_array_equal(labels["y2"], y["y2"])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(x={"a": np.zeros(3)}), ArgumentTypeError, "shuffle must be provided"),
    (dict(x={"a": np.zeros(3)}, shuffle=1), ArgumentTypeError, "shuffle must be"),
    (dict(x={"a": np.zeros(3)}, shuffle=False, batch_size=0), ArgumentError,
     "`batch_size`, expected a positive integer"),
    (dict(x={"a": np.zeros(3)}, shuffle=False, num_epochs=0), ArgumentError,
     "`num_epochs`"),
])
def test_numpy_input_fn_checks_its_arguments_at_once(kwargs, error, message):
  with pytest.raises(error, match=message):
    inputs.numpy_input_fn(**kwargs)


@pytest.mark.parametrize("x, y, message", [
    ({"a": np.zeros(3)}, np.zeros(4), "Length of tensors in x and y is mismatched"),
    ({}, None, "non-empty dict of arrays"),
    ([1, 2], None, "`x` to be a dict of arrays or an array"),
    ({"a": np.zeros(3)}, {"a": np.zeros(3)}, "whose keys \\['a'\\] are keys of `x`"),
])
def test_numpy_input_fn_refuses_bad_arrays_when_called(x, y, message):
  fn = inputs.numpy_input_fn(x, y, shuffle=False)
  with tf.Graph().as_default(), pytest.raises((ArgumentError, ArgumentTypeError),
                                              match=message):
    fn()


def test_pandas_input_fn_gives_one_feature_per_column():
  frame = pd.DataFrame({"age": [1., 2., 3.], "city": ["a", "b", "c"]},
                       index=[10, 11, 12])
  target = pd.Series([0, 1, 1], index=[10, 11, 12])
  (features, labels), = batches(inputs.pandas_input_fn(frame, target, batch_size=3,
                                                       shuffle=False))
  np.testing.assert_array_equal(features["age"], frame["age"])
  assert list(features["city"]) == [b"a", b"b", b"c"]
  np.testing.assert_array_equal(labels, target)
  with pytest.raises(ArgumentError, match="Index for x and y are mismatched"):
    inputs.pandas_input_fn(frame, pd.Series([0, 1, 1]), shuffle=False)
  with pytest.raises(ArgumentError, match="`target_column` that `x` already has"):
    inputs.pandas_input_fn(frame, target, shuffle=False, target_column="age")
  with pytest.raises(ArgumentTypeError, match="pandas.DataFrame"):
    inputs.pandas_input_fn({"age": [1.]}, shuffle=False)


# ----------------------------------------------------------------------- export


def test_receivers_name_single_tensors_as_tf1_did(graph):
  x = V1.placeholder(tf.float32, [None, 3], name="x")
  receiver = export.ServingInputReceiver(x, x)
  assert list(receiver.features) == ["feature"]
  assert list(receiver.receiver_tensors) == ["input"]
  tensor_receiver = export.TensorServingInputReceiver(x, {"x": x})
  assert tensor_receiver.features is x
  with pytest.raises(ArgumentTypeError, match="keys of `features` to be strings"):
    export.ServingInputReceiver({1: x}, x)
  with pytest.raises(ArgumentTypeError, match="tensor or a SparseTensor"):
    export.ServingInputReceiver({"x": [1.0]}, x)
  raw = export.build_raw_serving_input_receiver_fn({"x": x}, default_batch_size=5)()
  assert raw.features["x"].shape.as_list() == [5, 3]
  assert raw.receiver_tensors["x"].op.name == "x_1"  # A new placeholder, at the top.
  spec = {"age": tf.io.FixedLenFeature([1], tf.float32)}
  parsing = export.build_parsing_serving_input_receiver_fn(spec)()
  assert list(parsing.receiver_tensors) == ["examples"]
  assert parsing.receiver_tensors["examples"].op.name == "input_example_tensor"


def test_export_outputs_and_their_signatures(graph):
  scores = tf.constant([[0.2, 0.8]])
  classes = tf.constant([["a", "b"]])
  examples = V1.placeholder(tf.string, [None])
  floats = V1.placeholder(tf.float32, [None, 2])
  outputs = {"serving_default": export.ClassificationOutput(scores, classes),
             "predict": export.PredictOutput({"scores": scores}),
             "regression": export.RegressionOutput(scores[:, 0])}
  with_examples = export.build_all_signature_defs({"examples": examples}, outputs)
  assert set(with_examples) == {"serving_default", "predict", "regression"}
  assert with_examples["serving_default"].method_name == "tensorflow/serving/classify"
  # Float inputs fit the predict signature only, as in TF 1.15.
  assert set(export.build_all_signature_defs({"x": floats}, outputs)) == {"predict"}
  with pytest.raises(ArgumentError, match="No signature of `export_outputs`"):
    export.build_all_signature_defs({"x": floats}, {"c": outputs["serving_default"]})
  with pytest.raises(ArgumentError, match="neither `scores` nor `classes`"):
    export.ClassificationOutput()
  with pytest.raises(ArgumentTypeError, match="`classes` to be a string tensor"):
    export.ClassificationOutput(scores, classes=scores)
  with pytest.raises(ArgumentTypeError, match="`value` to be a float tensor"):
    export.RegressionOutput(classes)
