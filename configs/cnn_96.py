"""The CPU recipe at 96 px: dmnet_cnn trained at 64 px first, then at 96 px.

  python run.py --config configs/cnn_96.py --workdir runs/cnn_96

Progressive resizing: the first half of the steps run at 64 x 64 (2.25 times fewer pixels
a step), the second half at 96 x 96 from the same weights; every evaluation is at 96 px.
BENCHMARKS.md has its wall time and results on a 2-core CPU.
"""
from configs import base
from configs import cnn


def get_config():
  """dmnet_cnn, 96 px (64 px for the first half), the 40-room synthetic set at 96 px."""
  config = cnn.get_config()
  # The set and batch it was measured with (2026-11-29), before the defaults changed.
  config.data.synthetic.update(base.FORTY_ROOMS)
  config.train.batch_size = 32
  config.schedule.warmup_steps = 50
  config.data.image_size = 96
  config.data.synthetic.render_size = 96
  config.train.steps = 2400
  config.train.stages = [dict(image_size=64, fraction=0.5)]
  config.train.checkpoint_every = 300
  config.train.log_every = 50
  config.eval.every = 600
  return config
