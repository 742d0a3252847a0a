"""The train state and the pure, jitted train and eval steps."""
import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

import losses
import zoo
from datasets import augment
from datasets import pipeline
from losses import metrics as metrics_lib


# XLA:CPU (jax 0.10) hands convolutions, dots and reductions to YNNPACK. Its weight-gradient
# convolutions (a 3x3 output from a whole-image window) run 3-4x slower than Eigen's, and
# they are most of a conv net's backward pass, so the train step keeps YNNPACK for dots
# and reductions only (`benchmarks/step_variants.py` compares the three; BENCHMARKS.md,
# "Making it fast").
CPU_TRAIN_COMPILER_OPTIONS = {
    'xla_cpu_experimental_ynn_fusion_type':
        'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE',
}


@flax.struct.dataclass
class TrainState:
  """Everything that changes during training, as one pytree.

  `rng` is raw key data (uint32), which checkpoints store as a plain array.
  `params` holds the model's parameters under 'model' and the loss's learned weights
  (if any) under 'loss', so one optimizer trains both. `nonfinite_step` is -1 until a
  step meets a NaN or Inf loss or gradient; that step and all after it leave the state
  unchanged, so the last saved checkpoint stays good. Steps count from 1, as logged.
  `plateau` is the reduce-on-plateau state (`optim.make_plateau`): every update is
  multiplied by its `scale`, which only `update_plateau` changes, after an evaluation.
  `ema` is None, or (with `train.ema_decay`) {'params', 'batch_stats'}: the exponential
  moving average of both over the steps so far, which evaluation, prediction and export
  use (`prediction_weights`).
  """
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  rng: jax.Array
  nonfinite_step: jax.Array
  plateau: Any
  ema: Any = None

  def prediction_weights(self) -> tuple[Any, Any]:
    """(params, batch_stats) to evaluate and predict with: the moving average if kept."""
    if self.ema is None:
      return self.params, self.batch_stats
    return self.ema['params'], self.ema['batch_stats']


def create_train_state(model, optimizer, plateau, loss_fn, rng, image_size: int,
                       ema_decay: float = 0.0) -> TrainState:
  """Initializes the model on a dummy batch and the optimizer on its parameters.

  With `ema_decay` > 0 the state keeps a moving average of the weights (`ema`), which
  starts as the weights themselves (`update_ema`'s first step replaces it).
  """
  init_rng, state_rng = jax.random.split(rng)
  dummy = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  variables = model.init(init_rng, dummy, dummy, train=False)
  params = {'model': variables['params'], 'loss': loss_fn.init_params()}
  batch_stats = variables.get('batch_stats', {})
  ema = None
  if ema_decay > 0:  # jit returns a buffer of its own for each leaf: donation is safe.
    ema = dict(params=params, batch_stats=batch_stats)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats,
                    opt_state=optimizer.init(params), rng=jax.random.key_data(state_rng),
                    nonfinite_step=-jnp.ones((), jnp.int32),
                    plateau=plateau.init(jnp.zeros((), jnp.float32)), ema=ema)


def update_ema(ema, weights, step, decay: float):
  """The bias-corrected exponential moving average after step `step` (1, 2, ...).

  Equal to Adam's debiased mean of the weights after each step, sum_k decay^(t-k) w_k /
  sum_k decay^(t-k), kept directly: each step moves the average towards the new weights
  by (1 - decay) / (1 - decay^t), all the way at step 1, so no early step, and not the
  initial weights, weighs more than its share.
  """
  t = jnp.asarray(step, jnp.float32)
  decay = jnp.float32(decay)  # Both sides in float32: the rate is exactly 1 at step 1.
  rate = (1 - decay) / (1 - jnp.power(decay, t))
  return jax.tree.map(lambda average, new: average + rate * (new - average), ema, weights)


def update_plateau(state: TrainState, test_loss, *, plateau) -> TrainState:
  """Feeds one evaluation's test loss to reduce-on-plateau; may lower `plateau.scale`."""
  _, plateau_state = plateau.update(jnp.zeros(()), state.plateau, value=test_loss)
  return state.replace(plateau=plateau_state)


def model_inputs(batch_uint8, stats, dtype_name: str):
  """uint8 batch -> (float targets in [0, 1], standardized inputs in the compute dtype)."""
  unit = pipeline.to_unit_range(batch_uint8)
  return unit, zoo.standardize_inputs(unit, stats, zoo.compute_dtype(dtype_name))


def apply_model(model, params, batch_stats, inputs, *, train: bool):
  """Runs the model; returns (outputs, new batch_stats)."""
  variables = {'params': params['model']}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  if train and batch_stats:
    outputs, updates = model.apply(variables, inputs['bg'], inputs['fg_bg'], train=True,
                                   mutable=['batch_stats'])
    return outputs, updates['batch_stats']
  return model.apply(variables, inputs['bg'], inputs['fg_bg'], train=train), batch_stats


def train_inputs(state: TrainState, batch, *, config, stats):
  """(targets in [0, 1], standardized inputs) of a train step: the uint8 batch
  augmented with the step's own RNG, then normalized."""
  step_rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
  targets = augment.apply(config.data.augment, step_rng, pipeline.to_unit_range(batch))
  return targets, zoo.standardize_inputs(targets, stats,
                                         zoo.compute_dtype(config.model.dtype))


def train_loss(params, state: TrainState, targets, inputs, *, model, loss_fn):
  """(loss, (aux, new batch_stats)) of the model in train mode: what the step differentiates."""
  outputs, batch_stats = apply_model(model, params, state.batch_stats, inputs, train=True)
  loss, aux = loss_fn(outputs, targets, params['loss'])
  return loss, (aux, batch_stats)


def train_step(state: TrainState, batch, *, model, optimizer, schedule, config, stats,
               loss_fn):
  """One optimizer step on a uint8 batch: augment, normalize, forward, backward, update.

  `loss_fn` is the config's loss as `losses.build(config.loss)` returns it.
  """
  targets, inputs = train_inputs(state, batch, config=config, stats=stats)
  (loss, (aux, batch_stats)), grads = jax.value_and_grad(train_loss, has_aux=True)(
      state.params, state, targets, inputs, model=model, loss_fn=loss_fn)
  updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
  scale = state.plateau.scale
  updates = jax.tree.map(lambda update: (scale * update).astype(update.dtype), updates)
  params = optax.apply_updates(state.params, updates)
  grad_norm = optax.global_norm(grads)
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & (state.nonfinite_step < 0)
  keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
  params, batch_stats = keep(params, state.params), keep(batch_stats, state.batch_stats)
  ema = state.ema
  if ema is not None:
    ema = keep(update_ema(ema, dict(params=params, batch_stats=batch_stats), state.step + 1,
                          config.train.ema_decay), ema)
  new_state = state.replace(
      step=state.step + 1,
      params=params,
      batch_stats=batch_stats,
      ema=ema,
      opt_state=keep(opt_state, state.opt_state),
      nonfinite_step=jnp.where((state.nonfinite_step < 0) & ~finite, state.step + 1,
                               state.nonfinite_step))
  metrics = dict(loss=loss, grad_norm=grad_norm, lr=schedule(state.step) * scale, **aux)
  return new_state, metrics


def logits_and_probabilities(model, params, batch_stats, inputs, *, hflip_average: bool):
  """The model's logits of standardized `inputs` and the probabilities it predicts.

  With `hflip_average` the inputs and their mirror images run as one batch and the
  probabilities are the mean of the two (`zoo.mirror_averaged`); the logits are the
  inputs' own either way (the test loss is the training loss of the plain pass).
  """
  images = {key: inputs[key] for key in ('bg', 'fg_bg')}
  if not hflip_average:
    outputs, _ = apply_model(model, params, batch_stats, images, train=False)
    return outputs, zoo.probabilities(outputs)
  both, _ = apply_model(model, params, batch_stats,
                        {key: zoo.with_mirror(value) for key, value in images.items()},
                        train=False)
  n = images['bg'].shape[0]
  return ({key: value[:n] for key, value in both.items()},
          zoo.mirror_mean(zoo.probabilities(both)))


def predict(params, batch_stats, batch, *, model, stats, dtype_name,
            hflip_average: bool = False):
  """Mask and depth probabilities in [0, 1] for a uint8 batch (N x H x W x 1 each)."""
  _, inputs = model_inputs(batch, stats, dtype_name)
  _, prediction = logits_and_probabilities(model, params, batch_stats, inputs,
                                            hflip_average=hflip_average)
  return prediction


def per_sample_loss(loss_fn, outputs, targets, loss_params):
  """The training loss (and each head's) of every sample alone: {'loss': (N,), ...}."""
  def one_sample(sample_outputs, sample_targets):
    add_batch_axis = lambda tree: jax.tree.map(lambda x: x[None], tree)
    total, aux = loss_fn(add_batch_axis(sample_outputs), add_batch_axis(sample_targets),
                         loss_params)
    return dict(loss=total, mask_loss=aux['mask_loss'], depth_loss=aux['depth_loss'])
  return jax.vmap(one_sample)(
      outputs, {key: targets[key] for key in ('mask', 'depth')})


def eval_step(params, batch_stats, batch, baseline, *, model, stats, config, loss_fn):
  """Per-sample losses and metrics of the model, and of the baselines, on a uint8 batch.

  The metrics are those of what the model predicts (with `eval.hflip_average`, averaged
  with the mirror image); the losses those of the plain forward pass.
  """
  targets, inputs = model_inputs(batch, stats, config.model.dtype)
  outputs, prediction = logits_and_probabilities(
      model, params, batch_stats, inputs, hflip_average=config.eval.hflip_average)
  per_sample = metrics_lib.per_sample_metrics(
      prediction['mask'], prediction['depth'], targets['mask'], targets['depth'],
      mask_ssim_threshold=config.eval.mask_ssim_threshold,
      depth_ssim_threshold=config.eval.depth_ssim_threshold)
  per_sample.update(per_sample_loss(loss_fn, outputs, targets, params['loss']))
  baseline_metrics = metrics_lib.baseline_per_sample(
      targets['bg'], targets['fg_bg'], targets['mask'], targets['depth'],
      baseline['threshold'], baseline['mean_depth'],
      mask_ssim_threshold=config.eval.mask_ssim_threshold,
      depth_ssim_threshold=config.eval.depth_ssim_threshold)
  return per_sample, baseline_metrics, prediction


def train_compiler_options() -> dict[str, str] | None:
  """The XLA options the train step (and anything timed against it) compiles with."""
  return CPU_TRAIN_COMPILER_OPTIONS if jax.default_backend() == 'cpu' else None


def jit_steps(model, optimizer, schedule, config, stats, loss_fn):
  """The jitted train step (state donated) and eval step for this model, config and loss."""
  train = jax.jit(functools.partial(train_step, model=model, optimizer=optimizer,
                                    schedule=schedule, config=config, stats=stats,
                                    loss_fn=loss_fn),
                  donate_argnums=0, compiler_options=train_compiler_options())
  evaluate = jax.jit(functools.partial(eval_step, model=model, stats=stats, config=config,
                                       loss_fn=loss_fn))
  return train, evaluate
