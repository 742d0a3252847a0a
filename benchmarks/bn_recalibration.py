"""Trained runs' test metrics with their BatchNorm statistics recomputed for the averaged weights.

  python benchmarks/bn_recalibration.py --workdir runs/cnn [--workdir runs/other ...]

A run evaluates with a moving average of its weights (`train.ema_decay`) and the moving
average of its BatchNorm statistics. Those statistics were gathered by the trained weights,
step by step, on augmented batches; here they are recomputed for the averaged weights
themselves, as after stochastic weight averaging: the mean of the batch moments of every full
batch of 64 of the train split (not augmented), in train mode. Both versions are evaluated on
the run's own test split through the evaluation `make run` uses, writing nothing to the run.
The last line is one JSON object with every figure.
"""
import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

METRICS = ('mask_iou', 'mask_dice', 'depth_rmse', 'depth_abs_rel', 'depth_delta1', 'loss')
BATCH = 64


def measure(workdir: str) -> dict:
  """Test metrics with the run's statistics and with recomputed ones."""
  # pylint: disable=g-import-not-at-top
  import jax
  import jax.numpy as jnp
  import ml_collections
  import datasets
  from datasets import pipeline
  from training import checkpoint as checkpoint_lib
  from training import evaluate as evaluate_lib
  from training import loop
  from training import run_folder
  from training import steps as steps_lib
  from zoo import layers
  # pylint: enable=g-import-not-at-top
  config = ml_collections.ConfigDict(run_folder.require_config(workdir))
  data = datasets.load(config.data)
  with tempfile.TemporaryDirectory() as scratch:
    baselines = evaluate_lib.fit_baselines(data.train, config, scratch, data.name)
  stats = run_folder.read_data_stats(workdir)
  experiment = loop.prepare(config, data, stats)
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  step = manager.latest_step()
  state = checkpoint_lib.restore_for_evaluation(manager, step, experiment.init_state())
  params, batch_stats = state.prediction_weights()

  @jax.jit
  def batch_moments(batch):
    _, inputs = steps_lib.model_inputs(batch, stats, config.model.dtype)
    zeros = jax.tree.map(jnp.zeros_like, batch_stats)
    _, updated = steps_lib.apply_model(experiment.model, params, zeros, inputs, train=True)
    # BatchNorm's update from zeros: momentum * 0 + (1 - momentum) * the batch's moments.
    momentum = layers.conv_and_norm(jnp.float32, True)[1].keywords['momentum']
    return jax.tree.map(lambda x: x / (1 - momentum), updated)

  moments = [batch_moments(batch) for batch in pipeline.eval_batches(
      data.train, image_size=config.data.image_size, batch_size=BATCH)
             if len(batch['bg']) == BATCH]
  recomputed = jax.tree.map(lambda *xs: sum(xs) / len(xs), *moments)
  results = {}
  for name, statistics in (('run', batch_stats), ('recomputed', recomputed)):
    if state.ema is not None:
      evaluated = state.replace(ema=dict(params=params, batch_stats=statistics))
    else:
      evaluated = state.replace(batch_stats=statistics)
    metrics = evaluate_lib.evaluate(experiment.eval_step, evaluated, data.test, baselines,
                                    config, experiment.place)[0]
    results[name] = {key: float(metrics[key]) for key in METRICS}
  return dict(workdir=workdir, step=int(step), train_batches=len(moments), **results)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', action='append', required=True, help='a trained run')
  args = parser.parse_args()
  rows = []
  for workdir in args.workdir:
    row = measure(workdir)
    rows.append(row)
    print(f"{workdir} (step {row['step']}, {row['train_batches']} train batches of {BATCH})")
    for key in METRICS:
      before, after = row['run'][key], row['recomputed'][key]
      print(f'  {key:<14} {before:.4f} -> {after:.4f} ({after - before:+.4f})', flush=True)
  print(json.dumps(rows))


if __name__ == '__main__':
  main()
