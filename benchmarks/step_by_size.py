"""What a train step costs at each image size, batch size, optimizer and width: a recipe's price.

  python benchmarks/step_by_size.py                       # configs/cnn.py at 32, 48, 64 px, batch 8
  python benchmarks/step_by_size.py --sizes 64 --batch_sizes 8,16
  python benchmarks/step_by_size.py --sizes 64 --optimizers adam,muon
  python benchmarks/step_by_size.py --sizes 64,96 --widths 32-64-128,48-64-128

Our real jitted train step of `configs/cnn.py` (augmentation, forward, loss, backward,
the optimizer: the config's own unless `--optimizers` names others; the model at the
config's widths unless `--widths` names others) on random uint8 batches, one compiled
step per size, batch, optimizer and widths, all in this one process, timed
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
  parser.add_argument('--widths', default='',
                      help="comma-separated model widths, levels joined by '-' (e.g. "
                           "32-64-128,48-64-128; default: the config's)")
  parser.add_argument('--rounds', type=int, default=4)
  parser.add_argument('--steps', type=int, default=10)
  args = parser.parse_args(argv)
  optimizers = [name for name in args.optimizers.split(',') if name] or [
      cnn.get_config().optimizer.name]
  widths = [tuple(int(w) for w in entry.split('-')) for entry in args.widths.split(',')
            if entry] or [tuple(cnn.get_config().model.widths)]
  shapes = [(int(size), int(batch), optimizer, width) for size in args.sizes.split(',')
            for batch in args.batch_sizes.split(',') for optimizer in optimizers
            for width in widths]
  rng = np.random.default_rng(0)
  runners = {}
  for shape in shapes:
    size, batch, optimizer, width = shape
    config = cnn.get_config()
    config.train.batch_size = batch
    config.data.image_size = size
    config.optimizer.name = optimizer
    config.model.widths = width
    runners[shape] = train_speed.OursRunner(
        config, rng, compiler_options=dict(steps.CPU_TRAIN_COMPILER_OPTIONS))
    print(f'{_name(shape)}: compiled in {runners[shape].compile_s:.1f} s', flush=True)
  times = common.time_in_turns(runners, args.rounds, args.steps)
  medians = {shape: statistics.median(values) for shape, values in times.items()}
  first = medians[shapes[0]]
  for shape, ms in medians.items():
    print(f'{_name(shape)}: {ms:7.1f} ms/step ({ms / first:.2f} x the first, '
          f'{shape[1] / ms * 1e3:6.1f} images/s)  rounds {[round(t) for t in times[shape]]}')
  print(json.dumps(dict(ms_per_step={_key(k): v for k, v in medians.items()},
                        rounds={_key(k): v for k, v in times.items()},
                        load_avg=os.getloadavg())))


def _name(shape) -> str:
  """'96 px, batch 8, muon, widths (48, 64, 128)'."""
  size, batch, optimizer, width = shape
  return f'{size:4d} px, batch {batch:3d}, {optimizer:>5}, widths {width}'


def _key(shape) -> str:
  """The JSON key of a shape, e.g. '96px_batch8_muon' plus '_w48-64-128' for the widths."""
  size, batch, optimizer, width = shape
  return f'{size}px_batch{batch}_{optimizer}_w{"-".join(map(str, width))}'


if __name__ == '__main__':
  main()
