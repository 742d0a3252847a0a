"""One scalar from the mask head's and the depth head's losses.

A loss config (a dict or an `ml_collections.ConfigDict`) has these fields:

    mask:    a loss name, or dict(name=..., **kwargs) of that loss, e.g.
             'bce_with_logits' or dict(name='dice', smooth=1.0)
    depth:   the same for the depth head, e.g. dict(name='smooth_l1', beta=0.1)
    combine: a combiner name, or dict(name=..., **options):
             'weighted_sum'  mask_weight * L_mask + depth_weight * L_depth
             'sqrt_sum'      mask_weight * sqrt(L_mask) + depth_weight * sqrt(L_depth)
             'uncertainty'   exp(-s_mask) L_mask + s_mask + exp(-s_depth) L_depth + s_depth
                             with s_i = log sigma_i^2 learned, in the loss params
                             (Kendall, Gal, Cipolla 2018); ignores the weights
    mask_weight, depth_weight: default 1; an option of the same name in `combine`
             takes precedence.

Heads whose loss has `on_logits=False` get sigmoid(logits); the others get logits.
"""
import inspect
import math
import numbers
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from losses import _utils
from losses import registry

HEADS = ('mask', 'depth')
_WEIGHT_FIELDS = ('mask_weight', 'depth_weight')
# Below this, sqrt_sum's square root becomes linear (L / sqrt(eps)): still 0 at 0, but
# with a bounded slope (1e4) where sqrt(L)'s is infinite; exact sqrt(L) above it.
_SQRT_EPS = 1e-8


class Combiner(NamedTuple):
  """How to merge the two heads' losses.

  Attributes:
    init_params: () -> pytree of learned parameters ({} if none).
    combine: (weights, mask_loss, depth_loss, params) -> (total, extra aux dict).
  """
  init_params: Callable[[], Any]
  combine: Callable[..., tuple[jax.Array, dict]]


def _no_params():
  return {}


def _weighted_sum(weights, mask_loss, depth_loss, params):
  del params
  total = weights['mask_weight'] * mask_loss + weights['depth_weight'] * depth_loss
  return total, {}


def _safe_sqrt(loss):
  """sqrt(loss) for loss >= eps, loss / sqrt(eps) below: finite gradients at 0."""
  # Clipped at 0: 1 - SSIM of identical images can round to -1e-7.
  loss = jnp.maximum(loss, 0.0)
  above = loss > _SQRT_EPS
  # The double where keeps sqrt's infinite slope at 0 out of the gradient.
  return jnp.where(above, jnp.sqrt(jnp.where(above, loss, 1.0)), loss / math.sqrt(_SQRT_EPS))


def _sqrt_sum(weights, mask_loss, depth_loss, params):
  del params
  total = (weights['mask_weight'] * _safe_sqrt(mask_loss) +
           weights['depth_weight'] * _safe_sqrt(depth_loss))
  return total, {}


def _uncertainty_params():
  return {'s_mask': jnp.zeros((), jnp.float32), 's_depth': jnp.zeros((), jnp.float32)}


def _uncertainty(weights, mask_loss, depth_loss, params):
  """Kendall, Gal, Cipolla (2018): sum_i exp(-s_i) L_i + s_i with s_i = log sigma_i^2.

  One form for both heads, as most reimplementations do: for a regression head the
  paper's L / (2 sigma^2) + log sigma is exactly half of it; its classification form
  exp(-s) L + s / 2 differs only in the regulariser's weight. At s = 0 it is
  L_mask + L_depth; the optimum is s_i = log L_i. Static weights are ignored: the
  learned exp(-s_i) absorbs any constant factor. The total can be negative.
  """
  del weights
  s_mask, s_depth = params['s_mask'], params['s_depth']
  total = jnp.exp(-s_mask) * mask_loss + s_mask + jnp.exp(-s_depth) * depth_loss + s_depth
  extra = {'s_mask': s_mask, 's_depth': s_depth,
           'mask_weight': jnp.exp(-s_mask), 'depth_weight': jnp.exp(-s_depth)}
  return total, extra


_COMBINERS: dict[str, Combiner] = {
    'weighted_sum': Combiner(_no_params, _weighted_sum),
    'sqrt_sum': Combiner(_no_params, _sqrt_sum),
    'uncertainty': Combiner(_uncertainty_params, _uncertainty),
}


def register_combiner(name: str, combiner: Combiner) -> Combiner:
  """Registers a combiner under `name`, for `loss.combine`; returns it."""
  if name in _COMBINERS:
    raise ValueError(f'combiner {name!r} is already registered')
  _COMBINERS[name] = combiner
  return combiner


def combiner_names() -> list[str]:
  """Returns the registered combiner names, sorted."""
  return sorted(_COMBINERS)


def _as_dict(value) -> dict | None:
  """A dict or ConfigDict as a plain dict; None for anything else."""
  if isinstance(value, Mapping) or hasattr(value, 'items'):
    return dict(value.items())
  return None


def _parse_spec(spec, field: str) -> tuple[str, dict]:
  """'name' or dict(name=..., **kwargs) -> (name, kwargs)."""
  if isinstance(spec, str):
    return spec, {}
  kwargs = _as_dict(spec)
  if kwargs is None or not isinstance(kwargs.get('name'), str):
    raise ValueError(f'loss.{field}: expected a name or dict(name=..., **kwargs), '
                     f'got {spec!r}')
  name = kwargs.pop('name')
  return name, kwargs


def _field(loss_config, key, default=None):
  return loss_config.get(key, default)


def _check_number(value, field: str):
  if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
    raise ValueError(f'loss.{field}: expected a number >= 0, got {value!r}')


def _check_head(loss_config, head: str):
  spec = _field(loss_config, head)
  allowed = ', '.join(registry.names())
  if spec is None:
    raise ValueError(f'loss.{head}: missing; allowed: {allowed}')
  name, kwargs = _parse_spec(spec, head)
  if name not in registry.names():
    raise ValueError(f'loss.{head}: unknown loss {name!r}; allowed: {allowed}')
  # The first two parameters are pred and target; the rest are the loss's options.
  parameters = list(inspect.signature(registry.get(name)).parameters.values())[2:]
  if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters):
    return
  options = [p.name for p in parameters]
  for key in kwargs:
    if key not in options:
      raise ValueError(f'loss.{head}: {name} has no option {key!r}; '
                       f'allowed: {", ".join(options) or "none"}')


def _combine_spec(loss_config) -> tuple[str, dict]:
  """(combiner name, weights) with weights from `combine` options, the config, or 1."""
  name, options = _parse_spec(_field(loss_config, 'combine', 'weighted_sum'), 'combine')
  weights = {key: options.get(key, _field(loss_config, key, 1.0)) for key in _WEIGHT_FIELDS}
  return name, weights


def validate_loss_config(loss_config) -> None:
  """Raises ValueError, one line naming the field and the allowed values, if invalid."""
  for head in HEADS:
    _check_head(loss_config, head)
  name, options = _parse_spec(_field(loss_config, 'combine', 'weighted_sum'), 'combine')
  if name not in _COMBINERS:
    raise ValueError(f'loss.combine: unknown combiner {name!r}; '
                     f'allowed: {", ".join(combiner_names())}')
  for key in options:
    if key not in _WEIGHT_FIELDS:
      raise ValueError(f'loss.combine: {name} has no option {key!r}; '
                       f'allowed: {", ".join(_WEIGHT_FIELDS)}')
  for key, value in _combine_spec(loss_config)[1].items():
    _check_number(value, key)


def init_loss_params(loss_config):
  """Returns the combiner's learned parameters (a pytree); {} unless it learns any."""
  validate_loss_config(loss_config)
  name, _ = _combine_spec(loss_config)
  return _COMBINERS[name].init_params()


def head_loss(loss_config, head: str, logits, target) -> jax.Array:
  """The loss of one head: its configured loss on float32 logits or sigmoid(logits)."""
  name, kwargs = _parse_spec(_field(loss_config, head), head)
  fn = registry.get(name)
  logits = jnp.asarray(logits).astype(jnp.float32)
  pred = logits if fn.on_logits else jax.nn.sigmoid(logits)
  return fn(pred, _utils.to_unit_float(target), **kwargs)


def total_loss(loss_config, outputs, batch, loss_params):
  """The training loss of both heads.

  Args:
    loss_config: The loss config (see the module docstring).
    outputs: The model's logits, {'mask': N x H x W x 1, 'depth': N x H x W x 1}.
    batch: Holds targets 'mask' and 'depth' in [0, 1] (uint8 is divided by 255).
    loss_params: `init_loss_params(loss_config)` as trained; {} or None if none.

  Returns:
    (total, aux): the scalar loss and a dict with `mask_loss`, `depth_loss` and, for
    learned combiners, their parameters and effective weights.
  """
  validate_loss_config(loss_config)
  mask_loss = head_loss(loss_config, 'mask', outputs['mask'], batch['mask'])
  depth_loss = head_loss(loss_config, 'depth', outputs['depth'], batch['depth'])
  name, weights = _combine_spec(loss_config)
  total, extra = _COMBINERS[name].combine(weights, mask_loss, depth_loss, loss_params)
  return total, {'mask_loss': mask_loss, 'depth_loss': depth_loss, **extra}
