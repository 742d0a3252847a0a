"""`--mode demo` in a real headless browser: upload a pair, see what --mode predict draws."""
import base64
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import types
import urllib.request

import numpy as np
from PIL import Image
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

import modes
from datasets import synthetic
import datasets
from tests.conftest import free_port
from tests.conftest import tiny_config
from training import demo
from training import loop
from training import predict as predict_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM, CHROMEDRIVER = shutil.which('chromium'), shutil.which('chromedriver')
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason='needs Debian\'s chromium and chromium-driver (make test installs them as root)')


@pytest.fixture(scope='module')
def served(tiny_data_dir, tmp_path_factory):
  """A tiny trained run, its demo page served by run.py, and two test pairs."""
  config = tiny_config(tiny_data_dir)
  config.data.augment = []
  workdir = str(tmp_path_factory.mktemp('run'))
  loop.train_and_evaluate(config, workdir)
  inputs = tmp_path_factory.mktemp('inputs')
  spec = datasets.synthetic_spec(config.data)
  for index in (0, 5):
    sample = synthetic.render_sample(spec, index)
    Image.fromarray(sample['bg']).save(inputs / f'bg_{index}.png')
    Image.fromarray(sample['fg_bg']).save(inputs / f'fg_bg_{index}.png')
  port = free_port()
  log = inputs / 'server.log'  # A file, not a pipe: nothing blocks the server's output.
  with open(log, 'w') as out:
    server = subprocess.Popen(
        [sys.executable, 'run.py', '--mode', 'demo', '--workdir', workdir, '--port', str(port)],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + 120
    while True:
      try:
        urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=5).close()
        break
      except OSError:
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, 'the demo page did not come up: ' + log.read_text()
        time.sleep(0.5)
    # Printed once the model is loaded, before the page is served.
    assert f'serving dmnet_cnn, step 6 of ' in log.read_text(), log.read_text()
    yield types.SimpleNamespace(url=f'http://127.0.0.1:{port}/', workdir=workdir,
                                config=config, inputs=inputs)
  finally:
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope='module')
def browser():
  """Headless Chromium driven by chromedriver (both Debian packages)."""
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                   '--disable-gpu', '--window-size=1280,1600'):
    options.add_argument(argument)
  driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
  driver.set_page_load_timeout(60)
  yield driver
  driver.quit()


def _submit(browser, url, bg_path, fg_bg_path):
  """Opens the page, uploads the two files, presses Predict; returns the page's message."""
  browser.get(url)
  wait = WebDriverWait(browser, 60)
  for elem_id, path in (('bg-upload', bg_path), ('fg-bg-upload', fg_bg_path)):
    field = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'#{elem_id} input[type=file]')))
    field.send_keys(str(path))
    # The upload is done when the component lists the file.
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'#{elem_id} [aria-label="{os.path.basename(path)}"]')))
  browser.find_element(By.ID, 'predict').click()
  wait.until(lambda d: d.find_element(By.ID, 'message').text.strip())
  return browser.find_element(By.ID, 'message').text.strip()


def _shown_image(browser, elem_id) -> np.ndarray:
  """The image an output component shows, fetched as the browser got it."""
  image = WebDriverWait(browser, 60).until(
      lambda d: d.find_element(By.CSS_SELECTOR, f'#{elem_id} img'))
  source = image.get_attribute('src')
  if source.startswith('data:'):
    data = base64.b64decode(source.split(',', 1)[1])
  else:
    with urllib.request.urlopen(source, timeout=30) as response:
      data = response.read()
  return np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))


@needs_browser
def test_the_page_names_the_model_and_draws_what_predict_writes(served, browser, tmp_path):
  message = _submit(browser, served.url, served.inputs / 'bg_5.png',
                    served.inputs / 'fg_bg_5.png')
  assert message.startswith('The person covers '), message
  assert 'dmnet_cnn, step 6' in browser.page_source
  overlay, depth = _shown_image(browser, 'overlay'), _shown_image(browser, 'depth')
  out = tmp_path / 'predicted'
  modes.run('predict', served.config, types.SimpleNamespace(
      workdir=served.workdir, step='latest', bg=str(served.inputs / 'bg_5.png'),
      fg_bg=str(served.inputs / 'fg_bg_5.png'), out=str(out)))
  written = np.asarray(Image.open(out / 'fg_bg_5_overlay.png').convert('RGB'))
  width = written.shape[1] // 2
  np.testing.assert_array_equal(overlay, written[:, :width])
  np.testing.assert_array_equal(depth, written[:, width:])


@needs_browser
def test_bad_uploads_get_one_line_on_the_page_and_no_stack_trace(served, browser, tmp_path):
  text_file = tmp_path / 'notes.png'
  text_file.write_text('not an image')
  small = tmp_path / 'small.png'
  Image.new('RGB', (16, 16)).save(small)
  huge = tmp_path / 'huge.png'
  Image.new('1', (8000, 6000)).save(huge)  # 48 megapixels in a few kilobytes.
  fg_bg = served.inputs / 'fg_bg_0.png'
  cases = {
      (text_file, fg_bg): 'the background (notes.png): not an image PIL can read',
      (served.inputs / 'bg_0.png', small): 'they must be the same scene',
      (huge, fg_bg): 'the background (huge.png) is 8000 x 6000 pixels',
  }
  for (bg_path, fg_bg_path), expected in cases.items():
    message = _submit(browser, served.url, bg_path, fg_bg_path)
    assert message.startswith('Not predicted:') and expected in message, message
    assert 'Traceback' not in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, '#overlay img, #depth img')


@needs_browser
def test_a_file_above_the_upload_limit_is_refused_on_the_page(served, browser, tmp_path):
  big = tmp_path / 'big.png'
  big.write_bytes(b'\0' * ((demo.MAX_FILE_MIB + 1) * 2**20))
  browser.get(served.url)
  wait = WebDriverWait(browser, 60)
  wait.until(ec.presence_of_element_located(
      (By.CSS_SELECTOR, '#bg-upload input[type=file]'))).send_keys(str(big))
  # gradio refuses it before it reaches the server's disk or the model, in a notice.
  notice = f'exceed the maximum allowed size of {demo.MAX_FILE_MIB:.1f} Mb: "big.png"'
  wait.until(lambda d: notice in d.find_element(By.TAG_NAME, 'body').text)
  assert not browser.find_elements(By.CSS_SELECTOR, '#bg-upload [aria-label="big.png"]')


def test_predict_pair_draws_the_pair_or_says_what_is_wrong(served, tmp_path):
  exported, _ = predict_lib.load_model(served.workdir)
  bg, fg_bg = served.inputs / 'bg_5.png', served.inputs / 'fg_bg_5.png'
  overlay, depth, message = demo.predict_pair(exported, str(bg), str(fg_bg))
  images = np.asarray(Image.open(bg)).shape
  assert overlay.shape == depth.shape == images
  assert re.fullmatch(r'The person covers [\d.]+% of the photo\.', message), message
  not_an_image = tmp_path / 'notes.png'
  not_an_image.write_text('hello')
  for bg_path, fg_bg_path, expected in (
      (None, str(fg_bg), 'Upload the background.'),
      (str(bg), None, 'Upload the photo.'),
      (str(not_an_image), str(fg_bg), 'the background (notes.png): not an image PIL can read'),
  ):
    overlay, depth, message = demo.predict_pair(exported, bg_path, fg_bg_path)
    assert overlay is None and depth is None
    assert message == f'**Not predicted:** {expected}' or (
        message.startswith('**Not predicted:** ') and expected in message), message


def test_a_busy_port_is_one_clear_error(served):
  with socket.socket() as taken:
    taken.bind(('127.0.0.1', 0))
    port = taken.getsockname()[1]
    with pytest.raises(ValueError, match=f'--port {port}: cannot serve there'):
      demo.serve(served.workdir, port=port)
