"""The loss registry: every loss is a pure function looked up by its name."""
from typing import Callable

from dmnet_core import Registry

LossFn = Callable[..., object]

LOSSES: Registry[LossFn] = Registry('loss')


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
    LOSSES.add(name, fn)
    fn.on_logits = on_logits
    return fn

  return decorator


def names() -> list[str]:
  """Returns the registered loss names, sorted."""
  return LOSSES.names()


def get(name: str, field: str = '') -> LossFn:
  """Returns the loss registered under `name`; ValueError naming `field` and the losses."""
  return LOSSES.get(name, field)
