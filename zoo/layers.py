"""Building blocks shared by the models of the zoo."""
import functools
from typing import Any, Callable, Sequence

from flax import linen as nn
import jax
from jax import lax
import jax.numpy as jnp

ModuleDef = Any


def conv_and_norm(dtype, train: bool) -> tuple[ModuleDef, ModuleDef]:
  """Returns the conv and norm constructors every model builds its layers with.

  Convs carry no bias since a BatchNorm follows each; parameters stay float32
  whatever the compute `dtype` (the flax default `param_dtype`).
  """
  conv = functools.partial(nn.Conv, use_bias=False, dtype=dtype)
  # momentum 0.9 (the imagenet example's) lets the running statistics catch up
  # within the few hundred steps of a quick experiment.
  norm = functools.partial(
      nn.BatchNorm,
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      dtype=dtype,
  )
  return conv, norm


def same_padding(dilation: int) -> int:
  """The explicit padding that equals 'SAME' for a 3x3 conv of stride 1 and `dilation`.

  Written out because the ONNX converter drops 'SAME' padding from dilated convs when
  the height and width are symbolic; the values are those of 'SAME'.
  """
  return dilation


class ConvBlock(nn.Module):
  """Conv 3x3 (optionally strided or dilated), BatchNorm, activation."""

  features: int
  conv: ModuleDef
  norm: ModuleDef
  strides: int = 1
  dilation: int = 1
  act: Callable = nn.relu

  @nn.compact
  def __call__(self, x):
    x = self.conv(
        self.features,
        (3, 3),
        strides=self.strides,
        kernel_dilation=self.dilation,
        padding=same_padding(self.dilation) if self.strides == 1 else 'SAME',
    )(x)
    return self.act(self.norm()(x))


def split_features(features: int, parts: int) -> list[int]:
  """Splits `features` into `parts` near-equal widths, the larger ones first."""
  return [features // parts + (i < features % parts) for i in range(parts)]


class MultiDilationBlock(nn.Module):
  """A residual block whose second conv looks at several receptive fields.

  A 3x3 conv block (strided where the level downsamples) is followed by
  parallel 3x3 convs, one per dilation, each with a share of the features;
  their concatenation is normalized and added to the shortcut.
  """

  features: int
  conv: ModuleDef
  norm: ModuleDef
  dilations: Sequence[int] = (1, 2, 4)
  strides: int = 1

  @nn.compact
  def __call__(self, x):
    residual = x
    y = ConvBlock(self.features, self.conv, self.norm, strides=self.strides)(x)
    widths = split_features(self.features, len(self.dilations))
    y = jnp.concatenate(
        [self.conv(width, (3, 3), kernel_dilation=dilation,
                   padding=same_padding(dilation))(y)
         for width, dilation in zip(widths, self.dilations)],
        axis=-1)
    # Zero-initialized scale: each block starts as the identity, as in the
    # flax imagenet ResNet.
    y = self.norm(scale_init=nn.initializers.zeros_init())(y)
    if residual.shape != y.shape:
      residual = self.conv(
          self.features, (1, 1), strides=self.strides, name='conv_proj')(x)
      residual = self.norm(name='norm_proj')(residual)
    return nn.relu(residual + y)


class Heads(nn.Module):
  """Two 1x1 convs, one per task, giving float32 logits of one channel each."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    outputs = {}
    for task in ('mask', 'depth'):
      logits = nn.Conv(1, (1, 1), dtype=self.dtype, name=f'{task}_head')(x)
      outputs[task] = jnp.asarray(logits, jnp.float32)
    return outputs


def fuse_inputs(bg, fg_bg, dtype, difference: bool = True, coordinates: bool = False):
  """The two images stacked as channels, `[bg, fg_bg, fg_bg - bg]` (9) or `[bg, fg_bg]` (6).

  The difference makes the change between the scenes, which is where the person is,
  explicit at every pixel before the first conv. With `coordinates`, two more channels
  give each pixel's row and column (`pixel_coordinates`).
  """
  parts = [bg, fg_bg, fg_bg - bg] if difference else [bg, fg_bg]
  if coordinates:
    parts.append(pixel_coordinates(bg))
  return jnp.concatenate(parts, axis=-1).astype(dtype)


def pixel_coordinates(like):
  """Each pixel's row and column, from -1 (top, left) to 1 (bottom, right): N x H x W x 2.

  Convolutions are blind to where they are (CoordConv, Liu et al. 2018); in a photo
  taken from eye height, how far away a pixel is depends first of all on its row.
  """
  n, h, w, _ = like.shape

  def ramp(size, axis):
    # An iota scaled by the size as a value, not jnp.linspace (whose length must be a
    # constant): the ONNX export keeps the height and width symbolic.
    last = jnp.maximum(jnp.asarray(size, jnp.float32) - 1.0, 1.0)
    return lax.broadcasted_iota(jnp.float32, (h, w), axis) * (2.0 / last) - 1.0
  grid = jnp.stack([ramp(h, 0), ramp(w, 1)], axis=-1).astype(like.dtype)
  return jnp.broadcast_to(grid, (n, h, w, 2))


class InputSkip(nn.Module):
  """A full-resolution refinement: the decoder's output meets the inputs again.

  Concatenates the fused input images to the last decoder features and runs one
  conv block, so the heads see pixel-exact edges next to the decoder's context.
  """

  features: int
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x, fused_inputs):
    x = jnp.concatenate([x, fused_inputs.astype(x.dtype)], axis=-1)
    return ConvBlock(self.features, self.conv, self.norm)(x)


class GlobalContext(nn.Module):
  """The whole image's summary added to every position (DeepLabv3's image pooling).

  Averages the features over height and width, maps the average through a dense
  layer, broadcasts it back over the grid beside the features and fuses both with
  one conv block. A conv stack's view of the image stays local; a room's depth
  scale is a property of the whole view (the size of its desks, where its floor
  meets the back wall), which this branch lets every position see at once.
  """

  features: int
  conv: ModuleDef
  norm: ModuleDef
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    pooled = jnp.mean(x, axis=(1, 2), keepdims=True)
    pooled = nn.relu(nn.Dense(self.features, dtype=self.dtype, name='pool_dense')(pooled))
    pooled = jnp.broadcast_to(pooled, x.shape[:-1] + (self.features,))
    return ConvBlock(self.features, self.conv, self.norm)(jnp.concatenate([x, pooled], -1))


def _double_bilinear(x, axis: int):
  """Doubles `x` along `axis` bilinearly (half-pixel centres, edges repeated).

  Output pixel 2i is 0.75 x[i] + 0.25 x[i - 1] and pixel 2i + 1 is
  0.75 x[i] + 0.25 x[i + 1], with x[-1] = x[0] and x[n] = x[n - 1]: what
  `jax.image.resize(..., 'bilinear')` gives for a factor of 2, as elementwise
  ops that XLA fuses (resize contracts with dense interpolation matrices).
  """
  size = x.shape[axis]
  first = lax.slice_in_dim(x, 0, 1, axis=axis)
  last = lax.slice_in_dim(x, size - 1, size, axis=axis)
  # lax.concatenate, not jnp.concatenate: the ONNX converter sizes the latter's output
  # wrongly when the height and width are symbolic.
  before = lax.concatenate([first, lax.slice_in_dim(x, 0, size - 1, axis=axis)], axis)
  after = lax.concatenate([lax.slice_in_dim(x, 1, size, axis=axis), last], axis)
  out = jnp.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after],
                  axis=axis + 1)
  return out.reshape(x.shape[:axis] + (2 * size,) + x.shape[axis + 1:])


def max_pool_2x2(x):
  """2x2 max pooling with stride 2 of NHWC `x` whose height and width are even.

  The values of `nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))`, written as the
  maximum of four strided slices so that symbolic heights and widths keep their exact
  halves (the ONNX converter's max_pool does not).
  """
  def even_and_odd(y, axis):
    return (lax.slice_in_dim(y, 0, y.shape[axis], stride=2, axis=axis),
            lax.slice_in_dim(y, 1, y.shape[axis], stride=2, axis=axis))
  rows = jnp.maximum(*even_and_odd(x, 1))
  return jnp.maximum(*even_and_odd(rows, 2))


def upsample(x, like):
  """Bilinearly resizes NHWC `x` to the spatial size of `like`.

  Doubling, the decoders' case, runs as a stencil of elementwise ops that XLA fuses
  (`_double_bilinear`); other sizes go through `jax.image.resize`. Both compute the same
  values; `benchmarks/step_variants.py` times the two (BENCHMARKS.md).
  """
  n, in_h, in_w, c = x.shape
  _, h, w, _ = like.shape
  if (h, w) == (2 * in_h, 2 * in_w):
    return _double_bilinear(_double_bilinear(x, 1), 2)
  return jax.image.resize(x, (n, h, w, c), 'bilinear')


def check_inputs(bg, fg_bg, stride: int):
  """Raises ValueError unless the inputs are equal NHWC RGB batches.

  Their height and width must be multiples of `stride`.
  """
  if bg.shape != fg_bg.shape:
    raise ValueError(
        f'bg and fg_bg differ in shape: {bg.shape} vs {fg_bg.shape}')
  if bg.ndim != 4 or bg.shape[-1] != 3:
    raise ValueError(f'expected N x H x W x 3 images, got shape {bg.shape}')
  _, h, w, _ = bg.shape
  if h % stride or w % stride:
    raise ValueError(
        f'image size {h}x{w} is not a multiple of the model stride {stride}')
