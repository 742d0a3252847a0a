"""The 128 px recipe in about half the time: make run's model behind a thin full-resolution level.

  python run.py --config configs/cnn_128_fast.py --workdir runs/cnn_128_fast

`configs/cnn_128.py`'s data, optimizer and loss (3,000 rooms, one person of a pool of
3,000 in each, two placements of every person, rendered at 128 px: 4,200 train samples from
2,100 rooms, 1,800 test from 900), with one change to the model: a fourth level in front,
24 features at full resolution, so that make run's three levels (48, 64, 128) run at half
the resolution, where they cost a quarter as much. Trained at 128 x 128 throughout, 4,000
steps of 8 (no stage at 64 px: the levels behind the thin one already see 64 px features).

On a 2-core AMD EPYC it took 1 h 8 min with the set's build and reached mask IoU 0.920 and
depth delta1 0.977 on the 900 test rooms, against cnn_128.py's 0.923 and 0.980 in about twice
the time (one step here costs half of cnn_128.py's at 128 px, measured side by side); on
real photographs its masks score 0.013-0.023 lower than cnn_128.py's. BENCHMARKS.md, "A thin
full-resolution level at 128 px", has both runs and their commands (one seed each).
"""
from configs import cnn_128


def get_config():
  """cnn_128.py's recipe, its model behind a 24-feature level, 4,000 steps at 128 px."""
  config = cnn_128.get_config()
  config.model.widths = (24,) + tuple(config.model.widths)
  config.train.steps = 4000
  config.train.stages = []
  config.eval.every = config.train.steps  # One evaluation, at the end.
  return config
