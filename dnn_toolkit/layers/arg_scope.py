"""Shared default arguments over a block of layer calls, as tf.contrib.framework did.

    with arg_scope([fully_connected], activation_fn=tf.nn.elu,
                   weights_initializer=he_initializer()) as sc:
      hidden1 = fully_connected(X, 300, scope="hidden1")
      hidden2 = fully_connected(hidden1, 100, scope="hidden2")
      logits = fully_connected(hidden2, 10, activation_fn=None, scope="outputs")
    ...
    with arg_scope(sc):  # The same defaults again (the model zoo's `*_arg_scope()`).
      ...

Arguments given in a call win over the scope's defaults; inner scopes win over outer
ones; a saved scope dict replaces the current defaults for its block. Only functions
decorated with `add_arg_scope` take part. The scope dicts are keyed as contrib keyed
them, by `arg_scope_func_key(fn)`, so `current_arg_scope()` compares equal to dicts TF
1.x code builds. Unlike contrib's one global stack, each thread has its own.
"""

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

_local = threading.local()

# arg_scope_func_key(fn) -> names of the keyword arguments arg_scope can set for fn.
_F = TypeVar("_F", bound=Callable[..., Any])

_DECORATED_OPS: dict[str, tuple[str, ...]] = {}


class NotDecoratedError(ValueError, TypeError):
  """A function in `arg_scope`'s list was not decorated with `add_arg_scope`.

  A ValueError, as contrib raised; also a TypeError, which earlier versions of this
  package raised.
  """


def _stack():
  if not hasattr(_local, "stack"):
    _local.stack = [{}]
  return _local.stack


def current_arg_scope() -> dict[str, dict[str, Any]]:
  """Returns the innermost scope dict: `{arg_scope_func_key(fn): {arg: value}}`."""
  return _stack()[-1]


def arg_scope_func_key(op: Callable[..., Any]) -> str:
  """Returns the key of `op` in scope dicts (contrib's: `str()` of the function)."""
  return getattr(op, "_key_op", str(op))


def _kwarg_names(func):
  return tuple(name for name, p in inspect.signature(func).parameters.items()
               if p.default is not inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def add_arg_scope(func: _F) -> _F:
  """Decorates `func` so that `arg_scope` can set defaults for its keyword arguments.

  Args:
    func: the function to decorate.

  Returns:
    The decorated function (same name and docstring).
  """
  key = arg_scope_func_key(func)
  _DECORATED_OPS[key] = _kwarg_names(func)

  @functools.wraps(func)
  def func_with_args(*args, **kwargs):
    defaults = current_arg_scope().get(key)
    if defaults:
      kwargs = {**defaults, **kwargs}
    return func(*args, **kwargs)

  # pylint: disable-next=protected-access
  func_with_args._key_op = key  # type: ignore[attr-defined]
  return cast(_F, func_with_args)


@contextlib.contextmanager
def arg_scope(list_ops: Sequence[Callable[..., Any]] | dict[str, dict[str, Any]],
              **kwargs: Any) -> Iterator[dict[str, dict[str, Any]]]:
  """Sets default keyword arguments of the listed functions inside a `with` block.

  Args:
    list_ops: a list or tuple of functions decorated with `add_arg_scope`, whose
      defaults `kwargs` sets on top of the current ones; or a scope dict yielded by an
      earlier `with arg_scope(...) as sc`, which then is the whole scope of the block
      (contrib's `list_ops_or_scope`).
    **kwargs: the defaults; must be empty when `list_ops` is a scope dict.

  Yields:
    The scope dict `{arg_scope_func_key(fn): {arg: value}}` in force in the block.

  Raises:
    TypeError: if `list_ops` is neither a list, a tuple nor a dict.
    ValueError: if a scope dict comes with `kwargs`.
    NotDecoratedError (a ValueError): if a listed function was not decorated with
      `add_arg_scope`.
  """
  if isinstance(list_ops, dict):
    if kwargs:
      raise ValueError("Re-entering a saved scope dict takes no keyword arguments, "
                       f"expected none. Received: {sorted(kwargs)}")
    current = dict(list_ops)
  elif isinstance(list_ops, (list, tuple)):
    current = dict(current_arg_scope())
    for op in list_ops:
      if not has_arg_scope(op):
        name = getattr(op, "__name__", repr(op))
        raise NotDecoratedError(
            f"`{name}` in `list_ops` does not accept arg_scope defaults: decorate it "
            "with dnn_toolkit.layers.arg_scope.add_arg_scope.")
      key = arg_scope_func_key(op)
      current[key] = {**current.get(key, {}), **kwargs}
  else:
    raise TypeError("Expected `list_ops` to be a list or tuple of functions, or a scope "
                    f"dict saved from `with arg_scope(...) as sc`. "
                    f"Received: list_ops={list_ops!r}")
  _stack().append(current)
  try:
    yield current
  finally:
    _stack().pop()


def has_arg_scope(func: Callable[..., Any]) -> bool:
  """Returns whether `func` was decorated with `add_arg_scope`."""
  return arg_scope_func_key(func) in _DECORATED_OPS


def arg_scoped_arguments(func: Callable[..., Any]) -> tuple[str, ...]:
  """Returns the names of the keyword arguments `arg_scope` can set for `func`.

  Args:
    func: a function decorated with `add_arg_scope`.

  Returns:
    A tuple of argument names (those with a default value).

  Raises:
    NotDecoratedError (a ValueError): if `func` was not decorated.
  """
  if not has_arg_scope(func):
    name = getattr(func, "__name__", repr(func))
    raise NotDecoratedError(f"`{name}` was not decorated with add_arg_scope, expected "
                            "a function decorated with it.")
  return _DECORATED_OPS[arg_scope_func_key(func)]
