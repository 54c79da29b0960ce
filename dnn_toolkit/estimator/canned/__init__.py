"""The canned Estimators of TF 1.15 over `tf.feature_column`.

Modules:
  head                 loss, predictions, metrics and train op of a model's logits
  optimizers           an optimizer from its name, an instance or a function
  dnn                  DNNClassifier, DNNRegressor
  linear               LinearClassifier, LinearRegressor
  dnn_linear_combined  DNNLinearCombinedClassifier, DNNLinearCombinedRegressor
"""
