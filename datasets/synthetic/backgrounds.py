"""Rendering a room: surface materials, the supersampled render, auto-exposure, the cache."""
import dataclasses
import functools
import math

import numpy as np

from datasets.synthetic import geometry
from datasets.synthetic import lighting
from datasets.synthetic import rooms
from datasets.synthetic import spec as spec_lib
from datasets.synthetic import textures

# pylint: disable=protected-access

_SUPERSAMPLE = 3  # Background supersampling per axis; odd, so one subsample is the pixel centre.
_MARGIN = 3  # Extra subsamples around the background, room for shifts of up to 1 px.
_EXPOSURE_PREVIEW = 48  # The (size-independent) render auto-exposure is measured on.


def _make_camera(params, size):
  """The background's camera for a size x size image."""
  cam = params['camera']
  focal = size / 2 / math.tan(cam['hfov'] / 2)
  return geometry._Camera(origin=cam['origin'],
                          axes=geometry._look_axes(cam['yaw'], cam['pitch']),
                          focal=focal, size=size)


def _surface_albedo(params, points, face):
  """Albedo (N, 3), emission (N, 3) and an is-emissive flag (N,) of hits."""
  albedo = np.zeros((len(points), 3))
  x, y, z = points[:, 0], points[:, 1], points[:, 2]
  idx = np.flatnonzero(face == geometry._FLOOR)
  albedo[idx] = _floor_albedo(params['floor'], x[idx], z[idx])
  for wall in (geometry._LEFT, geometry._RIGHT, geometry._BACK):
    idx = np.flatnonzero(face == wall)
    u = x[idx] if wall == geometry._BACK else z[idx] + 50.0 * (wall == geometry._RIGHT)
    albedo[idx] = _wall_albedo(params['walls'], u, y[idx])
  idx = np.flatnonzero(face == geometry._CEILING)
  ceiling = params['ceiling']
  fx, fz = np.mod(x[idx] / ceiling['tile'], 1.0), np.mod(z[idx] / ceiling['tile'], 1.0)
  grid = (np.minimum(fx, 1 - fx) < 0.02) | (np.minimum(fz, 1 - fz) < 0.02)
  albedo[idx] = ceiling['color'] * np.where(grid, 0.85, 1.0)[:, None]
  idx = np.flatnonzero(face >= geometry._FIRST_BOX)
  colors, wood = params['materials']
  box = face[idx] - geometry._FIRST_BOX
  grain = textures._value_noise(params['floor']['grain'], x[idx] * 3.0 + z[idx] * 0.5,
                                (z[idx] + y[idx]) * 40.0)
  albedo[idx] = colors[box] * np.where(wood[box], 0.88 + 0.24 * grain, 1.0)[:, None]
  emission, emissive = _paint_decor(params['decor'], points, face, albedo)
  return albedo, emission, emissive


def _wall_albedo(walls, u, y):
  """Paint with a faint mottle, an optional darker dado, a skirting board."""
  mottle = textures._value_noise(walls['noise'], u * 1.5, y * 1.5)
  color = np.where((y < walls['dado_h'])[:, None], walls['dado'], walls['paint'])
  color = color * (0.96 + 0.08 * mottle)[:, None]
  return np.where((y < 0.1)[:, None], walls['skirting'], color)


def _paint_decor(decor, points, face, albedo):
  """Paints the decor items into `albedo` in order; returns their emission."""
  emission = np.zeros_like(albedo)
  emissive = np.zeros(len(points), bool)
  on_wall = {wall: np.flatnonzero(face == wall) for wall in {item[1] for item in decor}}
  for item in decor:
    kind, wall = item[0], item[1]
    idx = on_wall[wall]
    axes = {geometry._BACK: (0, 1), geometry._CEILING: (0, 2)}.get(wall, (2, 1))
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
      trees = payload['trees'] * (
          0.6 + 0.8 * textures._value_noise(payload['noise'], u * 2.0, 0 * u))
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
    shifted = z + textures._hashed(table, plank, 7) * floor['plank_len']
    piece = np.floor(shifted / floor['plank_len'])
    tone = 0.85 + 0.3 * textures._hashed(table, plank, piece)
    grain = 0.9 + 0.2 * textures._value_noise(floor['grain'], x * 30.0, z * 2.0)
    fx = np.mod(x / floor['plank'], 1.0)
    fz = np.mod(shifted / floor['plank_len'], 1.0)
    seam = np.where((fx < 0.06) | (fz < 0.01), 0.7, 1.0)
    return floor['color'] * (tone * grain * seam)[:, None]
  if kind == 'tiles':
    size = floor['tile']
    ti, tj = np.floor(x / size), np.floor(z / size)
    checker = floor['checker'] & ((ti + tj) % 2 == 1)
    color = np.where(checker[:, None], floor['color2'], floor['color'])
    color = color * (0.95 + 0.1 * textures._hashed(table, ti, tj))[:, None]
    fx, fz = np.mod(x / size, 1.0), np.mod(z / size, 1.0)
    grout = (np.minimum(fx, 1 - fx) < 0.03) | (np.minimum(fz, 1 - fz) < 0.03)
    return np.where(grout[:, None], floor['grout'], color)
  tone = 0.9 + 0.2 * textures._value_noise(floor['grain'], x * 1.5, z * 1.5)
  speckle = 0.92 + 0.16 * textures._hashed(table, np.floor(x / 0.03), np.floor(z / 0.03))
  return floor['color'] * (tone * speckle)[:, None]


def _render_room(params, camera, us, vs, light):
  """Ray casts the room on a grid: RGB in [0, 1] (h, w, 3), z-depth, face ids."""
  dirs = camera.rays(us, vs)
  t, face = geometry._trace_room(camera.origin, dirs, params['room'])
  lo, hi = params['boxes']
  geometry._trace_boxes(camera, us, vs, dirs, t, face, lo, hi)
  shape = t.shape
  points = (camera.origin + t[..., None] * dirs).reshape(-1, 3)
  face_flat = face.reshape(-1)
  normals = np.zeros_like(points)
  normals[face_flat == geometry._FLOOR, 1] = 1.0
  normals[face_flat == geometry._CEILING, 1] = -1.0
  normals[face_flat == geometry._LEFT, 0] = 1.0
  normals[face_flat == geometry._RIGHT, 0] = -1.0
  normals[face_flat == geometry._BACK, 2] = -1.0
  boxes = np.flatnonzero(face_flat >= geometry._FIRST_BOX)
  normals[boxes] = geometry._box_normals(points[boxes],
                                         face_flat[boxes] - geometry._FIRST_BOX, lo, hi)
  albedo, emission, emissive = _surface_albedo(params, points, face_flat)
  rgb = lighting._lit(light, albedo, lighting._shade(light, points, normals))
  # Furniture sits in the soft shade of its own footprint (cheap ambient occlusion).
  rgb *= _floor_occlusion(params, points, face_flat)[:, None]
  rgb = np.where(emissive[:, None], emission, rgb)
  return rgb.reshape(shape + (3,)), t, face


def _floor_occlusion(params, points, face):
  """Darkening of the floor under and right around furniture."""
  factor = np.ones(len(points))
  idx = np.flatnonzero(face == geometry._FLOOR)
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
  camera: geometry._Camera
  light: lighting._Light
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
  params = rooms._room_params(seed, bg_id)
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
  floor_idx = np.flatnonzero(face_hi[centre, centre].reshape(-1) == geometry._FLOOR)
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
  spec_lib.validate_spec(spec)
  if not spec_lib._is_int(bg_id) or not 0 <= bg_id < spec.num_backgrounds:
    raise IndexError(f'bg_id {bg_id!r} outside [0, {spec.num_backgrounds})')
  scene = _scene(spec.seed, spec.render_size, int(bg_id))
  return dict(rgb=scene.rgb, depth_m=scene.depth_m)
