"""Bad input: one clear line naming the file and the problem, nothing written."""
import csv
import io
import os
import zipfile

import numpy as np
from PIL import Image
import pytest

from datasets import builder as builder_lib
from datasets import sources
from datasets import user_data

WIDTH, HEIGHT = 12, 10
STEMS = ('fg001_bg001_01', 'fg002_bg001_01', 'fg001_bg002_01', 'fg002_bg002_02')
OPTIONS = builder_lib.BuildOptions(workers=1)


def encode(array: np.ndarray, image_format: str = 'PNG', mode: str | None = None) -> bytes:
  """`array` (converted to `mode` if given) as image bytes."""
  image = Image.fromarray(array)
  if mode:
    image = image.convert(mode)
  buffer = io.BytesIO()
  image.save(buffer, format=image_format)
  return buffer.getvalue()


def rgb(width=WIDTH, height=HEIGHT, seed=0) -> np.ndarray:
  """A random RGB image."""
  return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


def gray(width=WIDTH, height=HEIGHT, seed=0) -> np.ndarray:
  """A random single-channel image."""
  return np.random.default_rng(seed).integers(0, 256, (height, width), np.uint8)


def good_files(stems=STEMS) -> dict[str, bytes]:
  """Relative path -> bytes of a valid folder layout (backgrounds 1 and 2)."""
  files = {'bg/img_001.jpg': encode(rgb(seed=1), 'JPEG'),
           'bg/img_002.jpg': encode(rgb(seed=2), 'JPEG')}
  for i, stem in enumerate(stems):
    files[f'fg_bg/{stem}.jpg'] = encode(rgb(seed=10 + i), 'JPEG')
    files[f'mask/{stem}.png'] = encode((gray(seed=20 + i) > 127).astype(np.uint8) * 255)
    files[f'depth/{stem}.png'] = encode(gray(seed=30 + i))
  return files


def write(root, files: dict[str, bytes | None]) -> str:
  """Writes `files` under `root`; a None value means: leave that file out."""
  for path, data in files.items():
    if data is None:
      continue
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'wb') as f:
      f.write(data)
  return str(root)


def write_zip(path, files: dict[str, bytes | None], top: str = '') -> str:
  """A zip of `files` under `top` (stored uncompressed); None values are left out."""
  with zipfile.ZipFile(path, 'w') as archive:
    for name, data in files.items():
      if data is not None:
        archive.writestr(top + name, data)
  return str(path)


def files_under(folder) -> list[str]:
  """Every file below `folder`."""
  return [os.path.join(d, name) for d, _, names in os.walk(folder) for name in names]


def assert_nothing_written(data_dir):
  """No prepared dataset, no file at all and no leftover `incomplete.*` folder."""
  assert not files_under(data_dir)
  leftovers = [d for d, _, _ in os.walk(data_dir) if 'incomplete' in os.path.basename(d)]
  assert not leftovers


def build_fails(path, tmp_path, *fragments, options=OPTIONS) -> str:
  """Builds `path` expecting a BadSampleError whose one line holds every fragment."""
  data_dir = tmp_path / 'data'
  with pytest.raises(sources.BadSampleError) as info:
    builder_lib.build(user_data.from_path(path), options, data_dir)
  message = str(info.value)
  assert '\n' not in message
  for fragment in fragments:
    assert str(fragment) in message, message
  assert_nothing_written(data_dir)
  return message


def folder_with(tmp_path, changes: dict[str, bytes | None]) -> str:
  """A valid folder layout under tmp_path/root with `changes` applied."""
  return write(tmp_path / 'root', {**good_files(), **changes})


def test_good_layout_builds(tmp_path):
  root = write(tmp_path / 'root', good_files())
  builder, _ = builder_lib.build(user_data.from_path(root), OPTIONS, tmp_path / 'data')
  assert builder.info.splits['train'].num_examples + builder.info.splits[
      'test'].num_examples == len(STEMS)


# Each case: files to replace (None = remove), the file the message must name, and
# what it must say. Paths are relative to the folder layout's root.
BAD_SAMPLES = {
    'corrupt_jpeg': ({'fg_bg/fg001_bg001_01.jpg': b'\xff\xd8\xff\xe0' + b'\x13' * 200},
                     'fg_bg/fg001_bg001_01.jpg', 'corrupt or truncated JPEG'),
    'truncated_jpeg': ({'bg/img_002.jpg': encode(rgb(seed=2), 'JPEG')[:300]},
                       'bg/img_002.jpg', 'corrupt or truncated JPEG'),
    'truncated_png': ({'depth/fg002_bg001_01.png': encode(gray())[:60]},
                      'depth/fg002_bg001_01.png', 'corrupt or truncated PNG'),
    'corrupt_png': ({'mask/fg002_bg002_02.png': encode(gray())[:50] + b'\x00' * 40
                     + encode(gray())[90:]},
                    'mask/fg002_bg002_02.png', 'corrupt or truncated PNG'),
    'text_named_jpg': ({'fg_bg/fg001_bg002_01.jpg': b'hello, not an image'},
                       'fg_bg/fg001_bg002_01.jpg', 'not a JPEG or PNG image'),
    'gif_image': ({'mask/fg001_bg001_01.png': encode(gray(), 'GIF')},
                  'mask/fg001_bg001_01.png', 'a GIF image; expected JPEG or PNG'),
    'empty_file': ({'depth/fg001_bg001_01.png': b''},
                   'depth/fg001_bg001_01.png', 'empty file'),
    'missing_mask': ({'mask/fg002_bg001_01.png': None},
                     'mask/fg002_bg001_01', 'missing mask partner'),
    'missing_depth': ({'depth/fg001_bg002_01.png': None},
                      'depth/fg001_bg002_01', 'missing depth partner'),
    'missing_bg': ({'bg/img_002.jpg': None, 'bg/img_003.jpg': encode(rgb(), 'JPEG')},
                   'bg/img_002', 'missing bg partner'),
    'ambiguous_mask': ({'mask/fg001_bg001_01.jpg': encode(gray(), 'JPEG')},
                       'mask/fg001_bg001_01.jpg', 'ambiguous mask partner'),
    'sizes_differ': ({'mask/fg002_bg002_02.png': encode(gray(8, 8))},
                     'mask/fg002_bg002_02.png', 'size 8x8 differs from its fg_bg'),
    'rgba_fg_bg': ({'fg_bg/fg001_bg001_01.jpg': encode(rgb(), mode='RGBA')},
                   'fg_bg/fg001_bg001_01.jpg', 'has an alpha channel (mode RGBA)'),
    'rgba_mask': ({'mask/fg001_bg001_01.png': encode(rgb(), mode='RGBA')},
                  'mask/fg001_bg001_01.png', 'has an alpha channel'),
    'gray_alpha_depth': ({'depth/fg001_bg001_01.png': encode(gray(), mode='LA')},
                         'depth/fg001_bg001_01.png', 'has an alpha channel (mode LA)'),
    'depth_16_bit': ({'depth/fg001_bg002_01.png': encode(gray().astype(np.uint16) * 257)},
                     'depth/fg001_bg002_01.png', '16-bit PNG; depth must be 8-bit'),
    'grayscale_fg_bg': ({'fg_bg/fg002_bg002_02.jpg': encode(gray(), 'JPEG')},
                        'fg_bg/fg002_bg002_02.jpg', 'is grayscale (1 channel, mode L); '
                        'fg_bg must be an 8-bit RGB image'),
    'cmyk_bg': ({'bg/img_001.jpg': encode(rgb(), 'JPEG', mode='CMYK')},
                'bg/img_001.jpg', 'is CMYK'),
    'rgb_mask': ({'mask/fg001_bg001_01.png': encode(rgb())},
                 'mask/fg001_bg001_01.png', 'has 3 channels (mode RGB); mask must be an '
                 '8-bit single-channel (grayscale) image'),
    'colour_palette_depth': ({'depth/fg001_bg001_01.png': encode(rgb(), mode='P')},
                             'depth/fg001_bg001_01.png', 'palette image with colours'),
}


@pytest.mark.parametrize('case', sorted(BAD_SAMPLES))
def test_bad_sample_stops_the_build(case, tmp_path):
  changes, bad_file, problem = BAD_SAMPLES[case]
  files = {**good_files(), **changes}
  root = write(tmp_path / 'root', files)
  message = build_fails(root, tmp_path, os.path.join(root, bad_file), problem)
  assert message.startswith(root), message


@pytest.mark.parametrize('case', ['missing_mask', 'corrupt_jpeg', 'sizes_differ'])
def test_bad_sample_in_a_zip_names_the_member(case, tmp_path):
  changes, bad_file, problem = BAD_SAMPLES[case]
  path = write_zip(tmp_path / 'set.zip', {**good_files(), **changes}, top='set/')
  build_fails(path, tmp_path, f'{path}:set/{bad_file}', problem)


def test_bad_sample_in_four_zips_names_the_member(tmp_path):
  files = {**good_files(), 'depth/fg002_bg001_01.png': encode(gray())[:60]}
  (tmp_path / 'in').mkdir()
  for role in sources.IMAGE_KEYS:
    write_zip(tmp_path / 'in' / f'{role}.zip',
              {name.split('/', 1)[1]: data for name, data in files.items()
               if name.startswith(role + '/')})
  build_fails(tmp_path / 'in', tmp_path,
              f'{tmp_path / "in" / "depth.zip"}:fg002_bg001_01.png',
              'corrupt or truncated PNG')


def test_damaged_zip_member_is_reported(tmp_path):
  path = write_zip(tmp_path / 'set.zip', good_files())
  data = bytearray(open(path, 'rb').read())
  original = good_files()['depth/fg001_bg001_01.png']
  start = bytes(data).index(original)  # Stored uncompressed: flip one byte of it.
  data[start + len(original) // 2] ^= 0xFF
  with open(path, 'wb') as f:
    f.write(data)
  build_fails(path, tmp_path, f'{path}:depth/fg001_bg001_01.png',
              'cannot read from the zip', 'CRC')


def test_mask_modes_that_are_single_channel_at_heart_are_accepted(tmp_path):
  """1-bit masks and gray palettes decode as 0/1 or indices, so they are re-encoded."""
  mask = (gray() > 127)
  palette_depth = Image.fromarray(gray()).convert('P')  # Gray values, gray palette.
  buffer = io.BytesIO()
  palette_depth.save(buffer, format='PNG')
  root = write(tmp_path / 'root', {**good_files(),
                                   'mask/fg001_bg001_01.png': encode(mask),
                                   'depth/fg001_bg001_01.png': buffer.getvalue()})
  source = user_data.from_path(root)
  loaded = source.load(sources.Entry('fg001_bg001_01', 'img_001'))
  np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(loaded.encoded['mask']))),
                                mask.astype(np.uint8) * 255)
  np.testing.assert_array_equal(
      np.asarray(Image.open(io.BytesIO(loaded.encoded['depth']))), gray())
  # Files that are fine already are stored byte for byte.
  other = source.load(sources.Entry('fg002_bg001_01', 'img_001'))
  assert other.encoded['fg_bg'] == good_files()['fg_bg/fg002_bg001_01.jpg']


@pytest.mark.parametrize('how', [
    dict(workers=2),
    # The files' shards read in Beam's worker processes, their lists gathered from them.
    dict(workers=1, beam_runner='DirectRunner',
         beam_options='--direct_num_workers=2 --direct_running_mode=multi_processing'),
], ids=['here', 'beam'])
def test_skip_mode_skips_and_lists_every_bad_file(tmp_path, monkeypatch, how):
  if 'beam_runner' in how:
    pytest.importorskip('apache_beam')
    monkeypatch.setattr(builder_lib, 'SHARD_SAMPLES', 2)  # Shards for both workers.
  stems = sorted(f'fg{f:03d}_bg{b:03d}_01' for b in (1, 2) for f in range(1, 5))
  options = builder_lib.BuildOptions(on_bad_sample='skip', **how)
  splits = builder_lib.split_entries([sources.Entry(s, '') for s in stems], options)
  # Two bad samples in train and one in test; both splits keep good ones.
  train, test = [e.key for e in splits['train']], [e.key for e in splits['test']]
  bad = {f'fg_bg/{train[0]}.jpg': (b'\xff\xd8' + b'\x00' * 50, 'corrupt or truncated JPEG'),
         f'mask/{train[1]}.png': (encode(rgb()), 'mask must be an 8-bit'),
         f'depth/{test[0]}.png': (None, 'missing depth partner')}
  root = write(tmp_path / 'root', {**good_files(stems), **{k: v[0] for k, v in bad.items()}})
  builder, _ = builder_lib.build(user_data.from_path(root), options, tmp_path / 'data')
  skipped = builder.info.metadata['skipped']
  assert len(skipped) == len(bad)
  for path, (_, problem) in bad.items():
    named = os.path.join(root, os.path.splitext(path)[0])  # A missing file has no suffix.
    assert [m for m in skipped if named in m and problem in m], (path, skipped)
  assert builder.info.splits['train'].num_examples == len(train) - 2
  assert builder.info.splits['test'].num_examples == len(test) - 1
  # The list is stored with the dataset.
  again = builder_lib.make_builder(user_data.from_path(root), options, tmp_path / 'data')
  assert again.is_prepared() and list(again.info.metadata['skipped']) == list(skipped)


def test_skip_mode_with_every_sample_of_a_split_bad_fails_cleanly(tmp_path):
  changes = {f'mask/{stem}.png': encode(rgb()) for stem in STEMS}
  root = write(tmp_path / 'root', {**good_files(), **changes})
  build_fails(root, tmp_path, root, 'every sample of a split was skipped',
              'mask must be an 8-bit',
              options=builder_lib.BuildOptions(workers=1, on_bad_sample='skip'))


# Whole-source problems: from_path or entries() refuse the source.


def test_path_that_does_not_exist(tmp_path):
  build_fails(tmp_path / 'nowhere', tmp_path, tmp_path / 'nowhere', 'no such file or folder')


def test_empty_folder(tmp_path):
  (tmp_path / 'root').mkdir()
  (tmp_path / 'root' / '.DS_Store').write_bytes(b'junk')
  build_fails(tmp_path / 'root', tmp_path, tmp_path / 'root', 'empty folder')


def test_empty_image_folder(tmp_path):
  files = {k: v for k, v in good_files().items() if not k.startswith('depth/')}
  root = write(tmp_path / 'root', files)
  os.makedirs(os.path.join(root, 'depth'))
  build_fails(root, tmp_path, os.path.join(root, 'depth'), 'empty; expected depth images')


def test_empty_zip(tmp_path):
  path = write_zip(tmp_path / 'set.zip', {})
  build_fails(path, tmp_path, path, 'empty zip')


def test_zip_of_another_layout(tmp_path):
  files = {k: v for k, v in good_files().items() if not k.startswith('bg/')}
  path = write_zip(tmp_path / 'set.zip', files, top='photos/')
  build_fails(path, tmp_path, path, 'not the expected layout', 'no photos/bg/')


def test_file_named_zip_that_is_not_one(tmp_path):
  path = tmp_path / 'set.zip'
  path.write_bytes(b'PK but not really a zip')
  build_fails(path, tmp_path, path, 'not a readable zip file')


def test_one_of_the_four_zips_given_alone(tmp_path):
  path = write_zip(tmp_path / 'mask.zip', {'x.png': encode(gray())})
  build_fails(path, tmp_path, path, 'looks like one of the four zips')


def test_folder_of_another_layout(tmp_path):
  write(tmp_path / 'root', {'images/a.jpg': encode(rgb(), 'JPEG')})
  write_zip(tmp_path / 'root' / 'data.zip', good_files())
  build_fails(tmp_path / 'root', tmp_path, tmp_path / 'root', 'not a known layout',
              'to read data.zip, pass its own path')


def test_incomplete_set_of_four_zips(tmp_path):
  for role in ('bg', 'fg_bg', 'mask'):
    write_zip(tmp_path / f'{role}.zip', {'a.png': encode(gray())})
  build_fails(tmp_path, tmp_path, tmp_path, 'incomplete layout', 'no depth.zip')


def test_csv_missing_a_column(tmp_path):
  root = write(tmp_path, good_files())
  manifest = os.path.join(root, 'manifest.csv')
  with open(manifest, 'w', newline='') as f:
    csv.writer(f).writerows([['bg', 'fg_bg', 'mask'],
                             ['bg/img_001.jpg', 'fg_bg/fg001_bg001_01.jpg',
                              'mask/fg001_bg001_01.png']])
  build_fails(manifest, tmp_path, manifest, 'missing column depth')


def write_manifest(root, rows) -> str:
  """A manifest of all samples of `good_files`, with `rows` (stem -> row) overriding."""
  manifest = os.path.join(root, 'manifest.csv')
  with open(manifest, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, sources.IMAGE_KEYS)
    writer.writeheader()
    for stem in STEMS:
      bg = 'img_' + stem.split('_')[1][len('bg'):]
      writer.writerow(rows.get(stem, {'bg': f'bg/{bg}.jpg', 'fg_bg': f'fg_bg/{stem}.jpg',
                                      'mask': f'mask/{stem}.png',
                                      'depth': f'depth/{stem}.png'}))
  return manifest


@pytest.mark.parametrize('outside', ['../elsewhere/x.png', '/etc/passwd',
                                     'mask/../../x.png'])
def test_csv_path_outside_its_folder(outside, tmp_path):
  root = write(tmp_path / 'root', good_files())
  row = {'bg': 'bg/img_001.jpg', 'fg_bg': 'fg_bg/fg001_bg001_01.jpg', 'mask': outside,
         'depth': 'depth/fg001_bg001_01.png'}
  manifest = write_manifest(root, {'fg001_bg001_01': row})
  build_fails(manifest, tmp_path, manifest, repr(outside), "points outside the CSV's folder")


def test_csv_pointing_at_a_missing_file(tmp_path):
  root = write(tmp_path / 'root', good_files())
  row = {'bg': 'bg/img_001.jpg', 'fg_bg': 'fg_bg/fg001_bg001_01.jpg',
         'mask': 'mask/gone.png', 'depth': 'depth/fg001_bg001_01.png'}
  manifest = write_manifest(root, {'fg001_bg001_01': row})
  build_fails(manifest, tmp_path, os.path.join(root, 'mask', 'gone.png'),
              'missing mask file', f'{manifest} line 2')


def test_csv_with_duplicate_sample_names(tmp_path):
  root = write(tmp_path / 'root', {**good_files(),
                                   'other/fg001_bg001_01.png': encode(rgb())})
  row = {'bg': 'bg/img_001.jpg', 'fg_bg': 'other/fg001_bg001_01.png',
         'mask': 'mask/fg001_bg001_01.png', 'depth': 'depth/fg001_bg001_01.png'}
  manifest = write_manifest(root, {'fg002_bg001_01': row})
  build_fails(manifest, tmp_path, manifest, "duplicate sample name 'fg001_bg001_01'")


def test_duplicate_fg_bg_names(tmp_path):
  root = folder_with(tmp_path, {'fg_bg/fg001_bg001_01.png': encode(rgb())})
  build_fails(root, tmp_path, os.path.join(root, 'fg_bg', 'fg001_bg001_01.jpg'),
              os.path.join(root, 'fg_bg', 'fg001_bg001_01.png'), 'duplicate sample name')


def test_non_image_file_in_an_image_folder(tmp_path):
  root = folder_with(tmp_path, {'mask/notes.txt': b'remember the milk'})
  build_fails(root, tmp_path, os.path.join(root, 'mask', 'notes.txt'),
              'not an image file')


def test_known_junk_is_ignored(tmp_path):
  root = folder_with(tmp_path, {'fg_bg/.DS_Store': b'\0\0\0\1Bud1',
                                'mask/Thumbs.db': b'thumbs', 'bg/._img_001.jpg': b'fork',
                                'depth/desktop.ini': b'[.ShellClassInfo]',
                                'notes.txt': b'next to the four folders'})
  assert os.path.exists(os.path.join(root, 'fg_bg', '.DS_Store'))
  builder, _ = builder_lib.build(user_data.from_path(root), OPTIONS, tmp_path / 'data')
  assert builder.info.metadata['skipped'] == []


def test_sub_folder_in_an_image_folder(tmp_path):
  root = folder_with(tmp_path, {})
  os.makedirs(os.path.join(root, 'fg_bg', 'more'))
  build_fails(root, tmp_path, os.path.join(root, 'fg_bg', 'more'), 'a sub-folder')


def test_fg_bg_names_without_the_pattern(tmp_path):
  root = folder_with(tmp_path, {'fg_bg/photo_1.jpg': encode(rgb(), 'JPEG'),
                                'fg_bg/photo_2.jpg': encode(rgb(), 'JPEG')})
  build_fails(root, tmp_path, os.path.join(root, 'fg_bg', 'photo_1.jpg'),
              '(and 1 more)', 'fgAAA_bgBBB_NN', 'CSV manifest')


def test_unsupported_file_type(tmp_path):
  path = tmp_path / 'data.txt'
  path.write_text('bg,fg_bg,mask,depth')
  build_fails(path, tmp_path, path, 'not a folder, a .zip or a .csv')


def test_file_names_with_newlines_stay_on_one_line(tmp_path):
  root = write(tmp_path / 'root', {**good_files(), 'bad\nname.png': encode(gray(4, 4))})
  row = {'bg': 'bg/img_001.jpg', 'fg_bg': 'fg_bg/fg001_bg001_01.jpg',
         'mask': 'bad\nname.png', 'depth': 'depth/fg001_bg001_01.png'}
  manifest = write_manifest(root, {'fg001_bg001_01': row})
  build_fails(manifest, tmp_path, user_data.escape_control_characters(os.path.join(root, 'bad\nname.png')),
              'differs from its fg_bg')


def test_a_png_naming_a_transparent_colour_is_stored_without_it(tmp_path):
  """PIL reads such a PNG as plain RGB (or gray), OpenCV as RGBA: stored as the plain
  pixels, the sample reads with 3 (or 1) channels whichever decodes it."""
  import cv2  # pylint: disable=g-import-not-at-top
  with_transparency = {}
  for path, pixels in (('bg/img_001.png', rgb(seed=1)), ('mask/fg001_bg001_01.png', gray())):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format='PNG',
                                 transparency=(0, 0, 0) if pixels.ndim == 3 else 0)
    with_transparency[path] = (buffer.getvalue(), pixels)
  files = {**good_files(), **{path: data for path, (data, _) in with_transparency.items()}}
  del files['bg/img_001.jpg']
  source = user_data.from_path(write(tmp_path / 'root', files))
  loaded = source.load(sources.Entry('fg001_bg001_01', 'img_001'))
  for role, (_, pixels) in zip(('bg', 'mask'), with_transparency.values()):
    stored = np.frombuffer(loaded.encoded[role], np.uint8)
    decoded = cv2.imdecode(stored, cv2.IMREAD_UNCHANGED)
    assert decoded.shape == pixels.shape, role
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(loaded.encoded[role]))),
                                  pixels, err_msg=role)
