"""What a train step costs at each image size and batch size: the price of a recipe.

  python benchmarks/step_by_size.py                       # configs/cnn.py at 32, 48, 64 px, batch 8
  python benchmarks/step_by_size.py --sizes 64 --batch_sizes 8,16

Our real jitted train step of `configs/cnn.py` (augmentation, forward, loss, backward,
Adam) on random uint8 batches, one compiled step per size, all in this one process, timed
in turns: `--rounds` rounds of `--steps` steps each; medians in ms/step, every round shown,
and each step's cost relative to the first one listed. The last line is one JSON object.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(HERE), HERE):
  if path not in sys.path:
    sys.path.insert(0, path)

import numpy as np  # pylint: disable=g-import-not-at-top

import common  # pylint: disable=g-import-not-at-top
import train_speed  # pylint: disable=g-import-not-at-top
from configs import cnn  # pylint: disable=g-import-not-at-top
from training import steps  # pylint: disable=g-import-not-at-top


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='32,48,64', help='comma-separated image sizes')
  parser.add_argument('--batch_sizes', default='8', help='comma-separated batch sizes')
  parser.add_argument('--rounds', type=int, default=4)
  parser.add_argument('--steps', type=int, default=10)
  args = parser.parse_args(argv)
  shapes = [(int(size), int(batch)) for size in args.sizes.split(',')
            for batch in args.batch_sizes.split(',')]
  rng = np.random.default_rng(0)
  runners = {}
  for size, batch in shapes:
    config = cnn.get_config()
    config.train.batch_size = batch
    config.data.image_size = size
    runners[size, batch] = train_speed.OursRunner(
        config, rng, compiler_options=dict(steps.CPU_TRAIN_COMPILER_OPTIONS))
    print(f'{size} px, batch {batch}: compiled in {runners[size, batch].compile_s:.1f} s',
          flush=True)
  times = common.time_in_turns(runners, args.rounds, args.steps)
  medians = {shape: statistics.median(values) for shape, values in times.items()}
  first = medians[shapes[0]]
  for (size, batch), ms in medians.items():
    print(f'{size:4d} px, batch {batch:3d}: {ms:7.1f} ms/step ({ms / first:.2f} x the first, '
          f'{batch / ms * 1e3:6.1f} images/s)  rounds {[round(t) for t in times[size, batch]]}')
  key = lambda shape: f'{shape[0]}px_batch{shape[1]}'
  print(json.dumps(dict(ms_per_step={key(k): v for k, v in medians.items()},
                        rounds={key(k): v for k, v in times.items()},
                        load_avg=os.getloadavg())))


if __name__ == '__main__':
  main()
