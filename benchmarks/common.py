"""What the benchmark scripts share: stand-in data statistics and random batches."""
import numpy as np

# Random inputs are uniform in [0, 1]; these stand in for a dataset's statistics.
MEAN, STD = 0.5, 0.25
STATS = {key: dict(mean=[MEAN] * 3, std=[STD] * 3) for key in ('bg', 'fg_bg')}


def random_batch(rng: np.random.Generator, batch_size: int, image_size: int):
  """A uint8 batch of the pipeline's shape: noise images, binary masks, depths."""
  shape = (batch_size, image_size, image_size)
  return dict(bg=rng.integers(0, 256, shape + (3,), np.uint8),
              fg_bg=rng.integers(0, 256, shape + (3,), np.uint8),
              mask=(rng.random(shape + (1,)) > 0.5).astype(np.uint8) * 255,
              depth=rng.integers(0, 256, shape + (1,), np.uint8))
