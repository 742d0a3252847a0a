"""The default: dmnet_cnn on the embedded synthetic classroom, 64 x 64, minutes on a CPU."""
from configs import base


def get_config():
  """dmnet_cnn, 64 px, the default 3,000-room synthetic set, 2,400 steps of 8, one evaluation."""
  config = base.get_config()
  # Features per level, finest first (stride 4). At (16, 32, 64) the train split's mask IoU
  # was only 0.028 above the test split's: the model underfit, and capacity or steps, not
  # data, limited it. (32, 64, 128), dmnet_cnn_v1's widths, against (16, 32, 64): mask IoU
  # 0.818 -> 0.844, depth delta1 0.930 -> 0.948, for 2.4 times the training time
  # (configs/capacity_study.py). 48 features at full resolution, where the outline is
  # drawn, against 32: mask IoU 0.844 -> 0.849, 0.840 -> 0.848 and 0.842 -> 0.847, delta1
  # 0.948 -> 0.951-0.952 in three seeds, for 1.16-1.20 times the training time
  # (configs/outline_study.py; BENCHMARKS.md).
  # The rest are dmnet_cnn's defaults (zoo/dmnet_cnn.py): one block per level after the
  # first, dilated blocks (1, 2, 4, 8, 1) and the global-context block at the coarsest.
  config.model = base.model('dmnet_cnn', widths=(48, 64, 128))
  # One evaluation, at the end: a run of minutes needs no test point halfway, and the one
  # halfway took 75 s of the 1,581 s of training on a slow 2-core AMD EPYC (BENCHMARKS.md).
  # With reduce-on-plateau off (the default) it changes nothing the run learns
  # (tests/test_train.py); --config.eval.every=1200 puts it back.
  config.eval.every = 2400
  return config
