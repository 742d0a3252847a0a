"""Lighting: ambient, sunlight through the windows, one ceiling lamp."""
import dataclasses

import numpy as np


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
