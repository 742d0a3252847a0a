"""Where a pixel is, and more steps at a smaller size, on `make run`'s own budget and set.

`python run.py --config configs/position_study.py --workdir runs/position_study` trains
configs/cnn.py (dmnet_cnn with its global-context block, the 300-room set at 64 px, 2,400
steps of 8, seed 0) and one change per run, and writes `runs/position_study/position_study.md`:
test metrics beside both baselines, parameters and wall time, learning curves against wall
time, and every run's predictions on the same test samples.

  default      configs/cnn.py as measured on 2026-11-30.
  coordinates  the first conv also sees each pixel's row and column (`model.coordinates`).
  progressive  4,000 steps, the first half at 32 px (a 32 px step costs about a quarter
               of a 64 px one on a 2-core CPU, so about the default's train time).
"""
from configs import base
from configs import cnn

_PROGRESSIVE = dict(train=dict(steps=4000, stages=[dict(image_size=32, fraction=0.5)]))


def get_config():
  """configs/cnn.py with `study.variants`: pixel coordinates, progressive resizing."""
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
  config.model.coordinates = False
  config.study = base.study('position_study', dict(
      default=dict(),
      coordinates=dict(model=dict(coordinates=True)),
      progressive=_PROGRESSIVE,
  ))
  return config
