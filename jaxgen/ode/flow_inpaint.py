"""Inpainting with a flow ODE by replacement along its interpolation path (rectified flow).

Time convention (rectified flow's): **t = 0 is noise, t = 1 is data**, ``x_t = t x1 + (1 - t) z0``
with z0 ~ N(0, I) independent of the data x1, and ``v(t, x) -> dx/dt``.

Method. Given observed values ``x_obs`` and a boolean ``mask`` (True = observed), draw one z0 and
integrate the ODE from ``t_start`` to 1 on the fixed-step grid of a `jaxgen.ode.solvers.SolverSpec`
(any fixed-step solver: euler, heun, midpoint, rk4, `explicit_rk(...)`, a grid array). After every
step, ending at time t, the observed coordinates are set to the point of the straight path from
the *same* z0 to the observation,

    x_O <- t x_obs + (1 - t) z0_O,

which is exactly where the observed coordinates of the conditional process ``x_t | x1_O = x_obs``
are; the hidden coordinates move with the (unconditional) velocity. At the end the observed
coordinates are ``x_obs`` itself, bit for bit. This is the flow analogue of the replacement
method of score SDEs (`jaxgen.diffusion.controllable`); it costs what sampling costs (the solver's
NFE), needs no training and no gradient of the network.

Limits (tests/ode/test_flow_inpaint.py, with the exact velocity of Gaussian data):
* Exact when the hidden coordinates are independent of the observed ones under the data (the
  hidden velocity then does not read x_O).
* Biased for correlated data: the hidden velocity E[x1_H - z0_H | x_t] conditions on the noisy
  ``x_t,O = t x_obs + (1 - t) z0_O``, not on x_obs, so the imputed mean and variance move only
  part of the way from the marginal to the conditional law; the bias grows with the correlation.
  There is no corrector (a posterior-sampling method would reduce it at the cost of network
  gradients or NFE).
* Adaptive solvers are refused (the replacement needs the steps): name a fixed-step solver.
* ``t_start > 0``: the sample starts from z0 at t_start as `sample` does, the observed part at
  ``t_start x_obs + (1 - t_start) z0_O``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxgen.ode import solvers


def inpaint(v: Callable, rng: jax.Array, x_obs: jax.Array, mask: jax.Array,
            spec: solvers.SolverSpec, t_start: float = 0.0) -> tuple[jax.Array, dict]:
  """Imputes ``x_obs[b, ...]`` where ``mask`` is False by replacement along the path (module doc).

  Args:
    v: ``v(t, x) -> dx/dt``, ``t`` a 0-d float32 array (`jaxgen.ode.solvers` convention).
    rng: key of the starting noise z0 ~ N(0, I).
    x_obs: ``[b, ...]`` data; values where ``mask`` is False are ignored.
    mask: bool (or 0/1), broadcastable to ``x_obs``; True marks observed coordinates.
    spec: a fixed-step `SolverSpec`; the grid runs from ``t_start`` to 1.
    t_start: the noise end of the integration (the sampler's ``sampling.t_start``).

  Returns:
    ``(x, info)``: ``x == x_obs`` where observed (bitwise); ``info['nfe']`` the calls of ``v`` per
    sample (int32), ``info['z0']`` the starting noise.
  """
  if spec.adaptive:
    raise ValueError(f'flow inpainting replaces the observed part after every step: it needs a '
                     f'fixed-step solver, not the adaptive {spec.label}')
  mask = jnp.broadcast_to(jnp.asarray(mask) > 0.5, x_obs.shape)
  z0 = jax.random.normal(rng, x_obs.shape, x_obs.dtype)
  ts = spec.time_grid(t_start, 1.0)

  def on_path(t):
    return t * x_obs + (1 - t) * z0

  def body(carry, tt):
    x, nfe = carry
    t, tn = tt
    x, stats = spec.fn(v, x, jnp.stack([t, tn]))
    return (jnp.where(mask, on_path(tn), x), nfe + stats['nfe']), None

  x_init = jnp.where(mask, on_path(ts[0]), z0)
  (x, nfe), _ = jax.lax.scan(body, (x_init, jnp.zeros((), jnp.int32)), (ts[:-1], ts[1:]))
  return jnp.where(mask, x_obs, x), {'nfe': nfe, 'z0': z0}

