"""benchmarks/conv_paths.py: the im2col and per-tap paths it times compute XLA's convolution
and its gradients, padding, strides and dilations included, and the convs it times are those
of make run's model, so its times compare like for like."""
import os
import sys

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import conv_paths  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import cnn  # pylint: disable=g-import-not-at-top,wrong-import-position
import zoo  # pylint: disable=g-import-not-at-top,wrong-import-position

SHAPES = [(8, 1, 1), (8, 2, 1), (9, 2, 1), (8, 1, 4), (16, 1, 8)]
PATHS = [conv_paths.conv_patches, conv_paths.conv_shifted_dots]


def _inputs(side):
  rng = np.random.default_rng(0)
  return (jnp.asarray(rng.random((2, side, side, 3)), jnp.float32),
          jnp.asarray(rng.normal(0, 1, (3, 3, 3, 4)), jnp.float32))


@pytest.mark.parametrize('side, stride, dilation', SHAPES)
@pytest.mark.parametrize('path', PATHS)
def test_each_path_is_the_same_convolution_as_xla(path, side, stride, dilation):
  x, w = _inputs(side)
  expected = conv_paths.conv_xla(x, w, stride, dilation)
  np.testing.assert_allclose(path(x, w, stride, dilation), expected, atol=1e-5)


@pytest.mark.parametrize('side, stride, dilation', SHAPES)
@pytest.mark.parametrize('path', PATHS)
def test_each_path_has_the_gradients_of_xla(path, side, stride, dilation):
  x, w = _inputs(side)
  gradients = lambda conv: conv_paths.compiled_grad(conv, stride, dilation, train_options=True)
  expected = gradients(conv_paths.conv_xla)(x, w)
  for got, want in zip(gradients(path)(x, w), expected):
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5)


def test_a_round_times_every_path_and_checks_it():
  times, errors = conv_paths.time_conv(8, 3, 4, 2, 1, rounds=1, calls=1)
  assert set(times) == set(errors) == set(conv_paths.PATHS)
  assert all(len(values) == 1 and values[0] > 0 for values in times.values())
  assert errors['xla'] == 0 and max(errors.values()) <= conv_paths.MAX_RELATIVE_ERROR


def _model_convs():
  """(side, features in, features out, stride, dilation) of every 3 x 3 conv of make run's
  model on a 64 px batch, from its jaxpr."""
  model = zoo.build(cnn.get_config().model)
  images = jnp.zeros((1, 64, 64, 3))
  variables = jax.eval_shape(lambda: zoo.init(model, jax.random.key(0), 64))
  jaxpr = jax.make_jaxpr(lambda v: model.apply(v, images, images, train=False))(variables)
  convs = []

  def visit(jaxpr):
    for equation in jaxpr.eqns:
      if equation.primitive.name == 'conv_general_dilated':
        lhs, rhs = (var.aval.shape for var in equation.invars)
        if rhs[:2] == (3, 3):  # NHWC input, HWIO kernel, as the zoo's convs are.
          convs.append((lhs[1], rhs[2], rhs[3], equation.params['window_strides'][0],
                        equation.params['rhs_dilation'][0]))
      for sub in jax.extend.core.jaxprs_in_params(equation.params):
        visit(sub)

  visit(jaxpr.jaxpr)
  return convs


def test_the_timed_convs_are_the_convs_of_make_runs_model_in_order():
  timed = [(side, c_in, c_out, stride, dilation)
           for _, side, c_in, c_out, stride, dilation in conv_paths.CONVS]
  assert timed == _model_convs()
