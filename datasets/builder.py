"""One TFDS builder (array_record, no TensorFlow) over every source of samples.

The builder's config name is derived from the source's fingerprint and the split
settings, so a changed source or split is a different dataset and an unchanged one is
reused. Samples are loaded in worker processes and written as they come, in the source's
order, shard by shard: at most one shard (about SHARD_BYTES) is held in memory, whatever
the set's size (TFDS's `GeneratorBasedBuilder` gathers a whole split before writing it, and
past 1 GB spills to temporary files through TensorFlow, which this project does not
install). Splits are `train` and `test`, deterministic.

With `BuildOptions.beam_runner`, Apache Beam writes the shards instead, shared out among its
workers: the same shards, records and metadata as a build here, for sets too large for one
machine (`pip install -e '.[beam]'`).
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
import shlex
import sys
import time
from typing import Any, Iterator

from etils import epath
import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer
from tensorflow_datasets.core import writer as tfds_writer
import tqdm

from datasets import shared_backgrounds
from datasets import sources as sources_lib

VERSION = '1.0.0'
_CHUNK = 16  # Samples handed to a worker at a time.
# TFDS's shard writer keeps a shard's examples until the shard ends (it counts them after
# writing them), so a shard's size bounds the build's memory: about this many bytes.
SHARD_BYTES = 128 * 2**20
SHARD_SAMPLES: int | None = None  # Samples a shard; None: SHARD_BYTES over a sample's size.
# Inside TFDS's temporary build folder: a Beam build's shard summaries, read and removed.
_SUMMARIES_FILE = 'shard_summaries.json'


@dataclasses.dataclass(frozen=True)
class BuildOptions:
  """How a source becomes a dataset: split rule and bad-sample policy."""
  split_by: str = 'sample'  # 'sample' or 'bg'.
  test_fraction: float = 0.3
  on_bad_sample: str = 'error'  # 'error' or 'skip'.
  seed: int = 0  # Seeds the split.
  workers: int = 2
  # An Apache Beam runner to write the shards with, in parallel ('DirectRunner', or a
  # cluster's: 'DataflowRunner', 'FlinkRunner', 'SparkRunner'); '' builds here with
  # `workers` processes. Either way the same records in the same order.
  beam_runner: str = ''
  beam_options: str = ''  # Beam pipeline options, as flags: '--direct_num_workers=2 ...'.
  # For sources whose samples share background files (a user's own data): each distinct
  # background stored once, not with every sample (`datasets.shared_backgrounds`).
  backgrounds_once: bool = True


def stores_backgrounds_once(source: sources_lib.Source, options: BuildOptions) -> bool:
  """Whether `source`'s dataset stores each background once: with
  `options.backgrounds_once`, for a source that may share background files (a user's own
  data; the synthetic classroom's samples each have their own) whose samples name at
  most half as many backgrounds as there are samples."""
  return (options.backgrounds_once and getattr(source, 'shares_backgrounds', False)
          and _backgrounds_shared(source, json.dumps(source.fingerprint(), sort_keys=True)))


@functools.lru_cache(maxsize=16)
def _backgrounds_shared(source, fingerprint: str) -> bool:
  """At least two samples a background on average. Cached by the source and its
  fingerprint, which changes with its files: a source is listed once a process."""
  del fingerprint  # Part of the cache's key only.
  entries = source.entries()
  return 2 * len({entry.group for entry in entries}) <= len(entries)


def config_name(source: sources_lib.Source, options: BuildOptions,
                backgrounds_once: bool | None = None) -> str:
  """A short stable name for the dataset that `source` and `options` produce.

  `backgrounds_once`: whether it stores each background once; None decides it
  (`stores_backgrounds_once`, which lists the source). Names of sets stored whole are
  those of every set before that layout existed.
  """
  if backgrounds_once is None:
    backgrounds_once = stores_backgrounds_once(source, options)
  identity = dict(source=source.fingerprint(), split_by=options.split_by,
                  test_fraction=options.test_fraction,
                  on_bad_sample=options.on_bad_sample, seed=options.seed)
  if backgrounds_once:
    identity['background_storage'] = 'once'
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

  def state(self) -> dict[str, Any]:
    """The sums so far, as JSON: what `add_state` adds to another."""
    return dict(count=self.count, total=self.total.tolist(), total_sq=self.total_sq.tolist())

  def add_state(self, state: dict[str, Any]):
    """Adds another's `state`."""
    self.add((state['count'], np.asarray(state['total']), np.asarray(state['total_sq'])))

  def result(self) -> dict[str, list[float]]:
    mean = self.total / max(self.count, 1)
    std = np.sqrt(np.maximum(self.total_sq / max(self.count, 1) - mean ** 2, 1e-12))
    return dict(mean=mean.tolist(), std=std.tolist())


def _load_chunk(source, entries):
  """Loads samples in a worker: (key, encoded images, bg's and fg_bg's `_image_sums`)
  each; a bad one becomes its error message."""
  results = []
  for entry in entries:
    try:
      loaded = source.load(entry)
    except sources_lib.BadSampleError as error:
      results.append(str(error))
      continue
    results.append((loaded.key, loaded.encoded, _image_sums(loaded.bg),
                    _image_sums(loaded.fg_bg)))
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
  """What the shards of one split have loaded so far (builds without Beam)."""
  name: str
  total: int
  seen: int = 0
  started: float | None = None  # When its first shard began.
  next_report: float = 0.1
  bar: Any = None  # A tqdm bar, on a terminal.


@dataclasses.dataclass
class _LoaderPool:
  """Worker processes that load samples, `window` chunks of them in flight at a time."""
  executor: concurrent.futures.ProcessPoolExecutor
  window: int


@dataclasses.dataclass
class _ShardJob:
  """Shard `index` of `split`: a picklable generator of its (key, example)s in order.

  TFDS calls it in the building process (loading through the build's `pool`), or, with a
  Beam runner, a Beam worker does (loading there; Beam runs the shards in parallel). Once
  its samples are out it holds its `summary`: samples written, bad samples skipped, the
  images' channel sums, which the builder merges (a Beam worker returns it as its output).
  """
  split: str
  index: int
  source: Any
  entries: list = dataclasses.field(repr=False)
  on_bad_sample: str
  with_stats: bool
  # Where each distinct background is saved (`shared_backgrounds.save_part`), the
  # samples naming theirs by digest; None: every sample stores its background.
  backgrounds_dir: str | None = None
  pool: _LoaderPool | None = dataclasses.field(default=None, repr=False)
  progress: _SplitProgress | None = dataclasses.field(default=None, repr=False)
  summary: dict | None = dataclasses.field(default=None, repr=False)

  def __call__(self) -> Iterator[tuple[str, Any]]:
    skipped, written = [], 0
    saved = set()  # Digests of the backgrounds this shard has saved.
    bg_stats, fg_bg_stats = _ChannelStats(), _ChannelStats()
    if self.progress is not None and self.progress.started is None:
      self.progress.started = time.time()
    for loaded in _load_all(self.source, self.entries, self.pool):
      if self.progress is not None:
        self.progress.seen += 1
        _report(self.progress)
      if isinstance(loaded, str):
        if self.on_bad_sample != 'skip':
          raise sources_lib.BadSampleError(loaded)
        skipped.append(loaded)
        continue
      key, encoded, bg_sums, fg_bg_sums = loaded
      if self.with_stats:
        bg_stats.add(bg_sums)
        fg_bg_stats.add(fg_bg_sums)
      example = dict(encoded, name=key)
      if self.backgrounds_dir is not None:
        encoded_bg = example.pop('bg')
        name = shared_backgrounds.digest(encoded_bg)
        if name not in saved:
          shared_backgrounds.save_part(self.backgrounds_dir, encoded_bg)
          saved.add(name)
        example[shared_backgrounds.DIGEST_KEY] = name
      yield key, example
      written += 1
    self.summary = dict(written=written, skipped=skipped, bg=bg_stats.state(),
                        fg_bg=fg_bg_stats.state(), backgrounds=sorted(saved))


def _load_all(source, entries, pool: _LoaderPool | None):
  """`_load_chunk`'s result for each of `entries`, in order: through `pool`, or here."""
  chunks = [entries[i:i + _CHUNK] for i in range(0, len(entries), _CHUNK)]
  if pool is None:
    for chunk in chunks:
      yield from _load_chunk(source, chunk)
    return
  # A bounded window of chunks in flight keeps memory flat however large the set.
  remaining = iter(chunks)
  pending = collections.deque(
      pool.executor.submit(_load_chunk, source, chunk)
      for chunk in itertools.islice(remaining, pool.window))
  while pending:
    results = pending.popleft().result()
    for chunk in itertools.islice(remaining, 1):
      pending.append(pool.executor.submit(_load_chunk, source, chunk))
    yield from results


def _write_shard(writer, path: str, job: _ShardJob) -> tuple[str, int, dict]:
  """Writes `job`'s shard to `path` (in a Beam worker); returns its split, index, summary."""
  writer.write(examples=job(), path=epath.Path(path))
  return job.split, job.index, job.summary


def _merge_summaries(summaries: list[dict]) -> dict:
  """One split's shard summaries (in shard order) as its totals: samples written, every
  skipped sample's message in order, and the channel statistics of its images."""
  bg_stats, fg_bg_stats = _ChannelStats(), _ChannelStats()
  for summary in summaries:
    bg_stats.add_state(summary['bg'])
    fg_bg_stats.add_state(summary['fg_bg'])
  return dict(written=sum(s['written'] for s in summaries),
              skipped=[message for s in summaries for message in s['skipped']],
              bg=bg_stats.result(), fg_bg=fg_bg_stats.result(),
              backgrounds={name for s in summaries for name in s['backgrounds']})


class MaskDepthDataset(tfds.core.ShardBasedBuilder):
  """bg, fg_bg -> mask, depth samples of one source.

  Every image is uint8: bg and fg_bg RGB, mask one channel (255 = person), depth one
  channel (nearness, 255 = nearest).
  """

  VERSION = tfds.core.Version(VERSION)

  def __init__(self, *, source: sources_lib.Source, options: BuildOptions,
               data_dir: str, backgrounds_once: bool | None = None, **kwargs):
    self._source = source
    self._options = options
    self._pool: _LoaderPool | None = None  # The build's loader processes, while it runs.
    self._shards: dict[str, list[_ShardJob]] = {}  # The shards of the build running.
    if backgrounds_once is None:
      backgrounds_once = stores_backgrounds_once(source, options)
    self._backgrounds_once = backgrounds_once
    config = tfds.core.BuilderConfig(
        name=config_name(source, options, backgrounds_once),
        description=json.dumps(dict(source=source.fingerprint(),
                                    options=dataclasses.asdict(options))))
    super().__init__(data_dir=data_dir, config=config, file_format='array_record',
                     **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    image = lambda channels: tfds.features.Image(shape=(None, None, channels),
                                                 encoding_format='png')
    features = {'bg': image(3), 'fg_bg': image(3), 'mask': image(1), 'depth': image(1),
                'name': tfds.features.Text()}
    if self._backgrounds_once:
      del features['bg']
      features[shared_backgrounds.DIGEST_KEY] = tfds.features.Text()
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict(features),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,  # Records stay in the source's order; grain shuffles.
    )

  def _download_and_prepare(self, dl_manager, download_config=None):
    if download_config and download_config.beam_runner:
      summaries = self._write_with_beam(download_config)
    else:
      summaries = self._write_here(dl_manager, download_config)
    splits = {split: _merge_summaries(shard_summaries)
              for split, shard_summaries in summaries.items()}
    for split in splits.values():
      if not split['written']:
        raise sources_lib.BadSampleError(
            f'{_describe(self._source)}: every sample of a split was skipped '
            f'({len(split["skipped"])} skipped, the first: {split["skipped"][0]})')
    if self._backgrounds_once:
      self.info.metadata[shared_backgrounds.METADATA_KEY] = shared_backgrounds.gather(
          self._backgrounds_parts(), self.data_dir,
          splits['train']['backgrounds'] | splits['test']['backgrounds'])
    self.info.metadata['bg'] = splits['train']['bg']
    self.info.metadata['fg_bg'] = splits['train']['fg_bg']
    self.info.metadata['skipped'] = splits['train']['skipped'] + splits['test']['skipped']

  def _write_here(self, dl_manager, download_config) -> dict[str, list[dict]]:
    """Writes every shard in this process, through TFDS's shard-based path, loading the
    samples in `options.workers` processes; returns each split's shard summaries."""
    with contextlib.ExitStack() as stack:
      if self._options.workers > 1:
        # One pool serves every shard of both splits. spawn, not fork: the parent may
        # already run JAX's threads.
        self._pool = _LoaderPool(
            stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                self._options.workers, mp_context=multiprocessing.get_context('spawn'))),
            window=4 * self._options.workers)
      try:
        super()._download_and_prepare(dl_manager, download_config)
      finally:
        self._pool = None
    return {split: [job.summary for job in jobs] for split, jobs in self._shards.items()}

  def _write_with_beam(self, download_config) -> dict[str, list[dict]]:
    """Writes every shard of both splits as one Beam stage, a shard an element; returns
    each split's shard summaries, in shard order.

    TFDS's own Beam path for shard-based builders makes each shard a pipeline branch of
    its own; Beam's DirectRunner ran those one at a time here. The shards are one
    collection instead, redistributed (`Reshuffle`) so that the runner's workers share
    them. File names and split information are those TFDS's path writes. The summaries
    come back as the stage's output, gathered into one file (as TFDS gathers its shard
    lengths), so only attempts that succeeded count.
    """
    import apache_beam as beam  # pylint: disable=g-import-not-at-top
    writer = tfds_writer.ShardWriter(
        features=self.info.features,
        serializer=example_serializer.ExampleSerializer(
            self.info.features.get_serialized_info()),
        example_writer=self._example_writer())
    templates, paths = {}, {}
    for split, jobs in self._shard_iterators_per_split(None).items():
      templates[split] = self._get_filename_template(split_name=split)
      paths[split] = [os.fspath(templates[split].sharded_filepath(
          shard_index=k, num_shards=len(jobs))) for k in range(len(jobs))]
    # Here self.data_dir is TFDS's temporary folder, renamed when the build succeeds.
    gathered = epath.Path(self.data_dir) / _SUMMARIES_FILE
    with beam.Pipeline(runner=download_config.beam_runner,
                       options=download_config.beam_options) as pipeline:
      _ = (pipeline
           # Without their progress, which only the building process reports to.
           | 'Shards' >> beam.Create([(paths[job.split][job.index],
                                       dataclasses.replace(job, progress=None))
                                      for jobs in self._shards.values() for job in jobs])
           | 'Distribute' >> beam.Reshuffle()
           | 'Write' >> beam.MapTuple(functools.partial(_write_shard, writer))
           | 'Gather' >> beam.combiners.ToList()
           | 'Save' >> beam.Map(lambda results: gathered.write_text(json.dumps(results))))
    summaries = {split: [None] * len(jobs) for split, jobs in self._shards.items()}
    for split, index, summary in json.loads(gathered.read_text()):
      summaries[split][index] = summary
    gathered.unlink()
    self.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(
            name=split,
            shard_lengths=[summary['written'] for summary in summaries[split]],
            num_bytes=sum(epath.Path(path).stat().length for path in paths[split]),
            filename_template=templates[split])
        for split in self._shards]))
    return summaries

  def _shard_iterators_per_split(self, dl_manager) -> dict[str, list[_ShardJob]]:
    del dl_manager
    entries = self._source.entries()
    if not entries:
      raise sources_lib.BadSampleError(f'{_describe(self._source)}: no samples found')
    splits = split_entries(entries, self._options)
    if not all(splits.values()):  # TFDS fails on an empty split with an AssertionError.
      unit = 'backgrounds' if self._options.split_by == 'bg' else 'samples'
      raise sources_lib.BadSampleError(
          f'{_describe(self._source)}: {len(entries)} sample(s) are too few for a train '
          f'and a test split (split_by={self._options.split_by!r} needs 2 or more {unit})')
    shard_samples = SHARD_SAMPLES or samples_per_shard(self._sample_bytes(entries))
    self._shards = {}
    for split, members in splits.items():
      progress = _SplitProgress(f'building {self.builder_config.name} {split}', len(members))
      self._shards[split] = [
          _ShardJob(split, k, self._source, shard, self._options.on_bad_sample,
                    with_stats=split == 'train',
                    backgrounds_dir=(self._backgrounds_parts() if self._backgrounds_once
                                     else None),
                    pool=self._pool, progress=progress)
          for k, shard in enumerate(shard_entries(members, shard_samples))]
    return self._shards

  def _backgrounds_parts(self) -> str:
    """Where the shards save the distinct backgrounds: inside TFDS's temporary build
    folder (`self.data_dir` while building), so a failed build leaves nothing behind."""
    return os.fspath(epath.Path(self.data_dir) / shared_backgrounds.PARTS_FOLDER)

  def _sample_bytes(self, entries, tries: int = 8) -> int:
    """The encoded size of the first sample that loads among the first `tries` (a
    shard's samples are assumed alike); 64 KiB if none does (they fail again, named,
    when the shards are built)."""
    for entry in entries[:tries]:
      try:
        loaded = self._source.load(entry)
      except sources_lib.BadSampleError:
        continue
      stored = {key: data for key, data in loaded.encoded.items()
                if not (key == 'bg' and self._backgrounds_once)}
      return sum(len(data) for data in stored.values()) + len(loaded.key)
    return 64 * 2**10


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


def make_builder(source, options: BuildOptions, data_dir: str,
                 backgrounds_once: bool | None = None) -> MaskDepthDataset:
  """The builder of `source`'s dataset under `data_dir` (built or not); `backgrounds_once`
  as in `config_name`."""
  return MaskDepthDataset(source=source, options=options, data_dir=os.fspath(data_dir),
                          backgrounds_once=backgrounds_once)


def build(source, options: BuildOptions, data_dir: str) -> tuple[MaskDepthDataset, bool]:
  """Builds the dataset unless it exists; returns the builder and whether it was reused.

  A built set is looked for without listing the source: stored with each background
  once, or stored whole (as every set was before that layout; the same samples), so a set
  built before is reused as it is. Only a build lists the source to choose the layout.
  """
  download_config = beam_download_config(options)
  may_share = options.backgrounds_once and getattr(source, 'shares_backgrounds', False)
  for backgrounds_once in ((True, False) if may_share else (False,)):
    built = make_builder(source, options, data_dir, backgrounds_once)
    if built.is_prepared():
      return built, True
  builder = make_builder(source, options, data_dir)
  tfds.disable_progress_bar()  # _report reports instead.
  builder.download_and_prepare(download_config=download_config)
  return builder, False


def beam_download_config(options: BuildOptions) -> tfds.download.DownloadConfig | None:
  """TFDS's download config: None, or with `options.beam_runner` Beam's runner and options.

  Raises ValueError, naming the field, for options without a runner, a runner Beam does
  not know, or a runner without Apache Beam installed: checked before anything is built.
  (Beam itself checks the options' flags only when the pipeline starts.)
  """
  if not options.beam_runner:
    if options.beam_options:
      raise ValueError(f'data.beam_options {options.beam_options!r} given without '
                       'data.beam_runner: name a runner, e.g. DirectRunner')
    return None
  try:
    from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
    from apache_beam.runners import runner as beam_runner  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ValueError(f'data.beam_runner {options.beam_runner!r} needs Apache Beam, which '
                     "is not installed: pip install -e '.[beam]'") from None
  try:
    beam_runner.create_runner(options.beam_runner)
  except ValueError as error:
    raise ValueError(f'data.beam_runner {options.beam_runner!r}: {error}') from None
  return tfds.download.DownloadConfig(
      beam_runner=options.beam_runner,
      beam_options=pipeline_options.PipelineOptions(shlex.split(options.beam_options)))
