"""benchmarks/depth_errors.py: depth edges (where a pixel's value may come from either side)
and where in the picture delta1 fails."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import depth_errors  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_a_step_in_nearness_marks_the_pixels_on_both_sides_of_it():
  nearness = np.full((1, 4, 6), 0.2)
  nearness[:, :, 3:] = 0.5  # A desk's edge: 2.5 x nearer from column 3 on.
  edges = depth_errors.depth_edges(nearness)
  np.testing.assert_array_equal(edges[0].any(axis=0), [False, False, True, True, False, False])
  assert edges[0, :, 2:4].all()


def test_a_gentle_slope_has_no_edges_and_a_steep_one_has():
  columns = np.arange(8)
  gentle = np.broadcast_to(0.2 * 1.1 ** columns, (1, 3, 8))  # 1.21 across three pixels.
  steep = np.broadcast_to(0.2 * 1.2 ** columns, (1, 3, 8))  # 1.44 across three pixels.
  assert not depth_errors.depth_edges(gentle).any()
  edges = depth_errors.depth_edges(steep)
  assert edges[:, :, 1:-1].all()
  assert not edges[:, :, [0, -1]].any()  # The image's border repeats itself: two pixels only.


def test_row_bands_say_where_in_the_picture_delta1_fails():
  true = np.full((2, 8, 4), 0.5)
  depth = true.copy()
  depth[:, 2:4] = 0.2  # Rows 2-3 drawn far too far: they fail delta1, the rest pass.
  within = np.maximum(depth / true, true / depth) < depth_errors.DELTA1
  bands = depth_errors.by_row_band(within, depth, true, bands=4)
  assert [band['rows'] for band in bands] == ['[0, 2)', '[2, 4)', '[4, 6)', '[6, 8)']
  assert [band['delta1'] for band in bands] == [1.0, 0.0, 1.0, 1.0]
  assert bands[1]['failing_share'] == 0.25  # A quarter of all pixels, all in that band.
  assert bands[1]['bias_levels'] == pytest.approx(-0.3 * 255)
  assert bands[0]['bias_levels'] == 0.0


def test_the_pixels_near_a_masks_outline_are_those_on_both_sides_of_it():
  mask = np.zeros((1, 6, 6), bool)
  mask[:, 2:4, 2:4] = True  # A 2 x 2 person in a 6 x 6 picture.
  near = depth_errors.near_outline(mask, radius=1)
  expected = np.zeros((6, 6), bool)
  expected[1:5, 1:5] = True  # Every pixel of the person is on its outline, and the ring around.
  np.testing.assert_array_equal(near[0], expected)
  assert depth_errors.near_outline(mask, radius=2)[0].all()
  assert not depth_errors.near_outline(np.zeros((1, 4, 4), bool)).any()


@pytest.mark.parametrize('seed', [0, 1])
def test_the_losss_outline_band_is_what_this_benchmark_counts_as_near_the_outline(seed):
  import losses  # pylint: disable=g-import-not-at-top
  soft = np.random.default_rng(seed).uniform(size=(2, 16, 16, 1)).astype(np.float32)
  for target in (soft, (soft > 0.5).astype(np.float32)):  # Soft: drawn at one half.
    np.testing.assert_array_equal(
        np.asarray(losses.builtin.outline_band(target))[..., 0] > 0,
        depth_errors.near_outline(target[..., 0] > 0.5, radius=1))


def test_mask_errors_say_where_the_wrong_pixels_lie_and_what_iou_they_cost():
  true = np.zeros((1, 10, 10), bool)
  true[:, 2:6, 2:6] = True  # 16 pixels.
  drawn = true.copy()
  drawn[:, 2, 2:6] = False  # The top row missed: 4 misses, all on the outline.
  drawn[:, 9, 9] = True  # One false alarm far from the person.
  errors = depth_errors.mask_errors(drawn, true)
  assert (errors['misses'], errors['false_alarms']) == (4, 1)
  assert errors['within_1px_share'] == pytest.approx(4 / 5)
  assert errors['within_2px_share'] == pytest.approx(4 / 5)
  # Of the 17 pixels drawn or true, the band holds the person's 12 outer ones (not the
  # 2 x 2 inside, not the far false alarm).
  assert errors['band_share_of_drawn_or_true'] == pytest.approx(12 / 17)
  # With the outline's pixels right, only the false alarm is left: IoU 16 / 17.
  assert errors['mask_iou_outline_right'] == pytest.approx(16 / 17)


def test_iou_by_threshold_cuts_the_probabilities_at_each_threshold():
  true = np.zeros((1, 4, 4), bool)
  true[:, :2] = True  # 8 pixels.
  prob = np.where(true, 0.6, 0.0)
  prob[:, 2, :] = 0.42  # Four false alarms that only cuts below 0.42 draw.
  ious = depth_errors.iou_by_threshold(prob, true, thresholds=(0.4, 0.5, 0.6))
  assert ious == pytest.approx({'0.40': 8 / 12, '0.50': 1.0, '0.60': 0.0})
