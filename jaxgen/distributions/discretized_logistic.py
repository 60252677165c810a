"""Output likelihoods of autoregressive image models over integer pixel values 0..K-1.

Three per-value distributions, all returning log-probabilities in **nats** of **integer** data:

* Bernoulli (K = 2): one logit per value, ``P(x = 1) = sigmoid(logit)``.
* Categorical (any K): K logits per value (the PixelRNN/PixelCNN 256-way softmax).
* Discretized logistic mixture (PixelCNN++, Salimans et al. 2017), any K. Values are placed on
  [-1, 1]: level k sits at ``2k/(K-1) - 1`` and owns the bin ``[v - 1/(K-1), v + 1/(K-1)]``, so
  ``P(k) = sigmoid((v + 1/(K-1) - mu)/s) - sigmoid((v - 1/(K-1) - mu)/s)`` with the lower bound
  replaced by -inf at k = 0 and the upper bound by +inf at k = K-1 (the tails are absorbed by the
  edge bins, so the K probabilities sum to one exactly). Log-scales are clamped at >= -7. With
  ``fallback=True`` (the reference's behaviour) a bin whose probability is < 1e-5 is replaced by
  ``log pdf(v) - log((K-1)/2)`` (= ``- log 127.5`` for K = 256), i.e. density times bin width,
  which keeps float32 gradients finite in the far tails; ``fallback=False`` computes
  ``log(sigmoid(b) - sigmoid(a))`` stably in closed form instead (exact; tests and evaluation).

Mixture over a pixel of C channels (the PixelCNN++ layout): one mixture indicator shared by the C
channels of a pixel; given component i the channels are generated in order 0..C-1 with
``mu_c = mu_ic + sum_{c' < c} coef_{i,c,c'} x_{c'}`` (x on [-1, 1], coef = tanh(raw)), i.e. for RGB
``mu_g += a x_r`` and ``mu_b += b x_r + c x_g``. Parameters per pixel, last axis, M components:
``[logits (M) | means (C*M) | log_scales (C*M) | coefs (C(C-1)/2 * M)]``; coefs are ordered by
pairs (1,0), (2,0), (2,1), ... The probability of a pixel is then
``sum_i pi_i prod_c P_ic(x_c | x_<c)``; each conditional P_ic(. | x_<c) sums to one over 0..K-1,
hence so does the pixel's joint over all K^C values.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

LOG_SCALE_MIN = -7.0
FALLBACK_BELOW = 1e-5


# ------------------------------------------------------------------------------------------------
# Bernoulli and categorical.


def bernoulli_log_prob(logit: jax.Array, x: jax.Array) -> jax.Array:
  """log P(x) for x in {0, 1} (float or int), elementwise: x log s(l) + (1-x) log s(-l)."""
  x = x.astype(logit.dtype)
  return -(x * jax.nn.softplus(-logit) + (1.0 - x) * jax.nn.softplus(logit))


def bernoulli_sample(key: jax.Array, logit: jax.Array) -> jax.Array:
  """Integer 0/1 samples with P(1) = sigmoid(logit)."""
  u = jax.random.uniform(key, logit.shape)
  return (u < jax.nn.sigmoid(logit)).astype(jnp.int32)


def categorical_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
  """log softmax(logits)[x] over the last axis; x integer-valued (float or int) of shape [...]."""
  logp = jax.nn.log_softmax(logits, axis=-1)
  return jnp.take_along_axis(logp, x.astype(jnp.int32)[..., None], axis=-1)[..., 0]


def categorical_sample(key: jax.Array, logits: jax.Array) -> jax.Array:
  return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


# ------------------------------------------------------------------------------------------------
# Discretized logistic.


def to_symmetric(x_int: jax.Array, num_levels: int) -> jax.Array:
  """Integer levels 0..K-1 -> their bin centres on [-1, 1]."""
  return x_int.astype(jnp.float32) * (2.0 / (num_levels - 1)) - 1.0


def _log_sigmoid(z):
  return -jax.nn.softplus(-z)


def _log1mexp(d):
  """log(1 - exp(d)) for d <= 0, stable at both ends."""
  d = jnp.minimum(d, -1e-30)
  return jnp.where(d > -0.6931, jnp.log(-jnp.expm1(d)), jnp.log1p(-jnp.exp(d)))


def discretized_logistic_log_prob(x_int: jax.Array, mean: jax.Array, log_scale: jax.Array,
                                  num_levels: int, fallback: bool = True) -> jax.Array:
  """log P(x_int) of one logistic (mean, log_scale on [-1, 1]) discretized to K levels; elementwise.

  Edge bins: lower bound -inf at level 0, upper bound +inf at level K-1. See the module doc for
  the reference's < 1e-5 fallback (`fallback=True`) and the exact alternative.
  """
  k = num_levels
  half = 1.0 / (k - 1)
  log_scale = jnp.maximum(log_scale, LOG_SCALE_MIN)
  inv_s = jnp.exp(-log_scale)
  centred = to_symmetric(x_int, k) - mean
  plus_in = inv_s * (centred + half)
  min_in = inv_s * (centred - half)
  is_low = x_int <= 0
  is_high = x_int >= k - 1
  log_cdf_plus = _log_sigmoid(plus_in)            # used at level 0
  log_one_minus_cdf_min = _log_sigmoid(-min_in)   # used at level K-1
  if fallback:
    cdf_delta = jax.nn.sigmoid(plus_in) - jax.nn.sigmoid(min_in)
    mid_in = inv_s * centred
    log_pdf_mid = mid_in - log_scale - 2.0 * jax.nn.softplus(mid_in)
    inner = jnp.where(cdf_delta > FALLBACK_BELOW, jnp.log(jnp.maximum(cdf_delta, 1e-12)),
                      log_pdf_mid - math.log((k - 1) / 2.0))
  else:
    # log(s(b) - s(a)), b > a: on the left use s(b)(1 - s(a)/s(b)); on the right the mirror image.
    right = (plus_in + min_in) > 0
    hi = jnp.where(right, -min_in, plus_in)
    lo = jnp.where(right, -plus_in, min_in)
    inner = _log_sigmoid(hi) + _log1mexp(_log_sigmoid(lo) - _log_sigmoid(hi))
  return jnp.where(is_low, log_cdf_plus, jnp.where(is_high, log_one_minus_cdf_min, inner))


def mixture_size(num_mixtures: int, channels: int) -> int:
  """Parameters per pixel of a C-channel discretized logistic mixture with coupling."""
  return num_mixtures * (1 + 2 * channels + channels * (channels - 1) // 2)


def _pairs(channels: int):
  return [(c, p) for c in range(channels) for p in range(c)]


def unpack_mixture(params: jax.Array, channels: int, num_mixtures: int):
  """[..., mixture_size] -> (logits [...,M], means [...,C,M], log_scales [...,C,M], coefs [...,P,M])."""
  m, c = num_mixtures, channels
  if params.shape[-1] != mixture_size(m, c):
    raise ValueError(f'expected {mixture_size(m, c)} mixture parameters for {c} channels and '
                     f'{m} components, got {params.shape[-1]}')
  lead = params.shape[:-1]
  logits = params[..., :m]
  means = params[..., m:m + c * m].reshape(*lead, c, m)
  log_scales = jnp.maximum(params[..., m + c * m:m + 2 * c * m].reshape(*lead, c, m),
                           LOG_SCALE_MIN)
  npairs = c * (c - 1) // 2
  coefs = jnp.tanh(params[..., m + 2 * c * m:].reshape(*lead, npairs, m))
  return logits, means, log_scales, coefs


def coupled_means(means: jax.Array, coefs: jax.Array, x_sym: jax.Array) -> jax.Array:
  """mu_c + sum_{c'<c} coef_{c,c'} x_c' per component: means [...,C,M], x_sym [...,C] on [-1,1]."""
  channels = means.shape[-2]
  lead = jnp.broadcast_shapes(means.shape[:-2], coefs.shape[:-2], x_sym.shape[:-1])
  means = jnp.broadcast_to(means, lead + means.shape[-2:])
  out = [means[..., 0, :]]
  pairs = _pairs(channels)
  for c in range(1, channels):
    mu = means[..., c, :]
    for idx, (cc, p) in enumerate(pairs):
      if cc == c:
        mu = mu + coefs[..., idx, :] * x_sym[..., p, None]
    out.append(mu)
  return jnp.stack(out, axis=-2)


def logistic_mixture_log_prob(params: jax.Array, x_int: jax.Array, num_mixtures: int,
                              num_levels: int, fallback: bool = True) -> jax.Array:
  """log P(pixel) [...] of integer pixels x_int [...,C] under the coupled mixture params [...,P]."""
  channels = x_int.shape[-1]
  logits, means, log_scales, coefs = unpack_mixture(params, channels, num_mixtures)
  mu = coupled_means(means, coefs, to_symmetric(x_int, num_levels))
  lp = discretized_logistic_log_prob(x_int[..., None], mu, log_scales, num_levels, fallback)
  return jax.nn.logsumexp(jax.nn.log_softmax(logits, -1) + lp.sum(-2), axis=-1)


def logistic_mixture_sample(key: jax.Array, params: jax.Array, channels: int, num_mixtures: int,
                            num_levels: int) -> jax.Array:
  """Integer pixels [...,C] drawn exactly from the discretized mixture (fallback aside).

  Draws the shared component, then channel by channel a logistic variate rounded to the nearest
  level (clipped to 0..K-1: the edge bins absorb the tails), conditioning later channels' means on
  the *quantized* earlier values, as the likelihood does. (The reference conditions on the
  unquantized continuous draws instead.)
  """
  k = num_levels
  logits, means, log_scales, coefs = unpack_mixture(params, channels, num_mixtures)
  kc, ku = jax.random.split(key)
  comp = jax.random.categorical(kc, logits, axis=-1)
  onehot = jax.nn.one_hot(comp, num_mixtures)
  u = jax.random.uniform(ku, (*params.shape[:-1], channels), minval=1e-5, maxval=1.0 - 1e-5)
  pairs = _pairs(channels)
  xs_int, xs_sym = [], []
  for c in range(channels):
    mu = (means[..., c, :] * onehot).sum(-1)
    for idx, (cc, p) in enumerate(pairs):
      if cc == c:
        mu = mu + (coefs[..., idx, :] * onehot).sum(-1) * xs_sym[p]
    s = jnp.exp((log_scales[..., c, :] * onehot).sum(-1))
    v = mu + s * (jnp.log(u[..., c]) - jnp.log1p(-u[..., c]))
    xi = jnp.clip(jnp.round((v + 1.0) * (k - 1) / 2.0), 0, k - 1).astype(jnp.int32)
    xs_int.append(xi)
    xs_sym.append(to_symmetric(xi, k))
  return jnp.stack(xs_int, axis=-1)


# ------------------------------------------------------------------------------------------------
# The output layer's distribution, as one value the nets and samplers share.


@dataclasses.dataclass(frozen=True)
class PixelOutput:
  """How a network's per-pixel outputs parametrize the distribution of integer pixels.

  Attributes:
    kind: 'bernoulli' | 'categorical' | 'logistic_mixture'.
    channels: C, colour channels of the image.
    num_levels: K.
    num_mixtures: M (logistic mixture only).
    per_channel: True for networks whose features are split into C channel groups (PixelCNN,
      Gated PixelCNN: channel c's output already sees channels < c of the current pixel): the net
      emits `size` values *per channel*, [b,H,W,C,size], and each channel has its own distribution
      (a C=1 mixture for 'logistic_mixture'). False for strictly causal networks (PixelCNN++: the
      output at a pixel sees no channel of that pixel): the net emits [b,H,W,size] per pixel, and
      the channels are coupled inside the likelihood (only 'logistic_mixture' couples; the others
      need C = 1).
    fallback: the reference's < 1e-5 fallback in the logistic likelihood.
  """

  kind: str
  channels: int
  num_levels: int
  num_mixtures: int = 10
  per_channel: bool = True
  fallback: bool = True

  def __post_init__(self):
    if self.kind not in ('bernoulli', 'categorical', 'logistic_mixture'):
      raise ValueError(f"output must be 'bernoulli', 'categorical' or 'logistic_mixture', "
                       f'got {self.kind!r}')
    if self.kind == 'bernoulli' and self.num_levels != 2:
      raise ValueError(f"output='bernoulli' needs binary data (num_levels=2), got "
                       f'num_levels={self.num_levels}: binarize the data or use categorical')
    if not self.per_channel and self.kind != 'logistic_mixture' and self.channels != 1:
      raise ValueError(f"output={self.kind!r} on a strictly causal net (PixelCNN++) cannot model "
                       f'the dependence between the {self.channels} channels of a pixel; use '
                       "output='logistic_mixture' (coupled channels) or a grey image")

  @property
  def size(self) -> int:
    """Network outputs per channel (per_channel) or per pixel (not per_channel)."""
    if self.kind == 'bernoulli':
      return 1
    if self.kind == 'categorical':
      return self.num_levels
    return mixture_size(self.num_mixtures, 1 if self.per_channel else self.channels)

  def log_prob(self, out: jax.Array, x_int: jax.Array) -> jax.Array:
    """Per-pixel log P [b,H,W] (summed over channels) of x_int [b,H,W,C] given net outputs."""
    if self.per_channel:               # out [b,H,W,C,size]
      if self.kind == 'bernoulli':
        lp = bernoulli_log_prob(out[..., 0], x_int)
      elif self.kind == 'categorical':
        lp = categorical_log_prob(out, x_int)
      else:
        lp = logistic_mixture_log_prob(out, x_int[..., None], self.num_mixtures, self.num_levels,
                                       self.fallback)
      return lp.sum(-1)
    if self.kind == 'logistic_mixture':  # out [b,H,W,size]
      return logistic_mixture_log_prob(out, x_int, self.num_mixtures, self.num_levels,
                                       self.fallback)
    return self.log_prob(out[..., None, :], x_int)  # C = 1

  def sample_channel(self, key: jax.Array, out_c: jax.Array) -> jax.Array:
    """per_channel: one channel's integer value [b] from its outputs out_c [b,size]."""
    if self.kind == 'bernoulli':
      return bernoulli_sample(key, out_c[..., 0])
    if self.kind == 'categorical':
      return categorical_sample(key, out_c)
    return logistic_mixture_sample(key, out_c, 1, self.num_mixtures, self.num_levels)[..., 0]

  def sample_pixel(self, key: jax.Array, out_p: jax.Array) -> jax.Array:
    """not per_channel: a whole pixel's integer values [b,C] from its outputs out_p [b,size]."""
    if self.kind == 'logistic_mixture':
      return logistic_mixture_sample(key, out_p, self.channels, self.num_mixtures,
                                     self.num_levels)
    return self.sample_channel(key, out_p)[..., None]
