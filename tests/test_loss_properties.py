"""Property-based checks: every loss stays finite and within its bounds on any input."""
import hypothesis
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import jax
import numpy as np
import pytest

import losses

BOUNDED = {'ssim': (0.0, 2.0), 'dice': (0.0, 1.0), 'iou': (0.0, 1.0)}


def image_batches(min_side):
  """Pairs of N x H x W x 1 float32 batches: logits anywhere, targets in [0, 1].

  Sides come from a few sizes, edge cases included, so that each compiles once; the
  contents are arbitrary.
  """
  sides = st.sampled_from([side for side in (1, 2, 11, 16) if side >= min_side])
  shape = st.tuples(st.sampled_from([1, 3]), sides, sides, st.just(1))
  return shape.flatmap(lambda s: st.tuples(
      hnp.arrays(np.float32, s, elements=st.floats(-60, 60, width=32)),
      hnp.arrays(np.float32, s, elements=st.floats(0, 1, width=32))))


@pytest.mark.parametrize('name', sorted(set(losses.names())))
@hypothesis.settings(max_examples=20, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(data=st.data())
def test_every_loss_is_finite_and_bounded_on_arbitrary_inputs(name, data):
  fn = losses.get(name)
  logits, target = data.draw(image_batches(11 if name == 'ssim' else 1))
  pred = logits if fn.on_logits else jax.nn.sigmoid(logits)
  value = float(fn(pred, target))
  assert np.isfinite(value), (name, value)
  low, high = BOUNDED.get(name, (0.0, np.inf))
  if name == 'silog':
    low = -1e-5  # A variance computed in float32 may round a hair below 0.
  assert low - 1e-5 <= value <= high + 1e-5, (name, value)
