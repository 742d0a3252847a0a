"""The Colab notebook runs top to bottom on the CPU with a tiny run, and predicts."""
import os
import re

import numpy as np
from PIL import Image
import pytest

from datasets import naming
from tests.test_predict import predicted_depth
from training import predict as predict_lib

nbclient = pytest.importorskip('nbclient')
nbformat = pytest.importorskip('nbformat')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, 'notebooks', 'colab.ipynb')
# tests/conftest.py's tiny_config (its synthetic set is reused if built, and Adam, which
# compiles faster than Muon) and a small dmnet_resnet, the notebook's model.
TINY = ('--config.model.stage_widths=(8,8,8,8) --config.model.stage_blocks=(1,1,1,1) '
        '--config.optimizer.name=adam '
        '--config.model.stem_width=8 --config.model.dilations=(1,2) '
        '--config.data.image_size=32 --config.data.build_workers=1 '
        '--config.data.synthetic.num_backgrounds=2 --config.data.synthetic.num_foregrounds=4 '
        '--config.data.synthetic.flips=2 --config.data.synthetic.placements=2 '
        '--config.data.synthetic.foregrounds_per_background=0 '
        '--config.data.synthetic.render_size=32 --config.train.steps=4 '
        '--config.train.batch_size=4 --config.train.checkpoint_every=4 '
        '--config.train.log_every=2 --config.eval.every=4 --config.eval.batch_size=8 '
        '--config.eval.num_grid_samples=2 --config.schedule.warmup_steps=2')


def test_the_notebook_trains_and_predicts(tiny_data_dir, tmp_path, monkeypatch):
  workdir = tmp_path / 'run'
  monkeypatch.setenv('NOTEBOOK_WORKDIR', str(workdir))
  monkeypatch.setenv('NOTEBOOK_OVERRIDES',
                     f'{TINY} --config.data.data_dir={tiny_data_dir}')
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  client = nbclient.NotebookClient(
      notebook, timeout=240, kernel_name='python3',
      resources={'metadata': {'path': os.path.join(ROOT, 'notebooks')}})
  client.execute()
  predictions = workdir / 'predictions'
  pairs, unpaired = naming.find_pairs(str(workdir / 'inputs' / 'bg'),
                                           str(workdir / 'inputs' / 'fg_bg'))
  assert len(pairs) == 2 and not unpaired
  model, _ = predict_lib.load_model(str(workdir))
  for pair in pairs:  # What the notebook wrote is what its trained model predicts.
    with Image.open(predictions / f'{pair.name}_depth.png') as depth:
      np.testing.assert_allclose(np.asarray(depth) / 255.0,
                                 predicted_depth(model, pair.bg, pair.fg_bg), atol=1.5 / 255)
    with Image.open(predictions / f'{pair.name}_mask.png') as mask:
      assert mask.size == (80, 80) and set(np.unique(np.asarray(mask))) <= {0, 255}
    with Image.open(predictions / f'{pair.name}_overlay.png') as overlay, \
        Image.open(pair.fg_bg) as fg_bg:
      # The photo with the mask tinted, changed where the person is, beside the depth.
      assert overlay.size == (160, 80)
      tinted = np.asarray(overlay.convert('RGB'), np.float32)[:, :80]
      plain = np.asarray(fg_bg.convert('RGB'), np.float32)
      assert np.abs(tinted - plain).max() > 20
  shown = [output for cell in notebook.cells if cell.cell_type == 'code'
           for output in cell.outputs if 'image/png' in output.get('data', {})]
  assert len(shown) == 2
  assert not os.path.exists(os.path.join(ROOT, 'notebooks', 'runs'))
  # The last cell exported the model and ran the ONNX file on the first pair.
  assert (workdir / 'export' / 'model.onnx').exists()
  printed = ''.join(output.get('text', '') for output in notebook.cells[-1].outputs)
  found = re.search(r'model\.onnx: [\d.]+ MiB; on (\S+) the person covers ([\d.]+)% of the '
                    r'image', printed)
  assert found, printed
  pair = next(p for p in pairs if os.path.basename(p.fg_bg) == found.group(1))
  size = model.image_size
  load = lambda path: np.asarray(Image.open(path).convert('RGB').resize((size, size),
                                                                       Image.BILINEAR))
  expected = model.predict_batch(load(pair.bg)[None], load(pair.fg_bg)[None])['mask']
  # The graphs differ by 1e-5: a pixel or two at 32 x 32 may fall on either side of 0.5.
  assert float(found.group(2)) == pytest.approx(100 * float((expected > 0.5).mean()), abs=0.25)
