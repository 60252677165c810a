"""Multi-scale coupling flows on images: RealNVP (Dinh, Sohl-Dickstein, Bengio 2017) and Glow
(Kingma & Dhariwal 2018), one family with ``model.flow = 'realnvp' | 'glow'``.

The model is a bijection eps = f(x) of an image x ``[h, w, c]`` to a flat eps in R^D, every
coordinate standard normal (Glow's learned prior of a factored-out half is a layer of f:
`jaxgen.nets.flow_coupling.SplitPrior`), so the exact log-density is

    log p_X(x) = sum_d log N(eps_d; 0, 1) + log|det df/dx|.

Architecture (`architecture.plan`): ``model.levels`` levels of ``model.steps`` coupling steps,
``model.hidden`` channels in each coupling net (``model.res_blocks`` > 0: RealNVP's residual
blocks), ``model.coupling`` 'affine' | 'additive', ``model.permutation`` (Glow's channel mixing:
'invconv', 'invconv_lu', 'reverse', 'shuffle'; RealNVP alternates its masks instead),
``model.actnorm`` (ActNorm before each coupling). The affine log-scale is bounded as each paper's
code does: RealNVP a tanh(r), Glow log sigmoid(r + 2). ``model.logit_alpha`` > 0 maps the data to
R by RealNVP's logit (its log-det counted), 0 by x - 0.5 (Glow's).
``model.dequantizer.kind='variational'`` trains Flow++'s q(u | k) (`jaxgen.nets.dequantizer`)
jointly: its parameters are ``params['dequantizer']`` beside the flow's ``params['flow']``.

Data convention (NICE's, `jaxgen.models.nice`): ``data.scale='unit'``, ``data.dequantize=True``:
x = (255 k + u) / 256, u ~ U(0, 1). ``log_prob`` (``discrete=False``) is the log-*density* of the
dequantized [0, 1] data, nats per example; bits/dim on the 8-bit data (`jaxgen.metrics.bpd`, a
lower bound on the discrete log-likelihood by Jensen) is log2(256) - LL / (D ln 2).

Loss: ``loss.reduction='per_dim'`` (default; the papers report and Glow's code optimises bits/dim)
the batch mean of -log p_X(x) / D, ``'per_example'`` nats per example. Metrics: ``nll_nats``,
``nll_per_dim`` and, for dequantized integer data, ``bpd``. With the variational dequantizer the
loss is the negative variational bound -(log p_X((k + u) / 256) - log q(u | k)), u ~ q
(`jaxgen.metrics.dequantization`), its metric ``bpd_vdeq``; ``log_prob`` stays the flow's density
(the uniform bound ``bpd``), ``extras['variational_log_prob']`` (params, batch, rng) -> [b] is the
bound of one draw (the evaluator's opt-in ``bpd_vdeq``, `jaxgen.runtime.evaluators.
variational_dequantization`).

Sampling (`jaxgen.models.nice.Sampling`) draws eps ~ N(0, T^2 I), T = ``sampling.temperature``
(Glow's: it scales the std of every prior, the split priors included; T = 0 gives the image of the
prior means), and inverts f. Extras: ``encode(params, x) -> eps [b, D]``, ``decode(params, eps) ->
x``, ``forward(params, x) -> (eps, log_det)``, ``log_density(params, x)`` and ``inpaint(params,
rng, x, mask, settings, **overrides)`` (NICE's projected gradient ascent on log p,
`jaxgen.models.nice.gradient_inpaint`; `python -m launch.inpaint`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.metrics import dequantization
from jaxgen.models.base import Model, batch_x, merged_section, typed_settings
from jaxgen.models.coupling_flow import architecture
from jaxgen.models.nice import Sampling, gradient_inpaint
from jaxgen.nets import dequantizer, flow_coupling, flow_layers

METRICS = ('bpd_vdeq',)   # opt-in: the variational dequantization bound (model.dequantizer)


def defaults() -> ml_collections.ConfigDict:
  """Schema and defaults of the ``model``, ``loss`` and ``sampling`` sections (a small Glow)."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict()
  c.model.flow = 'glow'                # 'realnvp' | 'glow'
  c.model.levels = 2                   # scales (Glow CIFAR-10: 3; RealNVP CIFAR-10: 3)
  c.model.steps = 4                    # coupling steps per level (Glow: 32; RealNVP: 3)
  c.model.hidden = 128                 # channels of each coupling net (Glow: 512; RealNVP: 64)
  c.model.res_blocks = 0               # 0: Glow's 3x3-1x1-3x3 net; k: k residual blocks (RealNVP: 8)
  c.model.coupling = 'affine'          # 'affine' | 'additive'
  c.model.permutation = 'invconv_lu'   # glow: 'invconv' | 'invconv_lu' | 'reverse' | 'shuffle'
  c.model.actnorm = True               # ActNorm before each coupling
  c.model.logit_alpha = 0.0            # > 0: RealNVP's logit map of [0, 1] to R; 0: x - 0.5
  c.model.dequantizer = dequantizer.defaults()   # kind 'uniform' | 'variational' (Flow++)
  c.loss = ml_collections.ConfigDict()
  c.loss.reduction = 'per_dim'         # 'per_dim' (nats per dim) | 'per_example' (nats per image)
  c.sampling = ml_collections.ConfigDict()
  c.sampling.num_samples = 64
  c.sampling.temperature = 1.0         # eps ~ N(0, T^2 I) (Glow's samples: T = 0.7)
  c.sampling.clip = True               # clip samples to the data range [spec.low, spec.high]
  c.sampling.inpaint_steps = 1000      # as NICE's (jaxgen.models.nice.gradient_inpaint)
  c.sampling.inpaint_lr = 0.1
  c.sampling.inpaint_lr_offset = 100.0
  c.sampling.inpaint_noise = 0.0
  c.sampling.inpaint_mask = 'bottom_half'  # launch.inpaint's default mask kind on this run
  return c


def choices() -> dict[str, tuple]:
  """Closed value sets of this family's keys (used by jaxgen.runtime.config.validate)."""
  return {
      'model.flow': architecture.FLOWS,
      'model.coupling': flow_coupling.COUPLINGS,
      'model.permutation': flow_layers.PERMUTATIONS,
      'loss.reduction': ('per_dim', 'per_example'),
      'model.dequantizer.kind': dequantizer.KINDS,
  }


def ranges() -> dict[str, tuple]:
  """Ranges of this family's numeric keys (used by jaxgen.runtime.config.validate)."""
  return {
      'model.levels': (lambda v: v >= 1, '>= 1'),
      'model.steps': (lambda v: v >= 1, '>= 1'),
      'model.hidden': (lambda v: v >= 1, '>= 1'),
      'model.res_blocks': (lambda v: v >= 0, '>= 0'),
      'model.logit_alpha': (lambda v: 0 <= v < 0.5, 'in [0, 0.5)'),
      'model.dequantizer.steps': (lambda v: v >= 1, '>= 1'),
      'model.dequantizer.hidden': (lambda v: v >= 1, '>= 1'),
      'sampling.num_samples': (lambda v: v >= 1, '>= 1'),
      'sampling.temperature': (lambda v: v >= 0, '>= 0'),
      'sampling.inpaint_steps': (lambda v: v >= 0, '>= 0'),
      'sampling.inpaint_lr': (lambda v: v > 0, '> 0'),
      'sampling.inpaint_lr_offset': (lambda v: v > 0, '> 0'),
      'sampling.inpaint_noise': (lambda v: v >= 0, '>= 0'),
  }


def cross_checks(config) -> list[str]:
  """A density of images needs dequantized data (on the integer grid its likelihood is
  unbounded); raw continuous sources (``data.scale='none'``) are left alone."""
  if not config.data.dequantize and config.data.scale != 'none':
    return [f'config.data.dequantize=False: coupling_flow fits a density, which is unbounded on '
            f'the discrete levels of config.data.name={config.data.name!r}: set '
            '--config.data.dequantize=true']
  variational = config.model.dequantizer.kind == 'variational'
  if variational and config.data.scale == 'none':
    return ["config.model.dequantizer.kind='variational' dequantizes integer levels, but "
            "config.data.scale='none' keeps raw values: set --config.data.scale=unit"]
  if 'bpd_vdeq' in config.eval.metrics and not variational:
    return ["config.eval.metrics: 'bpd_vdeq' is the bound of a trained dequantizer: set "
            "--config.model.dequantizer.kind=variational or leave 'bpd_vdeq' out"]
  return []


def check_shape(mc, spec) -> None:
  """Refuses data that is not an image ``[h, w, c]`` or whose sides the levels cannot halve."""
  shape = tuple(spec.shape)
  if len(shape) != 3:
    raise ValueError(f'config.data.name={spec.name!r} has examples of shape {shape}, but '
                     'coupling_flow models images [h, w, c]: use an image data set')
  n = architecture.squeezes(mc.flow, mc.levels)
  if shape[0] % 2**n or shape[1] % 2**n:
    fits = [lv for lv in range(1, mc.levels)
            if not (shape[0] % 2**architecture.squeezes(mc.flow, lv)
                    or shape[1] % 2**architecture.squeezes(mc.flow, lv))]
    fix = (f'set --config.model.levels={max(fits)}' if fits else
           'use images with even sides')
    raise ValueError(f'config.model.levels={mc.levels}: model.flow={mc.flow!r} halves the image '
                     f'sides {n} times, so they must be divisible by {2**n}, but '
                     f'config.data.name={spec.name!r} has {shape[0]}x{shape[1]}: {fix}')


def standard_normal_log_prob(eps: jax.Array) -> jax.Array:
  """[b] sum over the flat latent ``eps [b, D]`` of log N(eps_d; 0, 1), nats."""
  return jnp.sum(-0.5 * jnp.square(eps) - 0.5 * math.log(2 * math.pi), axis=-1)


def build(config: ml_collections.ConfigDict, spec) -> Model:
  """Builds the coupling-flow `Model` for images of ``spec.shape`` (see the module docstring)."""
  mc = config.model
  check_shape(mc, spec)
  shape = tuple(spec.shape)
  dim = int(np.prod(shape))
  flow = architecture.MultiScaleFlow(
      shape=shape, ops=architecture.plan(mc.flow, mc.levels, mc.steps, mc.permutation,
                                         mc.actnorm),
      hidden=mc.hidden, res_blocks=mc.res_blocks, coupling=mc.coupling,
      log_scale='tanh' if mc.flow == 'realnvp' else 'sigmoid', logit_alpha=mc.logit_alpha,
      low=float(spec.low), high=float(spec.high))
  reduction = config.loss.reduction
  dequantized = bool(getattr(spec, 'dequantized', False))
  variational = mc.dequantizer.kind == 'variational'
  if variational and (spec.num_levels is None or not dequantized):
    raise ValueError(f"config.model.dequantizer.kind='variational' needs dequantized integer "
                     f'data; config.data.name={spec.name!r} is not: set --config.data.dequantize'
                     '=true (or model.dequantizer.kind=uniform)')
  q = dequantizer.build(mc.dequantizer, spec.num_levels) if variational else None
  flow_params = (lambda p: p['flow']) if variational else (lambda p: p)

  def init(rng, x_example):
    """Parameters, ActNorm's initialised on ``x_example`` (a batch of data); with the
    variational dequantizer ``{'flow': ..., 'dequantizer': ...}``."""
    if not variational:
      return flow.init(rng, x_example)['params']
    k_flow, k_q = jax.random.split(rng)
    levels = bpd_lib.integer_levels(x_example, spec)
    return {'flow': flow.init(k_flow, x_example)['params'],
            'dequantizer': dequantizer.init(q, k_q, levels)}

  def forward(params, x):
    """x [b, *shape] -> (eps [b, D], log|det d eps / dx| [b])."""
    return flow.apply({'params': flow_params(params)}, x)

  def encode(params, x):
    return forward(params, x)[0]

  def decode(params, eps):
    """eps [b, D] -> x [b, *shape]: the exact inverse of `encode`."""
    return flow.apply({'params': flow_params(params)}, eps,
                      method=architecture.MultiScaleFlow.inverse)[0]

  def log_density(params, x):
    """[b] log-density in nats of ``x: [b, *shape]`` (exact and deterministic)."""
    eps, log_det = forward(params, x)
    return standard_normal_log_prob(eps) + log_det

  def log_prob(params, batch, rng=None):
    """[b] log-density in nats of ``batch['x']`` (the Model contract; ``rng`` is unused)."""
    del rng
    return log_density(params, batch_x(batch))

  def variational_log_prob(params, batch, rng):
    """[b] log p_X(x(k + u)) - log q(u | k) nats, one draw u ~ q (the variational bound)."""
    return dequantization.variational_log_prob(
        lambda x: log_density(params, x),
        lambda levels, r: dequantizer.draw(q, params['dequantizer'], levels, r),
        batch_x(batch), rng, spec)

  def loss(params, batch, rng, train=True):  # no dropout: train changes nothing
    del train
    nll = -jnp.mean(variational_log_prob(params, batch, rng) if variational else
                    log_density(params, batch['x']))
    metrics = {'nll_nats': nll, 'nll_per_dim': nll / dim}
    if dequantized and spec.num_levels is not None:
      metrics['bpd_vdeq' if variational else 'bpd'] = bpd_lib.bits_per_dim(-nll, spec, False)
    return (nll / dim if reduction == 'per_dim' else nll), metrics

  def sampling_settings(value=None) -> Sampling:
    """The `Sampling` of the run's section with ``value`` (a dict of some keys) over it."""
    if isinstance(value, Sampling):
      return value
    s = merged_section(config.sampling, value)
    return Sampling(**{f.name: type(f.default)(s[f.name]) for f in dataclasses.fields(Sampling)})

  def sample(params, rng, n, settings):
    s = typed_settings(settings, Sampling, 'coupling_flow')
    x = decode(params, s.temperature * jax.random.normal(rng, (n, dim), jnp.float32))
    if s.clip:
      x = jnp.clip(x, spec.low, spec.high)
    return x, {'nfe': 1}

  def inpaint(params, rng, x, mask, settings, **overrides):
    """Fills ``x`` where ``mask`` is False (`gradient_inpaint.inpaint_with_settings`);
    ``info['log_prob']`` the [steps + 1, b] trace."""
    s = typed_settings(settings, Sampling, 'coupling_flow')
    return gradient_inpaint.inpaint_with_settings(lambda z: log_density(params, z), x, mask, rng,
                                                  s, low=spec.low, high=spec.high, **overrides)

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, discrete=False,
               extras={'encode': encode, 'decode': decode, 'forward': forward,
                       'inpaint': inpaint, 'log_density': log_density,
                       **({'variational_log_prob': variational_log_prob} if variational else {})},
               sampling_settings=sampling_settings)
