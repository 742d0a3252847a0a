"""Does SSIM accuracy separate good predictions from bad ones? Plain SSIM against ours.

  python benchmarks/ssim_accuracy.py --workdir runs/cnn     # a trained run's test split
  python benchmarks/ssim_accuracy.py --quick                # no model: the reference rows only

On the test split of the default config (or of the run's own config), the share of samples
whose SSIM reaches the threshold (0.90 masks, 0.50 depth), computed two ways:
  plain: dm-pix SSIM over the whole image, on mask probabilities and raw nearness;
  ours:  `losses.metrics.mask_ssim` and `depth_ssim` (binarized masks weighted by the
         foreground each window sees; nearness stretched by the true map's range).
Rows: the truth itself, an empty mask / a flat depth map at the train mean, frame
differencing / the mean train depth map (the two baselines), and the run's model.
The last line is one JSON object with every row.
"""
import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default='', help='a trained run (its config and model)')
  parser.add_argument('--quick', action='store_true', help='no model, the first 128 samples')
  args = parser.parse_args()

  import dm_pix  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  import datasets  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  from losses import metrics  # pylint: disable=g-import-not-at-top
  from training import evaluate  # pylint: disable=g-import-not-at-top
  from training import predict  # pylint: disable=g-import-not-at-top
  from training import run_folder  # pylint: disable=g-import-not-at-top

  config = base.get_config()
  model = None
  if args.workdir and not args.quick:
    config = ml_collections.ConfigDict(run_folder.require_config(args.workdir))
    model, step = predict.load_model(args.workdir)
  data = datasets.load(config.data)
  baselines = evaluate.fit_baselines(data.train, config, tempfile.mkdtemp(), data.name)
  mean_depth = jnp.asarray(baselines['mean_depth'])
  mask_threshold, depth_threshold = 0.9, 0.5

  @jax.jit
  def rows(batch):
    unit = {k: v.astype(jnp.float32) / 255.0 for k, v in batch.items()}
    true_mask, true_depth = unit['mask'], unit['depth']
    masks = dict(truth=true_mask, empty=jnp.zeros_like(true_mask),
                 frame_differencing=metrics.frame_difference_mask(
                     unit['bg'], unit['fg_bg'], baselines['threshold']))
    depths = dict(truth=true_depth,
                  flat_train_mean=jnp.full_like(true_depth, jnp.mean(mean_depth)),
                  mean_depth_map=jnp.broadcast_to(mean_depth[None], true_depth.shape))
    out = {}
    for name, mask in masks.items():
      out[f'mask/{name}/plain'] = dm_pix.ssim(mask, true_mask) >= mask_threshold
      out[f'mask/{name}/ours'] = metrics.mask_ssim(mask, true_mask) >= mask_threshold
      out[f'mask/{name}/ssim'] = metrics.mask_ssim(mask, true_mask)
      out[f'mask/{name}/iou'] = metrics.binary_overlap(mask, true_mask)[0]
    for name, depth in depths.items():
      out[f'depth/{name}/plain'] = dm_pix.ssim(depth, true_depth) >= depth_threshold
      out[f'depth/{name}/ours'] = metrics.depth_ssim(depth, true_depth) >= depth_threshold
      out[f'depth/{name}/ssim'] = metrics.depth_ssim(depth, true_depth)
      out[f'depth/{name}/rmse'] = jnp.sqrt(jnp.mean((depth - true_depth) ** 2, axis=(1, 2, 3)))
    return out

  def model_rows(batch, prediction):
    unit = {k: jnp.asarray(v, jnp.float32) / 255.0 for k, v in batch.items()}
    mask, depth = jnp.asarray(prediction['mask']), jnp.asarray(prediction['depth'])
    return {
        'mask/model/plain': dm_pix.ssim(mask, unit['mask']) >= mask_threshold,
        'mask/model/ours': metrics.mask_ssim(mask, unit['mask']) >= mask_threshold,
        'mask/model/ssim': metrics.mask_ssim(mask, unit['mask']),
        'mask/model/iou': metrics.binary_overlap(mask, unit['mask'])[0],
        'depth/model/plain': dm_pix.ssim(depth, unit['depth']) >= depth_threshold,
        'depth/model/ours': metrics.depth_ssim(depth, unit['depth']) >= depth_threshold,
        'depth/model/ssim': metrics.depth_ssim(depth, unit['depth']),
        'depth/model/rmse': jnp.sqrt(jnp.mean((depth - unit['depth']) ** 2, axis=(1, 2, 3))),
    }

  sums, count, ssims = {}, 0, {}
  limit = 128 if args.quick else None
  for batch in pipeline.eval_batches(data.test, image_size=config.data.image_size,
                                     batch_size=64, limit=limit):
    found = rows(batch)
    if model is not None:
      found.update(model_rows(batch, model.predict(batch['bg'], batch['fg_bg'])))
    for key, value in found.items():
      if key.endswith('/ssim'):
        ssims.setdefault(key[:-len('/ssim')], []).extend(np.asarray(value).tolist())
        continue
      sums[key] = sums.get(key, 0.0) + float(np.sum(np.asarray(value, np.float64)))
    count += len(batch['bg'])
  result = {key: round(total / count, 4) for key, total in sorted(sums.items())}
  for name, values in ssims.items():  # Our SSIM's quartiles: how far from the threshold.
    result.update({f'{name}/ssim_q{q}': round(float(np.percentile(values, q)), 4)
                   for q in (25, 50, 75)})
  print(f'{data.name}, {count} test samples; SSIM accuracy (threshold 0.90 mask, 0.50 depth),'
        ' plain vs ours, beside mean IoU / RMSE:')
  names = sorted({key.rsplit('/', 1)[0] for key in result})
  for name in names:
    quality = result.get(f'{name}/iou', result.get(f'{name}/rmse'))
    print(f'  {name:<28} plain {result[name + "/plain"]:6.3f}   ours {result[name + "/ours"]:6.3f}'
          f'   {"iou" if name.startswith("mask") else "rmse"} {quality:.4f}'
          f'   our SSIM quartiles {result[name + "/ssim_q25"]:.3f} '
          f'{result[name + "/ssim_q50"]:.3f} {result[name + "/ssim_q75"]:.3f}')
  result['num_samples'] = count
  if model is not None:
    result['model_step'] = step
  print(json.dumps(result))


if __name__ == '__main__':
  main()
