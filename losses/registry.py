"""The loss registry: every loss is a pure function looked up by its name."""
from typing import Callable

LossFn = Callable[..., object]

_REGISTRY: dict[str, LossFn] = {}


def register(name: str, *, on_logits: bool) -> Callable[[LossFn], LossFn]:
  """Returns a decorator that registers a loss function under `name`.

  A loss is `fn(pred, target, **kwargs) -> scalar`, pure and jit-safe, over NHWC
  float batches, reduced by the mean.

  Args:
    name: The name configs use to select the loss.
    on_logits: True if `fn` expects logits as `pred` (e.g. `bce_with_logits`);
      False if it expects values in [0, 1], in which case callers pass
      `sigmoid(logits)`. Stored on the function as `fn.on_logits`.

  Returns:
    A decorator that registers its argument and returns it unchanged.
  """
  if not isinstance(on_logits, bool):
    raise TypeError(f'on_logits must be a bool, got {on_logits!r}')

  def decorator(fn: LossFn) -> LossFn:
    if name in _REGISTRY:
      raise ValueError(f'loss {name!r} is already registered')
    fn.on_logits = on_logits
    _REGISTRY[name] = fn
    return fn

  return decorator


def names() -> list[str]:
  """Returns the registered loss names, sorted."""
  return sorted(_REGISTRY)


def get(name: str) -> LossFn:
  """Returns the loss registered under `name`; ValueError listing the names if unknown."""
  if not isinstance(name, str) or name not in _REGISTRY:
    raise ValueError(f'unknown loss {name!r}; registered losses: {", ".join(names())}')
  return _REGISTRY[name]
