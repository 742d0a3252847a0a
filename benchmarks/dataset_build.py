"""Dataset build: samples/s, peak RSS and bytes per sample; the frame-differencing
baseline's mask IoU at each nuisance level.

  python benchmarks/dataset_build.py            # 2,000 samples at 64 px, levels 0/0.5/1/2
  python benchmarks/dataset_build.py --quick    # 400 samples, under two minutes here
  python benchmarks/dataset_build.py --layout default   # make run's own set, 3,000 rooms
  python benchmarks/dataset_build.py --layout default --beam_workers 2 --shard_samples 250

`--layout original` (the default) builds a slice of the original's layout (every person
in every room: few rooms, each rendered once, so the time is per-sample work) and projects
the 400K set's build time from it; `--layout default` builds the set `make run` trains on
(3,000 rooms, one person each: a room rendered for every sample), whole (600 rooms with
`--quick`).

With `--beam_workers N` the same set is built a second time, by Apache Beam's DirectRunner
with N worker processes (`data.beam_runner`), and the script says whether the two builds
wrote the same records (decoded, in the same order).

The last line printed is one JSON object with the figures.
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FULL_400K = 100 * 100 * 2 * 20


def build_once(data_dir: str, counts: dict, size: int, workers: int, levels: float,
               beam_workers: int = 0) -> dict:
  """Builds one synthetic dataset in this process (with Beam's DirectRunner and
  `beam_workers` processes, if any); returns its figures."""
  import datasets  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.data.data_dir = data_dir
  config.data.build_workers = workers
  if beam_workers:
    config.data.beam_runner = 'DirectRunner'
    config.data.beam_options = (f'--direct_num_workers={beam_workers} '
                                '--direct_running_mode=multi_processing')
  config.data.synthetic.update(render_size=size, **counts)
  for name in ('exposure', 'noise', 'jpeg', 'shift', 'shadow'):
    config.data.synthetic[name] = levels
  start = time.perf_counter()
  data = datasets.load(config.data)
  seconds = time.perf_counter() - start
  num = len(data.train) + len(data.test)
  size_on_disk = sum(os.path.getsize(os.path.join(folder, name))
                     for folder, _, names in os.walk(data.builder.data_path)
                     for name in names if 'array_record' in name)
  children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
  return dict(samples=num, seconds=seconds, samples_per_s=num / seconds,
              records_sha256=_records_digest(data.builder),
              bytes_per_sample=size_on_disk / num,
              peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              worker_peak_rss_mib=children)


def _records_digest(builder) -> str:
  """sha256 over every decoded record of both splits, features in name order. Not the
  files' bytes: TFDS serializes a record's features in an order that depends on the
  process's string hashing, so two builds of the same records, in two processes, write
  files that differ in their bytes and decode the same."""
  digest = hashlib.sha256()
  for split in ('train', 'test'):
    for record in builder.as_data_source(split):
      for key in sorted(record):
        value = np.asarray(record[key])
        digest.update(f'{split}/{key}/{value.dtype}/{value.shape}/'.encode() + value.tobytes())
  return digest.hexdigest()


def _build_in_child(root: str, name: str, args, beam_workers: int = 0) -> dict:
  """`build_once` in a fresh process, so that peak RSS is the build's alone."""
  child = subprocess.run([sys.executable, __file__, '--one', os.path.join(root, name),
                          '--workers', str(args.workers), '--size', str(args.size),
                          '--layout', args.layout, '--beam_workers', str(beam_workers),
                          '--shard_samples', str(args.shard_samples)]
                         + (['--quick'] if args.quick else []),
                         capture_output=True, text=True, check=True)
  return json.loads(child.stdout.strip().splitlines()[-1])


def _describe(build: dict, how: str) -> str:
  return (f"{build['samples']} samples at {build['size']} px in {build['seconds']:.1f} s = "
          f"{build['samples_per_s']:.0f} samples/s {how}; "
          f"{build['bytes_per_sample']:.0f} bytes/sample; peak RSS {build['peak_rss_mib']:.0f} "
          f"MiB (workers {build['worker_peak_rss_mib']:.0f} MiB)")


def baseline_iou(data_dir: str, counts: dict, size: int, levels: float) -> float:
  """Frame-differencing mask IoU on the test split, threshold fit on train."""
  import datasets  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  from losses import metrics  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.data.data_dir = data_dir
  config.data.build_workers = 1
  config.data.synthetic.update(render_size=size, **counts)
  for name in ('exposure', 'noise', 'jpeg', 'shift', 'shadow'):
    config.data.synthetic[name] = levels
  data = datasets.load(config.data)
  unit = lambda batch: {k: v.astype(np.float32) / 255 for k, v in batch.items()}
  train = [unit(b) for b in pipeline.eval_batches(data.train, image_size=size, batch_size=64)]
  threshold = metrics.choose_frame_difference_threshold(train)
  accumulator = metrics.MetricAccumulator()
  mean_depth = np.zeros((size, size, 1), np.float32)
  for batch in pipeline.eval_batches(data.test, image_size=size, batch_size=64):
    batch = unit(batch)
    accumulator.update(metrics.baseline_per_sample(batch['bg'], batch['fg_bg'], batch['mask'],
                                                   batch['depth'], threshold, mean_depth))
  return accumulator.result()['baseline_mask_iou'], threshold


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--workers', type=int, default=2)
  parser.add_argument('--size', type=int, default=64)
  parser.add_argument('--layout', choices=('original', 'default'), default='original')
  parser.add_argument('--beam_workers', type=int, default=0,
                      help='also build with Beam DirectRunner and this many processes')
  parser.add_argument('--shard_samples', type=int, default=0,
                      help='samples a shard (0: about 128 MB a shard); Beam writes shards '
                      'in parallel, so it needs more shards than workers')
  parser.add_argument('--one', help=argparse.SUPPRESS)  # Internal: one build, in a child.
  args = parser.parse_args()
  # Every person in every room, none sought close: the original's product, as measured.
  product = dict(foregrounds_per_background=0, near_share=0.0)
  if args.layout == 'default':
    counts = dict(num_backgrounds=600, num_foregrounds=600) if args.quick else {}
  else:
    counts = (dict(num_backgrounds=5, num_foregrounds=10, flips=2, placements=4, **product)
              if args.quick else
              dict(num_backgrounds=10, num_foregrounds=25, flips=2, placements=4, **product))
  if args.one:
    if args.shard_samples:
      from datasets import builder  # pylint: disable=g-import-not-at-top
      builder.SHARD_SAMPLES = args.shard_samples
    print(json.dumps(dict(build_once(args.one, counts, args.size, args.workers, 1.0,
                                     args.beam_workers), size=args.size)))
    return
  root = tempfile.mkdtemp(prefix='dataset_build_')
  try:
    build = _build_in_child(root, 'speed', args)
    build['layout'] = args.layout
    if args.layout == 'original':
      build['projected_400k_minutes'] = FULL_400K / build['samples_per_s'] / 60
    small = dict(num_backgrounds=4, num_foregrounds=8, flips=2, placements=2, **product)
    levels = {}
    for level in ((0.0, 1.0) if args.quick else (0.0, 0.5, 1.0, 2.0)):
      iou, threshold = baseline_iou(os.path.join(root, f'level{level}'), small, args.size, level)
      levels[str(level)] = dict(baseline_mask_iou=iou, threshold=threshold)
      print(f'nuisance level {level}: frame-differencing mask IoU {iou:.3f} '
            f'(threshold {threshold:.2f})', flush=True)
    print('build: ' + _describe(build, f'with {args.workers} workers')
          + (f"; 400K projected {build['projected_400k_minutes']:.1f} min"
             if 'projected_400k_minutes' in build else ''))
    figures = dict(build=build, baseline_by_nuisance_level=levels)
    if args.beam_workers:
      beam = _build_in_child(root, 'beam', args, args.beam_workers)
      beam['same_records'] = beam['records_sha256'] == build['records_sha256']
      print('beam build: ' + _describe(
          beam, f'with Beam DirectRunner, {args.beam_workers} worker processes') +
            f"; records {'the same' if beam['same_records'] else 'DIFFERENT'}"
            ' (decoded, in order) as the build without Beam')
      figures['beam_build'] = beam
    print(json.dumps(dict(figures, load_average=os.getloadavg()[0])))
  finally:
    shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
  main()
