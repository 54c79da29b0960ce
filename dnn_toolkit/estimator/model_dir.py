"""What an Estimator's model directory holds, and the checks before it is touched.

The layout is TF 1.x's, so TensorBoard shows a run as it did and a TF 1.x Estimator's
directory restores:

    checkpoint                  the newest checkpoints (TensorFlow's state file)
    model.ckpt-N.index, .data-*, .meta
    graph.pbtxt                 the training graph
    events.out.tfevents.*       `loss`, `global_step/sec` and the model's summaries
    eval/events.out.tfevents.*  an evaluation's metrics at its global step
                                (eval_<name>/ for a named one)
    .lock                       the run lock of the toolkit (`checkpoints.lock_run`)

Before training, evaluating, predicting or exporting restores the newest checkpoint,
`check_checkpoint` reads it back (`checkpoints.damage`) and checks that it holds every
variable of the model_fn's graph with its shape (`scopes.check_counterpart_shapes`): a
directory of another model is refused in one line, before anything is written.
"""

import os
from typing import Any

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from dnn_toolkit import checkpoints, scopes
from dnn_toolkit.errors import CheckpointError

_V1 = tf.compat.v1
#: The prefix of an Estimator's checkpoints.
CHECKPOINT_BASENAME = "model.ckpt"


def latest_checkpoint(model_dir: str) -> str | None:
  """The newest complete checkpoint the directory's 'checkpoint' file names, or None."""
  return tf.train.latest_checkpoint(model_dir)


def global_step_of(checkpoint: str | None) -> int:
  """The global step stored in `checkpoint` (0 without one, or without a step)."""
  if not checkpoint:
    return 0
  try:
    return int(tf.train.load_variable(checkpoint, _V1.GraphKeys.GLOBAL_STEP))
  except (tf.errors.OpError, ValueError):
    return 0


def check_not_a_run(model_dir: str) -> None:
  """Refuses a directory that holds a toolkit training run (`state.json`)."""
  if checkpoints.RunRecord.exists(model_dir):
    raise CheckpointError(f"{model_dir!r} holds a dnn_toolkit training run "
                          f"({checkpoints.STATE_FILE}), not an Estimator's model. "
                          "Nothing was written; give the Estimator another model_dir.")


def _saved_variables(graph):
  """{checkpoint name: a variable of it} of what a default Saver saves from `graph`."""
  saved = {}
  for variable in graph.get_collection(_V1.GraphKeys.GLOBAL_VARIABLES):
    info = getattr(variable, "_save_slice_info", None)  # A part of a partitioned one.
    saved.setdefault(info.full_name if info is not None else variable.op.name, variable)
  return saved


def check_checkpoint(model_dir: str, checkpoint: str, graph: tf.Graph) -> None:
  """Checks that `checkpoint` is intact and holds every variable of `graph`.

  Args:
    model_dir: the model directory, for messages.
    checkpoint: the checkpoint prefix about to be restored.
    graph: the graph built by the model_fn.

  Raises:
    CheckpointError: the checkpoint is damaged, or lacks variables of the graph (the
      directory holds another model).
    ShapeMismatchError: a variable has another shape in the checkpoint.
  """
  problem = checkpoints.damage(checkpoint)
  if problem:
    state = tf.train.get_checkpoint_state(model_dir)
    older = [p for p in (list(state.all_model_checkpoint_paths) if state else [])
             if p != checkpoint and not checkpoints.damage(p)]
    hint = (f"the newest intact one is {older[-1]}: point the 'checkpoint' file at it "
            "(tf.train.update_checkpoint_state) to continue from there" if older else
            "no intact checkpoint is left; start a new model_dir")
    raise CheckpointError(f"Cannot restore {model_dir!r}: its checkpoint {checkpoint} "
                          f"is damaged: {problem}. Nothing was written; {hint}.")
  _, _, contents = scopes.checkpoint_contents(checkpoint)
  saved = _saved_variables(graph)
  missing = sorted(name for name in saved if name not in contents)
  if missing:
    listed = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more"
                                       if len(missing) > 4 else "")
    raise CheckpointError(f"{model_dir!r} holds another model: its checkpoint "
                          f"{os.path.basename(checkpoint)} lacks {len(missing)} "
                          f"variable(s) of this model_fn's graph ({listed}). Nothing "
                          "was written; use a new model_dir, or the model_fn that "
                          "wrote it.")
  scopes.check_counterpart_shapes(
      saved, contents, checkpoint,
      hint=f"{model_dir!r} holds another model of other sizes: use a new model_dir.")


def eval_dir(model_dir: str, name: str | None = None) -> str:
  """Where an evaluation's summaries go: `eval/`, or `eval_<name>/`."""
  return os.path.join(model_dir, "eval" if not name else "eval_" + name)


def write_summary(output_dir: str, values: dict[str, Any], global_step: int) -> None:
  """Writes an evaluation's metrics as scalar summaries at `global_step`.

  Numbers become scalars, arrays tensors, serialized `Summary` protos (from
  `tf.summary` ops in `eval_metric_ops`) their values; `global_step` itself is not
  written, as in TF 1.15.
  """
  summary = _V1.Summary()
  for key, value in sorted(values.items()):
    if key == _V1.GraphKeys.GLOBAL_STEP or value is None:
      continue
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(
        value, bool):
      summary.value.add(tag=key, simple_value=float(value))
    elif isinstance(value, bytes):
      try:
        parsed = _V1.Summary.FromString(value)
      except DecodeError:  # Not a Summary: left out, as TF 1.15 did.
        continue
      for index, item in enumerate(parsed.value):
        item.tag = f"{key}/{index}"
      summary.value.extend(parsed.value)
    elif isinstance(value, np.ndarray):
      summary.value.add(tag=key, tensor=tf.make_tensor_proto(value))
  with tf.Graph().as_default():  # TF 1.x's writer refuses eager mode, TF 2's default.
    writer = _V1.summary.FileWriterCache.get(output_dir)
  writer.add_summary(summary, global_step)
  writer.flush()
