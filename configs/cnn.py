"""The default: dmnet_cnn on the embedded synthetic classroom, 64 x 64, minutes on a CPU."""
from configs import base


def get_config():
  """dmnet_cnn, 64 px, the default 3,000-room synthetic set, 2,400 steps of 8."""
  config = base.get_config()
  config.model.name = 'dmnet_cnn'
  # Features per level, finest first (stride 4). At (16, 32, 64) the train split's mask IoU
  # was only 0.028 above the test split's: the model underfit, and capacity or steps, not
  # data, limited it. (32, 64, 128), dmnet_cnn_v1's widths, against (16, 32, 64): mask IoU
  # 0.818 -> 0.844, depth delta1 0.930 -> 0.948, for 2.4 times the training time
  # (configs/capacity_study.py). 48 features at full resolution, where the outline is
  # drawn, against 32: mask IoU 0.844 -> 0.849 and 0.840 -> 0.848, delta1 0.948 -> 0.951
  # in both of two seeds, for 1.16-1.20 times the training time (configs/outline_study.py;
  # BENCHMARKS.md).
  config.model.widths = (48, 64, 128)
  config.model.blocks = 1  # Conv blocks per level after the first.
  config.model.dilations = (1, 2, 4, 8, 1)  # Dilated blocks at the coarsest level.
  # A block that sees the whole image's mean features: depth delta1 0.841 -> 0.851, RMSE
  # 0.0364 -> 0.0345, about 5% more time a step (configs/context_study.py, BENCHMARKS.md).
  config.model.global_context = True
  return config
