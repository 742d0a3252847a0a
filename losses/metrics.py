"""Evaluation metrics (README, "How to read the metrics") and the two baselines, streamed.

On the device, `per_sample_metrics` (jit-safe) turns a batch into per-sample
numbers; on the host, `MetricAccumulator` keeps running sums of them, so memory does
not grow with the test set:

    acc = MetricAccumulator()
    for batch in test_batches:
      acc.update(per_sample_metrics(mask_prob, depth_pred, mask_true, depth_true))
      acc.update(baseline_per_sample(bg, fg_bg, mask_true, depth_true, t, mean_depth))
    acc.result()  # {'mask_iou': ..., ..., 'baseline_depth_rmse': ..., 'num_samples': ...}

Definitions (all images in [0, 1]; uint8 inputs are divided by 255):
- Masks are binarized as value > 0.5 (prediction and ground truth). IoU and Dice
  are per sample, then averaged over samples; a sample whose predicted and true
  masks are both empty scores IoU = Dice = 1 (a perfect match), one empty and the
  other not scores 0.
- SSIM: dm-pix, 11 x 11 Gaussian window, sigma 1.5, max_val 1. SSIM accuracy: the
  share of samples whose SSIM >= the threshold. Computed plainly over the whole
  image, SSIM cannot tell a good model from a bad one here, so both are adapted:
  - Mask SSIM (`mask_ssim`): between the binarized prediction and the true mask,
    each window weighted by the foreground, of either mask, that it sees. A person
    covers a few percent of the image, so over all windows most are empty background
    that any prediction without stray pixels matches: plainly computed, an empty
    prediction passes 0.90 on about half of the default test samples. Two empty masks
    score 1.
  - Depth SSIM (`depth_ssim`): between predicted and true nearness, both stretched
    by the true map's own range, (v - min) / max(max - min, 0.1). A room's nearness
    fills only part of [0, 1] and is mostly far and smooth, where local contrast is
    small next to SSIM's constants (sized for the full range): plainly computed, the
    mean depth map of the train split passes a 0.5 threshold on every test sample.
- Depth RMSE: over all pixels of the whole set, sqrt(sum of squared errors /
  number of pixels), on nearness in [0, 1] (not the mean of per-sample RMSEs).
- Depth AbsRel and delta_k: also over all pixels of the set, on nearness mapped to
  (0, 1] as p' = (255 p + 1) / 256 (the stored uint8 u = 255 p as (u + 1) / 256):
  AbsRel = mean |p' - g'| / g', delta_k = share of pixels with
  max(p'/g', g'/p') < 1.25^k.
- Loss, mask_loss, depth_loss: the config's training loss (and each head's) of each
  test sample alone, averaged over samples; reduce-on-plateau watches `loss`.
"""
from typing import Iterable, Mapping, Sequence

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from losses import _utils

# Candidate frame-difference thresholds: 0.01, 0.02, ..., 0.50.
DEFAULT_THRESHOLDS = tuple(np.round(np.arange(1, 51) / 100.0, 2).tolist())
_DELTA_BASE = 1.25

# Result key -> the per-sample key whose mean over samples it is.
_SAMPLE_MEANS = {
    'loss': 'loss',
    'mask_loss': 'mask_loss',
    'depth_loss': 'depth_loss',
    'mask_iou': 'mask_iou',
    'mask_dice': 'mask_dice',
    'mask_ssim_acc': 'mask_ssim_ok',
    'depth_ssim_acc': 'depth_ssim_ok',
    'baseline_mask_iou': 'baseline_mask_iou',
    'baseline_mask_dice': 'baseline_mask_dice',
    'baseline_mask_ssim_acc': 'baseline_mask_ssim_ok',
    'baseline_depth_ssim_acc': 'baseline_depth_ssim_ok',
}
# Result key -> (per-sample sum, per-sample pixel count): the mean over all pixels.
_PIXEL_MEANS = {
    'depth_abs_rel': ('depth_abs_rel_sum', 'depth_num_pixels'),
    'depth_delta1': ('depth_delta1_count', 'depth_num_pixels'),
    'depth_delta2': ('depth_delta2_count', 'depth_num_pixels'),
    'depth_delta3': ('depth_delta3_count', 'depth_num_pixels'),
}
# Result key -> (per-sample squared-error sum, per-sample pixel count).
_PIXEL_RMSES = {
    'depth_rmse': ('depth_sq_err', 'depth_num_pixels'),
    'baseline_depth_rmse': ('baseline_depth_sq_err', 'baseline_depth_num_pixels'),
}
# The model's evaluation metrics in the order every table and summary shows them.
MODEL_METRICS = ('mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse', 'depth_abs_rel',
                 'depth_delta1', 'depth_delta2', 'depth_delta3', 'depth_ssim_acc')
# What one-line summaries and the study's table show: all but delta2 and delta3.
SUMMARY_METRICS = tuple(key for key in MODEL_METRICS if key not in ('depth_delta2', 'depth_delta3'))
# A model metric -> the result key of the baseline's, where the baselines have it.
BASELINE_OF = {'mask_iou': 'baseline_mask_iou', 'mask_dice': 'baseline_mask_dice',
               'mask_ssim_acc': 'baseline_mask_ssim_acc', 'depth_rmse': 'baseline_depth_rmse',
               'depth_ssim_acc': 'baseline_depth_ssim_acc'}
LOWER_IS_BETTER = ('depth_rmse', 'depth_abs_rel')
_RESULT_ORDER = ('loss', 'mask_loss', 'depth_loss') + MODEL_METRICS + tuple(BASELINE_OF.values())
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5  # dm-pix's SSIM window: 11 x 11, Gaussian of this sigma.
# The least range a true depth map is stretched by: a flat or nearly flat truth (a wall
# seen head-on) is magnified at most 10 times, so small errors on it do not fail alone.
_MIN_DEPTH_RANGE = 0.1


def binary_overlap(pred_mask, true_mask) -> tuple[jax.Array, jax.Array]:
  """Per-sample (IoU, Dice) of two masks binarized at > 0.5; 1 for two empty masks."""
  pred = pred_mask > 0.5
  true = true_mask > 0.5
  intersection = _utils.per_sample_sum(pred & true).astype(jnp.float32)
  pred_area = _utils.per_sample_sum(pred).astype(jnp.float32)
  true_area = _utils.per_sample_sum(true).astype(jnp.float32)
  iou = _utils.safe_ratio(intersection, pred_area + true_area - intersection)
  dice = _utils.safe_ratio(2.0 * intersection, pred_area + true_area)
  return iou, dice


def mask_ssim(pred_mask, true_mask) -> jax.Array:
  """Per-sample SSIM of two masks binarized at > 0.5, weighted towards the foreground.

  The SSIM map (dm-pix, 11 x 11 Gaussian windows, 'valid') is averaged with each
  window weighted by how much foreground, of either mask, it sees (the Gaussian-weighted
  share of its pixels), so the empty background far from the person counts for
  nothing; 1 where no window sees any (both masks empty).

  Args:
    pred_mask: Predicted mask probabilities, N x H x W x 1 in [0, 1].
    true_mask: True masks, same shape, in [0, 1].

  Returns:
    (N,) float32.
  """
  pred = (pred_mask > 0.5).astype(jnp.float32)
  true = (true_mask > 0.5).astype(jnp.float32)
  ssim_map = dm_pix.ssim(pred, true, return_map=True)
  seen = dm_pix.gaussian_blur(jnp.maximum(pred, true), _SSIM_SIGMA, _SSIM_WINDOW,
                              padding='VALID')
  return _utils.safe_ratio(_utils.per_sample_sum(ssim_map * seen), _utils.per_sample_sum(seen))


def depth_ssim(depth_pred, depth_true) -> jax.Array:
  """Per-sample SSIM of nearness maps, both stretched by the true map's range.

  v -> (v - min(true)) / max(max(true) - min(true), 0.1), per sample, then dm-pix
  SSIM with max_val 1.

  Args:
    depth_pred: Predicted nearness, N x H x W x 1 in [0, 1].
    depth_true: True nearness, same shape.

  Returns:
    (N,) float32.
  """
  axes = tuple(range(1, depth_true.ndim))
  low = jnp.min(depth_true, axis=axes, keepdims=True)
  spread = jnp.maximum(jnp.max(depth_true, axis=axes, keepdims=True) - low, _MIN_DEPTH_RANGE)
  stretch = lambda v: (v - low) / spread
  return dm_pix.ssim(stretch(depth_pred), stretch(depth_true))


def _num_pixels(x) -> jax.Array:
  """Pixels per sample, as a float32 array of shape (N,)."""
  return jnp.full(x.shape[:1], np.prod(x.shape[1:]), jnp.float32)


@jax.jit
def per_sample_metrics(mask_prob, depth_pred, mask_true, depth_true, *,
                       mask_ssim_threshold=0.9, depth_ssim_threshold=0.5):
  """Per-sample metric terms of one batch, each an array of shape (N,); jitted.

  Args:
    mask_prob: Predicted mask probabilities, N x H x W x 1 in [0, 1].
    depth_pred: Predicted nearness, N x H x W x 1 in [0, 1].
    mask_true: True masks, same shape, in [0, 1] (or uint8).
    depth_true: True nearness, same shape, in [0, 1] (or uint8).
    mask_ssim_threshold: SSIM a mask needs to count as accurate.
    depth_ssim_threshold: SSIM a depth map needs to count as accurate.

  Returns:
    A dict of (N,) float32 arrays: `mask_iou`, `mask_dice`, `mask_ssim`,
    `mask_ssim_ok` (0 or 1), `depth_ssim`, `depth_ssim_ok`, `depth_sq_err` (sum over
    pixels), `depth_abs_rel_sum` (sum over pixels), `depth_delta{1,2,3}_count`
    (pixels within the ratio), `depth_num_pixels`. `MetricAccumulator` reduces them.
  """
  mask_prob, depth_pred, mask_true, depth_true = (
      _utils.to_unit_float(x) for x in (mask_prob, depth_pred, mask_true, depth_true))
  mask_iou, mask_dice = binary_overlap(mask_prob, mask_true)
  mask_ssim_values = mask_ssim(mask_prob, mask_true)
  depth_ssim_values = depth_ssim(depth_pred, depth_true)
  pred_near = _utils.positive_nearness(depth_pred)
  true_near = _utils.positive_nearness(depth_true)
  ratio = jnp.maximum(pred_near / true_near, true_near / pred_near)
  metrics = {
      'mask_iou': mask_iou,
      'mask_dice': mask_dice,
      'mask_ssim': mask_ssim_values,
      'mask_ssim_ok': (mask_ssim_values >= mask_ssim_threshold).astype(jnp.float32),
      'depth_ssim': depth_ssim_values,
      'depth_ssim_ok': (depth_ssim_values >= depth_ssim_threshold).astype(jnp.float32),
      'depth_sq_err': _utils.per_sample_sum((depth_pred - depth_true) ** 2),
      'depth_abs_rel_sum': _utils.per_sample_sum(jnp.abs(pred_near - true_near) / true_near),
      'depth_num_pixels': _num_pixels(depth_true),
  }
  for k in (1, 2, 3):
    within = (ratio < _DELTA_BASE**k).astype(jnp.float32)
    metrics[f'depth_delta{k}_count'] = _utils.per_sample_sum(within)
  return metrics


class MetricAccumulator:
  """Running sums of per-sample metrics; memory is O(1) in the number of samples.

  `update` takes dicts from `per_sample_metrics` and/or `baseline_per_sample`
  (separately or merged). `result` returns the keys whose inputs it has seen.
  """

  def __init__(self):
    self._sums: dict[str, float] = {}
    self._counts: dict[str, int] = {}

  def update(self, per_sample: Mapping[str, object]) -> None:
    """Adds one batch of per-sample arrays (each of shape (N,), same N)."""
    arrays = {key: np.asarray(value, np.float64) for key, value in per_sample.items()}
    sizes = {key: a.shape for key, a in arrays.items()}
    if len(set(sizes.values())) > 1 or any(len(s) != 1 for s in sizes.values()):
      raise ValueError(f'per-sample metrics must all have the same shape (N,), got {sizes}')
    for key, a in arrays.items():
      self._sums[key] = self._sums.get(key, 0.0) + float(a.sum())
      self._counts[key] = self._counts.get(key, 0) + a.shape[0]

  @property
  def num_samples(self) -> int:
    """The number of samples seen (by the key seen most often)."""
    return max(self._counts.values(), default=0)

  def result(self) -> dict:
    """The metrics over everything seen so far, as Python floats (see module doc).

    Keys, where their inputs were seen: `loss`, `mask_loss`, `depth_loss` (the
    training loss per sample, from `training.steps.per_sample_loss`), `mask_iou`,
    `mask_dice`, `mask_ssim_acc`, `depth_rmse`, `depth_abs_rel`, `depth_delta1`, `depth_delta2`, `depth_delta3`,
    `depth_ssim_acc`, `baseline_mask_iou`, `baseline_mask_dice`,
    `baseline_depth_rmse`; always `num_samples`.
    """
    values = {}
    for key, source in _SAMPLE_MEANS.items():
      if self._counts.get(source):
        values[key] = self._sums[source] / self._counts[source]
    for key, (total, pixels) in _PIXEL_MEANS.items():
      if self._sums.get(pixels):
        values[key] = self._sums[total] / self._sums[pixels]
    for key, (total, pixels) in _PIXEL_RMSES.items():
      if self._sums.get(pixels):
        values[key] = float(np.sqrt(self._sums[total] / self._sums[pixels]))
    result = {key: values[key] for key in _RESULT_ORDER if key in values}
    result['num_samples'] = self.num_samples
    return result


def _frame_difference(bg, fg_bg) -> jax.Array:
  """Per-pixel mean over channels of |fg_bg - bg|, N x H x W (or H x W)."""
  return jnp.mean(jnp.abs(_utils.to_unit_float(fg_bg) - _utils.to_unit_float(bg)), axis=-1)


def frame_difference_mask(bg, fg_bg, threshold) -> jax.Array:
  """The frame-differencing mask baseline; jit-safe, `threshold` may be traced.

  Args:
    bg: Background images, ... x H x W x 3 in [0, 1] (or uint8).
    fg_bg: Images with the foreground, same shape.
    threshold: A pixel is foreground where mean_c |fg_bg - bg| > threshold.

  Returns:
    The mask, ... x H x W x 1 float32 in {0, 1}.
  """
  return (_frame_difference(bg, fg_bg) > threshold)[..., None].astype(jnp.float32)


_frame_difference_jit = jax.jit(_frame_difference)


def choose_frame_difference_threshold(
    batches: Iterable[Mapping[str, object]],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> float:
  """The threshold of `frame_difference_mask` with the highest mean IoU, streamed.

  Mean IoU is per sample, averaged over samples, as `mask_iou`. Per batch, each
  pixel's difference is binned among the sorted thresholds once, which gives every
  threshold's per-sample intersection and union; only one running IoU sum per
  threshold is kept. Ties go to the smallest threshold.

  Args:
    batches: Dicts with 'bg', 'fg_bg' (N x H x W x 3) and 'mask' (N x H x W x 1),
      in [0, 1] or uint8, e.g. the train split.
    thresholds: The candidates.

  Returns:
    The best threshold, one of `thresholds`, as a float.
  """
  grid = np.unique(np.asarray(thresholds, np.float64))
  # Compare in float32, as frame_difference_mask does on the device.
  grid32 = grid.astype(np.float32)
  num = len(grid)
  iou_sums = np.zeros(num, np.float64)
  seen = 0
  for batch in batches:
    diff = np.asarray(_frame_difference_jit(batch['bg'], batch['fg_bg']))
    diff = diff.reshape(diff.shape[0], -1)
    true = np.asarray(_utils.to_unit_float(batch['mask'])).reshape(diff.shape) > 0.5
    # A pixel is foreground for threshold j iff grid32[j] < diff, i.e. j < bins.
    bins = np.searchsorted(grid32, diff, side='left')
    flat = bins + (num + 1) * np.arange(diff.shape[0])[:, None]
    size = diff.shape[0] * (num + 1)
    hist_all = np.bincount(flat.ravel(), minlength=size).reshape(-1, num + 1)
    hist_true = np.bincount(flat[true], minlength=size).reshape(-1, num + 1)
    # Entry j: the pixels with bin > j.
    pred_area = np.cumsum(hist_all[:, ::-1], axis=1)[:, ::-1][:, 1:]
    intersection = np.cumsum(hist_true[:, ::-1], axis=1)[:, ::-1][:, 1:]
    union = pred_area + true.sum(axis=1, keepdims=True) - intersection
    iou = np.where(union > 0, intersection / np.maximum(union, 1), 1.0)
    iou_sums += iou.sum(axis=0)
    seen += diff.shape[0]
  if not seen:
    raise ValueError('choose_frame_difference_threshold: no samples in the batches')
  return float(grid[np.argmax(iou_sums)])


class MeanDepthAccumulator:
  """The mean depth map of a stream of batches (the depth baseline), in O(H W) memory."""

  def __init__(self):
    self._sum = None
    self._count = 0

  def update(self, depth) -> None:
    """Adds a batch N x H x W x 1 (or one map H x W x 1), in [0, 1] or uint8."""
    depth = np.asarray(depth)
    if np.issubdtype(depth.dtype, np.integer):
      depth = depth / 255.0
    depth = depth.astype(np.float64)
    if depth.ndim == 3:
      depth = depth[None]
    if self._sum is not None and depth.shape[1:] != self._sum.shape:
      raise ValueError(f'depth maps of shape {depth.shape[1:]} after {self._sum.shape}')
    batch_sum = depth.sum(axis=0)
    self._sum = batch_sum if self._sum is None else self._sum + batch_sum
    self._count += depth.shape[0]

  @property
  def num_samples(self) -> int:
    """The number of depth maps seen."""
    return self._count

  def result(self) -> np.ndarray:
    """The mean depth map, H x W x 1 float32."""
    if not self._count:
      raise ValueError('MeanDepthAccumulator: no depth maps seen')
    return (self._sum / self._count).astype(np.float32)


@jax.jit
def baseline_per_sample(bg, fg_bg, mask_true, depth_true, threshold, mean_depth, *,
                        mask_ssim_threshold=0.9, depth_ssim_threshold=0.5):
  """Per-sample metric terms of the two baselines on one batch; jitted.

  Args:
    bg: Background images, N x H x W x 3 in [0, 1] (or uint8).
    fg_bg: Images with the foreground, same shape.
    mask_true: True masks, N x H x W x 1.
    depth_true: True nearness, N x H x W x 1.
    threshold: The frame-difference threshold (from the train split).
    mean_depth: The mean train depth map, H x W x 1 in [0, 1].
    mask_ssim_threshold: As in `per_sample_metrics`.
    depth_ssim_threshold: As in `per_sample_metrics`.

  Returns:
    A dict of (N,) arrays: `baseline_mask_iou`, `baseline_mask_dice` (as `mask_iou`),
    `baseline_mask_ssim_ok`, `baseline_depth_ssim_ok`, `baseline_depth_sq_err`,
    `baseline_depth_num_pixels`; `MetricAccumulator` reduces them to
    `baseline_mask_iou`, `baseline_mask_dice`, `baseline_mask_ssim_acc`,
    `baseline_depth_rmse`, `baseline_depth_ssim_acc`.
  """
  mask_true = _utils.to_unit_float(mask_true)
  baseline_mask = frame_difference_mask(bg, fg_bg, threshold)
  mask_iou, mask_dice = binary_overlap(baseline_mask, mask_true)
  depth_true = _utils.to_unit_float(depth_true)
  mean_map = jnp.broadcast_to(jnp.asarray(mean_depth, jnp.float32)[None], depth_true.shape)
  error = depth_true - mean_map
  return {
      'baseline_mask_iou': mask_iou,
      'baseline_mask_dice': mask_dice,
      'baseline_mask_ssim_ok': (mask_ssim(baseline_mask, mask_true)
                                >= mask_ssim_threshold).astype(jnp.float32),
      'baseline_depth_ssim_ok': (depth_ssim(mean_map, depth_true)
                                 >= depth_ssim_threshold).astype(jnp.float32),
      'baseline_depth_sq_err': _utils.per_sample_sum(error**2),
      'baseline_depth_num_pixels': _num_pixels(depth_true),
  }
