"""Previews: a PNG contact sheet of samples, one row per sample."""
import numpy as np
from PIL import Image
from PIL import ImageDraw


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
