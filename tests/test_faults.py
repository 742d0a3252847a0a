"""Faults a user meets: killed runs, lost checkpoint files, full disks, NaN losses.

Each case runs the tiny config in a subprocess (tests/helpers/run_with_fault.py) so a
real SIGKILL can hit it, and compares with one uninterrupted run.
"""
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

HELPER = os.path.join(os.path.dirname(__file__), 'helpers', 'run_with_fault.py')


def run(data_dir, workdir, fault='none', at=None):
  args = [sys.executable, HELPER, data_dir, str(workdir), fault]
  if at is not None:
    args.append(str(at))
  return subprocess.run(args, capture_output=True, text=True, timeout=600)


def final_params(workdir):
  with np.load(os.path.join(workdir, 'final_params.npz')) as saved:
    return dict(saved)


def assert_same_params(a, b):
  assert a.keys() == b.keys()
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('faults_data'))


@pytest.fixture(scope='module')
def uninterrupted(data_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp('uninterrupted')
  result = run(data_dir, workdir)
  assert result.returncode == 0, result.stderr[-3000:]
  return final_params(workdir)


@pytest.mark.parametrize('fault, at', [('kill_at_step', 5), ('kill_in_checkpoint', 4)])
def test_a_run_killed_with_sigkill_resumes_to_identical_parameters(
    data_dir, uninterrupted, tmp_path, fault, at):
  killed = run(data_dir, tmp_path, fault, at)
  assert killed.returncode == -signal.SIGKILL
  resumed = run(data_dir, tmp_path)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resuming from step' in resumed.stdout
  assert_same_params(uninterrupted, final_params(tmp_path))


@pytest.mark.parametrize('fault, signum', [('sigterm_at_step', signal.SIGTERM),
                                           ('sigint_at_step', signal.SIGINT)])
def test_sigterm_or_ctrl_c_saves_a_checkpoint_and_exits_cleanly(
    data_dir, uninterrupted, tmp_path, fault, signum):
  stopped = run(data_dir, tmp_path, fault, 3)
  assert stopped.returncode == 128 + signum, stopped.stderr[-3000:]
  assert f'{signal.Signals(signum).name}: saving a checkpoint' in stopped.stdout
  assert 'stopped at step 3; checkpoint saved' in stopped.stdout
  assert '3' in os.listdir(tmp_path / 'checkpoints')
  if signum == signal.SIGTERM:  # Both stop through the same code; one resume shows it.
    resumed = run(data_dir, tmp_path)
    assert 'resuming from step 3' in resumed.stdout
    assert_same_params(uninterrupted, final_params(tmp_path))


@pytest.fixture(scope='module')
def stopped_at_5(data_dir, tmp_path_factory):
  """A run stopped cleanly after step 5 (checkpoints 4 and 5); tests work on copies."""
  workdir = tmp_path_factory.mktemp('stopped_at_5')
  stopped = run(data_dir, workdir, 'sigterm_at_step', 5)
  assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
  return workdir


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(
    data_dir, uninterrupted, stopped_at_5, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(stopped_at_5, workdir)
  latest = workdir / 'checkpoints' / '5' / 'state'
  victim = max((p for p in latest.rglob('*') if p.is_file()), key=lambda p: p.stat().st_size)
  with open(victim, 'r+b') as f:  # Truncate the largest array file to half.
    f.truncate(victim.stat().st_size // 2)
  resumed = run(data_dir, workdir)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'checkpoint 5' in resumed.stdout and 'falling back' in resumed.stdout
  assert 'resuming from step 4' in resumed.stdout
  assert_same_params(uninterrupted, final_params(workdir))


def test_a_deleted_checkpoint_file_falls_back_too(data_dir, stopped_at_5, tmp_path):
  workdir = tmp_path / 'run'
  shutil.copytree(stopped_at_5, workdir)
  shutil.rmtree(workdir / 'checkpoints' / '5' / 'state')
  resumed = run(data_dir, workdir)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'falling back' in resumed.stdout and 'resuming from step 4' in resumed.stdout


def test_a_full_disk_is_one_clear_error_and_keeps_earlier_checkpoints(data_dir, tmp_path):
  result = run(data_dir, tmp_path, 'disk_full_at_step', 4)
  assert result.returncode == 2
  last_line = result.stderr.strip().splitlines()[-1]
  assert 'could not write checkpoint 4' in last_line
  assert 'No space left on device' in last_line and 'intact' in last_line
  assert '2' in os.listdir(tmp_path / 'checkpoints')


def test_a_write_the_kernel_refuses_in_orbaxs_writer_is_one_clear_error(
    data_dir, uninterrupted, tmp_path):
  result = run(data_dir, tmp_path, 'file_limit_at_step', 4)
  assert result.returncode == 2, result.stderr[-3000:]
  # orbax's and tensorstore's writer threads print their own tracebacks as they fail, in
  # no fixed order with ours; the run's own report is one line.
  errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
  assert len(errors) == 1, result.stderr[-3000:]
  assert errors[0].startswith('error: could not write checkpoint 4 '), errors[0]
  assert 'File too large' in errors[0] and 'intact (steps: 2)' in errors[0], errors[0]
  assert "os_error_code='27'" in result.stderr  # It came through tensorstore, not an OSError.
  assert '4' not in os.listdir(tmp_path / 'checkpoints')
  # Nothing half-written passes for a checkpoint: run again, it resumes from step 2 and
  # ends where an uninterrupted run does.
  resumed = run(data_dir, tmp_path)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resuming from step 2' in resumed.stdout
  assert_same_params(uninterrupted, final_params(tmp_path))


def test_only_a_refused_write_counts_as_one():
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  refused = ValueError('OUT_OF_RANGE: Error writing local file "x": Failed to write 18102 '
                       "bytes to file 9: File too large [os_error_code='27']")
  assert checkpoint_lib._os_error_text(refused) == 'File too large'  # pylint: disable=protected-access
  assert checkpoint_lib._os_error_text(OSError(28, 'No space left on device')) == (  # pylint: disable=protected-access
      'No space left on device')
  for other in (ValueError('Checkpoint for step 4 already exists.'),
                ValueError("Error reading file [os_error_code='2']")):
    assert checkpoint_lib._os_error_text(other) is None  # pylint: disable=protected-access


def test_a_nan_loss_stops_with_its_step_and_keeps_the_last_good_checkpoint(
    data_dir, tmp_path):
  result = run(data_dir, tmp_path, 'nan_at_step', 3)
  assert result.returncode == 2
  last_line = result.stderr.strip().splitlines()[-1]
  assert 'NaN or Inf at step 3' in last_line
  steps = sorted(int(s) for s in os.listdir(tmp_path / 'checkpoints') if s.isdigit())
  assert steps == [2]
  with open(tmp_path / 'metrics.jsonl') as f:
    logged = [json.loads(line) for line in f]
  assert all(np.isfinite(line['train/loss']) for line in logged
             if 'train/loss' in line and line['step'] < 3)
