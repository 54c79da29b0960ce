"""Exporting a run for serving: a SavedModel with a signature, and a frozen GraphDef.

    export.export_saved_model("checkpoints/mnist", "exported/mnist")
    # In any TF 2 process, without dnn_toolkit:
    model = tf.saved_model.load("exported/mnist")
    out = model.signatures["serving_default"](inputs=tf.constant(pixels, tf.float32))
    out["classes"], out["probabilities"]       # [n] labels, [n, n_outputs] float32

The signature `serving_default` takes `inputs`, float32 `[None, n_inputs]`: the
features as the training data held them, raw (MNIST's pixels 0-255), and applies the
run's scaling in the graph (`scaling.Scaling`: the division by 255, a standardization's
mean and std as constants), as a Keras model with a `Rescaling` layer does. It returns
`classes`, the labels as the data names them (int64, or string for named classes: a
run on digits 5-9 answers 5-9), and `probabilities`, whose column i is the i-th label.
What the signature takes and gives is written beside it, in
`assets.extra/signature.json` (TensorFlow's place for files it does not load).
Inference mode is baked in: every hidden layer is built as `build_dnn` builds a frozen
one (batch norm on its moving statistics, no dropout), so nothing a caller feeds can
switch training behaviour on.

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
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation, checkpoints, compat, scopes
from dnn_toolkit.data import arrays
from dnn_toolkit.data.scaling import Scaling
from dnn_toolkit.errors import ArgumentError, CheckpointError
from dnn_toolkit.model import build_dnn, hidden_scope

_V1 = tf.compat.v1

#: The signature's key, input and output names.
SIGNATURE_KEY = "serving_default"
INPUTS = "inputs"
CLASSES = "classes"
PROBABILITIES = "probabilities"
#: The frozen GraphDef's file name inside the export directory.
FROZEN_GRAPH = "frozen_graph.pb"
#: What the signature takes and gives, beside it (TensorFlow leaves assets.extra/ alone).
SIGNATURE_DOC = os.path.join("assets.extra", "signature.json")


def export_saved_model(run_dir: str, export_dir: str | os.PathLike[str], *,
                       which: str = "best", scaling: Scaling | None = None,
                       classes: Sequence[Any] | None = None,
                       frozen_graph: bool = False) -> dict[str, Any]:
  """Writes a run's net as a SavedModel (and optionally a frozen GraphDef).

  Args:
    run_dir: the run directory (read-only: a run still training may be exported).
    export_dir: the directory to create; must not exist or be empty.
    which: 'best' (default) or 'latest' weights.
    scaling: the `Scaling` from raw features to the net's inputs, applied in the
      graph. Default: the run's, from its record (`runs.run_data.scaling_of` also
      recovers that of an old standardized record).
    classes: the labels of the classes 0..n_outputs-1 that `classes` answers with.
      Default: the run's label map, from its record.
    frozen_graph: also write `export_dir/frozen_graph.pb`, the serving graph with its
      variables as constants (inputs `inputs:0`, outputs `classes:0`,
      `probabilities:0`), for TF 1.x tools.

  Returns:
    What the signature takes and gives (`signature_doc`), as written to
    `export_dir/assets.extra/signature.json`.

  Raises:
    ValueError, TypeError: a bad argument (a standardization of the wrong width, a
      number of classes other than the net's outputs).
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
  if scaling is None:
    scaling = Scaling.from_identity(record.data) or Scaling()
  _check_scaling(scaling, n_inputs)
  if classes is None:
    classes = arrays.classes_of(record.data, record.config.n_outputs)
  labels = _check_classes(classes, record.config.n_outputs)
  meta_graph, names = _inference_meta_graph(record.config, n_inputs)
  doc = signature_doc(n_inputs, scaling, labels)
  with staged_directory(export_dir) as staging:
    _write(staging, meta_graph, names, prefix, n_inputs, scaling, labels,
           frozen_graph)
    _write_signature_doc(staging, doc)
  return doc


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


def _check_scaling(scaling, n_inputs):
  if not isinstance(scaling, Scaling):
    raise ArgumentError("scaling", "Expected {name} to be a `scaling.Scaling`. "
                        "Received: {received}", scaling)
  if scaling.standardized and (scaling.mean.shape != (n_inputs,) or
                               not np.all(scaling.std > 0)):
    raise ArgumentError("scaling", "Expected {name}'s mean and std of shape "
                        f"[{n_inputs}] with std > 0. Received: mean of shape "
                        f"{scaling.mean.shape}", scaling)


def _check_classes(classes: Sequence[Any] | np.ndarray, n_outputs: int
                   ) -> np.ndarray:
  """The labels as an int64 or str array of `n_outputs` entries."""
  labels = np.asarray(list(classes))
  if labels.shape != (n_outputs,) or labels.dtype.kind not in "iuU":
    raise ArgumentError("classes", "Expected {name}: one label (an integer or a name) "
                        f"per output of the net, {n_outputs}. Received: {{received}}",
                        list(classes))
  return labels.astype(np.int64) if labels.dtype.kind in "iu" else labels


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


def _write(staging, meta_graph, names, prefix, n_inputs, scaling, labels,
           frozen_graph):
  """Builds the serving graph, restores the weights, writes the SavedModel."""
  graph = tf.Graph()
  with graph.as_default():
    inputs = _V1.placeholder(tf.float32, (None, n_inputs), name=INPUTS)  # [n, n_inputs]
    _V1.train.import_meta_graph(meta_graph,
                                input_map={names["X"]: _scaled(inputs, scaling)})
    logits = graph.get_tensor_by_name(names["logits"])  # [n, n_outputs]
    predicted = graph.get_tensor_by_name(names["predictions"])  # [n] class indices
    classes = tf.gather(tf.constant(labels), predicted, name=CLASSES)  # [n] labels
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


def _scaled(inputs, scaling):
  """The run's scaling of raw `inputs` `[n, n_inputs]` in the graph: as
  `Scaling.apply` does it, in float32."""
  with tf.name_scope("scaling"):
    scaled = inputs
    if scaling.divide_by is not None:
      scaled = tf.math.divide(scaled, tf.constant(np.float32(scaling.divide_by)),
                              name="divide")
    if scaling.standardized:
      scaled = tf.math.divide(scaled - tf.constant(scaling.mean),
                              tf.constant(scaling.std), name="standardize")
  return scaled


def signature_doc(n_inputs: int, scaling: Scaling, labels: np.ndarray) -> dict:
  """What the serving signature takes and gives, as written to `SIGNATURE_DOC`."""
  label_type = "int64" if labels.dtype.kind in "iu" else "string"
  return {
      "signature": SIGNATURE_KEY,
      "inputs": {INPUTS: {"dtype": "float32", "shape": [None, n_inputs],
                          "takes": scaling.expects(),
                          "scaling": scaling.to_identity()}},
      "outputs": {
          CLASSES: {"dtype": label_type, "shape": [None],
                    "labels": labels.tolist()},
          PROBABILITIES: {"dtype": "float32", "shape": [None, len(labels)],
                          "columns": labels.tolist()}},
  }


def _write_signature_doc(staging, doc):
  path = os.path.join(staging, SIGNATURE_DOC)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
