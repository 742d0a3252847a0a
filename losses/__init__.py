"""Losses looked up by name, the combination of the two heads' losses, and metrics.

    import losses
    fn = losses.get('smooth_l1')          # fn(pred, target, **kwargs) -> scalar
    fn.on_logits                          # False: pass sigmoid(logits), not logits
    loss_fn = losses.build(config.loss)   # checked once; raises a one-line ValueError
    loss, aux = loss_fn(outputs, batch, loss_fn.init_params())

`losses.metrics` holds the evaluation metrics and the baselines.
"""
from losses.registry import get
from losses.registry import names
from losses.registry import register
from losses import builtin  # pylint: disable=unused-import  (registers the built-in losses)
from losses.combine import Combiner
from losses.combine import Loss
from losses.combine import build
from losses.combine import combiner_names
from losses.combine import init_loss_params
from losses.combine import register_combiner
from losses.combine import total_loss
from losses.combine import validate_loss_config
from losses import metrics

__all__ = [
    'Combiner', 'Loss', 'build', 'combiner_names', 'get', 'init_loss_params', 'metrics', 'names',
    'register', 'register_combiner', 'total_loss', 'validate_loss_config',
]
