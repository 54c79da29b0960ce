"""Pretraining hidden layers without the final task's labels, to reuse them.

The lesson's two ways when labels are scarce:

- Unsupervised, greedy layer-wise: hidden1..N are trained one at a time, each on the
  output of the layers below it, which are frozen, so that output is computed once and
  cached. `pretrain_autoencoders` trains each layer as the encoder of an autoencoder
  (tied weights) that reconstructs its input; `pretrain_rbms` as a Bernoulli
  restricted Boltzmann machine trained by contrastive divergence (`dnn_toolkit.rbm`).
  Both share one layer-wise loop (`_pretrain_layerwise`) and one epoch loop
  (`_train_layer`); only the graph of a layer differs.
- Auxiliary task: `pretrain_same_digit` trains a siamese net, the same hidden layers
  applied to two images with a small head on top, to tell whether they show the same
  digit; pairs can be drawn from plentiful labelled data of other classes.

All write a checkpoint with the variable names `build_dnn` gives (`hidden1/weights`,
`hidden1/biases`, ...) and return a `checkpoints.Pretrained`, so supervised fine-tuning
is the transfer recipe:

    result = pretraining.pretrain_rbms(config, unlabeled_images, "pre/rbm.ckpt")
    with tf.Graph().as_default():
      model = transfer.build_transfer_dnn(result.pretrained, config, 784, reuse=5)
      ... sess.run(init); model.restore(sess); training.fit(sess, model.dnn, ...)

The layers are built without batch norm (pass a config with `batch_norm=False`): the
siamese net would apply one batch norm to two inputs, and layer-wise training would
have to carry moving statistics along.
"""

import collections
import dataclasses
import functools
import time
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, model, scopes
from dnn_toolkit import rbm as rbm_lib
from dnn_toolkit.checkpoints import Pretrained
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.layers import activations, initializers
from dnn_toolkit.layers.contrib import fully_connected
from dnn_toolkit.training import loop as training

_V1 = tf.compat.v1
_PAIR_STREAM = 2  # Keeps the pair draws apart from data.py's streams for one seed.


@dataclasses.dataclass
class PretrainResult:
  """What a pretraining run produced.

  Attributes:
    pretrained: `Pretrained(config, checkpoint)` for `transfer.build_transfer_dnn`.
    history: autoencoders and RBMs: one dict per layer with 'layer', 'initial_loss'
      and 'losses' (reconstruction MSE after each epoch); same-digit task: one dict
      per epoch with 'epoch', 'loss' and, given validation data, 'val_accuracy'.
    seconds: wall time of the training.
  """
  pretrained: Pretrained
  history: list[dict[str, Any]]
  seconds: float


def _check_common(config, images, checkpoint, epochs, batch_size, learning_rate):
  """Validates the arguments all pretraining functions share; returns the images."""
  config.validate()
  if config.batch_norm:
    raise ValueError("Pretraining builds hidden layers without batch norm, expected a "
                     "config with batch_norm=False. Received: batch_norm=True")
  images = np.asarray(images, np.float32)
  if images.ndim != 2 or not len(images):
    raise ValueError(f"Expected `images` of shape [n, n_inputs] with n > 0. "
                     f"Received: images of shape {images.shape}")
  if not isinstance(checkpoint, str) or not checkpoint:
    raise TypeError(f"Expected `checkpoint` to be a path prefix (str). "
                    f"Received: checkpoint={checkpoint!r}")
  _validation.check_positive_int("epochs", epochs)
  batch_size = _validation.check_positive_int("batch_size", batch_size)
  _validation.check_in_range("learning_rate", learning_rate, 0.0, None, low_open=True)
  return images


def _hidden_layer(config, index, inputs, reuse=None):
  """hidden<index+1> as `build_dnn` builds it without batch norm: `[batch, units]`."""
  return fully_connected(inputs, config.hidden_layers[index],
                         activation_fn=activations.get(config.activation),
                         weights_initializer=initializers.get(config.initializer),
                         reuse=reuse, scope=model.hidden_scope(index + 1))


def _layer_variables(index, graph=None):
  """The weights and biases of hidden<index+1> in `graph` (default: the default graph)."""
  graph = graph or _V1.get_default_graph()
  names = [f"{model.hidden_scope(index + 1)}/{v}" for v in ("weights", "biases")]
  by_name = {v.op.name: v for v in graph.get_collection(_V1.GraphKeys.GLOBAL_VARIABLES)}
  return [by_name[name] for name in names]


# ------------------------------------------------------------------ layer-wise


# The graph of one layer to pretrain, as `_train_layer` runs it.
_LayerGraph = collections.namedtuple("_LayerGraph", [
    "X",          # [batch, n_inputs] placeholder: the output of the layers below
    "train_op",   # one training step on a fed mini-batch
    "loss",       # [batch] per-example reconstruction error, deterministic
    "codings",    # [batch, units]: this layer's output, the next layer's input
    "variables",  # [weights, biases] of hidden<index+1>, to save
])


def _pretrain_layerwise(config, images, checkpoint, build_layer, *, epochs, batch_size,
                        verbose):
  """Greedy layer-wise pretraining: hidden1..N in turn, each on the codings below.

  Args:
    config: the validated `DNNConfig`.
    images: float32 `[n, n_inputs]`, the input of hidden1.
    checkpoint: the path prefix to write hidden1..N's weights and biases to.
    build_layer: `fn(index, n_inputs) -> _LayerGraph`, building layer index+1's graph
      in the default graph.
    epochs, batch_size: per layer.
    verbose: 0 silent, 1 a line per layer.

  Returns:
    A `PretrainResult` whose history has one record per layer.
  """
  started = time.perf_counter()
  values, history, inputs = {}, [], images
  for index in range(len(config.hidden_layers)):
    seed = None if config.seed is None else config.seed + index
    layer_values, record, inputs = _train_layer(
        build_layer, index, inputs, seed=seed, epochs=epochs, batch_size=batch_size)
    values.update(layer_values)
    history.append(record)
    if verbose:
      print(f"{model.hidden_scope(index + 1)}: reconstruction MSE "
            f"{record['initial_loss']:.4f} -> {record['losses'][-1]:.4f}", flush=True)
  seconds = time.perf_counter() - started
  prefix = scopes.write_checkpoint(checkpoint, values)
  return PretrainResult(Pretrained(config, prefix), history, seconds)


def _train_layer(build_layer, index, inputs, *, seed, epochs, batch_size):
  """Trains hidden<index+1> on `inputs` `[n, d]` in a graph and Session of its own.

  Returns:
    ({name: value} of its weights and biases, its history record, its codings of
    `inputs` `[n, units]`: the next layer's input).
  """
  with tf.Graph().as_default() as graph:
    if seed is not None:
      _V1.set_random_seed(seed)
    layer = build_layer(index, inputs.shape[1])
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    mse = lambda: float(np.mean(training.run_batched(sess, layer.loss,
                                                     {layer.X: inputs})))
    record = {"layer": index + 1, "initial_loss": mse(), "losses": []}
    step = sess.make_callable(layer.train_op, [layer.X])
    for epoch in range(epochs):
      for rows in data.minibatch_indices(len(inputs), batch_size, seed, epoch):
        step(inputs[rows])
      record["losses"].append(mse())
    values = dict(zip([v.op.name for v in layer.variables], sess.run(layer.variables)))
    return values, record, training.run_batched(sess, layer.codings, {layer.X: inputs})


# ------------------------------------------------------------------ autoencoders


def pretrain_autoencoders(config: DNNConfig, images: np.ndarray, checkpoint: str,
                          epochs: int = 5, batch_size: int = 100,
                          learning_rate: float = 0.001, noise_stddev: float = 0.0,
                          verbose: int = 0) -> PretrainResult:
  """Greedy layer-wise pretraining of the hidden layers of `config` as autoencoders.

  Layer k is trained to reconstruct its input, the output of layers 1..k-1 (frozen,
  computed once): `codings = act(x W + b)` `[n, units_k]`, `x_hat = codings W^T + c`,
  minimizing the mean squared error with Adam. The decoder shares W (tied weights) and
  is thrown away; W and b become `hidden<k>/weights` and `hidden<k>/biases`.

  Args:
    config: the `DNNConfig` of the classifier to pretrain (`hidden_layers`,
      `activation`, `initializer`, `seed`); `batch_norm` must be False.
    images: float array `[n, n_inputs]` of unlabelled examples.
    checkpoint: the path prefix to write the pretrained layers to.
    epochs: positive int, epochs per layer. Default 5.
    batch_size: positive int. Default 100.
    learning_rate: Adam's learning rate. Default 0.001.
    noise_stddev: non-negative float; Gaussian noise added to each layer's input while
      training (a denoising autoencoder). Default 0.0.
    verbose: 0 silent, 1 a line per layer.

  Returns:
    A `PretrainResult`; `history[k]['losses'][-1] < history[k]['initial_loss']` when
    layer k+1 learned to reconstruct.

  Raises:
    TypeError, ValueError: on a bad argument, before anything is built.
  """
  images = _check_common(config, images, checkpoint, epochs, batch_size, learning_rate)
  noise_stddev = _validation.check_in_range("noise_stddev", noise_stddev, 0.0, None)
  build_layer = functools.partial(_autoencoder_graph, config,
                                  learning_rate=learning_rate, noise_stddev=noise_stddev)
  return _pretrain_layerwise(config, images, checkpoint, build_layer, epochs=epochs,
                             batch_size=batch_size, verbose=verbose)


def _autoencoder_graph(config, index, n_inputs, *, learning_rate, noise_stddev):
  """hidden<index+1> as the encoder of a tied autoencoder of `[batch, n_inputs]`."""
  X = _V1.placeholder(tf.float32, (None, n_inputs), name="X")  # [batch, d]
  noisy = X + noise_stddev * tf.random.normal(tf.shape(X)) if noise_stddev else X
  codings = _hidden_layer(config, index, noisy)  # [batch, units]
  clean_codings = _hidden_layer(config, index, X, reuse=True)
  weights, biases = _layer_variables(index)  # [d, units], [units]
  with _V1.variable_scope(f"decoder{index + 1}"):
    decoder_biases = _V1.get_variable("biases", [n_inputs],
                                      initializer=_V1.zeros_initializer())
  decode = lambda h: tf.matmul(h, weights, transpose_b=True) + decoder_biases
  loss = tf.reduce_mean(tf.square(decode(codings) - X))
  clean_loss = tf.reduce_mean(tf.square(decode(clean_codings) - X), axis=1)  # [batch]
  train_op = _V1.train.AdamOptimizer(learning_rate).minimize(loss)
  return _LayerGraph(X=X, train_op=train_op, loss=clean_loss, codings=clean_codings,
                     variables=[weights, biases])


# ------------------------------------------------------------------ RBMs


def pretrain_rbms(config: DNNConfig, images: np.ndarray, checkpoint: str,
                  epochs: int = 5, batch_size: int = 100, learning_rate: float = 0.1,
                  k: int = 1, verbose: int = 0) -> PretrainResult:
  """Greedy layer-wise pretraining of the hidden layers of `config` as RBMs.

  Layer k is a Bernoulli RBM (`dnn_toolkit.rbm`) whose visible units are the hidden
  probabilities of RBM k-1 (for layer 1, the images), trained with CD-k and plain
  gradient steps: `W += lr * (v0^T p(h|v0) - vk^T p(h|vk)) / batch`. Its W and hidden
  biases become `hidden<k>/weights` and `hidden<k>/biases`; the visible biases are
  thrown away. An RBM's hidden units are sigmoid units, so the weights fit a net with
  `activation='sigmoid'` exactly; for another activation they are an initialisation
  that fine-tuning adapts.

  Args:
    config: the `DNNConfig` of the classifier to pretrain (`hidden_layers`, `seed`);
      `batch_norm` must be False.
    images: float array `[n, n_inputs]` of unlabelled examples, every value in [0, 1]
      (probabilities of the binary visible units, e.g. MNIST's pixels / 255).
    checkpoint: the path prefix to write the pretrained layers to.
    epochs: positive int, epochs per layer. Default 5.
    batch_size: positive int. Default 100.
    learning_rate: positive float, the CD step size. Default 0.1.
    k: positive int, Gibbs steps per CD update. Default 1 (CD-1).
    verbose: 0 silent, 1 a line per layer.

  Returns:
    A `PretrainResult`; `history[i]['losses']` is RBM i+1's mean-field reconstruction
    MSE after each epoch (`rbm.reconstruction_error`), `'initial_loss'` before training.

  Raises:
    TypeError, ValueError: on a bad argument (an image value outside [0, 1], k < 1),
      before anything is built.
  """
  images = _check_common(config, images, checkpoint, epochs, batch_size, learning_rate)
  _validation.check_values_in_range("images", images, 0.0, 1.0)
  k = _validation.check_positive_int("k", k)
  build_layer = functools.partial(_rbm_graph, config, learning_rate=learning_rate, k=k)
  return _pretrain_layerwise(config, images, checkpoint, build_layer, epochs=epochs,
                             batch_size=batch_size, verbose=verbose)


def _rbm_graph(config, index, n_inputs, *, learning_rate, k):
  """hidden<index+1> as a Bernoulli RBM on `[batch, n_inputs]` visible units."""
  X = _V1.placeholder(tf.float32, (None, n_inputs), name="X")  # [batch, d]
  rbm = rbm_lib.bernoulli_rbm(n_inputs, config.hidden_layers[index],
                              scope=model.hidden_scope(index + 1))
  train_op = rbm_lib.cd_update(rbm, X, learning_rate, k=k)
  return _LayerGraph(X=X, train_op=train_op, loss=rbm_lib.reconstruction_error(rbm, X),
                     codings=rbm_lib.hidden_probabilities(rbm, X),  # [batch, units]
                     variables=[rbm.weights, rbm.hidden_biases])


# ------------------------------------------------------------ same-digit pairs


def same_digit_pairs(labels: np.ndarray, n_pairs: int, seed: int | None = None,
                     epoch: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Draws index pairs of examples, half showing the same label, half different ones.

  Args:
    labels: integer array `[n]` with at least two distinct labels.
    n_pairs: positive int.
    seed: non-negative int for a reproducible draw, or None.
    epoch: non-negative int; each epoch draws other pairs.

  Returns:
    (first `[n_pairs]` int64, second `[n_pairs]` int64, same `[n_pairs]` float32 in
    {0, 1}): `same[i] == (labels[first[i]] == labels[second[i]])`, same pairs first.

  Raises:
    ValueError: if `labels` holds fewer than two distinct labels.
  """
  labels = np.asarray(labels)
  n_pairs = _validation.check_positive_int("n_pairs", n_pairs)
  classes = np.unique(labels)
  if len(classes) < 2:
    raise ValueError("Expected `labels` with at least two distinct labels to draw "
                     f"different pairs. Received labels: {classes.tolist()}")
  entropy = None if seed is None else [_validation.check_non_negative_int("seed", seed),
                                       _PAIR_STREAM, epoch]
  rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
  n_same = n_pairs // 2
  first = rng.integers(len(labels), size=n_pairs)
  second = np.empty(n_pairs, np.int64)
  for label in classes:  # Same pairs: a random partner of the same label.
    rows = np.flatnonzero(labels[first[:n_same]] == label)
    members = np.flatnonzero(labels == label)
    second[rows] = members[rng.integers(len(members), size=len(rows))]
  rest = np.arange(n_same, n_pairs)
  second[rest] = rng.integers(len(labels), size=len(rest))
  while True:  # Different pairs: redraw partners until their labels differ.
    clash = rest[labels[second[rest]] == labels[first[rest]]]
    if not len(clash):
      break
    second[clash] = rng.integers(len(labels), size=len(clash))
  same = (labels[first] == labels[second]).astype(np.float32)
  return first.astype(np.int64), second, same


def pretrain_same_digit(
    config: DNNConfig, images: np.ndarray, labels: np.ndarray, checkpoint: str,
    epochs: int = 5, batch_size: int = 100, learning_rate: float = 0.001,
    pairs_per_epoch: int | None = None, head_units: int = 10,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: int = 0) -> PretrainResult:
  """Pretrains the hidden layers of `config` on telling whether two images match.

  A siamese net: hidden1..N (shared variables) map both images to `h_a`, `h_b`
  `[batch, units_N]`; a head of `head_units` units on `[h_a, h_b, |h_a - h_b|]` gives
  one logit, trained with sigmoid cross-entropy and Adam. The head (scope
  'same_digit') is thrown away; the hidden layers are written to `checkpoint`.

  Args:
    config: the `DNNConfig` of the classifier to pretrain; `batch_norm` must be False.
    images: float array `[n, n_inputs]`.
    labels: int array `[n]`, at least two distinct labels (only equality is used).
    checkpoint: the path prefix to write the pretrained layers to.
    epochs: positive int. Default 5.
    batch_size: positive int, pairs per step. Default 100.
    learning_rate: Adam's learning rate. Default 0.001.
    pairs_per_epoch: positive int; fresh pairs are drawn each epoch. Default `n`.
    head_units: positive int, units of the head's hidden layer. Default 10.
    validation: optional (images, labels) to report pair accuracy on after each epoch.
    verbose: 0 silent, 1 a line per epoch.

  Returns:
    A `PretrainResult`.

  Raises:
    TypeError, ValueError: on a bad argument, before anything is built.
  """
  images = _check_common(config, images, checkpoint, epochs, batch_size, learning_rate)
  labels = np.asarray(labels)
  if labels.shape != (len(images),):
    raise ValueError(f"Expected `labels` of shape [{len(images)}] (one per image). "
                     f"Received: labels of shape {labels.shape}")
  pairs = _validation.check_positive_int("pairs_per_epoch",
                                         pairs_per_epoch or len(images))
  head_units = _validation.check_positive_int("head_units", head_units)
  seed = config.seed
  valid_pairs = None
  if validation is not None:
    valid_images = np.asarray(validation[0], np.float32)
    first, second, same = same_digit_pairs(validation[1], len(valid_images), seed, 10**6)
    valid_pairs = (valid_images[first], valid_images[second], same)
  started = time.perf_counter()
  with tf.Graph().as_default() as graph:
    net = _siamese_graph(config, images.shape[1], head_units, learning_rate)
    init = _V1.global_variables_initializer()
  history = []
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    step = sess.make_callable([net["train_op"], net["loss"]],
                              [net["X_a"], net["X_b"], net["same"]])
    for epoch in range(epochs):
      first, second, same = same_digit_pairs(labels, pairs, seed, epoch)
      losses = [step(images[first[rows]], images[second[rows]], same[rows])[1]
                for rows in data.minibatch_indices(pairs, batch_size, seed, epoch)]
      record = {"epoch": epoch + 1, "loss": float(np.mean(losses))}
      if valid_pairs is not None:
        record["val_accuracy"] = float(sess.run(net["accuracy"], dict(
            zip([net["X_a"], net["X_b"], net["same"]], valid_pairs))))
      history.append(record)
      if verbose:
        print(f"same-digit epoch {epoch + 1}: {record}", flush=True)
    variables = [v for index in range(len(config.hidden_layers))
                 for v in _layer_variables(index, graph)]
    values = dict(zip([v.op.name for v in variables], sess.run(variables)))
  seconds = time.perf_counter() - started
  prefix = scopes.write_checkpoint(checkpoint, values)
  return PretrainResult(Pretrained(config, prefix), history, seconds)


def _siamese_graph(config, n_inputs, head_units, learning_rate):
  """Builds the siamese net in the default graph; returns its tensors by name."""
  if config.seed is not None:
    _V1.set_random_seed(config.seed)
  X_a = _V1.placeholder(tf.float32, (None, n_inputs), name="X_a")
  X_b = _V1.placeholder(tf.float32, (None, n_inputs), name="X_b")
  same = _V1.placeholder(tf.float32, (None,), name="same")

  def tower(X, reuse):
    top = X
    for index in range(len(config.hidden_layers)):
      top = _hidden_layer(config, index, top, reuse=reuse)
    return top  # [batch, units_N]

  h_a, h_b = tower(X_a, None), tower(X_b, True)
  features = tf.concat([h_a, h_b, tf.abs(h_a - h_b)], axis=1)  # [batch, 3 * units_N]
  head = fully_connected(features, head_units,
                         activation_fn=activations.get(config.activation),
                         weights_initializer=initializers.get(config.initializer),
                         scope="same_digit/hidden")
  logits = tf.squeeze(fully_connected(head, 1, activation_fn=None,
                                      scope="same_digit/logit"), axis=1)  # [batch]
  loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=same,
                                                                logits=logits))
  accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), same),
                                    tf.float32))
  train_op = _V1.train.AdamOptimizer(learning_rate).minimize(loss)
  return {"X_a": X_a, "X_b": X_b, "same": same, "loss": loss, "accuracy": accuracy,
          "train_op": train_op}
