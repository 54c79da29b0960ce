"""Shared default arguments over a block of layer calls, as tf.contrib.framework did.

    with arg_scope([fully_connected], activation_fn=tf.nn.elu,
                   weights_initializer=he_initializer()):
      hidden1 = fully_connected(X, 300, scope="hidden1")
      hidden2 = fully_connected(hidden1, 100, scope="hidden2")
      logits = fully_connected(hidden2, 10, activation_fn=None, scope="outputs")

Arguments given in a call win over the scope's defaults; inner scopes win over outer
ones. Only functions decorated with `add_arg_scope` take part.
"""

import contextlib
import functools
import threading

_local = threading.local()


def _stack():
  if not hasattr(_local, "stack"):
    _local.stack = [{}]
  return _local.stack


def _key(func):
  return getattr(func, "_arg_scope_key", None)


def add_arg_scope(func):
  """Decorates `func` so that `arg_scope` can set defaults for its keyword arguments.

  Args:
    func: the function to decorate.

  Returns:
    The decorated function.
  """
  key = (func.__module__, func.__name__)

  @functools.wraps(func)
  def wrapper(*args, **kwargs):
    defaults = _stack()[-1].get(key)
    if defaults:
      kwargs = {**defaults, **kwargs}
    return func(*args, **kwargs)

  wrapper._arg_scope_key = key  # pylint: disable=protected-access
  return wrapper


@contextlib.contextmanager
def arg_scope(list_ops, **kwargs):
  """Sets default keyword arguments of the listed functions inside a `with` block.

  Args:
    list_ops: a list or tuple of functions decorated with `add_arg_scope`.
    **kwargs: the defaults.

  Yields:
    A dict mapping each function's key to its current defaults.

  Raises:
    TypeError: if `list_ops` is not a list or tuple, or holds a function that was not
      decorated with `add_arg_scope`.
  """
  if not isinstance(list_ops, (list, tuple)):
    raise TypeError("Expected `list_ops` to be a list or tuple of functions. "
                    f"Received: list_ops={list_ops!r}")
  current = dict(_stack()[-1])
  for op in list_ops:
    key = _key(op)
    if key is None:
      name = getattr(op, "__name__", repr(op))
      raise TypeError(f"`{name}` in `list_ops` does not accept arg_scope defaults: "
                      "decorate it with dnn_toolkit.arg_scope.add_arg_scope.")
    current[key] = {**current.get(key, {}), **kwargs}
  _stack().append(current)
  try:
    yield current
  finally:
    _stack().pop()


def has_arg_scope(func):
  """Returns whether `func` was decorated with `add_arg_scope`."""
  return _key(func) is not None
