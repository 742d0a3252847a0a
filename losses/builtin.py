"""The built-in losses. Each is `fn(pred, target, **kwargs) -> scalar` over NHWC batches.

Losses registered with `on_logits=False` expect `pred` in [0, 1] (callers pass
`sigmoid(logits)`); targets are always in [0, 1]. Every loss is the mean over the
batch (and over pixels, where the loss is per pixel).
"""
import dm_pix
import jax
import jax.numpy as jnp

from losses import _utils
from losses.registry import register


@register('bce_with_logits', on_logits=True)
def bce_with_logits(logits, target, pos_weight=1.0, outline_weight=1.0):
  """Binary cross-entropy on logits, as PyTorch's `binary_cross_entropy_with_logits`.

  Per pixel: (1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x)), computed stably,
  so saturated logits (+-100) give exact, finite values and gradients.

  Args:
    logits: Logits x, N x H x W x C.
    target: Targets t in [0, 1], same shape.
    pos_weight: Weight of the positive (t = 1) term, e.g. > 1 for small masks.
    outline_weight: Weight of the pixels on the target's outline (`outline_band`: a
      pixel whose 3 x 3 neighbourhood holds both classes) against 1 for the others. The
      weighted mean divides by the weights' sum, so the loss keeps its scale and only
      moves its weight towards the outline.

  Returns:
    The (weighted) mean over all pixels.
  """
  if not outline_weight > 0:
    raise ValueError(f'bce_with_logits: outline_weight must be > 0, got {outline_weight!r}')
  log_weight = 1.0 + (pos_weight - 1.0) * target
  per_pixel = (1.0 - target) * logits + log_weight * jax.nn.softplus(-logits)
  if outline_weight == 1.0:
    return jnp.mean(per_pixel)
  weight = 1.0 + (outline_weight - 1.0) * outline_band(target)
  return jnp.sum(weight * per_pixel) / jnp.sum(weight)


def outline_band(target):
  """1 where a pixel's 3 x 3 neighbourhood holds both classes of `target` (> 0.5), else 0.

  For an N x H x W x C mask this is every pixel within one pixel (8-neighbourhood) of the
  outline, inside and outside: where a mask at 64 px draws most of its wrong pixels.
  """
  binary = (target > 0.5).astype(jnp.float32)
  window = (1, 3, 3, 1)
  grown = jax.lax.reduce_window(binary, -jnp.inf, jax.lax.max, window, (1, 1, 1, 1), 'SAME')
  shrunk = jax.lax.reduce_window(binary, jnp.inf, jax.lax.min, window, (1, 1, 1, 1), 'SAME')
  return grown - shrunk


@register('smooth_l1', on_logits=False)
def smooth_l1(pred, target, beta=1.0):
  """Smooth L1 (Huber) loss, PyTorch's `smooth_l1_loss(beta=beta)` definition.

  Per pixel with d = |pred - target|: 0.5 d^2 / beta if d < beta, else d - 0.5 beta.
  beta = 0 gives the L1 loss.

  Args:
    pred: Predictions in [0, 1], N x H x W x C.
    target: Targets in [0, 1], same shape.
    beta: Where the loss changes from quadratic to linear (>= 0).

  Returns:
    The mean over all pixels.
  """
  diff = pred - target
  abs_diff = jnp.abs(diff)
  # The quadratic branch is never selected when beta == 0; divide by 1 there.
  safe_beta = jnp.where(beta > 0, beta, 1.0)
  per_pixel = jnp.where(abs_diff < beta, 0.5 * diff**2 / safe_beta, abs_diff - 0.5 * beta)
  return jnp.mean(per_pixel)


@register('mse', on_logits=False)
def mse(pred, target):
  """Mean squared error over all pixels."""
  return jnp.mean((pred - target) ** 2)


@register('l1', on_logits=False)
def l1(pred, target):
  """Mean absolute error over all pixels."""
  return jnp.mean(jnp.abs(pred - target))


@register('log_l1', on_logits=False)
def log_l1(pred, target):
  """Mean |log p' - log g'|: the L1 of the relative error, for nearness in [0, 1].

  p' and g' are nearness mapped to (0, 1] as (255 v + 1) / 256 (the mapping of the
  AbsRel and delta metrics), so nearness 0 gives log(1/256), not -inf. A miss of one
  uint8 level costs about 1/20 at level 20 (a far wall) and 1/200 at level 200: where
  `l1` weighs every level alike, this weighs the misses that delta1 and AbsRel count.
  """
  return jnp.mean(jnp.abs(_utils.log_nearness_ratio(pred, target)))


@register('ssim', on_logits=False)
def ssim(pred, target, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
  """1 - SSIM (dm-pix), averaged over the batch; in [0, 2], 0 for identical images.

  dm-pix filters with 'valid' padding: each image's SSIM is the mean over the
  (H - filter_size + 1) x (W - filter_size + 1) windows that fit inside the image.

  Args:
    pred: Predictions in [0, 1], N x H x W x C with H, W >= filter_size.
    target: Targets in [0, 1], same shape.
    max_val: The dynamic range of the images.
    filter_size: Side of the Gaussian window.
    filter_sigma: Standard deviation of the Gaussian window.
    k1: SSIM's luminance constant.
    k2: SSIM's contrast constant.

  Returns:
    1 - mean SSIM.
  """
  if min(pred.shape[-3:-1]) < filter_size:
    raise ValueError(f'ssim needs images of at least {filter_size}x{filter_size} pixels, '
                     f'got {pred.shape[-3]}x{pred.shape[-2]}')
  per_image = dm_pix.ssim(pred, target, max_val=max_val, filter_size=filter_size,
                          filter_sigma=filter_sigma, k1=k1, k2=k2)
  return 1.0 - jnp.mean(per_image)


@register('dice', on_logits=False)
def dice(pred, target, smooth=1.0):
  """Soft Dice loss: 1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth), per sample.

  `smooth` (Laplace smoothing, in pixels) keeps the loss defined and 0 when both
  masks are empty; with smooth = 0, two empty masks also count as a perfect match.

  Args:
    pred: Mask probabilities in [0, 1], N x H x W x C.
    target: Target masks in [0, 1], same shape.
    smooth: Added to numerator and denominator.

  Returns:
    The mean over the batch, in [0, 1].
  """
  intersection = _utils.per_sample_sum(pred * target)
  total = _utils.per_sample_sum(pred) + _utils.per_sample_sum(target)
  return jnp.mean(1.0 - _utils.safe_ratio(2.0 * intersection + smooth, total + smooth))


@register('iou', on_logits=False)
def iou(pred, target, smooth=1.0):
  """Soft Jaccard loss: 1 - (sum(p t) + smooth) / (sum(p) + sum(t) - sum(p t) + smooth).

  Computed per sample; `smooth` as in `dice`.

  Args:
    pred: Mask probabilities in [0, 1], N x H x W x C.
    target: Target masks in [0, 1], same shape.
    smooth: Added to numerator and denominator.

  Returns:
    The mean over the batch, in [0, 1].
  """
  intersection = _utils.per_sample_sum(pred * target)
  union = _utils.per_sample_sum(pred) + _utils.per_sample_sum(target) - intersection
  return jnp.mean(1.0 - _utils.safe_ratio(intersection + smooth, union + smooth))


@register('lovasz_hinge', on_logits=True)
def lovasz_hinge(logits, target):
  """The Lovasz hinge (Berman, Rannen Triki, Blaschko 2018): a convex surrogate of 1 - IoU.

  Computed per image. Each pixel's hinge error is 1 - x s, with x its logit and s = +1 on
  the mask, -1 off it. Sorted from the largest error down, the errors are weighted by how
  much the image's IoU would drop if each pixel in turn were wrong: the Lovasz extension
  of the Jaccard loss. Where every error is 0 or 1 (right pixels at logit +-1 on their
  side, wrong ones at 0) it is exactly 1 - IoU of the wrong pixels counted as misses and
  false alarms.
  Where Dice and soft Jaccard weigh every pixel by its probability, this weighs the
  pixels IoU loses, mostly those along the outline. Targets are thresholded at 0.5.

  Args:
    logits: Logits x, N x H x W x C.
    target: Target masks in [0, 1], same shape.

  Returns:
    The mean over the batch of each image's loss (0 when every pixel's logit is at or
    beyond +-1 on its own side).
  """
  x = logits.reshape(logits.shape[0], -1).astype(jnp.float32)
  positive = (target.reshape(target.shape[0], -1) > 0.5).astype(jnp.float32)
  errors = 1.0 - x * (2.0 * positive - 1.0)
  order = jnp.argsort(-errors, axis=-1)
  errors_sorted = jnp.take_along_axis(errors, order, axis=-1)
  positive_sorted = jnp.take_along_axis(positive, order, axis=-1)
  # The Jaccard loss of each prefix of the sorted pixels counted as wrong; its
  # differences are the weights (constants: the gradient flows through the errors only).
  total = jnp.sum(positive_sorted, axis=-1, keepdims=True)
  intersection = total - jnp.cumsum(positive_sorted, axis=-1)
  union = total + jnp.cumsum(1.0 - positive_sorted, axis=-1)
  jaccard = 1.0 - intersection / union
  weights = jax.lax.stop_gradient(jnp.diff(jaccard, axis=-1, prepend=0.0))
  return jnp.mean(jnp.sum(jax.nn.relu(errors_sorted) * weights, axis=-1))


@register('gradient', on_logits=False)
def gradient(pred, target):
  """L1 between the image gradients (forward differences) of pred and target.

  mean |dy(pred) - dy(target)| + mean |dx(pred) - dx(target)|, with dy along H and
  dx along W, each averaged over the differences that exist (no padding). An image
  one pixel high (or wide) has no differences along that axis: that term is 0.

  Args:
    pred: Predictions, N x H x W x C.
    target: Targets, same shape.

  Returns:
    The sum of the two means.
  """
  error = pred - target  # d(pred) - d(target) == d(pred - target).
  dy = error[:, 1:, :, :] - error[:, :-1, :, :]
  dx = error[:, :, 1:, :] - error[:, :, :-1, :]
  mean_abs = lambda d: jnp.mean(jnp.abs(d)) if d.size else jnp.zeros((), error.dtype)
  return mean_abs(dy) + mean_abs(dx)


@register('silog', on_logits=False)
def silog(pred, target, lam=0.5):
  """Scale-invariant log loss (Eigen, Puhrsch, Fergus 2014), per sample.

  With d = log p' - log g' per pixel and n pixels: mean(d^2) - lam * mean(d)^2,
  where p', g' are nearness mapped to (0, 1] as (255 v + 1) / 256 (the mapping
  of the delta metric), so nearness 0 gives log(1/256), not -inf. Nearness is
  inverse depth, so d is minus the log-depth difference: the loss is the same as
  on depth 1 / p'. lam = 0.5 is Eigen's training value; lam = 1 makes it fully
  scale invariant (multiplying p' by a constant leaves it unchanged). It is >= 0
  for lam <= 1.

  Args:
    pred: Predicted nearness in [0, 1], N x H x W x C.
    target: Target nearness in [0, 1], same shape.
    lam: The weight of the scale-invariance term, in [0, 1].

  Returns:
    The mean over the batch.
  """
  d = _utils.log_nearness_ratio(pred, target)
  axes = tuple(range(1, d.ndim))
  mean = jnp.mean(d, axis=axes, keepdims=True)
  # mean(d^2) - lam mean(d)^2, written as var(d) + (1 - lam) mean(d)^2 so that a
  # constant d (a pure scale) gives exactly (1 - lam) mean(d)^2, without cancellation.
  variance = jnp.mean((d - mean) ** 2, axis=axes)
  per_sample = variance + (1.0 - lam) * jnp.squeeze(mean, axes) ** 2
  return jnp.mean(per_sample)
