"""More people, and people close to the camera, on `make run`'s own budget.

`python run.py --config configs/people_study.py --workdir runs/people_study` trains
configs/cnn.py (the default recipe, seed 0) and one change of the synthetic set per run,
and writes `runs/people_study/people_study.md`. Every run has 3,000 samples from the same
300 rooms; what changes is who stands in them.

  default      configs/cnn.py as it was (the make run of 2026-11-30, evening): the
               same 10 people in every room.
  people       3,000 people, one per sample (`foregrounds_per_background=10` of a pool
               of 3,000): no person of the test rooms is seen in training.
  people_near  as `people`, and half of the standing people sought close to the camera
               first (`near_share=0.5`), where they fill about half the picture's height,
               as in most photographs people take of someone in a room.

Each run's test split has its own people; `benchmarks/real_photos.py` and an evaluation of
every run on the `people_near` test split (`--mode eval` with its data flags) compare them
on the same images. `people_near` is the default since.
"""
from configs import base
from configs import cnn

MANY_PEOPLE = dict(num_foregrounds=3000, foregrounds_per_background=10)


def get_config():
  """configs/cnn.py with `study.variants`: 3,000 people, and some of them close."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  # The set it was measured with: the same 10 people in every room, none close.
  config.data.synthetic.update(base.THREE_HUNDRED_ROOMS)
  config.study = base.study('people_study', dict(
      default=dict(),
      people=dict(data=dict(synthetic=MANY_PEOPLE)),
      people_near=dict(data=dict(synthetic=dict(near_share=0.5, **MANY_PEOPLE))),
  ))
  return config
