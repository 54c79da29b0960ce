"""Training speed: dnn_toolkit's trainer vs a hand-written Session loop vs Keras `fit`.

    python bench/train_speed.py            # 3 rounds, batch sizes 50 and 500
    python bench/train_speed.py --rounds 1 --examples 11000   # quicker

The model is 784-300-100-10 (ReLU, He initialization, Adam, no batch norm or dropout) on
MNIST. The trainers run one epoch each, alternated round by round in this process, so
they share the machine's state; the median samples/second of each is reported with the
ratios the project targets (dnn_toolkit >= 0.95x the hand-written loop, >= 1.5x Keras
`fit` at batch 50). A fourth run, `no_copy`, feeds the same step contiguous unshuffled
slices: its ratio to dnn_toolkit bounds what feeding without a per-step copy could gain.
"""

import argparse
import statistics
import time

from dnn_toolkit import import_tensorflow_quietly

tf = import_tensorflow_quietly()

import numpy as np  # pylint: disable=g-import-not-at-top

from dnn_toolkit import _fast_run, data, training  # pylint: disable=g-import-not-at-top
from dnn_toolkit.model import DNNConfig, build_dnn  # pylint: disable=g-import-not-at-top

_V1 = tf.compat.v1
CONFIG = DNNConfig(hidden_layers=(300, 100), activation="relu", initializer="he",
                   batch_norm=False, dropout_rate=0.0, optimizer="adam", seed=42)


def toolkit_trainer(X, y, batch_size):
  """dnn_toolkit: build_dnn + training.fit for one epoch."""
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(CONFIG, X.shape[1])
    snapshot = training.ParamSnapshot()
    init = _V1.global_variables_initializer()
  sess = _V1.Session(graph=graph)
  sess.run(init)
  valid = (X[:500], y[:500])

  def run():
    training.fit(sess, dnn, (X, y), valid, epochs=1, batch_size=batch_size,
                 snapshot=snapshot, verbose=0)
  return run, sess.close


def no_copy_trainer(X, y, batch_size):
  """The toolkit's training step on contiguous, unshuffled batches: no per-step copy.

  Not a way to train (every epoch sees the same batches): it bounds what feeding
  batches without a Python copy per step could gain over the shuffled gather.
  """
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(CONFIG, X.shape[1])
    init = _V1.global_variables_initializer()
  sess = _V1.Session(graph=graph)
  sess.run(init)
  step = _fast_run.step_function(sess, dnn.train_op, dnn.batch_stats,
                                 [dnn.X, dnn.y, dnn.is_training])

  def run():
    for start in range(0, len(X), batch_size):
      step(X[start:start + batch_size], y[start:start + batch_size], True)
  return run, sess.close


def handwritten_trainer(X, y, batch_size):
  """The lesson's style: tf.compat.v1 ops and sess.run(training_op, feed_dict=...)."""
  graph = tf.Graph()
  with graph.as_default():
    Xp = _V1.placeholder(tf.float32, (None, 784), name="X")
    yp = _V1.placeholder(tf.int64, (None,), name="y")
    he = _V1.variance_scaling_initializer(scale=2.0)
    w1 = _V1.get_variable("w1", (784, 300), initializer=he)
    w2 = _V1.get_variable("w2", (300, 100), initializer=he)
    w3 = _V1.get_variable("w3", (100, 10), initializer=he)
    b1, b2, b3 = (_V1.get_variable(f"b{i}", (n,), initializer=_V1.zeros_initializer())
                  for i, n in ((1, 300), (2, 100), (3, 10)))
    hidden1 = tf.nn.relu(tf.matmul(Xp, w1) + b1)
    hidden2 = tf.nn.relu(tf.matmul(hidden1, w2) + b2)
    logits = tf.matmul(hidden2, w3) + b3
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yp, logits=logits))
    training_op = _V1.train.AdamOptimizer(0.001).minimize(loss)
    init = _V1.global_variables_initializer()
  sess = _V1.Session(graph=graph)
  sess.run(init)
  rng = np.random.default_rng(0)

  def run():
    for idx in np.array_split(rng.permutation(len(X)), int(np.ceil(len(X) / batch_size))):
      sess.run(training_op, feed_dict={Xp: X[idx], yp: y[idx]})
  return run, sess.close


def keras_trainer(X, y, batch_size):
  """Keras 3 `model.fit` on the same architecture."""
  keras = tf.keras
  model = keras.Sequential([
      keras.Input((784,)),
      keras.layers.Dense(300, activation="relu", kernel_initializer="he_normal"),
      keras.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
      keras.layers.Dense(10)])
  model.compile(optimizer=keras.optimizers.Adam(0.001),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

  def run():
    model.fit(X, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
  return run, lambda: None


TRAINERS = {"dnn_toolkit": toolkit_trainer, "handwritten": handwritten_trainer,
            "keras_fit": keras_trainer, "no_copy": no_copy_trainer}


def measure(X, y, batch_size, rounds):
  """Returns {trainer: [samples/s per round]}, trainers alternated within each round."""
  runs = {}
  for name, make in TRAINERS.items():
    run, close = make(X, y, batch_size)
    run()  # Warm-up: graph optimizations, tf.function tracing, allocator.
    runs[name] = (run, close)
  speeds = {name: [] for name in TRAINERS}
  for _ in range(rounds):
    for name, (run, _) in runs.items():
      start = time.perf_counter()
      run()
      speeds[name].append(len(X) / (time.perf_counter() - start))
  for _, close in runs.values():
    close()
  return speeds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--examples", type=int, default=55000,
                      help="training examples per epoch (default: all 55000)")
  parser.add_argument("--batch-sizes", type=int, nargs="+", default=[50, 500])
  args = parser.parse_args()
  train = data.load_mnist().train
  X, y = train.images[:args.examples], train.labels[:args.examples]
  print(f"{len(X)} examples/epoch, {args.rounds} rounds, TensorFlow {tf.__version__}")
  print(f"{'batch':>5}  {'dnn_toolkit':>12}  {'handwritten':>12}  {'keras_fit':>12}"
        f"  {'tk/hand':>8}  {'tk/keras':>8}  {'no_copy/tk':>10}   (samples/s, median)")
  for batch_size in args.batch_sizes:
    speeds = {k: statistics.median(v) for k, v in measure(X, y, batch_size,
                                                          args.rounds).items()}
    tk, hand, keras = speeds["dnn_toolkit"], speeds["handwritten"], speeds["keras_fit"]
    print(f"{batch_size:>5}  {tk:>12,.0f}  {hand:>12,.0f}  {keras:>12,.0f}"
          f"  {tk / hand:>8.2f}  {tk / keras:>8.2f}  {speeds['no_copy'] / tk:>10.2f}",
          flush=True)


if __name__ == "__main__":
  main()
