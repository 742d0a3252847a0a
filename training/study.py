"""Runs a study: one training run per variant of a config, then one comparison page."""
import copy
import json
import os

import jax
import matplotlib
import numpy as np

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

import datasets  # pylint: disable=g-import-not-at-top
from datasets import pipeline
from training import checkpoint as checkpoint_lib
from training import loop
from training import steps as steps_lib
from training import validate
from training import visualize

TABLE_KEYS = ('mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse', 'depth_abs_rel',
              'depth_delta1', 'depth_ssim_acc')


def variant_configs(config) -> dict[str, object]:
  """One full config per study variant: the shared config with its `loss` changes."""
  variants = {}
  for name, loss_changes in config.study.variants.items():
    variant = copy.deepcopy(config)
    with variant.unlocked():
      del variant['study']
    variant.loss.update(dict(loss_changes))
    try:
      validate.validate_config(variant)
    except ValueError as error:
      raise ValueError(f'study.variants.{name}: {error}') from None
    variants[name] = variant
  return variants


def run_study(config, workdir: str) -> dict[str, dict]:
  """Trains (or resumes) every variant in `workdir/<name>` and writes the page."""
  variants = variant_configs(config)
  results = {}
  for name, variant in variants.items():
    print(f'\n=== {name}: loss {variant.loss.to_dict()} ===', flush=True)
    metrics = loop.train_and_evaluate(variant, os.path.join(workdir, name))
    if metrics is None:  # Stopped early (SIGTERM): the rest waits for the next call.
      return results
    results[name] = metrics
  write_page(variants, results, workdir)
  return results


def _prediction_grid(variants, workdir, rows: int) -> np.ndarray:
  """fg_bg | gt mask | each variant's mask ... ; then gt depth | each variant's depth."""
  first = next(iter(variants.values()))
  data = datasets.load(first.data)
  batch = next(pipeline.eval_batches(data.test, image_size=first.data.image_size,
                                     batch_size=rows, limit=rows))
  predictions = {}
  for name, variant in variants.items():
    exp = loop.prepare(variant, data)
    manager = checkpoint_lib.make_manager(os.path.join(workdir, name), read_only=True)
    state = checkpoint_lib.restore(manager, manager.latest_step(), exp.abstract_state())
    predictions[name] = jax.device_get(steps_lib.predict(
        state.params, state.batch_stats, batch, model=exp.model, stats=exp.stats,
        dtype_name=variant.model.dtype))
  tiles = []
  for i in range(len(batch['bg'])):
    tiles.append([batch['fg_bg'][i], visualize.gray(batch['mask'][i] / 255.0)] +
                 [visualize.gray(p['mask'][i]) for p in predictions.values()])
    tiles.append([batch['bg'][i], visualize.colorize_depth(batch['depth'][i] / 255.0)] +
                 [visualize.colorize_depth(p['depth'][i]) for p in predictions.values()])
  return visualize.tile_rows(tiles)


def _loss_curves(variants, workdir, path):
  figure, axes = plt.subplots(1, 2, figsize=(11, 4))
  for name in variants:
    with open(os.path.join(workdir, name, 'metrics.jsonl')) as f:
      lines = [json.loads(line) for line in f]
    by_step = {}  # Train and eval lines share steps; a resume repeats steps: last wins.
    for line in lines:
      by_step.setdefault(line['step'], {}).update(line)
    steps = sorted(s for s, line in by_step.items() if 'eval/mask_iou' in line)
    axes[0].plot(steps, [by_step[s]['eval/mask_iou'] for s in steps], marker='o', label=name)
    steps = sorted(s for s, line in by_step.items() if 'train/loss' in line)
    losses = np.array([by_step[s]['train/loss'] for s in steps])
    axes[1].plot(steps, losses / max(abs(losses[0]), 1e-12), label=name)
  axes[0].set(title='test mask IoU', xlabel='step')
  axes[1].set(title='train loss / its first value', xlabel='step')
  for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def write_page(variants, results, workdir: str):
  """Writes `loss_study.md`, `loss_study_predictions.png` and `loss_study_curves.png`."""
  grid_path = os.path.join(workdir, 'loss_study_predictions.png')
  visualize.save_png(_prediction_grid(variants, workdir, next(iter(
      variants.values())).eval.num_grid_samples), grid_path)
  _loss_curves(variants, workdir, os.path.join(workdir, 'loss_study_curves.png'))
  baseline = next(iter(results.values()))
  lines = ['# Loss study', '',
           '| run | mask loss | depth loss | combine | ' + ' | '.join(TABLE_KEYS) + ' |',
           '|' + '---|' * (4 + len(TABLE_KEYS))]
  for name, metrics in results.items():
    loss = variants[name].loss
    cells = [f'{metrics[key]:.4f}' for key in TABLE_KEYS]
    lines.append(f'| {name} | {loss.mask} | {loss.depth} | {loss.combine} | '
                 + ' | '.join(cells) + ' |')
  lines += ['', f'Baselines on the same test samples: frame differencing mask IoU '
            f'{baseline["baseline_mask_iou"]:.4f}, mean train depth RMSE '
            f'{baseline["baseline_depth_rmse"]:.4f}; {baseline["num_samples"]} test samples, '
            f'{baseline["step"]} steps each.', '',
            'Rows of the grid: fg_bg | true mask | each run\'s mask (in table order); '
            'bg | true depth | each run\'s depth.', '',
            '![predictions](loss_study_predictions.png)', '',
            '![curves](loss_study_curves.png)', '']
  path = os.path.join(workdir, 'loss_study.md')
  with open(path, 'w') as f:
    f.write('\n'.join(lines))
  print(f'\n{path}')
  print('\n'.join(lines[:len(results) + 4]))
