"""U-Net: an encoder-decoder with skip connections at every resolution."""
import functools
from typing import Any, Sequence

from flax import linen as nn
import jax.numpy as jnp

from zoo import layers
from zoo import registry


class UNet(nn.Module):
  """A U-Net with `convs` conv blocks per level and skips between the halves.

  Inputs meet as stacked channels with their difference: the first conv sees
  the 9 channels `[bg, fg_bg, fg_bg - bg]` (6 without `difference`).

  The encoder halves the resolution between levels by max pooling. The
  decoder upsamples bilinearly (faster on CPU than a transposed conv),
  concatenates the encoder's features of that level and runs `convs` conv
  blocks. With `input_skip`, one more conv block at full resolution sees the
  decoder's output beside the fused inputs before the heads.

  Attributes:
    widths: Features per level, finest first; the stride is 2**(len - 1).
    convs: Conv blocks per level, in the encoder and in the decoder.
    difference: Whether the first conv also sees `fg_bg - bg`.
    input_skip: Whether a full-resolution block sees the inputs before the heads.
    dtype: Compute dtype; parameters stay float32.
  """

  widths: Sequence[int] = (32, 64, 128, 256)
  convs: int = 2
  difference: bool = True
  input_skip: bool = False
  dtype: Any = jnp.float32

  @property
  def stride(self) -> int:
    """The total downsampling factor: image sides must be multiples of it."""
    return 2 ** (len(self.widths) - 1)

  @nn.compact
  def __call__(self, bg, fg_bg, *, train: bool):
    layers.check_inputs(bg, fg_bg, self.stride)
    conv, norm = layers.conv_and_norm(self.dtype, train)
    block = functools.partial(layers.ConvBlock, conv=conv, norm=norm)

    fused = layers.fuse_inputs(bg, fg_bg, self.dtype, self.difference)
    x = fused
    skips = []
    for level, width in enumerate(self.widths):
      if level > 0:
        skips.append(x)
        x = layers.max_pool_2x2(x)
      for _ in range(self.convs):
        x = block(width)(x)

    for skip in reversed(skips):
      x = jnp.concatenate([layers.upsample(x, skip), skip], axis=-1)
      for _ in range(self.convs):
        x = block(skip.shape[-1])(x)
    if self.input_skip:
      x = layers.InputSkip(self.widths[0], conv, norm)(x, fused)
    return layers.Heads(dtype=self.dtype)(x)


registry.register('unet', UNet)
