"""The model zoo's contract: how models are built, what they take and return.

Every registered model maps a batch of `bg` and `fg_bg` images (N x H x W x 3)
to a dict of float32 logits `mask` and `depth` (N x H x W x 1), builds from a
plain (JSON-able) config. Inputs are 32x32, batch 2;
shapes and dtypes are checked by tracing alone. tests/test_export.py trains every model
with the real train step, checkpoints and exports it; tests/test_devices.py trains on a
batch sharded over four devices.
"""
import functools
import json

from flax import linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import zoo
from zoo import layers

BATCH = 2
SIZE = 32


def _images(height=SIZE, width=SIZE, seed=0):
  """A synthetic pair: the person is a bright box on a noisy background."""
  rng = np.random.default_rng(seed)
  bg = rng.normal(size=(BATCH, height, width, 3)).astype(np.float32)
  fg_bg = bg.copy()
  fg_bg[:, height // 4:3 * height // 4, width // 3:2 * width // 3] += 2.0
  return jnp.asarray(bg), jnp.asarray(fg_bg)


@functools.cache
def _model_and_variables(name):
  model = zoo.build(dict(name=name))
  return model, zoo.init(model, jax.random.key(0), SIZE, BATCH)


def _abstract_variables(model):
  """The variables' shapes and dtypes: traced, nothing computed or compiled."""
  return jax.eval_shape(
      functools.partial(zoo.init, model, image_size=SIZE, batch_size=BATCH),
      jax.random.key(0))


@pytest.mark.parametrize('name', zoo.names())
@pytest.mark.parametrize('height,width', [(SIZE, SIZE), (SIZE, 2 * SIZE)])
@pytest.mark.parametrize('train', [False, True])
def test_outputs_are_float32_logit_maps_of_the_input_size(
    name, height, width, train):
  model = zoo.build(dict(name=name))
  bg, fg_bg = _images(height, width)
  # Shapes and dtypes are fixed when tracing: no need to compute (tests/test_export.py
  # trains, checkpoints and exports every model for real).
  outputs, _ = jax.eval_shape(
      functools.partial(model.apply, train=train, mutable=['batch_stats']),
      _abstract_variables(model), bg, fg_bg)
  assert set(outputs) == {'mask', 'depth'}
  for key, logits in outputs.items():
    assert logits.shape == (BATCH, height, width, 1), key
    assert logits.dtype == jnp.float32, key


@pytest.mark.parametrize('name', zoo.names())
def test_variables_hold_params_and_batch_stats(name):
  assert set(_abstract_variables(zoo.build(dict(name=name)))) == {'params', 'batch_stats'}


@pytest.mark.parametrize('name', zoo.names())
def test_bfloat16_computes_in_bfloat16_with_float32_params_and_outputs(name):
  model = zoo.build(dict(name=name, dtype='bfloat16'))
  assert model.dtype == jnp.bfloat16
  bg, fg_bg = _images()
  variables = _abstract_variables(model)
  float32 = jnp.dtype('float32')
  assert {leaf.dtype for leaf in jax.tree.leaves(variables)} == {float32}
  outputs, state = jax.eval_shape(
      functools.partial(model.apply, train=True, capture_intermediates=True,
                        mutable=['batch_stats', 'intermediates']),
      variables, bg, fg_bg)
  assert {leaf.dtype for leaf in jax.tree.leaves(outputs)} == {float32}
  layers = jax.tree.leaves(state['intermediates'])
  assert jnp.dtype('bfloat16') in {leaf.dtype for leaf in layers}


def test_dmnet_cnn_has_about_334k_params_78k_of_them_in_its_global_context_block():
  count = lambda **fields: zoo.count_params(zoo.build(dict(name='dmnet_cnn', **fields)), 64)
  assert 0.9 * 334_000 <= count() <= 1.1 * 334_000, count()
  # A dense 64 -> 64 with bias, a bias-free 3 x 3 conv from 64 + 64 channels to 64, and
  # its BatchNorm's scale and bias.
  block = (64 * 64 + 64) + (3 * 3 * 128 * 64) + 2 * 64
  assert count() - count(global_context=False) == block == 78_016


def _first_conv_in_channels(params) -> set:
  """Input channels of the convs that see the raw images (3, 6 or 9 of them)."""
  leaves = jax.tree_util.tree_leaves_with_path(params)
  return {leaf.shape[2] for path, leaf in leaves
          if len(leaf.shape) == 4 and leaf.shape[2] in (6, 9)}


@pytest.mark.parametrize('name', zoo.names())
def test_difference_feeds_fg_bg_minus_bg_and_input_skip_adds_a_full_resolution_block(name):
  shapes = lambda **fields: _abstract_variables(zoo.build(dict(name=name, **fields)))['params']
  plain, with_difference = shapes(difference=False), shapes(difference=True)
  if name == 'dmnet_resnet':  # Its stems see one image each; the raw 9 join the encoder.
    count = lambda p: sum(np.prod(x.shape) for x in jax.tree.leaves(p))
    assert count(with_difference) > count(plain)
  else:
    assert _first_conv_in_channels(with_difference) == {9}
    assert _first_conv_in_channels(plain) == {6}
  assert 'InputSkip_0' not in shapes()  # Off by default.
  skip = shapes(input_skip=True)['InputSkip_0']
  assert [leaf.shape[2] for leaf in jax.tree.leaves(skip) if len(leaf.shape) == 4] == [
      zoo.build(dict(name=name)).widths[0] + 9]


def test_upsample_widths_reduce_the_coarser_features_before_each_upsampling():
  fields = dict(name='dmnet_cnn', widths=(16, 32, 64))
  plain = _abstract_variables(zoo.build(fields))['params']
  reduced = _abstract_variables(zoo.build(dict(fields, upsample_widths=(8, 4))))['params']
  assert not any(key.startswith('upsample_') for key in plain)  # Off by default.
  # A 1x1 conv at the coarser level: 64 -> 8, then 32 -> 4.
  assert reduced['upsample_conv_0']['kernel'].shape == (1, 1, 64, 8)
  assert reduced['upsample_conv_1']['kernel'].shape == (1, 1, 32, 4)
  # The decoder's blocks see the reduced features beside the skips: 8 + 32, 4 + 16.
  count = len([key for key in plain if key.startswith('ConvBlock_')])
  last_two = lambda params: [params[f'ConvBlock_{k}']['Conv_0']['kernel'].shape[2]
                             for k in (count - 2, count - 1)]
  assert last_two(plain) == [64 + 32, 32 + 16]
  assert last_two(reduced) == [8 + 32, 4 + 16]
  for wrong in ((8,), (0, -3)):  # One positive width per decoder level, or none.
    with pytest.raises(ValueError, match=r'upsample_widths .*: one positive width per decoder '
                       r'level expected, 2 for widths \(16, 32, 64\)'):
      zoo.build(dict(fields, upsample_widths=wrong))


def test_an_encoder_decoder_needs_one_block_count_per_level_and_a_block_at_each():
  for wrong, message in (((1, 1), r'one count per level expected, 3 for widths \(8, 16, 32\)'),
                         ((1, 0, 1), 'every level needs a block')):
    with pytest.raises(ValueError, match=r'level_blocks .*: ' + message):
      zoo.EncoderDecoder(widths=(8, 16, 32), level_blocks=wrong)


def test_pixel_coordinates_run_from_minus_one_at_the_top_left_to_one_at_the_bottom_right():
  grid = np.asarray(layers.pixel_coordinates(jnp.zeros((2, 3, 5, 9))))
  assert grid.shape == (2, 3, 5, 2)
  np.testing.assert_allclose(grid[0, :, 0, 0], [-1, 0, 1])  # Rows, down the image.
  np.testing.assert_allclose(grid[0, 0, :, 1], [-1, -0.5, 0, 0.5, 1])  # Columns, across.
  np.testing.assert_array_equal(grid[0], grid[1])  # The same for every image.
  np.testing.assert_allclose(grid[0, :, 0, 0], np.linspace(-1, 1, 3), atol=1e-7)
  np.testing.assert_allclose(grid[0, 0, :, 1], np.linspace(-1, 1, 5), atol=1e-7)


def test_with_coordinates_dmnet_cnns_first_conv_sees_two_more_channels():
  shapes = lambda **fields: _abstract_variables(zoo.build(dict(name='dmnet_cnn', **fields)))
  assert not zoo.build(dict(name='dmnet_cnn')).coordinates  # Off by default.
  convs = lambda params: [leaf.shape for leaf in jax.tree.leaves(params) if len(leaf.shape) == 4]
  plain, with_coordinates = convs(shapes()['params']), convs(shapes(coordinates=True)['params'])
  assert with_coordinates[0] == plain[0][:2] + (11, 16)
  assert with_coordinates[1:] == plain[1:]


@pytest.mark.parametrize('name', ['dmnet_cnn', 'dmnet_cnn_v1'])
def test_global_context_lets_every_pixel_see_the_whole_image(name):
  """Without it a pixel's output ignores a far corner; with it, the corner reaches it."""
  def corner_reach(global_context):
    model = zoo.build(dict(name=name, widths=(4, 8), dilations=(1,),
                           global_context=global_context))
    variables = zoo.init(model, jax.random.key(0), SIZE, BATCH)
    bg, fg_bg = _images()

    def top_left_depth(fg_bg):
      return model.apply(variables, bg, fg_bg, train=False)['depth'][0, 0, 0, 0]

    return np.abs(np.asarray(jax.jit(jax.grad(top_left_depth))(fg_bg)[0, -1, -1])).max()

  assert 'global_context' in zoo.fields(name)
  assert zoo.build(dict(name=name)).global_context  # On by default.
  assert corner_reach(False) == 0.0
  assert corner_reach(True) > 0.0


def test_global_context_averages_each_image_alone():
  """In inference, one image's output does not depend on the other images of the batch."""
  model = zoo.build(dict(name='dmnet_cnn', widths=(4, 8), dilations=(1,)))
  variables = zoo.init(model, jax.random.key(0), SIZE, BATCH)
  bg, fg_bg = _images()

  def first_image_depth(fg_bg):
    return model.apply(variables, bg, fg_bg, train=False)['depth'][0].sum()

  gradient = np.asarray(jax.jit(jax.grad(first_image_depth))(fg_bg))
  assert np.abs(gradient[0]).max() > 0.0
  assert np.abs(gradient[1:]).max() == 0.0


def test_complete_names_every_field_so_a_saved_config_outlives_default_changes():
  config = zoo.complete(dict(name='dmnet_cnn', widths=[8, 16]))
  assert set(config) == set(zoo.fields('dmnet_cnn')) | {'name'}
  assert config['widths'] == [8, 16] and config['dtype'] == 'float32'
  assert config['global_context'] is True and config['dilations'] == [1, 2, 4, 8, 1]
  assert json.loads(json.dumps(config)) == config
  rebuilt = zoo.build(config)
  assert rebuilt == zoo.build(dict(name='dmnet_cnn', widths=(8, 16)))


def test_variants_grow_in_capacity():
  count = lambda name: zoo.count_params(zoo.build(dict(name=name)), 64)
  assert count('dmnet_cnn') < count('dmnet_cnn_v1')


@pytest.mark.parametrize('name', zoo.names())
def test_bfloat16_predicts_what_float32_predicts_with_the_same_weights(name):
  model, variables = _model_and_variables(name)
  bf16 = zoo.build(dict(name=name, dtype='bfloat16'))
  bg, fg_bg = _images()
  probabilities = lambda m: jax.tree.map(jax.nn.sigmoid, jax.jit(
      functools.partial(m.apply, train=False))(variables, bg, fg_bg))
  full, half = probabilities(model), probabilities(bf16)
  for key in ('mask', 'depth'):
    difference = np.abs(np.asarray(full[key]) - np.asarray(half[key]))
    # bfloat16 keeps 8 bits of mantissa: about 2 decimal digits after a dozen layers.
    assert difference.max() < 0.05 and difference.mean() < 0.01, (key, difference.max())
    assert difference.max() > 0, key  # It did compute in bfloat16.


def test_config_round_trips_through_json():
  config = dict(name='dmnet_cnn', dtype='float32', widths=(8, 16), blocks=1,
                dilations=(1, 2))
  restored = json.loads(json.dumps(config))
  assert restored['widths'] == [8, 16]  # JSON has lists only.
  model, again = zoo.build(config), zoo.build(restored)
  assert again == model
  assert zoo.count_params(again, SIZE) == zoo.count_params(model, SIZE)
  variables = zoo.init(model, jax.random.key(0), SIZE, BATCH)
  bg, fg_bg = _images()
  outputs = [
      jax.jit(functools.partial(m.apply, train=False))(variables, bg, fg_bg)
      for m in (model, again)]
  np.testing.assert_array_equal(outputs[0]['mask'], outputs[1]['mask'])
  np.testing.assert_array_equal(outputs[0]['depth'], outputs[1]['depth'])


def test_builds_from_a_config_dict_with_lists():
  config = ml_collections.ConfigDict(
      dict(name='unet', dtype='bfloat16', widths=[8, 16], convs=1))
  model = zoo.build(config)
  assert model.widths == (8, 16)
  assert model.dtype == jnp.bfloat16
  assert zoo.stride(config) == 2


def test_unknown_name_lists_the_registered_names():
  with pytest.raises(ValueError, match='unknown model') as error:
    zoo.build(dict(name='resnet9000'))
  assert ', '.join(zoo.names()) in str(error.value)


def test_unknown_field_names_the_field_and_the_models_fields():
  with pytest.raises(ValueError, match="'depth_multiplier'") as error:
    zoo.build(dict(name='dmnet_cnn', depth_multiplier=2))
  for field in ('widths', 'blocks', 'dilations'):
    assert field in str(error.value)


def test_unknown_dtype_is_an_error():
  with pytest.raises(ValueError, match='float16'):
    zoo.build(dict(name='dmnet_cnn', dtype='float16'))


def test_names_are_sorted_and_include_the_documented_models():
  assert zoo.names() == sorted(zoo.names())
  assert {'dmnet_cnn', 'dmnet_cnn_v1', 'dmnet_resnet', 'unet'} <= set(
      zoo.names())


@pytest.mark.parametrize('name', zoo.names())
def test_stride_is_exposed_and_other_sizes_are_refused(name):
  model = zoo.build(dict(name=name))
  assert zoo.stride(dict(name=name)) == zoo.stride(model) == model.stride > 1
  variables = _abstract_variables(model)
  bg, fg_bg = _images(SIZE + 1, SIZE)
  with pytest.raises(ValueError, match='multiple of the model stride'):
    jax.eval_shape(functools.partial(model.apply, train=False),
                   variables, bg, fg_bg)


def test_summary_shows_layers_total_params_and_flops():
  model = zoo.build(dict(name='dmnet_cnn'))
  text = zoo.summary(model, 64, batch_size=2)
  assert f'{zoo.count_params(model, 64):,}' in text
  assert 'FLOPs' in text
  assert '(2, 64, 64, 16)' in text  # The first conv's output shape (widths[0] = 16).
  assert zoo.flops_per_image(model, 64) > 0


class OneConv(nn.Module):
  """A model of one 3x3 'VALID' conv from the stacked images to 4 channels, no bias."""

  @nn.compact
  def __call__(self, bg, fg_bg, *, train):
    del train
    return nn.Conv(4, (3, 3), padding='VALID', use_bias=False)(
        jnp.concatenate([bg, fg_bg], axis=-1))


@pytest.mark.parametrize('image_size, out_h, out_w', [(8, 6, 6), ((8, 12), 6, 10)])
def test_flops_count_two_per_multiply_add_of_a_conv(image_size, out_h, out_w):
  # Every output pixel of every output channel: 3 x 3 x 6 input values, one multiply
  # and one add each.
  expected = 2 * out_h * out_w * 4 * (3 * 3 * 6)
  assert zoo.flops_per_image(OneConv(), image_size) == expected


@pytest.mark.parametrize('shape', [(2, 5, 7, 3), (1, 1, 1, 2), (3, 4, 4, 8)])
def test_doubling_upsample_equals_jax_image_resize(shape):
  from zoo import layers  # pylint: disable=g-import-not-at-top
  n, h, w, c = shape
  x = jax.random.normal(jax.random.key(0), shape)
  like = jnp.zeros((n, 2 * h, 2 * w, c))
  np.testing.assert_allclose(
      layers.upsample(x, like),
      jax.image.resize(x, (n, 2 * h, 2 * w, c), 'bilinear'), atol=1e-6)


def test_other_upsample_sizes_go_through_jax_image_resize():
  from zoo import layers  # pylint: disable=g-import-not-at-top
  x = jax.random.normal(jax.random.key(0), (1, 4, 6, 2))
  like = jnp.zeros((1, 9, 13, 2))
  np.testing.assert_allclose(
      layers.upsample(x, like),
      jax.image.resize(x, (1, 9, 13, 2), 'bilinear'), atol=1e-6)


# The zoo writes these two out for the ONNX converter (tests/test_export.py runs every model's
# graph at other sizes); the values must stay those of the usual spelling.
@pytest.mark.parametrize('dilation', [1, 2, 4])
def test_explicit_padding_equals_same_for_a_3x3_conv_of_any_dilation(dilation):
  x = jax.random.normal(jax.random.key(0), (2, 12, 8, 3))
  explicit = nn.Conv(4, (3, 3), kernel_dilation=dilation,
                     padding=layers.same_padding(dilation))
  same = nn.Conv(4, (3, 3), kernel_dilation=dilation, padding='SAME')
  variables = explicit.init(jax.random.key(1), x)
  np.testing.assert_array_equal(explicit.apply(variables, x), same.apply(variables, x))


def test_max_pool_2x2_equals_flax_max_pool():
  x = jax.random.normal(jax.random.key(0), (2, 12, 8, 3))
  np.testing.assert_array_equal(
      layers.max_pool_2x2(x), nn.max_pool(x, window_shape=(2, 2), strides=(2, 2)))


def test_the_mirror_average_is_the_mean_of_the_two_passes_and_mirrors_with_its_input():
  model = zoo.build(dict(name='dmnet_cnn', widths=(4, 8), dilations=(1,)))
  variables = zoo.init(model, jax.random.key(0), 16)
  stats = {key: dict(mean=[0.5] * 3, std=[0.25] * 3) for key in ('bg', 'fg_bg')}
  forward = functools.partial(zoo.export.forward, variables, model=model, stats=stats,
                              dtype_name='float32')
  rng = np.random.default_rng(0)
  bg, fg_bg = (rng.integers(0, 256, (2, 16, 24, 3), np.uint8) for _ in range(2))
  mirror = lambda x: np.asarray(x)[:, :, ::-1]
  plain, mirrored = forward(bg, fg_bg), forward(mirror(bg), mirror(fg_bg))
  averaged = forward(bg, fg_bg, hflip_average=True)
  averaged_of_mirror = forward(mirror(bg), mirror(fg_bg), hflip_average=True)
  for key in ('mask', 'depth'):
    np.testing.assert_allclose(averaged[key], (plain[key] + mirror(mirrored[key])) / 2,
                               atol=1e-6)
    np.testing.assert_allclose(averaged_of_mirror[key], mirror(averaged[key]), atol=1e-6)
    assert np.abs(np.asarray(plain[key]) - mirror(mirrored[key])).max() > 1e-4  # Not trivial.


@pytest.mark.parametrize('name', zoo.names())
def test_every_zoo_model_is_the_one_encoder_decoder(name):
  model = zoo.build(dict(name=name))
  assert isinstance(model, zoo.EncoderDecoder)
  assert model.stride == 2 ** (len(model.widths) - 1)


def _param_names_and_sizes(model):
  params = _abstract_variables(model)['params']
  leaves = jax.tree.leaves(params)
  return sorted(params), len(leaves), sum(int(np.prod(leaf.shape)) for leaf in leaves)


# The modules and parameters of each model as checkpoints and exports hold them, from
# before the models shared one module: the names are where a checkpoint's arrays go, so
# changing them would leave every saved run unreadable.
BLOCKS = lambda count: [f'ConvBlock_{i}' for i in range(count)]
SAVED_LAYOUTS = {
    'dmnet_cnn': (sorted(BLOCKS(12) + ['GlobalContext_0', 'Heads_0']), 45, 333_842),
    'dmnet_cnn_v1': (sorted(BLOCKS(12) + ['GlobalContext_0', 'Heads_0']), 45, 1_330_210),
    'unet': (sorted(BLOCKS(14) + ['Heads_0']), 46, 1_950_050),
    'dmnet_resnet': (sorted(BLOCKS(3) + [f'MultiDilationBlock_{i}' for i in range(6)]
                            + ['Heads_0', 'stem_bg', 'stem_fg_bg']), 79, 2_180_898),
}


# Every parameter's path and shape (a digest), and the mean mask and depth logits of
# weights initialized with key 0 on a fixed pair: what the models computed before they
# shared one module (commit c566a16 printed the same). Blocks of equal shapes in another
# order (say, the bottleneck's dilations) keep the digest but change the logits.
SAVED_SHAPES_AND_OUTPUTS = {
    'dmnet_cnn': ('c640393f98565028', 0.387037, -0.182310),
    'dmnet_cnn_v1': ('6dc8310419e41182', 0.0763252, 0.0134361),
    'unet': ('86e1f27b1cf02cdf', -0.0810197, -0.136709),
    'dmnet_resnet': ('620ff333d4527fe0', -0.0766440, -0.384771),
}


@pytest.mark.parametrize('name', sorted(SAVED_LAYOUTS))
def test_each_model_keeps_the_parameter_layout_saved_runs_hold(name):
  assert _param_names_and_sizes(zoo.build(dict(name=name))) == SAVED_LAYOUTS[name]


@pytest.mark.parametrize('name', sorted(SAVED_SHAPES_AND_OUTPUTS))
def test_each_model_keeps_every_parameters_path_and_shape_and_what_it_computes(name):
  import hashlib  # pylint: disable=g-import-not-at-top
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  digest, mask_mean, depth_mean = SAVED_SHAPES_AND_OUTPUTS[name]
  model = zoo.build(dict(name=name))
  variables = zoo.init(model, jax.random.key(0), SIZE, BATCH)
  flat = traverse_util.flatten_dict(variables['params'])
  shapes = '\n'.join(f"{'/'.join(path)} {tuple(leaf.shape)}"
                     for path, leaf in sorted(flat.items()))
  assert hashlib.sha256(shapes.encode()).hexdigest()[:16] == digest
  rng = np.random.default_rng(0)
  bg = jnp.asarray(rng.normal(size=(BATCH, SIZE, SIZE, 3)).astype(np.float32))
  fg_bg = bg.at[:, 8:24, 10:22].add(2.0)
  outputs = model.apply(variables, bg, fg_bg, train=False)
  assert float(outputs['mask'].mean()) == pytest.approx(mask_mean, rel=1e-3, abs=1e-5)
  assert float(outputs['depth'].mean()) == pytest.approx(depth_mean, rel=1e-3, abs=1e-5)


def test_the_parts_make_other_architectures_too():
  # A U-Net of multi-dilation blocks, its inputs through stems: parts of three models.
  model = zoo.EncoderDecoder(
      widths=(8, 16), level_blocks=(1, 2),
      encoder_block=functools.partial(layers.MultiDilationBlock, dilations=(1, 2)),
      pool=layers.max_pool_2x2,
      fusion=functools.partial(zoo.encoder_decoder.stem_features, width=4),
      bottleneck_dilations=(2,), decoder_blocks=2)
  bg = fg_bg = jax.ShapeDtypeStruct((2, 16, 16, 3), jnp.float32)
  outputs = jax.eval_shape(functools.partial(model.apply, train=False),
                           _abstract_variables(model), bg, fg_bg)
  assert {k: v.shape for k, v in outputs.items()} == {'mask': (2, 16, 16, 1),
                                                      'depth': (2, 16, 16, 1)}
  names, _, _ = _param_names_and_sizes(model)
  assert names == sorted(BLOCKS(3) + ['Heads_0', 'MultiDilationBlock_0',
                                      'MultiDilationBlock_1', 'MultiDilationBlock_2',
                                      'stem_bg', 'stem_fg_bg'])


def test_a_models_fields_and_defaults_are_its_factorys_keyword_arguments():
  assert zoo.fields('dmnet_cnn') == ['blocks', 'coordinates', 'difference', 'dilations',
                                     'dtype', 'global_context', 'input_skip', 'upsample_widths',
                                     'widths']
  assert zoo.defaults('dmnet_cnn')['widths'] == (16, 32, 64)
  assert zoo.defaults('dmnet_cnn_v1')['widths'] == (32, 64, 128)  # The partial's.
  assert zoo.defaults('dmnet_resnet')['stem_width'] == 16
