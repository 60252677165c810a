"""The VQ-VAE's convolutional encoder and decoder (van den Oord et al. 2017, Sec. 4.1), flax linen.

Encoder: ``log2(downsample)`` convolutions 4x4 of stride 2 (ReLU between), a 3x3 convolution,
``res_blocks`` residual blocks ``x + conv1x1(relu(conv3x3(relu(x))))`` (``res_hidden`` channels
inside), ReLU and a 1x1 convolution to the code dimension d: ``[b, H, W, C] -> [b, H/f, W/f, d]``
(28 -> 7 for f = 4). Decoder: a 3x3 convolution from d, the same residual stack, ReLU, then
``log2(downsample)`` transposed convolutions 4x4 of stride 2 (ReLU between), the last with
``out_channels`` outputs: ``[b, h, w, d] -> [b, h f, w f, out_channels]``. NHWC throughout.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax


def stride_layers(downsample: int) -> int:
  """The number of stride-2 layers of a factor `downsample` (a power of 2, >= 1)."""
  n = int(round(math.log2(downsample))) if downsample >= 1 else -1
  if n < 0 or 2 ** n != downsample:
    raise ValueError(f'config.model.downsample={downsample} must be a power of 2 (1, 2, 4, 8)')
  return n


class ResidualStack(nn.Module):
  hidden: int
  res_hidden: int
  blocks: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for _ in range(self.blocks):
      h = nn.Conv(self.res_hidden, (3, 3))(nn.relu(x))
      x = x + nn.Conv(self.hidden, (1, 1))(nn.relu(h))
    return nn.relu(x)


class Encoder(nn.Module):
  hidden: int
  res_hidden: int
  res_blocks: int
  downsample: int
  code_dim: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i in range(stride_layers(self.downsample)):
      x = nn.Conv(self.hidden // 2 if i == 0 else self.hidden, (4, 4), strides=(2, 2))(x)
      x = nn.relu(x)
    x = nn.Conv(self.hidden, (3, 3))(x)
    x = ResidualStack(self.hidden, self.res_hidden, self.res_blocks)(x)
    return nn.Conv(self.code_dim, (1, 1))(x)


class Decoder(nn.Module):
  hidden: int
  res_hidden: int
  res_blocks: int
  downsample: int
  out_channels: int

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    x = nn.Conv(self.hidden, (3, 3))(z)
    x = ResidualStack(self.hidden, self.res_hidden, self.res_blocks)(x)
    n = stride_layers(self.downsample)
    for i in range(n):
      last = i == n - 1
      x = nn.ConvTranspose(self.out_channels if last else self.hidden // 2, (4, 4),
                           strides=(2, 2))(x)
      x = x if last else nn.relu(x)
    return x if n else nn.Conv(self.out_channels, (3, 3))(x)
