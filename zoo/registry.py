"""The model registry: models are looked up by the name in the model config.

A model config is a mapping (a dict or an `ml_collections.ConfigDict`) such as
`dict(name='dmnet_cnn', dtype='bfloat16', widths=(32, 64))`: `name` picks the
model, `dtype` sets the compute dtype (parameters stay float32), every other key
sets a field of the model. A model's fields are the keyword arguments of its factory
(a function returning the module, a module class, or a `functools.partial` of either),
and their defaults are the factory's.
"""
import functools
import inspect
from typing import Any, Callable, Mapping

from flax import linen as nn
import jax.numpy as jnp

from dmnet_core import Registry

ModelFactory = Callable[..., nn.Module]

MODELS: Registry[ModelFactory] = Registry('model')
# The compute dtypes a model config's `dtype` may name (parameters stay float32).
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
# Fields every flax module has that a config must not set.
_RESERVED_FIELDS = ('parent', 'name')


def register(name: str, factory: ModelFactory | None = None):
  """Registers a model factory (a function returning a module, a module class, or a
  `functools.partial` of either).

  Use as `register('name', factory)` or as a decorator `@register('name')`.

  Args:
    name: The name a model config selects the model by.
    factory: Called with the config's fields as keywords, returns the module.

  Returns:
    The factory; without `factory`, a decorator that registers its argument.
  """
  if factory is None:
    return functools.partial(register, name)
  return MODELS.add(name, factory)


def names() -> list[str]:
  """Returns the registered model names, sorted."""
  return MODELS.names()


def get(name: str, field: str = '') -> ModelFactory:
  """Returns the factory registered as `name`; ValueError naming `field` if there is none."""
  return MODELS.get(name, field)


def _parameters(name: str) -> dict[str, inspect.Parameter]:
  """The keyword arguments of model `name`'s factory that a config may set."""
  kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
  return {parameter.name: parameter
          for parameter in inspect.signature(get(name)).parameters.values()
          if parameter.kind in kinds and parameter.name not in _RESERVED_FIELDS}


def fields(name: str) -> list[str]:
  """Returns the sorted fields a config may set for model `name`."""
  return sorted(_parameters(name))


def defaults(name: str) -> dict[str, Any]:
  """Model `name`'s fields with their default values (a `partial`'s where it sets them)."""
  return {field: parameter.default for field, parameter in _parameters(name).items()
          if parameter.default is not inspect.Parameter.empty}


def _as_tuples(value):
  """Turns lists (from JSON or a ConfigDict) into tuples, recursively."""
  if isinstance(value, (list, tuple)):
    return tuple(_as_tuples(v) for v in value)
  return value


def _to_dict(model_config) -> dict[str, Any]:
  if hasattr(model_config, 'to_dict'):  # ml_collections.ConfigDict.
    model_config = model_config.to_dict()
  if not isinstance(model_config, Mapping):
    raise TypeError(
        f'a model config must be a mapping, got {type(model_config).__name__}')
  return dict(model_config)


def compute_dtype(name) -> Any:
  """The JAX dtype a model config's `dtype` names ('float32' or 'bfloat16', or the dtype).

  Raises:
    ValueError: For any other dtype, naming the ones there are.
  """
  try:
    key = jnp.dtype(name).name
  except TypeError:
    key = str(name)
  if key not in DTYPES:
    raise ValueError(
        f"unknown dtype {name!r}; expected one of: "
        f"{', '.join(sorted(DTYPES))}")
  return DTYPES[key]


def build(model_config) -> nn.Module:
  """Builds the model a model config describes.

  Args:
    model_config: A mapping with `name`, optionally `dtype` ('float32', the
      default, or 'bfloat16') and any fields of the model. Sequences may be
      lists or tuples.

  Returns:
    The unbound `nn.Module`.

  Raises:
    ValueError: For an unknown model name, dtype or field.
  """
  config = _to_dict(model_config)
  if 'name' not in config:
    raise ValueError(
        f"a model config needs a 'name'; registered: {', '.join(names())}")
  name = config.pop('name')
  factory = get(name)
  dtype = compute_dtype(config.pop('dtype', None) or 'float32')
  allowed = fields(name)
  for key in config:
    if key not in allowed:
      raise ValueError(
          f"unknown field {key!r} for model {name!r}; fields: "
          f"{', '.join(allowed)}")
  kwargs = {key: _as_tuples(value) for key, value in config.items()}
  return factory(dtype=dtype, **kwargs)


# The export format versions whose model configs may lack fields that models have now,
# newest first: `with_earlier_defaults(config, version)` gives the layout of each.
EARLIER_VERSIONS = (3, 2, 1)


def with_earlier_defaults(model_config, version: int = 1) -> dict[str, Any]:
  """A saved model config completed with the defaults of the time it was saved.

  Fields were added to the zoo's models after their first release; a config saved
  before (a run's `config.json`, an export file) lacks them and describes the layout
  of its time:
  - version 1: no model had `difference` but `unet` (which always saw `fg_bg - bg`)
    and none had `input_skip`;
  - version 2: `dmnet_cnn` and `dmnet_cnn_v1` had no `global_context` block;
  - version 3: no `coordinates` or `upsample_widths`, whose defaults (none) are that
    layout, so nothing is added.
  Fields the config sets are kept, and only fields the model has are added (a model
  registered elsewhere may have none of them).

  Args:
    model_config: A mapping with `name` and the fields the saved config names.
    version: The export format version it was saved under (1, 2 or 3).
  """
  config = _to_dict(model_config)
  known = fields(config['name']) if config.get('name') in MODELS else []
  if version < 2 and 'difference' in known:
    config.setdefault('difference', config.get('name') == 'unet')
  if version < 2 and 'input_skip' in known:
    config.setdefault('input_skip', False)
  if version < 3 and 'global_context' in known:
    config.setdefault('global_context', False)
  return config


def saved_layouts(model_config) -> list[dict[str, Any]]:
  """The layouts a saved model config may describe, newest first.

  The config under today's defaults, then completed with the defaults of each earlier
  version (`with_earlier_defaults`): a reader tries them in turn against what it holds
  (a checkpoint's shapes, another config) and takes the first that fits.
  """
  config = _to_dict(model_config)
  return [config] + [with_earlier_defaults(config, version) for version in EARLIER_VERSIONS]


def complete(model_config) -> dict[str, Any]:
  """`model_config` with every field of its model, the module's defaults filled in.

  A saved config written this way describes its layout whatever later versions make
  the defaults. Sequences come back as lists, as JSON and msgpack store them.
  """
  config = _to_dict(model_config)
  build(config)  # Checks the name and fields.
  for field, default in defaults(config['name']).items():
    if field != 'dtype' and field not in config:
      config[field] = default
  config.setdefault('dtype', 'float32')
  return {key: _as_lists(value) for key, value in config.items()}


def config_fields(model_config) -> dict[str, Any]:
  """`complete(model_config)` with sequences as tuples: the values a config section holds."""
  return {key: _as_tuples(value) for key, value in complete(model_config).items()}


def _as_lists(value):
  """Tuples as lists, as a JSON or msgpack round trip gives them back."""
  return [_as_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def stride(model_or_config) -> int:
  """Returns the total stride of a model or model config.

  Image sides must be multiples of it.
  """
  if isinstance(model_or_config, nn.Module):
    return model_or_config.stride
  return build(model_or_config).stride
