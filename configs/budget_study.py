"""The depth loss's scale, the batch and the schedule's end, on `make run`'s budget and set.

`python run.py --config configs/budget_study.py --workdir runs/budget_study` trains
configs/cnn.py (dmnet_cnn with its global-context block, the 300-room set at 64 px, 2,400
steps of 8, seed 0) and one change per run, and writes `runs/budget_study/budget_study.md`:
test metrics beside both baselines, parameters and wall time, learning curves against wall
time, and every run's predictions on the same test samples.

  default  configs/cnn.py as measured on 2026-11-30.
  log_l1   the depth loss's L1 term on log nearness (`log_l1`) instead of nearness: a
           level missed at a far wall costs as much as delta1 and AbsRel say it does.
  batch16  1,700 steps of 16: 1.4 x the samples seen. It was meant to take the default's
           train time; on a 2-core CPU a step of 16 costs 1.98 x one of 8 (`python
           benchmarks/step_by_size.py --sizes 64 --batch_sizes 8,16 --optimizers adam`),
           so it took 1.4 x as long.
  anneal   the cosine schedule ends at lr 1e-4 instead of 1e-3.
"""
from configs import base
from configs import cnn


def get_config():
  """configs/cnn.py with `study.variants`: a log-space depth L1, batch 16, a lower final lr."""
  config = cnn.get_config()
  config.update(base.HALFWAY_EVAL)
  config.update(base.LOSS_BEFORE_OUTLINE_WEIGHT)  # The loss as measured.
  config.update(base.SMALL_CNN)  # dmnet_cnn at widths (16, 32, 64), as measured.
  config.update(base.EQUAL_HEADS)  # Mask and depth at weight 1 each, as measured.
  config.update(base.ADAM)  # As measured, whatever the default is now.
  config.update(base.PLAIN_EVAL)  # Evaluated as measured: no mirror or weight average.
  # The set, model and losses it was measured with, whatever the defaults are now.
  config.data.synthetic.update(base.THREE_HUNDRED_ROOMS)
  config.model.global_context = True
  config.loss.depth = [dict(name='l1'), dict(name='ssim'), dict(name='gradient')]
  config.study = base.study('budget_study', dict(
      default=dict(),
      log_l1=dict(loss=dict(depth=[dict(name='log_l1'), dict(name='ssim'),
                                   dict(name='gradient')])),
      batch16=dict(train=dict(batch_size=16, steps=1700, checkpoint_every=850,
                              log_every=85),
                   eval=dict(every=850)),
      anneal=dict(schedule=dict(min_lr=1e-4)),
  ))
  return config
