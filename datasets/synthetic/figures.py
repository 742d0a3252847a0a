"""Foreground figures: people made of ellipsoids, ray cast and shaded."""
import dataclasses
import functools
import math

import numpy as np

from datasets.synthetic import geometry
from datasets.synthetic import lighting
from datasets.synthetic import textures

# pylint: disable=protected-access

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
      skin=textures._pick(rng, _SKINS),
      hair=textures._pick(rng, _HAIRS if teacher else _HAIRS[:-1]),
      long_hair=rng.uniform() < 0.35,
      top=(textures._random_color(rng, (0.05, 0.5), (0.2, 0.75)) if teacher else
           textures._random_color(rng)),
      pattern=rng.choice(3, p=[0.5, 0.25, 0.25]), pattern_size=rng.uniform(0.035, 0.06),
      stripe=(np.array([0.95, 0.95, 0.93]) if rng.uniform() < 0.5 else
              textures._random_color(rng, (0.2, 0.8), (0.1, 0.5))),
      long_sleeves=rng.uniform() < 0.6, bottom=textures._pick(rng, _BOTTOMS),
      legwear=rng.choice(['trousers', 'shorts', 'skirt'], p=[0.65, 0.15, 0.2]),
      shoes=textures._pick(rng, _SHOES))


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
  return np.array([0.0, 0.02 * body['h'], 0.0]) + geometry._rot_x(body['lean']) @ (
      np.asarray(offset) * body['h'])


def _add_upper_body(rng, body, style, parts):
  """Torso, neck, head and hair, and maybe a badge or a backpack."""
  h, build, tilt = body['h'], body['build'], geometry._rot_x(body['lean'])
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
              textures._random_color(rng, (0.5, 1.0), (0.7, 1.0)))
  if body['kind'] == 'standing_student' and rng.uniform() < 0.35:  # A backpack.
    parts.add(_upper(body, [0, 0.16, -torso_depth - 0.045]), tilt,
              np.array([0.09, 0.12, 0.05]) * h, textures._random_color(rng, (0.3, 0.9), (0.2, 0.7)))


def _add_arms(rng, body, style, parts):
  """Both arms, each in its own pose; a teacher may hold a book."""
  h, tilt = body['h'], geometry._rot_x(body['lean'])
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
                textures._random_color(rng, (0.3, 0.8), (0.2, 0.6)))


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
  rot, offset = geometry._yaw_matrix(yaw), np.array([x, 0.0, z])
  corners = geometry._box_corners(*figure.bounds) @ rot.T + offset
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
  return lighting._lit(light, albedo, lighting._shade(light, world, normal @ hits.rot.T))
