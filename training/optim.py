"""Learning-rate schedules and optimizers, looked up by their config names."""
from typing import Callable

import jax
import optax
import optax.contrib

from dmnet_core import Registry

# fn(lr, schedule_config, total_steps) -> optax.Schedule, by `schedule.name`.
SCHEDULES: Registry[Callable[..., optax.Schedule]] = Registry('schedule')
# fn(schedule, optimizer_config) -> optax.GradientTransformation, by `optimizer.name`.
OPTIMIZERS: Registry[Callable[..., optax.GradientTransformation]] = Registry('optimizer')


@SCHEDULES.register
def constant(lr, schedule_config, total_steps):
  """The same learning rate at every step (after an optional linear warmup)."""
  del total_steps
  return _with_warmup(optax.constant_schedule(lr), lr, schedule_config.warmup_steps)


@SCHEDULES.register
def cosine(lr, schedule_config, total_steps):
  """Linear warmup to `lr`, then cosine decay to `schedule.min_lr` at the last step."""
  warmup = min(schedule_config.warmup_steps, max(total_steps - 1, 0))
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0 if warmup else lr, peak_value=lr, warmup_steps=warmup,
      decay_steps=max(total_steps, warmup + 1), end_value=schedule_config.min_lr)


@SCHEDULES.register
def cyclic(lr, schedule_config, total_steps):
  """The original's triangular cyclic LR: min_lr -> lr over half_cycle_steps, and back."""
  del total_steps
  low, high, half = schedule_config.min_lr, lr, schedule_config.half_cycle_steps

  def schedule(step):
    position = (step % (2 * half)) / half  # 0 -> 2 over one cycle.
    rise = 1.0 - abs(position - 1.0)  # 0 -> 1 -> 0.
    return low + (high - low) * rise
  return schedule


@SCHEDULES.register
def one_cycle(lr, schedule_config, total_steps):
  """Smith's one-cycle: warm up to `lr` over 30% of the run, then anneal far below."""
  del schedule_config
  return optax.cosine_onecycle_schedule(transition_steps=max(total_steps, 1), peak_value=lr)


def _with_warmup(schedule, lr, warmup_steps):
  if not warmup_steps:
    return schedule
  return optax.join_schedules(
      [optax.linear_schedule(0.0, lr, warmup_steps), schedule], [warmup_steps])


def make_schedule(config) -> optax.Schedule:
  """The learning-rate schedule of `config.schedule` for `config.train.steps` steps."""
  factory = SCHEDULES.get(config.schedule.name, 'schedule.name')
  return factory(config.optimizer.lr, config.schedule, config.train.steps)


@OPTIMIZERS.register
def adam(schedule, optimizer_config):
  """Adam; with weight_decay > 0 it is L2-coupled (use adamw for decoupled decay)."""
  base = optax.adam(schedule)
  if optimizer_config.weight_decay:
    return optax.chain(optax.add_decayed_weights(optimizer_config.weight_decay), base)
  return base


@OPTIMIZERS.register
def adamw(schedule, optimizer_config):
  """AdamW: Adam with decoupled weight decay."""
  return optax.adamw(schedule, weight_decay=optimizer_config.weight_decay)


@OPTIMIZERS.register
def sgd(schedule, optimizer_config):
  """SGD with (Nesterov-free) momentum and optional L2 weight decay."""
  base = optax.sgd(schedule, momentum=optimizer_config.momentum or None)
  if optimizer_config.weight_decay:
    return optax.chain(optax.add_decayed_weights(optimizer_config.weight_decay), base)
  return base


def _muon_dimensions(params):
  """Which axes Muon orthogonalizes over: a conv kernel (H, W, in, out) as a (H*W*in, out)
  matrix, a dense kernel as it is; biases, norms' scales and the one-channel heads' kernels
  (None) go to Adam, as Muon's authors keep gains and output layers on Adam."""
  def dimensions(x):
    if x.ndim < 2 or x.shape[-1] < 2:
      return None
    return optax.contrib.MuonDimensionNumbers(reduction_axis=tuple(range(x.ndim - 1)),
                                              output_axis=x.ndim - 1)
  return jax.tree.map(dimensions, params)


@OPTIMIZERS.register
def muon(schedule, optimizer_config):
  """Muon (momentum orthogonalized by Newton-Schulz) on conv and dense kernels, Adam on the rest.

  Both follow the same learning rate: Muon's updates are multiplied by 0.2 x
  sqrt(max(rows, columns)) (`consistent_rms=0.2`, Moonshot's rule), which brings them to
  about the root mean square of a typical Adam update, so an lr tuned for Adam is a
  starting point for Muon too. The first conv is on Muon as well (Muon's authors keep an
  input layer on Adam; here it is a conv like the others). `muon_momentum` is Muon's;
  the Adam part is optax's (Nesterov, b1 0.9). `weight_decay` is decoupled, on both.
  """
  return optax.contrib.muon(
      schedule, beta=optimizer_config.muon_momentum,
      weight_decay=optimizer_config.weight_decay,
      adam_weight_decay=optimizer_config.weight_decay, consistent_rms=0.2,
      muon_weight_dimension_numbers=_muon_dimensions)


def make_optimizer(config) -> optax.GradientTransformation:
  """Clipping (if any), then the optimizer of `config.optimizer`, on `config.schedule`."""
  factory = OPTIMIZERS.get(config.optimizer.name, 'optimizer.name')
  optimizer = factory(make_schedule(config), config.optimizer)
  if config.optimizer.grad_clip_norm:
    optimizer = optax.chain(optax.clip_by_global_norm(config.optimizer.grad_clip_norm),
                            optimizer)
  return optimizer


def make_plateau(config) -> optax.GradientTransformationExtraArgs:
  """Reduce-on-plateau on the test loss (`config.schedule.plateau`).

  After each evaluation (`steps.update_plateau`), if the test loss has not fallen
  below `(1 - rtol)` x its best for `patience` evaluations in a row, every later update
  is scaled by `factor` more (on top of the schedule), down to `min_scale`; `cooldown`
  evaluations pass before it counts again. `factor = 1` (the default) never scales.
  """
  plateau = config.schedule.plateau
  if plateau.factor == 1.0:  # Off (optax refuses factor 1): its state, never updated,
    # so that a checkpoint resumes with the switch turned either way.
    state_only = optax.contrib.reduce_on_plateau(factor=0.5)
    return optax.GradientTransformationExtraArgs(
        state_only.init, lambda updates, state, params=None, **extra_args: (updates, state))
  return optax.contrib.reduce_on_plateau(
      factor=plateau.factor, patience=plateau.patience, rtol=plateau.rtol,
      cooldown=plateau.cooldown, min_scale=plateau.min_scale)
