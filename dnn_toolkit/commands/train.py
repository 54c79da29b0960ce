"""`dnn-toolkit train`: train a DNN in a Session, in a run directory; resume it.

A new run takes every flag's default unless given. `--resume` reads the run's record:
the configuration, batch size, patience, epochs and data are the run's own, so no flag
needs repeating; `--epochs N` extends the run; a flag that is given and differs from the
run is refused, naming the flag and both values.
"""

import argparse
import dataclasses
import sys

from dnn_toolkit import compat
from dnn_toolkit.commands import EXIT_INTERRUPTED, _flags

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit train --hidden-layers 300 100 --epochs 20 --run-dir checkpoints/mnist
  dnn-toolkit train --resume --run-dir checkpoints/mnist --epochs 30
  dnn-toolkit train --data iris.csv --label-column species --standardize \
      --hidden-layers 16 --epochs 50 --run-dir checkpoints/iris
  dnn-toolkit train --activation selu --no-batch-norm --dropout-rate 0 --quiet
  dnn-toolkit train --data fashion-mnist/ --no-verify --optimizer momentum
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Adds `train` with the model, optimization, data, training and run flags."""
  p = subparsers.add_parser(
      "train", help="train a DNN on MNIST or your data in a Session",
      description="Train a DNN classifier on MNIST or your own data (.npz, .csv) with "
                  "checkpoints, early stopping and TensorBoard logs. Ctrl-C saves; "
                  "--resume continues with the run's own settings.",
      epilog=EXAMPLES)
  _flags.add_config_flags(p, resumable=True)
  _flags.add_data_flags(p)
  _flags.add_training_flags(p, resumable=True)
  _flags.add_run_flags(p)
  p.add_argument("--steps-per-call", type=int, default=None, metavar="K",
                 help="training steps per Session call (default: chosen so a call "
                      "takes about 0.2 s; 1 for the per-step loop)")
  return p


def run(args: argparse.Namespace) -> int:
  """Trains as the flags say; prints the result. Returns 0, or 130 on Ctrl-C."""
  _flags.check_log_every_steps(args)
  if args.run_dir is not None and not args.run_dir.strip():
    raise ValueError("Expected --run-dir to be a directory path. Received: --run-dir ''")
  if args.resume and args.run_dir is None:
    raise ValueError("--resume needs the --run-dir of the run to continue.")
  record = None
  if args.resume:
    compat.import_tensorflow_quietly()  # The record's types are TensorFlow's modules'.
    from dnn_toolkit import checkpoints  # pylint: disable=import-outside-toplevel
    record = checkpoints.RunRecord.read(args.run_dir)
    _flags.check_same_as_run(args, record)
  config = _flags.config_from_args(args, base=record.config if record else None)
  compat.import_tensorflow_quietly()
  from dnn_toolkit import experiment  # pylint: disable=import-outside-toplevel
  datasets = _flags.datasets_from_args(args, record=record)
  if record is None and args.n_outputs is None:  # The classes come from the data.
    config = dataclasses.replace(config, n_outputs=datasets.n_outputs or config.n_outputs)
  run_dir = args.run_dir or experiment.default_run_dir()
  patience = args.patience if args.patience is not None else (
      record.patience if record else experiment.DEFAULT_PATIENCE)
  try:
    result = experiment.train(
        config, datasets.train, datasets.validation, test=datasets.test,
        run_dir=run_dir, epochs=args.epochs, batch_size=args.batch_size,
        patience=patience or None, resume=args.resume,
        save_every_steps=args.save_every_steps, verbose=0 if args.quiet else 1,
        hook_factories=experiment.default_hook_factories(args.log_every_steps),
        data=_identity(datasets), steps_per_call=args.steps_per_call)
  except KeyboardInterrupt:
    print(f"\nInterrupted: the position is saved in {run_dir}. Continue with:\n"
          f"  dnn-toolkit train --resume --run-dir {run_dir}", file=sys.stderr)
    return EXIT_INTERRUPTED
  state = result.state
  stop = " (early stopping)" if state.stopped_early else ""
  print(f"trained {state.epoch} epochs{stop}; best epoch {state.best_epoch}, "
        f"validation loss {state.best_val_loss:.4f}")
  if result.test is not None:
    print(f"test accuracy {result.test['accuracy']:.4f}, loss {result.test['loss']:.4f}")
  print(f"run directory: {run_dir}")
  return 0


def _identity(datasets):
  """The loader's identity, with the standardization the run's inputs went through."""
  from dnn_toolkit.commands import _run_data  # pylint: disable=import-outside-toplevel
  identity = dict(datasets.identity)
  standardization = getattr(datasets, "standardization", None)
  if standardization is not None:
    identity["standardization"] = _run_data.standardization_json(standardization)
  return identity
