"""dmnet_cnn_v1: the light CNN family with a third level and more width."""
from configs import base


def get_config():
  """dmnet_cnn_v1, 64 px, the default synthetic set, 1500 steps."""
  config = base.get_config()
  config.model.name = 'dmnet_cnn_v1'
  config.model.widths = (32, 64, 128)  # Features per level, finest first.
  config.model.blocks = 1  # Conv blocks per level after the first.
  config.model.dilations = (1, 2, 4, 8, 1)  # Dilated blocks at the coarsest level.
  config.train.steps = 1500
  config.eval.every = 500
  config.train.checkpoint_every = 500
  return config
