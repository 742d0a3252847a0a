"""A background's random choices: room, camera pose, wall decor, furniture and light."""
import math

import numpy as np

from datasets.synthetic import geometry
from datasets.synthetic import lighting
from datasets.synthetic import textures

# pylint: disable=protected-access

_PAINTS = np.array([
    [0.93, 0.90, 0.82], [0.95, 0.94, 0.89], [0.85, 0.90, 0.80],
    [0.82, 0.88, 0.93], [0.96, 0.91, 0.72], [0.93, 0.84, 0.79],
    [0.86, 0.86, 0.87], [0.90, 0.86, 0.94]])
_DADOS = np.array([
    [0.45, 0.58, 0.48], [0.40, 0.50, 0.66], [0.66, 0.56, 0.42],
    [0.56, 0.56, 0.60], [0.62, 0.40, 0.36]])
_WOODS = np.array([
    [0.72, 0.52, 0.32], [0.60, 0.42, 0.26], [0.80, 0.64, 0.44],
    [0.52, 0.36, 0.24]])
_TILES = np.array([
    [0.82, 0.82, 0.80], [0.70, 0.72, 0.70], [0.80, 0.76, 0.68],
    [0.55, 0.58, 0.60], [0.62, 0.54, 0.50]])
_LINOS = np.array([
    [0.50, 0.60, 0.55], [0.60, 0.54, 0.48], [0.48, 0.54, 0.66],
    [0.70, 0.66, 0.58]])
_BOARDS = np.array([[0.10, 0.24, 0.17], [0.12, 0.14, 0.13], [0.07, 0.19, 0.21]])
_DESK_TOPS = np.array([
    [0.82, 0.68, 0.48], [0.70, 0.54, 0.36], [0.86, 0.85, 0.80],
    [0.78, 0.80, 0.76]])
_METALS = np.array([[0.22, 0.22, 0.24], [0.58, 0.59, 0.61], [0.16, 0.28, 0.52]])
_CHAIRS = np.array([
    [0.15, 0.35, 0.72], [0.72, 0.16, 0.12], [0.92, 0.52, 0.10],
    [0.20, 0.52, 0.30], [0.30, 0.30, 0.33], [0.72, 0.55, 0.35]])
_INKS = np.array([[0.10, 0.12, 0.45], [0.08, 0.08, 0.09], [0.60, 0.10, 0.10]])


def _room_params(seed, bg_id):
  """Every random choice of one background: room, camera, decor, furniture, light."""
  rng = np.random.default_rng([seed, 0, bg_id])
  room = dict(width=rng.uniform(7.0, 9.5), depth=rng.uniform(8.0, 10.5),
              height=rng.uniform(2.8, 3.4))
  width = room['width']
  cam_x = rng.uniform(-0.2, 0.2) * width
  # The camera stands among the back rows (those behind it are out of view),
  # turned a little towards the middle of the room.
  camera = dict(origin=np.array([cam_x, rng.uniform(1.7, 2.3), rng.uniform(1.2, 2.6)]),
                yaw=-cam_x / width * rng.uniform(0.2, 0.5) + rng.uniform(-0.06, 0.06),
                pitch=math.radians(rng.uniform(9, 16)),
                hfov=math.radians(rng.uniform(52, 64)))
  window_side = int(rng.choice([-1, 1]))  # -1: windows on the left wall.
  floor_kind = str(rng.choice(['wood', 'tiles', 'lino']))
  floor = dict(kind=floor_kind, table=rng.uniform(size=(64, 64)),
               grain=rng.uniform(size=(32, 32)),
               plank=rng.uniform(0.12, 0.2), plank_len=rng.uniform(1.2, 2.2),
               tile=rng.uniform(0.3, 0.6), checker=rng.uniform() < 0.4,
               color=textures._pick(rng, dict(wood=_WOODS, tiles=_TILES,
                                              lino=_LINOS)[floor_kind]),
               color2=textures._pick(rng, _TILES) * 0.8,
               grout=textures._pick(rng, _TILES) * 0.6)
  walls = dict(paint=textures._pick(rng, _PAINTS, 0.03), dado=textures._pick(rng, _DADOS),
               dado_h=rng.uniform(0.9, 1.2) if rng.uniform() < 0.5 else 0.0,
               skirting=textures._pick(rng, _WOODS) * 0.6, noise=rng.uniform(size=(32, 32)))
  ceiling = dict(color=np.array([0.93, 0.93, 0.91]) * rng.uniform(0.95, 1.0),
                 tile=rng.uniform(0.58, 0.62))
  # Wall decor: painter's-order primitives in wall coordinates (u, v), that is
  # (x, y) on the back wall, (z, y) on the side walls and (x, z) on the ceiling.
  window_decor, windows = _window_decor(rng, room, window_side)
  decor = (_board_decor(rng, room) + window_decor + _door_wall_decor(rng, room, window_side)
           + _lamp_decor(rng, room))
  boxes, materials, seats, footprints = _furniture(rng, room, camera, window_side)
  return dict(room=room, camera=camera, floor=floor, walls=walls, ceiling=ceiling,
              decor=decor, boxes=boxes, materials=materials, seats=seats,
              footprints=footprints, light=_room_light(rng, room, window_side, windows),
              brightness=rng.uniform(0.45, 0.56))


def _board_decor(rng, room):
  """The black- or whiteboard with writing, a clock and posters: back wall."""
  board_w, board_h = rng.uniform(3.0, 4.4), rng.uniform(1.1, 1.3)
  board_x, board_y = rng.uniform(-0.6, 0.6), rng.uniform(0.85, 1.0)
  whiteboard = rng.uniform() < 0.4
  frame = np.array([0.75, 0.76, 0.78]) if whiteboard else textures._pick(rng, _WOODS)
  u0, u1, v0, v1 = board_x - board_w / 2, board_x + board_w / 2, board_y, board_y + board_h
  surface = np.array([0.93, 0.94, 0.94]) if whiteboard else textures._pick(rng, _BOARDS)
  ink = textures._pick(rng, _INKS) if whiteboard else np.array([0.80, 0.82, 0.80])
  decor = [
      ('rect', geometry._BACK, u0 - 0.06, u1 + 0.06, v0 - 0.06, v1 + 0.06, frame),
      ('rect', geometry._BACK, u0, u1, v0, v1, surface),
      ('text', geometry._BACK, u0 + 0.1, u1 - 0.1, v0 + 0.1, v1 - 0.1,
       _board_text(rng, u1 - u0 - 0.2, v1 - v0 - 0.2), ink),
      ('rect', geometry._BACK, u0 - 0.08, u1 + 0.08, v0 - 0.1, v0 - 0.04, frame),  # Tray.
  ]
  clock_x = board_x + rng.choice([-1, 1]) * rng.uniform(0, board_w / 2)
  decor.append(('disc', geometry._BACK, clock_x, v1 + 0.45, 0.18, np.array([0.1, 0.1, 0.1])))
  decor.append(('disc', geometry._BACK, clock_x, v1 + 0.45, 0.15, np.array([0.95, 0.95, 0.93])))
  for _ in range(rng.integers(0, 3)):  # Posters beside the board.
    px = rng.choice([-1, 1]) * rng.uniform(board_w / 2 + 0.5, room['width'] / 2 - 0.6)
    pw, ph, py = rng.uniform(0.4, 0.8), rng.uniform(0.5, 0.9), rng.uniform(1.2, 1.6)
    decor.append(('rect', geometry._BACK, px - pw / 2, px + pw / 2, py, py + ph,
                  textures._random_color(rng, value=(0.6, 1.0))))
    decor.append(('rect', geometry._BACK, px - pw / 3, px + pw / 3, py + ph * 0.45,
                  py + ph * 0.85, textures._random_color(rng)))
  return decor


def _window_decor(rng, room, window_side):
  """Windows with frames and a view of sky and trees on one side wall.

  Returns the decor and the window openings (z0, z1, y0, y1) for sunlight.
  """
  wall = geometry._LEFT if window_side < 0 else geometry._RIGHT
  count, width = rng.integers(3, 5), rng.uniform(1.2, 1.7)
  y0, y1 = rng.uniform(0.85, 1.0), min(rng.uniform(2.3, 2.6), room['height'] - 0.25)
  frame = textures._pick(rng, np.array([[0.92, 0.92, 0.90], [0.55, 0.56, 0.58],
                                        [0.50, 0.34, 0.22]]))
  sky = dict(top=np.array([0.62, 0.78, 0.98]) * rng.uniform(0.95, 1.1),
             bottom=np.array([0.90, 0.94, 0.98]),
             trees=rng.uniform(0.0, 0.45), noise=rng.uniform(size=(32, 32)),
             tree_color=np.array([0.22, 0.38, 0.20]) * rng.uniform(0.8, 1.3))
  decor, windows = [], []
  for zc in np.linspace(1.6, room['depth'] - 1.4, count):
    z0, z1 = zc - width / 2, zc + width / 2
    ym = y0 + 0.65 * (y1 - y0)
    windows.append((z0, z1, y0, y1))
    decor += [('rect', wall, z0 - 0.07, z1 + 0.07, y0 - 0.1, y1 + 0.06, frame),
              ('glass', wall, z0, z1, y0, y1, sky),
              ('rect', wall, zc - 0.03, zc + 0.03, y0, y1, frame),
              ('rect', wall, z0, z1, ym - 0.03, ym + 0.03, frame)]
  return decor, np.array(windows)


def _door_wall_decor(rng, room, window_side):
  """A door near the board and a notice board, on the wall facing the windows."""
  wall, depth = (geometry._RIGHT if window_side < 0 else geometry._LEFT), room['depth']
  door_z = depth - rng.uniform(0.6, 1.4)
  door = textures._pick(rng, np.array([[0.55, 0.36, 0.22], [0.62, 0.64, 0.66],
                                       [0.30, 0.45, 0.62]]))
  decor = [('rect', wall, door_z - 0.55, door_z + 0.55, 0.0, 2.2, door * 0.7),
           ('rect', wall, door_z - 0.47, door_z + 0.47, 0.0, 2.12, door),
           ('rect', wall, door_z - 0.25, door_z + 0.25, 1.3, 1.9,
            np.array([0.35, 0.42, 0.48]))]
  cork_z, cork_w = rng.uniform(1.5, max(1.6, depth - 4.5)), rng.uniform(1.2, 2.4)
  decor.append(('rect', wall, cork_z, cork_z + cork_w, 1.1, 2.1,
                np.array([0.66, 0.50, 0.32])))
  for _ in range(rng.integers(3, 8)):  # Notes pinned to it.
    pz, py = rng.uniform(cork_z + 0.1, cork_z + cork_w - 0.3), rng.uniform(1.2, 1.7)
    decor.append(('rect', wall, pz, pz + rng.uniform(0.15, 0.3), py,
                  py + rng.uniform(0.2, 0.35), textures._random_color(rng, (0.0, 0.5), (0.8, 1.0))))
  return decor


def _lamp_decor(rng, room):
  """A grid of glowing ceiling panels."""
  rows, cols = rng.integers(2, 4), rng.integers(2, 4)
  decor = []
  for i in range(rows):
    z = (i + 1) * room['depth'] / (rows + 1)
    for j in range(cols):
      x = (j + 1) * room['width'] / (cols + 1) - room['width'] / 2
      decor.append(('lamp', geometry._CEILING, x - 0.3, x + 0.3, z - 0.6, z + 0.6, None))
  return decor


def _room_light(rng, room, window_side, windows):
  """Colour temperature, ambient level, sunlight direction, the ceiling lamp."""
  warm = rng.uniform(-1, 1)
  tint = np.array([1 + 0.10 * warm, 1.0, 1 - 0.12 * warm])
  sun_dir = np.array([-window_side * rng.uniform(0.6, 1.2), -rng.uniform(0.5, 1.0),
                      rng.uniform(-0.5, 0.5)])
  return lighting._Light(tint=tint / tint.mean(), ambient=rng.uniform(0.45, 0.65),
                         sun=rng.uniform(0.0, 0.6) if rng.uniform() < 0.8 else 0.0,
                         sun_dir=sun_dir / np.linalg.norm(sun_dir),
                         window_x=window_side * room['width'] / 2, windows=windows,
                         lamp=rng.uniform(0.2, 0.5),
                         lamp_pos=np.array([rng.uniform(-1, 1), room['height'] - 0.1,
                                            room['depth'] * rng.uniform(0.3, 0.7)]))


def _board_text(rng, width, height, cell=0.035):
  """A bitmap of chalk or marker 'handwriting' lines for the board."""
  rows, cols = max(1, int(height / cell)), max(1, int(width / cell))
  bitmap = np.zeros((rows, cols), bool)
  line = int(rng.integers(1, 3))
  while line + 2 < rows:
    c = int(rng.integers(0, max(1, cols // 6)))
    end = int(rng.integers(cols // 3, cols)) if rng.uniform() < 0.85 else 0
    while c < end:
      word = int(rng.integers(2, 8))
      bitmap[line:line + 2, c:min(c + word, end)] = rng.uniform(
          size=(2, max(0, min(c + word, end) - c))) < 0.6
      c += word + 1
    line += int(rng.integers(4, 6))
  return bitmap


class _Boxes:
  """Furniture as axis-aligned boxes, each with an albedo and a wood flag."""

  def __init__(self):
    self.lo, self.hi, self.colors, self.wood = [], [], [], []

  def add(self, lo, hi, color, wood=False):
    """Adds the box from corner `lo` to corner `hi`."""
    self.lo.append(lo)
    self.hi.append(hi)
    self.colors.append(color)
    self.wood.append(wood)


def _furniture(rng, room, camera, window_side):
  """Rows of desks with chairs, a teacher's desk and a cabinet, as boxes.

  Returns (boxes (lo, hi) arrays, per-box materials (albedo, is_wood) arrays,
  chair seats (x, z, height) students can sit on, floor footprints
  (x0, x1, z0, z1) standing figures must keep clear of).
  """
  boxes = _Boxes()
  seats, footprints = _desk_rows(rng, room, camera, boxes)
  width, depth = room['width'], room['depth']
  # The teacher's desk, near the board.
  tx = rng.choice([-1, 1]) * rng.uniform(1.0, width / 2 - 1.2)
  tz = depth - rng.uniform(1.4, 1.8)
  wood = textures._pick(rng, _WOODS)
  boxes.add([tx - 0.75, 0.72, tz - 0.4], [tx + 0.75, 0.77, tz + 0.4], wood, True)
  boxes.add([tx - 0.72, 0.0, tz - 0.3], [tx + 0.72, 0.72, tz + 0.38], wood * 0.85, True)
  footprints.append((tx - 0.75, tx + 0.75, tz - 0.4, tz + 0.4))
  # A cabinet against the wall opposite the windows.
  length, height = rng.uniform(1.0, 2.0), rng.uniform(0.9, 2.0)
  z0 = rng.uniform(1.5, max(1.6, depth - 4.0))
  wall_x = -window_side * width / 2
  x0, x1 = sorted([wall_x, wall_x + window_side * 0.45])
  color = textures._pick(rng, np.vstack([_WOODS, _METALS[1:2], [[0.85, 0.85, 0.82]]]))
  boxes.add([x0, 0.0, z0], [x1, height, z0 + length], color, bool(rng.uniform() < 0.5))
  footprints.append((x0, x1, z0, z0 + length))
  return ((np.array(boxes.lo, np.float64), np.array(boxes.hi, np.float64)),
          (np.array(boxes.colors), np.array(boxes.wood)), seats, np.array(footprints))


def _desk_rows(rng, room, camera, boxes):
  """Adds rows of double desks, each with two chairs on the camera side.

  Students face the board (+z), so a chair stands in front of (nearer the
  camera than) its desk. Returns the seats and the footprints.
  """
  top_color, metal = textures._pick(rng, _DESK_TOPS), textures._pick(rng, _METALS)
  top_wood = bool(rng.uniform() < 0.6)
  chair_index = rng.integers(len(_CHAIRS))
  chair_color = _CHAIRS[chair_index] * rng.uniform(0.96, 1.04)
  chair_wood = bool(chair_index == len(_CHAIRS) - 1)
  desk_w, desk_d = rng.uniform(1.0, 1.3), rng.uniform(0.5, 0.6)
  desk_h, seat_h = rng.uniform(0.72, 0.78), rng.uniform(0.42, 0.46)
  span = room['width'] - 1.8
  cols = int(rng.integers(3, 5))
  while cols > 2 and cols * desk_w + (cols - 1) * 0.55 > span:
    cols -= 1
  gap = (span - cols * desk_w) / (cols - 1)
  pitch = rng.uniform(1.15, 1.35)
  front = room['depth'] - rng.uniform(2.3, 2.9)  # Far edge of the first row.
  seats, footprints = [], []
  for r in range(int(rng.integers(3, 6))):
    z0 = front - desk_d - r * pitch
    if z0 - 0.5 < camera['origin'][2] + 1.0:
      break  # The rows behind the camera are not in view.
    for c in range(cols):
      if rng.uniform() < 0.08:
        continue  # A missing desk now and then.
      x = -span / 2 + desk_w / 2 + c * (desk_w + gap)
      x0, x1, z1 = x - desk_w / 2, x + desk_w / 2, z0 + desk_d
      boxes.add([x0, desk_h - 0.035, z0], [x1, desk_h, z1], top_color, top_wood)
      for lx in (x0 + 0.03, x1 - 0.07):
        for lz in (z0 + 0.03, z1 - 0.07):
          boxes.add([lx, 0.0, lz], [lx + 0.04, desk_h - 0.035, lz + 0.04], metal)
      footprints.append((x0, x1, z0, z1))
      for side in (-1, 1):
        if rng.uniform() < 0.1:
          continue  # An empty place without a chair.
        cx, cz = x + side * desk_w / 4, z0 - 0.24
        boxes.add([cx - 0.2, seat_h - 0.03, cz - 0.2], [cx + 0.2, seat_h, cz + 0.2],
                  chair_color, chair_wood)
        boxes.add([cx - 0.2, seat_h + 0.12, cz - 0.23],
                  [cx + 0.2, seat_h + 0.42, cz - 0.19], chair_color, chair_wood)
        for lx in (cx - 0.19, cx + 0.16):
          boxes.add([lx, 0.0, cz + 0.16], [lx + 0.03, seat_h - 0.03, cz + 0.19], metal)
          boxes.add([lx, 0.0, cz - 0.22], [lx + 0.03, seat_h + 0.42, cz - 0.19], metal)
        seats.append((cx, cz, seat_h))
        footprints.append((cx - 0.22, cx + 0.22, cz - 0.24, cz + 0.22))
  return seats, footprints
