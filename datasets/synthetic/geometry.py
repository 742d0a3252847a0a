"""The pinhole camera, rotations, and ray casting of the room and of axis-aligned boxes."""
import dataclasses
import math

import numpy as np

_FLOOR, _CEILING, _LEFT, _RIGHT, _BACK = range(5)
_FIRST_BOX = 5  # Face ids from here on are boxes (desks, chairs, furniture).


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
