"""TensorBoard logs of a training run: the graph, learning curves, layer diagnostics.

    factories = [summaries.SummaryHook.factory(every_n_steps=100)]
    experiment.train(config, train, valid, run_dir="checkpoints/run1",
                     hook_factories=factories)
    # then: dnn-toolkit tensorboard checkpoints/run1

A run directory's logs, `<run_dir>/logs`:

    train/                 the graph; epoch loss, accuracy, learning_rate; diagnostics
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

The diagnostics run on the batch just trained on, every `every_n_steps` steps (and at
step 1), never on every step: one extra forward and backward pass each time.
"""

import glob
import os
import shlex
import struct
import sys

import numpy as np
import tensorflow as tf

from dnn_toolkit import _validation
from dnn_toolkit import diagnostics
from dnn_toolkit import plots

_V1 = tf.compat.v1

LOGS = "logs"
TRAIN = "train"
VALIDATION = "validation"
DEFAULT_PORT = 6006
_EVENTS_PATTERN = "events.out.tfevents.*"
_DIAGNOSTIC_SCALARS = (("gradient_norm", "gradient_norms"),
                       ("weight_norm", "weight_norms"),
                       ("activation_mean", "activation_means"),
                       ("activation_std", "activation_stds"),
                       ("saturated_fraction", "saturated"), ("dead_fraction", "dead"))


def logdir_of(run_dir):
  """Returns the TensorBoard log directory of a run directory: `<run_dir>/logs`."""
  return os.path.join(run_dir, LOGS)


class SummaryHook:
  """A `training.fit` hook that writes TensorBoard logs and, at the end, PNG plots.

  Build it before the Session starts (as `experiment.train` does with
  `SummaryHook.factory()`): it adds its diagnostic ops to the model's graph. Its
  methods are the hook protocol of `training.fit`.

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

  Raises:
    ValueError, TypeError: on a bad argument, before any op is created.
  """

  def __init__(self, dnn, logdir, every_n_steps=100, histograms=True, is_training=True,
               saturation_threshold=diagnostics.SATURATION_THRESHOLD,
               write_plots=True):
    _check_options(every_n_steps, histograms, is_training, saturation_threshold,
                   write_plots)
    if not isinstance(logdir, (str, os.PathLike)):
      raise TypeError(f"Expected `logdir` to be a path. Received: logdir={logdir!r}")
    self.dnn = dnn
    self.logdir = os.fspath(logdir)
    self.every_n_steps = every_n_steps
    self.is_training = is_training
    self.write_plots = write_plots
    with dnn.loss.graph.as_default():
      self.probes = diagnostics.probes_for_dnn(dnn, saturation_threshold)
      self._summary = _diagnostic_summary_op(self.probes, dnn.weights, dnn.hidden,
                                             histograms)
    self._writers = {}

  @classmethod
  def factory(cls, every_n_steps=100, histograms=True, is_training=True,
              saturation_threshold=diagnostics.SATURATION_THRESHOLD, write_plots=True):
    """Returns `(dnn, run_dir) -> SummaryHook` logging to `<run_dir>/logs`.

    For `experiment.train(..., hook_factories=[SummaryHook.factory()])`. The arguments
    are the constructor's, checked now.
    """
    _check_options(every_n_steps, histograms, is_training, saturation_threshold,
                   write_plots)
    return lambda dnn, run_dir: cls(dnn, logdir_of(run_dir), every_n_steps, histograms,
                                    is_training, saturation_threshold, write_plots)

  def begin(self, sess, dnn, state):
    with sess.graph.as_default():  # FileWriter refuses to start in eager mode.
      for run in (TRAIN, VALIDATION):
        self._writers[run] = _V1.summary.FileWriter(os.path.join(self.logdir, run))
    self._writers[TRAIN].add_graph(sess.graph)
    if state.global_step:
      # A resumed run: TensorBoard drops what an earlier process logged after the
      # checkpoint it resumes from, so the curves do not fork.
      for writer in self._writers.values():
        writer.add_session_log(_V1.SessionLog(status=_V1.SessionLog.START),
                               state.global_step + 1)

  def after_step(self, sess, state, loss, X_batch, y_batch):
    step = state.global_step
    if step != 1 and step % self.every_n_steps:
      return
    feed = {self.dnn.X: X_batch, self.dnn.y: y_batch,
            self.dnn.is_training: self.is_training}
    writer = self._writers[TRAIN]
    writer.add_summary(sess.run(self._summary, feed), step)
    writer.add_summary(_scalars({"batch_loss": loss}), step)

  def after_epoch(self, sess, state, metrics, improved):
    step = metrics["global_step"]
    self._writers[TRAIN].add_summary(_scalars({
        "loss": metrics["loss"], "accuracy": metrics["accuracy"],
        "learning_rate": metrics["learning_rate"]}), step)
    self._writers[VALIDATION].add_summary(_scalars({
        "loss": metrics["val_loss"], "accuracy": metrics["val_accuracy"]}), step)
    self._flush()  # An epoch's logs survive a crash of the next one.

  def on_interrupt(self, sess, state):
    self._flush()

  def on_diverged(self, sess, state):
    """Keeps the logs up to the divergence: they show the loss blowing up."""
    for writer in self._writers.values():
      writer.close()

  def end(self, sess, state):
    self._flush()
    if self.write_plots:
      self.plot(state.history)
    for writer in self._writers.values():
      writer.close()

  def plot(self, history):
    """Writes the learning curves and gradient norms as PNGs; returns their paths."""
    paths = []
    if history:
      paths.append(plots.plot_learning_curves(
          history, os.path.join(self.logdir, "learning_curves.png")))
    scalars = read_scalars(os.path.join(self.logdir, TRAIN))
    norms = {name: scalars[f"gradient_norm/{name}"] for name in self.probes.names
             if f"gradient_norm/{name}" in scalars}
    if norms:
      paths.append(plots.plot_gradient_norms(
          norms, os.path.join(self.logdir, "gradient_norms.png")))
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


def read_scalars(logdir):
  """Returns the scalars of the event files in `logdir` (one run, not recursive).

  Where a step was logged more than once (a resumed run), the latest value wins. A
  truncated last record (a killed process) ends that file's reading quietly.

  Args:
    logdir: a directory holding `events.out.tfevents.*` files.

  Returns:
    {tag: (steps, values)}: int64 and float64 arrays, sorted by step.
  """
  by_tag = {}
  for path in sorted(glob.glob(os.path.join(logdir, _EVENTS_PATTERN))):
    for record in _records(path):
      event = _V1.Event.FromString(record)
      for value in event.summary.value:
        if value.HasField("simple_value"):
          by_tag.setdefault(value.tag, {})[event.step] = value.simple_value
  result = {}
  for tag, points in by_tag.items():
    steps = np.array(sorted(points), dtype=np.int64)
    result[tag] = (steps, np.array([points[s] for s in steps], dtype=np.float64))
  return result


def _records(path):
  """Yields the records of a TFRecord file, stopping quietly at a truncated one.

  Each record is: length (uint64), its CRC (uint32), the data, the data's CRC
  (uint32), little-endian. Read here in plain Python because TensorFlow's reader is
  deprecated and its replacement, tf.data, needs eager mode.
  """
  with open(path, "rb") as f:
    while True:
      header = f.read(12)
      if len(header) < 12:
        return
      (length,) = struct.unpack("<Q", header[:8])
      data = f.read(length)
      if len(data) < length or len(f.read(4)) < 4:
        return
      yield data


def find_logdir(path):
  """Returns the directory to point TensorBoard at for a run directory or a log dir.

  Args:
    path: a run directory (its `logs/` is used), or any directory holding event files
      in it or below it.

  Returns:
    `<path>/logs` if it exists, else `path`.

  Raises:
    FileNotFoundError: if `path` is not a directory or holds no event files.
  """
  if not os.path.isdir(path):
    raise FileNotFoundError(f"No run directory at {path!r}: it does not exist or is "
                            "not a directory.")
  logdir = logdir_of(path) if os.path.isdir(logdir_of(path)) else path
  for _, _, files in os.walk(logdir):
    if any(name.startswith("events.out.tfevents.") for name in files):
      return logdir
  raise FileNotFoundError(f"No TensorBoard event files were found in {logdir!r}; "
                          "train a run there first (every run writes <run_dir>/logs).")


def tensorboard_command(logdir, port=DEFAULT_PORT):
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


def format_command(argv):
  """Returns `argv` as one shell-quoted line."""
  return shlex.join(argv)
