"""What `run.py --mode X` does, one function per mode, looked up by name."""
import json
import os
import traceback
from typing import Callable

from absl import logging
import jax

from dmnet_core import Registry
import datasets
import zoo
from datasets import synthetic
from training import checkpoint
from training import compilation_cache
from training import loop
from training import study
from training import report as report_lib
from training import predict as predict_lib
from training import validate

# fn(config, flags), by `--mode`.
MODES: Registry[Callable] = Registry('mode')

# Errors a user can fix (bad config, bad data, NaN loss, full disk): one line, exit 2.
UserError = (ValueError, FileNotFoundError, loop.NonFiniteLossError,
             checkpoint.CheckpointWriteError)


def run(name: str, config, flags):
  """Validates the config, then runs mode `name`."""
  try:
    if jax.process_count() > 1 and (name != 'train' or 'study' in config):
      raise ValueError(
          f'--mode {name}{" with a study config" if "study" in config else ""} runs in one '
          f'process, not {jax.process_count()}: only training a single run spans several '
          'hosts; run this without --num_processes (or with --num_processes=1)')
    if 'study' in config:
      study.variant_configs(config)  # Validates every variant.
    else:
      validate.validate_config(config)
    compilation_cache.enable(config.get('compilation_cache', ''))
    MODES.get(name, '--mode')(config, flags)
  except UserError:
    logging.debug(traceback.format_exc())
    raise


def _require_workdir(flags, name):
  if not flags.workdir:
    raise ValueError(f'--mode {name} needs --workdir')
  return flags.workdir


@MODES.register
def train(config, flags):
  """Builds or reuses the dataset, trains (resuming), evaluates; a config with a
  `study` field trains one run per variant and writes a comparison page."""
  if 'study' in config:
    study.run_study(config, _require_workdir(flags, 'train'))
  else:
    loop.train_and_evaluate(config, _require_workdir(flags, 'train'))


@MODES.register
def eval(config, flags):  # pylint: disable=redefined-builtin
  """Evaluates a checkpoint (--step latest|best|N) on the dataset the config names.

  The latest checkpoint on the run's own dataset writes into --workdir; another dataset
  or an earlier checkpoint writes to --out or workdir/evals/<dataset name>/, leaving the
  run's own results as they were.
  """
  loop.evaluate_checkpoint(config, _require_workdir(flags, 'eval'), flags.step, flags.out)


@MODES.register
def predict(config, flags):
  """Writes mask, depth and overlay PNGs for --bg/--fg_bg (files or folders) to --out.

  The model, its normalization and image size come from --workdir (--step), not from
  the config.
  """
  del config
  predict_lib.run(_require_workdir(flags, 'predict'), flags.bg, flags.fg_bg, flags.out,
                  flags.step)


@MODES.register
def export(config, flags):
  """Writes checkpoint --step for `zoo.load_exported`, for `jax.export` and for ONNX.

  To --out (or workdir/export/model.msgpack) and beside it, with the suffixes
  `.jax_export` (the forward pass with its weights, which runs with JAX alone) and
  `.onnx` (the same for onnxruntime; skipped with a note when jax2onnx is not
  installed). All three average with the mirror image when the run's evaluation did
  (`eval.hflip_average`).
  """
  del config
  workdir = _require_workdir(flags, 'export')
  exported, step = predict_lib.load_model(workdir, flags.step)
  path = zoo.save_exported(flags.out or os.path.join(workdir, 'export', 'model.msgpack'),
                           exported)
  stem = os.path.splitext(path)[0]
  written = [path, zoo.save_jax_export(stem + '.jax_export', exported)]
  try:
    written.append(zoo.save_onnx(stem + '.onnx', exported))
  except ImportError as error:
    print(f'ONNX skipped: {error}')
  # The other two files are written and valid; a converter failure should not hide them.
  except Exception as error:  # pylint: disable=broad-except
    detail = ' '.join(str(error).split())[:300]
    print(f'ONNX skipped: jax2onnx could not convert the model ({type(error).__name__}: '
          f'{detail})')
  print(f'exported checkpoint {step} of {workdir} to {", ".join(written)}')


@MODES.register
def demo(config, flags):
  """Serves a web page to try checkpoint --step of --workdir on uploaded photos.

  On http://127.0.0.1:--port (`training/demo.py`); needs gradio (`make run` installs it).
  """
  del config
  workdir = _require_workdir(flags, 'demo')
  try:
    from training import demo as demo_lib  # pylint: disable=g-import-not-at-top  (gradio is slow to import)
  except ImportError as error:
    raise ValueError(f'--mode demo needs gradio ({error}); install it with '
                     "`pip install -e '.[demo]'`") from None
  demo_lib.serve(workdir, flags.step, port=flags.port)


@MODES.register
def build(config, flags):
  """Builds or reuses the dataset; the last line is a JSON summary."""
  del flags
  data = datasets.load(config.data)
  print(json.dumps(data.summary))


@MODES.register
def summary(config, flags):
  """Prints the model's layer table, parameters and FLOPs."""
  del flags
  print(zoo.summary(zoo.build(config.model), config.data.image_size,
                    title=config.model.name))


@MODES.register
def report(config, flags):
  """Writes report.md and plots of a run, or one comparison of several runs.

  --workdir takes one workdir, several comma-separated, or a quoted glob ('runs/*');
  --out picks the Markdown file (default: report.md in the workdir or their parent).
  """
  del config
  print(report_lib.report(_require_workdir(flags, 'report'), flags.out))


@MODES.register
def preview(config, flags):
  """Writes a PNG contact sheet of synthetic samples (to --out or preview.png)."""
  spec = datasets.synthetic_spec(config.data)
  count = min(8, synthetic.num_samples(spec))
  stride = max(synthetic.num_samples(spec) // count, 1)
  samples = [synthetic.render_sample(spec, i * stride) for i in range(count)]
  out = flags.out or 'preview.png'
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  synthetic.contact_sheet(samples, out)
  print(out)
