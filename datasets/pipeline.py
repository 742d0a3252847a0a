"""The grain input pipeline: TFDS array_record -> shuffled, sharded uint8 batches.

The host only reads, decodes, resizes (when the stored size differs) and batches. The
uint8 batches go to the devices, where the jitted step augments and normalizes them
(`datasets.augment`, `datasets.pipeline.normalize`): four times fewer bytes cross to the
device than float32 would, and the arithmetic runs fused with the model.
"""
import dataclasses
import json
from typing import Any, Iterator

from absl import flags
import grain
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from datasets import shared_backgrounds
from datasets import sources as sources_lib

IMAGE_KEYS = sources_lib.IMAGE_KEYS


@dataclasses.dataclass(frozen=True)
class ResizeAndDrop(grain.transforms.Map):
  """Drops the sample name and resizes every image to `size` x `size` if needed."""
  size: int

  def map(self, example: dict[str, Any]) -> dict[str, np.ndarray]:
    return {key: resize(example[key], self.size) for key in IMAGE_KEYS}


@dataclasses.dataclass(frozen=True)
class ReadRows(grain.transforms.Map):
  """Reads this process's rows [start, start + size) of a global batch of sample indices.

  Only those samples are read and decoded (`transform`, if any, applied to each), so
  that N processes share the reading of every batch instead of each decoding all of it.
  """
  source: Any
  transform: Any
  start: int
  size: int

  def map(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    samples = [self.source[int(index)] for index in indices[self.start:self.start + self.size]]
    if self.transform is not None:
      samples = [self.transform.map(sample) for sample in samples]
    return {key: np.stack([sample[key] for sample in samples]) for key in IMAGE_KEYS}


def resize(image: np.ndarray, size: int) -> np.ndarray:
  """Resizes an H x W x C uint8 image to size x size (bilinear, antialiased)."""
  if image.shape[0] == size and image.shape[1] == size:
    return image
  channels = image.shape[-1]
  pil = Image.fromarray(image[..., 0] if channels == 1 else image)
  out = np.asarray(pil.resize((size, size), Image.BILINEAR))
  return out.reshape(size, size, channels)


class DecodedCache:
  """A random-access source that keeps each sample as `transform` made it, once read.

  The first epoch reads and decodes as usual; every later one takes the decoded uint8
  arrays from memory, so that on a small machine decoding no longer competes with the
  train step for the cores. Safe under grain's reader threads: a sample decoded twice
  at once is stored twice, identically.
  """

  def __init__(self, source, transform):
    self._source = source
    self._transform = transform
    self._samples: list[Any] = [None] * len(source)

  def __len__(self) -> int:
    return len(self._samples)

  def __getitem__(self, index: int):
    sample = self._samples[index]
    if sample is None:
      sample = self._samples[index] = self._transform.map(self._source[index])
    return sample


def decoded_bytes(num_samples: int, image_size: int) -> int:
  """Memory of `num_samples` decoded samples: bg, fg_bg (3 channels), mask, depth (1)."""
  return num_samples * image_size * image_size * (3 + 3 + 1 + 1)


def reopen_by_path(data_source):
  """The same TFDS split, opened so that it unpickles in grain's worker processes.

  TFDS pickles a data source with its builder, as the builder's constructor arguments;
  `MaskDepthDataset` cannot be rebuilt from those (it needs its source), a read-only
  builder of the same directory can. A split joined with its stored backgrounds
  (`shared_backgrounds.WithBackgrounds`) has its records reopened so. Anything else (a
  list, say) is returned as it is.
  """
  if isinstance(data_source, shared_backgrounds.WithBackgrounds):
    return data_source.reopened(reopen_by_path)
  info = getattr(data_source, 'dataset_info', None)
  if info is None:
    return data_source
  return tfds.builder_from_directory(info.data_dir).as_data_source(
      data_source.split, decoders=data_source.decoders,
      deserialize_method=data_source.deserialize_method)


def train_dataset(data_source, *, image_size: int, global_batch_size: int, seed: int,
                  num_workers: int = 0, prefetch: int = 2,
                  cache_mib: float = 0) -> grain.IterDataset:
  """Infinite shuffled batches of this process's share of the global batch.

  Each epoch is reshuffled (seeded by `seed` and the epoch); every JAX process reads and
  decodes only its disjoint slice of each global batch, so a multi-host run sees the
  same global batches as a single-host one. Without worker processes, the decoded
  samples are kept in memory (`DecodedCache`) when the split takes at most `cache_mib`
  MiB decoded; the batches are the same either way.
  """
  process_count = jax.process_count()
  if global_batch_size % process_count:
    raise ValueError(f'train.batch_size {global_batch_size} is not divisible by the '
                     f'{process_count} JAX processes')
  per_process = global_batch_size // process_count
  transform = ResizeAndDrop(image_size)
  if num_workers > 0:
    data_source = reopen_by_path(data_source)
  elif decoded_bytes(len(data_source), image_size) <= cache_mib * 2**20:
    data_source, transform = DecodedCache(data_source, transform), None
  # Shuffled and batched as indices; each process then reads its rows of every batch.
  ds = grain.MapDataset.range(len(data_source)).seed(seed).shuffle().repeat()
  ds = ds.batch(global_batch_size, drop_remainder=True)
  ds = ds.map(ReadRows(data_source, transform, jax.process_index() * per_process, per_process))
  iter_ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=prefetch))
  if num_workers > 0:
    # grain reads one of its absl flags when it starts workers, which raises while flags
    # are unparsed: outside an absl app (tests, notebooks, argparse scripts).
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    iter_ds = iter_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
  return iter_ds


def stage_ends(final_size: int, total_steps: int, stages) -> list[tuple[int, int]]:
  """[(image_size, end step), ...] of a run that trains at smaller sizes first.

  `stages` is a list of dict(image_size=..., fraction=...): in order, each trains at
  its size for that fraction of `total_steps` (rounded); the steps left run at
  `final_size`. An empty list is one stage at `final_size`.
  """
  ends, done = [], 0.0
  for stage in stages:
    done += stage['fraction']
    ends.append((int(stage['image_size']), int(round(done * total_steps))))
  return ends + [(int(final_size), int(total_steps))]


def size_at(ends: list[tuple[int, int]], step: int) -> int:
  """The image size that step `step + 1` trains at (steps count from 1)."""
  return next((size for size, end in ends if step < end), ends[-1][0])


class ResizingIterator:
  """Train batches whose image size follows the step: progressive resizing.

  Wraps the grain iterator of the current stage's size. At a stage's end, `at_step`
  opens the next size's iterator at the same position of the same shuffled stream (the
  position does not depend on the size), so a resized run sees the samples a plain one
  would, in the same order. Its checkpoint state is the grain iterator's, as JSON
  bytes, so checkpoints of runs with and without stages restore alike.
  """

  def __init__(self, open_iterator, ends: list[tuple[int, int]]):
    """`open_iterator(image_size)` returns a fresh grain iterator at that size."""
    self._open = open_iterator
    self._ends = ends
    self.image_size = size_at(ends, 0)
    self._iterator = open_iterator(self.image_size)

  def at_step(self, step: int) -> 'ResizingIterator':
    """Switches to the image size of step `step + 1` if it differs; returns self."""
    size = size_at(self._ends, step)
    if size != self.image_size:
      resized = self._open(size)
      resized.set_state(self._iterator.get_state())
      self.close()
      self._iterator, self.image_size = resized, size
    return self

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    return next(self._iterator)

  def get_state(self) -> bytes:
    """The position in the stream, as grain's iterator state in JSON."""
    return json.dumps(self._iterator.get_state(), indent=4).encode()

  def set_state(self, state: bytes) -> None:
    """Moves to a position saved by `get_state`."""
    self._iterator.set_state(json.loads(state.decode()))

  def start_prefetch(self) -> None:
    """Starts reading ahead (grain's checkpoint handler calls it after a restore)."""
    start = getattr(self._iterator, 'start_prefetch', None)
    if start is not None:
      start()

  def close(self) -> None:
    """Stops the current iterator's reader threads or worker processes."""
    close = getattr(self._iterator, 'close', None)
    if close is not None:
      close()


def eval_batches(data_source, *, image_size: int, batch_size: int,
                 limit: int | None = None) -> Iterator[dict[str, np.ndarray]]:
  """The split in order, once, in batches (the last one may be smaller)."""
  ds = grain.MapDataset.source(data_source)
  if limit is not None:
    ds = ds[:limit]
  ds = ds.map(ResizeAndDrop(image_size)).batch(batch_size, drop_remainder=False)
  return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=2)))


class IndexedView:
  """A random-access view of `source` at `indices` (repeats allowed), in that order."""

  def __init__(self, source, indices: np.ndarray):
    self.source, self.indices = source, np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, index: int):
    return self.source[int(self.indices[index])]


def padded_batch_indices(num_samples: int, batch_size: int) -> list[np.ndarray]:
  """Each batch's sample indices in order; the last one filled up to `batch_size` by
  repeating its first sample, so that every batch splits evenly over the devices."""
  batches = []
  for start in range(0, num_samples, batch_size):
    indices = np.arange(start, min(start + batch_size, num_samples))
    batches.append(np.concatenate([indices, np.full(batch_size - len(indices), start)]))
  return batches


def process_eval_batches(data_source, *, image_size: int, batch_size: int,
                         rows: slice) -> Iterator[tuple[dict[str, np.ndarray], int]]:
  """The split in order, once, as (`rows` of each padded batch, the batch's real size).

  Each batch holds `batch_size` samples (`padded_batch_indices`); this process reads and
  decodes only its `rows` of each, and the real size says how many of the batch's
  leading rows are samples rather than padding.
  """
  batches = padded_batch_indices(len(data_source), batch_size)
  if not batches:
    return
  share = len(range(batch_size)[rows])
  local = np.concatenate([indices[rows] for indices in batches])
  ds = grain.MapDataset.source(IndexedView(data_source, local))
  ds = ds.map(ResizeAndDrop(image_size)).batch(share, drop_remainder=False)
  read = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=2)))
  for start, batch in zip(range(0, len(data_source), batch_size), read):
    yield batch, min(batch_size, len(data_source) - start)


def to_unit_range(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """uint8 images and targets -> float32 in [0, 1]."""
  return {key: batch[key].astype(jnp.float32) / 255.0 for key in IMAGE_KEYS}
