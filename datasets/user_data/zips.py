"""The zip layouts: the four folders inside one zip (`ZipSource`), four zips side by side
(`ZipsSource`)."""
import dataclasses
import os

from datasets.user_data import images
from datasets.user_data import named
from datasets.user_data import reading

@dataclasses.dataclass(frozen=True)
class ZipSource(named._NamedLayout):
  """One zip holding `{bg,fg_bg,mask,depth}/` under `prefix` ('' or 'top/')."""
  path: str
  prefix: str = ''
  kind = 'zip'

  def _list(self) -> dict[str, list[str]]:
    result = {folder: [] for folder in images.FOLDERS}
    for name in reading._open_zip(self.path).namelist():
      if not name.startswith(self.prefix):
        continue
      folder, _, rest = name[len(self.prefix):].partition('/')
      if folder in result and rest:
        result[folder].append(rest)
    return result

  def _read(self, folder: str, name: str) -> bytes:
    return reading._read_member(self.path, f'{self.prefix}{folder}/{name}')

  def _where(self, folder: str, name: str) -> str:
    return f'{self.path}:{self.prefix}{folder}/{name}'

  def _container(self, folder: str) -> str:
    return f'{self.path}:{self.prefix}{folder}/'

  def _stamp(self):
    for info in reading._open_zip(self.path).infolist():
      yield (info.filename, info.CRC, info.file_size)


@dataclasses.dataclass(frozen=True)
class ZipsSource(named._NamedLayout):
  """A folder of `bg.zip`, `fg_bg.zip`, `mask.zip`, `depth.zip`, paired by name.

  `prefixes[i]` is where FOLDERS[i]'s images sit in its zip: '' or '<folder>/'.
  """
  path: str
  prefixes: tuple[str, ...] = ('', '', '', '')
  kind = 'zips'

  def _zip_path(self, folder: str) -> str:
    return os.path.join(self.path, f'{folder}.zip')

  def _prefix(self, folder: str) -> str:
    return self.prefixes[images.FOLDERS.index(folder)]

  def _list(self) -> dict[str, list[str]]:
    result = {}
    for folder in images.FOLDERS:
      prefix = self._prefix(folder)
      result[folder] = [name[len(prefix):]
                        for name in reading._open_zip(self._zip_path(folder)).namelist()
                        if name.startswith(prefix) and name != prefix]
    return result

  def _read(self, folder: str, name: str) -> bytes:
    return reading._read_member(self._zip_path(folder), self._prefix(folder) + name)

  def _where(self, folder: str, name: str) -> str:
    return f'{self._zip_path(folder)}:{self._prefix(folder)}{name}'

  def _container(self, folder: str) -> str:
    prefix = self._prefix(folder)
    return f'{self._zip_path(folder)}' + (f':{prefix}' if prefix else '')

  def _stamp(self):
    for folder in images.FOLDERS:
      for info in reading._open_zip(self._zip_path(folder)).infolist():
        yield (folder, info.filename, info.CRC, info.file_size)
