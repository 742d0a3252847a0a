"""`--mode demo`: a web page to try a trained run on your own photos (gradio).

  python run.py --mode demo --workdir runs/cnn [--step best] [--port 7860]

One uploads a background (the empty scene) and a photo of the same scene with a person;
the page shows the photo with the predicted mask tinted red and the colour-mapped depth
(bright = near), computed as `--mode predict` computes them, under the model's name and
checkpoint step. A bad upload (not an image, a pair of different sizes, a file or image
too large) gets one line on the page instead of a prediction.
"""
import os
import socket

import numpy as np
from PIL import Image

import zoo
from datasets import pipeline
from training import predict as predict_lib

# Uploads above this are refused by the server before they reach the model.
MAX_FILE_MIB = 20
# Larger images are refused after their header is read (PIL decodes lazily): about
# 8,000 x 5,000 pixels.
MAX_PIXELS = 40_000_000


def _read(path: str | None, role: str) -> np.ndarray:
  """The uploaded image at `path` as uint8 RGB; ValueError naming `role` otherwise."""
  if not path:
    raise ValueError(f'Upload {role}.')
  name = os.path.basename(path)
  try:
    with Image.open(path) as image:
      width, height = image.size
  except Exception:  # pylint: disable=broad-except  (read_rgb says what is wrong)
    width = height = 0
  if width * height > MAX_PIXELS:
    raise ValueError(f'{role} ({name}) is {width} x {height} pixels, more than this page '
                     f'takes ({MAX_PIXELS // 1_000_000} megapixels); make it smaller.')
  try:
    return predict_lib.read_rgb(path)
  except ValueError as error:
    raise ValueError(f'{role} ({name}): {error}.') from None


def predict_pair(exported: zoo.ExportedModel, bg_path: str | None,
                 fg_bg_path: str | None) -> tuple[np.ndarray | None, np.ndarray | None, str]:
  """(overlay, colour-mapped depth, message) for one uploaded pair.

  The images are what `--mode predict` writes for the pair (its `_overlay.png`, whose
  halves they are); on a bad upload both are None and the message says what is wrong.
  """
  try:
    bg = _read(bg_path, 'the background')
    fg_bg = _read(fg_bg_path, 'the photo')
    if bg.shape != fg_bg.shape:
      raise ValueError(
          f'the background is {bg.shape[1]} x {bg.shape[0]} pixels and the photo '
          f'{fg_bg.shape[1]} x {fg_bg.shape[0]}: they must be the same scene from the same '
          'place, at the same size.')
  except ValueError as error:
    return None, None, f'**Not predicted:** {error}'
  size = exported.image_size
  outputs = exported.predict_batch(pipeline.resize(bg, size)[None],
                                   pipeline.resize(fg_bg, size)[None])
  images = predict_lib.render_outputs(fg_bg, np.asarray(outputs['mask'][0]),
                                      np.asarray(outputs['depth'][0]))
  covered = (images['mask'] > 127).mean()
  return images['overlay'], images['depth_colors'], (
      f'The person covers {covered:.1%} of the photo.')


def build_page(exported: zoo.ExportedModel, title: str):
  """The gradio page (a `gr.Blocks`) for `exported`, headed by `title`."""
  import gradio as gr  # pylint: disable=g-import-not-at-top

  with gr.Blocks(title='dmnet-zoo demo') as page:
    gr.Markdown(f'# {title}\n\nUpload the empty scene and the same scene with a person, '
                'taken from the same place; the model marks the person and estimates '
                'the depth.')
    with gr.Row():
      bg = gr.File(label='Background (the empty scene)', type='filepath',
                   elem_id='bg-upload')
      fg_bg = gr.File(label='Photo (the same scene with the person)', type='filepath',
                      elem_id='fg-bg-upload')
    button = gr.Button('Predict', variant='primary', elem_id='predict')
    message = gr.Markdown(elem_id='message')
    with gr.Row():
      overlay = gr.Image(label='Mask (red)', type='numpy', format='png',
                         elem_id='overlay', interactive=False)
      depth = gr.Image(label='Depth (bright = near)', type='numpy', format='png',
                       elem_id='depth', interactive=False)
    button.click(lambda a, b: predict_pair(exported, a, b), inputs=[bg, fg_bg],
                 outputs=[overlay, depth, message])
  return page


def serve(workdir: str, which: str = 'latest', port: int = 7860, host: str = '127.0.0.1',
          max_file_mib: int = MAX_FILE_MIB):
  """Loads checkpoint `which` of `workdir` and serves its page until interrupted."""
  with socket.socket() as probe:  # gradio would raise its own error deep in a traceback.
    try:
      probe.bind((host, port))
    except OSError as error:
      raise ValueError(f'--port {port}: cannot serve there ({error.strerror}); '
                       'choose another port') from None
  exported, step = predict_lib.load_model(workdir, which)
  title = (f'{exported.model_config["name"]}, step {step:,} of '
           f'{os.path.basename(os.path.abspath(workdir))}')
  page = build_page(exported, title)
  print(f'serving {title} on http://{host}:{port} (Ctrl-C stops)', flush=True)
  page.launch(server_name=host, server_port=port, max_file_size=f'{max_file_mib}mb',
              show_error=False, quiet=True)
