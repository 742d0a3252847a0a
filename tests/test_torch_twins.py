"""The PyTorch twins that benchmarks/train_speed.py races against compute what the zoo does.

With the flax weights copied in, layer by layer, each twin's train-mode logits match the
flax model's: a speed comparison is only fair between the same networks.
"""
import os
import sys

import pytest

pytest.importorskip('torch')
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import train_speed  # pylint: disable=g-import-not-at-top,wrong-import-position

# Small widths: the layout, not the size, is under test.
SMALL = {
    'dmnet_cnn': dict(widths=(4, 8, 16), dilations=(1, 2)),
    'dmnet_resnet': dict(stage_widths=(4, 8), stage_blocks=(1, 1), stem_width=4),
    'unet': dict(widths=(4, 8), convs=1),
}


@pytest.mark.parametrize('name', sorted(train_speed.CONFIGS))
@pytest.mark.parametrize('variant', [dict(), dict(difference=False, input_skip=True)])
def test_each_twin_computes_the_zoo_models_logits(name, variant):
  config = train_speed.get_config(name)
  config.data.image_size = 16
  config.model.update(dict(SMALL[name], **variant))
  assert train_speed.check_equivalence(config) < 1e-4


def test_the_cnn_twin_sees_pixel_coordinates_as_the_zoo_model_does():
  config = train_speed.get_config('dmnet_cnn')
  config.data.image_size = 16
  config.model.update(dict(SMALL['dmnet_cnn'], coordinates=True, input_skip=True))
  assert train_speed.check_equivalence(config) < 1e-4


def test_the_cnn_twin_reduces_the_features_before_each_upsampling_as_the_zoo_model_does():
  config = train_speed.get_config('dmnet_cnn')
  config.data.image_size = 16
  config.model.update(dict(SMALL['dmnet_cnn'], upsample_widths=(4, 2)))
  assert train_speed.check_equivalence(config) < 1e-4


def test_the_twins_loss_is_our_default_loss():
  """Both sides of the race do the same work per step: the same five loss terms."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  import losses  # pylint: disable=g-import-not-at-top
  import torch_models  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top

  config = base.get_config().loss
  assert {'mask': list(config.mask), 'depth': list(config.depth),
          'mask_weight': config.mask_weight,
          'depth_weight': config.depth_weight} == torch_models.DEFAULT_LOSS
  rng = np.random.default_rng(0)
  shape = (3, 24, 20, 1)
  outputs = {head: (rng.standard_normal(shape) * 3).astype(np.float32)
             for head in ('mask', 'depth')}
  batch = dict(mask=(rng.uniform(size=shape) < 0.2).astype(np.float32),
               depth=rng.uniform(size=shape).astype(np.float32))
  ours, _ = losses.build(config)(outputs, batch, {})
  nchw = lambda a: torch.from_numpy(a.transpose(0, 3, 1, 2).copy())
  theirs = torch_models.default_loss({k: nchw(v) for k, v in outputs.items()},
                                     {k: nchw(v) for k, v in batch.items()})
  assert float(theirs) == pytest.approx(float(ours), rel=1e-5)


def test_the_twin_refuses_a_loss_it_does_not_compute():
  import numpy as np  # pylint: disable=g-import-not-at-top
  config = train_speed.get_config('dmnet_cnn')
  config.loss.depth = 'l1'
  with pytest.raises(ValueError, match='PyTorch twin computes .* this config asks for'):
    train_speed.TorchRunner(config, np.random.default_rng(0))


def test_the_twin_trains_on_the_cpu_under_bfloat16_autocast():
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  config = train_speed.get_config('dmnet_cnn')
  config.data.image_size, config.train.batch_size = 16, 2
  config.model.update(dict(SMALL['dmnet_cnn'], dtype='bfloat16'))
  runner = train_speed.TorchRunner(config, np.random.default_rng(0), device='cpu')
  assert runner.autocast_dtype == torch.bfloat16
  before = [p.detach().clone() for p in runner.model.parameters()]
  assert runner.run(2) > 0
  after = list(runner.model.parameters())
  assert all(p.dtype == torch.float32 for p in after)  # Parameters stay float32.
  assert any(not torch.equal(a, b) for a, b in zip(before, after))  # It trained.
