"""A user's own samples as `Source`s, read in place: a folder, a zip, four zips or a CSV.

Layouts (`from_path` tells them apart):

* `folder`: `ROOT/{bg,fg_bg,mask,depth}/`. A `fg_bg` file is named `fgAAA_bgBBB_NN`
  (digits, any count, any case) with extension `.jpg`, `.jpeg` or `.png`; its
  background is `bg/img_BBB.*` (numbers compare as integers, so `bg7` finds
  `img_007`; the naming is `datasets.naming`'s, which `--mode predict` pairs by too);
  its `mask` and `depth` carry its stem.
* `zip`: one `.zip` holding the four folders at its top or inside one top-level folder.
* `zips`: a folder holding `bg.zip`, `fg_bg.zip`, `mask.zip`, `depth.zip`, each with
  its images at its top or inside a folder of the zip's name.
* `csv`: a manifest with columns `bg,fg_bg,mask,depth` (other columns are ignored),
  paths relative to the CSV's folder and inside it; file names are free.

Zips are read with `zipfile`, never unpacked. A sample's key is its `fg_bg` file stem
(unique), its group the stem of its `bg` file.

Rules for files (README, "Your own data"):

* Junk is ignored silently: names starting with `.` (`.DS_Store`, `._x.jpg`),
  `Thumbs.db`, `desktop.ini` and anything under `__MACOSX/`. Any other file that is not
  `.jpg`/`.jpeg`/`.png` in one of the four image folders, or a sub-folder there, stops
  the build naming it: a stray file there is more often a mistake (a `.bmp` image, a
  half-copied folder) than something to drop quietly. Files next to the four folders
  are not looked at, nor are `mask`/`depth`/`bg` files that no `fg_bg` file uses.
* Images must be JPEG or PNG and decode completely. `bg` and `fg_bg` are 8-bit RGB
  (no alpha, not grayscale, not CMYK). `mask` and `depth` are 8-bit single-channel
  (mode `L`); a palette image whose used colours are all gray is accepted for both,
  and a 1-bit image for masks, both re-encoded as grayscale PNG because decoders read
  them as palette indices or 0/1. Every other file is stored byte for byte as it is.
* The four images of a sample have one size.

Problems of one sample raise `BadSampleError` from `load` (the builder stops, or skips
with `on_bad_sample='skip'`): a missing, ambiguous, unreadable or wrong image, sizes
that differ, a CSV path that is missing or outside the CSV's folder. Problems of the
whole source raise `BadSampleError` from `from_path` or `entries`: a missing path, an
unknown layout, an empty folder or zip, a CSV without a column, junk in an image
folder, duplicate sample names, `fg_bg` names without the pattern. Every message is
one line that starts with the file (`path`, or `archive.zip:member`).
"""
import collections
import csv
import dataclasses
import functools
import hashlib
import io
import os
import zipfile
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from datasets import naming
from datasets import sources as sources_lib

BadSampleError = sources_lib.BadSampleError
Entry = sources_lib.Entry
FOLDERS = sources_lib.IMAGE_KEYS
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
CSV_COLUMNS = FOLDERS

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_EXPECTED_NAME = ('fgAAA_bgBBB_NN (digits, e.g. fg001_bg012_03.jpg, background '
                  'bg/img_012.jpg)')
_CSV_HINT = ('or describe the samples in a CSV manifest with columns bg,fg_bg,mask,depth '
             'and pass its path')
_EXTENSIONS_TEXT = '.jpg, .jpeg or .png'

# Per-process caches. Sources are pickled to worker processes, so they hold no open
# handle; each process opens a zip once and indexes a source once. The pid in the key
# keeps a forked child from sharing its parent's file position.
_OPEN_ZIPS: dict[tuple[str, int], tuple[tuple[int, int], zipfile.ZipFile]] = {}
_INDEXES: dict[tuple[Any, int], Any] = {}


class CheckedImage(NamedTuple):
  """An image that passed `check_image`: the bytes to store, its array, its size."""
  encoded: bytes
  array: np.ndarray | None  # Decoded uint8 H x W x 3, for bg and fg_bg only.
  size: tuple[int, int]  # (width, height).


def from_path(path: str) -> sources_lib.Source:
  """The source for the user's data at `path`: a folder, a zip, four zips or a CSV.

  Args:
    path: a folder holding `bg/ fg_bg/ mask/ depth/` or the four zips `bg.zip ...`,
      a `.zip` of the four folders, or a `.csv` manifest.

  Returns:
    A `FolderSource`, `ZipSource`, `ZipsSource` or `CsvSource`.

  Raises:
    BadSampleError: the path is missing or none of the layouts (one line naming it).
  """
  path = os.path.abspath(os.path.expanduser(os.fspath(path)))
  if not os.path.exists(path):
    raise _error(
        f'{path}: no such file or folder (data.source must be "synthetic" or the path '
        'of a folder, a .zip, a folder of four zips or a .csv manifest)')
  if os.path.isdir(path):
    return _from_folder(path)
  if path.lower().endswith('.csv'):
    return _from_csv(path)
  if path.lower().endswith('.zip') or zipfile.is_zipfile(path):
    return _from_zip(path)
  raise _error(f'{path}: not a folder, a .zip or a .csv manifest')


def check_image(data: bytes, role: str, where: str) -> CheckedImage:
  """Decodes one image completely and checks it can serve as `role`.

  Args:
    data: the file's bytes.
    role: one of 'bg', 'fg_bg' (8-bit RGB), 'mask', 'depth' (8-bit single channel).
    where: the file's name for messages (`path` or `archive.zip:member`).

  Returns:
    The bytes to store (the original ones unless a mask or depth map had to be
    converted to grayscale), the decoded array for bg and fg_bg, and the size.

  Raises:
    BadSampleError: one line starting with `where` that says what is wrong.
  """
  if not data:
    raise _error(f'{where}: empty file (0 bytes)')
  _check_png_bit_depth(data, role, where)
  try:
    with Image.open(io.BytesIO(data)) as image:
      image_format = image.format
      image.load()
      if image_format not in ('JPEG', 'MPO', 'PNG'):
        raise _error(f'{where}: a {image_format} image; expected JPEG or PNG')
      return _check_mode(image, data, role, where)
  except BadSampleError:
    raise
  except Image.DecompressionBombError as error:
    raise _error(f'{where}: too large ({_error_text(error)})') from None
  # Corrupt files make PIL raise many kinds of errors (OSError, SyntaxError, struct.error,
  # IndexError, ...); each is this file's problem, not a bug.
  except Exception as error:  # pylint: disable=broad-except
    kind = _sniff(data)
    if kind is None:
      raise _error(f'{where}: not a JPEG or PNG image') from None
    detail = ('unreadable header' if isinstance(error, Image.UnidentifiedImageError)
              else _error_text(error))
    raise _error(f'{where}: corrupt or truncated {kind} ({detail})') from None


def _sniff(data: bytes) -> str | None:
  """'PNG' or 'JPEG' if `data` starts like one, else None."""
  if data.startswith(_PNG_SIGNATURE):
    return 'PNG'
  if data.startswith(b'\xff\xd8'):
    return 'JPEG'
  return None


def _check_png_bit_depth(data: bytes, role: str, where: str):
  """PNG bit depth 16 is refused: decoders disagree on reducing it to 8 bits."""
  if data.startswith(_PNG_SIGNATURE) and data[12:16] == b'IHDR' and len(data) > 24:
    if data[24] == 16:
      hint = (' (scale it to 0..255, 255 = nearest)' if role == 'depth' else '')
      raise _error(f'{where}: a 16-bit PNG; {role} must be 8-bit{hint}')


def _check_mode(image: Image.Image, data: bytes, role: str,
                where: str) -> CheckedImage:
  """Checks the decoded image's mode for `role`; see `check_image`."""
  mode = image.mode
  if role in ('bg', 'fg_bg'):
    if mode != 'RGB':
      raise _error(f'{where}: {_describe_mode(mode)}; {role} must be an 8-bit '
                   'RGB image')
    return CheckedImage(data, np.array(image, dtype=np.uint8), image.size)
  if mode == 'L':
    return CheckedImage(data, None, image.size)
  if (mode == 'P' and _is_gray_palette(image)) or (mode == '1' and role == 'mask'):
    return CheckedImage(sources_lib.encode_png(np.array(image.convert('L'))), None,
                        image.size)
  raise _error(f'{where}: {_describe_mode(mode)}; {role} must be an 8-bit '
               'single-channel (grayscale) image')


def _describe_mode(mode: str) -> str:
  """What a PIL mode means, for messages."""
  if mode in ('RGBA', 'LA', 'PA', 'RGBa', 'La'):
    return f'has an alpha channel (mode {mode})'
  if mode.startswith('I;16') or mode == 'I':
    return f'is 16/32-bit (mode {mode}), not 8-bit'
  return {
      'L': 'is grayscale (1 channel, mode L)',
      'RGB': 'has 3 channels (mode RGB)',
      'CMYK': 'is CMYK (mode CMYK)',
      'P': 'is a palette image with colours (mode P)',
      '1': 'is 1-bit (mode 1)',
      'F': 'is floating point (mode F), not 8-bit',
  }.get(mode, f'has mode {mode}')


def _is_gray_palette(image: Image.Image) -> bool:
  """Whether every palette colour the image uses is gray (r = g = b)."""
  palette = np.array(image.getpalette('RGB') or [], np.int32).reshape(-1, 3)
  used = np.unique(np.asarray(image))
  if used.size and used.max() >= len(palette):
    return False
  colours = palette[used]
  return bool(np.all(colours == colours[:, :1]))


def escape_control_characters(text: str) -> str:
  """`text` with control characters (newlines in file names, ...) escaped."""
  return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _error(message: str) -> BadSampleError:
  """A BadSampleError whose message stays one line whatever the file names hold."""
  return BadSampleError(escape_control_characters(message))


def _error_text(error: BaseException) -> str:
  """An exception's message on one line, its whitespace runs collapsed."""
  return ' '.join(str(error).split()) or 'no details'


def _assemble(key: str, files: dict[str, tuple[str, bytes]]) -> sources_lib.LoadedSample:
  """Checks the four images of one sample; `files` maps role -> (where, bytes)."""
  checked = {role: check_image(files[role][1], role, files[role][0]) for role in FOLDERS}
  size = checked['fg_bg'].size
  for role in FOLDERS:
    if checked[role].size != size:
      raise _error(
          f'{files[role][0]}: size {_size_text(checked[role].size)} differs from its '
          f'fg_bg {files["fg_bg"][0]} ({_size_text(size)}); the four images of a '
          'sample must have one size')
  return sources_lib.LoadedSample(
      key=key, encoded={role: checked[role].encoded for role in FOLDERS},
      bg=checked['bg'].array, fg_bg=checked['fg_bg'].array)


def _size_text(size: tuple[int, int]) -> str:
  return f'{size[0]}x{size[1]}'


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
    raise _error(f'{path}: cannot read ({_error_text(error)})') from None
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
    raise _error(f'{path}: not a readable zip file ({_error_text(error)})') from None
  _OPEN_ZIPS[key] = (stamp, handle)
  return handle


def _read_member(zip_path: str, member: str) -> bytes:
  """One member's bytes; a damaged or unreadable member is a BadSampleError."""
  try:
    return _open_zip(zip_path).read(member)
  except BadSampleError:
    raise
  # zipfile raises BadZipFile (bad CRC), zlib.error, RuntimeError (encrypted),
  # NotImplementedError (compression method), EOFError, ...: all the member's fault.
  except Exception as error:  # pylint: disable=broad-except
    raise _error(f'{zip_path}:{member}: cannot read from the zip '
                 f'({_error_text(error)})') from None


def _read_file(path: str) -> bytes:
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as error:
    raise _error(f'{path}: cannot read ({_error_text(error)})') from None


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


@dataclasses.dataclass(frozen=True)
class _NameIndex:
  """Which file plays which part, for the layouts that pair files by name."""
  fg_bg: dict[str, str]  # Sample key (stem) -> fg_bg file name.
  partners: dict[str, dict[str, list[str]]]  # 'mask'/'depth' -> stem -> file names.
  backgrounds: dict[int, list[str]]  # BBB as a number -> bg file names.


class _NamedLayout:
  """The folder, zip and zips layouts: files paired by the `fgAAA_bgBBB_NN` names.

  Subclasses say how to list and read the four folders: `_list()` maps each folder to
  the names inside it ('sub/' for a sub-folder), `_read(folder, name)` returns bytes,
  `_where(folder, name)` names a file for messages, `_container(folder)` names the
  folder itself, `_stamp()` yields tuples that change when the files change.
  """
  kind = ''

  def fingerprint(self) -> dict[str, Any]:
    """Kind, absolute path, and a digest of the names with sizes and mtimes or CRCs."""
    return dict(kind=self.kind, path=self.path, digest=self._fingerprint_digest)

  @functools.cached_property
  def _fingerprint_digest(self) -> str:
    # Cached on the instance: listing a large set takes seconds and the builder asks
    # several times. A new `from_path` sees changed files.
    return _digest(sorted(self._stamp()))

  def entries(self) -> list[Entry]:
    """Every `fg_bg` file as an Entry, sorted by key; whole-source problems raise."""
    index = _fresh_index(self, self._build_index)
    result = []
    for key in sorted(index.fg_bg):
      bg_number = naming.FG_BG_NAME.fullmatch(key).group(2)
      backgrounds = index.backgrounds.get(int(bg_number))
      group = (os.path.splitext(backgrounds[0])[0] if backgrounds
               else f'img_{bg_number}')
      result.append(Entry(key=key, group=group))
    return result

  def load(self, entry: Entry) -> sources_lib.LoadedSample:
    """Reads and checks the four files of `entry`; raises BadSampleError naming one."""
    index = _cached_index(self, self._build_index)
    if entry.key not in index.fg_bg:
      raise _error(f'{self._where("fg_bg", entry.key)}: no such fg_bg file')
    names = {'fg_bg': index.fg_bg[entry.key]}
    fg_where = self._where('fg_bg', names['fg_bg'])
    bg_number = naming.FG_BG_NAME.fullmatch(entry.key).group(2)
    names['bg'] = self._partner(index.backgrounds.get(int(bg_number), []), 'bg',
                                f'img_{bg_number}', fg_where)
    for role in ('mask', 'depth'):
      names[role] = self._partner(index.partners[role].get(entry.key, []), role,
                                  entry.key, fg_where)
    files = {role: (self._where(role, names[role]), self._read(role, names[role]))
             for role in FOLDERS}
    return _assemble(entry.key, files)

  def _partner(self, candidates: list[str], role: str, stem: str, fg_where: str) -> str:
    if not candidates:
      raise _error(f'{fg_where}: missing {role} partner: found no '
                   f'{self._where(role, stem)} with {_EXTENSIONS_TEXT}')
    if len(candidates) > 1:
      found = ' and '.join(self._where(role, name) for name in candidates)
      raise _error(f'{fg_where}: ambiguous {role} partner: {found}; keep one')
    return candidates[0]

  def _build_index(self) -> _NameIndex:
    """Lists the four folders and checks the names; see the module docstring."""
    by_stem = {}
    for folder, names in self._list().items():
      stems = collections.defaultdict(list)
      for name in sorted(names):
        if naming.is_junk(name):
          continue
        if '/' in name:
          raise _error(
              f'{self._where(folder, name)}: a sub-folder; {folder} images must sit '
              f'directly in {self._container(folder)} ({_CSV_HINT})')
        stem, extension = os.path.splitext(name)
        if extension.lower() not in IMAGE_EXTENSIONS:
          raise _error(
              f'{self._where(folder, name)}: not an image file; {self._container(folder)}'
              f' may hold only {_EXTENSIONS_TEXT} files (remove or move this one)')
        stems[stem].append(name)
      if not stems:
        raise _error(f'{self._container(folder)}: empty; expected {folder} '
                     f'images ({_EXTENSIONS_TEXT})')
      by_stem[folder] = stems
    fg_bg = {}
    for stem, names in by_stem['fg_bg'].items():
      if len(names) > 1:
        found = ' and '.join(self._where('fg_bg', name) for name in names)
        raise _error(f'{found}: duplicate sample name {stem!r}; keep one')
      fg_bg[stem] = names[0]
    misnamed = [name for stem, name in sorted(fg_bg.items())
                if not naming.FG_BG_NAME.fullmatch(stem)]
    if misnamed:
      more = f' (and {len(misnamed) - 1} more)' if len(misnamed) > 1 else ''
      raise _error(
          f'{self._where("fg_bg", misnamed[0])}{more}: name does not follow '
          f'{_EXPECTED_NAME}; rename the files {_CSV_HINT}')
    backgrounds = collections.defaultdict(list)
    for stem, names in by_stem['bg'].items():
      match = naming.BG_NAME.fullmatch(stem)
      if match:
        backgrounds[int(match.group(1))].extend(names)
    return _NameIndex(fg_bg=fg_bg, backgrounds=dict(backgrounds),
                      partners={role: dict(by_stem[role]) for role in ('mask', 'depth')})


@dataclasses.dataclass(frozen=True)
class FolderSource(_NamedLayout):
  """`path/{bg,fg_bg,mask,depth}/`, files paired by name."""
  path: str
  kind = 'folder'

  def _list(self) -> dict[str, list[str]]:
    result = {}
    for folder in FOLDERS:
      with os.scandir(os.path.join(self.path, folder)) as scan:
        result[folder] = [entry.name + ('/' if entry.is_dir() else '') for entry in scan]
    return result

  def _read(self, folder: str, name: str) -> bytes:
    return _read_file(self._where(folder, name))

  def _where(self, folder: str, name: str) -> str:
    return os.path.join(self.path, folder, name)

  def _container(self, folder: str) -> str:
    return os.path.join(self.path, folder) + os.sep

  def _stamp(self):
    for folder in FOLDERS:
      with os.scandir(os.path.join(self.path, folder)) as scan:
        for entry in scan:
          stat = entry.stat()
          yield (folder, entry.name, stat.st_size, stat.st_mtime_ns)


@dataclasses.dataclass(frozen=True)
class ZipSource(_NamedLayout):
  """One zip holding `{bg,fg_bg,mask,depth}/` under `prefix` ('' or 'top/')."""
  path: str
  prefix: str = ''
  kind = 'zip'

  def _list(self) -> dict[str, list[str]]:
    result = {folder: [] for folder in FOLDERS}
    for name in _open_zip(self.path).namelist():
      if not name.startswith(self.prefix):
        continue
      folder, _, rest = name[len(self.prefix):].partition('/')
      if folder in result and rest:
        result[folder].append(rest)
    return result

  def _read(self, folder: str, name: str) -> bytes:
    return _read_member(self.path, f'{self.prefix}{folder}/{name}')

  def _where(self, folder: str, name: str) -> str:
    return f'{self.path}:{self.prefix}{folder}/{name}'

  def _container(self, folder: str) -> str:
    return f'{self.path}:{self.prefix}{folder}/'

  def _stamp(self):
    for info in _open_zip(self.path).infolist():
      yield (info.filename, info.CRC, info.file_size)


@dataclasses.dataclass(frozen=True)
class ZipsSource(_NamedLayout):
  """A folder of `bg.zip`, `fg_bg.zip`, `mask.zip`, `depth.zip`, paired by name.

  `prefixes[i]` is where FOLDERS[i]'s images sit in its zip: '' or '<folder>/'.
  """
  path: str
  prefixes: tuple[str, ...] = ('', '', '', '')
  kind = 'zips'

  def _zip_path(self, folder: str) -> str:
    return os.path.join(self.path, f'{folder}.zip')

  def _prefix(self, folder: str) -> str:
    return self.prefixes[FOLDERS.index(folder)]

  def _list(self) -> dict[str, list[str]]:
    result = {}
    for folder in FOLDERS:
      prefix = self._prefix(folder)
      result[folder] = [name[len(prefix):]
                        for name in _open_zip(self._zip_path(folder)).namelist()
                        if name.startswith(prefix) and name != prefix]
    return result

  def _read(self, folder: str, name: str) -> bytes:
    return _read_member(self._zip_path(folder), self._prefix(folder) + name)

  def _where(self, folder: str, name: str) -> str:
    return f'{self._zip_path(folder)}:{self._prefix(folder)}{name}'

  def _container(self, folder: str) -> str:
    prefix = self._prefix(folder)
    return f'{self._zip_path(folder)}' + (f':{prefix}' if prefix else '')

  def _stamp(self):
    for folder in FOLDERS:
      for info in _open_zip(self._zip_path(folder)).infolist():
        yield (folder, info.filename, info.CRC, info.file_size)


class _ManifestRow(NamedTuple):
  line: int  # Line of the CSV where the row ends, for messages.
  paths: dict[str, str]  # Role -> path as written in the CSV.


@dataclasses.dataclass(frozen=True)
class CsvSource:
  """A CSV manifest: columns bg,fg_bg,mask,depth, paths relative to the CSV's folder."""
  path: str
  kind = 'csv'

  @property
  def _base(self) -> str:
    return os.path.dirname(self.path)

  def fingerprint(self) -> dict[str, Any]:
    """Kind, absolute path, and a digest of the CSV and its files' sizes and mtimes."""
    return dict(kind=self.kind, path=self.path, digest=self._fingerprint_digest)

  @functools.cached_property
  def _fingerprint_digest(self) -> str:
    items = [('csv', hashlib.sha256(_read_file(self.path)).hexdigest())]
    try:
      rows = _read_manifest(self.path)
    except BadSampleError:
      rows = []  # `entries` reports it; the CSV's own hash identifies it meanwhile.
    for path in sorted({p for row in rows for p in row.paths.values()}):
      full = self._resolve(path)
      try:
        stat = os.stat(full) if full else None
        items.append((path, stat.st_size, stat.st_mtime_ns) if stat else (path,))
      except OSError:
        items.append((path, 'missing'))
    return _digest(items)

  def entries(self) -> list[Entry]:
    """One Entry per row, sorted by key (the fg_bg stem); whole-source problems raise."""
    index = _fresh_index(self, self._build_index)
    return [Entry(key=key, group=_stem(row.paths['bg']))
            for key, row in sorted(index.items())]

  def load(self, entry: Entry) -> sources_lib.LoadedSample:
    """Reads and checks the four files of `entry`'s row."""
    row = _cached_index(self, self._build_index).get(entry.key)
    if row is None:
      raise _error(f'{self.path}: no row with fg_bg named {entry.key!r}')
    files = {}
    for role in FOLDERS:
      path = row.paths[role]
      if not path:
        raise _error(f'{self.path} line {row.line}: empty {role} path')
      full = self._resolve(path)
      if full is None:
        raise _error(
            f'{self.path} line {row.line}: {role} path {path!r} points outside the '
            f"CSV's folder {self._base}; paths must be relative to it and inside it")
      if not os.path.isfile(full):
        raise _error(f'{full}: missing {role} file (listed in {self.path} '
                     f'line {row.line})')
      files[role] = (full, _read_file(full))
    return _assemble(entry.key, files)

  def _resolve(self, path: str) -> str | None:
    """The absolute path of a CSV cell, or None if it is empty or leaves the folder."""
    if not path or os.path.isabs(path):
      return None
    full = os.path.normpath(os.path.join(self._base, path))
    if os.path.commonpath([self._base, full]) != self._base:
      return None
    return full

  def _build_index(self) -> dict[str, _ManifestRow]:
    rows = _read_manifest(self.path)
    if not rows:
      raise _error(f'{self.path}: no samples (only a header)')
    index = {}
    for row in rows:
      if not row.paths['fg_bg']:
        raise _error(f'{self.path} line {row.line}: empty fg_bg path')
      key = _stem(row.paths['fg_bg'])
      if key in index:
        raise _error(
            f'{self.path} line {row.line}: duplicate sample name {key!r} '
            f'({row.paths["fg_bg"]!r}, also on line {index[key].line} as '
            f'{index[key].paths["fg_bg"]!r}); fg_bg file stems must be unique')
      index[key] = row
    return index


def _stem(path: str) -> str:
  return os.path.splitext(os.path.basename(path))[0]


def _read_manifest(path: str) -> list[_ManifestRow]:
  """The manifest's rows; a missing column or unreadable CSV is a BadSampleError."""
  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      reader = csv.reader(f)
      header = next(reader, None)
      if header is None:
        raise _error(f'{path}: empty CSV; expected a header '
                     f'{",".join(CSV_COLUMNS)}')
      header = [name.strip() for name in header]
      missing = [name for name in CSV_COLUMNS if name not in header]
      if missing:
        raise _error(
            f'{path}: missing column{"s" if len(missing) > 1 else ""} '
            f'{", ".join(missing)}; the header must name {",".join(CSV_COLUMNS)} '
            f'(found: {",".join(header)})')
      columns = {name: header.index(name) for name in CSV_COLUMNS}
      rows = []
      for cells in reader:
        if not any(cells):
          continue
        cells += [''] * (len(header) - len(cells))
        rows.append(_ManifestRow(reader.line_num,
                                 {name: cells[i] for name, i in columns.items()}))
      return rows
  except UnicodeDecodeError as error:
    raise _error(f'{path}: not UTF-8 text ({_error_text(error)})') from None
  except csv.Error as error:
    raise _error(f'{path}: not a readable CSV ({_error_text(error)})') from None
  except OSError as error:
    raise _error(f'{path}: cannot read ({_error_text(error)})') from None


def _from_folder(path: str) -> sources_lib.Source:
  """A folder of the four image folders, or of the four zips."""
  names = [name for name in os.listdir(path) if not naming.is_junk(name)]
  if not names:
    raise _error(f'{path}: empty folder; expected bg/, fg_bg/, mask/, depth/ '
                 'folders or bg.zip, fg_bg.zip, mask.zip, depth.zip')
  folders = [f for f in FOLDERS if os.path.isdir(os.path.join(path, f))]
  zips = [f for f in FOLDERS if os.path.isfile(os.path.join(path, f + '.zip'))]
  if len(folders) == len(FOLDERS):
    return FolderSource(path)
  if len(zips) == len(FOLDERS):
    return ZipsSource(path, tuple(_zip_prefix(os.path.join(path, f + '.zip'), f)
                                  for f in FOLDERS))
  if folders or zips:
    found = [f + '/' for f in folders] + [f + '.zip' for f in zips]
    missing = ([f + '/' for f in FOLDERS if f not in folders] if len(folders) >= len(zips)
               else [f + '.zip' for f in FOLDERS if f not in zips])
    raise _error(f'{path}: incomplete layout: has {", ".join(found)} but no '
                 f'{", ".join(missing)}')
  others = [name for name in sorted(names) if name.lower().endswith(('.zip', '.csv'))]
  hint = f' (to read {others[0]}, pass its own path)' if others else ''
  raise _error(f'{path}: not a known layout: no bg/, fg_bg/, mask/, depth/ '
               f'folders and no bg.zip, fg_bg.zip, mask.zip, depth.zip{hint}')


def _zip_prefix(zip_path: str, folder: str) -> str:
  """'<folder>/' if every file of the zip sits in that folder, else ''."""
  names = [n for n in _open_zip(zip_path).namelist() if not naming.is_junk(n)]
  inside = [n for n in names if n.startswith(folder + '/')]
  return folder + '/' if names and len(inside) == len(names) else ''


def _from_zip(path: str) -> ZipSource:
  """One zip of the four folders, at its top or inside one top-level folder."""
  names = [n for n in _open_zip(path).namelist() if not naming.is_junk(n)]
  if not [n for n in names if not n.endswith('/')]:
    raise _error(f'{path}: empty zip; expected bg/, fg_bg/, mask/, depth/ '
                 'folders inside')
  children = collections.defaultdict(set)  # Prefix -> folder names right below it.
  for name in names:
    parts = name.split('/')
    if len(parts) >= 2:
      children[''].add(parts[0])
    if len(parts) >= 3:
      children[parts[0] + '/'].add(parts[1])
  complete = [prefix for prefix in sorted(children)
              if set(FOLDERS) <= children[prefix]]
  if complete:
    if len(complete) > 1 and '' not in complete:
      raise _error(f'{path}: ambiguous: the four folders appear in '
                   f'{" and ".join(complete)}; keep one set')
    return ZipSource(path, '' if '' in complete else complete[0])
  best = max(children, key=lambda p: len(set(FOLDERS) & children[p]), default='')
  found = sorted(set(FOLDERS) & children[best])
  stem = os.path.splitext(os.path.basename(path))[0]
  if stem in FOLDERS:
    hint = (f'; {os.path.basename(path)} looks like one of the four zips bg.zip, '
            'fg_bg.zip, mask.zip, depth.zip: pass the folder holding all four')
  elif found:
    hint = (f'; found {", ".join(best + f + "/" for f in found)} but no '
            f'{", ".join(best + f + "/" for f in FOLDERS if f not in found)}')
  else:
    top = sorted({n.split('/')[0] + ('/' if '/' in n else '') for n in names})
    hint = f'; found {", ".join(top[:5])}{" ..." if len(top) > 5 else ""}'
  raise _error(f'{path}: not the expected layout: no bg/, fg_bg/, mask/, depth/ '
               f'folders at the top of the zip or inside one top-level folder'
               f'{hint}')


def _from_csv(path: str) -> CsvSource:
  """A CSV manifest; its header is checked now, its rows by `entries` and `load`."""
  _read_manifest(path)
  return CsvSource(path)
