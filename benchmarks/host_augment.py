"""Host-side (numpy / PIL) versions of the augmentations, for benchmarks/input_pipeline.py only.

The library augments on the device (`datasets/augment.py`); this module is the other
placement, measured against it. `augment_pil` follows a config's augment list with the
same parameter draws, but PIL's semantics where they differ: ColorJitter is
`ImageEnhance` (multiplicative brightness, as torchvision's), and rotation fills the
corners with 0 in all four images (PIL has no edge mode). The torch reference loader in
input_pipeline.py uses `color_jitter` from here, the original's one augmentation.
"""
import dataclasses
import math
from typing import Any

import grain
import numpy as np
from PIL import Image
from PIL import ImageEnhance

INPUT_KEYS = ('bg', 'fg_bg')
ALL_KEYS = ('bg', 'fg_bg', 'mask', 'depth')


def hflip(rng, images, p=0.5):
  """Mirrors all four with probability p."""
  if rng.random() < p:
    return {k: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for k, im in images.items()}
  return images


def random_resized_crop(rng, images, scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3)):
  """The same box of all four, resized back (bilinear); draws as the device version."""
  width, height = images['bg'].size
  area = rng.uniform(scale[0], scale[1])
  log_lo = max(math.log(ratio[0]), math.log(area))
  log_hi = min(math.log(ratio[1]), -math.log(area))
  aspect = math.exp(rng.uniform(log_lo, log_hi))
  box_h, box_w = min(math.sqrt(area / aspect), 1.0), min(math.sqrt(area * aspect), 1.0)
  top, left = rng.random() * (1 - box_h) * height, rng.random() * (1 - box_w) * width
  box = (left, top, left + box_w * width, top + box_h * height)
  return {k: im.resize((width, height), Image.BILINEAR, box=box) for k, im in images.items()}


def rotate(rng, images, max_degrees=8.0):
  """The same rotation of all four (bilinear, corners filled with 0)."""
  angle = rng.uniform(-max_degrees, max_degrees)
  return {k: im.rotate(angle, Image.BILINEAR) for k, im in images.items()}


def _jitter_one(rng, image, brightness, contrast, saturation, hue):
  image = ImageEnhance.Brightness(image).enhance(rng.uniform(1 - brightness, 1 + brightness))
  image = ImageEnhance.Contrast(image).enhance(rng.uniform(1 - contrast, 1 + contrast))
  image = ImageEnhance.Color(image).enhance(rng.uniform(1 - saturation, 1 + saturation))
  shift = rng.uniform(-hue, hue)
  if shift:
    h, s, v = image.convert('HSV').split()
    h = Image.fromarray((np.asarray(h, np.int16) + round(shift * 255)).astype(np.uint8), 'L')
    image = Image.merge('HSV', (h, s, v)).convert('RGB')
  return image


def color_jitter(rng, images, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
                 independent=True):
  """torchvision-style ColorJitter of the inputs with PIL's ImageEnhance."""
  seed_bg, seed_fg = rng.integers(0, 2**63, 2)
  out = dict(images)
  for key, seed in (('bg', seed_bg), ('fg_bg', seed_fg if independent else seed_bg)):
    out[key] = _jitter_one(np.random.default_rng(seed), images[key], brightness, contrast,
                           saturation, hue)
  return out


def cutout(rng, images, size=0.25, p=0.5, noise=False):
  """With probability p, one rectangle of both inputs filled with grey (or shared noise)."""
  if rng.random() >= p:
    return images
  width, height = images['bg'].size
  cy, cx = rng.random() * height, rng.random() * width
  y0, y1 = max(0, round(cy - size * height / 2)), min(height, round(cy + size * height / 2))
  x0, x1 = max(0, round(cx - size * width / 2)), min(width, round(cx + size * width / 2))
  fill = (rng.integers(0, 256, (y1 - y0, x1 - x0, 3), np.uint8) if noise
          else np.full((y1 - y0, x1 - x0, 3), 128, np.uint8))
  out = dict(images)
  for key in INPUT_KEYS:
    array = np.array(images[key])
    array[y0:y1, x0:x1] = fill
    out[key] = Image.fromarray(array)
  return out


HOST_AUGMENTATIONS = dict(hflip=hflip, random_resized_crop=random_resized_crop,
                          rotate=rotate, color_jitter=color_jitter, cutout=cutout)


def augment_pil(entries, rng: np.random.Generator, images: dict[str, Image.Image]):
  """Applies the augment config `entries`, in order, to a dict of four PIL images."""
  for entry in entries:
    kwargs = {k: v for k, v in entry.items() if k != 'name'}
    images = HOST_AUGMENTATIONS[entry['name']](rng, images, **kwargs)
  return images


def to_pil(arrays: dict[str, np.ndarray]) -> dict[str, Image.Image]:
  """uint8 H x W x C arrays -> PIL images ('RGB' or 'L')."""
  return {k: Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for k, a in arrays.items()}


def to_arrays(images: dict[str, Image.Image]) -> dict[str, np.ndarray]:
  """PIL images -> uint8 H x W x C arrays."""
  out = {}
  for key, image in images.items():
    array = np.asarray(image)
    out[key] = array[..., None] if array.ndim == 2 else array
  return out


@dataclasses.dataclass(frozen=True)
class HostAugment(grain.transforms.RandomMap):
  """The augment list on one uint8 sample, in a grain worker; the sample stays uint8."""
  entries: tuple[Any, ...]

  def random_map(self, element, rng: np.random.Generator):
    return to_arrays(augment_pil(self.entries, rng, to_pil(element)))
