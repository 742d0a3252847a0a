"""Image checks (decoding, format, bit depth, mode, one size per sample) and the one-line
`BadSampleError`s every reader raises (`_error`, `escape_control_characters`)."""
import io
from typing import NamedTuple

import numpy as np
from PIL import Image

from datasets import sources as sources_lib

BadSampleError = sources_lib.BadSampleError
FOLDERS = sources_lib.IMAGE_KEYS

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


class CheckedImage(NamedTuple):
  """An image that passed `check_image`: the bytes to store, its array, its size."""
  encoded: bytes
  array: np.ndarray | None  # Decoded uint8 H x W x 3, for bg and fg_bg only.
  size: tuple[int, int]  # (width, height).


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
  # A PNG may name a transparent colour (a tRNS chunk) without an alpha channel: PIL reads
  # it as RGB or L, OpenCV (TFDS's decoder where installed) adds an alpha channel. Stored
  # without the chunk, both read the pixels PIL reads.
  has_transparent_colour = 'transparency' in image.info
  if role in ('bg', 'fg_bg'):
    if mode != 'RGB':
      raise _error(f'{where}: {_describe_mode(mode)}; {role} must be an 8-bit '
                   'RGB image')
    pixels = np.array(image, dtype=np.uint8)
    if has_transparent_colour:
      data = sources_lib.encode_png(pixels)
    return CheckedImage(data, pixels, image.size)
  if mode == 'L':
    if has_transparent_colour:
      data = sources_lib.encode_png(np.array(image, dtype=np.uint8))
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
