"""`tf.layers` of the stand-in: dense, batch_normalization, dropout, flatten, conv2d.

The functions of `dnn_toolkit.layers.tf_layers` (also max_pooling2d and average_pooling2d),
with TF 1.15's signatures and variable names. The rest of TF 1.x's `tf.layers` (1-D and
3-D convolutions, the layer classes) raises `UnavailableAPIError` saying what to use
instead.
"""

from dnn_toolkit.layers.tf_layers import (
           average_pooling2d,
           batch_normalization,
           conv2d,
           dense,
           dropout,
           flatten,
           max_pooling2d,
)
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

# TF 1.15's tf.layers names not provided here.
_TF1_NAMES = frozenset("""
    AveragePooling1D AveragePooling2D AveragePooling3D BatchNormalization Conv1D Conv2D
    Conv2DTranspose Conv3D Conv3DTranspose Dense Dropout Flatten InputSpec Layer
    MaxPooling1D MaxPooling2D MaxPooling3D SeparableConv1D SeparableConv2D
    average_pooling1d average_pooling3d conv1d conv2d_transpose conv3d
    conv3d_transpose experimental max_pooling1d max_pooling3d separable_conv1d
    separable_conv2d""".split())

__getattr__ = _module_getattr(__name__, "tf.layers", known=_TF1_NAMES)

__all__ = ["average_pooling2d", "batch_normalization", "conv2d", "dense", "dropout",
           "flatten", "max_pooling2d"]
