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

from jaxgen import solvers
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
  c.sampling.likelihood_probes = 0   # log_prob divergence: 0 = exact trace, k = Hutchinson probes
  return c


def choices() -> dict:
  return {
      'model.net': tuple(NETS),
      'loss.time_sampling': ('uniform', 'logit_normal'),
  }


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

  def sample_time(rng, b):
    if lc.time_sampling == 'logit_normal':
      return jax.nn.sigmoid(lc.logit_mean + lc.logit_std * jax.random.normal(rng, (b,)))
    return jax.random.uniform(rng, (b,)) * (1 - lc.eps) + lc.eps

  def loss(params, batch, rng):
    x1 = batch['x']
    k_noise, k_t, k_drop = jax.random.split(rng, 3)
    x0 = jax.random.normal(k_noise, x1.shape)
    t = sample_time(k_t, x1.shape[0])
    tb = t.reshape((-1,) + (1,) * (x1.ndim - 1))
    xt = tb * x1 + (1 - tb) * x0
    v = apply(params, t, xt, train=True, rng=k_drop)
    per_example = jnp.mean(((x1 - x0) - v) ** 2, axis=tuple(range(1, x1.ndim)))
    return jnp.mean(per_example), {}

  def velocity(params, t, x):
    return apply(params, t, x)

  def sample(params, rng, n, sampling):
    x0 = jax.random.normal(rng, (n,) + tuple(spec.shape))
    x1, stats = solvers.integrate(lambda t, x: velocity(params, t, x), x0,
                                  sampling.t_start, 1.0, sampling)
    return x1, stats

  def log_prob(params, x, rng):
    from jaxgen import likelihood

    return likelihood.log_prob_from_config(
        lambda t, y: velocity(params, t, y), x, rng, t_data=1.0, t_prior=0.0,
        prior_logp=_std_normal_logp, sampling=config.sampling)

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, velocity=velocity,
               t_span=(0.0, 1.0))


def _std_normal_logp(z):
  d = z[0].size
  return -0.5 * jnp.sum(z.reshape(z.shape[0], -1) ** 2, -1) - 0.5 * d * jnp.log(2 * jnp.pi)
