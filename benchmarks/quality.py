"""Quality on one CPU budget: the recipes of configs/quality_study.py, side by side.

  python benchmarks/quality.py                  # every variant, 300 steps of 32 at 64 px
  python benchmarks/quality.py --quick          # two variants, 40 steps of 16: a smoke run
  python benchmarks/quality.py --workdir runs/quality_study --variants previous,input_skip

Trains (or resumes) one run per variant in `--workdir/<name>/` through the study mode of
run.py, so each run is an ordinary run folder; then writes the study page
(`quality_study.md`: test metrics beside both baselines, parameters, train images/s and
wall time; `quality_study_curves.png`: test mask IoU, depth delta1 and train loss against
wall time; `quality_study_predictions.png`: every run on the same test samples). The
test split holds backgrounds no run trained on (`data.split_by='bg'`).

The last line printed is one JSON object: per variant its test metrics and wall
minutes, and the baselines.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

KEYS = ('mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse', 'depth_abs_rel',
        'depth_delta1', 'depth_ssim_acc')
BASELINE_KEYS = ('baseline_mask_iou', 'baseline_mask_ssim_acc', 'baseline_depth_rmse',
                 'baseline_depth_ssim_acc')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default='runs/quality_study')
  parser.add_argument('--variants', default='', help='comma-separated; default: all')
  parser.add_argument('--quick', action='store_true',
                      help='two variants, 40 steps of 16 (a smoke run, not a result)')
  args = parser.parse_args()

  from configs import quality_study  # pylint: disable=g-import-not-at-top
  from training import study  # pylint: disable=g-import-not-at-top
  from training import run_folder  # pylint: disable=g-import-not-at-top

  config = quality_study.get_config()
  names = [n for n in args.variants.split(',') if n] or list(config.study.variants)
  workdir = args.workdir
  if args.quick:
    names = names[:1] + names[-1:] if not args.variants else names
    config.train.update(steps=40, batch_size=16, checkpoint_every=40, log_every=10)
    config.eval.every = 40
    workdir = args.workdir + '_quick'
  unknown = sorted(set(names) - set(config.study.variants))
  if unknown:
    sys.exit(f'error: --variants: unknown {", ".join(unknown)}; known: '
             f'{", ".join(config.study.variants)}')
  with config.study.variants.unlocked():
    for name in list(config.study.variants):
      if name not in names:
        del config.study.variants[name]
  results = study.run_study(config, workdir)
  summary = {}
  for name, metrics in results.items():
    run_dir = os.path.join(workdir, name)
    summary[name] = {key: round(metrics[key], 4) for key in KEYS}
    summary[name]['wall_min'] = round(
        run_folder.logged_value(run_dir, 'train/elapsed_s', metrics['step']) / 60, 2)
  first = next(iter(results.values()))
  summary['baselines'] = {key: round(first[key], 4) for key in BASELINE_KEYS}
  summary['steps'] = config.train.steps
  summary['batch_size'] = config.train.batch_size
  summary['image_size'] = config.data.image_size
  print(json.dumps(summary))


if __name__ == '__main__':
  main()
