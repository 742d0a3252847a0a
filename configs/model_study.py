"""The zoo compared: every model on the same data, steps, batch, optimizer and seed.

`python run.py --config configs/model_study.py --workdir runs/model_study` trains one run
per model in `runs/model_study/<name>/` (each resumes like any run) and writes
`runs/model_study/model_study.md`: test metrics, parameters and measured train speed.
Each model keeps the architecture of its own config (`cnn_v1.py`, `resnet.py`, `unet.py`;
dmnet_cnn at widths (16, 32, 64), make run's model when this was measured); the budget is
this file's, not theirs.
"""
from configs import base
from configs import cnn_v1
from configs import resnet
from configs import unet


def get_config():
  """The four zoo models at 64 px on the default synthetic set, 400 steps of 16."""
  config = base.get_config()
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  config.train.steps = 400
  config.train.batch_size = 16
  config.train.log_every = 20
  config.schedule.warmup_steps = 50
  config.train.checkpoint_every = 200
  config.eval.every = 200
  # Each model's architecture from its config; the dtype is the shared one.
  models = [base.SMALL_CNN['model']] + [
      {key: value for key, value in module.get_config().model.items() if key != 'dtype'}
      for module in (cnn_v1, resnet, unet)]
  config.study = base.study('model_study', {model['name']: dict(model=model)
                                            for model in models})
  return config
