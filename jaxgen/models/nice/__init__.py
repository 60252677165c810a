"""NICE: Non-linear Independent Components Estimation (Dinh, Krueger, Bengio 2014).

The model is an invertible map h = f(x) of the flattened data x in R^D,

    f = S o C_{L-1} o ... o C_0,    C_k additive couplings (jaxgen.nets.coupling),
    S(z) = exp(s) * z               the final diagonal scaling, s in R^D (log-det = sum s),

(``params['log_scale']`` holds s / ``model.scale_mult``; the multiplier, 1 in the paper, only
changes how fast Adam moves s, whose steps are otherwise at most ~lr per coordinate),

with a factorised prior p_H, so the exact log-density is

    log p_X(x) = sum_d log p_H(h_d) + sum_d s_d,      h = f(x).

Priors (``model.prior``): ``'logistic'`` log p(h) = -softplus(h) - softplus(-h) (the paper's, for
MNIST/TFD/SVHN) and ``'gaussian'`` log p(h) = -h^2/2 - log(2 pi)/2 (the paper's CIFAR-10 setting).

Data convention. ``batch['x']`` is the data after jaxgen.data's transforms. For the paper's image
setting use ``data.scale='unit'`` and ``data.dequantize=True``: x = (255 k + u)/256, u ~ U(0, 1),
bins of exactly 1/256 in [0, 1]. ``log_prob`` (``discrete=False``) is then the log-*density* of the
dequantized [0, 1] data in nats per example, the paper's unit. Bits per dimension on the 8-bit
data (a lower bound on the discrete log-likelihood, by Jensen; `jaxgen.metrics.bpd`):

    bpd = log2(K) - LL / (D ln 2),     K = bins per unit of the scaled space (256 for [0, 1]).

Loss. ``loss.reduction='per_example'`` (default, the paper's objective): the batch mean of
-log p_X(x) in nats per example; ``'per_dim'``: divided by D (same direction; Adam's eps and
gradient clipping then act on a D-times smaller scale). Metrics (batch means): ``nll_nats``,
``nll_per_dim`` and, for dequantized integer data, ``bpd``.

Sampling (`Sampling`, made once by ``model.sampling_settings(section)``) draws h ~ p_H (scaled by
``sampling.temperature``) and inverts f; ``sampling.clip`` clips the result to the data range.
Extras: ``encode(params, x) -> h [b, D]``, ``decode(params, h) -> x [b, *shape]``,
``forward(params, x) -> (h, log_det)``, ``inpaint(params, rng, x, mask, settings, **overrides) ->
(x, info)`` (`jaxgen.models.nice.gradient_inpaint`: projected gradient ascent on log p over the
coordinates where ``mask`` is False; ``info['log_prob']`` its trace; `python -m launch.inpaint`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.models.base import Model, batch_x, merged_section, typed_settings
from jaxgen.models.nice import gradient_inpaint
from jaxgen.nets import coupling

PRIORS = ('logistic', 'gaussian')


def defaults() -> ml_collections.ConfigDict:
  """Schema and defaults of the ``model``, ``loss`` and ``sampling`` sections (paper's MNIST)."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict()
  c.model.num_couplings = 4        # additive coupling layers (paper's MNIST: 4)
  c.model.hidden = 1000            # units per hidden ReLU layer of each coupling MLP (paper: 1000)
  c.model.depth = 5                # hidden layers per coupling MLP (paper: 5)
  c.model.prior = 'logistic'       # 'logistic' | 'gaussian'
  c.model.split = 'odd_even'       # 'odd_even' (paper) | 'halves' | 'checkerboard'
  c.model.kernel_init = 'uniform'  # 'uniform' (released code, U(-r, r)) | 'he' (output scaled by r)
  c.model.init_range = 0.01        # r above (released code: irange 0.01)
  c.model.scale_mult = 1.0         # s = scale_mult * s_param: multiplies s's Adam step (1 = paper)
  c.loss = ml_collections.ConfigDict()
  c.loss.reduction = 'per_example'  # 'per_example' (nats/example, the paper's) | 'per_dim'
  c.sampling = ml_collections.ConfigDict()
  c.sampling.num_samples = 64
  c.sampling.temperature = 1.0     # h = temperature * (prior draw)
  c.sampling.clip = True           # clip samples to the data range [spec.low, spec.high]
  c.sampling.inpaint_steps = 1000  # projected gradient ascent steps (nice.gradient_inpaint)
  # Step a_i = inpaint_lr / (inpaint_lr_offset + i) on the per-image gradient: the paper's
  # 10/(100+i) on the mean over its 100 images (jaxgen.models.nice.gradient_inpaint).
  c.sampling.inpaint_lr = 0.1
  c.sampling.inpaint_lr_offset = 100.0
  c.sampling.inpaint_noise = 0.0   # std of Gaussian noise added to the gradient (0: plain ascent)
  # The default mask kind of `python -m launch.inpaint` on this run (with 'random'); a kind of
  # jaxgen.data.masks.MASKS, checked by that command before it runs (models cannot import data).
  c.sampling.inpaint_mask = 'bottom_half'
  return c


def choices() -> dict[str, tuple]:
  """Closed value sets of this family's keys (used by jaxgen.runtime.config.validate)."""
  return {
      'model.prior': PRIORS,
      'model.split': coupling.SPLITS,
      'model.kernel_init': ('uniform', 'he'),
      'loss.reduction': ('per_example', 'per_dim'),
  }


def ranges() -> dict[str, tuple]:
  """Ranges of this family's numeric keys (used by jaxgen.runtime.config.validate)."""
  return {
      'model.num_couplings': (lambda v: v >= 1, '>= 1'),
      'model.hidden': (lambda v: v >= 1, '>= 1'),
      'model.depth': (lambda v: v >= 0, '>= 0'),
      'model.init_range': (lambda v: v >= 0, '>= 0'),
      'model.scale_mult': (lambda v: v > 0, '> 0'),
      'sampling.num_samples': (lambda v: v >= 1, '>= 1'),
      'sampling.temperature': (lambda v: v >= 0, '>= 0'),
      'sampling.inpaint_steps': (lambda v: v >= 0, '>= 0'),
      'sampling.inpaint_lr': (lambda v: v > 0, '> 0'),
      'sampling.inpaint_lr_offset': (lambda v: v > 0, '> 0'),
      'sampling.inpaint_noise': (lambda v: v >= 0, '>= 0'),
  }


# ---------------------------------------------------------------------------------------------
# Priors and the nats <-> bits/dim conversion.


def prior_log_prob(h: jax.Array, prior: str) -> jax.Array:
  """Elementwise log p_H(h) in nats (standard logistic or standard normal)."""
  if prior == 'logistic':
    return -jax.nn.softplus(h) - jax.nn.softplus(-h)
  if prior == 'gaussian':
    return -0.5 * jnp.square(h) - 0.5 * math.log(2 * math.pi)
  raise ValueError(f'unknown prior {prior!r}; expected one of {PRIORS}')


def prior_sample(rng: jax.Array, shape: tuple[int, ...], prior: str) -> jax.Array:
  """Draws from the standard logistic (logit of a uniform) or standard normal prior."""
  if prior == 'logistic':
    return jax.random.logistic(rng, shape, jnp.float32)
  if prior == 'gaussian':
    return jax.random.normal(rng, shape, jnp.float32)
  raise ValueError(f'unknown prior {prior!r}; expected one of {PRIORS}')


# ---------------------------------------------------------------------------------------------
# The flow.


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings (the section's keys of the same names)."""

  temperature: float = 1.0
  clip: bool = True
  inpaint_steps: int = 1000
  inpaint_lr: float = 0.1
  inpaint_lr_offset: float = 100.0
  inpaint_noise: float = 0.0


def build(config: ml_collections.ConfigDict, spec) -> Model:
  """Builds the NICE `Model` for data of ``spec.shape`` (see the module docstring)."""
  mc = config.model
  shape = tuple(spec.shape)
  dim = int(np.prod(shape))
  if mc.prior not in PRIORS:
    raise ValueError(f'model.prior must be one of {PRIORS}, got {mc.prior!r}')
  parts = [coupling.layer_parts(shape, mc.split, k) for k in range(mc.num_couplings)]
  nets = [coupling.CouplingMLP(out_dim=len(upd), hidden=mc.hidden, depth=mc.depth,
                               kernel_init=mc.kernel_init, init_range=mc.init_range)
          for _, upd in parts]
  reduction = config.loss.reduction
  if reduction not in ('per_dim', 'per_example'):
    raise ValueError(f"loss.reduction must be 'per_dim' or 'per_example', got {reduction!r}")
  dequantized = getattr(spec, 'dequantized', None)
  if dequantized is None:  # a spec without the field: trust the run config
    data_cfg = config.get('data', None)
    dequantized = bool(data_cfg.get('dequantize', False)) if data_cfg is not None else False

  def init(rng, x_example):
    flat = jnp.reshape(x_example, (x_example.shape[0], dim))[:1]
    params = {}
    for k, ((cond, _), net) in enumerate(zip(parts, nets)):
      params[f'coupling_{k}'] = net.init(jax.random.fold_in(rng, k), flat[:, cond])['params']
    params['log_scale'] = jnp.zeros((dim,), jnp.float32)
    return params

  def log_scale(params):
    return mc.scale_mult * params['log_scale']

  def shift_fn(params, k):
    return lambda xa: nets[k].apply({'params': params[f'coupling_{k}']}, xa)

  def forward(params, x):
    """x [b, *shape] -> (h [b, D], log|det df/dx| scalar, the same for every x)."""
    z = jnp.reshape(x, (x.shape[0], dim))
    for k, (cond, upd) in enumerate(parts):
      z = coupling.additive_coupling(z, shift_fn(params, k), cond, upd)
    s = log_scale(params)
    return z * jnp.exp(s), jnp.sum(s)

  def encode(params, x):
    return forward(params, x)[0]

  def decode(params, h):
    """h [b, D] -> x [b, *shape]: the exact inverse of `encode`."""
    z = h * jnp.exp(-log_scale(params))
    for k in reversed(range(len(parts))):
      cond, upd = parts[k]
      z = coupling.additive_coupling(z, shift_fn(params, k), cond, upd, inverse=True)
    return jnp.reshape(z, (h.shape[0],) + shape)

  def log_density(params, x):
    """[b] log-density in nats of ``x: [b, *shape]`` (exact and deterministic)."""
    h, log_det = forward(params, x)
    return jnp.sum(prior_log_prob(h, mc.prior), axis=-1) + log_det

  def log_prob(params, batch, rng=None):
    """[b] log-density in nats of ``batch['x']`` (the Model contract; ``rng`` is unused)."""
    del rng
    return log_density(params, batch_x(batch))

  def loss(params, batch, rng, train=True):  # no dropout: train changes nothing
    del train
    lp = log_density(params, batch['x'])
    nll = -jnp.mean(lp)
    metrics = {'nll_nats': nll, 'nll_per_dim': nll / dim,
               'log_scale_sum': jnp.sum(log_scale(params))}
    if dequantized and spec.num_levels is not None:
      metrics['bpd'] = bpd_lib.bits_per_dim(-nll, spec, discrete=False)
    value = nll / dim if reduction == 'per_dim' else nll
    return value, metrics

  def sampling_settings(value=None) -> Sampling:
    """The `Sampling` of the run's section with ``value`` (a dict of some keys) over it."""
    if isinstance(value, Sampling):
      return value
    s = merged_section(config.sampling, value)
    return Sampling(**{f.name: type(f.default)(s[f.name]) for f in dataclasses.fields(Sampling)})

  def sample(params, rng, n, settings):
    s = typed_settings(settings, Sampling, 'nice')
    h = s.temperature * prior_sample(rng, (n, dim), mc.prior)
    x = decode(params, h)
    if s.clip:
      x = jnp.clip(x, spec.low, spec.high)
    return x, {'nfe': 1}

  def inpaint(params, rng, x, mask, settings, **overrides):
    """Fills ``x`` where ``mask`` is False (`gradient_inpaint.inpaint` with the ``inpaint_*``
    settings; ``overrides``: its keywords); ``info['log_prob']`` the [steps + 1, b] trace."""
    s = typed_settings(settings, Sampling, 'nice')
    kw = dict(steps=s.inpaint_steps, lr=s.inpaint_lr, lr_offset=s.inpaint_lr_offset,
              noise=s.inpaint_noise, low=spec.low, high=spec.high)
    kw.update(overrides)
    return gradient_inpaint.inpaint(lambda z: log_density(params, z), x, mask, rng, **kw)

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, discrete=False,
               extras={'encode': encode, 'decode': decode, 'forward': forward,
                       'inpaint': inpaint, 'log_density': log_density},
               sampling_settings=sampling_settings)
