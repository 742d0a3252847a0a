"""What makes masks and depth maps good: each change of the default recipe on its own.

`python run.py --config configs/quality_study.py --workdir runs/quality_study` trains one
run per variant on one budget (the same data, steps, batch, optimizer and seed) and writes
`runs/quality_study/quality_study.md`: test metrics beside both baselines, parameters and
wall time, learning curves against wall time, and every run's predictions on the same
test samples. `benchmarks/quality.py` runs it and prints the table as JSON.

The variants add one change at a time to the previous default (dmnet_cnn on [bg, fg_bg],
BCE for the mask, SmoothL1 for the depth):
  previous     the previous default.
  losses       BCE + Dice for the mask; L1 + SSIM + image-gradient L1 for the depth.
  difference   + the first conv also sees fg_bg - bg.
  input_skip   + a full-resolution conv block sees the inputs again before the heads.
  low_final_lr + the cosine schedule ends at 1e-5 instead of 1e-3.
  progressive  + the first half of the steps at 32 x 32 (progressive resizing).
"""
import copy

from configs import base
from configs import cnn

_PREVIOUS_LOSS = dict(mask='bce_with_logits', depth='smooth_l1')
_LOSS = dict(mask=[dict(name='bce_with_logits'), dict(name='dice')],
             depth=[dict(name='l1'), dict(name='ssim'), dict(name='gradient')])
_PLAIN_MODEL = dict(difference=False, input_skip=False)


def get_config():
  """dmnet_cnn at 64 px on the 40-room synthetic set (split by background), 300 x 32."""
  config = cnn.get_config()
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  # The budget and set it was measured on (2026-11-29), whatever the defaults are now.
  config.data.synthetic.update(base.FORTY_ROOMS)
  config.model.global_context = False
  config.data.augment = copy.deepcopy(base.WITH_GEOMETRY)
  config.train.batch_size = 32
  config.schedule.warmup_steps = 50
  config.train.log_every = 20
  config.train.steps = 300
  config.train.checkpoint_every = 150
  config.eval.every = 150
  # The table lists the variants in the order they add their changes.
  config.study = base.study('quality_study', dict(
      previous=dict(model=_PLAIN_MODEL, loss=_PREVIOUS_LOSS,
                    schedule=dict(min_lr=1e-3), train=dict(stages=[])),
      losses=dict(model=_PLAIN_MODEL, loss=_LOSS,
                  schedule=dict(min_lr=1e-3), train=dict(stages=[])),
      difference=dict(model=dict(difference=True, input_skip=False), loss=_LOSS,
                      schedule=dict(min_lr=1e-3), train=dict(stages=[])),
      input_skip=dict(model=dict(difference=True, input_skip=True), loss=_LOSS,
                      schedule=dict(min_lr=1e-3), train=dict(stages=[])),
      low_final_lr=dict(model=dict(difference=True, input_skip=True), loss=_LOSS,
                        schedule=dict(min_lr=1e-5), train=dict(stages=[])),
      progressive=dict(model=dict(difference=True, input_skip=True), loss=_LOSS,
                       schedule=dict(min_lr=1e-5),
                       train=dict(stages=[dict(image_size=32, fraction=0.5)])),
  ))
  return config
