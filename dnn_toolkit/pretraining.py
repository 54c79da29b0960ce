"""Pretraining hidden layers without the final task's labels, to reuse them.

The lesson's two ways when labels are scarce:

- Unsupervised: `pretrain_autoencoders` trains hidden1..N greedily, one at a time, each
  as the encoder of an autoencoder (tied weights) that reconstructs the output of the
  layers below it. Those lower layers are frozen, so their output is computed once and
  cached.
- Auxiliary task: `pretrain_same_digit` trains a siamese net, the same hidden layers
  applied to two images with a small head on top, to tell whether they show the same
  digit; pairs can be drawn from plentiful labelled data of other classes.

Both write a checkpoint with the variable names `build_dnn` gives (`hidden1/weights`,
`hidden1/biases`, ...) and return a `transfer.Pretrained`, so supervised fine-tuning is
the transfer recipe:

    result = pretraining.pretrain_autoencoders(config, unlabeled_images, "pre/ae.ckpt")
    with tf.Graph().as_default():
      model = transfer.build_transfer_dnn(result.pretrained, config, 784, reuse=5)
      ... sess.run(init); model.restore(sess); training.fit(sess, model.dnn, ...)

The layers are built without batch norm (pass a config with `batch_norm=False`): the
siamese net would apply one batch norm to two inputs, and layer-wise training would
have to carry moving statistics along.
"""

import dataclasses
import math
import time

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit import activations
from dnn_toolkit import checkpoints
from dnn_toolkit import initializers
from dnn_toolkit.data import epoch_permutation
from dnn_toolkit.checkpoints import Pretrained
from dnn_toolkit.layers import fully_connected

_V1 = tf.compat.v1
_PAIR_STREAM = 2  # Keeps the pair draws apart from data.py's streams for one seed.


@dataclasses.dataclass
class PretrainResult:
  """What a pretraining run produced.

  Attributes:
    pretrained: `Pretrained(config, checkpoint)` for `transfer.build_transfer_dnn`.
    history: autoencoders: one dict per layer with 'layer', 'initial_loss' and
      'losses' (reconstruction MSE after each epoch); same-digit task: one dict per
      epoch with 'epoch', 'loss' and, given validation data, 'val_accuracy'.
    seconds: wall time of the training.
  """
  pretrained: Pretrained
  history: list
  seconds: float


def _check_common(config, images, checkpoint, epochs, batch_size, learning_rate):
  """Validates the arguments both pretraining functions share; returns the images."""
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
                         reuse=reuse, scope=f"hidden{index + 1}")


def _run_batched(sess, fetch, X, images, batch_size=5000):
  """Runs `fetch` over `images` in chunks; returns the concatenated results."""
  run = sess.make_callable(fetch, [X])
  return np.concatenate([run(images[i:i + batch_size])
                         for i in range(0, len(images), batch_size)])


def _hidden_values(sess):
  """{name: value} of the hidden layers' variables of the Session's graph."""
  variables = [v for v in _V1.model_variables()
               if checkpoints.scope_matches(r"hidden\d+", v.op.name)]
  return dict(zip([v.op.name for v in variables], sess.run(variables)))


# ------------------------------------------------------------------ autoencoders


def pretrain_autoencoders(config, images, checkpoint, epochs=5, batch_size=100,
                          learning_rate=0.001, noise_stddev=0.0, verbose=0):
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
  started = time.perf_counter()
  values, history, inputs = {}, [], images
  for index in range(len(config.hidden_layers)):
    layer_values, record, inputs = _train_autoencoder_layer(
        config, index, inputs, epochs, batch_size, learning_rate, noise_stddev)
    values.update(layer_values)
    history.append(record)
    if verbose:
      print(f"hidden{index + 1}: reconstruction MSE {record['initial_loss']:.4f} -> "
            f"{record['losses'][-1]:.4f}", flush=True)
  seconds = time.perf_counter() - started
  prefix = checkpoints.write_checkpoint(checkpoint, values)
  return PretrainResult(Pretrained(config, prefix), history, seconds)


def _train_autoencoder_layer(config, index, inputs, epochs, batch_size, learning_rate,
                             noise_stddev):
  """Trains hidden<index+1> as a tied autoencoder of `inputs` `[n, d]`.

  Returns:
    ({name: value} of its weights and biases, its history record, its codings of
    `inputs` `[n, units]`: the next layer's input).
  """
  seed = None if config.seed is None else config.seed + index
  with tf.Graph().as_default() as graph:
    if seed is not None:
      _V1.set_random_seed(seed)
    X = _V1.placeholder(tf.float32, (None, inputs.shape[1]), name="X")  # [batch, d]
    noisy = X + noise_stddev * tf.random.normal(tf.shape(X)) if noise_stddev else X
    codings = _hidden_layer(config, index, noisy)  # [batch, units]
    clean_codings = _hidden_layer(config, index, X, reuse=True)
    weights = [v for v in _V1.global_variables()
               if v.op.name == f"hidden{index + 1}/weights"][0]  # [d, units]
    with _V1.variable_scope(f"decoder{index + 1}"):
      biases = _V1.get_variable("biases", [inputs.shape[1]],
                                initializer=_V1.zeros_initializer())
    decode = lambda h: tf.matmul(h, weights, transpose_b=True) + biases  # [batch, d]
    loss = tf.reduce_mean(tf.square(decode(codings) - X))
    clean_loss = tf.reduce_mean(tf.square(decode(clean_codings) - X), axis=1)  # [batch]
    train_op = _V1.train.AdamOptimizer(learning_rate).minimize(loss)
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    mse = lambda: float(np.mean(_run_batched(sess, clean_loss, X, inputs)))
    record = {"layer": index + 1, "initial_loss": mse(), "losses": []}
    step = sess.make_callable(train_op, [X])
    n_batches = math.ceil(len(inputs) / batch_size)
    for epoch in range(epochs):
      order = epoch_permutation(len(inputs), seed, epoch)
      for b in range(n_batches):
        step(inputs[order[b * batch_size:(b + 1) * batch_size]])
      record["losses"].append(mse())
    with graph.as_default():
      values = _hidden_values(sess)
    return values, record, _run_batched(sess, clean_codings, X, inputs)


# ------------------------------------------------------------ same-digit pairs


def same_digit_pairs(labels, n_pairs, seed=None, epoch=0):
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


def pretrain_same_digit(config, images, labels, checkpoint, epochs=5, batch_size=100,
                        learning_rate=0.001, pairs_per_epoch=None, head_units=10,
                        validation=None, verbose=0):
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
      order = epoch_permutation(pairs, seed, epoch)
      losses = []
      for b in range(math.ceil(pairs / batch_size)):
        rows = order[b * batch_size:(b + 1) * batch_size]
        losses.append(step(images[first[rows]], images[second[rows]], same[rows])[1])
      record = {"epoch": epoch + 1, "loss": float(np.mean(losses))}
      if valid_pairs is not None:
        record["val_accuracy"] = float(sess.run(net["accuracy"], dict(
            zip([net["X_a"], net["X_b"], net["same"]], valid_pairs))))
      history.append(record)
      if verbose:
        print(f"same-digit epoch {epoch + 1}: {record}", flush=True)
    with graph.as_default():
      values = _hidden_values(sess)
  seconds = time.perf_counter() - started
  prefix = checkpoints.write_checkpoint(checkpoint, values)
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
