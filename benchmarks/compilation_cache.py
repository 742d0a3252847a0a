"""What the persistent compilation cache saves: a short run of make run's model, cold and warm.

  python benchmarks/compilation_cache.py             # 3 rounds
  python benchmarks/compilation_cache.py --quick     # 1 round (under two minutes on 2 cores)

Each measurement is one `python run.py --config configs/cnn.py` process in a fresh workdir:
one train step, then the evaluation at the end, on a 20-room set at make run's 64 px (built
once before the rounds, so no round builds it). Everything a run does before and after its
steps is in it: imports, the dataset's statistics, compiling the train and eval steps, the
checkpoint, the evaluation, the pictures. `cold` runs with an empty `config.compilation_cache`
folder (every step compiled, as on a machine's first run); `warm` with a folder that an
earlier run of the same config filled (as when a run resumes, or make run runs again). The
two alternate within each round, cold first in even rounds. The difference is the compile
time the cache saves; the ratio is the median of the per-round ratios cold / warm. The last
line is one JSON object.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_seconds(workdir: str, cache: str, data_dir: str) -> float:
  """Wall seconds of one short run of configs/cnn.py in `workdir` with `cache`."""
  env = {k: v for k, v in os.environ.items() if k != 'JAX_COMPILATION_CACHE_DIR'}
  command = [sys.executable, 'run.py', '--config', 'configs/cnn.py', '--workdir', workdir,
             f'--config.compilation_cache={cache}', f'--config.data.data_dir={data_dir}',
             '--config.data.synthetic.num_backgrounds=20',
             '--config.data.synthetic.num_foregrounds=20',
             '--config.train.steps=1', '--config.schedule.warmup_steps=0',
             '--config.eval.num_grid_samples=2']
  start = time.perf_counter()
  done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                        check=False)
  seconds = time.perf_counter() - start
  if done.returncode:
    sys.exit(f'run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}')
  return seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='1 round')
  parser.add_argument('--rounds', type=int, default=0, help='default 3; --quick 1')
  args = parser.parse_args()
  rounds = args.rounds or (1 if args.quick else 3)
  scratch = tempfile.mkdtemp(prefix='compilation_cache_bench_')
  try:
    data_dir = os.path.join(scratch, 'data')
    warm_cache = os.path.join(scratch, 'warm_cache')
    # Builds the set and fills the warm folder; not timed.
    run_seconds(os.path.join(scratch, 'fill'), warm_cache, data_dir)
    times = {'cold': [], 'warm': []}
    for index in range(rounds):
      order = ('cold', 'warm') if index % 2 == 0 else ('warm', 'cold')
      for kind in order:
        cache = warm_cache if kind == 'warm' else os.path.join(scratch, f'cold_{index}')
        times[kind].append(run_seconds(os.path.join(scratch, f'{kind}_{index}'), cache,
                                       data_dir))
        print(f'round {index}: {kind} {times[kind][-1]:.1f} s', flush=True)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  ratios = [c / w for c, w in zip(times['cold'], times['warm'])]
  saved = [c - w for c, w in zip(times['cold'], times['warm'])]
  ratio_spread = common.spread(ratios)
  result = dict(
      cold_s=round(statistics.median(times['cold']), 2),
      warm_s=round(statistics.median(times['warm']), 2),
      saved_s=round(statistics.median(saved), 2),
      ratio=ratio_spread['median'],
      ratio_spread=ratio_spread,
      rounds=dict(cold=[round(t, 2) for t in times['cold']],
                  warm=[round(t, 2) for t in times['warm']]),
      load_average=round(os.getloadavg()[0], 2), cpus=os.cpu_count())
  print(f'cold {result["cold_s"]} s, warm {result["warm_s"]} s: {result["saved_s"]} s saved, '
        f'{result["ratio"]} x (rounds {ratios})')
  print(json.dumps(result))


if __name__ == '__main__':
  main()
