"""Several JAX processes training one run: start-up, who writes, and agreeing on a stop.

One process per host is JAX's way past one machine (a TPU pod slice, several GPU
servers): each process drives its own devices, the mesh spans all of them, and every
process must call every jitted step and every checkpoint save and restore. The run
folder must lie on a file system all processes share (orbax writes one checkpoint from
all of them). Only the first process writes the run's other files: config.json,
data_stats.json, metrics, TensorBoard events, sample pictures and the evaluation.
"""
from typing import Any, Callable, TypeVar

import jax
from jax.experimental import multihost_utils
import numpy as np

T = TypeVar('T')


class DistributedSetupError(ValueError):
  """The multi-process flags are incomplete, or JAX's cluster detection failed."""


def detected_cluster() -> tuple[str, int] | None:
  """(name, process count) of the cluster JAX detects around this process, or None.

  JAX's own detection (`jax.distributed.initialize()` without arguments): SLURM, Open
  MPI, Kubernetes jobs and Cloud TPU pod slices. A cluster of one process (a single-host
  TPU VM, a SLURM job of one task) counts as none.
  """
  try:  # JAX's detection is private API: where it moved, detect nothing.
    from jax._src.clusters import cluster  # pylint: disable=g-import-not-at-top
    cluster_types = cluster.ClusterEnv._cluster_types  # pylint: disable=protected-access
  except (ImportError, AttributeError):
    return None
  for env in cluster_types:
    if getattr(env, 'opt_in_only_method', False) or not env.is_env_present():
      continue
    count = int(env.get_process_count())
    return (env.__name__, count) if count > 1 else None
  return None


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, detect: bool = True) -> int:
  """Joins this process to a multi-process run; returns the number of processes.

  With `num_processes` > 1, `coordinator_address` (host:port of process 0) and
  `process_id` (0 to num_processes - 1) must be given too, as `jax.distributed.initialize`
  takes them. Without any of the three, JAX's cluster detection decides
  (`detected_cluster`), or, with `detect` False, this process runs alone;
  `num_processes=1` runs alone whatever is detected. Must run before anything touches
  a device.
  """
  given = dict(coordinator_address=coordinator_address, num_processes=num_processes,
               process_id=process_id)
  if num_processes == 1:
    return 1
  if all(value is None for value in given.values()):
    if not detect:
      return 1
    try:
      found = detected_cluster()
    except Exception as error:  # pylint: disable=broad-except
      raise DistributedSetupError(
          f'JAX detected a cluster but could not read it ({error}); pass '
          '--coordinator_address, --num_processes and --process_id, or --num_processes=1 '
          'to run alone') from error
    if found is None:
      return 1
    name, count = found
    print(f'{name}: joining a run of {count} processes', flush=True)
    jax.distributed.initialize()
    return jax.process_count()
  missing = [f'--{name}' for name, value in given.items() if value is None]
  if missing:
    raise DistributedSetupError(
        f'a multi-process run needs --coordinator_address, --num_processes and '
        f'--process_id together; missing: {", ".join(missing)}')
  if num_processes < 1 or not 0 <= process_id < num_processes:
    raise DistributedSetupError(
        f'--process_id must be in 0..{num_processes - 1} for --num_processes='
        f'{num_processes}; got {process_id}')
  jax.distributed.initialize(coordinator_address, num_processes, process_id)
  return jax.process_count()


def is_main() -> bool:
  """Whether this is the process that writes the run's files (process 0)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process has got here (nothing to wait for in one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def main_first(fn: Callable[[], T], name: str) -> T:
  """`fn()` in every process, the first process's call finished before the others start.

  For steps that may write a shared file (building the dataset, fitting the baselines):
  the first process writes it, the others then find it there.
  """
  if jax.process_count() == 1:
    return fn()
  result = fn() if is_main() else None
  barrier(name)
  return result if is_main() else fn()


def any_process(flag: bool) -> bool:
  """Whether `flag` is true in any process (all must call this at the same point)."""
  if jax.process_count() == 1:
    return bool(flag)
  return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))


def process_rows(num_rows: int, field: str = 'eval.batch_size') -> slice:
  """This process's rows of a global batch of `num_rows` (each process an equal share);
  `field` names the config field the batch size comes from, for the error."""
  count, index = jax.process_count(), jax.process_index()
  if num_rows % count:
    raise ValueError(f'{field}: a batch of {num_rows} rows does not split over {count} '
                     'processes')
  share = num_rows // count
  return slice(index * share, (index + 1) * share)


def to_host(tree: Any) -> Any:
  """`tree`'s arrays as numpy, gathered from every process where they are split."""
  def fetch(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
  return jax.tree.map(fetch, tree)
