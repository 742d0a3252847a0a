"""A lighter decoder, to afford more features at full resolution.

dmnet_cnn at widths (48, 64, 128) spends 44% of its work in the two decoder blocks after
the upsamplings (about 620 of its 1,400 MFLOPs a 64 px image): at full resolution a 3x3
conv sees the 64 upsampled features beside the 48 of the skip. In configs/outline_study.py more features at full resolution drew
better masks (64 against 48: mask IoU +0.004) but cost 1.18 times the training time. Here
a 1x1 conv block reduces the coarser features before each upsampling
(`model.upsample_widths`, coarsest first), so that the full-resolution level can widen at
about the default's work (FLOPs per 64 px image, `--mode summary`):

  default         configs/cnn.py: widths (48, 64, 128), no reduction (1,400 MFLOPs).
  fine64_up32_16  widths (64, 64, 128); the bottleneck's 128 features reduced to 32
                  before the first upsampling, the 64 of the half-resolution level to
                  16 before the second (1,436 MFLOPs).
  fine48_up32_16  the default's widths with the same reductions (1,128 MFLOPs).

`python run.py --config configs/decoder_study.py --workdir runs/decoder_study` trains
configs/cnn.py's recipe and set (seed 0) with one change per run, and writes
`runs/decoder_study/decoder_study.md`.

Neither was adopted: fine64_up32_16 drew worse masks than the default (mask IoU 0.8461
against 0.8488, delta1 0.9515 against 0.9508), fine48_up32_16 trained 1.25 times as many
images a second and lost 0.005 IoU and 0.004 delta1 (BENCHMARKS.md, "A lighter decoder").
"""
from configs import cnn
from configs import base


def get_config():
  """configs/cnn.py with `study.variants`: the decoder's upsampled features reduced."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.model.widths = (48, 64, 128)  # configs/cnn.py's widths when this was measured.
  config.model.upsample_widths = ()
  config.study = base.study('decoder_study', dict(
      default=dict(),
      fine64_up32_16=dict(model=dict(widths=(64, 64, 128), upsample_widths=(32, 16))),
      fine48_up32_16=dict(model=dict(upsample_widths=(32, 16))),
  ))
  return config
