"""How to spend `make run`'s budget: the batch size at equal samples seen.

`python run.py --config configs/recipe_study.py --workdir runs/recipe_study` trains one run
per variant on the 40-room set and the default model, each seeing the same 19,200 training samples
(600 steps of 32, 1,200 of 16 or 2,400 of 8) at 64 px, and writes
`runs/recipe_study/recipe_study.md` with the table, learning curves against wall time and
every run's predictions on the same test samples. On a CPU a step's cost grows with the
batch, less than in proportion (BENCHMARKS.md has the measured step times), so a smaller
batch buys more updates for somewhat more compute.
"""
import copy

from configs import base
from configs import cnn


def get_config():
  """dmnet_cnn at 64 px on the 40-room synthetic set; 19,200 samples seen per variant."""
  config = cnn.get_config()
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  config.data.synthetic.update(base.FORTY_ROOMS)
  config.model.global_context = False
  config.data.augment = copy.deepcopy(base.WITH_GEOMETRY)  # The set it was measured on.
  # Checkpoints and evaluations at the same samples seen in every variant.
  variants = dict(
      batch32=dict(batch_size=32, lr=3e-3, min_lr=1e-3),
      batch16=dict(batch_size=16, lr=3e-3, min_lr=1e-3),
      batch8=dict(batch_size=8, lr=3e-3, min_lr=1e-3),
  )
  config.study = base.study('recipe_study', {
      name: dict(
          train=dict(batch_size=v['batch_size'], steps=600 * 32 // v['batch_size'],
                     checkpoint_every=200 * 32 // v['batch_size'],
                     log_every=20 * 32 // v['batch_size']),
          eval=dict(every=300 * 32 // v['batch_size']),
          optimizer=dict(lr=v['lr']),
          schedule=dict(min_lr=v['min_lr'], warmup_steps=50 * 32 // v['batch_size']))
      for name, v in variants.items()})
  return config
