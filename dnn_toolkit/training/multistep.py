"""Several training steps of a built DNN per Session call, in a `tf.while_loop`.

A per-step `sess.run` pays the Python and runtime overhead of one call for every step
(feeding the batch, starting the executor): at batch 50 on a small net that is a large
share of the step. `MultiStep` keeps the training set in the graph (a variable, uint8
when the data is `data.ScaledImages`, scaled in the graph) and the epoch's
order in another variable, set once per epoch; one call then runs K steps, each
training on the batch `order[b * batch_size:(b + 1) * batch_size]` gathered in the graph
(the batches `data.minibatch_indices` gives) while the step before it ran.

The loop body is a copy of the DNN's own training step: the subgraph of `dnn.train_op`,
`dnn.batch_stats` and `dnn.max_norm_op` is imported into the body with
`tf.import_graph_def`, its placeholders mapped to the gathered batch and its variable
handles to the net's variables. The copy runs the same kernels on the same values, so
K steps in one call leave the weights bit for bit where K per-step calls leave them:
batch-norm updates run with each step, max-norm clipping after it, and dropout's
per-step seeds come from the global step (`model._step_seed`), which each step still
increments.

    multi = multistep.build(sess, dnn, X_train, y_train, batch_size)  # or None
    multi.start_epoch(epoch_permutation(len(X_train), seed, epoch))
    stats = multi.run(first_batch=0, steps=100)   # [<=100, 2]: loss, accuracy per step

`fit` uses it when the net allows (`unsupported_reason`): resource variables and
control flow v2 (TensorFlow 2's defaults, also in graph mode), a graph not finalized,
and data that fits `MAX_IN_GRAPH_BYTES`. Otherwise it feeds each step.
"""

import weakref
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit import compat
from dnn_toolkit.data import arrays as data_lib

_V1 = tf.compat.v1

#: The largest training set (images and labels, in bytes) held in the graph; larger
#: sets are fed step by step, so they need no second copy in TensorFlow's memory.
MAX_IN_GRAPH_BYTES = 1 << 30

# Ops that make a step graph the body cannot hold: TF 1.x reference variables (a
# function cannot take them) and TF 1.x control flow (its frames cannot nest in a
# functional loop).
_UNSUPPORTED_OPS = {"VariableV2": "TF 1.x reference variables",
                    "Variable": "TF 1.x reference variables",
                    "Switch": "TF 1.x control flow", "Merge": "TF 1.x control flow",
                    "Enter": "TF 1.x control flow"}
_SCOPE = "multistep"


def _targets(dnn):
  ops = [dnn.train_op, dnn.batch_stats.op]
  if dnn.max_norm_op is not None:
    ops.append(dnn.max_norm_op)
  return [op.name for op in ops]


def _step_graph_def(dnn):
  """The GraphDef of one training step: what `train_op`, the stats and the clip need."""
  graph_def = dnn.train_op.graph.as_graph_def()
  # TensorFlow marks its own TF 1.x graph utility deprecated; the notice is not ours.
  with compat.silenced_tf_deprecations():
    return _V1.graph_util.extract_sub_graph(graph_def, _targets(dnn))


def unsupported_reason(dnn: Any, images: np.ndarray | data_lib.ScaledImages,
                       labels: np.ndarray,
                       graph_def: tf.compat.v1.GraphDef | None = None) -> str | None:
  """Why `dnn` must be trained by feeding each step, or None when `build` can run.

  Args:
    dnn: the built `DNN`.
    images: the training images, `[n, n_inputs]` (an array or `data.ScaledImages`).
    labels: int64 `[n]`.
    graph_def: the step's GraphDef if already extracted.

  Returns:
    None, or a short sentence naming the reason.
  """
  graph = dnn.train_op.graph
  if graph.finalized:
    return "the graph is finalized"
  if not tf.compat.v1.control_flow_v2_enabled():
    return "TF 1.x control flow is enabled"
  nbytes = _nbytes(images) + np.asarray(labels).nbytes
  if nbytes > MAX_IN_GRAPH_BYTES:
    return f"the training set ({nbytes / 2**20:.0f} MiB) is too large to hold in memory"
  if dnn.X.op.type != "Placeholder" or dnn.y.op.type != "Placeholder":
    return "its inputs are not placeholders"
  graph_def = graph_def or _step_graph_def(dnn)
  feeds = {dnn.X.op.name, dnn.y.op.name}
  for node in graph_def.node:
    if node.op in _UNSUPPORTED_OPS:
      return f"the step uses {_UNSUPPORTED_OPS[node.op]} ({node.name})"
    if node.op == "Placeholder" and node.name not in feeds:
      return f"the step needs the fed placeholder {node.name}"
  return None


def _nbytes(images):
  if isinstance(images, data_lib.ScaledImages):
    return images.pixels.nbytes
  return np.asarray(images).nbytes


class MultiStep:
  """K training steps of a DNN per Session call (build it with `build`).

  Attributes:
    batch_size: examples per step.
    num_examples: the training set's size n.
  """

  def __init__(self, sess: tf.compat.v1.Session, dnn: Any,
               images: np.ndarray | data_lib.ScaledImages, labels: np.ndarray,
               batch_size: int, graph_def: tf.compat.v1.GraphDef) -> None:
    self._sess = sess
    self.batch_size = batch_size
    self.num_examples = len(labels)
    with sess.graph.as_default(), tf.name_scope(_SCOPE):
      self._build(dnn, images, labels, graph_def)

  def _build(self, dnn, images, labels, graph_def):
    compact = isinstance(images, data_lib.ScaledImages)
    stored = images.pixels if compact else np.asarray(images, np.float32)  # [n, ...]
    self._images, images_feed = _data_variable("images", stored)
    self._labels, labels_feed = _data_variable("labels", np.asarray(labels, np.int64))
    self._order = _V1.Variable(np.zeros(len(labels), np.int64), trainable=False,
                               collections=[], name="order")
    self._new_order = _V1.placeholder(tf.int64, [len(labels)], name="new_order")
    self._set_order = self._order.assign(self._new_order).op
    self._first = _V1.placeholder(tf.int64, (), name="first_batch")
    self._steps = _V1.placeholder(tf.int32, (), name="steps")
    handles = _variable_handles(dnn.train_op.graph, graph_def)
    step = _StepBody(dnn, graph_def, handles)
    scale = None
    if compact:  # Created outside the loop: one tensor every step reads.
      scale = _V1.placeholder_with_default(np.float32(images.scale), (), name="scale")

    def batch(b):
      """The epoch's batch `b` (int64 scalar): float32 `[<=batch_size, ...]`, int64."""
      start = b * self.batch_size
      indices = self._order[start:start + self.batch_size]  # [<=batch_size]
      X_batch = tf.gather(self._images, indices)
      if scale is not None:
        # uint8 -> float32 as NumPy converts: exact casts, then a correctly rounded
        # division by a scale the graph optimizer cannot fold (a constant divisor
        # may become a multiplication by 1 / scale, a different rounding). A lookup in
        # a table of NumPy's 256 quotients gives the same values ten times slower.
        X_batch = tf.math.truediv(tf.cast(X_batch, tf.float32), scale)
      return X_batch, tf.gather(self._labels, indices)

    def cond(i, finite, *_):
      return tf.logical_and(i < self._steps, finite)

    def body(i, finite, stats, X_batch, y_batch):
      del finite  # Unused: cond stopped the loop if it was False.
      # The next step's batch is gathered while this step runs (it reads no weight),
      # so the gather keeps a core busy while the step's serial ops run. After the
      # call's last step it gathers a batch no step uses (empty at the epoch's end).
      X_next, y_next = batch(self._first + tf.cast(i, tf.int64) + 1)
      loss_accuracy = step(X_batch, y_batch)  # [2]
      # The loop variables wait for the whole step, so the next step reads the weights
      # this one wrote.
      with tf.control_dependencies([loss_accuracy]):
        return (i + 1, tf.math.is_finite(loss_accuracy[0]),
                stats.write(i, loss_accuracy), tf.identity(X_next), tf.identity(y_next))

    stats = tf.TensorArray(tf.float32, size=self._steps, element_shape=[2])
    X_first, y_first = batch(self._first)
    loop_vars = [tf.constant(0), tf.constant(True), stats, X_first, y_first]
    shapes = [tf.TensorShape([]), tf.TensorShape([]), tf.TensorShape(None),
              tf.TensorShape([None] + list(stored.shape[1:])), tf.TensorShape([None])]
    _, _, stats, _, _ = tf.while_loop(cond, body, loop_vars, shape_invariants=shapes,
                                      parallel_iterations=1)
    self._stats = stats.stack()  # [steps run, 2]
    self._init = [self._images.initializer, self._labels.initializer]
    self._feeds = (images_feed, labels_feed)
    self._sess.run(self._order.initializer)
    self._source = None
    self.load(images, labels)
    self._run = self._sess.make_callable(self._stats, [self._first, self._steps])

  def load(self, images: np.ndarray | data_lib.ScaledImages, labels: np.ndarray) -> None:
    """Copies the training set into the graph, unless it holds these arrays already.

    Args:
      images: `[n, n_inputs]` float32, or `data.ScaledImages` (as at construction).
      labels: int64 `[n]`.
    """
    stored = images.pixels if isinstance(images, data_lib.ScaledImages) else images
    labels = np.asarray(labels, np.int64)
    if (self._source is not None and self._source[0]() is stored
        and np.array_equal(self._source[1], labels)):
      return
    images_feed, labels_feed = self._feeds
    stored = np.asarray(stored, images_feed.dtype.as_numpy_dtype)
    self._sess.run(self._init, {images_feed: stored, labels_feed: labels})
    self._source = (weakref.ref(stored), labels)

  def start_epoch(self, order: np.ndarray) -> None:
    """Sets the epoch's order of examples, int64 `[n]` (`data.epoch_permutation`)."""
    self._sess.run(self._set_order, {self._new_order: order})

  def run(self, first_batch: int, steps: int) -> np.ndarray:
    """Runs `steps` steps from batch `first_batch` of the epoch; stops after a NaN.

    Args:
      first_batch: the epoch's batch (0-based) the first step trains on.
      steps: positive int, at most the batches left in the epoch.

    Returns:
      float32 `[m, 2]`, the loss and accuracy of each step run: m = `steps`, or fewer
      when a loss was NaN or infinite (the last row is that step's).
    """
    return self._run(first_batch, steps)


def build(sess: tf.compat.v1.Session, dnn: Any,
          images: np.ndarray | data_lib.ScaledImages, labels: np.ndarray,
          batch_size: int) -> MultiStep | None:
  """Returns a `MultiStep` for `dnn`, or None when it must be fed step by step.

  One is built per Session, net, batch size and data shape, and kept: a later `fit`
  in the same Session (one epoch per call, as the benchmark does) reuses its ops and
  loads the new arrays only when they are other arrays.

  Args:
    sess: the Session on the DNN's graph, variables initialized or restored.
    dnn: the built `DNN`.
    images: training images `[n, n_inputs]`, float32 or `data.ScaledImages`.
    labels: int64 `[n]`.
    batch_size: positive int, examples per step.
  """
  built = _BUILT.setdefault(sess, {})
  key = (dnn.train_op.name, batch_size, tuple(images.shape),
         isinstance(images, data_lib.ScaledImages))
  multi = built.get(key)
  if multi is not None:
    multi.load(images, labels)
    return multi
  graph_def = _step_graph_def(dnn)
  if unsupported_reason(dnn, images, labels, graph_def) is not None:
    return None
  built[key] = multi = MultiStep(sess, dnn, images, labels, batch_size, graph_def)
  return multi


# {Session: {(train op, batch size, data shape, compact): MultiStep}}
_BUILT: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], MultiStep]] = (
    weakref.WeakKeyDictionary())


def _data_variable(name, array):
  """A variable of `array`'s shape and dtype, outside every collection (no Saver sees
  it); returns it and the placeholder its initializer takes the array from (a constant
  would copy the array into the GraphDef)."""
  initial = _V1.placeholder(tf.as_dtype(array.dtype), array.shape,
                            name=f"{name}_initial")
  variable = _V1.Variable(initial, trainable=False, collections=[], name=name)
  return variable, initial


def _variable_handles(graph, graph_def):
  """{node name: handle tensor} of the variables the step graph uses."""
  return {node.name: graph.get_tensor_by_name(node.name + ":0")
          for node in graph_def.node if node.op == "VarHandleOp"}


class _StepBody:
  """Imports the training step into the loop body: `step(X, y)` -> loss, accuracy."""

  def __init__(self, dnn, graph_def, handles):
    self._dnn = dnn
    self._handles = handles
    self._train = _as_inputs(graph_def, handles)
    self._clip = None
    if dnn.max_norm_op is not None:
      self._clip = _as_inputs(
          _V1.graph_util.extract_sub_graph(self._train, [dnn.max_norm_op.name]), handles)

  def __call__(self, X_batch, y_batch):
    dnn = self._dnn
    feeds = {dnn.X.name: X_batch, dnn.y.name: y_batch,
             dnn.is_training.name: tf.constant(True)}
    names = {node.name for node in self._train.node}
    feeds = {k: v for k, v in feeds.items() if k.split(":")[0] in names}
    train_op, stats = tf.import_graph_def(
        self._train, input_map=dict(feeds, **self._handle_map(self._train)),
        return_elements=[dnn.train_op.name, dnn.batch_stats.name], name="step")
    done = [train_op]
    if self._clip is not None:
      # The clip reads the weights through handles that wait for the step: it clips
      # what the step wrote, as `sess.run(max_norm_op)` after the step does.
      with tf.control_dependencies([train_op]):
        handles = self._handle_map(self._clip)
      done += tf.import_graph_def(self._clip, input_map=handles,
                                  return_elements=[dnn.max_norm_op.name], name="clip")
    with tf.control_dependencies(done):
      return tf.identity(stats)  # [2]

  def _handle_map(self, graph_def):
    names = {node.name for node in graph_def.node}
    # Identity captures the outer handle into the loop body.
    return {f"{name}:0": tf.identity(handle) for name, handle in self._handles.items()
            if name in names}


def _as_inputs(graph_def, handles):
  """A copy of `graph_def` whose variable handle ops become resource placeholders.

  They are mapped to the net's own handles on import; left as VarHandleOps they would
  create handles inside the loop body. Colocation attributes are dropped: they name
  ops of the net's graph, not of the copy.
  """
  copy = _V1.GraphDef()
  copy.CopyFrom(graph_def)
  for node in copy.node:
    if node.name in handles:
      node.op = "Placeholder"
      node.ClearField("attr")
      node.attr["dtype"].type = tf.resource.as_datatype_enum
    if "_class" in node.attr:
      del node.attr["_class"]
  return copy
