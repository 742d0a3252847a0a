"""Several JAX processes: start-up flags, cluster detection and each process's share of
the test batches. tests/test_devices.py trains a run in two processes."""
import os
import subprocess
import sys

import numpy as np
import pytest

from datasets import pipeline
from tests.conftest import free_port
from training import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLURM_JOB = dict(SLURM_JOB_ID='1234', SLURM_STEP_NODELIST='node[1-2]', SLURM_PROCID='0',
                 SLURM_LOCALID='0')


def test_a_multi_process_run_needs_all_three_flags():
  with pytest.raises(distributed.DistributedSetupError,
                     match='missing: --coordinator_address, --process_id'):
    distributed.initialize(num_processes=2)
  with pytest.raises(distributed.DistributedSetupError,
                     match='--process_id must be in 0..1 for --num_processes=2; got 2'):
    distributed.initialize('localhost:1234', 2, 2)


def test_one_process_runs_alone_whatever_is_detected(monkeypatch):
  for key, value in dict(SLURM_JOB, SLURM_NTASKS='2').items():
    monkeypatch.setenv(key, value)
  assert distributed.detected_cluster() == ('SlurmCluster', 2)
  assert distributed.initialize(num_processes=1) == 1
  # Modes other than training never join a detected cluster (run.py: detect=False).
  assert distributed.initialize(detect=False) == 1


def test_where_jaxs_private_cluster_detection_moved_nothing_is_detected(monkeypatch):
  from jax._src.clusters import cluster  # pylint: disable=g-import-not-at-top
  for key, value in dict(SLURM_JOB, SLURM_NTASKS='2').items():
    monkeypatch.setenv(key, value)
  monkeypatch.delattr(cluster.ClusterEnv, '_cluster_types')
  assert distributed.detected_cluster() is None


def test_a_cluster_of_one_task_is_no_cluster(monkeypatch):
  for key, value in dict(SLURM_JOB, SLURM_NTASKS='1').items():
    monkeypatch.setenv(key, value)
  assert distributed.detected_cluster() is None
  assert distributed.initialize() == 1


def test_one_process_holds_every_row():
  assert distributed.process_rows(8) == slice(0, 8)
  tree = dict(a=np.arange(3))
  assert distributed.to_host(tree)['a'].tolist() == [0, 1, 2]
  assert distributed.any_process(True) and not distributed.any_process(False)


def test_the_last_test_batch_is_filled_up_with_its_first_sample():
  batches = pipeline.padded_batch_indices(10, 4)
  assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 8]]
  assert pipeline.padded_batch_indices(0, 4) == []


def _samples(count, size=8):
  """`count` samples whose every pixel holds the sample's index."""
  return [{key: np.full((size, size, 1 if key in ('mask', 'depth') else 3), i, np.uint8)
           for key in pipeline.IMAGE_KEYS} for i in range(count)]


def test_each_process_reads_only_its_rows_of_every_test_batch():
  source = _samples(10)
  for rows, expected in ((slice(0, 2), [[0, 1], [4, 5], [8, 9]]),
                         (slice(2, 4), [[2, 3], [6, 7], [8, 8]])):
    read = list(pipeline.process_eval_batches(source, image_size=8, batch_size=4, rows=rows))
    assert [batch['bg'][:, 0, 0, 0].tolist() for batch, _ in read] == expected
    assert [real for _, real in read] == [4, 4, 2]


def test_run_py_names_the_missing_multi_process_flags():
  result = subprocess.run(
      [sys.executable, 'run.py', '--mode', 'summary', '--num_processes=2'], cwd=ROOT,
      capture_output=True, text=True, timeout=300)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      'error: a multi-process run needs --coordinator_address, --num_processes and '
      '--process_id together; missing: --coordinator_address, --process_id')


def test_only_training_spans_several_processes():
  address = f'localhost:{free_port()}'
  processes = [subprocess.Popen(
      [sys.executable, 'run.py', '--mode', 'summary', f'--coordinator_address={address}',
       '--num_processes=2', f'--process_id={index}'], cwd=ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True) for index in range(2)]
  for process in processes:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        'error: --mode summary runs in one process, not 2: only training a single run '
        'spans several hosts; run this without --num_processes (or with --num_processes=1)')


class CountingSource(list):
  """A list of samples that records which indices were read."""

  def __init__(self, samples):
    super().__init__(samples)
    self.read = []

  def __getitem__(self, index):
    self.read.append(index)
    return super().__getitem__(index)


def test_each_process_reads_only_its_rows_of_every_train_batch():
  whole = pipeline.ReadRows(_samples(10), None, start=0, size=4).map(np.array([7, 2, 9, 0]))
  halves = []
  for start in (0, 2):
    source = CountingSource(_samples(10))
    halves.append(pipeline.ReadRows(source, None, start=start, size=2).map(
        np.array([7, 2, 9, 0])))
    assert source.read == [[7, 2], [9, 0]][start // 2]
  for key in pipeline.IMAGE_KEYS:
    np.testing.assert_array_equal(np.concatenate([half[key] for half in halves]), whole[key])
  assert whole['bg'][:, 0, 0, 0].tolist() == [7, 2, 9, 0]
