"""DMNet-ResNet: a residual encoder of multi-dilation blocks and a decoder."""
import functools
from typing import Any, Sequence

import jax.numpy as jnp

from zoo import encoder_decoder
from zoo import layers
from zoo import registry


def dmnet_resnet(stage_widths: Sequence[int] = (32, 64, 128, 256),
                 stage_blocks: Sequence[int] = (1, 2, 2, 1),
                 dilations: Sequence[int] = (1, 2, 4), stem_width: int = 16,
                 difference: bool = True, input_skip: bool = False,
                 dtype: Any = jnp.float32) -> encoder_decoder.EncoderDecoder:
  """A residual encoder of multi-dilation blocks with a decoder to full size.

  Inputs meet as difference features: `bg` and `fg_bg` each pass their own
  stem conv block, and the encoder sees `[f(fg_bg), f(fg_bg) - f(bg)]` and, with
  `difference`, the raw `[bg, fg_bg, fg_bg - bg]`, so the change between the scenes
  is explicit from the first layer on (`encoder_decoder.stem_features`).

  The encoder's first stage runs at full resolution, each later stage starts
  with a stride-2 block. Every block mixes the receptive fields of all
  `dilations` (`layers.MultiDilationBlock`). The decoder goes back stage by stage:
  upsample, concatenate the encoder's features of that resolution, one conv block.
  With `input_skip`, one more conv block at full resolution sees the decoder's output
  beside the fused inputs before the heads.

  Args:
    stage_widths: Features of each encoder stage; the stride is 2**(len - 1).
    stage_blocks: Multi-dilation blocks in each stage.
    dilations: The dilations mixed inside every block.
    stem_width: Features of each input's stem.
    difference: Whether the encoder also sees the raw `[bg, fg_bg, fg_bg - bg]`.
    input_skip: Whether a full-resolution block sees the inputs before the heads.
    dtype: Compute dtype; parameters stay float32.

  Raises:
    ValueError: If `stage_blocks` and `stage_widths` differ in length, or a stage has
      no block.
  """
  if len(stage_blocks) != len(stage_widths):
    raise ValueError(
        f'stage_blocks {tuple(stage_blocks)} and stage_widths {tuple(stage_widths)} '
        'differ in length')
  if min(stage_blocks) < 1:
    raise ValueError(f'every stage needs a block: {tuple(stage_blocks)}')
  return encoder_decoder.EncoderDecoder(
      widths=tuple(stage_widths), level_blocks=tuple(stage_blocks),
      encoder_block=functools.partial(layers.MultiDilationBlock, dilations=tuple(dilations)),
      fusion=functools.partial(encoder_decoder.stem_features, width=stem_width),
      difference=difference, input_skip=input_skip, dtype=dtype)


registry.register('dmnet_resnet', dmnet_resnet)
