"""Where a train step's time goes, per zoo model, and what logging every step costs.

  python benchmarks/step_profile.py           # every model, config batch, 10 repeats
  python benchmarks/step_profile.py --quick   # dmnet_cnn, batch 4: under two minutes
  python benchmarks/step_profile.py --models unet,dmnet_resnet

For each zoo model, at its config's image size (`configs/<name>.py`, the `dmnet_`
prefix dropped; `configs/base.py` with `model.name` overridden where no such file
exists, which the output says), prints the forward / loss / backward / optimizer split
of one train step (`training/profile.py`) on random uint8 batches, so no dataset is
needed. Then, for dmnet_cnn, the steps/s of a loop that fetches the metrics to the
host every step against one that fetches every 100 steps. The last line is one JSON
object. Compiling the four timed functions takes most of the time (about a minute per
model on a 2-core CPU), so `--quick` profiles dmnet_cnn only and lists the others as
`skipped_models`.
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
from common import STATS, random_batch  # pylint: disable=g-import-not-at-top
from configs import base  # pylint: disable=g-import-not-at-top
from training import loop  # pylint: disable=g-import-not-at-top
from training import profile  # pylint: disable=g-import-not-at-top

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


def make_experiment(config, batch_size: int):
  """A `loop.Experiment` for `config` with the stand-in statistics."""
  config.train.batch_size = batch_size
  return loop.prepare(config, types.SimpleNamespace(stats=STATS))


def steps_per_s(experiment, state, batches, steps: int, fetch_every: int):
  """Runs `steps` train steps, fetching the metrics every `fetch_every`; (rate, state)."""
  start = time.perf_counter()
  for i in range(steps):
    state, metrics = experiment.train_step(state, experiment.place(batches[i % len(batches)]))
    if (i + 1) % fetch_every == 0:
      jax.device_get(metrics)
  jax.block_until_ready((state, metrics))
  return steps / (time.perf_counter() - start), state


def profile_model(name: str, batch_size: int | None, repeats: int, rng):
  """The step timing split of zoo model `name`; (figures, experiment, state)."""
  config, source = model_config(name)
  batch_size = batch_size or config.train.batch_size
  experiment = make_experiment(config, batch_size)
  state = experiment.init_state()
  batch = random_batch(rng, batch_size, config.data.image_size)
  split = profile.step_timing_split(experiment, state, batch, repeats=repeats)
  figures = dict(config=source, batch_size=batch_size, image_size=config.data.image_size,
                 **split, images_per_s=batch_size / split['total_ms'] * 1e3)
  return figures, experiment, state


def logging_overhead(experiment, state, steps: int, rounds: int, rng) -> dict:
  """Steps/s of a loop fetching the metrics to the host every step vs every 100."""
  config = experiment.config
  batches = [random_batch(rng, config.train.batch_size, config.data.image_size)
             for _ in range(4)]
  _, state = steps_per_s(experiment, state, batches, 2, 1)  # Compiles, if not yet.
  every_step, every_100 = [], []
  for _ in range(rounds):  # Alternating, so a change in load hits both.
    rate, state = steps_per_s(experiment, state, batches, steps, 1)
    every_step.append(rate)
    rate, state = steps_per_s(experiment, state, batches, steps, 100)
    every_100.append(rate)
  each, hundred = statistics.median(every_step), statistics.median(every_100)
  return dict(model=experiment.config.model.name, batch_size=experiment.config.train.batch_size,
              steps=steps, rounds=rounds, fetch_every_step_steps_per_s=each,
              fetch_every_100_steps_per_s=hundred, slowdown=1 - each / hundred)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true',
                      help=f'{LOGGING_MODEL} only, batch 4, 2 repeats: under two minutes '
                      'on a small CPU (compiling each model takes most of the time)')
  parser.add_argument('--models', default='',
                      help='comma-separated zoo models (default: all; --quick: '
                      f'{LOGGING_MODEL})')
  args = parser.parse_args(argv)
  repeats, batch_size, loop_steps, rounds = (
      (2, 4, 30, 1) if args.quick else (10, None, 300, 3))
  names = ([n for n in args.models.split(',') if n] or
           ([LOGGING_MODEL] if args.quick else zoo.names()))
  rng = np.random.default_rng(0)
  device = jax.devices()[0]
  print(f'device: {device.device_kind} x{jax.device_count()} ({jax.default_backend()})')

  results, experiments = {}, {}
  for name in names:
    figures, experiment, state = profile_model(name, batch_size, repeats, rng)
    results[name], experiments[name] = figures, (experiment, state)
    print(f'{name:<14} {figures["image_size"]}px batch {figures["batch_size"]}: ' +
          ' '.join(f'{k[:-3]} {figures[k]:7.2f} ms' for k in profile.SPLIT_KEYS) +
          f'  [{figures["config"]}]', flush=True)

  if LOGGING_MODEL not in experiments:
    experiments[LOGGING_MODEL] = profile_model(LOGGING_MODEL, batch_size, 1, rng)[1:]
  overhead = logging_overhead(*experiments[LOGGING_MODEL], loop_steps, rounds, rng)
  print(f'{LOGGING_MODEL} batch {overhead["batch_size"]}, {loop_steps} steps: metrics '
        f'fetched every step {overhead["fetch_every_step_steps_per_s"]:.2f} steps/s, '
        f'every 100 steps {overhead["fetch_every_100_steps_per_s"]:.2f} steps/s '
        f'(slowdown {overhead["slowdown"]:+.1%})', flush=True)
  skipped = sorted(set(zoo.names()) - set(results))
  print(json.dumps(dict(device=f'{device.device_kind} ({jax.default_backend()})',
                        quick=args.quick, repeats=repeats, models=results,
                        skipped_models=skipped, logging_overhead=overhead)))


if __name__ == '__main__':
  main()
