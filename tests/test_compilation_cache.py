"""Compiled steps are kept on disk per machine kind, so a repeated run loads them."""
import os

import jax
from jax.experimental.compilation_cache import compilation_cache as jax_cache
import jax.numpy as jnp
import pytest

from training import compilation_cache


@pytest.fixture
def own_cache_settings(monkeypatch):
  """The test session's JAX cache settings (tests/conftest.py), restored afterwards."""
  previous_dir = jax.config.jax_compilation_cache_dir
  previous_min = jax.config.jax_persistent_cache_min_compile_time_secs
  monkeypatch.delenv('JAX_COMPILATION_CACHE_DIR', raising=False)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)  # Cache tiny programs.
  yield
  jax.config.update('jax_persistent_cache_min_compile_time_secs', previous_min)
  jax_cache.set_cache_dir(previous_dir)
  jax_cache.reset_cache()


def _compile_fresh(x):
  """Compiles a small program, with JAX's in-memory caches emptied first."""
  jax.clear_caches()
  return jax.jit(lambda v: jnp.tanh(v @ v.T + 3.0)).lower(x).compile()


def test_a_program_compiled_once_is_loaded_from_the_folder_the_second_time(
    tmp_path, own_cache_settings):
  folder = compilation_cache.enable(str(tmp_path))
  assert folder == os.path.join(str(tmp_path), f'jax-{jax.__version__}',
                                compilation_cache.host_fingerprint())
  hits = []

  def count_hits(event, **_):
    if event.endswith('/cache_hits'):
      hits.append(event)

  jax.monitoring.register_event_listener(count_hits)
  try:
    x = jnp.ones((16, 16))
    _compile_fresh(x)
    assert os.listdir(folder), 'the compiled program was not written'
    assert not hits
    _compile_fresh(x)
    assert hits, 'the second compilation did not load the saved program'
  finally:
    jax.monitoring.unregister_event_listener(count_hits)


def test_machines_of_another_cpu_use_another_folder(monkeypatch):
  here = compilation_cache.host_fingerprint()
  monkeypatch.setattr(compilation_cache.platform, 'machine', lambda: 'riscv64')
  assert compilation_cache.host_fingerprint() != here
  assert compilation_cache.host_fingerprint().startswith('riscv64-')


def test_an_empty_folder_name_compiles_every_time(own_cache_settings):
  assert compilation_cache.enable('') is None
  assert jax.config.jax_compilation_cache_dir is None


def test_auto_compiles_every_time_on_the_cpu(own_cache_settings):
  # XLA rejects cached CPU programs on recent Intel CPUs (jax-ml/jax#38445).
  assert jax.default_backend() == 'cpu'
  assert compilation_cache.enable('auto') is None
  assert jax.config.jax_compilation_cache_dir is None


def test_auto_keeps_programs_in_the_home_cache_on_an_accelerator(tmp_path, monkeypatch,
                                                                 own_cache_settings):
  monkeypatch.setattr(compilation_cache.jax, 'default_backend', lambda: 'gpu')
  monkeypatch.setattr(compilation_cache, 'AUTO_FOLDER', str(tmp_path / 'home_cache'))
  folder = compilation_cache.enable('auto')
  assert folder == compilation_cache.folder_for(str(tmp_path / 'home_cache'))
  assert os.path.isdir(folder)


def test_auto_whose_folder_cannot_be_made_warns_and_compiles(tmp_path, monkeypatch, capsys,
                                                             own_cache_settings):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a folder')
  monkeypatch.setattr(compilation_cache.jax, 'default_backend', lambda: 'gpu')
  monkeypatch.setattr(compilation_cache, 'AUTO_FOLDER', str(blocker / 'cache'))
  assert compilation_cache.enable('auto') is None
  assert 'warning: compilation_cache:' in capsys.readouterr().err


def test_jax_own_environment_variable_wins(tmp_path, monkeypatch):
  monkeypatch.setenv('JAX_COMPILATION_CACHE_DIR', str(tmp_path / 'jax_own'))
  before = jax.config.jax_compilation_cache_dir
  assert compilation_cache.enable(str(tmp_path / 'ours')) == before
  assert jax.config.jax_compilation_cache_dir == before
  assert not (tmp_path / 'ours').exists()


def test_a_folder_that_cannot_be_made_names_the_field(tmp_path, own_cache_settings):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a folder')
  with pytest.raises(ValueError) as error:
    compilation_cache.enable(str(blocker / 'cache'))
  assert str(error.value).startswith('compilation_cache: ')
  assert 'cannot be created' in str(error.value)
  assert '\n' not in str(error.value)
