"""`tf.estimator` (and `tf.compat.v1.estimator`) of the stand-in: `dnn_toolkit.estimator`.

    import tensorflow as tf          # the stand-in, through `dnn-toolkit run`
    estimator = tf.estimator.DNNClassifier(hidden_units=[300, 100], n_classes=10,
                                           feature_columns=columns)
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)

Every public name of `dnn_toolkit.estimator`, with `tf.estimator.inputs` and
`tf.estimator.export`; the runner also answers `import tensorflow.estimator`,
`from tensorflow.estimator import ...` and `import tensorflow_estimator` with it. The
TF 1.15 names it does not provide (the boosted trees, the baselines, the
`tf.estimator.experimental` helpers, ...) raise `UnavailableAPIError`. See
docs/estimator.md.
"""

import sys as _sys

# pylint: disable=wildcard-import,unused-wildcard-import
from dnn_toolkit.estimator import *
from dnn_toolkit.estimator import __all__  # noqa: F401
from dnn_toolkit.tf1._unavailable import module_getattr as _module_getattr

#: TF 1.15's `tf.estimator` names that the stand-in does not provide.
NOT_PROVIDED = ("BaselineClassifier", "BaselineEstimator", "BaselineRegressor",
                "BestExporter", "BoostedTreesClassifier", "BoostedTreesEstimator",
                "BoostedTreesRegressor", "DNNEstimator", "DNNLinearCombinedEstimator",
                "Head", "LinearEstimator", "LinearSDCA", "MultiHead", "experimental",
                "tpu")

#: `tensorflow_estimator.estimator`, TF 1.x's package of the same API.
estimator = _sys.modules[__name__]

__getattr__ = _module_getattr(__name__, "tf.estimator", known=NOT_PROVIDED)
