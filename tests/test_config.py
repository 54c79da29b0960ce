"""Tests of dnn_toolkit.config: the TF-free configuration and its name lists."""

import subprocess
import sys

import pytest
import tensorflow as tf

from dnn_toolkit import config, optimizers
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.layers import activations, initializers


def test_name_lists_match_the_modules_that_implement_them():
  assert config.ACTIVATIONS == activations.NAMES
  for name in config.INITIALIZERS:
    assert callable(initializers.get(name))
  for name in config.OPTIMIZERS:
    with tf.Graph().as_default():
      assert optimizers.make_optimizer(name, 0.01) is not None


def test_importing_the_config_imports_no_tensorflow():
  code = ("import sys, dnn_toolkit.config; "
          "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
  assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


@pytest.mark.parametrize("fields, message", [
    ([1, 2], "Expected a DNNConfig as a dict of fields. Received: list"),
    ({"hidden_layers": 20}, "Expected `hidden_layers` to be a list. Received: "
                            "hidden_layers=20"),
    ({"units": 3}, "Unknown DNNConfig fields ['units']"),
])
def test_from_dict_names_what_is_wrong(fields, message):
  with pytest.raises(ValueError) as error:
    DNNConfig.from_dict(fields)
  assert message in str(error.value)


def test_from_dict_round_trips():
  original = DNNConfig(hidden_layers=(50, 20), boundaries=(10,), values=(0.1, 0.01),
                       schedule="piecewise")
  assert DNNConfig.from_dict(original.to_dict()) == original
