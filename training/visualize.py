"""Pictures of predictions: bg | fg_bg | gt mask | pred mask | gt depth | pred depth."""
import numpy as np
from PIL import Image

from matplotlib import colormaps

_DEPTH_CMAP = colormaps['magma']


def colorize_depth(nearness: np.ndarray) -> np.ndarray:
  """H x W x 1 nearness in [0, 1] -> H x W x 3 uint8 colour map (bright = near)."""
  return (_DEPTH_CMAP(np.clip(nearness[..., 0], 0, 1))[..., :3] * 255).astype(np.uint8)


def gray(image01: np.ndarray) -> np.ndarray:
  """H x W x 1 values in [0, 1] -> H x W x 3 uint8."""
  return np.repeat((np.clip(image01, 0, 1) * 255).round().astype(np.uint8), 3, axis=-1)


def prediction_grid(batch: dict[str, np.ndarray], prediction: dict[str, np.ndarray],
                    rows: int, pad: int = 2) -> np.ndarray:
  """One row per sample of a uint8 batch and its predicted mask and depth in [0, 1]."""
  tiles = []
  for i in range(min(rows, len(batch['bg']))):
    tiles.append([batch['bg'][i], batch['fg_bg'][i],
                  gray(batch['mask'][i] / 255.0), gray(prediction['mask'][i]),
                  colorize_depth(batch['depth'][i] / 255.0),
                  colorize_depth(prediction['depth'][i])])
  return tile_rows(tiles, pad)


def tile_rows(rows: list[list[np.ndarray]], pad: int = 2, min_tile: int = 96) -> np.ndarray:
  """Tiles equal-sized H x W x 3 uint8 images row by row on a white background.

  Small tiles are enlarged by an integer factor (nearest neighbour) to at least
  `min_tile` pixels, so 32 or 64 px predictions stay readable.
  """
  scale = max(1, -(-min_tile // rows[0][0].shape[0]))
  rows = [[tile.repeat(scale, 0).repeat(scale, 1) for tile in row] for row in rows]
  height, width = rows[0][0].shape[:2]
  columns = max(len(row) for row in rows)
  canvas = np.full((len(rows) * (height + pad) + pad, columns * (width + pad) + pad, 3),
                   255, np.uint8)
  for r, row in enumerate(rows):
    for c, tile in enumerate(row):
      y, x = pad + r * (height + pad), pad + c * (width + pad)
      canvas[y:y + height, x:x + width] = tile
  return canvas


def save_png(image: np.ndarray, path: str):
  """Writes an H x W x 3 uint8 image."""
  Image.fromarray(image).save(path)
