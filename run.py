"""Train, evaluate, predict and inspect mask+depth models: `python run.py --config ...`.

  python run.py --config configs/cnn.py --workdir runs/cnn                 # train + eval
  python run.py --config configs/cnn.py --workdir runs/cnn --mode eval
  python run.py --config configs/cnn.py --mode build | summary | preview
"""
import ast
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

import datasets

if not os.path.abspath(datasets.__file__).startswith(os.path.dirname(os.path.abspath(__file__))):
  sys.exit(f'error: `import datasets` found {datasets.__file__}, not this repository\'s '
           'datasets/ package; run run.py from the repository root.')

import modes  # pylint: disable=g-import-not-at-top
from training import distributed  # pylint: disable=g-import-not-at-top



class ListOrNameParser(flags.ArgumentParser):
  """Parses a list-valued config field given on the command line.

  `[...]`, `(...)` or `{...}` is read as the Python literal it spells, e.g.
  `--config.loss.depth="[{'name': 'l1'}, {'name': 'ssim'}]"` or
  `--config.train.stages="[{'image_size': 32, 'fraction': 0.5}]"`; any other text stays a
  string, so `--config.loss.mask=dice` names one loss.
  """

  def parse(self, argument):
    if not isinstance(argument, str):
      return argument
    if argument.strip()[:1] in ('[', '(', '{'):
      try:
        return ast.literal_eval(argument)
      except (ValueError, SyntaxError):
        raise ValueError(f'{argument!r} is not a Python literal') from None
    return argument

  def flag_type(self):
    return 'list'


config_flags.register_flag_parser_for_type(list, ListOrNameParser())

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', 'configs/cnn.py', 'A config file with get_config().')
flags.DEFINE_string('workdir', None, 'Where the run keeps checkpoints, logs and results.')
flags.DEFINE_enum('mode', 'train', modes.MODES.names(), 'What to do.')
flags.DEFINE_string('step', 'latest', "eval/predict: a checkpoint step, 'latest' or 'best'.")
flags.DEFINE_string('bg', None, 'predict: a background image or a folder of them.')
flags.DEFINE_string('fg_bg', None, 'predict: a foreground image or a folder of them.')
flags.DEFINE_integer('port', 7860, 'demo: the port of the web page.')
flags.DEFINE_string('out', None,
                    'predict, preview, export, report, eval: the output folder or file.')
flags.DEFINE_string('coordinator_address', None,
                    'train on several hosts: host:port of process 0, which every process '
                    'reaches (jax.distributed.initialize).')
flags.DEFINE_integer('num_processes', None,
                     'train on several hosts: how many processes take part (one per host); '
                     '1 runs alone even where JAX detects a cluster.')
flags.DEFINE_integer('process_id', None, 'train on several hosts: this process, 0 to '
                     'num_processes - 1; process 0 writes the run\'s logs and results.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  if not FLAGS['verbosity'].present:  # Library chatter (TFDS, orbax) only on request: -v 0.
    logging.set_verbosity(logging.ERROR)
  try:
    # Before anything touches a device: without the three flags JAX's own cluster
    # detection (SLURM, TPU pod slices) decides whether other processes take part, in
    # training only: the other modes run in one process, and inside a SLURM job of
    # several tasks one `--mode predict` would otherwise wait for peers that never come.
    distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes,
                           FLAGS.process_id, detect=FLAGS.mode == 'train')
    modes.run(FLAGS.mode, FLAGS.config, FLAGS)
  except modes.UserError as error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main)
