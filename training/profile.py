"""Where a train step's time goes: a forward / loss / backward / optimizer split, and
the `config.train.profile` switch that logs it and writes a `jax.profiler` trace."""
import functools
import statistics
import time

import jax
import jax.numpy as jnp

from training import distributed
from training import run_folder
from training import steps as steps_lib

SPLIT_KEYS = ('forward_ms', 'loss_ms', 'backward_ms', 'optimizer_ms', 'total_ms')


def _forward(state, batch, *, experiment):
  _, inputs = steps_lib.train_inputs(state, batch, config=experiment.config, stats=experiment.stats)
  return steps_lib.apply_model(experiment.model, state.params, state.batch_stats, inputs,
                               train=True)


def _loss(params, state, batch, *, experiment):
  targets, inputs = steps_lib.train_inputs(state, batch, config=experiment.config,
                                           stats=experiment.stats)
  return steps_lib.train_loss(params, state, targets, inputs, model=experiment.model,
                              loss_fn=experiment.loss_fn)


def _staged_steps(experiment):
  """(fn, donates) for four prefixes of the train step, each doing more than the last.

  The last is `experiment.train_step` itself, which donates its state (so it needs a copy)
  and is already compiled in a running trainer. All four compile with the train step's
  XLA options, so that their differences are the step's parts.
  """
  loss_fn = functools.partial(_loss, experiment=experiment)
  jit = functools.partial(jax.jit, compiler_options=steps_lib.train_compiler_options())
  return ((jit(functools.partial(_forward, experiment=experiment)), False),
          (jit(lambda state, batch: loss_fn(state.params, state, batch)), False),
          (jit(lambda state, batch: jax.value_and_grad(loss_fn, has_aux=True)(
              state.params, state, batch)), False),
          (experiment.train_step, True))


def _time_ms(fn, state, batch, donates: bool) -> float:
  if donates:  # A copy to give away, made before the clock starts.
    state = jax.block_until_ready(jax.tree.map(jnp.copy, state))
  start = time.perf_counter()
  jax.block_until_ready(fn(state, batch))
  return (time.perf_counter() - start) * 1e3


def step_timing_split(experiment, state, batch_uint8, repeats: int = 5) -> dict[str, float]:
  """Times one train step of `experiment` on a uint8 batch, split into its parts (ms).

  Four separately jitted functions do ever more of the step: the forward pass
  (augmentation and normalization included), forward + loss, `value_and_grad`, and
  the whole train step (`experiment.train_step` itself, on a copy of the state). Each part
  is the difference between neighbours' median times over `repeats` runs (compile
  time excluded; a part below the timing noise reads 0).

  Args:
    experiment: A `loop.Experiment` (model, optimizer, schedule, config, stats, mesh).
    state: A train state; it is neither changed nor donated.
    batch_uint8: A host batch of uint8 arrays, as the input pipeline yields.
    repeats: Timed runs of each function.

  Returns:
    dict(forward_ms, loss_ms, backward_ms, optimizer_ms, total_ms), total_ms being
    the whole step's median time.
  """
  batch = experiment.place(batch_uint8)
  stages = _staged_steps(experiment)
  for fn, donates in stages:  # Compiles (if not yet), and warms caches.
    _time_ms(fn, state, batch, donates)
  times = [[] for _ in stages]
  for _ in range(max(repeats, 1)):  # Round-robin, so a load change hits every stage.
    for (fn, donates), samples in zip(stages, times):
      samples.append(_time_ms(fn, state, batch, donates))
  forward, with_loss, with_grad, total = (statistics.median(t) for t in times)
  return dict(forward_ms=forward, loss_ms=max(with_loss - forward, 0.0),
              backward_ms=max(with_grad - with_loss, 0.0),
              optimizer_ms=max(total - with_grad, 0.0), total_ms=total)


class StepProfiler:
  """The `config.train.profile` switch, once per process, after the first log step.

  Logs `step_timing_split` as `profile/*` scalars, then traces the next
  `config.train.profile_steps` steps with `jax.profiler` into `workdir/tb`, where
  TensorBoard's profile plugin finds them (`tb/plugins/profile/<time>/`).
  """

  def __init__(self, config, workdir: str):
    self.steps = config.train.get('profile_steps', 5)
    self.log_dir = run_folder.path(workdir, run_folder.TENSORBOARD)
    self._pending = bool(config.train.get('profile', False))
    self._trace_end = None

  def after_log(self, experiment, state, batch_uint8, step: int, writer) -> bool:
    """Called at every logging step; profiles at the first one only (returns True)."""
    if not self._pending:
      return False
    self._pending = False
    split = step_timing_split(experiment, state, batch_uint8)
    writer.scalars(step, split, 'profile/')
    print('profile: ' + ' '.join(f'{k}={v:.2f}' for k, v in split.items()), flush=True)
    if self.steps > 0 and distributed.is_main():  # Process 0 alone writes to tb/.
      jax.block_until_ready(state)
      jax.profiler.start_trace(self.log_dir)
      self._trace_end = step + self.steps
    return True

  def after_step(self, state, step: int):
    """Called after every step; ends the trace once it holds `profile_steps` steps."""
    if self._trace_end is not None and step >= self._trace_end:
      self.close(state)

  def close(self, state=None):
    """Ends a trace still running (waiting for `state` first, if given)."""
    if self._trace_end is None:
      return
    self._trace_end = None
    if state is not None:
      jax.block_until_ready(state)
    jax.profiler.stop_trace()
    print(f'profile: trace written to {self.log_dir}/plugins/profile', flush=True)
