"""Data parallelism: 4 simulated CPU devices train like one device on the same batches,
and two JAX processes of 2 devices each train like one process of 4."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPER = os.path.join(ROOT, 'tests', 'helpers', 'run_with_fault.py')
# Plain SGD, logged every step: Adam divides by the root of tiny second moments, which
# turns float rounding differences of the reductions into visible ones after a few
# steps; SGD keeps them at rounding level, which is what these tests are about. For the
# same reason color_jitter is left out: its hue step branches on which channel is
# largest, so a rounding difference in a grey pixel can change that pixel's hue.
SETTINGS = ['--set', 'optimizer.name=sgd', 'optimizer.lr=0.05', 'train.log_every=1',
            'data.augment=hflip,random_resized_crop,rotate,cutout']


def device_env(devices: int) -> dict[str, str]:
  """The environment of a process with `devices` simulated CPU devices."""
  return dict(os.environ, XLA_FLAGS=f'{os.environ.get("XLA_FLAGS", "")} '
              f'--xla_force_host_platform_device_count={devices}')


def logged(workdir):
  """The run's train loss and test mask IoU by step, and where its first step ran."""
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    lines = [json.loads(line) for line in f]
  with open(os.path.join(workdir, 'placement.json')) as f:
    placement = json.load(f)
  return ({line['step']: line['train/loss'] for line in lines if 'train/loss' in line},
          {line['step']: line['eval/mask_iou'] for line in lines if 'eval/mask_iou' in line},
          placement)


def train_on(devices, data_dir, workdir):
  """Trains the tiny config on `devices` simulated devices; returns `logged(workdir)`."""
  result = subprocess.run([sys.executable, HELPER, data_dir, str(workdir), 'none', *SETTINGS],
                          env=device_env(devices), capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return logged(workdir)


def train_in_processes(data_dir, workdir, faults):
  """Trains the tiny config in len(faults) JAX processes of 2 devices each, on localhost.

  `faults[i]` is process i's fault (`tests/helpers/run_with_fault.py`), e.g. ['none',
  'none'] or [['sigterm_at_step', '3'], 'none']. Returns each process's exit code.
  """
  address = f'localhost:{free_port()}'
  processes = [
      subprocess.Popen([sys.executable, HELPER, data_dir, str(workdir),
                        *([fault] if isinstance(fault, str) else fault), *SETTINGS,
                        '--distributed', f'{address},{len(faults)},{index}'],
                       env=device_env(2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
      for index, fault in enumerate(faults)]
  outputs = [process.communicate(timeout=600)[0] for process in processes]
  for process, output in zip(processes, outputs):
    assert process.returncode in (0, 143), output[-3000:]
  return [process.returncode for process in processes]


@pytest.fixture(scope='module')
def one_process_four_devices(tiny_data_dir, tmp_path_factory):
  """The tiny run in one process with 4 devices: `logged(workdir)` and its workdir."""
  workdir = tmp_path_factory.mktemp('four')
  return train_on(4, tiny_data_dir, workdir), workdir


def test_four_devices_give_the_loss_curve_of_one(tiny_data_dir, tmp_path,
                                                 one_process_four_devices):
  one_loss, one_eval, one_placement = train_on(1, tiny_data_dir, tmp_path / 'one')
  (four_loss, four_eval, four_placement), _ = one_process_four_devices
  # The batch of 4 really was split, one row per device, under replicated parameters.
  assert four_placement == dict(device_count=4, process_count=1, bg_shard_rows=[1, 1, 1, 1],
                                params_devices=4, params_fully_replicated=True)
  assert one_placement == dict(device_count=1, process_count=1, bg_shard_rows=[4], params_devices=1,
                               params_fully_replicated=True)
  assert one_loss.keys() == four_loss.keys() and len(one_loss) == 6
  np.testing.assert_allclose([four_loss[s] for s in sorted(four_loss)],
                             [one_loss[s] for s in sorted(one_loss)], rtol=1e-4)
  np.testing.assert_allclose(list(four_eval.values()), list(one_eval.values()), atol=1e-3)


def test_two_processes_train_like_one_and_resume_exactly_after_a_signal(
    tiny_data_dir, tmp_path, one_process_four_devices):
  (one_loss, one_eval, _), one_workdir = one_process_four_devices
  workdir = tmp_path / 'two'
  # SIGTERM reaches process 0 alone, after step 3: both stop there together.
  assert train_in_processes(tiny_data_dir, workdir,
                            [['sigterm_at_step', '3'], 'none']) == [143, 0]
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['2', '3']
  assert not os.path.exists(workdir / 'eval_metrics.json')
  assert train_in_processes(tiny_data_dir, workdir, ['none', 'none']) == [0, 0]

  loss, evals, placement = logged(workdir)
  # Each process held 2 rows of the global batch of 4, one per device.
  assert placement == dict(device_count=4, process_count=2, bg_shard_rows=[1, 1],
                           params_devices=4, params_fully_replicated=True)
  # Only process 0 logged: one line per step, steps 1-3 before the stop, 4-6 after.
  assert sorted(loss) == sorted(one_loss) == [1, 2, 3, 4, 5, 6]
  np.testing.assert_allclose([loss[s] for s in sorted(loss)],
                             [one_loss[s] for s in sorted(one_loss)], rtol=1e-5)
  np.testing.assert_allclose(list(evals.values()), list(one_eval.values()), atol=1e-5)
  with open(workdir / 'eval_metrics.json') as f:
    assert json.load(f)['num_samples'] == 16  # Every test sample once, none twice.
  ours, theirs = np.load(workdir / 'final_params.npz'), np.load(one_workdir / 'final_params.npz')
  for key in theirs.files:
    np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, err_msg=key)

  # Resuming it in one process is refused by name: each process's place in the data
  # is saved on its own.
  result = subprocess.run([sys.executable, HELPER, tiny_data_dir, str(workdir), 'none',
                           *SETTINGS], env=device_env(4), capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 2
  assert ('was written by 2 JAX processes and 1 run now: resume with --num_processes=2'
          in result.stderr.strip().splitlines()[-1])


def test_a_batch_the_devices_cannot_split_is_refused_by_name():
  env = device_env(4)
  result = subprocess.run(
      [sys.executable, 'run.py', '--config', 'configs/cnn.py', '--mode', 'summary',
       '--config.train.batch_size=6'], cwd=ROOT, env=env, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 2
  assert ('train.batch_size: 6 is not divisible by the 4 devices'
          in result.stderr.strip().splitlines()[-1])
