"""Whole-scope selection and restore: the answer to tf-slim's prefix bug.

A scope pattern is a regular expression that must match a whole scope path from the
root of a variable's name: `re.fullmatch(pattern, prefix)` for some prefix of the name
that ends at a '/', or for the full name. So 'hidden[123]' selects hidden1/weights and
hidden2/BatchNorm/moving_mean but never hidden10/weights or xhidden1/weights, and
'hidden1/weights' selects that one variable. `tf.get_collection(key, scope=...)` uses
`re.match` on the name instead: its 'hidden[123]' also catches hidden10/ to hidden39/.

This module owns that matching (`scope_matches`, `scope_variables`), what a checkpoint
holds and how it gets into a graph: reading it (`checkpoint_contents`, `load_values`),
the all-or-nothing restore of matched scopes (`plan_restore`, `restore_scopes`) or of a
whole graph (`restore`, every shape checked first), writing arrays as a checkpoint
(`write_checkpoint`), and the check of a Saver's `var_list` (`reuse_saver`).
`dnn_toolkit.checkpoints` (run directories, saving, inspection) re-exports the public
names.
"""

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from dnn_toolkit.errors import (
  CheckpointError,
  NoMatchError,
  ShapeMismatchError,
  describe,
)

_V1 = tf.compat.v1

#: What reading a damaged checkpoint can raise.
READ_ERRORS = (tf.errors.OpError, ValueError, LookupError, OSError, RuntimeError)
_MAX_LISTED = 40


def _compile_pattern(pattern):
  """Returns `pattern` compiled, or raises TypeError / ValueError naming it."""
  if isinstance(pattern, re.Pattern):
    return pattern
  if not isinstance(pattern, str):
    raise TypeError("Expected `pattern` to be a regular expression string such as "
                    f"'hidden[123]'. Received: pattern={pattern!r}")
  if not pattern:
    raise ValueError("Received an invalid value for `pattern`, expected a non-empty "
                     "scope pattern such as 'hidden[123]'. Received: pattern=''")
  try:
    return re.compile(pattern)
  except re.error as error:
    raise ValueError(f"Received an invalid value for `pattern`, expected a regular "
                     f"expression ({error}). Received: pattern={pattern!r}") from None


def scope_prefixes(name: str) -> list[str]:
  """'a/b/c' -> ['a', 'a/b', 'a/b/c']."""
  parts = name.split(":")[0].split("/")
  return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def scope_matches(pattern: str | re.Pattern[str], name: str) -> bool:
  """Returns whether `pattern` matches a whole scope path of the name `name`.

      scope_matches("hidden[123]", "hidden1/weights")   # True
      scope_matches("hidden[123]", "hidden10/weights")  # False: 'hidden10' is no match
      scope_matches("hidden1", "dnn/hidden1/weights")   # False: paths start at the root

  Args:
    pattern: a regular expression, str or compiled, fully matched against each prefix
      of `name` ending at a '/' and against `name` itself.
    name: a variable name ('hidden1/weights'; a ':0' suffix is ignored).

  Returns:
    A bool.

  Raises:
    TypeError, ValueError: if `pattern` is not a valid regular expression.
  """
  regex = _compile_pattern(pattern)
  return any(regex.fullmatch(prefix) for prefix in scope_prefixes(name))


def _listed(names):
  names = list(names)
  shown = ", ".join(names[:_MAX_LISTED])
  more = len(names) - _MAX_LISTED
  return shown + (f", ... ({more} more)" if more > 0 else "") if names else "(none)"


def _pattern_text(regex):
  return repr(regex.pattern)


def scope_variables(pattern: str | re.Pattern[str],
                    collection: str = _V1.GraphKeys.TRAINABLE_VARIABLES,
                    graph: tf.Graph | None = None) -> list[tf.Variable]:
  """Returns the variables of a collection whose names match a scope pattern.

  Like `tf.get_collection(collection, scope=pattern)`, except that the pattern matches
  whole scope names (see `scope_matches`): 'hidden[123]' does not catch hidden10.

      reuse_vars = scope_variables("hidden[123]")                # weights, biases, beta
      all_vars = scope_variables("hidden[123]", GraphKeys.MODEL_VARIABLES)  # + moving stats

  Args:
    pattern: a regular expression (str or compiled) such as 'hidden[123]'.
    collection: a graph collection key. Default `TRAINABLE_VARIABLES`.
      `MODEL_VARIABLES` also holds batch norm's moving statistics; `GLOBAL_VARIABLES`
      adds the global step and the optimizer's slots ('hidden1/weights/Adam').
    graph: the graph to look in. Default: the default graph.

  Returns:
    The matching variables, a non-empty list in collection order.

  Raises:
    TypeError, ValueError: if `pattern` is not a valid regular expression.
    NoMatchError: if no variable matches; the message lists the collection's variables.
  """
  regex = _compile_pattern(pattern)
  graph = graph if graph is not None else _V1.get_default_graph()
  variables = graph.get_collection(collection)
  matched = [v for v in variables if scope_matches(regex, v.op.name)]
  if not matched:
    raise NoMatchError(
        f"The scope pattern {_pattern_text(regex)} matches no variable of collection "
        f"{collection!r}. It holds: {_listed(v.op.name for v in variables)}")
  return matched


def checkpoint_contents(checkpoint: str | os.PathLike[str]
                        ) -> tuple[str, Any, dict[str, tuple[list[int], tf.DType]]]:
  """Returns (prefix, reader, {name: (shape list, dtype)}) of a checkpoint.

  `checkpoint` is a path prefix ('run/best/model.ckpt-120') or a directory, meaning the
  latest checkpoint its 'checkpoint' file names.
  """
  if not isinstance(checkpoint, (str, os.PathLike)):
    raise TypeError("Expected `checkpoint` to be a checkpoint path prefix or a directory. "
                    f"Received: checkpoint={checkpoint!r}")
  prefix = os.fspath(checkpoint)
  if os.path.isdir(prefix):
    prefix = tf.train.latest_checkpoint(prefix)
    if prefix is None:
      raise CheckpointError(f"No checkpoint in the directory {os.fspath(checkpoint)!r}: "
                            "it has no 'checkpoint' file naming one.")
  if not checkpoint_exists(prefix):
    raise CheckpointError(f"No checkpoint at {prefix!r} (expected {prefix}.index).")
  try:
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except READ_ERRORS as error:
    raise CheckpointError(f"Cannot read checkpoint {prefix!r}, corrupt or not a "
                          f"TensorFlow checkpoint: {describe(error)}") from None
  return prefix, reader, {name: (list(shapes[name]), dtypes[name]) for name in shapes}


def _check_name_map(name_map):
  """Returns `name_map` as a dict of scope -> scope, or raises naming the bad entry."""
  if name_map is None:
    return {}
  if not isinstance(name_map, dict):
    raise TypeError("Expected `name_map` to be a dict {checkpoint scope: graph scope}, "
                    f"e.g. {{'hidden1': 'pretrained1'}}. Received: name_map={name_map!r}")
  for old, new in name_map.items():
    for value in (old, new):
      if not isinstance(value, str):
        raise TypeError("Expected `name_map` to map scope names (str) to scope names. "
                        f"Received the entry {old!r}: {new!r}")
      if not value or value.startswith("/") or value.endswith("/") or ":" in value:
        raise ValueError("Expected `name_map` scopes like 'hidden1' or 'dnn/hidden1' "
                         "(no leading or trailing '/', no ':0'). Received the entry "
                         f"{old!r}: {new!r}")
  targets = list(name_map.values())
  doubled = sorted({t for t in targets if targets.count(t) > 1})
  if doubled:
    raise ValueError(f"Received a `name_map` that sends several scopes to {doubled}, "
                     f"expected one source per target. Received: name_map={name_map!r}")
  return dict(name_map)


def _rename(name, name_map):
  """Replaces the longest scope of `name` that is a key of `name_map` by its value."""
  for scope in sorted(name_map, key=len, reverse=True):
    if name == scope or name.startswith(scope + "/"):
      return name_map[scope] + name[len(scope):]
  return name


def _scopes(names):
  """Every scope path and full name of `names`: 'a/b' -> 'a', 'a/b'."""
  return sorted({prefix for name in names for prefix in scope_prefixes(name)})


def _check_map_scopes(name_map, checkpoint_names, graph_names, collection):
  """Raises NoMatchError if a source scope is not in the checkpoint or a target not in
  the graph, listing the scopes that exist."""
  sources, targets = set(_scopes(checkpoint_names)), set(_scopes(graph_names))
  missing = [old for old in name_map if old not in sources]
  if missing:
    raise NoMatchError(f"`name_map` names scope(s) {missing} that the checkpoint does not "
                       f"hold. Its scopes: {_listed(_scopes_only(checkpoint_names))}")
  missing = [new for new in name_map.values() if new not in targets]
  if missing:
    raise NoMatchError(f"`name_map` targets scope(s) {missing} that no variable of "
                       f"collection {collection!r} is under. The graph's scopes: "
                       f"{_listed(_scopes_only(graph_names))}")


def _scopes_only(names):
  return sorted({prefix for name in names for prefix in scope_prefixes(name)[:-1]})


def _check_counterparts(var_list, contents, prefix, regex):
  """Raises unless every selected variable has a checkpoint entry of its shape/dtype."""
  missing = [f"{v.op.name} (as {name})" for name, v in var_list.items()
             if name not in contents]
  if missing:
    held = [n for n in sorted(contents) if scope_matches(regex, n)]
    raise NoMatchError(
        f"Graph variable(s) matched by {_pattern_text(regex)} are not in checkpoint "
        f"{prefix!r}: {_listed(missing)}. Under that pattern it holds: {_listed(held)}. "
        "Narrow the pattern (e.g. 'hidden[123]/(weights|biases)') or build the layers as "
        "the checkpoint's model did (same batch_norm). Nothing was restored.")
  check_counterpart_shapes(var_list, contents, prefix,
                           hint="Build those layers with the checkpoint's sizes or leave "
                                "them out of the pattern.")


def check_counterpart_shapes(var_list: dict[str, tf.Variable],
                             contents: dict[str, tuple[list[int], tf.DType]],
                             prefix: str, hint: str = "") -> None:
  """Raises unless each variable's checkpoint entry has its shape and dtype.

  Args:
    var_list: dict {checkpoint name: graph variable}, every name in `contents`.
    contents: {name: (shape list, dtype)} from `checkpoint_contents`.
    prefix: the checkpoint, for the message.
    hint: what to do, appended to a shape message.

  Raises:
    ShapeMismatchError: naming every variable whose shape differs, with both shapes.
    CheckpointError: naming every variable whose dtype differs.
  """
  shapes = [f"{v.op.name}: graph {full_shape(v)}, checkpoint {contents[n][0]} "
            f"({n})" for n, v in var_list.items() if full_shape(v) != contents[n][0]]
  if shapes:
    raise ShapeMismatchError(
        f"Shape mismatch restoring from {prefix!r}: {'; '.join(shapes)}. "
        f"{hint + ' ' if hint else ''}Nothing was restored.")
  dtypes = [f"{v.op.name}: graph {v.dtype.base_dtype.name}, checkpoint "
            f"{contents[n][1].name}" for n, v in var_list.items()
            if v.dtype.base_dtype != contents[n][1]]
  if dtypes:
    raise CheckpointError(f"Dtype mismatch restoring from {prefix!r}: "
                          f"{'; '.join(dtypes)}. Nothing was restored.")


def full_shape(variable: tf.Variable) -> list[int]:
  """The shape of a variable's checkpoint entry: its own, or for one part of a
  partitioned variable (`tf.compat.v1.get_variable` under a partitioner), the whole's."""
  # The slice information is private: TF's Saver reads it the same way.
  info = getattr(variable, "_save_slice_info", None)
  return list(info.full_shape) if info is not None else variable.shape.as_list()


def _plan(checkpoint, pattern, name_map, collection, graph):
  """Validates a scope-filtered restore; returns (prefix, reader, var_list)."""
  regex = _compile_pattern(pattern)
  name_map = _check_name_map(name_map)
  prefix, reader, contents = checkpoint_contents(checkpoint)
  matched = [name for name in sorted(contents) if scope_matches(regex, name)]
  if not matched:
    raise NoMatchError(f"The scope pattern {_pattern_text(regex)} matches no variable "
                       f"of checkpoint {prefix!r}. It holds: {_listed(sorted(contents))}")
  variables = graph.get_collection(collection)
  _check_map_scopes(name_map, contents, [v.op.name for v in variables], collection)
  inverse = {new: old for old, new in name_map.items()}
  var_list = {}
  for var in variables:
    source = _rename(var.op.name, inverse)
    # A graph scope that the map moved elsewhere has no source of its own name.
    if _rename(source, name_map) == var.op.name and scope_matches(regex, source):
      var_list[source] = var
  if not var_list:
    shown = [f"{v.op.name} (as {_rename(v.op.name, inverse)})" if name_map else
             v.op.name for v in variables]
    raise NoMatchError(f"The scope pattern {_pattern_text(regex)} matches no variable "
                       f"of collection {collection!r} in the graph. It holds: "
                       f"{_listed(shown)}")
  _check_counterparts(var_list, contents, prefix, regex)
  return prefix, reader, var_list


def plan_restore(checkpoint: str | os.PathLike[str], pattern: str | re.Pattern[str],
                 name_map: dict[str, str] | None = None,
                 collection: str = _V1.GraphKeys.MODEL_VARIABLES,
                 graph: tf.Graph | None = None) -> dict[str, tf.Variable]:
  """Checks a `restore_scopes` call without restoring; returns its Saver `var_list`.

  Useful to fail at build time, before a Session exists, and to build a Saver for the
  same variables: `tf.compat.v1.train.Saver(plan_restore(path, "hidden[123]"))`.

  Args:
    checkpoint, pattern, name_map, collection: as for `restore_scopes`.
    graph: the graph to restore into. Default: the default graph.

  Returns:
    A dict {checkpoint name: graph variable}, in collection order.

  Raises:
    As `restore_scopes`.
  """
  graph = graph if graph is not None else _V1.get_default_graph()
  return _plan(checkpoint, pattern, name_map, collection, graph)[2]


def restore_scopes(sess: tf.compat.v1.Session, checkpoint: str | os.PathLike[str],
                   pattern: str | re.Pattern[str],
                   name_map: dict[str, str] | None = None,
                   collection: str = _V1.GraphKeys.MODEL_VARIABLES) -> dict[str, str]:
  """Restores the variables under the scopes a pattern matches; all or nothing.

  The lesson's partial restore of hidden layers 1-3, with whole-scope matching (see
  `scope_matches`) and batch norm's moving statistics included:

      restore_scopes(sess, "my_original_model.ckpt", "hidden[123]")
      restore_scopes(sess, path, "hidden[12]", name_map={"hidden1": "pretrained1",
                                                         "hidden2": "pretrained2"})

  `pattern` is written in checkpoint names. A graph variable is restored when its
  checkpoint name (its name with the target scopes of `name_map` mapped back to their
  sources) matches; a graph scope that `name_map` renames away is not restored from its
  own name. Checkpoint variables matched but absent from the graph's collection (e.g.
  optimizer slots) are left out. Every check (patterns, names, shapes, dtypes) and
  every read runs before the first assignment, so a failure leaves the graph's values as
  they were. Assignment feeds the variables' initializers, so it works in a finalized
  graph and adds no op.

  Args:
    sess: the Session whose graph holds the variables, already initialized.
    checkpoint: a checkpoint path prefix ('run/best/model.ckpt-120'), or a directory
      for its latest checkpoint.
    pattern: a regular expression (str or compiled) such as 'hidden[123]'.
    name_map: optional dict {checkpoint scope: graph scope}, e.g. {'hidden1': 'base1'}.
    collection: which graph variables may be restored. Default `MODEL_VARIABLES`: the
      layers' weights, biases and all of batch norm's variables, not the optimizer's
      slots nor the global step. Use `GLOBAL_VARIABLES` for variables created without
      dnn_toolkit's layers.

  Returns:
    A dict {graph variable name: checkpoint name} of what was restored.

  Raises:
    TypeError, ValueError: bad `pattern`, `checkpoint` or `name_map`.
    CheckpointError: missing or unreadable checkpoint, or a dtype mismatch.
    NoMatchError: the pattern matches nothing in the checkpoint or in the graph, a
      `name_map` scope does not exist, or a matched graph variable is not in the
      checkpoint; each message lists what exists.
    ShapeMismatchError: names every variable whose shapes differ, with both shapes.
  """
  prefix, reader, var_list = _plan(checkpoint, pattern, name_map, collection,
                                   sess.graph)
  try:
    values = [reader.get_tensor(name) for name in var_list]
  except READ_ERRORS as error:
    raise CheckpointError(f"Cannot read checkpoint {prefix!r}, corrupt: "
                          f"{describe(error)}. Nothing was "
                          "restored.") from None
  _assign(sess, list(var_list.values()), values)
  return {var.op.name: name for name, var in var_list.items()}


def _assign(sess, variables, values):
  """Sets all `variables` in one run by feeding their initializers' initial values."""
  feeds = {v.initializer.inputs[1]: value for v, value in zip(variables, values)}
  sess.run([v.initializer for v in variables], feed_dict=feeds)


def reuse_saver(var_list: dict[str, tf.Variable] | Sequence[tf.Variable],
                **saver_kwargs: Any) -> tf.compat.v1.train.Saver:
  """Builds the `tf.compat.v1.train.Saver` of a partial restore, catching a known slip.

  A Saver's dict maps checkpoint names to variables. The lesson's

      reuse_vars_dict = dict([(var.name, var.name) for var in reuse_vars])

  maps names to names; `Saver` then fails with "names_to_saveables must be a dict
  mapping string names to Tensors/Variables. Not a variable: Tensor("Const:0", ...)"
  (after adding a constant to the graph). This raises first, saying what to write:

      reuse_vars_dict = {var.op.name: var for var in reuse_vars}
      original_saver = reuse_saver(reuse_vars_dict)
      original_saver.restore(sess, "./my_original_model.ckpt")

  Args:
    var_list: a dict {checkpoint name: variable} (names without ':0'), or a list of
      variables, saved and restored under their own names (`var.op.name`).
    **saver_kwargs: passed on to the Saver (`max_to_keep`, `name`, ...).

  Returns:
    A `tf.compat.v1.train.Saver`.

  Raises:
    TypeError: if `var_list` is neither a dict nor a list, or holds something other
      than variables (such as names) where variables belong.
    ValueError: if `var_list` is empty or a key is a tensor name ending in ':0'.
  """
  if isinstance(var_list, (list, tuple)):
    _check_variables(list(enumerate(var_list)), "var_list")
    var_list = {v.op.name: v for v in var_list}
  elif not isinstance(var_list, dict):
    raise TypeError("Expected `var_list` to be a dict {checkpoint name: variable} or a "
                    f"list of variables. Received: var_list of type "
                    f"{type(var_list).__name__}")
  if not var_list:
    raise ValueError("Received an empty `var_list`, expected at least one variable; "
                     "did the scope pattern match nothing?")
  _check_variables(list(var_list.items()), "var_list")
  for key in var_list:
    if not isinstance(key, str):
      raise TypeError(f"Expected `var_list` keys to be checkpoint names (str). Received "
                      f"the key {key!r}")
    if re.search(r":\d+$", key):
      raise ValueError(f"`var_list` key {key!r} is a tensor name; checkpoints name "
                       f"variables without the ':0' output index. Use `var.op.name` "
                       f"({key.rsplit(':', 1)[0]!r}), not `var.name`.")
  return _V1.train.Saver(var_list=var_list, **saver_kwargs)


def _check_variables(items, name):
  for key, value in items:
    if not isinstance(value, tf.Variable):
      raise TypeError(
          f"Expected `{name}` to hold variables, but {key!r} maps to {value!r} "
          f"({type(value).__name__}). A Saver needs the variables themselves: write "
          "{var.op.name: var for var in reuse_vars}, not the lesson's "
          "dict([(var.name, var.name) for var in reuse_vars]), which maps names to "
          "names.")


def checkpoint_exists(prefix: str) -> bool:
  """Returns whether a V2 checkpoint with this prefix is complete on disk."""
  return bool(prefix) and os.path.isfile(prefix + ".index")


# ------------------------------------------------- whole checkpoints: restore, read, write


def restore(sess: tf.compat.v1.Session, prefix: str,
            var_list: Sequence[tf.Variable] | dict[str, tf.Variable] | None = None
            ) -> None:
  """Restores `var_list` (default: all saveable variables) from a checkpoint.

  Every variable's shape and dtype is checked against the checkpoint before anything
  is assigned, so a failed restore changes nothing.

  Args:
    sess: the Session.
    prefix: the checkpoint path prefix.
    var_list: a list of variables or a dict {checkpoint name: variable}; default every
      global variable.

  Raises:
    CheckpointError: if the checkpoint is missing or cannot be read, with the path and
      what is wrong; if it lacks variables of the graph (a model-only `best`
      checkpoint restored into a training graph says what to pass instead).
    ShapeMismatchError: naming each variable whose shape differs, with both shapes.
  """
  prefix, _, contents = checkpoint_contents(prefix)
  with sess.graph.as_default():
    variables = var_list if var_list is not None else _V1.global_variables()
  if not isinstance(variables, dict):
    variables = {v.op.name: v for v in variables}
  missing = [name for name in variables if name not in contents]
  if missing:
    model = {v.op.name for v in sess.graph.get_collection(_V1.GraphKeys.MODEL_VARIABLES)}
    only_model = model and set(contents) >= model
    hint = ("It holds the model variables only (a best checkpoint): restore it with "
            "var_list=tf.compat.v1.model_variables(), or load the run for inference "
            "with loading.load_run(run_dir)." if only_model else
            "Restore the variables it holds (var_list=...) or build the graph as its "
            "model was.")
    raise CheckpointError(f"Checkpoint {prefix!r} lacks {len(missing)} variable(s) of "
                          f"the graph ({', '.join(sorted(missing)[:5])}"
                          f"{', ...' if len(missing) > 5 else ''}). {hint} Nothing was "
                          "restored.")
  check_counterpart_shapes(variables, contents, prefix)
  try:
    with sess.graph.as_default():  # Outside a graph block, TF 2 would restore eagerly.
      _V1.train.Saver(var_list=variables).restore(sess, prefix)
  except (tf.errors.OpError, ValueError) as error:
    raise CheckpointError(f"Cannot restore {prefix!r}, corrupt or truncated: "
                          f"{describe(error)}") from None


def load_values(prefix: str) -> dict[str, np.ndarray]:
  """Returns {variable name: numpy value} of every variable in a checkpoint."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    return {name: reader.get_tensor(name) for name in names}
  except READ_ERRORS as error:
    raise CheckpointError(f"Cannot read checkpoint {prefix!r}: {describe(error)}") from None


def write_checkpoint(prefix: str, values: dict[str, Any]) -> str:
  """Writes arrays as a checkpoint whose variables have the given names.

  Builds in a fresh graph and Session, leaving the caller's untouched. Useful for
  weights computed outside a model graph (layer-wise pretraining) and for tests of
  checkpoints written by TF 1.x code:

      write_checkpoint("/tmp/contrib.ckpt", {"hidden1/weights": w, "hidden1/biases": b})

  Args:
    prefix: the checkpoint path prefix; its directory is created.
    values: a non-empty dict {variable name: array-like}.

  Returns:
    The prefix written (pass it to `restore_scopes`).

  Raises:
    TypeError: if `values` is not a dict of names to arrays.
    ValueError: if it is empty or a name is a tensor name ending in ':0'.
  """
  if not isinstance(values, dict) or not values:
    raise TypeError("Expected `values` to be a non-empty dict {variable name: array}. "
                    f"Received: values of type {type(values).__name__}")
  for name in values:
    if not isinstance(name, str) or not name or re.search(r":\d+$", name):
      raise ValueError(f"Expected `values` keys to be variable names such as "
                       f"'hidden1/weights' (no ':0'). Received the key {name!r}")
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  with tf.Graph().as_default() as graph:
    variables = {name: _V1.Variable(np.asarray(value), name=name.replace("/", "_"))
                 for name, value in values.items()}
    saver = _V1.train.Saver(variables)
    with _V1.Session(graph=graph) as sess:
      sess.run(_V1.global_variables_initializer())
      return saver.save(sess, prefix, write_meta_graph=False, write_state=False)
