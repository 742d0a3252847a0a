"""Shared fixtures: a tiny synthetic config that builds in seconds."""
import atexit
import os
import shutil
import socket
import sys
import tempfile

import pytest

# One persistent XLA compilation cache for the whole test session, set before anything
# imports JAX: the many tiny runs (and the training subprocesses, which inherit the
# environment) compile the same steps, and a cached executable loads in milliseconds.
# Only compilations of at least a second are written, so small jitted helpers do not
# fill it with files.
# The process that makes the folder removes it when it exits (xdist workers and training
# subprocesses inherit the variable and leave it alone), so runs leave nothing in /tmp.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='jax_cache_')
  atexit.register(shutil.rmtree, os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '1')
# The tests' shapes are tiny, so compiling takes most of their time; XLA's backend
# optimizations, which buy speed on real shapes, roughly double the compile time of a
# train step. Results are the same up to float rounding, and every comparison in the
# suite compares runs compiled alike. Subprocesses inherit the flags.
FAST_COMPILE_XLA_FLAGS = ('--xla_backend_optimization_level=0 '
                          '--xla_llvm_disable_expensive_passes=true')
if FAST_COMPILE_XLA_FLAGS not in os.environ.get('XLA_FLAGS', ''):  # xdist workers inherit it.
  os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {FAST_COMPILE_XLA_FLAGS}'.strip()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)

from configs import base  # pylint: disable=g-import-not-at-top


def tiny_config(data_dir: str):
  """The base config shrunk to 32 px, 32 samples, a few steps and a small model.

  Two levels, no global-context block, one loss term per head and Adam: the tiny runs test
  what a run does, not the model or the losses (tests/test_zoo.py, tests/test_export.py
  and tests/test_losses.py do), and a smaller graph compiles faster. tests/test_report.py trains one run with the default losses.
  """
  config = base.get_config()
  config.model.update(widths=(8, 16), dilations=(1, 2), global_context=False)
  config.loss.update(mask='bce_with_logits', depth='l1')
  # Adam: Muon's update compiles to a larger program, and these runs test what a run does;
  # tests/test_optim.py checks Muon's rule and tests/test_train.py resumes a Muon run.
  config.update(base.ADAM)
  config.data.data_dir = data_dir
  config.data.image_size = 32
  config.data.build_workers = 1
  # Every figure in every room: 2 x 4 x 2 x 2 = 32 samples.
  config.data.synthetic.update(num_backgrounds=2, num_foregrounds=4, flips=2,
                               placements=2, render_size=32, foregrounds_per_background=0)
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


def free_port() -> int:
  """A TCP port on 127.0.0.1 that nothing listens on now, for a test's server."""
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]
