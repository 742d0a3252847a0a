"""Augmentations that run on the device, inside the jitted train step.

A config lists them in order, e.g. `[dict(name='hflip', p=0.5), dict(name='cutout', ...)]`.
Each is a pure function `fn(rng, sample, **strength) -> sample` over ONE sample (a dict of
float32 images in [0, 1]: `bg`, `fg_bg` H x W x 3 and `mask`, `depth` H x W x 1) and is
vmapped over the batch. Geometric augmentations move all four images together so the
targets stay valid; photometric ones touch only the inputs.
"""
import inspect
from typing import Any, Callable

import dm_pix as pix
import jax
import jax.numpy as jnp

INPUT_KEYS = ('bg', 'fg_bg')
ALL_KEYS = ('bg', 'fg_bg', 'mask', 'depth')
AUGMENTATIONS: dict[str, Callable] = {}


def register(fn):
  """Adds `fn` to the registry under its function name."""
  AUGMENTATIONS[fn.__name__] = fn
  return fn


def names() -> list[str]:
  """The registered augmentation names."""
  return sorted(AUGMENTATIONS)


@register
def hflip(rng, sample, p=0.5):
  """Mirrors all four images left-right with probability p."""
  flip = jax.random.bernoulli(rng, p)
  return {key: jnp.where(flip, value[:, ::-1], value) for key, value in sample.items()}


def _jitter_one(rng, image, brightness, contrast, saturation, hue):
  rngs = jax.random.split(rng, 4)
  image = pix.adjust_brightness(image, jax.random.uniform(rngs[0], (), minval=-brightness,
                                                          maxval=brightness))
  image = pix.adjust_contrast(image, jax.random.uniform(rngs[1], (), minval=1 - contrast,
                                                        maxval=1 + contrast))
  image = pix.adjust_saturation(image, jax.random.uniform(
      rngs[2], (), minval=1 - saturation, maxval=1 + saturation))
  image = pix.adjust_hue(image, jax.random.uniform(rngs[3], (), minval=-hue, maxval=hue))
  return jnp.clip(image, 0.0, 1.0)


@register
def color_jitter(rng, sample, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
                 independent=True):
  """torchvision-style ColorJitter of the inputs (brightness is additive here).

  With `independent`, bg and fg_bg get different draws, so the model cannot rely on
  exact pixel equality outside the person; without, both get the same draw.
  """
  rng_bg, rng_fg = jax.random.split(rng)
  out = dict(sample)
  out['bg'] = _jitter_one(rng_bg, sample['bg'], brightness, contrast, saturation, hue)
  out['fg_bg'] = _jitter_one(rng_bg if not independent else rng_fg, sample['fg_bg'],
                             brightness, contrast, saturation, hue)
  return out


def validate(augment_config: list[dict[str, Any]]):
  """Raises ValueError naming an unknown augmentation or argument."""
  for position, entry in enumerate(augment_config):
    name = entry.get('name')
    if name not in AUGMENTATIONS:
      raise ValueError(f'data.augment[{position}].name: unknown augmentation {name!r}; '
                       f'known: {", ".join(names())}')
    allowed = set(inspect.signature(AUGMENTATIONS[name]).parameters) - {'rng', 'sample'}
    unknown = set(entry) - allowed - {'name'}
    if unknown:
      raise ValueError(f'data.augment[{position}] ({name}): unknown argument(s) '
                       f'{", ".join(sorted(unknown))}; allowed: {", ".join(sorted(allowed))}')


def apply(augment_config, rng, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Applies the configured augmentations, in order, to every sample of `batch`."""
  if not augment_config:
    return batch
  sample_rngs = jax.random.split(rng, batch['bg'].shape[0])

  def one(sample_rng, sample):
    for entry, step_rng in zip(augment_config,
                               jax.random.split(sample_rng, len(augment_config))):
      kwargs = {k: v for k, v in entry.items() if k != 'name'}
      sample = AUGMENTATIONS[entry['name']](step_rng, sample, **kwargs)
    return sample

  images = {key: batch[key] for key in ALL_KEYS}
  return dict(batch, **jax.vmap(one)(sample_rngs, images))
