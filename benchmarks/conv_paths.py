"""Each conv of `make run`'s model timed alone, forward and backward, along four code paths (CPU).

  python benchmarks/conv_paths.py            # 5 rounds of 10 calls per conv and path
  python benchmarks/conv_paths.py --quick    # 2 rounds of 5 calls: under two minutes

Every 3 x 3 convolution of dmnet_cnn at widths (48, 64, 128) on 64 px images, batch 8
(`configs/cnn.py`; `python run.py --config configs/cnn.py --mode summary` lists them), each as
`grad(sum(relu(conv(x, w))**2))`: over the kernel and the conv's input, the forward and both
backward convolutions of a train step, but for the first conv, whose input is the data and
has no gradient in a train step (over its kernel only). Compiled along:
- `xla`: `lax.conv_general_dilated` with the train step's XLA options
  (`training.steps.train_compiler_options()`: XLA's own convolutions, YNNPACK for dots and
  reductions);
- `xla_default`: the same conv with jax's default options (YNNPACK for convolutions too);
- `patches`: im2col, the nine shifted views concatenated and one matrix product with the
  kernel, under the train step's options (its dots go to YNNPACK);
- `shifted_dots`: nine matrix products, one per kernel tap, summed, under the same options.
The options are the CPU's: on another backend the train step has none and `xla` and
`xla_default` are one program. The paths run in turns within each round, so a change in the
machine's load falls on all of them; each call is waited for, as a train step's layers wait
for each other. Every path's gradients must equal `xla`'s to 1e-4 of the largest (the JSON
gives each path's largest relative difference). Prints ms per call (median and min-max over
rounds) and each path's time over `xla`'s (the median of the per-round ratios); the last line
is one JSON object.
"""
import argparse
import functools
import json
import os
import statistics
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # pylint: disable=g-import-not-at-top
from jax import lax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from common import spread, time_in_turns  # pylint: disable=g-import-not-at-top
from training import steps  # pylint: disable=g-import-not-at-top

BATCH = 8
# (name in `--mode summary`, side, input features, output features, stride, dilation).
CONVS = (
    ('ConvBlock_0 (inputs, full res)', 64, 9, 48, 1, 1),
    ('ConvBlock_1 (full res)', 64, 48, 48, 1, 1),
    ('ConvBlock_2 (to 1/2, strided)', 64, 48, 64, 2, 1),
    ('ConvBlock_3 (1/2)', 32, 64, 64, 1, 1),
    ('ConvBlock_4 (to 1/4, strided)', 32, 64, 128, 2, 1),
    ('ConvBlock_5 (1/4, dilation 1)', 16, 128, 128, 1, 1),
    ('ConvBlock_6 (1/4, dilation 2)', 16, 128, 128, 1, 2),
    ('ConvBlock_7 (1/4, dilation 4)', 16, 128, 128, 1, 4),
    ('ConvBlock_8 (1/4, dilation 8)', 16, 128, 128, 1, 8),
    ('ConvBlock_9 (1/4, dilation 1)', 16, 128, 128, 1, 1),
    ('GlobalContext (1/4)', 16, 256, 128, 1, 1),
    ('ConvBlock_10 (decoder, 1/2)', 32, 192, 64, 1, 1),
    ('ConvBlock_11 (decoder, full res)', 64, 112, 48, 1, 1),
)
# The first conv sees the data, whose gradient a train step never computes.
DATA_INPUT = 'ConvBlock_0 (inputs, full res)'
MAX_RELATIVE_ERROR = 1e-4


def conv_xla(x, w, stride, dilation):
  """XLA's convolution, 'SAME' padding, NHWC."""
  return lax.conv_general_dilated(x, w, (stride, stride), 'SAME', rhs_dilation=(dilation,) * 2,
                                  dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _taps(x, stride, dilation):
  """The nine views of `x` each kernel tap multiplies, as `conv_xla` pads and strides."""
  height, width = x.shape[1:3]
  out_h, out_w = -(-height // stride), -(-width // stride)
  reach = 2 * dilation  # The kernel's extent minus one.
  pad_h = max((out_h - 1) * stride + reach + 1 - height, 0)
  pad_w = max((out_w - 1) * stride + reach + 1 - width, 0)
  padded = jnp.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                       (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
  return [padded[:, i * dilation:i * dilation + (out_h - 1) * stride + 1:stride,
                 j * dilation:j * dilation + (out_w - 1) * stride + 1:stride]
          for i in range(3) for j in range(3)]


def conv_patches(x, w, stride, dilation):
  """im2col: the nine views side by side, one matrix product with the flattened kernel."""
  columns = jnp.concatenate(_taps(x, stride, dilation), axis=-1)
  return jnp.einsum('nhwk,ko->nhwo', columns, w.reshape(-1, w.shape[-1]))


def conv_shifted_dots(x, w, stride, dilation):
  """One matrix product per kernel tap, summed."""
  views = _taps(x, stride, dilation)
  return sum(jnp.einsum('nhwc,co->nhwo', view, w[k // 3, k % 3]) for k, view in enumerate(views))


PATHS = {'xla': (conv_xla, True), 'xla_default': (conv_xla, False),
         'patches': (conv_patches, True), 'shifted_dots': (conv_shifted_dots, True)}


def compiled_grad(conv, stride, dilation, train_options: bool, input_grad: bool = True):
  """jit(grad) of sum(relu(conv)**2) over the kernel and, with `input_grad`, the input."""
  def objective(x, w):
    return jnp.sum(jax.nn.relu(conv(x, w, stride, dilation)) ** 2)
  options = steps.train_compiler_options() if train_options else None
  argnums = (0, 1) if input_grad else (1,)
  return jax.jit(jax.grad(objective, argnums=argnums), compiler_options=options)


def time_conv(side, features_in, features_out, stride, dilation, rounds, calls,
              input_grad: bool = True):
  """ms per call of every path in every round, and each path's largest relative error.

  Raises:
    RuntimeError: A path's gradients differ from `xla`'s by more than MAX_RELATIVE_ERROR.
  """
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.random((BATCH, side, side, features_in)), jnp.float32)
  w = jnp.asarray(rng.normal(0, 0.05, (3, 3, features_in, features_out)), jnp.float32)
  functions, errors = {}, {}
  for name, (conv, train_options) in PATHS.items():
    functions[name] = compiled_grad(conv, stride, dilation, train_options, input_grad)
  reference = jax.block_until_ready(functions['xla'](x, w))
  for name, function in functions.items():
    grads = jax.block_until_ready(function(x, w))
    errors[name] = max(float(jnp.max(jnp.abs(g - r)) / jnp.max(jnp.abs(r)))
                       for g, r in zip(grads, reference))
    if errors[name] > MAX_RELATIVE_ERROR:
      raise RuntimeError(f'{name}: gradients differ from xla\'s by {errors[name]:.1e} of the '
                         f'largest, more than {MAX_RELATIVE_ERROR}')
  runners = {name: types.SimpleNamespace(run=functools.partial(_run_calls, function, x, w))
             for name, function in functions.items()}
  return time_in_turns(runners, rounds, calls), errors


def _run_calls(function, x, w, calls: int) -> float:
  """Seconds for `calls` calls of `function(x, w)`, each waited for."""
  start = time.perf_counter()
  for _ in range(calls):
    jax.block_until_ready(function(x, w))
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='2 rounds of 5 calls')
  args = parser.parse_args()
  rounds, calls = (2, 5) if args.quick else (5, 10)
  print(f'device: {jax.devices()[0].device_kind}, batch {BATCH}, {rounds} rounds of {calls} calls')
  start = time.perf_counter()
  result = dict(device=jax.devices()[0].device_kind, jax=jax.__version__,
                train_options=steps.train_compiler_options(), batch=BATCH, rounds=rounds,
                calls=calls, convs=[])
  for name, side, features_in, features_out, stride, dilation in CONVS:
    times, errors = time_conv(side, features_in, features_out, stride, dilation, rounds, calls,
                              input_grad=name != DATA_INPUT)
    row = dict(conv=name, side=side, features_in=features_in, features_out=features_out,
               stride=stride, dilation=dilation, paths={})
    for path, values in times.items():
      ratios = [t / base for t, base in zip(values, times['xla'])]
      row['paths'][path] = dict(ms=spread(values), over_xla=spread(ratios),
                                max_relative_error=float(f'{errors[path]:.2e}'))
    result['convs'].append(row)
    print(f'{name:34s} ' + '  '.join(
        f"{path} {statistics.median(values):6.1f} ms ({row['paths'][path]['over_xla']['median']:.2f}x)"
        for path, values in times.items()))
  total = {path: round(sum(row['paths'][path]['ms']['median'] for row in result['convs']), 1)
           for path in PATHS}
  result['total_median_ms'] = total
  result['wall_s'] = round(time.perf_counter() - start, 1)
  print('sum of medians: ' + '  '.join(f'{path} {ms} ms' for path, ms in total.items()))
  print(json.dumps(result))


if __name__ == '__main__':
  main()
