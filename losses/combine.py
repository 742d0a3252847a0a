"""One scalar from the mask head's and the depth head's losses.

A loss config (a dict or an `ml_collections.ConfigDict`) has these fields:

    mask:    the mask head's loss: a loss name, dict(name=..., **kwargs), or a list of
             such dicts, each with an optional `weight` (default 1), whose weighted sum
             is the head's loss, e.g.
             'bce_with_logits', dict(name='dice', smooth=1.0) or
             [dict(name='bce_with_logits'), dict(name='dice', weight=1.0)]
    depth:   the same for the depth head, e.g. DenseDepth's
             [dict(name='l1', weight=0.1), dict(name='ssim'), dict(name='gradient')]
    combine: a combiner name, or dict(name=..., **options):
             'weighted_sum'  mask_weight * L_mask + depth_weight * L_depth
             'sqrt_sum'      mask_weight * sqrt(L_mask) + depth_weight * sqrt(L_depth)
             'uncertainty'   exp(-s_mask) L_mask + s_mask + exp(-s_depth) L_depth + s_depth
                             with s_i = log sigma_i^2 learned, in the loss params
                             (Kendall, Gal, Cipolla 2018); ignores the weights
    mask_weight, depth_weight: default 1; an option of the same name in `combine`
             takes precedence.

`build(config)` checks the config once and returns a `Loss`, the callable the train
step uses. Terms registered with `on_logits=False` get sigmoid(logits); the others
get logits.
"""
import ast
import dataclasses
import inspect
import math
import numbers
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from dmnet_core import Registry
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


COMBINERS: Registry[Combiner] = Registry('combiner')
COMBINERS.add('weighted_sum', Combiner(_no_params, _weighted_sum))
COMBINERS.add('sqrt_sum', Combiner(_no_params, _sqrt_sum))
COMBINERS.add('uncertainty', Combiner(_uncertainty_params, _uncertainty))


def register_combiner(name: str, combiner: Combiner) -> Combiner:
  """Registers a combiner under `name`, for `loss.combine`; returns it."""
  return COMBINERS.add(name, combiner)


def combiner_names() -> list[str]:
  """Returns the registered combiner names, sorted."""
  return COMBINERS.names()


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
    raise ValueError(f'loss.{field}: expected a name, dict(name=..., **kwargs) or a list '
                     f'of such dicts, got {spec!r}')
  name = kwargs.pop('name')
  return name, kwargs


def _check_number(value, field: str):
  if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
    raise ValueError(f'loss.{field}: expected a number >= 0, got {value!r}')


@dataclasses.dataclass(frozen=True)
class Term:
  """One weighted loss of a head: `weight * fn(pred, target, **options)`.

  Attributes:
    name: The registered loss name.
    weight: Its factor in the head's sum.
    options: The loss's keyword arguments, as sorted (key, value) pairs.
  """
  name: str
  weight: float = 1.0
  options: tuple = ()

  def __call__(self, logits, target) -> jax.Array:
    """The unweighted loss on float32 logits (or their sigmoid) and targets in [0, 1]."""
    fn = registry.get(self.name)
    pred = logits if fn.on_logits else jax.nn.sigmoid(logits)
    return fn(pred, target, **dict(self.options))


@dataclasses.dataclass(frozen=True)
class HeadLoss:
  """The loss of one head: the weighted sum of its terms."""
  terms: tuple[Term, ...]

  def __call__(self, logits, target) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(weighted sum, {term key: unweighted value}) for logits and targets.

    Targets may be uint8 (divided by 255) or floats in [0, 1]. Term keys are the
    loss names, with `_2`, `_3` ... for a name that appears again.
    """
    logits = jnp.asarray(logits).astype(jnp.float32)
    target = _utils.to_unit_float(target)
    values = {}
    total = jnp.zeros((), jnp.float32)
    for term in self.terms:
      value = term(logits, target)
      key, copy = term.name, 1
      while key in values:
        copy += 1
        key = f'{term.name}_{copy}'
      values[key] = value
      total = total + term.weight * value
    return total, values


def _term(spec, field: str) -> Term:
  """A checked `Term` from 'name' or dict(name=..., weight=..., **options)."""
  name, kwargs = _parse_spec(spec, field)
  fn = registry.get(name, f'loss.{field}')
  if not isinstance(getattr(fn, 'on_logits', None), bool):
    raise ValueError(f'loss.{field}: {name} was registered without on_logits; register '
                     'losses with losses.register(name, on_logits=...)')
  weight = kwargs.pop('weight', 1.0)
  _check_number(weight, f'{field}: {name} weight')
  # The first two parameters are pred and target; the rest are the loss's options.
  parameters = list(inspect.signature(fn).parameters.values())[2:]
  if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters):
    options = [p.name for p in parameters]
    for key in kwargs:
      if key not in options:
        raise ValueError(f'loss.{field}: {name} has no option {key!r}; '
                         f'allowed: {", ".join(options + ["weight"])}')
  frozen = lambda v: tuple(v) if isinstance(v, list) else v
  return Term(name, float(weight), tuple(sorted((k, frozen(v)) for k, v in kwargs.items())))


def _from_text(spec, head: str):
  """A spec given as the text of a Python list, tuple or dict (from the command line)."""
  try:
    return ast.literal_eval(spec)
  except (ValueError, SyntaxError):
    raise ValueError(f'loss.{head}: {spec!r} is not a Python literal; write e.g. '
                     f'"[{{\'name\': \'l1\'}}, {{\'name\': \'ssim\', \'weight\': 0.5}}]"'
                     ) from None


def build_head(spec, head: str) -> HeadLoss:
  """A checked `HeadLoss` from a head's spec.

  The spec is a loss name, a dict(name=..., weight=..., **options), or a list (or
  tuple) of names and such dicts. A string that starts with `[`, `(` or `{` is read as
  the Python literal it spells, so that `--config.loss.depth="[{'name': 'l1'}, ...]"`
  works on the command line.
  """
  if isinstance(spec, str) and spec.strip()[:1] in ('[', '(', '{'):
    spec = _from_text(spec, head)
  if spec is None:
    raise ValueError(f'loss.{head}: missing; allowed: {", ".join(registry.names())}')
  if isinstance(spec, (list, tuple)):
    if not spec:
      raise ValueError(f'loss.{head}: an empty list; give at least one loss')
    return HeadLoss(tuple(_term(item, f'{head}[{i}]') for i, item in enumerate(spec)))
  return HeadLoss((_term(spec, head),))


@dataclasses.dataclass(frozen=True)
class Loss:
  """The training loss of both heads, built once from a loss config by `build`.

  Attributes:
    mask: The mask head's loss.
    depth: The depth head's loss.
    combiner: The registered combiner's name.
    weights: Sorted (field, value) pairs of `mask_weight` and `depth_weight`.
  """
  mask: HeadLoss
  depth: HeadLoss
  combiner: str = 'weighted_sum'
  weights: tuple = (('depth_weight', 1.0), ('mask_weight', 1.0))

  def init_params(self):
    """The combiner's learned parameters (a pytree); {} unless it learns any."""
    return COMBINERS.get(self.combiner).init_params()

  def __call__(self, outputs, batch, params):
    """The training loss of both heads.

    Args:
      outputs: The model's logits, {'mask': N x H x W x 1, 'depth': N x H x W x 1}.
      batch: Holds targets 'mask' and 'depth' in [0, 1] (uint8 is divided by 255).
      params: `init_params()` as trained; {} or None if none.

    Returns:
      (total, aux): the scalar loss and a dict with `mask_loss`, `depth_loss`, each
      term of a head with several as `mask_loss/<name>` (unweighted), and, for learned
      combiners, their parameters and effective weights.
    """
    aux = {}
    for head, head_loss in (('mask', self.mask), ('depth', self.depth)):
      aux[f'{head}_loss'], terms = head_loss(outputs[head], batch[head])
      if len(terms) > 1:
        aux.update({f'{head}_loss/{key}': value for key, value in terms.items()})
    total, extra = COMBINERS.get(self.combiner).combine(
        dict(self.weights), aux['mask_loss'], aux['depth_loss'], params)
    return total, {**aux, **extra}


def build(loss_config) -> Loss:
  """Checks a loss config (see the module docstring) and returns its `Loss`.

  Raises:
    ValueError: One line naming the field and the allowed values.
  """
  heads = {head: build_head(loss_config.get(head), head) for head in HEADS}
  name, options = _parse_spec(loss_config.get('combine', 'weighted_sum'), 'combine')
  COMBINERS.get(name, 'loss.combine')
  for key in options:
    if key not in _WEIGHT_FIELDS:
      raise ValueError(f'loss.combine: {name} has no option {key!r}; '
                       f'allowed: {", ".join(_WEIGHT_FIELDS)}')
  weights = {key: options.get(key, loss_config.get(key, 1.0)) for key in _WEIGHT_FIELDS}
  for key, value in weights.items():
    _check_number(value, key)
  return Loss(heads['mask'], heads['depth'], name,
              tuple(sorted((k, float(v)) for k, v in weights.items())))


def validate_loss_config(loss_config) -> None:
  """Raises ValueError, one line naming the field and the allowed values, if invalid."""
  build(loss_config)


def init_loss_params(loss_config):
  """Returns the combiner's learned parameters (a pytree); {} unless it learns any."""
  return build(loss_config).init_params()


def total_loss(loss_config, outputs, batch, loss_params):
  """`build(loss_config)(outputs, batch, loss_params)`: see `Loss.__call__`."""
  return build(loss_config)(outputs, batch, loss_params)
