"""`tf.layers` of the stand-in: TF 1.15's tf.layers functions and classes.

The functions of `dnn_toolkit.layers.tf_layers` (dense, batch_normalization, dropout,
flatten, conv1d/2d/3d, conv2d_transpose, conv3d_transpose, separable_conv1d/2d, max
and average pooling 1-D to 3-D) and the classes they build (`Layer`, `InputSpec`,
`Dense`, `Conv2D`, `BatchNormalization`, ...), with TF 1.15's signatures, defaults and
variable names. Only `tf.layers.experimental` (Keras-style scopes) raises
`UnavailableAPIError` saying what to use instead.
"""

from dnn_toolkit.layers.tf_base import InputSpec, Layer
from dnn_toolkit.layers.tf_convolutional import (
           AveragePooling1D,
           AveragePooling2D,
           AveragePooling3D,
           Conv1D,
           Conv2D,
           Conv2DTranspose,
           Conv3D,
           Conv3DTranspose,
           MaxPooling1D,
           MaxPooling2D,
           MaxPooling3D,
           SeparableConv1D,
           SeparableConv2D,
)
from dnn_toolkit.layers.tf_core import BatchNormalization, Dense, Dropout, Flatten
from dnn_toolkit.layers.tf_layers import (
           average_pooling1d,
           average_pooling2d,
           average_pooling3d,
           batch_normalization,
           conv1d,
           conv2d,
           conv2d_transpose,
           conv3d,
           conv3d_transpose,
           dense,
           dropout,
           flatten,
           max_pooling1d,
           max_pooling2d,
           max_pooling3d,
           separable_conv1d,
           separable_conv2d,
)
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

# TF 1.15's tf.layers names not provided here.
_TF1_NAMES = frozenset(["experimental"])

__getattr__ = _module_getattr(__name__, "tf.layers", known=_TF1_NAMES)

__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "BatchNormalization",
    "Conv1D", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Dense",
    "Dropout", "Flatten", "InputSpec", "Layer", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "SeparableConv1D", "SeparableConv2D", "average_pooling1d",
    "average_pooling2d", "average_pooling3d", "batch_normalization", "conv1d", "conv2d",
    "conv2d_transpose", "conv3d", "conv3d_transpose", "dense", "dropout", "flatten",
    "max_pooling1d", "max_pooling2d", "max_pooling3d", "separable_conv1d",
    "separable_conv2d"]
