"""The mask's loss, aimed at the outline where its IoU is lost, on `make run`'s budget and set.

The masks of dmnet_cnn at widths (16, 32, 64) lose their IoU along the person's outline
(configs/capacity_study.py says how much) and miss more pixels than they add. BCE + Dice
weigh a pixel by its probability; these runs add a loss that weighs the pixels an image's IoU
loses.

`python run.py --config configs/mask_loss_study.py --workdir runs/mask_loss_study` trains
configs/cnn.py's recipe and set with that model (`base.SMALL_CNN`, make run's until the
capacity study; seed 0) and one change of the mask's loss per run, and writes
`runs/mask_loss_study/mask_loss_study.md`.

  default      BCE + Dice.
  lovasz       BCE + the Lovasz hinge (per image, Berman et al. 2018) instead of Dice.
  dice_lovasz  BCE + Dice + the Lovasz hinge.
  lovasz_quarter  BCE + Dice + the Lovasz hinge at a quarter of the weight: at weight 1 the
               Lovasz term outweighs the others (its train value at step 2,400: 0.386 in
               `lovasz`, against BCE's 0.024), and the depth maps suffered.
  pos_weight2  BCE with the person's pixels at twice the weight, + Dice: against masks
               that miss more than they add.

None is the default: the Lovasz hinge gained mask IoU and cost depth (BENCHMARKS.md).
"""
from configs import base
from configs import cnn


def get_config():
  """The small model's recipe with `study.variants`: the Lovasz hinge, or BCE's weight."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
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
