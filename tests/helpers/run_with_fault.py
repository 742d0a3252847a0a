"""Runs the tiny training config in a subprocess and injects one fault.

Usage: python run_with_fault.py DATA_DIR WORKDIR FAULT [ARG] [--set a.b=value ...]
                                 [--distributed HOST:PORT,NUM_PROCESSES,PROCESS_ID]

FAULT is one of:
  none                  train to the end;
  kill_at_step K        SIGKILL this process right after dispatching step K;
  kill_in_checkpoint K  SIGKILL this process while the checkpoint of step K is written;
  sigterm_at_step K     send SIGTERM to itself after step K (a clean, saved stop);
  sigint_at_step K      send SIGINT (Ctrl-C) to itself after step K (the same stop);
  nan_at_step K         make the loss NaN from step K on;
  disk_full_at_step K   make every checkpoint write from step K on fail with ENOSPC;
  file_limit_at_step K  once checkpoint K starts, the kernel refuses to grow any file past
                        4 KiB (RLIMIT_FSIZE, SIGXFSZ ignored): orbax's own writer threads
                        meet a real EFBIG while checkpoint K is written.
The final parameters are written to WORKDIR/final_params.npz when the run ends, and
where this process's first step ran (device count, rows of the batch on each device, the
parameters' devices) to WORKDIR/placement.json. With --distributed, this process joins a
run of several JAX processes (`training.distributed.initialize`) and the fault happens in
this process only; process 0 writes those two files.
"""
import copy
import errno
import functools
import json
import os
import resource
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
# tensorboardX imports torch whenever it is installed (the test extra installs it as a
# reference), which costs each of these short runs about 3 s and nothing of ours uses it.
sys.modules['torch'] = None


def main(data_dir, workdir, fault, arg=None, overrides=(), distributed_args=None):
  import jax  # pylint: disable=g-import-not-at-top
  from training import distributed  # pylint: disable=g-import-not-at-top
  if distributed_args:
    address, count, index = distributed_args.split(',')
    distributed.initialize(address, int(count), int(index))
  import numpy as np  # pylint: disable=g-import-not-at-top
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  import losses  # pylint: disable=g-import-not-at-top
  import modes  # pylint: disable=g-import-not-at-top
  from tests.conftest import tiny_config  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  from training import loop  # pylint: disable=g-import-not-at-top
  from training import steps as steps_lib  # pylint: disable=g-import-not-at-top

  config = tiny_config(data_dir)
  config.train.checkpoint_every = 2
  for override in overrides:  # e.g. optimizer.name=sgd
    key, value = override.split('=', 1)
    *parents, leaf = key.split('.')
    node = config
    for part in parents:
      node = node[part]
    if leaf == 'augment':  # A comma-separated subset of the configured list, by name.
      names = value.split(',')
      node[leaf] = [entry for entry in node[leaf] if entry['name'] in names]
    else:
      node[leaf] = type(node[leaf])(value)
  at = int(arg) if arg is not None else None
  placement = {}
  original_prepare, original_save = loop.prepare, checkpoint_lib.save

  def prepare(config, data):
    experiment = original_prepare(config, data)
    train_step = experiment.train_step

    nan_config = copy.deepcopy(config)
    nan_config.loss.mask_weight = float('inf')  # Makes the loss Inf, its gradients NaN.
    nan_step = jax.jit(functools.partial(
        steps_lib.train_step, model=experiment.model, optimizer=experiment.optimizer,
        schedule=experiment.schedule, config=nan_config, stats=experiment.stats,
        loss_fn=losses.build(nan_config.loss)))

    def faulty_step(state, batch):
      step = int(state.step) + 1
      if not placement:  # What this process's first step ran on, for tests/test_devices.py.
        kernel = jax.tree.leaves(state.params)[0]
        placement.update(
            device_count=jax.device_count(),
            process_count=jax.process_count(),
            bg_shard_rows=sorted(int(s.data.shape[0]) for s in batch['bg'].addressable_shards),
            params_devices=len(kernel.sharding.device_set),
            params_fully_replicated=bool(kernel.sharding.is_fully_replicated))
      if fault == 'nan_at_step' and step >= at:
        return nan_step(state, batch)
      new_state, metrics = train_step(state, batch)
      if fault == 'kill_at_step' and step == at:
        os.kill(os.getpid(), signal.SIGKILL)
      if fault == 'sigterm_at_step' and step == at:
        os.kill(os.getpid(), signal.SIGTERM)
      if fault == 'sigint_at_step' and step == at:
        os.kill(os.getpid(), signal.SIGINT)
      return new_state, metrics
    experiment.train_step = faulty_step
    return experiment

  original_manager_save = ocp.CheckpointManager.save

  def manager_save(manager, step, *args, **kwargs):
    if fault == 'disk_full_at_step' and step >= at:
      raise OSError(errno.ENOSPC, 'No space left on device', str(manager.directory))
    return original_manager_save(manager, step, *args, **kwargs)
  ocp.CheckpointManager.save = manager_save

  def save(manager, state, *args, **kwargs):
    step = int(state.step)
    if fault == 'file_limit_at_step' and step == at:
      manager.wait_until_finished()  # Checkpoint K is the first write the limit hits.
      signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # Fail the write, not the process.
      resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    result = original_save(manager, state, *args, **kwargs)
    if fault == 'kill_in_checkpoint' and step == at:
      os.kill(os.getpid(), signal.SIGKILL)  # The asynchronous write is under way.
    return result

  loop.prepare, checkpoint_lib.save = prepare, save
  try:
    if loop.train_and_evaluate(config, workdir) is None:
      return  # Stopped early (in a run of several processes, by another's signal).
  except modes.UserError as error:  # As run.py reports it.
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  restored = checkpoint_lib.restore_raw(manager, manager.latest_step())
  if not distributed.is_main():
    return
  flat = {jax.tree_util.keystr(path): np.asarray(leaf)
          for path, leaf in jax.tree_util.tree_leaves_with_path(restored['params'])}
  np.savez(os.path.join(workdir, 'final_params.npz'), **flat)
  with open(os.path.join(workdir, 'placement.json'), 'w') as f:
    json.dump(placement, f)


if __name__ == '__main__':
  args = sys.argv[1:]
  distributed_args = None
  if '--distributed' in args:
    at = args.index('--distributed')
    distributed_args = args[at + 1]
    del args[at:at + 2]
  positional = [a for a in args if '=' not in a and a != '--set']
  main(*positional, overrides=[a for a in args if '=' in a],
       distributed_args=distributed_args)
