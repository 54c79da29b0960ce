"""Bernoulli restricted Boltzmann machines in a graph: energy, sampling, CD-k.

This module owns the RBM's maths; `pretraining.pretrain_rbms` stacks RBMs to pretrain
the hidden layers of a `build_dnn` net. An RBM has visible units v `[n_visible]` and
binary hidden units h `[n_hidden]`, the energy

    E(v, h) = -v.b - h.c - v W h            W [n_visible, n_hidden], b, c the biases

and, because no two units of one layer are connected, factorised conditionals:

    p(h_j = 1 | v) = sigmoid(v W + c)_j      p(v_i = 1 | h) = sigmoid(h W^T + b)_i

Contrastive divergence (CD-k, Hinton 2002) estimates the log-likelihood gradient
<v h>_data - <v h>_model with a Gibbs chain of k steps started at the data v0:

    dW = learning_rate * (v0^T p(h | v0) - vk^T p(h | vk)) / batch_size
    db = learning_rate * mean(v0 - vk)
    dc = learning_rate * mean(p(h | v0) - p(h | vk))

As Hinton's practical guide (2010, sections 3.1-3.3) advises, the hidden states that
drive the chain are sampled (binary: they carry at most one bit, which regularizes),
the visible reconstructions are probabilities, and the statistics use the hidden
probabilities (less sampling noise).

    with tf.Graph().as_default():
      rbm = bernoulli_rbm(784, 300, scope="hidden1")
      X = tf.compat.v1.placeholder(tf.float32, [None, 784])   # values in [0, 1]
      train_op = cd_update(rbm, X, learning_rate=0.1, k=1)
      error = reconstruction_error(rbm, X)                     # [batch]

The weights and hidden biases are named `<scope>/weights` and `<scope>/biases`, as a
`fully_connected` layer names its own, so they load into `build_dnn`'s `hidden<i>`.
"""

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from dnn_toolkit import _validation

_V1 = tf.compat.v1

#: Hinton's (2010) advice for the initial weights: N(0, 0.01^2).
INITIAL_STDDEV = 0.01


@dataclasses.dataclass
class RBM:
  """The variables of a Bernoulli RBM (see `bernoulli_rbm`)."""
  weights: tf.Variable          # [n_visible, n_hidden], '<scope>/weights'
  hidden_biases: tf.Variable    # [n_hidden], '<scope>/biases'
  visible_biases: tf.Variable   # [n_visible], '<scope>/visible_biases'

  @property
  def n_visible(self) -> int:
    return int(self.weights.shape[0])

  @property
  def n_hidden(self) -> int:
    return int(self.weights.shape[1])


def bernoulli_rbm(n_visible: int, n_hidden: int, scope: str,
                  weights_initializer: Callable[..., tf.Tensor] | None = None) -> RBM:
  """Creates the variables of a Bernoulli RBM in the default graph.

  Args:
    n_visible: positive int, the number of visible units (input features).
    n_hidden: positive int, the number of hidden units.
    scope: the variable scope, e.g. 'hidden1', so that the weights and hidden biases
      are those of the layer they will initialise.
    weights_initializer: initializer of W. Default N(0, 0.01^2) (`INITIAL_STDDEV`),
      seeded by the graph's seed. The biases start at zero.

  Returns:
    An `RBM`.

  Raises:
    TypeError, ValueError: on a non-positive unit count or an empty scope.
  """
  n_visible = _validation.check_positive_int("n_visible", n_visible)
  n_hidden = _validation.check_positive_int("n_hidden", n_hidden)
  if not isinstance(scope, str) or not scope:
    raise TypeError(f"Expected `scope` to be a non-empty str. Received: scope={scope!r}")
  if weights_initializer is None:
    weights_initializer = _V1.random_normal_initializer(stddev=INITIAL_STDDEV)
  with _V1.variable_scope(scope):
    weights = _V1.get_variable("weights", [n_visible, n_hidden],
                               initializer=weights_initializer)
    hidden_biases = _V1.get_variable("biases", [n_hidden],
                                     initializer=_V1.zeros_initializer())
    visible_biases = _V1.get_variable("visible_biases", [n_visible],
                                      initializer=_V1.zeros_initializer())
  return RBM(weights=weights, hidden_biases=hidden_biases, visible_biases=visible_biases)


def hidden_probabilities(rbm: RBM, visible: tf.Tensor) -> tf.Tensor:
  """p(h = 1 | v) = sigmoid(v W + c): `[batch, n_visible]` -> `[batch, n_hidden]`."""
  return tf.sigmoid(tf.matmul(visible, rbm.weights) + rbm.hidden_biases)


def visible_probabilities(rbm: RBM, hidden: tf.Tensor) -> tf.Tensor:
  """p(v = 1 | h) = sigmoid(h W^T + b): `[batch, n_hidden]` -> `[batch, n_visible]`."""
  return tf.sigmoid(tf.matmul(hidden, rbm.weights, transpose_b=True)
                    + rbm.visible_biases)


def sample_bernoulli(probabilities: tf.Tensor, uniform: tf.Tensor) -> tf.Tensor:
  """Binary states, 1.0 where `uniform < probabilities`: one Bernoulli draw per unit.

  Args:
    probabilities: `[batch, units]` in [0, 1].
    uniform: `[batch, units]` draws from U[0, 1) (fed, or `tf.random.uniform`).

  Returns:
    float32 `[batch, units]` of 0.0 and 1.0.
  """
  return tf.cast(uniform < probabilities, tf.float32)


def energy(rbm: RBM, visible: tf.Tensor, hidden: tf.Tensor) -> tf.Tensor:
  """E(v, h) = -v.b - h.c - v W h of each row pair.

  Args:
    rbm: an `RBM`.
    visible: `[batch, n_visible]`.
    hidden: `[batch, n_hidden]`.

  Returns:
    `[batch]`.
  """
  return (-tf.linalg.matvec(visible, rbm.visible_biases)
          - tf.linalg.matvec(hidden, rbm.hidden_biases)
          - tf.reduce_sum(tf.matmul(visible, rbm.weights) * hidden, axis=1))


def free_energy(rbm: RBM, visible: tf.Tensor) -> tf.Tensor:
  """F(v) = -log sum_h exp(-E(v, h)) = -v.b - sum_j softplus(v W + c)_j: `[batch]`."""
  return (-tf.linalg.matvec(visible, rbm.visible_biases)
          - tf.reduce_sum(tf.nn.softplus(tf.matmul(visible, rbm.weights)
                                         + rbm.hidden_biases), axis=1))


def reconstruction_error(rbm: RBM, visible: tf.Tensor) -> tf.Tensor:
  """Mean squared error of v and its mean-field reconstruction p(v | p(h | v)): `[batch]`.

  Deterministic (no sampling), so it can be compared across epochs; it is the usual
  way to watch an RBM learn, not the quantity CD optimises.
  """
  reconstruction = visible_probabilities(rbm, hidden_probabilities(rbm, visible))
  return tf.reduce_mean(tf.square(visible - reconstruction), axis=1)


def gibbs_chain(rbm: RBM, visible: tf.Tensor, k: int = 1,
                uniforms: tf.Tensor | None = None
                ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Runs k steps of the CD Gibbs chain from `visible`.

  Each step samples h ~ p(h | v) with one slice of `uniforms` and sets v to the
  probabilities p(v | h).

  Args:
    rbm: an `RBM`.
    visible: `[batch, n_visible]`, the data v0.
    k: positive int, the number of Gibbs steps. Default 1.
    uniforms: `[k, batch, n_hidden]` draws from U[0, 1), or None to draw them with
      `tf.random.uniform` (seeded by the graph's seed). Feed them to reproduce a step.

  Returns:
    (p(h | v0) `[batch, n_hidden]`, vk `[batch, n_visible]`, p(h | vk)
    `[batch, n_hidden]`).

  Raises:
    TypeError, ValueError: if `k` is not a positive integer.
  """
  k = _validation.check_positive_int("k", k)
  if uniforms is None:
    batch = tf.shape(visible)[0]
    uniforms = tf.random.uniform(tf.stack([k, batch, rbm.n_hidden]))
  positive_hidden = hidden_probabilities(rbm, visible)  # [batch, n_hidden]
  hidden, chain = positive_hidden, visible
  for step in range(k):
    states = sample_bernoulli(hidden, uniforms[step])  # [batch, n_hidden]
    chain = visible_probabilities(rbm, states)  # [batch, n_visible]
    hidden = hidden_probabilities(rbm, chain)
  return positive_hidden, chain, hidden


def cd_update(rbm: RBM, visible: tf.Tensor, learning_rate: float, k: int = 1,
              uniforms: tf.Tensor | None = None,
              name: str = "cd_update") -> tf.Operation:
  """The CD-k update of an RBM's variables on a mini-batch, as one op.

  Args:
    rbm: an `RBM`.
    visible: `[batch, n_visible]` values in [0, 1] (a placeholder, or data).
    learning_rate: positive float.
    k: positive int, Gibbs steps. Default 1.
    uniforms: as `gibbs_chain`: `[k, batch, n_hidden]`, or None to draw them.
    name: the op's name.

  Returns:
    An op adding the CD-k estimate of the log-likelihood gradient, times
    `learning_rate`, to W, b and c (the module docstring has the formulas).

  Raises:
    TypeError, ValueError: on a non-positive `learning_rate` or `k`.
  """
  learning_rate = _validation.check_in_range("learning_rate", learning_rate, 0.0, None,
                                             low_open=True)
  k = _validation.check_positive_int("k", k)
  with tf.name_scope(name):
    positive_hidden, chain, negative_hidden = gibbs_chain(rbm, visible, k, uniforms)
    scale = learning_rate / tf.cast(tf.shape(visible)[0], tf.float32)
    weights_step = scale * (tf.matmul(visible, positive_hidden, transpose_a=True)
                            - tf.matmul(chain, negative_hidden, transpose_a=True))
    visible_step = scale * tf.reduce_sum(visible - chain, axis=0)  # [n_visible]
    hidden_step = scale * tf.reduce_sum(positive_hidden - negative_hidden, axis=0)
    return tf.group(_V1.assign_add(rbm.weights, weights_step),
                    _V1.assign_add(rbm.visible_biases, visible_step),
                    _V1.assign_add(rbm.hidden_biases, hidden_step), name="apply")
