"""Coupling layers of image flows (RealNVP, Glow) and Glow's learned prior of a factored-out half.

Same calling convention as `jaxgen.nets.flow_layers`: ``layer(x) -> (y, log|det dy/dx| [b])``,
``layer(y, inverse=True) -> (x, log|det dx/dy| [b])``, images ``[b, h, w, c]``.

`Coupling` with a binary mask m (1 = conditioning coordinates, kept):

    y = m x + (1 - m) (x exp(s) + t),    (s, t) = NN(m x [, context]) masked by (1 - m),
    log_det = sum s                      (additive: s = 0, log_det = 0)

Masks (RealNVP, sec. 3.4): ``'checkerboard'`` (pixels with (row + col + parity) even, every
channel) and ``'channel'`` (parity 0: the first floor(c/2) channels condition the rest; parity 1
the other way round; Glow always uses parity 0 after a channel mixing). The log-scale is bounded:
``'tanh'`` s = a_c tanh(r), a learned per-channel a initialised to 1 (RealNVP's), or
``'sigmoid'`` s = log sigmoid(r + 2) (the Glow code's; s <= 0), r the net's raw output. The net's
last convolution is zero-initialised (Glow), so a fresh coupling has t = 0 and s = 0 ('tanh') or
log sigmoid(2) ('sigmoid'). ``context`` (optional ``[b, h, w, k]``) is concatenated to the net's
input: a conditional coupling, e.g. a dequantizer q(u | x) conditioned on x.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

MASKS = ('checkerboard', 'channel')
COUPLINGS = ('affine', 'additive')
LOG_SCALES = ('tanh', 'sigmoid')


def mask(shape: tuple[int, int, int], kind: str, parity: int) -> np.ndarray:
  """The float mask m ``[h, w, c]`` of a coupling (1 = conditioning), see the module doc."""
  h, w, c = shape
  if kind == 'checkerboard':
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
    board = (rows + cols + parity) % 2 == 0
    return np.broadcast_to(board[..., None], (h, w, c)).astype(np.float32)
  if kind == 'channel':
    if c < 2:
      raise ValueError(f'a channel-wise coupling needs >= 2 channels, got {c}')
    first = np.arange(c) < c // 2
    return np.broadcast_to(first if parity % 2 == 0 else ~first, (h, w, c)).astype(np.float32)
  raise ValueError(f'unknown coupling mask {kind!r}; expected one of {MASKS}')


class CouplingNet(nn.Module):
  """NN of a coupling: 3x3 conv -> ReLU, then ``res_blocks`` residual blocks (ReLU, 3x3, ReLU,
  3x3; RealNVP's ResNet without its batch norm) or, with none, a 1x1 conv -> ReLU (Glow's), then
  a zero-initialised 3x3 conv to ``out_channels``."""

  out_channels: int
  hidden: int = 512
  res_blocks: int = 0

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    h = nn.relu(nn.Conv(self.hidden, (3, 3), name='in')(h))
    if self.res_blocks == 0:
      h = nn.relu(nn.Conv(self.hidden, (1, 1), name='hidden')(h))
    for i in range(self.res_blocks):
      r = nn.Conv(self.hidden, (3, 3), name=f'res_{i}_a')(nn.relu(h))
      h = h + nn.Conv(self.hidden, (3, 3), name=f'res_{i}_b')(nn.relu(r))
    if self.res_blocks:
      h = nn.relu(h)
    return nn.Conv(self.out_channels, (3, 3), kernel_init=nn.initializers.zeros, name='out')(h)


class Coupling(nn.Module):
  """An affine or additive coupling with a checkerboard or channel mask (module doc)."""

  mask: str = 'channel'
  parity: int = 0
  kind: str = 'affine'
  log_scale: str = 'sigmoid'
  hidden: int = 512
  res_blocks: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, inverse: bool = False, context=None):
    c = x.shape[-1]
    m = jnp.asarray(mask(x.shape[1:], self.mask, self.parity))
    net_in = x * m if context is None else jnp.concatenate([x * m, context], axis=-1)
    affine = self.kind == 'affine'
    out = CouplingNet(2 * c if affine else c, self.hidden, self.res_blocks, name='net')(net_in)
    t = out[..., :c] * (1 - m)
    if affine:
      raw = out[..., c:]
      if self.log_scale == 'tanh':
        s = self.param('scale', nn.initializers.ones, (c,)) * jnp.tanh(raw)
      elif self.log_scale == 'sigmoid':
        s = jax.nn.log_sigmoid(raw + 2.0)
      else:
        raise ValueError(f'unknown log_scale {self.log_scale!r}; expected one of {LOG_SCALES}')
      s = s * (1 - m)
    elif self.kind == 'additive':
      s = jnp.zeros_like(x)
    else:
      raise ValueError(f'unknown coupling {self.kind!r}; expected one of {COUPLINGS}')
    log_det = jnp.sum(s.reshape(x.shape[0], -1), axis=-1)
    if inverse:
      return (x - t) * jnp.exp(-s), -log_det
    return x * jnp.exp(s) + t, log_det


class SplitPrior(nn.Module):
  """Glow's learned prior of a factored-out half, as a bijection of the whole input.

  With z = [z1, z2] (the first floor(c/2) channels and the rest), p(z2 | z1) =
  N(mu(z1), exp(log_sigma(z1))^2), (mu, log_sigma) from a zero-initialised 3x3 conv of z1 (so
  N(0, I) at initialisation). The layer maps z2 to eps = (z2 - mu) exp(-log_sigma) and keeps z1:
  log_det = -sum log_sigma, and log N(eps; 0, I) + log_det = log p(z2 | z1). Sampling at
  temperature T draws eps ~ N(0, T^2 I): z2 = mu + T exp(log_sigma) eps'. RealNVP's factor-out
  has no such layer (z2 ~ N(0, I) directly).
  """

  @nn.compact
  def __call__(self, z: jax.Array, inverse: bool = False):
    half = z.shape[-1] // 2
    z1, z2 = z[..., :half], z[..., half:]
    h = nn.Conv(2 * z2.shape[-1], (3, 3), kernel_init=nn.initializers.zeros, name='prior')(z1)
    mu, log_sigma = h[..., 0::2], h[..., 1::2]
    log_det = -jnp.sum(log_sigma.reshape(z.shape[0], -1), axis=-1)
    if inverse:
      return jnp.concatenate([z1, mu + jnp.exp(log_sigma) * z2], axis=-1), -log_det
    return jnp.concatenate([z1, (z2 - mu) * jnp.exp(-log_sigma)], axis=-1), log_det
