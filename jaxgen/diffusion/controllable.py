"""Controllable generation with an unconditional score model: inpainting and colorization.

Song et al. 2021, Appendix I.2 ("imputation"): run the PC sampler (`jaxgen.diffusion.pc`) and, after
every predictor and every corrector sweep, overwrite the *observed* part of ``x_t`` with a fresh
draw of the forward marginal of the observation, ``alpha(t) y + sigma(t) z``; at the end the
observed part is set to ``y`` itself, so observed values are kept exactly. Colorization is the same
projection in an orthogonal colour basis whose first axis is the grey level ``(r+g+b)/sqrt(3)``
(the matrix of the reference code): the grey channel is observed, the two chroma channels are
imputed.

Conventions: time t = 0 data, t = T noise (`jaxgen.diffusion.sde`); ``score_fn(t[b], x)``; images are NHWC;
``mask`` is 1 (True) where a value is observed, broadcastable to the data. The replacement method
is an approximation to the conditional p(x_unobserved | y) (exact only as the corrector mixes at
small t; see tests/diffusion/test_controllable.py for how close it gets on a 2-D Gaussian).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.diffusion import pc
from jaxgen.diffusion.sde import bcast

# Orthonormal colour basis; column 0 is (1, 1, 1) / sqrt(3) (the grey axis), columns 1 and 2 span
# the chroma plane. x_decoupled = x @ COLOR_BASIS; x = x_decoupled @ COLOR_BASIS.T.
COLOR_BASIS = np.array([[1 / np.sqrt(3), -np.sqrt(2 / 3), 0.0],
                        [1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)],
                        [1 / np.sqrt(3), 1 / np.sqrt(6), -1 / np.sqrt(2)]], np.float32)


def _replace(sde, y, mask, to_basis, from_basis):
  """project(t, x, key): observed coordinates (in the basis) <- alpha(t) y + sigma(t) z."""
  mask = jnp.asarray(mask) > 0.5

  def project(t, x, key):
    tb = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    mean, std = sde.marginal_prob(y, tb)
    noisy = mean + bcast(std, y) * jax.random.normal(key, y.shape, y.dtype)
    return from_basis(jnp.where(mask, to_basis(noisy), to_basis(x)))

  return project


def inpaint(sde, score_fn: Callable, rng: jax.Array, y: jax.Array, mask: jax.Array,
            **pc_kwargs) -> tuple[jax.Array, dict]:
  """Imputes ``y[b, ...]`` where ``mask`` is 0; returns ``(x, info)`` with ``x == y`` where observed.

  ``pc_kwargs`` go to `pc.pc_sample` (predictor, corrector, snr, n_steps_each, steps, eps,
  denoise, probability_flow).
  """
  ident = lambda v: v
  project = _replace(sde, y, mask, ident, ident)
  x, info = pc.pc_sample(sde, score_fn, rng, y.shape, project=project, **pc_kwargs)
  return jnp.where(jnp.asarray(mask) > 0.5, y, x), info


def to_gray(x: jax.Array) -> jax.Array:
  """NHWC colour image -> its grey version (channel mean) replicated over the 3 channels."""
  return jnp.broadcast_to(jnp.mean(x, axis=-1, keepdims=True), x.shape)


def colorize(sde, score_fn: Callable, rng: jax.Array, gray: jax.Array,
             **pc_kwargs) -> tuple[jax.Array, dict]:
  """Colours ``gray[b, H, W, 3]`` (equal channels, e.g. `to_gray`; 1 channel is replicated).

  Returns ``(x, info)``; the channel mean of ``x`` equals that of ``gray`` (to float rounding).
  """
  if gray.shape[-1] == 1:
    gray = jnp.broadcast_to(gray, gray.shape[:-1] + (3,))
  basis = jnp.asarray(COLOR_BASIS)
  to_b = lambda v: v @ basis
  from_b = lambda v: v @ basis.T
  mask = jnp.zeros((3,), jnp.float32).at[0].set(1.0)
  project = _replace(sde, gray, mask, to_b, from_b)
  x, info = pc.pc_sample(sde, score_fn, rng, gray.shape, project=project, **pc_kwargs)
  return from_b(jnp.where(mask > 0.5, to_b(gray), to_b(x))), info
