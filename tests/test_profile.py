"""The step timing split, and the `train.profile` switch of a real run."""
import glob
import json
import os
import types

import jax
import numpy as np
import pytest

from tests.conftest import tiny_config
from training import loop
from training import profile

PARTS = ('forward_ms', 'loss_ms', 'backward_ms', 'optimizer_ms')


def small_config(data_dir):
  """`tiny_config` with a one-level dmnet_cnn and no augmentation.

  Compiling dominates these tests, and color_jitter alone adds seconds to each of
  the four functions the split compiles.
  """
  config = tiny_config(data_dir)
  config.model.widths = (8,)
  config.model.dilations = (1,)
  config.data.augment = []
  return config


def _check_split(split):
  assert set(split) == set(profile.SPLIT_KEYS)
  assert all(np.isfinite(v) and v >= 0 for v in split.values()), split
  assert split['forward_ms'] > 0 and split['total_ms'] > 0, split
  # Parts are differences of neighbouring medians, so they add up to the whole step's
  # median exactly; a part that timing noise made negative reads 0, which can only add.
  parts = [split[k] for k in PARTS]
  if all(part > 0 for part in parts[1:]):
    assert sum(parts) == pytest.approx(split['total_ms'], rel=1e-9), split
  else:
    assert sum(parts) >= split['total_ms'] * (1 - 1e-9), split


def test_step_timing_split_is_positive_and_adds_up_to_the_step(tiny_data_dir):
  config = small_config(tiny_data_dir)
  stats = {key: dict(mean=[0.5] * 3, std=[0.25] * 3) for key in ('bg', 'fg_bg')}
  experiment = loop.prepare(config, types.SimpleNamespace(stats=stats))
  state = experiment.init_state()
  rng = np.random.default_rng(0)
  size, batch_size = config.data.image_size, config.train.batch_size
  batch = {key: rng.integers(0, 256, (batch_size, size, size, channels), np.uint8)
           for key, channels in (('bg', 3), ('fg_bg', 3), ('mask', 1), ('depth', 1))}
  split = profile.step_timing_split(experiment, state, batch, repeats=3)
  _check_split(split)
  assert int(jax.device_get(state.step)) == 0  # Not donated, not advanced.
  state, _ = experiment.train_step(state, experiment.place(batch))
  assert int(jax.device_get(state.step)) == 1


def test_a_run_with_profile_on_logs_the_split_and_writes_a_trace(tiny_data_dir, tmp_path):
  config = small_config(tiny_data_dir)
  config.train.update(profile=True, profile_steps=2)
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  profiled = [r for r in records if 'profile/forward_ms' in r]
  assert [r['step'] for r in profiled] == [config.train.log_every]  # Once, first log.
  _check_split({k: profiled[0][f'profile/{k}'] for k in profile.SPLIT_KEYS})
  step_times = [r['train/step_time_ms'] for r in records if 'train/loss' in r]
  assert len(step_times) == 3 and all(t > 0 for t in step_times)
  traces = glob.glob(os.path.join(workdir, 'tb', 'plugins', 'profile', '*', '*.xplane.pb'))
  assert traces and os.path.getsize(traces[0]) > 0
