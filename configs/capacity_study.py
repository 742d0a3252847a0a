"""Where dmnet_cnn's masks lose IoU, and whether more features there win it back.

On `make run`'s test rooms (then with widths (16, 32, 64)) 94% of the wrongly drawn mask
pixels lie within one pixel of the person's true outline (a band that holds 61% of the
pixels drawn or true: at 64 px most of a small person); the masks miss 1.7 pixels for each
false alarm (arms and other thin parts); and the train split's IoU (0.846) is only 0.028
above the test split's (0.818): the model underfits, so capacity or steps limit it, not data
(`python benchmarks/depth_errors.py --workdir runs/capacity_study/default [--split train]`).

`python run.py --config configs/capacity_study.py --workdir runs/capacity_study` trains
configs/cnn.py's recipe and set (seed 0) from `base.SMALL_CNN` and one change of the model
per run, and writes `runs/capacity_study/capacity_study.md`.

  default  configs/cnn.py as it was: widths (16, 32, 64), one block per level after the
           first (`base.SMALL_CNN`).
  fine32   32 features at full resolution (widths (32, 32, 64)): the level that draws the
           outline, and the decoder's last block, twice as wide.
  wide     every level 1.5 times as wide (widths (24, 48, 96)).
  blocks2  two conv blocks per level after the first instead of one.
  finewide 32 features at full resolution and the coarser levels 1.5 times as wide (widths
           (32, 48, 96)): fine32 and wide together.
  v1       every level twice as wide (widths (32, 64, 128), dmnet_cnn_v1's).
  wide_1500  wide in 1,500 steps instead of 2,400: about the default's wall time.

`v1` was the default from then until configs/outline_study.py widened its full-resolution
level to 48 features (configs/cnn.py).
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: wider levels, or more blocks per level."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.study = base.study('capacity_study', dict(
      default=dict(),
      fine32=dict(model=dict(widths=(32, 32, 64))),
      wide=dict(model=dict(widths=(24, 48, 96))),
      blocks2=dict(model=dict(blocks=2)),
      finewide=dict(model=dict(widths=(32, 48, 96))),
      v1=dict(model=dict(widths=(32, 64, 128))),
      wide_1500=dict(model=dict(widths=(24, 48, 96)), train=dict(steps=1500)),
  ))
  return config
