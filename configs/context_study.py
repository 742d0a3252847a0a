"""What the global-context block adds, on `make run`'s own budget and set.

`python run.py --config configs/context_study.py --workdir runs/context_study` trains
configs/cnn.py (the default: dmnet_cnn, the 300-room set at 64 px, 2,400 steps of 8, seed 0)
with and without the block and writes `runs/context_study/context_study.md`: test metrics
beside both baselines, parameters and wall time, learning curves against wall time, and
both runs' predictions on the same test samples.

  no_context  dmnet_cnn without its global-context block (`model.global_context=False`),
              as every model before 2026-11-30 was.
  default     configs/cnn.py as it was measured (2026-11-30): with the block.
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: without the global-context block, and as is."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  # The set and model it was measured with, whatever the defaults are now.
  config.data.synthetic.update(base.THREE_HUNDRED_ROOMS)
  config.model.global_context = True
  config.study = base.study('context_study', dict(
      no_context=dict(model=dict(global_context=False)),
      default=dict(),
  ))
  return config
