"""More features at full resolution, where dmnet_cnn draws the person's outline.

On `make run`'s test rooms with widths (32, 64, 128), 94% of the wrongly drawn mask pixels
lie within one pixel of the true outline, and the train split's mask IoU (0.879) is 0.035
above the test split's (0.844) (`python benchmarks/depth_errors.py --workdir
runs/capacity_study/v1 [--split train]`). In configs/capacity_study.py the full-resolution
width was the mask's strongest lever for its time: 16 -> 32 features there alone raised mask
IoU 0.818 -> 0.833, nearly as much as making every level 1.5 times as wide (0.836).

`python run.py --config configs/outline_study.py --workdir runs/outline_study` trains
configs/cnn.py's recipe and set (seed 0) with one change of the full-resolution width per
run, and writes `runs/outline_study/outline_study.md`.

  default  configs/cnn.py as it was: widths (32, 64, 128).
  fine48   48 features at full resolution: widths (48, 64, 128).
  fine64   64 features at full resolution: widths (64, 64, 128).
  default_seed1, fine48_seed1  default and fine48 with seed 1 (another initialization,
           data order and augmentation; the same set).
  fine48_placements2  fine48 on twice the samples: every person in two places of its room
           (4,200 train samples from the same 2,100 rooms).

`fine48` is the default since (configs/cnn.py): ahead of `default` in both seeds.
"""
from configs import cnn
from configs import base


def get_config():
  """configs/cnn.py with `study.variants`: a wider full-resolution level."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.model.widths = (32, 64, 128)  # configs/cnn.py's widths when this was measured.
  config.study = base.study('outline_study', dict(
      default=dict(),
      fine48=dict(model=dict(widths=(48, 64, 128))),
      fine64=dict(model=dict(widths=(64, 64, 128))),
      default_seed1=dict(seed=1),
      fine48_seed1=dict(seed=1, model=dict(widths=(48, 64, 128))),
      fine48_placements2=dict(model=dict(widths=(48, 64, 128)),
                              data=dict(synthetic=dict(placements=2))),
  ))
  return config
