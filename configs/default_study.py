"""What would make `make run` better: one change at a time on its own budget.

`python run.py --config configs/default_study.py --workdir runs/default_study` trains one
run per variant with everything else as in configs/cnn.py before this study (the default 100-room
set at 64 px, 2,400 steps of 8, seed 0, augmentations with random crops and rotations) and
writes `runs/default_study/default_study.md`: test metrics
beside both baselines, parameters and wall time, learning curves against wall time, and
every run's predictions on the same test samples.

  default      configs/cnn.py as it was (`no_geometry` became the default; since, the set
               and the model have changed again, configs/context_study.py).
  silog        + the scale-invariant log loss on depth: delta1 asks for the right depth
               ratio, which L1 on nearness barely weighs where nearness is small (far away).
  anneal       the cosine schedule ends at 1e-4 instead of 1e-3.
  no_geometry  no random crop and no rotation: they change the image's scale and tilt
               but not the depth values, which contradicts the perspective cues.
  no_geometry_anneal  both changes above (no_geometry and anneal).
  flip_only    horizontal flips only: no colour jitter and no cutout either.
  no_augment   no augmentation at all.
"""
import copy

from configs import base
from configs import cnn

_DEFAULT_DEPTH_LOSS = [dict(name='l1'), dict(name='ssim'), dict(name='gradient')]


def get_config():
  """configs/cnn.py with `study.variants`, each one change to it."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  # The default it was measured against, whatever the defaults are now.
  config.data.augment = copy.deepcopy(base.WITH_GEOMETRY)
  config.data.synthetic.update(base.HUNDRED_ROOMS)
  config.model.global_context = False
  photometric = [a for a in config.data.augment
                 if a['name'] not in ('random_resized_crop', 'rotate')]
  config.study = base.study('default_study', dict(
      default=dict(),
      silog=dict(loss=dict(depth=_DEFAULT_DEPTH_LOSS + [dict(name='silog')])),
      anneal=dict(schedule=dict(min_lr=1e-4)),
      no_geometry=dict(data=dict(augment=photometric)),
      no_geometry_anneal=dict(data=dict(augment=photometric), schedule=dict(min_lr=1e-4)),
      flip_only=dict(data=dict(augment=[dict(name='hflip', p=0.5)])),
      no_augment=dict(data=dict(augment=[])),
  ))
  return config
