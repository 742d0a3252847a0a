"""Evaluation metrics, their streaming, and the baselines."""
import dm_pix
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from losses import metrics

SIZE = 16  # SSIM's 11 x 11 window needs at least 11 x 11 pixels.


def _random(seed, shape=(4, SIZE, SIZE, 1)):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _masks(seed, shape=(4, SIZE, SIZE, 1)):
  return (_random(seed, shape) > 0.5).astype(np.float32)


def _result(*per_sample_dicts):
  accumulator = metrics.MetricAccumulator()
  for per_sample in per_sample_dicts:
    accumulator.update(per_sample)
  return accumulator.result()


def test_perfect_prediction_scores_perfectly():
  mask, depth = _masks(0), _random(1)
  result = _result(metrics.per_sample_metrics(mask, depth, mask, depth))
  assert result == pytest.approx(dict(
      mask_iou=1.0, mask_dice=1.0, mask_ssim_acc=1.0, depth_rmse=0.0, depth_abs_rel=0.0,
      depth_delta1=1.0, depth_delta2=1.0, depth_delta3=1.0, depth_ssim_acc=1.0,
      num_samples=4))
  assert list(result) == ['mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse',
                          'depth_abs_rel', 'depth_delta1', 'depth_delta2', 'depth_delta3',
                          'depth_ssim_acc', 'num_samples']


def test_mask_iou_and_dice_by_hand():
  """4 predicted pixels, 6 true ones, 2 shared: IoU = 2 / 8, Dice = 2 * 2 / (4 + 6)."""
  pred = np.zeros((1, SIZE, SIZE, 1), np.float32)
  true = np.zeros_like(pred)
  pred[0, 0, 0:4] = 0.9  # Probabilities above 0.5 count as foreground...
  pred[0, 1, 0:4] = 0.5  # ... exactly 0.5 does not.
  true[0, 0, 2:8] = 1.0
  per_sample = metrics.per_sample_metrics(pred, true, true, true)
  assert float(per_sample['mask_iou'][0]) == pytest.approx(2 / 8)
  assert float(per_sample['mask_dice'][0]) == pytest.approx(4 / 10)


@pytest.mark.parametrize('pred_area, true_area, expected', [
    (0, 0, 1.0),  # Nothing to find and nothing found: a perfect match.
    (5, 0, 0.0),
    (0, 5, 0.0),
])
def test_empty_mask_convention(pred_area, true_area, expected):
  pred = np.zeros((1, SIZE, SIZE, 1), np.float32)
  true = np.zeros_like(pred)
  pred[0, 0, :pred_area] = 1.0
  true[0, 3, :true_area] = 1.0
  per_sample = metrics.per_sample_metrics(pred, true, true, true)
  assert float(per_sample['mask_iou'][0]) == expected
  assert float(per_sample['mask_dice'][0]) == expected


def test_depth_metrics_by_hand():
  """Constant maps: truth 0.5, prediction 0.75 (nearness in [0, 1])."""
  true = np.full((1, SIZE, SIZE, 1), 0.5, np.float32)
  pred = np.full_like(true, 0.75)
  result = _result(metrics.per_sample_metrics(true, pred, true, true))
  g, p = (255 * 0.5 + 1) / 256, (255 * 0.75 + 1) / 256  # Mapped to (0, 1].
  assert result['depth_rmse'] == pytest.approx(0.25)
  assert result['depth_abs_rel'] == pytest.approx(abs(p - g) / g)
  assert p / g == pytest.approx(1.4961, abs=1e-4)  # Outside 1.25, inside 1.25^2.
  assert (result['depth_delta1'], result['depth_delta2'], result['depth_delta3']) == (0, 1, 1)


def test_zero_nearness_stays_finite():
  """Nearness 0 maps to 1/256, so ratios against it are finite."""
  zeros = np.zeros((1, SIZE, SIZE, 1), np.float32)
  ones = np.ones_like(zeros)
  result = _result(metrics.per_sample_metrics(zeros, ones, zeros, zeros))
  assert result['depth_abs_rel'] == pytest.approx(255.0)  # |1 - 1/256| / (1/256).
  assert result['depth_delta3'] == 0.0
  assert result['depth_rmse'] == pytest.approx(1.0)


def test_ssim_accuracy_uses_the_thresholds():
  true = _random(2, (2, SIZE, SIZE, 1))
  pred = true.copy()
  pred[1] = 1.0 - pred[1]  # Sample 1 is anti-correlated: SSIM < 0.
  per_sample = metrics.per_sample_metrics(pred, pred, true, true, mask_ssim_threshold=0.9,
                                          depth_ssim_threshold=0.5)
  assert per_sample['depth_ssim'][0] == pytest.approx(1.0)
  assert per_sample['depth_ssim'][1] < 0
  np.testing.assert_array_equal(per_sample['mask_ssim_ok'], [1.0, 0.0])
  assert _result(per_sample)['depth_ssim_acc'] == 0.5


def test_a_value_at_the_threshold_passes_and_each_head_has_its_own_threshold():
  true = _random(2, (2, SIZE, SIZE, 1))
  noisy = 0.6 * true + 0.4 * _random(3, (2, SIZE, SIZE, 1))  # SSIM about 0.6-0.8.
  values = metrics.per_sample_metrics(noisy, noisy, true, true)
  mask_ssim, depth_ssim = (np.asarray(values[key]) for key in ('mask_ssim', 'depth_ssim'))
  # Exactly at the threshold counts as accurate; the next float above does not.
  at = metrics.per_sample_metrics(noisy, noisy, true, true,
                                  mask_ssim_threshold=float(mask_ssim[0]),
                                  depth_ssim_threshold=float(np.nextafter(depth_ssim[0], 2)))
  assert (at['mask_ssim_ok'][0], at['depth_ssim_ok'][0]) == (1.0, 0.0)
  # A depth map between the two default thresholds passes as depth, not as a mask.
  assert 0.5 <= depth_ssim[0] < 0.9, depth_ssim
  defaults = metrics.per_sample_metrics(noisy, noisy, true, true, mask_ssim_threshold=0.9,
                                        depth_ssim_threshold=0.5)
  assert 0.5 <= mask_ssim[0] < 0.9, mask_ssim
  assert (defaults['mask_ssim_ok'][0], defaults['depth_ssim_ok'][0]) == (0.0, 1.0)


def test_rmse_is_over_all_pixels_not_the_mean_of_per_sample_rmses():
  """Errors 0.1 and 0.3 on two samples: sqrt((0.01 + 0.09) / 2), not (0.1 + 0.3) / 2."""
  true = np.zeros((2, SIZE, SIZE, 1), np.float32)
  pred = true + np.array([0.1, 0.3], np.float32)[:, None, None, None]
  result = _result(metrics.per_sample_metrics(true, pred, true, true))
  assert result['depth_rmse'] == pytest.approx(np.sqrt(0.05))


def test_streaming_three_batches_equals_one_shot():
  mask_prob, depth_pred, mask_true, depth_true = _random(3), _random(4), _masks(5), _random(6)
  mask_true[0] = 0.0  # One empty mask.
  bg, fg_bg = _random(7, (4, SIZE, SIZE, 3)), _random(8, (4, SIZE, SIZE, 3))
  mean_depth = _random(9, (SIZE, SIZE, 1))

  def batch_metrics(s):
    return (metrics.per_sample_metrics(mask_prob[s], depth_pred[s], mask_true[s],
                                       depth_true[s]),
            metrics.baseline_per_sample(bg[s], fg_bg[s], mask_true[s], depth_true[s], 0.2,
                                        mean_depth))

  one_shot = _result(*batch_metrics(slice(None)))
  streamed = _result(*batch_metrics(slice(0, 1)), *batch_metrics(slice(1, 3)),
                     *batch_metrics(slice(3, 4)))
  assert streamed == pytest.approx(one_shot, rel=1e-6)
  assert streamed['num_samples'] == 4
  assert {'baseline_mask_iou', 'baseline_mask_dice', 'baseline_depth_rmse'} <= set(streamed)


def test_accumulator_keeps_only_running_sums():
  """Memory does not grow with the number of samples: the state is a few floats."""
  accumulator = metrics.MetricAccumulator()
  per_sample = metrics.per_sample_metrics(_random(10), _random(11), _masks(12), _random(13))
  for _ in range(3):
    accumulator.update(per_sample)
  state = [v for d in vars(accumulator).values() for v in d.values()]
  assert len(state) == 2 * len(per_sample)
  assert all(isinstance(v, (int, float)) for v in state)
  assert accumulator.result()['num_samples'] == 12


def test_accumulator_rejects_ragged_updates():
  with pytest.raises(ValueError, match=r'same shape \(N,\)'):
    metrics.MetricAccumulator().update({'mask_iou': np.ones(3), 'mask_dice': np.ones(2)})


def test_per_sample_metrics_is_jit_safe():
  args = (_random(14), _random(15), _masks(16), _random(17))
  eager = metrics.per_sample_metrics(*args)
  jitted = jax.jit(metrics.per_sample_metrics)(*args)
  for key, value in eager.items():
    np.testing.assert_allclose(jitted[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    assert value.shape == (4,), key


def test_uint8_targets_are_read_as_unit_range():
  mask, depth = _masks(18), np.round(_random(19) * 255) / 255
  as_uint8 = lambda x: np.round(x * 255).astype(np.uint8)
  result = _result(metrics.per_sample_metrics(mask, depth, as_uint8(mask), as_uint8(depth)))
  assert result['mask_iou'] == 1.0 and result['depth_rmse'] == pytest.approx(0.0, abs=1e-6)


# --- Baselines -------------------------------------------------------------------------


def _scene(seed, n=4, fg_diff=0.3, bg_diff=0.1):
  """bg and fg_bg differing by fg_diff inside the mask and bg_diff outside it."""
  bg = _random(seed, (n, SIZE, SIZE, 3)) * 0.5
  mask = np.zeros((n, SIZE, SIZE, 1), np.float32)
  mask[:, 4:12, 5:10] = 1.0
  fg_bg = bg + np.where(mask > 0, fg_diff, bg_diff).astype(np.float32)
  return {'bg': bg, 'fg_bg': fg_bg, 'mask': mask}


def test_frame_difference_mask_thresholds_the_mean_channel_difference():
  bg = np.zeros((1, SIZE, SIZE, 3), np.float32)
  fg_bg = bg.copy()
  fg_bg[0, 0, 0] = [0.9, 0.0, 0.0]  # Mean 0.3.
  fg_bg[0, 0, 1] = [0.3, 0.0, 0.0]  # Mean 0.1.
  mask = metrics.frame_difference_mask(bg, fg_bg, 0.2)
  assert mask.shape == (1, SIZE, SIZE, 1)
  assert float(mask[0, 0, 0, 0]) == 1.0 and float(mask.sum()) == 1.0
  traced = jax.jit(metrics.frame_difference_mask)(bg, fg_bg, jnp.float32(0.05))
  assert float(traced.sum()) == 2.0


def test_threshold_chooser_finds_the_gap_between_background_and_foreground():
  """Background pixels differ by 0.1, the person by 0.3: any threshold in [0.1, 0.3)
  separates them perfectly, and ties go to the smallest candidate."""
  batches = [_scene(20), _scene(21)]
  assert metrics.choose_frame_difference_threshold(batches, [0.05, 0.2, 0.35]) == 0.2
  threshold = metrics.choose_frame_difference_threshold(iter(batches))
  assert 0.1 <= threshold < 0.3
  iou, _ = metrics.binary_overlap(
      metrics.frame_difference_mask(batches[0]['bg'], batches[0]['fg_bg'], threshold),
      batches[0]['mask'])
  np.testing.assert_array_equal(iou, 1.0)


def test_threshold_chooser_matches_brute_force_mean_iou():
  """The binned, streamed computation gives each threshold's mean per-sample IoU."""
  rng = np.random.default_rng(22)
  batches = [{'bg': rng.random((3, SIZE, SIZE, 3), np.float32) * 0.6,
              'fg_bg': rng.random((3, SIZE, SIZE, 3), np.float32) * 0.6,
              'mask': _masks(23 + i, (3, SIZE, SIZE, 1))} for i in range(2)]
  batches[1]['mask'][0] = 0.0  # An empty mask.
  grid = np.round(np.arange(1, 51) / 100, 2)

  def mean_iou(t):
    return np.mean(np.concatenate([
        metrics.binary_overlap(metrics.frame_difference_mask(b['bg'], b['fg_bg'], t),
                               b['mask'])[0] for b in batches]))

  expected = grid[np.argmax([mean_iou(t) for t in grid])]
  assert metrics.choose_frame_difference_threshold(batches, grid) == expected


def test_mean_depth_accumulator_streams_the_mean_map():
  depth = _random(24, (5, SIZE, SIZE, 1))
  accumulator = metrics.MeanDepthAccumulator()
  accumulator.update(depth[:2])
  accumulator.update(depth[2:])
  np.testing.assert_allclose(accumulator.result(), depth.mean(0), rtol=1e-6)
  assert accumulator.result().shape == (SIZE, SIZE, 1) and accumulator.num_samples == 5
  uint8 = metrics.MeanDepthAccumulator()
  uint8.update(np.full((2, SIZE, SIZE, 1), 51, np.uint8))
  np.testing.assert_allclose(uint8.result(), 0.2, rtol=1e-6)


def test_baseline_per_sample_by_hand():
  scene = _scene(25, n=2)
  depth = np.stack([np.full((SIZE, SIZE, 1), 0.2), np.full((SIZE, SIZE, 1), 0.6)])
  mean_depth = np.full((SIZE, SIZE, 1), 0.4, np.float32)
  per_sample = metrics.baseline_per_sample(scene['bg'], scene['fg_bg'], scene['mask'],
                                           depth.astype(np.float32), 0.2, mean_depth)
  result = _result(per_sample)
  assert result['baseline_mask_iou'] == 1.0 and result['baseline_mask_dice'] == 1.0
  assert result['baseline_depth_rmse'] == pytest.approx(0.2)
  assert result['num_samples'] == 2 and 'mask_iou' not in result


# --- SSIM accuracy that separates good predictions from bad ones -------------------------


def _person(size=48, top=18, left=20, height=12, width=6):
  mask = np.zeros((1, size, size, 1), np.float32)
  mask[:, top:top + height, left:left + width] = 1.0
  return mask


def test_mask_ssim_fails_an_empty_prediction_that_whole_image_ssim_passes():
  # A far-away student: 12 x 5 pixels of a 64 x 64 image, as in the synthetic classroom.
  true = _person(size=64, top=20, left=30, height=12, width=5)
  empty = np.zeros_like(true)
  assert float(dm_pix.ssim(empty, true)[0]) > 0.9  # Why the plain form is useless.
  assert float(metrics.mask_ssim(empty, true)[0]) < 0.05
  hazy = np.where(true > 0.5, 0.9, 0.05).astype(np.float32)  # Right, with a faint haze.
  assert float(metrics.mask_ssim(hazy, true)[0]) == pytest.approx(1.0)
  shifted = np.roll(true, 1, axis=2)  # One pixel sideways: IoU 0.67.
  assert float(metrics.mask_ssim(shifted, true)[0]) == pytest.approx(0.506, abs=0.01)


def test_mask_ssim_weights_the_ssim_map_by_the_foreground_each_window_sees_by_hand():
  true, pred = _person(size=24, top=8, left=8), _person(size=24, top=9, left=8)
  ssim_map = np.asarray(dm_pix.ssim(pred, true, return_map=True))[0, ..., 0]
  either = np.maximum(pred, true)[0, ..., 0]
  gauss = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
  window = np.outer(gauss, gauss) / gauss.sum() ** 2
  seen = np.array([[(either[i:i + 11, j:j + 11] * window).sum() for j in range(14)]
                   for i in range(14)])
  assert float(metrics.mask_ssim(pred, true)[0]) == pytest.approx(
      (ssim_map * seen).sum() / seen.sum(), rel=1e-5)
  both_empty = np.zeros_like(true)
  assert float(metrics.mask_ssim(both_empty, both_empty)[0]) == 1.0


def test_depth_ssim_fails_a_flat_guess_of_a_narrow_range_map_that_plain_ssim_passes():
  rows = np.linspace(0.02, 0.3, 48, dtype=np.float32)[None, :, None, None]
  true = np.broadcast_to(rows, (1, 48, 48, 1)).copy()
  true[:, 30:40, 10:20] = 0.25  # A desk, nearer than the floor behind it.
  flat = np.full_like(true, true.mean())
  assert float(dm_pix.ssim(flat, true)[0]) > 0.5  # Why the plain form is useless.
  assert float(metrics.depth_ssim(flat, true)[0]) < 0.5  # Fails the default threshold.
  assert float(metrics.depth_ssim(true, true)[0]) == pytest.approx(1.0)
  low, high = true.min(), true.max()
  stretch = lambda v: (v - low) / (high - low)
  noisy = true + 0.01 * _random(3, true.shape)
  assert float(metrics.depth_ssim(noisy, true)[0]) == pytest.approx(
      float(dm_pix.ssim(stretch(noisy), stretch(true))[0]), rel=1e-5)


def test_baselines_report_their_ssim_accuracy_beside_the_model():
  true = _person()
  bg = np.full((1, 48, 48, 3), 0.5, np.float32)
  fg_bg = np.where(true > 0.5, 0.9, 0.5) * np.ones((1, 1, 1, 3), np.float32)
  depth = np.broadcast_to(np.linspace(0, 0.3, 48, dtype=np.float32)[None, :, None, None],
                          true.shape)
  per_sample = metrics.baseline_per_sample(bg, fg_bg, true, depth, 0.2, depth[0],
                                           mask_ssim_threshold=0.9, depth_ssim_threshold=0.5)
  result = _result(per_sample)
  assert result['baseline_mask_ssim_acc'] == 1.0  # Frame differencing is exact here.
  assert result['baseline_depth_ssim_acc'] == 1.0  # The mean map is the truth here.
