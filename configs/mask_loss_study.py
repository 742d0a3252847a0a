"""The mask's loss, aimed at the outline where its IoU is lost, on `make run`'s budget and set.

The masks of configs/cnn.py lose their IoU along the person's outline (configs/capacity_study.py
says how much) and are drawn thinner than true. BCE + Dice weigh a pixel by its probability;
these runs add a loss that weighs the pixels an image's IoU loses.

`python run.py --config configs/mask_loss_study.py --workdir runs/mask_loss_study` trains
configs/cnn.py (the default recipe and set, seed 0) and one change of the mask's loss per run,
and writes `runs/mask_loss_study/mask_loss_study.md`.

  default      BCE + Dice.
  lovasz       BCE + the Lovasz hinge (per image, Berman et al. 2018) instead of Dice.
  dice_lovasz  BCE + Dice + the Lovasz hinge.
  lovasz_quarter  BCE + Dice + the Lovasz hinge at a quarter of the weight: the Lovasz
               hinge at weight 1 outweighs the depth head's loss (its test value ends near
               0.3 against BCE's 0.05), and the depth maps suffered.
  pos_weight2  BCE with the person's pixels at twice the weight, + Dice: against masks
               drawn too thin.
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: the mask's loss with the Lovasz hinge, or BCE's weight."""
  config = cnn.get_config()
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.study = base.study('mask_loss_study', dict(
      default=dict(),
      lovasz=dict(loss=dict(mask=[dict(name='bce_with_logits'), dict(name='lovasz_hinge')])),
      dice_lovasz=dict(loss=dict(mask=[dict(name='bce_with_logits'), dict(name='dice'),
                                       dict(name='lovasz_hinge')])),
      lovasz_quarter=dict(loss=dict(mask=[dict(name='bce_with_logits'), dict(name='dice'),
                                          dict(name='lovasz_hinge', weight=0.25)])),
      pos_weight2=dict(loss=dict(mask=[dict(name='bce_with_logits', pos_weight=2.0),
                                       dict(name='dice')])),
  ))
  return config
