"""Checks a whole config before anything runs: one clear line per problem.

Each check raises ValueError whose message starts with the field's name and says
what is allowed; `run.py` prints it as one line and exits with code 2.
"""
import jax

import datasets
import losses
import zoo
from datasets import augment
from datasets import builder as builder_lib
from training import optim

_CHOICES = {
    'data.split_by': ('sample', 'bg'),
    'data.on_bad_sample': ('error', 'skip'),
    'model.dtype': tuple(zoo.registry.DTYPES),
}
_POSITIVE = ('optimizer.lr', 'train.steps', 'train.batch_size', 'train.checkpoint_every',
             'train.log_every', 'train.keep_checkpoints', 'eval.every', 'eval.batch_size',
             'data.image_size')
_UNIT_INTERVAL = ('eval.mask_ssim_threshold', 'eval.depth_ssim_threshold')


def _get(config, dotted: str):
  node = config
  for part in dotted.split('.'):
    node = node[part]
  return node


def _check_choices(config):
  for field, allowed in _CHOICES.items():
    value = _get(config, field)
    if value not in allowed:
      raise ValueError(f'{field}: {value!r} is not one of {", ".join(map(repr, allowed))}')


def _check_numbers(config):
  for field in _POSITIVE:
    value = _get(config, field)
    if not value > 0:
      raise ValueError(f'{field}: {value!r} must be > 0')
  for field in _UNIT_INTERVAL:
    value = _get(config, field)
    if not 0 <= value <= 1:
      raise ValueError(f'{field}: {value!r} must be within [0, 1]')
  fraction = config.data.test_fraction
  if not 0 < fraction < 1:
    raise ValueError(f'data.test_fraction: {fraction!r} must be within (0, 1)')
  max_samples = config.eval.max_samples
  if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 0:
    raise ValueError(f'eval.max_samples: {max_samples!r} must be an integer >= 0 (0 '
                     'evaluates the whole test split)')
  if config.data.cache_mib < 0:
    raise ValueError(f'data.cache_mib: {config.data.cache_mib!r} must be >= 0 (0 turns the '
                     'decoded-sample cache off)')
  if config.optimizer.weight_decay < 0:
    raise ValueError(f'optimizer.weight_decay: {config.optimizer.weight_decay!r} must be >= 0')
  for field in ('momentum', 'muon_momentum'):
    if not 0 <= config.optimizer[field] < 1:
      raise ValueError(f'optimizer.{field}: {config.optimizer[field]!r} must be within [0, 1)')
  plateau = config.schedule.plateau
  if not 0 < plateau.factor <= 1:
    raise ValueError(f'schedule.plateau.factor: {plateau.factor!r} must be within (0, 1] '
                     '(1 turns reduce-on-plateau off)')
  for field, least in (('patience', 1), ('cooldown', 0)):
    value = plateau[field]
    if not isinstance(value, int) or value < least:
      raise ValueError(f'schedule.plateau.{field}: {value!r} must be an integer >= '
                       f'{least} (evaluations)')
  if not 0 < plateau.rtol <= 1:
    raise ValueError(f'schedule.plateau.rtol: {plateau.rtol!r} must be within (0, 1]')
  if not 0 <= plateau.min_scale <= 1:
    raise ValueError(f'schedule.plateau.min_scale: {plateau.min_scale!r} must be within '
                     '[0, 1]')
  if config.optimizer.grad_clip_norm < 0:
    raise ValueError(f'optimizer.grad_clip_norm: {config.optimizer.grad_clip_norm!r} '
                     'must be >= 0 (0 turns clipping off)')
  decay = config.train.ema_decay
  if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
    raise ValueError(f'train.ema_decay: {decay!r} must be within [0, 1) (0 turns the '
                     'moving average of the weights off)')


def _check_names(config):
  zoo.registry.get(config.model.name, 'model.name')
  optim.OPTIMIZERS.get(config.optimizer.name, 'optimizer.name')
  optim.SCHEDULES.get(config.schedule.name, 'schedule.name')
  try:
    losses.validate_loss_config(config.loss)
  except ValueError as error:
    message = str(error)
    raise ValueError(message if message.startswith('loss') else f'loss: {message}') from None
  augment.validate(config.data.augment)


def _check_stages(stages, model_stride: int):
  """train.stages: dicts of image_size (a multiple of the stride) and fraction, sum < 1."""
  total = 0.0
  for i, stage in enumerate(stages):
    field = f'train.stages[{i}]'
    keys = sorted(stage.keys()) if hasattr(stage, 'keys') else None
    if keys != ['fraction', 'image_size']:
      raise ValueError(f'{field}: expected dict(image_size=..., fraction=...), got {stage!r}')
    size, fraction = stage['image_size'], stage['fraction']
    if (isinstance(size, bool) or not isinstance(size, int) or size < 11
        or size % model_stride):
      raise ValueError(f'{field}.image_size: {size!r} must be a multiple of the model stride '
                       f'{model_stride} and at least 11 (the SSIM window)')
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not fraction > 0:
      raise ValueError(f'{field}.fraction: {fraction!r} must be a number > 0')
    total += fraction
  if total >= 1:
    raise ValueError(f'train.stages: the fractions add up to {total:g}; they must leave '
                     'some steps (< 1) for data.image_size')


def _check_shapes(config):
  model_stride = zoo.stride(config.model)
  size = config.data.image_size
  if size < 11:
    raise ValueError(f'data.image_size: {size} is below 11, the side of the SSIM window '
                     'that evaluation (and the ssim loss) needs')
  if size % model_stride:
    raise ValueError(
        f'data.image_size: {size} is not a multiple of {config.model.name}\'s stride '
        f'{model_stride}; use e.g. {max(model_stride, size - size % model_stride)} or '
        f'{size - size % model_stride + model_stride}')
  _check_stages(config.train.stages, model_stride)
  devices = jax.device_count()
  if config.train.batch_size % devices:
    raise ValueError(f'train.batch_size: {config.train.batch_size} is not divisible by '
                     f'the {devices} devices; use a multiple of {devices}')
  if config.eval.batch_size % devices:
    raise ValueError(f'eval.batch_size: {config.eval.batch_size} is not divisible by '
                     f'the {devices} devices; use a multiple of {devices}')


def _check_compilation_cache(config):
  if not isinstance(config.get('compilation_cache', ''), str):
    raise ValueError(f'compilation_cache: {config.compilation_cache!r} must be a folder '
                     "(a string), or '' to compile every time")


def validate_config(config):
  """Raises ValueError naming the first invalid field and its allowed values."""
  _check_compilation_cache(config)
  _check_choices(config)
  _check_numbers(config)
  _check_names(config)
  _check_shapes(config)
  if config.data.source == 'synthetic':
    try:
      datasets.synthetic_spec(config.data)
    except ValueError as error:
      raise ValueError(f'data.synthetic: {error}') from None
  # Raises for a Beam runner that cannot run here; the config it returns is not needed yet.
  builder_lib.beam_download_config(datasets.build_options(config.data))
