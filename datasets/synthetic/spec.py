"""What to render (SyntheticSpec), how samples are numbered and named, and depth as nearness."""
import dataclasses
import math

import numpy as np

# Depth is stored as nearness: inverse depth over this fixed range, 255 nearest.
NEAR_M = 1.0
FAR_M = 15.0

_LEVELS = ('exposure', 'noise', 'jpeg', 'shift', 'shadow')


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
  """What to render: the four counts, the image size, the seed, nuisance levels.

  Each level scales one capture nuisance between `bg` and `fg_bg`; 0 turns it
  off and 1 is the default strength.
  """
  num_backgrounds: int = 10
  num_foregrounds: int = 10
  flips: int = 2  # 1: plain foregrounds only; 2: plain and mirrored.
  placements: int = 4
  render_size: int = 64  # Square images, render_size x render_size.
  seed: int = 0
  exposure: float = 1.0  # Global gain and white balance of fg_bg vs bg.
  noise: float = 1.0  # Independent Gaussian sensor noise in both images.
  jpeg: float = 1.0  # JPEG round trip of both, quality 95 - 25 * level.
  shift: float = 1.0  # Sub-pixel camera shift between bg and fg_bg, 0.7 * level px.
  shadow: float = 1.0  # The figure's soft shadow on the floor, in fg_bg only.
  # 0: every foreground in every background (the original's product). k >= 1: each
  # background gets k foregrounds, the next k of the pool in turn (all of them if the
  # pool is no larger), so a pool of num_backgrounds x k foregrounds gives every sample
  # a person of its own.
  foregrounds_per_background: int = 0
  # The chance that a standing figure is first sought 1.3-3.2 m in front of the camera,
  # where it fills about half the picture's height and its feet may be cut off by the
  # bottom edge (0: never). Where no such place is free it stands anywhere.
  near_share: float = 0.0


def validate_spec(spec):
  """Raises ValueError naming the first field of `spec` outside its range."""
  for name in ('num_backgrounds', 'num_foregrounds', 'placements'):
    value = getattr(spec, name)
    if not _is_int(value) or value < 1:
      raise ValueError(f'SyntheticSpec.{name} must be an integer >= 1, got {value!r}')
  per_bg = spec.foregrounds_per_background
  if not _is_int(per_bg) or per_bg < 0:
    raise ValueError('SyntheticSpec.foregrounds_per_background must be an integer >= 0 '
                     f'(0: all), got {per_bg!r}')
  near = spec.near_share
  if not _is_number(near) or not 0 <= near <= 1:
    raise ValueError(f'SyntheticSpec.near_share must be a number in [0, 1], got {near!r}')
  if not _is_int(spec.flips) or spec.flips not in (1, 2):
    raise ValueError(f'SyntheticSpec.flips must be 1 or 2, got {spec.flips!r}')
  if not _is_int(spec.render_size) or not 16 <= spec.render_size <= 1024:
    raise ValueError('SyntheticSpec.render_size must be an integer between 16 and '
                     f'1024, got {spec.render_size!r}')
  if not _is_int(spec.seed) or spec.seed < 0:
    raise ValueError(f'SyntheticSpec.seed must be an integer >= 0, got {spec.seed!r}')
  for name in _LEVELS:
    value = getattr(spec, name)
    if not _is_number(value) or not math.isfinite(value) or value < 0:
      raise ValueError(f'SyntheticSpec.{name} must be a finite number >= 0 '
                       f'(0 turns it off), got {value!r}')


def _is_int(value):
  """True for Python and numpy integers, but not for bools."""
  return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value):
  """True for Python and numpy ints and floats, but not for bools."""
  return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def num_samples(spec):
  """The dataset size: backgrounds x foregrounds (per background) x flips x placements."""
  validate_spec(spec)
  return _num_samples(spec)


def _num_samples(spec):
  """num_samples for a spec known to be valid."""
  return spec.num_backgrounds * _foregrounds_each(spec) * spec.flips * spec.placements


def _foregrounds_each(spec):
  """How many foregrounds every background is paired with (at most the whole pool)."""
  return min(spec.foregrounds_per_background or spec.num_foregrounds, spec.num_foregrounds)


def sample_index_to_ids(spec, index):
  """Maps a sample index to (bg_id, fg_id, flip, placement), background-major.

  Consecutive indices share a background, so its cached render is reused.
  """
  validate_spec(spec)
  return _ids(spec, index)


def _ids(spec, index):
  """sample_index_to_ids for a spec known to be valid."""
  each, total = _foregrounds_each(spec), _num_samples(spec)
  if not _is_int(index) or not 0 <= index < total:
    raise IndexError(f'sample index {index!r} outside [0, {total})')
  index = int(index)
  index, placement = divmod(index, spec.placements)
  index, flip = divmod(index, spec.flips)
  bg_id, slot = divmod(index, each)
  fg_id = (bg_id * each + slot) % spec.num_foregrounds
  return bg_id, fg_id, flip, placement


def sample_name(spec, index):
  """The original dataset's name of a sample, e.g. 'fg003_bg012_05'."""
  validate_spec(spec)
  return _name(spec, *_ids(spec, index))


def _name(spec, bg_id, fg_id, flip, placement):
  """sample_name from the sample's ids."""
  return f'fg{fg_id:03d}_bg{bg_id:03d}_{flip * spec.placements + placement:02d}'


def background_name(bg_id):
  """The original dataset's name of a background image, e.g. 'img_012'."""
  return f'img_{bg_id:03d}'


def depth_to_nearness(depth_m):
  """Metres to uint8 nearness: inverse depth over [NEAR_M, FAR_M], 255 nearest."""
  depth_m = np.asarray(depth_m, np.float64)
  with np.errstate(divide='ignore'):
    inverse = 1.0 / depth_m
  scaled = 255.0 * (inverse - 1.0 / FAR_M) / (1.0 / NEAR_M - 1.0 / FAR_M)
  return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def nearness_to_depth(nearness):
  """uint8 nearness back to metres (the centre of each nearness step)."""
  nearness = np.asarray(nearness, np.float64)
  inverse = nearness / 255.0 * (1.0 / NEAR_M - 1.0 / FAR_M) + 1.0 / FAR_M
  return (1.0 / inverse).astype(np.float32)
