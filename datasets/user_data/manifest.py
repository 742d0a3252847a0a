"""The CSV manifest layout: `CsvSource` and reading the manifest's rows."""
import csv
import dataclasses
import functools
import hashlib
import os
from typing import Any, NamedTuple

from datasets import sources as sources_lib
from datasets.user_data import images
from datasets.user_data import reading

CSV_COLUMNS = images.FOLDERS


class _ManifestRow(NamedTuple):
  line: int  # Line of the CSV where the row ends, for messages.
  paths: dict[str, str]  # Role -> path as written in the CSV.


@dataclasses.dataclass(frozen=True)
class CsvSource:
  """A CSV manifest: columns bg,fg_bg,mask,depth, paths relative to the CSV's folder."""
  path: str
  kind = 'csv'
  shares_backgrounds = True  # Many rows may name one bg file: each stored once.

  @property
  def _base(self) -> str:
    return os.path.dirname(self.path)

  def fingerprint(self) -> dict[str, Any]:
    """Kind, absolute path, and a digest of the CSV and its files' sizes and mtimes; where
    different bg files share a name, `bg_groups: 'path'` too, so that a set built when
    such files made one group is not reused for today's grouping (`background_groups`)."""
    fingerprint = dict(kind=self.kind, path=self.path, digest=self._fingerprint_digest)
    if self._bg_names_collide:
      fingerprint['bg_groups'] = 'path'
    return fingerprint

  @functools.cached_property
  def _fingerprinted_rows(self) -> list[_ManifestRow]:
    """The manifest's rows, read once for the fingerprint; none if it cannot be read
    (`entries` reports it; the CSV's own hash identifies it meanwhile)."""
    try:
      return _read_manifest(self.path)
    except images.BadSampleError:
      return []

  @functools.cached_property
  def _bg_names_collide(self) -> bool:
    files = _normalized([row.paths['bg'] for row in self._fingerprinted_rows]).values()
    return any(len(same_name) > 1 for same_name in _files_by_stem(files).values())

  @functools.cached_property
  def _fingerprint_digest(self) -> str:
    items = [('csv', hashlib.sha256(reading._read_file(self.path)).hexdigest())]
    rows = self._fingerprinted_rows
    for path in sorted({p for row in rows for p in row.paths.values()}):
      full = self._resolve(path)
      try:
        stat = os.stat(full) if full else None
        items.append((path, stat.st_size, stat.st_mtime_ns) if stat else (path,))
      except OSError:
        items.append((path, 'missing'))
    return reading._digest(items)

  def entries(self) -> list[sources_lib.Entry]:
    """One Entry per row, sorted by key (the fg_bg stem); whole-source problems raise."""
    index = reading._fresh_index(self, self._build_index)
    groups = background_groups([row.paths['bg'] for row in index.values()])
    return [sources_lib.Entry(key=key, group=groups[row.paths['bg']])
            for key, row in sorted(index.items())]

  def load(self, entry: sources_lib.Entry) -> sources_lib.LoadedSample:
    """Reads and checks the four files of `entry`'s row."""
    row = reading._cached_index(self, self._build_index).get(entry.key)
    if row is None:
      raise images._error(f'{self.path}: no row with fg_bg named {entry.key!r}')
    files = {}
    for role in images.FOLDERS:
      path = row.paths[role]
      if not path:
        raise images._error(f'{self.path} line {row.line}: empty {role} path')
      full = self._resolve(path)
      if full is None:
        raise images._error(
            f'{self.path} line {row.line}: {role} path {path!r} points outside the '
            f"CSV's folder {self._base}; paths must be relative to it and inside it")
      if not os.path.isfile(full):
        raise images._error(f'{full}: missing {role} file (listed in {self.path} '
                            f'line {row.line})')
      files[role] = (full, reading._read_file(full))
    return images._assemble(entry.key, files)

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
      raise images._error(f'{self.path}: no samples (only a header)')
    index = {}
    for row in rows:
      if not row.paths['fg_bg']:
        raise images._error(f'{self.path} line {row.line}: empty fg_bg path')
      key = _stem(row.paths['fg_bg'])
      if key in index:
        raise images._error(
            f'{self.path} line {row.line}: duplicate sample name {key!r} '
            f'({row.paths["fg_bg"]!r}, also on line {index[key].line} as '
            f'{index[key].paths["fg_bg"]!r}); fg_bg file stems must be unique')
      index[key] = row
    return index


def _stem(path: str) -> str:
  return os.path.splitext(os.path.basename(path))[0]


def background_groups(bg_paths: list[str]) -> dict[str, str]:
  """Each bg path of a manifest -> its background's group name: the file's stem, or,
  where different files share a stem (`a/bg.jpg`, `b/bg.jpg`, `b/bg.png`), the file's
  path, so that different files never make one group. Paths naming one file in
  different words (`./a/bg.jpg`, `a/bg.jpg`) make one group."""
  files = _normalized(bg_paths)
  files_by_stem = _files_by_stem(files.values())
  return {path: _stem(file) if len(files_by_stem[_stem(file)]) == 1 else file
          for path, file in files.items()}


def _files_by_stem(files) -> dict[str, set[str]]:
  """Each file stem -> the distinct files of that stem."""
  files_by_stem = {}
  for file in files:
    files_by_stem.setdefault(_stem(file), set()).add(file)
  return files_by_stem


def _normalized(paths: list[str]) -> dict[str, str]:
  """Each path -> the same path in one spelling ('./a//b.jpg' -> 'a/b.jpg'; '' stays)."""
  return {path: os.path.normpath(path).replace(os.sep, '/') if path else '' for path in paths}


def _read_manifest(path: str) -> list[_ManifestRow]:
  """The manifest's rows; a missing column or unreadable CSV is a BadSampleError."""
  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      reader = csv.reader(f)
      header = next(reader, None)
      if header is None:
        raise images._error(f'{path}: empty CSV; expected a header '
                            f'{",".join(CSV_COLUMNS)}')
      header = [name.strip() for name in header]
      missing = [name for name in CSV_COLUMNS if name not in header]
      if missing:
        raise images._error(
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
    raise images._error(f'{path}: not UTF-8 text ({images._error_text(error)})') from None
  except csv.Error as error:
    raise images._error(f'{path}: not a readable CSV ({images._error_text(error)})') from None
  except OSError as error:
    raise images._error(f'{path}: cannot read ({images._error_text(error)})') from None
