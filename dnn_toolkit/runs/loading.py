"""A run's net back in a Session, read-only, for inference: `load_run`.

    with loading.load_run("checkpoints/mnist") as run:      # its best weights
      classes = run.predict(images)                          # [n]
      probabilities = run.probabilities(images)              # [n, n_outputs]

Needs no lock: a run still training can be evaluated from its best checkpoint.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, scopes
from dnn_toolkit.errors import CheckpointError
from dnn_toolkit.model import DNN, build_dnn, hidden_scope
from dnn_toolkit.training import loop

_V1 = tf.compat.v1


@dataclasses.dataclass
class LoadedRun:
  """A finished (or running) run's net in a Session, ready for inference.

  Attributes:
    record: the run's `checkpoints.RunRecord`.
    dnn: the built `DNN` (in `sess.graph`).
    sess: a Session holding the restored weights; close it (or use `with`) when done.
    checkpoint: the checkpoint prefix restored.
  """
  record: checkpoints.RunRecord
  dnn: DNN
  sess: tf.compat.v1.Session
  checkpoint: str

  def evaluate(self, images: np.ndarray, labels: np.ndarray,
               batch_size: int = 5000) -> dict[str, float]:
    """{'loss', 'accuracy'} of `images` `[n, n_inputs]`, `labels` `[n]`."""
    return loop.evaluate(self.sess, self.dnn, images, labels, batch_size)

  def predict(self, images: np.ndarray, batch_size: int = 5000) -> np.ndarray:
    """Predicted classes `[n]` of `images` `[n, n_inputs]`."""
    return loop.predict(self.sess, self.dnn, images, batch_size)

  def probabilities(self, images: np.ndarray, batch_size: int = 5000) -> np.ndarray:
    """The softmax of the logits, float32 `[n, n_outputs]`, of `images` `[n, n_inputs]`."""
    logits = loop.run_batched(self.sess, self.dnn.logits, {self.dnn.X: images},
                              batch_size).astype(np.float64)  # [n, n_outputs]
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

  def close(self) -> None:
    self.sess.close()

  def __enter__(self) -> "LoadedRun":
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()


def load_run(run_dir: str, which: str = "best") -> LoadedRun:
  """Rebuilds a run's net and restores its weights for inference, read-only.

      with load_run("checkpoints/mnist") as run:
        classes = run.predict(images)

  Needs no lock: a run still training can be evaluated from its best checkpoint.

  Args:
    run_dir: the run directory.
    which: 'best' (default; the lowest validation loss) or 'latest'.

  Returns:
    A `LoadedRun`.

  Raises:
    ValueError: if `which` is neither 'best' nor 'latest'.
    CheckpointError: if the run, its record or that checkpoint is missing or damaged.
  """
  _validation.check_choice("which", which, ("best", "latest"))
  record = checkpoints.RunRecord.read(run_dir)
  prefix = record.best_checkpoint if which == "best" else record.latest_checkpoint
  if not prefix:
    raise CheckpointError(f"The run in {run_dir!r} has no {which} checkpoint yet.")
  n_inputs = (record.data or {}).get("n_inputs")
  if n_inputs is None:
    weights = f"{hidden_scope(1)}/weights"  # [n_inputs, units]
    n_inputs = scopes.checkpoint_contents(prefix)[2][weights][0][0]
  graph = tf.Graph()
  with graph.as_default():
    dnn = build_dnn(record.config, n_inputs)
    init = _V1.global_variables_initializer()
  sess = _V1.Session(graph=graph)
  try:
    sess.run(init)
    scopes.restore(sess, prefix, var_list=graph.get_collection(
        _V1.GraphKeys.MODEL_VARIABLES))
  except BaseException:
    sess.close()
    raise
  return LoadedRun(record, dnn, sess, prefix)
