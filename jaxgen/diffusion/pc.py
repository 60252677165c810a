"""Predictor-corrector (PC) sampling of score SDEs (Song et al. 2021, Algorithms 2-5), jit-able.

Conventions (those of `jaxgen.diffusion.sde`): t = 0 data, t = T = 1 noise; ``score_fn(t, x) ->
grad log p_t`` with ``t: [b]``, ``x: [b, *shape]``. Sampling starts from the prior at ``T`` and
walks the grid

    t_k = T - k (T - eps) / steps,   k = 0 .. steps          (eps: 1e-3 VP / sub-VP, 1e-5 VE)

in one of two orders:

  * the paper's Algorithm 2 (default): each step runs the **predictor** from ``t_k`` to
    ``t_{k+1}``, then ``n_steps_each`` **corrector** updates at ``t_{k+1}``: correctors at
    ``t_1 .. t_steps`` (the last at eps);
  * ``corrector_first`` (the reference score_sde code's ``pc_sampler``): each step runs the
    corrector at ``t_k`` (its ``alpha_i`` that of ``t_k``, the step ``t_k -> t_{k+1}``), then the
    predictor ``t_k -> t_{k+1}``; the last grid time gets its corrector too: correctors at
    ``t_0 = T .. t_steps = eps``. The reference walks ``N`` times from T to eps, a corrector then
    a predictor at each, and its last predictor (eps -> sigma 0, mean without noise) is its
    denoising; here that predictor is the Tweedie step below, so this order with ``steps`` is the
    reference's with ``N = steps + 1`` (with denoising its NFE ``(steps + 1)(1 + n_steps_each)``
    is the reference's count ``N (n_steps + 1)``), and it equals the paper's order preceded by
    one corrector sweep on the prior draw at T.

With ``denoise`` a final Tweedie step ``x_0 = (x + sigma(eps)^2 s(eps, x)) / alpha(eps)`` removes
the remaining noise (one more score evaluation). The whole loop is one ``lax.scan`` (correctors:
``lax.fori_loop``), no host round trips; ``info['nfe']`` counts score evaluations per sample
(`nfe`).

Predictors (x at t -> x at s < t; VP, sub-VP and VE), on the reverse SDE
``rsde = sde.reverse(score_fn, probability_flow)``:
  * ``euler_maruyama``: ``x + [f - g^2 score] (s - t) + g sqrt(t - s) z``.
  * ``reverse_diffusion``: ``rsde.discretize(x, t, s)``, ``x - f_i + G_i^2 score + G_i z`` with
    the exact forward transition between the grid times, ``x_t = a x_s + sqrt(v) z``,
    ``a = alpha_t / alpha_s``, ``v = sigma_t^2 - a^2 sigma_s^2`` (SMLD's step for VE, DDPM's
    for VP).
  * ``ancestral``: the Gaussian posterior ``q(x_s | x_t, x_0 = x0_hat)``, Tweedie's
    ``x0_hat = (x + sigma_t^2 score) / alpha_t``: mean ``(a sigma_s^2 x + alpha_s v x0_hat) /
    sigma_t^2``, variance ``v sigma_s^2 / sigma_t^2``.
  * ``none``: no move (corrector-only sampling).
  With ``probability_flow`` the first two follow the probability-flow ODE (score weight 1/2, no
  noise).

Correctors at time t, with ``alpha_i = alpha(t)^2 / alpha(t - h)^2`` (h the grid step; 1 for VE):
  * ``langevin`` (Algorithm 4/5): ``eps_i = 2 alpha_i (snr ||z|| / ||s||)^2`` (norms averaged
    over the batch), ``x <- x + eps_i s + sqrt(2 eps_i) z``.
  * ``annealed_langevin``: ``eps_i = 2 alpha_i (snr sigma(t))^2``.
  * ``none``.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from jaxgen.diffusion.sde import bcast

PREDICTORS = ('euler_maruyama', 'reverse_diffusion', 'ancestral', 'none')
CORRECTORS = ('langevin', 'annealed_langevin', 'none')


def _bt(x, t):
  return jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])


# -- predictors: (sde, score_fn, x, t, s, key, probability_flow) -> x at time s < t ------------
def euler_maruyama(sde, score_fn, x, t, s, key, probability_flow=False):
  rsde = sde.reverse(score_fn, probability_flow)
  dt = s - t
  drift, g = rsde.sde(x, _bt(x, t))
  x_mean = x + drift * dt
  if probability_flow:
    return x_mean
  return x_mean + bcast(g, x) * jnp.sqrt(-dt) * jax.random.normal(key, x.shape, x.dtype)


def reverse_diffusion(sde, score_fn, x, t, s, key, probability_flow=False):
  rsde = sde.reverse(score_fn, probability_flow)
  f, G = rsde.discretize(x, _bt(x, t), jnp.float32(s))
  x_mean = x - f
  if probability_flow:
    return x_mean
  return x_mean + bcast(G, x) * jax.random.normal(key, x.shape, x.dtype)


def ancestral(sde, score_fn, x, t, s, key, probability_flow=False):
  if probability_flow:
    raise ValueError('the ancestral predictor has no probability-flow version')
  t, s = jnp.float32(t), jnp.float32(s)
  a, v = sde.transition(s, t)
  st2, as_, ss2 = sde.sigma(t)**2, sde.alpha(s), sde.sigma(s)**2
  x0_hat = sde.tweedie(score_fn, t, x)
  mean = (a * ss2 * x + as_ * v * x0_hat) / st2
  std = jnp.sqrt(v * ss2 / st2)
  return mean + std * jax.random.normal(key, x.shape, x.dtype)


def no_predictor(sde, score_fn, x, t, s, key, probability_flow=False):
  return x


# -- correctors: (sde, score_fn, x, t, h, key, snr, n_steps) -> x at time t --------------------
def _alpha_i(sde, t, h):
  """``alpha(t)^2 / alpha(t-h)^2`` (= 1 - beta_i of DDPM for VP; 1 for VE)."""
  return (sde.alpha(t) / sde.alpha(jnp.maximum(t - h, 0.0)))**2


def _batch_norm(v):
  return jnp.mean(jnp.linalg.norm(v.reshape(v.shape[0], -1), axis=-1))


def langevin(sde, score_fn, x, t, h, key, snr, n_steps):
  tb = _bt(x, t)
  alpha = _alpha_i(sde, jnp.float32(t), h)

  def body(j, x):
    grad = score_fn(tb, x)
    z = jax.random.normal(jax.random.fold_in(key, j), x.shape, x.dtype)
    step = 2.0 * alpha * (snr * _batch_norm(z) / _batch_norm(grad))**2
    return x + step * grad + jnp.sqrt(2.0 * step) * z

  return jax.lax.fori_loop(0, n_steps, body, x)


def annealed_langevin(sde, score_fn, x, t, h, key, snr, n_steps):
  tb = _bt(x, t)
  t = jnp.float32(t)
  step = 2.0 * _alpha_i(sde, t, h) * (snr * sde.sigma(t))**2

  def body(j, x):
    z = jax.random.normal(jax.random.fold_in(key, j), x.shape, x.dtype)
    return x + step * score_fn(tb, x) + jnp.sqrt(2.0 * step) * z

  return jax.lax.fori_loop(0, n_steps, body, x)


def no_corrector(sde, score_fn, x, t, h, key, snr, n_steps):
  return x


_PRED = dict(euler_maruyama=euler_maruyama, reverse_diffusion=reverse_diffusion,
             ancestral=ancestral, none=no_predictor)
_CORR = dict(langevin=langevin, annealed_langevin=annealed_langevin, none=no_corrector)


def nfe(steps: int, predictor: str, corrector: str, n_steps_each: int, denoise: bool,
        corrector_first: bool = False) -> int:
  """Score evaluations per sample of `pc_sample` with these options: ``steps`` predictor moves,
  ``steps`` corrector sweeps (``steps + 1`` with ``corrector_first``) of ``n_steps_each``
  updates, and the denoising step."""
  sweeps = steps + int(corrector_first)
  return (steps * (predictor != 'none') + sweeps * n_steps_each * (corrector != 'none')
          + int(denoise))


def denoise_step(sde, score_fn, x, t):
  """Tweedie: ``E[x_0 | x_t] = (x + sigma(t)^2 score(t, x)) / alpha(t)`` (`sde.tweedie`)."""
  return sde.tweedie(score_fn, t, x)


def pc_sample(sde, score_fn: Callable, rng: jax.Array, shape, *, predictor='reverse_diffusion',
              corrector='langevin', snr=0.16, n_steps_each=1, steps: Optional[int] = None,
              eps: Optional[float] = None, denoise=True, probability_flow=False,
              corrector_first=False, x_init: Optional[jax.Array] = None,
              project: Optional[Callable] = None) -> tuple[jax.Array, dict]:
  """Samples ``shape = (n, *data_shape)`` by PC sampling (module docstring).

  Args:
    sde: a `jaxgen.diffusion.sde` SDE. ``steps`` defaults to ``sde.N``, ``eps`` to ``sde.eps``.
    score_fn: ``(t[b], x) -> score``.
    corrector_first: the reference code's order (module docstring); with corrector 'none' the
      result is the default order's, key for key.
    x_init: start at this ``x_T`` instead of a prior draw.
    project: ``(t, x, key) -> x`` applied after every predictor and every corrector sweep (the
      hook of controllable generation: `jaxgen.diffusion.controllable`).
  Returns:
    ``(x, {'nfe': int})``: ``x`` at time eps (or its Tweedie denoising at eps with ``denoise``).
  """
  if predictor not in _PRED:
    raise ValueError(f'predictor {predictor!r} not in {PREDICTORS}')
  if corrector not in _CORR:
    raise ValueError(f'corrector {corrector!r} not in {CORRECTORS}')
  steps = int(sde.N if not steps else steps)
  eps = float(sde.eps if eps is None or eps < 0 else eps)
  pred, corr = _PRED[predictor], _CORR[corrector]
  ts = jnp.linspace(sde.T, eps, steps + 1)
  h = (sde.T - eps) / steps
  r0, rloop = jax.random.split(rng)
  x = sde.prior_sample(r0, tuple(shape)) if x_init is None else x_init
  proj = project if project is not None else (lambda t, x, key: x)

  def correct(x, t, key, kq):
    if corrector == 'none' or n_steps_each <= 0:
      return x
    return proj(t, corr(sde, score_fn, x, t, h, key, snr, n_steps_each), kq)

  def body(x, inp):
    k, key = inp
    kp, kc, kq1, kq2 = jax.random.split(key, 4)
    t, s = ts[k], ts[k + 1]
    if corrector_first:
      x = correct(x, t, kc, kq2)
    x = proj(s, pred(sde, score_fn, x, t, s, kp, probability_flow), kq1)
    if not corrector_first:
      x = correct(x, s, kc, kq2)
    return x, None

  x, _ = jax.lax.scan(body, x, (jnp.arange(steps), jax.random.split(rloop, steps)))
  if corrector_first:  # the last grid time's corrector (keys apart from the loop's)
    kc, kq = jax.random.split(jax.random.fold_in(rloop, steps))
    x = correct(x, ts[steps], kc, kq)
  if denoise:
    x = denoise_step(sde, score_fn, x, eps)
  return x, {'nfe': nfe(steps, predictor, corrector, n_steps_each, denoise, corrector_first)}
