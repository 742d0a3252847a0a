"""Where a run's numbers go: TensorBoard (tensorboardX), `metrics.jsonl`, the console."""
import json
import resource
import sys
import time
from typing import Any

import jax
import numpy as np
import psutil
import tqdm

from training import distributed
from training import run_folder


class RunWriter:
  """Writes scalars to `workdir/tb` and `workdir/metrics.jsonl` (one object per call)."""

  def __init__(self, workdir: str):
    # Imported here: tensorboardX imports torch whenever it is installed (seconds, on
    # Colab), which the modes that write no run (predict, export, summary...) never need.
    import tensorboardX  # pylint: disable=g-import-not-at-top
    self.tb = tensorboardX.SummaryWriter(run_folder.path(workdir, run_folder.TENSORBOARD))
    self._jsonl = run_folder.open_metrics_for_append(workdir)

  def scalars(self, step: int, values: dict[str, Any], prefix: str = ''):
    """Logs `values` (numbers) at `step` under `prefix/` in TensorBoard and as JSON."""
    clean = {f'{prefix}{key}': float(value) for key, value in values.items()
             if value is not None}
    for key, value in clean.items():
      self.tb.add_scalar(key, value, step)
    self._jsonl.write(json.dumps(dict(step=int(step), **clean)) + '\n')
    self._jsonl.flush()

  def image(self, step: int, name: str, image: np.ndarray):
    """Logs an H x W x 3 uint8 image."""
    self.tb.add_image(name, image, step, dataformats='HWC')

  def histograms(self, step: int, params):
    """Logs a histogram of every parameter array."""
    for path, value in jax.tree_util.tree_leaves_with_path(params):
      name = '/'.join(str(getattr(p, 'key', p)) for p in path)
      self.tb.add_histogram(f'params/{name}', np.asarray(value, np.float32), step)

  def hparams(self, hparams: dict[str, Any], final_metrics: dict[str, float]):
    """Records the run's hyper-parameters with its final metrics (hparams plugin)."""
    self.tb.add_hparams(hparams, {f'hparam/{k}': v for k, v in final_metrics.items()},
                        name='.')

  def close(self):
    """Flushes and closes both outputs."""
    self.tb.close()
    self._jsonl.close()


class NoWriter:
  """A RunWriter that writes nothing: what every JAX process but the first logs to."""

  def scalars(self, step: int, values: dict[str, Any], prefix: str = ''):
    """Writes nothing."""

  def image(self, step: int, name: str, image: np.ndarray):
    """Writes nothing."""

  def histograms(self, step: int, params):
    """Writes nothing."""

  def hparams(self, hparams: dict[str, Any], final_metrics: dict[str, float]):
    """Writes nothing."""

  def close(self):
    """Nothing to close."""


def for_this_process(workdir: str) -> RunWriter | NoWriter:
  """The run's writer in the first JAX process; one that writes nothing in the others."""
  return RunWriter(workdir) if distributed.is_main() else NoWriter()


def memory_stats() -> dict[str, float]:
  """Host RSS and its peak, and device memory in use and peak where reported (MiB)."""
  stats = dict(host_rss_mib=psutil.Process().memory_info().rss / 2**20,
               host_peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
  device_stats = jax.local_devices()[0].memory_stats() or {}
  if 'bytes_in_use' in device_stats:
    stats['device_in_use_mib'] = device_stats['bytes_in_use'] / 2**20
  if 'peak_bytes_in_use' in device_stats:
    stats['device_peak_mib'] = device_stats['peak_bytes_in_use'] / 2**20
  return stats


class Progress:
  """A tqdm bar on a terminal; plain log lines when output is a file or a pipe; nothing
  where not `shown` (every JAX process but the first)."""

  def __init__(self, total: int, initial: int, log_every: int, shown: bool = True):
    self.shown = shown
    self.interactive = shown and sys.stderr.isatty()
    self.total, self.log_every = total, log_every
    self._start, self._start_step = time.time(), initial
    self.bar = tqdm.tqdm(total=total, initial=initial, dynamic_ncols=True,
                         disable=not self.interactive)

  def update(self, step: int, values: dict[str, float]):
    """Moves to `step` (the number of steps done) and shows `values`."""
    if not self.shown:
      return
    shown = {k: f'{v:.4g}' for k, v in values.items()}
    if self.interactive:
      self.bar.update(step - self.bar.n)
      self.bar.set_postfix(shown, refresh=False)
      return
    elapsed = time.time() - self._start
    rate = (step - self._start_step) / max(elapsed, 1e-9)
    eta = (self.total - step) / max(rate, 1e-9)
    fields = ' '.join(f'{k}={v}' for k, v in shown.items())
    print(f'step {step}/{self.total} {rate:.2f} steps/s eta {eta:.0f}s {fields}',
          flush=True)

  def close(self):
    """Closes the bar."""
    self.bar.close()
