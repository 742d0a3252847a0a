"""Muon's peak learning rate, on `make run`'s budget and set.

`python run.py --config configs/muon_study.py --workdir runs/muon_study` trains
configs/cnn.py as measured on 2026-11-30 (dmnet_cnn with its global-context block, the
300-room set at 64 px, 2,400 steps of 8, Muon at 3e-3 with cosine decay to 1e-3, seed 0)
and one change per run, and writes `runs/muon_study/muon_study.md`: test metrics beside
both baselines, parameters and wall time, learning curves against wall time, and every
run's predictions on the same test samples.

  default  configs/cnn.py as measured: Muon at 3e-3, cosine to 1e-3.
  lr6e-3   Muon at twice the peak learning rate (6e-3, cosine to 2e-3).
  lr12e-3  Muon at four times the peak learning rate (1.2e-2, cosine to 4e-3).
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: Muon at 2x and 4x the learning rate."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  # The set, model, losses and optimizer it was measured with, whatever the defaults are now.
  config.data.synthetic.update(base.THREE_HUNDRED_ROOMS)
  config.model.global_context = True
  config.loss.depth = [dict(name='l1'), dict(name='ssim'), dict(name='gradient')]
  config.update(base.MUON_3E3)
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  config.schedule.name = 'cosine'
  config.study = base.study('muon_study', {
      'default': dict(),
      'lr6e-3': dict(optimizer=dict(lr=6e-3), schedule=dict(min_lr=2e-3)),
      'lr12e-3': dict(optimizer=dict(lr=1.2e-2), schedule=dict(min_lr=4e-3)),
  })
  return config
