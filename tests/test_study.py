"""A study trains one run per variant of a config and writes one comparison page."""
import json
import os

import ml_collections
import numpy as np
import pytest

from configs import base
from configs import loss_study
from tests.conftest import tiny_config
from training import study


def test_the_shipped_study_covers_the_originals_losses_and_the_new_combinations():
  variants = study.variant_configs(loss_study.get_config())
  assert {'bce', 'smooth_l1', 'mse', 'ssim', 'per_head', 'uncertainty'} <= set(variants)
  assert variants['per_head'].loss.mask != variants['per_head'].loss.depth
  assert variants['uncertainty'].loss.combine == 'uncertainty'


# Each study keeps the set and model it was measured with when the defaults move on, so
# its documented figures stay reproducible: (config, synthetic set, global_context).
PINNED_STUDIES = [
    ('quality_study', 'FORTY_ROOMS', False),
    ('recipe_study', 'FORTY_ROOMS', False),
    ('default_study', 'HUNDRED_ROOMS', False),
    ('context_study', 'THREE_HUNDRED_ROOMS', True),
    ('position_study', 'THREE_HUNDRED_ROOMS', True),
    ('budget_study', 'THREE_HUNDRED_ROOMS', True),
    ('optimizer_study', 'THREE_HUNDRED_ROOMS', True),
]


@pytest.mark.parametrize('name, rooms, global_context', PINNED_STUDIES)
def test_a_study_pins_the_set_and_model_it_was_measured_with(name, rooms, global_context):
  import importlib  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{name}').get_config()
  for field, value in getattr(base, rooms).items():
    assert config.data.synthetic[field] == value, (name, field)
  assert config.model.global_context is global_context
  assert (config.optimizer.name, config.optimizer.lr, config.schedule.min_lr) == (
      'adam', 3e-3, 1e-3)
  assert config.eval.hflip_average is False  # Measured with the plain forward pass.


def test_the_muon_study_pins_muon_at_the_rate_it_was_measured_with():
  from configs import base, muon_study  # pylint: disable=g-import-not-at-top
  config = muon_study.get_config()
  for field, value in base.THREE_HUNDRED_ROOMS.items():
    assert config.data.synthetic[field] == value, field
  assert config.model.global_context is True
  assert (config.optimizer.name, config.optimizer.lr, config.schedule.min_lr) == (
      'muon', 3e-3, 1e-3)
  assert config.eval.hflip_average is False
  variants = study.variant_configs(config)
  assert [variants[name].optimizer.lr for name in variants] == [3e-3, 6e-3, 1.2e-2]


@pytest.mark.parametrize('name', ['loss_study', 'model_study'])
def test_the_earlier_studies_pin_adam_too(name):
  import importlib  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{name}').get_config()
  assert (config.optimizer.name, config.optimizer.lr, config.schedule.min_lr) == (
      'adam', 3e-3, 1e-3)
  assert config.eval.hflip_average is False  # Measured with the plain forward pass.


def test_a_study_writes_a_table_a_grid_and_curves(tiny_data_dir, tmp_path):
  config = tiny_config(tiny_data_dir)
  config.study = ml_collections.ConfigDict(dict(
      name='loss_study',
      variants=dict(bce=dict(loss=dict(mask='bce_with_logits', depth='bce_with_logits')),
                    uncertainty=dict(loss=dict(mask='bce_with_logits', depth='smooth_l1',
                                               combine='uncertainty'))),
      num_grid_samples=2))
  results = study.run_study(config, str(tmp_path))
  assert set(results) == {'bce', 'uncertainty'}
  page = (tmp_path / 'loss_study.md').read_text()
  # Columns: the fields the variants set to different values, then the run's facts.
  assert '| run | loss.depth | params | train img/s | wall min | mask_iou |' in page
  assert '| bce | bce_with_logits | ' in page
  assert '| uncertainty |' in page and 'frame differencing' in page
  assert '6 steps each;' in page
  baseline_row = next(line for line in page.splitlines() if line.startswith('| baselines |'))
  assert f"{results['bce']['baseline_mask_iou']:.4f}" in baseline_row
  wall_minutes = float(next(line for line in page.splitlines()
                            if line.startswith('| bce |')).split(' | ')[4])
  assert wall_minutes > 0
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for name in ('loss_study_predictions.png', 'loss_study_curves.png'):
    with Image.open(tmp_path / name) as picture:
      assert np.asarray(picture.convert('L'), np.float32).std() > 1, name  # Not blank.
  # The predictions grid: fg_bg, true mask and a mask per run; two rows per sample.
  with Image.open(tmp_path / 'loss_study_predictions.png') as grid:
    assert grid.width > grid.height / 2
  with open(tmp_path / 'bce' / 'eval_metrics.json') as f:
    assert json.load(f)['mask_iou'] == pytest.approx(results['bce']['mask_iou'])


def test_the_model_study_compares_every_documented_model_on_one_budget():
  from configs import model_study  # pylint: disable=g-import-not-at-top
  config = model_study.get_config()
  config.lock()  # As `--config` hands it over.
  variants = study.variant_configs(config)
  assert set(variants) == {'dmnet_cnn', 'dmnet_cnn_v1', 'dmnet_resnet', 'unet'}
  budgets = {(v.train.steps, v.train.batch_size, v.data.image_size, v.optimizer.lr, v.seed)
             for v in variants.values()}
  assert len(budgets) == 1
  assert variants['unet'].model.widths == (32, 64, 128, 256)
  assert variants['dmnet_cnn'].model.widths == (16, 32, 64)  # make run's model then.


@pytest.mark.parametrize('name', [
    'budget_study', 'context_study', 'default_study', 'head_weight_study', 'loss_study',
    'mask_loss_study', 'muon_study', 'optimizer_study', 'people_study', 'position_study',
    'quality_study', 'recipe_study', 'rooms_study'])
def test_the_configs_measured_before_the_capacity_study_pin_the_small_model(name):
  import importlib  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{name}').get_config()
  # Some measured the model before its global-context block too (they say so).
  assert (config.model.name, config.model.widths) == (
      base.SMALL_CNN['model']['name'], base.SMALL_CNN['model']['widths'])


def test_a_variant_naming_another_model_gets_that_models_defaults():
  from configs import cnn  # pylint: disable=g-import-not-at-top
  config = cnn.get_config()
  config.study = ml_collections.ConfigDict(dict(name='x', num_grid_samples=2, variants=dict(
      same=dict(model=dict(widths=(8, 16, 32))),
      other=dict(model=dict(name='unet', widths=(16, 32, 64))))))
  variants = study.variant_configs(config)
  # The same model: the shared section, one field changed.
  assert variants['same'].model.to_dict() == dict(cnn.get_config().model.to_dict(),
                                                  widths=(8, 16, 32))
  # Another model: none of dmnet_cnn's fields (blocks, dilations, ...), unet's own.
  assert variants['other'].model.to_dict() == dict(
      name='unet', widths=(16, 32, 64), convs=2, difference=True, input_skip=False,
      dtype='float32')


@pytest.mark.parametrize('model, message', [
    ('unet', r"model='unet': a variant changes the model with model=dict"),
    (dict(name='unet', widths=None), 'study.variants.x: '),
])
def test_a_bad_model_change_names_the_variant(model, message):
  config = loss_study.get_config()
  config.study.variants = ml_collections.ConfigDict(dict(x=dict(model=model)))
  with pytest.raises(ValueError, match=message):
    study.variant_configs(config)


def test_a_variant_changing_an_unknown_section_is_refused():
  config = loss_study.get_config()
  config.study.variants = ml_collections.ConfigDict(dict(x=dict(losses=dict(mask='mse'))))
  with pytest.raises(ValueError, match='study.variants.x: unknown config section'):
    study.variant_configs(config)


def test_the_page_states_one_step_count_only_when_every_run_shares_it():
  assert study._steps_text({'a': {'step': 600}, 'b': {'step': 600}}) == '600 steps each; '
  assert study._steps_text({'a': {'step': 600}, 'b': {'step': 2400}}) == ''


def test_the_table_writes_a_sum_of_loss_terms_as_a_formula():
  assert study._cell([dict(name='l1', weight=0.1), dict(name='ssim'),
                      dict(name='ssim', filter_size=5)]) == '0.1 l1 + ssim + ssim(filter_size=5)'
  assert study._cell([dict(image_size=32, fraction=0.5)]) == 'image_size=32, fraction=0.5'
  assert study._cell('dice') == 'dice' and study._cell([]) == '[]'


def test_the_people_study_starts_from_ten_people_and_ends_at_the_3000_people():
  from configs import base, people_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(people_study.get_config())
  assert list(variants) == ['default', 'people', 'people_near']
  for field, value in base.THREE_HUNDRED_ROOMS.items():
    assert variants['default'].data.synthetic[field] == value, field
  # The winner became the default, then the starting point of the rooms study.
  for field, value in base.PEOPLE_IN_300_ROOMS.items():
    assert variants['people_near'].data.synthetic[field] == value, field
  assert variants['people'].data.synthetic.near_share == 0.0


def _loss_before_the_outline_weight() -> dict:
  """configs/cnn.py's loss as the studies before the outline weight measured it."""
  from configs import cnn  # pylint: disable=g-import-not-at-top
  config = cnn.get_config()
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)
  return config.loss.to_dict()


STUDY_CONFIGS = sorted(name[:-3] for name in os.listdir(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs'))
                       if name.endswith('_study.py'))


@pytest.mark.parametrize('name', STUDY_CONFIGS)
def test_every_study_measured_before_the_outline_weight_keeps_its_loss(name):
  import importlib  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{name}').get_config()
  variants = study.variant_configs(config) if 'study' in config else {name: config}
  for variant_name, variant in variants.items():
    mask = variant.loss.mask
    terms = [mask] if isinstance(mask, str) else list(mask)
    assert not any(isinstance(term, dict) and 'outline_weight' in term for term in terms), (
        variant_name)
    assert variant.loss.depth_weight in (1.0, 2.0, 4.0), variant_name


def test_the_studies_keep_the_loss_they_measured_and_the_default_weighs_the_outline():
  from configs import cnn, outline_study  # pylint: disable=g-import-not-at-top
  loss = cnn.get_config().loss
  assert loss.mask[0] == dict(name='bce_with_logits', outline_weight=5.0)
  assert loss.depth_weight == 2.5
  before = study.variant_configs(outline_study.get_config())['fine48'].loss
  assert before.mask == [dict(name='bce_with_logits'), dict(name='dice')]
  assert before.depth_weight == 2.0


def test_the_head_weight_study_starts_from_equal_heads_and_depth2_is_the_default():
  from configs import capacity_study, head_weight_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(head_weight_study.get_config())
  assert list(variants) == ['default', 'depth2', 'depth4', 'gradient2']
  assert (variants['default'].loss.mask_weight, variants['default'].loss.depth_weight) == (1, 1)
  # depth2 became the default, then the starting point of the capacity study.
  capacity = study.variant_configs(capacity_study.get_config())
  assert variants['depth2'].to_dict() == capacity['default'].to_dict()
  assert variants['depth2'].model.widths == (16, 32, 64)


def test_the_capacity_study_starts_from_the_small_model_and_v1_starts_the_outline_study():
  from configs import capacity_study, cnn, outline_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(capacity_study.get_config())
  assert list(variants) == ['default', 'fine32', 'wide', 'blocks2', 'finewide', 'v1',
                            'wide_1500']
  assert variants['default'].model.widths == (16, 32, 64)
  # v1 became the default, then the starting point of the outline study.
  assert variants['v1'].to_dict() == study.variant_configs(
      outline_study.get_config())['default'].to_dict()
  assert variants['wide_1500'].train.steps == 1500
  for name, variant in variants.items():  # One change of the model at a time, same set.
    assert variant.data.to_dict() == cnn.get_config().data.to_dict(), name
    assert variant.loss.to_dict() == _loss_before_the_outline_weight(), name


def test_the_outline_study_changes_the_full_resolution_width_and_fine48_is_the_default():
  from configs import cnn, cnn_96, outline_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(outline_study.get_config())
  assert list(variants) == ['default', 'fine48', 'fine64', 'default_seed1', 'fine48_seed1',
                            'fine48_placements2']
  assert variants['default'].model.widths == (32, 64, 128)
  default = cnn.get_config()
  default.update(base.HALFWAY_EVAL)  # The study evaluated halfway too, as it measured.
  default.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # And with the loss of then.
  assert variants['fine48'].to_dict() == default.to_dict()
  assert variants['fine48_seed1'].seed == 1
  assert variants['fine48_placements2'].data.synthetic.placements == 2
  for name, variant in variants.items():
    assert variant.model.widths[1:] == (64, 128), name
    assert variant.loss.to_dict() == _loss_before_the_outline_weight(), name
  # The 96 px recipe trains the default's widths too.
  assert cnn_96.get_config().model.widths == (48, 64, 128)


def test_the_decoder_study_changes_the_model_only_and_starts_from_the_default():
  from configs import cnn, decoder_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(decoder_study.get_config())
  assert list(variants) == ['default', 'fine64_up32_16', 'fine48_up32_16']
  default = cnn.get_config()
  default.update(base.HALFWAY_EVAL)  # The study evaluated halfway too, as it measured.
  default.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # And with the loss of then.
  default = default.to_dict()
  assert variants['default'].to_dict() == default
  assert variants['fine64_up32_16'].model.widths == (64, 64, 128)
  for name, variant in variants.items():
    changed = {key for key in default if variant.to_dict()[key] != default[key]}
    assert changed <= {'model'}, name
    assert variant.model.upsample_widths in ((), (32, 16)), name


def test_the_mask_loss_study_changes_the_mask_loss_only():
  from configs import capacity_study, mask_loss_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(mask_loss_study.get_config())
  default = study.variant_configs(capacity_study.get_config())['default'].to_dict()
  assert variants['default'].to_dict() == default
  for name, variant in variants.items():
    changed = {key for key in default if variant.to_dict()[key] != default[key]}
    assert changed <= {'loss'}, name
    assert variant.loss.depth == variants['default'].loss.depth, name


def test_the_rooms_study_starts_from_the_3000_people_and_ends_at_the_default_set():
  from configs import base, cnn, rooms_study  # pylint: disable=g-import-not-at-top
  variants = study.variant_configs(rooms_study.get_config())
  assert list(variants) == ['default', 'rooms1000', 'rooms3000', 'rooms6000']
  for field, value in base.PEOPLE_IN_300_ROOMS.items():
    assert variants['default'].data.synthetic[field] == value, field
  # The winner is what make run trains on now: one person in each of 3,000 rooms.
  assert variants['rooms3000'].data.to_dict() == cnn.get_config().data.to_dict()
  for name, variant in variants.items():  # Every person is in one sample only.
    synthetic = variant.data.synthetic
    assert (synthetic.num_backgrounds * synthetic.foregrounds_per_background ==
            synthetic.num_foregrounds), name


def test_runs_on_different_sets_each_get_their_own_baselines(tiny_data_dir, tmp_path):
  config = tiny_config(tiny_data_dir)
  config.study = ml_collections.ConfigDict(dict(
      name='set_study', num_grid_samples=2,
      variants=dict(default=dict(), clean=dict(data=dict(synthetic=dict(
          exposure=0.0, noise=0.0, jpeg=0.0, shift=0.0, shadow=0.0))))))
  results = study.run_study(config, str(tmp_path))
  page = (tmp_path / 'set_study.md').read_text()
  rows = {line.split(' | ')[0][2:]: line for line in page.splitlines()
          if line.startswith('| baselines')}
  assert set(rows) == {'baselines (default)', 'baselines (clean)'}
  for run in ('default', 'clean'):
    assert f"{results[run]['baseline_mask_iou']:.4f}" in rows[f'baselines ({run})']
  # Without nuisances frame differencing is near perfect; with them it is not.
  assert results['clean']['baseline_mask_iou'] > results['default']['baseline_mask_iou']
  assert 'so each run\'s baselines are on its own test split' in page


def test_the_96_px_recipe_renders_the_default_people_at_96_px_twice_each():
  from configs import cnn, cnn_96  # pylint: disable=g-import-not-at-top
  synthetic, default = cnn_96.get_config().data.synthetic, cnn.get_config().data.synthetic
  for field in ('num_backgrounds', 'num_foregrounds', 'foregrounds_per_background',
                'near_share', 'flips'):
    assert synthetic[field] == default[field], field
  assert (synthetic.placements, synthetic.render_size) == (2, 96)
  # The default's model, optimizer and schedule.
  for section in ('model', 'optimizer', 'schedule', 'loss'):
    assert cnn_96.get_config()[section].to_dict() == cnn.get_config()[section].to_dict(), section


def test_the_128_px_recipe_is_the_96_px_one_at_128_px_for_its_last_third():
  from configs import cnn_96, cnn_128  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  config, recipe_96 = cnn_128.get_config(), cnn_96.get_config()
  assert (config.data.image_size, config.data.synthetic.render_size) == (128, 128)
  assert pipeline.stage_ends(128, config.train.steps, config.train.stages) == [
      (64, 4800), (128, 7200)]
  for section in ('model', 'optimizer', 'schedule', 'loss'):
    assert config[section].to_dict() == recipe_96[section].to_dict(), section
  for field in ('num_backgrounds', 'num_foregrounds', 'foregrounds_per_background',
                'placements', 'near_share', 'flips'):
    assert config.data.synthetic[field] == recipe_96.data.synthetic[field], field


def test_the_fast_128_px_recipe_puts_a_thin_full_resolution_level_before_the_128_px_model():
  from configs import cnn_128, cnn_128_fast  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  from zoo import registry  # pylint: disable=g-import-not-at-top
  config, slow = cnn_128_fast.get_config(), cnn_128.get_config()
  # 4,000 steps at 128 px, no stage at 64 px; one change to the model: 24 features at
  # full resolution in front of cnn_128.py's three levels (stride 8, a divisor of 128).
  assert pipeline.stage_ends(128, config.train.steps, config.train.stages) == [(128, 4000)]
  assert config.model.widths == (24,) + tuple(slow.model.widths)
  assert registry.stride(config.model) == 8
  assert config.eval.every == config.train.steps == 4000  # One evaluation, at the end.
  differs = lambda a, b: {key for key in a.keys() | b.keys() if a.get(key) != b.get(key)}
  assert differs(config.model.to_dict(), slow.model.to_dict()) == {'widths'}
  assert differs(config.train.to_dict(), slow.train.to_dict()) == {'steps', 'stages'}
  assert differs(config.eval.to_dict(), slow.eval.to_dict()) == {'every'}
  assert differs(config.to_dict(), slow.to_dict()) == {'model', 'train', 'eval'}
