"""The original dataset's file naming, and pairing a user's images by it.

`fgAAA_bgBBB_NN.*` is the scene of background BBB with person AAA (the NN-th placement),
and `img_BBB.*` is background BBB: numbers compare as integers (`fg1_bg012_3` goes with
`img_12`). OS clutter (`.DS_Store`, `__MACOSX/`, `Thumbs.db`, ...) is skipped everywhere.
The dataset reader (`datasets.user_data`) and `--mode predict` both follow these rules.
"""
import collections
import dataclasses
import os
import re

FG_BG_NAME = re.compile(r'fg(\d+)_bg(\d+)_(\d+)', re.IGNORECASE)
BG_NAME = re.compile(r'img_(\d+)', re.IGNORECASE)
_JUNK_NAMES = frozenset({'thumbs.db', 'desktop.ini'})


def is_junk(name: str) -> bool:
  """Whether a file name (or a path inside a zip) is operating-system clutter."""
  parts = name.rstrip('/').split('/')
  return ('__MACOSX' in parts or parts[-1].startswith('.')
          or parts[-1].lower() in _JUNK_NAMES)


@dataclasses.dataclass(frozen=True)
class Pair:
  """One prediction to make: the output name and the two input files."""
  name: str
  bg: str
  fg_bg: str


def find_pairs(bg: str, fg_bg: str) -> tuple[list[Pair], list[tuple[str, str]]]:
  """Pairs every `fg_bg` image with its background.

  Args:
    bg: a background image (used for every `fg_bg`) or a folder of them.
    fg_bg: an image or a folder of them.

  Returns:
    (pairs, unpaired): with a `bg` folder, `fgAAA_bgBBB_NN.*` pairs with `img_BBB.*`
    (the original naming; numbers compare as integers), any other file with the `bg`
    file of the same name, else of the same stem; `unpaired` lists (file, reason) for
    the `fg_bg` files without one.
  """
  for flag, path in (('--bg', bg), ('--fg_bg', fg_bg)):
    if not os.path.exists(path):
      raise FileNotFoundError(f'{flag} {path}: no such file or folder')
  fg_files = list_files(fg_bg) if os.path.isdir(fg_bg) else [fg_bg]
  if not fg_files:
    raise ValueError(f'--fg_bg {fg_bg}: an empty folder')
  find_bg = _background_finder(bg)
  names = _output_names(fg_files)
  pairs, unpaired = [], []
  for fg_file in fg_files:
    bg_file = find_bg(fg_file)
    if bg_file is None:
      unpaired.append((fg_file, f'no background in {bg} (neither img_BBB.* for a '
                                'fgAAA_bgBBB_NN name nor a file of the same name)'))
    else:
      pairs.append(Pair(names[fg_file], bg_file, fg_file))
  return pairs, unpaired


def list_files(folder: str) -> list[str]:
  """The files directly in `folder`, sorted, without OS clutter (`.DS_Store`, ...)."""
  return sorted(entry.path for entry in os.scandir(folder)
                if entry.is_file() and not is_junk(entry.name))


def _background_finder(bg: str):
  """fg_bg path -> its background path or None."""
  if not os.path.isdir(bg):
    return lambda fg_file: bg
  by_name, by_stem, by_number = {}, {}, collections.defaultdict(list)
  for path in list_files(bg):
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    by_name[name] = path
    by_stem.setdefault(stem, path)
    match = BG_NAME.fullmatch(stem)
    if match:
      by_number[int(match.group(1))].append(path)

  def find(fg_file):
    name = os.path.basename(fg_file)
    stem = os.path.splitext(name)[0]
    match = FG_BG_NAME.fullmatch(stem)
    if match and by_number.get(int(match.group(2))):
      return by_number[int(match.group(2))][0]
    return by_name.get(name) or by_stem.get(stem)
  return find


def _output_names(files: list[str]) -> dict[str, str]:
  """File -> output name: its stem, or stem_ext where two files share a stem."""
  stems = collections.Counter(os.path.splitext(os.path.basename(f))[0] for f in files)
  names = {}
  for path in files:
    stem, extension = os.path.splitext(os.path.basename(path))
    names[path] = f'{stem}_{extension.lstrip(".")}' if stems[stem] > 1 else stem
  return names
