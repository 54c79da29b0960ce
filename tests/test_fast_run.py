"""Tests of the per-step Session call that bypasses Session.run's bookkeeping."""

import numpy as np
import tensorflow as tf

from dnn_toolkit.training import _fast_run

V1 = tf.compat.v1


def _counter_graph():
  x = V1.placeholder(tf.float32, (None, 3), name="x")
  flag = V1.placeholder_with_default(False, (), name="flag")
  total = V1.get_variable("total", (), initializer=V1.zeros_initializer())
  add = V1.assign_add(total, tf.reduce_sum(x) * tf.cast(flag, tf.float32)).op
  value = tf.stack([tf.reduce_sum(x), tf.cast(flag, tf.float32)])
  return x, flag, total, add, value


def test_step_runs_the_target_and_returns_the_fetch_like_session_run():
  with tf.Graph().as_default():
    x, flag, total, add, value = _counter_graph()
    with V1.Session() as sess:
      sess.run(V1.global_variables_initializer())
      step = _fast_run.step_function(sess, add, value, [x, flag])
      batch = np.arange(6, dtype=np.float32).reshape(2, 3)
      got = step(batch, True)
      np.testing.assert_array_equal(got, sess.run(value, {x: batch, flag: True}))
      assert sess.run(total) == 15.0  # The target ran once.


def test_values_are_converted_to_the_placeholder_dtype():
  with tf.Graph().as_default():
    x, flag, total, add, value = _counter_graph()
    with V1.Session() as sess:
      sess.run(V1.global_variables_initializer())
      step = _fast_run.step_function(sess, add, value, [x, flag])
      step([[1, 2, 3]], 1)  # Python ints and an int flag, as sess.run accepts.
      assert sess.run(total) == 6.0


def test_without_session_internals_it_falls_back_to_make_callable():

  class PublicOnly:  # A Session that exposes only the public API.

    def __init__(self, sess):
      self.make_callable = sess.make_callable

  with tf.Graph().as_default():
    x, flag, total, add, value = _counter_graph()
    with V1.Session() as sess:
      sess.run(V1.global_variables_initializer())
      step = _fast_run.step_function(PublicOnly(sess), add, value, [x, flag])
      np.testing.assert_array_equal(step(np.ones((1, 3), np.float32), True), [3.0, 1.0])
      assert sess.run(total) == 3.0
