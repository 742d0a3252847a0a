"""train_and_evaluate: the whole run, from dataset to `eval_metrics.json`, resumable."""
import copy
import dataclasses
import functools
import json
import math
import os
import signal
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

import datasets
import losses
import zoo
from datasets import pipeline
from losses import metrics as metrics_lib
from training import checkpoint as checkpoint_lib
from training import distributed
from training import evaluate as evaluate_lib
from training import optim
from training import profile as profile_lib
from training import run_folder
from training import steps as steps_lib
from training import visualize
from training import writers

# The console's line after an evaluation: the summary metrics, with the baselines' mask IoU
# and depth RMSE beside the model's.
EVAL_KEYS_SHOWN = tuple(
    key for metric in metrics_lib.SUMMARY_METRICS
    for key in ((metric, metrics_lib.BASELINE_OF[metric])
                if metric in ('mask_iou', 'depth_rmse') else (metric,)))


class StopRequested:
  """Turns SIGTERM/SIGINT into a flag the loop checks between steps."""

  def __init__(self):
    self.signal = None
    self._previous = {sig: signal.signal(sig, self._handle)
                      for sig in (signal.SIGTERM, signal.SIGINT)}

  def restore(self):
    """Puts back the handlers that were there before."""
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def _handle(self, signum, frame):
    del frame
    if self.signal is not None:  # A second Ctrl-C: stop at once.
      raise KeyboardInterrupt
    self.signal = signum
    print(f'\n{signal.Signals(signum).name}: saving a checkpoint and stopping...',
          flush=True)


def make_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh over every device, axis 'data' (batch split, params replicated)."""
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


def refuse_other_model(config, workdir: str):
  """Raises ValueError when `workdir` holds a run of another model (its config.json)."""
  previous = run_folder.read_config(workdir)
  if previous is None:
    return
  model = zoo.complete(config.model)
  if not same_model(previous.get('model'), model):
    raise ValueError(
        f'{workdir} holds a run of model {previous.get("model")}, not {model}: use '
        'another --workdir or delete that one')


def _same_value(saved, current) -> bool:
  """Equal as a config value: floats within rounding, a JSON list equal to a tuple."""
  if isinstance(saved, (list, tuple)) and isinstance(current, (list, tuple)):
    return len(saved) == len(current) and all(map(_same_value, saved, current))
  if isinstance(saved, (int, float)) and isinstance(current, (int, float)):
    return math.isclose(saved, current, rel_tol=1e-9, abs_tol=1e-12)
  return saved == current


def _without_nulls(section: dict) -> dict:
  """`section` without the fields a hand-edited config.json set to null (at any depth)."""
  return {key: _without_nulls(value) if isinstance(value, dict) else value
          for key, value in section.items() if value is not None}


def _changed_fields(saved: dict, config, sections=('optimizer', 'schedule')) -> list[str]:
  """'section.field: saved -> config' for each field of `sections` the two set apart."""
  changed = []
  def compare(saved_part, config_part, prefix):
    for key, value in saved_part.items():
      if key not in config_part:
        continue
      current = config_part[key]
      if isinstance(value, dict) and hasattr(current, 'items'):
        compare(value, current, f'{prefix}{key}.')
      elif not _same_value(value, current):
        changed.append(f'{prefix}{key}: {value!r} -> {current!r}')
  for section in sections:
    compare(_without_nulls(saved.get(section) or {}), config[section], f'{section}.')
  return changed


def with_the_runs_optimizer(config, workdir: str):
  """`config`, or a copy with the optimizer and schedule `workdir`'s run was trained with.

  A run's checkpoints hold its optimizer's state, which only that optimizer continues:
  resuming a run started with Adam under a config whose default is now Muon goes on with
  Adam, at the learning rate and schedule its `config.json` names (the defaults of
  another optimizer need not suit it). A config that names the run's own optimizer keeps
  every field it sets, the learning rate included. Either way the run says which
  optimizer and schedule fields differ from its `config.json`, and which values it uses.
  """
  saved = run_folder.read_config(workdir) or {}
  name = saved.get('optimizer', {}).get('name')
  if name is None:
    return config
  changed = _changed_fields(saved, config)
  if name == config.optimizer.name:
    if changed:
      print(f'{workdir}: this config changes {"; ".join(changed)} (from its config.json): '
            'the run uses the new values from here on', flush=True)
    return config
  config = copy.deepcopy(config)
  with config.unlocked():
    for section in ('optimizer', 'schedule'):
      config[section].update(_without_nulls(saved.get(section) or {}))
  print(f'{workdir} was trained with optimizer.name={name!r} (its config.json): it '
        f'continues with it, at the learning rate and schedule config.json names; not '
        f'used from this config: {"; ".join(changed)}', flush=True)
  return config


def runs_hflip_average(saved: dict) -> bool:
  """Whether the run whose config.json is `saved` averages with the mirror image.

  False for a run from before the option (no such field): it was evaluated plain.
  """
  return bool((saved.get('eval') or {}).get('hflip_average', False))


def runs_ema_decay(saved: dict) -> float | None:
  """The run's `train.ema_decay` (its config.json `saved`): 0 for a run from before the
  option, None where a hand-edited file says null (then the config decides)."""
  train = saved.get('train') or {}
  if 'ema_decay' not in train:
    return 0.0
  return None if train['ema_decay'] is None else float(train['ema_decay'])


def with_the_runs_evaluation(config, workdir: str):
  """`config`, or a copy that evaluates as `workdir`'s run did (its config.json).

  Whether predictions are averaged with the mirror image (`eval.hflip_average`) and
  whether the weights are a moving average (`train.ema_decay`, whose state the
  checkpoints hold or do not) are kept with the run, so its metrics, its best checkpoint
  and its predictions all mean one thing: a run from before an option (no such field)
  stays without it when it is resumed or evaluated again. A new run takes the config's
  values.
  """
  saved = run_folder.read_config(workdir)
  if saved is None:
    return config
  kept = {('eval', 'hflip_average'): runs_hflip_average(saved),
          ('train', 'ema_decay'): runs_ema_decay(saved)}
  changed = {key: value for key, value in kept.items()
             if value is not None and not _same_value(value, config[key[0]][key[1]])}
  if not changed:
    return config
  config = copy.deepcopy(config)
  for (section, field), value in changed.items():
    config[section][field] = value
  print(f'{workdir} was trained and evaluated with '
        f'{", ".join(f"{s}.{f}={v}" for (s, f), v in changed.items())} (its config.json): '
        'it keeps that', flush=True)
  return config


# The data fields that decide which samples a run trains and is tested on.
_DATA_SET_FIELDS = ('source', 'image_size', 'split_by', 'test_fraction')


def runs_data_set(saved: dict) -> dict | None:
  """The data set fields of the run whose config.json is `saved` (None if it names none).

  `synthetic` holds every renderer field: those an older config.json lacks take the
  renderer's own defaults, which render the samples of before the field existed.
  """
  data = saved.get('data')
  if not data:
    return None
  kept = {key: data[key] for key in _DATA_SET_FIELDS if key in data}
  if 'synthetic' in data:
    spec = {field.name: field.default
            for field in dataclasses.fields(datasets.synthetic.SyntheticSpec)}
    kept['synthetic'] = dict(spec, **{key: value for key, value in data['synthetic'].items()
                                      if key in spec})
  return kept


def with_the_runs_data(config, workdir: str):
  """`config`, or a copy that trains on the data set `workdir`'s run was trained on.

  A run's checkpoints, normalization and test numbers belong to its data: resuming it
  under a config whose set differs (a default that has changed since: more rooms, other
  people) goes on with the run's own set, as its config.json names it, and says which
  fields of this config it does not use. Train this config's set in another --workdir;
  `--mode eval` evaluates a run on any set, and `train.init_from` starts a new run from
  a run's weights.
  """
  saved = run_folder.read_config(workdir)
  kept = runs_data_set(saved) if saved else None
  if kept is None:
    return config
  changed = _changed_fields(dict(data=kept), config, sections=('data',))
  if not changed:
    return config
  config = copy.deepcopy(config)
  with config.unlocked():
    config.data.update(kept)  # Merges into data.synthetic, field by field.
  print(f'{workdir} was trained on another data set (its config.json): it continues on '
        f'that one; not used from this config: {"; ".join(changed)} (train this config\'s '
        'set in another --workdir)', flush=True)
  return config


# The loss fields a run's config.json may lack: their values before they existed.
_LOSS_FIELDS_OF_BEFORE = dict(mask_weight=1.0, depth_weight=1.0)


def with_the_runs_loss(config, workdir: str):
  """`config`, or a copy that trains with the loss `workdir`'s run was trained with.

  A run's test loss, curves and best checkpoint mean one loss: resuming (or evaluating)
  it under a config whose loss differs (a default that changed since, as the depth
  head's weight did) keeps the run's own, as its config.json names it, and says which
  fields of this config it does not use. Train another loss in another --workdir, or
  start from this run's weights with `train.init_from`.
  """
  saved = (run_folder.read_config(workdir) or {}).get('loss')
  if not saved:
    return config
  kept = dict(_LOSS_FIELDS_OF_BEFORE, **_without_nulls(saved))
  changed = _changed_fields(dict(loss=kept), config, sections=('loss',))
  if not changed:
    return config
  config = copy.deepcopy(config)
  with config.unlocked():
    for key, value in kept.items():
      config.loss[key] = value
  print(f'{workdir} was trained with another loss (its config.json): it keeps that one; '
        f'not used from this config: {"; ".join(changed)} (train this loss in another '
        '--workdir)', flush=True)
  return config


def write_config(config, workdir: str):
  """Writes `config.json`; refuses a workdir that holds a run of another model.

  The model section names every field of the model (`zoo.complete`), so the file
  describes the layout the checkpoints hold whatever later versions make the defaults.
  """
  refuse_other_model(config, workdir)
  saved = json.loads(config.to_json_best_effort())
  saved['model'] = zoo.complete(config.model)
  run_folder.write_json(workdir, run_folder.CONFIG, saved)


def same_model(saved_model, model) -> bool:
  """Whether a saved model config (perhaps of an earlier version) describes `model`.

  A config saved before fields were added to its model lacks them; it matches when it
  does under today's defaults or under the defaults of an earlier version.
  """
  if not isinstance(saved_model, dict) or 'name' not in saved_model:
    return False
  model = zoo.complete(model)
  for candidate in zoo.saved_layouts(saved_model):
    try:
      if zoo.complete(candidate) == model:
        return True
    except (TypeError, ValueError):  # A field or model this version does not know.
      continue
  return False


def format_table(metrics: dict[str, float]) -> str:
  """The evaluation as a two-column table, model beside baseline where there is one."""
  lines = [f'{"metric":<18} {"value":>10}']
  for key in EVAL_KEYS_SHOWN + tuple(k for k in sorted(metrics) if k not in EVAL_KEYS_SHOWN):
    if key in metrics:
      value = metrics[key]
      lines.append(f'{key:<18} {value:>10d}' if isinstance(value, int) else
                   f'{key:<18} {value:>10.4f}')
  return '\n'.join(lines)


@dataclasses.dataclass
class Experiment:
  """What a config turns into before the first step: model, optimizer, jitted steps."""
  config: Any
  model: Any
  optimizer: Any
  schedule: Any
  plateau: Any
  mesh: jax.sharding.Mesh
  stats: dict[str, Any]
  loss_fn: losses.Loss
  train_step: Callable
  eval_step: Callable

  def place(self, batch):
    """Puts this process's share of a global batch on the mesh, split on 'data'."""
    sharding = NamedSharding(self.mesh, PartitionSpec('data'))
    return jax.make_array_from_process_local_data(sharding, batch)

  def _jitted_init(self):
    return jax.jit(lambda rng: steps_lib.create_train_state(
        self.model, self.optimizer, self.plateau, self.loss_fn, rng,
        self.config.data.image_size, self.config.train.ema_decay),
                   out_shardings=NamedSharding(self.mesh, PartitionSpec()))

  def init_state(self) -> steps_lib.TrainState:
    """A fresh train state from `config.seed`, replicated over the mesh."""
    rng = jax.random.key(self.config.seed)
    init = self._jitted_init()
    if jax.default_backend() == 'cpu':  # Runs once: compile it fast, not optimized.
      return init.lower(rng).compile(zoo.FAST_CPU_COMPILE_OPTIONS)(rng)
    return init(rng)

  def update_plateau(self, state, test_loss: float) -> steps_lib.TrainState:
    """`state` after reduce-on-plateau has seen one evaluation's test loss."""
    return self._jitted_update_plateau(state, jnp.float32(test_loss))

  @functools.cached_property
  def _jitted_update_plateau(self):
    return jax.jit(functools.partial(steps_lib.update_plateau, plateau=self.plateau))

  def abstract_state(self):
    """The train state's shapes and shardings, without computing it."""
    return jax.eval_shape(self._jitted_init(), jax.random.key(self.config.seed))


def prepare(config, data, stats: dict[str, Any] | None = None) -> Experiment:
  """Builds the model, optimizer, mesh and jitted steps for `config` on `data`.

  The inputs are standardized with `stats` when given (a trained model's), else with
  `data`'s statistics.
  """
  model = zoo.build(config.model)
  schedule = optim.make_schedule(config)
  optimizer = optim.make_optimizer(config)
  stats = stats or {key: data.stats[key] for key in ('bg', 'fg_bg')}
  loss_fn = losses.build(config.loss)
  train_step, eval_step = steps_lib.jit_steps(model, optimizer, schedule, config, stats,
                                              loss_fn)
  return Experiment(config=config, model=model, optimizer=optimizer, schedule=schedule,
                    plateau=optim.make_plateau(config),
                    mesh=make_mesh(), stats=stats, loss_fn=loss_fn, train_step=train_step,
                    eval_step=eval_step)


def init_from(state: steps_lib.TrainState, path: str) -> steps_lib.TrainState:
  """Copies the model weights of another run (its workdir, latest checkpoint; their
  moving average if that run kept one) into `state`; the optimizer, step, RNG and this
  run's own moving average start fresh (fine-tuning)."""
  manager = checkpoint_lib.make_manager(path, read_only=True)
  step = checkpoint_lib.resolve_step(manager, 'latest')
  params, batch_stats = checkpoint_lib.restore_model_weights(
      manager, step, state.params['model'], state.batch_stats)
  print(f'initialized the model from {manager.directory}/{step}', flush=True)
  return state.replace(params=dict(state.params, model=params), batch_stats=batch_stats)


def evaluation_folder(workdir: str, dataset_name: str, out: str | None = None,
                      latest: bool = True) -> str:
  """Where an evaluation of `workdir`'s run on `dataset_name` writes its results.

  `out` when given; the run's own folder when it evaluates the latest checkpoint on the
  dataset it trained on (what the run itself writes at its end); else
  `workdir/evals/<dataset_name>`, so that evaluating a run on another set, or an
  earlier checkpoint (`--step best|N`), leaves its own eval_metrics.json, samples,
  baselines and learning curves as they were.
  """
  if out:
    return out
  if latest and run_folder.trained_dataset_name(workdir) == dataset_name:
    return workdir
  return os.path.join(run_folder.path(workdir, run_folder.EVALS), dataset_name)


def evaluate_checkpoint(config, workdir: str, which: str = 'latest',
                        out: str | None = None) -> dict[str, Any]:
  """Evaluates a saved checkpoint ('latest', 'best' or a step) on the config's dataset.

  The dataset may be another than the run trained on: the model keeps the normalization
  it was trained with (the workdir's `data_stats.json`) and evaluates as the run does
  (`with_the_runs_evaluation`). Results (eval_metrics.json, samples/, tb/,
  metrics.jsonl, baselines.npz) go to `evaluation_folder(workdir, dataset, out)`.
  """
  config = with_the_runs_loss(with_the_runs_evaluation(config, workdir), workdir)
  data = datasets.load(config.data)  # One process: modes.run refuses several for eval.
  experiment = prepare(config, data, run_folder.read_data_stats(workdir))
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  step = checkpoint_lib.resolve_step(manager, which)
  state = checkpoint_lib.restore_for_evaluation(manager, step, experiment.init_state())
  folder = evaluation_folder(workdir, data.name, out, latest=step == manager.latest_step())
  os.makedirs(folder, exist_ok=True)
  baselines = evaluate_lib.fit_baselines(data.train, config, folder, data.name)
  writer = writers.for_this_process(folder)
  try:
    metrics = _evaluate_and_log(experiment, state, data, baselines, writer, folder)
  finally:
    writer.close()
  print(f'checkpoint {step} of {workdir} on {data.name} (results in {folder}):')
  print(format_table(metrics))
  return metrics


def train_and_evaluate(config, workdir: str, *, stop_at: int | None = None
                       ) -> dict[str, float] | None:
  """Trains `config` in `workdir` (resuming what is there) and evaluates on test.

  Returns the final test metrics, or None when the run stopped early: on SIGTERM or
  SIGINT, or after step `stop_at` (as if preempted there). Either way the state is
  checkpointed and the same call resumes it.
  """
  os.makedirs(workdir, exist_ok=True)
  refuse_other_model(config, workdir)
  config = with_the_runs_evaluation(with_the_runs_optimizer(config, workdir), workdir)
  config = with_the_runs_loss(with_the_runs_data(config, workdir), workdir)
  # The first process builds a missing set; the others then open what it wrote.
  data = distributed.main_first(lambda: datasets.load(config.data), 'dataset')
  print(f'dataset {data.name}: {len(data.train)} train, '
        f'{len(data.test)} test ({"reused" if data.reused else "built"}, '
        f'{data.builder.data_path})', flush=True)

  experiment = prepare(config, data)
  state = experiment.init_state()
  iterator = pipeline.ResizingIterator(
      lambda image_size: iter(pipeline.train_dataset(
          data.train, image_size=image_size,
          global_batch_size=config.train.batch_size, seed=config.seed,
          num_workers=config.data.num_workers, prefetch=config.data.prefetch,
          cache_mib=config.data.cache_mib)),
      pipeline.stage_ends(config.data.image_size, config.train.steps, config.train.stages))
  manager = checkpoint_lib.make_manager(workdir, keep=config.train.keep_checkpoints)
  if manager.latest_step() is not None:
    state = checkpoint_lib.restore_latest_intact(
        manager, checkpoint_lib.abstract_like(state), iterator)
    print(f'resuming from step {int(state.step)} ({manager.directory})', flush=True)
  elif config.train.init_from:
    state = init_from(state, config.train.init_from)
  # Only now: a config whose checkpoint did not fit leaves the run's files as they were.
  if distributed.is_main():
    write_config(config, workdir)
    run_folder.write_data_stats(workdir, data.name, experiment.stats)

  baselines = distributed.main_first(
      lambda: evaluate_lib.fit_baselines(data.train, config, workdir, data.name), 'baselines')
  writer = writers.for_this_process(workdir)
  stop = StopRequested()
  step = int(jax.device_get(state.step))
  iterator.at_step(step)
  progress = writers.Progress(config.train.steps, step, config.train.log_every,
                              shown=distributed.is_main())
  last_eval = None
  wait_time, last_log_time, last_log_step = 0.0, time.time(), step
  # Wall seconds of training, carried over from before a resume (train/elapsed_s).
  elapsed_before = run_folder.logged_value(workdir, 'train/elapsed_s', step)
  start_time = time.time()
  profiler = profile_lib.StepProfiler(config, workdir)
  try:
    end = config.train.steps if stop_at is None else min(stop_at, config.train.steps)
    while step < end and not _stop_agreed(stop, step, config.train.log_every):
      size_before = iterator.image_size
      if iterator.at_step(step).image_size != size_before:
        print(f'\nstep {step}: training at {iterator.image_size} x {iterator.image_size} '
              'from here on (train.stages)', flush=True)
      wait_start = time.time()
      batch = next(iterator)
      wait_time += time.time() - wait_start
      logging_step = ((step + 1) % config.train.log_every == 0
                      or step + 1 == config.train.steps)
      if logging_step:  # Time this one step alone: nothing queued before it.
        jax.block_until_ready(state)
        step_start = time.perf_counter()
      state, metrics = experiment.train_step(state, experiment.place(batch))
      if logging_step:
        jax.block_until_ready((state, metrics))
        step_time_ms = (time.perf_counter() - step_start) * 1e3
      step += 1
      profiler.after_step(state, step)
      if step % config.train.log_every == 0 or step == config.train.steps:
        metrics = jax.device_get(metrics)
        _check_finite(state)
        now = time.time()
        elapsed = now - last_log_time
        timing = dict(steps_per_s=(step - last_log_step) / elapsed,
                      images_per_s=(step - last_log_step) * config.train.batch_size / elapsed,
                      data_wait_share=wait_time / elapsed, step_time_ms=step_time_ms,
                      image_size=iterator.image_size,
                      elapsed_s=elapsed_before + now - start_time)
        writer.scalars(step, dict(**metrics, **timing, **writers.memory_stats()), 'train/')
        progress.update(step, dict(loss=metrics['loss'], lr=metrics['lr']))
        if profiler.after_log(experiment, state, batch, step, writer):
          now = time.time()  # The profile's own time is not training time.
        wait_time, last_log_time, last_log_step = 0.0, now, step
      if step % config.eval.every == 0 or step == config.train.steps:
        _check_finite(state)
        last_eval = _evaluate_and_log(experiment, state, data, baselines, writer, workdir)
        state = _update_plateau(experiment, state, last_eval['loss'])
      if step % config.train.checkpoint_every == 0 or step == config.train.steps:
        _check_finite(state)
        checkpoint_lib.save(manager, state, iterator,
                            metrics=last_eval if last_eval and last_eval['step'] == step
                            else None)
    if step < config.train.steps:
      _check_finite(state)
      if manager.latest_step() != step:
        checkpoint_lib.save(manager, state, iterator, force=True)
      checkpoint_lib.wait_until_finished(manager)
      print(f'\nstopped at step {step}; checkpoint saved. Run the same command to resume.',
            flush=True)
      if stop.signal is not None:
        raise SystemExit(128 + stop.signal)
      return None
  finally:
    progress.close()
    profiler.close()
    checkpoint_lib.wait_until_finished(manager)
    iterator.close()  # Stops grain's reader threads (or worker processes) now.
    stop.restore()

  if last_eval is None:  # The run was already complete: evaluate what it left.
    last_eval = _evaluate_and_log(experiment, state, data, baselines, writer, workdir)
  writer.hparams(_flat_hparams(config), {k: v for k, v in last_eval.items()
                                         if isinstance(v, float)})
  writer.close()
  print(f'\nresults in {workdir}: eval_metrics.json, samples/, tb/, checkpoints/')
  print(format_table(last_eval))
  return last_eval


class NonFiniteLossError(RuntimeError):
  """Training met a NaN or Inf; the last checkpoint before it is kept."""


def _stop_agreed(stop: StopRequested, step: int, log_every: int) -> bool:
  """Whether to stop after `step`, as every process decides alike.

  One process stops at the first step after a signal. Several decide together at the
  logging steps only (a signal reaches them at different steps, and each must run
  every step the others run): all stop if any was signalled.
  """
  if jax.process_count() == 1:
    return stop.signal is not None
  return step % log_every == 0 and distributed.any_process(stop.signal is not None)


def _check_finite(state):
  bad_step = int(jax.device_get(state.nonfinite_step))
  if bad_step >= 0:
    raise NonFiniteLossError(
        f'the loss or its gradient became NaN or Inf at step {bad_step}; training '
        'stopped and the last checkpoint before it is kept. Lower optimizer.lr or '
        'set optimizer.grad_clip_norm.')


def _update_plateau(experiment, state, test_loss: float):
  scale_before = float(jax.device_get(state.plateau.scale))
  state = experiment.update_plateau(state, test_loss)
  scale = float(jax.device_get(state.plateau.scale))
  if scale != scale_before:
    print(f'\ntest loss {test_loss:.4g} plateaued: the learning rate is now {scale:.3g} x '
          'the schedule\'s (schedule.plateau)', flush=True)
  return state


def _evaluate_and_log(experiment, state, data, baselines, writer, workdir) -> dict[str, Any]:
  config, step = experiment.config, int(jax.device_get(state.step))
  metrics, (batch, prediction) = evaluate_lib.evaluate(
      experiment.eval_step, state, data.test, baselines, config, experiment.place)
  metrics = dict(metrics, step=step)
  writer.scalars(step, {k: v for k, v in metrics.items() if k != 'step'}, 'eval/')
  if distributed.is_main():
    grid = visualize.prediction_grid(batch, prediction, config.eval.num_grid_samples)
    visualize.save_png(grid, run_folder.sample_grid_path(workdir, step))
    writer.image(step, 'eval/predictions', grid)
    writer.histograms(step, state.params['model'])
    run_folder.write_eval_metrics(workdir, metrics)
  return metrics


def _flat_hparams(config) -> dict[str, Any]:
  flat = {}

  def walk(prefix, node):
    for key, value in node.items():
      name = f'{prefix}{key}'
      if isinstance(value, dict):
        walk(name + '.', value)
      elif isinstance(value, (int, float, str, bool)):
        flat[name] = value
  walk('', config.to_dict())
  return flat
