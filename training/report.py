"""`--mode report`: a Markdown report with PNG plots of one run, or a comparison of several.

It reads only what a run leaves in its workdir (`metrics.jsonl`, `eval_metrics.json`,
`config.json`, `samples/`), so it needs no JAX and works while a run is still going.

  python run.py --mode report --workdir runs/x             # runs/x/report.md, runs/x/report/
  python run.py --mode report --workdir runs/a,runs/b      # runs/report.md: one comparison
  python run.py --mode report --workdir 'runs/*' --out cmp.md
"""
import dataclasses
import glob
import math
import os
import re
import shutil
import statistics
from typing import Any, Sequence

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure  # Not pyplot: no global state, always Agg for PNG.

from losses import metrics as metrics_lib
from training import run_folder

# Final eval metrics in table order; others follow sorted. Baselines sit beside theirs.
EVAL_ORDER = metrics_lib.MODEL_METRICS
LOWER_IS_BETTER = metrics_lib.LOWER_IS_BETTER
# One figure per entry: (file stem, title, panels); a panel is (title, [(key, label)]).
PLOTS = (
    ('losses', 'Training loss', (
        ('total', [('train/loss', 'loss')]),
        ('mask', [('train/mask_loss', 'mask loss')]),
        ('depth', [('train/depth_loss', 'depth loss')]))),
    ('lr', 'Learning rate', (
        ('learning rate', [('train/lr', 'lr')]),)),
    ('timing', 'Timing', (
        ('step time (ms, one step timed alone)', [('train/step_time_ms', 'step time')]),
        ('share of time waiting for data', [('train/data_wait_share', 'data wait')]),
        ('steps/s', [('train/steps_per_s', 'steps/s')]))),
    ('memory', 'Memory', (
        ('host memory (MiB)', [('train/host_rss_mib', 'RSS'),
                               ('train/host_peak_rss_mib', 'peak RSS')]),
        ('device memory (MiB)', [('train/device_in_use_mib', 'in use'),
                                 ('train/device_peak_mib', 'peak')]))),
)
_LINESTYLES = ('-', '--', ':', '-.')


@dataclasses.dataclass
class Run:
  """What one workdir holds, read once."""
  name: str
  workdir: str
  series: dict[str, tuple[np.ndarray, np.ndarray]]  # key -> (steps, values), by step.
  eval_metrics: dict[str, Any]
  config: dict[str, Any]
  samples: list[str]  # Prediction grids, oldest first.


def resolve_workdirs(spec: str) -> list[str]:
  """Workdirs named by `spec`: comma-separated paths, each of which may be a glob.

  A path named outright must hold `metrics.jsonl`; a glob keeps the folders that do
  (so `runs/*` skips `runs/report/`). Raises a one-line ValueError otherwise.
  """
  workdirs = []
  for part in (p.strip() for p in spec.split(',')):
    if not part:
      continue
    if glob.has_magic(part):
      matches = [m for m in sorted(glob.glob(part))
                 if run_folder.has_metrics(m)]
      if not matches:
        raise ValueError(f'--workdir {part}: no folder matching it holds {run_folder.METRICS}')
      workdirs.extend(matches)
    elif not run_folder.has_metrics(part):
      raise ValueError(f'{part} holds no {run_folder.METRICS}: not a workdir of a run '
                       '(or the run has not logged yet)')
    else:
      workdirs.append(part)
  if not workdirs:
    raise ValueError(f'--workdir {spec!r} names no workdir')
  unique = {}
  for workdir in workdirs:
    unique.setdefault(os.path.realpath(workdir), workdir)
  return list(unique.values())


def load_run(workdir: str, name: str | None = None) -> Run:
  """Reads one workdir; ValueError if it holds no `metrics.jsonl`."""
  if not run_folder.has_metrics(workdir):
    raise ValueError(f'{workdir} holds no {run_folder.METRICS}: not a workdir of a run')
  return Run(name=name or os.path.basename(os.path.normpath(os.path.abspath(workdir))),
             workdir=workdir, series=run_folder.read_metrics(workdir),
             eval_metrics=run_folder.read_eval_metrics(workdir),
             config=run_folder.read_config(workdir) or {},
             samples=sorted(glob.glob(os.path.join(run_folder.path(workdir, run_folder.SAMPLES),
                                                   '*.png'))))


def _run_names(workdirs: Sequence[str]) -> list[str]:
  """Short distinct names: each workdir relative to their common parent."""
  paths = [os.path.abspath(w) for w in workdirs]
  if len(paths) == 1:
    return [os.path.basename(os.path.normpath(paths[0]))]
  parent = os.path.commonpath(paths)
  return [os.path.relpath(p, parent) for p in paths]


def default_out(workdirs: Sequence[str]) -> str:
  """`report.md` in the one workdir, or in the runs' common parent (else the cwd)."""
  paths = [os.path.abspath(w) for w in workdirs]
  if len(paths) == 1:
    return os.path.join(paths[0], 'report.md')
  try:
    parent = os.path.commonpath(paths)
  except ValueError:  # Different drives.
    parent = os.getcwd()
  if parent == os.path.dirname(parent):  # The filesystem root.
    parent = os.getcwd()
  return os.path.join(parent, 'report.md')


# --- Formatting --------------------------------------------------------------------


def _fmt(value: Any) -> str:
  if isinstance(value, bool) or value is None:
    return str(value)
  if isinstance(value, int):
    return str(value)
  if isinstance(value, float):
    if math.isnan(value) or math.isinf(value):
      return str(value)
    return f'{value:.4g}' if abs(value) >= 1e4 or 0 < abs(value) < 1e-3 else f'{value:.4f}'
  return str(value)


def _cell(text: Any) -> str:
  return str(text).replace('|', '\\|').replace('\n', ' ')


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
  lines = ['| ' + ' | '.join(_cell(h) for h in header) + ' |',
           '|' + '|'.join('---' for _ in header) + '|']
  lines += ['| ' + ' | '.join(_cell(c) for c in row) + ' |' for row in rows]
  return lines


def describe_head(spec) -> str:
  """A head's loss spec as short text, e.g. `bce_with_logits + 2 dice(smooth=0.5)`."""
  items = list(spec) if isinstance(spec, (list, tuple)) else [spec]
  terms = []
  for item in items:
    if not isinstance(item, dict):
      terms.append(str(item))
      continue
    options = dict(item)
    name, weight = options.pop('name', '?'), options.pop('weight', 1.0)
    arguments = ', '.join(f'{k}={v}' for k, v in sorted(options.items()))
    term = name + (f'({arguments})' if arguments else '')
    terms.append(term if weight == 1.0 else f'{weight:g} {term}')
  return ' + '.join(terms) if terms else '[]'


def describe_model(config: dict[str, Any]) -> str:
  """`name`, plus the compute dtype and other fields when not the defaults."""
  model = dict(config.get('model') or {})
  name = model.pop('name', '?')
  if model.get('dtype') == 'float32':
    model.pop('dtype')
  extra = ', '.join(f'{k}={v}' for k, v in sorted(model.items()))
  return f'{name} ({extra})' if extra else str(name)


def describe_loss(config: dict[str, Any]) -> str:
  """E.g. `mask bce_with_logits + dice; depth l1 + ssim; weighted_sum` (weights when not 1)."""
  loss = config.get('loss') or {}
  if not loss:
    return '?'
  text = (f'mask {describe_head(loss.get("mask"))}; '
          f'depth {describe_head(loss.get("depth"))}; '
          f'{describe_head(loss.get("combine", "weighted_sum"))}')
  weights = [f'{head}_weight={loss[f"{head}_weight"]}' for head in ('mask', 'depth')
             if loss.get(f'{head}_weight', 1.0) != 1.0]
  return text + (f' ({", ".join(weights)})' if weights else '')


def steps_done(run: Run) -> int:
  """The last step the run logged."""
  return max((int(steps[-1]) for steps, _ in run.series.values() if len(steps)), default=0)


def steps_per_s(run: Run) -> float | None:
  """The median logged steps/s (robust to the compile and evaluation intervals)."""
  if 'train/steps_per_s' not in run.series:
    return None
  return float(statistics.median(run.series['train/steps_per_s'][1]))


def order_eval_keys(keys) -> list[str]:
  """Eval metric names in table order, each baseline right after its metric."""
  present = set(keys) - {'step'}
  ordered = []
  for key in EVAL_ORDER + tuple(sorted(k for k in present if not k.startswith('baseline_'))):
    for k in (key, f'baseline_{key}'):
      if k in present and k not in ordered:
        ordered.append(k)
  return ordered + sorted(present - set(ordered))


def _verdict(key: str, value: float, baseline: float) -> str:
  better = value < baseline if key in LOWER_IS_BETTER else value > baseline
  return 'beats the baseline' if better else 'does NOT beat the baseline'


# --- Plots -------------------------------------------------------------------------


def _eval_panels(runs: Sequence[Run]) -> tuple:
  """One panel per eval metric logged over time, its baseline dashed beside it."""
  keys = {k[len('eval/'):] for r in runs for k in r.series if k.startswith('eval/')}
  keys.discard('num_samples')
  panels = []
  for key in order_eval_keys(keys):
    if key.startswith('baseline_') and key[len('baseline_'):] in keys:
      continue
    lines = [(f'eval/{key}', 'model' if f'baseline_{key}' in keys else key)]
    if f'baseline_{key}' in keys:
      lines.append((f'eval/baseline_{key}', 'baseline'))
    panels.append((key, lines))
  return tuple(panels)


def make_figure(runs: Sequence[Run], title: str, panels) -> Figure | None:
  """`panels` (title, [(key, label)]) drawn for every run; None if none has the data.

  With one run, one colour per key; with several, one colour per run and one line
  style per key (solid, then dashed). Panels no run has data for are left out.
  """
  panels = [(t, lines) for t, lines in panels
            if any(key in run.series for key, _ in lines for run in runs)]
  if not panels:
    return None
  columns = min(len(panels), 3)
  rows = -(-len(panels) // columns)
  fig = Figure(figsize=(4.6 * columns, 3.2 * rows + 0.4), layout='constrained')
  fig.suptitle(title)
  axes = fig.subplots(rows, columns, squeeze=False).ravel()
  for ax, (panel_title, lines) in zip(axes, panels):
    for r, run in enumerate(runs):
      for i, ((key, label), style) in enumerate(zip(lines, _LINESTYLES)):
        if key not in run.series:
          continue
        steps, values = run.series[key]
        if len(runs) == 1:
          color, name = f'C{i}', label
        else:
          color = f'C{r % 10}'
          name = run.name if len(lines) == 1 else f'{run.name}: {label}'
        ax.plot(steps, values, style, color=color, label=name, markersize=3,
                marker='o' if len(steps) < 20 else None)
    ax.set_title(panel_title, fontsize=10)
    ax.set_xlabel('step')
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if len(runs) > 1 or len(lines) > 1:
      ax.legend(fontsize=7)
  for ax in axes[len(panels):]:
    ax.set_visible(False)
  return fig


def plot(runs: Sequence[Run], title: str, panels, path: str) -> bool:
  """Writes `make_figure(...)` as a PNG at `path`; False (no file) if nothing to draw."""
  fig = make_figure(runs, title, panels)
  if fig is None:
    return False
  fig.savefig(path, dpi=100)
  return True


# --- The report --------------------------------------------------------------------


def _image(md_dir: str, path: str, alt: str) -> str:
  return f'![{alt}]({os.path.relpath(path, md_dir).replace(os.sep, "/")})'


def _safe(name: str) -> str:
  return re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('_') or 'run'


def _profile_lines(runs: Sequence[Run]) -> list[str]:
  keys = ('forward_ms', 'loss_ms', 'backward_ms', 'optimizer_ms', 'total_ms')
  rows = [[run.name] + [_fmt(float(run.series[f'profile/{k}'][1][-1]))
                        if f'profile/{k}' in run.series else '' for k in keys]
          for run in runs if any(f'profile/{k}' in run.series for k in keys)]
  if not rows:
    return []
  return (['', 'One train step split into its parts (`config.train.profile`, ms):', ''] +
          _table(['run'] + list(keys), rows))


def _final_eval_lines(run: Run) -> list[str]:
  metrics = run.eval_metrics
  if not metrics:
    return ['No evaluation yet (`eval_metrics.json` is missing).']
  rows = []
  for key in order_eval_keys(metrics):
    if key.startswith('baseline_') and key[len('baseline_'):] in metrics:
      continue
    baseline = metrics.get(f'baseline_{key}')
    verdict = (_verdict(key, metrics[key], baseline)
               if isinstance(baseline, (int, float)) else '')
    rows.append([key, _fmt(metrics[key]), _fmt(baseline) if baseline is not None else '',
                 verdict])
  return [f'At step {metrics.get("step", "?")}:', ''] + _table(
      ['metric', 'value', 'baseline', ''], rows)


def _comparison_lines(runs: Sequence[Run]) -> list[str]:
  keys = order_eval_keys(set().union(*(r.eval_metrics for r in runs)))
  rows = []
  for run in runs:
    target = (run.config.get('train') or {}).get('steps')
    done = steps_done(run)
    rate = steps_per_s(run)
    rows.append([run.name, describe_model(run.config), describe_loss(run.config),
                 f'{done}/{target}' if target and target != done else done]
                + [_fmt(run.eval_metrics[k]) if k in run.eval_metrics else '' for k in keys]
                + [_fmt(rate) if rate is not None else ''])
  return _table(['run', 'model', 'loss', 'steps'] + keys + ['steps/s'], rows)


def write_report(workdirs: Sequence[str], out: str | None = None) -> str:
  """Writes the report of one workdir, or one comparison of several; returns its path.

  Args:
    workdirs: Run folders, each holding `metrics.jsonl`.
    out: The Markdown file (or a folder for `report.md`); by default `report.md` in
      the one workdir, or in the runs' common parent. Plots go to a folder named
      after it (`report/` beside `report.md`).

  Returns:
    The path of the Markdown file.
  """
  if not workdirs:
    raise ValueError('no workdir to report on')
  runs = [load_run(w, n) for w, n in zip(workdirs, _run_names(workdirs))]
  out = out or default_out(workdirs)
  if os.path.isdir(out) or out.endswith(('/', os.sep)):
    out = os.path.join(out, 'report.md')
  md_dir = os.path.dirname(os.path.abspath(out))
  fig_dir = os.path.splitext(os.path.abspath(out))[0]
  os.makedirs(fig_dir, exist_ok=True)

  single = len(runs) == 1
  run = runs[0]
  if single:
    rate = steps_per_s(run)
    lines = [f'# Report: {run.name}', '',
             f'- workdir: `{run.workdir}`',
             f'- model: {describe_model(run.config)}',
             f'- loss: {describe_loss(run.config)}',
             f'- steps: {steps_done(run)} of '
             f'{(run.config.get("train") or {}).get("steps", "?")}',
             f'- steps/s (median of the logged intervals): '
             f'{_fmt(rate) if rate is not None else "not logged"}',
             '', '## Final evaluation', ''] + _final_eval_lines(run)
  else:
    lines = [f'# Comparison of {len(runs)} runs', '',
             'Final evaluation of each run (`eval_metrics.json`); steps/s is the median of '
             'the logged intervals.', '', '## Runs', ''] + _comparison_lines(runs)

  sections = PLOTS + (
      ('eval', 'Evaluation over time (dashed: baseline)', _eval_panels(runs)),)
  for stem, title, panels in sections:
    lines += ['', f'## {title}', '']
    path = os.path.join(fig_dir, f'{stem}.png')
    if plot(runs, title, panels, path):
      lines.append(_image(md_dir, path, title))
    else:
      lines.append('Not logged.')
    if stem == 'timing':
      lines += _profile_lines(runs)

  lines += ['', '## Predictions', '',
            'bg | fg_bg | gt mask | pred mask | gt depth | pred depth', '']
  for r in runs:
    if not r.samples:
      lines.append(f'{r.name}: no prediction grid yet (`samples/` is empty).')
      continue
    latest = r.samples[-1]
    copy = os.path.join(fig_dir, 'predictions.png' if single else
                        f'predictions_{_safe(r.name)}.png')
    shutil.copyfile(latest, copy)
    caption = f'{r.name}, {os.path.basename(latest)}'
    lines += ([] if single else [f'### {r.name}', '']) + [
        _image(md_dir, copy, caption), '', f'*{caption}*', '']

  with open(out, 'w') as f:
    f.write('\n'.join(lines).rstrip() + '\n')
  return out


def report(spec: str, out: str | None = None) -> str:
  """`--mode report`: resolves `spec` (see `resolve_workdirs`) and writes the report."""
  return write_report(resolve_workdirs(spec), out)
