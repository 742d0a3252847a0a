"""A trained run's mean mask IoU when the mask is drawn at other probability thresholds.

  python benchmarks/mask_threshold.py --workdir runs/cnn [--train_samples 900]

The run's model (its last checkpoint, with its own mirror averaging) predicts the whole test
split and the first `--train_samples` samples of its train split spread over it; the mask is
drawn where the probability exceeds each threshold from 0.20 to 0.80, and the per-sample IoU
averaged as the evaluation does (0.5 is what it uses). A threshold to adopt would have to be
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
  import numpy as np  # pylint: disable=g-import-not-at-top
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  sums, count = np.zeros(len(THRESHOLDS)), 0
  for batch in pipeline.eval_batches(pipeline.IndexedView(source, indices),
                                     image_size=image_size, batch_size=64):
    prob = np.asarray(model.predict_batch(batch['bg'], batch['fg_bg'])['mask'])[..., 0]
    true = batch['mask'][..., 0] > 127
    for i, threshold in enumerate(THRESHOLDS):
      pred = prob > threshold
      intersection, union = (pred & true).sum((1, 2)), (pred | true).sum((1, 2))
      sums[i] += np.where(union > 0, intersection / np.maximum(union, 1), 1.0).sum()
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
