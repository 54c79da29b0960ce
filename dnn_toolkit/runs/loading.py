"""A run's net back in a Session, read-only, for inference: `load_run`.

    with loading.load_run("checkpoints/mnist") as run:      # its best weights
      classes = run.predict(pixels)                          # [n], the data's labels
      probabilities = run.probabilities(pixels)              # [n, n_outputs]

The features go in as the data holds them (MNIST's raw pixels 0-255, in any dtype) and
the run's own scaling (`scaling.Scaling`, from its record) makes them its inputs; what
the loaders return (`mnist.load_mnist()`'s images) says by its type that it is scaled
already and is taken as it is. Classes come back as the data names them (a run on
digits 5-9 answers 5-9; a run on a CSV of names, names).

Needs no lock: a run still training can be evaluated from its best checkpoint.
"""

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, scopes
from dnn_toolkit.data import arrays
from dnn_toolkit.data.scaling import Scaling
from dnn_toolkit.errors import ArgumentError, CheckpointError
from dnn_toolkit.model import DNN, build_dnn, hidden_scope
from dnn_toolkit.runs import run_data
from dnn_toolkit.training import loop

_V1 = tf.compat.v1


@dataclasses.dataclass
class LoadedRun:
  """A finished (or running) run's net in a Session, ready for inference.

  Every method takes `images` `[n, n_inputs]` as the data holds them, and `scaled`:
  None (default) for raw features, unless their type says they are a loader's
  scaled arrays (`scaling.ScaledArray`, `data.ScaledImages`); raw features that
  plainly are not (a /255 run given fractional values no larger than 1) are refused
  (`DataError`). Pass `scaled=True` for features already scaled as the run's inputs.

  Attributes:
    record: the run's `checkpoints.RunRecord`.
    dnn: the built `DNN` (in `sess.graph`).
    sess: a Session holding the restored weights; close it (or use `with`) when done.
    checkpoint: the checkpoint prefix restored.
    scaling: the `Scaling` from raw features to the net's inputs, or None when the
      run recorded none (features are then used as given).
    classes: the labels of classes 0..n_outputs-1 as the data holds them.
  """
  record: checkpoints.RunRecord
  dnn: DNN
  sess: tf.compat.v1.Session
  checkpoint: str
  scaling: Scaling | None = None
  classes: list[Any] = dataclasses.field(default_factory=list)

  def inputs(self, images: Any, *, scaled: bool | None = None) -> np.ndarray:
    """The net's float32 inputs `[n, n_inputs]` of `images` (see the class)."""
    if self.scaling is None:
      return np.asarray(images, np.float32)
    return self.scaling.prepare(images, scaled=scaled)

  def evaluate(self, images: Any, labels: Any, batch_size: int = 5000, *,
               scaled: bool | None = None) -> dict[str, float]:
    """{'loss', 'accuracy'} of `images` `[n, n_inputs]` and their `labels` `[n]`, as
    the data holds them (the run's `classes`)."""
    indices, unknown = arrays.class_indices(np.asarray(labels), self.classes)
    if unknown.any():
      others = np.unique(np.asarray(labels)[unknown]).tolist()[:10]
      raise ArgumentError("labels", f"Received {{name}} that are none of the run's "
                          f"classes ({', '.join(map(str, self.classes[:12]))}): "
                          f"{', '.join(map(str, others))}.", others)
    return loop.evaluate(self.sess, self.dnn, self.inputs(images, scaled=scaled),
                         indices, batch_size)

  def predict(self, images: Any, batch_size: int = 5000, *,
              scaled: bool | None = None) -> np.ndarray:
    """Predicted classes `[n]` of `images` `[n, n_inputs]`, as the data names them."""
    indices = loop.predict(self.sess, self.dnn, self.inputs(images, scaled=scaled),
                           batch_size)
    return arrays.class_labels(indices, self.classes)

  def probabilities(self, images: Any, batch_size: int = 5000, *,
                    scaled: bool | None = None) -> np.ndarray:
    """The softmax of the logits, float32 `[n, n_outputs]`: column i is the
    probability of `classes[i]`."""
    logits = loop.run_batched(self.sess, self.dnn.logits,
                              {self.dnn.X: self.inputs(images, scaled=scaled)},
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
        classes = run.predict(pixels)      # raw uint8, or load_mnist()'s images

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
  return LoadedRun(record, dnn, sess, prefix, scaling=run_data.scaling_of(record),
                   classes=run_data.class_labels(record))
