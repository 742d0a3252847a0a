"""A run's folder (its `--workdir`): what training and evaluation write there, named here only.

  config.json        the resolved config the run was started with (model fields complete)
  data_stats.json    the dataset's name and the input normalization the model was trained with
  metrics.jsonl      one JSON object per logging or evaluation step, appended on resume
  eval_metrics.json  the latest evaluation's metrics, the baselines' beside the model's
  baselines.npz      the baselines fit on the train split (frame-difference threshold,
                     mean depth map)
  samples/           a prediction grid per evaluation, step_0002400.png
  checkpoints/       orbax checkpoints, one folder per step (training/checkpoint.py)
  tb/                TensorBoard event files
  evals/<dataset>/   an evaluation on another dataset, or of an earlier checkpoint, in a
                     folder of these same files (`--mode eval`)
  export/            `--mode export`'s default output (modes.py)

Readers return None (or empty) for a file not written yet, and skip a `metrics.jsonl` line
cut short by a killed run; JSON files are written whole or not at all.
"""
import json
import os
from typing import Any
import zipfile

import numpy as np

CONFIG = 'config.json'
DATA_STATS = 'data_stats.json'
METRICS = 'metrics.jsonl'
EVAL_METRICS = 'eval_metrics.json'
BASELINES = 'baselines.npz'
SAMPLES = 'samples'
CHECKPOINTS = 'checkpoints'
TENSORBOARD = 'tb'
EVALS = 'evals'


def path(workdir: str, name: str) -> str:
  """The path of the run's file or folder `name` (one of this module's constants)."""
  return os.path.join(workdir, name)


def read_json(workdir: str, name: str) -> dict[str, Any] | None:
  """The run's JSON file `name`, or None before its first write."""
  file_path = path(workdir, name)
  if not os.path.isfile(file_path):
    return None
  with open(file_path) as f:
    return json.load(f)


def _write_whole(file_path: str, write, mode: str = 'w') -> None:
  """Calls `write(f)` on a temporary file that then replaces `file_path`: a killed or
  failed write leaves the old file (and no temporary one)."""
  partial = f'{file_path}.partial'
  try:
    with open(partial, mode) as f:
      write(f)
    os.replace(partial, file_path)
  finally:
    if os.path.exists(partial):
      os.remove(partial)


def write_json(workdir: str, name: str, value: dict[str, Any]) -> None:
  """Writes the run's JSON file `name` whole: a killed write leaves the old file."""
  _write_whole(path(workdir, name), lambda f: json.dump(value, f, indent=2, sort_keys=True))


def read_config(workdir: str) -> dict[str, Any] | None:
  """The config the run saved (`config.json`) as nested dicts, or None if it has none."""
  return read_json(workdir, CONFIG)


def require_config(workdir: str) -> dict[str, Any]:
  """`read_config`, or a FileNotFoundError saying `workdir` is not a run's folder."""
  saved = read_config(workdir)
  if saved is None:
    raise FileNotFoundError(f'{path(workdir, CONFIG)}: not found; --workdir must be the '
                            'folder of a training run')
  return saved


def read_data_stats(workdir: str) -> dict[str, Any] | None:
  """The normalization the run was trained with (`data_stats.json`), or None if absent."""
  saved = read_json(workdir, DATA_STATS)
  return None if saved is None else {key: saved[key] for key in ('bg', 'fg_bg')}


def trained_dataset_name(workdir: str) -> str | None:
  """The name of the dataset the run trained on (its `data_stats.json`), or None."""
  return (read_json(workdir, DATA_STATS) or {}).get('dataset')


def write_data_stats(workdir: str, dataset_name: str, stats: dict[str, Any]) -> None:
  """Records the dataset's name and the normalization the model is trained with."""
  write_json(workdir, DATA_STATS, dict(dataset=dataset_name, **stats))


def read_eval_metrics(workdir: str) -> dict[str, Any]:
  """The latest evaluation's metrics (`eval_metrics.json`); {} before the first."""
  return read_json(workdir, EVAL_METRICS) or {}


def write_eval_metrics(workdir: str, metrics: dict[str, Any]) -> None:
  """Records an evaluation's metrics as the run's latest."""
  write_json(workdir, EVAL_METRICS, metrics)


def sample_grid_path(workdir: str, step: int) -> str:
  """Where the prediction grid of the evaluation at `step` goes (its folder created)."""
  folder = path(workdir, SAMPLES)
  os.makedirs(folder, exist_ok=True)
  return os.path.join(folder, f'step_{step:07d}.png')


def read_baselines(workdir: str, dataset_name: str, image_size: int
                   ) -> dict[str, np.ndarray] | None:
  """The baselines fit for `dataset_name` at `image_size` (`baselines.npz`), or None.

  None as well when the file was fit for another dataset or size, or cannot be read
  (say, a copy cut short): the caller fits them again.
  """
  file_path = path(workdir, BASELINES)
  if not os.path.isfile(file_path):
    return None
  try:
    with np.load(file_path) as saved:
      if str(saved['dataset']) != dataset_name or saved['mean_depth'].shape[0] != image_size:
        return None
      return dict(threshold=saved['threshold'], mean_depth=saved['mean_depth'])
  except (OSError, ValueError, KeyError, zipfile.BadZipFile):
    return None


def write_baselines(workdir: str, dataset_name: str, baselines: dict[str, np.ndarray]) -> None:
  """Records the baselines fit for `dataset_name`, whole: a killed write leaves the old file."""
  _write_whole(path(workdir, BASELINES),
               lambda f: np.savez(f, dataset=np.str_(dataset_name), **baselines), mode='wb')


def open_metrics_for_append(workdir: str):
  """`metrics.jsonl` opened for appending (created if absent), as a text file.

  A last line cut short by a killed run is ended first, so the first record of a
  resumed run starts a line of its own instead of being glued to the broken one.
  """
  file_path = path(workdir, METRICS)
  if os.path.isfile(file_path) and os.path.getsize(file_path):
    with open(file_path, 'rb') as f:
      f.seek(-1, os.SEEK_END)
      cut_short = f.read(1) != b'\n'
    if cut_short:
      with open(file_path, 'a') as f:
        f.write('\n')
  return open(file_path, 'a')


def has_metrics(workdir: str) -> bool:
  """Whether `workdir` holds a `metrics.jsonl`: a run that has logged at least once."""
  return os.path.isfile(path(workdir, METRICS))


def read_metrics(workdir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """The run's `metrics.jsonl` as key -> (steps, values), sorted by step; {} if absent.

  A resumed run appends to the file, so a step may appear more than once: the last
  value logged for a (key, step) wins. A line cut short (a killed run) is skipped.
  """
  by_key: dict[str, dict[int, float]] = {}
  if not has_metrics(workdir):
    return {}
  with open(path(workdir, METRICS)) as f:
    for line in f:
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        continue
      if not isinstance(record, dict) or 'step' not in record:
        continue
      step = int(record['step'])
      for key, value in record.items():
        if key != 'step' and isinstance(value, (int, float)):
          by_key.setdefault(key, {})[step] = float(value)
  return {key: (np.array(sorted(values)), np.array([values[s] for s in sorted(values)]))
          for key, values in by_key.items()}


def logged_value(workdir: str, key: str, up_to_step: int, default: float = 0.0) -> float:
  """The value of `key` that `metrics.jsonl` holds at the last step <= `up_to_step`.

  `default` where the file or such a step is missing.
  """
  steps, values = read_metrics(workdir).get(key, ((), ()))
  earlier = [value for step, value in zip(steps, values) if step <= up_to_step]
  return float(earlier[-1]) if earlier else default
