"""What a train step costs at each image size, batch size and optimizer: a recipe's price.

  python benchmarks/step_by_size.py                       # configs/cnn.py at 32, 48, 64 px, batch 8
  python benchmarks/step_by_size.py --sizes 64 --batch_sizes 8,16
  python benchmarks/step_by_size.py --sizes 64 --optimizers adam,muon

Our real jitted train step of `configs/cnn.py` (augmentation, forward, loss, backward,
the optimizer: the config's own unless `--optimizers` names others) on random uint8
batches, one compiled step per size, batch and optimizer, all in this one process, timed
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
  parser.add_argument('--optimizers', default='',
                      help="comma-separated optimizer.name values (default: the config's)")
  parser.add_argument('--rounds', type=int, default=4)
  parser.add_argument('--steps', type=int, default=10)
  args = parser.parse_args(argv)
  optimizers = [name for name in args.optimizers.split(',') if name] or [
      cnn.get_config().optimizer.name]
  shapes = [(int(size), int(batch), optimizer) for size in args.sizes.split(',')
            for batch in args.batch_sizes.split(',') for optimizer in optimizers]
  rng = np.random.default_rng(0)
  runners = {}
  for size, batch, optimizer in shapes:
    config = cnn.get_config()
    config.train.batch_size = batch
    config.data.image_size = size
    config.optimizer.name = optimizer
    runners[size, batch, optimizer] = train_speed.OursRunner(
        config, rng, compiler_options=dict(steps.CPU_TRAIN_COMPILER_OPTIONS))
    print(f'{size} px, batch {batch}, {optimizer}: compiled in '
          f'{runners[size, batch, optimizer].compile_s:.1f} s', flush=True)
  times = common.time_in_turns(runners, args.rounds, args.steps)
  medians = {shape: statistics.median(values) for shape, values in times.items()}
  first = medians[shapes[0]]
  for (size, batch, optimizer), ms in medians.items():
    print(f'{size:4d} px, batch {batch:3d}, {optimizer:>5}: {ms:7.1f} ms/step '
          f'({ms / first:.2f} x the first, {batch / ms * 1e3:6.1f} images/s)  '
          f'rounds {[round(t) for t in times[size, batch, optimizer]]}')
  key = lambda shape: f'{shape[0]}px_batch{shape[1]}_{shape[2]}'
  print(json.dumps(dict(ms_per_step={key(k): v for k, v in medians.items()},
                        rounds={key(k): v for k, v in times.items()},
                        load_avg=os.getloadavg())))


if __name__ == '__main__':
  main()
