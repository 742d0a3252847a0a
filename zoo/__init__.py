"""The model zoo: models that map (bg, fg_bg) to mask and depth logits.

Typical use:

  model = zoo.build(config.model)
  variables = zoo.init(model, jax.random.key(0), config.data.image_size)
  outputs = model.apply(variables, bg, fg_bg, train=False)  # Logits.

  exported = zoo.load_exported('runs/cnn/export/model.msgpack')  # A trained model.
  probabilities = exported.predict(bg_uint8, fg_bg_uint8)  # mask, depth in [0, 1].
"""
# Importing the model modules registers them.
from zoo import dmnet_cnn
from zoo import dmnet_resnet
from zoo import unet
from zoo.encoder_decoder import EncoderDecoder
from zoo.export import ExportedModel
from zoo.export import load_exported
from zoo.export import mirror_averaged
from zoo.export import mirror_mean
from zoo.export import probabilities
from zoo.export import save_exported
from zoo.export import save_jax_export
from zoo.export import save_onnx
from zoo.export import standardize_inputs
from zoo.export import with_mirror
from zoo.registry import EARLIER_VERSIONS
from zoo.registry import build
from zoo.registry import complete
from zoo.registry import compute_dtype
from zoo.registry import config_fields
from zoo.registry import defaults
from zoo.registry import fields
from zoo.registry import names
from zoo.registry import register
from zoo.registry import saved_layouts
from zoo.registry import stride
from zoo.registry import with_earlier_defaults
from zoo.summary import FAST_CPU_COMPILE_OPTIONS
from zoo.summary import count_params
from zoo.summary import flops_per_image
from zoo.summary import init
from zoo.summary import summary
