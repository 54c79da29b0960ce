"""`dnn-toolkit train`: train a DNN on MNIST in a Session, in a run directory."""

import argparse
import sys

from dnn_toolkit import compat
from dnn_toolkit.commands import EXIT_INTERRUPTED, _flags

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit train --hidden-layers 300 100 --epochs 20 --run-dir checkpoints/mnist
  dnn-toolkit train --resume --run-dir checkpoints/mnist --epochs 30
  dnn-toolkit train --activation selu --no-batch-norm --dropout-rate 0 --quiet
  dnn-toolkit train --data fashion-mnist/ --no-verify --optimizer momentum
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Adds `train` with the model, optimization, data, training and run flags."""
  p = subparsers.add_parser(
      "train", help="train a DNN on MNIST in a Session",
      description="Train a DNN classifier on MNIST with checkpoints, early stopping and "
                  "TensorBoard logs. Ctrl-C saves; --resume continues.",
      epilog=EXAMPLES)
  _flags.add_config_flags(p)
  _flags.add_data_flags(p)
  _flags.add_training_flags(p)
  _flags.add_run_flags(p)
  return p


def run(args: argparse.Namespace) -> int:
  """Trains as the flags say; prints the result. Returns 0, or 130 on Ctrl-C."""
  config = _flags.config_from_args(args)
  _flags.check_log_every_steps(args)
  compat.import_tensorflow_quietly()
  from dnn_toolkit import experiment  # pylint: disable=import-outside-toplevel
  datasets = _flags.datasets_from_args(args)
  run_dir = args.run_dir or experiment.default_run_dir()
  try:
    result = experiment.train(
        config, datasets.train, datasets.validation, test=datasets.test,
        run_dir=run_dir, epochs=args.epochs, batch_size=args.batch_size,
        patience=args.patience or None, resume=args.resume,
        save_every_steps=args.save_every_steps, verbose=0 if args.quiet else 1,
        hook_factories=experiment.default_hook_factories(args.log_every_steps))
  except KeyboardInterrupt:
    print(f"\nInterrupted: the position is saved in {run_dir}. Continue with:\n"
          f"  dnn-toolkit train --resume --run-dir {run_dir} [same flags]",
          file=sys.stderr)
    return EXIT_INTERRUPTED
  state = result.state
  stop = " (early stopping)" if state.stopped_early else ""
  print(f"trained {state.epoch} epochs{stop}; best epoch {state.best_epoch}, "
        f"validation loss {state.best_val_loss:.4f}")
  print(f"test accuracy {result.test['accuracy']:.4f}, loss {result.test['loss']:.4f}")
  print(f"run directory: {run_dir}")
  return 0
