"""DDIM (Song, Meng, Ermon 2021) for any Gaussian-marginal SDE (VP, sub-VP, VE), jit-able.

Signature (k-diffusion style: explicit grid in, samples and stats out):

    ddim(eps_fn, x, ts, sde, *, eta=0.0, rng=None) -> (x0, {'nfe': int32})

* ``eps_fn(t, x) -> noise prediction`` with ``t: [b]``, ``x: [b, *shape]`` (score-SDE time:
  t = 0 data, t = T noise). From a score model use ``sde.noise_from_score(score_fn)``
  (``eps = -sigma(t) score``).
* ``x``: the start at ``ts[0]`` (e.g. ``sde.prior_sample(rng, shape)`` with ``ts[0] = T``).
* ``ts``: decreasing 1-D grid ``[steps + 1]`` from ``ts[0]`` to ``ts[-1]`` (e.g.
  ``jaxgen.ode.grids.uniform(sde.T, sde.eps, steps)``); the result is the DDIM estimate at ``ts[-1]``.
* ``sde``: anything with ``alpha(t)`` and ``sigma(t)`` (``x_t = alpha x_0 + sigma z``).

Step ``t -> s`` with ``x0_hat = (x - sigma_t eps) / alpha_t``:

    x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps + c z,
    c   = eta sigma_s sqrt(1 - exp(lambda_t - lambda_s))       (lambda = log-SNR)

``c`` is the std of the true posterior q(x_s | x_t, x_0) times eta; for VP this is DDIM's
``sigma_t(eta)``. eta = 0 is the deterministic DDIM (= DPM-Solver-1, a first-order solver of the
probability-flow ODE); eta = 1 is ancestral (DDPM-like) sampling. ``rng`` is required when
eta > 0. One network evaluation per step: ``nfe = steps``.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp



def ddim_step(eps_fn: Callable, x, t, s, sde, eta: float = 0.0, key=None):
  """One DDIM step from scalar time ``t`` to ``s < t``; returns ``x_s``."""
  b = x.shape[0]
  tb = jnp.full((b,), t, jnp.float32)
  eps = eps_fn(tb, x)
  a_t, s_t = sde.alpha(t), sde.sigma(t)
  a_s, s_s = sde.alpha(s), sde.sigma(s)
  x0 = (x - s_t * eps) / a_t
  if eta == 0.0:
    return a_s * x0 + s_s * eps
  lam_t = 2.0 * (jnp.log(a_t) - jnp.log(s_t))
  lam_s = 2.0 * (jnp.log(a_s) - jnp.log(s_s))
  c = eta * s_s * jnp.sqrt(jnp.maximum(-jnp.expm1(lam_t - lam_s), 0.0))
  z = jax.random.normal(key, x.shape, x.dtype)
  return a_s * x0 + jnp.sqrt(jnp.maximum(s_s**2 - c**2, 0.0)) * eps + c * z


def ddim(eps_fn: Callable, x: jax.Array, ts: jax.Array, sde, *, eta: float = 0.0,
         rng: Optional[jax.Array] = None):
  """DDIM sampling along ``ts`` (see module docstring). Returns ``(x, {'nfe'})``."""
  ts = jnp.asarray(ts, jnp.float32)
  steps = ts.shape[0] - 1
  if eta != 0.0 and rng is None:
    raise ValueError('ddim with eta > 0 needs rng')
  keys = jax.random.split(rng if rng is not None else jax.random.PRNGKey(0), steps)

  def body(x, inp):
    t, s, key = inp
    return ddim_step(eps_fn, x, t, s, sde, eta, key), None

  x, _ = jax.lax.scan(body, x, (ts[:-1], ts[1:], keys))
  return x, {'nfe': jnp.asarray(steps, jnp.int32)}
