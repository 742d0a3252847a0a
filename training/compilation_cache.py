"""JAX's persistent compilation cache: a resumed or repeated run loads its compiled steps.

Compiling the train and eval steps takes seconds to tens of seconds before the first step;
with the cache on, a run that resumes, evaluates, predicts or exports with a program compiled
before on this machine loads it from disk instead. `config.compilation_cache`:
  'auto' (default): on GPUs and TPUs, in `~/.cache/dmnet-zoo/xla`; off on the CPU, where
      XLA rejects every cached program on recent Intel CPUs and prints error lines for each
      (jax-ml/jax#38445, openxla/xla#44565; on the AMD EPYC it was measured on it works);
  '': off;
  a folder: the cache there, on any backend.
The programs go in one folder per JAX version and machine kind below it: JAX's own cache
key names the device kind ('cpu') but not the CPU model, and a folder in a home directory
or on Google Drive can be shared by machines of several kinds.
"""
import hashlib
import os
import platform
import sys

import jax
from jax.experimental.compilation_cache import compilation_cache as jax_cache


def host_fingerprint() -> str:
  """A name for this machine kind: its architecture, CPU model and instruction-set flags."""
  model, flags = '', ''
  try:
    with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
      for line in f:
        key, _, value = line.partition(':')
        key = key.strip()
        if key == 'model name' and not model:
          model = value.strip()
        elif key in ('flags', 'Features') and not flags:
          flags = ' '.join(sorted(value.split()))
        if model and flags:
          break
  except OSError:  # Not Linux: the platform module's description is all there is.
    model = platform.processor()
  digest = hashlib.sha256(f'{platform.machine()}|{model}|{flags}'.encode()).hexdigest()
  return f'{platform.machine() or "unknown"}-{digest[:12]}'


def folder_for(directory: str) -> str:
  """The folder under `directory` that holds this machine kind's compiled programs."""
  return os.path.join(os.path.expanduser(directory), f'jax-{jax.__version__}',
                      host_fingerprint())


AUTO = 'auto'
AUTO_FOLDER = '~/.cache/dmnet-zoo/xla'


def enable(directory: str) -> str | None:
  """Points JAX's persistent compilation cache at `directory` (this machine kind's folder).

  `directory` is `config.compilation_cache`: 'auto', '' or a folder (module docstring).
  JAX's own `JAX_COMPILATION_CACHE_DIR`, where set in the environment, wins (it is left as
  JAX read it). Returns the folder in use, or None. Safe to call again with another
  directory (the cache is reset and reopened there).

  Raises:
    ValueError: a folder the config names cannot be created or written, named with the
      config field. 'auto' whose folder cannot be made warns and compiles every time.
  """
  if os.environ.get('JAX_COMPILATION_CACHE_DIR'):
    return jax.config.jax_compilation_cache_dir
  folder = None
  if directory == AUTO:
    if jax.default_backend() != 'cpu':
      folder = _usable_folder(AUTO_FOLDER, strict=False)
  elif directory:
    folder = _usable_folder(directory, strict=True)
  if jax.config.jax_compilation_cache_dir != folder:
    jax_cache.set_cache_dir(folder)
    jax_cache.reset_cache()
  return folder


def _usable_folder(directory: str, strict: bool) -> str | None:
  """This machine kind's folder under `directory`, made; None (with a warning) or
  ValueError where it cannot be made or written."""
  folder = folder_for(directory)
  problem = None
  try:
    os.makedirs(folder, exist_ok=True)
    if not os.access(folder, os.W_OK):
      problem = 'is not writable'
  except OSError as error:
    problem = f'cannot be created ({error.strerror})'
  if problem is None:
    return folder
  message = f'compilation_cache: {folder!r} {problem}'
  if strict:
    raise ValueError(f"{message}; set another folder, or '' to compile every time")
  print(f'warning: {message}; compiling every time', file=sys.stderr)
  return None
