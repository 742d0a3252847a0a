"""A run's folder: files read before they exist, written whole, named in one place."""
import json
import os

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
