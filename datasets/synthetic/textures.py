"""Random colours and smooth value noise that the rooms and the figures are painted with."""
import colorsys

import numpy as np


def _pick(rng, palette, jitter=0.04):
  """A palette colour with a small random brightness change."""
  return np.clip(palette[rng.integers(len(palette))] * rng.uniform(
      1 - jitter, 1 + jitter), 0, 1)


def _random_color(rng, saturation=(0.3, 0.9), value=(0.3, 0.9)):
  """A colour of random hue, saturation and value within the given ranges."""
  return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation),
                                      rng.uniform(*value)))


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
