"""dnn_toolkit: train deep neural nets the TensorFlow 1.x way on today's TensorFlow.

Graph mode, `tf.compat.v1`, Sessions, and the tf.contrib.layers builders back:

    import tensorflow.compat.v1 as tf
    from dnn_toolkit.layers import fully_connected, batch_norm, dropout

Importing the package changes no global TensorFlow state (it does not even import
TensorFlow until a submodule is used); see `enable_tf1_behavior` for the lesson's
top-level placeholder style.
"""

__version__ = "0.1.0"


def enable_tf1_behavior():
  """Switches the process to TF 1.x behaviour; see `dnn_toolkit.compat`."""
  from dnn_toolkit import compat  # pylint: disable=import-outside-toplevel
  compat.enable_tf1_behavior()


def import_tensorflow_quietly():
  """Imports TensorFlow without its start-up log lines; returns the module.

  For scripts and entry points: TensorFlow's C++ start-up notices and its notices about
  its own deprecated internals are dropped, every other warning still shows.
  """
  from dnn_toolkit import _quiet  # pylint: disable=import-outside-toplevel
  return _quiet.import_tensorflow_quietly()


__all__ = ["enable_tf1_behavior", "import_tensorflow_quietly", "__version__"]
