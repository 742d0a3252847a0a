"""More rooms, fewer people in each, on `make run`'s own budget.

`python run.py --config configs/rooms_study.py --workdir runs/rooms_study` trains
configs/cnn.py (the default recipe, seed 0) and one change of the synthetic set per run,
and writes `runs/rooms_study/rooms_study.md`. Every run but the last has 3,000 samples
and 3,000 people, each person in one sample; what changes is how many rooms they stand in.

  default    configs/cnn.py as it was (the make run of 2026-11-30, night): 300 rooms,
             10 people in each.
  rooms1000  1,000 rooms, 3 people in each.
  rooms3000  3,000 rooms, 1 person in each.
  rooms6000  6,000 rooms, 1 person in each, of a pool of 6,000: twice the samples (and
             twice the build), the same 2,400 steps of 8.

Depth in a room never seen is what generalizes worst, and each room is one more scene
layout to learn it from. The samples of a room share its render, so more rooms take a
longer build (BENCHMARKS.md has the rates).
Each run's test split holds its own rooms; an evaluation of every run on a set rendered
with another seed (`--mode eval --config.data.synthetic.seed=1`: rooms and people none
of them saw) compares them on the same images. `rooms3000` is the default since.
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: the same 3,000 people in 300, 1,000, 3,000 rooms."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  # The set it was measured against: 10 people in each of 300 rooms.
  config.data.synthetic.update(base.PEOPLE_IN_300_ROOMS)
  config.study = base.study('rooms_study', dict(
      default=dict(),
      rooms1000=dict(data=dict(synthetic=dict(num_backgrounds=1000,
                                              foregrounds_per_background=3))),
      rooms3000=dict(data=dict(synthetic=dict(num_backgrounds=3000,
                                              foregrounds_per_background=1))),
      rooms6000=dict(data=dict(synthetic=dict(num_backgrounds=6000, num_foregrounds=6000,
                                              foregrounds_per_background=1))),
  ))
  return config
