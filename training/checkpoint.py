"""Orbax checkpoints of the train state and the grain iterator, in `workdir/checkpoints`."""
import dataclasses
import os
import re
import shutil
import time
import weakref
from typing import Any

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp

from training import distributed
from training import run_folder


class CheckpointMismatchError(ValueError):
  """A checkpoint holds another model or other shapes than the config builds."""


def checkpoint_dir(workdir: str) -> str:
  """Where a run's checkpoints live."""
  return run_folder.path(os.path.abspath(workdir), run_folder.CHECKPOINTS)


# The test metric the best checkpoint has the highest of (`--step best`).
BEST_METRIC = 'mask_iou'


def make_manager(workdir: str, *, keep: int = 3, read_only: bool = False
                 ) -> ocp.CheckpointManager:
  """A manager that keeps the last `keep` checkpoints and the best by `BEST_METRIC`.

  Saves are asynchronous: the train loop goes on while the files are written.
  """
  best_metric = lambda metrics: metrics[BEST_METRIC]
  policies = [ocp.checkpoint_managers.LatestN(n=keep),
              ocp.checkpoint_managers.BestN(
                  get_metric_fn=best_metric, reverse=False,
                  n=1, keep_checkpoints_without_metrics=False)]
  options = ocp.CheckpointManagerOptions(
      preservation_policy=ocp.checkpoint_managers.AnyPreservationPolicy(policies),
      # best_fn too: without it orbax neither writes a checkpoint's metrics to disk (so a
      # resumed run forgets which one was best) nor answers best_step() but with the latest.
      best_fn=best_metric, best_mode='max',
      enable_async_checkpointing=True, create=not read_only, read_only=read_only)
  return ocp.CheckpointManager(
      checkpoint_dir(workdir), options=options,
      item_handlers={'state': ocp.StandardCheckpointHandler(),
                     'data': grain.checkpoint.CheckpointHandler()})


class CheckpointWriteError(OSError):
  """A checkpoint could not be written (full disk, lost permissions...)."""


# The step each manager is writing in the background, so that a failure that surfaces
# later (orbax reports it at the next save or wait) names the checkpoint it hit.
_PENDING_STEP: 'weakref.WeakKeyDictionary[Any, int]' = weakref.WeakKeyDictionary()


def save(manager, state, data_iterator, metrics=None, force=False):
  """Starts saving the state and the data iterator's position at `state.step`.

  A failed write (of this or the previous, asynchronous save) raises
  CheckpointWriteError naming that checkpoint; orbax writes into a temporary folder
  first, so the checkpoints already there stay intact.
  """
  wait_until_finished(manager)
  step = int(jax.device_get(state.step))
  try:
    saved = manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=grain.checkpoint.CheckpointSave(data_iterator)), metrics=metrics, force=force)
  except (OSError, ValueError) as error:
    if _os_error_text(error) is None:
      raise
    raise _write_error(manager, step, error) from error
  if saved:
    _PENDING_STEP[manager] = step
  return saved


def wait_until_finished(manager):
  """Waits for the asynchronous save; CheckpointWriteError if it failed."""
  step = _PENDING_STEP.pop(manager, None)
  try:
    manager.wait_until_finished()
  except (OSError, ValueError) as error:
    if _os_error_text(error) is None:
      raise
    raise _write_error(manager, step, error) from error


# How tensorstore, which writes orbax's arrays in background threads, reports a failed
# write: a ValueError such as 'Error writing ...: File too large [os_error_code='27']'.
_TENSORSTORE_WRITE_ERROR = re.compile(r"Error writing.*os_error_code='(\d+)'", re.DOTALL)


def _os_error_text(error) -> str | None:
  """What the operating system said about a failed write, or None if it was no write."""
  if isinstance(error, OSError):
    return error.strerror or str(error)
  found = _TENSORSTORE_WRITE_ERROR.search(str(error))
  return os.strerror(int(found.group(1))) if found else None


def _write_error(manager, step, error) -> CheckpointWriteError:
  kept = ', '.join(map(str, manager.all_steps())) or 'none'
  which = f'checkpoint {step}' if step is not None else 'a checkpoint'
  return CheckpointWriteError(
      f'could not write {which} to {manager.directory}: '
      f'{_os_error_text(error)}; the checkpoints already there are intact (steps: {kept})')


def resolve_step(manager, which: str | int) -> int:
  """'latest', 'best' or a step number -> an existing step; ValueError listing steps."""
  steps = manager.all_steps()
  if not steps:
    raise FileNotFoundError(f'no checkpoints in {manager.directory}')
  if which == 'latest':
    return manager.latest_step()
  if which == 'best':
    best = manager.best_step()  # None when no checkpoint has metrics.
    if best is None:
      raise ValueError(f'no checkpoint in {manager.directory} has metrics to pick '
                       'the best by; use --step latest or a step number')
    return best
  try:
    step = int(which)
  except ValueError:
    raise ValueError(f"--step: {which!r} is not 'latest', 'best' or a number") from None
  if step not in steps:
    raise ValueError(f'--step: no checkpoint at step {step}; saved steps: '
                     f'{", ".join(map(str, sorted(steps)))}')
  return step


def check_compatible(manager, step: int, abstract_state):
  """Raises CheckpointMismatchError naming the arrays whose names or shapes differ."""
  _check_same_shapes(manager.item_metadata(step)['state'], abstract_state,
                     f'{manager.directory}/{step}')


def _check_same_shapes(saved, abstract_state, where: str):
  flatten = lambda tree: {_path_name(path): tuple(leaf.shape)
                          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
                          if hasattr(leaf, 'shape')}
  saved_shapes, wanted_shapes = flatten(saved), flatten(abstract_state)
  problems = []
  for key in sorted(set(saved_shapes) | set(wanted_shapes)):
    if key not in saved_shapes:
      problems.append(f'{key} missing from the checkpoint')
    elif key not in wanted_shapes:
      problems.append(f'{key} in the checkpoint but not in this model')
    elif saved_shapes[key] != wanted_shapes[key]:
      problems.append(f'{key} has shape {saved_shapes[key]} in the checkpoint, '
                      f'{wanted_shapes[key]} in this model')
  if problems:
    more = f' (and {len(problems) - 3} more)' if len(problems) > 3 else ''
    if all(problem.startswith('opt_state/') for problem in problems):
      what = ("optimizer settings: its optimizer state has another layout (say "
              "optimizer.grad_clip_norm turned on or off, or sgd's momentum to or from 0); "
              "resume with the settings in the run's config.json")
    elif all(problem.startswith('ema/') for problem in problems):
      held = 'holds none' if 'missing from the checkpoint' in problems[0] else 'holds one'
      fix = ('--config.train.ema_decay=0' if held == 'holds none'
             else "the run's train.ema_decay (its config.json), e.g. 0.995")
      what = (f'moving average of the weights (train.ema_decay turned on or off; the '
              f'checkpoint {held}); resume with {fix}')
    else:
      what = 'model'
    raise CheckpointMismatchError(
        f'checkpoint {where} does not fit this config\'s {what}: '
        f'{"; ".join(problems[:3])}{more}')


# grain saves each JAX process's iterator position in its own file of this name.
_ITERATOR_FILE = re.compile(r'process_(\d+)-of-(\d+)\.json$')


def saved_process_count(manager, step: int) -> int | None:
  """How many JAX processes wrote checkpoint `step` (None if it holds no data iterator)."""
  folder = os.path.join(str(manager.directory), str(step), 'data')
  counts = {int(found.group(2)) for found in map(_ITERATOR_FILE.match, _listdir(folder))
            if found}
  return max(counts) if counts else None


def _listdir(folder: str) -> list[str]:
  try:
    return os.listdir(folder)
  except FileNotFoundError:
    return []


def check_process_count(manager, step: int):
  """Raises CheckpointMismatchError unless as many JAX processes run now as wrote `step`.

  Each process's position in the data is saved on its own; a run resumes with the
  process count it was started with.
  """
  saved = saved_process_count(manager, step)
  if saved is not None and saved != jax.process_count():
    raise CheckpointMismatchError(
        f'checkpoint {manager.directory}/{step} was written by {saved} JAX processes and '
        f'{jax.process_count()} run now: resume with --num_processes={saved} (each '
        "process's place in the data is saved on its own), or start a new --workdir with "
        f'train.init_from={os.path.dirname(str(manager.directory))}')


def restore(manager, step: int, abstract_state, data_iterator=None):
  """Restores the state (with the shardings of `abstract_state`) and, if given, the
  data iterator's position; checks first that the checkpoint fits."""
  check_compatible(manager, step, abstract_state)
  if data_iterator is not None:
    check_process_count(manager, step)
  target = _saved_layout(manager, step, abstract_state)
  items = dict(state=ocp.args.StandardRestore(target))
  if data_iterator is not None:
    items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
  try:
    restored = manager.restore(step, args=ocp.args.Composite(**items))['state']
  except ValueError as error:
    if 'tree structures do not match' not in str(error):
      raise
    raise CheckpointMismatchError(
        f'checkpoint {manager.directory}/{step} does not fit this config\'s train state: '
        f'{" ".join(str(error).split())[:300]}') from error
  return type(abstract_state)(**restored) if target is not abstract_state else restored


def _saved_layout(manager, step: int, abstract_state):
  """`abstract_state`, or its fields as a dict without `ema` for a checkpoint written
  before the train state had that field (orbax wants the saved tree's exact layout)."""
  if not dataclasses.is_dataclass(abstract_state) or abstract_state.ema is not None:
    return abstract_state
  if 'ema' in manager.item_metadata(step)['state'].keys():
    return abstract_state
  return {field.name: getattr(abstract_state, field.name)
          for field in dataclasses.fields(abstract_state) if field.name != 'ema'}


def _path_name(path) -> str:
  """'params/model/Conv_0/kernel' for a pytree key path of dicts or dataclass fields."""
  parts = (getattr(key, 'key', getattr(key, 'name', getattr(key, 'idx', key)))
           for key in path)
  return '/'.join(map(str, parts))


def restore_raw(manager, step: int) -> dict[str, Any]:
  """The saved train state as nested dicts of arrays, whatever model made it."""
  return manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore()))['state']


def _placed_weights(manager, step: int, found, params, batch_stats):
  """`found` (params, batch_stats of a raw restore), checked against the given ones'
  names and shapes and placed with their shardings."""
  wanted = dict(params=params, batch_stats=batch_stats)
  _check_same_shapes(found, wanted, f'{manager.directory}/{step}')
  place = lambda new, like: jax.device_put(new, like.sharding)
  return (jax.tree.map(place, found['params'], params),
          jax.tree.map(place, found['batch_stats'], batch_stats))


def _saved_ema(saved) -> dict[str, Any] | None:
  """The checkpoint's moving average of the weights, or None if the run kept none."""
  ema = saved.get('ema')
  return ema if ema and ema.get('params') else None


def restore_model_weights(manager, step: int, params, batch_stats):
  """The model parameters and batch statistics a checkpoint predicts with (its moving
  average of them if the run kept one), shaped like the given ones; for prediction,
  export and fine-tuning: the rest of that run's state is ignored."""
  saved = restore_raw(manager, step)
  weights = _saved_ema(saved) or saved
  found = dict(params=weights['params']['model'], batch_stats=weights.get('batch_stats', {}))
  return _placed_weights(manager, step, found, params, batch_stats)


def restore_for_evaluation(manager, step: int, state):
  """`state` with the checkpoint's parameters (the model's and the loss's), batch
  statistics, their moving average if the run kept one, and step: what evaluating needs.
  The optimizer state stays `state`'s, so a checkpoint written with any optimizer
  evaluates."""
  saved = restore_raw(manager, step)
  found = dict(params=saved['params'], batch_stats=saved.get('batch_stats', {}))
  params, batch_stats = _placed_weights(manager, step, found, state.params, state.batch_stats)
  ema = _saved_ema(saved)
  if ema is not None:
    found = dict(params=ema['params'], batch_stats=ema.get('batch_stats', {}))
    ema = dict(zip(('params', 'batch_stats'), _placed_weights(
        manager, step, found, state.params, state.batch_stats)))
  return state.replace(params=params, batch_stats=batch_stats, ema=ema,
                       step=jax.device_put(np.asarray(step, state.step.dtype),
                                           state.step.sharding))


def restore_latest_intact(manager, abstract_state, data_iterator):
  """Restores the newest checkpoint that reads back whole.

  A damaged one (a truncated or deleted file, say after a crash mid-copy) is moved to
  `checkpoints_damaged/` beside the checkpoints, with a message, and the one before
  it is tried. A checkpoint of another model is not damage: that error is raised.
  """
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      return restore(manager, step, abstract_state, data_iterator)
    except CheckpointMismatchError:
      raise
    except Exception as error:  # pylint: disable=broad-except
      reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
      moved = _move_aside(manager, step)
      print(f'checkpoint {step} is damaged ({reason}); moved it to {moved}, '
            'falling back to the previous one', flush=True)
  raise FileNotFoundError(f'no intact checkpoint in {manager.directory}; the damaged ones '
                          'were moved to checkpoints_damaged/')


def _move_aside(manager, step: int) -> str:
  """Moves checkpoint `step` to checkpoints_damaged/ (the first JAX process moves it;
  every process must call this, as each met the same damaged files)."""
  source = os.path.join(str(manager.directory), str(step))
  target_dir = os.path.join(os.path.dirname(str(manager.directory)), 'checkpoints_damaged')
  target = os.path.join(target_dir, f'{step}_{int(time.time())}')
  if distributed.is_main():
    os.makedirs(target_dir, exist_ok=True)
    shutil.move(source, target)
  distributed.barrier(f'moved aside checkpoint {step}')
  manager.reload()
  return target


def abstract_like(state) -> Any:
  """Shapes, dtypes and shardings of `state`, to restore into."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
