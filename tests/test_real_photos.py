"""benchmarks/real_photos.py: real people pasted into real photos, true masks, simulated captures."""
import os
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import real_photos  # pylint: disable=g-import-not-at-top,wrong-import-position


def _photo(seed: int, size: int = 40) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, (size, size, 3), np.uint8)


def _person(height: int = 30, width: int = 12) -> np.ndarray:
  """A red figure on a transparent tile, with a faint halo (alpha 3) around it."""
  person = np.zeros((40, 40, 4), np.uint8)
  person[2:2 + height + 2, 8:8 + width + 2, 3] = 3
  person[3:3 + height, 9:9 + width] = (200, 30, 30, 255)
  return person


def test_pasting_changes_the_photo_only_where_the_alpha_is_and_scales_the_person():
  bg = _photo(0)
  fg_bg, alpha = real_photos.paste(bg, _person(), np.random.default_rng(1))
  assert fg_bg.shape == bg.shape and alpha.shape == bg.shape[:2]
  np.testing.assert_array_equal(fg_bg[alpha == 0], bg[alpha == 0])
  rows = np.nonzero((alpha >= 0.5).any(axis=1))[0]
  height = rows.max() - rows.min() + 1
  assert (real_photos.PERSON_HEIGHT[0] * 40 - 2 <= height
          <= real_photos.PERSON_HEIGHT[1] * 40 + 2)
  assert rows.max() + 1 >= real_photos.FEET[0] * 40 - 1  # Feet in the lower fifth.
  solid = alpha > 0.99
  np.testing.assert_allclose(fg_bg[solid], np.broadcast_to([200, 30, 30], fg_bg[solid].shape),
                             atol=2)


def test_pairs_are_one_per_background_person_and_placement_and_repeat_for_a_seed():
  backgrounds, people = [_photo(0), _photo(1)], [_person(), _person(20, 8)]
  pairs = real_photos.make_pairs(backgrounds, people, placements=2)
  again = real_photos.make_pairs(backgrounds, people, placements=2)
  assert [len(pairs[name]) for name in real_photos.CAPTURES] == [8, 8]
  for name in real_photos.CAPTURES:
    for one, other in zip(pairs[name], again[name]):
      for key in ('bg', 'fg_bg', 'alpha'):
        np.testing.assert_array_equal(one[key], other[key])
  # Placements differ, and both captures share each pair's person and place.
  assert not np.array_equal(pairs['pasted'][0]['alpha'], pairs['pasted'][1]['alpha'])
  for pasted, captured in zip(pairs['pasted'], pairs['captured']):
    np.testing.assert_array_equal(pasted['alpha'], captured['alpha'])


def test_a_pasted_pair_differs_only_at_the_person_and_a_captured_one_everywhere():
  pairs = real_photos.make_pairs([_photo(0)], [_person()], placements=1)
  pasted, captured = pairs['pasted'][0], pairs['captured'][0]
  outside = pasted['alpha'] == 0
  np.testing.assert_array_equal(pasted['fg_bg'][outside], pasted['bg'][outside])
  np.testing.assert_array_equal(pasted['bg'], _photo(0))
  difference = np.abs(captured['fg_bg'].astype(int) - captured['bg'].astype(int))[outside]
  assert (difference > 0).mean() > 0.5  # Noise, gain and JPEG differ between the shots.
  assert difference.mean() < 40  # But it is the same scene.


def test_a_shot_applies_its_gain_and_shift_with_noise_and_jpeg_on_top():
  rng = np.random.default_rng(0)
  flat = np.full((32, 32, 3), 100, np.uint8)
  shot = real_photos._shot(flat, rng, np.float32([1.2, 1.0, 0.8]), (0.0, 0.0))
  np.testing.assert_allclose(shot.reshape(-1, 3).mean(axis=0), [120, 100, 80], atol=1.5)
  assert shot.std() > 1  # Sensor noise (sigma 0.01 = 2.55 levels), through JPEG.
  edge = np.zeros((32, 32, 3), np.uint8)
  edge[:, 16:] = 200
  shifted = real_photos._shot(edge, rng, np.ones(3, np.float32), (0.5, 0.0)).astype(float)
  # Shifted by half a pixel: column 15, beside the edge, now reads half of each side.
  assert 60 < shifted[4:-4, 15].mean() < 140
  assert shifted[4:-4, 8].mean() < 15 and shifted[4:-4, 24].mean() > 185


def test_masks_at_the_model_size_come_from_alpha_at_one_half():
  alpha = np.zeros((64, 64), np.float32)
  alpha[:, 16:32] = 0.4  # Below one half: background after resizing too.
  alpha[:, 32:48] = 0.6  # Above: the person.
  pair = dict(bg=_photo(0, 64), fg_bg=_photo(1, 64), alpha=alpha)
  batch = real_photos.at_size([pair], 32)
  assert batch['bg'].shape == (1, 32, 32, 3) and batch['bg'].dtype == np.uint8
  assert batch['mask'].shape == (1, 32, 32, 1)
  columns = batch['mask'][0, :, :, 0].max(axis=0)
  np.testing.assert_array_equal(columns[:8], 0)
  np.testing.assert_array_equal(columns[9:15], 0)  # The 0.4 band, away from its edges.
  np.testing.assert_array_equal(columns[17:23], 1)  # The 0.6 band.
  np.testing.assert_array_equal(columns[25:], 0)


def test_cut_finds_the_tiles_of_a_sheet_or_takes_them_at_a_stride(tmp_path):
  sheet = np.zeros((12, 50, 4), np.uint8)  # Transparent gaps between three 10 px tiles.
  for i, left in enumerate((2, 19, 37)):
    sheet[1:11, left:left + 10] = (40 * i, 100, 100, 255)
  path = str(tmp_path / 'sheet.png')
  Image.fromarray(sheet).save(path)
  found = real_photos.cut_montage(path, str(tmp_path / 'found'), tile=10, top=1)
  assert [np.asarray(Image.open(p))[5, 5, 0] for p in found] == [0, 40, 80]
  strided = real_photos.cut_montage(path, str(tmp_path / 'strided'), tile=10, stride=17,
                                    left=2, top=1)
  assert len(strided) == 3
  np.testing.assert_array_equal(np.asarray(Image.open(strided[1])),
                                np.asarray(Image.open(found[1])))
  with pytest.raises(ValueError, match='no 10 px tile'):
    real_photos.cut_montage(path, str(tmp_path / 'none'), tile=10, top=5)


def test_a_person_without_an_alpha_channel_is_refused_by_name(tmp_path):
  Image.fromarray(_photo(0)).save(tmp_path / 'flat.png')
  with pytest.raises(ValueError, match='flat.png: a person must be a cut-out'):
    real_photos.read_photos(str(tmp_path), 'RGBA')


def test_measure_scores_a_run_and_frame_differencing_on_both_captures(tiny_data_dir,
                                                                      tmp_path):
  from tests.conftest import tiny_config  # pylint: disable=g-import-not-at-top
  from training import loop  # pylint: disable=g-import-not-at-top
  from training import predict  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config(tiny_data_dir), workdir)
  backgrounds, people = [_photo(0, 48), _photo(1, 48)], [_person(), _person(20, 8)]
  result = real_photos.measure([workdir], backgrounds, people, placements=2)
  assert result['pairs'] == 8
  exported, _ = predict.load_model(workdir)
  for name in real_photos.CAPTURES:
    scores = result['runs'][workdir][name]
    batch, probabilities, threshold = result['masks'][(workdir, name)]
    assert batch['bg'].shape == (8, exported.image_size, exported.image_size, 3)
    # The model's score is that of what the run's exported model predicts.
    expected = exported.predict_batch(batch['bg'], batch['fg_bg'])['mask']
    np.testing.assert_allclose(probabilities, np.asarray(expected), atol=1e-6)
    iou = real_photos._mean_overlap(np.asarray(expected), batch['mask'])[0]
    assert scores['model_iou'] == pytest.approx(iou)
    # The oracle threshold is the best for these pairs, so never below the run's.
    assert scores['oracle_frame_difference_iou'] >= scores['frame_difference_iou']
    assert 0 <= scores['frame_difference_iou'] <= 1 and threshold == scores['run_threshold']
