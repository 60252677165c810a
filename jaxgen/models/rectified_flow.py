"""Rectified flow (Liu, Gong, Liu, ICLR 2023): 1-RF trained by straight-line velocity regression.

Time convention (the reference code's): **t = 0 is noise, t = 1 is data**. With noise
x0 ~ N(0, I) and data x1, the path is ``x_t = t x1 + (1 - t) x0`` and the network regresses the
velocity target ``x1 - x0`` at ``t ~ U(eps, 1)`` (``loss.time_sampling='uniform'``) or at
``t = sigmoid(u), u ~ N(m, s^2)`` (``'logit_normal'``, SD3's lognorm(m, s)). The network sees the
time label ``t * 999``. Sampling integrates ``dx/dt = v(t, x)`` from ``sampling.t_start`` to 1 with
any solver of `jaxgen.solvers` (Euler with N steps is the paper's default; dopri5 at rtol = atol =
1e-5 is its "RK45" row). Log-likelihood integrates the ODE backwards from the data at t = 1 to the
N(0, I) prior at t = 0 with the divergence (`jaxgen.likelihood`), in nats of the data space.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import likelihood, solvers
from jaxgen.models.base import Model
from jaxgen.nets import score_mlp, unet

NETS = {'score_mlp': score_mlp, 'unet': unet}


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='score_mlp',             # 'score_mlp' (vectors) | 'unet' (images)
      score_mlp=score_mlp.defaults(),
      unet=unet.small(),
      time_label_scale=999.0,      # the network sees t * time_label_scale
  ))
  c.loss = ml_collections.ConfigDict(dict(
      eps=1e-3,                    # t ~ U(eps, 1): the reference's (1 - eps) U + eps
      time_sampling='uniform',     # 'uniform' | 'logit_normal'
      logit_mean=0.0,
      logit_std=1.0,
  ))
  c.sampling = solvers.defaults()
  c.sampling.solver = 'euler'
  c.sampling.steps = 100
  c.sampling.num_samples = 1024
  c.sampling.t_start = 0.0         # integrate from t_start (noise) to 1 (data)
  c.sampling.likelihood_solver = 'dopri5'  # log_prob: ODE solver (rtol/atol from above)
  c.sampling.likelihood_probes = 0   # log_prob divergence: 0 = exact trace, k = Hutchinson probes
  return c


def choices() -> dict:
  return {
      'model.net': tuple(NETS),
      'loss.time_sampling': ('uniform', 'logit_normal'),
  }


def sample_time(rng, b: int, lc) -> jax.Array:
  """Training times [b]: U(eps, 1) or logit-normal, per ``loss.time_sampling``."""
  if lc.time_sampling == 'logit_normal':
    return jax.nn.sigmoid(lc.logit_mean + lc.logit_std * jax.random.normal(rng, (b,)))
  return jax.random.uniform(rng, (b,)) * (1 - lc.eps) + lc.eps


def flow_loss(v, x1, rng, lc) -> jax.Array:
  """Per-example velocity regression ``mean_dims ||(x1 - x0) - v(t, x_t)||^2``.

  ``v(t[b], x_t) -> velocity``; x0 ~ N(0, I); ``x_t = t x1 + (1 - t) x0``.
  """
  k_noise, k_t = jax.random.split(rng)
  x0 = jax.random.normal(k_noise, x1.shape)
  t = sample_time(k_t, x1.shape[0], lc)
  tb = t.reshape((-1,) + (1,) * (x1.ndim - 1))
  xt = tb * x1 + (1 - tb) * x0
  return jnp.mean(((x1 - x0) - v(t, xt)) ** 2, axis=tuple(range(1, x1.ndim)))


def sample_flow(v, rng, n: int, shape, sampling):
  """Integrates ``dx/dt = v(t, x)`` from N(0, I) at ``sampling.t_start`` to t = 1 (the data)."""
  x0 = jax.random.normal(rng, (n,) + tuple(shape))
  return solvers.integrate(v, x0, sampling.t_start, 1.0, sampling)


def flow_log_prob(v, x, rng, sampling):
  """log p_1(x) in nats: the ODE from the data (t = 1) back to the N(0, I) prior (t = 0)."""
  solver = solvers.defaults()
  solver.solver = sampling.likelihood_solver
  solver.rtol, solver.atol = sampling.rtol, sampling.atol
  solver.steps, solver.max_steps = sampling.steps, sampling.max_steps
  probes = int(sampling.likelihood_probes)
  logp, _ = likelihood.ode_log_likelihood(
      v, x, std_normal_logp, 1.0, 0.0, rng=rng, method='hutchinson' if probes else 'exact',
      num_probes=max(probes, 1), solver=solver)
  return logp


def std_normal_logp(z):
  d = z[0].size
  return -0.5 * jnp.sum(z.reshape(z.shape[0], -1) ** 2, -1) - 0.5 * d * jnp.log(2 * jnp.pi)


def build(config, spec) -> Model:
  mc, lc = config.model, config.loss
  net = NETS[mc.net].build(mc[mc.net])
  scale = mc.time_label_scale

  def apply(params, t, x, train=False, rng=None):
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    rngs = {'dropout': rng} if train else None
    return net.apply({'params': params}, x, t * scale, train=train, rngs=rngs)

  def init(rng, x):
    return net.init({'params': rng, 'dropout': rng}, x, jnp.zeros(x.shape[:1]))['params']

  def loss(params, batch, rng):
    k_loss, k_drop = jax.random.split(rng)
    v = lambda t, x: apply(params, t, x, train=True, rng=k_drop)
    return jnp.mean(flow_loss(v, batch['x'], k_loss, lc)), {}

  def velocity(params, t, x):
    return apply(params, t, x)

  def sample(params, rng, n, sampling):
    return sample_flow(lambda t, x: velocity(params, t, x), rng, n, spec.shape, sampling)

  def log_prob(params, batch, rng):
    return flow_log_prob(lambda t, x: velocity(params, t, x), batch['x'], rng, config.sampling)

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, velocity=velocity,
               t_span=(0.0, 1.0))
