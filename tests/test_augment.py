"""The on-device augmentations: shapes, pairing of the four images, strengths, rngs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import base
from datasets import augment

SIZE, BATCH = 24, 3
# One entry per registered augmentation, at a strength where it always acts.
ACTING = {
    'hflip': dict(p=1.0),
    'random_resized_crop': dict(scale=(0.5, 0.8)),
    'rotate': dict(max_degrees=20.0),
    'color_jitter': dict(),
    'cutout': dict(p=1.0),
    'photometric': dict(),
}
IDENTITY = {
    'hflip': dict(p=0),
    'random_resized_crop': dict(scale=(1, 1)),
    'rotate': dict(max_degrees=0),
    'color_jitter': dict(brightness=0, contrast=0, saturation=0, hue=0),
    'cutout': dict(p=0),
    'photometric': dict(brightness=0, contrast=0, gamma=0, noise_std=0),
}
GEOMETRIC = ('hflip', 'random_resized_crop', 'rotate')
PHOTOMETRIC = ('color_jitter', 'cutout', 'photometric')


def random_batch(seed=0, border=0):
  """A float batch in [0, 1]; with `border`, every image is 0 within `border` px of the edge."""
  rng = np.random.default_rng(seed)
  batch = {key: rng.random((BATCH, SIZE, SIZE, 3 if key in augment.INPUT_KEYS else 1),
                           np.float32) for key in augment.ALL_KEYS}
  if border:
    inner = np.zeros((SIZE, SIZE, 1), np.float32)
    inner[border:-border, border:-border] = 1
    batch = {key: value * inner for key, value in batch.items()}
  return batch


_COMPILED = {}


def run(entries, batch, seed=0):
  """`augment.apply(entries)` under jit, compiled once per entry list (compiles dominate)."""
  key = repr(entries)
  if key not in _COMPILED:
    _COMPILED[key] = jax.jit(lambda rng, b: augment.apply(entries, rng, b))
  return jax.tree.map(np.asarray, _COMPILED[key](jax.random.key(seed), batch))


def test_every_augmentation_is_covered():
  assert set(ACTING) == set(IDENTITY) == set(augment.names())


@pytest.mark.parametrize('name', sorted(ACTING))
def test_shapes_and_dtypes_under_jit_and_vmap(name):
  batch = random_batch()
  out = run([dict(name=name, **ACTING[name])], batch)
  for key, value in batch.items():
    assert out[key].shape == value.shape and out[key].dtype == np.float32, key
    assert np.all(np.isfinite(out[key])) and out[key].min() >= 0 and out[key].max() <= 1


@pytest.mark.parametrize('name', GEOMETRIC)
def test_geometric_moves_all_four_together(name):
  # Zero edges make the rotation's fill rules (edge pixel, or 0 for the mask) agree.
  batch = random_batch(border=2)
  batch['mask'] = batch['fg_bg'][..., :1]
  batch['depth'] = batch['fg_bg'][..., 1:2]
  batch['bg'] = batch['fg_bg'][..., ::-1]
  out = run([dict(name=name, **ACTING[name])], batch)
  assert not np.allclose(out['fg_bg'], batch['fg_bg'])
  np.testing.assert_allclose(out['mask'], out['fg_bg'][..., :1], atol=1e-5)
  np.testing.assert_allclose(out['depth'], out['fg_bg'][..., 1:2], atol=1e-5)
  np.testing.assert_allclose(out['bg'], out['fg_bg'][..., ::-1], atol=1e-5)


def test_rotate_fills_mask_with_zero_and_depth_with_edge():
  batch = {key: np.ones_like(value) for key, value in random_batch().items()}
  out = run([dict(name='rotate', **ACTING['rotate'])], batch)
  assert out['mask'][:, 0, 0, 0].min() < 0.5
  np.testing.assert_allclose(out['mask'][:, SIZE // 2, SIZE // 2], 1.0, atol=1e-6)
  np.testing.assert_allclose(out['depth'], 1.0, atol=1e-6)
  np.testing.assert_allclose(out['fg_bg'], 1.0, atol=1e-6)


@pytest.mark.parametrize('name', PHOTOMETRIC)
def test_photometric_never_touches_targets(name):
  batch = random_batch()
  out = run([dict(name=name, **ACTING[name])], batch)
  for key in ('mask', 'depth'):
    np.testing.assert_array_equal(out[key], batch[key])
  for key in augment.INPUT_KEYS:
    assert not np.allclose(out[key], batch[key]), key


def test_cutout_same_rectangle_in_both_inputs():
  batch = random_batch()
  out = run([dict(name='cutout', **ACTING['cutout'])], batch)
  changed_bg = np.any(out['bg'] != batch['bg'], axis=-1)
  changed_fg = np.any(out['fg_bg'] != batch['fg_bg'], axis=-1)
  np.testing.assert_array_equal(changed_bg, changed_fg)
  np.testing.assert_array_equal(out['bg'][changed_bg], 0.5)


@pytest.mark.parametrize('name', ('color_jitter', 'photometric'))
def test_inputs_get_independent_draws(name):
  # Identical inputs must come out different: bg and fg_bg are jittered separately.
  batch = random_batch()
  batch['bg'] = batch['fg_bg']
  out = run([dict(name=name, **ACTING[name])], batch)
  assert not np.allclose(out['bg'], out['fg_bg'])


@pytest.mark.parametrize('name', sorted(IDENTITY))
def test_identity_at_zero_strength(name):
  batch = random_batch()
  out = run([dict(name=name, **IDENTITY[name])], batch)
  for key, value in batch.items():
    np.testing.assert_allclose(out[key], value, atol=1e-6, err_msg=key)


@pytest.mark.parametrize('name', sorted(ACTING))
def test_deterministic_given_rng_and_different_across_rngs(name):
  # Four samples per batch: with p=1 hflip alone is the same for any rng.
  batch = random_batch()
  entries = [dict(name=name, **ACTING[name])]
  first, again, other = run(entries, batch), run(entries, batch), run(entries, batch, seed=1)
  for key in augment.ALL_KEYS:
    np.testing.assert_array_equal(first[key], again[key])
  if name != 'hflip':
    assert any(not np.allclose(first[key], other[key]) for key in augment.ALL_KEYS)


def test_hflip_differs_across_rngs_at_half():
  batch = random_batch()
  outs = [run([dict(name='hflip', p=0.5)], batch, seed=seed)['fg_bg'] for seed in range(4)]
  assert any(not np.array_equal(outs[0], out) for out in outs[1:])


def test_default_list_validates_and_runs():
  entries = base.get_config().data.augment
  augment.validate(entries)
  out = run(entries, random_batch())
  assert {key: value.shape for key, value in out.items()} == {
      key: value.shape for key, value in random_batch().items()}


def test_validate_names_unknown_argument():
  with pytest.raises(ValueError, match=r'data.augment\[0\] \(rotate\): unknown argument'):
    augment.validate([dict(name='rotate', degrees=5)])
