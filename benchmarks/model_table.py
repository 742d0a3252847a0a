"""Parameters and forward FLOPs per image of every zoo model at its config's size.

  python benchmarks/model_table.py [--quick]

Prints a Markdown table, then one JSON object as the last line. (FLOPs come from XLA's
cost analysis of the forward pass, `zoo.flops_per_image`; nothing is timed, so
--quick is the same run.)
"""
import argparse
import importlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import zoo  # pylint: disable=g-import-not-at-top

CONFIGS = ('cnn', 'cnn_v1', 'resnet', 'unet')


def main():
  argparse.ArgumentParser(description=__doc__).add_argument('--quick', action='store_true')
  rows = {}
  print('| config | model | image size | parameters | forward GFLOPs / image |')
  print('|---|---|---|---|---|')
  for name in CONFIGS:
    config = importlib.import_module(f'configs.{name}').get_config()
    model = zoo.build(config.model)
    size = config.data.image_size
    params, flops = zoo.count_params(model, size), zoo.flops_per_image(model, size)
    rows[config.model.name] = dict(config=f'configs/{name}.py', image_size=size,
                                   params=params, gflops=flops / 1e9)
    print(f'| configs/{name}.py | {config.model.name} | {size} | {params:,} | '
          f'{flops / 1e9:.3f} |')
  print(json.dumps(rows))


if __name__ == '__main__':
  main()
