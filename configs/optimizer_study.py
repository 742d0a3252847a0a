"""The optimizer and its peak learning rate, on `make run`'s budget and set.

`python run.py --config configs/optimizer_study.py --workdir runs/optimizer_study` trains
configs/cnn.py (dmnet_cnn with its global-context block, the 300-room set at 64 px, 2,400
steps of 8, Adam at 3e-3 with cosine decay to 1e-3, seed 0) and one change per run, and
writes `runs/optimizer_study/optimizer_study.md`: test metrics beside both baselines,
parameters and wall time, learning curves against wall time, and every run's predictions
on the same test samples.

  default  configs/cnn.py as measured on 2026-11-30.
  muon     Muon on the conv and dense kernels (muon_momentum 0.95, updates scaled to about
           Adam's size), Adam on biases, norms and the heads; the same lr and schedule.
  lr6e-3   Adam at twice the peak learning rate (6e-3, cosine to 2e-3).
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: Muon, and Adam at twice the learning rate."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  # The set, model, losses and optimizer it was measured with, whatever the defaults are now.
  config.data.synthetic.update(base.THREE_HUNDRED_ROOMS)
  config.model.global_context = True
  config.loss.depth = [dict(name='l1'), dict(name='ssim'), dict(name='gradient')]
  config.update(base.ADAM)
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  config.schedule.name = 'cosine'
  config.study = base.study('optimizer_study', {
      'default': dict(),
      'muon': dict(optimizer=dict(name='muon', muon_momentum=0.95)),
      'lr6e-3': dict(optimizer=dict(lr=6e-3), schedule=dict(min_lr=2e-3)),
  })
  return config
