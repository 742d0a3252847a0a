"""The synthetic classroom renderer: sample format, exact labels, nuisances."""
import dataclasses
import hashlib
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from datasets import synthetic
from datasets.synthetic import backgrounds
from datasets.synthetic import capture
from datasets.synthetic import figures
from datasets.synthetic import geometry
from datasets.synthetic import rooms

SPEC = synthetic.SyntheticSpec(num_backgrounds=2, num_foregrounds=3, flips=2,
                               placements=2, render_size=48)
CLEAN = dataclasses.replace(SPEC, exposure=0.0, noise=0.0, jpeg=0.0, shift=0.0,
                            shadow=0.0)
INDICES = (0, 5, 11, 14, 23)


def _digest(sample):
  h = hashlib.sha256()
  for key in ('bg', 'fg_bg', 'mask', 'depth'):
    h.update(sample[key].tobytes())
  return h.hexdigest()


def _outside_mask_differs(spec, index):
  sample = synthetic.render_sample(spec, index)
  outside = sample['mask'][..., 0] == 0
  return np.any(sample['bg'][outside] != sample['fg_bg'][outside])


def test_sample_format():
  sample = synthetic.render_sample(SPEC, 0)
  for key, channels in (('bg', 3), ('fg_bg', 3), ('mask', 1), ('depth', 1)):
    assert sample[key].shape == (48, 48, channels), key
    assert sample[key].dtype == np.uint8, key
  assert set(np.unique(sample['mask'])) <= {0, 255}
  assert sample['name'] == 'fg000_bg000_00'
  assert sample['bg_name'] == 'img_000'


def test_every_sample_shows_some_of_its_figure():
  for index in range(synthetic.num_samples(SPEC)):
    mask = synthetic.render_sample(SPEC, index)['mask']
    assert (mask > 0).mean() >= 0.005, synthetic.sample_name(SPEC, index)


def test_counts_order_and_names_follow_the_original_dataset():
  spec = synthetic.SyntheticSpec(num_backgrounds=2, num_foregrounds=3, flips=2,
                                 placements=4)
  assert synthetic.num_samples(spec) == 48
  # Background-major: the first 24 samples all use background 0.
  assert {synthetic.sample_index_to_ids(spec, i)[0] for i in range(24)} == {0}
  assert synthetic.sample_index_to_ids(spec, 47) == (1, 2, 1, 3)
  assert synthetic.sample_name(spec, 0) == 'fg000_bg000_00'
  # The two-digit suffix counts plain placements first, then flipped ones.
  assert synthetic.sample_index_to_ids(spec, 6) == (0, 0, 1, 2)
  assert synthetic.sample_name(spec, 6) == 'fg000_bg000_06'
  assert synthetic.sample_name(spec, 47) == 'fg002_bg001_07'
  assert synthetic.background_name(1) == 'img_001'
  with pytest.raises(IndexError):
    synthetic.sample_index_to_ids(spec, 48)


def test_foregrounds_per_background_pairs_each_room_with_the_next_people_of_the_pool():
  spec = synthetic.SyntheticSpec(num_backgrounds=3, num_foregrounds=5,
                                 foregrounds_per_background=2, flips=2, placements=1)
  assert synthetic.num_samples(spec) == 3 * 2 * 2
  people = [synthetic.sample_index_to_ids(spec, i)[:2] for i in range(0, 12, 2)]
  # Room 0 gets people 0 and 1, room 1 people 2 and 3, room 2 wraps round the pool.
  assert people == [(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (2, 0)]
  assert synthetic.sample_name(spec, 9) == 'fg004_bg002_01'


@pytest.mark.parametrize('per_background', [0, 3, 10])
def test_zero_or_the_whole_pool_pairs_every_room_with_everyone(per_background):
  every = dataclasses.replace(SPEC, foregrounds_per_background=per_background)
  assert SPEC.foregrounds_per_background == 0 and SPEC.num_foregrounds == 3
  assert synthetic.num_samples(every) == synthetic.num_samples(SPEC) == 24
  for index in range(24):
    assert (synthetic.sample_index_to_ids(every, index) ==
            synthetic.sample_index_to_ids(SPEC, index))


def _figure_heights(spec, indices):
  heights = []
  for index in indices:
    rows = np.flatnonzero(synthetic.render_sample(spec, index)['mask'][..., 0].any(1))
    heights.append(rows.max() - rows.min() + 1)
  return np.array(heights)


def test_near_share_brings_standing_people_close_to_the_camera():
  spec = synthetic.SyntheticSpec(num_backgrounds=2, num_foregrounds=40,
                                 foregrounds_per_background=20, flips=1, placements=1,
                                 render_size=48)
  standing = [i for i in range(synthetic.num_samples(spec))
              if figures._figure(spec.seed, synthetic.sample_index_to_ids(spec, i)[1],  # pylint: disable=protected-access
                                 0).kind != 'seated_student']
  far = _figure_heights(spec, standing)
  near = _figure_heights(dataclasses.replace(spec, near_share=1.0), standing)
  assert np.median(near) > 1.3 * np.median(far)
  assert (near >= 24).mean() > (far >= 24).mean()  # More of them fill half the picture.
  assert near.min() > 0  # Still in the picture.


@pytest.mark.parametrize('field, value', [
    ('num_backgrounds', 0), ('num_foregrounds', -1), ('placements', 0),
    ('flips', 3), ('render_size', 8), ('render_size', 2048), ('seed', -1),
    ('exposure', -0.5), ('noise', float('nan')), ('jpeg', -1), ('shift', -1),
    ('shadow', -1), ('foregrounds_per_background', -1),
    ('foregrounds_per_background', 1.5),
    ('near_share', -0.1), ('near_share', 1.5), ('near_share', True)])
def test_invalid_spec_raises_naming_the_field(field, value):
  spec = dataclasses.replace(SPEC, **{field: value})
  with pytest.raises(ValueError, match=field):
    synthetic.validate_spec(spec)
  with pytest.raises(ValueError, match=field):
    synthetic.render_sample(spec, 0)


def test_nearness_is_inverse_depth_over_a_fixed_range():
  assert synthetic.depth_to_nearness(synthetic.NEAR_M) == 255
  assert synthetic.depth_to_nearness(synthetic.FAR_M) == 0
  assert synthetic.depth_to_nearness(0.1) == 255  # Clipped.
  assert synthetic.depth_to_nearness(100.0) == 0
  depths = np.array([1.5, 3.0, 6.0])
  nearness = synthetic.depth_to_nearness(depths)
  assert np.all(np.diff(nearness.astype(int)) < 0)  # Nearer is brighter.
  np.testing.assert_allclose(synthetic.nearness_to_depth(nearness), depths, rtol=0.05)
  levels = np.arange(256, dtype=np.uint8)
  assert np.array_equal(
      synthetic.depth_to_nearness(synthetic.nearness_to_depth(levels)), levels)


def test_rendering_is_deterministic():
  first = [_digest(synthetic.render_sample(SPEC, i)) for i in INDICES]
  synthetic.clear_caches()
  again = [_digest(synthetic.render_sample(SPEC, i)) for i in reversed(INDICES)]
  assert first == again[::-1]


def test_rendering_is_the_same_in_another_process():
  code = ('import hashlib\nfrom datasets import synthetic\n'
          f'spec = synthetic.{SPEC!r}\n'
          'x = synthetic.render_sample(spec, 11)\n'
          'h = hashlib.sha256()\n'
          "for k in ('bg', 'fg_bg', 'mask', 'depth'): h.update(x[k].tobytes())\n"
          'print(h.hexdigest())\n')
  root = synthetic.__file__.rsplit('/datasets/', 1)[0]
  out = subprocess.run([sys.executable, '-c', code], cwd=root, capture_output=True,
                       text=True, check=True).stdout.strip()
  assert out == _digest(synthetic.render_sample(SPEC, 11))


def _trace_every_box_on_every_ray(origin, dirs, t, face, lo, hi):
  """The furniture ray cast without pixel windows: every box against every ray, in order."""
  with np.errstate(divide='ignore', invalid='ignore'):
    inv = 1.0 / dirs
    for k in range(len(lo)):
      t1, t2 = (lo[k] - origin) * inv, (hi[k] - origin) * inv
      near, far = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
      hit = (far >= near) & (near > 0) & (near < t)
      t[hit], face[hit] = near[hit], geometry._FIRST_BOX + k


@pytest.mark.parametrize('bg_id', [0, 1, 2, 3])
def test_pixel_windows_only_skip_rays_that_miss_the_box(bg_id):
  params = rooms._room_params(0, bg_id)
  camera = backgrounds._make_camera(params, 48)
  grid = backgrounds._grid(48)
  dirs = camera.rays(grid, grid)
  room_t, room_face = geometry._trace_room(camera.origin, dirs, params['room'])
  lo, hi = params['boxes']
  # Besides the room's furniture: a box reaching from behind the camera to in front of it,
  # one wholly behind it and one outside the picture.
  o = camera.origin
  extra_lo = o + np.array([[-0.2, -1.5, -1.0], [-1.0, -1.0, -3.0], [30.0, 0.0, 5.0]])
  extra_hi = o + np.array([[0.2, -1.2, 2.0], [1.0, 1.0, -2.0], [31.0, 1.0, 6.0]])
  lo, hi = np.concatenate([lo, extra_lo]), np.concatenate([hi, extra_hi])
  windows = geometry._box_windows(camera, grid, grid, lo, hi)
  whole = [0, len(grid), 0, len(grid)]
  assert windows[-3].tolist() == whole and windows[-2].tolist() == whole
  assert windows[-1, 0] == windows[-1, 1] or windows[-1, 2] == windows[-1, 3]
  t, face = room_t.copy(), room_face.copy()
  geometry._trace_boxes(camera, grid, grid, dirs, t, face, lo, hi)
  every_t, every_face = room_t.copy(), room_face.copy()
  _trace_every_box_on_every_ray(camera.origin, dirs, every_t, every_face, lo, hi)
  assert np.any(face >= geometry._FIRST_BOX)  # The room has furniture in view.
  assert np.any(face == geometry._FIRST_BOX + len(lo) - 3)  # The box through the camera plane.
  np.testing.assert_array_equal(t, every_t)
  np.testing.assert_array_equal(face, every_face)


def test_different_seeds_give_different_datasets():
  other = dataclasses.replace(SPEC, seed=1)
  assert not np.array_equal(synthetic.render_background(SPEC, 0)['rgb'],
                            synthetic.render_background(other, 0)['rgb'])
  assert _digest(synthetic.render_sample(SPEC, 3)) != _digest(
      synthetic.render_sample(other, 3))


def test_backgrounds_differ_and_look_like_a_room():
  a = synthetic.render_background(SPEC, 0)
  b = synthetic.render_background(SPEC, 1)
  assert a['rgb'].shape == (48, 48, 3) and a['depth_m'].shape == (48, 48)
  assert a['depth_m'].dtype == np.float32
  assert not np.array_equal(a['rgb'], b['rgb'])
  # The floor comes nearer towards the bottom of the image; the room is a few
  # metres deep.
  depth = a['depth_m']
  assert depth[-1].mean() < depth[len(depth) // 2].mean()
  assert 1.0 < depth.min() and depth.max() < synthetic.FAR_M


def test_mask_is_where_the_figure_is_nearer_than_the_background():
  for index in INDICES:
    sample = synthetic.render_sample(SPEC, index)
    bg_id = synthetic.sample_index_to_ids(SPEC, index)[0]
    bg_nearness = synthetic.depth_to_nearness(
        synthetic.render_background(SPEC, bg_id)['depth_m'])
    inside = sample['mask'][..., 0] == 255
    depth = sample['depth'][..., 0]
    assert np.array_equal(depth[~inside], bg_nearness[~inside])
    assert np.all(depth[inside] >= bg_nearness[inside])
    # Up to nearness rounding the figure is in front of what it hides.
    assert np.mean(depth[inside] > bg_nearness[inside]) > 0.5


def test_without_nuisances_only_the_figure_changes():
  for index in INDICES:
    sample = synthetic.render_sample(CLEAN, index)
    outside = sample['mask'][..., 0] == 0
    assert np.array_equal(sample['bg'][outside], sample['fg_bg'][outside])
    assert np.any(sample['bg'][~outside] != sample['fg_bg'][~outside])


@pytest.mark.parametrize('nuisance', ['exposure', 'noise', 'jpeg', 'shift', 'shadow'])
def test_each_nuisance_alone_makes_frame_differencing_imperfect(nuisance):
  spec = dataclasses.replace(CLEAN, **{nuisance: 1.0})
  assert all(_outside_mask_differs(spec, i) for i in INDICES)


def test_nuisances_leave_mask_and_depth_exact():
  for index in INDICES:
    clean, noisy = (synthetic.render_sample(s, index) for s in (CLEAN, SPEC))
    assert np.array_equal(clean['mask'], noisy['mask'])
    assert np.array_equal(clean['depth'], noisy['depth'])


def test_shadow_darkens_the_floor_near_the_figure_only():
  spec = dataclasses.replace(CLEAN, shadow=1.0)
  darker = 0
  for index in INDICES:
    sample = synthetic.render_sample(spec, index)
    delta = sample['fg_bg'].astype(int) - sample['bg'].astype(int)
    outside = sample['mask'][..., 0] == 0
    assert np.all(delta[outside] <= 0)  # A shadow never brightens.
    darker += np.sum(delta[outside] < 0)
  assert darker > 0


# pylint: disable=protected-access
def _figure_rows(spec, distance):
  """Image rows of figure 1, unoccluded, `distance` m ahead of background 0's camera."""
  scene = backgrounds._scene(spec.seed, spec.render_size, 0)
  figure = figures._figure(spec.seed, 1, 0)
  camera = scene.camera
  ahead = camera.axes[2][[0, 2]] / np.linalg.norm(camera.axes[2][[0, 2]])
  x, z = camera.origin[[0, 2]] + distance * ahead
  hits = figures._cast_figure(camera, scene.dirs, figure, x, z, np.pi)
  rows, _ = np.nonzero(np.isfinite(hits.t))
  return rows + hits.window[0]
# pylint: enable=protected-access


def test_a_farther_figure_is_smaller_and_higher_in_the_image():
  spec = dataclasses.replace(SPEC, render_size=64)
  near_rows, far_rows = _figure_rows(spec, 3.5), _figure_rows(spec, 6.0)
  assert np.ptp(far_rows) < np.ptp(near_rows)  # Smaller.
  assert len(far_rows) < len(near_rows)
  assert far_rows.max() < near_rows.max()  # Feet higher up.
  assert far_rows.min() <= near_rows.min()  # So is the head (camera above it).


def test_a_flipped_foreground_is_the_mirror_image():
  spec = dataclasses.replace(SPEC, render_size=64)
  for fg_id in range(spec.num_foregrounds):
    plain = synthetic.render_foreground(spec, fg_id, 0)
    flipped = synthetic.render_foreground(spec, fg_id, 1)
    assert np.array_equal(flipped['mask'], plain['mask'][:, ::-1])
    assert np.array_equal(flipped['rgb'], plain['rgb'][:, ::-1])
    assert not np.array_equal(flipped['rgb'], plain['rgb'])  # Not symmetric.


def test_contact_sheet_has_a_row_per_sample(tmp_path):
  samples = [synthetic.render_sample(SPEC, i) for i in (0, 1, 2)]
  path = tmp_path / 'sheet.png'
  synthetic.contact_sheet(samples, path)
  with Image.open(path) as sheet:
    assert sheet.format == 'PNG'
    width, height = sheet.size
  assert width == 4 * 128 and height > 3 * 128


def test_jpeg_artefacts_of_an_image_do_not_depend_on_its_partner():
  # bg and fg_bg share one JPEG encode for speed; each must still be coded alone.
  rng = np.random.default_rng(0)
  a, b, c = (rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(3))
  a1, b1 = capture._jpeg_round_trip([a, b], 70)  # pylint: disable=protected-access
  a2, c2 = capture._jpeg_round_trip([a, c], 70)  # pylint: disable=protected-access
  assert np.array_equal(a1, a2)
  assert not np.array_equal(b1, c2)
