"""Two runs' masks scored on one grid: a finer run's predictions resized to a coarser run's truth.

  python benchmarks/cross_grid.py --fine runs/cnn_128 --coarse runs/cnn_96_outline

Each run is scored on its own grid by its evaluation, so a run at 128 px and one at 96 px
are not scored on the same test. Here both runs' models predict their own test split (the
same rooms, people and placements when the two sets differ only in `render_size`: checked by
the sample names); the fine run's mask probabilities are resized to the coarse grid
(PIL's bilinear, which averages when it shrinks) and drawn at 0.5, then both are scored against the
coarse set's true masks: the mean per-sample IoU and Dice (`losses.metrics.binary_overlap`,
the evaluation's). Control (`fine_truth_*`): the fine set's true masks resized and drawn
alike, scored the same way: how far the two renderings of one mask differ after resizing,
which bounds what resized predictions can score. The last line is one JSON object.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def resized_probabilities(probabilities, size: int):
  """N x H x W x 1 float probabilities in [0, 1], resized bilinearly to N x size x size x 1."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  resized = [np.asarray(Image.fromarray(np.asarray(p[..., 0], np.float32), mode='F').resize(
      (size, size), Image.BILINEAR)) for p in probabilities]
  return np.clip(np.stack(resized), 0.0, 1.0)[..., None]


def _predictions(workdir: str):
  """(sample names, mask probabilities N x S x S x 1, true masks uint8) of a run's test split."""
  # pylint: disable=g-import-not-at-top
  import ml_collections
  import numpy as np
  import datasets
  from datasets import pipeline
  from training import predict
  from training import run_folder
  # pylint: enable=g-import-not-at-top
  config = ml_collections.ConfigDict(run_folder.require_config(workdir))
  data = datasets.load(config.data)
  model, _ = predict.load_model(workdir)
  names = [data.test[i]['name'] for i in range(len(data.test))]
  probabilities, truths = [], []
  for batch in pipeline.eval_batches(data.test, image_size=config.data.image_size,
                                     batch_size=64):
    probabilities.append(np.asarray(model.predict_batch(batch['bg'], batch['fg_bg'])['mask']))
    truths.append(batch['mask'])
  return names, np.concatenate(probabilities), np.concatenate(truths)


def measure(fine: str, coarse: str) -> dict:
  """Both runs' mask IoU and Dice on the coarse run's test truth (module docstring)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from losses import metrics  # pylint: disable=g-import-not-at-top
  fine_names, fine_probs, fine_truth = _predictions(fine)
  coarse_names, coarse_probs, truth = _predictions(coarse)
  if fine_names != coarse_names:
    raise ValueError(f'{fine} and {coarse}: their test splits hold different samples')
  true = (truth / 255.0).astype(np.float32)
  result = dict(fine=fine, coarse=coarse, samples=len(true), grid=int(true.shape[1]))
  # The control: the fine set's own true masks, resized alike (how far the two renderings of
  # a mask differ, which no model can undo).
  fine_true = (fine_truth / 255.0).astype(np.float32)
  for name, probs in (('fine', resized_probabilities(fine_probs, true.shape[1])),
                      ('coarse', coarse_probs),
                      ('fine_truth', resized_probabilities(fine_true, true.shape[1]))):
    iou, dice = metrics.binary_overlap((probs > 0.5).astype(np.float32), true)
    result[f'{name}_iou'] = round(float(np.mean(iou)), 4)
    result[f'{name}_dice'] = round(float(np.mean(dice)), 4)
  return result


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--fine', required=True, help='the run at the finer image size')
  parser.add_argument('--coarse', required=True, help='the run whose grid scores both')
  args = parser.parse_args()
  result = measure(args.fine, args.coarse)
  print(f'on {args.coarse}\'s {result["grid"]} px test truth ({result["samples"]} samples): '
        f'{args.fine} resized IoU {result["fine_iou"]:.4f} Dice {result["fine_dice"]:.4f}; '
        f'{args.coarse} IoU {result["coarse_iou"]:.4f} Dice {result["coarse_dice"]:.4f}; '
        f'control, {args.fine}\'s true masks resized IoU {result["fine_truth_iou"]:.4f} '
        f'Dice {result["fine_truth_dice"]:.4f}')
  print(json.dumps(result))


if __name__ == '__main__':
  main()
