"""`--mode export` and `zoo.load_exported`: one file that predicts like the checkpoint."""
import json
import os
import shutil
import subprocess
import sys
import types

from flax import serialization
import jax
import numpy as np
import onnxruntime
import pytest

import datasets
import modes
import zoo
from datasets import synthetic
from tests.conftest import tiny_config
from training import checkpoint as checkpoint_lib
from training import loop
from training import steps as steps_lib
from training import run_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def run(tiny_data_dir, tmp_path_factory):
  """One tiny trained run, exported with `--mode export` (the default path)."""
  config = tiny_config(tiny_data_dir)
  workdir = str(tmp_path_factory.mktemp('run'))
  loop.train_and_evaluate(config, workdir)
  modes.run('export', config, types.SimpleNamespace(workdir=workdir, step='latest',
                                                    out=None))
  return config, workdir, os.path.join(workdir, 'export', 'model.msgpack')


def inputs(config, count=3):
  """`count` test-like uint8 pairs at the model's image size."""
  spec = datasets.synthetic_spec(config.data)
  samples = [synthetic.render_sample(spec, i) for i in range(count)]
  return {key: np.stack([s[key] for s in samples]) for key in ('bg', 'fg_bg')}


def checkpoint_prediction(config, workdir, batch):
  """What evaluation computes: the whole train state restored, `steps.predict`."""
  experiment = loop.prepare(config, datasets.load(config.data), run_folder.read_data_stats(workdir))
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  state = checkpoint_lib.restore(manager, manager.latest_step(), experiment.abstract_state())
  zeros = np.zeros(batch['bg'].shape[:3] + (1,), np.uint8)
  return steps_lib.predict(*state.prediction_weights(),
                           dict(batch, mask=zeros, depth=zeros), model=experiment.model,
                           stats=experiment.stats, dtype_name=config.model.dtype,
                           hflip_average=config.eval.hflip_average)


def test_the_export_predicts_what_the_checkpoint_predicts(run):
  config, workdir, path = run
  exported = zoo.load_exported(path)
  assert exported.image_size == config.data.image_size
  assert exported.hflip_average is config.eval.hflip_average is True  # The default.
  # Every field of the model, tuples as lists.
  assert exported.model_config == zoo.complete(json.loads(config.model.to_json()))
  with open(os.path.join(workdir, 'data_stats.json')) as f:
    saved = json.load(f)
  for key in ('bg', 'fg_bg'):
    np.testing.assert_allclose(exported.stats[key]['mean'], saved[key]['mean'])
    np.testing.assert_allclose(exported.stats[key]['std'], saved[key]['std'])
  batch = inputs(config)
  expected = checkpoint_prediction(config, workdir, batch)
  got = exported.predict(batch['bg'], batch['fg_bg'])
  single = exported.predict(batch['bg'][1], batch['fg_bg'][1])
  for key in ('mask', 'depth'):
    assert got[key].shape == batch['fg_bg'].shape[:3] + (1,)
    np.testing.assert_allclose(got[key], np.asarray(expected[key]), atol=1e-6)
    np.testing.assert_allclose(single[key], np.asarray(expected[key])[1], atol=1e-6)
    assert 0 <= got[key].min() and got[key].max() <= 1


def test_the_jax_export_runs_with_jax_and_numpy_alone_at_any_batch_and_allowed_size(
    run, tmp_path):
  config, _, path = run
  artifact = os.path.splitext(path)[0] + '.jax_export'
  script = f"""
import json, sys
import jax, numpy as np
exported = jax.export.deserialize(bytearray(open({artifact!r}, 'rb').read()))
rng = np.random.default_rng(0)
shapes, results = [(2, 32, 32, 3), (3, 48, 64, 3)], {{}}
for shape in shapes:
  bg, fg_bg = (rng.integers(0, 256, shape, np.uint8) for _ in range(2))
  out = exported.call(bg, fg_bg)
  np.savez({str(tmp_path)!r} + f'/{{shape[0]}}.npz', bg=bg, fg_bg=fg_bg, **out)
loaded = sorted(name for name in sys.modules
                if name.split('.')[0] in ('zoo', 'training', 'datasets', 'losses', 'flax'))
print(json.dumps(dict(platforms=list(exported.platforms), loaded=loaded)))
"""
  result = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # No PYTHONPATH: no repository code.
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report == dict(platforms=['cpu', 'cuda'], loaded=[])
  exported = zoo.load_exported(path)
  for batch_size in (2, 3):
    with np.load(tmp_path / f'{batch_size}.npz') as saved:
      expected = exported.predict_batch(saved['bg'], saved['fg_bg'])
      for key in ('mask', 'depth'):
        np.testing.assert_allclose(saved[key], np.asarray(expected[key]), atol=1e-6)


def test_the_onnx_model_runs_with_onnxruntime_alone_at_any_batch_and_allowed_size(
    run, tmp_path):
  config, _, path = run
  model_file = os.path.splitext(path)[0] + '.onnx'
  size = config.data.image_size
  # The trained size, and a larger, non-square one (both multiples of the stride).
  shapes = [(1, size, size, 3), (3, 3 * size // 2, 2 * size, 3)]
  script = f"""
import json, sys
import numpy as np, onnxruntime
session = onnxruntime.InferenceSession({model_file!r})
rng = np.random.default_rng(0)
for shape in {shapes!r}:
  bg, fg_bg = (rng.integers(0, 256, shape, np.uint8) for _ in range(2))
  mask, depth = session.run(None, dict(bg=bg, fg_bg=fg_bg))
  np.savez({str(tmp_path)!r} + f'/{{shape[0]}}.npz', bg=bg, fg_bg=fg_bg, mask=mask, depth=depth)
names = dict(inputs=[i.name for i in session.get_inputs()],
             outputs=[o.name for o in session.get_outputs()],
             metadata=session.get_modelmeta().custom_metadata_map)
loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('jax', 'flax', 'zoo'))
print(json.dumps(dict(names, loaded=loaded)))
"""
  result = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # No PYTHONPATH: no repository code.
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  exported = zoo.load_exported(path)
  metadata = dict(model=config.model.name, image_size=str(size),
                  stride=str(exported.model.stride), hflip_average='True')
  assert report == dict(inputs=['bg', 'fg_bg'], outputs=['mask', 'depth'], metadata=metadata,
                        loaded=[])
  for shape in shapes:
    with np.load(tmp_path / f'{shape[0]}.npz') as saved:
      # The JAX forward pass at that size, without resizing (the export's own test
      # above ties it to the checkpoint).
      expected = exported.predict_batch(saved['bg'], saved['fg_bg'])
      for key in ('mask', 'depth'):
        assert saved[key].shape == shape[:3] + (1,)
        np.testing.assert_allclose(saved[key], np.asarray(expected[key]), atol=1e-5)


def test_export_without_jax2onnx_writes_the_other_two_and_says_so(run, tmp_path, monkeypatch,
                                                                   capsys):
  config, workdir, _ = run
  monkeypatch.setitem(sys.modules, 'jax2onnx', None)  # As if it were not installed.
  out = tmp_path / 'model.msgpack'
  modes.run('export', config, types.SimpleNamespace(workdir=workdir, step='latest',
                                                    out=str(out)))
  printed = capsys.readouterr().out
  assert "ONNX skipped: ONNX export needs jax2onnx and onnx" in printed
  assert "pip install -e '.[onnx]'" in printed
  assert sorted(os.listdir(tmp_path)) == ['model.jax_export', 'model.msgpack']


def test_an_installed_zoo_loads_and_predicts_outside_the_checkout(run, tmp_path):
  # What `pip install .` (or from git) puts in site-packages, built from a copy of the
  # project's metadata and packages, so that nothing is written into the checkout.
  _, _, path = run
  source, target = tmp_path / 'source', tmp_path / 'site-packages'
  source.mkdir()
  for name in ('pyproject.toml', 'README.md', 'dmnet_core', 'zoo', 'datasets', 'losses', 'training'):
    copy = shutil.copytree if os.path.isdir(os.path.join(ROOT, name)) else shutil.copy
    copy(os.path.join(ROOT, name), source / name)
  install = subprocess.run(
      [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation',
       '--target', str(target), str(source)], capture_output=True, text=True, timeout=300)
  assert install.returncode == 0, install.stderr
  installed = sorted(os.listdir(target))
  assert 'zoo' in installed and 'dmnet_core' in installed
  # Hugging Face's `datasets` (preinstalled on Colab) must not be shadowed.
  assert 'datasets' not in installed
  script = f"""
import json, sys
import numpy as np
import zoo
model = zoo.load_exported({path!r})
out = model.predict(np.zeros((40, 48, 3), np.uint8), np.full((40, 48, 3), 99, np.uint8))
loaded = sorted(name for name in sys.modules
                if name.split('.')[0] in ('training', 'datasets', 'losses'))
print(json.dumps(dict(mask=out['mask'].shape, depth=out['depth'].shape, loaded=loaded,
                      zoo=zoo.__file__)))
"""
  # -P: the interpreter does not put the current folder first on sys.path.
  result = subprocess.run([sys.executable, '-P', '-c', script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(target)))
  assert result.returncode == 0, result.stderr
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report.pop('zoo').startswith(str(target))
  assert report == dict(mask=[40, 48, 1], depth=[40, 48, 1], loaded=[])


def test_export_to_a_chosen_path_and_refuse_other_files(run, tmp_path):
  config, workdir, path = run
  out = str(tmp_path / 'models' / 'mine.msgpack')
  modes.run('export', config, types.SimpleNamespace(workdir=workdir, step='latest', out=out))
  with open(out, 'rb') as f, open(path, 'rb') as g:
    assert f.read() == g.read()
  assert os.path.getsize(tmp_path / 'models' / 'mine.jax_export') > 0
  (tmp_path / 'other.msgpack').write_bytes(b'\x81\xa1a\x01')
  with pytest.raises(ValueError, match='not an exported model'):
    zoo.load_exported(str(tmp_path / 'other.msgpack'))
  (tmp_path / 'noise.msgpack').write_bytes(b'\xc1 not msgpack')
  with pytest.raises(ValueError, match='not an exported model'):
    zoo.load_exported(str(tmp_path / 'noise.msgpack'))


# What each earlier export version's model config left out, and the layout it meant.
EARLIER_LAYOUTS = [
    (1, 'dmnet_cnn', dict(difference=False, input_skip=False, global_context=False)),
    (1, 'unet', dict(difference=True, input_skip=False)),
    (2, 'dmnet_cnn', dict(global_context=False)),
]


@pytest.mark.parametrize('version, name, left_out', EARLIER_LAYOUTS)
def test_an_earlier_export_loads_with_the_layout_of_its_time(tmp_path, version, name, left_out):
  old_model = zoo.build(dict(name=name, **left_out))
  variables = zoo.init(old_model, jax.random.key(0), 16)
  stats = {key: dict(mean=[0.5] * 3, std=[0.25] * 3) for key in ('bg', 'fg_bg')}
  payload = dict(format=zoo.export.FORMAT, version=version, model_config=dict(name=name),
                 image_size=16, stats=stats,
                 variables=jax.tree.map(np.asarray, dict(variables)))
  path = tmp_path / 'old.msgpack'
  path.write_bytes(serialization.msgpack_serialize(payload))
  loaded = zoo.load_exported(str(path))
  assert loaded.model_config == dict(name=name, **left_out)
  images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), np.uint8)
  outputs = loaded.predict(images, images)
  assert outputs['mask'].shape == (2, 16, 16, 1)


def test_an_export_without_the_mirror_average_predicts_the_plain_pass(run, tmp_path):
  import dataclasses  # pylint: disable=g-import-not-at-top
  config, workdir, path = run
  plain = dataclasses.replace(zoo.load_exported(path), hflip_average=False)
  saved = zoo.load_exported(zoo.save_exported(str(tmp_path / 'plain.msgpack'), plain))
  assert saved.hflip_average is False
  # A file written before the option has no such field: it predicts the plain pass.
  with open(path, 'rb') as f:
    payload = serialization.msgpack_restore(f.read())
  del payload['hflip_average']
  (tmp_path / 'older.msgpack').write_bytes(serialization.msgpack_serialize(payload))
  assert zoo.load_exported(str(tmp_path / 'older.msgpack')).hflip_average is False
  batch = inputs(config)
  with_mirror = checkpoint_prediction(config, workdir, batch)
  plain_config = config.copy_and_resolve_references()
  plain_config.eval.hflip_average = False
  expected = checkpoint_prediction(plain_config, workdir, batch)
  got = saved.predict(batch['bg'], batch['fg_bg'])
  for key in ('mask', 'depth'):
    np.testing.assert_allclose(got[key], np.asarray(expected[key]), atol=1e-6)
    assert np.abs(np.asarray(with_mirror[key]) - np.asarray(expected[key])).max() > 1e-4


def test_every_earlier_export_version_has_a_layout_to_fall_back_to():
  assert zoo.EARLIER_VERSIONS == tuple(range(zoo.export.VERSION - 1, 0, -1))


def test_an_export_names_every_field_of_its_model(tmp_path):
  model_config = dict(name='dmnet_cnn', widths=(4, 8), dilations=(1,))
  variables = zoo.init(zoo.build(model_config), jax.random.key(0), 16)
  stats = {key: dict(mean=[0.5] * 3, std=[0.25] * 3) for key in ('bg', 'fg_bg')}
  path = zoo.save_exported(str(tmp_path / 'model.msgpack'), zoo.ExportedModel(
      model_config=model_config, variables=variables, stats=stats, image_size=16))
  with open(path, 'rb') as f:
    payload = serialization.msgpack_restore(f.read())
  assert payload['version'] == zoo.export.VERSION == 4
  assert set(payload['model_config']) == set(zoo.fields('dmnet_cnn')) | {'name'}
  assert zoo.load_exported(path).model_config == zoo.complete(model_config)


# Every registered model (small widths: the graph, not its size, is under test), and
# bfloat16 compute, through what a user runs: training with the real jitted step,
# orbax checkpoints, --mode export, and the exported file's predictions. dmnet_resnet (the
# notebook's model) trains with Muon, the default; the others with the tiny config's Adam.
EVERY_MODEL = {
    'dmnet_cnn_bfloat16': dict(name='dmnet_cnn', widths=(8, 16), dilations=(1, 2),
                               dtype='bfloat16'),
    'dmnet_cnn_v1': dict(name='dmnet_cnn_v1', dilations=(1,)),
    # Pixel coordinates and the full-resolution input skip: the options that add layers.
    'dmnet_cnn_with_options': dict(name='dmnet_cnn', widths=(8, 16), dilations=(1, 2),
                                   coordinates=True, input_skip=True),
    'dmnet_resnet': dict(name='dmnet_resnet', stage_widths=(8, 16), stage_blocks=(1, 1),
                         stem_width=8),
    'unet': dict(name='unet', widths=(8, 16), convs=1),
}


def test_every_registered_model_is_in_the_end_to_end_test():
  import zoo  # pylint: disable=g-import-not-at-top
  assert {variant['name'] for variant in EVERY_MODEL.values()} == set(zoo.names())


@pytest.mark.parametrize('variant', sorted(EVERY_MODEL))
def test_every_model_trains_checkpoints_and_exports(variant, tiny_data_dir, tmp_path):
  import ml_collections  # pylint: disable=g-import-not-at-top
  config = tiny_config(tiny_data_dir)
  config.model = ml_collections.ConfigDict(dict(dict(dtype='float32'), **EVERY_MODEL[variant]))
  if variant == 'dmnet_resnet':
    config.optimizer.name = 'muon'
  config.data.augment = []  # The same batches every step: the loss must fall.
  config.train.update(steps=6, checkpoint_every=6, log_every=1)
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    train_losses = [json.loads(line)['train/loss'] for line in f if '"train/loss"' in line]
  assert len(train_losses) == 6 and np.all(np.isfinite(train_losses))
  assert min(train_losses[-2:]) < train_losses[0], train_losses
  out = str(tmp_path / 'model.msgpack')
  modes.run('export', config, types.SimpleNamespace(workdir=workdir, step='latest', out=out))
  exported = zoo.load_exported(out)
  assert exported.model_config == zoo.complete(json.loads(config.model.to_json()))
  batch = inputs(config)
  expected = checkpoint_prediction(config, workdir, batch)
  got = exported.predict(batch['bg'], batch['fg_bg'])
  with open(os.path.splitext(out)[0] + '.jax_export', 'rb') as f:
    artifact = jax.export.deserialize(bytearray(f.read())).call(batch['bg'], batch['fg_bg'])
  # In bfloat16 the graphs round differently (8 bits of mantissa): about 1e-3 apart.
  atol = 1e-2 if config.model.dtype == 'bfloat16' else 1e-6
  session = onnxruntime.InferenceSession(os.path.splitext(out)[0] + '.onnx')
  onnx_outputs = dict(zip(('mask', 'depth'),
                          session.run(None, dict(bg=batch['bg'], fg_bg=batch['fg_bg']))))
  # Every model's graph also at another height and width the stride allows.
  stride = exported.model.stride
  crop = (slice(None), slice(0, 2 * stride), slice(0, 3 * stride))
  cropped = dict(bg=batch['bg'][crop], fg_bg=batch['fg_bg'][crop])
  onnx_cropped = dict(zip(('mask', 'depth'), session.run(None, cropped)))
  expected_cropped = exported.predict_batch(cropped['bg'], cropped['fg_bg'])
  for key in ('mask', 'depth'):
    np.testing.assert_allclose(got[key], np.asarray(expected[key]), atol=atol, err_msg=key)
    np.testing.assert_allclose(np.asarray(artifact[key]), np.asarray(expected[key]),
                               atol=atol, err_msg=key)
    # The ONNX graph computes in float32 also for a bfloat16 model.
    np.testing.assert_allclose(onnx_outputs[key], np.asarray(expected[key]), atol=atol,
                               err_msg=key)
    assert onnx_cropped[key].shape == (len(batch['bg']), 2 * stride, 3 * stride, 1)
    np.testing.assert_allclose(onnx_cropped[key], np.asarray(expected_cropped[key]),
                               atol=atol, err_msg=key)
