"""DMNet-CNN (depth-and-mask network): a light CNN with a dilated bottleneck, for fast runs."""
import functools
from typing import Any, Sequence

import jax.numpy as jnp

from zoo import encoder_decoder
from zoo import registry


def dmnet_cnn(widths: Sequence[int] = (16, 32, 64), blocks: int = 1,
              # Doubling dilations widen the receptive field fast; the closing
              # dilation-1 block smooths the gridding artefacts dilated stacks leave.
              dilations: Sequence[int] = (1, 2, 4, 8, 1), difference: bool = True,
              input_skip: bool = False,
              # On the default set of 2026-11-30: depth delta1 0.841 -> 0.851, RMSE
              # 0.0364 -> 0.0345, about 5% more time a step (configs/context_study.py).
              global_context: bool = True, coordinates: bool = False,
              upsample_widths: Sequence[int] = (),
              dtype: Any = jnp.float32) -> encoder_decoder.EncoderDecoder:
  """A light CNN: a few conv blocks per level, dilated convs at the coarsest.

  Inputs meet as stacked channels: `[bg, fg_bg, fg_bg - bg]` (9 channels; 6
  without `difference`) before the first conv.

  Levels follow `widths`: the first runs at full resolution, each next one at
  half the resolution of the one before (a strided conv block). The coarsest
  level runs one conv block per entry of `dilations`, which grows the
  receptive field without further downsampling; with `global_context`, one more
  block there sees the whole image's average features beside its own. The decoder
  upsamples back level by level, concatenates the encoder's features of that level
  and fuses them with one conv block. With `input_skip`, one more conv block at full
  resolution sees the decoder's output beside the fused inputs. Two 1x1 heads give
  the mask and depth logits.

  Args:
    widths: Features per level, finest first; the stride is 2**(len - 1).
    blocks: Conv blocks at every level but the coarsest, after its first.
    dilations: Dilation of each conv block at the coarsest level.
    difference: Whether the first conv also sees `fg_bg - bg`.
    input_skip: Whether a full-resolution block sees the inputs before the heads.
    global_context: Whether the coarsest level ends with a block that sees the
      average of its features over the whole image.
    coordinates: Whether the first conv also sees each pixel's row and column.
    upsample_widths: Features a 1x1 conv block reduces the coarser level's output to
      before each upsampling, coarsest first (one per level after the first); empty:
      none, the decoder's conv blocks see the coarser features at full width.
    dtype: Compute dtype; parameters stay float32.
  """
  widths = tuple(widths)
  return encoder_decoder.EncoderDecoder(
      widths=widths, level_blocks=(1 + blocks,) * (len(widths) - 1) + (1,),
      bottleneck_dilations=tuple(dilations), global_context=global_context,
      difference=difference, coordinates=coordinates, input_skip=input_skip,
      upsample_widths=tuple(upsample_widths), dtype=dtype)


registry.register('dmnet_cnn', dmnet_cnn)
registry.register('dmnet_cnn_v1', functools.partial(dmnet_cnn, widths=(32, 64, 128)))
