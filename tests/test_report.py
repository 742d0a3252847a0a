"""`--mode report`: the report of one run, a comparison of several, and bad workdirs."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image

from configs import base
from tests.conftest import free_port
from tests.conftest import tiny_config
from training import loop
from training import report
from training import run_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ('## Final evaluation', '## Training loss', '## Learning rate', '## Timing',
            '## Memory', '## Evaluation over time', '## Predictions')


@pytest.fixture(scope='module')
def runs(tiny_data_dir, tmp_path_factory):
  """A real tiny run `a`, and `b`: its files with another loss and other numbers."""
  parent = tmp_path_factory.mktemp('runs')
  run_a, run_b = str(parent / 'a'), str(parent / 'b')
  config = tiny_config(tiny_data_dir)
  config.data.augment = []  # Compiling color_jitter would take most of this file's time.
  config.loss = base.get_config().loss  # The default sums of terms, in one real run.
  loop.train_and_evaluate(config, run_a)
  # A second real run would double this file's time; a copy with the depth loss
  # swapped and every number changed is enough for the report.
  os.makedirs(run_b)
  shutil.copytree(os.path.join(run_a, 'samples'), os.path.join(run_b, 'samples'))
  with open(os.path.join(run_a, 'config.json')) as f:
    config = json.load(f)
  config['loss']['depth'] = 'mse'
  with open(os.path.join(run_b, 'config.json'), 'w') as f:
    json.dump(config, f)
  with open(os.path.join(run_a, 'metrics.jsonl')) as f, \
       open(os.path.join(run_b, 'metrics.jsonl'), 'w') as g:
    for line in f:
      record = json.loads(line)
      g.write(json.dumps({k: v if k == 'step' else v * 0.5 for k, v in record.items()})
              + '\n')
  with open(os.path.join(run_a, 'eval_metrics.json')) as f:
    metrics = json.load(f)
  with open(os.path.join(run_b, 'eval_metrics.json'), 'w') as f:
    json.dump(dict(metrics, mask_iou=0.75), f)
  return str(parent), run_a, run_b


def _images(md_path):
  with open(md_path) as f:
    text = f.read()
  links = re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)
  return text, [os.path.join(os.path.dirname(md_path), link) for link in links]


def test_the_report_of_one_run_has_every_section_and_its_images(runs):
  _, run_a, _ = runs
  path = report.report(run_a)
  assert path == os.path.join(run_a, 'report.md')
  text, images = _images(path)
  for section in SECTIONS:
    assert section in text, section
  assert '| mask_iou |' in text and 'baseline' in text and 'dmnet_cnn' in text
  names = {os.path.basename(p) for p in images}
  assert names == {'losses.png', 'lr.png', 'timing.png', 'memory.png', 'eval.png',
                   'predictions.png'}
  for image in images:
    assert os.path.dirname(image) == os.path.join(run_a, 'report')
    with Image.open(image) as im:
      assert im.format == 'PNG' and min(im.size) > 50
      assert np.asarray(im.convert('L')).std() > 0  # Not a blank canvas.


def test_a_comparison_has_one_row_per_run_and_overlaid_curves(runs):
  parent, run_a, run_b = runs
  assert report.resolve_workdirs(f'{run_a},{run_b}') == [run_a, run_b]
  workdirs = report.resolve_workdirs(os.path.join(parent, '*'))
  assert workdirs == [run_a, run_b]
  path = report.write_report(workdirs)
  assert path == os.path.join(parent, 'report.md')
  assert report.resolve_workdirs(os.path.join(parent, '*')) == workdirs  # Not report/.
  text, images = _images(path)
  rows = [line for line in text.splitlines() if line.startswith(('| a |', '| b |'))]
  assert len(rows) == 2
  assert ('mask bce_with_logits(outline_weight=5.0) + dice; depth l1 + ssim + gradient'
          in rows[0])
  assert 'depth mse;' in rows[1] and '0.7500' in rows[1]
  header = next(line for line in text.splitlines() if line.startswith('| run |'))
  assert 'mask_iou' in header and 'depth_rmse' in header and 'steps/s' in header
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for image in images:  # Plots and prediction grids, none of them blank.
    with Image.open(image) as picture:
      assert np.asarray(picture.convert('L'), np.float32).std() > 1, image
  assert {'predictions_a.png', 'predictions_b.png'} <= {os.path.basename(p) for p in images}

  loaded = [report.load_run(w, n) for w, n in zip(workdirs, ('a', 'b'))]
  _, title, panels = report.PLOTS[0]
  total_loss_axes = report.make_figure(loaded, title, panels).axes[0]
  assert [line.get_label() for line in total_loss_axes.get_lines()] == ['a', 'b']
  a_line, b_line = total_loss_axes.get_lines()
  np.testing.assert_allclose(b_line.get_ydata(), a_line.get_ydata() * 0.5, rtol=1e-6)


def test_steps_repeated_after_a_resume_keep_the_last_value(tmp_path):
  lines = [dict(step=2, **{'train/loss': 1.0}), dict(step=4, **{'train/loss': 0.9}),
           dict(step=4, **{'eval/mask_iou': 0.1}),
           # Resumed from a checkpoint at step 3: step 4 is logged again.
           dict(step=4, **{'train/loss': 0.5}), dict(step=6, **{'train/loss': 0.4})]
  with open(tmp_path / 'metrics.jsonl', 'w') as f:
    f.write(''.join(json.dumps(line) + '\n' for line in lines) + '{"step": 8, "tr')
  series = run_folder.read_metrics(str(tmp_path))
  steps, values = series['train/loss']
  assert steps.tolist() == [2, 4, 6] and values.tolist() == [1.0, 0.5, 0.4]
  assert series['eval/mask_iou'][0].tolist() == [4]
  assert report.report(str(tmp_path)).endswith('report.md')  # No eval, no samples yet.


def test_a_workdir_without_metrics_gives_one_line_naming_it(tmp_path):
  missing = str(tmp_path / 'no_such_run')
  with pytest.raises(ValueError, match='no_such_run'):
    report.resolve_workdirs(f'{missing}')
  with pytest.raises(ValueError, match='matching'):
    report.resolve_workdirs(str(tmp_path / 'nothing*'))
  result = subprocess.run(
      [sys.executable, 'run.py', '--mode', 'report', '--workdir', missing],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
  assert len(errors) == 1 and missing in errors[0] and 'metrics.jsonl' in errors[0]
  assert 'Traceback' not in result.stderr


def _get_json(url: str, timeout_s: float = 60.0):
  """GETs `url` as JSON, retrying while the server starts or is still loading."""
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)
    except (urllib.error.URLError, ConnectionError):
      if time.monotonic() > deadline:
        raise
      time.sleep(0.5)


def test_tensorboard_as_the_readme_runs_it_shows_the_runs_scalars_and_images(runs):
  parent, run_a, _ = runs
  tensorboard = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
  port = free_port()
  server = subprocess.Popen(
      [tensorboard, '--logdir', parent, '--port', str(port), '--host', '127.0.0.1',
       '--reload_interval', '1'],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    base_url = f'http://127.0.0.1:{port}/data/plugin'
    deadline = time.monotonic() + 60
    while True:  # The first load of the event files happens after the server is up.
      scalars = _get_json(f'{base_url}/scalars/tags')
      if 'a/tb' in scalars or time.monotonic() > deadline:
        break
      time.sleep(0.5)
    tags = scalars['a/tb']
    for tag in ('train/loss', 'train/mask_loss', 'train/depth_loss', 'train/lr',
                'eval/mask_iou', 'eval/depth_rmse'):
      assert tag in tags, tag
    query = urllib.parse.urlencode(dict(run='a/tb', tag='train/loss'))
    points = _get_json(f'{base_url}/scalars/scalars?{query}')
    steps = [step for _, step, _ in points]
    logged = [json.loads(line) for line in open(os.path.join(run_a, 'metrics.jsonl'))]
    assert steps == [r['step'] for r in logged if 'train/loss' in r]
    assert _get_json(f'{base_url}/images/tags')['a/tb'], 'no prediction images'
  finally:
    server.terminate()
    server.wait(timeout=30)
