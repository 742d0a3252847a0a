"""The user's own data: four layouts read in place, built into the same dataset."""
import csv
import io
import os
import pickle
import shutil
import tempfile
import zipfile

import hypothesis
from hypothesis import strategies as st
import numpy as np
from PIL import Image
import pytest

from datasets import builder as builder_lib
from datasets import shared_backgrounds
from datasets import sources
from datasets import user_data
from datasets.user_data import manifest

WIDTH, HEIGHT = 12, 10
NUM_BG, NUM_FG = 5, 2  # 10 samples: 7 train, 3 test.
OPTIONS = builder_lib.BuildOptions(workers=1)


def encode(array: np.ndarray, image_format: str) -> bytes:
  """`array` as JPEG or PNG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format=image_format)
  return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
  """Bytes -> H x W x C uint8, as the dataset decodes them."""
  with Image.open(io.BytesIO(data)) as image:
    array = np.asarray(image)
  return array if array.ndim == 3 else array[..., None]


def make_files(seed: int = 0) -> dict[str, bytes]:
  """Relative path -> bytes of a small set in the original layout, extensions mixed."""
  rng = np.random.default_rng(seed)
  rgb = lambda: rng.integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8)
  files = {}
  for b in range(1, NUM_BG + 1):
    files[f'bg/img_{b:03d}.' + ('png' if b == 2 else 'jpg')] = encode(
        rgb(), 'PNG' if b == 2 else 'JPEG')
    for f in range(1, NUM_FG + 1):
      stem = f'fg{f:03d}_bg{b:03d}_{f:02d}'
      files[f'fg_bg/{stem}.' + ('jpeg' if b == 3 else 'jpg')] = encode(rgb(), 'JPEG')
      mask = (rng.random((HEIGHT, WIDTH)) > 0.5).astype(np.uint8) * 255
      files[f'mask/{stem}.png'] = encode(mask, 'PNG')
      depth = rng.integers(0, 256, (HEIGHT, WIDTH), np.uint8)
      files[f'depth/{stem}.' + ('JPG' if f == 2 else 'png')] = encode(
          depth, 'JPEG' if f == 2 else 'PNG')
  return files


JUNK = {'fg_bg/.DS_Store': b'\0\0\0\1Bud1', 'mask/Thumbs.db': b'junk',
        'bg/._img_001.jpg': b'AppleDouble'}


def expected_samples(files: dict[str, bytes]) -> dict[str, dict[str, np.ndarray]]:
  """Sample key -> its four images decoded from the original bytes."""
  by_role = {}
  for path, data in files.items():
    role, name = path.split('/')
    by_role.setdefault(role, {})[os.path.splitext(name)[0]] = data
  samples = {}
  for key, fg_bg in by_role['fg_bg'].items():
    bg = by_role['bg']['img_' + key.split('_bg')[1].split('_')[0]]
    samples[key] = dict(bg=decode(bg), fg_bg=decode(fg_bg), mask=decode(by_role['mask'][key]),
                        depth=decode(by_role['depth'][key]))
  return samples


def write_folder(root, files) -> str:
  """The folder layout under `root`, with some junk that must be ignored."""
  for path, data in {**files, **JUNK}.items():
    os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
    with open(os.path.join(root, path), 'wb') as f:
      f.write(data)
  return str(root)


def write_zip(path, files, top='my data/') -> str:
  """One zip of the four folders inside a top-level folder, with macOS junk."""
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
    for name, data in {**files, **JUNK}.items():
      archive.writestr(top + name, data)
    archive.writestr('__MACOSX/' + top + 'fg_bg/._x.jpg', b'resource fork')
  return str(path)


def write_zips(folder, files) -> str:
  """Four zips; bg.zip and mask.zip keep a folder of their name, the others do not."""
  os.makedirs(folder, exist_ok=True)
  for role in sources.IMAGE_KEYS:
    prefix = f'{role}/' if role in ('bg', 'mask') else ''
    with zipfile.ZipFile(os.path.join(folder, f'{role}.zip'), 'w') as archive:
      for name, data in files.items():
        if name.startswith(role + '/'):
          archive.writestr(prefix + name.split('/', 1)[1], data)
  return str(folder)


def write_csv(folder, files) -> str:
  """Free naming: every role in its own folder, names that the folder layout refuses."""
  rows = []
  stems = sorted(os.path.splitext(p.split('/')[1])[0] for p in files if p.startswith('fg_bg/'))
  find = lambda role, stem: next(p for p in files
                                 if p.startswith(role + '/') and f'/{stem}.' in p)
  for stem in stems:
    bg_stem = 'img_' + stem.split('_bg')[1].split('_')[0]
    row = {}
    for role, source, target in (('bg', find('bg', bg_stem), f'back grounds/{bg_stem}'),
                                 ('fg_bg', find('fg_bg', stem), f'photos/{stem}'),
                                 ('mask', find('mask', stem), f'labels/{stem} mask'),
                                 ('depth', find('depth', stem), f'labels/dépth {stem}')):
      target += os.path.splitext(source)[1]
      os.makedirs(os.path.join(folder, os.path.dirname(target)), exist_ok=True)
      with open(os.path.join(folder, target), 'wb') as f:
        f.write(files[source])
      row[role] = target
    rows.append(dict(row, note='extra columns are ignored'))
  path = os.path.join(folder, 'manifest.csv')
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, ['note', 'depth', 'mask', 'fg_bg', 'bg'])
    writer.writeheader()
    writer.writerows(rows)
  return path


WRITERS = {
    'folder': lambda tmp, files: write_folder(tmp / 'root', files),
    'zip': lambda tmp, files: write_zip(tmp / 'set.zip', files),
    'zips': lambda tmp, files: write_zips(tmp / 'zips', files),
    'csv': lambda tmp, files: write_csv(tmp / 'csv', files),
}


def read_split(builder, split: str) -> list[dict[str, np.ndarray]]:
  """Every decoded example of a split, in order, each with its background."""
  return [dict(example) for example in shared_backgrounds.open_split(builder, split)]


def name_of(example) -> str:
  """An example's sample name as str."""
  name = example['name']
  return name.decode() if isinstance(name, bytes) else str(name)


@pytest.mark.parametrize('kind', sorted(WRITERS))
def test_layout_builds_the_original_samples_and_split(kind, tmp_path):
  files = make_files()
  source = user_data.from_path(WRITERS[kind](tmp_path, files))
  assert source.fingerprint()['kind'] == kind
  assert os.path.isabs(source.fingerprint()['path'])
  builder, reused = builder_lib.build(source, OPTIONS, tmp_path / 'data')
  assert not reused
  expected = expected_samples(files)
  splits = {split: read_split(builder, split) for split in ('train', 'test')}
  assert (len(splits['train']), len(splits['test'])) == (7, 3)
  # The same samples are test samples in every layout, and in every release: a split
  # that moved would make users' numbers incomparable.
  assert [name_of(e) for e in splits['test']] == [
      'fg001_bg003_01', 'fg001_bg005_01', 'fg002_bg002_02']
  for example in splits['train'] + splits['test']:
    for role in sources.IMAGE_KEYS:
      np.testing.assert_array_equal(example[role], expected[name_of(example)][role],
                                    err_msg=f'{kind} {name_of(example)} {role}')
  assert builder.info.metadata['skipped'] == []


def test_entries_are_sorted_and_grouped_by_background(tmp_path):
  source = user_data.from_path(write_folder(tmp_path / 'root', make_files()))
  entries = source.entries()
  assert [e.key for e in entries] == sorted(e.key for e in entries)
  assert entries[0] == sources.Entry('fg001_bg001_01', 'img_001')
  assert {e.group for e in entries} == {f'img_{b:03d}' for b in range(1, NUM_BG + 1)}


def test_bg_files_of_one_name_make_one_group_each_and_one_file_one_group():
  groups = manifest.background_groups(
      ['a/bg.jpg', 'b/bg.jpg', 'b/bg.png', './a/bg.jpg', 'a//bg.jpg', 'c/room.jpg',
       'room2.png'])
  assert groups == {'a/bg.jpg': 'a/bg.jpg', './a/bg.jpg': 'a/bg.jpg', 'a//bg.jpg': 'a/bg.jpg',
                    'b/bg.jpg': 'b/bg.jpg', 'b/bg.png': 'b/bg.png',
                    'c/room.jpg': 'room', 'room2.png': 'room2'}  # Unique names: the stem.


def test_a_csv_naming_two_bg_files_of_one_name_groups_them_apart_under_its_own_name(tmp_path):
  files = make_files()
  path = write_csv(tmp_path / 'csv', files)
  unique_names = user_data.from_path(path).fingerprint()
  assert 'bg_groups' not in unique_names  # Sets built before keep their names.
  with open(path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  # img_002's rows name a copy of it, in another folder under img_001's name; one of
  # img_001's rows names its file another way.
  folder = os.path.dirname(path)
  os.makedirs(os.path.join(folder, 'other room'), exist_ok=True)
  for row in rows:
    if row['bg'].startswith('back grounds/img_002'):
      moved = 'other room/img_001' + os.path.splitext(row['bg'])[1]
      shutil.copy(os.path.join(folder, row['bg']), os.path.join(folder, moved))
      row['bg'] = moved
  first = next(row for row in rows if row['bg'].startswith('back grounds/img_001'))
  first['bg'] = './' + first['bg']
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  source = user_data.from_path(path)
  bg_of = {os.path.splitext(row['fg_bg'].split('/')[-1])[0]: row['bg'] for row in rows}
  for entry in source.entries():
    bg = os.path.normpath(bg_of[entry.key])
    expected = bg if 'img_001' in bg else os.path.splitext(os.path.basename(bg))[0]
    assert entry.group == expected, entry
  assert {e.group for e in source.entries()} == {
      'back grounds/img_001.jpg', 'other room/img_001.png', 'img_003', 'img_004', 'img_005'}
  assert source.fingerprint()['bg_groups'] == 'path'  # Another set than the one before.


@pytest.mark.parametrize('kind', ['folder', 'csv'])
def test_split_by_bg_keeps_each_background_in_one_split(kind, tmp_path):
  source = user_data.from_path(WRITERS[kind](tmp_path, make_files()))
  options = builder_lib.BuildOptions(workers=1, split_by='bg')
  builder, _ = builder_lib.build(source, options, tmp_path / 'data')
  groups = {entry.key: entry.group for entry in source.entries()}
  bgs = {split: {groups[name_of(e)] for e in read_split(builder, split)}
         for split in ('train', 'test')}
  assert bgs['train'] and bgs['test']
  assert not bgs['train'] & bgs['test']
  assert bgs['test'] == {'img_003', 'img_005'}  # round(5 x 0.3) backgrounds, pinned.


def test_statistics_equal_numpy_over_the_train_split(tmp_path):
  source = user_data.from_path(write_zip(tmp_path / 'set.zip', make_files()))
  builder, _ = builder_lib.build(source, OPTIONS, tmp_path / 'data')
  train = read_split(builder, 'train')
  for role in ('bg', 'fg_bg'):
    pixels = np.concatenate([e[role].reshape(-1, 3) for e in train]) / 255.0
    np.testing.assert_allclose(builder.info.metadata[role]['mean'], pixels.mean(0),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(builder.info.metadata[role]['std'], pixels.std(0),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('kind', ['zip', 'zips'])
def test_zips_are_read_without_extracting(kind, tmp_path):
  (tmp_path / 'in').mkdir()
  path = WRITERS[kind](tmp_path / 'in', make_files())
  snapshot = lambda: sorted((p, os.path.getsize(os.path.join(d, p)))
                            for d, _, names in os.walk(tmp_path / 'in') for p in names)
  before = snapshot()
  builder_lib.build(user_data.from_path(path),
                    builder_lib.BuildOptions(workers=2), tmp_path / 'data')
  assert snapshot() == before
  extracted = [name for _, _, names in os.walk(tmp_path / 'data' / 'downloads')
               for name in names]
  assert not extracted


@pytest.mark.parametrize('kind', sorted(WRITERS))
def test_same_inputs_reuse_and_a_changed_file_changes_the_fingerprint(kind, tmp_path):
  files = make_files()
  path = WRITERS[kind](tmp_path, files)
  first, reused_first = builder_lib.build(user_data.from_path(path), OPTIONS,
                                          tmp_path / 'data')
  second, reused_second = builder_lib.build(user_data.from_path(path), OPTIONS,
                                            tmp_path / 'data')
  assert (reused_first, reused_second) == (False, True)
  assert first.builder_config.name == second.builder_config.name
  fingerprint = user_data.from_path(path).fingerprint()

  changed = dict(files)
  mask = np.zeros((HEIGHT, WIDTH), np.uint8)
  changed['mask/fg001_bg001_01.png'] = encode(mask, 'PNG')
  if kind == 'csv':
    with open(os.path.join(os.path.dirname(path), 'labels/fg001_bg001_01 mask.png'),
              'wb') as f:
      f.write(changed['mask/fg001_bg001_01.png'])
  else:
    for name in os.listdir(tmp_path):
      if name != 'data':
        shutil.rmtree(tmp_path / name) if (tmp_path / name).is_dir() else os.remove(
            tmp_path / name)
    assert WRITERS[kind](tmp_path, changed) == path
  assert user_data.from_path(path).fingerprint() != fingerprint
  third, reused_third = builder_lib.build(user_data.from_path(path), OPTIONS,
                                          tmp_path / 'data')
  assert not reused_third
  assert third.builder_config.name != first.builder_config.name


# Any character a Linux file name may hold, except the separator.
_NAME = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='/\0'),
                min_size=1, max_size=12)


@st.composite
def manifests(draw):
  """Samples with free file names and sizes; sometimes one image has another size."""
  num = draw(st.integers(1, 3))
  names = draw(st.lists(_NAME, min_size=4 * num, max_size=4 * num, unique=True))
  samples = []
  for i in range(num):
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    odd_role = draw(st.sampled_from([None, None, 'bg', 'mask', 'depth']))
    odd_size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    rgb_format = draw(st.sampled_from(['PNG', 'JPEG']))
    samples.append(dict(names=dict(zip(sources.IMAGE_KEYS, names[4 * i:4 * i + 4])),
                        size=size, odd=(odd_role, odd_size), rgb_format=rgb_format))
  return samples


@hypothesis.settings(max_examples=25, deadline=None, derandomize=True)
@hypothesis.given(samples=manifests())
def test_free_names_and_sizes_build_or_fail_with_bad_sample_error(samples):
  rng = np.random.default_rng(0)
  with tempfile.TemporaryDirectory() as tmp:
    folder = os.path.join(tmp, 'dossier ünïcode')
    os.makedirs(folder)
    rows, expected, mismatched = [], {}, []
    for sample in samples:
      row, arrays = {}, {}
      for role, name in sample['names'].items():
        width, height = (sample['odd'][1] if sample['odd'][0] == role else sample['size'])
        channels = 3 if role in ('bg', 'fg_bg') else 1
        array = rng.integers(0, 256, (height, width, channels), np.uint8)
        data = encode(array if channels == 3 else array[..., 0],
                      sample['rgb_format'] if channels == 3 else 'PNG')
        row[role] = name + ('.jpg' if data[:2] == b'\xff\xd8' else '.png')
        with open(os.path.join(folder, row[role]), 'wb') as f:
          f.write(data)
        arrays[role] = decode(data)
      rows.append(row)
      expected[os.path.splitext(row['fg_bg'])[0]] = arrays
      if sample['odd'][0] and sample['odd'][1] != sample['size']:
        mismatched.append(os.path.join(folder, row[sample['odd'][0]]))
    manifest = os.path.join(folder, 'manifest.csv')
    with open(manifest, 'w', newline='', encoding='utf-8') as f:
      writer = csv.DictWriter(f, sources.IMAGE_KEYS)
      writer.writeheader()
      writer.writerows(rows)

    source = user_data.from_path(manifest)
    data_dir = os.path.join(tmp, 'data')
    if mismatched or len(samples) < 2:
      with pytest.raises(sources.BadSampleError) as info:
        builder_lib.build(source, OPTIONS, data_dir)
      message = str(info.value)
      assert '\n' not in message
      if len(samples) < 2:  # Checked before any sample is read.
        assert message.startswith(user_data.escape_control_characters(manifest) + ':'), message
        assert 'too few for a train and a test split' in message
      else:
        assert any(message.startswith(user_data.escape_control_characters(path) + ':')
                   for path in mismatched), message
        assert 'differs from its fg_bg' in message
      assert not [name for _, _, names in os.walk(data_dir) for name in names]
      return
    builder, _ = builder_lib.build(source, OPTIONS, data_dir)
    built = read_split(builder, 'train') + read_split(builder, 'test')
    assert sorted(name_of(e) for e in built) == sorted(expected)
    for example in built:
      for role in sources.IMAGE_KEYS:
        np.testing.assert_array_equal(example[role], expected[name_of(example)][role])


def test_sources_pickle_without_open_handles(tmp_path):
  source = user_data.from_path(write_zip(tmp_path / 'set.zip', make_files()))
  entries = source.entries()
  copy = pickle.loads(pickle.dumps(source))
  assert copy == source
  assert copy.load(entries[0]).encoded == source.load(entries[0]).encoded
  assert isinstance(source, user_data.ZipSource) and source.prefix == 'my data/'
