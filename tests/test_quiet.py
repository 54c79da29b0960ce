"""Tests of `dnn_toolkit.compat`: the quiet TensorFlow import, the deprecation silencer."""

import logging
import os
import subprocess
import sys
import textwrap

CODE = textwrap.dedent("""
    import logging, warnings
    import dnn_toolkit
    tf = dnn_toolkit.import_tensorflow_quietly()
    assert dnn_toolkit.import_tensorflow_quietly() is tf  # Idempotent.
    with tf.Graph().as_default():
      tf.compat.v1.Session().run(tf.constant(1))
    warnings.warn("a warning of the user's own code")
    tf.get_logger().warning("a real TensorFlow warning")
    tf.get_logger().warning("foo (from bar) is deprecated and will be removed soon")
    print("done")
""")


def test_start_up_notices_are_hidden_and_real_warnings_kept():
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                        env=env, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == "done"
  err = proc.stderr
  assert "a warning of the user's own code" in err
  assert "a real TensorFlow warning" in err
  assert "is deprecated and will be removed" not in err
  for noise in ("I0000", "absl::InitializeLog", "cuInit", "oneDNN"):
    assert noise not in err, err


# -------------------------------------------------- compat: one home for the switches


def _records(logger, *messages):
  """The messages of `messages` that pass `logger`'s filters."""
  return [m for m in messages
          if logger.filter(logging.LogRecord("tensorflow", logging.WARNING, __file__, 1,
                                             m, None, None))]


def test_silenced_tf_deprecations_drops_the_notices_only_inside_the_block():
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  logger = logging.getLogger("tensorflow")
  notice = "remove_checkpoint (from tensorflow) is deprecated and will be removed"
  before = list(logger.filters)
  with compat.silenced_tf_deprecations():
    assert _records(logger, notice, "a real warning") == ["a real warning"]
    with compat.silenced_tf_deprecations():  # Nested blocks are fine.
      assert _records(logger, notice) == []
    assert _records(logger, notice) == []
  assert logger.filters == before


def test_a_users_deprecated_call_is_reported_through_the_runner(tmp_path):
  """The user's `keep_prob` is told; the Saver's own deprecated helper is not."""
  script = tmp_path / "old.py"
  script.write_text(textwrap.dedent("""
      import tensorflow as tf
      x = tf.placeholder(tf.float32, [None, 3])
      y = tf.nn.dropout(x, keep_prob=0.5)
      saver = tf.train.Saver([tf.Variable(1.0)], max_to_keep=1)
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(3):  # Rotation calls TensorFlow's deprecated internals.
          saver.save(sess, %r, global_step=step)
      print("built")
  """ % str(tmp_path / "model.ckpt")))
  proc = subprocess.run([sys.executable, "-m", "dnn_toolkit.runner", str(script)],
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == "built"
  assert "keep_prob is deprecated" in proc.stderr
  assert "Please use `rate` instead of `keep_prob`" in proc.stderr
  assert "remove_checkpoint" not in proc.stderr, proc.stderr


def test_the_public_names_come_from_compat():
  import dnn_toolkit  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  assert dnn_toolkit.import_tensorflow_quietly() is compat.import_tensorflow_quietly()
  assert "enable_tf1_behavior" in dnn_toolkit.__all__
  assert compat.is_startup_notice("I0000 00:00:17.35 12129 port.cc:153] oneDNN on")
  assert compat.is_startup_notice(
      "E0000 00:00:17.92 12129 cuda_platform.cc:52] failed call to cuInit: INTERNAL")
  assert not compat.is_startup_notice("W0000 00:00:17.92 a real TensorFlow warning")


def test_importing_compat_or_the_package_loads_no_tensorflow():
  proc = subprocess.run(
      [sys.executable, "-c", "import sys, dnn_toolkit, dnn_toolkit.compat; "
       "print('tensorflow' in sys.modules)"],
      capture_output=True, text=True, timeout=60, check=False)
  assert (proc.returncode, proc.stdout) == (0, "False\n"), proc.stderr
