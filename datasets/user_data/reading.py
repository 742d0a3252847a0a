"""Reading files and zip members in place, each process's caches of open zips and source
indexes, and the digests of fingerprints."""
import hashlib
import os
import zipfile
from typing import Any

from datasets.user_data import images

# Per-process caches. Sources are pickled to worker processes, so they hold no open
# handle; each process opens a zip once and indexes a source once. The pid in the key
# keeps a forked child from sharing its parent's file position.
_OPEN_ZIPS: dict[tuple[str, int], tuple[tuple[int, int], zipfile.ZipFile]] = {}
_INDEXES: dict[tuple[Any, int], Any] = {}


def _digest(items) -> str:
  """A short hex digest of an iterable of tuples of str/int."""
  hasher = hashlib.sha256()
  for item in items:
    hasher.update(repr(item).encode('utf-8', 'surrogatepass'))
  return hasher.hexdigest()[:16]


def _open_zip(path: str) -> zipfile.ZipFile:
  """This process's open handle of the zip at `path`, reopened if the file changed."""
  try:
    stat = os.stat(path)
  except OSError as error:
    raise images._error(f'{path}: cannot read ({images._error_text(error)})') from None
  stamp = (stat.st_size, stat.st_mtime_ns)
  key = (path, os.getpid())
  cached = _OPEN_ZIPS.get(key)
  if cached and cached[0] == stamp:
    return cached[1]
  if cached:
    cached[1].close()
  try:
    handle = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError, EOFError) as error:
    raise images._error(f'{path}: not a readable zip file ({images._error_text(error)})') from None
  _OPEN_ZIPS[key] = (stamp, handle)
  return handle


def _read_member(zip_path: str, member: str) -> bytes:
  """One member's bytes; a damaged or unreadable member is a BadSampleError."""
  try:
    return _open_zip(zip_path).read(member)
  except images.BadSampleError:
    raise
  # zipfile raises BadZipFile (bad CRC), zlib.error, RuntimeError (encrypted),
  # NotImplementedError (compression method), EOFError, ...: all the member's fault.
  except Exception as error:  # pylint: disable=broad-except
    raise images._error(f'{zip_path}:{member}: cannot read from the zip '
                        f'({images._error_text(error)})') from None


def _read_file(path: str) -> bytes:
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as error:
    raise images._error(f'{path}: cannot read ({images._error_text(error)})') from None


def _cached_index(source, build):
  """This process's index of `source`, built by `build()` on first use."""
  key = (source, os.getpid())
  if key not in _INDEXES:
    _INDEXES[key] = build()
  return _INDEXES[key]


def _fresh_index(source, build):
  """Rebuilds `source`'s index (the files may have changed) and caches it."""
  _INDEXES[(source, os.getpid())] = build()
  return _INDEXES[(source, os.getpid())]
