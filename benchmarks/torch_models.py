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
    rows = torch.linspace(-1.0, 1.0, h, dtype=bg.dtype, device=bg.device)[:, None].expand(h, w)
    cols = torch.linspace(-1.0, 1.0, w, dtype=bg.dtype, device=bg.device)[None, :].expand(h, w)
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
  """The twin of `zoo.dmnet_cnn.dmnet_cnn`."""

  def __init__(self, widths: Sequence[int] = (16, 32, 64), blocks: int = 1,
               dilations: Sequence[int] = (1, 2, 4, 8, 1), difference: bool = True,
               input_skip: bool = False, global_context: bool = True,
               coordinates: bool = False, upsample_widths: Sequence[int] = (),
               exact_padding: bool = False):
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
    # A 1x1 conv block before each upsampling (`model.upsample_widths`), else none.
    self.reduce = nn.ModuleList()
    for level, width in enumerate(reversed(widths[:-1])):
      if upsample_widths:
        self.reduce.append(nn.Sequential(
            nn.Conv2d(in_features, upsample_widths[level], 1, bias=False),
            batch_norm(upsample_widths[level]), nn.ReLU()))
        in_features = upsample_widths[level]
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
    for level, (skip, block) in enumerate(zip(reversed(skips[:-1]), self.decoder)):
      if self.reduce:
        x = self.reduce[level](x)
      x = block(torch.cat([upsample(x, skip), skip], dim=1))
    if self.input_skip is not None:
      x = self.input_skip(x, fused)
    return self.heads(x)


def split_features(features: int, parts: int) -> list[int]:
  """As `zoo.layers.split_features`: near-equal widths, larger ones first."""
  return [features // parts + (i < features % parts) for i in range(parts)]


class MultiDilationBlock(nn.Module):
  """The twin of `zoo.layers.MultiDilationBlock`."""

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
  """The twin of `zoo.dmnet_resnet.dmnet_resnet`."""

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
  """The twin of `zoo.unet.unet`."""

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


# The losses of `configs/base.py`, which every config train_speed.py races uses.
DEFAULT_LOSS = dict(mask=[dict(name='bce_with_logits', outline_weight=5.0), dict(name='dice')],
                    depth=[dict(name='l1'), dict(name='ssim'), dict(name='gradient')],
                    mask_weight=1.0, depth_weight=2.5)


def outline_weighted_bce(logits, target, outline_weight: float):
  """`losses.bce_with_logits` with `outline_weight`: BCE weighted on the outline band.

  The band (`losses.builtin.outline_band`) is where a 3 x 3 max pool and min pool of
  the binary target differ; the weighted mean divides by the weights' sum.
  """
  binary = (target > 0.5).float()
  band = F.max_pool2d(binary, 3, 1, 1) + F.max_pool2d(-binary, 3, 1, 1)
  weight = 1.0 + (outline_weight - 1.0) * band
  per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
  return (weight * per_pixel).sum() / weight.sum()


def dice_loss(prob, target, smooth: float = 1.0):
  """`losses.dice`: 1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth), batch mean."""
  dims = tuple(range(1, prob.ndim))
  intersection = (prob * target).sum(dims)
  total = prob.sum(dims) + target.sum(dims)
  return (1.0 - (2.0 * intersection + smooth) / (total + smooth)).mean()


def _gaussian_blur(x, size: int, sigma: float):
  """dm-pix's separable Gaussian filter with 'valid' padding, on NCHW `x`."""
  taps = torch.arange(size, dtype=x.dtype, device=x.device) - size // 2
  window = torch.exp(-0.5 * (taps / sigma) ** 2)
  window = window / window.sum()
  channels = x.shape[1]
  x = F.conv2d(x, window.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
  return F.conv2d(x, window.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)


def ssim_loss(a, b, max_val: float = 1.0, size: int = 11, sigma: float = 1.5,
              k1: float = 0.01, k2: float = 0.03):
  """`losses.ssim`: 1 - the batch mean of each image's SSIM, computed as dm-pix does."""
  blur = lambda z: _gaussian_blur(z, size, sigma)
  mu0, mu1 = blur(a), blur(b)
  mu00, mu11, mu01 = mu0 * mu0, mu1 * mu1, mu0 * mu1
  epsilon = torch.finfo(torch.float32).eps ** 2
  sigma00 = torch.clamp(blur(a * a) - mu00, min=epsilon)
  sigma11 = torch.clamp(blur(b * b) - mu11, min=epsilon)
  sigma01 = blur(a * b) - mu01
  sigma01 = torch.sign(sigma01) * torch.minimum(torch.sqrt(sigma00 * sigma11), sigma01.abs())
  c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
  ssim_map = ((2 * mu01 + c1) * (2 * sigma01 + c2)) / (
      (mu00 + mu11 + c1) * (sigma00 + sigma11 + c2))
  return 1.0 - ssim_map.mean(dim=(1, 2, 3)).mean()


def gradient_loss(pred, target):
  """`losses.gradient`: the L1 between the forward differences of pred and target."""
  error = pred - target
  dy = error[:, :, 1:, :] - error[:, :, :-1, :]
  dx = error[:, :, :, 1:] - error[:, :, :, :-1]
  return dy.abs().mean() + dx.abs().mean()


def default_loss(outputs, batch):
  """The loss of `DEFAULT_LOSS`, weighted sum 1 : 2.5, as our train step computes it.

  Mask: BCE-with-logits, 5 times on the outline band, + Dice on sigmoid(logits); depth
  on sigmoid(logits): L1 + (1 - SSIM) + gradient L1. Computed in float32 whatever the
  autocast dtype of the model.
  """
  mask_logits, depth = outputs['mask'].float(), torch.sigmoid(outputs['depth'].float())
  mask = (outline_weighted_bce(mask_logits, batch['mask'],
                               DEFAULT_LOSS['mask'][0]['outline_weight'])
          + dice_loss(torch.sigmoid(mask_logits), batch['mask']))
  depth_loss = (F.l1_loss(depth, batch['depth']) + ssim_loss(depth, batch['depth'])
                + gradient_loss(depth, batch['depth']))
  return DEFAULT_LOSS['mask_weight'] * mask + DEFAULT_LOSS['depth_weight'] * depth_loss


def train_step(model: nn.Module, optimizer, batch, grad_clip_norm: float = 1.0,
               autocast_dtype: torch.dtype | None = None):
  """One step as the zoo trains: `default_loss`, backward, clipping, the optimizer.

  Gradients are clipped to a global norm of `grad_clip_norm` (0: not clipped), as
  `training.optim.make_optimizer` does. `batch` holds NCHW float tensors on the model's
  device: normalized `bg`, `fg_bg` and `mask`, `depth` in [0, 1]. With `autocast_dtype`
  (e.g. torch.bfloat16) the forward pass runs under autocast in it, as our bfloat16
  compute dtype does, with float32 parameters. Returns the loss (a tensor).
  """
  optimizer.zero_grad(set_to_none=True)
  device_type = batch['bg'].device.type
  with torch.autocast(device_type, dtype=autocast_dtype or torch.float32,
                      enabled=autocast_dtype is not None):
    outputs = model(batch['bg'], batch['fg_bg'])
  loss = default_loss(outputs, batch)
  loss.backward()
  if grad_clip_norm:
    nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm)
  optimizer.step()
  return loss.detach()
