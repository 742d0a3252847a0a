"""The loss registry, each loss against an independent reference, and the combiners.

References: PyTorch for BCE / smooth L1 / MSE / L1, scikit-image for SSIM, and short
numpy versions of the other definitions. Tests needing torch or scikit-image skip
without them.
"""
import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import losses
from losses import combine
from losses import registry

SHAPE = (2, 16, 16, 1)


def _random(seed, shape=SHAPE, low=0.0, high=1.0):
  return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def _binary(seed, shape=SHAPE):
  return (np.random.default_rng(seed).random(shape) > 0.5).astype(np.float32)


# (pred, target) pairs in [0, 1]: random, and the edge cases.
VALUE_CASES = {
    'random': (_random(0), _random(1)),
    'random_vs_binary': (_random(2), _binary(3)),
    'zeros': (np.zeros(SHAPE, np.float32), np.zeros(SHAPE, np.float32)),
    'ones': (np.ones(SHAPE, np.float32), np.ones(SHAPE, np.float32)),
    'zeros_vs_ones': (np.zeros(SHAPE, np.float32), np.ones(SHAPE, np.float32)),
    'constant_images': (np.full(SHAPE, 0.3, np.float32), np.full(SHAPE, 0.7, np.float32)),
    'identical_random': (_random(4), _random(4)),
}
# (logits, target) pairs, including saturated logits.
LOGIT_CASES = {
    'random': (_random(5, low=-4, high=4), _random(6)),
    'random_vs_binary': (_random(7, low=-4, high=4), _binary(8)),
    'saturated_right': (np.where(_binary(9) > 0, 100.0, -100.0).astype(np.float32),
                        _binary(9)),
    'saturated_wrong': (np.where(_binary(9) > 0, -100.0, 100.0).astype(np.float32),
                        _binary(9)),
    'zero_logits': (np.zeros(SHAPE, np.float32), _binary(10)),
}


def _close(actual, expected, rtol=1e-5, atol=1e-6):
  np.testing.assert_allclose(float(actual), float(expected), rtol=rtol, atol=atol)


# --- The registry -----------------------------------------------------------------------


def test_registry_has_the_built_in_losses():
  assert set(losses.names()) >= {'bce_with_logits', 'smooth_l1', 'mse', 'ssim', 'dice',
                                 'iou', 'l1', 'gradient', 'silog', 'log_l1', 'lovasz_hinge'}


def test_on_logits_says_what_each_loss_expects():
  assert losses.get('bce_with_logits').on_logits is True
  assert losses.get('lovasz_hinge').on_logits is True
  for name in ('smooth_l1', 'mse', 'ssim', 'dice', 'iou', 'l1', 'gradient', 'silog', 'log_l1'):
    assert losses.get(name).on_logits is False, name


def test_unknown_loss_lists_the_registered_names():
  with pytest.raises(ValueError, match='unknown loss .nope.*bce_with_logits.*smooth_l1'):
    losses.get('nope')


def test_register_adds_a_loss_and_refuses_duplicates():

  @losses.register('half_l1', on_logits=False)
  def half_l1(pred, target):
    return 0.5 * jnp.mean(jnp.abs(pred - target))

  try:
    assert losses.get('half_l1') is half_l1 and half_l1.on_logits is False
    assert 'half_l1' in losses.names()
    with pytest.raises(ValueError, match="loss 'half_l1' is already registered"):
      losses.register('half_l1', on_logits=False)(half_l1)
  finally:
    registry.LOSSES.remove('half_l1')
  assert 'half_l1' not in losses.names()


def test_a_loss_added_to_the_table_without_on_logits_is_refused_by_name():
  registry.LOSSES.add('bare_l1', lambda pred, target: jnp.mean(jnp.abs(pred - target)))
  try:
    with pytest.raises(ValueError, match=r'^loss\.depth: bare_l1 was registered without '
                       r'on_logits; register losses with losses\.register'):
      losses.build(dict(mask='bce_with_logits', depth='bare_l1'))
  finally:
    registry.LOSSES.remove('bare_l1')


# --- Against PyTorch -------------------------------------------------------------------


@pytest.mark.parametrize('case', LOGIT_CASES)
@pytest.mark.parametrize('pos_weight', [1.0, 3.0])
def test_bce_with_logits_matches_torch(case, pos_weight):
  torch = pytest.importorskip('torch')
  logits, target = LOGIT_CASES[case]
  expected = torch.nn.functional.binary_cross_entropy_with_logits(
      torch.from_numpy(logits), torch.from_numpy(target),
      pos_weight=torch.tensor(pos_weight))
  _close(losses.get('bce_with_logits')(logits, target, pos_weight=pos_weight), expected)


@pytest.mark.parametrize('case', LOGIT_CASES)
def test_bce_with_outline_weight_is_torchs_weighted_bce_over_the_weights_sum(case):
  torch = pytest.importorskip('torch')
  logits, target = LOGIT_CASES[case]
  weight = 1.0 + 4.0 * np.asarray(losses.builtin.outline_band(target))
  expected = torch.nn.functional.binary_cross_entropy_with_logits(
      torch.from_numpy(logits), torch.from_numpy(target), weight=torch.from_numpy(weight),
      reduction='sum') / weight.sum()
  _close(losses.get('bce_with_logits')(logits, target, outline_weight=5.0), expected)


@pytest.mark.parametrize('case', VALUE_CASES)
@pytest.mark.parametrize('beta', [1.0, 0.1, 0.0])
def test_smooth_l1_matches_torch(case, beta):
  torch = pytest.importorskip('torch')
  pred, target = VALUE_CASES[case]
  expected = torch.nn.functional.smooth_l1_loss(
      torch.from_numpy(pred), torch.from_numpy(target), beta=beta)
  _close(losses.get('smooth_l1')(pred, target, beta=beta), expected)


@pytest.mark.parametrize('case', VALUE_CASES)
@pytest.mark.parametrize('name, torch_name', [('mse', 'mse_loss'), ('l1', 'l1_loss')])
def test_mse_and_l1_match_torch(case, name, torch_name):
  torch = pytest.importorskip('torch')
  pred, target = VALUE_CASES[case]
  expected = getattr(torch.nn.functional, torch_name)(
      torch.from_numpy(pred), torch.from_numpy(target))
  _close(losses.get(name)(pred, target), expected)


# --- SSIM against scikit-image ---------------------------------------------------------


@pytest.mark.parametrize('case', VALUE_CASES)
def test_ssim_matches_skimage(case):
  """dm-pix averages SSIM over the windows that fit ('valid'); scikit-image filters
  the whole image with reflected borders, then drops a 5-pixel border (the window
  radius) before averaging. What is left is the same set of windows, so the two agree
  to float32 (dm-pix) against float64 (scikit-image) precision. One exception by
  design of the formula: both compute variances as E[x^2] - E[x]^2; on a constant
  image that cancels to float32 rounding noise (~1e-8), which the SSIM contrast term
  divides by C2 = 9e-4, so flat images get an absolute tolerance of 1e-4."""
  metrics = pytest.importorskip('skimage.metrics')
  pred, target = VALUE_CASES[case]
  expected = np.mean([
      metrics.structural_similarity(p[..., 0], t[..., 0], gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0)
      for p, t in zip(pred, target)])
  atol = 1e-4 if case == 'constant_images' else 2e-6
  _close(losses.get('ssim')(pred, target), 1.0 - expected, rtol=1e-5, atol=atol)


def test_ssim_loss_of_opposite_constants_is_nearly_one():
  """Zeros against ones: SSIM is C1 / (1 + C1) with C1 = 0.01^2, so the loss is ~1."""
  c1 = 0.01**2
  _close(losses.get('ssim')(*VALUE_CASES['zeros_vs_ones']), 1.0 - c1 / (1.0 + c1))


def test_ssim_rejects_images_smaller_than_the_window():
  small = jnp.zeros((1, 8, 8, 1))
  with pytest.raises(ValueError, match='at least 11x11'):
    losses.get('ssim')(small, small)


# --- Against numpy ---------------------------------------------------------------------


def _np_dice(pred, target, smooth=1.0):
  pred, target = pred.reshape(len(pred), -1), target.reshape(len(target), -1)
  score = (2 * (pred * target).sum(1) + smooth) / (pred.sum(1) + target.sum(1) + smooth)
  return np.mean(1 - score)


def _np_iou(pred, target, smooth=1.0):
  pred, target = pred.reshape(len(pred), -1), target.reshape(len(target), -1)
  intersection = (pred * target).sum(1)
  union = pred.sum(1) + target.sum(1) - intersection
  return np.mean(1 - (intersection + smooth) / (union + smooth))


def _np_gradient(pred, target):
  return (np.mean(np.abs(np.diff(pred, axis=1) - np.diff(target, axis=1))) +
          np.mean(np.abs(np.diff(pred, axis=2) - np.diff(target, axis=2))))


def _np_silog(pred, target, lam=0.5):
  d = np.log((255 * pred.astype(np.float64) + 1) / 256) - np.log(
      (255 * target.astype(np.float64) + 1) / 256)
  d = d.reshape(len(d), -1)
  return np.mean(np.mean(d**2, 1) - lam * np.mean(d, 1) ** 2)


@pytest.mark.parametrize('case', VALUE_CASES)
@pytest.mark.parametrize('smooth', [1.0, 1e-3])
def test_dice_and_iou_match_numpy(case, smooth):
  pred, target = VALUE_CASES[case]
  _close(losses.get('dice')(pred, target, smooth=smooth), _np_dice(pred, target, smooth))
  _close(losses.get('iou')(pred, target, smooth=smooth), _np_iou(pred, target, smooth))


def test_dice_and_iou_of_two_empty_masks_are_zero_even_without_smoothing():
  empty = np.zeros(SHAPE, np.float32)
  for name in ('dice', 'iou'):
    assert float(losses.get(name)(empty, empty, smooth=0.0)) == 0.0


def _np_lovasz_hinge(logits, target):
  """Berman et al.'s reference algorithm (lovasz_hinge_flat), one image at a time."""
  per_image = []
  for x, t in zip(logits.reshape(len(logits), -1), target.reshape(len(target), -1)):
    t = (t > 0.5).astype(np.float64)
    errors = 1.0 - x.astype(np.float64) * (2 * t - 1)
    order = np.argsort(-errors, kind='stable')
    gt_sorted = t[order]
    intersection = gt_sorted.sum() - np.cumsum(gt_sorted)
    union = gt_sorted.sum() + np.cumsum(1 - gt_sorted)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1]
    per_image.append(np.dot(np.maximum(errors[order], 0), jaccard))
  return np.mean(per_image)


@pytest.mark.parametrize('case', LOGIT_CASES)
def test_lovasz_hinge_matches_the_reference_algorithm(case):
  logits, target = LOGIT_CASES[case]
  _close(losses.get('lovasz_hinge')(logits, target), _np_lovasz_hinge(logits, target),
         rtol=1e-5)


def test_lovasz_hinge_pushes_each_erring_pixel_toward_its_side_by_its_iou_weight():
  target = np.zeros((1, 1, 4, 1), np.float32)
  target[..., :2, :] = 1.0  # Two person pixels, two others.
  logits = np.array([2.0, -0.5, 0.5, -3.0], np.float32).reshape(1, 1, 4, 1)
  grads = np.asarray(jax.grad(losses.get('lovasz_hinge'))(logits, target)).ravel()
  # Hinge errors 1 - x s: [-1, 1.5, 1.5, -2]; the two erring pixels, in sorted order,
  # weigh 1 - 1/2 (the first miss: IoU 1 -> 1/2) and 1/2 - 1/3 (a false alarm on top).
  # A tie between them: either order gives the same loss; jnp.argsort keeps index order.
  np.testing.assert_allclose(grads, [0.0, -0.5, 1 / 6, 0.0], atol=1e-6)


def test_lovasz_hinge_is_one_minus_iou_where_each_pixel_is_right_or_wrong_by_one():
  rng = np.random.default_rng(0)
  target = rng.random((3, 8, 8, 1)) > 0.6
  drawn = rng.random((3, 8, 8, 1)) > 0.5
  # Right pixels at logit +-1 on their side (error 0), wrong ones at 0 (error 1).
  logits = np.where(drawn == target, np.where(target, 1.0, -1.0), 0.0).astype(np.float32)
  iou = [(d & t).sum() / (d | t).sum() for d, t in zip(drawn, target)]
  _close(losses.get('lovasz_hinge')(logits, target.astype(np.float32)), 1.0 - np.mean(iou),
         rtol=1e-6)
  confident = np.where(target, 3.0, -3.0).astype(np.float32)
  assert float(losses.get('lovasz_hinge')(confident, target.astype(np.float32))) == 0.0


@pytest.mark.parametrize('case', VALUE_CASES)
def test_gradient_matches_numpy(case):
  pred, target = VALUE_CASES[case]
  _close(losses.get('gradient')(pred, target), _np_gradient(pred, target))


def test_gradient_loss_ignores_a_constant_offset():
  pred = _random(11)
  assert float(losses.get('gradient')(pred + 0.25, pred)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize('case', VALUE_CASES)
@pytest.mark.parametrize('lam', [0.5, 1.0, 0.0])
def test_silog_matches_numpy(case, lam):
  pred, target = VALUE_CASES[case]
  _close(losses.get('silog')(pred, target, lam=lam), _np_silog(pred, target, lam), atol=1e-5)


def test_log_l1_is_the_mean_absolute_log_ratio_of_the_mapped_nearness():
  target = jnp.full((1, 2, 2, 1), 19.0 / 255)  # Level 19: (19 + 1) / 256 after the mapping.
  pred = jnp.full((1, 2, 2, 1), 24.0 / 255)  # Level 24: 25 / 256, 1.25 x nearer.
  assert float(losses.get('log_l1')(pred, target)) == pytest.approx(np.log(1.25), rel=1e-5)


def test_log_l1_weighs_a_level_missed_at_a_far_wall_more_than_near_the_camera():
  miss = lambda level: float(losses.get('log_l1')(jnp.full((1, 1, 1, 1), (level + 1) / 255),
                                                  jnp.full((1, 1, 1, 1), level / 255)))
  assert miss(20) == pytest.approx(np.log(22 / 21), rel=1e-5)
  assert miss(20) > 9 * miss(200)  # 1/21 against 1/201.
  l1 = losses.get('l1')
  assert float(l1(jnp.full((1, 1, 1, 1), 21 / 255), jnp.full((1, 1, 1, 1), 20 / 255))) == (
      pytest.approx(float(l1(jnp.full((1, 1, 1, 1), 201 / 255), jnp.full((1, 1, 1, 1), 200 / 255)))))


def test_silog_with_lam_one_ignores_a_global_scale():
  """Mapped nearness p' = 1.5 g' for every pixel: a pure scale, so the loss is 0."""
  target = _random(12, low=0.0, high=0.5)
  pred = (1.5 * (255 * target + 1) - 1) / 255
  assert float(losses.get('silog')(pred, target, lam=1.0)) == pytest.approx(0.0, abs=1e-6)
  assert float(losses.get('silog')(pred, target, lam=0.5)) > 0.01


# --- Properties every loss has ---------------------------------------------------------


def _loss_inputs(name, case):
  """Logits for the loss that wants logits; otherwise sigmoid(logits) in [0, 1]."""
  logits, target = LOGIT_CASES[case]
  pred = logits if losses.get(name).on_logits else jax.nn.sigmoid(logits)
  return jnp.asarray(pred), jnp.asarray(target)


BOUNDS = {'ssim': (0.0, 2.0), 'dice': (0.0, 1.0), 'iou': (0.0, 1.0)}


def _all_cases(cases, names=None):
  """The cases stacked into one batch: every loss is separable over samples, so a
  gradient of the stacked batch is finite iff every case's is."""
  names = names or list(cases)
  return tuple(np.concatenate([cases[n][i] for n in names]) for i in (0, 1))


@pytest.mark.parametrize('case', LOGIT_CASES)
@pytest.mark.parametrize('name', sorted(losses.names()))
def test_loss_is_finite_and_bounded(name, case):
  pred, target = _loss_inputs(name, case)
  value = losses.get(name)(pred, target)
  assert value.shape == () and np.isfinite(value)
  low, high = BOUNDS.get(name, (0.0, math.inf))
  assert low - 1e-6 <= float(value) <= high + 1e-6


@pytest.mark.parametrize('name', sorted(losses.names()))
def test_loss_is_jit_safe(name):
  fn = losses.get(name)
  logits, target = _all_cases(LOGIT_CASES)
  pred = logits if fn.on_logits else jax.nn.sigmoid(logits)
  # Compiled reductions sum in another order: float32 rounding over 2,560 pixels.
  _close(jax.jit(fn)(pred, target), fn(pred, target), rtol=1e-4)


@pytest.mark.parametrize('name', sorted(losses.names()))
def test_gradient_wrt_logits_is_finite(name):
  """Differentiates through the sigmoid as training does, saturated logits included."""
  fn = losses.get(name)
  logits, target = _all_cases(LOGIT_CASES)
  prepare = (lambda x: x) if fn.on_logits else jax.nn.sigmoid
  grads = jax.grad(lambda x: fn(prepare(x), target))(jnp.asarray(logits))
  assert np.all(np.isfinite(grads))


@pytest.mark.parametrize('name', sorted(set(losses.names()) - {'bce_with_logits'}))
def test_gradient_wrt_values_is_finite_at_edge_cases(name):
  """All zeros, all ones, constant images, pred == target: where sqrt, log or a
  division could blow up."""
  pred, target = _all_cases(
      VALUE_CASES, ['zeros', 'ones', 'zeros_vs_ones', 'constant_images', 'identical_random'])
  grads = jax.grad(lambda p: losses.get(name)(p, target))(jnp.asarray(pred))
  assert np.all(np.isfinite(grads))


# --- Combining the heads ---------------------------------------------------------------


def _outputs_and_batch(seed=0):
  outputs = {'mask': jnp.asarray(_random(seed, low=-3, high=3)),
             'depth': jnp.asarray(_random(seed + 1, low=-3, high=3))}
  batch = {'mask': jnp.asarray(_binary(seed + 2)), 'depth': jnp.asarray(_random(seed + 3))}
  return outputs, batch


def _head_losses(outputs, batch, mask='bce_with_logits', depth='smooth_l1'):
  mask_fn, depth_fn = losses.get(mask), losses.get(depth)
  mask_pred = outputs['mask'] if mask_fn.on_logits else jax.nn.sigmoid(outputs['mask'])
  depth_pred = outputs['depth'] if depth_fn.on_logits else jax.nn.sigmoid(outputs['depth'])
  return float(mask_fn(mask_pred, batch['mask'])), float(depth_fn(depth_pred, batch['depth']))


def test_weighted_sum_weights_each_head():
  outputs, batch = _outputs_and_batch()
  config = dict(mask='bce_with_logits', depth='smooth_l1', combine='weighted_sum',
                mask_weight=2.0, depth_weight=0.5)
  assert losses.init_loss_params(config) == {}
  total, aux = losses.total_loss(config, outputs, batch, {})
  mask_loss, depth_loss = _head_losses(outputs, batch)
  _close(aux['mask_loss'], mask_loss)
  _close(aux['depth_loss'], depth_loss)
  _close(total, 2.0 * mask_loss + 0.5 * depth_loss)


def test_missing_weights_default_to_one_and_configdicts_work():
  outputs, batch = _outputs_and_batch()
  config = ml_collections.ConfigDict(dict(mask='dice', depth='ssim', combine='weighted_sum'))
  total, _ = losses.total_loss(config, outputs, batch, {})
  mask_loss, depth_loss = _head_losses(outputs, batch, 'dice', 'ssim')
  _close(total, mask_loss + depth_loss)


def test_a_head_spec_can_carry_loss_options():
  outputs, batch = _outputs_and_batch()
  config = ml_collections.ConfigDict(dict(
      mask=dict(name='bce_with_logits', pos_weight=2.0),
      depth=dict(name='smooth_l1', beta=0.05), combine='weighted_sum'))
  _, aux = losses.total_loss(config, outputs, batch, {})
  _close(aux['mask_loss'], losses.get('bce_with_logits')(outputs['mask'], batch['mask'],
                                                         pos_weight=2.0))
  _close(aux['depth_loss'], losses.get('smooth_l1')(jax.nn.sigmoid(outputs['depth']),
                                                    batch['depth'], beta=0.05))


def test_weights_in_the_combine_spec_take_precedence():
  outputs, batch = _outputs_and_batch()
  config = dict(mask='mse', depth='mse', mask_weight=5.0,
                combine=dict(name='weighted_sum', mask_weight=3.0))
  total, aux = losses.total_loss(config, outputs, batch, {})
  _close(total, 3.0 * aux['mask_loss'] + aux['depth_loss'])


def test_uint8_targets_are_mapped_to_unit_range():
  outputs, batch = _outputs_and_batch()
  batch_uint8 = {k: jnp.round(v * 255).astype(jnp.uint8) for k, v in batch.items()}
  config = dict(mask='bce_with_logits', depth='l1', combine='weighted_sum')
  _, aux = losses.total_loss(config, outputs, batch_uint8, {})
  _, aux_float = losses.total_loss(
      config, outputs, {k: v.astype(jnp.float32) / 255 for k, v in batch_uint8.items()}, {})
  _close(aux['mask_loss'], aux_float['mask_loss'])
  _close(aux['depth_loss'], aux_float['depth_loss'])


def test_sqrt_sum_is_the_sum_of_square_roots():
  outputs, batch = _outputs_and_batch()
  config = dict(mask='bce_with_logits', depth='smooth_l1', combine='sqrt_sum')
  total, _ = losses.total_loss(config, outputs, batch, {})
  mask_loss, depth_loss = _head_losses(outputs, batch)
  _close(total, math.sqrt(mask_loss) + math.sqrt(depth_loss))


def test_sqrt_sum_is_zero_with_finite_gradients_at_zero_loss():
  outputs, _ = _outputs_and_batch()
  perfect = {k: jax.nn.sigmoid(v) for k, v in outputs.items()}  # mse is exactly 0.
  config = dict(mask='mse', depth='mse', combine='sqrt_sum')
  loss_fn = lambda o: losses.total_loss(config, o, perfect, {})[0]
  assert float(loss_fn(outputs)) == 0.0
  grads = jax.grad(loss_fn)(outputs)
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


def test_sqrt_sum_square_root_is_exact_above_1e8_and_linear_below():
  for loss in (1e-8 * 1.01, 1e-4, 0.3, 7.0):
    _close(combine._safe_sqrt(jnp.float32(loss)), math.sqrt(loss))
  _close(combine._safe_sqrt(jnp.float32(1e-9)), 1e-9 / 1e-4)
  _close(jax.grad(combine._safe_sqrt)(jnp.float32(1e-12)), 1e4)


def test_sqrt_sum_survives_a_loss_that_rounds_below_zero():
  assert float(combine._safe_sqrt(jnp.float32(-1e-7))) == 0.0
  assert np.isfinite(jax.grad(combine._safe_sqrt)(jnp.float32(-1e-7)))


def test_uncertainty_learns_log_variances():
  outputs, batch = _outputs_and_batch()
  config = dict(mask='bce_with_logits', depth='smooth_l1', combine='uncertainty')
  params = losses.init_loss_params(config)
  assert set(params) == {'s_mask', 's_depth'}
  mask_loss, depth_loss = _head_losses(outputs, batch)

  total, aux = losses.total_loss(config, outputs, batch, params)
  _close(total, mask_loss + depth_loss)  # At s = 0 the weights are 1.
  _close(aux['mask_weight'], 1.0)

  params = {'s_mask': jnp.float32(0.5), 's_depth': jnp.float32(-1.0)}
  total, aux = losses.total_loss(config, outputs, batch, params)
  _close(total, math.exp(-0.5) * mask_loss + 0.5 + math.exp(1.0) * depth_loss - 1.0)
  _close(aux['depth_weight'], math.exp(1.0))

  grads = jax.grad(lambda p: losses.total_loss(config, outputs, batch, p)[0])(params)
  # d/ds [exp(-s) L + s] = 1 - exp(-s) L.
  _close(grads['s_mask'], 1.0 - math.exp(-0.5) * mask_loss)
  _close(grads['s_depth'], 1.0 - math.exp(1.0) * depth_loss, rtol=1e-4)


def test_total_loss_is_jit_safe():
  outputs, batch = _outputs_and_batch()
  config = dict(mask='dice', depth='silog', combine='uncertainty')
  params = losses.init_loss_params(config)
  fn = lambda o, b, p: losses.total_loss(config, o, b, p)
  eager, jitted = fn(outputs, batch, params), jax.jit(fn)(outputs, batch, params)
  _close(jitted[0], eager[0])


def test_a_registered_combiner_is_chosen_by_name_and_a_second_registration_is_refused():
  from losses import combine  # pylint: disable=g-import-not-at-top
  larger = losses.Combiner(lambda: {}, lambda weights, mask, depth, params: (
      jnp.maximum(mask, depth), {}))
  losses.register_combiner('larger_head', larger)
  try:
    assert 'larger_head' in losses.combiner_names()
    outputs, batch = _outputs_and_batch()
    config = dict(mask='bce_with_logits', depth='smooth_l1', combine='larger_head')
    total, _ = losses.total_loss(config, outputs, batch, {})
    _close(total, max(_head_losses(outputs, batch)))
    with pytest.raises(ValueError, match="combiner 'larger_head' is already registered"):
      losses.register_combiner('larger_head', larger)
  finally:
    combine.COMBINERS.remove('larger_head')


def test_unknown_combine_lists_the_known_ones():
  outputs, batch = _outputs_and_batch()
  config = dict(mask='mse', depth='mse', combine='product')
  with pytest.raises(ValueError, match='loss.combine.*sqrt_sum, uncertainty, weighted_sum'):
    losses.total_loss(config, outputs, batch, {})


@pytest.mark.parametrize('config, message', [
    (dict(mask='nope', depth='mse'), r'^loss\.mask: unknown loss .nope.; registered: .*dice'),
    (dict(mask='mse'), r'^loss\.depth: missing; allowed:'),
    (dict(mask='mse', depth=dict(beta=1.0)), r'^loss\.depth: expected a name, dict'),
    (dict(mask='mse', depth=dict(name='smooth_l1', bta=1.0)),
     r"^loss\.depth: smooth_l1 has no option 'bta'; allowed: beta, weight$"),
    (dict(mask='mse', depth='mse', combine='max'), r'^loss\.combine: unknown combiner'),
    (dict(mask='mse', depth='mse', combine=dict(name='sqrt_sum', power=2)),
     r"^loss\.combine: sqrt_sum has no option 'power'"),
    (dict(mask='mse', depth='mse', mask_weight=-1.0), r'^loss\.mask_weight: expected a number'),
    (dict(mask='mse', depth='mse', depth_weight='x'), r'^loss\.depth_weight: expected a number'),
])
def test_validate_loss_config_names_the_field(config, message):
  with pytest.raises(ValueError, match=message) as error:
    losses.validate_loss_config(config)
  assert '\n' not in str(error.value)


SHIPPED_CONFIGS = sorted(
    name[:-3] for name in os.listdir(os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'configs'))
    if name.endswith('.py') and name != '__init__.py')


@pytest.mark.parametrize('name', SHIPPED_CONFIGS)
def test_every_shipped_config_has_a_valid_loss(name):
  import importlib  # pylint: disable=g-import-not-at-top
  from training import study  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{name}').get_config()
  losses.validate_loss_config(config.loss)
  if 'study' in config:  # And every variant's, as the study will build it.
    for variant in study.variant_configs(config).values():
      losses.validate_loss_config(variant.loss)


# --- A head's loss as a weighted sum of terms --------------------------------------------


def test_a_list_of_terms_is_their_weighted_sum_and_each_term_is_logged():
  outputs, batch = _outputs_and_batch()
  config = dict(mask=[dict(name='bce_with_logits'), dict(name='dice', weight=2.0)],
                depth=[dict(name='l1', weight=0.1), dict(name='ssim'), dict(name='gradient')])
  total, aux = losses.total_loss(config, outputs, batch, {})
  bce, _ = _head_losses(outputs, batch, 'bce_with_logits', 'l1')
  dice, l1 = _head_losses(outputs, batch, 'dice', 'l1')
  _, ssim = _head_losses(outputs, batch, 'dice', 'ssim')
  _, gradient = _head_losses(outputs, batch, 'dice', 'gradient')
  _close(aux['mask_loss/bce_with_logits'], bce)
  _close(aux['mask_loss/dice'], dice)
  _close(aux['mask_loss'], bce + 2.0 * dice)
  _close(aux['depth_loss'], 0.1 * l1 + ssim + gradient)
  _close(total, bce + 2.0 * dice + 0.1 * l1 + ssim + gradient)


def test_a_single_name_logs_no_terms_and_a_repeated_name_gets_a_number():
  outputs, batch = _outputs_and_batch()
  _, aux = losses.total_loss(dict(mask='dice', depth='l1'), outputs, batch, {})
  assert set(aux) == {'mask_loss', 'depth_loss'}
  _, aux = losses.total_loss(dict(mask='dice', depth=[dict(name='ssim'), dict(
      name='ssim', filter_size=5)]), outputs, batch, {})
  assert {'depth_loss/ssim', 'depth_loss/ssim_2'} <= set(aux)
  assert float(aux['depth_loss/ssim']) != float(aux['depth_loss/ssim_2'])


def test_build_checks_once_and_returns_the_loss_the_step_calls():
  outputs, batch = _outputs_and_batch()
  config = ml_collections.ConfigDict(dict(mask=('bce_with_logits', 'dice'), depth='mse'))
  loss_fn = losses.build(config)
  assert [term.name for term in loss_fn.mask.terms] == ['bce_with_logits', 'dice']
  assert loss_fn.init_params() == {}
  _close(jax.jit(lambda o, b: loss_fn(o, b, {})[0])(outputs, batch),
         losses.total_loss(config, outputs, batch, {})[0])


def test_a_head_spec_written_as_text_on_the_command_line_is_read_as_a_literal():
  loss_fn = losses.build(dict(mask='bce_with_logits',
                              depth="[{'name': 'l1', 'weight': 0.5}, {'name': 'ssim'}]"))
  assert [(t.name, t.weight) for t in loss_fn.depth.terms] == [('l1', 0.5), ('ssim', 1.0)]
  with pytest.raises(ValueError, match=r"^loss\.depth: .* is not a Python literal"):
    losses.build(dict(mask='dice', depth='[dict(name=1)]'))


# --- The outline band -------------------------------------------------------------------


# Against the pixels benchmarks/depth_errors.py counts as near the outline:
# tests/test_depth_errors.py.


def test_outline_band_of_a_square_is_its_border_and_the_ring_around_it():
  target = np.zeros((1, 6, 6, 1), np.float32)
  target[0, 2:4, 2:4] = 1.0
  band = np.asarray(losses.builtin.outline_band(target))[0, ..., 0]
  expected = np.zeros((6, 6))
  expected[1:5, 1:5] = 1.0  # The 2 x 2 square is all border; the ring of 12 around it.
  np.testing.assert_array_equal(band, expected)
  assert not np.any(losses.builtin.outline_band(np.ones((1, 6, 6, 1), np.float32)))


@pytest.mark.parametrize('outline_weight', [0.0, -1.0])
def test_an_outline_weight_that_is_not_positive_is_refused(outline_weight):
  logits, target = LOGIT_CASES['random_vs_binary']
  with pytest.raises(ValueError, match='outline_weight must be > 0'):
    losses.get('bce_with_logits')(logits, target, outline_weight=outline_weight)


def test_outline_weight_one_is_the_plain_mean_and_more_weighs_the_outline():
  logits, target = LOGIT_CASES['random_vs_binary']
  bce = losses.get('bce_with_logits')
  assert float(bce(logits, target, outline_weight=1.0)) == float(bce(logits, target))
  # Wrong only on the outline: more weight there raises the loss.
  band = np.asarray(losses.builtin.outline_band(target)) > 0
  wrong_on_outline = np.where(band, -4.0, 4.0) * np.where(target > 0.5, 1.0, -1.0)
  assert float(bce(wrong_on_outline, target, outline_weight=5.0)) > float(
      bce(wrong_on_outline, target))
