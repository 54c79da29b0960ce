"""Tests of TF 1.x's RNN cells (dnn_toolkit.layers.rnn_cell, rnn_cell_wrappers, rnn).

Every cell's step, and TensorFlow's `static_rnn`, `dynamic_rnn` and bidirectional
functions running them, are checked against NumPy references written here from TF
1.15's equations, with the weights read back from the variables; variable names and
shapes against TF 1.15's; a few numbers against those TF 1.15's own tests asserted;
and names and numbers against TensorFlow's private copy of TF 1.x's cells.
The `check_*` functions build their own graphs: the tests run them here (TF 2
defaults: resource variables, control flow v2), and one child process runs them all
again under TF 1.x behaviour (`import dnn_toolkit.tf1`). The tutorial programs are in
tests/test_rnn_programs.py.
"""

import numpy as np
import pytest
import tensorflow as tf

from dnn_toolkit.layers import rnn
from dnn_toolkit.layers.rnn_cell import (
  BasicLSTMCell,
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  LSTMStateTuple,
  RNNCell,
)
from dnn_toolkit.layers.rnn_cell_wrappers import (
  DeviceWrapper,
  DropoutWrapper,
  EmbeddingWrapper,
  InputProjectionWrapper,
  MultiRNNCell,
  OutputProjectionWrapper,
  ResidualWrapper,
)

V1 = tf.compat.v1
HALF = V1.constant_initializer(0.5)  # TF 1.15's cell tests' scope initializer


# --------------------------------------------------- NumPy references (TF 1.15)


def _sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def np_basic_rnn(x, h, w):
  h = np.tanh(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"])
  return h, h


def np_gru(x, h, w):
  gates = _sigmoid(np.concatenate([x, h], 1) @ w["gates/kernel"] + w["gates/bias"])
  r, u = np.split(gates, 2, axis=1)
  c = np.tanh(np.concatenate([x, r * h], 1) @ w["candidate/kernel"]
              + w["candidate/bias"])
  h = u * h + (1 - u) * c
  return h, h


def np_lstm(x, state, w, forget_bias=1.0, cell_clip=None, proj_clip=None):
  """One LSTMCell/BasicLSTMCell step; peepholes and projection if `w` has them."""
  c, h = state
  z = np.concatenate([x, h], 1) @ w["kernel"] + w["bias"]
  i, j, f, o = np.split(z, 4, axis=1)
  if "w_f_diag" in w:
    f, i = f + w["w_f_diag"] * c, i + w["w_i_diag"] * c
  c = _sigmoid(f + forget_bias) * c + _sigmoid(i) * np.tanh(j)
  if cell_clip is not None:
    c = np.clip(c, -cell_clip, cell_clip)
  if "w_o_diag" in w:
    o = o + w["w_o_diag"] * c
  h = _sigmoid(o) * np.tanh(c)
  if "projection/kernel" in w:
    h = h @ w["projection/kernel"]
    if proj_clip is not None:
      h = np.clip(h, -proj_clip, proj_clip)
  return h, (c, h)


def np_unroll(step, xs, state, lengths=None):
  """Runs `step(x, state) -> (output, state)` over `xs` [T, B, D] as TF 1.x did:
  past an example's length its output is zero and its state is carried through."""
  outputs = []
  for t, x in enumerate(xs):
    output, new_state = step(x, state)
    if lengths is not None:
      live = (t < np.asarray(lengths))[:, None]
      output = np.where(live, output, 0.0)
      new_state = _map(lambda new, old, live=live: np.where(live, new, old), new_state,
                       state)
    outputs.append(output)
    state = new_state
  return np.stack(outputs), state


def _map(fn, *structures):
  if isinstance(structures[0], (tuple, list)):
    return tuple(_map(fn, *parts) for parts in zip(*structures))
  return fn(*structures)


def _values(sess, scope):
  """{name under `scope`/: value} of the graph's variables in that scope."""
  found = {v.op.name[len(scope) + 1:]: v for v in V1.global_variables()
           if v.op.name.startswith(scope + "/")}
  return sess.run(found)


def _names():
  return [v.op.name for v in V1.global_variables()]


def _shapes():
  return {v.op.name: v.shape.as_list() for v in V1.global_variables()}


def _rng(seed=0):
  return np.random.default_rng(seed)


def _close(got, expected, tol=1e-5):
  np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


# ------------------------------------------------- one step of each cell vs NumPy


def check_cells_match_numpy():
  """Each cell's step, seeded random weights read back, against the reference."""
  rng = _rng(1)
  x = rng.normal(size=(4, 3)).astype(np.float32)
  h = rng.normal(size=(4, 5)).astype(np.float32)
  c = rng.normal(size=(4, 5)).astype(np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    V1.set_random_seed(3)
    steps = {
        "basic_rnn_cell": BasicRNNCell(5)(x, h),
        "gru_cell": GRUCell(5)(x, h),
        "basic_lstm_cell": BasicLSTMCell(5, forget_bias=0.7)(x, LSTMStateTuple(c, h)),
        "lstm_cell": LSTMCell(5)(x, LSTMStateTuple(c, h)),
    }
    sess.run(V1.global_variables_initializer())
    got = sess.run(steps)
    w = {scope: _values(sess, scope) for scope in steps}
  for scope, reference, state, kwargs in (
      ("basic_rnn_cell", np_basic_rnn, h, {}), ("gru_cell", np_gru, h, {}),
      ("basic_lstm_cell", np_lstm, (c, h), {"forget_bias": 0.7}),
      ("lstm_cell", np_lstm, (c, h), {})):
    output, new_state = reference(x, state, w[scope], **kwargs)
    _close(got[scope][0], output)
    _close(_map(np.asarray, tuple(got[scope][1]) if isinstance(state, tuple)
                else got[scope][1]), new_state)


def check_lstm_peepholes_projection_and_clipping():
  rng = _rng(2)
  x = 3 * rng.normal(size=(6, 4)).astype(np.float32)
  c = 2 * rng.normal(size=(6, 7)).astype(np.float32)
  h = rng.normal(size=(6, 3)).astype(np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    V1.set_random_seed(4)
    cell = LSTMCell(7, use_peepholes=True, cell_clip=0.4, num_proj=3, proj_clip=0.2,
                    forget_bias=0.5, initializer=V1.random_normal_initializer(seed=5))
    output, state = cell(x, LSTMStateTuple(c, h))
    assert _shapes() == {"lstm_cell/kernel": [7, 28], "lstm_cell/bias": [28],
                         "lstm_cell/w_f_diag": [7], "lstm_cell/w_i_diag": [7],
                         "lstm_cell/w_o_diag": [7], "lstm_cell/projection/kernel": [7, 3]}
    assert _names()[:2] == ["lstm_cell/kernel", "lstm_cell/bias"]
    assert (cell.state_size, cell.output_size) == ((7, 3), 3)
    sess.run(V1.global_variables_initializer())
    got_output, got_state = sess.run([output, state])
    w = _values(sess, "lstm_cell")
  expected, (expected_c, _) = np_lstm(x, (c, h), w, forget_bias=0.5, cell_clip=0.4,
                                      proj_clip=0.2)
  assert np.isclose(np.abs(expected_c), 0.4).any()  # clipping was exercised
  assert np.isclose(np.abs(expected), 0.2).any()
  assert isinstance(got_state, LSTMStateTuple)
  _close(got_output, expected)
  _close(got_state.c, expected_c)
  _close(got_state.h, expected)


def check_concatenated_state_and_tf115_numbers():
  """`state_is_tuple=False` and the numbers TF 1.15's own cell tests assert."""
  with tf.Graph().as_default(), V1.Session() as sess:
    with V1.variable_scope("root", initializer=HALF):
      x = tf.constant([[1.0, 1.0]])
      m = tf.constant([[0.1, 0.1]])
      gru, _ = GRUCell(2)(x, m)
      multi = MultiRNNCell([BasicLSTMCell(2, state_is_tuple=False) for _ in range(2)],
                           state_is_tuple=False)
      lstm, lstm_state = multi(x, 0.1 * tf.ones([1, 8]))
      _, gru_states = MultiRNNCell([GRUCell(2) for _ in range(2)])(x, (m, m))
      x3, m3 = tf.constant([[1.0, 1.0, 1.0]]), tf.constant([[0.1, 0.1, 0.1]])
      out_proj, _ = OutputProjectionWrapper(GRUCell(3), 2)(x3, m3)
      in_proj, _ = InputProjectionWrapper(GRUCell(3), num_proj=3)(x, m3)
      embedded, _ = EmbeddingWrapper(GRUCell(2), embedding_classes=3,
                                     embedding_size=2)(tf.constant([[1]]), m)
    assert multi.state_size == 8 and lstm_state.shape.as_list() == [1, 8]
    sess.run(V1.global_variables_initializer())
    got = sess.run([gru, lstm, lstm_state, gru_states, out_proj, in_proj, embedded])
  _close(got[0], [[0.175991, 0.175991]])
  _close(got[1], [[0.240247, 0.240247]])
  _close(got[2], [[0.689673, 0.689673, 0.448484, 0.448484, 0.398971, 0.398971,
                   0.240247, 0.240247]])
  _close(got[3][0], [[0.175991, 0.175991]])
  _close(got[3][1], [[0.13248, 0.13248]])
  _close(got[4], [[0.231907, 0.231907]])
  _close(got[5], [[0.154605, 0.154605, 0.154605]])
  _close(got[6], [[0.17139, 0.17139]])


def check_shapes_of_unknown_sizes_are_handled():
  """An unknown input depth is refused; an unknown batch size is taken from `inputs`
  (TF 1.x's Dimension-valued shapes included, in the child)."""
  with tf.Graph().as_default():
    cell = BasicLSTMCell(3)
    try:
      cell(V1.placeholder(tf.float32, [None, None]), cell.zero_state(1, tf.float32))
    except ValueError as e:
      assert "known input_size" in str(e), e
    else:
      raise AssertionError("an unknown input depth was accepted")
    inputs = V1.placeholder(tf.float32, [None, 2])
    state = GRUCell(4).get_initial_state(inputs=inputs)
    assert state.shape.as_list() == [None, 4] and state.dtype == tf.float32
    fixed = GRUCell(4).get_initial_state(inputs=tf.zeros([5, 2]))
    assert fixed.shape.as_list() == [5, 4]


def test_cells_match_numpy():
  check_cells_match_numpy()


def test_lstm_peepholes_projection_and_clipping():
  check_lstm_peepholes_projection_and_clipping()


def test_concatenated_state_and_tf115_numbers():
  check_concatenated_state_and_tf115_numbers()


def test_shapes_of_unknown_sizes_are_handled():
  check_shapes_of_unknown_sizes_are_handled()


# --------------------------------------------------------- names, shapes, states


@pytest.mark.parametrize("make, expected", [
    (lambda: BasicRNNCell(5), {"basic_rnn_cell/kernel": [8, 5],
                               "basic_rnn_cell/bias": [5]}),
    (lambda: BasicLSTMCell(5), {"basic_lstm_cell/kernel": [8, 20],
                                "basic_lstm_cell/bias": [20]}),
    (lambda: GRUCell(5), {"gru_cell/gates/kernel": [8, 10], "gru_cell/gates/bias": [10],
                          "gru_cell/candidate/kernel": [8, 5],
                          "gru_cell/candidate/bias": [5]}),
    (lambda: LSTMCell(5, num_proj=2), {"lstm_cell/kernel": [5, 20],
                                       "lstm_cell/bias": [20],
                                       "lstm_cell/projection/kernel": [5, 2]}),
    (lambda: MultiRNNCell([BasicLSTMCell(5), BasicLSTMCell(4)]), {
        "multi_rnn_cell/cell_0/basic_lstm_cell/kernel": [8, 20],
        "multi_rnn_cell/cell_0/basic_lstm_cell/bias": [20],
        "multi_rnn_cell/cell_1/basic_lstm_cell/kernel": [9, 16],
        "multi_rnn_cell/cell_1/basic_lstm_cell/bias": [16]}),
    (lambda: DropoutWrapper(GRUCell(5), output_keep_prob=0.5), {
        "gru_cell/gates/kernel": [8, 10], "gru_cell/gates/bias": [10],
        "gru_cell/candidate/kernel": [8, 5], "gru_cell/candidate/bias": [5]}),
    (lambda: OutputProjectionWrapper(BasicRNNCell(5), 1), {
        "output_projection_wrapper/basic_rnn_cell/kernel": [8, 5],
        "output_projection_wrapper/basic_rnn_cell/bias": [5],
        "output_projection_wrapper/kernel": [5, 1],
        "output_projection_wrapper/bias": [1]}),
])
def test_dynamic_rnn_variable_names_and_shapes_are_tf115s(graph, make, expected):
  cell = make()
  outputs, _ = V1.nn.dynamic_rnn(cell, V1.placeholder(tf.float32, [None, 7, 3]),
                                 dtype=tf.float32)
  assert _shapes() == {f"rnn/{name}": shape for name, shape in expected.items()}
  assert [v.op.name for v in cell.trainable_variables] == _names()
  assert outputs.shape.as_list() == [None, 7, cell.output_size]


def test_initializers_are_tf115s(sess):
  x = tf.zeros([2, 300])
  for cell in (BasicLSTMCell(100), GRUCell(100)):
    cell(x, cell.zero_state(2, tf.float32))
  sess.run(V1.global_variables_initializer())
  w = sess.run({v.op.name: v for v in V1.global_variables()})
  # Glorot uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
  kernel = w["basic_lstm_cell/kernel"]  # [300 + 100, 4 * 100]
  limit = np.sqrt(6.0 / (400 + 400))
  assert limit * 0.99 < np.abs(kernel).max() <= limit
  assert np.std(kernel) == pytest.approx(limit / np.sqrt(3), rel=0.02)
  candidate = w["gru_cell/candidate/kernel"]  # [400, 100]
  assert np.sqrt(6.0 / 500) * 0.99 < np.abs(candidate).max() <= np.sqrt(6.0 / 500)
  np.testing.assert_array_equal(w["basic_lstm_cell/bias"], np.zeros(400))
  np.testing.assert_array_equal(w["gru_cell/gates/bias"], np.ones(200))
  np.testing.assert_array_equal(w["gru_cell/candidate/bias"], np.zeros(100))


def test_state_sizes_and_zero_states(sess):
  batch = V1.placeholder(tf.int32, [])
  cells = {"lstm": BasicLSTMCell(3), "concat": BasicLSTMCell(3, state_is_tuple=False),
           "proj": LSTMCell(4, num_proj=2),
           "multi": MultiRNNCell([GRUCell(2), BasicLSTMCell(3)])}
  assert cells["lstm"].state_size == LSTMStateTuple(3, 3)
  assert cells["concat"].state_size == 6
  assert cells["proj"].state_size == (4, 2) and cells["proj"].output_size == 2
  assert cells["multi"].state_size == (2, LSTMStateTuple(3, 3))
  zeros = {name: cell.zero_state(batch, tf.float32) for name, cell in cells.items()}
  assert isinstance(zeros["lstm"], LSTMStateTuple)
  assert isinstance(zeros["multi"][1], LSTMStateTuple)
  assert zeros["concat"].shape.as_list() == [None, 6]
  assert zeros["lstm"].c.op.name.startswith("BasicLSTMCellZeroState/")
  got = sess.run(zeros, {batch: 5})
  assert got["proj"].c.shape == (5, 4) and got["proj"].h.shape == (5, 2)
  assert got["multi"][0].shape == (5, 2) and not got["multi"][1].h.any()
  static = cells["lstm"].get_initial_state(batch_size=2, dtype=tf.float64)
  assert static.c.shape.as_list() == [2, 3] and static.c.dtype == tf.float64


def test_scopes_and_reuse_follow_tf1_layers(graph):
  x = tf.zeros([1, 2])
  first, second = BasicRNNCell(3), BasicRNNCell(3)
  first(x, tf.zeros([1, 3]))
  first(x, tf.zeros([1, 3]))  # a second call reuses
  second(x, tf.zeros([1, 3]))
  BasicRNNCell(3, name="mine")(x, tf.zeros([1, 3]))
  GRUCell(3)(x, tf.zeros([1, 3]), scope="given")
  with V1.variable_scope("outer"):
    BasicRNNCell(3)(x, tf.zeros([1, 3]))
  shared = BasicRNNCell(3, reuse=True)
  shared(x, tf.zeros([1, 3]))
  assert [v.name for v in shared.variables] == [v.name for v in first.variables]
  assert first.scope_name == "basic_rnn_cell" and second.name == "basic_rnn_cell"
  assert _names() == [
      "basic_rnn_cell/kernel", "basic_rnn_cell/bias", "basic_rnn_cell_1/kernel",
      "basic_rnn_cell_1/bias", "mine/kernel", "mine/bias", "given/gates/kernel",
      "given/gates/bias", "given/candidate/kernel", "given/candidate/bias",
      "outer/basic_rnn_cell/kernel", "outer/basic_rnn_cell/bias"]
  # As in TF 1.x: a new cell in a scope that already has its variables.
  with pytest.raises(ValueError, match="already exists"):
    V1.nn.dynamic_rnn(BasicRNNCell(3), tf.zeros([1, 4, 2]), dtype=tf.float32)
    V1.nn.dynamic_rnn(BasicRNNCell(3), tf.zeros([1, 4, 2]), dtype=tf.float32)


def test_not_trainable_getter_and_trainable_false(graph):
  def not_trainable(getter, *args, **kwargs):
    kwargs["trainable"] = False
    return getter(*args, **kwargs)

  x, h = tf.zeros([1, 2]), tf.zeros([1, 2])
  with V1.variable_scope("root", custom_getter=not_trainable):
    cell = BasicRNNCell(2)
    cell(x, h)
  frozen = GRUCell(2, trainable=False)
  frozen(x, h)
  assert not cell.trainable_variables and not frozen.trainable_variables
  assert [v.op.name for v in cell.non_trainable_variables] == [
      "root/basic_rnn_cell/kernel", "root/basic_rnn_cell/bias"]
  assert not V1.trainable_variables()


class MinimalRNNCell(RNNCell):
  """A user's cell, as TF 1.x tutorials wrote them: variables made in `call`."""

  def __init__(self, num_units):
    super().__init__()
    self._num_units = num_units

  @property
  def state_size(self):
    return self._num_units

  @property
  def output_size(self):
    return self._num_units

  def call(self, inputs, state):
    w = V1.get_variable("W", [inputs.shape[-1] + self._num_units, self._num_units])
    h = tf.tanh(tf.matmul(tf.concat([inputs, state], 1), w))
    return h, h


def test_user_subclass_runs_in_its_scope_under_static_and_dynamic_rnn(sess):
  x = _rng(3).normal(size=(2, 4, 3)).astype(np.float32)
  cell = MinimalRNNCell(5)
  dynamic, _ = V1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
  static, _ = V1.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32,
                               scope="again")
  assert _names() == ["rnn/minimal_rnn_cell/W"]
  assert [v.op.name for v in cell.variables] == ["rnn/minimal_rnn_cell/W"]
  sess.run(V1.global_variables_initializer())
  got_dynamic, got_static = sess.run([dynamic, static])
  w = _values(sess, "rnn/minimal_rnn_cell")
  step = lambda xt, h: (np.tanh(np.concatenate([xt, h], 1) @ w["W"]),) * 2
  expected, _ = np_unroll(step, x.transpose(1, 0, 2), np.zeros((2, 5), np.float32))
  _close(got_dynamic, expected.transpose(1, 0, 2))
  _close(np.stack(got_static, 1), expected.transpose(1, 0, 2))


# ------------------------------------------------------- MultiRNNCell, wrappers


def check_multi_rnn_cell_stacks_and_dropout_keep_one_is_identity():
  rng = _rng(4)
  x = rng.normal(size=(3, 2)).astype(np.float32)
  states = (rng.normal(size=(3, 4)).astype(np.float32),
            LSTMStateTuple(*rng.normal(size=(2, 3, 5)).astype(np.float32)))
  with tf.Graph().as_default() as graph, V1.Session() as sess:
    V1.set_random_seed(1)
    keep = V1.placeholder_with_default(1.0, shape=())
    cell = MultiRNNCell([DropoutWrapper(GRUCell(4), input_keep_prob=1.0),
                         DropoutWrapper(BasicLSTMCell(5), output_keep_prob=keep,
                                        state_keep_prob=keep)])
    output, new_states = cell(x, states)
    dropout_ops = [op for op in graph.get_operations() if "dropout" in op.name]
    sess.run(V1.global_variables_initializer())
    got_output, got_states = sess.run([output, new_states])  # keep fed its 1.0
    gru = _values(sess, "multi_rnn_cell/cell_0/gru_cell")
    lstm = _values(sess, "multi_rnn_cell/cell_1/basic_lstm_cell")
  hidden, gru_state = np_gru(x, states[0], gru)
  expected, lstm_state = np_lstm(hidden, states[1], lstm)
  _close(got_output, expected)
  _close(got_states[0], gru_state)
  assert isinstance(got_states[1], LSTMStateTuple)
  _close(tuple(got_states[1]), lstm_state)
  assert dropout_ops  # a tensor keep_prob builds the dropout ops


def check_dropout_statistics_and_memory_never_dropped():
  """Seeded dropout zeroes about 1 - keep of the units, scales the rest by 1 / keep,
  and never touches an LSTM state's `c`; the same seed gives the same masks."""
  x = np.ones((400, 50), np.float32)
  c, h = np.full((2, 400, 50), 0.5, np.float32)

  class _Identity(RNNCell):  # output = inputs, state passed through: masks show.
    state_size = LSTMStateTuple(50, 50)
    output_size = 50

    def call(self, inputs, state):
      return inputs, LSTMStateTuple(state.c + 0.0, state.h + 0.0)

  runs = []
  for _ in range(2):
    with tf.Graph().as_default(), V1.Session() as sess:
      V1.set_random_seed(7)
      cell = DropoutWrapper(_Identity(), input_keep_prob=0.8, output_keep_prob=0.5,
                            state_keep_prob=0.6, seed=11)
      state = LSTMStateTuple(tf.constant(c), tf.constant(h))
      runs.append(sess.run(cell(x, state)))
  (output, new_state), (output_again, _) = runs
  kept_in_and_out = 0.8 * 0.5
  assert np.mean(output != 0) == pytest.approx(kept_in_and_out, abs=0.015)
  _close(np.unique(output), [0.0, 1 / kept_in_and_out])
  assert np.mean(new_state.h != 0) == pytest.approx(0.6, abs=0.015)
  _close(np.unique(new_state.h), [0.0, 0.5 / 0.6])
  np.testing.assert_array_equal(new_state.c, c)
  np.testing.assert_array_equal(output, output_again)


def check_variational_dropout_keeps_one_mask_over_time():
  xs = np.ones((6, 8, 20), np.float32)  # [time, batch, depth]

  class _Identity(RNNCell):
    state_size = 20
    output_size = 20

    def call(self, inputs, state):
      return inputs, state

  with tf.Graph().as_default(), V1.Session() as sess:
    cell = DropoutWrapper(_Identity(), output_keep_prob=0.5, variational_recurrent=True,
                          dtype=tf.float32, seed=3)
    outputs, _ = V1.nn.dynamic_rnn(cell, tf.constant(xs), time_major=True,
                                   dtype=tf.float32)
    got = sess.run(outputs)
  mask = got != 0
  assert 0 < mask.mean() < 1
  assert (mask == mask[:1, :1]).all()  # the same mask at every step, for every example
  _close(got[mask], 2.0)


def check_dropout_wrapper_tf115_numbers():
  """TF 1.15's DropoutWrapper tests: keep probabilities as variables, kept all, or
  (1e-10) none of the state, where `c` still passes untouched."""
  full_output = [[[0.751109] * 3], [[0.895509] * 3]]
  for state_keep, final_c in (("all", 1.949385), ("none", 1.713925)):
    with tf.Graph().as_default(), V1.Session() as sess:
      with V1.variable_scope("root", initializer=HALF):
        keep = {"all": V1.get_variable("all", initializer=1.0),
                "none": V1.get_variable("none", initializer=1e-10)}
        x = tf.constant([[[2.0, 2.0, 2.0]], [[1.0, 1.0, 1.0]]])  # [time, batch, depth]
        m = LSTMStateTuple(*[tf.constant([[0.1, 0.1, 0.1]])] * 2)
        cell = DropoutWrapper(LSTMCell(3), input_keep_prob=keep["all"],
                              output_keep_prob=keep["all"],
                              state_keep_prob=keep[state_keep], dtype=tf.float32)
        outputs, state = V1.nn.dynamic_rnn(cell, x, initial_state=m, time_major=True)
      sess.run(V1.global_variables_initializer())
      got_outputs, got_state = sess.run([outputs, state])
    _close(got_outputs[0], full_output[0])
    _close(got_state.c, [[final_c] * 3])
    if state_keep == "all":
      _close(got_outputs, full_output)
      _close(got_state.h, full_output[1])
    else:  # h was dropped to zero after step 0, so step 1 differs
      _close(got_state.h, np.zeros((1, 3)))
      assert np.abs(got_outputs[1] - full_output[1]).max() > 1e-4


def test_dropout_wrapper_tf115_numbers():
  check_dropout_wrapper_tf115_numbers()


def test_multi_rnn_cell_stacks_and_dropout_keep_one_is_identity():
  check_multi_rnn_cell_stacks_and_dropout_keep_one_is_identity()


def test_dropout_statistics_and_memory_never_dropped():
  check_dropout_statistics_and_memory_never_dropped()


def test_variational_dropout_keeps_one_mask_over_time():
  check_variational_dropout_keeps_one_mask_over_time()


def test_dropout_at_constant_one_builds_no_dropout(graph):
  cell = DropoutWrapper(GRUCell(3), input_keep_prob=1.0, output_keep_prob=1,
                        state_keep_prob=tf.constant(1.0))
  cell(tf.zeros([2, 3]), tf.zeros([2, 3]))
  assert not [op for op in graph.get_operations() if "dropout" in op.name]
  with pytest.raises(ValueError, match="variational_recurrent"):
    DropoutWrapper(GRUCell(3), variational_recurrent=True)
  with pytest.raises(ValueError, match="input_size"):
    DropoutWrapper(GRUCell(3), input_keep_prob=0.5, variational_recurrent=True,
                   dtype=tf.float32)


def test_residual_and_device_wrappers(sess):
  x = _rng(5).normal(size=(2, 3)).astype(np.float32)
  h = _rng(6).normal(size=(2, 3)).astype(np.float32)
  base = GRUCell(3)
  plain, _ = base(x, h)
  residual, residual_state = ResidualWrapper(base)(x, h)
  sliced, _ = ResidualWrapper(base, lambda i, o: o - i)(x, h)
  on_cpu, _ = DeviceWrapper(GRUCell(3), "/cpu:0")(x, h)
  assert "cpu:0" in on_cpu.device.lower()
  assert len(V1.global_variables()) == 8  # the wrapped cell's, no more
  sess.run(V1.global_variables_initializer())
  got_plain, got_residual, got_state, got_sliced = sess.run(
      [plain, residual, residual_state, sliced])
  _close(got_residual, got_plain + x)
  _close(got_state, got_plain)
  _close(got_sliced, got_plain - x)


# ----------------------------------------------- TF's RNN functions with the cells


def check_static_and_dynamic_rnn_agree_with_numpy_unroll():
  """LSTMCell with peepholes: static_rnn, dynamic_rnn (batch- and time-major) and a
  NumPy unroll agree, with sequence_length masking and an initial state."""
  rng = _rng(7)
  xs = rng.normal(size=(3, 6, 2)).astype(np.float32)  # [batch, time, depth]
  lengths = np.array([6, 2, 4], np.int32)
  c0, h0 = rng.normal(size=(2, 3, 4)).astype(np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    cell = LSTMCell(4, use_peepholes=True)
    initial = LSTMStateTuple(tf.constant(c0), tf.constant(h0))
    dynamic, dynamic_state = V1.nn.dynamic_rnn(cell, xs, sequence_length=lengths,
                                               initial_state=initial)
    static, static_state = V1.nn.static_rnn(cell, tf.unstack(xs, axis=1),
                                            initial_state=initial,
                                            sequence_length=lengths, scope="static")
    major, major_state = V1.nn.dynamic_rnn(cell, tf.constant(xs.transpose(1, 0, 2)),
                                           time_major=True,
                                           sequence_length=lengths,
                                           initial_state=initial, scope="major")
    assert _names()[:2] == ["rnn/lstm_cell/kernel", "rnn/lstm_cell/bias"]
    assert len(_names()) == 5  # one cell, its variables shared by all three
    assert dynamic.op.name.startswith("rnn/") and isinstance(dynamic_state,
                                                             LSTMStateTuple)
    sess.run(V1.global_variables_initializer())
    got = sess.run([dynamic, dynamic_state, static, static_state, major, major_state])
    w = _values(sess, "rnn/lstm_cell")
  expected, (expected_c, expected_h) = np_unroll(
      lambda x, s: np_lstm(x, s, w), xs.transpose(1, 0, 2), (c0, h0), lengths)
  assert not expected[3, 1].any() and expected[3, 2].any()  # masking was exercised
  for outputs, state in ((got[0], got[1]), (np.stack(got[2], 1), got[3]),
                         (got[4].transpose(1, 0, 2), got[5])):
    _close(outputs, expected.transpose(1, 0, 2))
    _close(state.c, expected_c)
    _close(state.h, expected_h)


def check_bidirectional_outputs_are_tf115s():
  """static_bidirectional_rnn concatenates [fw, bw] per step; bidirectional_dynamic_rnn
  returns them apart; bw reads each sequence reversed up to its length."""
  rng = _rng(8)
  xs = rng.normal(size=(2, 5, 3)).astype(np.float32)
  lengths = np.array([5, 3], np.int32)
  with tf.Graph().as_default(), V1.Session() as sess:
    fw, bw = GRUCell(4), BasicLSTMCell(2)
    static, static_fw, static_bw = V1.nn.static_bidirectional_rnn(
        fw, bw, tf.unstack(xs, axis=1), dtype=tf.float32, sequence_length=lengths)
    (dynamic_fw, dynamic_bw), (_, state_bw) = V1.nn.bidirectional_dynamic_rnn(
        fw, bw, xs, dtype=tf.float32, sequence_length=lengths)
    assert _names() == [
        "bidirectional_rnn/fw/gru_cell/gates/kernel",
        "bidirectional_rnn/fw/gru_cell/gates/bias",
        "bidirectional_rnn/fw/gru_cell/candidate/kernel",
        "bidirectional_rnn/fw/gru_cell/candidate/bias",
        "bidirectional_rnn/bw/basic_lstm_cell/kernel",
        "bidirectional_rnn/bw/basic_lstm_cell/bias"]
    sess.run(V1.global_variables_initializer())
    got = sess.run([static, static_fw, static_bw, dynamic_fw, dynamic_bw, state_bw])
    w_fw = _values(sess, "bidirectional_rnn/fw/gru_cell")
    w_bw = _values(sess, "bidirectional_rnn/bw/basic_lstm_cell")
  time_major = xs.transpose(1, 0, 2)
  out_fw, final_fw = np_unroll(lambda x, s: np_gru(x, s, w_fw), time_major,
                               np.zeros((2, 4), np.float32), lengths)
  reversed_xs = time_major.copy()
  for b, n in enumerate(lengths):
    reversed_xs[:n, b] = time_major[:n, b][::-1]
  out_bw, final_bw = np_unroll(lambda x, s: np_lstm(x, s, w_bw), reversed_xs,
                               (np.zeros((2, 2), np.float32),) * 2, lengths)
  for b, n in enumerate(lengths):
    out_bw[:n, b] = out_bw[:n, b][::-1].copy()
  _close(np.stack(got[0]), np.concatenate([out_fw, out_bw], axis=2))
  _close(got[1], final_fw)
  _close(tuple(got[2]), final_bw)
  _close(got[3], out_fw.transpose(1, 0, 2))
  _close(got[4], out_bw.transpose(1, 0, 2))
  _close(tuple(got[5]), final_bw)


def test_static_and_dynamic_rnn_agree_with_numpy_unroll():
  check_static_and_dynamic_rnn_agree_with_numpy_unroll()


def test_bidirectional_outputs_are_tf115s():
  check_bidirectional_outputs_are_tf115s()


def test_stack_bidirectional_rnns_feed_each_layer_the_last_ones_outputs(sess):
  xs = _rng(9).normal(size=(2, 4, 3)).astype(np.float32)
  outputs, states_fw, _ = rnn.stack_bidirectional_dynamic_rnn(
      [GRUCell(2), GRUCell(3)], [GRUCell(2), GRUCell(1)], xs, dtype=tf.float32)
  static, _, _ = rnn.stack_bidirectional_rnn([BasicRNNCell(2)], [BasicRNNCell(2)],
                                             tf.unstack(xs, axis=1), dtype=tf.float32)
  shapes = _shapes()
  prefix = "stack_bidirectional_rnn/cell_{}/bidirectional_rnn/{}/gru_cell/gates/kernel"
  assert shapes[prefix.format(0, "fw")] == [5, 4]
  assert shapes[prefix.format(1, "fw")] == [4 + 3, 6]  # reads fw (2) + bw (2) outputs
  assert shapes[prefix.format(1, "bw")] == [4 + 1, 2]
  assert shapes["stack_bidirectional_rnn/cell_0/fw/basic_rnn_cell/kernel"] == [5, 2]
  assert outputs.shape.as_list() == [2, 4, 4] and len(states_fw) == 2
  assert len(static) == 4 and static[0].shape.as_list() == [2, 4]
  sess.run(V1.global_variables_initializer())
  sess.run([outputs, static])
  with pytest.raises(ValueError, match="cells_bw"):
    rnn.stack_bidirectional_rnn([GRUCell(2)], [], tf.unstack(xs, axis=1))


def test_a_tf1_checkpoint_restores_into_the_cells(tmp_path):
  """Variables named as TF 1.15 named them restore into the cells' graph."""
  rng = _rng(10)
  shapes = {"cell_0/basic_lstm_cell/kernel": (5, 8), "cell_0/basic_lstm_cell/bias": 8,
            "cell_1/gru_cell/gates/kernel": (5, 6), "cell_1/gru_cell/gates/bias": 6,
            "cell_1/gru_cell/candidate/kernel": (5, 3),
            "cell_1/gru_cell/candidate/bias": 3}
  values = {f"rnn/multi_rnn_cell/{name}": rng.normal(size=shape).astype(np.float32)
            for name, shape in shapes.items()}
  prefix = str(tmp_path / "tf1.ckpt")
  with tf.Graph().as_default(), V1.Session() as sess:
    variables = [V1.Variable(value, name=name) for name, value in values.items()]
    sess.run(V1.global_variables_initializer())
    V1.train.Saver(variables).save(sess, prefix)
  xs = rng.normal(size=(2, 3, 3)).astype(np.float32)
  with tf.Graph().as_default(), V1.Session() as sess:
    outputs, _ = V1.nn.dynamic_rnn(MultiRNNCell([BasicLSTMCell(2), GRUCell(3)]), xs,
                                   dtype=tf.float32)
    V1.train.Saver().restore(sess, prefix)
    got = sess.run(outputs)
  lstm = {k.rsplit("/", 1)[1]: v for k, v in values.items() if "cell_0" in k}
  gru = {k.split("gru_cell/")[1]: v for k, v in values.items() if "cell_1" in k}

  def step(x, state):
    hidden, lstm_state = np_lstm(x, state[0], lstm)
    output, gru_state = np_gru(hidden, state[1], gru)
    return output, (lstm_state, gru_state)

  zeros = ((np.zeros((2, 2)), np.zeros((2, 2))), np.zeros((2, 3)))
  expected, _ = np_unroll(step, xs.transpose(1, 0, 2), zeros)
  _close(got, expected.transpose(1, 0, 2))


# -------------------------------------------------------------------- bad input


@pytest.mark.parametrize("num_units", [0, -3, 2.5, None, "64", True])
@pytest.mark.parametrize("make", [BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell])
def test_bad_num_units_is_refused_naming_it(make, num_units):
  with pytest.raises((TypeError, ValueError), match="num_units"):
    make(num_units)


@pytest.mark.parametrize("make, match", [
    (lambda: LSTMCell(3, num_proj=0), "num_proj"),
    (lambda: LSTMCell(3, cell_clip=-1.0), "cell_clip"),
    (lambda: LSTMCell(3, use_peepholes="yes"), "use_peepholes"),
    (lambda: BasicLSTMCell(3, forget_bias="1"), "forget_bias"),
    (lambda: BasicLSTMCell(3, state_is_tuple=None), "state_is_tuple"),
    (lambda: GRUCell(3, activation="softmaxx"), "activation"),
    (lambda: GRUCell(3, kernel_initializer=0.5), "kernel_initializer"),
    (lambda: BasicRNNCell(3, reuse="yes"), "reuse"),
    (lambda: MultiRNNCell([]), "cells"),
    (lambda: MultiRNNCell(GRUCell(2)), "cells"),
    (lambda: MultiRNNCell([GRUCell(2), "cell"]), r"cells\[1\]"),
    (lambda: MultiRNNCell([BasicLSTMCell(2)], state_is_tuple=False), "state_is_tuple"),
    (lambda: DropoutWrapper(GRUCell(2), output_keep_prob=0.0), "output_keep_prob"),
    (lambda: DropoutWrapper(GRUCell(2), input_keep_prob=1.5), "input_keep_prob"),
    (lambda: DropoutWrapper(object()), "cell"),
    (lambda: OutputProjectionWrapper(GRUCell(2), 0), "output_size"),
])
def test_bad_arguments_are_refused_naming_them(graph, make, match):
  with pytest.raises((TypeError, ValueError), match=match):
    make()
  assert not graph.get_operations()


def test_bad_inputs_are_refused_naming_the_cell(graph):
  with pytest.raises(ValueError, match=r"GRUCell: expected 2-D `inputs`"):
    GRUCell(3)(tf.zeros([2, 4, 3]), tf.zeros([2, 3]))
  with pytest.raises(ValueError, match="known input_size"):
    BasicLSTMCell(3)(V1.placeholder(tf.float32, [None, None]),
                     BasicLSTMCell(3).zero_state(1, tf.float32))
  with pytest.raises(TypeError, match="floating point"):
    BasicRNNCell(3)(tf.zeros([2, 4], tf.int32), tf.zeros([2, 3], tf.int32))
  with pytest.raises(ValueError, match="Expected state to be a tuple"):
    MultiRNNCell([GRUCell(2), GRUCell(2)])(tf.zeros([1, 2]), tf.zeros([1, 4]))


# --------------------------------------------------- the same checks, TF 1.x mode

CHECKS = [name for name in dir() if name.startswith("check_")]


def test_checks_under_tf1_behaviour(run_python):
  """Every check again, after `import dnn_toolkit.tf1` (reference variables, TF 1.x
  control flow: `rnn/while/...` ops); and the cells as the stand-in serves them."""
  out = run_python(f"""
      import dnn_toolkit.tf1 as tf
      import test_rnn_cell as t
      for name in {CHECKS!r}:
          getattr(t, name)()
      from dnn_toolkit.layers import rnn_cell, rnn_cell_wrappers
      assert tf.nn.rnn_cell.BasicLSTMCell is rnn_cell.BasicLSTMCell
      assert tf.nn.rnn_cell.MultiRNNCell is rnn_cell_wrappers.MultiRNNCell
      assert tf.contrib.rnn.LSTMStateTuple is tf.nn.rnn_cell.LSTMStateTuple
      assert tf.contrib.rnn.static_rnn is tf.nn.static_rnn
      assert tf.nn.dynamic_rnn is tf.compat.v1.nn.dynamic_rnn
      x = tf.placeholder(tf.float32, [None, 28, 28])
      outputs, state = tf.nn.dynamic_rnn(tf.contrib.rnn.BasicLSTMCell(8), x,
                                         dtype=tf.float32)
      kernel = tf.trainable_variables()[0]
      assert kernel.dtype.name == "float32_ref", kernel.dtype
      ops = [op.name for op in tf.get_default_graph().get_operations()]
      assert "rnn/while/basic_lstm_cell/MatMul" in ops, ops
      assert state.h.op.name.startswith("rnn/while/Exit"), state.h.op.name
      try:
          tf.contrib.rnn.LSTMBlockCell
      except tf.UnavailableAPIError as e:
          assert "tf.contrib.rnn.LSTMBlockCell is not available" in str(e), e
          assert "BasicLSTMCell" in str(e)
      else:
          raise AssertionError("LSTMBlockCell did not raise")
      print("checked", len({CHECKS!r}))
  """, timeout=240)
  assert out.strip().endswith(f"checked {len(CHECKS)}")


# TensorFlow 2.21 still ships TF 1.x's cells as private Keras 2 code (the public
# `tf.compat.v1.nn.rnn_cell` refuses them under Keras 3). Where it imports, the same
# graphs built from both must name the same variables and, with those variables'
# values copied over, compute the same numbers.
AGAINST_TENSORFLOW = """
import numpy as np
import dnn_toolkit.tf1 as tf
try:
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as theirs
except Exception as e:  # A TensorFlow without them: nothing to compare with.
    print("SKIP", type(e).__name__, e)
    raise SystemExit(0)
from dnn_toolkit.layers import rnn_cell, rnn_cell_wrappers

class ours:
    pass
for module in (rnn_cell, rnn_cell_wrappers):
    for name, value in vars(module).items():
        setattr(ours, name, value)

rng = np.random.default_rng(0)
X = rng.normal(size=(3, 6, 4)).astype(np.float32)
LENGTHS = [6, 3, 5]
nn = tf.nn
BUILDS = {
    "basic_rnn": lambda m, x: nn.dynamic_rnn(m.BasicRNNCell(4), x, dtype=tf.float32),
    "basic_lstm": lambda m, x: nn.dynamic_rnn(m.BasicLSTMCell(4, forget_bias=0.3), x,
                                              sequence_length=LENGTHS,
                                              dtype=tf.float32),
    "lstm": lambda m, x: nn.dynamic_rnn(m.LSTMCell(
        5, use_peepholes=True, num_proj=3, cell_clip=0.5, proj_clip=0.4), 3 * x,
        dtype=tf.float32),
    "gru": lambda m, x: nn.dynamic_rnn(m.GRUCell(4), x, dtype=tf.float32),
    "multi": lambda m, x: nn.dynamic_rnn(m.MultiRNNCell([
        m.DropoutWrapper(m.BasicLSTMCell(3), output_keep_prob=1.0),
        m.ResidualWrapper(m.GRUCell(3))]), x, dtype=tf.float32),
    "bidirectional": lambda m, x: nn.static_bidirectional_rnn(
        m.LSTMCell(3), m.GRUCell(2), tf.unstack(x, axis=1), dtype=tf.float32),
    "concatenated": lambda m, x: nn.static_rnn(
        m.BasicLSTMCell(3, state_is_tuple=False), tf.unstack(x, axis=1),
        dtype=tf.float32),
}

def build(module, name):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        outputs = BUILDS[name](module, tf.constant(X))
        return graph, outputs, tf.global_variables(), tf.global_variables_initializer()

for name in BUILDS:
    graph, outputs, variables, init = build(ours, name)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        values = {v.op.name: sess.run(v) for v in variables}
        got = sess.run(outputs)
    graph, outputs, variables, init = build(theirs, name)
    assert [v.op.name for v in variables] == list(values), (name, list(values))
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        for v in variables:
            v.load(values[v.op.name], sess)
        expected = sess.run(outputs)
    for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
    print("same", name, len(values))
"""


def test_cells_match_tensorflows_own_tf1_cells(run_python):
  out = run_python(AGAINST_TENSORFLOW, timeout=240)
  if out.startswith("SKIP"):
    pytest.skip(f"TensorFlow's private TF 1.x cells do not import: {out.strip()}")
  assert [line.split()[1] for line in out.splitlines() if line.startswith("same")] == [
      "basic_rnn", "basic_lstm", "lstm", "gru", "multi", "bidirectional",
      "concatenated"]
