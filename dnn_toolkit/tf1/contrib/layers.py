"""`tf.contrib.layers` of the stand-in: the toolkit's contrib builders by TF 1.x name.

Each TF 1.x name below is bound to the toolkit's function of that name when
`dnn_toolkit.layers.contrib`, `initializers` or `regularizers` provides it; the others raise
`UnavailableAPIError` saying what to use instead.
"""

from dnn_toolkit.layers import contrib as _layers
from dnn_toolkit.layers import initializers as _initializers
from dnn_toolkit.layers import regularizers as _regularizers
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

# The tf.contrib.layers names of TF 1.15 that the toolkit may provide, by module.
_SOURCES = {
    _layers: ("fully_connected", "batch_norm", "dropout", "flatten", "linear", "relu",
              "relu6", "softmax", "convolution", "convolution1d", "convolution2d",
              "convolution3d", "conv1d", "conv2d", "conv3d", "convolution2d_transpose",
              "conv2d_transpose", "max_pool2d", "avg_pool2d"),
    _initializers: ("xavier_initializer", "variance_scaling_initializer"),
    _regularizers: ("l1_regularizer", "l2_regularizer", "l1_l2_regularizer",
                    "sum_regularizer", "apply_regularization"),
}

# TF 1.15's tf.contrib.layers names; those not bound below raise UnavailableAPIError.
_TF1_NAMES = frozenset("""
    avg_pool2d avg_pool3d bias_add bucketized_column conv1d conv2d conv2d_in_plane
    conv2d_transpose conv3d conv3d_transpose convolution convolution2d
    convolution2d_in_plane convolution2d_transpose convolution3d
    convolution3d_transpose create_feature_spec_for_parsing crossed_column
    embed_sequence embedding_column embedding_lookup_unique group_norm gdn
    images_to_sequence infer_real_valued_columns input_from_feature_columns
    instance_norm layer_norm legacy_fully_connected max_pool2d max_pool3d
    maxout one_hot_column one_hot_encoding optimize_loss real_valued_column
    recompute_grad repeat safe_embedding_lookup_sparse scale_gradient
    separable_conv2d separable_convolution2d sequence_to_images
    sparse_column_with_hash_bucket sparse_column_with_integerized_feature
    sparse_column_with_keys sparse_column_with_vocabulary_file spatial_softmax stack
    summarize_activation summarize_activations summarize_collection summarize_tensor
    summarize_tensors transform_features unit_norm weighted_sparse_column
    weighted_sum_from_feature_columns xavier_initializer_conv2d
    """.split()).union(*_SOURCES.values())

__all__ = []
for _module, _names in _SOURCES.items():
  for _name in _names:
    if hasattr(_module, _name):
      globals()[_name] = getattr(_module, _name)
      __all__.append(_name)
del _module, _names, _name
if "xavier_initializer" in __all__:
  xavier_initializer_conv2d = globals()["xavier_initializer"]  # Bound by the loop.
  __all__.append("xavier_initializer_conv2d")

__getattr__ = _module_getattr(__name__, "tf.contrib.layers", known=_TF1_NAMES)
