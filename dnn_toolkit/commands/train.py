"""`dnn-toolkit train`: train a DNN in a Session, in a run directory; resume it.

A new run takes every flag's default unless given. `--resume` reads the run's record:
the configuration, batch size, patience, epochs and data are the run's own, so no flag
needs repeating; `--epochs N` extends the run; a flag that is given and differs from the
run is refused, naming the flag and both values.
"""

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
  dnn-toolkit train --data iris.csv --label-column species --standardize \\
      --hidden-layers 16 --epochs 50 --run-dir checkpoints/iris
  dnn-toolkit train --digits 0-4 --hidden-layers 100 100 100 100 100 \\
      --run-dir checkpoints/digits-0-4      # the lesson's base net for transfer
  dnn-toolkit train --activation selu --no-batch-norm --dropout-rate 0 --quiet
  dnn-toolkit train --data fashion-mnist/ --no-verify --optimizer momentum
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `train` with the model, optimization, data, training and run flags."""
  p = subparsers.add_parser(
      "train", help="train a DNN on MNIST or your data in a Session",
      description="Train a DNN classifier on MNIST or your own data (.npz, .csv) with "
                  "checkpoints, early stopping and TensorBoard logs. Ctrl-C saves; "
                  "--resume continues with the run's own settings.",
      epilog=EXAMPLES)
  _flags.add_config_flags(p, resumable=True)
  _flags.add_data_flags(p)
  _flags.add_task_flags(p)
  _flags.add_training_flags(p, resumable=True)
  _flags.add_run_flags(p)
  p.add_argument("--from-checkpoint", default=None, metavar="CHECKPOINT",
                 help="with --resume: continue from this checkpoint of the run's latest/ "
                      "(e.g. model.ckpt-1100) instead of the newest, when an error names "
                      "it as the intact one")
  p.add_argument("--steps-per-call", type=int, default=None, metavar="K",
                 help="training steps per Session call (default: chosen so a call "
                      "takes about 0.2 s; 1 for the per-step loop)")
  p.add_argument("--fast", action="store_true",
                 help="compile the training steps with XLA, several to a call: faster, "
                      "but the weights are not bit for bit the exact path's, so a "
                      "resumed run no longer matches an uninterrupted one exactly "
                      "(docs/benchmarks.md)")
  return p


def run(args: argparse.Namespace) -> int:
  """Trains as the flags say; prints the result. Returns 0, or 130 on Ctrl-C."""
  _flags.check_log_every_steps(args)
  if args.run_dir is not None and not args.run_dir.strip():
    raise ValueError("Expected --run-dir to be a directory path. Received: --run-dir ''")
  if args.resume and args.run_dir is None:
    raise ValueError("--resume needs the --run-dir of the run to continue.")
  if args.from_checkpoint is not None and not args.resume:
    raise ValueError("argument --from-checkpoint: continues a saved run; give it with "
                     "--resume.")
  _flags.check_task_flags(args)
  changes = _flags.given_config(args)
  _flags.config_from_args(args)  # Refuses a bad value before TensorFlow loads.
  _flags.check_data_path(args.data)
  sets = identity = None
  if args.resume and args.data is None:
    _flags.refuse_data_flags_on_resume(args)
  else:
    compat.import_tensorflow_quietly()
    sets, identity = _flags.task_from_args(args, seed=args.seed or 0)
    if not args.resume and args.n_outputs is None:  # The classes come from the data.
      changes.setdefault("n_outputs", identity.get("n_outputs") or 10)
  compat.import_tensorflow_quietly()
  # pylint: disable-next=import-outside-toplevel
  from dnn_toolkit.runs import lifecycle, nets
  run_dir = args.run_dir or lifecycle.default_run_dir()
  settings = lifecycle.Settings(
      epochs=args.epochs, batch_size=args.batch_size,
      patience=lifecycle.UNSET if args.patience is None else args.patience or None,
      save_every_steps=args.save_every_steps, log_every_steps=args.log_every_steps,
      steps_per_call=args.steps_per_call, fast=args.fast,
      verbose=0 if args.quiet else 1)
  try:
    result = lifecycle.train(
        nets.PlainNet(changes=changes), *(sets[:2] if sets else (None, None)),
        test=sets[2] if sets else None, run_dir=run_dir, resume=args.resume,
        from_checkpoint=args.from_checkpoint, settings=settings, data=identity)
  except KeyboardInterrupt:
    print(f"\nInterrupted: the position is saved in {run_dir}. Continue with:\n"
          f"  dnn-toolkit train --resume --run-dir {run_dir}", file=sys.stderr)
    return EXIT_INTERRUPTED
  state = result.state
  if not result.trained:
    print(_flags.nothing_left(result, run_dir))
    return 0
  stop = " (early stopping)" if state.stopped_early else ""
  print(f"trained {state.epoch} epochs{stop}; best epoch {state.best_epoch}, "
        f"validation loss {state.best_val_loss:.4f}")
  if result.test is not None:
    print(f"test accuracy {result.test['accuracy']:.4f}, loss {result.test['loss']:.4f}")
  print(f"run directory: {run_dir}")
  return 0
