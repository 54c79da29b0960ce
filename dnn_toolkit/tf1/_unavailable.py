"""The errors for TF 1.x names the stand-in cannot honour, and what to use instead.

A TF 1.x script that reaches for something removed from TensorFlow (or not provided
here) gets one error that names the TF 1.x API and the replacement, rather than a bare
`AttributeError` or `No module named ...`:

    >>> tf.contrib.slim
    UnavailableAPIError: tf.contrib.slim is not available in dnn_toolkit.tf1: ...

Attribute access raises `UnavailableAPIError` (a `NotImplementedError`, so that
`from tensorflow.contrib.layers import layer_norm` shows this message, which Python
would replace for an `AttributeError`); an import of a removed module raises
`UnavailableModuleError` (a `ModuleNotFoundError`, which `except ImportError` catches).
"""

from collections.abc import Callable, Collection

from dnn_toolkit.errors import DnnToolkitError

_CONTRIB_GONE = "tf.contrib was removed in TensorFlow 2.0"
_PROVIDED = ("dnn_toolkit.tf1 provides tf.layers (TF 1.15's functions and classes: "
             "dense, batch_normalization, dropout, flatten, conv1d/2d/3d, "
             "conv2d_transpose, separable_conv2d, pooling, Dense, Conv2D, ...), "
             "tf.contrib.layers (fully_connected, conv2d, conv2d_transpose, max_pool2d, "
             "avg_pool2d, batch_norm, dropout, the initializers and regularizers), "
             "tf.contrib.framework.arg_scope and tf.contrib.eager (tfe)")
_KERAS = ("Keras 3, today's tf.keras, does not build TF 1.x graphs: use tf.layers "
          "(dense, batch_normalization, dropout, flatten) or tf.contrib.layers, which "
          "dnn_toolkit.tf1 provides")
_BY_HAND = "build it from tf.get_variable and tf.nn ops"
# Why the contrib estimators are out of scope, and what replaced them.
_ALGORITHMS_GONE = (f"{_CONTRIB_GONE}, and dnn_toolkit.tf1 does not rebuild it: it is a "
                    "whole training algorithm packaged as a tf.contrib.learn estimator, "
                    "not layers or graph ops, and well-kept libraries do the job today")
_TFE = ("dnn_toolkit.tf1 provides tf.contrib.eager's Variable, implicit_gradients, "
        "implicit_value_and_gradients, gradients_function, "
        "value_and_gradients_function, GradientTape, Iterator, Saver, Checkpoint, "
        "Network, metrics, num_gpus and list_devices")
_NETWORK = ("dnn_toolkit.tf1 provides tfe.Network (track_layer, call) but not its "
            "Sequential or network-checkpoint helpers: subclass tfe.Network with a call "
            "that applies the layers in order, and save its variables with "
            "tfe.Saver(network.variables) or tf.train.Checkpoint")

# TF 1.x name -> what to use instead. Prefixes (ending in '.') cover whole namespaces.
ADVICE: dict[str, str] = {
    "tf.contrib.learn": (f"{_CONTRIB_GONE}. For MNIST use "
                         "tf.examples.tutorials.mnist.input_data.read_data_sets or "
                         "tf.keras.datasets.mnist.load_data(), both provided offline; "
                         "train with a tf.Session loop"),
    "tf.contrib.slim": (f"{_CONTRIB_GONE}. Use tf.contrib.layers (fully_connected, "
                        "batch_norm, dropout) and tf.contrib.framework.arg_scope, which "
                        "dnn_toolkit.tf1 provides, or install tf-slim"),
    "tf.contrib.rnn.": (f"{_CONTRIB_GONE}. dnn_toolkit.tf1 provides its core cells "
                        "and wrappers (BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell, "
                        "MultiRNNCell, DropoutWrapper, OutputProjectionWrapper, ...) "
                        "and static_rnn, static_bidirectional_rnn; for another cell "
                        "subclass tf.nn.rnn_cell.RNNCell and "
                        f"{_BY_HAND}"),
    "tf.contrib.data": f"{_CONTRIB_GONE}. Use tf.data",
    "tf.contrib.metrics": f"{_CONTRIB_GONE}. Use tf.metrics",
    "tf.contrib.losses": f"{_CONTRIB_GONE}. Use tf.losses",
    "tf.contrib.distributions": (f"{_CONTRIB_GONE}. Use tf.distributions's successor, "
                                 "the tensorflow-probability package"),
    "tf.contrib.lookup": f"{_CONTRIB_GONE}. Use tf.lookup",
    "tf.contrib.summary": f"{_CONTRIB_GONE}. Use tf.summary (tf.summary.FileWriter)",
    "tf.contrib.factorization": (
        f"{_ALGORITHMS_GONE}. For KMeans use scikit-learn's sklearn.cluster.KMeans (or "
        "MiniBatchKMeans), for GMM sklearn.mixture.GaussianMixture, for WALS matrix "
        "factorization an alternating-least-squares library such as implicit"),
    "tf.contrib.tensor_forest": (
        f"{_ALGORITHMS_GONE}; its forest ops are C++ kernels today's TensorFlow no "
        "longer ships. Use tensorflow_decision_forests (Keras models, TF 2 code) or "
        "sklearn.ensemble.RandomForestClassifier / RandomForestRegressor"),
    "tf.contrib.boosted_trees": (
        f"{_ALGORITHMS_GONE}; its successor tf.estimator.BoostedTreesClassifier went "
        "with tf.estimator in TensorFlow 2.16. Use XGBoost, LightGBM, "
        "sklearn.ensemble.HistGradientBoostingClassifier or tensorflow_decision_forests"),
    "tf.contrib.linear_optimizer": (f"{_ALGORITHMS_GONE}. For SDCA-trained linear "
                                    "models use sklearn.linear_model.SGDClassifier"),
    "tf.contrib.eager.": (f"{_CONTRIB_GONE}. {_TFE}; execution callbacks: use "
                          "tf.debugging.check_numerics; tfe.defun: tf.function"),
    "tf.contrib.eager.Sequential": _NETWORK,
    "tf.contrib.eager.save_network_checkpoint": _NETWORK,
    "tf.contrib.eager.restore_network_checkpoint": _NETWORK,
    "tf.contrib.tensorboard": (f"{_CONTRIB_GONE}. For the embedding projector use "
                               "tensorboard.plugins.projector (the tensorboard "
                               "package)"),
    "tf.contrib.training": (f"{_CONTRIB_GONE}. For HParams use a dict or argparse; for "
                            "input pipelines, tf.data"),
    "tf.contrib.keras": f"{_CONTRIB_GONE}. {_KERAS}",
    "tf.contrib.signal": f"{_CONTRIB_GONE}. Use tf.signal",
    "tf.contrib.lite": f"{_CONTRIB_GONE}. Use tf.lite",
    "tf.contrib.saved_model": f"{_CONTRIB_GONE}. Use tf.saved_model",
    "tf.contrib.checkpoint": f"{_CONTRIB_GONE}. Use tf.train.Checkpoint",
    "tf.contrib.cluster_resolver": (f"{_CONTRIB_GONE}. Use "
                                    "tf.distribute.cluster_resolver"),
    "tf.contrib.distribute": f"{_CONTRIB_GONE}. Use tf.distribute",
    "tf.contrib.autograph": f"{_CONTRIB_GONE}. Use tf.autograph",
    "tf.contrib.util": (f"{_CONTRIB_GONE}. Use tf.make_tensor_proto and "
                        "tf.make_ndarray"),
    "tf.contrib.quantize": (f"{_CONTRIB_GONE}. Use the tensorflow-model-optimization "
                            "package"),
    "tf.contrib.model_pruning": (f"{_CONTRIB_GONE}. Use the "
                                 "tensorflow-model-optimization package"),
    "tf.contrib.gan": f"{_CONTRIB_GONE}. Use the tensorflow-gan package",
    "tf.contrib.bayesflow": (f"{_CONTRIB_GONE}. Use the tensorflow-probability "
                             "package"),
    "tf.contrib.framework.": (f"{_CONTRIB_GONE}. dnn_toolkit.tf1 provides "
                              "tf.contrib.framework.arg_scope, add_arg_scope, "
                              "get_or_create_global_step and get_global_step; for "
                              "variables by scope use tf.get_collection("
                              "tf.GraphKeys.GLOBAL_VARIABLES, scope=...)"),
    "tf.contrib.layers.": (f"{_CONTRIB_GONE}. {_PROVIDED}; for anything else "
                           f"{_BY_HAND}"),
    "tf.contrib.": f"{_CONTRIB_GONE}. {_PROVIDED}",
    "tf.layers.": ("dnn_toolkit.tf1 provides TF 1.15's tf.layers functions and classes "
                   "but not tf.layers.experimental (Keras-style variable management); "
                   "share variables with name= and reuse=True, or call one layer "
                   "object twice"),
    "tf.keras.datasets.": ("dnn_toolkit.tf1 provides only tf.keras.datasets.mnist "
                           "(offline)"),
    "tf.keras.": _KERAS,
    "tf.estimator.": ("dnn_toolkit.tf1 provides tf.estimator's Estimator, RunConfig, "
                      "train_and_evaluate, inputs, export and the DNN, linear and "
                      "DNN-linear-combined models (docs/estimator.md), not this name; "
                      "write a model_fn for it"),
    "tf.examples.": ("dnn_toolkit.tf1 provides only "
                     "tf.examples.tutorials.mnist (input_data and mnist)"),
}


class UnavailableAPIError(DnnToolkitError, NotImplementedError):
  """A TF 1.x attribute the stand-in cannot provide; says what to use instead.

  Attributes:
    api: the TF 1.x name, e.g. 'tf.contrib.slim'.
  """

  def __init__(self, api: str) -> None:
    super().__init__(message(api))
    self.api: str = api


class UnavailableModuleError(DnnToolkitError, ModuleNotFoundError):
  """An import of a TF 1.x module the stand-in cannot provide (`import ...slim`).

  Attributes:
    api: the TF 1.x name, e.g. 'tf.contrib.slim'.
    provided_as: the stand-in module that provides `api` under its own name
      ('dnn_toolkit.tf1.contrib.layers'), when the script asked today's TensorFlow
      for it (`import dnn_toolkit.tf1 as tf`, then `import tensorflow.contrib.layers`);
      else None.
  """

  def __init__(self, api: str, module_name: str, provided_as: str | None = None
               ) -> None:
    super().__init__(message(api, provided_as), name=module_name)
    self.api: str = api
    self.provided_as: str | None = provided_as


def advice(api: str) -> str | None:
  """Returns what to use instead of TF 1.x's `api` ('tf.contrib.slim'), or None."""
  matches = [key for key in ADVICE
             if api == key or api.startswith(key if key.endswith(".") else key + ".")]
  return ADVICE[max(matches, key=len)] if matches else None


def message(api: str, provided_as: str | None = None) -> str:
  """Returns the error message for TF 1.x's `api` (see `UnavailableModuleError`)."""
  if provided_as is not None:
    return (f"{api} is not in today's TensorFlow; dnn_toolkit.tf1 provides it as "
            f"{provided_as}: import it from there (`import dnn_toolkit.tf1 as tf` "
            "changes what `tf` names, not what `import tensorflow...` gives), or run "
            "the script unmodified with `dnn-toolkit run SCRIPT`.")
  return f"{api} is not available in dnn_toolkit.tf1: {advice(api) or _PROVIDED}."


def module_getattr(module_name: str, api_prefix: str,
                   known: Collection[str] | None = None) -> Callable[[str], object]:
  """Returns a module `__getattr__` raising UnavailableAPIError for TF 1.x names.

  Args:
    module_name: the module's `__name__`, for the plain AttributeError.
    api_prefix: the TF 1.x name of the module, e.g. 'tf.contrib.layers'.
    known: optional collection of the TF 1.x names of the namespace; other names then
      raise a plain AttributeError. None: every public name is a TF 1.x one.

  Returns:
    `__getattr__(name)`: private and dunder names (and unknown ones) raise
    AttributeError, as for any module, so `hasattr` and introspection work.
  """

  def __getattr__(name):
    if not name.startswith("_") and (known is None or name in known):
      raise UnavailableAPIError(f"{api_prefix}.{name}")
    raise AttributeError(f"module {module_name!r} ({api_prefix}) has no attribute "
                         f"{name!r}")

  return __getattr__
