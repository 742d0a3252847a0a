"""The small default: dmnet_cnn on the embedded synthetic classroom, 64 x 64, minutes on a CPU."""
from configs import base


def get_config():
  """dmnet_cnn, 64 px, 800 synthetic samples, 600 steps."""
  config = base.get_config()
  config.model.name = 'dmnet_cnn'
  return config
