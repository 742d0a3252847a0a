"""What the benchmark scripts share: stand-in data statistics, random batches, timing in turns,
the spread of ratios."""
import statistics

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


def time_in_turns(runners: dict, rounds: int, steps: int, alternate: bool = False) -> dict:
  """Each runner's ms per step in every round; in a round the runners run in turn.

  A runner has `run(steps) -> seconds`. Interleaving puts a change in the machine's load
  on every runner alike, so their medians compare. With `alternate`, every other round
  runs them in the reverse order, so that none always goes first.
  """
  times = {name: [] for name in runners}
  for round_index in range(rounds):
    order = list(runners.items())
    if alternate and round_index % 2:
      order.reverse()
    for name, runner in order:
      times[name].append(runner.run(steps) / steps * 1e3)
  return times


def spread(values) -> dict[str, float]:
  """Min, median and max of `values` (say, per-round ratios), to 3 decimals."""
  return dict(min=round(min(values), 3), median=round(statistics.median(values), 3),
              max=round(max(values), 3))
