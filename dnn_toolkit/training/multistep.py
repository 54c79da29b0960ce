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

import functools
import re
import warnings
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

#: In fast mode, the examples of one compiled block of steps (see `MultiStep`).
FAST_BLOCK_EXAMPLES = 500


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
               batch_size: int, graph_def: tf.compat.v1.GraphDef,
               fast: bool = False) -> None:
    self._sess = sess
    self.batch_size = batch_size
    self.num_examples = len(labels)
    self.fast = fast
    #: Steps per compiled block in fast mode (1 otherwise): about 500 examples, so a
    #: small batch's step does not pay a compiled call's start-up alone.
    self.block_steps = max(1, FAST_BLOCK_EXAMPLES // batch_size) if fast else 1
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
    scale = None
    if compact:  # Created outside the loop: one tensor every step reads.
      scale = _V1.placeholder_with_default(np.float32(images.scale), (), name="scale")

    def batches(b, count):
      """The epoch's batches b..b+count-1 (b an int64 scalar) as one gathered block:
      float32 `[<=count * batch_size, ...]`, int64 `[<=count * batch_size]`."""
      start = b * self.batch_size
      indices = self._order[start:start + count * self.batch_size]
      X_block = tf.gather(self._images, indices)
      if scale is not None:
        # uint8 -> float32 as NumPy converts: exact casts, then a correctly rounded
        # division by a scale the graph optimizer cannot fold (a constant divisor
        # may become a multiplication by 1 / scale, a different rounding). A lookup in
        # a table of NumPy's 256 quotients gives the same values ten times slower.
        X_block = tf.math.truediv(tf.cast(X_block, tf.float32), scale)
      return X_block, tf.gather(self._labels, indices)

    def run_steps(step, count, X_block, y_block):
      """`count` steps in order on the block's consecutive batches -> `[count, 2]`."""
      stats, done = [], []
      for k in range(count):
        rows = slice(k * self.batch_size, (k + 1) * self.batch_size)
        # Each step's variable reads wait for the step before it.
        with tf.control_dependencies(done):
          stats.append(step(X_block[rows], y_block[rows]))
        done = [stats[-1]]
      return tf.stack(stats)  # [count, 2]

    def steps_loop(step, count, compiled):
      """A while loop of `count` steps per iteration: `(first, steps) -> [steps, 2]`.

      `steps` is a multiple of `count`; with `count` > 1 every batch must be full.
      """
      block = functools.partial(run_steps, step, count)
      if compiled:
        block = tf.function(block, jit_compile=True, autograph=False)

      def cond(i, finite, *_):
        return tf.logical_and(i < self._steps, finite)

      def body(i, finite, stats, X_block, y_block):
        del finite  # Unused: cond stopped the loop if it was False.
        # The next iteration's batches are gathered while this one's steps run (the
        # gather reads no weight). After the call's last iteration it gathers
        # batches no step uses (none at the epoch's end).
        X_next, y_next = batches(self._first + tf.cast(i + count, tf.int64), count)
        block_stats = block(X_block, y_block)  # [count, 2]
        # The loop variables wait for the whole block, so the next iteration's steps
        # read the weights this one wrote.
        with tf.control_dependencies([block_stats]):
          finite = tf.reduce_all(tf.math.is_finite(block_stats[:, 0]))
          return (i + count, finite, stats.write(i // count, block_stats),
                  tf.identity(X_next), tf.identity(y_next))

      stats = tf.TensorArray(tf.float32, size=self._steps // count,
                             element_shape=[count, 2])
      X_first, y_first = batches(self._first, count)
      loop_vars = [tf.constant(0), tf.constant(True), stats, X_first, y_first]
      shapes = [tf.TensorShape([]), tf.TensorShape([]), tf.TensorShape(None),
                tf.TensorShape([None] + list(stored.shape[1:])), tf.TensorShape([None])]
      _, _, stats, _, _ = tf.while_loop(cond, body, loop_vars, shape_invariants=shapes,
                                        parallel_iterations=1)
      return self._sess.make_callable(tf.reshape(stats.stack(), [-1, 2]),
                                      [self._first, self._steps])

    self._init = [self._images.initializer, self._labels.initializer]
    self._feeds = (images_feed, labels_feed)
    self._sess.run(self._order.initializer)
    self._source = None
    self.load(images, labels)

    def loops(compiled):
      """(one step per iteration, `block_steps` per iteration or None) callables."""
      step_graph = graph_def
      if compiled:
        try:
          step_graph = _specialized_for_training(dnn, graph_def)
        except _NotCompilable as reason:
          return self._fall_back(reason)
      handles = _variable_handles(dnn.train_op.graph, step_graph)
      step = _StepBody(dnn, step_graph, handles, compiled)
      blocks = None
      if compiled and self.block_steps > 1:
        blocks = steps_loop(step, self.block_steps, compiled=True)
      return steps_loop(step, 1, compiled), blocks

    self._loops = loops
    self._run_single, self._run_blocks = loops(self.fast)
    self._full_batches = self.num_examples // self.batch_size

  def load(self, images: np.ndarray | data_lib.ScaledImages, labels: np.ndarray) -> None:
    """Copies the training set into the graph, unless it holds these arrays already.

    Args:
      images: `[n, n_inputs]` float32, or `data.ScaledImages` (as at construction).
      labels: int64 `[n]`.
    """
    # The caller's own array object, recognised on the next call: `np.asarray` makes
    # a new one of a subclass (`data.ScaledArray`) on every call.
    source = images.pixels if isinstance(images, data_lib.ScaledImages) else images
    labels = np.asarray(labels, np.int64)
    if (self._source is not None and self._source[0]() is source
        and np.array_equal(self._source[1], labels)):
      return
    images_feed, labels_feed = self._feeds
    stored = np.asarray(source, images_feed.dtype.as_numpy_dtype)
    self._sess.run(self._init, {images_feed: stored, labels_feed: labels})
    self._source = (weakref.ref(source), labels)

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
      when a loss was NaN or infinite (the last row is that step's; in fast mode the
      rest of its block has run too).
    """
    if self._run_blocks is None:  # One step per iteration: one call.
      return self._run_part(first_batch, steps, blocked=False)
    # Blocks start at multiples of `block_steps` in the epoch, whatever the calls'
    # sizes, so a run's arithmetic does not depend on where its calls end.
    count, end = self.block_steps, first_batch + steps
    block_start = min(end, -(-first_batch // count) * count)
    full = max(0, min(end, self._full_batches) - block_start)
    block_end = block_start + full // count * count
    parts = []
    for start, stop, blocked in ((first_batch, block_start, False),
                                 (block_start, block_end, True),
                                 (block_end, end, False)):
      if stop > start:
        parts.append(self._run_part(start, stop - start, blocked))
        if not np.isfinite(parts[-1][:, 0]).all():
          break
    return np.concatenate(parts)

  def _run_part(self, first_batch, steps, blocked):
    try:
      run = self._run_blocks if blocked and self._run_blocks else self._run_single
      return run(first_batch, steps)
    except tf.errors.InvalidArgumentError as error:
      # XLA refuses an op when it compiles, before any step of the call has run.
      refused = _XLA_REFUSAL.search(error.message)
      if not self.fast or refused is None:
        raise
      self._run_single, self._run_blocks = self._fall_back(
          f"it has {refused.group(1)} ops")
      return self._run_single(first_batch, steps)

  def _fall_back(self, reason):
    """Trains on the exact path after XLA refused the step; returns its loops."""
    warnings.warn(f"fast=True: XLA cannot compile this net's training step: {reason}. "
                  "It trains on the exact path.", stacklevel=2)
    self.fast, self.block_steps = False, 1
    return self._loops(False)


class _NotCompilable(Exception):
  """A step XLA cannot compile, found before trying; the message says why."""


# XLA's refusal of an op when it compiles a function; group 1 is the op's type.
_XLA_REFUSAL = re.compile(r"Detected unsupported operations when trying to compile "
                          r"graph .* on XLA_\w+: (\w+)")


def build(sess: tf.compat.v1.Session, dnn: Any,
          images: np.ndarray | data_lib.ScaledImages, labels: np.ndarray,
          batch_size: int, fast: bool = False) -> MultiStep | None:
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
    fast: compile the steps with XLA, several per compiled call (`MultiStep`'s fast
      mode): faster, not bit for bit the per-step path's weights.
  """
  built = _BUILT.setdefault(sess, {})
  key = (dnn.train_op.name, batch_size, tuple(images.shape),
         isinstance(images, data_lib.ScaledImages), fast)
  multi = built.get(key)
  if multi is not None:
    multi.load(images, labels)
    return multi
  graph_def = _step_graph_def(dnn)
  if unsupported_reason(dnn, images, labels, graph_def) is not None:
    return None
  built[key] = multi = MultiStep(sess, dnn, images, labels, batch_size, graph_def,
                                 fast)
  return multi


# {Session: {(train op, batch size, data shape, compact, fast): MultiStep}}
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


def _specialized_for_training(dnn, graph_def):
  """The step's GraphDef with `dnn.is_training` True and what that decides folded.

  The training switch of batch norm and dropout is a `tf.cond` on `is_training`; XLA
  cannot compile the Optional ops its gradient keeps. With the switch a constant,
  TensorFlow's own graph optimizer (Grappler: function inlining, constant folding,
  dead-branch removal) leaves the training branch alone, and each Optional that only
  carries a value from the forward pass to the gradient becomes an Identity.
  """
  for node in graph_def.node:
    if _LOWERING_ATTR in node.attr and node.input[0] != dnn.is_training.op.name:
      # The graph optimizer would lower it to the Switch and Merge XLA cannot compile.
      raise _NotCompilable(f"it branches on other values than is_training, at "
                           f"{node.name}")
  try:
    # pylint: disable=g-import-not-at-top
    from tensorflow.core.protobuf import meta_graph_pb2, rewriter_config_pb2
    from tensorflow.python.grappler import tf_optimizer
  except ImportError:  # A TensorFlow without them: the step is compiled as it is.
    return graph_def
  specialized = _V1.GraphDef()
  specialized.CopyFrom(graph_def)
  for node in specialized.node:
    if node.name == dnn.is_training.op.name:
      node.op = "Const"
      node.ClearField("attr")
      del node.input[:]
      node.attr["dtype"].type = tf.bool.as_datatype_enum
      node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(True))
  meta_graph = meta_graph_pb2.MetaGraphDef()
  meta_graph.graph_def.CopyFrom(specialized)
  targets = _targets(dnn) + [dnn.batch_stats.op.name]
  meta_graph.collection_def["train_op"].node_list.value.extend(targets)
  config = _V1.ConfigProto()
  rewrite = config.graph_options.rewrite_options
  rewrite.min_graph_nodes = -1
  rewrite.meta_optimizer_iterations = rewriter_config_pb2.RewriterConfig.TWO
  # Inlining exposes the switches; folding them takes a second round of each pass.
  passes = ["function", "constfold", "loop", "dependency", "pruning"]
  rewrite.optimizers.extend(passes * 2)
  optimized = tf_optimizer.OptimizeGraph(config, meta_graph)
  by_name = {node.name: node for node in optimized.node}
  for node in optimized.node:
    source = by_name.get(node.input[0].split(":")[0]) if node.input else None
    if (node.op == "OptionalGetValue" and source is not None
        and source.op == "OptionalFromValue" and len(source.input) == 1):
      (dtype,) = node.attr["output_types"].list.type
      node.op = "Identity"
      node.ClearField("attr")
      node.attr["T"].type = dtype
      del node.input[:]
      node.input.append(source.input[0])
  return _V1.graph_util.extract_sub_graph(optimized, targets)


def _variable_handles(graph, graph_def):
  """{node name: handle tensor} of the variables the step graph uses."""
  return {node.name: graph.get_tensor_by_name(node.name + ":0")
          for node in graph_def.node if node.op == "VarHandleOp"}


class _StepBody:
  """Imports the training step into the loop body: `step(X, y)` -> loss, accuracy."""

  def __init__(self, dnn, graph_def, handles, compiled):
    self._dnn = dnn
    self._handles = handles
    self._train = _as_inputs(graph_def, handles, compiled)
    self._clip = None
    if dnn.max_norm_op is not None:
      clip = _V1.graph_util.extract_sub_graph(self._train, [dnn.max_norm_op.name])
      self._clip = _as_inputs(clip, handles, compiled)

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


def _as_inputs(graph_def, handles, compiled):
  """A copy of `graph_def` whose variable handle ops become resource placeholders.

  They are mapped to the net's own handles on import; left as VarHandleOps they would
  create handles inside the loop body. Colocation attributes are dropped: they name
  ops of the net's graph, not of the copy. For a `compiled` step, functional control
  flow (a dropout's or batch norm's `tf.cond`) stays functional: XLA compiles it, but
  not the Switch and Merge ops the runtime would lower it to.
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
    if compiled:
      if _LOWERING_ATTR in node.attr:
        node.attr[_LOWERING_ATTR].b = False
      # A control edge from a handle (the graph optimizer leaves some) orders nothing;
      # the import cannot map it, and XLA cannot compile the placeholder it keeps.
      inputs = [i for i in node.input if i[1:] not in handles or not i.startswith("^")]
      del node.input[:]
      node.input.extend(inputs)
  return copy


# Set on functional control flow ops (If, While, Case) the runtime lowers to Switch and
# Merge.
_LOWERING_ATTR = "_lower_using_switch_merge"
