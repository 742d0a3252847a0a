"""A trained run's test metrics with and without averaging each prediction with the mirror image's.

  python benchmarks/hflip_average.py --workdir runs/cnn [--rounds 3]

Evaluates the run's latest checkpoint on its own test split (its config.json's data) twice
per round, in turns: `plain` (one forward pass) and `hflip_average` (the pair and its
left-right mirror image as one batch, the two predictions averaged; `eval.hflip_average`),
through the evaluation `make run` uses (`training/evaluate.py`), writing nothing to the
run. Prints each variant's metrics, the baselines, and the wall time of a whole test-split
evaluation (min / median / max over the rounds, compiling excluded) with the ratio of the
medians. The last line is one JSON object with every figure.
"""
import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

METRICS = ('mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse', 'depth_abs_rel',
           'depth_delta1', 'depth_ssim_acc', 'loss')


def measure(workdir: str, rounds: int) -> dict:
  """Metrics and evaluation times of both variants (see the module docstring)."""
  import tempfile  # pylint: disable=g-import-not-at-top

  import ml_collections  # pylint: disable=g-import-not-at-top

  import datasets  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  from training import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from training import loop  # pylint: disable=g-import-not-at-top
  from training import run_folder  # pylint: disable=g-import-not-at-top

  saved = run_folder.require_config(workdir)
  data = datasets.load(ml_collections.ConfigDict(saved).data)
  # Fit once: the baselines do not depend on the variant.
  with tempfile.TemporaryDirectory() as scratch:
    baselines = evaluate_lib.fit_baselines(data.train, ml_collections.ConfigDict(saved),
                                           scratch, data.name)
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  step = manager.latest_step()
  evaluations, results = {}, {}
  for name, hflip_average in (('plain', False), ('hflip_average', True)):
    config = ml_collections.ConfigDict(saved)
    config.eval.hflip_average = hflip_average  # Absent in runs older than the option.
    experiment = loop.prepare(config, data, run_folder.read_data_stats(workdir))
    state = checkpoint_lib.restore_for_evaluation(manager, step, experiment.init_state())
    evaluations[name] = lambda experiment=experiment, state=state, config=config: (
        evaluate_lib.evaluate(experiment.eval_step, state, data.test, baselines, config,
                              experiment.place)[0])
    results[name] = dict(metrics=evaluations[name](), seconds=[])  # This pass compiles.
  for _ in range(rounds):
    for name, evaluation in evaluations.items():
      start = time.perf_counter()
      evaluation()
      results[name]['seconds'].append(time.perf_counter() - start)
  for result in results.values():
    result['metrics'] = {key: float(value) for key, value in result['metrics'].items()
                         if key in METRICS or key.startswith('baseline_')}
  medians = {name: statistics.median(r['seconds']) for name, r in results.items()}
  return dict(workdir=workdir, step=int(step), samples=len(data.test), variants=results,
              time_ratio=medians['hflip_average'] / medians['plain'])


def print_report(result: dict):
  """The two variants side by side, then the evaluation times."""
  plain, averaged = (result['variants'][name] for name in ('plain', 'hflip_average'))
  print(f"{result['workdir']} (step {result['step']}, {result['samples']} test samples)")
  print(f"{'metric':<16} {'plain':>8} {'hflip_average':>14} {'change':>8}")
  for key in METRICS:
    before, after = plain['metrics'][key], averaged['metrics'][key]
    print(f'{key:<16} {before:8.4f} {after:14.4f} {after - before:+8.4f}')
  for key, value in sorted(plain['metrics'].items()):
    if key.startswith('baseline_'):
      print(f'{key:<24} {value:.4f}')
  for name, variant in result['variants'].items():
    seconds = sorted(variant['seconds'])
    print(f'{name}: a test-split evaluation takes {seconds[0]:.1f} / '
          f'{statistics.median(seconds):.1f} / {seconds[-1]:.1f} s (min / median / max)')
  print(f"time ratio (medians): {result['time_ratio']:.2f}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True, help='a trained run')
  parser.add_argument('--rounds', type=int, default=3, help='timed evaluations per variant')
  args = parser.parse_args()
  result = measure(args.workdir, args.rounds)
  print_report(result)
  print(json.dumps(result))


if __name__ == '__main__':
  main()
