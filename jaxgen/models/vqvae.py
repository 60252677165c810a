"""The VQ-VAE family (van den Oord, Vinyals & Kavukcuoglu 2017): discrete codes of images.

An encoder maps an integer image x in {0..K_x-1}^(H x W x C) to a map z_e(x) of ``[h, w, d]``
vectors (h = H / ``model.downsample``), each replaced by its nearest of ``model.num_codes`` = K
codebook vectors (`jaxgen.nets.quantizer`); the decoder maps the quantized map z_q(x) to one
discretized logistic per subpixel (mean, log-scale on [-1, 1];
`jaxgen.distributions.discretized_logistic`). Networks: `jaxgen.nets.vqvae`. Data as for the
PixelCNN family: ``spec.num_levels`` set, no dequantization, any ``data.scale``.

Loss (the batch mean, in nats per dimension D = H W C for its first term):

    -log p(x | z_q(x)) / D  +  codebook  +  beta * commitment        (beta = ``loss.beta``)

with the straight-through gradient to the encoder. ``model.codebook_update='loss'`` learns the
codebook by the codebook term ``||sg[z_e] - e||^2``; 'ema' drops that term and sets the codebook
by exponential moving averages of the assigned encoder outputs (decay ``model.ema_decay``,
Laplace-smoothed counts). ``model.restart_after`` > 0 re-initialises codes unused for that many
consecutive steps to random encoder outputs of the batch. The trainer has no state besides the
parameters, so the EMA statistics (``ema_count``, ``ema_sum``) and the per-code idle counter
(``idle``) are parameter leaves that no loss term touches (zero gradient), written after each
optimizer update by ``extras['after_update'](params_before, params_after, batch, rng)``
(`jaxgen.runtime.state` calls it): the EMA step is exact whatever the optimizer, and is
computed from the assignments of ``params_before`` (one more encoder pass per step).

Likelihood. ``log_prob`` (``discrete=True``) is the bound of the paper's Sec. 3.2 with the
uniform prior of training: ``log P(x) >= log p(x | z_q(x)) - h w log K`` nats (q(z|x) is one-hot,
so KL(q || uniform) = log K per code), the decoder term exact (no fallback in the far tails);
`jaxgen.metrics.bpd` turns it into bits/dim, an upper bound: ``(-log2 p(x|z_q) + h w log2 K) /
D``. Training metrics (batch means): ``recon_nll`` (nats per dimension), ``bound_bpd``,
``recon_mse`` (the decoder's mean against x, both on [0, 1]), ``commitment``, ``usage`` (the
fraction of the K codes used in the batch) and ``perplexity`` (of the batch's code frequencies).

Extras: ``encode(params, x) -> codes [b, h, w] int32``; ``decode(params, codes) -> x`` (the
decoder's mean rounded to the nearest level, in the space of ``batch['x']``); ``num_codes`` and
``grid`` ``(h, w)``. Sampling from a VQ-VAE alone draws every code uniformly and decodes it
(the training prior): pictures of it are noise by design, for checks only; real samples need a
prior over the codes (a PixelCNN on ``codes:`` data, `jaxgen.tools.two_stage`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.distributions import discretized_logistic as dl
from jaxgen.metrics import bpd as bpd_lib
from jaxgen.models.base import Model, batch_x
from jaxgen.nets import quantizer
from jaxgen.nets.vqvae import Decoder, Encoder, stride_layers

UPDATES = ('loss', 'ema')


def defaults() -> ml_collections.ConfigDict:
  """Schema and defaults of the ``model``, ``loss`` and ``sampling`` sections."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      hidden=128,              # channels of the convolutions (paper: 256)
      res_hidden=32,           # channels inside a residual block (paper: 256)
      res_blocks=2,            # residual blocks of the encoder and of the decoder (paper: 2)
      downsample=4,            # spatial factor H / h (a power of 2; 28 -> 7)
      num_codes=512,           # K, codebook size
      code_dim=64,             # d, dimension of a code vector
      codebook_update='loss',  # 'loss' (codebook term) | 'ema' (moving averages, appendix A.1)
      ema_decay=0.99,          # 'ema': gamma
      restart_after=100,       # re-initialise codes unused for this many steps (0: never)
  ))
  c.loss = ml_collections.ConfigDict(dict(
      beta=0.25,               # weight of the commitment term
  ))
  c.sampling = ml_collections.ConfigDict(dict(
      num_samples=64,          # uniform codes, decoded (the training prior; see the module doc)
  ))
  return c


def choices() -> dict:
  return {'model.codebook_update': UPDATES}


def ranges() -> dict:
  return {
      'model.hidden': (lambda v: v >= 2, '>= 2'),
      'model.res_hidden': (lambda v: v >= 1, '>= 1'),
      'model.res_blocks': (lambda v: v >= 0, '>= 0'),
      'model.downsample': (lambda v: v >= 1 and v & (v - 1) == 0, 'a power of 2 (1, 2, 4, 8)'),
      'model.num_codes': (lambda v: v >= 2, '>= 2'),
      'model.code_dim': (lambda v: v >= 1, '>= 1'),
      'model.ema_decay': (lambda v: 0 < v < 1, 'in (0, 1)'),
      'model.restart_after': (lambda v: v >= 0, '>= 0 (0: never)'),
      'loss.beta': (lambda v: v >= 0, '>= 0'),
      'sampling.num_samples': (lambda v: v >= 1, '>= 1'),
  }


def build(config, spec) -> Model:
  mc = config.model
  if spec.num_levels is None or spec.dequantized:
    raise ValueError(f'the VQ-VAE family models integer images: {spec.name} must have integer '
                     "levels, not dequantized (set data.dequantize=False, data.scale='levels')")
  if len(spec.shape) != 3:
    raise ValueError(f'the VQ-VAE family needs images [H, W, C]; got shape {spec.shape}')
  height, width, channels = spec.shape
  f = int(mc.downsample)
  stride_layers(f)
  if height % f or width % f:
    raise ValueError(f'config.model.downsample={f} does not divide the {height}x{width} images '
                     f'of {spec.name}; choose a power of 2 that does')
  h, w, k, d = height // f, width // f, int(mc.num_codes), int(mc.code_dim)
  levels, dim = spec.num_levels, spec.dim
  low, high = float(spec.low), float(spec.high)
  ema = mc.codebook_update == 'ema'
  encoder = Encoder(mc.hidden, mc.res_hidden, mc.res_blocks, f, d)
  decoder = Decoder(mc.hidden, mc.res_hidden, mc.res_blocks, f, 2 * channels)
  prior_nats = h * w * math.log(k)   # -log of the uniform prior of a code grid

  def to_int(x):
    return bpd_lib.integer_levels(x, spec).astype(jnp.int32)

  def from_int(xi):
    return (low + xi.astype(jnp.float32) * ((high - low) / (levels - 1))).astype(jnp.float32)

  def encode_vectors(params, x):
    return encoder.apply({'params': params['encoder']}, dl.to_symmetric(to_int(x), levels))

  def decoder_out(params, zq):
    out = decoder.apply({'params': params['decoder']}, zq)
    return out[..., :channels], out[..., channels:]

  def init(rng, x_example):
    k_enc, k_dec, k_code = jax.random.split(rng, 3)
    xs = dl.to_symmetric(to_int(x_example), levels)
    enc = encoder.init(k_enc, xs)['params']
    z = encoder.apply({'params': enc}, xs)
    params = {'encoder': enc, 'decoder': decoder.init(k_dec, z)['params'],
              'codebook': jax.random.normal(k_code, (k, d), jnp.float32)}
    if ema:
      params['ema_count'] = jnp.ones((k,), jnp.float32)
      params['ema_sum'] = params['codebook']
    if mc.restart_after:
      params['idle'] = jnp.zeros((k,), jnp.float32)
    return params

  def encode(params, x):
    """Codes int32 ``[b, h, w]`` of images x (the space of ``batch['x']``)."""
    z = encode_vectors(params, x)
    return quantizer.nearest(z.reshape(-1, d), params['codebook']).reshape(z.shape[:-1])

  def decode(params, codes):
    """Images ``[b, H, W, C]`` (the space of ``batch['x']``) of codes ``[b, h, w]``."""
    mean, _ = decoder_out(params, quantizer.lookup(codes, params['codebook']))
    return from_int(jnp.round((jnp.clip(mean, -1.0, 1.0) + 1.0) / 2.0 * (levels - 1)))

  def forward(params, x):
    """(xi, codes [n], decoder mean, log-scale, codebook term, commitment term)."""
    xi = to_int(x)
    z = encoder.apply({'params': params['encoder']}, dl.to_symmetric(xi, levels))
    flat = z.reshape(-1, d)
    codes = quantizer.nearest(flat, params['codebook'])
    q = quantizer.lookup(codes, params['codebook'])
    codebook_term, commitment = quantizer.losses(flat, q)
    mean, log_scale = decoder_out(params, quantizer.straight_through(flat, q).reshape(z.shape))
    return xi, codes, mean, log_scale, codebook_term, commitment

  def decoder_log_prob(xi, mean, log_scale, fallback):
    lp = dl.discretized_logistic_log_prob(xi, mean, log_scale, levels, fallback)
    return lp.reshape(lp.shape[0], -1).sum(-1)

  def loss(params, batch, rng, train=True):
    xi, codes, mean, log_scale, codebook_term, commitment = forward(params, batch['x'])
    lp = decoder_log_prob(xi, mean, log_scale, True)
    recon = -lp.mean() / dim
    value = recon + config.loss.beta * commitment + (0.0 if ema else codebook_term)
    unit = xi.astype(jnp.float32) / (levels - 1)
    mse = jnp.mean(((jnp.clip(mean, -1.0, 1.0) + 1.0) / 2.0 - unit) ** 2)
    bound = bpd_lib.bits_per_dim(lp - prior_nats, spec, discrete=True)
    return value, {'recon_nll': recon, 'bound_bpd': jnp.mean(bound), 'recon_mse': mse,
                   'commitment': commitment, 'usage': quantizer.usage(codes, k),
                   'perplexity': quantizer.perplexity(codes, k)}

  def log_prob(params, batch, rng=None):
    xi, _, mean, log_scale, _, _ = forward(params, batch_x(batch))
    return decoder_log_prob(xi, mean, log_scale, False) - prior_nats

  def after_update(before, after, batch, rng):
    """`after` (the optimizer's new parameters) with the codebook's non-gradient updates made
    from the assignments of `before`: the EMA step and the dead-code restarts."""
    z = encode_vectors(before, batch['x']).reshape(-1, d)
    codes = quantizer.nearest(z, before['codebook'])
    out = dict(after)
    if ema:
      out['ema_count'], out['ema_sum'], out['codebook'] = quantizer.ema_update(
          before['ema_count'], before['ema_sum'], z, codes, mc.ema_decay)
    if mc.restart_after:
      idle = quantizer.idle_steps(before['idle'], codes)
      out['codebook'], out['idle'], count, total = quantizer.restart_dead(
          jax.random.fold_in(rng, 1), out['codebook'], idle, z, int(mc.restart_after),
          out.get('ema_count'), out.get('ema_sum'))
      if ema:
        out['ema_count'], out['ema_sum'] = count, total
    return out

  def sample(params, rng, n, sampling=None):
    codes = jax.random.randint(rng, (n, h, w), 0, k, jnp.int32)
    return decode(params, codes), {'nfe': jnp.asarray(1, jnp.int32)}

  extras = {'encode': encode, 'decode': decode, 'num_codes': lambda: k, 'grid': lambda: (h, w)}
  if ema or mc.restart_after:
    extras['after_update'] = after_update
  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, discrete=True,
               extras=extras, sampling_label=lambda settings: 'uniform')
