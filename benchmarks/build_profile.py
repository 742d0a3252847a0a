"""Where a synthetic sample's build time goes: a profile of the worker's and the writer's work.

  python benchmarks/build_profile.py              # 300 samples, 2 rooms of the 400K layout
  python benchmarks/build_profile.py --quick      # 100 samples

Part one renders and PNG-encodes samples of the original's 400K layout (100 rooms x 100
people x 2 flips x 20 placements at 64 px) in this process, as a build worker does, spread
over the people of two rooms so that new figures are built as often as in a worker's first
room (a worker caches up to 256 figures, so in a full build each is built about once per
worker). Part two builds a 2,000-sample set with 2 workers and profiles the writing
process alone (TFDS serialization, array_record writes, the channel statistics, waiting).
Prints both profiles by cumulative time; the last line is one JSON object with the
milliseconds a sample of each named step.
"""
import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# What the JSON reports, by the function's file and name in the profile.
WORKER_STEPS = {
    'load (render + encode)': ('sources.py', 'load'),
    'render_sample': ('samples.py', 'render_sample'),
    'new figures': ('figures.py', '_figure'),
    'rooms': ('backgrounds.py', '_scene'),
    'placement': ('placement.py', '_place'),
    'figure shading': ('figures.py', '_figure_colors'),
    'jpeg round trip': ('capture.py', '_jpeg_round_trip'),
    'png encoding': ('sources.py', 'encode_png'),
}
WRITER_STEPS = {
    'whole build': ('builder.py', '_build_from_generator'),
    'channel statistics': ('builder.py', 'add'),
    'tfds serialization': ('example_serializer.py', '_dict_to_tf_example'),
    'array_record writes': ('~', "<built-in method array_record.python.array_record_module.write>"),
}


def _per_sample_ms(stats: pstats.Stats, steps: dict, samples: int) -> dict[str, float]:
  """Cumulative milliseconds a sample of each step (summed over its profile entries)."""
  found = {name: 0.0 for name in steps}
  for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():
    for name, (file_end, wanted) in steps.items():
      if filename.endswith(file_end) and function == wanted:
        found[name] += cumulative * 1000 / samples
  return {name: round(value, 3) for name, value in found.items()}


def profile_worker(num_samples: int) -> dict:
  """Renders and encodes samples of two rooms of the 400K layout under cProfile."""
  from datasets import sources  # pylint: disable=g-import-not-at-top
  from datasets import synthetic  # pylint: disable=g-import-not-at-top
  spec = synthetic.SyntheticSpec(num_backgrounds=100, num_foregrounds=100, flips=2,
                                 placements=20, foregrounds_per_background=0,
                                 near_share=0.0, render_size=64)
  source = sources.SyntheticSource(spec)
  per_room = synthetic.num_samples(spec) // spec.num_backgrounds
  half = num_samples // 2
  indices = [room * per_room + k * (per_room // half) for room in range(2)
             for k in range(half)]
  profile = cProfile.Profile()
  start = time.perf_counter()
  profile.enable()
  for index in indices:
    source.load(sources.Entry(key=f'{index:07d}', group=''))
  profile.disable()
  seconds = time.perf_counter() - start
  stats = pstats.Stats(profile)
  print(f'worker: {len(indices)} samples in {seconds:.2f} s under cProfile '
        f'({len(indices) / seconds:.0f} samples/s, one process)')
  stats.sort_stats('cumulative').print_stats(25)
  return dict(samples=len(indices), samples_per_s=len(indices) / seconds,
              ms_per_sample=_per_sample_ms(stats, WORKER_STEPS, len(indices)))


def profile_writer() -> dict:
  """Builds 2,000 samples with 2 workers, profiling the writing process."""
  import datasets  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.data.build_workers = 2
  config.data.synthetic.update(render_size=64, num_backgrounds=10, num_foregrounds=25,
                               flips=2, placements=4, foregrounds_per_background=0,
                               near_share=0.0)
  with tempfile.TemporaryDirectory() as data_dir:
    config.data.data_dir = data_dir
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    data = datasets.load(config.data)
    profile.disable()
    seconds = time.perf_counter() - start
    num = len(data.train) + len(data.test)
  stats = pstats.Stats(profile)
  print(f'writer: {num} samples in {seconds:.1f} s ({num / seconds:.0f} samples/s, '
        '2 workers, the writer under cProfile)')
  stats.sort_stats('tottime').print_stats(15)
  return dict(samples=num, samples_per_s=num / seconds,
              ms_per_sample=_per_sample_ms(stats, WRITER_STEPS, num))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='100 worker samples')
  args = parser.parse_args()
  result = dict(worker=profile_worker(100 if args.quick else 300),
                writer=profile_writer(), load_average=os.getloadavg()[0])
  print(json.dumps(result))


if __name__ == '__main__':
  main()
