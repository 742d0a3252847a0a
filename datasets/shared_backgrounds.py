"""Each background stored once: for sources whose samples share background files.

In the original's layout 100 background files serve 400,000 samples. Stored with every
sample, each background is written (and later decoded) 4,000 times. A dataset built with
`BuildOptions.backgrounds_once` stores instead, in each sample, the digest of its
background's encoded bytes (`bg_digest`), and every distinct background once, in
`backgrounds.array_record` beside the splits' files (in digest order; the digests are in
the dataset's metadata). `open_split` puts each sample's `bg` back, decoded as TFDS
decodes the other images, so a sample reads exactly as it would stored whole.

While the shards are written (here or by Beam workers), every distinct background is
saved as a file named by its digest in a folder of the build's temporary directory
(content-addressed, so that any worker may write it, any number of times);
`gather` then writes the one file.
"""
import collections
import hashlib
import os
import threading
from typing import Any, Iterator

from array_record.python import array_record_module
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

FILE_NAME = 'backgrounds.array_record'
PARTS_FOLDER = 'background_parts'
METADATA_KEY = 'background_digests'
DIGEST_KEY = 'bg_digest'
# Decoded backgrounds kept per process (about 150 MB at 224 px).
CACHE_SIZE = 1024


def digest(encoded: bytes) -> str:
  """The name a background's encoded bytes are stored under."""
  return hashlib.sha256(encoded).hexdigest()[:32]


def save_part(parts_dir: str, encoded: bytes) -> str:
  """Saves one background's bytes as `parts_dir/<digest>` unless already there; returns
  the digest. Written to a temporary name and renamed, so a reader never sees half."""
  name = digest(encoded)
  path = epath.Path(parts_dir) / name
  if not path.exists():
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f'{name}.{os.getpid()}.{threading.get_ident()}.partial'
    partial.write_bytes(encoded)
    partial.replace(path)
  return name


def gather(parts_dir: str, data_dir: str) -> list[str]:
  """Writes the saved backgrounds, in digest order, as `data_dir/FILE_NAME`, removes
  `parts_dir`, and returns the digests in that order."""
  parts = epath.Path(parts_dir)
  names = sorted(path.name for path in parts.iterdir() if '.' not in path.name)
  writer = array_record_module.ArrayRecordWriter(
      os.fspath(epath.Path(data_dir) / FILE_NAME), 'group_size:1')
  try:
    for name in names:
      writer.write((parts / name).read_bytes())
  finally:
    writer.close()
  parts.rmtree()
  return names


class BackgroundTable:
  """The stored backgrounds of a dataset, decoded on first use and kept (`CACHE_SIZE`).

  Safe under grain's reader threads; pickles by path (for grain's worker processes).
  """

  def __init__(self, data_dir: str, digests: list[str]):
    self._path = os.fspath(epath.Path(data_dir) / FILE_NAME)
    self._digests = list(digests)
    self._open()

  def _open(self):
    self._index = {name: i for i, name in enumerate(self._digests)}
    self._reader = None
    self._lock = threading.Lock()
    self._decoded: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
    self._image = tfds.features.Image(shape=(None, None, 3), encoding_format='png')

  def __getstate__(self) -> dict[str, Any]:
    return dict(path=self._path, digests=self._digests)

  def __setstate__(self, state: dict[str, Any]):
    self._path, self._digests = state['path'], state['digests']
    self._open()

  def __len__(self) -> int:
    return len(self._digests)

  def __getitem__(self, name: str) -> np.ndarray:
    """The background stored under digest `name`, as an H x W x 3 uint8 array."""
    with self._lock:
      image = self._decoded.get(name)
      if image is not None:
        self._decoded.move_to_end(name)
        return image
      if self._reader is None:
        self._reader = array_record_module.ArrayRecordReader(self._path)
      encoded = self._reader.read([self._index[name]])[0]
    image = self._image.decode_example_np(encoded)
    image.flags.writeable = False  # Shared by every sample of this background.
    with self._lock:
      self._decoded[name] = image
      if len(self._decoded) > CACHE_SIZE:
        self._decoded.popitem(last=False)
    return image


class WithBackgrounds:
  """A split stored with `bg_digest`s, read as samples with their `bg` put back."""

  def __init__(self, records, backgrounds: BackgroundTable):
    self.records = records
    self.backgrounds = backgrounds

  def __len__(self) -> int:
    return len(self.records)

  def __getitem__(self, index: int) -> dict[str, Any]:
    return self._join(self.records[index])

  def __getitems__(self, indices) -> list[dict[str, Any]]:
    return [self[int(index)] for index in indices]

  def __iter__(self) -> Iterator[dict[str, Any]]:
    for index in range(len(self)):
      yield self[index]

  def _join(self, record: dict[str, Any]) -> dict[str, Any]:
    sample = dict(record)
    name = sample.pop(DIGEST_KEY)
    sample['bg'] = self.backgrounds[name.decode() if isinstance(name, bytes) else name]
    return sample

  def reopened(self, reopen) -> 'WithBackgrounds':
    """The same split with its records reopened by `reopen` (for worker processes)."""
    return WithBackgrounds(reopen(self.records), self.backgrounds)


def open_split(builder, split: str):
  """`builder`'s split as samples with every image: its data source as it is, or, for a
  dataset with each background stored once, joined with its backgrounds."""
  records = builder.as_data_source(split)
  digests = builder.info.metadata.get(METADATA_KEY)
  if digests is None:
    return records
  return WithBackgrounds(records, BackgroundTable(os.fspath(builder.data_dir), digests))
