"""The layouts whose files pair by their `fgAAA_bgBBB_NN` names (`_NamedLayout`), and the
one of four folders (`FolderSource`)."""
import collections
import dataclasses
import functools
import os
from typing import Any

from datasets import naming
from datasets import sources as sources_lib
from datasets.user_data import images
from datasets.user_data import reading

Entry = sources_lib.Entry
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')

_EXPECTED_NAME = ('fgAAA_bgBBB_NN (digits, e.g. fg001_bg012_03.jpg, background '
                  'bg/img_012.jpg)')
_CSV_HINT = ('or describe the samples in a CSV manifest with columns bg,fg_bg,mask,depth '
             'and pass its path')
_EXTENSIONS_TEXT = '.jpg, .jpeg or .png'


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
  shares_backgrounds = True  # Many samples name one bg file: each stored once.

  def fingerprint(self) -> dict[str, Any]:
    """Kind, absolute path, and a digest of the names with sizes and mtimes or CRCs."""
    return dict(kind=self.kind, path=self.path, digest=self._fingerprint_digest)

  @functools.cached_property
  def _fingerprint_digest(self) -> str:
    # Cached on the instance: listing a large set takes seconds and the builder asks
    # several times. A new `from_path` sees changed files.
    return reading._digest(sorted(self._stamp()))

  def entries(self) -> list[Entry]:
    """Every `fg_bg` file as an Entry, sorted by key; whole-source problems raise."""
    index = reading._fresh_index(self, self._build_index)
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
    index = reading._cached_index(self, self._build_index)
    if entry.key not in index.fg_bg:
      raise images._error(f'{self._where("fg_bg", entry.key)}: no such fg_bg file')
    names = {'fg_bg': index.fg_bg[entry.key]}
    fg_where = self._where('fg_bg', names['fg_bg'])
    bg_number = naming.FG_BG_NAME.fullmatch(entry.key).group(2)
    names['bg'] = self._partner(index.backgrounds.get(int(bg_number), []), 'bg',
                                f'img_{bg_number}', fg_where)
    for role in ('mask', 'depth'):
      names[role] = self._partner(index.partners[role].get(entry.key, []), role,
                                  entry.key, fg_where)
    files = {role: (self._where(role, names[role]), self._read(role, names[role]))
             for role in images.FOLDERS}
    return images._assemble(entry.key, files)

  def _partner(self, candidates: list[str], role: str, stem: str, fg_where: str) -> str:
    if not candidates:
      raise images._error(f'{fg_where}: missing {role} partner: found no '
                          f'{self._where(role, stem)} with {_EXTENSIONS_TEXT}')
    if len(candidates) > 1:
      found = ' and '.join(self._where(role, name) for name in candidates)
      raise images._error(f'{fg_where}: ambiguous {role} partner: {found}; keep one')
    return candidates[0]

  def _build_index(self) -> _NameIndex:
    """Lists the four folders and checks the names; see the package docstring."""
    by_stem = {}
    for folder, names in self._list().items():
      stems = collections.defaultdict(list)
      for name in sorted(names):
        if naming.is_junk(name):
          continue
        if '/' in name:
          raise images._error(
              f'{self._where(folder, name)}: a sub-folder; {folder} images must sit '
              f'directly in {self._container(folder)} ({_CSV_HINT})')
        stem, extension = os.path.splitext(name)
        if extension.lower() not in IMAGE_EXTENSIONS:
          raise images._error(
              f'{self._where(folder, name)}: not an image file; {self._container(folder)}'
              f' may hold only {_EXTENSIONS_TEXT} files (remove or move this one)')
        stems[stem].append(name)
      if not stems:
        raise images._error(f'{self._container(folder)}: empty; expected {folder} '
                            f'images ({_EXTENSIONS_TEXT})')
      by_stem[folder] = stems
    fg_bg = {}
    for stem, names in by_stem['fg_bg'].items():
      if len(names) > 1:
        found = ' and '.join(self._where('fg_bg', name) for name in names)
        raise images._error(f'{found}: duplicate sample name {stem!r}; keep one')
      fg_bg[stem] = names[0]
    misnamed = [name for stem, name in sorted(fg_bg.items())
                if not naming.FG_BG_NAME.fullmatch(stem)]
    if misnamed:
      more = f' (and {len(misnamed) - 1} more)' if len(misnamed) > 1 else ''
      raise images._error(
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
    for folder in images.FOLDERS:
      with os.scandir(os.path.join(self.path, folder)) as scan:
        result[folder] = [entry.name + ('/' if entry.is_dir() else '') for entry in scan]
    return result

  def _read(self, folder: str, name: str) -> bytes:
    return reading._read_file(self._where(folder, name))

  def _where(self, folder: str, name: str) -> str:
    return os.path.join(self.path, folder, name)

  def _container(self, folder: str) -> str:
    return os.path.join(self.path, folder) + os.sep

  def _stamp(self):
    for folder in images.FOLDERS:
      with os.scandir(os.path.join(self.path, folder)) as scan:
        for entry in scan:
          stat = entry.stat()
          yield (folder, entry.name, stat.st_size, stat.st_mtime_ns)
