"""`tf.contrib.framework` of the stand-in: arg_scope and the global-step helpers.

Every other TF 1.x `tf.contrib.framework` name raises `UnavailableAPIError` saying
what to use instead.
"""

import tensorflow as _tf

from dnn_toolkit.layers.arg_scope import add_arg_scope, arg_scope, has_arg_scope
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

get_global_step = _tf.compat.v1.train.get_global_step
get_or_create_global_step = _tf.compat.v1.train.get_or_create_global_step

__getattr__ = _module_getattr(__name__, "tf.contrib.framework")

__all__ = ["add_arg_scope", "arg_scope", "has_arg_scope", "get_global_step",
           "get_or_create_global_step"]
