"""Input pipeline throughput: where augmentation runs, and ours against the original's loader.

  python benchmarks/input_pipeline.py                  # full: 5 interleaved repeats, 150 batches
  python benchmarks/input_pipeline.py --quick          # 2 repeats, 30 batches (under two minutes)
  python benchmarks/input_pipeline.py --num_workers 2  # worker processes, ours and torch alike

  python benchmarks/input_pipeline.py --quick --image_size 224 --num_workers 8  # a GPU's feed

Measures samples/s delivered to the train step, on `configs/cnn.py` with a synthetic set of
its own: 40 rooms x 10 figures x 2 flips (800 samples, 560 in train), rendered and stored at
`--image_size` (64 px by default; built under --data_dir on the first run, ~1 min at 64 px
on 2 cores, rendering time grows with the pixels):
  device: ours. grain over the TFDS array_record split -> uint8 batches; the config's
          augment list runs on the batch on the (CPU) device, jitted, then normalization,
          as in `steps.train_step`; each batch is waited for with block_until_ready.
          Decoded samples are kept in memory after their first read
          (`pipeline.DecodedCache`, `config.data.cache_mib`), as in training.
  device_uncached: the same with `cache_mib = 0`: every sample decoded at every read, by
          OpenCV (TFDS decodes with it when it is installed, as it is here and on Colab).
  device_uncached_pil: the same with OpenCV hidden from TFDS (in the process and its
          workers), so that TFDS decodes with PIL, as it does where OpenCV is missing.
  host:   the same grain pipeline with the augment list done per sample on the host
          (numpy / PIL, `benchmarks/host_augment.py`, a grain RandomMap); the device then
          only normalizes.
  torch:  the reference, written the way the original was: a torch Dataset whose
          __getitem__ opens the sample's four files with PIL (the train split exported as
          bg/fg_bg JPEG and mask/depth PNG), applies the original's only augmentation,
          ColorJitter on the two photos (the config's color_jitter entry, with PIL's
          ImageEnhance as torchvision does), and returns normalized float tensors, through
          a DataLoader with the same batch size and number of workers. Ours does more work
          (a flip and cutout as well).
Each measurement runs in its own process (so peak memory is its own, and torch's forked
workers never share a process with JAX), with the same cores and, with --num_workers, the
same worker processes; placements alternate within every repeat. Per placement the median
over repeats is reported; a ratio is the median of the per-repeat ratios, with their min
and max beside it. `ratio` is the fair one: ours decoding every sample at every read
(uncached) against the reference; `cached_ratio` is ours with the decoded-sample cache,
which serves a split only while it fits in `data.cache_mib` (the original's 400K samples
never do); `opencv_over_pil` is ours uncached with OpenCV over ours uncached with PIL
(each run says which decoder its process had; the script stops if one had the wrong one).
Time to first batch is from building our iterator to holding its first batch (worker start-up included, imports and jit compilation not;
`first_step_s` adds the compilation of the augment / normalize step); peak
RSS is the largest sum of resident memory over our process and its workers, sampled every
0.05 s. `samples_per_s` is the placement the library uses (device). The last line is one
JSON object.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)

# Set for the device_uncached_pil measurement. Module level, so that grain's worker
# processes, which import this module again, hide OpenCV too.
HIDE_OPENCV_ENV = 'INPUT_PIPELINE_BENCH_HIDE_OPENCV'
if os.environ.get(HIDE_OPENCV_ENV) == '1':
  sys.modules['cv2'] = None  # `import cv2` now fails, and TFDS falls back to PIL.

import numpy as np  # pylint: disable=g-import-not-at-top

import common  # pylint: disable=g-import-not-at-top
import host_augment  # pylint: disable=g-import-not-at-top

PLACEMENTS = ('device', 'device_uncached', 'device_uncached_pil', 'host', 'torch')
LIBRARY_PLACEMENT = 'device'
FILE_FORMATS = dict(bg='jpg', fg_bg='jpg', mask='png', depth='png')


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='2 repeats of 30 batches.')
  parser.add_argument('--data_dir', default=os.path.join(
      os.environ.get('TMPDIR', '/tmp'), 'input_pipeline_bench'),
                      help='Where the dataset is built (and reused) and exported.')
  parser.add_argument('--num_workers', type=int, default=None,
                      help="Worker processes for grain and torch (default: the config's).")
  parser.add_argument('--build_workers', type=int, default=None,
                      help="Processes rendering the set on its first build (default: the config's).")
  parser.add_argument('--image_size', type=int, default=64,
                      help='Pixels per side, rendered and trained at (a multiple of 4).')
  parser.add_argument('--batches', type=int, default=None, help='Timed batches per run.')
  parser.add_argument('--repeats', type=int, default=None)
  parser.add_argument('--child', choices=PLACEMENTS, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.batches is None:
    args.batches = 30 if args.quick else 150
  if args.repeats is None:
    args.repeats = 2 if args.quick else 5
  return args


def bench_config(args):
  """configs/cnn.py on the benchmark's set (800 samples at --image_size) under --data_dir."""
  from configs import cnn  # pylint: disable=g-import-not-at-top
  config = cnn.get_config()
  # Every figure in every room, none sought close, as measured: 40 x 10 x 2 x 1.
  config.data.synthetic.update(num_backgrounds=40, num_foregrounds=10, flips=2, placements=1,
                               foregrounds_per_background=0, near_share=0.0,
                               render_size=args.image_size)
  config.data.image_size = args.image_size
  if args.build_workers:
    config.data.build_workers = args.build_workers
  config.data.data_dir = os.path.join(args.data_dir, 'tfds')
  if args.num_workers is not None:
    config.data.num_workers = args.num_workers
  return config


def augment_entries(config):
  """The config's augment list as plain dicts (picklable, hashable by repr)."""
  return tuple(dict(entry) for entry in config.data.augment)


def reference_augment_entries(config):
  """What the original's loader augmented with: the config's ColorJitter entries alone."""
  return tuple(entry for entry in augment_entries(config) if entry['name'] == 'color_jitter')


class PeakRss:
  """Samples the resident memory of this process plus its children in a thread."""

  def __init__(self, interval=0.05):
    import psutil  # pylint: disable=g-import-not-at-top
    self._process = psutil.Process()
    self._interval = interval
    self._stop = threading.Event()
    self.peak_bytes = 0
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()

  def _run(self):
    while not self._stop.is_set():
      total = 0
      for process in [self._process] + self._process.children(recursive=True):
        try:
          total += process.memory_info().rss
        except Exception:  # pylint: disable=broad-except
          pass  # A worker that just exited.
      self.peak_bytes = max(self.peak_bytes, total)
      self._stop.wait(self._interval)

  def stop(self) -> float:
    """Stops sampling; returns the peak in MiB."""
    self._stop.set()
    self._thread.join()
    return self.peak_bytes / 2**20


# ----------------------------------------------------------------------------
# Children: one measurement each.


def _grain_dataset(data, config, placement):
  """Ours (`pipeline.train_dataset`), or the same chain with host augmentation added."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  import grain  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  kwargs = dict(image_size=config.data.image_size, global_batch_size=config.train.batch_size,
                seed=config.seed)
  workers = config.data.num_workers
  if placement.startswith('device'):
    return pipeline.train_dataset(
        data.train, num_workers=workers, prefetch=config.data.prefetch,
        cache_mib=config.data.cache_mib if placement == 'device' else 0, **kwargs)
  source = pipeline.reopen_by_path(data.train) if workers else data.train
  ds = grain.MapDataset.source(source).seed(kwargs['seed']).shuffle().repeat()
  ds = ds.map(pipeline.ResizeAndDrop(kwargs['image_size']))
  ds = ds.random_map(host_augment.HostAugment(augment_entries(config)))
  ds = ds.batch(kwargs['global_batch_size'], drop_remainder=True)
  iter_ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=2,
                                                 prefetch_buffer_size=config.data.prefetch))
  if workers:
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    iter_ds = iter_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
  return iter_ds


def _device_step(config, stats, placement):
  """The jitted part of the train step before the model: (augment), normalize."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from datasets import augment  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  import zoo  # pylint: disable=g-import-not-at-top
  entries = augment_entries(config) if placement.startswith('device') else ()

  @jax.jit
  def step(key, index, batch):
    unit = augment.apply(entries, jax.random.fold_in(key, index),
                         pipeline.to_unit_range(batch))
    return dict(unit, **zoo.standardize_inputs(unit, stats, jnp.float32))

  return step


def measure_grain(args, placement):
  """Samples/s of our grain pipeline with augmentation on the device or on the host."""
  import jax  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core.features import image_feature  # pylint: disable=g-import-not-at-top
  import datasets  # pylint: disable=g-import-not-at-top
  config = bench_config(args)
  data = datasets.load(config.data)
  step = _device_step(config, data.stats, placement)
  key = jax.random.key(config.seed)
  rss = PeakRss()
  start = time.perf_counter()
  iterator = iter(_grain_dataset(data, config, placement))
  batch = next(iterator)
  first_batch_s = time.perf_counter() - start
  jax.block_until_ready(step(key, 0, batch))  # Compiles.
  first_step_s = time.perf_counter() - start
  for index in range(1, 3):  # Warm-up: worker buffers settle.
    jax.block_until_ready(step(key, index, next(iterator)))
  start, pending = time.perf_counter(), None
  for index in range(args.batches):
    out = step(key, 3 + index, next(iterator))
    if pending is not None:  # One batch in flight, as with async dispatch in training.
      jax.block_until_ready(pending)
    pending = out
  jax.block_until_ready(pending)
  elapsed = time.perf_counter() - start
  result = dict(samples_per_s=args.batches * config.train.batch_size / elapsed,
                time_to_first_batch_s=first_batch_s, first_step_s=first_step_s,
                peak_rss_mib=rss.stop(),
                decoder='opencv' if image_feature.cv2 is not None else 'pil')
  if hasattr(iterator, 'close'):
    iterator.close()
  return result


class FileDataset:
  """The original's loader: four image files per sample, opened and augmented with PIL."""

  def __init__(self, root, entries, stats):
    with open(os.path.join(root, 'index.json')) as f:
      self.names = json.load(f)
    self.root, self.entries = root, entries
    self.mean = {k: np.asarray(stats[k]['mean'], np.float32) for k in host_augment.INPUT_KEYS}
    self.std = {k: np.asarray(stats[k]['std'], np.float32) for k in host_augment.INPUT_KEYS}

  def __len__(self):
    return len(self.names)

  def __getitem__(self, index):
    import torch  # pylint: disable=g-import-not-at-top
    from PIL import Image  # pylint: disable=g-import-not-at-top
    name = self.names[index]
    images = {}
    for key, ext in FILE_FORMATS.items():
      with Image.open(os.path.join(self.root, key, f'{name}.{ext}')) as image:
        images[key] = image.convert('RGB' if key in host_augment.INPUT_KEYS else 'L')
    arrays = host_augment.to_arrays(
        host_augment.augment_pil(self.entries, np.random.default_rng(), images))
    out = {}
    for key, array in arrays.items():
      unit = array.astype(np.float32) / 255.0
      if key in host_augment.INPUT_KEYS:
        unit = (unit - self.mean[key]) / self.std[key]
      out[key] = torch.from_numpy(unit.transpose(2, 0, 1).copy())
    return out


def measure_torch(args):
  """Samples/s of the reference torch DataLoader over the exported files."""
  import torch  # pylint: disable=g-import-not-at-top
  with open(os.path.join(args.data_dir, 'export', 'meta.json')) as f:
    meta = json.load(f)
  dataset = FileDataset(os.path.join(args.data_dir, 'export'),
                        tuple(meta['reference_augment']), meta['stats'])
  loader = torch.utils.data.DataLoader(dataset, batch_size=meta['batch_size'], shuffle=True,
                                       num_workers=meta['num_workers'], drop_last=True)

  def batches():
    while True:  # Epochs, each starting its workers again, as the original's loop did.
      yield from loader

  rss = PeakRss()
  iterator = batches()
  start = time.perf_counter()
  next(iterator)
  first_batch_s = time.perf_counter() - start
  for _ in range(2):
    next(iterator)
  start = time.perf_counter()
  for _ in range(args.batches):
    next(iterator)
  elapsed = time.perf_counter() - start
  return dict(samples_per_s=args.batches * meta['batch_size'] / elapsed,
              time_to_first_batch_s=first_batch_s, peak_rss_mib=rss.stop())


# ----------------------------------------------------------------------------
# The driver.


def export_files(data, config, args) -> str:
  """Writes the train split as the original's files (once) and the loader's settings."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  root = os.path.join(args.data_dir, 'export')
  index_path = os.path.join(root, 'index.json')
  stamp = os.path.join(root, 'dataset.txt')
  if not (os.path.exists(index_path) and os.path.exists(stamp)
          and open(stamp).read() == data.name):
    for key in FILE_FORMATS:
      os.makedirs(os.path.join(root, key), exist_ok=True)
    names = []
    for index in range(len(data.train)):
      sample, name = data.train[index], f'{index:05d}'
      for key, ext in FILE_FORMATS.items():
        array = sample[key]
        image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
        image.save(os.path.join(root, key, f'{name}.{ext}'),
                   **(dict(quality=95) if ext == 'jpg' else {}))
      names.append(name)
    with open(index_path, 'w') as f:
      json.dump(names, f)
    with open(stamp, 'w') as f:
      f.write(data.name)
  with open(os.path.join(root, 'meta.json'), 'w') as f:
    json.dump(dict(reference_augment=reference_augment_entries(config), stats=data.stats,
                   batch_size=config.train.batch_size,
                   num_workers=config.data.num_workers), f)
  return root


def ratio_spread(ours: list[dict], reference: list[dict]) -> dict[str, float]:
  """Min, median and max of the per-repeat ratios of samples/s, ours over the reference."""
  return common.spread([a['samples_per_s'] / b['samples_per_s']
                        for a, b in zip(ours, reference)])


def run_child(args, placement) -> dict:
  """One measurement in a fresh process; its last stdout line is its JSON result."""
  command = [sys.executable, os.path.abspath(__file__), '--child', placement,
             '--data_dir', args.data_dir, '--batches', str(args.batches),
             '--image_size', str(args.image_size)]
  if args.num_workers is not None:
    command += ['--num_workers', str(args.num_workers)]
  env = dict(os.environ, **{HIDE_OPENCV_ENV: '1' if placement.endswith('_pil') else '0'})
  done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
  lines = done.stdout.strip().splitlines()
  if done.returncode or not lines:
    sys.exit(f'{placement} measurement failed:\n{done.stderr[-4000:]}')
  return json.loads(lines[-1])


def main():
  args = parse_args()
  if args.child:
    result = measure_torch(args) if args.child == 'torch' else measure_grain(args, args.child)
    print(json.dumps(result))
    return
  import datasets  # pylint: disable=g-import-not-at-top
  config = bench_config(args)
  start = time.time()
  data = datasets.load(config.data)
  export_files(data, config, args)
  print(f'dataset {data.name}: {len(data.train)} train samples, '
        f'{config.data.image_size} px, batch {config.train.batch_size}, '
        f'{config.data.num_workers} worker(s), augment '
        f'{[entry["name"] for entry in config.data.augment]} (reference: '
        f'{[entry["name"] for entry in reference_augment_entries(config)]}); ready in '
        f'{time.time() - start:.0f} s; load average {os.getloadavg()[0]:.2f} '
        f'on {os.cpu_count()} CPUs', flush=True)
  runs = {placement: [] for placement in PLACEMENTS}
  for repeat in range(args.repeats):
    shift = repeat % len(PLACEMENTS)
    order = PLACEMENTS[shift:] + PLACEMENTS[:shift]
    for placement in order:
      runs[placement].append(run_child(args, placement))
      print(f'repeat {repeat}: {placement:15s} {runs[placement][-1]}', flush=True)
  for placement, decoder in (('device_uncached', 'opencv'), ('device_uncached_pil', 'pil')):
    if any(run['decoder'] != decoder for run in runs[placement]):
      sys.exit(f'{placement} decoded with {[run["decoder"] for run in runs[placement]]}, '
               f'not {decoder}: opencv_over_pil would compare the wrong decoders '
               '(is opencv-python-headless installed?)')
  median = {placement: {key: statistics.median(run[key] for run in results)
                        for key in results[0] if key != 'decoder'}
            for placement, results in runs.items()}
  ours = median[LIBRARY_PLACEMENT]
  ratios = {name: ratio_spread(runs[placement], runs['torch'])
            for name, placement in (('ratio', 'device_uncached'), ('cached_ratio', 'device'),
                                    ('host_augment_ratio', 'host'))}
  ratios['opencv_over_pil'] = ratio_spread(runs['device_uncached'], runs['device_uncached_pil'])
  for name, spread in ratios.items():
    print(f'{name:20s} median {spread["median"]:.3f} (min {spread["min"]:.3f}, '
          f'max {spread["max"]:.3f}) over {args.repeats} repeats', flush=True)
  print(json.dumps(dict(
      image_size=args.image_size,
      ratio=ratios['ratio']['median'],
      ratio_spread=ratios['ratio'],
      cached_ratio=ratios['cached_ratio']['median'],
      cached_ratio_spread=ratios['cached_ratio'],
      host_augment_ratio_spread=ratios['host_augment_ratio'],
      opencv_over_pil=ratios['opencv_over_pil']['median'],
      opencv_over_pil_spread=ratios['opencv_over_pil'],
      uncached_decoder=runs['device_uncached'][0]['decoder'],
      samples_per_s=round(ours['samples_per_s'], 1),
      reference_samples_per_s=round(median['torch']['samples_per_s'], 1),
      host_augment_samples_per_s=round(median['host']['samples_per_s'], 1),
      uncached_samples_per_s=round(median['device_uncached']['samples_per_s'], 1),
      uncached_samples_per_s_per_core=round(
          median['device_uncached']['samples_per_s'] / os.cpu_count(), 1),
      uncached_peak_rss_mib=round(median['device_uncached']['peak_rss_mib'], 1),
      uncached_pil_samples_per_s=round(median['device_uncached_pil']['samples_per_s'], 1),
      time_to_first_batch_s=round(ours['time_to_first_batch_s'], 3),
      peak_rss_mib=round(ours['peak_rss_mib'], 1),
      reference_peak_rss_mib=round(median['torch']['peak_rss_mib'], 1),
      host_augment_peak_rss_mib=round(median['host']['peak_rss_mib'], 1),
      num_workers=config.data.num_workers, batch_size=config.train.batch_size,
      batches=args.batches, repeats=args.repeats, load_average=os.getloadavg()[0])))


if __name__ == '__main__':
  main()
