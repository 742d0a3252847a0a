"""Streaming evaluation on the test split, with the two baselines beside the model."""
from typing import Any

import jax
import numpy as np

from datasets import pipeline
from losses import metrics as metrics_lib
from training import distributed
from training import run_folder

BASELINE_SAMPLES = 2048  # Train samples used to fit the baselines.


def fit_baselines(train_source, config, workdir: str, dataset_name: str
                  ) -> dict[str, np.ndarray]:
  """The frame-differencing threshold and the mean depth map, fit on the train split.

  Fit once on up to BASELINE_SAMPLES train samples spread evenly over the split (records
  are in the source's order, so the first ones may share a few backgrounds) and cached
  in the workdir for this dataset and image size.
  """
  cached = run_folder.read_baselines(workdir, dataset_name, config.data.image_size)
  if cached is not None:
    return cached
  spread = pipeline.IndexedView(train_source,
                                grid_indices(len(train_source), BASELINE_SAMPLES))
  batches = [{key: value.astype(np.float32) / 255.0 for key, value in batch.items()}
             for batch in pipeline.eval_batches(
                 spread, image_size=config.data.image_size,
                 batch_size=config.eval.batch_size)]
  threshold = metrics_lib.choose_frame_difference_threshold(batches)
  mean_depth = metrics_lib.MeanDepthAccumulator()
  for batch in batches:
    mean_depth.update(batch['depth'])
  baselines = dict(threshold=np.float32(threshold),
                   mean_depth=np.asarray(mean_depth.result(), np.float32))
  run_folder.write_baselines(workdir, dataset_name, baselines)
  return baselines


def pad_batch(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
  """Pads a short last batch to `size` rows (repeating row 0) so every batch shards."""
  rows = len(batch['bg'])
  if rows == size:
    return batch
  return {key: np.concatenate([value, np.repeat(value[:1], size - rows, axis=0)])
          for key, value in batch.items()}


def evaluation_samples(test_source, max_samples: int = 0):
  """The test split, or `max_samples` of its samples spread evenly over it (0: all).

  For sets too large to evaluate whole at every evaluation (the original's 120,000 test
  samples): the same samples every time, over all its backgrounds.
  """
  if not max_samples or max_samples >= len(test_source):
    return test_source
  return pipeline.IndexedView(test_source, grid_indices(len(test_source), max_samples))


def grid_indices(num_samples: int, rows: int) -> np.ndarray:
  """`rows` indices spread evenly over a split of `num_samples` (so over many backgrounds)."""
  return np.unique(np.linspace(0, num_samples - 1, min(rows, num_samples)).astype(int))


def evaluate(eval_step, state, test_source, baselines, config, place) -> tuple[dict, Any]:
  """Metrics of `state` over the whole test split, streamed batch by batch.

  The model predicts with `state.prediction_weights()` (the moving average, if kept).

  `place` puts this process's rows of a batch on the devices: with several JAX
  processes each reads and decodes only its share of every batch
  (`pipeline.process_eval_batches`), and all of them get every sample's metrics.
  With `config.eval.max_samples`, only that many test samples, spread evenly over the
  split (`evaluation_samples`). Returns the metrics (model and baselines) and, for the
  picture grid,
  `config.eval.num_grid_samples` samples spread over the split with their predictions.
  """
  test_source = evaluation_samples(test_source, config.eval.max_samples)
  accumulator = metrics_lib.MetricAccumulator()
  wanted = grid_indices(len(test_source), config.eval.num_grid_samples)
  read = pipeline.ResizeAndDrop(config.data.image_size)
  grid_rows = []
  batch_size, offset = config.eval.batch_size, 0
  for batch, rows in pipeline.process_eval_batches(
      test_source, image_size=config.data.image_size, batch_size=batch_size,
      rows=distributed.process_rows(batch_size)):
    per_sample, baseline_per_sample, prediction = eval_step(
        *state.prediction_weights(), place(batch), baselines)
    trim = lambda tree: jax.tree.map(lambda x: x[:rows], distributed.to_host(tree))
    accumulator.update(trim(dict(per_sample, **baseline_per_sample)))
    picked = wanted[(wanted >= offset) & (wanted < offset + rows)]
    if len(picked):
      samples = [read.map(test_source[int(index)]) for index in picked]
      grid_rows.append((jax.tree.map(lambda *xs: np.stack(xs), *samples),
                        jax.tree.map(lambda x: x[picked - offset],
                                     distributed.to_host(prediction))))
    offset += rows
  stack = lambda trees: jax.tree.map(lambda *xs: np.concatenate(xs), *trees)
  grid = (stack([b for b, _ in grid_rows]), stack([p for _, p in grid_rows]))
  return accumulator.result(), grid
