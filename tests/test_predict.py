"""`--mode predict` on files and folders, and `--mode eval` of a run on another dataset."""
import itertools
import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
from PIL import Image
import pytest

import datasets
from datasets import naming
from datasets import pipeline
from datasets import synthetic
from tests.conftest import tiny_config
from training import loop
from training import predict as predict_lib
from training import run_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = synthetic.SyntheticSpec(num_backgrounds=2, num_foregrounds=5, flips=1,
                               placements=1, render_size=32, seed=7)


@pytest.fixture(scope='module')
def workdir(tiny_data_dir, tmp_path_factory):
  """One tiny trained run for every test of this module."""
  path = str(tmp_path_factory.mktemp('run'))
  loop.train_and_evaluate(tiny_config(tiny_data_dir), path)
  return path


@pytest.fixture(scope='module')
def model(workdir):
  return predict_lib.load_model(workdir)[0]


def save(array, path, size=None):
  """Writes a uint8 image (resized to `size` = (width, height) if given); returns path."""
  image = Image.fromarray(array)
  if size:
    image = image.resize(size, Image.BILINEAR)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image.save(path)
  return str(path)


def sample(index):
  return synthetic.render_sample(SPEC, index)


def read(path):
  with Image.open(path) as image:
    return image.mode, np.asarray(image)


def assert_outputs(out, name, width, height):
  mode, mask = read(os.path.join(out, f'{name}_mask.png'))
  assert mode == 'L' and mask.shape == (height, width)
  assert set(np.unique(mask)) <= {0, 255}
  mode, depth = read(os.path.join(out, f'{name}_depth.png'))
  assert mode == 'L' and depth.shape == (height, width)
  mode, overlay = read(os.path.join(out, f'{name}_overlay.png'))
  assert mode == 'RGB' and overlay.shape == (height, 2 * width, 3)


def predicted_depth(model, bg_path, fg_bg_path):
  """What --mode predict should write as depth for this pair: the model on both images
  (as decoded from their files) at its size, resized back to fg_bg's size, in [0, 1]."""
  fg_bg = predict_lib.read_rgb(fg_bg_path)
  height, width = fg_bg.shape[:2]
  size = model.image_size
  depth = model.predict_batch(pipeline.resize(predict_lib.read_rgb(bg_path), size)[None],
                              pipeline.resize(fg_bg, size)[None])['depth']
  depth = np.asarray(depth, np.float32)[0, ..., 0]
  resized = Image.fromarray(depth).resize((width, height), Image.BILINEAR)
  return np.clip(np.asarray(resized), 0, 1)


def assert_each_output_is_its_own_pairs(model, out, pairs):
  """Every `name -> (bg_path, fg_bg_path)` wrote the depth of its own pair, and the
  pairs' depths differ enough that one saved under another's name would fail."""
  expected = {name: predicted_depth(model, *paths) for name, paths in pairs.items()}
  for name, depth in expected.items():
    _, written = read(os.path.join(out, f'{name}_depth.png'))
    np.testing.assert_allclose(written / 255.0, depth, atol=1.5 / 255, err_msg=name)
  for a, b in itertools.combinations(sorted(expected), 2):
    assert np.abs(expected[a] - expected[b]).max() > 4 / 255, (a, b)


def test_a_file_pair_writes_what_the_model_predicts(workdir, model, tmp_path, capsys):
  s = sample(0)
  bg = save(s['bg'], tmp_path / 'in' / 'empty.png')
  fg_bg = save(s['fg_bg'], tmp_path / 'in' / 'person.png')
  out = str(tmp_path / 'out')
  result = predict_lib.run(workdir, bg, fg_bg, out)
  assert result.written == ['person'] and not result.skipped
  assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
      'predict: 1 written, 0 skipped')
  assert_outputs(out, 'person', 32, 32)
  expected = model.predict_batch(s['bg'][None], s['fg_bg'][None])
  _, depth = read(os.path.join(out, 'person_depth.png'))
  np.testing.assert_allclose(depth / 255.0, np.asarray(expected['depth'])[0, ..., 0],
                             atol=1 / 255)
  _, mask = read(os.path.join(out, 'person_mask.png'))
  probability = np.asarray(expected['mask'])[0, ..., 0]
  clear = np.abs(probability - 0.5) > 1e-3
  np.testing.assert_array_equal(mask[clear] == 255, probability[clear] > 0.5)


def test_folders_pair_by_the_original_naming(workdir, model, tmp_path):
  bg_dir, fg_dir = tmp_path / 'bg', tmp_path / 'fg_bg'
  expected, bgs = {}, {}
  for index in range(0, 10, 3):  # Both backgrounds.
    s = sample(index)
    bgs[s['name']] = save(s['bg'], bg_dir / f'{s["bg_name"]}.png')
    expected[s['name']] = save(s['fg_bg'], fg_dir / f'{s["name"]}.jpg')
  save(s['bg'], bg_dir / 'img_999.png')  # Used by no fg_bg.
  pairs, unpaired = naming.find_pairs(str(bg_dir), str(fg_dir))
  assert not unpaired
  assert {(p.name, p.fg_bg, os.path.basename(p.bg)) for p in pairs} == {
      (name, path, f'img_{name.split("_bg")[1][:3]}.png') for name, path in expected.items()}
  out = str(tmp_path / 'out')
  result = predict_lib.run(workdir, str(bg_dir), str(fg_dir), out)
  assert sorted(result.written) == sorted(expected)
  for name in expected:
    assert_outputs(out, name, 32, 32)
  assert_each_output_is_its_own_pairs(
      model, out, {name: (bgs[name], path) for name, path in expected.items()})


def test_original_naming_compares_numbers_and_other_names_pair_by_name(tmp_path):
  bg_dir, fg_dir = tmp_path / 'bg', tmp_path / 'fg_bg'
  s = sample(0)
  for name in ('img_7.jpg', 'kitchen.png', 'hall.jpg', 'hall.png'):
    save(s['bg'], bg_dir / name)
  for name in ('fg001_bg007_03.jpg', 'kitchen.jpg', 'hall.png'):
    save(s['fg_bg'], fg_dir / name)
  pairs, unpaired = naming.find_pairs(str(bg_dir), str(fg_dir))
  assert not unpaired
  assert {p.name: os.path.basename(p.bg) for p in pairs} == {
      'fg001_bg007_03': 'img_7.jpg', 'kitchen': 'kitchen.png', 'hall': 'hall.png'}


def test_folders_pair_by_equal_names_in_fixed_size_batches(model, tmp_path):
  bg_dir, fg_dir = tmp_path / 'bg', tmp_path / 'fg_bg'
  names = ['a', 'b', 'c']
  for index, name in enumerate(names):
    s = sample(index)
    save(s['bg'], bg_dir / f'{name}.png')
    save(s['fg_bg'], fg_dir / f'{name}.png')
  pairs, unpaired = naming.find_pairs(str(bg_dir), str(fg_dir))
  assert not unpaired
  assert [(p.name, p.bg) for p in pairs] == [(n, str(bg_dir / f'{n}.png')) for n in names]
  out = str(tmp_path / 'out')
  before = model._forward._cache_size()  # pylint: disable=protected-access
  result = predict_lib.predict(model, pairs, out, batch_size=2)  # The last one padded.
  assert result.written == names and not result.skipped
  assert model._forward._cache_size() - before <= 1  # pylint: disable=protected-access
  for name in names:
    assert_outputs(out, name, 32, 32)
  # The padded last batch wrote its own pair's prediction, not a padding row's.
  assert_each_output_is_its_own_pairs(model, out, {
      name: (str(bg_dir / f'{name}.png'), str(fg_dir / f'{name}.png')) for name in names})


def test_one_bg_serves_a_folder_of_fg_bg(workdir, model, tmp_path):
  s = sample(0)
  bg = save(s['bg'], tmp_path / 'bg.png')
  shots = {}
  for index in range(3):  # Same background: samples 0, 1, 2.
    shots[f'shot{index}'] = (bg, save(sample(index)['fg_bg'],
                                      tmp_path / 'fg_bg' / f'shot{index}.jpg'))
  out = str(tmp_path / 'out')
  result = predict_lib.run(workdir, bg, str(tmp_path / 'fg_bg'), out)
  assert result.written == ['shot0', 'shot1', 'shot2']
  for name in result.written:
    assert_outputs(out, name, 32, 32)
  assert_each_output_is_its_own_pairs(model, out, shots)


def test_any_input_size_gives_outputs_of_the_fg_bg_size(workdir, model, tmp_path):
  s = sample(1)
  bg = save(s['bg'], tmp_path / 'bg.jpg', size=(50, 50))
  fg_bg = save(s['fg_bg'], tmp_path / 'photo.jpg', size=(48, 40))
  out = str(tmp_path / 'out')
  predict_lib.run(workdir, bg, fg_bg, out)
  assert_outputs(out, 'photo', 48, 40)
  _, written = read(os.path.join(out, 'photo_depth.png'))
  np.testing.assert_allclose(written / 255.0, predicted_depth(model, bg, fg_bg),
                             atol=1.5 / 255)


def test_bad_and_unpaired_files_are_reported_and_skipped(workdir, tmp_path, capsys):
  bg_dir, fg_dir = tmp_path / 'bg', tmp_path / 'fg_bg'
  s = sample(0)
  save(s['bg'], bg_dir / 'img_000.png')
  save(s['bg'], bg_dir / 'img_001.png')
  save(s['fg_bg'], fg_dir / 'fg000_bg000_00.jpg')
  good = (fg_dir / 'fg000_bg000_00.jpg').read_bytes()
  (fg_dir / 'fg001_bg000_00.jpg').write_bytes(good[:len(good) // 3])  # Truncated.
  (fg_dir / 'fg002_bg000_00.png').write_bytes(b'not an image at all')
  save(s['fg_bg'], fg_dir / 'fg003_bg005_00.jpg')  # No img_005.
  save(s['fg_bg'], fg_dir / 'fg004_bg001_00.jpg')
  (bg_dir / 'img_001.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')  # Its bg is bad.
  (fg_dir / '.DS_Store').write_bytes(b'\0\0\0\1Bud1')  # Clutter: ignored silently.
  out = str(tmp_path / 'out')
  result = predict_lib.run(workdir, str(bg_dir), str(fg_dir), out)
  assert result.written == ['fg000_bg000_00']
  assert_outputs(out, 'fg000_bg000_00', 32, 32)
  assert sorted(os.path.basename(path) for path, _ in result.skipped) == [
      'fg001_bg000_00.jpg', 'fg002_bg000_00.png', 'fg003_bg005_00.jpg',
      'fg004_bg001_00.jpg']
  lines = capsys.readouterr().out.strip().splitlines()
  for name in ('fg001_bg000_00.jpg', 'fg002_bg000_00.png', 'fg003_bg005_00.jpg',
               'img_001.png'):
    assert sum(name in line for line in lines if line.startswith('skipped ')) == 1, name
  assert lines[-1].startswith('predict: 1 written, 4 skipped')
  assert sorted(os.listdir(out)) == [f'fg000_bg000_00_{kind}.png'
                                     for kind in ('depth', 'mask', 'overlay')]


@pytest.mark.parametrize('missing', ['bg', 'fg_bg', 'out'])
def test_a_missing_argument_is_a_one_line_error(workdir, tmp_path, missing):
  s = sample(0)
  paths = dict(bg=save(s['bg'], tmp_path / 'bg.png'),
               fg_bg=save(s['fg_bg'], tmp_path / 'fg.png'), out=str(tmp_path / 'out'))
  paths[missing] = None
  with pytest.raises(ValueError, match=f'needs --{missing} '):
    predict_lib.run(workdir, **paths)


def test_an_unreadable_single_bg_is_an_error(workdir, tmp_path):
  (tmp_path / 'bg.jpg').write_bytes(b'garbage')
  fg_bg = save(sample(0)['fg_bg'], tmp_path / 'fg.png')
  with pytest.raises(ValueError, match='--bg .*bg.jpg: not an image'):
    predict_lib.run(workdir, str(tmp_path / 'bg.jpg'), fg_bg, str(tmp_path / 'out'))


def test_the_command_line_reports_a_missing_argument_on_one_line(workdir):
  result = subprocess.run(
      [sys.executable, 'run.py', '--mode', 'predict', '--workdir', workdir,
       '--bg', 'x.png'], cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith(
      'error: --mode predict needs --fg_bg')


def write_user_folder(root):
  """The synthetic samples of SPEC, darkened, in the original folder layout."""
  for index in range(synthetic.num_samples(SPEC)):
    s = sample(index)
    save((s['bg'] * 0.5).astype(np.uint8), root / 'bg' / f'{s["bg_name"]}.png')
    save((s['fg_bg'] * 0.5).astype(np.uint8), root / 'fg_bg' / f'{s["name"]}.png')
    save(s['mask'][..., 0], root / 'mask' / f'{s["name"]}.png')
    save(s['depth'][..., 0], root / 'depth' / f'{s["name"]}.png')
  return str(root)


def test_eval_on_another_dataset_keeps_the_training_normalization(
    workdir, tiny_data_dir, tmp_path, monkeypatch):
  config = tiny_config(tiny_data_dir)
  config.data.source = write_user_folder(tmp_path / 'mine')
  used = []
  jit_steps = loop.steps_lib.jit_steps
  monkeypatch.setattr(loop.steps_lib, 'jit_steps',
                      lambda *args: used.append(args[4]) or jit_steps(*args))
  run = pathlib.Path(workdir)
  own_results = {name: (run / name).read_bytes()
                 for name in ('eval_metrics.json', 'metrics.jsonl', 'baselines.npz')}
  metrics = loop.evaluate_checkpoint(config, workdir)
  # Split by background: the test split is one of the two rooms, 5 samples.
  assert metrics['num_samples'] == 5 and 0 <= metrics['mask_iou'] <= 1
  trained = run_folder.read_data_stats(workdir)
  assert used == [trained]
  theirs = datasets.load(config.data)
  assert not np.allclose(theirs.stats['bg']['mean'], trained['bg']['mean'], atol=0.05)
  # The run's own results are untouched; this set's go beside them, under its name.
  for name, content in own_results.items():
    assert (run / name).read_bytes() == content, name
  there = run / 'evals' / theirs.name
  assert json.loads((there / 'eval_metrics.json').read_text()) == metrics
  assert (there / 'samples' / f'step_{metrics["step"]:07d}.png').exists()


def test_eval_of_the_latest_checkpoint_on_its_own_dataset_writes_into_the_run(
    workdir, tiny_data_dir, tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  run = tmp_path / 'copy'
  # The run as training left it (other tests of this module evaluate it elsewhere too).
  shutil.copytree(workdir, run, ignore=shutil.ignore_patterns('evals'))
  (run / 'eval_metrics.json').unlink()
  config = tiny_config(tiny_data_dir)
  metrics = loop.evaluate_checkpoint(config, str(run))
  assert json.loads((run / 'eval_metrics.json').read_text()) == metrics
  assert not (run / 'evals').exists()
  # An earlier checkpoint goes beside the run's results, under the dataset's name.
  final = (run / 'eval_metrics.json').read_bytes()
  earlier = loop.evaluate_checkpoint(config, str(run), which='3')
  assert earlier['step'] == 3 and (run / 'eval_metrics.json').read_bytes() == final
  name = datasets.load(config.data).name
  assert json.loads((run / 'evals' / name / 'eval_metrics.json').read_text()) == earlier


def test_mode_eval_writes_to_out(workdir, tiny_data_dir, tmp_path):
  import types  # pylint: disable=g-import-not-at-top
  import modes  # pylint: disable=g-import-not-at-top
  out = tmp_path / 'elsewhere'
  flags = types.SimpleNamespace(workdir=workdir, step='latest', out=str(out))
  modes.run('eval', tiny_config(tiny_data_dir), flags)
  saved = json.loads((out / 'eval_metrics.json').read_text())
  assert saved['step'] == 6 and 0 <= saved['mask_iou'] <= 1
  assert (out / 'samples' / 'step_0000006.png').exists()


# Fields a config.json of an earlier time did not hold, and the layout it meant.
EARLIER_RUNS = {
    'before_input_skip': dict(difference=False, input_skip=False, global_context=False),
    'before_global_context': dict(global_context=False),
}


@pytest.mark.parametrize('era', sorted(EARLIER_RUNS))
def test_a_run_saved_before_a_model_field_existed_still_predicts(tiny_data_dir, tmp_path, era):
  import json  # pylint: disable=g-import-not-at-top
  left_out = EARLIER_RUNS[era]
  config = tiny_config(tiny_data_dir)
  config.model.update(left_out)
  config.train.steps = 1
  old_run = str(tmp_path / 'old')
  loop.train_and_evaluate(config, old_run)
  path = os.path.join(old_run, 'config.json')
  with open(path) as f:
    saved = json.load(f)
  for field in left_out:  # What a config.json of that time held.
    del saved['model'][field]
  with open(path, 'w') as f:
    json.dump(saved, f)
  model, step = predict_lib.load_model(old_run)
  assert step == 1
  assert model.model_config == dict(saved['model'], **left_out)
  pair = sample(0)
  assert model.predict(pair['bg'], pair['fg_bg'])['mask'].shape == (32, 32, 1)


def test_step_picks_a_checkpoint_by_number_best_or_latest(workdir):
  latest, latest_step = predict_lib.load_model(workdir)
  earlier, earlier_step = predict_lib.load_model(workdir, 3)
  assert (latest_step, earlier_step) == (6, 3)
  differs = [not np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(latest.variables['params']), jax.tree.leaves(earlier.variables['params']))]
  assert any(differs)
  _, best_step = predict_lib.load_model(workdir, 'best')
  assert best_step == 6  # The only evaluated checkpoint.
  with pytest.raises(ValueError, match='no checkpoint at step 4; saved steps: 3, 6'):
    predict_lib.load_model(workdir, 4)


def test_a_run_predicts_as_it_was_evaluated_with_or_without_the_mirror_average(
    workdir, tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  assert predict_lib.load_model(workdir)[0].hflip_average is True  # Today's default.
  older = str(tmp_path / 'older')
  shutil.copytree(workdir, older)
  path = os.path.join(older, 'config.json')
  with open(path) as f:
    saved = json.load(f)
  del saved['eval']['hflip_average']  # A run from before the option.
  with open(path, 'w') as f:
    json.dump(saved, f)
  assert predict_lib.load_model(older)[0].hflip_average is False
  assert predict_lib.load_model(older, hflip_average=True)[0].hflip_average is True
