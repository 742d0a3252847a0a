"""Capture nuisances with code of their own, the figure's shadow and the JPEG round trip,
and rounding to uint8; `render_sample` applies them with exposure, noise and the shift."""
import io

import numpy as np
from PIL import Image


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
