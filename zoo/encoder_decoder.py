"""The one skeleton of the zoo: inputs fused, an encoder, a bottleneck, a decoder, two heads.

Every zoo model is this module with other parts (`zoo/dmnet_cnn.py`, `zoo/unet.py`,
`zoo/dmnet_resnet.py` map each model's own fields onto it):

  fused inputs -> encoder level 0 -> skip -> level 1 -> skip -> ... -> coarsest level
  -> bottleneck (dilated conv blocks, global context) -> decoder: per skip, upsample,
  concatenate the skip, conv blocks -> optional input skip -> mask and depth heads.

The parts are fields, as the flax ImageNet example's `ResNet` takes `block_cls`: how the
inputs meet (`fusion`), the encoder's block (`encoder_block`), how a level halves the
resolution (`pool`, or a strided first block), the blocks of each level, the bottleneck
and the decoder's depth.
"""
import functools
from typing import Any, Callable, Sequence

from flax import linen as nn
import jax.numpy as jnp

from zoo import layers

ModuleDef = layers.ModuleDef


def stacked_inputs(bg, fg_bg, *, block, dtype, difference: bool, coordinates: bool):
  """The images stacked as channels (`layers.fuse_inputs`), for the encoder and the
  input skip alike. Returns (the encoder's input, the input skip's)."""
  del block
  fused = layers.fuse_inputs(bg, fg_bg, dtype, difference, coordinates)
  return fused, fused


def stem_features(bg, fg_bg, *, block, dtype, difference: bool, coordinates: bool,
                  width: int = 16):
  """Each image through a stem conv block of its own; the encoder sees `[f(fg_bg),
  f(fg_bg) - f(bg)]` and, with `difference`, the stacked images `[bg, fg_bg, fg_bg - bg]`
  too, so the change between the scenes is explicit from the first layer on. Returns
  (the encoder's input, the stacked images for the input skip)."""
  f_bg = block(width, name='stem_bg')(bg.astype(dtype))
  f_fg = block(width, name='stem_fg_bg')(fg_bg.astype(dtype))
  fused = layers.fuse_inputs(bg, fg_bg, dtype, difference, coordinates)
  x = jnp.concatenate([f_fg, f_fg - f_bg] + ([fused] if difference else []), axis=-1)
  return x, fused


class EncoderDecoder(nn.Module):
  """An encoder-decoder from (bg, fg_bg) to mask and depth logits, built from its parts.

  Attributes:
    widths: Features per level, finest first; the stride is 2**(len - 1).
    level_blocks: Encoder blocks at each level (as many entries as `widths`).
    encoder_block: The encoder's block, called as `encoder_block(features, conv, norm,
      strides=...)`: `layers.ConvBlock` or `layers.MultiDilationBlock` (a `partial`
      setting its other fields).
    pool: Halves the resolution before each level after the first (`layers.max_pool_2x2`);
      None: each such level's first block has stride 2 instead.
    fusion: How the two images meet: `stacked_inputs` or `stem_features` (a `partial`
      setting its width); returns the encoder's input and the input skip's.
    bottleneck_dilations: A conv block of each dilation after the coarsest level.
    global_context: Whether a block that sees the whole image's average features ends
      the bottleneck (`layers.GlobalContext`).
    decoder_blocks: Conv blocks after each upsampling and skip concatenation.
    upsample_widths: Before each upsampling (coarsest first), a 1x1 conv block at the
      coarser resolution reduces the features to this many, so that the conv blocks
      after the concatenation, at the finer resolution, see fewer channels; empty: the
      coarser features are upsampled as they are.
    difference: Whether the fused inputs hold `fg_bg - bg` too.
    coordinates: Whether they hold each pixel's row and column too.
    input_skip: Whether a full-resolution block sees the fused inputs before the heads.
    dtype: Compute dtype; parameters stay float32.
  """

  widths: Sequence[int]
  level_blocks: Sequence[int]
  encoder_block: ModuleDef = layers.ConvBlock
  pool: Callable | None = None
  fusion: Callable = stacked_inputs
  bottleneck_dilations: Sequence[int] = ()
  global_context: bool = False
  decoder_blocks: int = 1
  upsample_widths: Sequence[int] = ()
  difference: bool = True
  coordinates: bool = False
  input_skip: bool = False
  dtype: Any = jnp.float32

  def __post_init__(self):
    # At construction, so that building the model from a config refuses it before any
    # dataset is built.
    if not self.widths or len(self.level_blocks) != len(self.widths):
      raise ValueError(
          f'level_blocks {tuple(self.level_blocks)}: one count per level expected, '
          f'{len(self.widths)} for widths {tuple(self.widths)}')
    if min(self.level_blocks) < 1:
      raise ValueError(f'level_blocks {tuple(self.level_blocks)}: every level needs a block')
    levels = len(self.widths) - 1
    if self.upsample_widths and (len(self.upsample_widths) != levels
                                 or min(self.upsample_widths) < 1):
      raise ValueError(
          f'upsample_widths {tuple(self.upsample_widths)}: one positive width per decoder '
          f'level expected, {levels} for widths {tuple(self.widths)} (or none)')
    super().__post_init__()

  @property
  def stride(self) -> int:
    """The total downsampling factor: image sides must be multiples of it."""
    return 2 ** (len(self.widths) - 1)

  @nn.compact
  def __call__(self, bg, fg_bg, *, train: bool):
    layers.check_inputs(bg, fg_bg, self.stride)
    conv, norm = layers.conv_and_norm(self.dtype, train)
    block = functools.partial(layers.ConvBlock, conv=conv, norm=norm)

    x, fused = self.fusion(bg, fg_bg, block=block, dtype=self.dtype,
                           difference=self.difference, coordinates=self.coordinates)
    skips = []
    for level, (width, count) in enumerate(zip(self.widths, self.level_blocks)):
      if level > 0:
        skips.append(x)
        if self.pool is not None:
          x = self.pool(x)
      for index in range(count):
        strided = level > 0 and index == 0 and self.pool is None
        x = self.encoder_block(width, conv, norm, strides=2 if strided else 1)(x)

    for dilation in self.bottleneck_dilations:
      x = block(self.widths[-1], dilation=dilation)(x)
    if self.global_context:
      x = layers.GlobalContext(self.widths[-1], conv, norm, self.dtype)(x)

    for level, skip in enumerate(reversed(skips)):
      if self.upsample_widths:
        x = conv(self.upsample_widths[level], (1, 1), name=f'upsample_conv_{level}')(x)
        x = nn.relu(norm(name=f'upsample_norm_{level}')(x))
      x = jnp.concatenate([layers.upsample(x, skip), skip], axis=-1)
      for _ in range(self.decoder_blocks):
        x = block(skip.shape[-1])(x)
    if self.input_skip:
      x = layers.InputSkip(self.widths[0], conv, norm)(x, fused)
    return layers.Heads(dtype=self.dtype)(x)
