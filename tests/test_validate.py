"""A bad config is refused before anything runs, with one line naming the field."""
import pytest

from configs import base
from training import validate


def config_with(**overrides):
  config = base.get_config()
  for dotted, value in overrides.items():
    *parents, leaf = dotted.split('__')
    node = config
    for part in parents:
      node = node[part]
    node[leaf] = value
  return config


def test_the_shipped_configs_are_valid():
  import importlib  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  folder = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'configs')
  for name in sorted(os.listdir(folder)):
    if name.endswith('.py') and name not in ('__init__.py', 'base.py'):
      module = importlib.import_module(f'configs.{name[:-3]}')
      config = module.get_config()
      for variant in (config if isinstance(config, list) else [config]):
        validate.validate_config(variant)


def test_the_original_config_is_the_originals_400k_samples_split_70_30_by_sample():
  import datasets  # pylint: disable=g-import-not-at-top
  from configs import original  # pylint: disable=g-import-not-at-top
  from datasets import builder  # pylint: disable=g-import-not-at-top
  config = original.get_config()
  entries = datasets.make_source(config.data).entries()
  assert len(entries) == 100 * 100 * 2 * 20 == 400_000
  assert len({entry.group for entry in entries}) == 100  # Rooms.
  splits = builder.split_entries(entries, builder.BuildOptions(
      split_by=config.data.split_by, test_fraction=config.data.test_fraction))
  assert (len(splits['train']), len(splits['test'])) == (280_000, 120_000)
  # Every room is in both splits: the split is by sample.
  assert {e.group for e in splits['test']} == {e.group for e in splits['train']}


@pytest.mark.parametrize('overrides, message', [
    (dict(optimizer__lr=0.0), 'optimizer.lr: 0.0 must be > 0'),
    (dict(optimizer__lr=-1e-3), 'optimizer.lr: -0.001 must be > 0'),
    (dict(train__batch_size=0), 'train.batch_size: 0 must be > 0'),
    (dict(train__steps=-5), 'train.steps: -5 must be > 0'),
    (dict(eval__mask_ssim_threshold=1.5), 'eval.mask_ssim_threshold: 1.5 must be within [0, 1]'),
    (dict(eval__max_samples=-1), 'eval.max_samples: -1 must be an integer >= 0'),
    (dict(eval__depth_ssim_threshold=-0.1), 'eval.depth_ssim_threshold: -0.1 must be within'),
    (dict(data__test_fraction=1.0), 'data.test_fraction: 1.0 must be within (0, 1)'),
    (dict(data__split_by='scene'), "data.split_by: 'scene' is not one of 'sample', 'bg'"),
    (dict(data__on_bad_sample='ignore'), "data.on_bad_sample: 'ignore' is not one of"),
    (dict(model__dtype='float16'), "model.dtype: 'float16' is not one of"),
    (dict(model__name='vgg'), "model.name: unknown model 'vgg'; registered: dmnet_cnn"),
    (dict(optimizer__name='adagrad'), "optimizer.name: unknown optimizer 'adagrad'; registered: adam"),
    (dict(schedule__name='step'), "schedule.name: unknown schedule 'step'; registered: constant"),
    (dict(loss__mask='focal'), "loss.mask: unknown loss 'focal'"),
    (dict(loss__combine='product'), 'loss.combine'),
    (dict(data__augment=[dict(name='mixup')]), "data.augment[0].name: unknown augmentation 'mixup'"),
    (dict(data__augment=[dict(name='hflip', q=1)]), 'data.augment[0] (hflip): unknown argument'),
    (dict(optimizer__grad_clip_norm=-1.0), 'optimizer.grad_clip_norm: -1.0 must be >= 0'),
    (dict(train__ema_decay=1.0), 'train.ema_decay: 1.0 must be within [0, 1)'),
    (dict(train__ema_decay=-0.5), 'train.ema_decay: -0.5 must be within [0, 1)'),
    (dict(optimizer__muon_momentum=1.0), 'optimizer.muon_momentum: 1.0 must be within [0, 1)'),
    (dict(optimizer__momentum=-0.5), 'optimizer.momentum: -0.5 must be within [0, 1)'),
    (dict(data__cache_mib=-1), 'data.cache_mib: -1 must be >= 0'),
    (dict(data__beam_options='--direct_num_workers=2'),
     "data.beam_options '--direct_num_workers=2' given without data.beam_runner"),
    (dict(data__beam_runner='DirektRunner'),
     "data.beam_runner 'DirektRunner': Unexpected pipeline runner: DirektRunner"),
    (dict(compilation_cache=None), 'compilation_cache: None must be a folder'),
    (dict(schedule__plateau__factor=1.5), 'schedule.plateau.factor: 1.5 must be within (0, 1]'),
    (dict(schedule__plateau__patience=0), 'schedule.plateau.patience: 0 must be an integer'),
    (dict(schedule__plateau__rtol=0.0), 'schedule.plateau.rtol: 0.0 must be within (0, 1]'),
    (dict(data__synthetic__flips=3), 'data.synthetic'),
    (dict(loss__depth=[]), 'loss.depth: an empty list'),
    (dict(loss__mask=[dict(name='dice', weight=-1)]), 'loss.mask[0]: dice weight: expected'),
    (dict(train__stages=[dict(image_size=30, fraction=0.5)]),
     'train.stages[0].image_size: 30 must be a multiple of the model stride 4'),
    (dict(data__image_size=8), 'data.image_size: 8 is below 11'),
    (dict(train__stages=[dict(image_size=32)]), 'train.stages[0]: expected dict(image_size'),
    (dict(train__stages=[dict(image_size=32, fraction=0.6), dict(image_size=48, fraction=0.4)]),
     'train.stages: the fractions add up to 1'),
])
def test_each_bad_field_is_named_with_what_is_allowed(overrides, message):
  with pytest.raises(ValueError) as error:
    validate.validate_config(config_with(**overrides))
  assert message in str(error.value)
  assert '\n' not in str(error.value)


def test_an_image_size_the_model_cannot_take_names_the_stride():
  config = config_with(model__name='unet', data__image_size=60)
  with pytest.raises(ValueError, match=r"data.image_size: 60 is not a multiple of unet's stride"):
    validate.validate_config(config)
