"""How much the depth head weighs in the loss, on `make run`'s budget and set.

`python run.py --config configs/head_weight_study.py --workdir runs/head_weight_study`
trains configs/cnn.py (the default recipe and set, seed 0) and one change of the loss per
run, and writes `runs/head_weight_study/head_weight_study.md`.

  default   configs/cnn.py as it was (the make run of 2026-11-30, late night:
            rooms_study's rooms3000): mask BCE + Dice, depth L1 + SSIM + gradient, each
            head at weight 1.
  depth2    the depth head's sum at weight 2 (`loss.depth_weight=2`).
  depth4    the same at weight 4.
  gradient2 the gradient term of the depth loss at weight 2: the L1 of the maps' image
            gradients, which is large where a desk's or a person's edge is drawn soft or
            in the wrong place, where most depth misses are (BENCHMARKS.md).

`depth2` is the default since.
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: the depth head at twice the weight, or its edges."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.study = base.study('head_weight_study', dict(
      default=dict(),
      depth2=dict(loss=dict(depth_weight=2.0)),
      depth4=dict(loss=dict(depth_weight=4.0)),
      gradient2=dict(loss=dict(depth=[dict(name='l1'), dict(name='ssim'),
                                      dict(name='gradient', weight=2.0)])),
  ))
  return config
