"""A user's own data stores each background once, and reads exactly as if stored whole."""
import dataclasses
import os
import pickle
import sys

import numpy as np
import pytest

from datasets import builder as builder_lib
from datasets import pipeline
from datasets import shared_backgrounds
from datasets import sources
from datasets import synthetic
from datasets import user_data
from tests import test_user_data

ONCE = builder_lib.BuildOptions(workers=1)
WHOLE = dataclasses.replace(ONCE, backgrounds_once=False)


def _folder_source(tmp_path):
  files = test_user_data.make_files()
  return user_data.from_path(test_user_data.write_folder(tmp_path / 'root', files))


def _read(split_source) -> list[dict]:
  return [dict(split_source[i]) for i in range(len(split_source))]


def _assert_same_samples(ours: list[dict], theirs: list[dict]):
  assert len(ours) == len(theirs)
  for a, b in zip(ours, theirs):
    assert a.keys() == b.keys() == {'bg', 'fg_bg', 'mask', 'depth', 'name'}
    assert a['name'] == b['name']
    for key in sources.IMAGE_KEYS:
      assert a[key].dtype == b[key].dtype
      np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize('options', [
    ONCE, dataclasses.replace(ONCE, split_by='bg'),
    dataclasses.replace(ONCE, on_bad_sample='skip')], ids=['by_sample', 'by_bg', 'skipping'])
def test_each_background_is_stored_once_and_every_sample_reads_as_stored_whole(
    tmp_path, options):
  files = test_user_data.make_files()
  if options.on_bad_sample == 'skip':  # A broken background and a broken fg_bg, skipped.
    files['bg/img_004.jpg'] = b'not a jpeg'
    files['fg_bg/fg001_bg001_01.jpg'] = b'not a jpeg'
  source = user_data.from_path(test_user_data.write_folder(tmp_path / 'root', files))
  once, _ = builder_lib.build(source, options, tmp_path / 'once')
  whole, _ = builder_lib.build(source, dataclasses.replace(options, backgrounds_once=False),
                               tmp_path / 'whole')
  assert once.builder_config.name != whole.builder_config.name
  assert 'bg' not in once.info.features and 'bg' in whole.info.features
  stored = len({test_user_data.name_of(sample).split('_bg')[1][:3]
                for split in ('train', 'test') for sample in _read(whole.as_data_source(split))})
  assert once.info.metadata[shared_backgrounds.METADATA_KEY] == stored
  assert stored == (test_user_data.NUM_BG - 1 if options.on_bad_sample == 'skip'
                    else test_user_data.NUM_BG)
  assert shared_backgrounds.PARTS_FOLDER not in os.listdir(once.data_path)
  for split in ('train', 'test'):
    _assert_same_samples(_read(shared_backgrounds.open_split(once, split)),
                         _read(shared_backgrounds.open_split(whole, split)))
  # The statistics count every sample's background, as before, and the same skipped ones.
  for key in ('bg', 'fg_bg', 'skipped'):
    assert once.info.metadata[key] == whole.info.metadata[key]


def test_a_set_built_before_backgrounds_were_stored_once_is_reused_under_its_name(tmp_path):
  source = _folder_source(tmp_path)
  before, _ = builder_lib.build(source, WHOLE, tmp_path / 'data')
  again, reused = builder_lib.build(source, ONCE, tmp_path / 'data')
  assert reused and again.builder_config.name == before.builder_config.name
  assert 'bg' in again.info.features


def test_a_built_set_is_found_without_listing_the_source_again(tmp_path, monkeypatch):
  source = _folder_source(tmp_path)
  built, _ = builder_lib.build(source, ONCE, tmp_path / 'data')

  def no_listing(self):
    raise AssertionError(f'{self.path} listed again')

  monkeypatch.setattr(user_data.FolderSource, 'entries', no_listing)
  builder_lib._backgrounds_shared.cache_clear()  # pylint: disable=protected-access  # A new process.
  again, reused = builder_lib.build(user_data.from_path(source.path), ONCE, tmp_path / 'data')
  assert reused and again.builder_config.name == built.builder_config.name


def test_a_source_with_a_background_per_sample_stores_it_with_the_sample(tmp_path):
  files = {path: data for path, data in test_user_data.make_files().items()
           if not path.startswith('fg_bg/fg002')}  # One person: each bg serves one sample.
  files = {path: data for path, data in files.items()
           if not path.startswith(('mask/fg002', 'depth/fg002'))}
  source = user_data.from_path(test_user_data.write_csv(tmp_path / 'csv', files))
  assert not builder_lib.stores_backgrounds_once(source, ONCE)
  built, _ = builder_lib.build(source, ONCE, tmp_path / 'data')
  assert 'bg' in built.info.features


def test_samples_of_one_background_share_one_decoded_read_only_array(tmp_path):
  once, _ = builder_lib.build(_folder_source(tmp_path), ONCE, tmp_path / 'data')
  samples = _read(shared_backgrounds.open_split(once, 'train'))
  by_background = {}
  for sample in samples:
    by_background.setdefault(test_user_data.name_of(sample).split('_bg')[1][:3], []).append(
        sample['bg'])
  shared = [arrays for arrays in by_background.values() if len(arrays) > 1]
  assert shared and all(array is arrays[0] for arrays in shared for array in arrays)
  with pytest.raises(ValueError, match='read-only'):
    samples[0]['bg'][0, 0, 0] = 1


def test_a_joined_split_pickles_for_worker_processes_and_reads_the_same(tmp_path):
  once, _ = builder_lib.build(_folder_source(tmp_path), ONCE, tmp_path / 'data')
  split = shared_backgrounds.open_split(once, 'train')
  _read(split)  # Its reader and cache are open: neither travels.
  copy = pickle.loads(pickle.dumps(pipeline.reopen_by_path(split)))
  _assert_same_samples(_read(copy), _read(split))


def test_the_train_pipeline_gives_the_same_batches_either_way(tmp_path):
  source = _folder_source(tmp_path)
  batches = []
  for options, folder in ((ONCE, 'once'), (WHOLE, 'whole')):
    built, _ = builder_lib.build(source, options, tmp_path / folder)
    dataset = pipeline.train_dataset(shared_backgrounds.open_split(built, 'train'),
                                     image_size=8, global_batch_size=3, seed=1)
    iterator = iter(dataset)
    batches.append([next(iterator) for _ in range(5)])
  for ours, theirs in zip(*batches):
    for key in sources.IMAGE_KEYS:
      np.testing.assert_array_equal(ours[key], theirs[key])


def test_a_beam_build_stores_the_same_backgrounds_and_samples(tmp_path, monkeypatch):
  pytest.importorskip('apache_beam')
  # A shard a sample: the samples of one background are written by different workers.
  monkeypatch.setattr(builder_lib, 'SHARD_SAMPLES', 1)
  source = _folder_source(tmp_path)
  here, _ = builder_lib.build(source, ONCE, tmp_path / 'here')
  beam_options = dataclasses.replace(
      ONCE, beam_runner='DirectRunner',
      beam_options='--direct_num_workers=2 --direct_running_mode=multi_processing')
  beam, _ = builder_lib.build(source, beam_options, tmp_path / 'beam')
  assert dict(beam.info.metadata) == dict(here.info.metadata)
  assert ((beam.data_path / shared_backgrounds.FILE_NAME).read_bytes()
          == (here.data_path / shared_backgrounds.FILE_NAME).read_bytes())
  for split in ('train', 'test'):
    _assert_same_samples(_read(shared_backgrounds.open_split(beam, split)),
                         _read(shared_backgrounds.open_split(here, split)))


def test_a_failed_build_leaves_no_backgrounds_behind(tmp_path, monkeypatch):
  root = tmp_path / 'root'
  test_user_data.write_folder(root, test_user_data.make_files())
  source = user_data.from_path(str(root))
  last_train_key = builder_lib.split_entries(source.entries(), ONCE)['train'][-1].key
  (root / 'mask' / f'{last_train_key}.png').write_bytes(b'not a png')
  saved = []
  save_part = shared_backgrounds.save_part
  monkeypatch.setattr(shared_backgrounds, 'save_part',
                      lambda *args: saved.append(save_part(*args)) or saved[-1])
  with pytest.raises(sources.BadSampleError, match=f'{last_train_key}.png'):
    builder_lib.build(user_data.from_path(str(root)), ONCE, tmp_path / 'data')
  assert saved  # Backgrounds were saved before the bad sample stopped the build ...
  assert not [path for path in (tmp_path / 'data').rglob('*') if path.is_file()]  # ... and went.


def test_a_missing_background_file_is_named_when_read(tmp_path):
  once, _ = builder_lib.build(_folder_source(tmp_path), ONCE, tmp_path / 'data')
  (once.data_path / shared_backgrounds.FILE_NAME).unlink()
  split = shared_backgrounds.open_split(once, 'train')
  with pytest.raises(FileNotFoundError, match='backgrounds.array_record.*delete the folder'):
    split[0]


def test_gathering_names_a_background_that_no_worker_saved(tmp_path):
  shared_backgrounds.save_part(str(tmp_path / 'parts'), b'one')
  wanted = {shared_backgrounds.digest(b'one'), shared_backgrounds.digest(b'two')}
  with pytest.raises(FileNotFoundError, match='parts: 1 of the 2 backgrounds'):
    shared_backgrounds.gather(str(tmp_path / 'parts'), str(tmp_path), wanted)


def test_decoded_backgrounds_are_kept_within_a_byte_budget(tmp_path, monkeypatch):
  once, _ = builder_lib.build(_folder_source(tmp_path), ONCE, tmp_path / 'data')
  split = shared_backgrounds.open_split(once, 'train')
  one_image = test_user_data.WIDTH * test_user_data.HEIGHT * 3
  monkeypatch.setattr(shared_backgrounds, 'CACHE_BYTES', one_image)
  first = split[0]['bg']
  other = next(index for index in range(len(split))
               if not np.array_equal(split[index]['bg'], first))
  assert split[other]['bg'] is split[other]['bg']  # Kept while it is the latest ...
  again = split[0]['bg']
  assert again is not first and np.array_equal(again, first)  # ... the first was dropped.


def test_the_synthetic_classroom_stores_backgrounds_with_every_sample_under_its_old_name():
  source = sources.SyntheticSource(synthetic.SyntheticSpec(num_backgrounds=2,
                                                           render_size=16))
  assert not builder_lib.stores_backgrounds_once(source, ONCE)
  assert builder_lib.config_name(source, ONCE) == builder_lib.config_name(source, WHOLE)


def test_the_benchmark_writes_one_background_a_room_and_reads_both_layouts_in_turns(tmp_path):
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  'benchmarks'))
  import shared_backgrounds as bench  # pylint: disable=g-import-not-at-top
  args = bench.parse_args(['--image_size', '32', '--rooms', '2', '--people', '4',
                           '--placements', '1', '--repeats', '2', '--batches', '2',
                           '--workers', '1', '--data_dir', str(tmp_path)])
  result = bench.measure(args)
  assert result['samples'] == 8
  assert sorted(os.listdir(tmp_path / 'original_layout' / 'bg')) == ['img_000.jpg',
                                                                      'img_001.jpg']
  # Bytes are not compared: at this size array_record's 128 KiB per file decides them.
  assert result['once_bytes'] > 0 and result['whole_bytes'] > 0
  assert len(result['once_samples_per_s']) == len(result['whole_samples_per_s']) == 2
  assert result['ratio']['min'] <= result['ratio']['median'] <= result['ratio']['max']


def test_timing_in_turns_can_reverse_the_order_every_other_round():
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  'benchmarks'))
  import common  # pylint: disable=g-import-not-at-top
  order = []

  class Runner:
    def __init__(self, name):
      self.name = name

    def run(self, steps):
      order.append(self.name)
      return steps * 1e-3

  times = common.time_in_turns({'a': Runner('a'), 'b': Runner('b')}, rounds=3, steps=2,
                               alternate=True)
  assert order == ['a', 'b', 'b', 'a', 'a', 'b']
  assert times == {'a': [1.0, 1.0, 1.0], 'b': [1.0, 1.0, 1.0]}


def test_the_build_summary_says_how_many_backgrounds_were_stored_once(tmp_path):
  import datasets  # pylint: disable=g-import-not-at-top
  from configs import cnn  # pylint: disable=g-import-not-at-top
  config = cnn.get_config()
  config.data.source = str(_folder_source(tmp_path).path)
  config.data.data_dir = str(tmp_path / 'data')
  config.data.build_workers = 1
  loaded = datasets.load(config.data)
  assert loaded.summary['backgrounds_stored_once'] == test_user_data.NUM_BG
  assert loaded.train.backgrounds is loaded.test.backgrounds  # One cache for both splits.
  config.data.backgrounds_once = False
  assert datasets.load(config.data).summary['backgrounds_stored_once'] == 0
