"""The dataset writer: shard by shard, in the source's order, whatever the set's size."""
import dataclasses

import numpy as np
import pytest

from datasets import builder as builder_lib
from datasets import sources
from datasets import synthetic

# 4 rooms x 3 people x 2 placements = 24 samples of 16 x 16: 17 train, 7 test by sample.
SPEC = synthetic.SyntheticSpec(num_backgrounds=4, num_foregrounds=3, flips=1, placements=2,
                               render_size=16)


def _build(tmp_path, monkeypatch, shard_samples, workers=1):
  monkeypatch.setattr(builder_lib, 'SHARD_SAMPLES', shard_samples)
  source = sources.SyntheticSource(SPEC)
  options = builder_lib.BuildOptions(workers=workers)
  builder, _ = builder_lib.build(source, options, tmp_path / 'data')
  return source, options, builder


def _expected_names(source, options, split):
  return [synthetic.render_sample(SPEC, int(entry.key))['name']
          for entry in builder_lib.split_entries(source.entries(), options)[split]]


def test_a_split_larger_than_a_shard_is_written_in_several_shards_in_the_sources_order(
    tmp_path, monkeypatch):
  source, options, builder = _build(tmp_path, monkeypatch, shard_samples=5, workers=2)
  for split, shards in (('train', 4), ('test', 2)):  # 17 = 5 + 5 + 5 + 2, 7 = 5 + 2.
    assert builder.info.splits[split].num_shards == shards
    records = builder.as_data_source(split)
    names = [records[i]['name'] for i in range(len(records))]
    assert [name.decode() if isinstance(name, bytes) else name
            for name in names] == _expected_names(source, options, split)


def test_sharding_changes_neither_the_samples_nor_the_statistics(tmp_path, monkeypatch):
  _, _, whole = _build(tmp_path / 'one', monkeypatch, shard_samples=1000)
  _, _, sharded = _build(tmp_path / 'many', monkeypatch, shard_samples=3)
  assert whole.info.splits['train'].num_shards == 1
  assert sharded.info.splits['train'].num_shards == 6
  for key in ('bg', 'fg_bg'):
    train = np.stack([sample[key] for sample in sharded.as_data_source('train')]) / 255.0
    for stat, expected in (('mean', train.mean((0, 1, 2))), ('std', train.std((0, 1, 2)))):
      np.testing.assert_allclose(sharded.info.metadata[key][stat], expected, rtol=1e-9)
      np.testing.assert_allclose(whole.info.metadata[key][stat], expected, rtol=1e-9)
  a, b = whole.as_data_source('test'), sharded.as_data_source('test')
  for i in range(len(a)):
    for key in ('bg', 'fg_bg', 'mask', 'depth'):
      np.testing.assert_array_equal(a[i][key], b[i][key])


def test_shards_are_cut_in_order():
  entries = list(range(23))
  shards = builder_lib.shard_entries(entries, 10)
  assert [len(s) for s in shards] == [10, 10, 3]
  assert sum(shards, []) == entries
  assert builder_lib.shard_entries(list(range(10)), 10) == [list(range(10))]


def test_a_shard_holds_about_shard_bytes_of_samples():
  # The shard writer keeps a shard until it ends: its size bounds the build's memory.
  assert builder_lib.samples_per_shard(16_876, 128 * 2**20) == 7_953  # 64 px synthetic.
  assert builder_lib.samples_per_shard(138_183, 128 * 2**20) == 971  # 224 px.
  assert builder_lib.samples_per_shard(10**9, 128 * 2**20) == 1  # Never zero.


@dataclasses.dataclass(frozen=True)
class _Numbered:
  """Samples 0..count-1 of 4 x 4 pixels, each its number in every pixel; `bad` fail."""
  count: int
  bad: tuple = ()

  def fingerprint(self):
    return dict(kind='numbered', count=self.count, bad=list(self.bad))

  def entries(self):
    return [sources.Entry(key=f'{i:03d}', group=f'{i:03d}') for i in range(self.count)]

  def load(self, entry):
    if int(entry.key) in self.bad:
      raise sources.BadSampleError(f'sample {entry.key}: broken')
    image = np.full((4, 4, 3), int(entry.key), np.uint8)
    encoded = {key: sources.encode_png(image if key in ('bg', 'fg_bg') else image[..., :1])
               for key in sources.IMAGE_KEYS}
    return sources.LoadedSample(key=entry.key, encoded=encoded, bg=image, fg_bg=image)


def _train_keys(source):
  options = builder_lib.BuildOptions(workers=1, on_bad_sample='skip')
  return [e.key for e in builder_lib.split_entries(source.entries(), options)['train']]


def test_skipping_a_whole_shard_keeps_the_others_and_lists_every_bad_sample(
    tmp_path, monkeypatch):
  monkeypatch.setattr(builder_lib, 'SHARD_SAMPLES', 2)
  train = _train_keys(_Numbered(20))  # 14 train samples: 7 shards of 2.
  bad = tuple(int(key) for key in train[2:4])  # The whole second shard.
  options = builder_lib.BuildOptions(workers=1, on_bad_sample='skip')
  builder, _ = builder_lib.build(_Numbered(20, bad), options, tmp_path / 'data')
  records = builder.as_data_source('train')
  assert [records[i]['name'].decode() for i in range(len(records))] == (
      train[:2] + train[4:])
  assert sorted(builder.info.metadata['skipped']) == [f'sample {k:03d}: broken'
                                                      for k in sorted(bad)]
  assert builder.info.splits['train'].num_shards == 7


def test_every_sample_of_a_split_skipped_over_several_shards_fails_cleanly(
    tmp_path, monkeypatch):
  monkeypatch.setattr(builder_lib, 'SHARD_SAMPLES', 2)
  train = _train_keys(_Numbered(20))
  options = builder_lib.BuildOptions(workers=1, on_bad_sample='skip')
  with pytest.raises(sources.BadSampleError, match='every sample of a split was skipped'):
    builder_lib.build(_Numbered(20, tuple(int(key) for key in train)), options,
                      tmp_path / 'data')
  assert not builder_lib.make_builder(_Numbered(20), options, tmp_path / 'data').is_prepared()


def _records(builder, split):
  source = builder.as_data_source(split)
  return [source[i] for i in range(len(source))]


# Beam's DirectRunner with two worker processes, which share the shards out.
BEAM_TWO_PROCESSES = builder_lib.BuildOptions(
    workers=1, beam_runner='DirectRunner',
    beam_options='--direct_num_workers=2 --direct_running_mode=multi_processing')


def test_a_beam_build_writes_the_same_shards_records_and_metadata_as_a_build_here(
    tmp_path, monkeypatch):
  pytest.importorskip('apache_beam')
  monkeypatch.setattr(builder_lib, 'SHARD_SAMPLES', 5)
  source = sources.SyntheticSource(SPEC)
  here, _ = builder_lib.build(source, builder_lib.BuildOptions(workers=1), tmp_path / 'here')
  beam_writes = []
  write_with_beam = builder_lib.MaskDepthDataset._write_with_beam  # pylint: disable=protected-access
  monkeypatch.setattr(builder_lib.MaskDepthDataset, '_write_with_beam',
                      lambda self, config: beam_writes.append(config.beam_runner)
                      or write_with_beam(self, config))
  built, reused = builder_lib.build(source, BEAM_TWO_PROCESSES, tmp_path / 'beam')
  assert beam_writes == ['DirectRunner']
  assert not reused and built.builder_config.name == here.builder_config.name
  assert dict(built.info.metadata) == dict(here.info.metadata)
  for split in ('train', 'test'):
    assert built.info.splits[split].shard_lengths == here.info.splits[split].shard_lengths
    for ours, theirs in zip(_records(built, split), _records(here, split), strict=True):
      assert ours.keys() == theirs.keys()
      for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
  assert not list((tmp_path / 'beam').rglob(builder_lib._SUMMARIES_FILE))  # pylint: disable=protected-access


def test_beam_options_without_a_runner_are_refused_before_building(tmp_path):
  options = builder_lib.BuildOptions(beam_options='--direct_num_workers=2')
  with pytest.raises(ValueError, match='data.beam_options .* without data.beam_runner'):
    builder_lib.build(sources.SyntheticSource(SPEC), options, tmp_path / 'data')
  assert not (tmp_path / 'data').exists()
