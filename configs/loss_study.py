"""The original's loss-function experiment: the same dmnet_cnn, once per loss.

`python run.py --config configs/loss_study.py --workdir runs/loss_study` trains one run
per entry of `study.variants` in `runs/loss_study/<name>/` (each resumes like any run)
and writes `runs/loss_study/loss_study.md` with a table, a prediction grid and curves.
"""
from configs import base
from configs import cnn


def get_config():
  """dmnet_cnn on the default synthetic set, one run per loss (or sum of losses)."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  # name -> the `loss` fields that variant changes; everything else is shared.
  losses = dict(
      bce=dict(mask='bce_with_logits', depth='bce_with_logits', combine='weighted_sum'),
      smooth_l1=dict(mask='smooth_l1', depth='smooth_l1', combine='weighted_sum'),
      mse=dict(mask='mse', depth='mse', combine='weighted_sum'),
      ssim=dict(mask='ssim', depth='ssim', combine='weighted_sum'),
      sqrt_sum=dict(mask='bce_with_logits', depth='smooth_l1', combine='sqrt_sum'),
      per_head=dict(mask='bce_with_logits', depth='ssim', combine='weighted_sum'),
      uncertainty=dict(mask='bce_with_logits', depth='smooth_l1', combine='uncertainty'),
      # Sums of terms: BCE + Dice for the mask; DenseDepth's L1 + SSIM + gradient for depth.
      bce_dice=dict(mask=[dict(name='bce_with_logits'), dict(name='dice')], depth='ssim',
                    combine='weighted_sum'),
      dense_depth=dict(mask='bce_with_logits', depth=[dict(name='l1'), dict(name='ssim'),
                                                      dict(name='gradient')],
                       combine='weighted_sum'),
      recipe=dict(mask=[dict(name='bce_with_logits'), dict(name='dice')],
                  depth=[dict(name='l1'), dict(name='ssim'), dict(name='gradient')],
                  combine='weighted_sum'),
  )
  config.study = base.study('loss_study',
                            {name: dict(loss=loss) for name, loss in losses.items()})
  return config
