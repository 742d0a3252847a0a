"""Trained runs on real photographs of scenes and people, against frame differencing.

  python benchmarks/real_photos.py cut --montage SHEET.png --tile 100 [--top 0]
      [--stride 120 --left 0] --out DIR
  python benchmarks/real_photos.py measure --backgrounds DIR --people DIR \
      --workdir runs/cnn [--workdir RUN ...] [--placements 3] [--grid OUT.png]

`cut` splits one row of a contact sheet (square tiles, `stride` pixels apart or found as
runs of non-blank columns) into one PNG per tile. `measure` pastes every real person (an RGBA cut-out: its alpha is the true mask,
`alpha >= 128`) into every real background photo at `placements` seeded places (height 45-80%
of the photo, less where a wide group would not fit its width; feet in its lower fifth) and scores each run's mask on the pairs, in two
captures:

* `pasted`: `fg_bg` is the background with the person pasted in and nothing else, as the
  original task's dataset was made: frame differencing only misses where the person's
  colours match the scene behind.
* `captured`: as two shots from a camera on a tripod differ, both images get their own
  sensor noise (Gaussian, sigma 0.01) and JPEG (quality 90), and `fg_bg` a sub-pixel camera
  shift (up to 0.5 px each way) and another exposure and white balance (gain 0.9-1.1 times
  0.97-1.03 per channel), drawn per pair; the bilinear shift also softens `fg_bg` a little.
  These differences are simulated: no real photo pairs taken apart in time were available.

Frame differencing is scored at the threshold the run chose on its own (synthetic) train
split (`baselines.npz`), as the run's evaluation does, and at the best threshold for these
pairs (`oracle`: the best of the candidate thresholds of the run's own choice, picked on the very
pairs it is scored on: an upper bound for one global threshold, which no user gets).
Mask IoU and Dice are per pair, averaged, as `mask_iou`. The photos are composited at their
own size and resized to each run's image size; the true mask is the alpha resized alike,
then >= 0.5. The last line is one JSON object with every
figure; `--grid` writes bg | fg_bg | true mask | frame differencing | each run's mask for
the first pairs of each capture.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CAPTURES = ('pasted', 'captured')
NOISE_SIGMA = 0.01
JPEG_QUALITY = 90
MAX_SHIFT_PX = 0.5
EXPOSURE = (0.9, 1.1)
WHITE_BALANCE = (0.97, 1.03)
PERSON_HEIGHT = (0.45, 0.8)  # Of the photo's height.
FEET = (0.8, 1.0)  # Where the feet are, as a fraction of the photo's height.


def _content_runs(content: np.ndarray, least: int) -> list[tuple[int, int]]:
  """[start, stop) of each run of True at least `least` long."""
  edges = np.diff(np.concatenate([[0], content.astype(np.int8), [0]]))
  starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
  return [(int(a), int(b)) for a, b in zip(starts, stops) if b - a >= least]


def cut_montage(montage: str, out: str, tile: int, stride: int | None = None,
                left: int = 0, top: int = 0) -> list[str]:
  """Writes each tile of one row of a contact sheet as `out/NN.png`; returns the paths.

  The row's tiles are `tile` pixels square, their top edge at `top`. With `stride`, they
  start at `left` and every `stride` pixels; without, each run of columns holding
  content (neither transparent nor white) at least `tile` wide is one tile.
  """
  sheet = Image.open(montage).convert('RGBA')
  if sheet.height < top + tile:
    raise ValueError(f'{montage}: {sheet.width} x {sheet.height} px holds no {tile} px '
                     f'tile at top {top}')
  if stride:
    lefts = range(left, sheet.width - tile + 1, stride)
  else:
    band = np.asarray(sheet)[top:top + tile].astype(np.int32)
    content = (band[..., 3] > 0) & (band[..., :3].sum(-1) < 3 * 250)
    lefts = [start for start, _ in _content_runs(content.any(0), tile)]
  os.makedirs(out, exist_ok=True)
  paths = []
  for i, x in enumerate(lefts):
    path = os.path.join(out, f'{i:02d}.png')
    sheet.crop((x, top, x + tile, top + tile)).save(path)
    paths.append(path)
  if not paths:
    raise ValueError(f'{montage}: no {tile} px tile found at top {top}')
  return paths


def read_photos(folder: str, mode: str) -> list[np.ndarray]:
  """Every PNG/JPEG in `folder`, sorted by name, as uint8 arrays in `mode` (RGB or RGBA)."""
  paths = sorted(p for p in glob.glob(os.path.join(folder, '*'))
                 if p.lower().endswith(('.png', '.jpg', '.jpeg')))
  if not paths:
    raise ValueError(f'{folder}: no .png or .jpg images')
  if mode == 'RGBA':
    for path in paths:
      if Image.open(path).mode not in ('RGBA', 'LA'):
        raise ValueError(f'{path}: a person must be a cut-out with an alpha channel')
  return [np.asarray(Image.open(path).convert(mode)) for path in paths]


def _person_crop(person: np.ndarray) -> np.ndarray:
  """The cut-out cropped to its mask's (alpha >= 128) bounding box."""
  rows, cols = np.nonzero(person[..., 3] >= 128)
  if not len(rows):
    raise ValueError('a person cut-out has no pixel with alpha >= 128')
  return person[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def paste(bg: np.ndarray, person: np.ndarray, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
  """(fg_bg, alpha): `person` alpha-blended into `bg` at a random size and place."""
  height, width = bg.shape[:2]
  person = _person_crop(person)
  scale = rng.uniform(*PERSON_HEIGHT) * height / person.shape[0]
  scale = min(scale, width / person.shape[1])  # A wide group still fits, unsquashed.
  size = (max(1, round(person.shape[1] * scale)), max(1, round(person.shape[0] * scale)))
  resized = np.asarray(Image.fromarray(person).resize(size, Image.LANCZOS), np.float32)
  left = int(rng.integers(0, width - size[0] + 1))
  bottom = int(round(rng.uniform(*FEET) * height))
  top = max(0, bottom - size[1])
  part = resized[size[1] - (bottom - top):]
  alpha = np.zeros((height, width), np.float32)
  colour = np.zeros((height, width, 3), np.float32)
  alpha[top:bottom, left:left + size[0]] = part[..., 3] / 255.0
  colour[top:bottom, left:left + size[0]] = part[..., :3]
  fg_bg = colour * alpha[..., None] + bg.astype(np.float32) * (1.0 - alpha[..., None])
  return np.clip(np.round(fg_bg), 0, 255).astype(np.uint8), alpha


def _jpeg(image: np.ndarray) -> np.ndarray:
  import io  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format='JPEG', quality=JPEG_QUALITY)
  return np.asarray(Image.open(buffer).convert('RGB'))


def _shot(image: np.ndarray, rng: np.random.Generator, gain: np.ndarray,
          shift: tuple[float, float]) -> np.ndarray:
  """One simulated exposure of `image`: camera shift, gain, sensor noise, JPEG."""
  if shift != (0.0, 0.0):
    image = np.asarray(Image.fromarray(image).transform(
        image.shape[1::-1], Image.AFFINE, (1, 0, shift[0], 0, 1, shift[1]), Image.BILINEAR))
  values = image.astype(np.float32) / 255.0 * gain
  values = values + rng.normal(0.0, NOISE_SIGMA, values.shape)
  return _jpeg(np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8))


def capture(bg: np.ndarray, fg_bg: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
  """The pair as two shots of a tripod camera (the module docstring's `captured`)."""
  bg_shot = _shot(bg, rng, np.ones(3, np.float32), (0.0, 0.0))
  gain = (rng.uniform(*EXPOSURE) * rng.uniform(*WHITE_BALANCE, size=3)).astype(np.float32)
  shift = tuple(float(s) for s in rng.uniform(-MAX_SHIFT_PX, MAX_SHIFT_PX, size=2))
  return bg_shot, _shot(fg_bg, rng, gain, shift)


def make_pairs(backgrounds: list[np.ndarray], people: list[np.ndarray], placements: int,
               seed: int = 0) -> dict[str, list[dict[str, np.ndarray]]]:
  """Every background x person x placement, in both captures, at the photos' own size.

  Each pair is dict(bg, fg_bg: uint8 H x W x 3, alpha: float32 H x W in [0, 1]); the
  random draws of pair (b, p, k) depend only on (seed, b, p, k).
  """
  pairs = {name: [] for name in CAPTURES}
  for b, bg in enumerate(backgrounds):
    for p, person in enumerate(people):
      for k in range(placements):
        rng = np.random.default_rng((seed, b, p, k))
        fg_bg, alpha = paste(bg, person, rng)
        pairs['pasted'].append(dict(bg=bg, fg_bg=fg_bg, alpha=alpha))
        bg_shot, fg_bg_shot = capture(bg, fg_bg, rng)
        pairs['captured'].append(dict(bg=bg_shot, fg_bg=fg_bg_shot, alpha=alpha))
  return pairs


def at_size(pairs: list[dict[str, np.ndarray]], size: int) -> dict[str, np.ndarray]:
  """The pairs resized to `size` (as `--mode predict` resizes); the true mask is the
  alpha resized the same way, then >= 0.5 (128 of 255)."""
  from datasets import pipeline  # pylint: disable=g-import-not-at-top
  alpha = [pipeline.resize(np.round(p['alpha'] * 255).astype(np.uint8)[..., None], size)
           for p in pairs]
  return dict(bg=np.stack([pipeline.resize(p['bg'], size) for p in pairs]),
              fg_bg=np.stack([pipeline.resize(p['fg_bg'], size) for p in pairs]),
              mask=(np.stack(alpha) >= 128).astype(np.float32))


def _mean_overlap(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
  from losses import metrics  # pylint: disable=g-import-not-at-top
  iou, dice = metrics.binary_overlap(pred, true)
  return float(np.mean(iou)), float(np.mean(dice))


def model_masks(exported, batch: dict[str, np.ndarray], batch_size: int = 32) -> np.ndarray:
  """`exported`'s mask probabilities for the batch, N x H x W x 1 (one compile)."""
  from training import evaluate  # pylint: disable=g-import-not-at-top
  masks = []
  for start in range(0, len(batch['bg']), batch_size):
    chunk = evaluate.pad_batch(dict(bg=batch['bg'][start:start + batch_size],
                                    fg_bg=batch['fg_bg'][start:start + batch_size]),
                               batch_size)
    outputs = exported.predict_batch(chunk['bg'], chunk['fg_bg'])
    masks.append(np.asarray(outputs['mask'])[:min(batch_size, len(batch['bg']) - start)])
  return np.concatenate(masks)


def measure(workdirs: list[str], backgrounds: list[np.ndarray], people: list[np.ndarray],
            placements: int, hflip_average: bool | None = None) -> dict:
  """Mask IoU/Dice of each run and of frame differencing on both captures."""
  from losses import metrics  # pylint: disable=g-import-not-at-top
  from training import predict  # pylint: disable=g-import-not-at-top
  from training import run_folder  # pylint: disable=g-import-not-at-top
  pairs = make_pairs(backgrounds, people, placements)
  result = dict(backgrounds=len(backgrounds), people=len(people), placements=placements,
                pairs=len(pairs['pasted']), runs={}, masks={})
  for workdir in workdirs:
    # Loaded and compiled once for both captures; `hflip_average` None: as the run's
    # evaluation did.
    exported, _ = predict.load_model(workdir, hflip_average=hflip_average)
    size = exported.image_size
    baselines = run_folder.read_baselines(
        workdir, run_folder.trained_dataset_name(workdir) or '', size)
    if baselines is None:
      raise FileNotFoundError(f'{run_folder.path(workdir, run_folder.BASELINES)}: no baselines '
                              'for the run\'s own dataset and size; evaluate the run first')
    run_threshold = float(baselines['threshold'])
    scores = {}
    for name in CAPTURES:
      batch = at_size(pairs[name], size)
      as_floats = dict(bg=batch['bg'] / 255.0, fg_bg=batch['fg_bg'] / 255.0,
                       mask=batch['mask'])
      oracle = metrics.choose_frame_difference_threshold([as_floats])
      probabilities = model_masks(exported, batch)
      iou, dice = _mean_overlap(probabilities, batch['mask'])
      fd_iou, fd_dice = _mean_overlap(
          np.asarray(metrics.frame_difference_mask(batch['bg'], batch['fg_bg'],
                                                   run_threshold)), batch['mask'])
      oracle_iou, oracle_dice = _mean_overlap(
          np.asarray(metrics.frame_difference_mask(batch['bg'], batch['fg_bg'], oracle)),
          batch['mask'])
      scores[name] = dict(
          image_size=size, model_iou=iou, model_dice=dice,
          frame_difference_iou=fd_iou, frame_difference_dice=fd_dice,
          run_threshold=run_threshold, oracle_threshold=oracle,
          oracle_frame_difference_iou=oracle_iou, oracle_frame_difference_dice=oracle_dice)
      result['masks'][(workdir, name)] = (batch, probabilities, run_threshold)
    result['runs'][workdir] = scores
  return result


def write_grid(result: dict, path: str, rows: int = 6):
  """bg | fg_bg | true mask | frame differencing (run's threshold) | each run's mask.

  The pairs are the first run's; every tile is enlarged (nearest) to the largest run's size.
  """
  from losses import metrics  # pylint: disable=g-import-not-at-top
  from training import visualize  # pylint: disable=g-import-not-at-top
  workdirs = list(result['runs'])
  size = max(result['runs'][w][CAPTURES[0]]['image_size'] for w in workdirs)
  at = lambda tile: np.asarray(Image.fromarray(tile).resize((size, size), Image.NEAREST))
  tiles = []
  for name in CAPTURES:
    first, _, threshold = result['masks'][(workdirs[0], name)]
    for i in np.linspace(0, len(first['bg']) - 1, rows).round().astype(int):
      difference = metrics.frame_difference_mask(first['bg'][i], first['fg_bg'][i], threshold)
      masks = [first['mask'][i], np.asarray(difference)]
      masks += [result['masks'][(w, name)][1][i] > 0.5 for w in workdirs]
      row = [first['bg'][i], first['fg_bg'][i]]
      row += [visualize.gray(mask.astype(np.float32)) for mask in masks]
      tiles.append([at(tile) for tile in row])
  visualize.save_png(visualize.tile_rows(tiles), path)


def print_report(result: dict):
  """One table per capture: each run's mask beside frame differencing's."""
  print(f"{result['pairs']} pairs: {result['backgrounds']} background photos x "
        f"{result['people']} people x {result['placements']} placements")
  for name in CAPTURES:
    print(f'\n{name}')
    print(f"{'run':<32} {'size':>4} {'IoU':>6} {'Dice':>6} {'FD IoU':>7} {'(thr)':>6} "
          f"{'oracle FD IoU':>13} {'(thr)':>6}")
    for workdir, scores in result['runs'].items():
      s = scores[name]
      print(f"{workdir:<32} {s['image_size']:>4} {s['model_iou']:6.3f} {s['model_dice']:6.3f} "
            f"{s['frame_difference_iou']:7.3f} {s['run_threshold']:6.3f} "
            f"{s['oracle_frame_difference_iou']:13.3f} {s['oracle_threshold']:6.3f}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  commands = parser.add_subparsers(dest='command', required=True)
  cut = commands.add_parser('cut', help='split a one-row contact sheet into tiles')
  cut.add_argument('--montage', required=True)
  cut.add_argument('--tile', type=int, required=True, help='tile side in pixels')
  cut.add_argument('--top', type=int, default=0, help="the row's top edge in pixels")
  cut.add_argument('--stride', type=int,
                   help='pixels from tile to tile (default: find the tiles)')
  cut.add_argument('--left', type=int, default=0, help='the first tile, with --stride')
  cut.add_argument('--out', required=True)
  run = commands.add_parser('measure', help='score runs on composited real photos')
  run.add_argument('--backgrounds', required=True, help='folder of background photos')
  run.add_argument('--people', required=True, help='folder of RGBA cut-outs of people')
  run.add_argument('--workdir', action='append', required=True, help='a trained run')
  run.add_argument('--placements', type=int, default=3)
  run.add_argument('--grid', help='write a picture of the first pairs here')
  run.add_argument('--hflip_average', action='store_true',
                   help="average with the mirror image's prediction (default: as the run's "
                   'evaluation did)')
  args = parser.parse_args()
  if args.command == 'cut':
    print('\n'.join(cut_montage(args.montage, args.out, args.tile, args.stride, args.left,
                                 args.top)))
    return
  result = measure(args.workdir, read_photos(args.backgrounds, 'RGB'),
                   read_photos(args.people, 'RGBA'), args.placements,
                   True if args.hflip_average else None)
  if args.grid:
    write_grid(result, args.grid)
  result.pop('masks')
  print_report(result)
  print(json.dumps(result))


if __name__ == '__main__':
  main()
