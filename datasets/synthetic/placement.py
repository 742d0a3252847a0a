"""Placing a figure in a background: on a chair or the floor, in view, visible enough."""
import dataclasses
import math

import numpy as np

from datasets.synthetic import figures

# pylint: disable=protected-access

_MIN_MASK_FRACTION = 0.005  # Placements whose visible figure is smaller are retried.
_PLACEMENT_TRIES = 24
_NEAR_PROPOSALS = 3  # Rounds of close candidates before a close figure may stand anywhere.


@dataclasses.dataclass(frozen=True, eq=False)
class _Placement:
  """A figure at floor point (x, z) turned by yaw, and what of it is visible."""
  x: float
  z: float
  yaw: float
  hits: figures._FigureHits
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
  hits = figures._cast_figure(scene.camera, scene.dirs, figure, x, z, yaw)
  if hits is None:
    return None
  r0, r1, c0, c1 = hits.window
  visible = hits.t < scene.depth_m[r0:r1, c0:c1]
  return _Placement(x=x, z=z, yaw=yaw, hits=hits, visible=visible)
