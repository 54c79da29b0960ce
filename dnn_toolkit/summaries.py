"""TensorBoard logs of a training run: the graph, learning curves, layer diagnostics.

    factories = [summaries.SummaryHook.factory(every_n_steps=100)]
    lifecycle.train(config, train, valid, run_dir="checkpoints/run1",
                     hook_factories=factories)
    # then: dnn-toolkit tensorboard checkpoints/run1

A run directory's logs, `<run_dir>/logs`:

    train/                 the model's graph; epoch loss, accuracy, learning_rate;
                           diagnostics; the `transfer` text (restored layers)
    validation/            epoch loss and accuracy, under the same tags as train, so
                           TensorBoard overlays the two curves
    learning_curves.png    written at the end of the run (see `dnn_toolkit.plots`)
    gradient_norms.png

Tags (the x axis is the global step):

    loss, accuracy         per epoch, exactly the values `training.fit` reports
                           (train: the mean over the epoch's batches; validation:
                           val_loss and val_accuracy)
    learning_rate          per epoch
    batch_loss             the training batch's loss, at each diagnostics step
    gradient_norm/<layer>, weight_norm/<layer>, activation_mean/<layer>,
    activation_std/<layer>, saturated_fraction/<layer>, dead_fraction/<layer>
                           every `every_n_steps` steps, as defined in
                           `dnn_toolkit.diagnostics`
    weights/<layer>, activations/<layer>   histograms, at the same steps

    transfer               text (markdown): each layer's origin, restored from which
                           checkpoint or new, and whether it is frozen; written at
                           the start when the hook is given `restored` or `frozen`

The diagnostics run on the batch just trained on, every `every_n_steps` steps (and at
step 1), never on every step: one extra forward and backward pass each time.

The graph in TensorBoard's Graphs tab is the model's (`model_graph_def`): only the ops
that training and evaluation run, so the Main Graph reads X -> dnn (hidden1 ... outputs)
-> loss -> train, eval without expanding anything. The diagnostics, the summary ops,
savers and snapshots stay in the Session's graph but are not drawn. (TensorBoard
still moves `dnn` and `train` to "Auxiliary Nodes" once the top level has 15 nodes
or more, 7 hidden layers or more here, each with its variable scope: untick
"Auto-extract high-degree nodes" for those.) Layers restored
from a checkpoint are marked in it: their nodes carry the device `restored:<k>`
(`restored_frozen:<k>` if frozen; k numbers the checkpoints, as the `transfer` text
does), the other layers' `new:0`, so "Color by: Device" colours each kind and lists
it in the legend. Each restored layer also holds a `<layer>/restored_from` constant
whose value is the checkpoint path.

    hook = summaries.SummaryHook(model.dnn, summaries.logdir_of(run_dir),
                                 restored={"hidden1": checkpoint, "hidden2": checkpoint},
                                 frozen=["hidden1"])
"""

import glob
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.text import summary_v2 as text_summary

from dnn_toolkit import _validation, diagnostics, plots
from dnn_toolkit.errors import LogsNotFoundError
from dnn_toolkit.training import loop as training

if TYPE_CHECKING:
  from dnn_toolkit.model import DNN
  from dnn_toolkit.training.loop import TrainState

_V1 = tf.compat.v1

LOGS = "logs"
TRAIN = "train"
VALIDATION = "validation"
DEFAULT_PORT = 6006
_EVENTS_PATTERN = "events.out.tfevents.*"
TRANSFER_TAG = "transfer"
#: The devices that mark a layer's nodes in the drawn graph, `/device:<kind>:<k>`, the
#: form TensorBoard's device legend lists; k numbers the checkpoints restored from.
NEW_DEVICE = "/device:new:0"
RESTORED_DEVICE = "/device:restored:{index}"
_FROZEN_KIND = "_frozen"
#: The constant each restored layer holds in the written graph: `<layer>/restored_from`.
RESTORED_MARKER = "restored_from"
#: The scalars a run is looked at for first: `dnn-toolkit tensorboard` opens with these
#: cards pinned at the top of the Time Series, above the layer diagnostics.
OPENING_CARDS = ("loss", "accuracy")
_DIAGNOSTIC_SCALARS = (("gradient_norm", "gradient_norms"),
                       ("weight_norm", "weight_norms"),
                       ("activation_mean", "activation_means"),
                       ("activation_std", "activation_stds"),
                       ("saturated_fraction", "saturated"), ("dead_fraction", "dead"))


def logdir_of(run_dir: str | os.PathLike[str]) -> str:
  """Returns the TensorBoard log directory of a run directory: `<run_dir>/logs`."""
  return os.path.join(run_dir, LOGS)


class SummaryHook(training.Hook):
  """A `training.fit` hook that writes TensorBoard logs and, at the end, PNG plots.

  Build it before the Session starts (as `runs.lifecycle.train` does with
  `SummaryHook.factory()`): it adds its diagnostic ops to the model's graph. It is a
  `training.Hook`.

  For a net with reused layers, pass what was restored and what is frozen: the graph
  then marks those layers and the `transfer` text lists them. They are arguments, not
  read from the graph, because only the code that restored the layers knows:

      restored = {f"hidden{i}": model.pretrained.checkpoint for i in model.reused}
      frozen = [f"hidden{i}" for i in range(1, model.frozen_layers + 1)]
      hook = SummaryHook(model.dnn, logdir, restored=restored, frozen=frozen)

  Args:
    dnn: the `DNN` being trained.
    logdir: where the `train` and `validation` event files go (`<run_dir>/logs`).
    every_n_steps: positive int, the steps between diagnostics. Default 100.
    histograms: also log weight and activation histograms. Default True.
    is_training: the value fed to `dnn.is_training` for the diagnostics. Default
      True: they see what a training step sees (batch statistics, dropout).
    saturation_threshold: see `dnn_toolkit.diagnostics`. Default 0.05.
    write_plots: write `learning_curves.png` and `gradient_norms.png` into `logdir`
      at the end of the run. Default True.
    restored: optional {layer scope: checkpoint path} of the layers restored from a
      checkpoint, e.g. {"hidden1": "runs/base/best/model"}. Default None: none.
    frozen: the scopes of the layers training leaves unchanged, e.g. ["hidden1"].
      Default (): none.

  Raises:
    ValueError, TypeError: on a bad argument (a layer `dnn` does not have), before
      any op is created.
  """

  dnn: "DNN"
  logdir: str
  every_n_steps: int
  is_training: bool
  write_plots: bool
  restored: dict[str, str]
  frozen: tuple[str, ...]
  probes: diagnostics.LayerProbes

  def __init__(self, dnn: "DNN", logdir: str | os.PathLike[str],
               every_n_steps: int = 100, histograms: bool = True,
               is_training: bool = True,
               saturation_threshold: float = diagnostics.SATURATION_THRESHOLD,
               write_plots: bool = True, *,
               restored: Mapping[str, str | os.PathLike[str]] | None = None,
               frozen: Iterable[str] = ()) -> None:
    _check_options(every_n_steps, histograms, is_training, saturation_threshold,
                   write_plots)
    restored, frozen = _check_transfer(restored, frozen)
    if not isinstance(logdir, (str, os.PathLike)):
      raise TypeError(f"Expected `logdir` to be a path. Received: logdir={logdir!r}")
    _check_layers_exist(dnn.layer_scopes, restored, frozen)
    self.dnn = dnn
    self.logdir = os.fspath(logdir)
    self.every_n_steps = every_n_steps
    self.is_training = is_training
    self.write_plots = write_plots
    self.restored, self.frozen = restored, frozen
    with dnn.loss.graph.as_default():
      self.probes = diagnostics.probes_for_dnn(dnn, saturation_threshold)
      self._summary = _diagnostic_summary_op(self.probes, dnn.weights, dnn.hidden,
                                             histograms)
    self._writers: dict[str, Any] = {}

  @classmethod
  def factory(cls, every_n_steps: int = 100, histograms: bool = True,
              is_training: bool = True,
              saturation_threshold: float = diagnostics.SATURATION_THRESHOLD,
              write_plots: bool = True, *,
              restored: Mapping[str, str | os.PathLike[str]] | None = None,
              frozen: Iterable[str] = ()) -> Callable[["DNN", str], "SummaryHook"]:
    """Returns `(dnn, run_dir) -> SummaryHook` logging to `<run_dir>/logs`.

    For `lifecycle.train(..., hook_factories=[SummaryHook.factory()])`. The arguments
    are the constructor's, checked now (the layer names once the net is built).
    """
    _check_options(every_n_steps, histograms, is_training, saturation_threshold,
                   write_plots)
    restored, frozen = _check_transfer(restored, frozen)
    return lambda dnn, run_dir: cls(
        dnn, logdir_of(run_dir), every_n_steps=every_n_steps, histograms=histograms,
        is_training=is_training, saturation_threshold=saturation_threshold,
        write_plots=write_plots, restored=restored, frozen=frozen)

  def begin(self, sess: tf.compat.v1.Session, dnn: "DNN", state: "TrainState") -> None:
    with sess.graph.as_default():  # FileWriter refuses to start in eager mode.
      for run in (TRAIN, VALIDATION):
        self._writers[run] = _V1.summary.FileWriter(os.path.join(self.logdir, run))
    train = self._writers[TRAIN]
    graph_def = model_graph_def(dnn, restored=self.restored, frozen=self.frozen)
    train.add_event(_V1.Event(graph_def=graph_def.SerializeToString(),
                              wall_time=time.time()))
    if self.restored or self.frozen:
      text = transfer_markdown(dnn.layer_scopes, restored=self.restored,
                               frozen=self.frozen)
      train.add_summary(text_summary.text_pb(TRANSFER_TAG, text).SerializeToString(),
                        state.global_step)
    if state.global_step:
      # A resumed run: TensorBoard drops what an earlier process logged after the
      # checkpoint it resumes from, so the curves do not fork.
      for writer in self._writers.values():
        writer.add_session_log(_V1.SessionLog(status=_V1.SessionLog.START),
                               state.global_step + 1)

  def next_step_needed(self, global_step: int) -> int:
    """Step 1 and every `every_n_steps`-th step: where the diagnostics are logged.

    So a multi-step Session call ends there, and training between logs runs several
    steps per call.
    """
    if global_step < 1:
      return 1
    return (global_step // self.every_n_steps + 1) * self.every_n_steps

  def after_step(self, sess: tf.compat.v1.Session, state: "TrainState", loss: float,
                 X_batch: np.ndarray, y_batch: np.ndarray) -> None:
    step = state.global_step
    if step != 1 and step % self.every_n_steps:
      return
    feed = {self.dnn.X: X_batch, self.dnn.y: y_batch,
            self.dnn.is_training: self.is_training}
    writer = self._writers[TRAIN]
    writer.add_summary(sess.run(self._summary, feed), step)
    writer.add_summary(_scalars({"batch_loss": loss}), step)

  def after_epoch(self, sess: tf.compat.v1.Session, state: "TrainState",
                  metrics: dict[str, Any], improved: bool) -> None:
    step = metrics["global_step"]
    self._writers[TRAIN].add_summary(_scalars({
        "loss": metrics["loss"], "accuracy": metrics["accuracy"],
        "learning_rate": metrics["learning_rate"]}), step)
    self._writers[VALIDATION].add_summary(_scalars({
        "loss": metrics["val_loss"], "accuracy": metrics["val_accuracy"]}), step)
    self._flush()  # An epoch's logs survive a crash of the next one.

  def on_interrupt(self, sess: tf.compat.v1.Session, state: "TrainState") -> None:
    self._flush()

  def on_diverged(self, sess: tf.compat.v1.Session, state: "TrainState") -> None:
    """Keeps the logs up to the divergence: they show the loss blowing up."""
    for writer in self._writers.values():
      writer.close()

  def end(self, sess: tf.compat.v1.Session, state: "TrainState") -> None:
    self._flush()
    if self.write_plots:
      self.plot(state.history)
    for writer in self._writers.values():
      writer.close()

  def plot(self, history: Sequence[dict[str, Any]]) -> list[str]:
    """Writes the learning curves and gradient norms as PNGs; returns their paths.

    The gradient plot marks the `frozen` layers.
    """
    paths = []
    if history:
      paths.append(plots.plot_learning_curves(
          history, os.path.join(self.logdir, "learning_curves.png")))
    scalars = read_scalars(os.path.join(self.logdir, TRAIN))
    norms = {name: scalars[f"gradient_norm/{name}"] for name in self.probes.names
             if f"gradient_norm/{name}" in scalars}
    if norms:
      paths.append(plots.plot_gradient_norms(
          norms, os.path.join(self.logdir, "gradient_norms.png"),
          frozen=[layer for layer in self.frozen if layer in norms]))
    return paths

  def _flush(self):
    for writer in self._writers.values():
      writer.flush()


def _check_options(every_n_steps, histograms, is_training, saturation_threshold,
                   write_plots):
  """Raises ValueError or TypeError on a bad `SummaryHook` option."""
  _validation.check_positive_int("every_n_steps", every_n_steps)
  for name, value in (("histograms", histograms), ("is_training", is_training),
                      ("write_plots", write_plots)):
    if not isinstance(value, bool):
      raise TypeError(f"Expected `{name}` to be a bool. Received: {name}={value!r}")
  _validation.check_in_range("saturation_threshold", saturation_threshold, 0.0, 1.0,
                             low_open=True, high_open=True)


def _check_transfer(restored, frozen) -> tuple[dict[str, str], tuple[str, ...]]:
  """Returns (restored as a {str: str} dict, frozen as a tuple), or raises."""
  if restored is None:
    restored = {}
  if not isinstance(restored, dict):
    raise TypeError("Expected `restored` to be a dict {layer scope: checkpoint path}. "
                    f"Received: restored={restored!r}")
  for layer, checkpoint in restored.items():
    if not isinstance(layer, str) or not isinstance(checkpoint, (str, os.PathLike)):
      raise TypeError("Expected `restored` to map layer scopes (str) to checkpoint "
                      f"paths. Received: {layer!r}: {checkpoint!r}")
  if isinstance(frozen, str) or not isinstance(frozen, (list, tuple, set, frozenset)):
    raise TypeError("Expected `frozen` to be a list of layer scopes. "
                    f"Received: frozen={frozen!r}")
  for layer in frozen:
    if not isinstance(layer, str):
      raise TypeError(f"Expected `frozen` to hold layer scopes (str). "
                      f"Received: {layer!r}")
  return ({layer: os.fspath(path) for layer, path in restored.items()},
          tuple(sorted(set(frozen), key=list(frozen).index)))


def _check_layers_exist(layer_scopes, restored, frozen):
  """Raises ValueError naming a `restored` or `frozen` layer the net does not have."""
  for name, layers in (("restored", list(restored)), ("frozen", list(frozen))):
    unknown = [layer for layer in layers if layer not in layer_scopes]
    if unknown:
      raise ValueError(f"Received an invalid value for `{name}`, expected layers of "
                       f"the net ({', '.join(layer_scopes)}). Received: {unknown}")


# --------------------------------------------------------- the graph TensorBoard draws


def model_graph_def(dnn: "DNN", restored: Mapping[str, str] | None = None,
                    frozen: Iterable[str] = ()) -> tf.compat.v1.GraphDef:
  """Returns the GraphDef TensorBoard should draw: the ops training and evaluation run.

  That is the nodes `dnn.train_op`, `dnn.batch_stats`, the evaluation tensors, the
  learning rate and max-norm clipping need. Diagnostics, summaries, savers, snapshots
  and initializers are left out, and so is the function library (the branches of
  `tf.cond`): drawn, they are most of the graph, and TensorBoard moves the net itself
  aside to "Auxiliary Nodes". The result is for drawing, not for importing. The
  Session's graph is not changed.

  Given `restored` or `frozen`, layers are marked in the copy: every node of a
  layer's variable scope and of its forward pass (not its gradients) gets the device
  `/device:restored:<k>` (restored from the k-th checkpoint of `checkpoint_index`),
  or `/device:new:0`; `_frozen` is appended to the kind for frozen layers
  (`/device:restored_frozen:0`). Each restored layer also holds a string constant
  `<layer>/restored_from` with the checkpoint path.

  Args:
    dnn: a `DNN` from `model.build_dnn`.
    restored: optional {layer scope: checkpoint path}.
    frozen: optional layer scopes that training leaves unchanged.

  Returns:
    A `GraphDef`.

  Raises:
    ValueError, TypeError: on a bad `restored` or `frozen` (see `SummaryHook`).
  """
  restored, frozen = _check_transfer(restored, frozen)
  _check_layers_exist(dnn.layer_scopes, restored, frozen)
  fetches = [dnn.train_op, dnn.batch_stats, dnn.predictions, dnn.correct,
             dnn.accuracy, dnn.base_loss, dnn.loss, dnn.learning_rate]
  if dnn.max_norm_op is not None:
    fetches.append(dnn.max_norm_op)
  full = dnn.loss.graph.as_graph_def()
  needed = _ancestors({node.name: node for node in full.node},
                      [_op_of(fetch).name for fetch in fetches])
  # No function library: TensorBoard would list each branch of every tf.cond beside
  # the graph and count it as a top-level node, which pushes the net aside.
  graph_def = _V1.GraphDef(versions=full.versions)
  graph_def.node.extend(node for node in full.node if node.name in needed)
  if restored or frozen:
    _mark_layers(graph_def, dnn, restored, frozen)
  return graph_def


def _op_of(fetch):
  return fetch if isinstance(fetch, tf.Operation) else fetch.op


def _mark_layers(graph_def, dnn, restored, frozen):
  """Sets the device of each layer's nodes and adds the `restored_from` constants."""
  by_name = {node.name: node for node in graph_def.node}
  # A layer's own nodes: what the logits and batch norm's moving-average updates need;
  # its gradients and optimizer slots lie only downstream of the loss.
  updates = dnn.loss.graph.get_collection(_V1.GraphKeys.UPDATE_OPS)
  forward = _ancestors(by_name, [_op_of(t).name for t in [dnn.logits] + updates])
  for layer in dnn.layer_scopes:
    device = layer_device(layer, restored, frozen)
    for name in forward:
      if layer in name.split("/")[:-1]:  # Whole scope names: hidden1 is not hidden10.
        by_name[name].device = device
    if layer in restored:
      marker = graph_def.node.add(name=f"{layer}/{RESTORED_MARKER}", op="Const",
                                  device=device)
      marker.attr["dtype"].type = tf.string.as_datatype_enum
      marker.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(restored[layer]))


def checkpoint_index(restored: Mapping[str, str]) -> dict[str, int]:
  """Returns {checkpoint path: k}, numbering the checkpoints of `restored` from 0."""
  return {path: k for k, path in enumerate(sorted(set(restored.values())))}


def layer_device(layer: str, restored: Mapping[str, str], frozen: Iterable[str]) -> str:
  """Returns the device marking `layer` in the drawn graph (see `model_graph_def`).

  Args:
    layer: a layer scope, e.g. 'hidden1'.
    restored: {layer scope: checkpoint path}.
    frozen: the frozen layer scopes.

  Returns:
    e.g. '/device:restored_frozen:0', '/device:restored:1', '/device:new:0'.
  """
  if layer in restored:
    device = RESTORED_DEVICE.format(index=checkpoint_index(restored)[restored[layer]])
  else:
    device = NEW_DEVICE
  if layer in frozen:
    kind, index = device.rsplit(":", 1)
    device = f"{kind}{_FROZEN_KIND}:{index}"
  return device


def _ancestors(by_name, roots):
  """Returns the names of `roots` and every node they depend on in `by_name`."""
  seen, pending = set(), [r for r in roots if r in by_name]
  while pending:
    name = pending.pop()
    if name in seen:
      continue
    seen.add(name)
    for source in by_name[name].input:
      source = source.lstrip("^").split(":")[0]
      if source in by_name:
        pending.append(source)
  return seen


def transfer_markdown(layer_scopes: Sequence[str],
                      restored: Mapping[str, str] | None = None,
                      frozen: Iterable[str] = ()) -> str:
  """Returns a markdown table of each layer's origin, whether it trains, its mark.

      3 of 5 layers restored (2 frozen), from checkpoint 0: `runs/base/best/model`.

      In the Graphs tab, *Color by: Device* colours the layers by origin.

      | layer   | weights                  | training | graph device (Color by: Device) |
      |---------|--------------------------|----------|---------------------------------|
      | hidden1 | restored (checkpoint 0)  | frozen   | restored_frozen:0               |
      | hidden4 | new (random init)        | trained  | new:0                           |

  Args:
    layer_scopes: the layers bottom up (`DNN.layer_scopes`).
    restored: optional {layer scope: checkpoint path}.
    frozen: optional layer scopes that training leaves unchanged.

  Returns:
    The markdown text.

  Raises:
    ValueError, TypeError: on a bad `restored` or `frozen`.
  """
  restored, frozen = _check_transfer(restored, frozen)
  _check_layers_exist(list(layer_scopes), restored, frozen)
  index = checkpoint_index(restored)
  sources = "; ".join(f"checkpoint {k}: `{path}`" for path, k in index.items())
  lines = [f"**{len(restored)} of {len(layer_scopes)} layers restored** "
           f"({len(frozen)} frozen)" + (f", from {sources}" if sources else "") + ".",
           "", "In the Graphs tab, *Color by: Device* colours the layers by origin.", "",
           "| layer | weights | training | graph device (Color by: Device) |",
           "|---|---|---|---|"]
  for layer in layer_scopes:
    origin = (f"restored (checkpoint {index[restored[layer]]})" if layer in restored
              else "new (random init)")
    training = "frozen" if layer in frozen else "trained"
    device = layer_device(layer, restored, frozen).replace("/device:", "")
    lines.append(f"| {layer} | {origin} | {training} | {device} |")
  return "\n".join(lines)


def _diagnostic_summary_op(probes, weights, hidden_outputs, histograms):
  """Returns one op serializing every diagnostic scalar (and histogram) of `probes`."""
  with tf.name_scope("summaries"):
    tags, values = [], []
    for prefix, field in _DIAGNOSTIC_SCALARS:
      for name, tensor in zip(probes.names, getattr(probes, field)):
        if tensor is not None:
          tags.append(f"{prefix}/{name}")
          values.append(tensor)
    ops = [tf.raw_ops.ScalarSummary(tags=tf.constant(tags), values=tf.stack(values),
                                    name="diagnostics")]
    if histograms:
      layers = [("weights", name, w) for name, w in zip(probes.names, weights)]
      layers += [("activations", name, out)
                 for name, out in zip(probes.names, hidden_outputs)]
      for kind, name, tensor in layers:
        ops.append(tf.raw_ops.HistogramSummary(
            tag=f"{kind}/{name}", values=_finite_values(tensor),
            name=f"{kind}_{name}"))
    return tf.raw_ops.MergeSummary(inputs=ops, name="merged")


def _finite_values(tensor):
  """The finite entries of `tensor`, flattened: a histogram op fails on NaN or Inf."""
  flat = tf.reshape(tf.convert_to_tensor(tensor), [-1])
  return tf.boolean_mask(flat, tf.math.is_finite(flat))


def _scalars(values):
  """Returns a `Summary` proto of {tag: float}."""
  return _V1.Summary(value=[_V1.Summary.Value(tag=tag, simple_value=float(value))
                            for tag, value in values.items()])


def read_scalars(logdir: str | os.PathLike[str]
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Returns the scalars of the event files in `logdir` (one run, not recursive).

  Where a step was logged more than once (a resumed run), the latest value wins. A
  truncated last record (a killed process) ends that file's reading quietly.

  Args:
    logdir: a directory holding `events.out.tfevents.*` files.

  Returns:
    {tag: (steps, values)}: int64 and float64 arrays, sorted by step.
  """
  by_tag: dict[str, dict[int, float]] = {}
  for path in sorted(glob.glob(os.path.join(logdir, _EVENTS_PATTERN))):
    # TensorBoard's own reader: it stops quietly at a truncated last record.
    for event in event_file_loader.LegacyEventFileLoader(path).Load():
      for value in event.summary.value:
        if value.HasField("simple_value"):
          by_tag.setdefault(value.tag, {})[event.step] = value.simple_value
  result = {}
  for tag, points in by_tag.items():
    steps = np.array(sorted(points), dtype=np.int64)
    result[tag] = (steps, np.array([points[s] for s in steps], dtype=np.float64))
  return result


def find_logdir(path: str) -> str:
  """Returns the directory to point TensorBoard at for a run directory or a log dir.

  Args:
    path: a run directory (its `logs/` is used), or any directory holding event files
      in it or below it.

  Returns:
    `<path>/logs` if it exists, else `path`.

  Raises:
    LogsNotFoundError: if `path` is not a directory or holds no event files (also a
      `FileNotFoundError`).
  """
  if not os.path.isdir(path):
    raise LogsNotFoundError(f"No run directory at {path!r}: it does not exist or is "
                            "not a directory.")
  logdir = logdir_of(path) if os.path.isdir(logdir_of(path)) else path
  for _, _, files in os.walk(logdir):
    if any(name.startswith("events.out.tfevents.") for name in files):
      return logdir
  raise LogsNotFoundError(f"No TensorBoard event files were found in {logdir!r}; "
                          "train a run there first (every run writes <run_dir>/logs).")


def tensorboard_command(logdir: str | os.PathLike[str],
                        port: int = DEFAULT_PORT) -> list[str]:
  """Returns the argv that serves `logdir` with TensorBoard on 127.0.0.1:`port`.

  Args:
    logdir: the log directory.
    port: int in [0, 65535]; 0 lets TensorBoard pick a free one. Default 6006.

  Raises:
    ValueError, TypeError: on a bad port.
  """
  _validation.check_non_negative_int("port", port)
  if port > 65535:
    raise ValueError("Received an invalid value for `port`, expected an integer in "
                     f"[0, 65535]. Received: port={port}")
  return [sys.executable, "-m", "tensorboard.main", "--logdir", os.fspath(logdir),
          "--host", "127.0.0.1", "--port", str(port)]


def format_command(argv: Sequence[str]) -> str:
  """Returns `argv` as one shell-quoted line."""
  return shlex.join(argv)
