"""The MADE family: exact autoregressive likelihoods on integer vectors (Germain et al. 2015), with
NADE (Larochelle & Murray 2011) as its weight-shared baseline (``model.net='nade'``).

An example x in {0..K-1}^D (any shape, flattened in C order: an image row by row) is factorised
along an ordering o of its D dimensions,

    log P(x) = sum_t log P(x_{o(t)} | x_{o(1)}, ..., x_{o(t-1)}),

every conditional read from one masked-MLP evaluation (`jaxgen.nets.made`). Data as for the
PixelCNN family: ``spec.num_levels`` set (K = 2 after ``data.binarize``), no dequantization, any
``data.scale`` ('levels' recommended); the net reads k / (K-1) on [0, 1] and samples come back in
the space of ``batch['x']``. Outputs (``model.output``): 'bernoulli' (K = 2: one logit per
dimension), 'categorical' (K logits), 'auto' (bernoulli for K = 2, else categorical).

Masks. ``model.num_masks`` (ordering, connectivity) pairs are drawn once from
``model.mask_seed`` (mask i from numpy's Generator of (mask_seed, i)); ``model.order_agnostic``
gives each its own random ordering, else all use the natural order 0..D-1 and differ only in
their hidden degrees (num_masks = 1: one fixed natural-order MADE). Training draws the mask of
each minibatch uniformly from the set with the step's key. Evaluation averages the
*probabilities* of the first ``model.eval_masks`` masks (the paper's test-time ensemble):

    log P_ens(x) = logsumexp_i log P_i(x) - log E,

itself a normalised distribution, a uniform mixture of E autoregressive models. NADE has one fixed
natural order (num_masks = eval_masks = 1, one hidden layer).

Units. ``log_prob`` (``discrete=True``) is log P(x) in nats per example; bits/dim through
`jaxgen.metrics.bpd`. The loss is -log P of the minibatch's mask in nats per dimension
(``loss.reduction='per_dim'``) or per example ('per_image'); metrics ``nll_nats``, ``bpd``.

Sampling (`Sampling`): exact ancestral draws of the ensemble of the first ``sampling.masks`` masks
(0: ``model.eval_masks``): each sample draws its mask uniformly, then D sequential steps in that
mask's ordering inside one jitted ``lax.fori_loop``, one network call per step (MADE) or NADE's
O(H) recursion. ``info['nfe']`` = D.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.distributions import discretized_logistic as dl
from jaxgen.metrics import bpd as bpd_lib
from jaxgen.models.base import Model, batch_x, merged_section, typed_settings
from jaxgen.nets import made as made_net
from jaxgen.nets.nade import NADE

NETS = ('made', 'nade')
OUTPUTS = ('auto', 'bernoulli', 'categorical')


def defaults() -> ml_collections.ConfigDict:
  """Schema and defaults of the ``model``, ``loss`` and ``sampling`` sections."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='made',              # 'made' | 'nade'
      hidden=(500,),           # hidden widths (nade: exactly one layer)
      direct=True,             # made: masked direct input->output connection
      output='auto',           # 'auto' | 'bernoulli' | 'categorical'
      num_masks=1,             # (ordering, connectivity) pairs trained on, one per minibatch
      order_agnostic=False,    # True: each mask its own random ordering; False: natural order
      eval_masks=1,            # masks whose probabilities log_prob averages (<= num_masks)
      mask_seed=0,             # the masks are drawn from (mask_seed, i)
  ))
  c.loss = ml_collections.ConfigDict(dict(
      reduction='per_dim',     # 'per_dim' (nats per dimension) | 'per_image' (nats per example)
  ))
  c.sampling = ml_collections.ConfigDict(dict(
      num_samples=64,
      masks=0,                 # draws mix the first `masks` masks; 0: model.eval_masks
  ))
  return c


def choices() -> dict:
  return {'model.net': NETS, 'model.output': OUTPUTS,
          'loss.reduction': ('per_dim', 'per_image')}


def ranges() -> dict:
  return {
      'model.hidden': (lambda v: len(v) >= 1 and all(h >= 1 for h in v),
                       'a non-empty tuple of widths >= 1, e.g. (500,)'),
      'model.num_masks': (lambda v: v >= 1, '>= 1'),
      'model.eval_masks': (lambda v: v >= 1, '>= 1'),
      'model.mask_seed': (lambda v: v >= 0, '>= 0'),
      'sampling.num_samples': (lambda v: v >= 1, '>= 1'),
      'sampling.masks': (lambda v: v >= 0, '>= 0 (0: model.eval_masks)'),
  }


def cross_checks(config) -> list:
  """Messages for mask counts the trained set cannot serve and NADE settings it does not have."""
  mc, problems = config.model, []
  if mc.eval_masks > mc.num_masks:
    problems.append(f'config.model.eval_masks={mc.eval_masks} averages masks never trained: '
                    f'set it <= model.num_masks={mc.num_masks}')
  if config.sampling.masks > mc.num_masks:
    problems.append(f'config.sampling.masks={config.sampling.masks} mixes masks never trained: '
                    f'set it <= model.num_masks={mc.num_masks} (0: model.eval_masks)')
  if mc.net == 'nade':
    if mc.num_masks != 1 or mc.eval_masks != 1 or mc.order_agnostic:
      problems.append('config.model.net=nade has one fixed natural order: set model.num_masks=1, '
                      'model.eval_masks=1 and model.order_agnostic=False (or model.net=made)')
    if len(mc.hidden) != 1:
      problems.append(f'config.model.hidden={tuple(mc.hidden)}: NADE has one hidden layer; set '
                      f'e.g. --config.model.hidden=({mc.hidden[0]},)')
  return problems


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings: ``masks`` (0: the evaluation ensemble)."""

  masks: int = 0


def _output_kind(mc, k: int) -> str:
  kind = mc.output if mc.output != 'auto' else ('bernoulli' if k == 2 else 'categorical')
  if kind == 'bernoulli' and k != 2:
    raise ValueError(f"config.model.output='bernoulli' needs binary data (num_levels=2), got "
                     f"{k} levels: set data.binarize or model.output='categorical'")
  return kind


def build(config, spec) -> Model:
  mc = config.model
  if spec.num_levels is None:
    raise ValueError(f'the MADE family models integer data; {spec.name} is continuous '
                     '(spec.num_levels is None)')
  if spec.dequantized:
    raise ValueError('the MADE family needs the integer data: set data.dequantize=False '
                     "(and data.scale='levels')")
  if spec.dim < 2:
    raise ValueError(f'the MADE family needs at least 2 dimensions; {spec.name} has {spec.dim}')
  if config.sampling.masks > mc.num_masks or mc.eval_masks > mc.num_masks:
    raise ValueError('; '.join(cross_checks(config)))
  dim, k = spec.dim, spec.num_levels
  kind = _output_kind(mc, k)
  per_dim = 1 if kind == 'bernoulli' else k
  low, high = float(spec.low), float(spec.high)

  if mc.net == 'nade':
    net = NADE(dim, int(mc.hidden[0]), per_dim)
    degrees = (jnp.arange(1, dim + 1, dtype=jnp.int32)[None],)
  else:
    net = made_net.MADE(tuple(int(h) for h in mc.hidden), per_dim, bool(mc.direct))
    degrees = tuple(jnp.asarray(d) for d in made_net.stacked_degrees(
        int(mc.mask_seed), int(mc.num_masks), dim, tuple(mc.hidden), bool(mc.order_agnostic)))

  def levels(x):
    return bpd_lib.integer_levels(x, spec).reshape(x.shape[0], dim).astype(jnp.int32)

  def net_input(xi):
    return xi.astype(jnp.float32) / (k - 1)

  def mask(i):
    return made_net.masks(tuple(d[i] for d in degrees))

  def logits(params, u, i):
    """Outputs [b, D, per_dim] of the net input u = k / (K-1) [b, D] under mask i (NADE: its
    one order)."""
    if mc.net == 'nade':
      return net.apply({'params': params}, u)
    return net.apply({'params': params}, u, mask(i))

  def conditional_log_prob(out, xi):
    if kind == 'bernoulli':
      return dl.bernoulli_log_prob(out[..., 0], xi)
    return dl.categorical_log_prob(out, xi)

  def draw(key, out):
    return dl.bernoulli_sample(key, out[..., 0]) if kind == 'bernoulli' else (
        dl.categorical_sample(key, out))

  def log_prob_mask(params, batch, i):
    """log P_i(x) [b] in nats under mask i alone."""
    xi = levels(batch_x(batch))
    return conditional_log_prob(logits(params, net_input(xi), i), xi).sum(-1)

  def init(rng, x_example):
    u = net_input(levels(x_example))
    return (net.init(rng, u) if mc.net == 'nade' else net.init(rng, u, mask(0)))['params']

  def log_prob(params, batch, rng=None):
    if mc.eval_masks == 1:
      return log_prob_mask(params, batch, 0)
    per_mask = jax.lax.map(lambda i: log_prob_mask(params, batch, i),
                           jnp.arange(mc.eval_masks))
    return jax.nn.logsumexp(per_mask, axis=0) - math.log(mc.eval_masks)

  def loss(params, batch, rng, train=True):
    i = jax.random.randint(rng, (), 0, mc.num_masks) if mc.num_masks > 1 else 0
    lp = log_prob_mask(params, batch, i)
    nll = -lp.mean()
    value = nll / dim if config.loss.reduction == 'per_dim' else nll
    return value, {'nll_nats': nll, 'bpd': jnp.mean(bpd_lib.bits_per_dim(lp, spec, discrete=True))}

  def sampling_settings(value=None) -> Sampling:
    """The `Sampling` of the run's section with ``value`` (a dict of some keys) over it."""
    if isinstance(value, Sampling):
      return value
    s = merged_section(config.sampling, value)
    return Sampling(masks=int(s.get('masks', 0)))

  def ancestral(params, key, n, i):
    """n draws [n, D] of mask i: D steps in its ordering, one network call each."""
    variables, m, order = {'params': params}, mask(i), made_net.input_order(degrees[0][i])

    def step(t, carry):
      xi, key = carry
      key, sub = jax.random.split(key)
      d = order[t]
      out = net.apply(variables, net_input(xi), m)[:, d]        # [n, per_dim]
      return xi.at[:, d].set(draw(sub, out)), key

    return jax.lax.fori_loop(0, dim, step, (jnp.zeros((n, dim), jnp.int32), key))[0]

  def sample_nade(params, key, n):
    variables = {'params': params}

    def step(d, carry):
      xi, a, key = carry
      key, sub = jax.random.split(key)
      v = draw(sub, net.apply(variables, a, d, method=NADE.output))
      a = net.apply(variables, a, d, net_input(v), method=NADE.advance)
      return xi.at[:, d].set(v), a, key

    start = net.apply(variables, n, method=NADE.start)
    return jax.lax.fori_loop(0, dim, step, (jnp.zeros((n, dim), jnp.int32), start, key))[0]

  def sample(params, rng, n, sampling: Sampling):
    typed_settings(sampling, Sampling, 'made')
    if mc.net == 'nade':
      xi = sample_nade(params, rng, n)
    else:
      mix = sampling.masks or mc.eval_masks
      k_mask, k_draw = jax.random.split(rng)
      if mix == 1:
        xi = ancestral(params, k_draw, n, 0)
      else:   # a draw of the mixture: each sample its own mask
        which = jax.random.randint(k_mask, (n,), 0, mix)
        xi = jax.vmap(lambda key, i: ancestral(params, key, 1, i)[0])(
            jax.random.split(k_draw, n), which)
    x = low + xi.astype(jnp.float32) * ((high - low) / (k - 1))
    return x.reshape(n, *spec.shape), {'nfe': jnp.asarray(dim, jnp.int32)}

  extras = {'log_prob_mask': log_prob_mask, 'logits': logits,
            'order': lambda i: made_net.input_order(degrees[0][i])}
  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, discrete=True,
               extras=extras, sampling_settings=sampling_settings,
               sampling_label=lambda sampling: f'ensemble{sampling.masks}' if sampling.masks
               else 'ancestral')
