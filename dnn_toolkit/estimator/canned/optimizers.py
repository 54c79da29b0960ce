"""The optimizer of a canned Estimator: a name, an instance, or a function making one.

    DNNClassifier(..., optimizer="Adam")              # learning rate: the model's default
    DNNClassifier(..., optimizer=tf.train.AdagradOptimizer(0.1))
    DNNClassifier(..., optimizer=lambda: tf.train.AdamOptimizer(0.001))

TF 1.15's names and classes (`tf.compat.v1.train`'s optimizers), with the learning
rate each canned model gives a name: 0.05 for a DNN's Adagrad, 0.2 for a linear
model's FTRL.
"""

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from dnn_toolkit.errors import ArgumentError, ArgumentTypeError

_V1 = tf.compat.v1

#: TF 1.x's optimizer names and classes.
OPTIMIZER_CLS_NAMES: dict[str, Callable[..., Any]] = {
    "Adagrad": _V1.train.AdagradOptimizer,
    "Adam": _V1.train.AdamOptimizer,
    "Ftrl": _V1.train.FtrlOptimizer,
    "RMSProp": _V1.train.RMSPropOptimizer,
    "SGD": _V1.train.GradientDescentOptimizer,
}


def get_optimizer_instance(opt: Any, learning_rate: float | None = None) -> Any:
  """The `tf.compat.v1.train.Optimizer` that `opt` names or makes.

  Args:
    opt: a name of `OPTIMIZER_CLS_NAMES`, an Optimizer, or a function returning one.
    learning_rate: the learning rate of a named optimizer.

  Raises:
    ArgumentError: an unknown name, or a name without a learning rate.
    ArgumentTypeError: `opt` (or what it returns) is not an Optimizer.
  """
  if isinstance(opt, str):
    if opt not in OPTIMIZER_CLS_NAMES:
      raise ArgumentError("optimizer", "Unsupported optimizer name: expected {name} "
                                       f"among {sorted(OPTIMIZER_CLS_NAMES)}. "
                                       "Received: {received}", opt)
    if learning_rate is None:
      raise ArgumentError("optimizer", "Received the name {received} for {name}, "
                                       "without a learning rate to give it.", opt)
    return OPTIMIZER_CLS_NAMES[opt](learning_rate=learning_rate)
  if callable(opt) and not isinstance(opt, _V1.train.Optimizer):
    opt = opt()
  if not isinstance(opt, _V1.train.Optimizer):
    raise ArgumentTypeError("optimizer", "The given object is not an Optimizer "
                                         "instance: expected {name} to be a "
                                         "tf.compat.v1.train.Optimizer, its name, or a "
                                         "function returning one. Received: "
                                         "{received}", opt)
  return opt
