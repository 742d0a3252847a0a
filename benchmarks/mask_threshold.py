"""A trained run's mean mask IoU when the mask is drawn at other probability thresholds.

  python benchmarks/mask_threshold.py --workdir runs/cnn [--train_samples 900]

The run's model (its last checkpoint, with its own mirror averaging) predicts the whole test
split and `--train_samples` samples spread over its train split; the mask is drawn where the
probability exceeds each threshold from 0.20 to 0.80, and its per-sample IoU
(`losses.metrics.binary_overlap`, the evaluation's, which draws at 0.5) averaged. A threshold to adopt would have to be
chosen on the train split; the test column says what it would then be worth. The last line is
one JSON object with every figure.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

THRESHOLDS = tuple(round(0.20 + 0.05 * i, 2) for i in range(13))


def mean_ious(model, source, image_size: int, indices) -> list[float]:
  """Mean per-sample mask IoU over `source[indices]` at each of THRESHOLDS."""
  # pylint: disable=g-import-not-at-top
  import numpy as np
  from datasets import pipeline
  from losses import metrics
  # pylint: enable=g-import-not-at-top
  sums, count = np.zeros(len(THRESHOLDS)), 0
  for batch in pipeline.eval_batches(pipeline.IndexedView(source, indices),
                                     image_size=image_size, batch_size=64):
    prob = np.asarray(model.predict_batch(batch['bg'], batch['fg_bg'])['mask'])
    true = batch['mask'] / 255.0
    for i, threshold in enumerate(THRESHOLDS):
      iou, _ = metrics.binary_overlap((prob > threshold).astype(np.float32), true)
      sums[i] += float(np.sum(iou))
    count += len(prob)
  return [round(float(value), 4) for value in sums / count]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True, help='a trained run')
  parser.add_argument('--train_samples', type=int, default=900)
  args = parser.parse_args()
  # pylint: disable=g-import-not-at-top
  import ml_collections
  import numpy as np
  import datasets
  from training import evaluate
  from training import predict
  from training import run_folder
  # pylint: enable=g-import-not-at-top
  config = ml_collections.ConfigDict(run_folder.require_config(args.workdir))
  data = datasets.load(config.data)
  model, step = predict.load_model(args.workdir)
  size = config.data.image_size
  result = dict(workdir=args.workdir, step=int(step), thresholds=list(THRESHOLDS),
                train=mean_ious(model, data.train, size,
                                evaluate.grid_indices(len(data.train), args.train_samples)),
                test=mean_ious(model, data.test, size, np.arange(len(data.test))))
  best_on_train = THRESHOLDS[int(np.argmax(result['train']))]
  result['chosen_on_train'] = best_on_train
  result['test_at_chosen'] = result['test'][THRESHOLDS.index(best_on_train)]
  result['test_at_0.5'] = result['test'][THRESHOLDS.index(0.5)]
  for threshold, train, test in zip(THRESHOLDS, result['train'], result['test']):
    print(f'threshold {threshold:.2f}: train {train:.4f}  test {test:.4f}')
  print(json.dumps(result))


if __name__ == '__main__':
  main()
