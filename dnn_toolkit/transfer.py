"""Reusing pretrained layers: restore some, replace others, freeze, unfreeze, cache.

The lesson's recipe (reuse hidden layers 1-3 of a saved model, add new layers on top),
in dnn_toolkit's terms:

    base = transfer.load_pretrained("checkpoints/digits-0-4")  # its config + best weights
    config = dataclasses.replace(base.config, n_outputs=5,         # a new output layer
                                 hidden_layers=(100, 100, 100, 20))  # a new hidden4
    with tf.Graph().as_default():
      model = transfer.build_transfer_dnn(base, config, n_inputs=784, reuse=3,
                                          frozen_layers=3)
      init = tf.compat.v1.global_variables_initializer()
      with tf.compat.v1.Session() as sess:
        sess.run(init)               # every layer random ...
        model.restore(sess)          # ... then hidden1-3 (with batch norm's statistics)
        training.fit(sess, model.dnn, train, validation)  # trains hidden4 and outputs

Frozen layers (`frozen_layers`) run in inference mode: batch norm uses its restored
moving statistics and updates nothing, and they have no dropout. Their output is then a
fixed function of the input, which is what makes caching exact: `fit_cached` computes
it once per data set and trains the layers above on it, reaching the same weights as
uncached training with the same seed (up to float rounding). Layers unfrozen later
(`unfreeze`) keep running in inference mode, which is also what Keras recommends when
fine-tuning a model with batch norm.
"""

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, optimizers, scopes
from dnn_toolkit.checkpoints import Pretrained
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data.arrays import DataSet, as_arrays
from dnn_toolkit.errors import CheckpointError
from dnn_toolkit.model import DNN, build_dnn, hidden_scope, hidden_scope_pattern
from dnn_toolkit.scopes import scope_variables
from dnn_toolkit.training import loop as training

_V1 = tf.compat.v1



def load_pretrained(run_dir: str | os.PathLike[str], which: str = "best") -> Pretrained:
  """Returns the `Pretrained` (config, checkpoint) of a run written by `runs.lifecycle.train`.

  Args:
    run_dir: the run directory (with state.json).
    which: 'best' (default; the weights of the lowest validation loss) or 'latest'.

  Returns:
    A `Pretrained`.

  Raises:
    ValueError: if `which` is neither 'best' nor 'latest'.
    CheckpointError: if the run has no state file or no such checkpoint.
  """
  _validation.check_choice("which", which, ("best", "latest"))
  record = checkpoints.RunRecord.read(os.fspath(run_dir))
  path = record.best_checkpoint if which == "best" else record.latest_checkpoint
  if not path:
    raise CheckpointError(f"The run in {run_dir!r} has no {which} checkpoint yet.")
  return Pretrained(record.config, path)


def layers_pattern(layers: Sequence[int]) -> str:
  """Returns the scope pattern of hidden layers by number: (1, 2, 3) -> 'hidden(1|2|3)'.

  Raises:
    ValueError: if `layers` is empty.
  """
  layers = list(layers)
  if not layers:
    raise ValueError("Expected at least one hidden layer number. Received: layers=[]")
  return hidden_scope_pattern(layers)


@dataclasses.dataclass
class TransferDNN:
  """A `DNN` some of whose hidden layers come from a pretrained model.

  Attributes:
    dnn: the built `DNN` (train it with `training.fit` as any other).
    pretrained: the `Pretrained` the reused layers come from.
    reused: the numbers of the reused hidden layers, e.g. (1, 2, 3).
    frozen_layers: how many of the lowest hidden layers are frozen.
  """
  dnn: DNN
  pretrained: Pretrained
  reused: tuple[int, ...]
  frozen_layers: int

  @property
  def pattern(self) -> str:
    """The scope pattern of the reused layers, e.g. 'hidden(1|2|3)'."""
    return layers_pattern(self.reused)

  @property
  def frozen_output(self) -> tf.Tensor | None:
    """The output of the top frozen layer, `[batch_size, units]`, or None."""
    return self.dnn.hidden[self.frozen_layers - 1] if self.frozen_layers else None

  def restore(self, sess: tf.compat.v1.Session) -> dict[str, str]:
    """Restores the reused layers (all their model variables) from the checkpoint.

    Returns:
      A dict {graph variable name: checkpoint name} of what was restored.

    Raises:
      CheckpointError, NoMatchError, ShapeMismatchError: see
        `scopes.restore_scopes`; nothing is restored then.
    """
    return scopes.restore_scopes(sess, self.pretrained.checkpoint, self.pattern)


def _check_reuse(reuse, base, config):
  """Returns the reused layer numbers as a sorted tuple, or raises naming the problem."""
  if isinstance(reuse, bool) or not isinstance(reuse, (int, np.integer, list, tuple)):
    raise TypeError("Expected `reuse` to be a number of lowest hidden layers or a "
                    "sequence of hidden layer numbers (1-based). "
                    f"Received: reuse={reuse!r}")
  if isinstance(reuse, (int, np.integer)):
    reuse = range(1, _validation.check_positive_int("reuse", reuse) + 1)
  layers = [_validation.check_positive_int("reuse", i) for i in reuse]
  limit = min(len(base.hidden_layers), len(config.hidden_layers))
  if not layers or len(set(layers)) != len(layers) or max(layers) > limit:
    raise ValueError(f"Received an invalid value for `reuse`, expected distinct hidden "
                     f"layer numbers in [1, {limit}] (the pretrained model has "
                     f"{len(base.hidden_layers)}, the new one "
                     f"{len(config.hidden_layers)}). Received: reuse={list(reuse)}")
  for i in layers:
    if base.hidden_layers[i - 1] != config.hidden_layers[i - 1]:
      raise ValueError(f"Cannot reuse {hidden_scope(i)}: it has "
                       f"{base.hidden_layers[i - 1]} units in the pretrained model and "
                       f"{config.hidden_layers[i - 1]} in `config`; give reused layers "
                       "the same size.")
  if base.batch_norm != config.batch_norm:
    raise ValueError("Cannot reuse layers across batch_norm settings (their variables "
                     f"differ): the pretrained model has batch_norm={base.batch_norm}, "
                     f"`config` batch_norm={config.batch_norm}.")
  return tuple(sorted(layers))


def build_transfer_dnn(pretrained: Pretrained | tuple[DNNConfig, str],
                       config: DNNConfig, n_inputs: int, reuse: int | Sequence[int],
                       frozen_layers: int = 0,
                       stop_gradient: bool = False) -> TransferDNN:
  """Builds a DNN that reuses hidden layers of a pretrained model, in the default graph.

  The layers numbered in `reuse` are restored by `TransferDNN.restore`; every other
  layer, including a replaced one (reuse=(1, 2, 3, 5) with a new hidden4) and the
  output layer, keeps its fresh initialization. Everything about the checkpoint is
  checked here, before a Session exists.

  Args:
    pretrained: a `Pretrained` (or a (config, checkpoint) pair), e.g. from
      `load_pretrained`.
    config: the new model's `DNNConfig`; reused layers must keep their sizes.
    n_inputs: positive int, the number of input features.
    reuse: int N for hidden layers 1..N, or a sequence of layer numbers (1-based).
    frozen_layers: int, the lowest hidden layers frozen (all of them reused).
    stop_gradient: freeze with `tf.stop_gradient` instead of the optimizer's var_list.

  Returns:
    A `TransferDNN`.

  Raises:
    TypeError, ValueError: on a bad argument, a reused layer whose size differs, or
      frozen layers that are not reused.
    CheckpointError, NoMatchError, ShapeMismatchError: if the checkpoint is missing,
      unreadable, or does not hold the reused layers with these shapes.
  """
  if not (isinstance(pretrained, tuple) and len(pretrained) == 2
          and isinstance(pretrained[0], DNNConfig)):
    raise TypeError("Expected `pretrained` to be a Pretrained(config, checkpoint). "
                    f"Received: pretrained={pretrained!r}")
  pretrained = Pretrained(*pretrained)
  config.validate()
  reused = _check_reuse(reuse, pretrained.config, config)
  frozen_layers = _validation.check_non_negative_int("frozen_layers", frozen_layers)
  if any(i not in reused for i in range(1, frozen_layers + 1)):
    raise ValueError(f"Received an invalid value for `frozen_layers`, expected frozen "
                     f"layers that are all reused (reuse={list(reused)}). "
                     f"Received: frozen_layers={frozen_layers}")
  dnn = build_dnn(config, n_inputs, frozen_layers=frozen_layers,
                  stop_gradient=stop_gradient)
  scopes.plan_restore(pretrained.checkpoint, layers_pattern(reused))
  return TransferDNN(dnn, pretrained, reused, frozen_layers)


# --------------------------------------------------------------- freeze, unfreeze


def trained_variables(dnn: DNN) -> list[tf.Variable]:
  """Returns the variables that `dnn.train_op` updates (those with a gradient)."""
  return [v for g, v in dnn.grads_and_vars if g is not None]


def freeze(dnn: DNN, pattern: str) -> tuple[DNN, tf.Operation]:
  """Returns a copy of `dnn` whose train op leaves the variables `pattern` matches alone.

  The first of the lesson's two ways: the optimizer only gets the other trainable
  variables (`var_list`). It changes only what the optimizer updates: layers built
  unfrozen keep their batch norm in training mode (batch statistics, moving averages
  updated) and their dropout and max-norm clipping; build with
  `build_dnn(..., frozen_layers=k)` to freeze hidden1..k completely (needed to cache).

      dnn, init_new = transfer.freeze(dnn, "hidden[1-3]")
      sess.run(init_new)   # the new optimizer's slots; no other variable is touched

  Args:
    dnn: a `DNN` (or the `dnn` of a `TransferDNN`).
    pattern: scope pattern of the variables to freeze, e.g. 'hidden[123]'.

  Returns:
    (the new `DNN`, an op initializing the new optimizer's variables). Run the op before
    training, in the Session that holds the other variables.

  Raises:
    NoMatchError: if `pattern` matches no trainable variable (the message lists them).
    ValueError: if nothing would be left to train.
  """
  graph = dnn.loss.graph
  frozen = {v.op.name for v in scope_variables(pattern, graph=graph)}
  var_list = [v for v in graph.get_collection(_V1.GraphKeys.TRAINABLE_VARIABLES)
              if v.op.name not in frozen]
  if not var_list:
    raise ValueError(f"Freezing {pattern!r} leaves no variable to train. "
                     f"Received: pattern={pattern!r}")
  return _retrain(dnn, var_list)


def unfreeze(dnn: DNN, pattern: str) -> tuple[DNN, tf.Operation]:
  """Returns a copy of `dnn` whose train op also updates the variables `pattern` matches.

      dnn, init_new = transfer.unfreeze(model.dnn, "hidden[45]")  # top two reused layers
      sess.run(init_new)
      training.fit(sess, dnn, train, validation)

  Layers built frozen keep running in inference mode (see the module docstring).

  Args:
    dnn: a `DNN`.
    pattern: scope pattern of the variables to train again, e.g. 'hidden[45]'.

  Returns:
    (the new `DNN`, an op initializing the new optimizer's variables).

  Raises:
    NoMatchError: if `pattern` matches no trainable variable (the message lists them).
    ValueError: if a matched variable lies below a `tf.stop_gradient`
      (`build_dnn(..., stop_gradient=True)`): no gradient can reach it.
  """
  graph = dnn.loss.graph
  wanted = {v.op.name for v in scope_variables(pattern, graph=graph)}
  wanted |= {v.op.name for v in trained_variables(dnn)}
  stopped = {hidden_scope(i) for i in range(1, (dnn.stop_gradient_layer or 0) + 1)}
  blocked = sorted(n for n in wanted if n.split("/")[0] in stopped)
  if blocked:
    raise ValueError(f"Cannot unfreeze {blocked}: they lie below a tf.stop_gradient, so "
                     "no gradient reaches them. Build the model with stop_gradient=False "
                     f"(freezing through var_list) to unfreeze later. "
                     f"Received: pattern={pattern!r}")
  var_list = [v for v in graph.get_collection(_V1.GraphKeys.TRAINABLE_VARIABLES)
              if v.op.name in wanted]
  return _retrain(dnn, var_list)


def _retrain(dnn, var_list):
  """Builds a train op over `var_list` by `optimizers.train_op`; returns (dnn, init op)."""
  config = dnn.config
  graph = dnn.loss.graph
  with graph.as_default():
    before = {v.op.name for v in _V1.global_variables()}
    optimizer = optimizers.make_optimizer(config.optimizer, dnn.learning_rate,
                                          config.momentum)
    with tf.name_scope("train"):
      grads_and_vars, train_op = optimizers.train_op(
          optimizer, dnn.loss, global_step=dnn.global_step, var_list=var_list,
          clip_value=config.clip_value, clip_norm=config.clip_norm)
    new = [v for v in _V1.global_variables() if v.op.name not in before]
    init = _V1.variables_initializer(new, name="init_new_optimizer")
  return dataclasses.replace(dnn, grads_and_vars=grads_and_vars, train_op=train_op), init


# ----------------------------------------------------------------------- caching


def cached_view(model: TransferDNN) -> DNN:
  """Returns a `DNN` whose input `X` is the top frozen layer's output.

  Feeding that tensor skips the frozen layers (graph-mode TensorFlow lets any tensor be
  fed), so `training.fit` and `training.evaluate` run on cached outputs unchanged:

      view = transfer.cached_view(model)
      training.fit(sess, view, (cache_train, y_train), (cache_valid, y_valid))

  Raises:
    ValueError: if `model` has no frozen layers.
  """
  if not model.frozen_layers:
    raise ValueError("Caching needs frozen layers, expected a model built with "
                     "frozen_layers > 0. Received: frozen_layers=0")
  return dataclasses.replace(model.dnn, X=model.frozen_output)


def cache_frozen(sess: tf.compat.v1.Session, model: TransferDNN, images: np.ndarray,
                 batch_size: int = 5000) -> np.ndarray:
  """Computes the top frozen layer's output for `images`, in inference mode.

  Args:
    sess: the Session holding the restored model.
    model: a `TransferDNN` with frozen layers.
    images: float array `[n, n_inputs]`.
    batch_size: examples per run, to bound memory. Default 5000.

  Returns:
    float32 array `[n, units of hidden<frozen_layers>]`.

  Raises:
    ValueError: if `model` has no frozen layers or `batch_size` is not positive.
  """
  tensor = cached_view(model).X
  batch_size = _validation.check_positive_int("batch_size", batch_size)
  return training.run_batched(sess, tensor,
                             {model.dnn.X: np.asarray(images, np.float32)}, batch_size)


def fit_cached(sess: tf.compat.v1.Session, model: TransferDNN,
               train: DataSet | tuple[np.ndarray, np.ndarray],
               validation: DataSet | tuple[np.ndarray, np.ndarray],
               **fit_kwargs: Any) -> training.TrainState:
  """Caches the frozen layers' outputs once, then trains the layers above on them.

  Equivalent to `training.fit(sess, model.dnn, train, validation, **fit_kwargs)`, same
  batches and same seed, without recomputing the frozen layers each step and each
  validation.

  Args:
    sess: the Session holding the restored model.
    model: a `TransferDNN` with frozen layers.
    train, validation: DataSets or (images `[n, n_inputs]`, labels `[n]`) pairs.
    **fit_kwargs: passed on to `training.fit` (epochs, batch_size, patience, ...).

  Returns:
    The `training.TrainState` of the run.

  Raises:
    ValueError: if `model` has no frozen layers; as `training.fit` otherwise.
  """
  view = cached_view(model)
  (X_train, y_train) = as_arrays("train", train)
  (X_valid, y_valid) = as_arrays("validation", validation)
  cached_train = (cache_frozen(sess, model, X_train), y_train)
  cached_valid = (cache_frozen(sess, model, X_valid), y_valid)
  return training.fit(sess, view, cached_train, cached_valid, **fit_kwargs)
