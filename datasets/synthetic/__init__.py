"""Procedurally rendered classroom scenes with exact masks and depth.

The embedded default data source (README, "The synthetic classroom"). It has
the combinatorics of the original 400K composited set, backgrounds x foregrounds x
{plain, flipped} x placements, but every image is ray cast here, so the ground
truth is exact:

* A background is a room seen through a pinhole camera: floor, walls, ceiling, a
  black- or whiteboard on the back wall, windows on a side wall, rows of desks
  and chairs (axis-aligned boxes). Textures, paint, lighting and the camera vary
  per background. It is rendered once (3x3 supersampled) and cached.
* A foreground is a person made of ellipsoids (a seated or standing student, or
  a standing teacher) with its own clothes, skin, hair and pose. The flipped
  variant is its mirror image (the 3D figure and its clothes pattern mirrored).
* A placement puts the figure on the floor (or on a chair) somewhere in view and
  ray casts it in the same camera, z-buffered against the room, so desks in
  front hide it. The mask is its visible part; the depth is the true z-depth.

`fg_bg` and `bg` then get capture nuisances a real pair of photos has (exposure
and white balance, sensor noise, JPEG, a sub-pixel camera shift, the figure's
shadow), each with a level where 0 turns it off. Labels stay exact: mask and
depth always describe `fg_bg`'s camera and geometry.

Only numpy and pillow; everything is deterministic from `SyntheticSpec.seed`,
whatever the order of calls or the process.

    spec = SyntheticSpec(num_backgrounds=100, num_foregrounds=100, placements=20)
    num_samples(spec)                    # 400_000, background-major order
    sample = render_sample(spec, 12345)  # bg, fg_bg, mask, depth, name, bg_name
    contact_sheet([sample], '/tmp/preview.png')

Depth is stored as nearness: `depth_to_nearness` and `nearness_to_depth` convert
between metres and uint8 over the fixed range [NEAR_M, FAR_M].

The modules, each importing only those listed before it:

* `spec`: SyntheticSpec, sample indices, ids and names, metres <-> nearness.
* `geometry`: the pinhole camera, rotations, ray casting the room and boxes.
* `textures`: random colours and value noise.
* `lighting`: ambient light, sunlight through the windows, the ceiling lamp.
* `rooms`: a background's random choices (room, camera, decor, furniture, light).
* `backgrounds`: surface materials, the supersampled render and its cache,
  `render_background`.
* `figures`: people made of ellipsoids; ray casting and shading them.
* `placement`: where a figure stands or sits in a background.
* `capture`: the figure's shadow, the JPEG round trip, rounding to uint8.
* `samples`: `render_sample` (which also applies exposure, noise and the camera
  shift), `render_foreground`, `clear_caches`.
* `previews`: `contact_sheet`.
"""
from datasets.synthetic.backgrounds import render_background
from datasets.synthetic.previews import contact_sheet
from datasets.synthetic.samples import clear_caches
from datasets.synthetic.samples import render_foreground
from datasets.synthetic.samples import render_sample
from datasets.synthetic.spec import FAR_M
from datasets.synthetic.spec import NEAR_M
from datasets.synthetic.spec import SyntheticSpec
from datasets.synthetic.spec import background_name
from datasets.synthetic.spec import depth_to_nearness
from datasets.synthetic.spec import nearness_to_depth
from datasets.synthetic.spec import num_samples
from datasets.synthetic.spec import sample_index_to_ids
from datasets.synthetic.spec import sample_name
from datasets.synthetic.spec import validate_spec
