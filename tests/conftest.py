"""Shared fixtures: a tiny synthetic config that builds in seconds."""
import os
import sys
import tempfile

import pytest

# One persistent XLA compilation cache for the whole test session, set before anything
# imports JAX: the many tiny runs (and the training subprocesses, which inherit the
# environment) compile the same steps, and a cached executable loads in milliseconds.
# Only compilations of at least a second are written, so small jitted helpers do not
# fill it with files.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', tempfile.mkdtemp(prefix='jax_cache_'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '1')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)

from configs import base  # pylint: disable=g-import-not-at-top


def tiny_config(data_dir: str):
  """The base config shrunk to 32 px, 32 samples and a few steps."""
  config = base.get_config()
  config.data.data_dir = data_dir
  config.data.image_size = 32
  config.data.build_workers = 1
  config.data.synthetic.update(num_backgrounds=2, num_foregrounds=4, flips=2,
                               placements=2, render_size=32)
  config.train.update(steps=6, batch_size=4, checkpoint_every=3, log_every=2)
  config.eval.update(every=6, batch_size=8, num_grid_samples=2)
  config.schedule.warmup_steps = 2
  # Two cheap random augmentations: enough to check that resuming restores the RNG,
  # without compiling the whole default list into every tiny run (tests/test_augment.py
  # covers each augmentation).
  config.data.augment = [dict(name='hflip', p=0.5), dict(name='cutout', size=0.25, p=0.5)]
  return config


@pytest.fixture(scope='session')
def tiny_data_dir(tmp_path_factory):
  """One data folder per test session, so the tiny dataset is built once."""
  return str(tmp_path_factory.mktemp('tfds'))
