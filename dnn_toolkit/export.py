"""Exporting a run for serving: a SavedModel with a signature, and a frozen GraphDef.

    export.export_saved_model("checkpoints/mnist", "exported/mnist")
    # In any TF 2 process, without dnn_toolkit:
    model = tf.saved_model.load("exported/mnist")
    out = model.signatures["serving_default"](inputs=tf.constant(images))
    out["classes"], out["probabilities"]       # [n] int64, [n, n_outputs] float32

The signature `serving_default` takes `inputs`, float32 `[None, n_inputs]`, features as
the user has them (a standardized run's mean and std are constants in the graph), and
returns `classes` and `probabilities`. Inference mode is baked in: every hidden layer
is built as `build_dnn` builds a frozen one (batch norm on its moving statistics, no
dropout), so nothing a caller feeds can switch training behaviour on.

The graph is made in two steps, both fresh graphs: `build_dnn` builds the net (all
layers in inference mode) and is exported as a MetaGraphDef; the serving graph imports
it with its input `X` mapped to the scaled `inputs`, restores the run's weights into
it, and `tf.compat.v1.saved_model.Builder` writes it. The export is written to a
temporary directory beside the target and renamed into place, so a target is either
absent or complete.

How a SavedModel is written has one owner here: `staged_directory` (the temporary
directory renamed into place) and `save_session` (the Builder call). An Estimator's
`export_saved_model` (`dnn_toolkit.estimator`) writes through them too.
"""

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, compat, scopes
from dnn_toolkit.errors import CheckpointError
from dnn_toolkit.model import build_dnn, hidden_scope

_V1 = tf.compat.v1

#: The signature's key, input and output names.
SIGNATURE_KEY = "serving_default"
INPUTS = "inputs"
CLASSES = "classes"
PROBABILITIES = "probabilities"
#: The frozen GraphDef's file name inside the export directory.
FROZEN_GRAPH = "frozen_graph.pb"


def export_saved_model(run_dir: str, export_dir: str | os.PathLike[str], *,
                       which: str = "best",
                       standardization: tuple[np.ndarray, np.ndarray] | None = None,
                       frozen_graph: bool = False) -> str:
  """Writes a run's net as a SavedModel (and optionally a frozen GraphDef).

  Args:
    run_dir: the run directory (read-only: a run still training may be exported).
    export_dir: the directory to create; must not exist or be empty.
    which: 'best' (default) or 'latest' weights.
    standardization: None, or the (mean, std) float32 `[n_inputs]` the run's features
      were standardized with; the graph then applies `(inputs - mean) / std`.
    frozen_graph: also write `export_dir/frozen_graph.pb`, the serving graph with its
      variables as constants (inputs `inputs:0`, outputs `classes:0`,
      `probabilities:0`), for TF 1.x tools.

  Returns:
    The export directory.

  Raises:
    ValueError, TypeError: a bad argument (a standardization of the wrong width).
    FileExistsError: `export_dir` exists and is not empty; nothing is written.
    CheckpointError: the run or its checkpoint is missing or damaged.
  """
  _validation.check_choice("which", which, ("best", "latest"))
  export_dir = _validation.check_path("export_dir", export_dir)
  _check_target(export_dir)
  record = checkpoints.RunRecord.read(run_dir)
  prefix = record.best_checkpoint if which == "best" else record.latest_checkpoint
  if not prefix:
    raise CheckpointError(f"The run in {run_dir!r} has no {which} checkpoint yet.")
  n_inputs = _n_inputs(record, prefix)
  scale = _check_standardization(standardization, n_inputs)
  meta_graph, names = _inference_meta_graph(record.config, n_inputs)
  with staged_directory(export_dir) as staging:
    _write(staging, meta_graph, names, prefix, n_inputs, scale, frozen_graph)
  return export_dir


@contextlib.contextmanager
def staged_directory(export_dir: str) -> Iterator[str]:
  """Yields a temporary directory beside `export_dir` that becomes it when the block ends.

      with staged_directory("exported/mnist") as staging:
        ...   # write the SavedModel into `staging`

  `export_dir` must not exist or be empty. If the block raises, nothing is left: a
  target is either absent or complete, and the directories made for it are removed.
  """
  parent = os.path.dirname(os.path.abspath(export_dir))
  made = []  # The missing directories above the target, deepest first.
  missing = parent
  while not os.path.exists(missing):
    made.append(missing)
    missing = os.path.dirname(missing)
  os.makedirs(parent, exist_ok=True)
  staging = os.path.join(parent,
                         f".tmp-export-{os.getpid()}-{os.path.basename(export_dir)}")
  shutil.rmtree(staging, ignore_errors=True)
  try:
    yield staging
    with contextlib.suppress(FileNotFoundError):
      os.rmdir(export_dir)  # Empty (checked above); a rename cannot replace it otherwise.
    os.rename(staging, export_dir)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    for directory in made:
      with contextlib.suppress(OSError):
        os.rmdir(directory)
    raise
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def save_session(staging: str, sess: tf.compat.v1.Session,
                 signature_def_map: Mapping[str, Any], *,
                 tags: Sequence[str] = (tf.saved_model.SERVING,), main_op: Any = None,
                 saver: Any = None, assets_collection: Any = None,
                 as_text: bool = False) -> None:
  """Writes the graph of `sess` with its variables as a SavedModel into `staging`.

  Args:
    staging: the directory to write (from `staged_directory`).
    sess: a Session holding the graph and the variables' values.
    signature_def_map: {signature name: SignatureDef}.
    tags: the MetaGraph's tags. Default ['serve'].
    main_op: optional op run after the variables are restored on loading (lookup
      tables, local variables).
    saver: optional Saver of the variables; default one over all of them.
    assets_collection: optional asset file tensors to copy into `assets/`.
    as_text: write `saved_model.pbtxt` instead of `saved_model.pb`.
  """
  builder = _V1.saved_model.Builder(staging)
  with compat.silenced_tf_deprecations():
    builder.add_meta_graph_and_variables(
        sess, list(tags), signature_def_map=dict(signature_def_map), main_op=main_op,
        saver=saver, assets_collection=assets_collection, strip_default_attrs=True)
    builder.save(as_text)


def _check_target(export_dir):
  if os.path.lexists(export_dir) and (not os.path.isdir(export_dir)
                                      or os.listdir(export_dir)):
    raise FileExistsError(f"{export_dir} already exists and is not empty; nothing was "
                          "written. Choose a new directory or remove it.")


def _n_inputs(record, prefix):
  n_inputs = (record.data or {}).get("n_inputs")
  if n_inputs is None:  # A record from before data identities: the first weights'.
    weights = f"{hidden_scope(1)}/weights"  # [n_inputs, units]
    n_inputs = scopes.checkpoint_contents(prefix)[2][weights][0][0]
  return int(n_inputs)


def _check_standardization(standardization, n_inputs):
  """Returns (mean, std) float32 `[n_inputs]`, or None."""
  if standardization is None:
    return None
  mean, std = (np.asarray(a, np.float32) for a in standardization)
  if mean.shape != (n_inputs,) or std.shape != (n_inputs,) or not np.all(std > 0):
    raise ValueError(f"Expected `standardization` (mean, std) of shape [{n_inputs}] "
                     f"with std > 0. Received: shapes {mean.shape}, {std.shape}")
  return mean, std


def _inference_meta_graph(config, n_inputs):
  """The net in inference mode as a MetaGraphDef, and its X / logits / classes names."""
  with tf.Graph().as_default():
    # Every hidden layer built frozen: inference-mode batch norm, no dropout, so the
    # forward pass depends on no is_training switch.
    dnn = build_dnn(config, n_inputs, frozen_layers=len(config.hidden_layers))
    names = {"X": dnn.X.name, "logits": dnn.logits.name,
             "predictions": dnn.predictions.name}
    meta_graph = _V1.train.export_meta_graph(clear_devices=True)
  return meta_graph, names


def _write(staging, meta_graph, names, prefix, n_inputs, scale, frozen_graph):
  """Builds the serving graph, restores the weights, writes the SavedModel."""
  graph = tf.Graph()
  with graph.as_default():
    inputs = _V1.placeholder(tf.float32, (None, n_inputs), name=INPUTS)  # [n, n_inputs]
    scaled = inputs
    if scale is not None:
      scaled = tf.math.divide(inputs - tf.constant(scale[0]), tf.constant(scale[1]),
                              name="standardize")
    _V1.train.import_meta_graph(meta_graph, input_map={names["X"]: scaled})
    logits = graph.get_tensor_by_name(names["logits"])  # [n, n_outputs]
    classes = tf.identity(graph.get_tensor_by_name(names["predictions"]), name=CLASSES)
    probabilities = tf.nn.softmax(logits, name=PROBABILITIES)  # [n, n_outputs]
    model_variables = graph.get_collection(_V1.GraphKeys.MODEL_VARIABLES)
    init = _V1.global_variables_initializer()
  with _V1.Session(graph=graph) as sess:
    sess.run(init)
    scopes.restore(sess, prefix, var_list=model_variables)
    signature = _V1.saved_model.signature_def_utils.predict_signature_def(
        inputs={INPUTS: inputs},
        outputs={CLASSES: classes, PROBABILITIES: probabilities})
    save_session(staging, sess, {SIGNATURE_KEY: signature})
    with compat.silenced_tf_deprecations():
      if frozen_graph:
        frozen = _V1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), [CLASSES, PROBABILITIES])
        with open(os.path.join(staging, FROZEN_GRAPH), "wb") as f:
          f.write(frozen.SerializeToString())
