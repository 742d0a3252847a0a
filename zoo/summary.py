"""Variables, parameter counts, FLOPs and a Keras-like table of a zoo model."""
import functools
import math
from typing import Any, Sequence

from flax import linen as nn
import jax
import jax.numpy as jnp

ImageSize = int | Sequence[int]

# For functions that run once (initialization): XLA:CPU compiles random initializers
# tens of times faster without its backend optimizations.
FAST_CPU_COMPILE_OPTIONS = {'xla_backend_optimization_level': 0,
                     'xla_llvm_disable_expensive_passes': True}


def _height_width(image_size: ImageSize) -> tuple[int, int]:
  if not isinstance(image_size, (tuple, list)):
    return int(image_size), int(image_size)
  height, width = image_size
  return int(height), int(width)


def _image_spec(image_size: ImageSize, batch_size: int) -> jax.ShapeDtypeStruct:
  height, width = _height_width(image_size)
  return jax.ShapeDtypeStruct((batch_size, height, width, 3), jnp.float32)


def init(model: nn.Module, rng, image_size: ImageSize, batch_size: int = 1):
  """Initializes `model` for `image_size` (an int or (height, width)) images.

  Returns:
    The variables: a dict with 'params' and, for models with BatchNorm,
    'batch_stats'.
  """
  spec = _image_spec(image_size, batch_size)
  images = jnp.zeros(spec.shape, spec.dtype)
  init_fn = jax.jit(functools.partial(model.init, train=False))
  # Under a transformation (jit, eval_shape) `images` is a tracer too.
  traced = any(isinstance(x, jax.core.Tracer) for x in (rng, images))
  if traced or jax.default_backend() != 'cpu':
    return init_fn(rng, images, images)
  # Init runs once, so on CPU it is compiled without XLA's backend
  # optimizations: the random initializers otherwise take XLA:CPU tens of
  # seconds to compile. (Compiler options are for top-level calls only.)
  compiled = init_fn.lower(rng, images, images).compile(FAST_CPU_COMPILE_OPTIONS)
  return compiled(rng, images, images)


def _variable_shapes(model: nn.Module, image_size: ImageSize):
  """The variables' shapes and dtypes, without computing anything."""
  images = _image_spec(image_size, 1)
  return jax.eval_shape(
      functools.partial(model.init, train=False),
      jax.random.key(0), images, images)


def _size(tree) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def count_params(model: nn.Module, image_size: ImageSize) -> int:
  """Returns the number of trainable parameters (batch statistics excluded)."""
  return _size(_variable_shapes(model, image_size)['params'])


def flops_per_image(model: nn.Module, image_size: ImageSize) -> float:
  """Returns the forward (inference) FLOPs for one image of `image_size`.

  Counted by XLA's cost analysis of the lowered forward pass, so convs count
  only the multiply-adds inside the image (not those against zero padding),
  and normalization, activations and resizing count too.
  """
  variables = _variable_shapes(model, image_size)
  images = _image_spec(image_size, 1)
  forward = jax.jit(functools.partial(model.apply, train=False))
  cost = forward.lower(variables, images, images).cost_analysis()
  if isinstance(cost, (list, tuple)):  # One entry per device in older jax.
    cost = cost[0]
  return float(cost['flops'])


def _module_calls(model: nn.Module, image_size: ImageSize, batch_size: int):
  """Returns (path, type, output) of every module call, in call order."""
  calls = []

  def record(next_fun, args, kwargs, context):
    if context.method_name != '__call__':
      return next_fun(*args, **kwargs)
    index = len(calls)
    calls.append(None)
    output = next_fun(*args, **kwargs)
    calls[index] = (context.module.path, type(context.module).__name__, output)
    return output

  images = _image_spec(image_size, batch_size)
  with nn.intercept_methods(record):
    jax.eval_shape(
        functools.partial(model.init, train=False),
        jax.random.key(0), images, images)
  return calls


def _shape_str(output: Any) -> str:
  if isinstance(output, dict):
    return ', '.join(f'{k}: {_shape_str(v)}' for k, v in output.items())
  return str(tuple(output.shape))


def _subtree(tree, path):
  for name in path:
    tree = tree.get(name, {}) if isinstance(tree, dict) else {}
  return tree


def summary(model: nn.Module, image_size: ImageSize,
            batch_size: int = 1, title: str | None = None) -> str:
  """Returns a Keras-like table of the model's layers and its totals, headed by `title`
  (the registered model name, say; the module's class name without one).

  One row per leaf module in call order: its path, type, output shape (for a
  batch of `batch_size`) and parameters. Below: total parameters, batch
  statistics and forward FLOPs per image at `image_size`.
  """
  height, width = _height_width(image_size)
  variables = _variable_shapes(model, image_size)
  params = variables['params']
  calls = _module_calls(model, image_size, batch_size)
  parents = {path[:i] for path, _, _ in calls for i in range(len(path))}
  rows = [('Layer (path)', 'Type', 'Output shape', 'Params')]
  for path, kind, output in calls:
    if path not in parents:
      rows.append(('/'.join(path), kind, _shape_str(output),
                   f'{_size(_subtree(params, path)):,}'))
  widths = [max(len(row[i]) for row in rows) for i in range(4)]

  def fmt(row):
    return '  '.join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                      row[2].ljust(widths[2]), row[3].rjust(widths[3])])

  rule = '-' * len(fmt(rows[0]))
  flops = flops_per_image(model, (height, width))
  outputs = next(output for path, _, output in calls if not path)
  lines = [
      f'{title or type(model).__name__} on {height}x{width} images, batch {batch_size}',
      rule, fmt(rows[0]), rule, *map(fmt, rows[1:]), rule,
      f'Outputs: {_shape_str(outputs)}',
      f'Total parameters: {_size(params):,}',
      f"Batch statistics: {_size(variables.get('batch_stats', {})):,}",
      f'FLOPs per image (forward, {height}x{width}): '
      f'{flops / 1e9:.3f} GFLOPs ({flops:,.0f})',
  ]
  return '\n'.join(lines)
