"""The dataset writer: shard by shard, in the source's order, whatever the set's size."""
import numpy as np

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
    np.testing.assert_allclose(sharded.info.metadata[key]['mean'],
                               whole.info.metadata[key]['mean'], rtol=1e-12)
  a, b = whole.as_data_source('test'), sharded.as_data_source('test')
  for i in range(len(a)):
    for key in ('bg', 'fg_bg', 'mask', 'depth'):
      np.testing.assert_array_equal(a[i][key], b[i][key])


def test_shards_cut_in_order_and_none_is_empty():
  entries = list(range(23))
  shards = builder_lib.shard_entries(entries, 10)
  assert [len(s) for s in shards] == [10, 10, 3]
  assert sum(shards, []) == entries
  assert builder_lib.shard_entries(list(range(10)), 10) == [list(range(10))]
