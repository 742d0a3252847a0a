"""Which layout a path is: `from_path` returns the source for a folder, a zip, four zips or
a CSV manifest."""
import collections
import os
import zipfile

from datasets import naming
from datasets import sources as sources_lib
from datasets.user_data import images
from datasets.user_data import manifest
from datasets.user_data import named
from datasets.user_data import reading
from datasets.user_data import zips as zips_lib

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
    raise images._error(
        f'{path}: no such file or folder (data.source must be "synthetic" or the path '
        'of a folder, a .zip, a folder of four zips or a .csv manifest)')
  if os.path.isdir(path):
    return _from_folder(path)
  if path.lower().endswith('.csv'):
    return _from_csv(path)
  if path.lower().endswith('.zip') or zipfile.is_zipfile(path):
    return _from_zip(path)
  raise images._error(f'{path}: not a folder, a .zip or a .csv manifest')


def _from_folder(path: str) -> sources_lib.Source:
  """A folder of the four image folders, or of the four zips."""
  names = [name for name in os.listdir(path) if not naming.is_junk(name)]
  if not names:
    raise images._error(f'{path}: empty folder; expected bg/, fg_bg/, mask/, depth/ '
                        'folders or bg.zip, fg_bg.zip, mask.zip, depth.zip')
  folders = [f for f in images.FOLDERS if os.path.isdir(os.path.join(path, f))]
  zips = [f for f in images.FOLDERS if os.path.isfile(os.path.join(path, f + '.zip'))]
  if len(folders) == len(images.FOLDERS):
    return named.FolderSource(path)
  if len(zips) == len(images.FOLDERS):
    return zips_lib.ZipsSource(path, tuple(_zip_prefix(os.path.join(path, f + '.zip'), f)
                                           for f in images.FOLDERS))
  if folders or zips:
    found = [f + '/' for f in folders] + [f + '.zip' for f in zips]
    missing = ([f + '/' for f in images.FOLDERS if f not in folders] if len(folders) >= len(zips)
               else [f + '.zip' for f in images.FOLDERS if f not in zips])
    raise images._error(f'{path}: incomplete layout: has {", ".join(found)} but no '
                        f'{", ".join(missing)}')
  others = [name for name in sorted(names) if name.lower().endswith(('.zip', '.csv'))]
  hint = f' (to read {others[0]}, pass its own path)' if others else ''
  raise images._error(f'{path}: not a known layout: no bg/, fg_bg/, mask/, depth/ '
                      f'folders and no bg.zip, fg_bg.zip, mask.zip, depth.zip{hint}')


def _zip_prefix(zip_path: str, folder: str) -> str:
  """'<folder>/' if every file of the zip sits in that folder, else ''."""
  names = [n for n in reading._open_zip(zip_path).namelist() if not naming.is_junk(n)]
  inside = [n for n in names if n.startswith(folder + '/')]
  return folder + '/' if names and len(inside) == len(names) else ''


def _from_zip(path: str) -> zips_lib.ZipSource:
  """One zip of the four folders, at its top or inside one top-level folder."""
  names = [n for n in reading._open_zip(path).namelist() if not naming.is_junk(n)]
  if not [n for n in names if not n.endswith('/')]:
    raise images._error(f'{path}: empty zip; expected bg/, fg_bg/, mask/, depth/ '
                        'folders inside')
  children = collections.defaultdict(set)  # Prefix -> folder names right below it.
  for name in names:
    parts = name.split('/')
    if len(parts) >= 2:
      children[''].add(parts[0])
    if len(parts) >= 3:
      children[parts[0] + '/'].add(parts[1])
  complete = [prefix for prefix in sorted(children)
              if set(images.FOLDERS) <= children[prefix]]
  if complete:
    if len(complete) > 1 and '' not in complete:
      raise images._error(f'{path}: ambiguous: the four folders appear in '
                          f'{" and ".join(complete)}; keep one set')
    return zips_lib.ZipSource(path, '' if '' in complete else complete[0])
  best = max(children, key=lambda p: len(set(images.FOLDERS) & children[p]), default='')
  found = sorted(set(images.FOLDERS) & children[best])
  stem = os.path.splitext(os.path.basename(path))[0]
  if stem in images.FOLDERS:
    hint = (f'; {os.path.basename(path)} looks like one of the four zips bg.zip, '
            'fg_bg.zip, mask.zip, depth.zip: pass the folder holding all four')
  elif found:
    hint = (f'; found {", ".join(best + f + "/" for f in found)} but no '
            f'{", ".join(best + f + "/" for f in images.FOLDERS if f not in found)}')
  else:
    top = sorted({n.split('/')[0] + ('/' if '/' in n else '') for n in names})
    hint = f'; found {", ".join(top[:5])}{" ..." if len(top) > 5 else ""}'
  raise images._error(f'{path}: not the expected layout: no bg/, fg_bg/, mask/, depth/ '
                      f'folders at the top of the zip or inside one top-level folder'
                      f'{hint}')


def _from_csv(path: str) -> manifest.CsvSource:
  """A CSV manifest; its header is checked now, its rows by `entries` and `load`."""
  manifest._read_manifest(path)
  return manifest.CsvSource(path)
