"""Tests of dnn_toolkit.rbm: a tiny RBM against NumPy, with the random draws fed."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit import rbm as rbm_lib

V1 = tf.compat.v1
N_VISIBLE, N_HIDDEN, BATCH = 5, 3, 4


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _parameters(seed=0):
  rng = np.random.RandomState(seed)
  return (rng.randn(N_VISIBLE, N_HIDDEN).astype(np.float32),
          (0.5 * rng.randn(N_VISIBLE)).astype(np.float32),
          (0.5 * rng.randn(N_HIDDEN)).astype(np.float32))


def _numpy_cd(v0, W, b, c, uniforms, learning_rate):
  """CD-k by hand: sampled hidden states drive the chain, statistics use probabilities."""
  h0 = _sigmoid(v0 @ W + c)
  hidden, chain = h0, v0
  for uniform in uniforms:
    states = (uniform < hidden).astype(np.float32)
    chain = _sigmoid(states @ W.T + b)
    hidden = _sigmoid(chain @ W + c)
  n = len(v0)
  return (W + learning_rate * (v0.T @ h0 - chain.T @ hidden) / n,
          b + learning_rate * (v0 - chain).sum(0) / n,
          c + learning_rate * (h0 - hidden).sum(0) / n)


def _tiny_rbm(W, b, c):
  rbm = rbm_lib.bernoulli_rbm(N_VISIBLE, N_HIDDEN, scope="hidden1")
  assigns = [V1.assign(rbm.weights, W), V1.assign(rbm.visible_biases, b),
             V1.assign(rbm.hidden_biases, c)]
  return rbm, assigns


def test_variables_are_named_as_the_layer_they_initialise():
  with tf.Graph().as_default():
    rbm = rbm_lib.bernoulli_rbm(784, 30, scope="hidden2")
    names = {v.op.name: v.shape.as_list() for v in V1.global_variables()}
  assert names == {"hidden2/weights": [784, 30], "hidden2/biases": [30],
                   "hidden2/visible_biases": [784]}
  assert (rbm.n_visible, rbm.n_hidden) == (784, 30)


@pytest.mark.parametrize("k", [1, 3])
def test_cd_k_update_matches_numpy(k):
  W, b, c = _parameters()
  rng = np.random.RandomState(1)
  v0 = (rng.rand(BATCH, N_VISIBLE) < 0.5).astype(np.float32)
  draws = rng.rand(k, BATCH, N_HIDDEN).astype(np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    rbm, assigns = _tiny_rbm(W, b, c)
    X = V1.placeholder(tf.float32, [None, N_VISIBLE])
    uniforms = V1.placeholder(tf.float32, [k, None, N_HIDDEN])
    update = rbm_lib.cd_update(rbm, X, learning_rate=0.5, k=k, uniforms=uniforms)
    sess.run(assigns)
    sess.run(update, {X: v0, uniforms: draws})
    got = sess.run([rbm.weights, rbm.visible_biases, rbm.hidden_biases])
  expected = _numpy_cd(v0, W, b, c, draws, 0.5)
  for name, value, reference in zip(("W", "b", "c"), got, expected):
    np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-6, err_msg=name)
  assert not np.allclose(got[0], W)  # The step did move the weights.


def test_energy_free_energy_and_reconstruction_match_numpy():
  W, b, c = _parameters(2)
  v = np.random.RandomState(3).rand(BATCH, N_VISIBLE).astype(np.float32)
  states = np.array(list(itertools.product([0.0, 1.0], repeat=N_HIDDEN)), np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    rbm, assigns = _tiny_rbm(W, b, c)
    X = V1.placeholder(tf.float32, [None, N_VISIBLE])
    H = V1.placeholder(tf.float32, [None, N_HIDDEN])
    sess.run(assigns)
    repeated = np.repeat(v, len(states), axis=0)
    energies = sess.run(rbm_lib.energy(rbm, X, H),
                        {X: repeated, H: np.tile(states, (BATCH, 1))})
    free, error, p_hidden = sess.run(
        [rbm_lib.free_energy(rbm, X), rbm_lib.reconstruction_error(rbm, X),
         rbm_lib.hidden_probabilities(rbm, X)], {X: v})
  reference_energy = (-(repeated @ b) - np.tile(states, (BATCH, 1)) @ c
                      - np.sum((repeated @ W) * np.tile(states, (BATCH, 1)), axis=1))
  np.testing.assert_allclose(energies, reference_energy, rtol=1e-5, atol=1e-5)
  # F(v) = -log sum over all 2^3 hidden states of exp(-E(v, h)).
  by_state = reference_energy.reshape(BATCH, len(states))
  np.testing.assert_allclose(free, -np.log(np.exp(-by_state).sum(axis=1)), rtol=1e-5)
  np.testing.assert_allclose(p_hidden, _sigmoid(v @ W + c), rtol=1e-5)
  reconstruction = _sigmoid(_sigmoid(v @ W + c) @ W.T + b)
  np.testing.assert_allclose(error, ((v - reconstruction) ** 2).mean(axis=1), rtol=1e-5)


def test_drawn_uniforms_are_seeded_by_the_graph():
  def one_step():
    with tf.Graph().as_default(), V1.Session() as sess:
      V1.set_random_seed(5)
      rbm = rbm_lib.bernoulli_rbm(N_VISIBLE, N_HIDDEN, scope="hidden1")
      X = V1.placeholder(tf.float32, [None, N_VISIBLE])
      update = rbm_lib.cd_update(rbm, X, learning_rate=0.1)
      sess.run(V1.global_variables_initializer())
      sess.run(update, {X: np.ones((BATCH, N_VISIBLE), np.float32)})
      return sess.run(rbm.weights)
  np.testing.assert_array_equal(one_step(), one_step())


@pytest.mark.parametrize("k, error", [(0, ValueError), (-2, ValueError),
                                      (1.5, TypeError), (True, TypeError),
                                      ("1", TypeError)])
def test_bad_k_is_refused_naming_it(k, error):
  with tf.Graph().as_default():
    rbm = rbm_lib.bernoulli_rbm(N_VISIBLE, N_HIDDEN, scope="hidden1")
    X = V1.placeholder(tf.float32, [None, N_VISIBLE])
    with pytest.raises(error, match=r"`k`.*Received: k="):
      rbm_lib.cd_update(rbm, X, learning_rate=0.1, k=k)


@pytest.mark.parametrize("learning_rate", [0.0, -0.1])
def test_bad_learning_rate_is_refused(learning_rate):
  with tf.Graph().as_default():
    rbm = rbm_lib.bernoulli_rbm(N_VISIBLE, N_HIDDEN, scope="hidden1")
    X = V1.placeholder(tf.float32, [None, N_VISIBLE])
    with pytest.raises(ValueError, match="learning_rate"):
      rbm_lib.cd_update(rbm, X, learning_rate=learning_rate)
