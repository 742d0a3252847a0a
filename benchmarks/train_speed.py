"""Training speed: our jitted train step against a PyTorch twin of each model, on one device.

  python benchmarks/train_speed.py --quick   # dmnet_cnn, 3 repeats, one sweep point (< 2 min)
  python benchmarks/train_speed.py           # all three models, 4 repeats, full batch sweep
  python benchmarks/train_speed.py --models unet --repeats 3 --no_sweep
  python benchmarks/train_speed.py --quick --torch_tuned --no_sweep  # + channels_last, compile
  python benchmarks/train_speed.py --dtype bfloat16   # ours in bfloat16, torch under autocast
  python benchmarks/train_speed.py --quick --compiler_options \
      '{"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,\
LIBRARY_FUSION_TYPE_REDUCE,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"}'  # jax's default

For `dmnet_cnn`, `dmnet_resnet` and `unet` at their config's image size and batch size
(`configs/cnn.py`, `configs/resnet.py`, `configs/unet.py`):
  ours:  `training.loop.prepare(config, data)`'s jitted `train_step`, the real one:
         augmentation, standardization, forward, loss, backward, gradient clipping and
         Adam, state donated; on random uint8 batches already placed on the device. Each
         timed chunk of steps ends with `block_until_ready`. `compile_s` is tracing,
         lowering and compiling the step; `first_step_s` adds running the first step;
         `init_s` is the state's initialization before them. `--compiler_options`
         compiles it with other XLA options than `steps.jit_steps` sets.
  torch: the same architecture in PyTorch (`benchmarks/torch_models.py`; parameter
         counts asserted equal within 1%), `model.train()`, Adam with the config's lr,
         the same gradient clipping and the same loss terms (`torch_models.default_loss`:
         BCE-with-logits + Dice on the mask, L1 + SSIM + gradient L1 on sigmoid(depth));
         on random NCHW float batches already normalized and on its device: a GPU when
         PyTorch sees one (`--torch_device`), where JAX then runs ours too; with
         `--dtype bfloat16` (or float16) its forward pass runs under autocast in that
         dtype. `torch.set_num_threads` = the cores JAX uses. `--torch_tuned` races a
         third side: the twin in channels_last memory format under `torch.compile`.
The two alternate (ours, torch, ours, torch, ...) in chunks of about `--chunk_s`
seconds, so a change in the machine's load hits both; per side the median images/s over
the repeats is reported, and `ratio` (ours / torch) is the median of the per-repeat
ratios (`ratio_spread`: their min and max). Each side runs in its own (spawned) process
and waits on a pipe while the other runs: in one process, our step ran slower once torch
had trained there (torch's allocations and thread pool stay behind), which no user of
either library sees. Before timing, `check_equivalence` copies the flax weights into the
torch twin (with flax's padding) and compares the train-mode outputs on one batch.

Achieved FLOP/s = 3 x forward FLOPs per image (`zoo.flops_per_image`) x images/s, as a
share of the machine's peak: the best of a few 2048 x 2048 float32 matmuls, measured in
the same run in jax and in torch (`flops_share` is against the higher of the two).
The batch sweep times dmnet_cnn's step (both sides) at batch 8 ... 128.

The 1-minute load average is printed with every measurement: the machine is shared. Under
load, PyTorch's OpenMP threads (which wait for each other at every op) lose far more than
XLA's, so on an oversubscribed machine `ratio` flatters us; `taskset -c 0 python
benchmarks/train_speed.py ...` pins both sides to one core (JAX then runs one thread and
torch is given one), which compares the per-core speed free of that effect. The last line
is one JSON object.
"""
import argparse
import importlib
import json
import multiprocessing
import os
import statistics
import sys
import time
import traceback
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
for path in (ROOT, HERE):
  if path not in sys.path:
    sys.path.insert(0, path)

# On a GPU, our side's process, the torch side's and this one share the device: none may
# take 75% of its memory up front, as JAX does by default.
os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')

import flax  # pylint: disable=g-import-not-at-top
from flax import linen as nn  # pylint: disable=g-import-not-at-top
import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import torch  # pylint: disable=g-import-not-at-top

import losses  # pylint: disable=g-import-not-at-top
import torch_models  # pylint: disable=g-import-not-at-top
import zoo  # pylint: disable=g-import-not-at-top
from configs import base  # pylint: disable=g-import-not-at-top
from common import MEAN, STATS, STD, random_batch  # pylint: disable=g-import-not-at-top
from training import loop  # pylint: disable=g-import-not-at-top

CONFIGS = {'dmnet_cnn': 'cnn', 'dmnet_resnet': 'resnet', 'unet': 'unet'}
SWEEP_MODEL = 'dmnet_cnn'
SWEEP_BATCH_SIZES = (8, 16, 32, 64, 128)
PEAK_SIZE = 2048


def load() -> float:
  """The 1-minute load average."""
  return round(os.getloadavg()[0], 2)


def jax_threads() -> int:
  """The cores XLA:CPU's thread pool runs on: those this process may be scheduled on."""
  return len(os.sched_getaffinity(0))


def get_config(name: str, batch_size: int | None = None, augment: bool = True):
  """`configs/<short name>.py` for zoo model `name`, optionally at another batch size."""
  config = importlib.import_module(f'configs.{CONFIGS[name]}').get_config()
  assert config.model.name == name, (name, config.model.name)
  # The PyTorch twin steps with Adam, so ours does too (the configs' default is Muon):
  # both sides do the same work. benchmarks/step_by_size.py prices Muon against Adam.
  config.update(base.ADAM)
  if batch_size:
    config.train.batch_size = batch_size
  if not augment:
    config.data.augment = []
  return config


def benchmark_config(name: str, args, batch_size: int | None = None):
  """`get_config` with the command line's `--no_augment` and `--dtype` applied."""
  config = get_config(name, batch_size, augment=not args.no_augment)
  if args.dtype:
    config.model.dtype = args.dtype
  return config


def torch_batch(batch_uint8):
  """The NCHW float32 batch the torch side trains on: inputs normalized, targets in [0, 1]."""
  out = {}
  for key, value in batch_uint8.items():
    value = torch.from_numpy(value).permute(0, 3, 1, 2).float().div(255.0)
    if key in ('bg', 'fg_bg'):
      value = (value - MEAN) / STD
    out[key] = value.contiguous()
  return out


class OursRunner:
  """Our real jitted train step on one model config; `run(steps)` -> seconds.

  `compile_s` is tracing, lowering and compiling the step (ahead of time, into the jit's
  own cache, so the step calls below reuse it); `first_step_s` adds the first step.
  `compiler_options` (XLA options) override those `steps.jit_steps` compiles with.
  """

  def __init__(self, config, rng, num_batches: int = 2, compiler_options=None):
    self.batch_size = config.train.batch_size
    start = time.perf_counter()
    self.experiment = loop.prepare(config, types.SimpleNamespace(stats=STATS))
    self.state = jax.block_until_ready(self.experiment.init_state())
    self.init_s = time.perf_counter() - start
    self.batches = [
        jax.block_until_ready(self.experiment.place(
            random_batch(rng, self.batch_size, config.data.image_size)))
        for _ in range(num_batches)]
    self.steps_done = 0
    start = time.perf_counter()
    lowered = self.experiment.train_step.lower(self.state, self.batches[0])
    if compiler_options:
      self.step = lowered.compile(compiler_options)
    else:
      self.step = self.experiment.train_step
      lowered.compile()
    self.compile_s = time.perf_counter() - start
    self.run(1)
    self.first_step_s = time.perf_counter() - start

  def run(self, steps: int) -> float:
    """Runs `steps` train steps; the seconds until the last one's results are ready."""
    start = time.perf_counter()
    state, metrics = self.state, None
    for _ in range(steps):
      state, metrics = self.step(state, self.batches[self.steps_done % len(self.batches)])
      self.steps_done += 1
    jax.block_until_ready((state, metrics))
    self.state = state
    return time.perf_counter() - start


TORCH_AUTOCAST = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


def torch_device(name: str = 'auto') -> str:
  """'cuda' when `name` is 'auto' and PyTorch sees a GPU, else 'cpu'; other names as given."""
  if name == 'auto':
    return 'cuda' if torch.cuda.is_available() else 'cpu'
  return name


class TorchRunner:
  """The PyTorch twin's train step on the same config; `run(steps)` -> seconds.

  On `device` ('cpu' or 'cuda'), with the forward pass under autocast in the config's
  compute dtype where that is bfloat16 or float16 (ours runs in it too; float16 without
  loss scaling: a race of speed, not of training). On CUDA, float32 matmuls and convs may
  use TF32, as JAX's default precision does on the GPU. `tuned` adds what a PyTorch
  user tunes a model with: channels_last memory format, `torch.compile` and, on CUDA,
  cuDNN's autotuner (`cudnn.benchmark`). The loss is `torch_models.default_loss`, so
  the config's must be the default (`torch_models.DEFAULT_LOSS`).
  """

  def __init__(self, config, rng, num_batches: int = 2, device: str = 'cpu',
               tuned: bool = False):
    if losses.build(config.loss) != losses.build(torch_models.DEFAULT_LOSS):
      raise ValueError(f'the PyTorch twin computes {torch_models.DEFAULT_LOSS} only; '
                       f'this config asks for {config.loss.to_dict()}')
    self.batch_size = config.train.batch_size
    self.device = torch.device(device)
    if self.device.type == 'cuda':
      torch.backends.cuda.matmul.allow_tf32 = True
      torch.backends.cudnn.allow_tf32 = True
      torch.backends.cudnn.benchmark = tuned
    torch.manual_seed(0)
    memory_format = torch.channels_last if tuned else torch.contiguous_format
    model = torch_models.build(config.model).to(self.device, memory_format=memory_format)
    model.train()
    self.optimizer = torch.optim.Adam(model.parameters(), lr=config.optimizer.lr)
    self.model = torch.compile(model) if tuned else model
    self.grad_clip_norm = config.optimizer.grad_clip_norm
    self.autocast_dtype = TORCH_AUTOCAST.get(config.model.dtype)
    self.batches = [
        {key: value.to(self.device, memory_format=memory_format)
         for key, value in torch_batch(random_batch(
             rng, self.batch_size, config.data.image_size)).items()}
        for _ in range(num_batches)]
    self.steps_done = 0
    start = time.perf_counter()
    self.run(1)  # Warm-up: oneDNN primitives or CUDA kernels, allocator; compiling if tuned.
    self.first_step_s = time.perf_counter() - start

  def run(self, steps: int) -> float:
    """Runs `steps` train steps; the seconds until the device finished them."""
    start = time.perf_counter()
    for _ in range(steps):
      torch_models.train_step(self.model, self.optimizer,
                              self.batches[self.steps_done % len(self.batches)],
                              self.grad_clip_norm, self.autocast_dtype)
      self.steps_done += 1
    if self.device.type == 'cuda':
      torch.cuda.synchronize(self.device)
    return time.perf_counter() - start


class RemoteRunner:
  """An `OursRunner` or `TorchRunner` in a spawned process of its own; `run(steps)` ->
  seconds, as measured there. `close()` ends the process."""

  def __init__(self, side: str, config, compiler_options=None, torch_options=None):
    context = multiprocessing.get_context('spawn')
    self._conn, child_conn = context.Pipe()
    self._process = context.Process(
        target=_serve_runner, args=(child_conn, side, config, compiler_options,
                                    torch_options or {}, jax_threads()), daemon=True)
    self._process.start()
    facts = self._receive()
    self.batch_size = facts.pop('batch_size')
    self.__dict__.update(facts)  # first_step_s; init_s and compile_s (ours only).

  def _receive(self):
    reply = self._conn.recv()
    if isinstance(reply, str):  # The child's traceback.
      self.close()
      raise RuntimeError(f'benchmark process failed:\n{reply}')
    return reply

  def run(self, steps: int) -> float:
    """Runs `steps` train steps in the runner's process; the seconds they took."""
    self._conn.send(steps)
    return self._receive()

  def close(self):
    """Stops the runner's process."""
    if self._process.is_alive():
      self._conn.send(None)
      self._process.join(timeout=60)


def _serve_runner(conn, side: str, config, compiler_options, torch_options, threads: int):
  """The body of a `RemoteRunner`'s process: builds the runner, then runs on request."""
  try:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    if side == 'ours':
      runner = OursRunner(config, rng, compiler_options=compiler_options)
      facts = dict(init_s=runner.init_s, compile_s=runner.compile_s,
                   first_step_s=runner.first_step_s)
    else:
      runner = TorchRunner(config, rng, **torch_options)
      facts = dict(first_step_s=runner.first_step_s)
    conn.send(dict(batch_size=runner.batch_size, **facts))
    while (steps := conn.recv()) is not None:
      conn.send(runner.run(steps))
  except BaseException:  # pylint: disable=broad-except
    conn.send(traceback.format_exc())


def interleaved(runners: dict, repeats: int, chunk_s: float) -> dict:
  """Times the runners in turn, `repeats` rounds of ~`chunk_s` s each; per-side stats.

  Returns, per runner name, the images/s of every round, their median and the median
  step time, plus 'ratios' (per other runner's name: the first runner's images/s over
  its, per round) and 'loads'.
  """
  steps = {}
  for name, runner in runners.items():  # A step's time, to size the chunks.
    steps[name] = max(1, round(chunk_s / runner.run(1)))
  rates = {name: [] for name in runners}
  loads = []
  for _ in range(repeats):
    for name, runner in runners.items():
      seconds = runner.run(steps[name])
      rates[name].append(steps[name] * runner.batch_size / seconds)
    loads.append(load())
  first, *others = list(runners)
  out = {name: dict(images_per_s=statistics.median(values), rounds=values,
                    step_ms=runners[name].batch_size / statistics.median(values) * 1e3,
                    steps_per_chunk=steps[name])
         for name, values in rates.items()}
  out['ratios'] = {name: [a / b for a, b in zip(rates[first], rates[name])] for name in others}
  out['loads'] = loads
  return out


def peak_gflops(repeats: int = 5, device: str = 'cpu') -> dict:
  """The best GFLOP/s of a 2048 x 2048 float32 matmul in jax and in torch (on `device`),
  alternating."""
  flops = 2 * PEAK_SIZE**3
  a = np.random.default_rng(0).standard_normal((PEAK_SIZE, PEAK_SIZE), np.float32)
  a_jax, a_torch = jnp.asarray(a), torch.from_numpy(a).to(device)
  matmul = jax.jit(jnp.dot)
  sync = torch.cuda.synchronize if a_torch.is_cuda else (lambda: None)
  jax.block_until_ready(matmul(a_jax, a_jax))
  torch.mm(a_torch, a_torch)
  sync()
  best = {'jax': 0.0, 'torch': 0.0}
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(matmul(a_jax, a_jax))
    best['jax'] = max(best['jax'], flops / (time.perf_counter() - start) / 1e9)
    start = time.perf_counter()
    torch.mm(a_torch, a_torch)
    sync()
    best['torch'] = max(best['torch'], flops / (time.perf_counter() - start) / 1e9)
  return best


def _flax_layers(model, variables, bg, fg_bg):
  """(path, kind) of every Conv, Dense and BatchNorm call of `model`, in call order."""
  calls = []

  def record(next_fun, args, kwargs, context):
    if context.method_name == '__call__' and isinstance(
        context.module, (nn.Conv, nn.Dense, nn.BatchNorm)):
      calls.append((context.module.path, type(context.module).__name__))
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    jax.eval_shape(lambda v: model.apply(v, bg, fg_bg, train=True,
                                         mutable=['batch_stats']), variables)
  return calls


def _torch_layers(model, bg, fg_bg):
  """Every Conv2d, Linear and BatchNorm2d of `model`, in the order its forward calls them."""
  calls = []
  hooks = [module.register_forward_hook(lambda m, i, o: calls.append(m))
           for module in model.modules()
           if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d))]
  with torch.no_grad():
    model(bg, fg_bg)
  for hook in hooks:
    hook.remove()
  return calls


def check_equivalence(config, batch_size: int = 2) -> float:
  """Max |flax - torch| over both heads' train-mode logits, the flax weights copied in.

  The flax parameters are redrawn (so that BatchNorm scales and biases are not 1 and 0)
  and copied layer by layer, in call order, into the torch twin built with flax's
  padding. Raises AssertionError if the layers do not pair up.
  """
  model = zoo.build(config.model)
  size = config.data.image_size
  rng = np.random.default_rng(1)
  bg, fg_bg = (rng.standard_normal((batch_size, size, size, 3), np.float32)
               for _ in range(2))
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), bg, fg_bg, train=False))
  leaves, treedef = jax.tree.flatten(variables['params'])
  params = treedef.unflatten([
      (rng.standard_normal(leaf.shape) * 0.3 + 0.5 * (len(leaf.shape) == 1)).astype(
          np.float32) for leaf in leaves])
  stats = jax.tree.map(lambda leaf: np.zeros(leaf.shape, np.float32),
                       variables['batch_stats'])
  variables = {'params': params, 'batch_stats': stats}
  outputs, _ = jax.jit(lambda v: model.apply(
      v, bg, fg_bg, train=True, mutable=['batch_stats']))(variables)

  twin = torch_models.build(config.model, exact_padding=True)
  twin.train()
  to_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
  flax_layers = _flax_layers(model, variables, bg, fg_bg)
  torch_layers = _torch_layers(twin, to_torch(bg), to_torch(fg_bg))
  assert len(flax_layers) == len(torch_layers), (len(flax_layers), len(torch_layers))
  flat = flax.traverse_util.flatten_dict(params)
  with torch.no_grad():
    for (path, kind), layer in zip(flax_layers, torch_layers):
      if kind == 'Conv':
        assert isinstance(layer, torch.nn.Conv2d), (path, layer)
        kernel = np.asarray(flat[path + ('kernel',)]).transpose(3, 2, 0, 1)
        assert layer.weight.shape == kernel.shape, (path, layer.weight.shape, kernel.shape)
        layer.weight.copy_(torch.from_numpy(kernel))
        if layer.bias is not None:
          layer.bias.copy_(torch.from_numpy(np.asarray(flat[path + ('bias',)])))
      elif kind == 'Dense':
        assert isinstance(layer, torch.nn.Linear), (path, layer)
        layer.weight.copy_(torch.from_numpy(np.asarray(flat[path + ('kernel',)]).T.copy()))
        layer.bias.copy_(torch.from_numpy(np.asarray(flat[path + ('bias',)])))
      else:
        assert isinstance(layer, torch.nn.BatchNorm2d), (path, layer)
        layer.weight.copy_(torch.from_numpy(np.asarray(flat[path + ('scale',)])))
        layer.bias.copy_(torch.from_numpy(np.asarray(flat[path + ('bias',)])))
    twin_outputs = twin(to_torch(bg), to_torch(fg_bg))
  return max(
      float(np.max(np.abs(np.asarray(outputs[key]).transpose(0, 3, 1, 2) -
                          twin_outputs[key].numpy())))
      for key in ('mask', 'depth'))


def measure_model(name: str, args, peak: float) -> dict:
  """Checks, compiles and times one model against its twin; its figures."""
  config = benchmark_config(name, args)
  image_size, batch_size = config.data.image_size, config.train.batch_size
  flax_model = zoo.build(config.model)
  ours_params = zoo.count_params(flax_model, image_size)
  torch_params = torch_models.count_params(torch_models.build(config.model))
  print(f'{name}: {image_size}px batch {batch_size}; parameters: ours {ours_params:,}, '
        f'torch {torch_params:,}', flush=True)
  assert abs(ours_params - torch_params) <= 0.01 * ours_params, (ours_params, torch_params)
  figures = dict(image_size=image_size, batch_size=batch_size, params=ours_params,
                 torch_params=torch_params)
  if not args.skip_check:
    figures['max_abs_diff'] = check_equivalence(config)
    print(f'  same outputs as torch with the flax weights copied in: max |diff| '
          f'{figures["max_abs_diff"]:.2e}', flush=True)
    assert figures['max_abs_diff'] < 1e-3, figures['max_abs_diff']

  load_before = load()
  ours = RemoteRunner('ours', config, args.compiler_options)
  print(f'  ours: init {ours.init_s:.1f} s, compile {ours.compile_s:.1f} s, first step '
        f'done after {ours.first_step_s:.1f} s (load {load_before} -> {load()})', flush=True)
  runners = {'ours': ours, 'torch': RemoteRunner('torch', config,
                                                 torch_options=dict(device=args.torch_device))}
  if args.torch_tuned:
    runners['torch_tuned'] = RemoteRunner(
        'torch', config, torch_options=dict(device=args.torch_device, tuned=True))
    print(f'  torch tuned (channels_last, torch.compile): first step done after '
          f'{runners["torch_tuned"].first_step_s:.1f} s', flush=True)
  try:
    result = interleaved(runners, args.repeats, args.chunk_s)
  finally:
    for runner in runners.values():
      runner.close()
  train_flops = 3 * zoo.flops_per_image(flax_model, image_size)
  images_per_s = result['ours']['images_per_s']
  torch_images_per_s = result['torch']['images_per_s']
  figures.update(
      images_per_s=images_per_s, torch_images_per_s=torch_images_per_s,
      ratio=statistics.median(result['ratios']['torch']),
      step_ms=result['ours']['step_ms'], torch_step_ms=result['torch']['step_ms'],
      compile_s=ours.compile_s, first_step_s=ours.first_step_s, init_s=ours.init_s,
      train_gflops_per_image=train_flops / 1e9,
      gflops=train_flops * images_per_s / 1e9,
      torch_gflops=train_flops * torch_images_per_s / 1e9,
      flops_share=train_flops * images_per_s / 1e9 / peak,
      torch_flops_share=train_flops * torch_images_per_s / 1e9 / peak,
      rounds=dict(ours=result['ours']['rounds'], torch=result['torch']['rounds']),
      steps_per_chunk=dict(ours=result['ours']['steps_per_chunk'],
                           torch=result['torch']['steps_per_chunk']),
      loads=result['loads'])
  if args.torch_tuned:
    tuned, tuned_ratios = result['torch_tuned'], result['ratios']['torch_tuned']
    figures.update(torch_tuned_images_per_s=tuned['images_per_s'],
                   torch_tuned_step_ms=tuned['step_ms'],
                   ratio_to_tuned=statistics.median(tuned_ratios),
                   ratio_to_tuned_spread=[min(tuned_ratios), max(tuned_ratios)])
    figures['rounds']['torch_tuned'] = tuned['rounds']
    figures['steps_per_chunk']['torch_tuned'] = tuned['steps_per_chunk']
    print(f'  torch tuned {tuned["images_per_s"]:7.1f} img/s ({tuned["step_ms"]:.0f} ms/step)'
          f'   ratio ours / tuned {figures["ratio_to_tuned"]:.2f} '
          f'[{", ".join(f"{r:.2f}" for r in tuned_ratios)}]', flush=True)
  figures['ratio_spread'] = [min(result['ratios']['torch']), max(result['ratios']['torch'])]
  print(f'  ours {images_per_s:7.1f} img/s ({figures["step_ms"]:.0f} ms/step, '
        f'{figures["gflops"]:.1f} GFLOP/s, {figures["flops_share"]:.0%} of peak)   '
        f'torch {torch_images_per_s:7.1f} img/s ({figures["torch_step_ms"]:.0f} ms/step, '
        f'{figures["torch_gflops"]:.1f} GFLOP/s)   ratio {figures["ratio"]:.2f} '
        f'[{", ".join(f"{r:.2f}" for r in result["ratios"]["torch"])}]   '
        f'load {result["loads"]}', flush=True)
  return figures


def batch_sweep(batch_sizes, args) -> dict:
  """dmnet_cnn's step time and images/s at each batch size, ours and torch."""
  out = {}
  for batch_size in batch_sizes:
    config = benchmark_config(SWEEP_MODEL, args, batch_size)
    ours = RemoteRunner('ours', config, args.compiler_options)
    theirs = RemoteRunner('torch', config, torch_options=dict(device=args.torch_device))
    try:
      result = interleaved({'ours': ours, 'torch': theirs}, args.sweep_repeats,
                           args.chunk_s / 2)
    finally:
      ours.close()
      theirs.close()
    out[str(batch_size)] = dict(
        step_ms=result['ours']['step_ms'], images_per_s=result['ours']['images_per_s'],
        torch_step_ms=result['torch']['step_ms'],
        torch_images_per_s=result['torch']['images_per_s'],
        ratio=statistics.median(result['ratios']['torch']), compile_s=ours.compile_s,
        loads=result['loads'])
    row = out[str(batch_size)]
    print(f'  batch {batch_size:4d}: ours {row["step_ms"]:7.1f} ms/step '
          f'{row["images_per_s"]:7.1f} img/s   torch {row["torch_step_ms"]:7.1f} ms/step '
          f'{row["torch_images_per_s"]:7.1f} img/s   ratio {row["ratio"]:.2f}   '
          f'load {result["loads"]}', flush=True)
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true',
                      help='dmnet_cnn only, 3 repeats, sweep at batch 64 only (< 2 min)')
  parser.add_argument('--models', default='',
                      help=f'comma-separated, of {", ".join(CONFIGS)} (default: all; '
                      f'--quick: {SWEEP_MODEL})')
  parser.add_argument('--repeats', type=int, default=0,
                      help='interleaved rounds per model (default 4; --quick 3)')
  parser.add_argument('--chunk_s', type=float, default=0.0,
                      help='seconds per timed chunk (default 3; --quick 2)')
  parser.add_argument('--batch_sizes', default='',
                      help=f'{SWEEP_MODEL} sweep (default '
                      f'{",".join(map(str, SWEEP_BATCH_SIZES))}; --quick: 64)')
  parser.add_argument('--no_sweep', action='store_true', help='skip the batch sweep')
  parser.add_argument('--skip_check', action='store_true',
                      help='skip the flax / torch output equivalence check')
  parser.add_argument('--no_augment', action='store_true',
                      help='config.data.augment = [] on our side (torch never augments)')
  parser.add_argument('--dtype', default='', help="our compute dtype, e.g. 'bfloat16'")
  parser.add_argument('--torch_device', default='auto',
                      help="the twin's device: auto (cuda when PyTorch sees a GPU), cpu, cuda")
  parser.add_argument('--torch_tuned', action='store_true',
                      help='a third side: the twin with channels_last and torch.compile')
  parser.add_argument('--compiler_options', type=json.loads, default=None,
                      help='XLA options (JSON) to compile our step with instead of '
                      "steps.jit_steps' own")
  args = parser.parse_args(argv)
  args.torch_device = torch_device(args.torch_device)
  args.repeats = args.repeats or (3 if args.quick else 4)
  args.sweep_repeats = 2 if args.quick else 3
  args.chunk_s = args.chunk_s or (2.0 if args.quick else 3.0)
  names = ([n for n in args.models.split(',') if n] or
           ([SWEEP_MODEL] if args.quick else list(CONFIGS)))
  batch_sizes = ([] if args.no_sweep else
                 [int(b) for b in args.batch_sizes.split(',') if b] or
                 ([64] if args.quick else list(SWEEP_BATCH_SIZES)))

  threads = jax_threads()
  torch.set_num_threads(threads)
  start = time.perf_counter()
  print(f'jax {jax.__version__} on {jax.devices()[0].device_kind} ({threads} cores), '
        f'torch {torch.__version__} on {args.torch_device} with {torch.get_num_threads()} '
        f'threads; '
        f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r}; load {load()}', flush=True)
  peak = peak_gflops(device=args.torch_device)
  print(f'peak (2048^2 float32 matmul): jax {peak["jax"]:.1f} GFLOP/s, '
        f'torch {peak["torch"]:.1f} GFLOP/s (load {load()})', flush=True)
  results = {name: measure_model(name, args, max(peak.values())) for name in names}
  sweep = {}
  if batch_sizes:
    print(f'{SWEEP_MODEL} batch sweep:', flush=True)
    sweep = batch_sweep(batch_sizes, args)
  results.update(peak_gflops={k: round(v, 1) for k, v in peak.items()}, batch_sweep=sweep,
                 quick=args.quick, repeats=args.repeats, threads=threads,
                 xla_flags=os.environ.get('XLA_FLAGS', ''),
                 compiler_options=args.compiler_options, augment=not args.no_augment,
                 dtype=args.dtype or 'float32', torch_device=args.torch_device,
                 torch_tuned=args.torch_tuned, jax_device=jax.devices()[0].device_kind,
                 load_avg=[round(x, 2) for x in os.getloadavg()],
                 wall_s=round(time.perf_counter() - start, 1))
  print(json.dumps(results))


if __name__ == '__main__':
  main()
