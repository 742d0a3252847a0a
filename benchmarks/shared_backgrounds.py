"""A user's own data in the original's layout: each background stored once, or with every sample.

  python benchmarks/shared_backgrounds.py --image_size 224            # the original's size
  python benchmarks/shared_backgrounds.py --image_size 96 --repeats 5
  python benchmarks/shared_backgrounds.py --quick                     # 64 px, a minute or so

Writes a folder in the original's layout (`bg/img_BBB.jpg` once per room,
`fg_bg/fgAAA_bgBBB_NN.jpg`, `mask/` and `depth/` PNGs) from the synthetic classroom with the capture nuisances that
would give each sample its own background (sensor noise, camera shift) turned off, so that
one background file serves every sample of its room, as in the original's 400K set (100
files, 4,000 samples each). Then builds it twice, `data.backgrounds_once` on (the default)
and off, and reports for each: build time, bytes on disk, and samples/s that the train
pipeline delivers without the decoded-sample cache (`data.cache_mib = 0`: every sample read
and decoded at every read, as with a set too large for that cache; the once layout still
keeps its decoded backgrounds, which is where its gain comes from), batches of 8, no worker
processes and no prefetch (each batch made when asked for, so the measure is the work a
batch costs, not the reader threads' overlap), the two layouts read in turns in one
process, the order reversed every other round (`common.time_in_turns`), after a warm-up.
`ratio` is once over whole (samples/s), per round: min, median and max. Bytes on disk
count whole files (array_record writes at least 128 KiB a file, which decides tiny sets).
The last line is one JSON object.
"""
import argparse
import dataclasses
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)

import numpy as np  # pylint: disable=g-import-not-at-top
from PIL import Image  # pylint: disable=g-import-not-at-top

import common  # pylint: disable=g-import-not-at-top
from datasets import builder as builder_lib  # pylint: disable=g-import-not-at-top
from datasets import pipeline  # pylint: disable=g-import-not-at-top
from datasets import shared_backgrounds  # pylint: disable=g-import-not-at-top
from datasets import synthetic  # pylint: disable=g-import-not-at-top
from datasets import user_data  # pylint: disable=g-import-not-at-top

LAYOUTS = ('once', 'whole')
BATCH_SIZE = 8


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true',
                      help='6 rooms x 20 people, 2 repeats of 20 batches (64 px unless '
                           '--image_size says).')
  parser.add_argument('--image_size', type=int, default=None, help='224 px unless --quick.')
  parser.add_argument('--rooms', type=int, default=10)
  parser.add_argument('--people', type=int, default=40)
  parser.add_argument('--placements', type=int, default=2)
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--batches', type=int, default=60, help='Batches a repeat.')
  parser.add_argument('--workers', type=int, default=2, help='Build workers.')
  parser.add_argument('--data_dir', default=os.path.join(
      os.environ.get('TMPDIR', '/tmp'), 'shared_backgrounds_bench'))
  args = parser.parse_args(argv)
  if args.quick:
    args.rooms, args.people, args.repeats, args.batches = 6, 20, 2, 20
  if args.image_size is None:
    args.image_size = 64 if args.quick else 224
  return args


def room_spec(args) -> synthetic.SyntheticSpec:
  """The classroom with one background per room: no sensor noise, no camera shift."""
  return synthetic.SyntheticSpec(
      num_backgrounds=args.rooms, num_foregrounds=args.people, flips=1,
      placements=args.placements, render_size=args.image_size, noise=0.0, shift=0.0)


def _save(array: np.ndarray, path: str):
  image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
  image.save(path, **(dict(quality=95) if path.endswith('.jpg') else {}))


def write_original_layout(spec: synthetic.SyntheticSpec, root: str) -> int:
  """Renders every sample of `spec` into `root` in the original's layout, each room's
  background once; returns the number of samples. Raises if a room's samples do not
  share one background (the spec would need its per-sample nuisances off)."""
  for folder in ('bg', 'fg_bg', 'mask', 'depth'):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
  backgrounds = {}
  count = synthetic.num_samples(spec)
  for index in range(count):
    sample = synthetic.render_sample(spec, index)
    bg_name = sample['name'].split('_')[1].replace('bg', 'img_')
    if bg_name not in backgrounds:
      backgrounds[bg_name] = sample['bg']
      _save(sample['bg'], os.path.join(root, 'bg', f'{bg_name}.jpg'))
    elif not np.array_equal(backgrounds[bg_name], sample['bg']):
      raise ValueError(f'sample {sample["name"]}: its background differs from its room\'s')
    _save(sample['fg_bg'], os.path.join(root, 'fg_bg', f'{sample["name"]}.jpg'))
    for key in ('mask', 'depth'):
      _save(sample[key], os.path.join(root, key, f'{sample["name"]}.png'))
  return count


def folder_bytes(path) -> int:
  """Bytes of every file under `path`."""
  return sum(os.path.getsize(os.path.join(folder, name))
             for folder, _, names in os.walk(path) for name in names)


class _Reader:
  """`run(steps)`: seconds to take `steps` uncached batches from a layout's train split."""

  def __init__(self, split, image_size: int):
    # No prefetch: the batches are made when asked for, so a reader waiting for its turn
    # neither holds ready batches nor takes cores from the one timed.
    self._batches = iter(pipeline.train_dataset(split, image_size=image_size,
                                                global_batch_size=BATCH_SIZE, seed=0,
                                                prefetch=0))

  def run(self, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
      next(self._batches)
    return time.perf_counter() - start


def measure(args) -> dict:
  """Builds both layouts of one folder and reads them in turns; the results as a dict."""
  shutil.rmtree(args.data_dir, ignore_errors=True)
  folder = os.path.join(args.data_dir, 'original_layout')
  start = time.perf_counter()
  samples = write_original_layout(room_spec(args), folder)
  render_s = time.perf_counter() - start
  source = user_data.from_path(folder)
  options = builder_lib.BuildOptions(workers=args.workers)
  result = dict(image_size=args.image_size, samples=samples, rooms=args.rooms,
                folder_bytes=folder_bytes(folder), render_s=round(render_s, 1))
  readers = {}
  for layout in LAYOUTS:
    layout_options = dataclasses.replace(options, backgrounds_once=layout == 'once')
    start = time.perf_counter()
    built, _ = builder_lib.build(source, layout_options, os.path.join(args.data_dir, layout))
    result[f'{layout}_build_s'] = round(time.perf_counter() - start, 2)
    result[f'{layout}_bytes'] = folder_bytes(built.data_path)
    readers[layout] = _Reader(shared_backgrounds.open_split(built, 'train'), args.image_size)
    readers[layout].run(args.batches)  # Warm-up: reader threads, the backgrounds' cache.
  ms = common.time_in_turns(readers, rounds=args.repeats, steps=args.batches, alternate=True)
  for layout in LAYOUTS:
    result[f'{layout}_samples_per_s'] = [round(BATCH_SIZE * 1e3 / t, 1) for t in ms[layout]]
  result['ratio'] = common.spread([w / o for o, w in zip(ms['once'], ms['whole'])])
  result['bytes_ratio'] = round(result['once_bytes'] / result['whole_bytes'], 3)
  return result


def main(argv=None):
  args = parse_args(argv)
  result = measure(args)
  result['command'] = 'python benchmarks/shared_backgrounds.py ' + ' '.join(sys.argv[1:])
  for layout in LAYOUTS:
    print(f'{layout:5s}: built in {result[f"{layout}_build_s"]} s, '
          f'{result[f"{layout}_bytes"] / 2**20:.1f} MiB, uncached samples/s per round '
          f'{result[f"{layout}_samples_per_s"]}')
  print(f'once over whole: reading {result["ratio"]}, bytes {result["bytes_ratio"]}')
  print(json.dumps(result))


if __name__ == '__main__':
  main()
