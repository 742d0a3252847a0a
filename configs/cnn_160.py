"""The one-hour CPU recipe at 160 px: cnn_128_fast.py's model on a set rendered at 160 px.

  python run.py --config configs/cnn_160.py --workdir runs/cnn_160

`configs/cnn_128_fast.py` (make run's three levels behind a thin 24-feature level at full
resolution; 3,000 rooms, one person of a pool of 3,000 in each, two placements of every
person: 4,200 train samples from 2,100 rooms, 1,800 test from 900) on the set rendered at
160 px, for 2,200 steps of 8, about what fits in an hour with the set's build on a 2-core
CPU. The camera moves between the two shots by the same angle as at 128 px, i.e. 1.25 times
as many pixels (`shift` 1.25): without it frame differencing would find the person more
easily at 160 px than at 128 px and the test would be easier.
"""
from configs import cnn_128_fast


def get_config():
  """cnn_128_fast.py at 160 px: 2,200 steps, the camera's shift scaled with the picture."""
  config = cnn_128_fast.get_config()
  config.data.image_size = 160
  config.data.synthetic.render_size = 160
  config.data.synthetic.shift = 1.25 * cnn_128_fast.get_config().data.synthetic.shift
  config.train.steps = 2200
  config.train.checkpoint_every = 1100
  config.eval.every = config.train.steps  # One evaluation, at the end.
  return config
