"""Data parallelism: 4 simulated CPU devices train like one device on the same batches."""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPER = os.path.join(ROOT, 'tests', 'helpers', 'run_with_fault.py')


def train_on(devices, data_dir, workdir):
  """Trains the tiny config on `devices` simulated devices; returns its logged numbers.

  Plain SGD, logged every step: Adam divides by the root of tiny second moments, which
  turns float rounding differences of the reductions into visible ones after a few
  steps; SGD keeps them at rounding level, which is what this test is about. For the
  same reason color_jitter is left out: its hue step branches on which channel is
  largest, so a rounding difference in a grey pixel can change that pixel's hue.
  """
  env = dict(os.environ, XLA_FLAGS=f'{os.environ.get("XLA_FLAGS", "")} '
             f'--xla_force_host_platform_device_count={devices}')
  result = subprocess.run([sys.executable, HELPER, data_dir, str(workdir), 'none', '--set',
                           'optimizer.name=sgd', 'optimizer.lr=0.05', 'train.log_every=1',
                           'data.augment=hflip,random_resized_crop,rotate,cutout'],
                          env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    lines = [json.loads(line) for line in f]
  with open(os.path.join(workdir, 'placement.json')) as f:
    placement = json.load(f)
  return ({line['step']: line['train/loss'] for line in lines if 'train/loss' in line},
          {line['step']: line['eval/mask_iou'] for line in lines if 'eval/mask_iou' in line},
          placement)


def test_four_devices_give_the_loss_curve_of_one(tiny_data_dir, tmp_path):
  one_loss, one_eval, one_placement = train_on(1, tiny_data_dir, tmp_path / 'one')
  four_loss, four_eval, four_placement = train_on(4, tiny_data_dir, tmp_path / 'four')
  # The batch of 4 really was split, one row per device, under replicated parameters.
  assert four_placement == dict(device_count=4, bg_shard_rows=[1, 1, 1, 1],
                                params_devices=4, params_fully_replicated=True)
  assert one_placement == dict(device_count=1, bg_shard_rows=[4], params_devices=1,
                               params_fully_replicated=True)
  assert one_loss.keys() == four_loss.keys() and len(one_loss) == 6
  np.testing.assert_allclose([four_loss[s] for s in sorted(four_loss)],
                             [one_loss[s] for s in sorted(one_loss)], rtol=1e-4)
  np.testing.assert_allclose(list(four_eval.values()), list(one_eval.values()), atol=1e-3)


def test_a_batch_the_devices_cannot_split_is_refused_by_name():
  env = dict(os.environ, XLA_FLAGS=f'{os.environ.get("XLA_FLAGS", "")} '
             '--xla_force_host_platform_device_count=4')
  result = subprocess.run(
      [sys.executable, 'run.py', '--config', 'configs/cnn.py', '--mode', 'summary',
       '--config.train.batch_size=6'], cwd=ROOT, env=env, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 2
  assert ('train.batch_size: 6 is not divisible by the 4 devices'
          in result.stderr.strip().splitlines()[-1])
