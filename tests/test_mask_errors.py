"""benchmarks/mask_errors.py: wrong mask pixels at the person's outline and away from it."""
import os
import sys

import numpy as np

from losses import metrics

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import mask_errors  # pylint: disable=g-import-not-at-top,wrong-import-position


def _square(size=12, low=3, high=8):
  mask = np.zeros((1, size, size), bool)
  mask[0, low:high, low:high] = True
  return mask


def test_iou_is_the_evaluations_and_a_drawing_a_pixel_too_fat_is_forgiven():
  rng = np.random.default_rng(0)
  drawn, true = rng.random((2, 5, 16, 16)) > 0.6
  samples = mask_errors.per_sample(drawn, true)
  expected, _ = metrics.binary_overlap(drawn[..., None].astype(np.float32),
                                       true[..., None].astype(np.float32))
  np.testing.assert_allclose(samples['iou'], expected, atol=1e-6)
  too_fat = _square(low=2, high=9)
  fat = mask_errors.per_sample(too_fat, _square())
  assert fat['iou'][0] == np.float32(25) / np.float32(49)
  assert fat['iou_outline_forgiven'][0] == 1.0
  assert fat['wrong'][0] == fat['wrong_at_outline'][0] == 24


def test_a_wrong_pixel_far_from_the_person_is_not_forgiven():
  drawn = _square()
  drawn[0, 0, 11] = True
  samples = mask_errors.per_sample(drawn, _square())
  assert samples['wrong_at_outline'][0] == 0
  assert samples['iou_outline_forgiven'][0] == samples['iou'][0] == np.float32(25) / np.float32(26)


def test_the_controls_score_the_true_mask_moved_thinned_and_nothing_drawn():
  samples = mask_errors.per_sample(np.zeros((1, 12, 12), bool), _square())
  assert samples['iou'][0] == 0.0
  # Nothing drawn, the square's own border ring forgiven:
  assert samples['empty_forgiven'][0] == np.float32(16) / np.float32(25)
  assert samples['true_shifted'][0] == np.float32(20) / np.float32(30)
  assert samples['true_thinned'][0] == np.float32(9) / np.float32(25)


def test_samples_are_grouped_by_the_persons_share_of_the_picture():
  samples = dict(iou=np.array([0.5, 0.7, 0.9]), iou_outline_forgiven=np.ones(3),
                 empty_forgiven=np.zeros(3), true_shifted=np.zeros(3), true_thinned=np.zeros(3),
                 wrong=np.array([10, 10, 10]), wrong_at_outline=np.array([10, 5, 0]),
                 person_share=np.array([0.005, 0.03, 0.5]))
  summary = mask_errors.summarize(samples)
  assert summary['wrong_at_outline_share'] == 0.5
  counts = [group['count'] for group in summary['by_person_size']]
  assert counts == [1, 0, 1, 0, 1]
  assert summary['by_person_size'][0]['iou'] == 0.5
  assert summary['by_person_size'][1]['iou'] is None
  assert summary['by_person_size'][4]['wrong_at_outline_share'] == 0.0
