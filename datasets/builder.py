"""One TFDS builder (array_record, no TensorFlow) over every source of samples.

The builder's config name is derived from the source's fingerprint and the split
settings, so a changed source or split is a different dataset and an unchanged one is
reused. Samples are loaded in worker processes and written as they come, in the source's
order, shard by shard: at most one shard (about SHARD_BYTES) is held in memory, whatever
the set's size (TFDS's `GeneratorBasedBuilder` gathers a whole split before writing it, and
past 1 GB spills to temporary files through TensorFlow, which this project does not
install). Splits are `train` and `test`, deterministic.
"""
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import multiprocessing
import os
import sys
import time
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds
import tqdm

from datasets import sources as sources_lib

VERSION = '1.0.0'
_CHUNK = 16  # Samples handed to a worker at a time.
# TFDS's shard writer keeps a shard's examples until the shard ends (it counts them after
# writing them), so a shard's size bounds the build's memory: about this many bytes.
SHARD_BYTES = 128 * 2**20
SHARD_SAMPLES: int | None = None  # Samples a shard; None: SHARD_BYTES over a sample's size.


@dataclasses.dataclass(frozen=True)
class BuildOptions:
  """How a source becomes a dataset: split rule and bad-sample policy."""
  split_by: str = 'sample'  # 'sample' or 'bg'.
  test_fraction: float = 0.3
  on_bad_sample: str = 'error'  # 'error' or 'skip'.
  seed: int = 0  # Seeds the split.
  workers: int = 2


def config_name(source: sources_lib.Source, options: BuildOptions) -> str:
  """A short stable name for the dataset that `source` and `options` produce."""
  identity = dict(source=source.fingerprint(), split_by=options.split_by,
                  test_fraction=options.test_fraction,
                  on_bad_sample=options.on_bad_sample, seed=options.seed)
  digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
  return f"{source.fingerprint()['kind']}_{digest[:12]}"


def split_entries(entries: list[sources_lib.Entry],
                  options: BuildOptions) -> dict[str, list[sources_lib.Entry]]:
  """Splits entries into train and test, by sample or by background group.

  A seeded permutation picks round(n * test_fraction) samples (or backgrounds) for
  test; each split keeps the source's order so that neighbours share backgrounds.
  """
  if options.split_by == 'sample':
    units = [entry.key for entry in entries]
    unit_of = lambda entry: entry.key
  elif options.split_by == 'bg':
    units = sorted({entry.group for entry in entries})
    unit_of = lambda entry: entry.group
  else:
    raise ValueError(f"data.split_by: {options.split_by!r} is not one of 'sample', 'bg'")
  rng = np.random.default_rng(options.seed)
  num_test = int(round(len(units) * options.test_fraction))
  if len(units) >= 2:
    num_test = min(max(num_test, 1), len(units) - 1)
  test_units = {units[i] for i in rng.permutation(len(units))[:num_test]}
  splits = {'train': [], 'test': []}
  for entry in entries:
    splits['test' if unit_of(entry) in test_units else 'train'].append(entry)
  return splits


def _image_sums(image: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
  """A uint8 RGB image's pixel count and per-channel sums of values and squares, in
  [0, 1] units: computed where the sample is loaded, so that only three numbers a
  channel, not the images, travel back to the writing process."""
  pixels = image.reshape(-1, 3).astype(np.float64) / 255.0
  return len(pixels), pixels.sum(0), (pixels ** 2).sum(0)


class _ChannelStats:
  """Streaming per-channel mean and std of uint8 images, in [0, 1] units."""

  def __init__(self):
    self.count = 0
    self.total = np.zeros(3, np.float64)
    self.total_sq = np.zeros(3, np.float64)

  def add(self, sums: tuple[int, np.ndarray, np.ndarray]):
    """Adds one image's `_image_sums`."""
    count, total, total_sq = sums
    self.count += count
    self.total += total
    self.total_sq += total_sq

  def result(self) -> dict[str, list[float]]:
    mean = self.total / max(self.count, 1)
    std = np.sqrt(np.maximum(self.total_sq / max(self.count, 1) - mean ** 2, 1e-12))
    return dict(mean=mean.tolist(), std=std.tolist())


def _load_chunk(source, entries):
  """Loads samples in a worker: (entry, (key, encoded images, bg's and fg_bg's
  `_image_sums`)) each; a bad one becomes (entry, error message)."""
  results = []
  for entry in entries:
    try:
      loaded = source.load(entry)
    except sources_lib.BadSampleError as error:
      results.append((entry, str(error)))
      continue
    results.append((entry, (loaded.key, loaded.encoded, _image_sums(loaded.bg),
                            _image_sums(loaded.fg_bg))))
  return results


def samples_per_shard(sample_bytes: int, shard_bytes: int = SHARD_BYTES) -> int:
  """How many samples of `sample_bytes` (encoded) fit in a shard of `shard_bytes`."""
  return max(1, shard_bytes // max(sample_bytes, 1))


def shard_entries(entries: list, shard_samples: int) -> list[list]:
  """`entries` cut in order into shards of at most `shard_samples` (at least one shard)."""
  return [entries[i:i + shard_samples]
          for i in range(0, max(len(entries), 1), shard_samples)]


@dataclasses.dataclass
class _SplitProgress:
  """What the shards of one split have written so far."""
  name: str
  total: int
  written: int = 0
  seen: int = 0
  started: float | None = None  # When its first shard began.
  next_report: float = 0.1
  bar: Any = None  # A tqdm bar, on a terminal.


class MaskDepthDataset(tfds.core.ShardBasedBuilder):
  """bg, fg_bg -> mask, depth samples of one source.

  Every image is uint8: bg and fg_bg RGB, mask one channel (255 = person), depth one
  channel (nearness, 255 = nearest).
  """

  VERSION = tfds.core.Version(VERSION)

  def __init__(self, *, source: sources_lib.Source, options: BuildOptions,
               data_dir: str, **kwargs):
    self._source = source
    self._options = options
    self._pool = None
    config = tfds.core.BuilderConfig(
        name=config_name(source, options),
        description=json.dumps(dict(source=source.fingerprint(),
                                    options=dataclasses.asdict(options))))
    super().__init__(data_dir=data_dir, config=config, file_format='array_record',
                     **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    image = lambda channels: tfds.features.Image(shape=(None, None, channels),
                                                 encoding_format='png')
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'bg': image(3), 'fg_bg': image(3), 'mask': image(1), 'depth': image(1),
            'name': tfds.features.Text(),
        }),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,  # Records stay in the source's order; grain shuffles.
    )

  def _download_and_prepare(self, dl_manager, download_config=None):
    # One pool of worker processes serves every shard of both splits.
    with contextlib.ExitStack() as stack:
      if self._options.workers > 1:
        # spawn, not fork: the parent may already run JAX's threads.
        self._pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
            self._options.workers, mp_context=multiprocessing.get_context('spawn')))
      try:
        super()._download_and_prepare(dl_manager, download_config)
      finally:
        self._pool = None
    self.info.metadata['bg'] = self._bg_stats.result()
    self.info.metadata['fg_bg'] = self._fg_bg_stats.result()
    self.info.metadata['skipped'] = list(self._skipped)

  def _shard_iterators_per_split(self, dl_manager):
    del dl_manager
    entries = self._source.entries()
    if not entries:
      raise sources_lib.BadSampleError(f'{_describe(self._source)}: no samples found')
    self._skipped = []
    self._bg_stats, self._fg_bg_stats = _ChannelStats(), _ChannelStats()
    splits = split_entries(entries, self._options)
    if not all(splits.values()):  # TFDS fails on an empty split with an AssertionError.
      unit = 'backgrounds' if self._options.split_by == 'bg' else 'samples'
      raise sources_lib.BadSampleError(
          f'{_describe(self._source)}: {len(entries)} sample(s) are too few for a train '
          f'and a test split (split_by={self._options.split_by!r} needs 2 or more {unit})')
    shard_samples = SHARD_SAMPLES or samples_per_shard(self._sample_bytes(entries))
    generators = {}
    for split, members in splits.items():
      progress = _SplitProgress(f'building {self.builder_config.name} {split}',
                                len(members))
      shards = shard_entries(members, shard_samples)
      generators[split] = [
          functools.partial(self._generate_shard, shard, progress,
                            with_stats=split == 'train', last=k == len(shards) - 1)
          for k, shard in enumerate(shards)]
    return generators

  def _sample_bytes(self, entries, tries: int = 8) -> int:
    """The encoded size of the first sample that loads among the first `tries` (a
    shard's samples are assumed alike); 64 KiB if none does (they fail again, named,
    when the shards are built)."""
    for entry in entries[:tries]:
      try:
        loaded = self._source.load(entry)
      except sources_lib.BadSampleError:
        continue
      return sum(len(data) for data in loaded.encoded.values()) + len(loaded.key)
    return 64 * 2**10

  def _generate_shard(self, entries, progress: _SplitProgress, *, with_stats: bool,
                      last: bool) -> Iterator[tuple[str, Any]]:
    """One shard's samples, loaded by the worker pool, in order."""
    if progress.started is None:
      progress.started = time.time()
    for entry, loaded in self._load_all(entries):
      progress.seen += 1
      _report(progress)
      if isinstance(loaded, str):
        if self._options.on_bad_sample != 'skip':
          raise sources_lib.BadSampleError(loaded)
        self._skipped.append(loaded)
        continue
      key, encoded, bg_sums, fg_bg_sums = loaded
      if with_stats:
        self._bg_stats.add(bg_sums)
        self._fg_bg_stats.add(fg_bg_sums)
      yield key, dict(encoded, name=key)
      progress.written += 1
    if last and not progress.written:
      raise sources_lib.BadSampleError(
          f'{_describe(self._source)}: every sample of a split was skipped '
          f'({len(self._skipped)} skipped, the first: {self._skipped[0]})')

  def _load_all(self, entries):
    chunks = [entries[i:i + _CHUNK] for i in range(0, len(entries), _CHUNK)]
    if self._pool is None:
      for chunk in chunks:
        yield from _load_chunk(self._source, chunk)
      return
    # A bounded window of chunks in flight keeps memory flat however large the set.
    remaining = iter(chunks)
    pending = collections.deque(
        self._pool.submit(_load_chunk, self._source, chunk)
        for chunk in itertools.islice(remaining, 4 * self._options.workers))
    while pending:
      results = pending.popleft().result()
      for chunk in itertools.islice(remaining, 1):
        pending.append(self._pool.submit(_load_chunk, self._source, chunk))
      yield from results


def _report(progress: _SplitProgress):
  """Progress of a split: a bar on a terminal, else a line per 10% and at its end."""
  if sys.stderr.isatty():
    if progress.bar is None:
      progress.bar = tqdm.tqdm(total=progress.total, desc=progress.name, unit=' samples',
                               leave=False)
    progress.bar.update(1)
    if progress.seen == progress.total:
      progress.bar.close()
    return
  if progress.seen >= progress.next_report * progress.total or progress.seen == progress.total:
    rate = progress.seen / max(time.time() - progress.started, 1e-9)
    print(f'{progress.name}: {progress.seen}/{progress.total} samples ({rate:.0f}/s)',
          flush=True)
    while progress.next_report * progress.total <= progress.seen:
      progress.next_report += 0.1


def _describe(source) -> str:
  fingerprint = source.fingerprint()
  return str(fingerprint.get('path', fingerprint['kind']))


def make_builder(source, options: BuildOptions, data_dir: str) -> MaskDepthDataset:
  """The builder of `source`'s dataset under `data_dir` (built or not)."""
  return MaskDepthDataset(source=source, options=options, data_dir=os.fspath(data_dir))


def build(source, options: BuildOptions, data_dir: str) -> tuple[MaskDepthDataset, bool]:
  """Builds the dataset unless it exists; returns the builder and whether it was reused."""
  builder = make_builder(source, options, data_dir)
  reused = builder.is_prepared()
  if not reused:
    tfds.disable_progress_bar()  # _report reports instead.
    builder.download_and_prepare()
  return builder, reused
