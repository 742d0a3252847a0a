"""`--mode predict`: a trained run's mask and depth for the user's own image pairs.

Everything comes from the run's workdir: the model (`config.json`), its weights
(`checkpoints/`) and the normalization it was trained with (`data_stats.json`); no
dataset is built or read. For each pair it writes, sized like the `fg_bg` image:

* `<name>_mask.png`: uint8 grayscale, 255 = foreground, 0 = background: the predicted
  probability (resized back to the input's size) thresholded at > 0.5, the threshold
  of the mask metrics.
* `<name>_depth.png`: uint8 grayscale nearness, 255 = nearest.
* `<name>_overlay.png`: `fg_bg` with the mask tinted in, beside the colour-mapped depth.

`<name>` is the `fg_bg` file's stem (`stem_ext` where two files share a stem).
"""
import concurrent.futures
import dataclasses
import functools
import os
from typing import Any, Iterator, NamedTuple

import jax
import numpy as np
from PIL import Image
from PIL import ImageOps
import tqdm

import zoo
from datasets import naming
from datasets import pipeline
from datasets import user_data
from training import checkpoint as checkpoint_lib
from training import evaluate as evaluate_lib
from training import loop
from training import run_folder
from training import visualize

MASK_THRESHOLD = 0.5
OVERLAY_COLOR = np.array([255, 40, 40], np.float32)
OVERLAY_ALPHA = 0.5
# PIL "converts" these to RGB by clipping at 255, which would feed the model garbage.
_HIGH_BIT_DEPTH_MODES = ('I', 'F')


@dataclasses.dataclass
class Result:
  """What `predict` wrote and what it skipped (with the reason)."""
  written: list[str] = dataclasses.field(default_factory=list)
  skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def load_model(workdir: str, which: str | int = 'latest',
               config: dict[str, Any] | None = None,
               hflip_average: bool | None = None) -> tuple[zoo.ExportedModel, int]:
  """The model of a run's checkpoint ('latest', 'best' or a step) and that step.

  Only the model weights are read; the model, image size and input normalization come
  from the workdir's `config.json` and `data_stats.json`, and so does whether it
  averages its predictions with the mirror image's (`eval.hflip_average`, as its own
  evaluation did; not for runs older than the option) unless `hflip_average` says.
  """
  config = config or run_folder.require_config(workdir)
  if hflip_average is None:
    hflip_average = loop.runs_hflip_average(config)
  stats = run_folder.read_data_stats(workdir)
  if stats is None:
    raise FileNotFoundError(
        f'{run_folder.path(workdir, run_folder.DATA_STATS)}: not found, so the input '
        'normalization the model was trained with is unknown; resume the run '
        '(`--mode train` with the same config writes it)')
  image_size = config['data']['image_size']
  manager = checkpoint_lib.make_manager(workdir, read_only=True)
  step = checkpoint_lib.resolve_step(manager, which)
  # Today's layout first; a run saved before fields were added to its model has a
  # config.json that does not name them and a checkpoint of the layout of its time.
  mismatch = None
  for model_config in zoo.saved_layouts(config['model']):
    try:
      params, batch_stats = _restore_weights(manager, step, model_config, image_size)
    except checkpoint_lib.CheckpointMismatchError as error:
      mismatch = mismatch or error
      continue
    break
  else:
    raise mismatch
  variables = dict(params=params, **({'batch_stats': batch_stats} if batch_stats else {}))
  exported = zoo.ExportedModel(model_config=model_config, variables=variables,
                               stats=stats, image_size=image_size,
                               hflip_average=bool(hflip_average))
  return exported, step


def _restore_weights(manager, step: int, model_config, image_size: int):
  """(params, batch_stats) of checkpoint `step`, restored into `model_config`'s shapes."""
  model = zoo.build(model_config)
  # Shapes to restore into, placed on one device; abstract, so nothing compiles.
  images = jax.ShapeDtypeStruct((1, image_size, image_size, 3), np.float32)
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  initial = jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=device),
      jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0),
                     images, images))
  return checkpoint_lib.restore_model_weights(
      manager, step, initial['params'], initial.get('batch_stats', {}))


def read_rgb(path: str) -> np.ndarray:
  """An image file as uint8 H x W x 3 RGB (EXIF rotation applied).

  Grayscale, palette, alpha and CMYK images are converted; ValueError (one line) for a
  file that is not an image, is corrupt or has more than 8 bits per channel.
  """
  try:
    with Image.open(path) as image:
      if image.mode.split(';')[0] in _HIGH_BIT_DEPTH_MODES:
        raise ValueError(f'a 16/32-bit image (mode {image.mode}); convert it to 8-bit RGB')
      return np.asarray(ImageOps.exif_transpose(image).convert('RGB'))
  except ValueError:
    raise
  except Image.UnidentifiedImageError:
    raise ValueError('not an image PIL can read') from None
  # Corrupt files make PIL raise many kinds of errors (OSError, SyntaxError,
  # struct.error, ...); each is this file's problem, not a bug.
  except Exception as error:  # pylint: disable=broad-except
    detail = ' '.join(str(error).split()) or type(error).__name__
    raise ValueError(f'corrupt or unreadable ({detail})') from None


def overlay(fg_bg: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """`fg_bg` (uint8 H x W x 3) with the foreground of `mask` (H x W, 255 = fg) tinted."""
  alpha = (mask[..., None] > 127) * OVERLAY_ALPHA
  return (fg_bg * (1 - alpha) + OVERLAY_COLOR * alpha).round().astype(np.uint8)


def _resize_back(values: np.ndarray, height: int, width: int) -> np.ndarray:
  """A float map (S x S x 1) resized bilinearly to height x width."""
  image = Image.fromarray(np.asarray(values[..., 0], np.float32), mode='F')
  return np.asarray(image.resize((width, height), Image.BILINEAR))


def render_outputs(fg_bg: np.ndarray, mask: np.ndarray, depth: np.ndarray
                   ) -> dict[str, np.ndarray]:
  """The pictures of one prediction at `fg_bg`'s size (H x W), all uint8.

  Args:
    fg_bg: The photo, H x W x 3.
    mask: The predicted mask probability at the model's size, S x S x 1.
    depth: The predicted nearness at the model's size, S x S x 1.

  Returns:
    `mask` (H x W, 0/255: probability above 0.5), `depth` (H x W, nearness, 255
    nearest), `overlay` (fg_bg with the mask tinted) and `depth_colors` (H x W x 3).
  """
  height, width = fg_bg.shape[:2]
  mask = _resize_back(mask, height, width)
  depth = np.clip(_resize_back(depth, height, width), 0, 1)
  mask_uint8 = np.where(mask > MASK_THRESHOLD, 255, 0).astype(np.uint8)
  return dict(mask=mask_uint8, depth=(depth * 255).round().astype(np.uint8),
              overlay=overlay(fg_bg, mask_uint8),
              depth_colors=visualize.colorize_depth(depth[..., None]))


def write_outputs(out: str, name: str, fg_bg: np.ndarray, mask: np.ndarray,
                  depth: np.ndarray):
  """Writes `name`'s mask, depth and overlay PNGs (see the module docstring)."""
  images = render_outputs(fg_bg, mask, depth)
  Image.fromarray(images['mask'], mode='L').save(os.path.join(out, f'{name}_mask.png'))
  Image.fromarray(images['depth'], mode='L').save(os.path.join(out, f'{name}_depth.png'))
  visualize.save_png(np.concatenate([images['overlay'], images['depth_colors']], axis=1),
                     os.path.join(out, f'{name}_overlay.png'))


class _Loaded(NamedTuple):
  """A pair's images: `fg_bg` as it is, both resized to the model's input size."""
  fg_bg: np.ndarray
  bg_small: np.ndarray
  fg_bg_small: np.ndarray


def _load(pair: naming.Pair, size: int, read_background) -> _Loaded | str:
  """The pair's images, or the reason (one line) to skip it."""
  try:
    fg_bg = read_rgb(pair.fg_bg)
  except ValueError as error:
    return f'{pair.fg_bg}: {error}'
  try:
    bg = read_background(pair.bg, size)
  except ValueError as error:
    return f'{pair.fg_bg}: its background {pair.bg}: {error}'
  return _Loaded(fg_bg, bg, pipeline.resize(fg_bg, size))


def _chunks(items: list, size: int) -> Iterator[list]:
  for start in range(0, len(items), size):
    yield items[start:start + size]


def predict(exported: zoo.ExportedModel, pairs: list[naming.Pair], out: str, *,
            batch_size: int, progress: bool = False) -> Result:
  """Predicts every pair in fixed-size batches (one compile) and writes the PNGs.

  Unreadable images are reported (one line each) and skipped.
  """
  try:
    os.makedirs(out, exist_ok=True)
  except OSError as error:
    raise ValueError(f'--out {out}: cannot create the folder ({error.strerror})') from None
  batch_size = max(1, min(batch_size, len(pairs)))
  # Many fg_bg images share one background: decode each once per call.
  read_background = functools.lru_cache(maxsize=256)(
      lambda path, size: pipeline.resize(read_rgb(path), size))
  result = Result()
  bar = tqdm.tqdm(total=len(pairs), unit='pair', disable=not progress)
  # Threads decode and encode the images: PIL releases the GIL while it works.
  with concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool, bar:
    for chunk in _chunks(pairs, batch_size):
      loaded = pool.map(lambda pair: _load(pair, exported.image_size, read_background),
                        chunk)
      good = []
      for pair, item in zip(chunk, loaded):
        if isinstance(item, str):
          result.skipped.append((pair.fg_bg, item))
          bar.write(f'skipped {user_data.escape_control_characters(item)}')
        else:
          good.append((pair, item))
      if good:
        batch = evaluate_lib.pad_batch(
            dict(bg=np.stack([item.bg_small for _, item in good]),
                 fg_bg=np.stack([item.fg_bg_small for _, item in good])), batch_size)
        outputs = jax.device_get(exported.predict_batch(batch['bg'], batch['fg_bg']))
        list(pool.map(  # list(): waits, and raises what a write raised.
            lambda i: write_outputs(out, good[i][0].name, good[i][1].fg_bg,
                                    outputs['mask'][i], outputs['depth'][i]),
            range(len(good))))
        result.written.extend(pair.name for pair, _ in good)
      bar.update(len(chunk))
  return result


def run(workdir: str, bg: str | None, fg_bg: str | None, out: str | None,
        which: str = 'latest') -> Result:
  """`--mode predict`: pairs the inputs, loads the run's model, writes the outputs.

  Prints one line per skipped file and a summary line. Raises ValueError (a user
  error) for a missing argument, and when nothing could be written.
  """
  for flag, value in (('--bg', bg), ('--fg_bg', fg_bg), ('--out', out)):
    if not value:
      raise ValueError(f'--mode predict needs {flag} (--bg and --fg_bg: an image or a '
                       'folder of them; --out: the output folder)')
  pairs, unpaired = naming.find_pairs(bg, fg_bg)
  if os.path.isfile(bg):
    try:
      read_rgb(bg)
    except ValueError as error:
      raise ValueError(f'--bg {bg}: {error}') from None
  for path, reason in unpaired:
    print(f'skipped {user_data.escape_control_characters(f"{path}: {reason}")}', flush=True)
  result = Result(skipped=list(unpaired))
  where = ''
  if pairs:
    config = run_folder.require_config(workdir)
    exported, step = load_model(workdir, which, config)
    predicted = predict(exported, pairs, out, batch_size=config['eval']['batch_size'],
                        progress=os.path.isdir(fg_bg))
    result.written.extend(predicted.written)
    result.skipped.extend(predicted.skipped)
    where = f' (checkpoint {step} of {workdir})'
  print(f'predict: {len(result.written)} written, {len(result.skipped)} skipped{where}'
        f' -> {out}', flush=True)
  if not result.written:
    raise ValueError(f'no prediction written: all {len(result.skipped)} inputs were '
                     'skipped (see above)')
  return result
