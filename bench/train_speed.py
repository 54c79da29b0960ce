"""Training speed side by side: dnn_toolkit, a hand-written loop, Keras 3, PyTorch.

    python bench/train_speed.py                 # 5 rounds of 300 steps, batch 50 200 500
    python bench/train_speed.py --rounds 3 --steps 200 --no-accuracy   # quicker

Every trainer trains the same 784-300-100-10 ReLU net (He initialization, Adam 0.001,
no batch norm or dropout) on shuffled MNIST. Each round gives every trainer `--steps`
steps (one epoch of the first steps * batch examples, at most 55,000), the trainers
alternated round by round in this one process so they share the machine's state; the
table shows the median samples/s, the range over rounds, and ratios.

Trainers: dnn_toolkit with one step per Session call (`k1`), with K steps per call
chosen automatically (`auto`, `dnn_toolkit.training.multistep`, the default), and in
fast mode (`fast`: `fit(fast=True)`, XLA-compiled steps); the lesson's hand-written
`sess.run(train_op, feed_dict=...)` loop; Keras 3 `fit`, plain and with
`steps_per_execution=100`; PyTorch with two threads and fused Adam (where the CPU
build has it) and with one thread. Peers that are not installed are skipped, and said
so (PyTorch: `pip install torch`).

Each trainer's CPU use is measured in the same rounds: cpu/wall, the process's CPU
seconds (`os.times`, user + system, every thread) over the wall seconds of its epochs;
2.0 keeps both cores of a 2-core machine busy. The machine's load (`os.getloadavg`) is
printed with each table: on a shared machine the other processes' share bounds it.

The same run measures the machine's fp32 matmul rate with TensorFlow on the training
step's own matmul shapes at each batch size (`step_matmul_gflops`: the three forward
matmuls, the three weight gradients and the two input gradients of a step, in a
`tf.while_loop`, best of several calls), and on square 1024 x 1024 matmuls for
reference, and states each trainer's achieved GFLOP/s as a share of the step-shaped
rate. A step's FLOPs per example are those its matmuls execute: forward 2 * sum(in *
out), weight gradients as much again, input gradients of every layer but the first
(1.13 MFLOP; the rule of thumb "forward + backward = 3x forward", 1.60 MFLOP, counts
the first layer's input gradient, which no trainer computes).

It also times each trainer to 97.5% validation accuracy at batch 50 from `--seeds`
seeds (validation on the 5,000 held-out images after each epoch; training seconds from
a fresh trainer, so the first call's graph optimization is counted, and evaluation
excluded; the median over the seeds), and measures the
peak RSS of a one-epoch default MNIST training in child processes: float32 images one
step per call (the trainer before multi-step) and uint8 `load_mnist(compact=True)` with
auto K.
"""

import argparse
import dataclasses
import math
import os
import resource
import statistics
import subprocess
import sys
import textwrap
import time

from dnn_toolkit import import_tensorflow_quietly

tf = import_tensorflow_quietly()

import numpy as np  # pylint: disable=g-import-not-at-top

from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import mnist  # pylint: disable=g-import-not-at-top
from dnn_toolkit.model import build_dnn  # pylint: disable=g-import-not-at-top
from dnn_toolkit.training import loop as training
from dnn_toolkit.training import hooks as training_hooks

try:
  import torch  # pylint: disable=g-import-not-at-top
except ImportError:
  torch = None

_V1 = tf.compat.v1
CONFIG = DNNConfig(hidden_layers=(300, 100), activation="relu", initializer="he",
                   batch_norm=False, dropout_rate=0.0, optimizer="adam", seed=42)
LAYERS = (784, 300, 100, 10)
# Matmul FLOPs per example: forward 2 * sum(in * out); a training step adds the
# weight gradients (as much again) and the input gradients of every layer but the
# first (the images need none).
FORWARD_FLOPS_PER_EXAMPLE = 2 * sum(a * b for a, b in zip(LAYERS, LAYERS[1:]))
FLOPS_PER_EXAMPLE = (2 * FORWARD_FLOPS_PER_EXAMPLE
                     + 2 * sum(a * b for a, b in zip(LAYERS[1:], LAYERS[2:])))
TARGET_ACCURACY = 0.975


class ToolkitTrainer:
  """dnn_toolkit: build_dnn + training.fit, one epoch per `run`."""

  def __init__(self, X, y, batch_size, steps_per_call, fast=False, seed=0):
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.dnn = build_dnn(dataclasses.replace(CONFIG, seed=42 + seed), X.shape[1])
      self.best_weights = training_hooks.BestWeights()
      init = _V1.global_variables_initializer()
    self.sess = _V1.Session(graph=self.graph)
    self.sess.run(init)
    self.X, self.y, self.batch_size = X, y, batch_size
    self.steps_per_call, self.fast = steps_per_call, fast
    self.state = None

  def run(self):
    # One more epoch of the same run: the epoch's own order, the multi-step ops reused.
    epochs = 1 if self.state is None else self.state.epoch + 1
    self.state = training.fit(
        self.sess, self.dnn, (self.X, self.y), (self.X[:500], self.y[:500]),
        epochs=epochs, batch_size=self.batch_size, state=self.state,
        best_weights=self.best_weights, verbose=0, steps_per_call=self.steps_per_call,
        fast=self.fast)
    self.state.best_val_loss = float("inf")  # Keeps the last weights, as peers do.

  def accuracy(self, X, y):
    return training.evaluate(self.sess, self.dnn, X, y)["accuracy"]

  def close(self):
    self.sess.close()


class HandwrittenTrainer:
  """The lesson's style: tf.compat.v1 ops and sess.run(training_op, feed_dict=...)."""

  def __init__(self, X, y, batch_size, seed=0):
    graph = tf.Graph()
    with graph.as_default():
      _V1.set_random_seed(seed)
      self.Xp = _V1.placeholder(tf.float32, (None, 784), name="X")
      self.yp = _V1.placeholder(tf.int64, (None,), name="y")
      he = _V1.variance_scaling_initializer(scale=2.0)
      top = self.Xp
      for i, (n_in, n_out) in enumerate(zip(LAYERS, LAYERS[1:])):
        w = _V1.get_variable(f"w{i}", (n_in, n_out), initializer=he)
        b = _V1.get_variable(f"b{i}", (n_out,), initializer=_V1.zeros_initializer())
        top = tf.matmul(top, w) + b
        top = tf.nn.relu(top) if n_out != LAYERS[-1] else top
      loss = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.yp, logits=top))
      self.training_op = _V1.train.AdamOptimizer(0.001).minimize(loss)
      self.correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(top, 1), self.yp),
                                           tf.float32))
      init = _V1.global_variables_initializer()
    self.sess = _V1.Session(graph=graph)
    self.sess.run(init)
    self.X, self.y, self.batch_size = X, y, batch_size
    self.rng = np.random.default_rng(seed)

  def run(self):
    order = self.rng.permutation(len(self.X))
    for start in range(0, len(order), self.batch_size):
      idx = order[start:start + self.batch_size]
      self.sess.run(self.training_op, feed_dict={self.Xp: self.X[idx],
                                                 self.yp: self.y[idx]})

  def accuracy(self, X, y):
    return self.sess.run(self.correct, {self.Xp: X, self.yp: y}) / len(y)

  def close(self):
    self.sess.close()


class KerasTrainer:
  """Keras 3 `model.fit` on the same architecture."""

  def __init__(self, X, y, batch_size, steps_per_execution=1, seed=0):
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    self.model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(300, activation="relu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        keras.layers.Dense(10)])
    self.model.compile(optimizer=keras.optimizers.Adam(0.001),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       steps_per_execution=steps_per_execution)
    self.X, self.y, self.batch_size = X, y, batch_size

  def run(self):
    self.model.fit(self.X, self.y, batch_size=self.batch_size, epochs=1, shuffle=True,
                   verbose=0)

  def accuracy(self, X, y):
    logits = self.model.predict(X, batch_size=5000, verbose=0)
    return float(np.mean(np.argmax(logits, 1) == y))

  def close(self):
    pass


class TorchTrainer:
  """PyTorch eager training: `threads` intra-op threads, fused Adam if available."""

  def __init__(self, X, y, batch_size, threads, fused, seed=0):
    self.threads = threads
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    modules = []
    for n_in, n_out in zip(LAYERS, LAYERS[1:]):
      linear = torch.nn.Linear(n_in, n_out)
      torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
      torch.nn.init.zeros_(linear.bias)
      modules += [linear, torch.nn.ReLU()]
    self.model = torch.nn.Sequential(*modules[:-1])
    self.fused = False
    if fused:
      try:
        self.optimizer = torch.optim.Adam(self.model.parameters(), 1e-3, fused=True)
        self.fused = True
      except (RuntimeError, TypeError, ValueError):
        pass
    if not self.fused:
      self.optimizer = torch.optim.Adam(self.model.parameters(), 1e-3)
    self.X, self.y = torch.from_numpy(np.asarray(X)), torch.from_numpy(y)
    self.batch_size = batch_size
    self.loss = torch.nn.CrossEntropyLoss()

  def run(self):
    torch.set_num_threads(self.threads)  # Process-wide: set for this trainer's round.
    order = torch.randperm(len(self.X))
    for start in range(0, len(order), self.batch_size):
      idx = order[start:start + self.batch_size]
      self.optimizer.zero_grad(set_to_none=True)
      self.loss(self.model(self.X[idx]), self.y[idx]).backward()
      self.optimizer.step()

  def accuracy(self, X, y):
    torch.set_num_threads(self.threads)
    with torch.no_grad():
      logits = self.model(torch.from_numpy(np.asarray(X)))
    return float((logits.argmax(1).numpy() == y).mean())

  def close(self):
    pass


def trainer_factories():
  """{name: make(X, y, batch_size, seed)}, and the peers skipped with the reason."""
  factories = {
      "toolkit_k1": lambda X, y, b, seed=0: ToolkitTrainer(X, y, b, 1, seed=seed),
      "toolkit_auto": lambda X, y, b, seed=0: ToolkitTrainer(X, y, b, None, seed=seed),
      "toolkit_fast": lambda X, y, b, seed=0: ToolkitTrainer(X, y, b, None, fast=True,
                                                             seed=seed),
      "handwritten": HandwrittenTrainer,
      "keras_fit": KerasTrainer,
      "keras_spe100": lambda X, y, b, seed=0: KerasTrainer(X, y, b, 100, seed=seed),
  }
  skipped = []
  if torch is None:
    skipped.append("torch_2t_fused, torch_1t: PyTorch is not installed "
                   "(pip install torch)")
  else:
    factories["torch_2t_fused"] = lambda X, y, b, seed=0: TorchTrainer(X, y, b, 2, True,
                                                                       seed)
    factories["torch_1t"] = lambda X, y, b, seed=0: TorchTrainer(X, y, b, 1, False,
                                                                 seed)
  return factories, skipped


def cpu_seconds():
  """The CPU seconds this process has used so far, all threads, user + system."""
  times = os.times()
  return times.user + times.system


def measure(factories, X, y, batch_size, rounds):
  """Returns {trainer: [(samples/s, cpu/wall) per round]}, trainers alternated."""
  trainers = {}
  for name, make in factories.items():
    trainers[name] = make(X, y, batch_size)
    trainers[name].run()  # Warm-up: graph optimizations, tracing, allocator.
  results = {name: [] for name in trainers}
  for _ in range(rounds):
    for name, trainer in trainers.items():
      start, cpu = time.perf_counter(), cpu_seconds()
      trainer.run()
      wall = time.perf_counter() - start
      results[name].append((len(X) / wall, (cpu_seconds() - cpu) / wall))
  for trainer in trainers.values():
    trainer.close()
  return results


def _best_rate(sess, fetch, flops, tries):
  """The best GFLOP/s of `tries` runs of `fetch`, which executes `flops` FLOPs."""
  sess.run(fetch)  # Warm-up: graph optimization, allocations.
  best = 0.0
  for _ in range(tries):
    start = time.perf_counter()
    sess.run(fetch)
    best = max(best, flops / (time.perf_counter() - start) / 1e9)
  return best


def matmul_gflops(n=1024, repeats=20, tries=5):
  """The best fp32 GFLOP/s of `repeats` chained n x n matmuls in one Session call."""
  graph = tf.Graph()
  with graph.as_default():
    # A variable, not a constant: the graph optimizer would fold a constant's chain.
    a = tf.Variable(np.random.default_rng(0).random((n, n), np.float32) / n)
    top = a
    for _ in range(repeats):
      top = tf.matmul(top, a)
    result = tf.reduce_sum(top)
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    return _best_rate(sess, result, 2 * n**3 * repeats, tries)


def step_matmul_gflops(batch_size, steps=100, tries=5):
  """The best fp32 GFLOP/s of a training step's matmuls at `batch_size`.

  A `tf.while_loop` of `steps` iterations runs what a step of the net multiplies:
  forward `[b, 784] x [784, 300]`, `[b, 300] x [300, 100]`, `[b, 100] x [100, 10]`,
  the three weight gradients (`x^T g`) and the input gradients of the upper two
  layers (`g w^T`), each step's matmuls depending on the last step's weights (a
  1e-9 step along the weight gradients), as a training step's do. The FLOPs counted
  are the matmuls' alone (`FLOPS_PER_EXAMPLE * batch_size` per step).
  """
  rng = np.random.default_rng(0)
  graph = tf.Graph()
  with graph.as_default():
    X = tf.constant(rng.random((batch_size, LAYERS[0]), np.float32))
    weights = [tf.constant(rng.normal(0, 0.05, (n_in, n_out)).astype(np.float32))
               for n_in, n_out in zip(LAYERS, LAYERS[1:])]

    def body(i, *weights):
      activations = [X]
      for w in weights:
        activations.append(tf.matmul(activations[-1], w))  # [b, n_out]
      grad = activations[-1]  # Stands for dLoss/dlogits: [b, 10].
      new_weights = [None] * len(weights)
      for layer in reversed(range(len(weights))):
        w_grad = tf.matmul(activations[layer], grad, transpose_a=True)  # [n_in, n_out]
        new_weights[layer] = weights[layer] - 1e-9 * w_grad
        if layer:
          grad = tf.matmul(grad, weights[layer], transpose_b=True)  # [b, n_in]
      return [i + 1] + new_weights

    loop = tf.while_loop(lambda i, *_: i < steps, body, [tf.constant(0)] + weights)
    result = tf.add_n([tf.reduce_sum(w) for w in loop[1:]])
  with _V1.Session(graph=graph) as sess:
    return _best_rate(sess, result, FLOPS_PER_EXAMPLE * batch_size * steps, tries)


def time_to_accuracy(factories, datasets, batch_size, max_epochs, seeds,
                     max_seconds=30.0):
  """{trainer: [Reached per seed]} to TARGET_ACCURACY (`seconds` None if not reached).

  Each trainer starts fresh from each seed (its initialization and shuffling): how
  many epochs a net needs varies with the seed by one epoch or more, so one seed
  decides nothing. A trainer stops after `max_epochs`, or after the epoch that passes
  `max_seconds` of training: on a loaded machine PyTorch's two spinning threads can
  slow down 30-fold, and the benchmark must still end.
  """
  train, valid = datasets.train, datasets.validation
  X, X_valid = np.asarray(train.images), np.asarray(valid.images)
  results = {name: [] for name in factories}
  for seed in range(seeds):
    for name, make in factories.items():
      trainer = make(X, train.labels, batch_size, seed=seed)
      reached = Reached([], [], None, 0.0, 0.0)
      for _ in range(max_epochs):
        start, cpu = time.perf_counter(), cpu_seconds()
        trainer.run()
        reached.epoch_seconds.append(time.perf_counter() - start)
        reached.cpu += cpu_seconds() - cpu
        reached.wall += reached.epoch_seconds[-1]
        reached.accuracies.append(trainer.accuracy(X_valid, valid.labels))
        if reached.accuracies[-1] >= TARGET_ACCURACY:
          reached.seconds = reached.wall
          break
        if reached.wall > max_seconds:
          break
      trainer.close()
      results[name].append(reached)
  return results


@dataclasses.dataclass
class Reached:
  """A trainer's way to the target accuracy from one seed, epoch by epoch."""
  epoch_seconds: list  # training seconds of each epoch (the first includes warm-up)
  accuracies: list     # validation accuracy after each epoch
  seconds: float | None  # training seconds to the target; None: not reached
  cpu: float           # CPU seconds of the training epochs
  wall: float          # wall seconds of the training epochs


RSS_CHILD = textwrap.dedent("""
    import sys
    from dnn_toolkit import import_tensorflow_quietly
    tf = import_tensorflow_quietly()
    from dnn_toolkit.training import loop as training
    from dnn_toolkit.config import DNNConfig
    from dnn_toolkit.model import build_dnn
    compact, steps_per_call = sys.argv[1] == "compact", int(sys.argv[2]) or None
    datasets = mnist.load_mnist(compact=compact)
    with tf.Graph().as_default() as graph:
      dnn = build_dnn(DNNConfig(), 784)
      init = tf.compat.v1.global_variables_initializer()
      with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        training.fit(sess, dnn, datasets.train, datasets.validation, epochs=1,
                     verbose=0, steps_per_call=steps_per_call)
    # VmHWM: this process's own peak (ru_maxrss can report the parent's after a fork).
    with open("/proc/self/status") as status:
      print([line.split()[1] for line in status if line.startswith("VmHWM")][0])
""")


def peak_rss_mb(images, steps_per_call):
  """Peak RSS (MB) of a one-epoch default MNIST training in a child process.

  Args:
    images: "float32" (`load_mnist()`) or "compact" (`load_mnist(compact=True)`).
    steps_per_call: `fit`'s, 0 for None (automatic).
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  out = subprocess.run([sys.executable, "-c", RSS_CHILD, images, str(steps_per_call)],
                       check=True,
                       capture_output=True, text=True, env=env).stdout
  return int(out.split()[-1]) / 1024  # VmHWM is in KiB.


def print_speed_table(batch_size, results, gflops):
  """Prints samples/s, ratios, cpu/wall and the share of the step-shaped matmul rate."""
  def median(name, i=0):
    return statistics.median(r[i] for r in results[name])

  auto = median("toolkit_auto")
  print(f"\nbatch {batch_size}: samples/s median [min-max] of the rounds, toolkit_auto "
        f"against it, cpu/wall median, share of the step's matmul rate "
        f"({gflops:.0f} GFLOP/s); load {_load()}")
  for name, rounds in results.items():
    speeds = [r[0] for r in rounds]
    share = median(name) * FLOPS_PER_EXAMPLE / 1e9 / gflops
    print(f"  {name:<15} {median(name):>9,.0f} [{min(speeds):>7,.0f}-{max(speeds):>7,.0f}]"
          f"  auto/it {auto / median(name):>5.2f}x  cpu/wall {median(name, 1):4.2f}"
          f"  {share:>6.1%}", flush=True)
  torch_names = [name for name in results if name.startswith("torch")]
  if torch_names:
    best = max(torch_names, key=median)
    print(f"  toolkit_auto / PyTorch's best ({best}) = {auto / median(best):.2f}x")
    if "toolkit_fast" in results:
      print(f"  toolkit_fast / PyTorch's best ({best}) = "
            f"{median('toolkit_fast') / median(best):.2f}x")
  print(f"  toolkit_auto / toolkit_k1 = {auto / median('toolkit_k1'):.2f}x")


def print_time_to_accuracy(results, max_epochs):
  seeds = len(next(iter(results.values())))
  print(f"\ntime to {TARGET_ACCURACY:.1%} validation accuracy at batch 50, {seeds} "
        f"seeds (training seconds from a fresh trainer: median over the seeds, a seed "
        f"not reaching it counts as never; epochs per seed; cpu/wall; load {_load()}):")
  for name, runs in results.items():
    seconds = statistics.median(r.seconds if r.seconds is not None else math.inf
                                for r in runs)
    text = (f"{seconds:6.1f} s" if math.isfinite(seconds)
            else f"not reached in {max_epochs} epochs or 30 s")
    epochs = " ".join(str(len(r.accuracies)) if r.seconds is not None else "-"
                      for r in runs)
    cpu = sum(r.cpu for r in runs) / max(sum(r.wall for r in runs), 1e-9)
    first = " ".join(f"{s:.1f}s:{a:.2%}"
                     for s, a in zip(runs[0].epoch_seconds, runs[0].accuracies))
    print(f"  {name:<15} {text}  epochs [{epochs}]  cpu/wall {cpu:4.2f}"
          f"  seed 0: [{first}]", flush=True)


def _load():
  return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=300,
                      help="training steps per trainer and round (default 300)")
  parser.add_argument("--batch-sizes", type=int, nargs="+", default=[50, 200, 500])
  parser.add_argument("--trainers", nargs="+", default=None, metavar="NAME",
                      help="only these trainers (toolkit_auto and toolkit_k1 always)")
  parser.add_argument("--no-accuracy", action="store_true",
                      help="skip the time to 97.5%% validation accuracy")
  parser.add_argument("--no-rss", action="store_true", help="skip the peak RSS runs")
  parser.add_argument("--seeds", type=int, default=5,
                      help="seeds of the time to 97.5%% (default 5)")
  args = parser.parse_args()
  started = time.perf_counter()
  datasets = mnist.load_mnist()
  train = datasets.train
  factories, skipped = trainer_factories()
  if args.trainers:
    keep = set(args.trainers) | {"toolkit_auto", "toolkit_k1"}
    factories = {name: make for name, make in factories.items() if name in keep}
  print(f"TensorFlow {tf.__version__}, Keras {tf.keras.version()}, "
        f"PyTorch {torch.__version__ if torch else 'not installed'}, "
        f"{os.cpu_count()} CPUs; {args.rounds} rounds of {args.steps} steps; "
        f"load {_load()}")
  for line in skipped:
    print(f"skipped: {line}")
  print(f"matmul rate: {matmul_gflops():.0f} GFLOP/s fp32 (1024x1024, best of 5); "
        f"{FLOPS_PER_EXAMPLE / 1e6:.2f} MFLOP per example per step "
        f"({3 * FORWARD_FLOPS_PER_EXAMPLE / 1e6:.2f} by 3x forward)")
  for batch_size in args.batch_sizes:
    n = min(len(train.labels), args.steps * batch_size)
    before = step_matmul_gflops(batch_size)
    results = measure(factories, train.images[:n], train.labels[:n], batch_size,
                      args.rounds)
    after = step_matmul_gflops(batch_size)
    print_speed_table(batch_size, results, max(before, after))
    print(f"  the step's matmuls alone: {before:.0f} GFLOP/s before the rounds, "
          f"{after:.0f} after (best of 5 calls of 100 steps)", flush=True)
  if not args.no_accuracy:
    print_time_to_accuracy(
        time_to_accuracy(factories, datasets, 50, 8, args.seeds), 8)
  if not args.no_rss:
    print("\npeak RSS of a 1-epoch default MNIST training (DNNConfig(), batch 50):")
    for images, steps, text in (("float32", 1, "float32 images, K=1 (before)"),
                                ("float32", 0, "float32 images, auto K"),
                                ("compact", 1, "uint8 compact images, K=1"),
                                ("compact", 0, "uint8 compact images, auto K")):
      print(f"  {text:<32} {peak_rss_mb(images, steps):5.0f} MB", flush=True)
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f"(this process: peak RSS {peak:.0f} MB; {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
  main()
