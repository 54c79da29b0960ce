"""Tests of dnn_toolkit.pretraining: layer-wise autoencoders and RBMs, same-digit task.

Small synthetic data: images that are mixtures of a few fixed patterns, so a small
autoencoder can learn them, and labels that say which pattern dominates. The RBMs also
train on a 2,000-image subset of MNIST (`mnist.load_mnist()`, offline).
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import scopes, transfer
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import mnist
from dnn_toolkit.pretraining import (
  pretrain_autoencoders,
  pretrain_rbms,
  pretrain_same_digit,
  same_digit_pairs,
)
from dnn_toolkit.training import loop as training

V1 = tf.compat.v1
N_INPUTS = 16
CONFIG = DNNConfig(hidden_layers=(8, 6), n_outputs=3, batch_norm=False,
                   dropout_rate=0.0, seed=3)


def _images(n=300, seed=0):
  """(images [n, 16] in [0, 1], labels [n] in 0-2): noisy mixtures of 3 patterns."""
  rng = np.random.RandomState(seed)
  patterns = np.random.RandomState(99).rand(3, N_INPUTS)
  labels = rng.randint(3, size=n)
  weights = 0.2 * rng.rand(n, 3)
  weights[np.arange(n), labels] += 0.8
  images = weights @ patterns / 1.2 + 0.02 * rng.randn(n, N_INPUTS)
  return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64)


def test_autoencoders_reduce_reconstruction_loss_and_the_classifier_uses_them(tmp_path):
  images, labels = _images()
  result = pretrain_autoencoders(CONFIG, images, str(tmp_path / "ae" / "ae.ckpt"),
                                 epochs=8, batch_size=20, learning_rate=0.01)
  assert [record["layer"] for record in result.history] == [1, 2]
  for record in result.history:
    assert len(record["losses"]) == 8
    assert record["losses"][-1] < 0.5 * record["initial_loss"], record
  saved = scopes.load_values(result.pretrained.checkpoint)
  assert sorted(saved) == ["hidden1/biases", "hidden1/weights", "hidden2/biases",
                           "hidden2/weights"]  # The decoders are thrown away.
  with tf.Graph().as_default() as graph:
    model = transfer.build_transfer_dnn(result.pretrained, CONFIG, N_INPUTS, reuse=2)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      model.restore(sess)
      hidden1 = sess.run(model.dnn.hidden[0], {model.dnn.X: images[:5]})
      training.fit(sess, model.dnn, (images, labels), _images(seed=1), epochs=2,
                   verbose=0)
  z = images[:5] @ saved["hidden1/weights"] + saved["hidden1/biases"]
  np.testing.assert_allclose(hidden1, np.where(z > 0, z, np.expm1(z)), rtol=1e-5,
                             atol=1e-6)  # ELU of the pretrained layer, as NumPy has it.


def test_denoising_autoencoders_train(tmp_path):
  result = pretrain_autoencoders(CONFIG, _images()[0], str(tmp_path / "dae"), epochs=3,
                                 batch_size=30, learning_rate=0.01, noise_stddev=0.1)
  assert result.history[0]["losses"][-1] < result.history[0]["initial_loss"]


BAD_ARGUMENTS = [
    (dict(config=dataclasses.replace(CONFIG, batch_norm=True)), ValueError, "batch_norm"),
    (dict(images=np.zeros(5, np.float32)), ValueError, "images"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(learning_rate=-1.0), ValueError, "learning_rate"),
    (dict(checkpoint=None), TypeError, "checkpoint"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_ARGUMENTS)
def test_pretraining_rejects_bad_arguments(kwargs, error, message, tmp_path):
  images, labels = _images(40)
  args = dict(config=CONFIG, images=images, checkpoint=str(tmp_path / "x"), epochs=1)
  args.update(kwargs)
  with pytest.raises(error, match=message):
    pretrain_autoencoders(**args)
  with pytest.raises(error, match=message):
    pretrain_same_digit(labels=labels, **args)
  with pytest.raises(error, match=message):
    pretrain_rbms(**args)


def test_same_digit_pairs():
  labels = np.array([0, 0, 1, 1, 2, 2, 2, 1])
  first, second, same = same_digit_pairs(labels, 101, seed=4)
  assert first.shape == second.shape == same.shape == (101,)
  np.testing.assert_array_equal(same, labels[first] == labels[second])
  assert same[:50].all() and not same[50:].any()
  again = same_digit_pairs(labels, 101, seed=4)
  np.testing.assert_array_equal(again[1], second)
  other_epoch = same_digit_pairs(labels, 101, seed=4, epoch=1)
  assert not np.array_equal(other_epoch[0], first)
  with pytest.raises(ValueError, match="at least two distinct labels"):
    same_digit_pairs(np.zeros(5), 10)


def test_same_digit_task_trains_and_its_layers_are_reused(tmp_path):
  images, labels = _images(400)
  result = pretrain_same_digit(CONFIG, images, labels, str(tmp_path / "pairs" / "p"),
                               epochs=6, batch_size=20, learning_rate=0.01,
                               validation=_images(200, seed=2))
  losses = [record["loss"] for record in result.history]
  assert losses[-1] < 0.7 * losses[0], losses
  assert result.history[-1]["val_accuracy"] > 0.8
  saved = scopes.load_values(result.pretrained.checkpoint)
  assert sorted(saved) == ["hidden1/biases", "hidden1/weights", "hidden2/biases",
                           "hidden2/weights"]  # Not the head.
  config = dataclasses.replace(CONFIG, n_outputs=2)
  with tf.Graph().as_default() as graph:
    model = transfer.build_transfer_dnn(result.pretrained, config, N_INPUTS, reuse=2,
                                        frozen_layers=1)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      model.restore(sess)
      weights = sess.run(model.dnn.weights[0])
  np.testing.assert_array_equal(weights, saved["hidden1/weights"])


# RBMs ---------------------------------------------------------------------------------


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(scope="module")
def mnist_subset():
  """2,000 MNIST training images `[2000, 784]` in [0, 1] and their labels."""
  train = mnist.load_mnist().train
  return train.images[:2000], train.labels[:2000]


def test_rbms_reduce_reconstruction_error_on_mnist_and_initialise_the_net(
    mnist_subset, tmp_path):
  images, labels = mnist_subset
  config = DNNConfig(hidden_layers=(64, 32), activation="sigmoid", batch_norm=False,
                     dropout_rate=0.0, seed=1)
  result = pretrain_rbms(config, images, str(tmp_path / "rbm" / "rbm.ckpt"), epochs=3,
                         batch_size=50, learning_rate=0.1)
  assert [record["layer"] for record in result.history] == [1, 2]
  for record in result.history:
    losses = [record["initial_loss"]] + record["losses"]
    assert len(losses) == 4
    assert all(b < a for a, b in zip(losses, losses[1:])), record  # Falls every epoch.
  first = result.history[0]
  assert first["losses"][-1] < 0.5 * first["initial_loss"], first
  saved = scopes.load_values(result.pretrained.checkpoint)
  assert {name: value.shape for name, value in saved.items()} == {
      "hidden1/weights": (784, 64), "hidden1/biases": (64,),
      "hidden2/weights": (64, 32), "hidden2/biases": (32,)}  # No visible biases.
  # RBM 2 trained on RBM 1's hidden probabilities: with its initial weights of
  # N(0, 0.01^2) and zero biases it reconstructs every unit as about 0.5.
  p_hidden1 = _sigmoid(images @ saved["hidden1/weights"] + saved["hidden1/biases"])
  np.testing.assert_allclose(result.history[1]["initial_loss"],
                             np.mean((p_hidden1 - 0.5) ** 2), atol=2e-3)
  with tf.Graph().as_default() as graph:
    model = transfer.build_transfer_dnn(result.pretrained, config, 784, reuse=2)
    with V1.Session(graph=graph) as sess:
      sess.run(V1.global_variables_initializer())
      model.restore(sess)
      hidden = sess.run(model.dnn.hidden, {model.dnn.X: images[:5]})
      state = training.fit(sess, model.dnn, (images, labels),
                           (images[:200], labels[:200]), epochs=1, verbose=0)
  assert state.epoch == 1
  np.testing.assert_allclose(hidden[0], p_hidden1[:5], rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(
      hidden[1], _sigmoid(p_hidden1[:5] @ saved["hidden2/weights"]
                          + saved["hidden2/biases"]), rtol=1e-4, atol=1e-6)


def test_rbm_pretraining_is_reproducible_with_a_seed(tmp_path):
  images = _images(120)[0]
  runs = [pretrain_rbms(CONFIG, images, str(tmp_path / f"r{i}"), epochs=2,
                        batch_size=20, k=2) for i in range(2)]
  first, second = (scopes.load_values(r.pretrained.checkpoint) for r in runs)
  for name in first:
    np.testing.assert_array_equal(first[name], second[name], err_msg=name)
  assert runs[0].history == runs[1].history


@pytest.mark.parametrize("images, shown", [
    (np.full((4, N_INPUTS), 1.5, np.float32), "from 1.5 to 1.5"),
    (np.full((4, N_INPUTS), -0.25, np.float32), "from -0.25 to -0.25"),
    (np.where(np.eye(4, N_INPUTS), np.nan, 0.5).astype(np.float32), "and NaN"),
])
def test_rbms_refuse_images_outside_zero_one(images, shown, tmp_path):
  with pytest.raises(ValueError, match=r"`images`, expected every element in \[0, 1\]"
                                       r".*" + shown):
    pretrain_rbms(CONFIG, images, str(tmp_path / "x"), epochs=1)
  assert not list(tmp_path.iterdir())  # Nothing written.


@pytest.mark.parametrize("k, error", [(0, ValueError), (-1, ValueError),
                                      (1.0, TypeError), (True, TypeError),
                                      (None, TypeError)])
def test_rbms_refuse_a_bad_k(k, error, tmp_path):
  with pytest.raises(error, match=r"`k`.*Received: k="):
    pretrain_rbms(CONFIG, _images(20)[0], str(tmp_path / "x"), epochs=1, k=k)
