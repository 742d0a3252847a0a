"""U-Net: an encoder-decoder with skip connections at every resolution."""
from typing import Any, Sequence

import jax.numpy as jnp

from zoo import encoder_decoder
from zoo import layers
from zoo import registry


def unet(widths: Sequence[int] = (32, 64, 128, 256), convs: int = 2, difference: bool = True,
         input_skip: bool = False, dtype: Any = jnp.float32) -> encoder_decoder.EncoderDecoder:
  """A U-Net with `convs` conv blocks per level and skips between the halves.

  Inputs meet as stacked channels with their difference: the first conv sees
  the 9 channels `[bg, fg_bg, fg_bg - bg]` (6 without `difference`).

  The encoder halves the resolution between levels by max pooling. The
  decoder upsamples bilinearly (faster on CPU than a transposed conv),
  concatenates the encoder's features of that level and runs `convs` conv
  blocks. With `input_skip`, one more conv block at full resolution sees the
  decoder's output beside the fused inputs before the heads.

  Args:
    widths: Features per level, finest first; the stride is 2**(len - 1).
    convs: Conv blocks per level, in the encoder and in the decoder.
    difference: Whether the first conv also sees `fg_bg - bg`.
    input_skip: Whether a full-resolution block sees the inputs before the heads.
    dtype: Compute dtype; parameters stay float32.
  """
  widths = tuple(widths)
  return encoder_decoder.EncoderDecoder(
      widths=widths, level_blocks=(convs,) * len(widths), pool=layers.max_pool_2x2,
      decoder_blocks=convs, difference=difference, input_skip=input_skip, dtype=dtype)


registry.register('unet', unet)
