"""Transfer learning on MNIST: reused, frozen, cached, unfrozen, pretrained layers.

Run:
    python bench/transfer.py            # full: about 5 minutes on 2 CPU cores
    python bench/transfer.py --quick    # smaller budget and one draw, under a minute

The lesson's reference exercise: a 5x100 ELU net (He initialization, Adam, no batch
norm, no dropout) trained on digits 0-4 with early stopping; its hidden layers then
serve digits 5-9, learned from only 100 training images per digit (relabelled 0-4,
validated and tested on the 5-9 images of the validation and test splits). Every
variant trains with early stopping on the 5-9 validation images and is scored on the
5-9 test images with the weights of its lowest validation loss:

  frozen            all five reused layers frozen, a new output layer trained
  frozen, cached    the same, training on hidden5's outputs computed once
  top 2 unfrozen    continues from `frozen` with hidden4-5 trained too
  all fine-tuned    continues from `top 2 unfrozen` with every layer trained
  from scratch      the same net, randomly initialized, on the same 500 images
  autoencoders      hidden1-5 pretrained greedily as autoencoders on the unlabelled
                    5-9 training images, then every layer fine-tuned on the 500
  RBMs              hidden1-5 pretrained greedily as Bernoulli RBMs (CD-1) on the same
                    unlabelled images, then every layer fine-tuned on the 500 (the RBM
                    weights are those of sigmoid units; the net stays ELU)
  sigmoid: scratch  the same net with sigmoid units (Xavier initialization), from
                    random weights, on the 500: the kind of net RBMs were made for
  sigmoid: RBMs     that sigmoid net with the RBM-pretrained layers, fine-tuned
  same-digit task   hidden1-5 pretrained as a siamese net telling whether two 0-4
                    images show the same digit, then fine-tuned on the 500

Each variant runs on several draws of the 500 images (--seeds; the weights' seed is
fixed), and the table gives the mean and standard deviation over the draws. "time" is
the supervised training on the 500 images (for `frozen, cached` including computing the
cache); pretraining, done once, is listed apart.
"""

import argparse
import collections
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np

from dnn_toolkit import import_tensorflow_quietly

tf = import_tensorflow_quietly()

# pylint: disable=g-import-not-at-top
from dnn_toolkit import pretraining, transfer
from dnn_toolkit.runs import lifecycle
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.data import arrays as data
from dnn_toolkit.data import mnist
from dnn_toolkit.model import build_dnn
from dnn_toolkit.training import loop as training

# pylint: enable=g-import-not-at-top

_V1 = tf.compat.v1

# The reference figures (TF 1.x) of the lesson's material, test accuracy in %.
REFERENCE = {"frozen": "64.0 (1.9 s)", "frozen, cached": "61.2 (1.1 s)",
             "top 2 unfrozen": "78.1", "all fine-tuned": "91.3", "from scratch": "84.8"}
BASE = DNNConfig(hidden_layers=(100,) * 5, n_outputs=5, initializer="he",
                 activation="elu", batch_norm=False, dropout_rate=0.0, optimizer="adam",
                 learning_rate=0.001, seed=42)
# Sigmoid units, whose weights an RBM learns as they are, with the initializer that
# suits them.
SIGMOID = dataclasses.replace(BASE, activation="sigmoid", initializer="xavier")
# The base model's batch size matters for transfer: with batches of 100 (early stopping
# after about 5 epochs) fine-tuning reaches about 92.5%, with batches of 50 about 91.3%.
FULL = {"base_epochs": 100, "base_patience": 10, "base_batch_size": 100, "epochs": 200,
        "patience": 20, "batch_size": 20, "ae_epochs": 5, "ae_images": None,
        "rbm_epochs": 5, "pair_epochs": 5, "pairs": None, "seeds": "0,1,2,3,4"}
QUICK = {"base_epochs": 3, "base_patience": 2, "base_batch_size": 100, "epochs": 20,
         "patience": 5, "batch_size": 20, "ae_epochs": 1, "ae_images": 5000,
         "rbm_epochs": 1, "pair_epochs": 1, "pairs": 10000, "seeds": "0"}


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
  p.add_argument("--quick", action="store_true", help="a budget under a minute")
  p.add_argument("--data", default=None, help="MNIST path (default: see load_mnist)")
  p.add_argument("--workdir", default=None,
                 help="where the run directories go (default: a temporary directory)")
  p.add_argument("--seeds", default=None,
                 help="comma-separated seeds of the 100-per-digit draws (default: "
                      f"{FULL['seeds']}; --quick: {QUICK['seeds']})")
  return p.parse_args()


def task_data(datasets, seed):
  """Returns (500-image train, validation, test) of digits 5-9 relabelled 0-4."""
  five_to_nine = range(5, 10)
  few = data.sample_per_class(data.filter_digits(datasets.train, five_to_nine), 100,
                              seed=seed)
  split = lambda d: data.relabel(data.filter_digits(d, five_to_nine), -5)
  return data.relabel(few, -5), split(datasets.validation), split(datasets.test)


def fit_and_test(sess, dnn, train, valid, test, budget, fit=training.fit):
  """Trains with early stopping; returns (test accuracy, seconds, best epoch)."""
  started = time.perf_counter()
  state = fit(sess, dnn, train, valid, epochs=budget["epochs"],
              batch_size=budget["batch_size"], patience=budget["patience"], verbose=0)
  seconds = time.perf_counter() - started
  accuracy = training.evaluate(sess, dnn, *test)["accuracy"]
  return accuracy, seconds, state.best_epoch


def frozen_chain(base, train, valid, test, budget):
  """frozen -> top 2 unfrozen -> all fine-tuned, in one graph and Session."""
  rows = []
  with tf.Graph().as_default():
    model = transfer.build_transfer_dnn(base, BASE, 784, reuse=5, frozen_layers=5)
    init = _V1.global_variables_initializer()
    with _V1.Session() as sess:
      sess.run(init)
      model.restore(sess)
      rows.append(("frozen", *fit_and_test(sess, model.dnn, train, valid, test, budget)))
      dnn = model.dnn
      for name, pattern in (("top 2 unfrozen", "hidden[45]"),
                            ("all fine-tuned", "hidden[1-3]")):
        dnn, init_new = transfer.unfreeze(dnn, pattern)
        sess.run(init_new)
        rows.append((name, *fit_and_test(sess, dnn, train, valid, test, budget)))
  return rows


def frozen_cached(base, train, valid, test, budget):
  with tf.Graph().as_default():
    model = transfer.build_transfer_dnn(base, BASE, 784, reuse=5, frozen_layers=5)
    init = _V1.global_variables_initializer()
    with _V1.Session() as sess:
      sess.run(init)
      model.restore(sess)
      fit = lambda sess, dnn, *args, **kwargs: transfer.fit_cached(sess, model, *args,
                                                                   **kwargs)
      return ("frozen, cached",
              *fit_and_test(sess, model.dnn, train, valid, test, budget, fit))


def from_scratch(train, valid, test, budget, name="from scratch", config=BASE):
  with tf.Graph().as_default():
    dnn = build_dnn(config, 784)
    init = _V1.global_variables_initializer()
    with _V1.Session() as sess:
      sess.run(init)
      return (name, *fit_and_test(sess, dnn, train, valid, test, budget))


def fine_tuned(name, pretrained, train, valid, test, budget, config=BASE):
  with tf.Graph().as_default():
    model = transfer.build_transfer_dnn(pretrained, config, 784, reuse=5)
    init = _V1.global_variables_initializer()
    with _V1.Session() as sess:
      sess.run(init)
      model.restore(sess)
      return (name, *fit_and_test(sess, model.dnn, train, valid, test, budget))


def print_table(results, pretrain_seconds, n_draws):
  print(f"\n{'variant':<16} {'test acc':>14} {'time (s)':>9} {'best epoch':>10}  "
        f"reference TF 1.x   ({n_draws} draw(s) of 500 images: mean +- sd)")
  for name, runs in results.items():
    accuracy, seconds, epochs = (np.array(column) for column in zip(*runs))
    pretrained_by = name.split(": ")[-1]  # "sigmoid: RBMs" reuses the RBMs.
    extra = (f"  + {pretrain_seconds[pretrained_by]:.1f} s pretraining, once"
             if pretrained_by in pretrain_seconds else "")
    print(f"{name:<16} {100 * accuracy.mean():>6.1f} +- {100 * accuracy.std():3.1f}% "
          f"{seconds.mean():>9.2f} {np.median(epochs):>10.0f}  "
          f"{REFERENCE.get(name, '-'):<17}{extra}")


def pretrain(budget, datasets, source, source_valid, workdir):
  """Runs each pretraining once; returns ({name: Pretrained}, {name: seconds})."""
  unlabeled = data.filter_digits(datasets.train, range(5, 10)).images
  ae = pretraining.pretrain_autoencoders(
      BASE, unlabeled[:budget["ae_images"]], os.path.join(workdir, "ae", "ae.ckpt"),
      epochs=budget["ae_epochs"])
  print("autoencoder reconstruction MSE per layer: " + ", ".join(
      f"{r['initial_loss']:.3f} -> {r['losses'][-1]:.3f}" for r in ae.history))
  rbms = pretraining.pretrain_rbms(
      BASE, unlabeled[:budget["ae_images"]], os.path.join(workdir, "rbm", "rbm.ckpt"),
      epochs=budget["rbm_epochs"])
  print("RBM reconstruction MSE per layer: " + ", ".join(
      f"{r['initial_loss']:.3f} -> {r['losses'][-1]:.3f}" for r in rbms.history))
  pairs = pretraining.pretrain_same_digit(
      BASE, source.images, source.labels, os.path.join(workdir, "pairs", "pairs.ckpt"),
      epochs=budget["pair_epochs"], pairs_per_epoch=budget["pairs"],
      validation=source_valid)
  print(f"same-digit pair accuracy on 0-4 validation pairs: "
        f"{pairs.history[-1]['val_accuracy']:.1%}", flush=True)
  return ({"autoencoders": ae.pretrained, "RBMs": rbms.pretrained,
           "same-digit task": pairs.pretrained},
          {"autoencoders": ae.seconds, "RBMs": rbms.seconds,
           "same-digit task": pairs.seconds})


def main():
  args = parse_args()
  budget = QUICK if args.quick else FULL
  seeds = [int(seed) for seed in (args.seeds or budget["seeds"]).split(",")]
  started = time.perf_counter()
  datasets = mnist.load_mnist(path=args.data)
  source, source_valid = data.filter_digits(datasets.train), data.filter_digits(
      datasets.validation)
  workdir = args.workdir or tempfile.mkdtemp(prefix="bench-transfer-")
  if args.quick:  # A subset of 0-4 is enough for a quick base model.
    source = data.DataSet(source.images[:8000], source.labels[:8000])
  base_run = lifecycle.train(
      BASE, source, source_valid, test=data.filter_digits(datasets.test),
      run_dir=os.path.join(workdir, "digits-0-4"), epochs=budget["base_epochs"],
      batch_size=budget["base_batch_size"], patience=budget["base_patience"], verbose=0)
  print(f"base 5x100 ELU on digits 0-4: test accuracy {base_run.test['accuracy']:.1%}, "
        f"best epoch {base_run.state.best_epoch}, {base_run.seconds:.1f} s", flush=True)
  base = transfer.load_pretrained(base_run.run_dir)
  pretrained, pretrain_seconds = pretrain(budget, datasets, source, source_valid,
                                          workdir)
  results = collections.defaultdict(list)
  for seed in seeds:
    train, valid, test = task_data(datasets, seed)
    rows = frozen_chain(base, train, valid, test, budget)
    rows.insert(1, frozen_cached(base, train, valid, test, budget))
    rows.append(from_scratch(train, valid, test, budget))
    rows += [fine_tuned(name, pre, train, valid, test, budget)
             for name, pre in pretrained.items()]
    rows.append(from_scratch(train, valid, test, budget, "sigmoid: scratch", SIGMOID))
    rows.append(fine_tuned("sigmoid: RBMs", pretrained["RBMs"], train, valid, test,
                           budget, config=SIGMOID))
    for name, *figures in rows:
      results[name].append(figures)
    print(f"draw {seed}: " + ", ".join(f"{row[0]} {row[1]:.1%}" for row in rows),
          flush=True)
  print_table(results, pretrain_seconds, len(seeds))
  speedup = (sum(r[1] for r in results["frozen"])
             / sum(r[1] for r in results["frozen, cached"]))
  print(f"\ncaching speed-up: {speedup:.1f}x; total {time.perf_counter() - started:.0f} s;"
        f" run directories in {workdir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
