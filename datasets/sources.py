"""Where samples come from: the types every source shares, and the synthetic classroom's.

A user's folders, zips or CSV are `datasets.user_data`'s sources, built on these types
(`user_data.from_path`); `datasets.make_source` picks one or the other from the config.
A source lists its samples as `Entry`s and loads one sample as encoded image bytes plus
the decoded `bg`/`fg_bg` arrays (for the dataset statistics). Sources are small frozen
dataclasses so that builder worker processes can receive them by pickling.
"""
import dataclasses
import functools
import hashlib
import io
import os
from typing import Any, Protocol

import numpy as np
from PIL import Image

from datasets import synthetic

IMAGE_KEYS = ('bg', 'fg_bg', 'mask', 'depth')


class BadSampleError(ValueError):
  """A sample that cannot be used; the message names the file and what is wrong."""


@dataclasses.dataclass(frozen=True)
class Entry:
  """One sample of a source: `key` names it uniquely, `group` is its background."""
  key: str
  group: str


@dataclasses.dataclass(frozen=True)
class LoadedSample:
  """One sample ready for the dataset writer.

  `encoded` maps each of IMAGE_KEYS to PNG or JPEG bytes (stored as they are);
  `bg` and `fg_bg` are the decoded uint8 arrays, used for the dataset statistics.
  """
  key: str
  encoded: dict[str, bytes]
  bg: np.ndarray
  fg_bg: np.ndarray


class Source(Protocol):
  """What the dataset builder needs from a source of samples.

  A source may also say `shares_backgrounds = True` (a user's own data, where many
  samples name one bg file): its dataset then stores each distinct background once.
  """

  def fingerprint(self) -> dict[str, Any]:
    """A JSON-able description that changes whenever the samples would change."""

  def entries(self) -> list[Entry]:
    """Every sample of the source, in a deterministic order."""

  def load(self, entry: Entry) -> LoadedSample:
    """Loads and checks one sample; raises BadSampleError naming the file."""


def encode_png(array: np.ndarray) -> bytes:
  """Encodes an H x W x C uint8 array (C = 1 or 3) as PNG bytes."""
  if array.ndim == 3 and array.shape[-1] == 1:
    array = array[..., 0]
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format='PNG', compress_level=1)
  return buffer.getvalue()


@functools.cache
def _renderer_digest() -> str:
  """A hash of the renderer's source: any change to a module that draws samples makes a
  new dataset (not the package's docstring and re-exports, nor the contact sheets)."""
  folder = os.path.dirname(synthetic.__file__)
  digest = hashlib.sha256()
  for name in sorted(os.listdir(folder)):
    if name.endswith('.py') and name not in ('__init__.py', 'previews.py'):
      with open(os.path.join(folder, name), 'rb') as f:
        digest.update(name.encode() + b'\0' + f.read())
  return digest.hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class SyntheticSource:
  """The procedural classroom of `datasets.synthetic`, rendered on the fly."""
  spec: synthetic.SyntheticSpec
  # Each sample's bg has its own sensor noise and camera shift: nothing to share.
  shares_backgrounds = False

  def fingerprint(self) -> dict[str, Any]:
    """The spec and the renderer's code identify the samples exactly."""
    return dict(kind='synthetic', renderer=_renderer_digest(),
                **dataclasses.asdict(self.spec))

  def entries(self) -> list[Entry]:
    """All samples in background-major order, so that backgrounds are rendered once."""
    result = []
    for index in range(synthetic.num_samples(self.spec)):
      bg_id = synthetic.sample_index_to_ids(self.spec, index)[0]
      result.append(Entry(key=f'{index:07d}', group=f'img_{bg_id:03d}'))
    return result

  def load(self, entry: Entry) -> LoadedSample:
    """Renders the sample with index `int(entry.key)`."""
    sample = synthetic.render_sample(self.spec, int(entry.key))
    encoded = {key: encode_png(sample[key]) for key in IMAGE_KEYS}
    return LoadedSample(key=sample['name'], encoded=encoded, bg=sample['bg'],
                        fg_bg=sample['fg_bg'])

