"""Tests of the quiet TensorFlow import used by the command line, demos and benchmarks."""

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
