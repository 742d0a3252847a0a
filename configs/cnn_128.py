"""The CPU recipe for masks at 128 px: make run's model trained at 64 px, then at 128 px.

  python run.py --config configs/cnn_128.py --workdir runs/cnn_128

`configs/cnn_96.py`'s recipe (make run's model, optimizer and loss; 3,000 rooms, one person
of a pool of 3,000 in each, two placements of every person: 4,200 train samples from 2,100
rooms, 1,800 test from 900) on the set rendered at 128 px, for 7,200 steps of 8: the first
two thirds (4,800 steps) at 64 x 64, the last third at 128 x 128 from the same weights; every
evaluation is at 128 px. On a 2-core CPU it took about as long as cnn_96.py (two runs with
other jobs beside them, not side by side: a 128 px step took about 1.8 times a 96 px one, and
there are half as many) and reached mask IoU 0.923 and depth delta1 0.980 on its 900 test
rooms (cnn_96.py: 0.909 and 0.979, at 96 px; one seed each; BENCHMARKS.md, "The 96 px recipe
at 128 px"). The masks are finer, not better drawn in pixels: their outlines are about as
many pixels off as at 96 px, and a pixel is smaller (on one grid the two runs could not be
ranked: `benchmarks/cross_grid.py`). Evaluations before the last third read
low (a model trained at 64 px, shown 128 px).
"""
from configs import cnn_96


def get_config():
  """make run's model and recipe at 128 px (64 px for the first two thirds)."""
  config = cnn_96.get_config()
  config.data.image_size = 128
  config.data.synthetic.render_size = 128
  config.train.steps = 7200
  config.train.stages = [dict(image_size=64, fraction=2 / 3)]
  config.eval.every = 2400
  return config
