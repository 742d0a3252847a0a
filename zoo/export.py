"""A trained model in one file, for inference without this repository's training code.

  exported = zoo.load_exported('runs/cnn/export/model.msgpack')
  out = exported.predict(bg, fg_bg)  # uint8 H x W x 3 -> mask, depth in [0, 1].

The file is a msgpack (`flax.serialization`) of a dict: the model config, the
parameters and batch statistics, the image size the model was trained at and the
per-channel mean and std its inputs were standardized with. Loading it needs only
`zoo`, JAX, Flax and NumPy. `save_jax_export` writes the same model as a `jax.export`
artifact that needs JAX and NumPy alone, `save_onnx` as an ONNX model for onnxruntime.
"""
import contextlib
import dataclasses
import functools
import io
import logging
import os
from typing import Any, Callable

from flax import serialization
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from zoo import registry

FORMAT = 'dmnet-zoo-export'
# 2: models gained `difference` and `input_skip`; 3: dmnet_cnn gained `global_context`,
# and a file names every field of its model; 4: dmnet_cnn gained `coordinates` and
# `upsample_widths` (their defaults are the earlier layout, but code older than them refuses
# a file that names them, so it must read the version as newer). An earlier file's model
# config lacks the later fields and loads with the layout of its time
# (`registry.with_earlier_defaults`).
VERSION = 4


def standardize_inputs(inputs: dict[str, jax.Array], stats: dict[str, Any],
                       dtype) -> dict[str, jax.Array]:
  """`bg` and `fg_bg` in [0, 1] -> (x - mean) / std per channel, in `dtype`.

  `stats` holds each image's per-channel `mean` and `std` (the train split's); training,
  evaluation and exported models all standardize with this one function.
  """
  standardized = {}
  for key in ('bg', 'fg_bg'):
    mean = jnp.asarray(stats[key]['mean'], jnp.float32)
    std = jnp.asarray(stats[key]['std'], jnp.float32)
    standardized[key] = ((inputs[key] - mean) / std).astype(dtype)
  return standardized


def _unit_range(images_uint8: jax.Array) -> jax.Array:
  return images_uint8.astype(jnp.float32) / 255.0


def probabilities(logits: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """A model's `mask` and `depth` logits -> float32 probabilities (nearness for depth)."""
  return {key: jax.nn.sigmoid(logits[key].astype(jnp.float32)) for key in ('mask', 'depth')}


def with_mirror(images: jax.Array) -> jax.Array:
  """N x H x W x C `images` followed by their left-right mirror images: 2N x H x W x C."""
  return lax.concatenate([images, lax.rev(images, (2,))], 0)


def mirror_mean(both: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Predictions of a `with_mirror` batch -> the mean of each pair's two, mirrored back."""
  def mean(value):
    n = value.shape[0] // 2
    # lax slices, not indexing: the ONNX converter turns indexing by a symbolic batch
    # size into a gather it cannot size.
    first, second = lax.slice_in_dim(value, 0, n), lax.slice_in_dim(value, n, 2 * n)
    return (first + lax.rev(second, (2,))) / 2
  return {key: mean(value) for key, value in both.items()}


def mirror_averaged(probabilities_of: Callable, bg, fg_bg) -> dict[str, jax.Array]:
  """The mean of `probabilities_of(bg, fg_bg)` and of the mirrored pair's, mirrored back.

  `probabilities_of` maps N x H x W x C batches to {'mask', 'depth'} N x H x W x 1; the
  pair and its left-right mirror image go through it as one batch of 2N. A person is a
  person in a mirror and a room's depth mirrors with it, so the two predictions are two
  views of one answer: their mean drew better masks and depth on the test rooms
  (BENCHMARKS.md, "Averaging with the mirror image"), for twice the inference work.
  """
  return mirror_mean(probabilities_of(with_mirror(bg), with_mirror(fg_bg)))


def forward(variables, bg, fg_bg, *, model, stats, dtype_name: str,
            hflip_average: bool = False) -> dict[str, jax.Array]:
  """Mask and depth probabilities (N x H x W x 1, float32) for uint8 N x H x W x 3 batches.

  The same arithmetic as `training.steps.predict`, so an exported model predicts what
  the checkpoint it came from predicts; with `hflip_average`, `mirror_averaged`.
  """
  dtype = registry.compute_dtype(dtype_name)

  def probabilities_of(bg, fg_bg):
    inputs = standardize_inputs(dict(bg=_unit_range(bg), fg_bg=_unit_range(fg_bg)), stats, dtype)
    return probabilities(model.apply(variables, inputs['bg'], inputs['fg_bg'], train=False))
  if hflip_average:
    return mirror_averaged(probabilities_of, bg, fg_bg)
  return probabilities_of(bg, fg_bg)


@dataclasses.dataclass(eq=False)
class ExportedModel:
  """A model with its weights and input normalization, ready to predict.

  Attributes:
    model_config: The `model` part of the training config (`name`, `dtype`, fields).
    variables: {'params': ..., 'batch_stats': ...} (no 'batch_stats' without BatchNorm).
    stats: {'bg': {'mean': [3], 'std': [3]}, 'fg_bg': {...}}: the training data's
      per-channel statistics of images in [0, 1].
    image_size: The side of the square images the model was trained on.
    hflip_average: Predict the mean of the pair's and its mirror image's predictions
      (`mirror_averaged`); files written before this option load with False.
    model: The Flax module, built from `model_config`.
  """
  model_config: dict[str, Any]
  variables: dict[str, Any] = dataclasses.field(repr=False)
  stats: dict[str, Any]
  image_size: int
  hflip_average: bool = False
  model: Any = dataclasses.field(init=False, repr=False)
  _forward: Callable = dataclasses.field(init=False, repr=False)

  def __post_init__(self):
    self.model = registry.build(self.model_config)
    self._forward = jax.jit(functools.partial(
        forward, model=self.model, stats=self.stats,
        dtype_name=self.model_config.get('dtype', 'float32'),
        hflip_average=bool(self.hflip_average)))

  def predict_batch(self, bg, fg_bg) -> dict[str, jax.Array]:
    """Jitted forward pass on uint8 N x H x W x 3 batches, H and W multiples of the stride.

    No resizing: `predict` resizes to `image_size`, the size the model was trained at.

    Compiles once per batch size: pad the last batch to keep it to one compile.
    """
    return self._forward(self.variables, bg, fg_bg)

  def predict(self, bg, fg_bg) -> dict[str, np.ndarray]:
    """Mask and depth of `fg_bg` (nearness: 1 nearest), float32 in [0, 1].

    Args:
      bg: uint8 H x W x 3 or N x H x W x 3: the empty scene.
      fg_bg: uint8, the same scene with the foreground; its size may differ from
        `bg`'s and from `image_size`.

    Returns:
      dict(mask=..., depth=...), each shaped like `fg_bg` with one channel. Inputs of
      another size than `image_size` are resized to it (bilinear, antialiased) and the
      outputs back to `fg_bg`'s size.
    """
    bg, fg_bg = np.asarray(bg), np.asarray(fg_bg)
    single = fg_bg.ndim == 3
    if single:
      bg, fg_bg = bg[None], fg_bg[None]
    if bg.ndim != 4 or fg_bg.ndim != 4 or bg.shape[-1] != 3 or fg_bg.shape[-1] != 3:
      raise ValueError(f'expected H x W x 3 or N x H x W x 3 RGB images, got bg '
                       f'{bg.shape} and fg_bg {fg_bg.shape}')
    size = (self.image_size, self.image_size)
    outputs = self.predict_batch(_resize(bg, size), _resize(fg_bg, size))
    outputs = {key: np.asarray(_resize(value, fg_bg.shape[1:3]))
               for key, value in outputs.items()}
    return {key: value[0] if single else value for key, value in outputs.items()}


def _resize(images, size) -> jax.Array:
  """N x H x W x C images to N x size x C; uint8 stays uint8 (rounded)."""
  images = jnp.asarray(images)
  if images.shape[1:3] == tuple(size):
    return images
  resized = jax.image.resize(images.astype(jnp.float32),
                             (images.shape[0], *size, images.shape[-1]), 'linear',
                             antialias=True)
  if images.dtype == jnp.uint8:
    return jnp.clip(jnp.round(resized), 0, 255).astype(jnp.uint8)
  return resized


def _host_variables(exported: ExportedModel) -> dict[str, Any]:
  """`exported`'s variables as NumPy arrays on the host, for writing or binding in."""
  return jax.tree.map(np.asarray, jax.device_get(dict(exported.variables)))


def save_exported(path: str, exported: ExportedModel) -> str:
  """Writes `exported` to one msgpack file at `path` (folders made); returns `path`."""
  payload = dict(
      format=FORMAT, version=VERSION, model_config=registry.complete(exported.model_config),
      image_size=int(exported.image_size), hflip_average=bool(exported.hflip_average),
      stats={key: {name: [float(v) for v in exported.stats[key][name]]
                   for name in ('mean', 'std')} for key in ('bg', 'fg_bg')},
      variables=_host_variables(exported))
  return _write_whole(path, serialization.msgpack_serialize(payload))


def _write_whole(path: str, data: bytes) -> str:
  """Writes `data` to `path` (folders made) through a temporary file; returns `path`."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  temporary = f'{path}.tmp'
  with open(temporary, 'wb') as f:
    f.write(data)
  os.replace(temporary, path)  # Never a half-written file at `path`.
  return path


def load_exported(path: str) -> ExportedModel:
  """Reads a file written by `save_exported`; ValueError if it is not one."""
  with open(path, 'rb') as f:
    encoded = f.read()
  try:
    payload = serialization.msgpack_restore(encoded)
  except Exception as error:  # msgpack raises several unrelated types.
    raise ValueError(f'{path}: not an exported model ({error})') from None
  if not isinstance(payload, dict) or payload.get('format') != FORMAT:
    raise ValueError(f'{path}: not an exported model (no {FORMAT!r} format tag)')
  if payload.get('version', 0) > VERSION:
    raise ValueError(f'{path}: export format version {payload["version"]} is newer '
                     f'than this code reads ({VERSION}); update the repository')
  model_config = payload['model_config']
  if payload.get('version', 0) < VERSION:
    model_config = registry.with_earlier_defaults(model_config, payload.get('version', 1))
  return ExportedModel(model_config=model_config,
                       variables=payload['variables'], stats=payload['stats'],
                       image_size=int(payload['image_size']),
                       hflip_average=bool(payload.get('hflip_average', False)))


# Platforms a `jax.export` artifact is lowered for: it runs on any of them.
JAX_EXPORT_PLATFORMS = ('cpu', 'cuda')


def save_jax_export(path: str, exported: ExportedModel) -> str:
  """Writes `exported`'s forward pass as a serialized `jax.export` artifact at `path`.

  The weights and the input normalization are inside it; it takes uint8 `bg` and
  `fg_bg` batches of any batch size and any height and width that are multiples of the
  model's stride, and returns `dict(mask=..., depth=...)`, probabilities in [0, 1]
  (N x H x W x 1, float32), on the CPU or a CUDA GPU. Running it needs JAX and NumPy
  only, not this repository:

    exported = jax.export.deserialize(bytearray(open(path, 'rb').read()))
    out = exported.call(bg_uint8, fg_bg_uint8)
  """
  stride = exported.model.stride
  batch, height, width = jax.export.symbolic_shape(f'b, {stride}*h, {stride}*w')
  images = jax.ShapeDtypeStruct((batch, height, width, 3), jnp.uint8)
  # The model's own jitted forward pass, its weights bound in as constants.
  forward_pass = jax.jit(functools.partial(exported._forward, _host_variables(exported)))  # pylint: disable=protected-access
  artifact = jax.export.export(forward_pass, platforms=JAX_EXPORT_PLATFORMS)(images, images)
  return _write_whole(path, artifact.serialize())


def save_onnx(path: str, exported: ExportedModel) -> str:
  """Writes `exported`'s forward pass as an ONNX model at `path`; needs `jax2onnx`.

  Inputs `bg` and `fg_bg`: uint8 N x H x W x 3, any batch size N and any height and
  width that are multiples of the model's stride (the model was trained at
  `exported.image_size`, and predicts best near that size); outputs `mask` and `depth`:
  float32 N x H x W x 1, probabilities in [0, 1]. The input normalization, the weights
  and the sigmoid are inside the graph, so onnxruntime runs it without JAX:

    session = onnxruntime.InferenceSession(path)
    mask, depth = session.run(None, dict(bg=bg_uint8, fg_bg=fg_bg_uint8))

  The model's metadata names the model, the image size it was trained at, its stride and
  whether the graph averages with the mirror image (`hflip_average`: 'True' or 'False';
  `session.get_modelmeta().custom_metadata_map`). The graph computes in float32 whatever
  the model's dtype: onnxruntime's CPU kernels have no bfloat16 convs.
  """
  try:
    import jax2onnx  # pylint: disable=g-import-not-at-top
    import onnx  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise ImportError(f'ONNX export needs jax2onnx and onnx ({error}); install them with '
                      "`pip install -e '.[onnx]'`") from None
  model_config = dict(exported.model_config, dtype='float32')
  forward_pass = functools.partial(
      forward, _host_variables(exported), model=registry.build(model_config),
      stats=exported.stats, dtype_name='float32', hflip_average=bool(exported.hflip_average))

  def mask_and_depth(bg, fg_bg):
    outputs = forward_pass(bg, fg_bg)
    return outputs['mask'], outputs['depth']

  stride = exported.model.stride
  batch, height, width = jax.export.symbolic_shape(f'n, {stride}*h, {stride}*w')
  images = jax.ShapeDtypeStruct((batch, height, width, 3), jnp.uint8)
  # jax2onnx prints its progress and logs harmless shape warnings: keep them off the console.
  quiet = [logging.getLogger(name) for name in ('jax2onnx', 'onnx_ir')]
  levels = [logger.level for logger in quiet]
  try:
    for logger in quiet:
      logger.setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):
      proto = jax2onnx.to_onnx(mask_and_depth, [images, images],
                               model_name=f'dmnet_zoo_{model_config["name"]}',
                               input_names=['bg', 'fg_bg'], output_names=['mask', 'depth'])
  finally:
    for logger, level in zip(quiet, levels):
      logger.setLevel(level)
  # The converter's intermediate shape annotations are partly symbolic and not needed:
  # without them the full check (with shape inference) passes.
  del proto.graph.value_info[:]
  # What a user resizes to, readable without this repository:
  # `session.get_modelmeta().custom_metadata_map['image_size']`.
  onnx.helper.set_model_props(proto, dict(
      model=model_config['name'], image_size=str(exported.image_size), stride=str(stride),
      hflip_average=str(bool(exported.hflip_average))))
  onnx.checker.check_model(proto, full_check=True)
  return _write_whole(path, proto.SerializeToString())
