"""A trained run's mask IoU after cleaning the drawn mask up: holes filled, stray specks dropped.

  python benchmarks/mask_cleanup.py --workdir runs/cnn [--workdir runs/other ...]
      [--train_samples 900]

Each run's model (its last checkpoint, with its own mirror averaging) predicts its whole test
split and `--train_samples` samples spread over its train split. The mask is drawn at 0.5, as
the evaluation draws it, and then cleaned up each way of CLEANUPS on the host:
- `as_drawn`: nothing (the evaluation's mask);
- `holes_filled`: background enclosed by the person (not connected to the picture's border)
  becomes person (`scipy.ndimage.binary_fill_holes`);
- `largest_part`: only the largest 8-connected part of the person is kept;
- `small_parts_dropped`: parts smaller than a tenth of the largest are dropped;
- `holes_filled+small_parts_dropped`: both.
The per-sample IoU and Dice (`losses.metrics.binary_overlap`, the evaluation's) are averaged.
A cleanup can cost as well as gain where the true masks have what it removes (background
enclosed by the person, a part joined to the body by no pixel): `true_masks` is each cleanup
applied to the true masks themselves, scored against them (1 where it changes nothing), and
`true_masks_changed` the share of true masks it changes. The train column is where a
cleanup would be chosen, the test column what it would then be worth. The last line is one
JSON object with every figure. Needs scipy (which jax installs).
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SMALL_PART_SHARE = 0.1  # Parts below this share of the largest part's area are specks.


def _parts(mask):
  """8-connected parts of a boolean HxW mask: (labels, areas by label, 0 = background)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
  return labels, np.bincount(labels.ravel(), minlength=count + 1)


def holes_filled(mask):
  """`mask` with the background it encloses (not reaching the border) turned into person."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  return ndimage.binary_fill_holes(mask)


def largest_part(mask):
  """Only the largest 8-connected part of `mask` (an empty mask stays empty)."""
  labels, areas = _parts(mask)
  if len(areas) <= 1:
    return mask
  return labels == 1 + int(areas[1:].argmax())


def small_parts_dropped(mask):
  """`mask` without the parts smaller than SMALL_PART_SHARE of its largest part."""
  labels, areas = _parts(mask)
  if len(areas) <= 1:
    return mask
  keep = areas >= SMALL_PART_SHARE * areas[1:].max()
  keep[0] = False
  return keep[labels]


CLEANUPS = {
    'as_drawn': lambda mask: mask,
    'holes_filled': holes_filled,
    'largest_part': largest_part,
    'small_parts_dropped': small_parts_dropped,
    'holes_filled+small_parts_dropped': lambda mask: holes_filled(small_parts_dropped(mask)),
}


def mean_overlaps(model, source, image_size: int, indices) -> dict:
  """{cleanup: (mean IoU, mean Dice)} over `source[indices]`, the mask drawn at 0.5; and
  under 'true_masks' / 'true_masks_changed' the same for the cleaned true masks (see the
  module docstring)."""
  # pylint: disable=g-import-not-at-top
  import numpy as np
  from datasets import pipeline
  from losses import metrics
  # pylint: enable=g-import-not-at-top
  sums = {name: np.zeros(2) for name in CLEANUPS}
  true_sums = {name: np.zeros(2) for name in CLEANUPS}
  changed = {name: 0 for name in CLEANUPS}
  count = 0
  for batch in pipeline.eval_batches(pipeline.IndexedView(source, indices),
                                     image_size=image_size, batch_size=64):
    drawn = np.asarray(model.predict_batch(batch['bg'], batch['fg_bg'])['mask'])[..., 0] > 0.5
    true = (batch['mask'] / 255.0).astype(np.float32)
    true_drawn = true[..., 0] > 0.5
    for name, cleanup in CLEANUPS.items():
      cleaned = np.stack([cleanup(mask) for mask in drawn])[..., None].astype(np.float32)
      iou, dice = metrics.binary_overlap(cleaned, true)
      sums[name] += (float(np.sum(iou)), float(np.sum(dice)))
      cleaned_true = np.stack([cleanup(mask) for mask in true_drawn])
      iou, dice = metrics.binary_overlap(cleaned_true[..., None].astype(np.float32), true)
      true_sums[name] += (float(np.sum(iou)), float(np.sum(dice)))
      changed[name] += int(np.sum(np.any(cleaned_true != true_drawn, axis=(1, 2))))
    count += len(drawn)
  means = lambda totals: {name: [round(float(v), 4) for v in total / count]
                          for name, total in totals.items()}
  return dict(means(sums), true_masks=means(true_sums),
              true_masks_changed={name: round(n / count, 4) for name, n in changed.items()})


def measure(workdir: str, train_samples: int) -> dict:
  """The train and test figures of one run (see the module docstring)."""
  # pylint: disable=g-import-not-at-top
  import ml_collections
  import numpy as np
  import datasets
  from training import evaluate
  from training import predict
  from training import run_folder
  # pylint: enable=g-import-not-at-top
  config = ml_collections.ConfigDict(run_folder.require_config(workdir))
  data = datasets.load(config.data)
  model, step = predict.load_model(workdir)
  size = config.data.image_size
  return dict(
      workdir=workdir, step=int(step),
      train=mean_overlaps(model, data.train, size,
                          evaluate.grid_indices(len(data.train), train_samples)),
      test=mean_overlaps(model, data.test, size, np.arange(len(data.test))))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', action='append', required=True, help='a trained run')
  parser.add_argument('--train_samples', type=int, default=900)
  args = parser.parse_args()
  results = []
  for workdir in args.workdir:
    result = measure(workdir, args.train_samples)
    for name in CLEANUPS:
      (train_iou, train_dice), (test_iou, test_dice) = result['train'][name], result['test'][name]
      true_iou = result['test']['true_masks'][name][0]
      true_changed = result['test']['true_masks_changed'][name]
      print(f'{workdir} {name:34s} train IoU {train_iou:.4f} Dice {train_dice:.4f}  '
            f'test IoU {test_iou:.4f} Dice {test_dice:.4f}  on the true test masks: '
            f'IoU {true_iou:.4f}, {true_changed:.1%} of them changed')
    results.append(result)
  print(json.dumps(results))


if __name__ == '__main__':
  main()
