"""Where a trained run's depth misses delta1, and where its masks lose IoU.

  python benchmarks/depth_errors.py --workdir runs/cnn [--workdir runs/other ...]
  python benchmarks/depth_errors.py --workdir runs/cnn --quick   # the first 128 test samples

On each run's own test split (its config's data; `--split train`: its train split), with its
latest checkpoint:
- depth delta1 by the true nearness range (uint8 levels, 255 nearest): each range's
  share of the pixels, its delta1, the share of all pixels that fail there, and the
  mean error and bias in levels (bias > 0: predicted nearer than true);
- the per-sample depth scale: the 10th / 50th / 90th percentile over samples of the
  median log ratio of predicted to true nearness (0: no scale error), and delta1 after
  dividing each sample's prediction by its own median ratio, which says how much of
  the delta1 gap is one scale per image and how much is the shape of the map;
- delta1 at the true map's depth edges (pixels whose 3 x 3 neighbourhood spans a
  nearness ratio of 1.25 or more: a pixel there fails delta1 when its value comes from
  the wrong side) and away from them, with the share of all pixels failing at edges;
- delta1 by band of image rows (eighths of the height, top first): each band's delta1,
  the share of all pixels failing there, and its bias in levels;
- mask IoU by the person's area in pixels, and where the masks' wrong pixels lie: the share
  of them within one and two pixels of the person's true outline, missed pixels for each
  false alarm, and the IoU the masks would have with every pixel next to the outline right;
- mask IoU with the probabilities cut at 0.3, 0.35, ..., 0.6 instead of 0.5.
`--split train` analyses the train split instead (without augmentation): how far apart
the two splits are says whether a model is short of capacity or of data.
The last line is one JSON object with every figure.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NEARNESS_RANGES = ((0, 16), (16, 32), (32, 64), (64, 128), (128, 256))
AREA_RANGES = ((0, 30), (30, 80), (80, 200), (200, None))
DELTA1 = 1.25  # A pixel counts for delta1 when max(p'/g', g'/p') is below it.
ROW_BANDS = 8
MASK_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def analyse(workdir: str, max_samples: int | None = None, split: str = 'test') -> dict:
  """The figures of one run on its `split` (see the module docstring)."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  import datasets  # pylint: disable=g-import-not-at-top
  from losses import _utils  # pylint: disable=g-import-not-at-top
  from losses import metrics  # pylint: disable=g-import-not-at-top
  from training import predict  # pylint: disable=g-import-not-at-top
  from training import run_folder  # pylint: disable=g-import-not-at-top

  # The mappings the evaluation's metrics use (losses/metrics.py).
  positive = lambda nearness: np.asarray(_utils.positive_nearness(nearness))

  config = ml_collections.ConfigDict(run_folder.require_config(workdir))
  model, step = predict.load_model(workdir)
  source = getattr(datasets.load(config.data), split)
  samples = [source[i] for i in range(min(len(source), max_samples or len(source)))]
  stack = lambda key: np.stack([s[key] for s in samples])
  bg, fg_bg = stack('bg'), stack('fg_bg')
  true_depth = stack('depth')[..., 0].astype(np.float32) / 255.0
  outputs = [model.predict(bg[i:i + 64], fg_bg[i:i + 64]) for i in range(0, len(bg), 64)]
  depth = np.concatenate([o['depth'] for o in outputs])[..., 0]
  mask_prob = np.concatenate([o['mask'] for o in outputs])
  true_mask = stack('mask')

  ratio = np.maximum(positive(depth) / positive(true_depth), positive(true_depth) / positive(depth))
  within = ratio < DELTA1
  levels = np.rint(true_depth * 255)
  by_nearness = []
  for lo, hi in NEARNESS_RANGES:
    selected = (levels >= lo) & (levels < hi)
    if selected.any():
      error = (depth - true_depth)[selected] * 255
      by_nearness.append(dict(
          levels=f'[{lo}, {hi})', pixel_share=float(selected.mean()),
          delta1=float(within[selected].mean()),
          failing_share=float((selected & ~within).mean()),
          mean_abs_error_levels=float(np.abs(error).mean()), bias_levels=float(error.mean())))
  log_ratio = (np.log(positive(depth)) - np.log(positive(true_depth))).reshape(len(depth), -1)
  scale = np.median(log_ratio, axis=1)
  aligned = positive(depth) / np.exp(scale)[:, None, None]
  aligned_ratio = np.maximum(aligned / positive(true_depth), positive(true_depth) / aligned)
  edges = depth_edges(positive(true_depth))
  iou = np.asarray(metrics.binary_overlap(mask_prob, true_mask.astype(np.float32) / 255.0)[0])
  area = (true_mask[..., 0] > 127).sum((1, 2))
  by_area = []
  for lo, hi in AREA_RANGES:
    selected = (area >= lo) & (area < (hi or area.max() + 1))
    if selected.any():
      by_area.append(dict(area=f'[{lo}, {hi})' if hi else f'{lo} and more',
                          samples=int(selected.sum()),
                          mask_iou=float(iou[selected].mean())))
  return dict(workdir=workdir, step=step, split=split, samples=len(depth),
              delta1=float(within.mean()),
              by_nearness=by_nearness,
              scale_log_ratio_percentiles=[float(v) for v in np.percentile(scale, [10, 50, 90])],
              delta1_scale_aligned=float((aligned_ratio < DELTA1).mean()),
              edge_pixel_share=float(edges.mean()), delta1_at_edges=float(within[edges].mean()),
              delta1_off_edges=float(within[~edges].mean()),
              failing_at_edges_share=float((edges & ~within).mean()),
              by_rows=by_row_band(within, depth, true_depth), mask_iou=float(iou.mean()),
              by_area=by_area,
              mask_errors=mask_errors(mask_prob[..., 0] > 0.5, true_mask[..., 0] > 127),
              mask_iou_by_threshold=iou_by_threshold(mask_prob[..., 0], true_mask[..., 0] > 127))


def iou_by_threshold(mask_prob, true, thresholds=MASK_THRESHOLDS) -> dict[str, float]:
  """The mean per-sample mask IoU with the probabilities cut at each threshold.

  How far the IoU at 0.5 (what the model draws) is from the best threshold's says
  whether the masks are calibrated: a large gap would be won back by a threshold.

  Args:
    mask_prob: Mask probabilities, N x H x W.
    true: Boolean true masks, same shape.
    thresholds: The cuts; a pixel is drawn where its probability is above one.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top

  from losses import metrics  # pylint: disable=g-import-not-at-top
  return {f'{threshold:.2f}': float(np.asarray(
      metrics.binary_overlap(mask_prob > threshold, true)[0]).mean())
          for threshold in thresholds}


def near_outline(mask, radius: int = 1):
  """Pixels within `radius` (chessboard distance) of a mask's outline.

  A pixel is near the outline when its (2 radius + 1)^2 neighbourhood (edge-padded)
  holds pixels of both the mask and the rest.

  Args:
    mask: Boolean masks, N x H x W.
    radius: Pixels on either side of the outline.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  windows = neighbourhood(mask, radius)
  return np.any(windows, axis=0) & ~np.all(windows, axis=0)


def mask_errors(drawn, true) -> dict:
  """Where drawn masks differ from the true ones.

  Args:
    drawn: Boolean drawn masks, N x H x W.
    true: Boolean true masks, same shape.

  Returns:
    dict(misses, false_alarms: pixel counts; within_1px_share, within_2px_share: the
    shares of the wrong pixels that lie within one / two pixels of the true outline;
    band_share_of_drawn_or_true: the share of the pixels drawn or true that lie within
    one pixel of it, what the wrong pixels' share would be if they fell anywhere on the
    person; mask_iou_outline_right: the mean per-sample IoU with every pixel within one
    pixel of the outline counted as right).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top

  from losses import metrics  # pylint: disable=g-import-not-at-top
  wrong = drawn != true
  near1, near2 = near_outline(true, 1), near_outline(true, 2)
  iou = np.asarray(metrics.binary_overlap(np.where(near1, true, drawn), true)[0])
  count = max(int(wrong.sum()), 1)
  return dict(misses=int((true & ~drawn).sum()), false_alarms=int((drawn & ~true).sum()),
              within_1px_share=float((wrong & near1).sum() / count),
              within_2px_share=float((wrong & near2).sum() / count),
              band_share_of_drawn_or_true=float(
                  (near1 & (drawn | true)).sum() / max(int((drawn | true).sum()), 1)),
              mask_iou_outline_right=float(iou.mean()))


def by_row_band(within, depth, true_depth, bands: int = ROW_BANDS) -> list[dict]:
  """delta1, failing share (of all pixels) and bias (levels) per band of image rows.

  Args:
    within: Whether each pixel passes delta1, N x H x W.
    depth: Predicted nearness in [0, 1], N x H x W.
    true_depth: True nearness in [0, 1], N x H x W.
    bands: Equal bands of rows, top first (H a multiple of it).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  height = within.shape[1]
  rows = height // bands
  result = []
  for first in range(0, height, rows):
    band = slice(first, first + rows)
    result.append(dict(
        rows=f'[{first}, {first + rows})', delta1=float(within[:, band].mean()),
        failing_share=float((~within[:, band]).sum() / within.size),
        bias_levels=float((depth[:, band] - true_depth[:, band]).mean() * 255)))
  return result


def depth_edges(nearness):
  """Pixels whose 3 x 3 neighbourhood (edge-padded) spans a ratio of DELTA1 or more.

  Args:
    nearness: Positive nearness, N x H x W.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  windows = neighbourhood(nearness, 1)
  return np.max(windows, axis=0) / np.min(windows, axis=0) >= DELTA1


def neighbourhood(images, radius: int):
  """Every shift of `images` (N x H x W) within `radius`, edge-padded.

  Returns (2 radius + 1)^2 x N x H x W: reducing over the first axis gives each pixel's
  neighbourhood statistic (max, any, ...).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  side = 2 * radius + 1
  padded = np.pad(images, ((0, 0), (radius, radius), (radius, radius)), mode='edge')
  h, w = images.shape[1:]
  return np.stack([padded[:, dy:dy + h, dx:dx + w]
                   for dy in range(side) for dx in range(side)])


def print_report(result: dict):
  """The figures of one run as readable lines."""
  print(f"{result['workdir']} (step {result['step']}, {result['samples']} "
        f"{result['split']} samples): "
        f"depth delta1 {result['delta1']:.3f}, mask IoU {result['mask_iou']:.3f}")
  print('  nearness levels   pixels  delta1  failing  mean |error|  bias (levels)')
  for row in result['by_nearness']:
    print(f"  {row['levels']:<16} {row['pixel_share']:6.3f}  {row['delta1']:6.3f}  "
          f"{row['failing_share']:7.3f}  {row['mean_abs_error_levels']:12.2f}  "
          f"{row['bias_levels']:+.2f}")
  p10, p50, p90 = result['scale_log_ratio_percentiles']
  print(f'  per-sample scale (median log ratio), 10th / 50th / 90th percentile: '
        f'{p10:+.3f} / {p50:+.3f} / {p90:+.3f}')
  print(f"  delta1 with each sample's scale divided out: {result['delta1_scale_aligned']:.3f}")
  print(f"  depth edges: {result['edge_pixel_share']:.3f} of pixels, delta1 "
        f"{result['delta1_at_edges']:.3f} there, {result['delta1_off_edges']:.3f} elsewhere; "
        f"{result['failing_at_edges_share']:.3f} of all pixels fail at edges")
  print('  image rows      delta1  failing  bias (levels)')
  for row in result['by_rows']:
    print(f"  {row['rows']:<14} {row['delta1']:6.3f}  {row['failing_share']:7.3f}  "
          f"{row['bias_levels']:+.2f}")
  for row in result['by_area']:
    print(f"  mask area {row['area']:<14} {row['samples']:5d} samples  IoU {row['mask_iou']:.3f}")
  errors = result['mask_errors']
  print(f"  mask: {errors['misses']} pixels missed, {errors['false_alarms']} false alarms "
        f"({errors['misses'] / max(errors['false_alarms'], 1):.2f} missed for each); "
        f"{errors['within_1px_share']:.3f} of the wrong pixels within 1 px of the true "
        f"outline (which holds {errors['band_share_of_drawn_or_true']:.3f} of the pixels "
        f"drawn or true), {errors['within_2px_share']:.3f} within 2 px; mask IoU with every pixel "
        f"next to the outline right {errors['mask_iou_outline_right']:.3f}")
  print('  mask IoU by threshold: ' + ', '.join(
      f'{threshold} {iou:.4f}' for threshold, iou in result['mask_iou_by_threshold'].items()))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', action='append', required=True,
                      help='a trained run; repeat for several')
  parser.add_argument('--quick', action='store_true', help='the first 128 samples only')
  parser.add_argument('--split', choices=('test', 'train'), default='test',
                      help='the split to analyse (default: test)')
  args = parser.parse_args()
  results = [analyse(workdir, 128 if args.quick else None, args.split)
             for workdir in args.workdir]
  for result in results:
    print_report(result)
  print(json.dumps(results))


if __name__ == '__main__':
  main()
