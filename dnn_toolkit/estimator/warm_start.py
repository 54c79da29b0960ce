"""Warm-starting an Estimator: `WarmStartSettings`, `VocabInfo`.

    estimator = tf.estimator.DNNClassifier(..., warm_start_from="runs/pretrained")
    ws = tf.estimator.WarmStartSettings("runs/pretrained", vars_to_warm_start=".*dnn.*")

A new model (no checkpoint in its model_dir yet) starts from another's variables;
TensorFlow's own `tf.compat.v1.train.warm_start` does the initializing, as it did for
TF 1.15's Estimator.
"""

import collections
import os
from typing import Any

import tensorflow as tf

from dnn_toolkit.errors import ArgumentTypeError

_V1 = tf.compat.v1
VocabInfo = _V1.train.VocabInfo


class WarmStartSettings(collections.namedtuple(
    "WarmStartSettings", ["ckpt_to_initialize_from", "vars_to_warm_start",
                          "var_name_to_vocab_info", "var_name_to_prev_var_name"])):
  """Which checkpoint, and which of its variables, a new model starts from.

  Args:
    ckpt_to_initialize_from: a checkpoint prefix, or a directory (its newest).
    vars_to_warm_start: a regular expression of the variables to take (default
      '.*', every trainable variable), a list of names or variables, or None (only
      those of `var_name_to_vocab_info`).
    var_name_to_vocab_info: optional {variable name: `VocabInfo`} of embeddings whose
      vocabulary changed.
    var_name_to_prev_var_name: optional {variable name: its name in the checkpoint}.
  """

  def __new__(cls, ckpt_to_initialize_from: str, vars_to_warm_start: Any = ".*",
              var_name_to_vocab_info: dict[str, Any] | None = None,
              var_name_to_prev_var_name: dict[str, str] | None = None
              ) -> "WarmStartSettings":
    if not ckpt_to_initialize_from:
      raise ArgumentTypeError("ckpt_to_initialize_from",
                              "Expected {name} to be a checkpoint path or directory. "
                              "Received: {received}", ckpt_to_initialize_from)
    return super().__new__(cls, os.fspath(ckpt_to_initialize_from), vars_to_warm_start,
                           var_name_to_vocab_info or {},
                           var_name_to_prev_var_name or {})


def warm_start_settings(warm_start_from: Any) -> WarmStartSettings | None:
  """The settings of an Estimator's `warm_start_from`: None, a path, or settings.

  A path warm-starts every trainable variable ('.*'), from a checkpoint, a directory
  of them, or a SavedModel's `variables/`, as in TF 1.15.

  Raises:
    ArgumentTypeError: anything else.
  """
  if warm_start_from is None or isinstance(warm_start_from, WarmStartSettings):
    return warm_start_from
  if isinstance(warm_start_from, (str, bytes, os.PathLike)):
    path = os.fsdecode(warm_start_from)
    if _V1.saved_model.contains_saved_model(path):
      path = os.path.join(path, "variables", "variables")
    return WarmStartSettings(path)
  raise ArgumentTypeError("warm_start_from", "Expected {name} to be a checkpoint path "
                                             "or a tf.estimator.WarmStartSettings. "
                                             "Received: {received}", warm_start_from)

