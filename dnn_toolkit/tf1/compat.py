"""`tf.compat` of the stand-in: `tf.compat.v1` is the stand-in itself (as in TF 1.15,
where `tf.compat.v1` was the TF 1.x API), `tf.compat.v2` today's TensorFlow 2 API, and
the other `tf.compat` helpers (`as_bytes`, `as_text`, ...) TensorFlow's own.
"""

import sys
from typing import Any

import tensorflow as _tf

v2 = _tf.compat.v2


def __getattr__(name: str) -> Any:
  if name == "v1":
    return sys.modules["dnn_toolkit.tf1"]
  if name.startswith("_"):
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
  return getattr(_tf.compat, name)
