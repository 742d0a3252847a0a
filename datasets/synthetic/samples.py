"""Samples: a figure placed in a background, with capture nuisances; foregrounds alone."""
import math

import numpy as np

from datasets.synthetic import backgrounds
from datasets.synthetic import capture
from datasets.synthetic import figures
from datasets.synthetic import geometry
from datasets.synthetic import lighting
from datasets.synthetic import placement as placement_lib
from datasets.synthetic import spec as spec_lib

# pylint: disable=protected-access


def render_sample(spec, index):
  """Renders sample `index`: dict(bg, fg_bg, mask, depth, name, bg_name).

  `bg` and `fg_bg` are uint8 HxWx3 photos with the spec's capture nuisances;
  `mask` (uint8 HxWx1, 255 = figure) is the visible part of the figure in
  `fg_bg`; `depth` (uint8 HxWx1) is the nearness of `fg_bg`'s scene.
  """
  spec_lib.validate_spec(spec)
  ids = spec_lib._ids(spec, index)
  bg_id, fg_id, flip, placement_id = ids
  size, seed = spec.render_size, spec.seed
  scene = backgrounds._scene(seed, size, bg_id)
  figure = figures._figure(seed, fg_id, flip)
  rng = np.random.default_rng([seed, 2, bg_id, fg_id, flip, placement_id])
  # Every nuisance's random numbers are drawn whatever the levels, so changing
  # one level never changes another nuisance or the placement.
  exposure_draws = rng.choice([-1, 1]) * rng.uniform(0.03, 0.12), rng.normal(0, 0.03, 3)
  shift_draws = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.0)
  placement = placement_lib._place(scene, figure, rng, spec.near_share)

  mask = np.zeros((size, size), bool)
  depth_m = scene.depth_m
  fg_bg = scene.rgb
  if placement is not None:
    r0, r1, c0, c1 = placement.hits.window
    visible = placement.visible
    mask[r0:r1, c0:c1] = visible
    depth_m = depth_m.copy()
    depth_m[r0:r1, c0:c1][visible] = placement.hits.t[visible]
    colors = figures._figure_colors(figure, placement.hits, visible, scene.light)
    fg_bg = fg_bg.astype(np.float32)
    fg_bg[r0:r1, c0:c1][visible] = np.clip(colors, 0.0, 1.0) * 255.0
    if spec.shadow > 0:
      shade = capture._shadow_factor(scene, figure, placement, spec.shadow)
      shade[mask] = 1.0
      fg_bg *= shade[..., None]

  bg = scene.rgb
  if spec.shift > 0:
    # The camera moved between the two shots: bg is rendered a sub-pixel
    # away, so fg_bg, mask and depth keep sharing one exact camera.
    angle, fraction = shift_draws
    amount = 0.7 * spec.shift * fraction * backgrounds._SUPERSAMPLE
    dy, dx = (min(backgrounds._MARGIN, max(-backgrounds._MARGIN, round(amount * f(angle))))
              for f in (math.sin, math.cos))
    bg = backgrounds._downsample(scene.rgb_hi, size, dy, dx)
  if spec.exposure > 0:
    sign_gain, balance = exposure_draws
    fg_bg = fg_bg * np.exp(spec.exposure * (sign_gain + balance)).astype(np.float32)
  if spec.noise > 0:
    sigma = np.float32(2.5 * spec.noise)
    bg = bg + sigma * rng.standard_normal(bg.shape, np.float32)
    fg_bg = fg_bg + sigma * rng.standard_normal(fg_bg.shape, np.float32)
  bg, fg_bg = capture._to_uint8(bg), capture._to_uint8(fg_bg)
  if spec.jpeg > 0:
    quality = min(95, max(5, round(95 - 25 * spec.jpeg)))
    bg, fg_bg = capture._jpeg_round_trip([bg, fg_bg], quality)

  # Fresh arrays: the cached background is read-only.
  return dict(bg=np.array(bg), fg_bg=np.array(fg_bg),
              mask=mask.view(np.uint8)[..., None] * np.uint8(255),
              depth=spec_lib.depth_to_nearness(depth_m)[..., None],
              name=spec_lib._name(spec, *ids), bg_name=spec_lib.background_name(bg_id))


def render_foreground(spec, fg_id, flip=0):
  """Foreground `fg_id` alone, like the original's cut-outs: dict(rgb, mask).

  The figure faces a frontal camera, centred and filling most of a
  render_size square; `rgb` is black outside `mask` (uint8 HxWx1).
  """
  spec_lib.validate_spec(spec)
  if not spec_lib._is_int(fg_id) or not 0 <= fg_id < spec.num_foregrounds:
    raise IndexError(f'fg_id {fg_id!r} outside [0, {spec.num_foregrounds})')
  if flip not in range(spec.flips):
    raise IndexError(f'flip {flip!r} outside [0, {spec.flips})')
  figure = figures._figure(spec.seed, int(fg_id), int(flip))
  lo, hi = figure.bounds
  size = spec.render_size
  focal = size / 2 / math.tan(math.radians(15))
  distance = hi[2] + focal * (hi[1] - lo[1]) / (0.9 * size)
  # Looking along -z at the figure's front; symmetric in x, so flips mirror exactly.
  camera = geometry._Camera(origin=np.array([0.0, (lo[1] + hi[1]) / 2, distance]),
                            axes=np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]]),
                            focal=focal, size=size)
  light = lighting._Light(tint=np.ones(3), ambient=0.55, sun=0.0,
                          sun_dir=np.array([1.0, 0, 0]), window_x=0.0,
                          windows=np.zeros((0, 4)), lamp=0.6,
                          lamp_pos=np.array([0.0, hi[1] + 1.5, distance]))
  centres = np.arange(size) + 0.5
  hits = figures._cast_figure(camera, camera.rays(centres, centres), figure, 0.0, 0.0, 0.0)
  rgb = np.zeros((size, size, 3), np.uint8)
  mask = np.zeros((size, size), bool)
  if hits is not None:
    r0, r1, c0, c1 = hits.window
    visible = np.isfinite(hits.t)
    mask[r0:r1, c0:c1] = visible
    colors = figures._figure_colors(figure, hits, visible, light)
    rgb[r0:r1, c0:c1][visible] = capture._to_uint8(np.clip(colors, 0, 1) * 255.0)
  return dict(rgb=rgb, mask=mask.view(np.uint8)[..., None] * np.uint8(255))


def clear_caches():
  """Empties the background and figure caches (they are rebuilt on demand)."""
  backgrounds.render_background.cache_clear()
  backgrounds._scene.cache_clear()
  figures._figure.cache_clear()
