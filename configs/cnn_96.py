"""The CPU recipe at 96 px: make run's model trained at 64 px first, then at 96 px.

  python run.py --config configs/cnn_96.py --workdir runs/cnn_96

The default recipe (configs/cnn.py: dmnet_cnn at widths (48, 64, 128) with its
global-context block, Muon at 6e-3 with cosine decay to 2e-3, batch 8, no geometric
augmentation, the mask's BCE at 5 times the weight on the person's outline, the depth
loss at 2.5 times the mask loss's weight, the moving average of the
weights, predictions averaged with the mirror image; 3,000 rooms split by room, one person
of a pool of 3,000 in each) on the set rendered at 96 px with two placements of every
person (6,000 samples: 4,200 train from 2,100 rooms, 1,800 test from 900), for 9,600 steps.
Progressive resizing: the first half of the steps run at 64 x 64 (2.25 times fewer pixels
a step), the second half at 96 x 96 from the same weights; every evaluation is at 96 px.
Until 2026-12-02 this recipe trained widths (32, 64, 128) with Muon at 3e-3; make run's
model and rate drew better masks here too (BENCHMARKS.md has both runs, their wall times
and results on a 2-core CPU). With make run's loss of 2026-12-03 (the outline weight) it
reached mask IoU 0.909 and depth delta1 0.979 on the 900 test rooms (0.908 and 0.978 with the
loss before, which `--config.loss.mask="[{'name': 'bce_with_logits'}, {'name': 'dice'}]"
--config.loss.depth_weight=2.0` restores).
"""
from configs import cnn


def get_config():
  """make run's model and recipe at 96 px (64 px for the first half), 3,000 rooms x 1 x 1 x 2."""
  config = cnn.get_config()
  config.data.image_size = 96
  config.data.synthetic.render_size = 96
  config.data.synthetic.placements = 2
  config.train.steps = 9600
  config.train.stages = [dict(image_size=64, fraction=0.5)]
  config.train.checkpoint_every = 1200
  config.train.log_every = 100
  config.eval.every = 2400
  return config
