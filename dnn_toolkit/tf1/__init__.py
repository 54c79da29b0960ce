"""A stand-in for TF 1.x's `tensorflow` namespace: TF 1.x code runs after one change.

    import dnn_toolkit.tf1 as tf        # was: import tensorflow as tf

    X = tf.placeholder(tf.float32, shape=(None, 784), name="X")
    training = tf.placeholder_with_default(False, shape=(), name="training")
    hidden1 = tf.layers.dense(X, 300, activation=tf.nn.relu, name="hidden1")
    bn1 = tf.layers.batch_normalization(hidden1, training=training, momentum=0.9)
    logits = tf.layers.dense(tf.layers.dropout(bn1, 0.5, training=training), 10)
    mnist = tf.examples.tutorials.mnist.input_data.read_data_sets("MNIST_data/")
    with tf.Session() as sess: ...

It holds every name of `tf.compat.v1`, plus what TF 1.x had and today's TensorFlow
lacks or only offers through Keras 2:

  tf.layers                dense, batch_normalization, dropout, flatten, conv2d,
                           conv2d_transpose, ..., and the classes (Dense, Conv2D, ...)
                           (`dnn_toolkit.layers.tf_layers`: TF 1.15 signatures and names)
  tf.contrib.layers        fully_connected, batch_norm, dropout, ..., the contrib
                           initializers and regularizers (`dnn_toolkit.layers.contrib`)
  tf.contrib.framework     arg_scope, add_arg_scope, get_or_create_global_step
  tf.contrib.eager         TF 1.x's eager API (`tfe`): Variable, implicit_gradients,
                           Iterator, Saver, metrics, ...
  tf.keras.datasets.mnist  load_data(), from the toolkit's offline MNIST
  tf.examples.tutorials.mnist.input_data
                           read_data_sets(dir, one_hot=...), train.next_batch(n)
  tf.examples.tutorials.mnist.mnist
                           the tutorial model of fully_connected_feed.py
  tf.compat.v1             this module; tf.compat.v2 is TensorFlow 2's API
  tf.nn                    tf.compat.v1.nn; tf.nn.rnn_cell's cells, which need Keras 2
                           there, are `dnn_toolkit.layers.rnn_cell`'s
  tf.contrib.rnn           those cells, contrib's wrappers, static_rnn, ...

IMPORTING IT SWITCHES THE WHOLE PROCESS TO TF 1.x BEHAVIOUR: it calls
`tf.compat.v1.disable_v2_behavior()` (graph mode, reference variables, TF 1.x control
flow), which cannot be undone, except for the one switch TF 1.x itself offered: a
program that calls `tf.enable_eager_execution()` at its start, before anything has
used a graph, runs eagerly, as in TF 1.x (importing the stand-in uses no graph; see
`dnn_toolkit.tf1.contrib.eager`). Do not import it in a process that also runs
TensorFlow 2 or Keras 3 code. The installed TensorFlow is not modified.

Importing it imports TensorFlow without its C++ start-up lines (as the command line
does, `dnn_toolkit.compat.import_tensorflow_quietly`): a notebook's first cell shows
no `I0000 ...` lines and no `failed call to cuInit` on a machine without a GPU.
`TF_CPP_MIN_LOG_LEVEL` is set to 2 only if it is unset; every other line on stderr and
every warning of the user's code still shows.

A TF 1.x name that cannot be honoured (removed with no equivalent, such as
`tf.contrib.slim`, or not provided, such as `tf.contrib.layers.layer_norm`) raises
`UnavailableAPIError`, naming the TF 1.x API and what to use instead; so does an import
of a removed TF 1.x module (`from tensorflow.contrib.factorization import KMeans`),
with `UnavailableModuleError`, in a script that imports the stand-in.

To run an unmodified script (`import tensorflow as tf`), use the runner,
`dnn-toolkit run SCRIPT ARGS...` or `python -m dnn_toolkit.runner SCRIPT ARGS...`;
in a notebook, `%load_ext dnn_toolkit.tf1` does the same for the kernel. See
docs/tf1_code.md.
"""

import sys as _sys
from typing import Any as _Any

from dnn_toolkit import compat as _compat

# Before anything else imports TensorFlow: its C++ start-up lines go to fd 2 at import.
_tf = _compat.import_tensorflow_quietly()

# pylint: disable=wrong-import-position
from dnn_toolkit.tf1._unavailable import UnavailableAPIError, UnavailableModuleError
from dnn_toolkit.tf1._unavailable import advice as _advice

with _compat.silenced_tf_deprecations():  # TF's notice about its own internals
  _compat.enable_tf1_behavior()

# The stand-in's own modules; every other public name is tf.compat.v1's.
_OWN = ("compat", "contrib", "estimator", "examples", "keras", "layers", "nn")
for _name in dir(_tf.compat.v1):
  if not _name.startswith("_") and _name not in _OWN:
    globals()[_name] = getattr(_tf.compat.v1, _name)
del _name

# pylint: disable=wrong-import-position
from dnn_toolkit.tf1 import compat, contrib, estimator, examples, keras, layers, nn
from dnn_toolkit.tf1 import aliasing as _aliasing

# pylint: enable=wrong-import-position

_aliasing.answer_removed_modules()

__version__ = _tf.__version__


def __getattr__(name: str) -> _Any:
  """TF 1.x names with no equivalent raise UnavailableAPIError; others are TF's own.

  Names of today's top-level `tensorflow` that `tf.compat.v1` lacks (`tf.python`,
  ...) come from it, so TF 1.x scripts that reach into them keep working.
  """
  if not name.startswith("_"):
    if _advice(f"tf.{name}") is not None:
      raise UnavailableAPIError(f"tf.{name}")
    if hasattr(_tf, name):
      return getattr(_tf, name)
    submodule = _sys.modules.get(f"tensorflow.{name}")
    if submodule is not None and submodule.__name__.startswith("tensorflow."):
      return submodule  # e.g. tensorflow.python, which `import a.b.c as m` reaches.
  raise AttributeError(f"module {__name__!r} (TF 1.x's tensorflow) has no attribute "
                       f"{name!r}")


def load_ipython_extension(ipython: _Any) -> None:
  """`%load_ext dnn_toolkit.tf1`: `import tensorflow` in the kernel gives this module.

  From then on the notebook's cells run TF 1.x code unmodified, as `dnn-toolkit run`
  runs a script; see `dnn_toolkit.tf1.aliasing`. Load it in the first cell: a name
  bound by an `import tensorflow` that ran before still holds today's TensorFlow, so
  such a cell must run again.

  Args:
    ipython: the IPython shell (unused: the aliasing is process-wide).
  """
  del ipython
  from dnn_toolkit.tf1 import aliasing  # pylint: disable=import-outside-toplevel
  aliasing.install()


def unload_ipython_extension(ipython: _Any) -> None:
  """`%unload_ext dnn_toolkit.tf1`: `import tensorflow` gives TensorFlow again.

  TF 1.x behaviour stays on: `disable_v2_behavior` cannot be undone.
  """
  del ipython
  from dnn_toolkit.tf1 import aliasing  # pylint: disable=import-outside-toplevel
  aliasing.uninstall()
