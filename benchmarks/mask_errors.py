"""Where a trained run's masks are wrong: at the person's outline or away from it, and by size.

  python benchmarks/mask_errors.py --workdir runs/cnn_96 [--workdir runs/other ...]

Each run's model (its last checkpoint, with its own mirror averaging) predicts its whole test
split at the run's image size; the mask is drawn at 0.5, as the evaluation draws it. A wrong
pixel is `at_outline` when it lies within one pixel (8-neighbourhood) of the true mask's
outline, i.e. where the true mask changes between it and a neighbour: a band two pixels wide,
what a drawing one pixel too fat, too thin or shifted gets wrong. Reported over the test split
(means of per-sample IoUs; `wrong_at_outline_share` pools the pixels of all samples):
- `iou`: the mean per-sample IoU (the evaluation's, `losses.metrics.binary_overlap`);
- `wrong_at_outline_share`: the share of all wrong pixels that are at the outline;
- `iou_outline_forgiven`: the mean IoU if every wrong pixel at the outline were right;
- controls, from the true masks alone: `empty_forgiven`, what a drawing of nothing would score
  forgiven alike (the share of the person inside the band: how generous forgiving is);
  `true_shifted` and `true_thinned`, the IoU of the true mask moved one pixel to the right or
  eroded by one pixel (what a one-pixel error costs at this size);
- `by_person_size`: all of these for the samples grouped by the true person's share of the
  picture (SIZE_BINS).
`depth_errors.py` reports the first three figures too (by the person's area in pixels, with
the masks' misses and false alarms); this script adds the controls and the groups by the
person's share of the picture, and shares its outline band (`depth_errors.near_outline`).
The last line is one JSON object with every figure. Needs scipy (which jax installs).
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import depth_errors  # pylint: disable=g-import-not-at-top,wrong-import-position

# Person's share of the picture: upper bounds of the groups.
SIZE_BINS = (0.01, 0.02, 0.05, 0.1, 1.0)


def _iou(a, b):
  """Per-sample IoU of boolean N x H x W masks: the evaluation's (1 where both are empty)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from losses import metrics  # pylint: disable=g-import-not-at-top
  return np.asarray(metrics.binary_overlap(a, b)[0])


def per_sample(drawn, true) -> dict:
  """Per-sample arrays for boolean N x H x W masks: see the module docstring (the
  controls `empty_forgiven`, `true_shifted` and `true_thinned` need no model)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  band = depth_errors.near_outline(true, 1)
  wrong = drawn != true
  at_outline = wrong & band
  # Forgiving a wrong pixel at the outline: it takes the true mask's value there.
  forgiven = np.where(at_outline, true, drawn)
  shifted = np.zeros_like(true)
  shifted[:, :, 1:] = true[:, :, :-1]
  thinned = ndimage.binary_erosion(true, np.ones((1, 3, 3), bool), border_value=1)
  return dict(iou=_iou(drawn, true),
              iou_outline_forgiven=_iou(forgiven, true),
              empty_forgiven=_iou(np.where(band, true, False), true),
              true_shifted=_iou(shifted, true),
              true_thinned=_iou(thinned, true),
              wrong=np.sum(wrong, axis=(1, 2)),
              wrong_at_outline=np.sum(at_outline, axis=(1, 2)),
              person_share=np.mean(true, axis=(1, 2)))


MEANS = ('iou', 'iou_outline_forgiven', 'empty_forgiven', 'true_shifted', 'true_thinned')


def summarize(samples: dict) -> dict:
  """The figures of the module docstring from `per_sample`'s arrays (concatenated)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  share = lambda part, whole: round(float(np.sum(part) / max(np.sum(whole), 1)), 4)
  means = lambda members: {key: (round(float(np.mean(samples[key][members])), 4)
                                 if members.any() else None) for key in MEANS}
  groups, lower = [], 0.0
  for upper in SIZE_BINS:
    members = (samples['person_share'] >= lower) & (samples['person_share'] < upper)
    if upper == SIZE_BINS[-1]:
      members |= samples['person_share'] >= upper
    groups.append(dict(
        person_share=[lower, upper], count=int(np.sum(members)), **means(members),
        wrong_at_outline_share=share(samples['wrong_at_outline'][members],
                                     samples['wrong'][members])))
    lower = upper
  return dict(**means(np.ones(len(samples['iou']), bool)),
              wrong_at_outline_share=share(samples['wrong_at_outline'], samples['wrong']),
              by_person_size=groups)


def measure(workdir: str) -> dict:
  """The figures of one run's test split (see the module docstring)."""
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
  model, step = predict.load_model(workdir)
  parts = []
  for batch in pipeline.eval_batches(data.test, image_size=config.data.image_size,
                                     batch_size=64):
    drawn = np.asarray(model.predict_batch(batch['bg'], batch['fg_bg'])['mask'])[..., 0] > 0.5
    parts.append(per_sample(drawn, batch['mask'][..., 0] > 127))
  samples = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
  return dict(workdir=workdir, step=int(step), image_size=config.data.image_size,
              samples=len(samples['iou']), **summarize(samples))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', action='append', required=True, help='a trained run')
  args = parser.parse_args()
  results = []
  for workdir in args.workdir:
    result = measure(workdir)
    print(f'{workdir} ({result["image_size"]} px, step {result["step"]}): mask IoU '
          f'{result["iou"]:.4f}; {result["wrong_at_outline_share"]:.1%} of wrong pixels within '
          f'a pixel of the outline; IoU with those forgiven {result["iou_outline_forgiven"]:.4f}'
          f'; controls: nothing drawn, forgiven alike {result["empty_forgiven"]:.4f}, the true '
          f'mask a pixel to the right {result["true_shifted"]:.4f}, a pixel thinner '
          f'{result["true_thinned"]:.4f}')
    for group in result['by_person_size']:
      low, high = group['person_share']
      if not group['count']:
        continue
      print(f'  person {low:.0%}-{high:.0%} of the picture: {group["count"]:5d} samples, '
            f'IoU {group["iou"]:.4f}, {group["wrong_at_outline_share"]:.1%} of wrong pixels '
            f'at the outline, forgiven {group["iou_outline_forgiven"]:.4f}; nothing drawn '
            f'{group["empty_forgiven"]:.4f}, shifted {group["true_shifted"]:.4f}, thinner '
            f'{group["true_thinned"]:.4f}')
    results.append(result)
  print(json.dumps(results))


if __name__ == '__main__':
  main()
