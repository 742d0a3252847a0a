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


# Which bound (0: lo, 1: hi) each of a box's 8 corners takes on x, y and z.
_CORNER_PICKS = np.array([(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def _corners_of_boxes(lo, hi):
  """The 8 corners of each axis-aligned box from `lo` to `hi` (both (K, 3)): (8, K, 3)."""
  return np.stack([lo, hi])[_CORNER_PICKS, :, np.arange(3)].transpose(0, 2, 1)


def _box_corners(lo, hi):
  """The 8 corners of one axis-aligned box: (8, 3)."""
  return _corners_of_boxes(np.asarray(lo)[None], np.asarray(hi)[None])[:, 0]


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


def _box_windows(camera, us, vs, lo, hi):
  """Index ranges (r0, r1, c0, c1) of grid `us` x `vs` each box may cover, (K, 4).

  Every box's corners are projected at once (per-box projection was most of the ray
  casting's time); a box with a corner behind the camera gets the whole grid, and one
  whose projection covers no grid point an empty range (r0 == r1 or c0 == c1).
  """
  u, v, z = camera.project(_corners_of_boxes(lo, hi).reshape(-1, 3))
  u, v, z = (a.reshape(8, -1) for a in (u, v, z))
  windows = np.stack([np.searchsorted(vs, v.min(0)), np.searchsorted(vs, v.max(0)),
                      np.searchsorted(us, u.min(0)), np.searchsorted(us, u.max(0))], -1)
  windows[np.any(z <= 1e-6, 0)] = (0, len(vs), 0, len(us))
  return windows


def _trace_boxes(camera, us, vs, dirs, t, face, lo, hi):
  """Slab-method ray casting of boxes into the depth/face buffers, in place.

  Only the rays inside each box's projected bounding rectangle are tested.
  """
  origin = camera.origin
  windows = _box_windows(camera, us, vs, lo, hi)
  for k in np.flatnonzero((windows[:, 0] < windows[:, 1]) & (windows[:, 2] < windows[:, 3])):
    r0, r1, c0, c1 = windows[k]
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
