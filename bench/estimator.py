"""TF 1.x Estimator programs on MNIST: the tutorials' model_fn MLP and a DNNClassifier.

    python bench/estimator.py                # 2,000 steps of each (a few minutes)
    python bench/estimator.py --steps 200    # a quick look

The programs are written as TF 1.x's tutorials wrote them ("Creating Estimators": a
model_fn on `tf.layers` with `numpy_input_fn`; "Premade Estimators": a `DNNClassifier`
on a numeric feature column), through the stand-in (`import dnn_toolkit.tf1 as tf`, the
one changed line). Each trains `--steps` steps of 100 images on the 55,000 training
images, then evaluates on the 10,000 test images; the script prints the test accuracy,
the training time and the steps per second.
"""

import argparse
import tempfile
import time

import numpy as np

import dnn_toolkit.tf1 as tf  # The one changed line: `import tensorflow as tf`.
from dnn_toolkit.data import mnist


def mlp_model_fn(features, labels, mode, params):
  """The MLP of TF 1.x's "Creating Estimators" tutorials."""
  net = tf.reshape(features["x"], [-1, 784])
  for units in params["hidden_units"]:
    net = tf.layers.dense(net, units=units, activation=tf.nn.relu)
  logits = tf.layers.dense(net, units=10)
  predictions = {"classes": tf.argmax(input=logits, axis=1),
                 "probabilities": tf.nn.softmax(logits, name="softmax_tensor")}
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode=mode, predictions=predictions)
  loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  if mode == tf.estimator.ModeKeys.TRAIN:
    optimizer = tf.train.AdamOptimizer(learning_rate=0.001)
    train_op = optimizer.minimize(loss=loss, global_step=tf.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)
  return tf.estimator.EstimatorSpec(mode=mode, loss=loss, eval_metric_ops={
      "accuracy": tf.metrics.accuracy(labels=labels, predictions=predictions["classes"])})


def measure(name, estimator, data, steps):
  """Trains `estimator` `steps` steps, evaluates it; prints and returns the figures."""
  train_input_fn = tf.estimator.inputs.numpy_input_fn(
      x={"x": np.asarray(data.train.images, np.float32)},
      y=data.train.labels.astype(np.int32), batch_size=100,
      num_epochs=None, shuffle=True)
  eval_input_fn = tf.estimator.inputs.numpy_input_fn(
      x={"x": np.asarray(data.test.images, np.float32)},
      y=data.test.labels.astype(np.int32), batch_size=1000,
      num_epochs=1, shuffle=False)
  started = time.perf_counter()
  estimator.train(input_fn=train_input_fn, steps=steps)
  seconds = time.perf_counter() - started
  metrics = estimator.evaluate(input_fn=eval_input_fn)
  print(f"{name}: {steps} steps in {seconds:.1f} s ({steps / seconds:.0f} steps/s); "
        f"test accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}",
        flush=True)
  return metrics


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=2000)
  parser.add_argument("--seed", type=int, default=42)
  args = parser.parse_args()
  tf.logging.set_verbosity(tf.logging.WARN)
  data = mnist.load_mnist()
  with tempfile.TemporaryDirectory() as model_dirs:
    config = tf.estimator.RunConfig(tf_random_seed=args.seed, save_checkpoints_steps=500,
                                    log_step_count_steps=500)
    mlp = tf.estimator.Estimator(mlp_model_fn, model_dir=f"{model_dirs}/mlp",
                                 params={"hidden_units": [128]}, config=config)
    measure("model_fn MLP 784-128-10, Adam 0.001", mlp, data, args.steps)
    dnn = tf.estimator.DNNClassifier(
        hidden_units=[300, 100], n_classes=10, model_dir=f"{model_dirs}/dnn",
        feature_columns=[tf.feature_column.numeric_column("x", shape=[784])],
        config=config)
    measure("DNNClassifier 784-300-100-10, Adagrad 0.05 (default)", dnn, data,
            args.steps)


if __name__ == "__main__":
  main()
