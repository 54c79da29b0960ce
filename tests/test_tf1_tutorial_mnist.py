"""Tests of `tensorflow.examples.tutorials.mnist.mnist`, through the program it serves.

TF 1.15's `fully_connected_feed.py` ("TensorFlow Mechanics 101"), rewritten here with
its structure, flags and calls, runs unmodified through `dnn-toolkit run` for a few
hundred steps in a child process (ended by its pid past a deadline). The checks read
its checkpoint and summaries and recompute its evaluation with NumPy.
"""

import os
import re
import sys

import numpy as np
import pytest
import tensorflow as tf
from test_tf1 import run_child

from dnn_toolkit.data import mnist as toolkit_mnist

CLI_RUN = [sys.executable, "-m", "dnn_toolkit", "run"]

FULLY_CONNECTED_FEED = """\
\"\"\"Trains and evaluates the tutorial MNIST network using a feed dictionary.\"\"\"
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys
import time

from six.moves import xrange  # pylint: disable=redefined-builtin
import tensorflow as tf

from tensorflow.examples.tutorials.mnist import input_data
from tensorflow.examples.tutorials.mnist import mnist

FLAGS = None


def placeholder_inputs(batch_size):
  images_placeholder = tf.placeholder(tf.float32, shape=(batch_size,
                                                         mnist.IMAGE_PIXELS))
  labels_placeholder = tf.placeholder(tf.int32, shape=(batch_size))
  return images_placeholder, labels_placeholder


def fill_feed_dict(data_set, images_pl, labels_pl):
  images_feed, labels_feed = data_set.next_batch(FLAGS.batch_size,
                                                 FLAGS.fake_data)
  return {images_pl: images_feed, labels_pl: labels_feed}


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_set):
  true_count = 0
  steps_per_epoch = data_set.num_examples // FLAGS.batch_size
  num_examples = steps_per_epoch * FLAGS.batch_size
  for step in xrange(steps_per_epoch):
    feed_dict = fill_feed_dict(data_set, images_placeholder, labels_placeholder)
    true_count += sess.run(eval_correct, feed_dict=feed_dict)
  precision = float(true_count) / num_examples
  print('Num examples: %d  Num correct: %d  Precision @ 1: %0.04f' %
        (num_examples, true_count, precision))


def run_training():
  data_sets = input_data.read_data_sets(FLAGS.input_data_dir, FLAGS.fake_data)
  with tf.Graph().as_default():
    images_placeholder, labels_placeholder = placeholder_inputs(FLAGS.batch_size)
    logits = mnist.inference(images_placeholder, FLAGS.hidden1, FLAGS.hidden2)
    loss = mnist.loss(logits, labels_placeholder)
    train_op = mnist.training(loss, FLAGS.learning_rate)
    eval_correct = mnist.evaluation(logits, labels_placeholder)
    summary = tf.summary.merge_all()
    init = tf.global_variables_initializer()
    saver = tf.train.Saver()
    sess = tf.Session()
    summary_writer = tf.summary.FileWriter(FLAGS.log_dir, sess.graph)
    sess.run(init)
    for step in xrange(FLAGS.max_steps):
      start_time = time.time()
      feed_dict = fill_feed_dict(data_sets.train, images_placeholder,
                                 labels_placeholder)
      _, loss_value = sess.run([train_op, loss], feed_dict=feed_dict)
      duration = time.time() - start_time
      if step % 100 == 0:
        print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value, duration))
        summary_str = sess.run(summary, feed_dict=feed_dict)
        summary_writer.add_summary(summary_str, step)
        summary_writer.flush()
      if (step + 1) % 1000 == 0 or (step + 1) == FLAGS.max_steps:
        checkpoint_file = os.path.join(FLAGS.log_dir, 'model.ckpt')
        saver.save(sess, checkpoint_file, global_step=step)
        print('Training Data Eval:')
        do_eval(sess, eval_correct, images_placeholder, labels_placeholder,
                data_sets.train)
        print('Validation Data Eval:')
        do_eval(sess, eval_correct, images_placeholder, labels_placeholder,
                data_sets.validation)
        print('Test Data Eval:')
        do_eval(sess, eval_correct, images_placeholder, labels_placeholder,
                data_sets.test)


def main(_):
  if tf.gfile.Exists(FLAGS.log_dir):
    tf.gfile.DeleteRecursively(FLAGS.log_dir)
  tf.gfile.MakeDirs(FLAGS.log_dir)
  run_training()


if __name__ == '__main__':
  parser = argparse.ArgumentParser()
  parser.add_argument('--learning_rate', type=float, default=0.01,
                      help='Initial learning rate.')
  parser.add_argument('--max_steps', type=int, default=2000,
                      help='Number of steps to run trainer.')
  parser.add_argument('--hidden1', type=int, default=128,
                      help='Number of units in hidden layer 1.')
  parser.add_argument('--hidden2', type=int, default=32,
                      help='Number of units in hidden layer 2.')
  parser.add_argument('--batch_size', type=int, default=100,
                      help='Batch size.  Must divide evenly into the dataset sizes.')
  parser.add_argument('--input_data_dir', type=str,
                      default=os.path.join(os.getenv('TEST_TMPDIR', '/tmp'),
                                           'tensorflow/mnist/input_data'),
                      help='Directory to put the input data.')
  parser.add_argument('--log_dir', type=str,
                      default=os.path.join(os.getenv('TEST_TMPDIR', '/tmp'),
                                           'tensorflow/mnist/logs/fully_connected_feed'),
                      help='Directory to put the log data.')
  parser.add_argument('--fake_data', default=False, action='store_true',
                      help='If true, uses fake data for unit testing.')
  FLAGS, unparsed = parser.parse_known_args()
  tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)
"""

MAX_STEPS = 400


def _run_feed(tmp_path, *flags):
  script = tmp_path / "fully_connected_feed.py"
  script.write_text(FULLY_CONNECTED_FEED)
  log_dir = tmp_path / "logs"
  argv = CLI_RUN + [str(script), "--input_data_dir", str(tmp_path / "input_data"),
                    "--log_dir", str(log_dir), *flags]
  proc = run_child(argv, cwd=tmp_path)
  assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-6000:]}"
  return proc.stdout, log_dir


def _evals(stdout):
  """Returns {'Training': (examples, correct), 'Validation': ..., 'Test': ...}."""
  found = re.findall(r"(\w+) Data Eval:\nNum examples: (\d+)  Num correct: (\d+)  "
                     r"Precision @ 1: ([0-9.]+)", stdout)
  return {name: (int(n), int(correct)) for name, n, correct, _ in found}


def test_fully_connected_feed_runs_as_written(tmp_path):
  stdout, log_dir = _run_feed(tmp_path, "--max_steps", str(MAX_STEPS),
                              "--learning_rate", "0.1")
  losses = [float(v) for v in re.findall(r"^Step \d+: loss = ([0-9.]+) ", stdout,
                                         re.MULTILINE)]
  assert len(losses) == MAX_STEPS // 100 and losses[-1] < losses[0] / 3, stdout
  evals = _evals(stdout)
  assert [n for n, _ in evals.values()] == [55000, 5000, 10000], stdout

  # TF 1.15's variable names and shapes; global_step counted the steps.
  prefix = str(log_dir / f"model.ckpt-{MAX_STEPS - 1}")
  reader = tf.train.load_checkpoint(prefix)
  assert reader.get_variable_to_shape_map() == {
      "hidden1/weights": [784, 128], "hidden1/biases": [128],
      "hidden2/weights": [128, 32], "hidden2/biases": [32],
      "softmax_linear/weights": [32, 10], "softmax_linear/biases": [10],
      "global_step": []}
  assert reader.get_tensor("global_step") == MAX_STEPS
  assert any(f.startswith("events.out.tfevents.") for f in os.listdir(log_dir))
  assert not (tmp_path / "input_data").exists()  # read offline, nothing written

  # The evaluation, recomputed with NumPy from the saved weights.
  w = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
  mnist = toolkit_mnist.load_mnist()
  for name, split in (("Validation", mnist.validation), ("Test", mnist.test)):
    a = np.maximum(split.images @ w["hidden1/weights"] + w["hidden1/biases"], 0)
    a = np.maximum(a @ w["hidden2/weights"] + w["hidden2/biases"], 0)
    logits = a @ w["softmax_linear/weights"] + w["softmax_linear/biases"]
    correct = int(np.sum(np.argmax(logits, axis=1) == split.labels))
    assert evals[name][1] == pytest.approx(correct, abs=2), name  # float32 ties
    assert correct / len(split.labels) >= 0.88, name


def test_fully_connected_feed_with_fake_data(tmp_path):
  """`--fake_data`: the tutorial's own smoke test, 10,000 fake examples a split."""
  stdout, log_dir = _run_feed(tmp_path, "--fake_data", "--max_steps", "2",
                              "--batch_size", "50")
  evals = list(_evals(stdout).values())
  assert [n for n, _ in evals] == [10000] * 3, stdout
  # Every fake example is the same image and label: all right or all wrong.
  assert all(correct in (0, 10000) for _, correct in evals), stdout
  assert (log_dir / "model.ckpt-1.index").is_file()
