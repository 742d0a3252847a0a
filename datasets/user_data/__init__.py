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
  them as palette indices or 0/1. A PNG that names a transparent colour (a tRNS chunk,
  no alpha channel) is re-encoded without it, because OpenCV would decode it with an
  alpha channel. Every other file is stored byte for byte as it is.
* The four images of a sample have one size.

Problems of one sample raise `BadSampleError` from `load` (the builder stops, or skips
with `on_bad_sample='skip'`): a missing, ambiguous, unreadable or wrong image, sizes
that differ, a CSV path that is missing or outside the CSV's folder. Problems of the
whole source raise `BadSampleError` from `from_path` or `entries`: a missing path, an
unknown layout, an empty folder or zip, a CSV without a column, junk in an image
folder, duplicate sample names, `fg_bg` names without the pattern. Every message is
one line that starts with the file (`path`, or `archive.zip:member`).

The modules, each importing only those listed before it:

* `images`: `check_image` (decoding, format, bit depth, mode), the one size of a sample's
  four images, `BadSampleError` and its one-line messages (`escape_control_characters`).
* `reading`: reading files and zip members, each process's open zips and source indexes,
  fingerprint digests.
* `named`: the layouts that pair files by the `fgAAA_bgBBB_NN` names, `FolderSource`.
* `zips`: `ZipSource` (the four folders in one zip), `ZipsSource` (four zips).
* `manifest`: `CsvSource`, the CSV manifest.
* `detect`: `from_path`, which tells the layouts apart.
"""
from datasets.user_data.detect import from_path
from datasets.user_data.images import BadSampleError
from datasets.user_data.images import CheckedImage
from datasets.user_data.images import FOLDERS
from datasets.user_data.images import check_image
from datasets.user_data.images import escape_control_characters
from datasets.user_data.manifest import CSV_COLUMNS
from datasets.user_data.manifest import CsvSource
from datasets.user_data.named import Entry
from datasets.user_data.named import FolderSource
from datasets.user_data.named import IMAGE_EXTENSIONS
from datasets.user_data.zips import ZipSource
from datasets.user_data.zips import ZipsSource
