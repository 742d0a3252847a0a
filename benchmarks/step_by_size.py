"""What a train step costs at each image size: the price of training small first.

  python benchmarks/step_by_size.py                       # configs/cnn.py at 32, 48, 64 px, batch 8
  python benchmarks/step_by_size.py --sizes 64,96 --batch_size 16

Our real jitted train step of `configs/cnn.py` (augmentation, forward, loss, backward,
Adam) on random uint8 batches, one compiled step per size, all in this one process, timed
in turns: `--rounds` rounds of `--steps` steps each; medians in ms/step, every round shown,
and each size's cost relative to the largest. The last line is one JSON object.
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

import train_speed  # pylint: disable=g-import-not-at-top
from configs import cnn  # pylint: disable=g-import-not-at-top
from training import steps  # pylint: disable=g-import-not-at-top


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='32,48,64', help='comma-separated image sizes')
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--rounds', type=int, default=4)
  parser.add_argument('--steps', type=int, default=10)
  args = parser.parse_args(argv)
  sizes = [int(size) for size in args.sizes.split(',')]
  rng = np.random.default_rng(0)
  runners = {}
  for size in sizes:
    config = cnn.get_config()
    config.train.batch_size = args.batch_size
    config.data.image_size = size
    runners[size] = train_speed.OursRunner(
        config, rng, compiler_options=dict(steps.CPU_TRAIN_COMPILER_OPTIONS))
    print(f'{size} px: compiled in {runners[size].compile_s:.1f} s', flush=True)
  times = {size: [] for size in sizes}
  for _ in range(args.rounds):
    for size, runner in runners.items():
      times[size].append(runner.run(args.steps) / args.steps * 1e3)
  medians = {size: statistics.median(values) for size, values in times.items()}
  largest = medians[max(sizes)]
  for size in sizes:
    print(f'{size:4d} px, batch {args.batch_size}: {medians[size]:7.1f} ms/step '
          f'({medians[size] / largest:.2f} x {max(sizes)} px)  rounds '
          f'{[round(t) for t in times[size]]}')
  print(json.dumps(dict(batch_size=args.batch_size, ms_per_step=medians, rounds=times,
                        load_avg=os.getloadavg())))


if __name__ == '__main__':
  main()
