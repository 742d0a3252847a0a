"""unet: a U-Net with skip connections (configs/model_study.py compares it with the zoo)."""
from configs import base


def get_config():
  """unet at 64 px on the default synthetic set, 1,500 steps of 32."""
  config = base.get_config()
  # Its module's defaults (zoo/unet.py): levels of (32, 64, 128, 256) features, two conv
  # blocks a level in the encoder and the decoder.
  config.model = base.model('unet')
  # Larger than make run's model: batches of 32 (48,000 samples seen), which keep a GPU
  # busier than the default 8.
  config.train.steps = 1500
  config.train.batch_size = 32
  config.train.log_every = 20
  config.schedule.warmup_steps = 50
  config.eval.every = 500
  config.train.checkpoint_every = 500
  return config
