"""Procedurally rendered classroom scenes with exact masks and depth.

The embedded default data source (README, "The synthetic classroom"). It has
the combinatorics of the original 400K composited set, backgrounds x foregrounds x
{plain, flipped} x placements, but every image is ray cast here, so the ground
truth is exact:

* A background is a room seen through a pinhole camera: floor, walls, ceiling, a
  black- or whiteboard on the back wall, windows on a side wall, rows of desks
  and chairs (axis-aligned boxes). Textures, paint, lighting and the camera vary
  per background. It is rendered once (3x3 supersampled) and cached.
* A foreground is a person made of ellipsoids (a seated or standing student, or
  a standing teacher) with its own clothes, skin, hair and pose. The flipped
  variant is its mirror image (the 3D figure and its clothes pattern mirrored).
* A placement puts the figure on the floor (or on a chair) somewhere in view and
  ray casts it in the same camera, z-buffered against the room, so desks in
  front hide it. The mask is its visible part; the depth is the true z-depth.

`fg_bg` and `bg` then get capture nuisances a real pair of photos has (exposure
and white balance, sensor noise, JPEG, a sub-pixel camera shift, the figure's
shadow), each with a level where 0 turns it off. Labels stay exact: mask and
depth always describe `fg_bg`'s camera and geometry.

Only numpy and pillow; everything is deterministic from `SyntheticSpec.seed`,
whatever the order of calls or the process.

    spec = SyntheticSpec(num_backgrounds=100, num_foregrounds=100, placements=20)
    num_samples(spec)                    # 400_000, background-major order
    sample = render_sample(spec, 12345)  # bg, fg_bg, mask, depth, name, bg_name
    contact_sheet([sample], '/tmp/preview.png')

Depth is stored as nearness: `depth_to_nearness` and `nearness_to_depth` convert
between metres and uint8 over the fixed range [NEAR_M, FAR_M].
"""
import colorsys
import dataclasses
import functools
import io
import math

import numpy as np
from PIL import Image
from PIL import ImageDraw

# Depth is stored as nearness: inverse depth over this fixed range, 255 nearest.
NEAR_M = 1.0
FAR_M = 15.0

_SUPERSAMPLE = 3  # Background supersampling per axis; odd, so one subsample is the pixel centre.
_MARGIN = 3  # Extra subsamples around the background, room for shifts of up to 1 px.
_MIN_MASK_FRACTION = 0.005  # Placements whose visible figure is smaller are retried.
_PLACEMENT_TRIES = 24
_NEAR_PROPOSALS = 3  # Rounds of close candidates before a close figure may stand anywhere.
_EXPOSURE_PREVIEW = 48  # The (size-independent) render auto-exposure is measured on.

_FLOOR, _CEILING, _LEFT, _RIGHT, _BACK = range(5)
_FIRST_BOX = 5  # Face ids from here on are boxes (desks, chairs, furniture).

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


# ----------------------------------------------------------------------------
# Geometry.


@dataclasses.dataclass(frozen=True, eq=False)
class _Camera:
  """A pinhole camera; ray directions have a forward component of exactly 1."""
  origin: np.ndarray  # (3,) world position.
  axes: np.ndarray  # (3, 3) rows: right, up, forward, in world coordinates.
  focal: float  # Pixels.
  size: int  # The image is size x size pixels; pixel i spans [i, i + 1).

  def rays(self, us, vs):
    """World directions through image points (columns `us`, rows `vs`)."""
    x = (np.asarray(us, np.float64) - self.size / 2) / self.focal
    y = (self.size / 2 - np.asarray(vs, np.float64)) / self.focal
    return (x[None, :, None] * self.axes[0] + y[:, None, None] * self.axes[1] +
            self.axes[2])

  def project(self, points):
    """Image column, row and z-depth of world `points` (N, 3)."""
    rel = points - self.origin
    z = rel @ self.axes[2]
    u = self.size / 2 + self.focal * (rel @ self.axes[0]) / z
    v = self.size / 2 - self.focal * (rel @ self.axes[1]) / z
    return u, v, z


def _look_axes(yaw, pitch):
  """Camera axes for a heading `yaw` (about +y) and a downward `pitch`."""
  forward = np.array([math.sin(yaw) * math.cos(pitch), -math.sin(pitch),
                      math.cos(yaw) * math.cos(pitch)])
  right = np.array([math.cos(yaw), 0.0, -math.sin(yaw)])
  return np.stack([right, np.cross(forward, right), forward])


def _yaw_matrix(yaw):
  """Rotation about +y taking +z (a figure's front) to (sin yaw, 0, cos yaw)."""
  c, s = math.cos(yaw), math.sin(yaw)
  return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(angle):
  """Rotation about +x; positive angles tip +y towards +z (forwards)."""
  c, s = math.cos(angle), math.sin(angle)
  return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _box_corners(lo, hi):
  """The 8 corners of an axis-aligned box."""
  return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                   for z in (lo[2], hi[2])])


def _pixel_window(us, vs, u, v, z):
  """Index ranges of grid `us` x `vs` covering projected points, or None."""
  if np.any(z <= 1e-6):
    return 0, len(vs), 0, len(us)
  c0, c1 = np.searchsorted(us, [u.min(), u.max()])
  r0, r1 = np.searchsorted(vs, [v.min(), v.max()])
  if c0 >= c1 or r0 >= r1:
    return None
  return r0, r1, c0, c1


def _trace_room(origin, dirs, room):
  """Ray casts the inside of the room box: z-depth and face id per ray."""
  half_w, depth, height = room['width'] / 2, room['depth'], room['height']
  with np.errstate(divide='ignore', invalid='ignore'):
    tx = np.where(dirs[..., 0] > 0, half_w - origin[0], -half_w - origin[0])
    tx = np.abs(tx / dirs[..., 0])
    ty = np.abs(np.where(dirs[..., 1] > 0, height - origin[1], -origin[1]) /
                dirs[..., 1])
    tz = (depth - origin[2]) / dirs[..., 2]
  ts = np.stack([np.nan_to_num(tx, nan=np.inf), np.nan_to_num(ty, nan=np.inf),
                 np.where(tz > 0, tz, np.inf)], -1)
  axis = ts.argmin(-1)
  t = np.take_along_axis(ts, axis[..., None], -1)[..., 0]
  face = np.where(axis == 0, np.where(dirs[..., 0] < 0, _LEFT, _RIGHT),
                  np.where(axis == 1, np.where(dirs[..., 1] > 0, _CEILING, _FLOOR),
                           _BACK))
  return t, face


def _trace_boxes(camera, us, vs, dirs, t, face, lo, hi):
  """Slab-method ray casting of boxes into the depth/face buffers, in place.

  Only the rays inside each box's projected bounding rectangle are tested.
  """
  origin = camera.origin
  for k in range(len(lo)):
    window = _pixel_window(us, vs, *camera.project(_box_corners(lo[k], hi[k])))
    if window is None:
      continue
    r0, r1, c0, c1 = window
    d = dirs[r0:r1, c0:c1]
    with np.errstate(divide='ignore', invalid='ignore'):
      inv = 1.0 / d
      t1 = (lo[k] - origin) * inv
      t2 = (hi[k] - origin) * inv
    near = np.minimum(t1, t2).max(-1)
    far = np.maximum(t1, t2).min(-1)
    tw = t[r0:r1, c0:c1]
    hit = (far >= near) & (near > 0) & (near < tw)
    tw[hit] = near[hit]
    face[r0:r1, c0:c1][hit] = _FIRST_BOX + k


def _box_normals(points, ids, lo, hi):
  """Outward normals of box hits: the face nearest to each hit point."""
  gaps = np.concatenate([np.abs(points - lo[ids]), np.abs(points - hi[ids])], -1)
  side = gaps.argmin(-1)
  normals = np.zeros_like(points)
  normals[np.arange(len(points)), side % 3] = np.where(side < 3, -1.0, 1.0)
  return normals


def _value_noise(grid, u, v):
  """Smooth tileable value noise in [0, 1] from a random `grid`, at (u, v)."""
  n = grid.shape[0]
  u0, v0 = np.floor(u), np.floor(v)
  fu, fv = u - u0, v - v0
  fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
  i0, j0 = u0.astype(np.int64) % n, v0.astype(np.int64) % n
  i1, j1 = (i0 + 1) % n, (j0 + 1) % n
  top = grid[i0, j0] * (1 - fu) + grid[i1, j0] * fu
  bottom = grid[i0, j1] * (1 - fu) + grid[i1, j1] * fu
  return top * (1 - fv) + bottom * fv


def _hashed(table, i, j):
  """A random value per integer cell (i, j), from a square random `table`."""
  n = table.shape[0]
  return table[np.asarray(i, np.int64) % n, np.asarray(j, np.int64) % n]


# ----------------------------------------------------------------------------
# Lighting: ambient, sunlight through the windows, one ceiling lamp.


@dataclasses.dataclass(frozen=True, eq=False)
class _Light:
  """How a room is lit; figures placed in it are lit the same way."""
  tint: np.ndarray  # (3,) colour temperature of the room light.
  ambient: float
  sun: float
  sun_dir: np.ndarray  # (3,) unit direction the sunlight travels.
  window_x: float  # The plane of the window wall.
  windows: np.ndarray  # (n, 4) z0, z1, y0, y1 of each window opening.
  lamp: float
  lamp_pos: np.ndarray  # (3,)
  gain: float = 1.0  # Auto-exposure.


def _shade(light, points, normals):
  """Irradiance factor (N,) at `points` with unit `normals` (both (N, 3))."""
  s = light.sun_dir
  sunlit = np.zeros(len(points), bool)
  if light.sun > 0 and len(light.windows):
    # Follow each point back towards the sun; lit if that passes a window.
    lam = (points[:, 0] - light.window_x) / s[0]
    qy = points[:, 1] - lam * s[1]
    qz = points[:, 2] - lam * s[2]
    for z0, z1, y0, y1 in light.windows:
      sunlit |= (qz > z0) & (qz < z1) & (qy > y0) & (qy < y1)
    sunlit &= lam > 0
  sun = light.sun * sunlit * np.clip(-(normals @ s), 0.0, None)
  to_lamp = light.lamp_pos - points
  dist = np.sqrt((to_lamp * to_lamp).sum(-1))
  lamp = light.lamp * np.clip((normals * to_lamp).sum(-1) / dist, 0.0, None)
  lamp /= 1.0 + (dist / 4.0) ** 2
  return light.gain * (light.ambient + sun + lamp)


def _lit(light, albedo, shade):
  """Reflected colour (N, 3) of `albedo` (N, 3) under irradiance `shade` (N,)."""
  return albedo * shade[:, None] * light.tint


# ----------------------------------------------------------------------------
# Backgrounds.

_PAINTS = np.array([
    [0.93, 0.90, 0.82], [0.95, 0.94, 0.89], [0.85, 0.90, 0.80],
    [0.82, 0.88, 0.93], [0.96, 0.91, 0.72], [0.93, 0.84, 0.79],
    [0.86, 0.86, 0.87], [0.90, 0.86, 0.94]])
_DADOS = np.array([
    [0.45, 0.58, 0.48], [0.40, 0.50, 0.66], [0.66, 0.56, 0.42],
    [0.56, 0.56, 0.60], [0.62, 0.40, 0.36]])
_WOODS = np.array([
    [0.72, 0.52, 0.32], [0.60, 0.42, 0.26], [0.80, 0.64, 0.44],
    [0.52, 0.36, 0.24]])
_TILES = np.array([
    [0.82, 0.82, 0.80], [0.70, 0.72, 0.70], [0.80, 0.76, 0.68],
    [0.55, 0.58, 0.60], [0.62, 0.54, 0.50]])
_LINOS = np.array([
    [0.50, 0.60, 0.55], [0.60, 0.54, 0.48], [0.48, 0.54, 0.66],
    [0.70, 0.66, 0.58]])
_BOARDS = np.array([[0.10, 0.24, 0.17], [0.12, 0.14, 0.13], [0.07, 0.19, 0.21]])
_DESK_TOPS = np.array([
    [0.82, 0.68, 0.48], [0.70, 0.54, 0.36], [0.86, 0.85, 0.80],
    [0.78, 0.80, 0.76]])
_METALS = np.array([[0.22, 0.22, 0.24], [0.58, 0.59, 0.61], [0.16, 0.28, 0.52]])
_CHAIRS = np.array([
    [0.15, 0.35, 0.72], [0.72, 0.16, 0.12], [0.92, 0.52, 0.10],
    [0.20, 0.52, 0.30], [0.30, 0.30, 0.33], [0.72, 0.55, 0.35]])
_INKS = np.array([[0.10, 0.12, 0.45], [0.08, 0.08, 0.09], [0.60, 0.10, 0.10]])


def _pick(rng, palette, jitter=0.04):
  """A palette colour with a small random brightness change."""
  return np.clip(palette[rng.integers(len(palette))] * rng.uniform(
      1 - jitter, 1 + jitter), 0, 1)


def _random_color(rng, saturation=(0.3, 0.9), value=(0.3, 0.9)):
  """A colour of random hue, saturation and value within the given ranges."""
  return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation),
                                      rng.uniform(*value)))


def _room_params(seed, bg_id):
  """Every random choice of one background: room, camera, decor, furniture, light."""
  rng = np.random.default_rng([seed, 0, bg_id])
  room = dict(width=rng.uniform(7.0, 9.5), depth=rng.uniform(8.0, 10.5),
              height=rng.uniform(2.8, 3.4))
  width = room['width']
  cam_x = rng.uniform(-0.2, 0.2) * width
  # The camera stands among the back rows (those behind it are out of view),
  # turned a little towards the middle of the room.
  camera = dict(origin=np.array([cam_x, rng.uniform(1.7, 2.3), rng.uniform(1.2, 2.6)]),
                yaw=-cam_x / width * rng.uniform(0.2, 0.5) + rng.uniform(-0.06, 0.06),
                pitch=math.radians(rng.uniform(9, 16)),
                hfov=math.radians(rng.uniform(52, 64)))
  window_side = int(rng.choice([-1, 1]))  # -1: windows on the left wall.
  floor_kind = str(rng.choice(['wood', 'tiles', 'lino']))
  floor = dict(kind=floor_kind, table=rng.uniform(size=(64, 64)),
               grain=rng.uniform(size=(32, 32)),
               plank=rng.uniform(0.12, 0.2), plank_len=rng.uniform(1.2, 2.2),
               tile=rng.uniform(0.3, 0.6), checker=rng.uniform() < 0.4,
               color=_pick(rng, dict(wood=_WOODS, tiles=_TILES, lino=_LINOS)[floor_kind]),
               color2=_pick(rng, _TILES) * 0.8, grout=_pick(rng, _TILES) * 0.6)
  walls = dict(paint=_pick(rng, _PAINTS, 0.03), dado=_pick(rng, _DADOS),
               dado_h=rng.uniform(0.9, 1.2) if rng.uniform() < 0.5 else 0.0,
               skirting=_pick(rng, _WOODS) * 0.6, noise=rng.uniform(size=(32, 32)))
  ceiling = dict(color=np.array([0.93, 0.93, 0.91]) * rng.uniform(0.95, 1.0),
                 tile=rng.uniform(0.58, 0.62))
  # Wall decor: painter's-order primitives in wall coordinates (u, v), that is
  # (x, y) on the back wall, (z, y) on the side walls and (x, z) on the ceiling.
  window_decor, windows = _window_decor(rng, room, window_side)
  decor = (_board_decor(rng, room) + window_decor + _door_wall_decor(rng, room, window_side)
           + _lamp_decor(rng, room))
  boxes, materials, seats, footprints = _furniture(rng, room, camera, window_side)
  return dict(room=room, camera=camera, floor=floor, walls=walls, ceiling=ceiling,
              decor=decor, boxes=boxes, materials=materials, seats=seats,
              footprints=footprints, light=_room_light(rng, room, window_side, windows),
              brightness=rng.uniform(0.45, 0.56))


def _board_decor(rng, room):
  """The black- or whiteboard with writing, a clock and posters: back wall."""
  board_w, board_h = rng.uniform(3.0, 4.4), rng.uniform(1.1, 1.3)
  board_x, board_y = rng.uniform(-0.6, 0.6), rng.uniform(0.85, 1.0)
  whiteboard = rng.uniform() < 0.4
  frame = np.array([0.75, 0.76, 0.78]) if whiteboard else _pick(rng, _WOODS)
  u0, u1, v0, v1 = board_x - board_w / 2, board_x + board_w / 2, board_y, board_y + board_h
  surface = np.array([0.93, 0.94, 0.94]) if whiteboard else _pick(rng, _BOARDS)
  ink = _pick(rng, _INKS) if whiteboard else np.array([0.80, 0.82, 0.80])
  decor = [
      ('rect', _BACK, u0 - 0.06, u1 + 0.06, v0 - 0.06, v1 + 0.06, frame),
      ('rect', _BACK, u0, u1, v0, v1, surface),
      ('text', _BACK, u0 + 0.1, u1 - 0.1, v0 + 0.1, v1 - 0.1,
       _board_text(rng, u1 - u0 - 0.2, v1 - v0 - 0.2), ink),
      ('rect', _BACK, u0 - 0.08, u1 + 0.08, v0 - 0.1, v0 - 0.04, frame),  # Tray.
  ]
  clock_x = board_x + rng.choice([-1, 1]) * rng.uniform(0, board_w / 2)
  decor.append(('disc', _BACK, clock_x, v1 + 0.45, 0.18, np.array([0.1, 0.1, 0.1])))
  decor.append(('disc', _BACK, clock_x, v1 + 0.45, 0.15, np.array([0.95, 0.95, 0.93])))
  for _ in range(rng.integers(0, 3)):  # Posters beside the board.
    px = rng.choice([-1, 1]) * rng.uniform(board_w / 2 + 0.5, room['width'] / 2 - 0.6)
    pw, ph, py = rng.uniform(0.4, 0.8), rng.uniform(0.5, 0.9), rng.uniform(1.2, 1.6)
    decor.append(('rect', _BACK, px - pw / 2, px + pw / 2, py, py + ph,
                  _random_color(rng, value=(0.6, 1.0))))
    decor.append(('rect', _BACK, px - pw / 3, px + pw / 3, py + ph * 0.45,
                  py + ph * 0.85, _random_color(rng)))
  return decor


def _window_decor(rng, room, window_side):
  """Windows with frames and a view of sky and trees on one side wall.

  Returns the decor and the window openings (z0, z1, y0, y1) for sunlight.
  """
  wall = _LEFT if window_side < 0 else _RIGHT
  count, width = rng.integers(3, 5), rng.uniform(1.2, 1.7)
  y0, y1 = rng.uniform(0.85, 1.0), min(rng.uniform(2.3, 2.6), room['height'] - 0.25)
  frame = _pick(rng, np.array([[0.92, 0.92, 0.90], [0.55, 0.56, 0.58],
                               [0.50, 0.34, 0.22]]))
  sky = dict(top=np.array([0.62, 0.78, 0.98]) * rng.uniform(0.95, 1.1),
             bottom=np.array([0.90, 0.94, 0.98]),
             trees=rng.uniform(0.0, 0.45), noise=rng.uniform(size=(32, 32)),
             tree_color=np.array([0.22, 0.38, 0.20]) * rng.uniform(0.8, 1.3))
  decor, windows = [], []
  for zc in np.linspace(1.6, room['depth'] - 1.4, count):
    z0, z1 = zc - width / 2, zc + width / 2
    ym = y0 + 0.65 * (y1 - y0)
    windows.append((z0, z1, y0, y1))
    decor += [('rect', wall, z0 - 0.07, z1 + 0.07, y0 - 0.1, y1 + 0.06, frame),
              ('glass', wall, z0, z1, y0, y1, sky),
              ('rect', wall, zc - 0.03, zc + 0.03, y0, y1, frame),
              ('rect', wall, z0, z1, ym - 0.03, ym + 0.03, frame)]
  return decor, np.array(windows)


def _door_wall_decor(rng, room, window_side):
  """A door near the board and a notice board, on the wall facing the windows."""
  wall, depth = (_RIGHT if window_side < 0 else _LEFT), room['depth']
  door_z = depth - rng.uniform(0.6, 1.4)
  door = _pick(rng, np.array([[0.55, 0.36, 0.22], [0.62, 0.64, 0.66],
                              [0.30, 0.45, 0.62]]))
  decor = [('rect', wall, door_z - 0.55, door_z + 0.55, 0.0, 2.2, door * 0.7),
           ('rect', wall, door_z - 0.47, door_z + 0.47, 0.0, 2.12, door),
           ('rect', wall, door_z - 0.25, door_z + 0.25, 1.3, 1.9,
            np.array([0.35, 0.42, 0.48]))]
  cork_z, cork_w = rng.uniform(1.5, max(1.6, depth - 4.5)), rng.uniform(1.2, 2.4)
  decor.append(('rect', wall, cork_z, cork_z + cork_w, 1.1, 2.1,
                np.array([0.66, 0.50, 0.32])))
  for _ in range(rng.integers(3, 8)):  # Notes pinned to it.
    pz, py = rng.uniform(cork_z + 0.1, cork_z + cork_w - 0.3), rng.uniform(1.2, 1.7)
    decor.append(('rect', wall, pz, pz + rng.uniform(0.15, 0.3), py,
                  py + rng.uniform(0.2, 0.35), _random_color(rng, (0.0, 0.5), (0.8, 1.0))))
  return decor


def _lamp_decor(rng, room):
  """A grid of glowing ceiling panels."""
  rows, cols = rng.integers(2, 4), rng.integers(2, 4)
  decor = []
  for i in range(rows):
    z = (i + 1) * room['depth'] / (rows + 1)
    for j in range(cols):
      x = (j + 1) * room['width'] / (cols + 1) - room['width'] / 2
      decor.append(('lamp', _CEILING, x - 0.3, x + 0.3, z - 0.6, z + 0.6, None))
  return decor


def _room_light(rng, room, window_side, windows):
  """Colour temperature, ambient level, sunlight direction, the ceiling lamp."""
  warm = rng.uniform(-1, 1)
  tint = np.array([1 + 0.10 * warm, 1.0, 1 - 0.12 * warm])
  sun_dir = np.array([-window_side * rng.uniform(0.6, 1.2), -rng.uniform(0.5, 1.0),
                      rng.uniform(-0.5, 0.5)])
  return _Light(tint=tint / tint.mean(), ambient=rng.uniform(0.45, 0.65),
                sun=rng.uniform(0.0, 0.6) if rng.uniform() < 0.8 else 0.0,
                sun_dir=sun_dir / np.linalg.norm(sun_dir),
                window_x=window_side * room['width'] / 2, windows=windows,
                lamp=rng.uniform(0.2, 0.5),
                lamp_pos=np.array([rng.uniform(-1, 1), room['height'] - 0.1,
                                   room['depth'] * rng.uniform(0.3, 0.7)]))


def _board_text(rng, width, height, cell=0.035):
  """A bitmap of chalk or marker 'handwriting' lines for the board."""
  rows, cols = max(1, int(height / cell)), max(1, int(width / cell))
  bitmap = np.zeros((rows, cols), bool)
  line = int(rng.integers(1, 3))
  while line + 2 < rows:
    c = int(rng.integers(0, max(1, cols // 6)))
    end = int(rng.integers(cols // 3, cols)) if rng.uniform() < 0.85 else 0
    while c < end:
      word = int(rng.integers(2, 8))
      bitmap[line:line + 2, c:min(c + word, end)] = rng.uniform(
          size=(2, max(0, min(c + word, end) - c))) < 0.6
      c += word + 1
    line += int(rng.integers(4, 6))
  return bitmap


class _Boxes:
  """Furniture as axis-aligned boxes, each with an albedo and a wood flag."""

  def __init__(self):
    self.lo, self.hi, self.colors, self.wood = [], [], [], []

  def add(self, lo, hi, color, wood=False):
    """Adds the box from corner `lo` to corner `hi`."""
    self.lo.append(lo)
    self.hi.append(hi)
    self.colors.append(color)
    self.wood.append(wood)


def _furniture(rng, room, camera, window_side):
  """Rows of desks with chairs, a teacher's desk and a cabinet, as boxes.

  Returns (boxes (lo, hi) arrays, per-box materials (albedo, is_wood) arrays,
  chair seats (x, z, height) students can sit on, floor footprints
  (x0, x1, z0, z1) standing figures must keep clear of).
  """
  boxes = _Boxes()
  seats, footprints = _desk_rows(rng, room, camera, boxes)
  width, depth = room['width'], room['depth']
  # The teacher's desk, near the board.
  tx = rng.choice([-1, 1]) * rng.uniform(1.0, width / 2 - 1.2)
  tz = depth - rng.uniform(1.4, 1.8)
  wood = _pick(rng, _WOODS)
  boxes.add([tx - 0.75, 0.72, tz - 0.4], [tx + 0.75, 0.77, tz + 0.4], wood, True)
  boxes.add([tx - 0.72, 0.0, tz - 0.3], [tx + 0.72, 0.72, tz + 0.38], wood * 0.85, True)
  footprints.append((tx - 0.75, tx + 0.75, tz - 0.4, tz + 0.4))
  # A cabinet against the wall opposite the windows.
  length, height = rng.uniform(1.0, 2.0), rng.uniform(0.9, 2.0)
  z0 = rng.uniform(1.5, max(1.6, depth - 4.0))
  wall_x = -window_side * width / 2
  x0, x1 = sorted([wall_x, wall_x + window_side * 0.45])
  color = _pick(rng, np.vstack([_WOODS, _METALS[1:2], [[0.85, 0.85, 0.82]]]))
  boxes.add([x0, 0.0, z0], [x1, height, z0 + length], color, bool(rng.uniform() < 0.5))
  footprints.append((x0, x1, z0, z0 + length))
  return ((np.array(boxes.lo, np.float64), np.array(boxes.hi, np.float64)),
          (np.array(boxes.colors), np.array(boxes.wood)), seats, np.array(footprints))


def _desk_rows(rng, room, camera, boxes):
  """Adds rows of double desks, each with two chairs on the camera side.

  Students face the board (+z), so a chair stands in front of (nearer the
  camera than) its desk. Returns the seats and the footprints.
  """
  top_color, metal = _pick(rng, _DESK_TOPS), _pick(rng, _METALS)
  top_wood = bool(rng.uniform() < 0.6)
  chair_index = rng.integers(len(_CHAIRS))
  chair_color = _CHAIRS[chair_index] * rng.uniform(0.96, 1.04)
  chair_wood = bool(chair_index == len(_CHAIRS) - 1)
  desk_w, desk_d = rng.uniform(1.0, 1.3), rng.uniform(0.5, 0.6)
  desk_h, seat_h = rng.uniform(0.72, 0.78), rng.uniform(0.42, 0.46)
  span = room['width'] - 1.8
  cols = int(rng.integers(3, 5))
  while cols > 2 and cols * desk_w + (cols - 1) * 0.55 > span:
    cols -= 1
  gap = (span - cols * desk_w) / (cols - 1)
  pitch = rng.uniform(1.15, 1.35)
  front = room['depth'] - rng.uniform(2.3, 2.9)  # Far edge of the first row.
  seats, footprints = [], []
  for r in range(int(rng.integers(3, 6))):
    z0 = front - desk_d - r * pitch
    if z0 - 0.5 < camera['origin'][2] + 1.0:
      break  # The rows behind the camera are not in view.
    for c in range(cols):
      if rng.uniform() < 0.08:
        continue  # A missing desk now and then.
      x = -span / 2 + desk_w / 2 + c * (desk_w + gap)
      x0, x1, z1 = x - desk_w / 2, x + desk_w / 2, z0 + desk_d
      boxes.add([x0, desk_h - 0.035, z0], [x1, desk_h, z1], top_color, top_wood)
      for lx in (x0 + 0.03, x1 - 0.07):
        for lz in (z0 + 0.03, z1 - 0.07):
          boxes.add([lx, 0.0, lz], [lx + 0.04, desk_h - 0.035, lz + 0.04], metal)
      footprints.append((x0, x1, z0, z1))
      for side in (-1, 1):
        if rng.uniform() < 0.1:
          continue  # An empty place without a chair.
        cx, cz = x + side * desk_w / 4, z0 - 0.24
        boxes.add([cx - 0.2, seat_h - 0.03, cz - 0.2], [cx + 0.2, seat_h, cz + 0.2],
                  chair_color, chair_wood)
        boxes.add([cx - 0.2, seat_h + 0.12, cz - 0.23],
                  [cx + 0.2, seat_h + 0.42, cz - 0.19], chair_color, chair_wood)
        for lx in (cx - 0.19, cx + 0.16):
          boxes.add([lx, 0.0, cz + 0.16], [lx + 0.03, seat_h - 0.03, cz + 0.19], metal)
          boxes.add([lx, 0.0, cz - 0.22], [lx + 0.03, seat_h + 0.42, cz - 0.19], metal)
        seats.append((cx, cz, seat_h))
        footprints.append((cx - 0.22, cx + 0.22, cz - 0.24, cz + 0.22))
  return seats, footprints


def _make_camera(params, size):
  """The background's camera for a size x size image."""
  cam = params['camera']
  focal = size / 2 / math.tan(cam['hfov'] / 2)
  return _Camera(origin=cam['origin'], axes=_look_axes(cam['yaw'], cam['pitch']),
                 focal=focal, size=size)


def _surface_albedo(params, points, face):
  """Albedo (N, 3), emission (N, 3) and an is-emissive flag (N,) of hits."""
  albedo = np.zeros((len(points), 3))
  x, y, z = points[:, 0], points[:, 1], points[:, 2]
  idx = np.flatnonzero(face == _FLOOR)
  albedo[idx] = _floor_albedo(params['floor'], x[idx], z[idx])
  for wall in (_LEFT, _RIGHT, _BACK):
    idx = np.flatnonzero(face == wall)
    u = x[idx] if wall == _BACK else z[idx] + 50.0 * (wall == _RIGHT)
    albedo[idx] = _wall_albedo(params['walls'], u, y[idx])
  idx = np.flatnonzero(face == _CEILING)
  ceiling = params['ceiling']
  fx, fz = np.mod(x[idx] / ceiling['tile'], 1.0), np.mod(z[idx] / ceiling['tile'], 1.0)
  grid = (np.minimum(fx, 1 - fx) < 0.02) | (np.minimum(fz, 1 - fz) < 0.02)
  albedo[idx] = ceiling['color'] * np.where(grid, 0.85, 1.0)[:, None]
  idx = np.flatnonzero(face >= _FIRST_BOX)
  colors, wood = params['materials']
  box = face[idx] - _FIRST_BOX
  grain = _value_noise(params['floor']['grain'], x[idx] * 3.0 + z[idx] * 0.5,
                       (z[idx] + y[idx]) * 40.0)
  albedo[idx] = colors[box] * np.where(wood[box], 0.88 + 0.24 * grain, 1.0)[:, None]
  emission, emissive = _paint_decor(params['decor'], points, face, albedo)
  return albedo, emission, emissive


def _wall_albedo(walls, u, y):
  """Paint with a faint mottle, an optional darker dado, a skirting board."""
  mottle = _value_noise(walls['noise'], u * 1.5, y * 1.5)
  color = np.where((y < walls['dado_h'])[:, None], walls['dado'], walls['paint'])
  color = color * (0.96 + 0.08 * mottle)[:, None]
  return np.where((y < 0.1)[:, None], walls['skirting'], color)


def _paint_decor(decor, points, face, albedo):
  """Paints the decor items into `albedo` in order; returns their emission."""
  emission = np.zeros_like(albedo)
  emissive = np.zeros(len(points), bool)
  for item in decor:
    kind, wall = item[0], item[1]
    idx = np.flatnonzero(face == wall)
    axes = {_BACK: (0, 1), _CEILING: (0, 2)}.get(wall, (2, 1))
    u, v = points[idx, axes[0]], points[idx, axes[1]]
    if kind == 'disc':
      _, _, cu, cv, radius, color = item
      albedo[idx[(u - cu) ** 2 + (v - cv) ** 2 < radius ** 2]] = color
      continue
    u0, u1, v0, v1, payload = item[2:7]
    inside = (u > u0) & (u < u1) & (v > v0) & (v < v1)
    sel, u, v = idx[inside], u[inside], v[inside]
    if kind == 'rect':
      albedo[sel] = payload
    elif kind == 'text':  # payload: a bitmap of the writing; item[7]: the ink.
      rows = ((v1 - v) / (v1 - v0) * payload.shape[0]).astype(np.int64)
      cols = ((u - u0) / (u1 - u0) * payload.shape[1]).astype(np.int64)
      on = sel[payload[np.minimum(rows, payload.shape[0] - 1),
                       np.minimum(cols, payload.shape[1] - 1)]]
      albedo[on] = albedo[on] * 0.35 + item[7] * 0.65
    elif kind == 'glass':  # payload: the sky (and tree tops) seen outside.
      h = (v - v0) / (v1 - v0)
      color = payload['bottom'] * (1 - h[:, None]) + payload['top'] * h[:, None]
      trees = payload['trees'] * (0.6 + 0.8 * _value_noise(payload['noise'], u * 2.0, 0 * u))
      emission[sel] = np.where((h < trees)[:, None], payload['tree_color'], color)
      emissive[sel] = True
    elif kind == 'lamp':
      emission[sel] = np.array([1.0, 1.0, 0.97])
      emissive[sel] = True
  return emission, emissive


def _floor_albedo(floor, x, z):
  """Wood planks, tiles or speckled linoleum at floor points (x, z)."""
  kind, table = floor['kind'], floor['table']
  if kind == 'wood':
    plank = np.floor(x / floor['plank'])
    shifted = z + _hashed(table, plank, 7) * floor['plank_len']
    piece = np.floor(shifted / floor['plank_len'])
    tone = 0.85 + 0.3 * _hashed(table, plank, piece)
    grain = 0.9 + 0.2 * _value_noise(floor['grain'], x * 30.0, z * 2.0)
    fx = np.mod(x / floor['plank'], 1.0)
    fz = np.mod(shifted / floor['plank_len'], 1.0)
    seam = np.where((fx < 0.06) | (fz < 0.01), 0.7, 1.0)
    return floor['color'] * (tone * grain * seam)[:, None]
  if kind == 'tiles':
    size = floor['tile']
    ti, tj = np.floor(x / size), np.floor(z / size)
    checker = floor['checker'] & ((ti + tj) % 2 == 1)
    color = np.where(checker[:, None], floor['color2'], floor['color'])
    color = color * (0.95 + 0.1 * _hashed(table, ti, tj))[:, None]
    fx, fz = np.mod(x / size, 1.0), np.mod(z / size, 1.0)
    grout = (np.minimum(fx, 1 - fx) < 0.03) | (np.minimum(fz, 1 - fz) < 0.03)
    return np.where(grout[:, None], floor['grout'], color)
  tone = 0.9 + 0.2 * _value_noise(floor['grain'], x * 1.5, z * 1.5)
  speckle = 0.92 + 0.16 * _hashed(table, np.floor(x / 0.03), np.floor(z / 0.03))
  return floor['color'] * (tone * speckle)[:, None]


def _render_room(params, camera, us, vs, light):
  """Ray casts the room on a grid: RGB in [0, 1] (h, w, 3), z-depth, face ids."""
  dirs = camera.rays(us, vs)
  t, face = _trace_room(camera.origin, dirs, params['room'])
  lo, hi = params['boxes']
  _trace_boxes(camera, us, vs, dirs, t, face, lo, hi)
  shape = t.shape
  points = (camera.origin + t[..., None] * dirs).reshape(-1, 3)
  face_flat = face.reshape(-1)
  normals = np.zeros_like(points)
  normals[face_flat == _FLOOR, 1] = 1.0
  normals[face_flat == _CEILING, 1] = -1.0
  normals[face_flat == _LEFT, 0] = 1.0
  normals[face_flat == _RIGHT, 0] = -1.0
  normals[face_flat == _BACK, 2] = -1.0
  boxes = np.flatnonzero(face_flat >= _FIRST_BOX)
  normals[boxes] = _box_normals(points[boxes], face_flat[boxes] - _FIRST_BOX, lo, hi)
  albedo, emission, emissive = _surface_albedo(params, points, face_flat)
  rgb = _lit(light, albedo, _shade(light, points, normals))
  # Furniture sits in the soft shade of its own footprint (cheap ambient occlusion).
  rgb *= _floor_occlusion(params, points, face_flat)[:, None]
  rgb = np.where(emissive[:, None], emission, rgb)
  return rgb.reshape(shape + (3,)), t, face


def _floor_occlusion(params, points, face):
  """Darkening of the floor under and right around furniture."""
  factor = np.ones(len(points))
  idx = np.flatnonzero(face == _FLOOR)
  x, z = points[idx, 0], points[idx, 2]
  for x0, x1, z0, z1 in params['footprints']:
    dx = np.maximum(np.maximum(x0 - x, x - x1), 0.0)
    dz = np.maximum(np.maximum(z0 - z, z - z1), 0.0)
    factor[idx] *= 1.0 - 0.35 * np.exp(-(dx * dx + dz * dz) / 0.02)
  return factor


@dataclasses.dataclass(frozen=True, eq=False)
class _Scene:
  """A rendered background plus what placing figures in it needs."""
  params: dict
  camera: _Camera
  light: _Light
  rgb_hi: np.ndarray  # (S*size + 2*margin)^2 x 3 uint8 supersampled render.
  rgb: np.ndarray  # size x size x 3 uint8, the clean background.
  depth_m: np.ndarray  # size x size float32 z-depth at pixel centres.
  dirs: np.ndarray  # size x size x 3 ray directions at pixel centres.
  floor_idx: np.ndarray  # Flat indices of pixels whose centre ray hits the floor.
  floor_xz: np.ndarray  # (len(floor_idx), 2) those hits on the floor.


def _grid(size):
  """Subsample centres (pixel units) of the supersampled background grid."""
  return (np.arange(size * _SUPERSAMPLE + 2 * _MARGIN) - _MARGIN + 0.5) / _SUPERSAMPLE


def _exposure_gain(params, light):
  """Auto-exposure: the gain bringing mean brightness to the scene's target."""
  camera = _make_camera(params, _EXPOSURE_PREVIEW)
  centres = np.arange(_EXPOSURE_PREVIEW) + 0.5
  rgb, _, _ = _render_room(params, camera, centres, centres, light)
  return params['brightness'] / max(float(rgb.mean()), 1e-3)


@functools.lru_cache(maxsize=16)
def _scene(seed, size, bg_id):
  """Renders background `bg_id` (cached: every background serves many samples)."""
  params = _room_params(seed, bg_id)
  light = params['light']
  light = dataclasses.replace(light, gain=_exposure_gain(params, light))
  camera = _make_camera(params, size)
  coords = _grid(size)
  n = len(coords)
  rgb_hi = np.empty((n, n, 3), np.uint8)
  depth_hi = np.empty((n, n), np.float64)
  face_hi = np.empty((n, n), np.int16)
  chunk = max(1, 2 ** 18 // n)  # Rows per pass; bounds memory at large sizes.
  for r in range(0, n, chunk):
    rgb, t, face = _render_room(params, camera, coords, coords[r:r + chunk], light)
    rgb_hi[r:r + chunk] = np.clip(np.rint(rgb * 255.0), 0, 255)
    depth_hi[r:r + chunk], face_hi[r:r + chunk] = t, face
  # The middle subsample of each pixel is its centre ray: exact labels.
  centre = slice(_MARGIN + _SUPERSAMPLE // 2, _MARGIN + _SUPERSAMPLE * size, _SUPERSAMPLE)
  depth = depth_hi[centre, centre]
  dirs = camera.rays(np.arange(size) + 0.5, np.arange(size) + 0.5)
  floor_idx = np.flatnonzero(face_hi[centre, centre].reshape(-1) == _FLOOR)
  floor_hits = camera.origin + (depth[..., None] * dirs).reshape(-1, 3)[floor_idx]
  scene = _Scene(params=params, camera=camera, light=light, rgb_hi=rgb_hi,
                 rgb=_downsample(rgb_hi, size, 0, 0),
                 depth_m=depth.astype(np.float32), dirs=dirs, floor_idx=floor_idx,
                 floor_xz=floor_hits[:, [0, 2]])
  for array in (scene.rgb_hi, scene.rgb, scene.depth_m, scene.dirs):
    array.flags.writeable = False
  return scene


def _downsample(rgb_hi, size, dy, dx):
  """Box-filters the supersampled render, its window moved by (dy, dx) subsamples."""
  r0, c0 = _MARGIN + dy, _MARGIN + dx
  window = rgb_hi[r0:r0 + size * _SUPERSAMPLE, c0:c0 + size * _SUPERSAMPLE].astype(np.uint16)
  # Strided sums: much faster than a reduction over the interleaved axes.
  rows = sum(window[k::_SUPERSAMPLE] for k in range(_SUPERSAMPLE))
  total = sum(rows[:, k::_SUPERSAMPLE] for k in range(_SUPERSAMPLE))
  count = _SUPERSAMPLE * _SUPERSAMPLE
  return ((total * 2 + count) // (2 * count)).astype(np.uint8)  # Rounded mean.


@functools.lru_cache(maxsize=16)
def render_background(spec, bg_id):
  """The clean background `bg_id`: dict(rgb=uint8 HxWx3, depth_m=float32 HxW).

  `depth_m` is the z-depth (metres along the camera axis) at pixel centres.
  Cached; the arrays are read-only. `clear_caches()` empties every cache.
  """
  validate_spec(spec)
  if not _is_int(bg_id) or not 0 <= bg_id < spec.num_backgrounds:
    raise IndexError(f'bg_id {bg_id!r} outside [0, {spec.num_backgrounds})')
  scene = _scene(spec.seed, spec.render_size, int(bg_id))
  return dict(rgb=scene.rgb, depth_m=scene.depth_m)


def clear_caches():
  """Empties the background and figure caches (they are rebuilt on demand)."""
  render_background.cache_clear()
  _scene.cache_clear()
  _figure.cache_clear()


# ----------------------------------------------------------------------------
# Foreground figures.

_SKINS = np.array([
    [0.96, 0.80, 0.69], [0.92, 0.72, 0.58], [0.84, 0.62, 0.47],
    [0.72, 0.51, 0.36], [0.56, 0.38, 0.26], [0.42, 0.27, 0.18],
    [0.31, 0.20, 0.13]])
_HAIRS = np.array([
    [0.07, 0.06, 0.05], [0.20, 0.13, 0.08], [0.38, 0.25, 0.13],
    [0.78, 0.64, 0.38], [0.52, 0.22, 0.10], [0.62, 0.62, 0.60]])
_BOTTOMS = np.array([
    [0.20, 0.28, 0.46], [0.10, 0.10, 0.12], [0.62, 0.55, 0.40],
    [0.44, 0.44, 0.47], [0.13, 0.16, 0.30], [0.35, 0.22, 0.15]])
_SHOES = np.array([[0.08, 0.08, 0.08], [0.92, 0.92, 0.90], [0.30, 0.18, 0.10]])

_PLAIN, _STRIPES, _CHECKS = 0, 1, 2
_KINDS = ('seated_student', 'standing_student', 'teacher')


@dataclasses.dataclass(frozen=True, eq=False)
class _Figure:
  """A person as ellipsoids in its own frame: feet on y = 0, facing +z."""
  kind: str
  height: float
  centers: np.ndarray  # (P, 3)
  rots: np.ndarray  # (P, 3, 3) columns: the ellipsoid's axes.
  radii: np.ndarray  # (P, 3)
  colors: np.ndarray  # (P, 3) albedo.
  stripe_colors: np.ndarray  # (P, 3) albedo of the pattern's second colour.
  patterns: np.ndarray  # (P,) _PLAIN, _STRIPES or _CHECKS.
  pattern_size: float  # Metres.
  mirrored: bool

  @property
  def bounds(self):
    """A local box (lo, hi) around every ellipsoid."""
    reach = self.radii.max(1, keepdims=True)
    return (self.centers - reach).min(0), (self.centers + reach).max(0)

  @functools.cached_property
  def quadrics(self):
    """(P, 3, 3) matrices Q with (p - centre)^T Q (p - centre) = 1 on the surface."""
    return np.einsum('pjk,pk,plk->pjl', self.rots, self.radii ** -2.0, self.rots)

  @functools.cached_property
  def quadric_terms(self):
    """(6, P) weights of dx^2, dy^2, dz^2, dx*dy, dx*dz, dy*dz in d^T Q d."""
    q = self.quadrics
    return np.stack([q[:, 0, 0], q[:, 1, 1], q[:, 2, 2], 2 * q[:, 0, 1],
                     2 * q[:, 0, 2], 2 * q[:, 1, 2]])


def _limb_dir(flexion, abduction, side):
  """Unit direction of a limb hanging down, swung forward then outward (degrees)."""
  f, a = math.radians(flexion), math.radians(abduction)
  return np.array([side * math.cos(f) * math.sin(a), -math.cos(f) * math.cos(a),
                   math.sin(f)])


def _segment(start, end, thickness):
  """An ellipsoid (centre, rotation, radii) spanning a bone from start to end."""
  axis = end - start
  length = float(np.linalg.norm(axis))
  up = axis / length
  helper = np.array([0.0, 0.0, 1.0]) if abs(up[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
  side = np.cross(up, helper)
  side /= np.linalg.norm(side)
  rot = np.stack([side, up, np.cross(side, up)], axis=1)
  return (start + end) / 2, rot, np.array([thickness, length / 2 + 0.35 * thickness,
                                           thickness])


def _arm_pose(rng, kind, raised_ok):
  """(flexion, abduction, elbow) in degrees for one arm of a figure of `kind`."""
  menu = {
      'seated_student': (('desk', 0.6), ('down', 0.25), ('raised', 0.15)),
      'standing_student': (('down', 0.6), ('forward', 0.25), ('raised', 0.15)),
      'teacher': (('down', 0.4), ('pointing', 0.3), ('forward', 0.3)),
  }[kind]
  names = [m[0] for m in menu]
  p = np.array([m[1] for m in menu])
  pose = names[rng.choice(len(names), p=p / p.sum())]
  if pose == 'raised' and not raised_ok:
    pose = 'down'
  if pose == 'desk':
    return rng.uniform(35, 60), rng.uniform(5, 15), rng.uniform(40, 80), pose
  if pose == 'forward':
    return rng.uniform(15, 40), rng.uniform(5, 12), rng.uniform(60, 95), pose
  if pose == 'raised':
    return rng.uniform(150, 170), rng.uniform(-20, -8), rng.uniform(0, 25), pose
  if pose == 'pointing':
    return rng.uniform(50, 95), rng.uniform(25, 70), rng.uniform(0, 15), pose
  return rng.uniform(-8, 12), rng.uniform(4, 12), rng.uniform(5, 25), pose


def _make_figure(seed, fg_id):
  """Builds foreground `fg_id`: kind, body, clothes and pose, from the seed."""
  rng = np.random.default_rng([seed, 1, fg_id])
  kind = _KINDS[rng.choice(3, p=[0.45, 0.3, 0.25])]
  height = rng.uniform(1.6, 1.9) if kind == 'teacher' else rng.uniform(1.4, 1.8)
  style = _figure_style(rng, kind)
  body = dict(kind=kind, h=height, build=rng.uniform(0.9, 1.15),
              lean=math.radians(rng.uniform(5, 15) if kind == 'seated_student'
                                else rng.uniform(-3, 5)))
  parts = _Parts()
  _add_legs(rng, body, style, parts)
  _add_upper_body(rng, body, style, parts)
  _add_arms(rng, body, style, parts)
  centers, radii = np.array(parts.centers), np.array(parts.radii)
  # Lift the figure so that the lowest point of its shoes is on the floor.
  shoes = np.array([c is style['shoes'] for c in parts.colors])
  centers[:, 1] -= (centers[shoes, 1] - radii[shoes, 1]).min()
  return _Figure(
      kind=kind, height=height, centers=centers, rots=np.array(parts.rots),
      radii=radii, colors=np.array(parts.colors),
      stripe_colors=np.tile(style['stripe'], (len(radii), 1)),
      patterns=np.where(parts.patterned, style['pattern'], _PLAIN),
      pattern_size=style['pattern_size'], mirrored=False)


class _Parts:
  """The ellipsoids of a figure as they are added: placement, size, colour."""

  def __init__(self):
    self.centers, self.rots, self.radii, self.colors, self.patterned = [], [], [], [], []

  def add(self, center, rot, radii, color, patterned=False):
    """Adds an ellipsoid; `patterned` ones wear the clothes' pattern."""
    self.centers.append(center)
    self.rots.append(rot)
    self.radii.append(radii)
    self.colors.append(color)
    self.patterned.append(patterned)


def _figure_style(rng, kind):
  """Skin, hair and clothes of a figure; teachers dress more soberly."""
  teacher = kind == 'teacher'
  return dict(
      skin=_pick(rng, _SKINS), hair=_pick(rng, _HAIRS if teacher else _HAIRS[:-1]),
      long_hair=rng.uniform() < 0.35,
      top=(_random_color(rng, (0.05, 0.5), (0.2, 0.75)) if teacher else
           _random_color(rng)),
      pattern=rng.choice(3, p=[0.5, 0.25, 0.25]), pattern_size=rng.uniform(0.035, 0.06),
      stripe=(np.array([0.95, 0.95, 0.93]) if rng.uniform() < 0.5 else
              _random_color(rng, (0.2, 0.8), (0.1, 0.5))),
      long_sleeves=rng.uniform() < 0.6, bottom=_pick(rng, _BOTTOMS),
      legwear=rng.choice(['trousers', 'shorts', 'skirt'], p=[0.65, 0.15, 0.2]),
      shoes=_pick(rng, _SHOES))


def _add_legs(rng, body, style, parts):
  """Hips, legs and shoes from hip joints at y = 0 (standing or seated)."""
  h, build = body['h'], body['build']
  stride = rng.uniform(0, 14)
  bottom, skin = style['bottom'], style['skin']
  for side in (-1, 1):
    if body['kind'] == 'seated_student':  # Thighs forward, shins down.
      flex, abd, knee = rng.uniform(80, 95), rng.uniform(4, 14), rng.uniform(75, 100)
    else:
      flex = side * stride + rng.uniform(-3, 3)
      abd, knee = rng.uniform(2, 7), rng.uniform(0, 12)
    hip = np.array([side * 0.052 * h * build, 0.0, 0.0])
    knee_pos = hip + 0.235 * h * _limb_dir(flex, abd, side)
    ankle = knee_pos + 0.24 * h * _limb_dir(flex - knee, abd, side)
    parts.add(*_segment(hip, knee_pos, 0.048 * h * build),
              skin if style['legwear'] == 'skirt' else bottom)
    parts.add(*_segment(knee_pos, ankle, 0.034 * h),
              bottom if style['legwear'] == 'trousers' else skin)
    parts.add(ankle + np.array([0.0, -0.012, 0.03]) * h, np.eye(3),
              np.array([0.028, 0.022, 0.062]) * h, style['shoes'])
  if style['legwear'] == 'skirt':
    parts.add(np.array([0.0, -0.09, 0.01]) * h, np.eye(3),
              np.array([0.125 * build, 0.13, 0.11]) * h, bottom)
  parts.add(np.array([0.0, 0.02, 0.0]) * h, np.eye(3),
            np.array([0.098 * build, 0.07, 0.068 * build]) * h, bottom)


def _upper(body, offset):
  """A point of the upper body, `offset` (in heights) from the pelvis, leant."""
  return np.array([0.0, 0.02 * body['h'], 0.0]) + _rot_x(body['lean']) @ (
      np.asarray(offset) * body['h'])


def _add_upper_body(rng, body, style, parts):
  """Torso, neck, head and hair, and maybe a badge or a backpack."""
  h, build, tilt = body['h'], body['build'], _rot_x(body['lean'])
  torso_depth = 0.068 * build
  parts.add(_upper(body, [0, 0.17, 0]), tilt,
            np.array([0.112 * build, 0.165, torso_depth]) * h, style['top'], True)
  parts.add(_upper(body, [0, 0.33, 0]), tilt, np.array([0.03, 0.045, 0.03]) * h,
            style['skin'])
  head = _upper(body, [0, 0.405, 0.005])
  head_r = np.array([0.058, 0.07, 0.064]) * h
  parts.add(head, tilt, head_r, style['skin'])
  # Hair: a cap set back and to one side of the head (so it shows a parting).
  parting = rng.choice([-1, 1])
  parts.add(head + tilt @ (np.array([parting * 0.008, 0.016, -0.012]) * h), tilt,
            head_r * np.array([1.08, 0.93, 1.08]), style['hair'])
  if style['long_hair']:
    parts.add(head + tilt @ (np.array([0.0, -0.055, -0.035]) * h), tilt,
              np.array([0.066, 0.11, 0.042]) * h, style['hair'])
  if rng.uniform() < 0.7:  # A badge or logo on one side of the chest.
    parts.add(_upper(body, [rng.choice([-1, 1]) * 0.05, 0.24, torso_depth * 0.93]),
              tilt, np.array([0.02, 0.02, 0.012]) * h,
              _random_color(rng, (0.5, 1.0), (0.7, 1.0)))
  if body['kind'] == 'standing_student' and rng.uniform() < 0.35:  # A backpack.
    parts.add(_upper(body, [0, 0.16, -torso_depth - 0.045]), tilt,
              np.array([0.09, 0.12, 0.05]) * h, _random_color(rng, (0.3, 0.9), (0.2, 0.7)))


def _add_arms(rng, body, style, parts):
  """Both arms, each in its own pose; a teacher may hold a book."""
  h, tilt = body['h'], _rot_x(body['lean'])
  raised_side, book_side = rng.choice([-1, 1]), rng.choice([-1, 1])
  sleeve = style['top'] if style['long_sleeves'] else style['skin']
  for side in (-1, 1):
    flex, abd, elbow, pose = _arm_pose(rng, body['kind'], side == raised_side)
    shoulder = _upper(body, [side * 0.118 * body['build'], 0.30, 0])
    elbow_pos = shoulder + 0.165 * h * (tilt @ _limb_dir(flex, abd, side))
    forearm = tilt @ _limb_dir(flex + elbow, abd, side)
    wrist = elbow_pos + 0.145 * h * forearm
    hand = wrist + 0.03 * h * forearm
    parts.add(*_segment(shoulder, elbow_pos, 0.03 * h), style['top'], True)
    parts.add(*_segment(elbow_pos, wrist, 0.025 * h), sleeve, style['long_sleeves'])
    parts.add(hand, np.eye(3), np.array([0.024, 0.03, 0.024]) * h, style['skin'])
    if body['kind'] == 'teacher' and pose == 'forward' and side == book_side:
      parts.add(hand + np.array([0.0, 0.02, 0.015]) * h, np.eye(3),
                np.array([0.045, 0.06, 0.012]) * h,
                _random_color(rng, (0.3, 0.8), (0.2, 0.6)))


def _mirror(figure):
  """The figure's mirror image (left and right swapped, patterns included)."""
  flip = np.diag([-1.0, 1.0, 1.0])
  return dataclasses.replace(figure, centers=figure.centers @ flip,
                             rots=flip @ figure.rots, mirrored=not figure.mirrored)


@functools.lru_cache(maxsize=256)
def _figure(seed, fg_id, flip):
  """Foreground `fg_id`, mirrored if `flip` (cached)."""
  figure = _make_figure(seed, fg_id)
  return _mirror(figure) if flip else figure


@dataclasses.dataclass(frozen=True, eq=False)
class _FigureHits:
  """Nearest figure hits of the rays in an image window (rows r0:r1, cols c0:c1)."""
  window: tuple
  t: np.ndarray  # (h, w) z-depth, inf where the ray misses the figure.
  part: np.ndarray  # (h, w) index of the hit ellipsoid.
  origin: np.ndarray  # (3,) the camera in the figure's frame.
  dirs: np.ndarray  # (h, w, 3) the rays in the figure's frame.
  rot: np.ndarray  # (3, 3) figure frame -> world.
  offset: np.ndarray  # (3,) the figure's floor position in the world.


def _cast_figure(camera, dirs, figure, x, z, yaw):
  """Ray casts `figure` standing at floor point (x, z), turned by `yaw`.

  Only the pixels inside the figure's projected bounding box are cast. Returns
  None when that box is outside the image.
  """
  rot, offset = _yaw_matrix(yaw), np.array([x, 0.0, z])
  corners = _box_corners(*figure.bounds) @ rot.T + offset
  u, v, depth = camera.project(corners)
  if np.any(depth <= 0):
    return None
  size = camera.size
  c0, c1 = max(0, math.ceil(u.min() - 0.5)), min(size, math.floor(u.max() - 0.5) + 1)
  r0, r1 = max(0, math.ceil(v.min() - 0.5)), min(size, math.floor(v.max() - 0.5) + 1)
  if c0 >= c1 or r0 >= r1:
    return None
  local_dirs = dirs[r0:r1, c0:c1] @ rot
  origin = (camera.origin - offset) @ rot
  t, part = _intersect_ellipsoids(figure, origin, local_dirs.reshape(-1, 3))
  return _FigureHits(window=(r0, r1, c0, c1), t=t.reshape(r1 - r0, c1 - c0),
                     part=part.reshape(r1 - r0, c1 - c0), origin=origin,
                     dirs=local_dirs, rot=rot, offset=offset)


def _intersect_ellipsoids(figure, origin, dirs):
  """Nearest ray parameter (N,) and ellipsoid index (N,) of rays (N, 3)."""
  # Each ellipsoid is the quadric (p - c)^T Q (p - c) = 1; along a ray the
  # quadratic's coefficients are small matrix products over all rays at once.
  quad, to_origin = figure.quadrics, origin - figure.centers
  dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
  monomials = np.stack([dx * dx, dy * dy, dz * dz, dx * dy, dx * dz, dy * dz], -1)
  a = monomials @ figure.quadric_terms  # (N, P)
  qo = np.einsum('pjk,pk->pj', quad, to_origin)  # (P, 3)
  b = dirs @ qo.T
  c = (to_origin * qo).sum(-1) - 1.0
  disc = b * b - a * c
  with np.errstate(invalid='ignore'):
    t = (-b - np.sqrt(disc)) / a
  t = np.where((disc > 0) & (t > 0), t, np.inf)
  part = t.argmin(1)
  return t[np.arange(len(part)), part], part


def _figure_colors(figure, hits, select, light):
  """Shaded RGB (N, 3), about [0, 1], of the figure at the hits picked by `select`."""
  t, part = hits.t[select], hits.part[select]
  d = hits.dirs[select]
  local = hits.origin + t[:, None] * d
  # The normal is the gradient of the hit ellipsoid's quadric.
  rel = np.einsum('nj,njk->nk', local - figure.centers[part], figure.rots[part])
  normal = np.einsum('nk,njk->nj', rel / figure.radii[part] ** 2, figure.rots[part])
  normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
  # Clothes patterns live in the figure's frame, mirrored with the figure.
  px = -local[:, 0] if figure.mirrored else local[:, 0]
  cells = np.floor(local[:, 1] / figure.pattern_size)
  stripes = cells % 2 == 1
  checks = (np.floor(px / figure.pattern_size) + cells) % 2 == 1
  pattern = figure.patterns[part]
  second = ((pattern == _STRIPES) & stripes) | ((pattern == _CHECKS) & checks)
  albedo = np.where(second[:, None], figure.stripe_colors[part], figure.colors[part])
  world = local @ hits.rot.T + hits.offset
  return _lit(light, albedo, _shade(light, world, normal @ hits.rot.T))


# ----------------------------------------------------------------------------
# Placing a figure in a background.


@dataclasses.dataclass(frozen=True, eq=False)
class _Placement:
  """A figure at floor point (x, z) turned by yaw, and what of it is visible."""
  x: float
  z: float
  yaw: float
  hits: _FigureHits
  visible: np.ndarray  # (h, w) bool, in hits.window.


def _propose(params, camera, figure, rng, close=False, count=16):
  """`count` random floor positions (x, z) and headings for the figure.

  `close` (standing figures): 1.3-3.2 m in front of the camera, where the feet
  may be out of the picture but not the hips. Returns the candidates that are
  in view (and, standing, clear of the furniture), in the order drawn: arrays
  x, z, yaw.
  """
  room = params['room']
  half_w, depth = room['width'] / 2, room['depth']
  seated = figure.kind == 'seated_student'
  if seated:
    if not params['seats']:
      return np.zeros((3, 0))
    seats = np.array(params['seats'])
    weights = 1.0 / (seats[:, 1] - camera.origin[2]) ** 3  # Nearer seats favoured.
    x, z, _ = seats[rng.choice(len(seats), count, p=weights / weights.sum())].T
    yaw = rng.uniform(-0.25, 0.25, count)  # Facing the board.
  else:
    # Nearer positions are favoured: the floor in view is narrower there.
    near = camera.origin[2] + 1.3
    z = near + (depth - 0.5 - near) * rng.uniform(size=count) ** 2
    yaw = rng.uniform(-math.pi, math.pi, count)
    if figure.kind == 'teacher':  # Mostly at the front, facing the class.
      front = rng.uniform(size=count) < 0.6
      z = np.where(front, rng.uniform(depth - 2.3, depth - 0.5, count), z)
      yaw = np.where(front, math.pi + rng.uniform(-0.7, 0.7, count), yaw)
    x = rng.uniform(-half_w + 0.4, half_w - 0.4, count)
  if close:
    z = camera.origin[2] + rng.uniform(1.3, 3.2, count)
  ok = np.ones(count, bool)
  if not seated:
    fp = params['footprints']
    ok = ~np.any((x[:, None] > fp[:, 0] - 0.25) & (x[:, None] < fp[:, 1] + 0.25) &
                 (z[:, None] > fp[:, 2] - 0.25) & (z[:, None] < fp[:, 3] + 0.25), 1)
  # Feet (hips, for a figure close to the camera) and the head must project into
  # the image.
  top = figure.height * (0.75 if seated else 1.0)
  feet = np.stack([x, np.zeros(count), z], -1)
  u, v, dz = camera.project(np.concatenate([feet, feet + [0.0, top, 0.0],
                                            feet + [0.0, 0.5 * top, 0.0]]))
  size = camera.size
  v_feet, v_head, v_hips = v[:count], v[count:2 * count], v[2 * count:]
  ok &= (dz[:count] > 0.5) & (u[:count] > 0.08 * size) & (u[:count] < 0.92 * size)
  ok &= (v_head > 0.02 * size) & ((v_hips < 0.95 * size) if close else (v_feet < 1.15 * size))
  return np.stack([x, z, yaw])[:, ok]


def _place(scene, figure, rng, near_share=0.0):
  """Finds a placement with enough of the figure visible (deterministic in rng).

  With probability `near_share` a standing figure is first sought close to the
  camera (`_NEAR_PROPOSALS` rounds of candidates), then anywhere.
  """
  size = scene.camera.size
  needed = max(1, math.ceil(_MIN_MASK_FRACTION * size * size))
  best, best_count = None, -1
  candidates = np.zeros((3, 0))
  # No draw at near_share 0: the samples stay what they were before the option.
  close_rounds = (_NEAR_PROPOSALS if near_share > 0 and figure.kind != 'seated_student'
                  and rng.uniform() < near_share else 0)
  proposals = 0
  for _ in range(_PLACEMENT_TRIES):
    if not candidates.shape[1]:
      proposals += 1
      candidates = _propose(scene.params, scene.camera, figure, rng,
                            close=proposals <= close_rounds)
      if not candidates.shape[1]:
        continue
    (x, z, yaw), candidates = candidates[:, 0], candidates[:, 1:]
    placement = _cast_at(scene, figure, x, z, yaw)
    if placement is None:
      continue
    count = int(placement.visible.sum())
    if count > best_count:
      best, best_count = placement, count
    if count >= needed:
      break
  if best_count <= 0:
    # Fallback: stand where the middle of the image's lower part meets the floor.
    camera = scene.camera
    d = camera.rays([size / 2], [0.8 * size])[0, 0]
    t = -camera.origin[1] / min(d[1], -1e-3)
    point = camera.origin + t * d
    best = _cast_at(scene, figure, point[0], point[2], math.pi)
  return best


def _cast_at(scene, figure, x, z, yaw):
  """Ray casts the figure into the scene; None if it is out of the picture."""
  hits = _cast_figure(scene.camera, scene.dirs, figure, x, z, yaw)
  if hits is None:
    return None
  r0, r1, c0, c1 = hits.window
  visible = hits.t < scene.depth_m[r0:r1, c0:c1]
  return _Placement(x=x, z=z, yaw=yaw, hits=hits, visible=visible)


# ----------------------------------------------------------------------------
# Capture nuisances.


def _shadow_factor(scene, figure, placement, level):
  """Per-pixel brightness factor (size, size) of the figure's floor shadow."""
  factor = np.ones(scene.camera.size ** 2)
  if level <= 0 or not len(scene.floor_idx):
    return factor.reshape(scene.camera.size, -1)
  dx = scene.floor_xz[:, 0] - placement.x
  dz = scene.floor_xz[:, 1] - placement.z
  radius = 0.28 if figure.kind != 'seated_student' else 0.4
  darkness = 0.45 * np.exp(-(dx * dx + dz * dz) / (2 * radius ** 2))
  # A longer, fainter shadow cast away from the light.
  light = scene.light
  s = light.sun_dir if light.sun > 0 else (placement.x, 0.0, placement.z) - light.lamp_pos
  s = np.asarray(s, np.float64)
  horizontal = np.array([s[0], s[2]])
  norm = float(np.linalg.norm(horizontal))
  if norm > 1e-6:
    along_dir = horizontal / norm
    reach = float(np.clip(0.6 * figure.height * norm / max(abs(s[1]), 0.2), 0.3, 1.6))
    along = dx * along_dir[0] + dz * along_dir[1] - 0.5 * reach
    across = -dx * along_dir[1] + dz * along_dir[0]
    cast = 0.35 * np.exp(-0.5 * ((along / (0.5 * reach + 0.1)) ** 2 + (across / 0.22) ** 2))
    darkness = np.maximum(darkness, cast)
  factor[scene.floor_idx] = 1.0 - np.clip(level * darkness, 0.0, 0.9)
  return factor.reshape(scene.camera.size, -1)


def _jpeg_round_trip(images, quality):
  """Encodes and decodes RGB images (of one size) as JPEG, 4:2:0 like most cameras.

  The images are coded side by side in one JPEG (much cheaper than one each),
  each edge-padded to its own run of whole 16-pixel MCUs: no JPEG block and
  no chroma upsampling mixes two images, each gets only its own artefacts.
  """
  height, width = images[0].shape[:2]
  left, right = 8, 8 + (-width) % 16
  strip = np.concatenate([np.pad(image, ((0, 0), (left, right), (0, 0)), mode='edge')
                          for image in images], 1)
  buffer = io.BytesIO()
  Image.fromarray(strip).save(buffer, format='JPEG', quality=quality)
  # Decoding straight from the bytes skips Image.open's Python marker parsing.
  decoded = np.asarray(Image.frombytes('RGB', (strip.shape[1], height),
                                       buffer.getvalue(), 'jpeg', 'RGB', ''))
  step = left + width + right
  return [decoded[:, k * step + left:k * step + left + width] for k in range(len(images))]


def _to_uint8(x):
  """Rounds and clips to uint8 (uint8 input is returned as it is)."""
  if x.dtype == np.uint8:
    return x
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# Samples.


def render_sample(spec, index):
  """Renders sample `index`: dict(bg, fg_bg, mask, depth, name, bg_name).

  `bg` and `fg_bg` are uint8 HxWx3 photos with the spec's capture nuisances;
  `mask` (uint8 HxWx1, 255 = figure) is the visible part of the figure in
  `fg_bg`; `depth` (uint8 HxWx1) is the nearness of `fg_bg`'s scene.
  """
  validate_spec(spec)
  ids = _ids(spec, index)
  bg_id, fg_id, flip, placement_id = ids
  size, seed = spec.render_size, spec.seed
  scene = _scene(seed, size, bg_id)
  figure = _figure(seed, fg_id, flip)
  rng = np.random.default_rng([seed, 2, bg_id, fg_id, flip, placement_id])
  # Every nuisance's random numbers are drawn whatever the levels, so changing
  # one level never changes another nuisance or the placement.
  exposure_draws = rng.choice([-1, 1]) * rng.uniform(0.03, 0.12), rng.normal(0, 0.03, 3)
  shift_draws = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.0)
  placement = _place(scene, figure, rng, spec.near_share)

  mask = np.zeros((size, size), bool)
  depth_m = scene.depth_m
  fg_bg = scene.rgb
  if placement is not None:
    r0, r1, c0, c1 = placement.hits.window
    visible = placement.visible
    mask[r0:r1, c0:c1] = visible
    depth_m = depth_m.copy()
    depth_m[r0:r1, c0:c1][visible] = placement.hits.t[visible]
    colors = _figure_colors(figure, placement.hits, visible, scene.light)
    fg_bg = fg_bg.astype(np.float32)
    fg_bg[r0:r1, c0:c1][visible] = np.clip(colors, 0.0, 1.0) * 255.0
    if spec.shadow > 0:
      shade = _shadow_factor(scene, figure, placement, spec.shadow)
      shade[mask] = 1.0
      fg_bg *= shade[..., None]

  bg = scene.rgb
  if spec.shift > 0:
    # The camera moved between the two shots: bg is rendered a sub-pixel
    # away, so fg_bg, mask and depth keep sharing one exact camera.
    angle, fraction = shift_draws
    amount = 0.7 * spec.shift * fraction * _SUPERSAMPLE
    dy, dx = (min(_MARGIN, max(-_MARGIN, round(amount * f(angle))))
              for f in (math.sin, math.cos))
    bg = _downsample(scene.rgb_hi, size, dy, dx)
  if spec.exposure > 0:
    sign_gain, balance = exposure_draws
    fg_bg = fg_bg * np.exp(spec.exposure * (sign_gain + balance)).astype(np.float32)
  if spec.noise > 0:
    sigma = np.float32(2.5 * spec.noise)
    bg = bg + sigma * rng.standard_normal(bg.shape, np.float32)
    fg_bg = fg_bg + sigma * rng.standard_normal(fg_bg.shape, np.float32)
  bg, fg_bg = _to_uint8(bg), _to_uint8(fg_bg)
  if spec.jpeg > 0:
    quality = min(95, max(5, round(95 - 25 * spec.jpeg)))
    bg, fg_bg = _jpeg_round_trip([bg, fg_bg], quality)

  # Fresh arrays: the cached background is read-only.
  return dict(bg=np.array(bg), fg_bg=np.array(fg_bg),
              mask=mask.view(np.uint8)[..., None] * np.uint8(255),
              depth=depth_to_nearness(depth_m)[..., None],
              name=_name(spec, *ids), bg_name=background_name(bg_id))


def render_foreground(spec, fg_id, flip=0):
  """Foreground `fg_id` alone, like the original's cut-outs: dict(rgb, mask).

  The figure faces a frontal camera, centred and filling most of a
  render_size square; `rgb` is black outside `mask` (uint8 HxWx1).
  """
  validate_spec(spec)
  if not _is_int(fg_id) or not 0 <= fg_id < spec.num_foregrounds:
    raise IndexError(f'fg_id {fg_id!r} outside [0, {spec.num_foregrounds})')
  if flip not in range(spec.flips):
    raise IndexError(f'flip {flip!r} outside [0, {spec.flips})')
  figure = _figure(spec.seed, int(fg_id), int(flip))
  lo, hi = figure.bounds
  size = spec.render_size
  focal = size / 2 / math.tan(math.radians(15))
  distance = hi[2] + focal * (hi[1] - lo[1]) / (0.9 * size)
  # Looking along -z at the figure's front; symmetric in x, so flips mirror exactly.
  camera = _Camera(origin=np.array([0.0, (lo[1] + hi[1]) / 2, distance]),
                   axes=np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]]),
                   focal=focal, size=size)
  light = _Light(tint=np.ones(3), ambient=0.55, sun=0.0, sun_dir=np.array([1.0, 0, 0]),
                 window_x=0.0, windows=np.zeros((0, 4)), lamp=0.6,
                 lamp_pos=np.array([0.0, hi[1] + 1.5, distance]))
  centres = np.arange(size) + 0.5
  hits = _cast_figure(camera, camera.rays(centres, centres), figure, 0.0, 0.0, 0.0)
  rgb = np.zeros((size, size, 3), np.uint8)
  mask = np.zeros((size, size), bool)
  if hits is not None:
    r0, r1, c0, c1 = hits.window
    visible = np.isfinite(hits.t)
    mask[r0:r1, c0:c1] = visible
    colors = _figure_colors(figure, hits, visible, light)
    rgb[r0:r1, c0:c1][visible] = _to_uint8(np.clip(colors, 0, 1) * 255.0)
  return dict(rgb=rgb, mask=mask.view(np.uint8)[..., None] * np.uint8(255))


# ----------------------------------------------------------------------------
# Previews.


def _depth_colors(nearness):
  """Colour-maps uint8 nearness (H, W) with matplotlib's magma, or gray."""
  try:
    from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
    lut = (colormaps['magma'](np.arange(256))[:, :3] * 255).astype(np.uint8)
  except ImportError:
    lut = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)
  return lut[nearness]


def contact_sheet(samples, path, tile=128):
  """Writes a PNG grid, one row per sample: bg | fg_bg | mask | depth.

  Tiles are scaled (nearest neighbour) to `tile` pixels; each row is labelled
  with the sample's name.
  """
  label_h, columns = 14, ('bg', 'fg_bg', 'mask', 'depth')
  sheet = Image.new('RGB', (4 * tile, label_h + len(samples) * (tile + label_h)),
                    (255, 255, 255))
  draw = ImageDraw.Draw(sheet)
  for j, title in enumerate(columns):
    draw.text((j * tile + 3, 1), title, fill=(0, 0, 0))
  for i, sample in enumerate(samples):
    top = label_h + i * (tile + label_h)
    draw.text((3, top + 1), str(sample.get('name', i)), fill=(0, 0, 0))
    images = (sample['bg'], sample['fg_bg'],
              np.repeat(np.asarray(sample['mask']).reshape(
                  sample['mask'].shape[:2])[..., None], 3, -1),
              _depth_colors(np.asarray(sample['depth']).reshape(sample['depth'].shape[:2])))
    for j, image in enumerate(images):
      picture = Image.fromarray(np.asarray(image, np.uint8)).resize(
          (tile, tile), Image.NEAREST)
      sheet.paste(picture, (j * tile, top + label_h))
  sheet.save(path, format='PNG')
