"""Schedules draw the documented curves; optimizers and schedules are found by name."""
import numpy as np
import pytest

from configs import base
from training import optim


def config_with(schedule, lr=0.01, steps=8000, **schedule_fields):
  config = base.get_config()
  config.schedule.name = schedule
  config.schedule.update(schedule_fields)
  config.optimizer.lr = lr
  config.train.steps = steps
  return config


def test_cyclic_is_the_originals_triangle_between_0_001_and_0_01():
  schedule = optim.make_schedule(config_with('cyclic', lr=0.01, min_lr=0.001,
                                             half_cycle_steps=2000))
  values = {step: float(schedule(step)) for step in (0, 1000, 2000, 3000, 4000, 6000)}
  assert values == pytest.approx({0: 0.001, 1000: 0.0055, 2000: 0.01, 3000: 0.0055,
                                  4000: 0.001, 6000: 0.01})


def test_cosine_warms_up_linearly_then_decays_to_min_lr():
  schedule = optim.make_schedule(config_with('cosine', lr=0.01, steps=1000,
                                             warmup_steps=100, min_lr=0.0001))
  assert float(schedule(0)) == 0.0
  assert float(schedule(50)) == pytest.approx(0.005)
  assert float(schedule(100)) == pytest.approx(0.01)
  curve = np.array([float(schedule(s)) for s in range(100, 1001, 50)])
  assert np.all(np.diff(curve) <= 1e-12)
  assert curve[-1] == pytest.approx(0.0001)


def test_one_cycle_peaks_at_lr_and_ends_far_below():
  schedule = optim.make_schedule(config_with('one_cycle', lr=0.01, steps=1000))
  curve = np.array([float(schedule(s)) for s in range(1000)])
  assert curve.max() == pytest.approx(0.01, rel=1e-3)
  assert 200 <= curve.argmax() <= 400
  assert curve[0] < 0.001 and curve[-1] < 1e-4


def test_constant_with_warmup():
  schedule = optim.make_schedule(config_with('constant', lr=0.002, warmup_steps=10))
  assert float(schedule(5)) == pytest.approx(0.001)
  assert float(schedule(10)) == float(schedule(5000)) == pytest.approx(0.002)


@pytest.mark.parametrize('field, value, message', [
    ('schedule.name', 'zigzag', 'schedule.name: unknown schedule'),
    ('optimizer.name', 'adagrad', 'optimizer.name: unknown optimizer'),
])
def test_unknown_names_list_the_known_ones(field, value, message):
  config = base.get_config()
  section, key = field.split('.')
  config[section][key] = value
  with pytest.raises(ValueError, match=message) as error:
    optim.make_optimizer(config)
  assert 'registered:' in str(error.value)


def first_updates(name, grads, steps=1, **optimizer_fields):
  """The updates `name` makes on w = [1, 1, 1] for `grads` at each of `steps` steps.

  Constant learning rate 0.1, no warmup, no clipping, so each update shows the
  optimizer's own rule.
  """
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  config = config_with('constant', lr=0.1, warmup_steps=0)
  config.optimizer.update(dict(dict(name=name, grad_clip_norm=0.0), **optimizer_fields))
  optimizer = optim.make_optimizer(config)
  params = {'w': jnp.ones(3)}
  state = optimizer.init(params)
  updates = []
  for _ in range(steps):
    update, state = optimizer.update({'w': jnp.asarray(grads, jnp.float32)}, state, params)
    updates.append(np.asarray(update['w']))
  return updates


@pytest.mark.parametrize('name, expected', [
    ('adam', -0.1),  # L2-coupled: the decay joins the gradient, Adam normalizes it to 1.
    ('adamw', -0.01),  # Decoupled: lr x weight_decay x w.
    ('sgd', -0.01),  # L2: lr x weight_decay x w.
])
def test_weight_decay_pulls_weights_toward_zero_even_without_a_gradient(name, expected):
  decayed, = first_updates(name, np.zeros(3), weight_decay=0.1)
  np.testing.assert_allclose(decayed, expected, rtol=1e-4)
  undecayed, = first_updates(name, np.zeros(3), weight_decay=0.0)
  np.testing.assert_array_equal(undecayed, 0.0)


def test_sgd_momentum_adds_the_previous_update():
  with_momentum = first_updates('sgd', np.ones(3), steps=2, momentum=0.9)
  np.testing.assert_allclose(with_momentum, [[-0.1] * 3, [-0.19] * 3], rtol=1e-5)
  without = first_updates('sgd', np.ones(3), steps=2, momentum=0.0)
  np.testing.assert_allclose(without, [[-0.1] * 3, [-0.1] * 3], rtol=1e-5)


def test_gradient_clipping_bounds_the_global_norm_of_the_gradient():
  clipped, = first_updates('sgd', [30.0, 40.0, 0.0], momentum=0.0, grad_clip_norm=1.0)
  np.testing.assert_allclose(clipped, [-0.06, -0.08, 0.0], rtol=1e-5)


def plateau_scales(test_losses, **plateau_fields):
  """The learning-rate scale after each evaluation's test loss."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from training import steps  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.schedule.plateau.update(plateau_fields)
  plateau = optim.make_plateau(config)
  state = steps.TrainState(step=0, params={}, batch_stats={}, opt_state=(), rng=0,
                           nonfinite_step=-1, plateau=plateau.init(jnp.zeros(())))
  scales = []
  for loss in test_losses:
    state = steps.update_plateau(state, loss, plateau=plateau)
    scales.append(float(state.plateau.scale))
  return scales


def test_reduce_on_plateau_scales_the_lr_after_patience_evals_without_improvement():
  scales = plateau_scales([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5],
                          factor=0.5, patience=2)
  assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_reduce_on_plateau_stops_at_min_scale_and_is_off_by_default():
  assert plateau_scales([1.0] * 8, factor=0.1, patience=1, min_scale=0.01)[-1] == (
      pytest.approx(0.01))
  assert plateau_scales([1.0] * 8) == [1.0] * 8


def test_a_small_relative_improvement_counts_as_a_plateau():
  assert plateau_scales([1.0, 0.99, 0.98], factor=0.5, patience=1, rtol=0.05) == [
      1.0, 0.5, 0.25]


def test_muon_orthogonalizes_conv_kernels_at_adams_size_and_leaves_the_rest_to_adam():
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  config = config_with('constant', lr=0.1, warmup_steps=0)
  config.optimizer.update(name='muon', grad_clip_norm=0.0)
  optimizer = optim.make_optimizer(config)
  rng = np.random.default_rng(0)
  # Tall matrices: without the scaling their updates would be several times smaller.
  params = dict(conv=jnp.ones((3, 3, 64, 64)), dense=jnp.ones((256, 8)),
                head=jnp.ones((1, 1, 16, 1)), bias=jnp.ones(8))
  grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
  updates, _ = optimizer.update(grads, optimizer.init(params), params)
  for name, rows, columns in (('conv', 3 * 3 * 64, 64), ('dense', 256, 8)):
    matrix = np.asarray(updates[name]).reshape(rows, columns)
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    # Newton-Schulz leaves every direction at about the same size (not exactly 1).
    assert singular_values.max() / singular_values.min() < 2.0, (name, singular_values)
    # Scaled to 0.2 x lr root mean square, the size of a typical Adam update.
    rms = np.sqrt(np.mean(matrix ** 2))
    assert 0.6 * 0.02 < rms < 1.4 * 0.02, (name, rms)
  # One-channel heads and biases get Adam with Nesterov momentum (b1 = 0.9): its first
  # step is -lr x (b1 (1 - b1) / (1 - b1^2) + 1) x sign(gradient).
  nesterov_first_step = 0.9 * 0.1 / (1 - 0.9 ** 2) + 1
  for name in ('head', 'bias'):
    np.testing.assert_allclose(updates[name], -0.1 * nesterov_first_step * np.sign(grads[name]),
                               rtol=1e-4)


def test_muon_weight_decay_is_decoupled_on_kernels_and_on_the_rest():
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  config = config_with('constant', lr=0.1, warmup_steps=0)
  config.optimizer.update(name='muon', grad_clip_norm=0.0, weight_decay=0.1)
  optimizer = optim.make_optimizer(config)
  params = dict(kernel=jnp.ones((4, 4)), bias=jnp.ones(4))
  zeros = dict(kernel=jnp.zeros((4, 4)), bias=jnp.zeros(4))
  updates, _ = optimizer.update(zeros, optimizer.init(params), params)
  for name in ('kernel', 'bias'):  # lr x weight_decay x w with no gradient.
    np.testing.assert_allclose(updates[name], -0.01, rtol=1e-4, atol=1e-6)


def test_muon_momentum_carries_the_first_gradient_into_the_second_update():
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  params = dict(kernel=jnp.ones((8, 4)))
  first = dict(kernel=jnp.asarray(np.random.default_rng(0).normal(size=(8, 4)), jnp.float32))
  second = dict(kernel=jnp.asarray(np.random.default_rng(1).normal(size=(8, 4)), jnp.float32))

  def second_update(momentum, gradients):
    config = config_with('constant', lr=0.1, warmup_steps=0)
    config.optimizer.update(name='muon', grad_clip_norm=0.0, muon_momentum=momentum)
    optimizer = optim.make_optimizer(config)
    state = optimizer.init(params)
    for gradient in gradients:
      updates, state = optimizer.update(gradient, state, params)
    return np.asarray(updates['kernel'])

  # Without momentum the second update is the second gradient's alone, as from a fresh
  # start; with 0.95 the first gradient still steers it.
  alone = second_update(0.0, [second])
  np.testing.assert_allclose(second_update(0.0, [first, second]), alone, rtol=1e-5, atol=1e-6)
  assert np.abs(second_update(0.95, [first, second]) - alone).max() > 1e-3


def test_muon_at_momentum_0_95_and_lr_6e_3_is_the_default_and_sgd_keeps_0_9():
  config = base.get_config()
  assert (config.optimizer.name, config.optimizer.muon_momentum) == ('muon', 0.95)
  assert (config.optimizer.lr, config.schedule.min_lr) == (6e-3, 2e-3)
  assert config.optimizer.momentum == 0.9


def test_the_96_px_recipe_trains_at_the_default_rate_and_evaluates_as_the_default():
  from configs import cnn_96  # pylint: disable=g-import-not-at-top
  config = cnn_96.get_config()
  assert (config.optimizer.name, config.optimizer.lr, config.schedule.min_lr) == (
      'muon', 6e-3, 2e-3)
  default = base.get_config()
  assert config.eval.hflip_average is default.eval.hflip_average is True
  assert config.train.ema_decay == default.train.ema_decay > 0
