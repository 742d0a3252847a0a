"""Where a train step's time goes, per zoo model, and what logging every step costs.

  python benchmarks/step_profile.py           # full: config batch size, 10 repeats
  python benchmarks/step_profile.py --quick   # under two minutes on a small CPU

For every model in `zoo.names()`, at its config's image size (`configs/<name>.py`,
the `dmnet_` prefix dropped; `configs/base.py` with `model.name` overridden where no
such file exists), prints the forward / loss / backward / optimizer split of one
train step (`training/profile.py`) on random uint8 batches, so no dataset is needed.
Then, for dmnet_cnn, the steps/s of a loop that fetches the metrics to the host every
step against one that fetches every 100 steps. The last line is one JSON object.
"""
import argparse
import importlib
import json
import os
import statistics
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)

import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

import zoo  # pylint: disable=g-import-not-at-top
from configs import base  # pylint: disable=g-import-not-at-top
from training import loop  # pylint: disable=g-import-not-at-top
from training import profile  # pylint: disable=g-import-not-at-top

# Random inputs are uniform in [0, 1]; these stand in for a dataset's statistics.
STATS = {key: dict(mean=[0.5] * 3, std=[0.25] * 3) for key in ('bg', 'fg_bg')}
LOGGING_MODEL = 'dmnet_cnn'


def model_config(name: str):
  """(config, where it came from) for zoo model `name`."""
  short = name[len('dmnet_'):] if name.startswith('dmnet_') else name
  path = os.path.join(ROOT, 'configs', f'{short}.py')
  if os.path.exists(path):
    config = importlib.import_module(f'configs.{short}').get_config()
    if config.model.name == name:
      return config, f'configs/{short}.py'
  config = base.get_config()
  config.model.name = name
  return config, f'configs/base.py with model.name={name} (no configs/{short}.py)'


def random_batch(rng: np.random.Generator, batch_size: int, image_size: int):
  """A uint8 batch of the pipeline's shape: uniform noise images, masks and depths."""
  shape = (batch_size, image_size, image_size)
  return dict(bg=rng.integers(0, 256, shape + (3,), np.uint8),
              fg_bg=rng.integers(0, 256, shape + (3,), np.uint8),
              mask=(rng.random(shape + (1,)) > 0.5).astype(np.uint8) * 255,
              depth=rng.integers(0, 256, shape + (1,), np.uint8))


def experiment(config, batch_size: int):
  """A `loop.Experiment` for `config` with the stand-in statistics."""
  config.train.batch_size = batch_size
  return loop.prepare(config, types.SimpleNamespace(stats=STATS))


def steps_per_s(exp, state, batches, steps: int, fetch_every: int):
  """Runs `steps` train steps, fetching the metrics every `fetch_every`; (rate, state)."""
  start = time.perf_counter()
  for i in range(steps):
    state, metrics = exp.train_step(state, exp.place(batches[i % len(batches)]))
    if (i + 1) % fetch_every == 0:
      jax.device_get(metrics)
  jax.block_until_ready((state, metrics))
  return steps / (time.perf_counter() - start), state


def logging_overhead(batch_size: int, steps: int, rounds: int, rng) -> dict:
  """Steps/s of dmnet_cnn fetching metrics every step vs every 100 steps."""
  config, _ = model_config(LOGGING_MODEL)
  exp = experiment(config, batch_size)
  state = exp.init_state()
  batches = [random_batch(rng, batch_size, config.data.image_size) for _ in range(4)]
  _, state = steps_per_s(exp, state, batches, 2, 1)  # Compiles.
  every_step, every_100 = [], []
  for _ in range(rounds):  # Alternating, so a change in load hits both.
    rate, state = steps_per_s(exp, state, batches, steps, 1)
    every_step.append(rate)
    rate, state = steps_per_s(exp, state, batches, steps, 100)
    every_100.append(rate)
  each, hundred = statistics.median(every_step), statistics.median(every_100)
  return dict(model=LOGGING_MODEL, steps=steps, rounds=rounds,
              fetch_every_step_steps_per_s=each, fetch_every_100_steps_per_s=hundred,
              slowdown=1 - each / hundred)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true',
                      help='small batch, few repeats: under two minutes on a small CPU')
  parser.add_argument('--models', default='', help='comma-separated (default: all)')
  args = parser.parse_args(argv)
  repeats, loop_steps, rounds = (2, 20, 1) if args.quick else (10, 300, 3)
  rng = np.random.default_rng(0)
  device = jax.devices()[0]
  print(f'device: {device.device_kind} x{jax.device_count()} ({jax.default_backend()})')

  results = {}
  names = [n for n in args.models.split(',') if n] or zoo.names()
  for name in names:
    config, source = model_config(name)
    batch_size = 4 if args.quick else config.train.batch_size
    exp = experiment(config, batch_size)
    state = exp.init_state()
    batch = random_batch(rng, batch_size, config.data.image_size)
    split = profile.step_timing_split(exp, state, batch, repeats=repeats)
    results[name] = dict(config=source, batch_size=batch_size,
                         image_size=config.data.image_size, **split,
                         images_per_s=batch_size / split['total_ms'] * 1e3)
    print(f'{name:<14} {config.data.image_size}px batch {batch_size}: ' +
          ' '.join(f'{k[:-3]} {v:7.2f} ms' for k, v in split.items()) +
          f'  [{source}]', flush=True)

  batch_size = 4 if args.quick else model_config(LOGGING_MODEL)[0].train.batch_size
  overhead = logging_overhead(batch_size, loop_steps, rounds, rng)
  print(f'{LOGGING_MODEL} batch {batch_size}, {loop_steps} steps: metrics fetched every '
        f'step {overhead["fetch_every_step_steps_per_s"]:.2f} steps/s, every 100 steps '
        f'{overhead["fetch_every_100_steps_per_s"]:.2f} steps/s '
        f'(slowdown {overhead["slowdown"]:+.1%})', flush=True)
  print(json.dumps(dict(device=f'{device.device_kind} ({jax.default_backend()})',
                        quick=args.quick, repeats=repeats, models=results,
                        logging_overhead=overhead)))


if __name__ == '__main__':
  main()
