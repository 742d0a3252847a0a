"""A whole run on a tiny synthetic set: what it writes, and that it resumes exactly."""
import json
import os

import jax
import numpy as np
import pytest

import datasets
import zoo
from configs import base
from tests.conftest import tiny_config
from training import loop
from training import run_folder

EVAL_KEYS = ('mask_iou', 'mask_dice', 'mask_ssim_acc', 'depth_rmse', 'depth_abs_rel',
             'depth_delta1', 'depth_ssim_acc', 'num_samples', 'step',
             'baseline_mask_iou', 'baseline_depth_rmse')


@pytest.fixture(scope='module')
def finished_run(tiny_data_dir, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('run'))
  metrics = loop.train_and_evaluate(tiny_config(tiny_data_dir), workdir)
  return workdir, metrics


def test_a_run_writes_its_config_checkpoints_logs_metrics_and_samples(finished_run):
  workdir, metrics = finished_run
  for name in ('checkpoints', 'tb', 'metrics.jsonl', 'eval_metrics.json', 'samples',
               'config.json'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'eval_metrics.json')) as f:
    saved = json.load(f)
  assert set(EVAL_KEYS) <= set(saved)
  assert saved['step'] == 6 and saved['num_samples'] == metrics['num_samples'] > 0
  assert os.listdir(os.path.join(workdir, 'samples'))
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    lines = [json.loads(line) for line in f]
  assert [line['step'] for line in lines if 'train/loss' in line] == [2, 4, 6]
  assert all(np.isfinite(line['train/loss']) for line in lines if 'train/loss' in line)


def test_running_a_finished_run_again_reuses_it(finished_run, tiny_data_dir, capsys):
  workdir, metrics = finished_run
  again = loop.train_and_evaluate(tiny_config(tiny_data_dir), workdir)
  out = capsys.readouterr().out
  assert 'reused' in out and 'resuming from step 6' in out
  assert again['mask_iou'] == pytest.approx(metrics['mask_iou'])


def _saved_params(workdir):
  """The last checkpoint's parameters and their moving average (None if not kept)."""
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  saved = checkpoint_lib.restore_raw(manager, manager.latest_step())
  return dict(params=saved['params'], ema=saved.get('ema'))


def _params_after(config, workdir, stop_at=None):
  """Trains `config` in `workdir`; then `_saved_params(workdir)`."""
  loop.train_and_evaluate(config, workdir, stop_at=stop_at)
  return _saved_params(workdir)


def test_evaluating_during_training_changes_nothing_the_run_learns(finished_run,
                                                                   tiny_data_dir, tmp_path):
  # So a config may evaluate only at the end (configs/cnn.py) and end where it would have,
  # while reduce-on-plateau, which each evaluation feeds, is off (the default).
  workdir, metrics = finished_run
  config = tiny_config(tiny_data_dir)
  config.eval.every = 2
  assert config.schedule.plateau.factor == 1.0
  evaluated_thrice = _params_after(config, str(tmp_path / 'every_2'))
  logged = run_folder.read_metrics(str(tmp_path / 'every_2'))
  assert list(logged['eval/mask_iou'][0]) == [2, 4, 6]
  jax.tree.map(np.testing.assert_array_equal, _saved_params(workdir)['params'],
               evaluated_thrice['params'])
  again = run_folder.read_eval_metrics(str(tmp_path / 'every_2'))
  for key in EVAL_KEYS:
    assert again[key] == metrics[key], key


@pytest.mark.parametrize('optimizer', ['adam', 'muon'])
def test_a_run_stopped_halfway_and_resumed_ends_with_identical_parameters(
    tiny_data_dir, tmp_path, optimizer):
  config = tiny_config(tiny_data_dir)
  config.optimizer.name = optimizer
  straight = _params_after(config, str(tmp_path / 'straight'))
  assert loop.train_and_evaluate(config, str(tmp_path / 'resumed'), stop_at=3) is None
  resumed = _params_after(config, str(tmp_path / 'resumed'))
  jax.tree.map(np.testing.assert_array_equal, straight, resumed)


def plateau_config(data_dir):
  """The tiny config on plain SGD at a constant lr, so an update is lr x scale x gradient."""
  config = tiny_config(data_dir)
  config.eval.every = 2
  config.schedule.name = 'constant'
  config.schedule.warmup_steps = 0
  config.optimizer.update(name='sgd', momentum=0.0, grad_clip_norm=0.0, lr=0.01)
  return config


def test_reduce_on_plateau_scales_the_parameter_update_itself(tiny_data_dir):
  config = plateau_config(tiny_data_dir)
  experiment = loop.prepare(config, datasets.load(config.data))
  rng = np.random.default_rng(0)
  batch = experiment.place({
      'bg': rng.integers(0, 256, (4, 32, 32, 3), np.uint8),
      'fg_bg': rng.integers(0, 256, (4, 32, 32, 3), np.uint8),
      'mask': (rng.random((4, 32, 32, 1)) > 0.5).astype(np.uint8) * 255,
      'depth': rng.integers(0, 256, (4, 32, 32, 1), np.uint8)})
  state = experiment.init_state()
  before = jax.device_get(state.params)
  halved = state.replace(plateau=state.plateau._replace(scale=jax.numpy.float32(0.5)))
  halved = jax.tree.map(jax.numpy.copy, halved)  # The step donates its state.
  full, _ = experiment.train_step(state, batch)
  half, metrics = experiment.train_step(halved, batch)
  assert float(metrics['lr']) == pytest.approx(0.005)
  full_change = jax.tree.map(np.subtract, jax.device_get(full.params), before)
  half_change = jax.tree.map(np.subtract, jax.device_get(half.params), before)
  assert max(np.abs(c).max() for c in jax.tree.leaves(full_change)) > 0
  jax.tree.map(lambda f, h: np.testing.assert_allclose(h, 0.5 * f, rtol=1e-3, atol=1e-7),
               full_change, half_change)


def test_reduce_on_plateau_lowers_the_logged_lr_and_resumes_exactly(tiny_data_dir, tmp_path):
  config = plateau_config(tiny_data_dir)
  # rtol = 1: no test loss counts as an improvement, so every evaluation halves the lr.
  config.schedule.plateau.update(factor=0.5, patience=1, rtol=1.0)
  straight = _params_after(config, str(tmp_path / 'straight'))
  with open(tmp_path / 'straight' / 'metrics.jsonl') as f:
    lines = [json.loads(line) for line in f]
  lr = {line['step']: line['train/lr'] for line in lines if 'train/lr' in line}
  base_lr = config.optimizer.lr
  assert lr == pytest.approx({2: base_lr, 4: base_lr / 2, 6: base_lr / 4})
  assert all(np.isfinite(line['eval/loss']) for line in lines if 'eval/mask_iou' in line)

  assert loop.train_and_evaluate(config, str(tmp_path / 'resumed'), stop_at=3) is None
  resumed = _params_after(config, str(tmp_path / 'resumed'))
  jax.tree.map(np.testing.assert_array_equal, straight, resumed)


def test_progressive_resizing_trains_small_first_and_resumes_exactly_across_a_stage(
    tiny_data_dir, tmp_path, capsys):
  config = tiny_config(tiny_data_dir)
  config.train.stages = [dict(image_size=16, fraction=0.5)]  # Steps 1-3 at 16 px.
  straight = _params_after(config, str(tmp_path / 'straight'))
  assert 'step 3: training at 32 x 32 from here on' in capsys.readouterr().out
  with open(tmp_path / 'straight' / 'metrics.jsonl') as f:
    lines = [json.loads(line) for line in f]
  sizes = {line['step']: line['train/image_size'] for line in lines if 'train/loss' in line}
  assert sizes == {2: 16, 4: 32, 6: 32}
  elapsed = [line['train/elapsed_s'] for line in lines if 'train/loss' in line]
  assert elapsed == sorted(elapsed) and elapsed[0] > 0

  # Stopped after the switch (the restored iterator must switch size at once), resumed:
  # the same parameters as the straight run, and the wall time carries over.
  assert loop.train_and_evaluate(config, str(tmp_path / 'resumed'), stop_at=4) is None
  resumed = _params_after(config, str(tmp_path / 'resumed'))
  jax.tree.map(np.testing.assert_array_equal, straight, resumed)
  with open(tmp_path / 'resumed' / 'metrics.jsonl') as f:
    elapsed = [json.loads(line)['train/elapsed_s'] for line in f if 'train/elapsed_s' in line]
  assert len(elapsed) == 3 and elapsed == sorted(elapsed)


def test_the_logged_wall_time_to_resume_from_is_the_last_at_or_before_the_step(tmp_path):
  (tmp_path / 'metrics.jsonl').write_text(
      '{"step": 2, "train/elapsed_s": 5.0}\n{"step": 4, "train/elapsed_s": 9.0}\n'
      '{"step": 6, "train/elapsed_s": 14.0}\n{"step": 8, "train/ela')  # Cut by a kill.
  assert run_folder.logged_value(str(tmp_path), 'train/elapsed_s', 5) == 9.0
  assert run_folder.logged_value(str(tmp_path), 'train/elapsed_s', 100) == 14.0
  assert run_folder.logged_value(str(tmp_path), 'train/elapsed_s', 1) == 0.0
  assert run_folder.logged_value(str(tmp_path / 'none'), 'train/elapsed_s', 9) == 0.0


def test_init_from_starts_a_new_run_from_another_runs_weights(
    finished_run, tiny_data_dir, tmp_path, capsys):
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  source, _ = finished_run
  manager = checkpoint_lib.make_manager(source, read_only=True)
  # The weights the source run predicts with: their moving average (train.ema_decay).
  trained = checkpoint_lib.restore_raw(manager, manager.latest_step())['ema']['params']['model']
  config = tiny_config(tiny_data_dir)
  config.train.init_from = source
  # A learning rate of 0: after its first step the new run still holds the source's weights.
  config.optimizer.lr = 0.0
  config.schedule.update(name='constant', warmup_steps=0)
  assert loop.train_and_evaluate(config, str(tmp_path / 'tuned'), stop_at=1) is None
  assert f'initialized the model from {source}' in capsys.readouterr().out
  tuned_manager = checkpoint_lib.make_manager(str(tmp_path / 'tuned'), read_only=True)
  assert tuned_manager.all_steps() == [1]
  tuned = checkpoint_lib.restore_raw(tuned_manager, 1)['params']['model']
  jax.tree.map(np.testing.assert_array_equal, tuned, trained)
  # The optimizer and step start fresh: only the model's weights came over.
  experiment = loop.prepare(config, datasets.load(config.data))
  state = loop.init_from(experiment.init_state(), source)
  assert int(state.step) == 0
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(state.params['model']), trained)


def test_a_workdir_of_another_model_is_refused_and_left_as_it_was(
    finished_run, tiny_data_dir):
  workdir, _ = finished_run
  before = sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  with open(os.path.join(workdir, 'config.json')) as f:
    saved = f.read()
  config = tiny_config(tiny_data_dir)
  config.model.widths = (8, 16, 32)
  with pytest.raises(ValueError, match='holds a run of model .* use another --workdir'):
    loop.train_and_evaluate(config, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == before
  with open(os.path.join(workdir, 'config.json')) as f:
    assert f.read() == saved


def test_config_json_names_every_model_field_and_matches_earlier_layouts():
  model = dict(name='dmnet_cnn', widths=[8, 16], dilations=[1, 2])
  complete = zoo.complete(model)
  assert loop.same_model(complete, model)
  # Saved before `global_context` existed: the layout without the block, not today's.
  before = {k: v for k, v in complete.items() if k != 'global_context'}
  assert loop.same_model(before, dict(model, global_context=False))
  assert loop.same_model(before, model)  # Today's defaults: the checkpoint decides.
  assert not loop.same_model(dict(complete, widths=[8, 32]), model)
  assert not loop.same_model(None, model)
  assert not loop.same_model(dict(name='unet'), model)


def test_a_run_whose_config_json_predates_a_field_resumes(finished_run, tiny_data_dir):
  workdir, _ = finished_run
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    saved = json.load(f)
  assert set(saved['model']) == set(zoo.fields(saved['model']['name'])) | {'name'}
  config = tiny_config(tiny_data_dir)
  loop.write_config(config, workdir)  # The same model: accepted.
  for field in ('difference', 'input_skip'):  # A config.json of an earlier version.
    del saved['model'][field]
  with open(path, 'w') as f:
    json.dump(saved, f)
  loop.write_config(config, workdir)
  with open(path) as f:
    assert json.load(f)['model'] == zoo.complete(config.model)


def test_a_checkpoint_of_another_model_is_an_error_not_damage_to_move_aside(
    finished_run, tiny_data_dir, tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'copy')
  shutil.copytree(finished_run[0], workdir)
  os.remove(os.path.join(workdir, 'config.json'))  # Nothing says which model it was.
  config = tiny_config(tiny_data_dir)
  config.model.widths = (8, 16, 32)
  with pytest.raises(checkpoint_lib.CheckpointMismatchError, match='checkpoints/6'):
    loop.train_and_evaluate(config, workdir)
  assert not os.path.exists(os.path.join(workdir, 'checkpoints_damaged'))
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == sorted(
      os.listdir(os.path.join(finished_run[0], 'checkpoints')))


def test_a_run_started_with_adam_resumes_with_adam_under_a_muon_config(
    tiny_data_dir, tmp_path, capsys):
  config = tiny_config(tiny_data_dir)
  assert config.optimizer.name == 'adam'
  straight = _params_after(config, str(tmp_path / 'straight'))
  workdir = str(tmp_path / 'switched')
  assert loop.train_and_evaluate(config, workdir, stop_at=3) is None
  with_muon = tiny_config(tiny_data_dir)
  # Today's defaults in configs/base.py; Adam's own rate and schedule stay the run's.
  with_muon.optimizer.update(name='muon', lr=6e-3)
  with_muon.schedule.min_lr = 2e-3
  jax.tree.map(np.testing.assert_array_equal, straight, _params_after(with_muon, workdir))
  assert ("trained with optimizer.name='adam' (its config.json): it continues with it, at "
          "the learning rate and schedule config.json names") in capsys.readouterr().out
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['optimizer']['name'] == 'adam'


def test_a_run_resumes_on_its_own_data_set_under_a_config_that_names_another(
    finished_run, tiny_data_dir, tmp_path, capsys):
  import shutil  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'copy')
  shutil.copytree(finished_run[0], workdir)
  config = tiny_config(tiny_data_dir)
  config.data.synthetic.update(noise=0.0, near_share=0.0)  # A default that changed since.
  config.data.augment = [dict(name='hflip', p=0.5)]  # Not the set: the config's is used.
  again = loop.train_and_evaluate(config, workdir)
  printed = capsys.readouterr().out
  assert 'was trained on another data set (its config.json): it continues on that one' in printed
  assert 'data.synthetic.noise: 1.0 -> 0.0' in printed
  assert 'data.synthetic.near_share: 0.5 -> 0.0' in printed and 'augment' not in printed
  for name in ('config.json', 'data_stats.json'):
    with open(os.path.join(workdir, name)) as f, open(
        os.path.join(finished_run[0], name)) as g:
      saved, original = json.load(f), json.load(g)
    if name == 'config.json':
      assert saved['data']['synthetic'] == original['data']['synthetic']
      assert saved['data']['augment'] == [dict(name='hflip', p=0.5)]
    else:
      assert saved['dataset'] == original['dataset']
  assert again['mask_iou'] == pytest.approx(finished_run[1]['mask_iou'])


def test_a_run_resumes_with_its_own_loss_under_a_config_that_names_another(
    finished_run, tiny_data_dir, tmp_path, capsys):
  import shutil  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'copy')
  shutil.copytree(finished_run[0], workdir)
  config = tiny_config(tiny_data_dir)
  config.loss.update(depth='ssim', depth_weight=1.0)  # A default that changed since.
  again = loop.train_and_evaluate(config, workdir)
  printed = capsys.readouterr().out
  trained_weight = base.get_config().loss.depth_weight  # The default the run started with.
  assert 'was trained with another loss (its config.json): it keeps that one' in printed
  assert "loss.depth: 'l1' -> 'ssim'" in printed
  assert f'loss.depth_weight: {trained_weight} -> 1.0' in printed
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['loss']['depth_weight'] == trained_weight
  # Evaluated with the run's own loss: the same test loss as when it finished.
  assert again['loss'] == pytest.approx(finished_run[1]['loss'])


def test_a_config_json_without_head_weights_was_trained_at_1_to_1(tmp_path, capsys):
  saved = dict(loss=dict(mask='bce_with_logits', depth='l1', combine='weighted_sum'))
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  config = base.get_config()
  config.loss.update(mask='bce_with_logits', depth='l1')
  kept = loop.with_the_runs_loss(config, str(tmp_path))
  assert (kept.loss.mask_weight, kept.loss.depth_weight) == (1.0, 1.0)
  assert f'loss.depth_weight: 1.0 -> {config.loss.depth_weight}' in capsys.readouterr().out
  config.loss.depth_weight = 1.0
  assert loop.with_the_runs_loss(config, str(tmp_path)) is config  # Nothing to keep.


def test_renderer_fields_a_config_json_predates_take_the_values_of_before():
  saved = dict(data=dict(source='synthetic', image_size=32, split_by='bg',
                         test_fraction=0.3, augment=[],
                         synthetic=dict(num_backgrounds=2, num_foregrounds=4, flips=2,
                                        placements=2, render_size=32, seed=0)))
  kept = loop.runs_data_set(saved)
  assert set(kept) == {'source', 'image_size', 'split_by', 'test_fraction', 'synthetic'}
  # Every sample of a run from before the options: all people in every room, none near.
  assert kept['synthetic']['foregrounds_per_background'] == 0
  assert kept['synthetic']['near_share'] == 0.0
  assert kept['synthetic']['num_foregrounds'] == 4 and kept['synthetic']['noise'] == 1.0
  assert loop.runs_data_set({'model': {}}) is None


def test_a_run_resumed_at_another_learning_rate_says_which_fields_changed(
    finished_run, tiny_data_dir, tmp_path, capsys):
  import shutil  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'copy')
  shutil.copytree(finished_run[0], workdir)
  config = tiny_config(tiny_data_dir)
  config.optimizer.lr = 6e-3  # Same optimizer, another rate: the config's is used.
  config.schedule.plateau.factor = 0.5
  assert loop.with_the_runs_optimizer(config, workdir) is config
  printed = capsys.readouterr().out
  assert 'optimizer.lr: 0.003 -> 0.006' in printed
  assert 'schedule.plateau.factor: 1.0 -> 0.5' in printed
  assert 'the run uses the new values from here on' in printed
  config.optimizer.name = 'muon'  # Another optimizer: the run's own rate and schedule.
  kept = loop.with_the_runs_optimizer(config, workdir)
  assert (kept.optimizer.name, kept.optimizer.lr, kept.schedule.plateau.factor) == (
      'adam', 3e-3, 1.0)
  printed = capsys.readouterr().out
  assert 'not used from this config: ' in printed
  for change in ("optimizer.name: 'adam' -> 'muon'", 'optimizer.lr: 0.003 -> 0.006'):
    assert change in printed.split('not used from this config: ')[1]


def test_a_run_from_before_the_mirror_average_is_evaluated_again_as_it_was(
    finished_run, tiny_data_dir, tmp_path, capsys):
  import shutil  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'older')
  shutil.copytree(finished_run[0], workdir)
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    saved = json.load(f)
  assert saved['eval']['hflip_average'] is True  # Today's default.
  del saved['eval']['hflip_average']  # As a config.json from before the option.
  with open(path, 'w') as f:
    json.dump(saved, f)
  config = tiny_config(tiny_data_dir)
  metrics = loop.train_and_evaluate(config, workdir)  # Finished: evaluated again.
  assert 'evaluated with eval.hflip_average=False (its config.json)' in capsys.readouterr().out
  with open(path) as f:
    assert json.load(f)['eval']['hflip_average'] is False
  plain = config.copy_and_resolve_references()
  plain.eval.hflip_average = False
  fresh = str(tmp_path / 'plain')
  shutil.copytree(finished_run[0], fresh)
  os.remove(os.path.join(fresh, 'config.json'))  # No record: the config decides.
  assert metrics == loop.train_and_evaluate(plain, fresh)
  assert metrics['mask_iou'] != finished_run[1]['mask_iou']  # The average changed it.


def test_the_moving_average_is_the_bias_corrected_mean_of_the_weights_after_each_step():
  from training import steps  # pylint: disable=g-import-not-at-top
  decay, weights = 0.9, [np.float32(w) for w in (4.0, -2.0, 7.0, 1.0)]
  average = {'w': np.float32(123.0)}  # The starting value: replaced by the first step.
  for t, w in enumerate(weights, start=1):
    average = steps.update_ema(average, {'w': w}, t, decay)
    shares = decay ** np.arange(t - 1, -1, -1)  # decay^(t-k) for k = 1..t.
    expected = np.dot(shares, weights[:t]) / shares.sum()
    np.testing.assert_allclose(average['w'], expected, rtol=1e-5)


def test_a_run_evaluates_predicts_and_exports_with_its_moving_average(finished_run,
                                                                        tiny_data_dir):
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  from training import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from training import predict  # pylint: disable=g-import-not-at-top
  workdir, metrics = finished_run
  config = tiny_config(tiny_data_dir)
  assert config.train.ema_decay == 0.995  # The default, which the tiny run keeps.
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  saved = checkpoint_lib.restore_raw(manager, 6)
  jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.shape(a), np.shape(b)),
               saved['ema']['params'], saved['params'])
  # The exported weights are the average, not the last step's.
  exported, _ = predict.load_model(workdir)
  jax.tree.map(np.testing.assert_array_equal, exported.variables['params'],
               saved['ema']['params']['model'])
  assert not all(jax.tree.leaves(jax.tree.map(
      np.array_equal, exported.variables['params'], saved['params']['model'])))
  # The run's metrics are the average's; the last step's weights score otherwise.
  data = datasets.load(config.data)
  experiment = loop.prepare(config, data, run_folder.read_data_stats(workdir))
  state = checkpoint_lib.restore_for_evaluation(manager, 6, experiment.init_state())
  baselines = evaluate_lib.fit_baselines(data.train, config, workdir, data.name)
  with_average = evaluate_lib.evaluate(experiment.eval_step, state, data.test, baselines, config,
                                       experiment.place)[0]
  last_step = evaluate_lib.evaluate(experiment.eval_step, state.replace(ema=None), data.test,
                                    baselines, config, experiment.place)[0]
  assert with_average['loss'] == pytest.approx(metrics['loss'], rel=1e-6)
  assert last_step['loss'] != pytest.approx(metrics['loss'], rel=1e-4)


def test_max_samples_evaluates_the_same_samples_spread_over_the_test_split(finished_run,
                                                                            tiny_data_dir):
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  from training import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  workdir, _ = finished_run
  config = tiny_config(tiny_data_dir)
  data = datasets.load(config.data)
  chosen = evaluate_lib.evaluation_samples(data.test, 3)
  assert len(chosen) == 3 and chosen.indices.tolist() == [0, (len(data.test) - 1) // 2,
                                                           len(data.test) - 1]
  assert evaluate_lib.evaluation_samples(data.test, 0) is data.test
  assert evaluate_lib.evaluation_samples(data.test, len(data.test)) is data.test
  experiment = loop.prepare(config, data, run_folder.read_data_stats(workdir))
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  state = checkpoint_lib.restore_for_evaluation(manager, 6, experiment.init_state())
  baselines = evaluate_lib.fit_baselines(data.train, config, workdir, data.name)
  config.eval.max_samples = 3
  subset = evaluate_lib.evaluate(experiment.eval_step, state, data.test, baselines, config,
                                 experiment.place)[0]
  config.eval.max_samples = 0
  those_three = evaluate_lib.evaluate(experiment.eval_step, state, chosen, baselines, config,
                                      experiment.place)[0]
  assert subset['num_samples'] == 3
  assert subset == pytest.approx(those_three, rel=1e-6)


@pytest.fixture(scope='module')
def without_average(tiny_data_dir, tmp_path_factory):
  """The tiny config without the moving average, and its parameters trained straight."""
  config = tiny_config(tiny_data_dir)
  config.train.ema_decay = 0.0
  return config, _params_after(config, str(tmp_path_factory.mktemp('straight')))['params']


def test_a_run_from_before_the_moving_average_resumes_without_it(
    without_average, tiny_data_dir, tmp_path, capsys):
  workdir = str(tmp_path / 'older')
  older, straight = without_average
  assert loop.train_and_evaluate(older, workdir, stop_at=3) is None
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    saved = json.load(f)
  del saved['train']['ema_decay']  # As a config.json from before the option.
  with open(path, 'w') as f:
    json.dump(saved, f)
  resumed = _params_after(tiny_config(tiny_data_dir), workdir)  # Today's default: 0.995.
  assert 'with train.ema_decay=0.0 (its config.json)' in capsys.readouterr().out
  assert not resumed['ema']
  with open(path) as f:
    assert json.load(f)['train']['ema_decay'] == 0.0
  jax.tree.map(np.testing.assert_array_equal, straight, resumed['params'])


def test_a_checkpoint_written_before_the_train_state_had_a_moving_average_resumes(
    without_average, tmp_path, monkeypatch):
  import flax  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top

  @flax.struct.dataclass
  class TrainStateBeforeEma:  # The train state's fields before train.ema_decay existed.
    step: object
    params: object
    batch_stats: object
    opt_state: object
    rng: object
    nonfinite_step: object
    plateau: object

  real_save = checkpoint_lib.save
  def save_the_old_layout(manager, state, *args, **kwargs):
    old = TrainStateBeforeEma(**{name: getattr(state, name)
                                 for name in TrainStateBeforeEma.__dataclass_fields__})
    return real_save(manager, old, *args, **kwargs)

  config, straight = without_average
  workdir = str(tmp_path / 'older')
  monkeypatch.setattr(checkpoint_lib, 'save', save_the_old_layout)
  assert loop.train_and_evaluate(config, workdir, stop_at=3) is None
  monkeypatch.undo()
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  assert 'ema' not in manager.item_metadata(3)['state'].keys()
  resumed = _params_after(config, workdir)  # Not moved aside as damaged: resumed.
  assert not os.path.exists(os.path.join(tmp_path, 'older', 'checkpoints_damaged'))
  jax.tree.map(np.testing.assert_array_equal, straight, resumed['params'])


def test_turning_the_moving_average_on_in_a_run_without_it_is_one_clear_error(
    tiny_data_dir, tmp_path):
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'run')
  config = tiny_config(tiny_data_dir)
  config.train.ema_decay = 0.0
  assert loop.train_and_evaluate(config, workdir, stop_at=3) is None
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    saved = json.load(f)
  saved['train']['ema_decay'] = None  # Hand-edited to null: the config decides.
  with open(path, 'w') as f:
    json.dump(saved, f)
  config.train.ema_decay = 0.99
  with pytest.raises(checkpoint_lib.CheckpointMismatchError,
                     match=r"does not fit this config's moving average of the weights "
                     r"\(train.ema_decay turned on or off; the checkpoint holds none\); "
                     r"resume with --config.train.ema_decay=0"):
    loop.train_and_evaluate(config, workdir)
  config.train.ema_decay = 0.0  # As the message says: the run resumes and ends.
  assert loop.train_and_evaluate(config, workdir) is not None


def test_other_optimizer_settings_are_one_error_and_leave_the_run_as_it_was(
    finished_run, tiny_data_dir, tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'copy')
  shutil.copytree(finished_run[0], workdir)
  saved = {name: open(os.path.join(workdir, name)).read()
           for name in ('config.json', 'data_stats.json')}
  config = tiny_config(tiny_data_dir)
  config.optimizer.grad_clip_norm = 0.0  # No clipping: one state fewer in the chain.
  with pytest.raises(checkpoint_lib.CheckpointMismatchError,
                     match=r"checkpoints/6 does not fit this config's optimizer settings: "
                     r".*grad_clip_norm.*config\.json"):
    loop.train_and_evaluate(config, workdir)
  for name, text in saved.items():
    with open(os.path.join(workdir, name)) as f:
      assert f.read() == text, name  # Still say how the checkpoints were trained.
  assert not os.path.exists(os.path.join(workdir, 'checkpoints_damaged'))


def test_a_checkpoint_of_any_optimizer_evaluates(finished_run, tiny_data_dir):
  workdir, metrics = finished_run
  config = tiny_config(tiny_data_dir)
  config.optimizer.name = 'muon'  # Its optimizer state would not fit; evaluating needs none.
  again = loop.evaluate_checkpoint(config, workdir)
  assert again['step'] == 6
  assert again['mask_iou'] == pytest.approx(metrics['mask_iou'])
  assert again['loss'] == pytest.approx(metrics['loss'])


def test_the_best_checkpoint_is_the_highest_test_mask_iou_and_survives_a_resume(tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  from training import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top

  def save(manager, step, mask_iou):
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave({'w': np.full(2, step, np.float32)})),
                 metrics=None if mask_iou is None else {'mask_iou': mask_iou})
    manager.wait_until_finished()

  manager = checkpoint_lib.make_manager(str(tmp_path), keep=1)
  for step, mask_iou in ((1, 0.5), (2, 0.9), (3, 0.7), (4, None)):
    save(manager, step, mask_iou)
  assert manager.all_steps() == [2, 4]  # The latest and the best are kept.
  assert checkpoint_lib.resolve_step(manager, 'best') == 2
  assert checkpoint_lib.resolve_step(manager, 'latest') == 4
  # A resumed run (a new manager on the folder) still knows which one is best.
  resumed = checkpoint_lib.make_manager(str(tmp_path), keep=1)
  save(resumed, 5, 0.6)
  assert resumed.all_steps() == [2, 5]
  assert checkpoint_lib.resolve_step(resumed, 'best') == 2
