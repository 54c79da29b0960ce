"""Accuracy of the lesson's default DNN on MNIST: target >= 98.0% test in <= 20 epochs.

    python bench/accuracy.py                 # the full run (about 3 minutes on 2 cores)
    python bench/accuracy.py --epochs 2      # a quick look

The configuration is `DNNConfig()`: 784-300-100-10, He initialization, ELU, batch
normalization, dropout, Adam, no schedule; batch 50, early stopping with patience 5 on
the validation loss, the best weights restored before the test.
"""

import argparse
import dataclasses
import tempfile

from dnn_toolkit import import_tensorflow_quietly

import_tensorflow_quietly()

from dnn_toolkit.runs import lifecycle  # pylint: disable=g-import-not-at-top
from dnn_toolkit.data import mnist
from dnn_toolkit.model import LESSON_DEFAULT  # pylint: disable=g-import-not-at-top

TARGET = 0.98


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--epochs", type=int, default=20)
  parser.add_argument("--batch-size", type=int, default=50)
  parser.add_argument("--seed", type=int, default=LESSON_DEFAULT.seed)
  args = parser.parse_args()
  datasets = mnist.load_mnist()
  config = dataclasses.replace(LESSON_DEFAULT, seed=args.seed)
  with tempfile.TemporaryDirectory() as run_dir:
    result = lifecycle.train(config, datasets.train, datasets.validation,
                              test=datasets.test, run_dir=f"{run_dir}/run",
                              epochs=args.epochs, batch_size=args.batch_size, patience=5)
  state = result.state
  print(f"config: {config}")
  print(f"epochs run: {state.epoch} (best: {state.best_epoch}), "
        f"training time {result.seconds:.0f} s")
  accuracy = result.test["accuracy"]
  verdict = "meets" if accuracy >= TARGET else "MISSES"
  print(f"test accuracy: {accuracy:.4f} ({verdict} the {TARGET:.1%} target)")


if __name__ == "__main__":
  main()
