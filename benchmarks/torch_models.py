"""PyTorch twins of the zoo models, for benchmarks/train_speed.py only.

Each class builds the same layers as its flax model in `zoo/` (same widths, 3x3 convs
without bias, BatchNorm with momentum 0.1 (flax's 0.9) and epsilon 1e-5, ReLU,
dilations, bilinear upsampling with half-pixel centres, max pooling, the inputs' difference,
the input skip, the global-context block, two 1x1 heads with bias), in the same order, in
PyTorch's NCHW layout, so parameter counts are equal.

One difference is a matter of idiom: a stride-2 3x3 conv pads 1 pixel on every side,
as PyTorch code is written (and the original was), where flax's 'SAME' pads 0 before
and 1 after. The shapes and the work are the same; the pixels sampled shift by one.
`exact_padding=True` pads as flax does (an explicit `ZeroPad2d` before the conv), which
`train_speed.check_equivalence` uses to show that, with the flax weights copied in, both
frameworks compute the same outputs.

Typical use:

  model = torch_models.build(config.model)  # The twin of zoo.build(config.model).
  outputs = model(bg, fg_bg)  # N x 3 x H x W each -> dict(mask=..., depth=...) logits.
"""
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

BN_MOMENTUM = 0.1  # flax's momentum 0.9: running = 0.9 running + 0.1 batch.
BN_EPSILON = 1e-5


def conv3x3(in_features: int, features: int, strides: int = 1, dilation: int = 1,
            exact_padding: bool = False) -> nn.Module:
  """A 3x3 conv without bias; 'SAME' output size (input size / strides)."""
  if strides == 1 or not exact_padding:
    return nn.Conv2d(in_features, features, 3, stride=strides, padding=dilation,
                     dilation=dilation, bias=False)
  # flax 'SAME' with stride 2 on an even size pads (0, 1): nothing before, 1 after.
  return nn.Sequential(
      nn.ZeroPad2d((0, dilation, 0, dilation)),
      nn.Conv2d(in_features, features, 3, stride=strides, padding=0,
                dilation=dilation, bias=False))


def batch_norm(features: int) -> nn.BatchNorm2d:
  """BatchNorm with the zoo's momentum and epsilon."""
  return nn.BatchNorm2d(features, eps=BN_EPSILON, momentum=BN_MOMENTUM)


class ConvBlock(nn.Module):
  """Conv 3x3 (optionally strided or dilated), BatchNorm, ReLU (`layers.ConvBlock`)."""

  def __init__(self, in_features: int, features: int, strides: int = 1,
               dilation: int = 1, exact_padding: bool = False):
    super().__init__()
    self.conv = conv3x3(in_features, features, strides, dilation, exact_padding)
    self.norm = batch_norm(features)

  def forward(self, x):
    return F.relu(self.norm(self.conv(x)))


class Heads(nn.Module):
  """Two 1x1 convs with bias, one per task (`layers.Heads`)."""

  def __init__(self, in_features: int):
    super().__init__()
    self.mask_head = nn.Conv2d(in_features, 1, 1)
    self.depth_head = nn.Conv2d(in_features, 1, 1)

  def forward(self, x):
    return {'mask': self.mask_head(x), 'depth': self.depth_head(x)}


def upsample(x, like):
  """Bilinearly resizes NCHW `x` to the spatial size of `like` (`layers.upsample`)."""
  return F.interpolate(x, size=like.shape[-2:], mode='bilinear', align_corners=False)


def fuse_inputs(bg, fg_bg, difference: bool = True, coordinates: bool = False):
  """`[bg, fg_bg, fg_bg - bg]` (9 channels) or `[bg, fg_bg]` (6), with `coordinates` each
  pixel's row and column from -1 to 1 after them (`layers.fuse_inputs`)."""
  parts = [bg, fg_bg, fg_bg - bg] if difference else [bg, fg_bg]
  if coordinates:
    n, _, h, w = bg.shape
    rows = torch.linspace(-1.0, 1.0, h, dtype=bg.dtype)[:, None].expand(h, w)
    cols = torch.linspace(-1.0, 1.0, w, dtype=bg.dtype)[None, :].expand(h, w)
    parts.append(torch.stack([rows, cols])[None].expand(n, 2, h, w))
  return torch.cat(parts, dim=1)


def fused_channels(difference: bool, coordinates: bool = False) -> int:
  """The channels `fuse_inputs` gives."""
  return (9 if difference else 6) + (2 if coordinates else 0)


class InputSkip(nn.Module):
  """The decoder's output beside the fused inputs, one conv block (`layers.InputSkip`)."""

  def __init__(self, in_features: int, inputs: int, features: int):
    super().__init__()
    self.block = ConvBlock(in_features + inputs, features)

  def forward(self, x, fused):
    return self.block(torch.cat([x, fused], dim=1))


class GlobalContext(nn.Module):
  """The image's mean features, a dense layer, beside every position (`layers.GlobalContext`)."""

  def __init__(self, features: int):
    super().__init__()
    self.pool_dense = nn.Linear(features, features)
    self.block = ConvBlock(2 * features, features)

  def forward(self, x):
    pooled = F.relu(self.pool_dense(x.mean(dim=(2, 3))))
    pooled = pooled[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return self.block(torch.cat([x, pooled], dim=1))


class DMNetCNN(nn.Module):
  """The twin of `zoo.dmnet_cnn.DMNetCNN`."""

  def __init__(self, widths: Sequence[int] = (16, 32, 64), blocks: int = 1,
               dilations: Sequence[int] = (1, 2, 4, 8, 1), difference: bool = True,
               input_skip: bool = False, global_context: bool = True,
               coordinates: bool = False, exact_padding: bool = False):
    super().__init__()
    self.difference = difference
    self.coordinates = coordinates
    self.encoder = nn.ModuleList()
    in_features = fused_channels(difference, coordinates)
    for level, width in enumerate(widths):
      stage = [ConvBlock(in_features, width, strides=1 if level == 0 else 2,
                         exact_padding=exact_padding)]
      if level < len(widths) - 1:
        stage += [ConvBlock(width, width) for _ in range(blocks)]
      self.encoder.append(nn.Sequential(*stage))
      in_features = width
    self.dilated = nn.Sequential(
        *[ConvBlock(widths[-1], widths[-1], dilation=d) for d in dilations])
    self.context = GlobalContext(widths[-1]) if global_context else None
    self.decoder = nn.ModuleList()
    for width in reversed(widths[:-1]):
      self.decoder.append(ConvBlock(in_features + width, width))
      in_features = width
    self.input_skip = (InputSkip(in_features, fused_channels(difference, coordinates),
                                 widths[0]) if input_skip else None)
    self.heads = Heads(widths[0] if input_skip else in_features)

  def forward(self, bg, fg_bg):
    fused = fuse_inputs(bg, fg_bg, self.difference, self.coordinates)
    x = fused
    skips = []
    for stage in self.encoder:
      x = stage(x)
      skips.append(x)
    x = self.dilated(x)
    if self.context is not None:
      x = self.context(x)
    for skip, block in zip(reversed(skips[:-1]), self.decoder):
      x = block(torch.cat([upsample(x, skip), skip], dim=1))
    if self.input_skip is not None:
      x = self.input_skip(x, fused)
    return self.heads(x)


def split_features(features: int, parts: int) -> list[int]:
  """As `zoo.dmnet_resnet.split_features`: near-equal widths, larger ones first."""
  return [features // parts + (i < features % parts) for i in range(parts)]


class MultiDilationBlock(nn.Module):
  """The twin of `zoo.dmnet_resnet.MultiDilationBlock`."""

  def __init__(self, in_features: int, features: int, dilations: Sequence[int],
               strides: int = 1, exact_padding: bool = False):
    super().__init__()
    self.block = ConvBlock(in_features, features, strides, exact_padding=exact_padding)
    self.branches = nn.ModuleList([
        conv3x3(features, width, dilation=dilation)
        for width, dilation in zip(split_features(features, len(dilations)), dilations)])
    self.norm = batch_norm(features)
    nn.init.zeros_(self.norm.weight)  # Each block starts as the identity.
    self.project = None
    if in_features != features or strides != 1:
      self.project = nn.Sequential(
          nn.Conv2d(in_features, features, 1, stride=strides, bias=False),
          batch_norm(features))

  def forward(self, x):
    y = self.block(x)
    y = self.norm(torch.cat([branch(y) for branch in self.branches], dim=1))
    residual = x if self.project is None else self.project(x)
    return F.relu(residual + y)


class DMNetResNet(nn.Module):
  """The twin of `zoo.dmnet_resnet.DMNetResNet`."""

  def __init__(self, stage_widths: Sequence[int] = (32, 64, 128, 256),
               stage_blocks: Sequence[int] = (1, 2, 2, 1),
               dilations: Sequence[int] = (1, 2, 4), stem_width: int = 16,
               difference: bool = True, input_skip: bool = False,
               exact_padding: bool = False):
    super().__init__()
    self.difference = difference
    self.stem_bg = ConvBlock(3, stem_width)
    self.stem_fg_bg = ConvBlock(3, stem_width)
    self.stages = nn.ModuleList()
    in_features = 2 * stem_width + (fused_channels(True) if difference else 0)
    for stage, (width, num_blocks) in enumerate(zip(stage_widths, stage_blocks)):
      blocks = []
      for i in range(num_blocks):
        strides = 2 if stage > 0 and i == 0 else 1
        blocks.append(MultiDilationBlock(in_features, width, dilations, strides,
                                         exact_padding))
        in_features = width
      self.stages.append(nn.Sequential(*blocks))
    self.decoder = nn.ModuleList()
    for width in reversed(stage_widths[:-1]):
      self.decoder.append(ConvBlock(in_features + width, width))
      in_features = width
    self.input_skip = (InputSkip(in_features, fused_channels(difference), stage_widths[0])
                       if input_skip else None)
    self.heads = Heads(stage_widths[0] if input_skip else in_features)

  def forward(self, bg, fg_bg):
    f_bg, f_fg = self.stem_bg(bg), self.stem_fg_bg(fg_bg)
    fused = fuse_inputs(bg, fg_bg, self.difference)
    x = torch.cat([f_fg, f_fg - f_bg] + ([fused] if self.difference else []), dim=1)
    skips = []
    for stage in self.stages:
      x = stage(x)
      skips.append(x)
    for skip, block in zip(reversed(skips[:-1]), self.decoder):
      x = block(torch.cat([upsample(x, skip), skip], dim=1))
    if self.input_skip is not None:
      x = self.input_skip(x, fused)
    return self.heads(x)


class UNet(nn.Module):
  """The twin of `zoo.unet.UNet`."""

  def __init__(self, widths: Sequence[int] = (32, 64, 128, 256), convs: int = 2,
               difference: bool = True, input_skip: bool = False,
               exact_padding: bool = False):
    del exact_padding  # Only stride-1 convs: the padding is flax's already.
    super().__init__()
    self.difference = difference
    self.encoder = nn.ModuleList()
    in_features = fused_channels(difference)
    for width in widths:
      blocks = []
      for _ in range(convs):
        blocks.append(ConvBlock(in_features, width))
        in_features = width
      self.encoder.append(nn.Sequential(*blocks))
    self.decoder = nn.ModuleList()
    for width in reversed(widths[:-1]):
      blocks = []
      for i in range(convs):
        blocks.append(ConvBlock(in_features + width if i == 0 else width, width))
      self.decoder.append(nn.Sequential(*blocks))
      in_features = width
    self.input_skip = (InputSkip(in_features, fused_channels(difference),
                                 widths[0]) if input_skip else None)
    self.heads = Heads(widths[0] if input_skip else in_features)

  def forward(self, bg, fg_bg):
    fused = fuse_inputs(bg, fg_bg, self.difference)
    x = fused
    skips = []
    for level, stage in enumerate(self.encoder):
      if level > 0:
        skips.append(x)
        x = F.max_pool2d(x, 2, 2)
      x = stage(x)
    for skip, stage in zip(reversed(skips), self.decoder):
      x = stage(torch.cat([upsample(x, skip), skip], dim=1))
    if self.input_skip is not None:
      x = self.input_skip(x, fused)
    return self.heads(x)


MODELS = {'dmnet_cnn': DMNetCNN, 'dmnet_resnet': DMNetResNet, 'unet': UNet}


def build(model_config, exact_padding: bool = False) -> nn.Module:
  """The twin of `zoo.build(model_config)`: its fields (but name and dtype) as args."""
  fields = {key: value for key, value in model_config.items()
            if key not in ('name', 'dtype')}
  return MODELS[model_config.name](**fields, exact_padding=exact_padding)


def count_params(model: nn.Module) -> int:
  """The number of trainable parameters (running statistics excluded)."""
  return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_step(model: nn.Module, optimizer, batch, grad_clip_norm: float = 1.0):
  """One step as the zoo trains: BCE-with-logits (mask) + SmoothL1(sigmoid(depth)).

  Gradients are clipped to a global norm of `grad_clip_norm` (0: not clipped), as
  `training.optim.make_optimizer` does. `batch` holds NCHW float tensors: normalized
  `bg`, `fg_bg` and `mask`, `depth` in [0, 1]. Returns the loss (a tensor).
  """
  optimizer.zero_grad(set_to_none=True)
  outputs = model(batch['bg'], batch['fg_bg'])
  loss = (F.binary_cross_entropy_with_logits(outputs['mask'], batch['mask']) +
          F.smooth_l1_loss(torch.sigmoid(outputs['depth']), batch['depth'], beta=1.0))
  loss.backward()
  if grad_clip_norm:
    nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm)
  optimizer.step()
  return loss.detach()
