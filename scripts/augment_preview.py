"""Writes a PNG grid of one synthetic sample under each augmentation a config lists.

  python scripts/augment_preview.py                        # docs/augment.png, configs/cnn.py
  python scripts/augment_preview.py --config configs/resnet.py --out /tmp/augment.png

Rows: the original, each configured augmentation alone at its configured strength, then
the whole list in order, then any registered augmentation the config does not list, at its
default strength; columns: bg | fg_bg | mask | depth. An augmentation applied with
probability `p` is shown at p=1, so its row always shows its effect.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top
import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
from ml_collections import config_flags  # pylint: disable=g-import-not-at-top

import datasets  # pylint: disable=g-import-not-at-top
from datasets import augment  # pylint: disable=g-import-not-at-top
from datasets import pipeline  # pylint: disable=g-import-not-at-top
from datasets import synthetic  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', os.path.join(ROOT, 'configs/cnn.py'),
                                'A config file with get_config().')
flags.DEFINE_string('out', os.path.join(ROOT, 'docs/augment.png'), 'The PNG to write.')
flags.DEFINE_integer('size', 128, 'Render size of the sample, pixels.')
flags.DEFINE_integer('index', 0, 'Which synthetic sample to show.')
flags.DEFINE_integer('seed', 0, 'The augmentation rng seed.')


def _short(value) -> str:
  if isinstance(value, (tuple, list)):
    return '(' + ', '.join(_short(v) for v in value) + ')'
  return f'{value:.3g}' if isinstance(value, float) else str(value)


def label(entry) -> str:
  """`name(k=v, ...)` for one augment config entry, floats to 3 digits."""
  args = ', '.join(f'{k}={_short(v)}' for k, v in entry.items() if k != 'name')
  return f"{entry['name']}({args})"


def augmented(entries, rng, sample):
  """`sample` (uint8) after the augmentations `entries`, as uint8 again."""
  batch = pipeline.to_unit_range({k: sample[k][None] for k in augment.ALL_KEYS})
  out = jax.jit(lambda r, b: augment.apply(entries, r, b))(rng, batch)
  return {k: np.round(np.asarray(out[k][0]) * 255).astype(np.uint8) for k in augment.ALL_KEYS}


def main(argv):
  del argv
  config = FLAGS.config
  entries = [dict(entry) for entry in config.data.augment]
  augment.validate(entries)
  spec = datasets.synthetic_spec(config.data)
  sample = synthetic.render_sample(
      synthetic.SyntheticSpec(**dict(vars(spec), render_size=FLAGS.size)), FLAGS.index)
  shown = [dict(entry, p=1.0) if 'p' in entry else entry for entry in entries]
  rng = jax.random.key(FLAGS.seed)
  rows = [dict(sample, name='original')]
  for entry in shown:
    rows.append(dict(augmented([entry], rng, sample), name=label(entry)))
  rows.append(dict(augmented(shown, rng, sample), name='all, in order'))
  for name in sorted(set(augment.names()) - {entry['name'] for entry in entries}):
    rows.append(dict(augmented([dict(name=name)], rng, sample),
                     name=f'{name}() at its default strength; not in this config'))
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
  synthetic.contact_sheet(rows, FLAGS.out, tile=FLAGS.size)
  print(FLAGS.out)


if __name__ == '__main__':
  app.run(main)
