"""DMNet-ResNet: a residual encoder of multi-dilation blocks and a decoder."""
import functools
from typing import Any, Sequence

from flax import linen as nn
import jax.numpy as jnp

from zoo import layers
from zoo import registry

ModuleDef = layers.ModuleDef


def split_features(features: int, parts: int) -> list[int]:
  """Splits `features` into `parts` near-equal widths, the larger ones first."""
  return [features // parts + (i < features % parts) for i in range(parts)]


class MultiDilationBlock(nn.Module):
  """A residual block whose second conv looks at several receptive fields.

  A 3x3 conv block (strided where the stage downsamples) is followed by
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
    y = layers.ConvBlock(
        self.features, self.conv, self.norm, strides=self.strides)(x)
    widths = split_features(self.features, len(self.dilations))
    y = jnp.concatenate(
        [self.conv(width, (3, 3), kernel_dilation=dilation,
                   padding=layers.same_padding(dilation))(y)
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


class DMNetResNet(nn.Module):
  """A residual encoder of multi-dilation blocks with a decoder to full size.

  Inputs meet as difference features: `bg` and `fg_bg` each pass their own
  stem conv block, and the encoder sees `[f(fg_bg), f(fg_bg) - f(bg)]` and, with
  `difference`, the raw `[bg, fg_bg, fg_bg - bg]`, so the change between the scenes
  is explicit from the first layer on.

  The encoder's first stage runs at full resolution, each later stage starts
  with a stride-2 block. Every block mixes the receptive fields of all
  `dilations`. The decoder goes back stage by stage: upsample, concatenate the
  encoder's features of that resolution, one conv block. With `input_skip`, one
  more conv block at full resolution sees the decoder's output beside the fused
  inputs before the heads.

  Attributes:
    stage_widths: Features of each encoder stage; the stride is 2**(len - 1).
    stage_blocks: Multi-dilation blocks in each stage.
    dilations: The dilations mixed inside every block.
    stem_width: Features of each input's stem.
    difference: Whether the encoder also sees the raw `[bg, fg_bg, fg_bg - bg]`.
    input_skip: Whether a full-resolution block sees the inputs before the heads.
    dtype: Compute dtype; parameters stay float32.
  """

  stage_widths: Sequence[int] = (32, 64, 128, 256)
  stage_blocks: Sequence[int] = (1, 2, 2, 1)
  dilations: Sequence[int] = (1, 2, 4)
  stem_width: int = 16
  difference: bool = True
  input_skip: bool = False
  dtype: Any = jnp.float32

  @property
  def stride(self) -> int:
    """The total downsampling factor: image sides must be multiples of it."""
    return 2 ** (len(self.stage_widths) - 1)

  @nn.compact
  def __call__(self, bg, fg_bg, *, train: bool):
    layers.check_inputs(bg, fg_bg, self.stride)
    if len(self.stage_blocks) != len(self.stage_widths):
      raise ValueError(
          f'stage_blocks {self.stage_blocks} and stage_widths '
          f'{self.stage_widths} differ in length')
    if min(self.stage_blocks) < 1:
      raise ValueError(f'every stage needs a block: {self.stage_blocks}')
    conv, norm = layers.conv_and_norm(self.dtype, train)
    block = functools.partial(layers.ConvBlock, conv=conv, norm=norm)

    f_bg = block(self.stem_width, name='stem_bg')(bg.astype(self.dtype))
    f_fg = block(self.stem_width, name='stem_fg_bg')(fg_bg.astype(self.dtype))
    fused = layers.fuse_inputs(bg, fg_bg, self.dtype, self.difference)
    x = jnp.concatenate([f_fg, f_fg - f_bg] + ([fused] if self.difference else []), axis=-1)

    skips = []
    for stage, (width, num_blocks) in enumerate(
        zip(self.stage_widths, self.stage_blocks)):
      for i in range(num_blocks):
        strides = 2 if stage > 0 and i == 0 else 1
        x = MultiDilationBlock(
            width, conv, norm, dilations=self.dilations, strides=strides)(x)
      skips.append(x)

    for skip in reversed(skips[:-1]):
      x = jnp.concatenate([layers.upsample(x, skip), skip], axis=-1)
      x = block(skip.shape[-1])(x)
    if self.input_skip:
      x = layers.InputSkip(self.stage_widths[0], conv, norm)(x, fused)
    return layers.Heads(dtype=self.dtype)(x)


registry.register('dmnet_resnet', DMNetResNet)
