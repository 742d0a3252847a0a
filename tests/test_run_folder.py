"""A run's folder: files read before they exist, written whole, named in one place."""
import json
import os

import numpy as np
import pytest

from training import run_folder


def test_files_not_written_yet_read_as_nothing(tmp_path):
  workdir = str(tmp_path)
  assert run_folder.read_config(workdir) is None
  assert run_folder.read_data_stats(workdir) is None
  assert run_folder.trained_dataset_name(workdir) is None
  assert run_folder.read_eval_metrics(workdir) == {}
  assert run_folder.read_metrics(workdir) == {}
  assert not run_folder.has_metrics(workdir)


def test_a_folder_without_config_is_named_in_the_error(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.json: not found; --workdir must be'):
    run_folder.require_config(str(tmp_path / 'not_a_run'))


def test_data_stats_round_trip_with_the_datasets_name(tmp_path):
  stats = dict(bg=dict(mean=[0.1, 0.2, 0.3], std=[1.0, 1.0, 1.0]),
               fg_bg=dict(mean=[0.4, 0.5, 0.6], std=[2.0, 2.0, 2.0]))
  run_folder.write_data_stats(str(tmp_path), 'synthetic_abc', stats)
  assert run_folder.read_data_stats(str(tmp_path)) == stats
  assert run_folder.trained_dataset_name(str(tmp_path)) == 'synthetic_abc'


def test_a_json_file_is_replaced_whole_and_a_failed_write_keeps_the_old_one(tmp_path):
  workdir = str(tmp_path)
  run_folder.write_eval_metrics(workdir, dict(mask_iou=0.5, step=10))
  with pytest.raises(TypeError):  # Not serializable: fails half-way through the dump.
    run_folder.write_eval_metrics(workdir, dict(mask_iou=0.9, step=object()))
  assert run_folder.read_eval_metrics(workdir) == dict(mask_iou=0.5, step=10)
  assert os.listdir(workdir) == ['eval_metrics.json']
  run_folder.write_eval_metrics(workdir, dict(mask_iou=0.7, step=20))
  with open(os.path.join(workdir, 'eval_metrics.json')) as f:
    assert json.load(f) == dict(mask_iou=0.7, step=20)
  assert os.listdir(workdir) == ['eval_metrics.json']


def test_sample_grids_are_named_by_their_step_in_samples(tmp_path):
  path = run_folder.sample_grid_path(str(tmp_path), 2400)
  assert path == os.path.join(str(tmp_path), 'samples', 'step_0002400.png')
  assert os.path.isdir(os.path.dirname(path))


def test_a_resumed_run_appends_after_a_line_a_killed_run_cut_short(tmp_path):
  workdir = str(tmp_path)
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    f.write('{"step": 1, "train/loss": 0.5}\n{"step": 2, "tr')  # Killed mid-write.
  with run_folder.open_metrics_for_append(workdir) as f:  # What the resumed run's writer does.
    f.write('{"step": 2, "train/loss": 0.4}\n{"step": 3, "train/loss": 0.3}\n')
  steps, values = run_folder.read_metrics(workdir)['train/loss']
  assert steps.tolist() == [1, 2, 3] and values.tolist() == [0.5, 0.4, 0.3]
  with run_folder.open_metrics_for_append(workdir) as f:  # A whole last line: nothing added.
    f.write('{"step": 4, "train/loss": 0.2}\n')
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    assert f.read().count('\n') == 5


def test_baselines_are_read_back_only_for_their_dataset_and_size(tmp_path):
  workdir = str(tmp_path)
  assert run_folder.read_baselines(workdir, 'synthetic_abc', 4) is None
  baselines = dict(threshold=np.float32(0.25), mean_depth=np.full((4, 4, 1), 0.5, np.float32))
  run_folder.write_baselines(workdir, 'synthetic_abc', baselines)
  assert os.listdir(workdir) == ['baselines.npz']
  read = run_folder.read_baselines(workdir, 'synthetic_abc', 4)
  assert float(read['threshold']) == 0.25 and read['mean_depth'].shape == (4, 4, 1)
  assert run_folder.read_baselines(workdir, 'synthetic_other', 4) is None
  assert run_folder.read_baselines(workdir, 'synthetic_abc', 8) is None


def test_a_damaged_baselines_file_reads_as_none_so_they_are_fit_again(tmp_path):
  workdir = str(tmp_path)
  run_folder.write_baselines(workdir, 'synthetic_abc', dict(
      threshold=np.float32(0.25), mean_depth=np.zeros((4, 4, 1), np.float32)))
  file_path = os.path.join(workdir, 'baselines.npz')
  with open(file_path, 'r+b') as f:
    f.truncate(os.path.getsize(file_path) // 2)
  assert run_folder.read_baselines(workdir, 'synthetic_abc', 4) is None
