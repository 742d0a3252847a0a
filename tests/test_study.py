"""The loss study trains one run per loss and writes one comparison page."""
import os

import ml_collections

from configs import loss_study
from tests.conftest import tiny_config
from training import study


def test_the_shipped_study_covers_the_originals_losses_and_the_new_combinations():
  variants = study.variant_configs(loss_study.get_config())
  assert {'bce', 'smooth_l1', 'mse', 'ssim', 'per_head', 'uncertainty'} <= set(variants)
  assert variants['per_head'].loss.mask != variants['per_head'].loss.depth
  assert variants['uncertainty'].loss.combine == 'uncertainty'


def test_a_study_writes_a_table_a_grid_and_curves(tiny_data_dir, tmp_path):
  config = tiny_config(tiny_data_dir)
  config.study = ml_collections.ConfigDict(dict(
      variants=dict(bce=dict(mask='bce_with_logits', depth='bce_with_logits'),
                    uncertainty=dict(mask='bce_with_logits', depth='smooth_l1',
                                     combine='uncertainty')),
      num_grid_samples=2))
  results = study.run_study(config, str(tmp_path))
  assert set(results) == {'bce', 'uncertainty'}
  page = (tmp_path / 'loss_study.md').read_text()
  assert '| bce | bce_with_logits | bce_with_logits | weighted_sum |' in page
  assert '| uncertainty |' in page and 'frame differencing mask IoU' in page
  for name in ('loss_study_predictions.png', 'loss_study_curves.png'):
    assert os.path.getsize(tmp_path / name) > 1000
  assert os.path.exists(tmp_path / 'bce' / 'eval_metrics.json')
