"""The moving average of the weights against the last step's weights, on one training run.

  python benchmarks/ema.py --workdir runs/ema_seed0 [--config configs/cnn.py] [--seed 0]
      [--decays 0.99,0.998,0.999]

Trains the config (with its own `train.ema_decay`, 0.995 by default) in a new `--workdir`,
keeping beside it a moving average at each of `--decays` (the same bias-corrected average,
`training.steps.update_ema`, updated after every step outside the jitted step), then
evaluates on the test split, each through the evaluation `make run` uses: the last step's
weights, the run's own average (what the run reports), and every other decay. All share
one trajectory, so the comparison is paired: only the weights evaluated differ. The extra
averages are not in the run's checkpoints; they are written once, at the end, to
`--workdir/ema_extra.npz`. Prints one row per variant, then one JSON object.
"""
import argparse
import importlib
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

METRICS = ('mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse', 'depth_abs_rel',
           'depth_delta1', 'depth_ssim_acc', 'loss')


def train_with_extra_averages(config, workdir: str, decays: list[float]) -> dict:
  """Trains `config` in `workdir`; returns {decay: (params, batch_stats)} kept beside it."""
  import jax  # pylint: disable=g-import-not-at-top

  from training import loop  # pylint: disable=g-import-not-at-top
  from training import steps as steps_lib  # pylint: disable=g-import-not-at-top

  averages = {}
  update = jax.jit(lambda averages, weights, step: {
      decay: steps_lib.update_ema(average, weights, step, decay)
      for decay, average in averages.items()})
  real_jit_steps = steps_lib.jit_steps

  def jit_steps_keeping_averages(*args, **kwargs):
    train_step, eval_step = real_jit_steps(*args, **kwargs)

    def train_step_and_averages(state, batch):
      state, metrics = train_step(state, batch)
      weights = (state.params, state.batch_stats)
      previous = averages or {decay: weights for decay in decays}
      averages.update(update(previous, weights, state.step))
      return state, metrics
    return train_step_and_averages, eval_step

  steps_lib.jit_steps = jit_steps_keeping_averages
  try:
    loop.train_and_evaluate(config, workdir)
  finally:
    steps_lib.jit_steps = real_jit_steps
  return averages


def evaluate_variants(workdir: str, averages: dict) -> dict:
  """Test metrics of the last step's weights, the run's average and each extra one."""
  import ml_collections  # pylint: disable=g-import-not-at-top

  import datasets  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  from training import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from training import loop  # pylint: disable=g-import-not-at-top
  from training import run_folder  # pylint: disable=g-import-not-at-top

  config = ml_collections.ConfigDict(run_folder.require_config(workdir))
  data = datasets.load(config.data)
  experiment = loop.prepare(config, data, run_folder.read_data_stats(workdir))
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  state = checkpoint_lib.restore_for_evaluation(manager, manager.latest_step(),
                                                experiment.init_state())
  baselines = evaluate_lib.fit_baselines(data.train, config, workdir, data.name)
  variants = {'last_step': state.replace(ema=None)}
  if state.ema is not None:
    variants[f'ema{config.train.ema_decay:g} (the run)'] = state
  for decay, (params, batch_stats) in sorted(averages.items()):
    variants[f'ema{decay:g}'] = state.replace(
        ema=dict(params=params, batch_stats=batch_stats))
  results = {}
  for name, variant in variants.items():
    metrics = evaluate_lib.evaluate(experiment.eval_step, variant, data.test, baselines, config,
                                    experiment.place)[0]
    results[name] = {key: float(metrics[key]) for key in METRICS}
  return results


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True, help='a new folder for the run')
  parser.add_argument('--config', default='configs/cnn.py')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--steps', type=int, default=0,
                      help="train.steps (default: the config's), for a quick look")
  parser.add_argument('--decays', default='0.99,0.998,0.999',
                      help="comma-separated decays to average at beside the config's own")
  args = parser.parse_args()
  from training import run_folder  # pylint: disable=g-import-not-at-top
  if os.path.exists(run_folder.path(args.workdir, run_folder.CHECKPOINTS)):
    raise SystemExit(f'--workdir {args.workdir}: holds a run already; the extra averages '
                     'need the whole trajectory, so give a new folder')
  module = os.path.splitext(os.path.relpath(args.config, ROOT))[0].replace(os.sep, '.')
  config = importlib.import_module(module).get_config()
  config.seed = args.seed
  if args.steps:
    config.train.steps = config.eval.every = config.train.checkpoint_every = args.steps
  decays = [float(d) for d in args.decays.split(',') if d]
  start = time.time()
  averages = train_with_extra_averages(config, args.workdir, decays)
  train_s = time.time() - start

  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  np.savez(os.path.join(args.workdir, 'ema_extra.npz'), **{
      f'{decay:g}/{jax.tree_util.keystr(path)}': np.asarray(leaf)
      for decay, weights in averages.items()
      for path, leaf in jax.tree_util.tree_leaves_with_path(weights)})
  results = evaluate_variants(args.workdir, averages)
  print(f'\n{args.config}, seed {args.seed}: trained and evaluated in {train_s:.0f} s')
  print(f"{'weights':<20} " + ' '.join(f'{key:>14}' for key in METRICS))
  for name, metrics in results.items():
    print(f'{name:<20} ' + ' '.join(f'{metrics[key]:14.4f}' for key in METRICS))
  print(json.dumps(dict(config=args.config, seed=args.seed, workdir=args.workdir,
                        variants=results)))


if __name__ == '__main__':
  main()
