"""Training speed on a local cluster: 1 ps + 1 or 2 workers, async and sync, vs one process.

    python bench/distributed.py                 # 11,000 examples, 3 epochs each
    python bench/distributed.py --examples 5500 --epochs 2   # quicker

The model is 784-300-100-10 (ReLU, He initialization, Adam, no batch norm or dropout)
on MNIST at batch 50 per worker. The single-process run is `runs.lifecycle.train`; each
cluster is `dnn-toolkit cluster --ps 1 --workers N [--sync]` of real TensorFlow
processes on 127.0.0.1. Samples/s is the training set divided by the median epoch time
after the first epoch (so start-up is not counted), from each run's own record; the
ratios are to the single process. Every task shares this machine's cores, so the
figures say what the gRPC hop to the ps costs per step, not how a cluster of hosts
scales (see the README's back-of-envelope of the ps link).
"""

import argparse
import os
import statistics
import sys
import tempfile

import numpy as np

from dnn_toolkit import compat
from dnn_toolkit.cluster import launcher

FLAGS = ["--hidden-layers", "300", "100", "--activation", "relu", "--initializer", "he",
         "--no-batch-norm", "--dropout-rate", "0", "--optimizer", "adam",
         "--batch-size", "50", "--patience", "0", "--log-every-steps", "1000000",
         "--quiet", "--no-verify"]
VALIDATION = 1000
PARAMETERS = 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10  # 266,610 floats


def write_subset(path, n_train):
  """Writes the first `n_train` + VALIDATION MNIST training images as a mnist.npz."""
  from dnn_toolkit.data import mnist  # pylint: disable=import-outside-toplevel
  data = mnist.load_mnist(validation_size=0)
  n = n_train + VALIDATION
  as_uint8 = lambda x: np.round(x * 255).astype(np.uint8).reshape(-1, 28, 28)
  np.savez(path, x_train=as_uint8(data.train.images[:n]),
           y_train=data.train.labels[:n].astype(np.uint8),
           x_test=as_uint8(data.test.images[:1000]),
           y_test=data.test.labels[:1000].astype(np.uint8))


def samples_per_second(history, n_train):
  """n_train / the median epoch time, leaving out the first epoch (start-up)."""
  seconds = [epoch["seconds"] for epoch in history[1:]] or [history[0]["seconds"]]
  return n_train / statistics.median(seconds)


def single_process(data_path, run_dir, epochs):
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit.runs import lifecycle
  from dnn_toolkit.config import DNNConfig
  from dnn_toolkit.data import mnist
  config = DNNConfig(hidden_layers=(300, 100), activation="relu", initializer="he",
                     batch_norm=False, dropout_rate=0.0, optimizer="adam")
  data = mnist.load_mnist(validation_size=VALIDATION, path=data_path, verify=False)
  result = lifecycle.train(config, data.train, data.validation, run_dir=run_dir,
                            epochs=epochs, batch_size=50, patience=None, verbose=0)
  return result.history


def on_cluster(data_path, run_dir, epochs, workers, sync):
  from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
  argv = [sys.executable, "-m", "dnn_toolkit", "cluster", "--data", data_path,
          "--validation-size", str(VALIDATION), "--epochs", str(epochs), *FLAGS,
          "--run-dir", run_dir] + (["--sync"] if sync else [])
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  keep = lambda line: not compat.is_startup_notice(line)
  with open(os.devnull, "w") as sink:
    with launcher.LocalCluster(1, workers, argv, env=env, stream=sink,
                              keep_line=keep) as local:
      code = local.run(timeout=600)
  if code:
    raise SystemExit(f"the cluster of {workers} workers (sync={sync}) failed: {code}")
  return checkpoints.RunRecord.read(run_dir).state.history


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--examples", type=int, default=11000, help="training examples")
  parser.add_argument("--epochs", type=int, default=3, help="epochs per run (>= 2)")
  args = parser.parse_args()
  compat.import_tensorflow_quietly()
  with tempfile.TemporaryDirectory() as tmp:
    data_path = os.path.join(tmp, "mnist.npz")
    write_subset(data_path, args.examples)
    runs = [("single process", None)]
    runs += [(f"1 ps + {w} worker{'s' * (w > 1)}, {mode}", (w, mode == "sync"))
             for mode in ("async", "sync") for w in (1, 2)]
    rates = {}
    for name, layout in runs:
      run_dir = os.path.join(tmp, name.replace(" ", "_").replace(",", ""))
      history = (single_process(data_path, run_dir, args.epochs) if layout is None
                 else on_cluster(data_path, run_dir, args.epochs, *layout))
      rates[name] = samples_per_second(history, args.examples)
      print(f"{name:<28} {rates[name]:>9,.0f} samples/s  "
            f"{rates[name] / rates['single process']:.2f}x", flush=True)
  megabytes = PARAMETERS * 4 / 1e6
  print(f"\nper worker step: {megabytes:.2f} MB of variables read from the ps and "
        f"{megabytes:.2f} MB of gradients sent to it")


if __name__ == "__main__":
  main()
