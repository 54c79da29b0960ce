"""Tests of the canned Estimators: TF 1.15's numbers, names, defaults and outputs.

The evaluation cases are TF 1.15's own (tensorflow_estimator's dnn_testing_utils and
linear_testing_utils): a model_dir holding a checkpoint of given weights, written as
a TF 1.x Estimator left it, is evaluated and must give TF 1.15's metrics. Training
steps of the default optimizers are recomputed with NumPy. They run in this process
(TF 2 behaviour) on tiny or seeded data.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from _helpers import files_of

from dnn_toolkit import scopes
from dnn_toolkit.errors import ArgumentError, ArgumentTypeError
from dnn_toolkit.estimator import (
  DNNClassifier,
  DNNLinearCombinedClassifier,
  DNNRegressor,
  LinearClassifier,
  LinearRegressor,
  RunConfig,
  export,
  inputs,
)

V1 = tf.compat.v1
fc = V1.feature_column

# The weights of TF 1.15's DNN tests: hidden (2, 2), input `age` [[10.]].
DNN_ONE_DIM = {"dnn/hiddenlayer_0/kernel": [[.6, .5]],
               "dnn/hiddenlayer_0/bias": [.1, -.1],
               "dnn/hiddenlayer_1/kernel": [[1., .8], [-.8, -1.]],
               "dnn/hiddenlayer_1/bias": [.2, -.2],
               "dnn/logits/kernel": [[-1.], [1.]], "dnn/logits/bias": [.3]}
DNN_MULTI_DIM = {"dnn/hiddenlayer_0/kernel": [[.6, .5], [-.6, -.5]],
                 "dnn/hiddenlayer_0/bias": [.1, -.1],
                 "dnn/hiddenlayer_1/kernel": [[1., .8], [-.8, -1.]],
                 "dnn/hiddenlayer_1/bias": [.2, -.2],
                 "dnn/logits/kernel": [[-1., 1., .5], [-1., 1., .5]],
                 "dnn/logits/bias": [.3, -.3, .0]}
AGE_WEIGHT, BIAS = "linear/linear_model/age/weights", "linear/linear_model/bias_weights"


def tf1_model_dir(path, weights, global_step=100):
  """A model_dir as a TF 1.x Estimator left it: model.ckpt-N and its 'checkpoint'."""
  values = {name: np.asarray(value, np.float32) for name, value in weights.items()}
  values["global_step"] = np.int64(global_step)
  prefix = scopes.write_checkpoint(os.path.join(path, f"model.ckpt-{global_step}"),
                                   values)
  V1.train.update_checkpoint_state(str(path), prefix)
  return str(path)


def dnn_forward(weights, x):
  """The logits of a ReLU DNN of `weights` (TF 1.15's names) for inputs `x`, in NumPy."""
  net = np.asarray(x, np.float64)
  for i in range(2):
    net = np.maximum(net @ np.array(weights[f"dnn/hiddenlayer_{i}/kernel"])
                     + weights[f"dnn/hiddenlayer_{i}/bias"], 0)
  hidden = net
  return hidden, hidden @ np.array(weights["dnn/logits/kernel"]) + weights[
      "dnn/logits/bias"]


# ------------------------------------------------------- TF 1.15's evaluation cases


def test_dnn_classifier_binary_metrics_are_tf115s(tmp_path):
  model_dir = tf1_model_dir(tmp_path, DNN_ONE_DIM)
  classifier = DNNClassifier(hidden_units=(2, 2), model_dir=model_dir,
                             feature_columns=[fc.numeric_column("age")])
  metrics = classifier.evaluate(lambda: ({"age": [[10.], [10.]]}, [[1], [0]]), steps=1)
  # TF 1.15: logits [[-2.08], [-2.08]]; loss -log(0.111) - log(0.889).
  expected = {"loss": 2.31544200, "average_loss": 2.31544200 / 2, "accuracy": 0.5,
              "precision": 0.0, "recall": 0.0, "prediction/mean": 0.11105597,
              "label/mean": 0.5, "accuracy_baseline": 0.5, "auc": 0.5,
              "auc_precision_recall": 0.75, "global_step": 100}
  assert metrics == pytest.approx(expected, rel=1e-5, abs=1e-6)
  float_labels = classifier.evaluate(lambda: ({"age": [[10.], [10.]]}, [[.8], [.4]]),
                                     steps=1)
  assert float_labels["loss"] == pytest.approx(2.7314420, rel=1e-6)


def test_dnn_classifier_multi_class_and_weighted_metrics_are_tf115s(tmp_path):
  model_dir = tf1_model_dir(tmp_path, DNN_MULTI_DIM)
  age = fc.numeric_column("age", shape=[2])
  classifier = DNNClassifier(hidden_units=(2, 2), feature_columns=[age], n_classes=3,
                             model_dir=model_dir)
  metrics = classifier.evaluate(lambda: ({"age": [[10., 8.], [10., 8.]]}, [[1], [0]]),
                                steps=1)
  assert metrics == pytest.approx({"loss": 2.62305466, "average_loss": 2.62305466 / 2,
                                   "accuracy": 0.5, "global_step": 100}, rel=1e-6)
  weighted = DNNClassifier(hidden_units=(2, 2), feature_columns=[age], n_classes=3,
                           weight_column="w", model_dir=model_dir)
  metrics = weighted.evaluate(lambda: ({"age": [[10., 8.], [10., 8.]],
                                        "w": [[10.], [100.]]}, [[1], [0]]), steps=1)
  assert metrics["loss"] == pytest.approx(187.468007, rel=1e-6)


def test_dnn_predictions_and_regressor_metrics_match_numpy(tmp_path):
  model_dir = tf1_model_dir(tmp_path, DNN_ONE_DIM)
  x = [[10.], [5.]]
  _, logits = dnn_forward(DNN_ONE_DIM, x)  # TF 1.15: [[-2.08], [-1.08]]
  np.testing.assert_allclose(logits, [[-2.08], [-1.08]], rtol=1e-6)
  columns = [fc.numeric_column("age")]
  predictions = list(DNNClassifier(hidden_units=(2, 2), feature_columns=columns,
                                   model_dir=model_dir).predict(
      inputs.numpy_input_fn({"age": np.array(x, np.float32)}, shuffle=False)))
  logistic = 1 / (1 + np.exp(-logits[:, 0]))
  np.testing.assert_allclose([p["logits"][0] for p in predictions], logits[:, 0],
                             rtol=1e-6)
  np.testing.assert_allclose([p["probabilities"] for p in predictions],
                             np.stack([1 - logistic, logistic], 1), rtol=1e-6)
  assert [p["classes"][0] for p in predictions] == [b"0", b"0"]
  assert sorted(predictions[0]) == ["all_class_ids", "all_classes", "class_ids",
                                    "classes", "logistic", "logits", "probabilities"]
  regressor = DNNRegressor(hidden_units=(2, 2), feature_columns=columns,
                           model_dir=model_dir)
  labels = np.array([[1.], [3.]])
  metrics = regressor.evaluate(lambda: ({"age": x}, labels), steps=1)
  squared = (logits - labels) ** 2
  assert metrics == pytest.approx({"loss": squared.sum(), "average_loss": squared.mean(),
                                   "prediction/mean": logits.mean(),
                                   "label/mean": labels.mean(), "global_step": 100},
                                  rel=1e-5)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_linear_classifier_metrics_are_tf115s(n_classes, tmp_path):
  age_weight = (np.array([[2.0]]) if n_classes == 2 else
                2.0 * np.arange(n_classes, dtype=np.float32).reshape(1, n_classes))
  bias = [-35.0] * (1 if n_classes == 2 else n_classes)
  model_dir = tf1_model_dir(tmp_path, {AGE_WEIGHT: age_weight, BIAS: bias})
  age, label, weights = [17., 18.], [1, 0], [1., 2.]
  column = [fc.numeric_column("age")]
  plain = LinearClassifier(feature_columns=column, n_classes=n_classes,
                           model_dir=model_dir).evaluate(
      lambda: ({"age": age}, label), steps=1)
  weighted = LinearClassifier(feature_columns=column, n_classes=n_classes,
                              weight_column="w", model_dir=model_dir).evaluate(
      lambda: ({"age": age, "w": weights}, label), steps=1)
  logits = np.array(age)[:, None] * age_weight + bias
  if n_classes == 2:
    # TF 1.15: logits (-1, 1), labels (1, 0): each row's loss 1.3133.
    assert plain == pytest.approx({
        "loss": 1.3133 * 2, "average_loss": 1.3133, "accuracy": 0.0, "precision": 0.0,
        "recall": 0.0, "prediction/mean": 0.5, "label/mean": 0.5,
        "accuracy_baseline": 0.5, "auc": 0.0, "auc_precision_recall": 0.25,
        "global_step": 100}, rel=1e-3, abs=1e-5)
    label_mean = np.average(label, weights=weights)
    assert weighted == pytest.approx({
        "loss": 1.3133 * 3, "average_loss": 1.3133, "accuracy": 0.0, "precision": 0.0,
        "recall": 0.0, "label/mean": label_mean,
        "prediction/mean": np.average(1 / (1 + np.exp(-logits[:, 0])), weights=weights),
        "accuracy_baseline": max(label_mean, 1 - label_mean), "auc": 0.0,
        "auc_precision_recall": 0.1668, "global_step": 100}, rel=1e-3, abs=1e-5)
  else:
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    losses = -np.log(softmax[np.arange(2), label])
    assert plain == pytest.approx({"loss": losses.sum(), "average_loss": losses.mean(),
                                   "accuracy": 0.0, "global_step": 100}, rel=1e-5)
    mean = np.average(losses, weights=weights)
    assert weighted == pytest.approx({"loss": mean * 3, "average_loss": mean,
                                      "accuracy": 0.0, "global_step": 100}, rel=1e-5)


@pytest.mark.parametrize("combiner, expected", [
    ("sum", [12.0, 13.0]), ("mean", [8.5, 9.0]), ("sqrtn", [9.94974, 10.65685])])
def test_linear_sparse_combiner_is_tf115s(combiner, expected, tmp_path):
  model_dir = tf1_model_dir(tmp_path, {"linear/linear_model/language/weights":
                                       [[2.0], [3.0], [5.0]], BIAS: [5.0]}, 1)

  def input_fn():
    return tf.data.Dataset.from_tensors({"language": tf.SparseTensor(
        values=["a", "c", "b", "c"], indices=[[0, 0], [0, 1], [1, 0], [1, 1]],
        dense_shape=[2, 2])})

  language = fc.categorical_column_with_vocabulary_list("language", ["a", "b", "c"])
  classifier = LinearClassifier(feature_columns=[language], model_dir=model_dir,
                                sparse_combiner=combiner)
  logits = [p["logits"][0] for p in classifier.predict(input_fn)]
  np.testing.assert_allclose(logits, expected, rtol=1e-5)


# ---------------------------------------------------------- defaults and names


def test_dnn_default_is_adagrad_at_005_on_a_summed_loss(tmp_path):
  source = tf1_model_dir(tmp_path / "weights", DNN_ONE_DIM)
  classifier = DNNClassifier(hidden_units=(2, 2), model_dir=str(tmp_path / "m"),
                             feature_columns=[fc.numeric_column("age")],
                             warm_start_from=source)
  x, y = np.array([[10.], [10.]]), np.array([1., 0.])
  classifier.train(lambda: ({"age": x}, y[:, None]), steps=1)
  hidden, logits = dnn_forward(DNN_ONE_DIM, x)
  # d(summed sigmoid cross-entropy)/d(logits) = sigmoid - label, per example.
  error = 1 / (1 + np.exp(-logits[:, 0])) - y
  for name, gradient in (("dnn/logits/kernel", hidden.T @ error[:, None]),
                         ("dnn/logits/bias", np.array([error.sum()]))):
    accumulator = 0.1 + np.square(gradient)  # Adagrad's initial accumulator: 0.1.
    expected = np.array(DNN_ONE_DIM[name]) - 0.05 * gradient / np.sqrt(accumulator)
    np.testing.assert_allclose(classifier.get_variable_value(name), expected, rtol=1e-5)
    np.testing.assert_allclose(classifier.get_variable_value(name + "/t_0/Adagrad"),
                               accumulator, rtol=1e-5)


def test_linear_default_is_ftrl_at_02(tmp_path):
  regressor = LinearRegressor(feature_columns=[fc.numeric_column("x")],
                              model_dir=str(tmp_path))
  x, y = np.array([1., 2., 3.]), np.array([2., 1., 4.])
  regressor.train(lambda: ({"x": x}, y), steps=1)
  # From zeros, one FTRL step (l1 = l2 = 0, accumulator 0.1) is
  # w = -g * lr / sqrt(0.1 + g^2), g the gradient of the summed squared error.
  for name, gradient in (("linear/linear_model/x/weights", -2 * np.sum(y * x)),
                         (BIAS, -2 * np.sum(y))):
    expected = -gradient * 0.2 / np.sqrt(0.1 + gradient ** 2)
    np.testing.assert_allclose(regressor.get_variable_value(name).ravel(), [expected],
                               rtol=1e-5)


def _categorical_data(n=400, seed=0):
  """Features x [n, 2] and city in {a, b, c}; binary label from both."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 2)).astype(np.float32)
  city = rng.choice(np.array(["a", "b", "c"]), size=n)
  effect = np.select([city == "a", city == "b"], [-1.5, 0.0], 1.5)
  label = (x[:, 0] + effect > 0).astype(np.int64)
  return {"x": x, "city": city}, label


def test_dnn_and_linear_classifiers_learn_numeric_and_categorical_columns(tmp_path):
  features, label = _categorical_data()
  test_features, test_label = _categorical_data(seed=1)
  x = fc.numeric_column("x", shape=[2])
  city = fc.categorical_column_with_vocabulary_list("city", ["a", "b", "c"])
  config = RunConfig(tf_random_seed=1)
  train = inputs.numpy_input_fn(features, label, batch_size=40, num_epochs=None,
                                shuffle=True)
  evaluate = inputs.numpy_input_fn(test_features, test_label, batch_size=100,
                                   shuffle=False)
  models = {
      "dnn": DNNClassifier(hidden_units=[16], model_dir=str(tmp_path / "dnn"),
                           feature_columns=[x, fc.embedding_column(city, 2),
                                            fc.indicator_column(city)], config=config),
      "linear": LinearClassifier(feature_columns=[x, city], config=config,
                                 model_dir=str(tmp_path / "linear")),
  }
  for name, model in models.items():
    model.train(train, steps=300)
    metrics = model.evaluate(evaluate)
    assert metrics["accuracy"] > 0.9, (name, metrics)
    assert {"auc", "auc_precision_recall", "precision", "recall", "label/mean",
            "accuracy_baseline", "average_loss", "loss", "global_step"} <= set(metrics)
  assert {"dnn/hiddenlayer_0/kernel", "dnn/logits/bias", "dnn/logits/kernel/t_0/Adagrad",
          "dnn/input_from_feature_columns/input_layer/city_embedding/"
          "embedding_weights"} <= set(models["dnn"].get_variable_names())
  assert {"linear/linear_model/city/weights", "linear/linear_model/x/weights",
          BIAS, BIAS + "/part_0/Ftrl"} <= set(models["linear"].get_variable_names())
  with open(tmp_path / "dnn" / "graph.pbtxt") as f:
    assert 'name: "dnn/hiddenlayer_0/kernel/part_0"' in f.read()


def test_multi_class_with_a_label_vocabulary(tmp_path):
  features, label = _categorical_data()
  names = np.array(["neg", "pos", "other"])
  classifier = LinearClassifier(feature_columns=[fc.numeric_column("x", shape=[2])],
                                n_classes=3, label_vocabulary=list(names),
                                model_dir=str(tmp_path))
  classifier.train(inputs.numpy_input_fn(features, names[label], batch_size=50,
                                         num_epochs=2, shuffle=True))
  metrics = classifier.evaluate(inputs.numpy_input_fn(features, names[label],
                                                      shuffle=False))
  assert set(metrics) == {"accuracy", "average_loss", "loss", "global_step"}
  first = next(classifier.predict(inputs.numpy_input_fn({"x": features["x"][:1]},
                                                        shuffle=False)))
  assert first["classes"][0] in (b"neg", b"pos", b"other")
  assert list(first["all_classes"]) == [b"neg", b"pos", b"other"]


def test_dnn_linear_combined_trains_both_parts_one_step_at_a_time(tmp_path):
  features, label = _categorical_data()
  city = fc.categorical_column_with_vocabulary_list("city", ["a", "b", "c"])
  model = DNNLinearCombinedClassifier(
      model_dir=str(tmp_path), linear_feature_columns=[city],
      dnn_feature_columns=[fc.numeric_column("x", shape=[2])], dnn_hidden_units=[8],
      config=RunConfig(tf_random_seed=2))
  model.train(inputs.numpy_input_fn(features, label, batch_size=40, num_epochs=None,
                                    shuffle=True), steps=20)
  names = set(model.get_variable_names())
  assert model.get_variable_value("global_step") == 20
  # TF 1.15 minimized outside the parts' scopes: no 't_0'/'part_0' in the slot names.
  assert {"dnn/hiddenlayer_0/kernel/Adagrad", "linear/linear_model/city/weights/Ftrl",
          "linear/linear_model/city/weights/Ftrl_1"} <= names


# ------------------------------------------------------------------------ export


def test_canned_export_serves_classification_and_predict_signatures(tmp_path):
  model_dir = tf1_model_dir(tmp_path / "m", DNN_ONE_DIM)
  columns = [fc.numeric_column("age")]
  classifier = DNNClassifier(hidden_units=(2, 2), feature_columns=columns,
                             model_dir=model_dir)
  parsing = export.build_parsing_serving_input_receiver_fn(
      fc.make_parse_example_spec(columns))
  path = classifier.export_saved_model(str(tmp_path / "export"), parsing).decode()
  with tf.Graph().as_default():
    raw = export.build_raw_serving_input_receiver_fn(
        {"age": V1.placeholder(tf.float32, [None, 1])})
  raw_path = classifier.export_saved_model(str(tmp_path / "raw"), raw).decode()
  served = tf.saved_model.load(path)
  assert set(served.signatures) == {"serving_default", "classification", "regression",
                                    "predict"}
  # A raw float input fits the predict signature only (TF 1.15 left the others out).
  assert set(tf.saved_model.load(raw_path).signatures) == {"predict"}
  examples = [tf.train.Example(features=tf.train.Features(feature={
      "age": tf.train.Feature(float_list=tf.train.FloatList(value=[age]))}))
      .SerializeToString() for age in (10., 5.)]
  out = served.signatures["serving_default"](inputs=tf.constant(examples))
  _, logits = dnn_forward(DNN_ONE_DIM, [[10.], [5.]])
  logistic = 1 / (1 + np.exp(-logits[:, 0]))
  np.testing.assert_allclose(out["scores"].numpy(), np.stack([1 - logistic, logistic], 1),
                             rtol=1e-5)
  assert out["classes"].numpy().tolist() == [[b"0", b"1"], [b"0", b"1"]]


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kwargs, argument", [
    (dict(hidden_units=[]), "hidden_units"),
    (dict(hidden_units=[10, 0]), "hidden_units"),
    (dict(hidden_units="10"), "hidden_units"),
    (dict(n_classes=1), "n_classes"),
    (dict(n_classes=True), "n_classes"),
    (dict(feature_columns=["x"]), "feature_columns"),
    (dict(feature_columns=[]), "feature_columns"),
    (dict(dropout=1.5), "dropout"),
    (dict(label_vocabulary=["a"]), "label_vocabulary"),
    (dict(loss_reduction="none"), "loss_reduction"),
])
def test_bad_canned_arguments_name_the_argument(kwargs, argument, tmp_path):
  arguments = dict(hidden_units=[10], feature_columns=[fc.numeric_column("x")],
                   model_dir=str(tmp_path / "m"))
  arguments.update(kwargs)
  with pytest.raises((ArgumentError, ArgumentTypeError)) as error:
    DNNClassifier(**arguments)
  assert error.value.argument == argument
  assert not os.path.exists(tmp_path / "m")


def test_bad_optimizer_and_features_fail_before_anything_is_written(tmp_path):
  model_dir = tmp_path / "m"
  columns = [fc.numeric_column("x")]
  with pytest.raises(ArgumentError, match="Unsupported optimizer name.*'Foo'"):
    DNNClassifier([4], columns, model_dir=str(model_dir), optimizer="Foo").train(
        lambda: ({"x": [[1.]]}, [[1]]), steps=1)
  with pytest.raises(ArgumentTypeError, match="features should be a dictionary"):
    LinearClassifier(columns, model_dir=str(model_dir)).train(
        lambda: (tf.constant([[1.]]), tf.constant([[1]])), steps=1)
  with pytest.raises(ArgumentError, match="Mismatched label shape"):
    DNNClassifier([4], columns, model_dir=str(model_dir)).train(
        lambda: ({"x": [[1.]]}, [[1, 0]]), steps=1)
  assert not os.path.exists(model_dir)
  model_dir.mkdir()
  assert files_of(str(model_dir)) == {}
