"""Orbax checkpoints of the train state and the grain iterator, in `workdir/checkpoints`."""
import os
from typing import Any

import jax
import orbax.checkpoint as ocp
import grain

from training import steps as steps_lib


def make_manager(workdir: str, *, keep: int, best_metric: str | None = None,
                 best_mode: str = 'max') -> ocp.CheckpointManager:
  """A manager that keeps the last `keep` checkpoints and the best by `best_metric`.

  Saves are asynchronous: the train loop goes on while the files are written.
  """
  policies = [ocp.checkpoint_managers.LatestN(n=keep)]
  if best_metric:
    policies.append(ocp.checkpoint_managers.BestN(
        get_metric_fn=lambda metrics: metrics[best_metric], reverse=best_mode == 'min',
        n=1, keep_checkpoints_without_metrics=False))
  options = ocp.CheckpointManagerOptions(
      preservation_policy=ocp.checkpoint_managers.AnyPreservationPolicy(policies),
      enable_async_checkpointing=True, create=True)
  return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), 'checkpoints'),
                               options=options)


def save(manager, state: steps_lib.TrainState, data_iterator, metrics=None, force=False):
  """Starts saving the state and the data iterator's position at `state.step`."""
  step = int(jax.device_get(state.step))
  return manager.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      data=grain.checkpoint.CheckpointSave(data_iterator)), metrics=metrics, force=force)


def restore(manager, step: int, abstract_state, data_iterator):
  """Restores the state (with the shardings of `abstract_state`) and the iterator."""
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state),
      data=grain.checkpoint.CheckpointRestore(data_iterator)))
  return restored['state']


def restore_state_only(manager, step: int, abstract_state):
  """Restores just the train state (for evaluation, prediction and fine-tuning)."""
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state)))
  return restored['state']


def abstract_like(state) -> Any:
  """Shapes, dtypes and shardings of `state`, to restore into."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
