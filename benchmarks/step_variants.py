"""A/B of our train step against variants of itself: XLA options and the upsampling.

  python benchmarks/step_variants.py                      # dmnet_cnn, every variant
  python benchmarks/step_variants.py --quick              # current, current_again, resize; 2 rounds
  python benchmarks/step_variants.py --models dmnet_cnn,unet --variants current,resize

Every variant of a model is compiled in this one process (no torch here, so nothing
else's allocations or threads sit between them), then all are timed in turns, `--rounds`
rounds of `--steps` steps each; medians in ms/step. `current` appears twice (`current`,
`current_again`): the gap between those two is the run's noise, and a variant that
differs by less than it has not shown anything. Variants:
  current          the train step as `training.loop.prepare` builds it.
  resize           decoder upsampling by `jax.image.resize` instead of the fused
                   stencil in `zoo.layers.upsample` (same values).
  no_ynn           no YNNPACK fusion at all (jax 0.10's CPU library).
  ynn_convs        YNNPACK for convolutions too (jax 0.10's default).
  onednn, fast_math, vector_512, concurrency_scheduler: one more XLA CPU option each.
  bfloat16         the model computes in bfloat16 (`--config.model.dtype=bfloat16`).
The last line is one JSON object.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(HERE), HERE):
  if path not in sys.path:
    sys.path.insert(0, path)

import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

import common  # pylint: disable=g-import-not-at-top
import train_speed  # pylint: disable=g-import-not-at-top
from training import steps  # pylint: disable=g-import-not-at-top
from zoo import layers  # pylint: disable=g-import-not-at-top

CURRENT = dict(steps.CPU_TRAIN_COMPILER_OPTIONS)
XLA_OPTIONS = {
    'current': CURRENT,
    'current_again': CURRENT,
    'resize': CURRENT,
    'no_ynn': {'xla_cpu_experimental_ynn_fusion_type': ''},
    'ynn_convs': {'xla_cpu_experimental_ynn_fusion_type':
                  CURRENT['xla_cpu_experimental_ynn_fusion_type']
                  + ',LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION'},
    'onednn': dict(CURRENT, xla_cpu_use_onednn=True),
    'fast_math': dict(CURRENT, xla_cpu_enable_fast_math=True),
    'vector_512': dict(CURRENT, xla_cpu_prefer_vector_width=512),
    'concurrency_scheduler': dict(CURRENT, xla_cpu_enable_concurrency_optimized_scheduler=True),
    'bfloat16': CURRENT,
}


def resize_upsample(x, like):
  """`zoo.layers.upsample` as it was: `jax.image.resize` for every size."""
  n, _, _, c = x.shape
  _, h, w, _ = like.shape
  return jax.image.resize(x, (n, h, w, c), 'bilinear')


def build(model: str, variant: str, rng) -> train_speed.OursRunner:
  """Traces and compiles `variant` of `model`'s train step (tracing sees the patch)."""
  stencil = layers.upsample
  if variant == 'resize':
    layers.upsample = resize_upsample
  try:
    config = train_speed.benchmark_config(model, argparse.Namespace(
        no_augment=False, dtype='bfloat16' if variant == 'bfloat16' else ''))
    return train_speed.OursRunner(config, rng, compiler_options=XLA_OPTIONS[variant])
  finally:
    layers.upsample = stencil


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true',
                      help='current, current_again and resize only, 2 rounds (under 2 min)')
  parser.add_argument('--models', default='dmnet_cnn')
  parser.add_argument('--variants', default='',
                      help=f'comma-separated, of {", ".join(XLA_OPTIONS)} (default: all)')
  parser.add_argument('--rounds', type=int, default=0, help='default 5; --quick 2')
  parser.add_argument('--steps', type=int, default=3)
  args = parser.parse_args(argv)
  args.variants = args.variants or (
      'current,current_again,resize' if args.quick else ','.join(XLA_OPTIONS))
  args.rounds = args.rounds or (2 if args.quick else 5)
  variants = [v for v in args.variants.split(',') if v]
  if 'current' not in variants:
    variants.insert(0, 'current')
  rng = np.random.default_rng(0)
  runners = {}
  for model in args.models.split(','):
    for variant in variants:
      runners[f'{model}/{variant}'] = build(model, variant, rng)
      print(f'{model}/{variant}: compiled in {runners[f"{model}/{variant}"].compile_s:.1f} s',
            flush=True)
  times = common.time_in_turns(runners, args.rounds, args.steps)
  result = {name: round(statistics.median(values), 1) for name, values in times.items()}
  for name, ms in result.items():
    print(f'{name:40s} {ms:8.1f} ms/step  rounds {[round(t) for t in times[name]]}')
  print(json.dumps(dict(ms_per_step=result, rounds=times, load_avg=os.getloadavg())))


if __name__ == '__main__':
  main()
