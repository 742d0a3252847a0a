"""Small array helpers shared by the losses and the metrics."""
import jax.numpy as jnp


def to_unit_float(x) -> jnp.ndarray:
  """Returns `x` as float32 in [0, 1]: integer arrays (uint8 images) are divided by 255."""
  x = jnp.asarray(x)
  if jnp.issubdtype(x.dtype, jnp.integer):
    return x.astype(jnp.float32) / 255.0
  return x.astype(jnp.float32)


def positive_nearness(v: jnp.ndarray) -> jnp.ndarray:
  """Maps nearness v in [0, 1] to (0, 1] as (255 v + 1) / 256.

  For the stored uint8 nearness u = 255 v this is (u + 1) / 256: 0 maps
  to 1/256 instead of 0, so ratios and logs stay finite. `v` is clipped to [0, 1].
  """
  return (255.0 * jnp.clip(v, 0.0, 1.0) + 1.0) / 256.0


def log_nearness_ratio(pred: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
  """log p' - log g' per pixel, with p', g' the `positive_nearness` of pred and target."""
  return jnp.log(positive_nearness(pred)) - jnp.log(positive_nearness(target))


def per_sample_sum(x: jnp.ndarray) -> jnp.ndarray:
  """Sums every axis but the first (the batch axis)."""
  return jnp.sum(x, axis=tuple(range(1, x.ndim)))


def safe_ratio(numerator: jnp.ndarray, denominator: jnp.ndarray) -> jnp.ndarray:
  """numerator / denominator where denominator > 0, else 1 (e.g. IoU of two empty masks).

  Gradients stay finite: the division never sees a zero denominator.
  """
  positive = denominator > 0
  return jnp.where(positive, numerator / jnp.where(positive, denominator, 1.0), 1.0)
