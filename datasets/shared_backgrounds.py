"""Each background stored once: for sources whose samples share background files.

In the original's layout 100 background files serve 400,000 samples. Stored with every
sample, each background is written (and later decoded) 4,000 times. A dataset built with
`BuildOptions.backgrounds_once` stores instead, in each sample, the digest of its
background's encoded bytes (`bg_digest`), and every distinct background once:
`backgrounds.array_record` beside the splits' files, in digest order, and the digests in
that order in `backgrounds.json`. `open_split` puts each sample's `bg` back, decoded as
TFDS decodes the other images, so a sample reads as it would stored whole (its `bg` array
is shared by the samples of its background, and read-only).

While the shards are written (here or by Beam workers), every distinct background is
saved as a file named by its digest in a folder of the build's temporary directory
(content-addressed, so that any worker may write it, any number of times); `gather`
then writes the one file, checking that every background a sample names is there.
"""
import collections
import hashlib
import json
import os
import threading
import uuid
from typing import Any

from array_record.python import array_record_module
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

FILE_NAME = 'backgrounds.array_record'
DIGESTS_FILE_NAME = 'backgrounds.json'
PARTS_FOLDER = 'background_parts'
METADATA_KEY = 'backgrounds_stored_once'  # The number of backgrounds, in the metadata.
DIGEST_KEY = 'bg_digest'
# Decoded backgrounds kept per dataset and process, most recently used first: a user's
# photos are stored at their own size (6 MB each decoded at 1920 x 1080), so the budget is
# in bytes.
CACHE_BYTES = 256 * 2**20


def digest(encoded: bytes) -> str:
  """The name a background's encoded bytes are stored under."""
  return hashlib.sha256(encoded).hexdigest()[:32]


def save_part(parts_dir: str, encoded: bytes) -> str:
  """Saves one background's bytes as `parts_dir/<digest>` unless already there; returns
  the digest. Written under a unique temporary name and renamed, so a reader never sees
  half a file; a writer that loses a race to another with the same bytes is done too."""
  name = digest(encoded)
  path = epath.Path(parts_dir) / name
  if path.exists():
    return name
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.parent / f'{name}.{uuid.uuid4().hex}.partial'
  partial.write_bytes(encoded)
  try:
    partial.replace(path)
  except FileNotFoundError:  # On object stores a rename is a copy and a delete.
    if not path.exists():
      raise
  return name


def gather(parts_dir: str, data_dir: str, digests) -> int:
  """Writes the saved backgrounds named by `digests`, in digest order, as
  `data_dir/FILE_NAME` (and the order as `DIGESTS_FILE_NAME`), removes `parts_dir`, and
  returns how many. Raises FileNotFoundError naming the folder if one is missing (a
  worker that wrote its parts where this process cannot see them)."""
  parts, names = epath.Path(parts_dir), sorted(digests)
  missing = [name for name in names if not (parts / name).exists()]
  if missing:
    raise FileNotFoundError(
        f'{parts}: {len(missing)} of the {len(names)} backgrounds that samples name are '
        f'missing (the first: {missing[0]}); every build worker must write to data.data_dir '
        'as this process sees it')
  writer = array_record_module.ArrayRecordWriter(
      os.fspath(epath.Path(data_dir) / FILE_NAME), 'group_size:1')
  try:
    for name in names:
      writer.write((parts / name).read_bytes())
  finally:
    writer.close()
  (epath.Path(data_dir) / DIGESTS_FILE_NAME).write_text(json.dumps(names))
  if parts.exists():
    parts.rmtree()
  return len(names)


class BackgroundTable:
  """The stored backgrounds of a dataset, decoded on first use and kept (`CACHE_BYTES`).

  Safe under grain's reader threads; pickles by path (for grain's worker processes).
  """

  def __init__(self, data_dir: str):
    self._data_dir = os.fspath(data_dir)
    self._reset()

  def _reset(self):
    self._index: dict[str, int] | None = None
    self._reader = None
    self._lock = threading.Lock()
    self._decoded: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
    self._decoded_bytes = 0
    self._image = tfds.features.Image(shape=(None, None, 3), encoding_format='png')

  def __getstate__(self) -> dict[str, Any]:
    return dict(data_dir=self._data_dir)

  def __setstate__(self, state: dict[str, Any]):
    self._data_dir = state['data_dir']
    self._reset()

  def _open(self):
    """Reads the digests' order and opens the records (under the lock)."""
    path = epath.Path(self._data_dir)
    try:
      names = json.loads((path / DIGESTS_FILE_NAME).read_text())
      self._reader = array_record_module.ArrayRecordReader(
          os.fspath(path / FILE_NAME), 'readahead_buffer_size:0')  # Random access.
      if self._reader.num_records() != len(names):  # Opens the file, too.
        raise ValueError(f'{len(names)} digests for {self._reader.num_records()} records')
    except (OSError, ValueError, RuntimeError) as error:  # ArrayRecordReader: RuntimeError.
      raise FileNotFoundError(
          f'{path}: a dataset with each background stored once, without a readable '
          f'{DIGESTS_FILE_NAME} and {FILE_NAME} ({error}); delete the folder to rebuild '
          'it') from None
    self._index = {name: i for i, name in enumerate(names)}

  def __getitem__(self, name: str) -> np.ndarray:
    """The background stored under digest `name`, as an H x W x 3 uint8 array."""
    with self._lock:
      image = self._decoded.get(name)
      if image is not None:
        self._decoded.move_to_end(name)
        return image
      if self._index is None:
        self._open()
      if name not in self._index:
        raise KeyError(f'{self._data_dir}: a sample names background {name}, which '
                       f'{FILE_NAME} does not hold; delete the folder to rebuild it')
      encoded = self._reader.read([self._index[name]])[0]
    image = self._image.decode_example_np(encoded)
    image.flags.writeable = False  # Shared by every sample of this background.
    with self._lock:
      if name not in self._decoded:
        self._decoded[name] = image
        self._decoded_bytes += image.nbytes
      while self._decoded_bytes > CACHE_BYTES and len(self._decoded) > 1:
        self._decoded_bytes -= self._decoded.popitem(last=False)[1].nbytes
    return image


class WithBackgrounds:
  """A split stored with `bg_digest`s, read as samples with their `bg` put back."""

  def __init__(self, records, backgrounds: BackgroundTable):
    self.records = records
    self.backgrounds = backgrounds

  def __len__(self) -> int:
    return len(self.records)

  def __getitem__(self, index: int) -> dict[str, Any]:
    sample = dict(self.records[index])
    name = sample.pop(DIGEST_KEY)
    sample['bg'] = self.backgrounds[name.decode() if isinstance(name, bytes) else name]
    return sample

  def __iter__(self):
    for index in range(len(self)):
      yield self[index]

  def reopened(self, reopen) -> 'WithBackgrounds':
    """The same split with its records reopened by `reopen` (for worker processes)."""
    return WithBackgrounds(reopen(self.records), self.backgrounds)


def open_splits(builder, splits=('train', 'test')) -> list:
  """`builder`'s splits as samples with every image: its data sources as they are, or,
  for a dataset with each background stored once, joined with its backgrounds (one
  table, one cache, for all of them)."""
  if DIGEST_KEY not in builder.info.features:
    return [builder.as_data_source(split) for split in splits]
  backgrounds = BackgroundTable(builder.data_dir)
  return [WithBackgrounds(builder.as_data_source(split), backgrounds) for split in splits]


def open_split(builder, split: str):
  """One split of `builder`, as `open_splits` opens it."""
  return open_splits(builder, (split,))[0]
