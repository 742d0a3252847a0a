"""The command line refuses bad configs with one line that names the problem."""
import os
import subprocess
import sys

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
