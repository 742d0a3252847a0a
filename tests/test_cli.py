"""The command line refuses bad configs with one line that names the problem."""
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
  return subprocess.run([sys.executable, 'run.py', *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=120)


def test_unknown_config_key_names_the_key():
  result = run_cli('--config', 'configs/cnn.py', '--config.train.stepz=5', '--mode', 'summary')
  assert result.returncode != 0
  assert 'stepz' in result.stderr


def test_unknown_model_lists_the_registered_models():
  result = run_cli('--config', 'configs/cnn.py', '--config.model.name=nope', '--mode', 'summary')
  assert result.returncode == 2
  last_line = result.stderr.strip().splitlines()[-1]
  assert 'nope' in last_line and 'dmnet_cnn' in last_line and 'unet' in last_line


def test_list_fields_take_python_literals_or_a_name_on_the_command_line():
  import json  # pylint: disable=g-import-not-at-top
  show_config = ('import json, sys, run; run.FLAGS(sys.argv); c = run.FLAGS.config; '
                 'print(json.dumps([c.loss.depth, c.loss.mask, c.train.stages]))')
  result = subprocess.run(
      [sys.executable, '-c', show_config, '--config', 'configs/cnn.py',
       "--config.loss.depth=[{'name': 'l1'}, {'name': 'ssim', 'weight': 0.5}]",
       '--config.loss.mask=dice', "--config.train.stages=[{'image_size': 32, 'fraction': 0.5}]"],
      cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
  depth, mask, stages = json.loads(result.stdout.strip().splitlines()[-1])
  assert depth == [{'name': 'l1'}, {'name': 'ssim', 'weight': 0.5}]
  assert mask == 'dice'
  assert stages == [{'image_size': 32, 'fraction': 0.5}]


def test_a_list_field_that_is_not_a_literal_is_refused_naming_the_flag():
  result = run_cli('--config', 'configs/cnn.py', "--config.train.stages=[dict(x=1)]",
                   '--mode', 'summary')
  assert result.returncode != 0
  assert 'config.train.stages' in result.stderr and 'not a Python literal' in result.stderr


TINY_SET = ['--config.data.synthetic.num_backgrounds=2',
            '--config.data.synthetic.num_foregrounds=2',
            '--config.data.synthetic.foregrounds_per_background=0', '--config.data.synthetic.flips=1',
            '--config.data.synthetic.placements=2', '--config.data.synthetic.render_size=32',
            '--config.data.image_size=32', '--config.data.build_workers=1']


def test_mode_build_builds_the_set_once_and_prints_its_summary(tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  args = ['--config', 'configs/cnn.py', '--mode', 'build',
          f'--config.data.data_dir={tmp_path}', *TINY_SET]
  first, again = run_cli(*args), run_cli(*args)
  assert first.returncode == 0, first.stderr[-2000:]
  summary = json.loads(first.stdout.strip().splitlines()[-1])
  # 2 rooms x 2 figures x 2 placements, split by background: one room each.
  assert (summary['train'], summary['test']) == (4, 4)
  assert summary['reused'] is False
  assert json.loads(again.stdout.strip().splitlines()[-1])['reused'] is True


def test_mode_preview_writes_a_contact_sheet_of_synthetic_samples(tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  out = tmp_path / 'sheet' / 'preview.png'
  result = run_cli('--config', 'configs/cnn.py', '--mode', 'preview', f'--out={out}',
                   *TINY_SET)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().splitlines()[-1] == str(out)
  with Image.open(out) as sheet:
    assert sheet.format == 'PNG' and sheet.width > 32 and sheet.height > 32
    pixels = np.asarray(sheet.convert('RGB'), np.float32)
  assert pixels.std() > 10  # Rooms, people, masks and depth maps, not a blank sheet.
