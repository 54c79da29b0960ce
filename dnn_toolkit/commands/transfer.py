"""`dnn-toolkit transfer`: reuse a run's layers for a new task, the lesson's recipe.

    dnn-toolkit train --digits 0-4 --hidden-layers 100 100 100 100 100 \\
        --run-dir checkpoints/digits-0-4
    dnn-toolkit transfer --from checkpoints/digits-0-4 --reuse 'hidden[123]' \\
        --replace 4 --freeze 'hidden[12]' --cache-frozen --digits 5-9 --per-class 100

restores hidden1-3 of the run's best checkpoint into a new net whose hidden4 is new
(layers above the top reused or replaced one are dropped, as in the lesson) with a new
output layer for the classes of the data, freezes hidden1-2, and trains on cached
frozen outputs. The new run directory is a normal one: its record names what was
restored from where, what is frozen and what is new.
"""

import argparse
import dataclasses
import os
import sys
from typing import Any

from dnn_toolkit.commands import EXIT_INTERRUPTED, _flags
from dnn_toolkit.config import DNNConfig

# The flags are checked first, so a bad value is refused before TensorFlow loads.
LOADS_TENSORFLOW = False

EXAMPLES = """\
examples:
  dnn-toolkit transfer --from checkpoints/digits-0-4 --reuse 'hidden[123]' \\
      --replace 4 --freeze 'hidden[12]' --cache-frozen --digits 5-9 --per-class 100 \\
      --run-dir checkpoints/digits-5-9
    (its base net: dnn-toolkit train --digits 0-4 --hidden-layers 100 100 100 100 100 \\
      --epochs 5 --run-dir checkpoints/digits-0-4)
  dnn-toolkit transfer --from checkpoints/mnist --reuse 'hidden[12]' \\
      --data fashion-mnist/ --no-verify --epochs 5
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
  """Adds `transfer --from RUN --reuse PATTERN ...` with the data and training flags."""
  p = subparsers.add_parser(
      "transfer", help="reuse a run's layers for a new task (restore, replace, freeze)",
      description="Train a new net that restores some hidden layers of a run's best "
                  "checkpoint, replaces others, adds a new output layer and optionally "
                  "freezes (and caches) the lowest ones, in a new run directory.",
      epilog=EXAMPLES)
  g = p.add_argument_group("transfer")
  g.add_argument("--from", dest="from_run", default=None, metavar="RUN",
                 help="the run whose layers are reused (its best checkpoint); required "
                      "unless --resume")
  g.add_argument("--reuse", default=None, metavar="PATTERN",
                 help="scope pattern of the hidden layers restored, e.g. "
                      "'hidden[123]'; required unless --resume")
  g.add_argument("--replace", type=int, nargs="+", default=[], metavar="LAYER",
                 help="hidden layer numbers that are new (freshly initialized); the "
                      "net keeps the run's layers up to the top reused or replaced one")
  g.add_argument("--freeze", default=None, metavar="PATTERN",
                 help="scope pattern of the lowest reused layers training leaves "
                      "unchanged, e.g. 'hidden[12]'")
  g.add_argument("--cache-frozen", action="store_true",
                 help="compute the frozen layers' outputs once and train on them")
  g.add_argument("--hidden-layers", type=int, nargs="+", default=None, metavar="UNITS",
                 help="the new net's hidden layers (default: the run's, up to the top "
                      "reused or replaced layer)")
  g.add_argument("--n-outputs", type=int, default=None,
                 help="classes (default: those of the data)")
  g.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                 help="default: the run's")
  g.add_argument("--seed", type=int, default=None, help="default: the run's")
  _flags.add_data_flags(p)
  _flags.add_task_flags(p)
  _flags.add_training_flags(p, resumable=True)  # Not given: None (see --resume).
  r = p.add_argument_group("run directory and output")
  r.add_argument("--run-dir", default=None,
                 help="the new run directory (default: checkpoints/run-<time>)")
  r.add_argument("--resume", action="store_true",
                 help="continue the transfer run in --run-dir from its latest "
                      "checkpoint; its record gives the layers and the data")
  r.add_argument("--save-every-steps", type=int, default=None, metavar="N",
                 help="also checkpoint every N steps (default: each epoch)")
  r.add_argument("--log-every-steps", type=int, default=100, metavar="N",
                 help="steps between per-layer diagnostics (default: %(default)s)")
  _flags.add_quiet_flag(r)
  return p


def _check_flags(args):
  """Refuses bad flag values before TensorFlow loads."""
  for dest, flag in (("epochs", "--epochs"),
                     ("batch_size", "--batch-size"), ("n_outputs", "--n-outputs"),
                     ("save_every_steps", "--save-every-steps"),
                     ("log_every_steps", "--log-every-steps")):
    _flags.check_positive_flag(args, dest, flag)
  if args.patience is not None and args.patience < 0:
    raise ValueError(f"argument --patience: expected 0 (none) or a positive integer. "
                     f"Received: --patience {args.patience}")
  if any(n < 1 for n in args.replace):
    raise ValueError(f"argument --replace: expected hidden layer numbers from 1. "
                     f"Received: --replace {' '.join(map(str, args.replace))}")
  _flags.check_task_flags(args)
  if args.resume:
    _check_resume_flags(args)
    return
  for dest, flag in (("from_run", "--from"), ("reuse", "--reuse")):
    if getattr(args, dest) is None:
      raise ValueError(f"argument {flag}: required (unless --resume).")
  if args.cache_frozen and not args.freeze:
    raise ValueError("argument --cache-frozen: needs --freeze (the layers to cache).")
  _flags.check_data_path(args.data)


# Flags a resumed run takes from its record: given with --resume, they are refused.
_RECORDED = (("from_run", "--from"), ("reuse", "--reuse"), ("replace", "--replace"),
             ("freeze", "--freeze"), ("cache_frozen", "--cache-frozen"),
             ("hidden_layers", "--hidden-layers"), ("n_outputs", "--n-outputs"),
             ("learning_rate", "--learning-rate"), ("seed", "--seed"),
             ("data", "--data"), ("digits", "--digits"), ("per_class", "--per-class"),
             ("patience", "--patience"), ("validation_size", "--validation-size"),
             ("test_size", "--test-size"), ("label_column", "--label-column"),
             ("standardize", "--standardize"))


def _check_resume_flags(args):
  if not args.run_dir:
    raise ValueError("argument --resume: needs --run-dir, the transfer run to continue.")
  for dest, flag in _RECORDED:
    if getattr(args, dest, None) not in (None, False, []):  # Given: not its default.
      raise ValueError(f"argument {flag}: not taken with --resume; the run's record "
                       "holds it.")


def run(args: argparse.Namespace) -> int:
  """Trains the transfer run; prints what was reused and the result. Returns 0/130."""
  _check_flags(args)
  if args.resume:
    _flags.check_run_dir(args.run_dir)
  else:
    _flags.check_run_dir(args.from_run)
  # pylint: disable=import-outside-toplevel
  from dnn_toolkit import transfer
  from dnn_toolkit.runs import lifecycle, nets
  settings = lifecycle.Settings(
      epochs=args.epochs, batch_size=args.batch_size,
      patience=lifecycle.UNSET if args.patience is None else args.patience or None,
      save_every_steps=args.save_every_steps, log_every_steps=args.log_every_steps,
      verbose=0 if args.quiet else 1)
  if args.resume:
    run_dir, net, sets, identity = args.run_dir, nets.TransferNet.resuming(), None, None
  else:
    base = transfer.load_pretrained(args.from_run)
    reused, frozen, hidden = resolve_layers(args, base.config)
    run_dir = args.run_dir or lifecycle.default_run_dir()
    if os.path.exists(os.path.join(run_dir, "state.json")):
      raise FileExistsError(f"argument --run-dir: {run_dir} already holds a run; "
                            "nothing was changed. Choose a new run directory.")
    sets, identity = _flags.task_from_args(args, seed=args.seed or 0)
    config = new_config(args, base.config, hidden,
                        args.n_outputs or identity["n_outputs"])
    net = nets.TransferNet(base, config, reuse=reused, frozen_layers=frozen,
                           cache_frozen=args.cache_frozen)
  try:
    result = lifecycle.train(net, *(sets[:2] if sets else (None, None)),
                             test=sets[2] if sets else None, run_dir=run_dir,
                             resume=args.resume, settings=settings, data=identity)
  except KeyboardInterrupt:
    print(f"\nInterrupted: the run in {run_dir} keeps its last checkpoint.",
          file=sys.stderr)
    return EXIT_INTERRUPTED
  if not result.trained:
    print(_flags.nothing_left(result, run_dir))
    return 0
  _print_result(result, run_dir)
  return 0


def _print_result(result, run_dir):
  summary, state = result.record.transfer, result.state
  frozen_text = f" (frozen: {', '.join(summary['frozen'])})" if summary["frozen"] else ""
  print(f"restored {', '.join(summary['restored'])}{frozen_text} from "
        f"{summary['from']}; new: {', '.join(summary['new'])}")
  n_train = (result.record.data or {}).get("n_train")
  print(f"trained {state.epoch} epochs on {n_train} examples; best epoch "
        f"{state.best_epoch}, validation loss {state.best_val_loss:.4f}")
  if result.test is not None:
    print(f"test accuracy {result.test['accuracy']:.4f}, loss {result.test['loss']:.4f}")
  print(f"run directory: {run_dir}")


def resolve_layers(args: argparse.Namespace, base_config: DNNConfig
                   ) -> tuple[list[int], int, tuple[int, ...]]:
  """The reused layer numbers, the frozen count and the new net's hidden layers.

  Raises:
    ValueError: naming the flag: --reuse matching no layer of the run, --replace of a
      reused layer, --freeze of layers that are not the lowest reused ones.
  """
  from dnn_toolkit.model import hidden_scope  # pylint: disable=import-outside-toplevel
  base_layers = [hidden_scope(i + 1) for i in range(len(base_config.hidden_layers))]
  reused = _matching("--reuse", args.reuse, base_layers)
  clash = sorted(set(reused) & set(args.replace))
  if clash:
    raise ValueError(f"argument --replace: hidden{clash[0]} also matches --reuse "
                     f"{args.reuse!r}; a layer is either restored or new.")
  top = max(reused + args.replace)
  hidden = (tuple(args.hidden_layers) if args.hidden_layers
            else tuple(base_config.hidden_layers[:top]))
  if top > len(hidden):
    flag = "--hidden-layers" if args.hidden_layers else "--replace"
    raise ValueError(f"argument {flag}: the new net has {len(hidden)} hidden layers, "
                     f"expected at least {top} (the top reused or replaced layer).")
  frozen = 0
  if args.freeze:
    matched = _matching("--freeze", args.freeze, base_layers[:len(hidden)])
    if matched != list(range(1, len(matched) + 1)) or not set(matched) <= set(reused):
      raise ValueError(f"argument --freeze: expected the lowest hidden layers, all "
                       f"reused ({', '.join(hidden_scope(i) for i in reused)}). "
                       f"Received: --freeze {args.freeze!r} matches "
                       f"{', '.join(hidden_scope(i) for i in matched)}")
    frozen = len(matched)
  return reused, frozen, hidden


def new_config(args: argparse.Namespace, base_config: DNNConfig,
               hidden: tuple[int, ...], classes: int) -> DNNConfig:
  """The new net's `DNNConfig`: the run's, with these layers, classes and flags."""
  changes: dict[str, Any] = {"hidden_layers": hidden, "n_outputs": classes}
  for dest in ("learning_rate", "seed"):
    if getattr(args, dest) is not None:
      changes[dest] = getattr(args, dest)
  return dataclasses.replace(base_config, **changes).validate()


def _matching(flag, pattern, layers):
  """The numbers (1-based) of the `layers` scopes `pattern` matches; raises if none."""
  from dnn_toolkit import scopes  # pylint: disable=import-outside-toplevel
  try:
    matched = [i + 1 for i, scope in enumerate(layers)
               if scopes.scope_matches(pattern, scope)]
  except (TypeError, ValueError) as error:
    raise ValueError(f"argument {flag}: {pattern!r} is not a valid scope pattern "
                     f"({error}).") from None
  if not matched:
    raise ValueError(f"argument {flag}: {pattern!r} matches no hidden layer of the "
                     f"run ({', '.join(layers)}).")
  return matched
