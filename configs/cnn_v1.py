"""dmnet_cnn_v1: the light CNN family with a third level and more width."""
from configs import base


def get_config():
  """dmnet_cnn_v1, 64 px, the default synthetic set, 1,500 steps of 32."""
  config = base.get_config()
  config.model = base.model('dmnet_cnn_v1')  # Widths (32, 64, 128) (zoo/dmnet_cnn.py).
  # The widths make run had before configs/outline_study.py, with batches of 32 (48,000
  # samples seen), which keep a GPU busier than the default 8.
  config.train.steps = 1500
  config.train.batch_size = 32
  config.train.log_every = 20
  config.schedule.warmup_steps = 50
  config.eval.every = 500
  config.train.checkpoint_every = 500
  return config
