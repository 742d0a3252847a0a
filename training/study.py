"""Runs a study: one training run per variant of a config, then one comparison page.

`config.study.variants` maps a run's name to the config sections it changes, e.g.
`ssim=dict(loss=dict(mask='ssim', depth='ssim'))` or `unet=dict(model=dict(name='unet',
widths=(32, 64)))`; everything else (data, steps, batch, optimizer, seed) is shared, so
the runs differ in exactly what the variant says. A variant may change the data set too;
the page then gives each run its baselines on its own test split. `config.study.name` names the page:
`<workdir>/<name>.md`, `<name>_predictions.png`, `<name>_curves.png`.
"""
import copy
import os

import matplotlib
import ml_collections
import numpy as np

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

import datasets  # pylint: disable=g-import-not-at-top
import zoo  # pylint: disable=g-import-not-at-top
from datasets import pipeline
from losses import metrics as metrics_lib
from training import evaluate as evaluate_lib
from training import loop
from training import predict as predict_lib
from training import report
from training import run_folder
from training import validate
from training import visualize

TABLE_KEYS = metrics_lib.SUMMARY_METRICS
# Table column -> the baseline's result key, for the baselines' row.
BASELINE_KEYS = metrics_lib.BASELINE_OF


def variant_configs(config) -> dict[str, object]:
  """One full config per study variant: the shared config updated with its changes.

  A variant whose model section names another model than the shared config's gets that
  model's own defaults (zoo/), changed by the variant's fields (its own `dtype` if it names
  one, else the shared config's).
  """
  variants = {}
  for name, changes in config.study.variants.items():
    variant = copy.deepcopy(config)
    with variant.unlocked():  # Configs from --config arrive locked.
      del variant['study']
    try:
      unknown = sorted(set(changes) - set(variant))
      if unknown:
        raise ValueError(f'unknown config section(s) {", ".join(unknown)}; a variant '
                         f'changes sections such as loss=dict(...) or model=dict(...)')
      changes = changes.to_dict()
      model = changes.get('model', {})
      if not isinstance(model, dict):
        raise ValueError(f'model={model!r}: a variant changes the model with '
                         "model=dict(name=..., ...)")
      with variant.unlocked():
        if model.get('name', variant.model.name) != variant.model.name:
          # Another model: its own module's defaults, not the shared model's fields.
          variant.model = ml_collections.ConfigDict(zoo.config_fields(
              dict(dict(dtype=variant.model.get('dtype', 'float32')), **model)))
          changes = {key: value for key, value in changes.items() if key != 'model'}
        variant.update(changes)
      validate.validate_config(variant)
    except (ValueError, TypeError) as error:
      raise ValueError(f'study.variants.{name}: {error}') from None
    variants[name] = variant
  return variants


def run_study(config, workdir: str) -> dict[str, dict]:
  """Trains (or resumes) every variant in `workdir/<name>` and writes the page."""
  variants = variant_configs(config)
  results = {}
  for name, variant in variants.items():
    print(f'\n=== {name}: {config.study.variants[name].to_dict()} ===', flush=True)
    metrics = loop.train_and_evaluate(variant, os.path.join(workdir, name))
    if metrics is None:  # Stopped early (SIGTERM): the rest waits for the next call.
      return results
    results[name] = metrics
  write_page(config.study, variants, results, workdir)
  return results


def _changed_fields(study_config) -> list[str]:
  """The dotted fields every variant sets, not all to one value: the table's columns."""
  flat = [_flatten(changes.to_dict()) for changes in study_config.variants.values()]
  common = set.intersection(*(set(f) for f in flat)) if flat else set()
  return [key for key in flat[0] if key in common
          and len({repr(f[key]) for f in flat}) > 1] if flat else []


def _cell(value) -> str:
  """A config value for the table: a list of named terms as `l1 + 0.5 ssim`."""
  if isinstance(value, (list, tuple)) and value and all(
      isinstance(item, dict) and 'name' in item for item in value):
    return report.describe_head(value)
  if isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
    return '; '.join(', '.join(f'{k}={v}' for k, v in item.items()) for item in value)
  return str(value)


def _flatten(tree, prefix='') -> dict:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def _series(logged: dict, key: str) -> tuple[list[int], list[float]]:
  """(steps, values) of `key` in a run's `run_folder.read_metrics`; empty lists if absent."""
  steps, values = logged.get(key, ((), ()))
  return list(steps), list(values)


def _prediction_grid(variants, workdir, rows: int) -> np.ndarray:
  """fg_bg | gt mask | each variant's mask ... ; then gt depth | each variant's depth."""
  first = next(iter(variants.values()))
  data = datasets.load(first.data)
  # Spread over the split, so over several backgrounds, as the runs' own grids are.
  resize = pipeline.ResizeAndDrop(first.data.image_size)
  picked = [resize.map(data.test[int(i)])
            for i in evaluate_lib.grid_indices(len(data.test), rows)]
  batch = {key: np.stack([sample[key] for sample in picked]) for key in picked[0]}
  predictions = {}
  for name in variants:
    # As `--mode predict` loads a run: its own model, normalization, size and mirror average.
    model, _ = predict_lib.load_model(os.path.join(workdir, name))
    predictions[name] = model.predict(batch['bg'], batch['fg_bg'])
  tiles = []
  for i in range(len(batch['bg'])):
    tiles.append([batch['fg_bg'][i], visualize.gray(batch['mask'][i] / 255.0)] +
                 [visualize.gray(p['mask'][i]) for p in predictions.values()])
    tiles.append([batch['bg'][i], visualize.colorize_depth(batch['depth'][i] / 255.0)] +
                 [visualize.colorize_depth(p['depth'][i]) for p in predictions.values()])
  return visualize.tile_rows(tiles)


def _wall_minutes(logged: dict, steps: list[int]) -> list[float]:
  """Training wall time (train/elapsed_s, in minutes) at each of `steps`.

  An eval line shares its step with a train line; a step without one takes the
  nearest earlier logged time.
  """
  logged_steps, seconds = _series(logged, 'train/elapsed_s')
  return [seconds[max(0, int(np.searchsorted(logged_steps, s, side='right')) - 1)] / 60
          if seconds else float('nan') for s in steps]


def _loss_curves(logged: dict[str, dict[int, dict]], path):
  """Test mask IoU, test depth delta1 and normalized train loss against wall time."""
  figure, axes = plt.subplots(1, 3, figsize=(15, 4))
  for name, run_logged in logged.items():
    for ax, key in zip(axes, ('eval/mask_iou', 'eval/depth_delta1')):
      steps, values = _series(run_logged, key)
      ax.plot(_wall_minutes(run_logged, steps), values, marker='o', label=name)
    steps, losses = _series(run_logged, 'train/loss')
    losses = np.array(losses)
    axes[2].plot(_wall_minutes(run_logged, steps), losses / max(abs(losses[0]), 1e-12),
                 label=name)
  axes[0].set(title='test mask IoU', xlabel='training wall time (min)')
  axes[1].set(title='test depth delta1', xlabel='training wall time (min)')
  axes[2].set(title='train loss / its first value', xlabel='training wall time (min)')
  for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def _steps_text(results) -> str:
  """'600 steps each; ' when every run trained as long, else '' (the table says)."""
  steps = {int(metrics['step']) for metrics in results.values()}
  return f'{steps.pop()} steps each; ' if len(steps) == 1 else ''


def write_page(study_config, variants, results, workdir: str):
  """Writes `<name>.md`, `<name>_predictions.png` and `<name>_curves.png` in `workdir`.

  The table has a row per run: the fields every variant sets, the parameter count, the
  median train images/s the run logged, and the test metrics.
  """
  name = study_config.name
  visualize.save_png(_prediction_grid(variants, workdir, study_config.num_grid_samples),
                     os.path.join(workdir, f'{name}_predictions.png'))
  logged = {run: run_folder.read_metrics(os.path.join(workdir, run)) for run in variants}
  _loss_curves(logged, os.path.join(workdir, f'{name}_curves.png'))
  baseline = next(iter(results.values()))
  fields = _changed_fields(study_config)
  header = ['run', *fields, 'params', 'train img/s', 'wall min', *TABLE_KEYS]
  lines = [f'# {name.replace("_", " ").capitalize()}', '',
           '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  # The dataset each run trained and tested on (its data_stats.json), at its image size:
  # augmentations and loader settings leave the test split as it is.
  one_test_set = len({(run_folder.trained_dataset_name(os.path.join(workdir, run)),
                       variants[run].data.image_size) for run in results}) == 1
  # Runs on different sets each get their own baselines' row, on their own test split.
  baseline_rows = ({'baselines': baseline} if one_test_set else
                   {f'baselines ({run})': metrics for run, metrics in results.items()})
  for label, metrics in baseline_rows.items():
    baseline_cells = [f'{metrics[BASELINE_KEYS[key]]:.4f}' if key in BASELINE_KEYS else ''
                      for key in TABLE_KEYS]
    lines.append('| ' + ' | '.join([label, *([''] * len(fields)), '', '', '',
                                    *baseline_cells]) + ' |')
  for run, metrics in results.items():
    values = _flatten(study_config.variants[run].to_dict())
    variant = variants[run]
    num_params = zoo.count_params(zoo.build(variant.model), variant.data.image_size)
    _, speeds = _series(logged[run], 'train/images_per_s')
    images_per_s = float(np.median(speeds)) if speeds else float('nan')
    _, seconds = _series(logged[run], 'train/elapsed_s')
    wall = f'{seconds[-1] / 60:.2f}' if seconds else ''
    cells = [run, *(_cell(values[field]) for field in fields), f'{num_params:,}',
             f'{images_per_s:.1f}', wall, *(f'{metrics[key]:.4f}' for key in TABLE_KEYS)]
    lines.append('| ' + ' | '.join(cells) + ' |')
  where = (f'Baselines (the first row) on the same {baseline["num_samples"]} test samples'
           if one_test_set else
           'The runs train and test on different sets, so each run\'s baselines are on its '
           'own test split')
  grid_samples = ('' if one_test_set else
                  'The grid shows every run on the first run\'s test samples. ')
  lines += ['', f'{where}: frame differencing for the mask (its threshold chosen on the '
            'train split), the mean train depth map for the depth. '
            f'{grid_samples}'
            f'{_steps_text(results)}wall min: training wall time, compiling and '
            'evaluating included.', '',
            'Rows of the grid: fg_bg | true mask | each run\'s mask (in table order); '
            'bg | true depth | each run\'s depth.', '',
            f'![predictions]({name}_predictions.png)', '',
            f'![curves]({name}_curves.png)', '']
  path = os.path.join(workdir, f'{name}.md')
  with open(path, 'w') as f:
    f.write('\n'.join(lines))
  print(f'\n{path}')
  print('\n'.join(lines[:len(results) + len(baseline_rows) + 4]))
