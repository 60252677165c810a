"""PixelCNN++ (Salimans et al. 2017): a strictly causal two-stream U-net with gated resnets.

Maps an image x [b,H,W,C] on [-1, 1] to per-pixel outputs [b,H,W,out_size] such that the output at
pixel (i, j) depends only on pixels strictly before (i, j) in raster order (no channel of (i, j)
itself): the dependence between the channels of a pixel lives in the likelihood (the discretized
logistic mixture's linear coupling, `jaxgen.distributions.discretized_logistic`).

Causality comes from shifts and padding rather than masks (as in the reference code):
* the "u" stream (`down` convs, kernel 2x3 padded on top) only sees rows above;
* the "ul" stream (`down_right` convs, kernel 2x2 padded top and left) sees rows above and the
  pixels to the left;
* both start with a one-row (and one-column) shift of the input so that they exclude (i, j).
Down-sampling: the same convs with stride 2; up-sampling: their transposed versions (stride-2
input dilation; output row r reads coarse row r // 2). A ones channel is appended to the input so
that the zero padding of the borders is distinguishable from data.

Gated resnet: c1 = conv(concat_elu(x)) [+ nin(concat_elu(a)) for a skip input a]; c1 =
dropout(concat_elu(c1)); c2 = conv(c1) [+ class embedding] with 2F outputs split as (p, q);
return x + p * sigmoid(q). Differences from the reference: no weight normalization or data-
dependent init (plain variance-scaling init, the second conv scaled by 0.1).
Image height and width must be divisible by 2**(scales-1).
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.masked import CausalConv, down_shift, right_shift

# kernel size, padding (top, bottom, left, right) of the two streams' convolutions.
_DOWN = ((2, 3), (1, 0, 1, 1))
_DOWN_RIGHT = ((2, 2), (1, 0, 1, 0))
# transposed (x2 up-sampling) versions: padding of the input-dilated map.
_DOWN_UP = ((2, 3), (1, 1, 1, 2))
_DOWN_RIGHT_UP = ((2, 2), (1, 1, 1, 1))


def concat_elu(x):
  """elu([x, -x]) on the channel axis (doubles the channels)."""
  return jax.nn.elu(jnp.concatenate([x, -x], axis=-1))


class GatedResnet(nn.Module):
  stream: str            # 'down' | 'down_right'
  dropout: float = 0.0
  num_classes: int = 0

  @nn.compact
  def __call__(self, x, a=None, label=None, train: bool = False):
    f = x.shape[-1]
    kernel, pad = _DOWN if self.stream == 'down' else _DOWN_RIGHT
    c1 = CausalConv(f, kernel, pad, name='conv1')(concat_elu(x))
    if a is not None:
      c1 = c1 + CausalConv(f, (1, 1), (0, 0, 0, 0), name='nin_skip')(concat_elu(a))
    c1 = concat_elu(c1)
    if self.dropout > 0:
      c1 = nn.Dropout(self.dropout)(c1, deterministic=not train)
    c2 = CausalConv(2 * f, kernel, pad, kernel_init_scale=0.1, name='conv2')(c1)
    if self.num_classes and label is not None:
      c2 = c2 + nn.Embed(self.num_classes, 2 * f, name='class')(label)[:, None, None, :]
    p, q = jnp.split(c2, 2, axis=-1)
    return x + p * jax.nn.sigmoid(q)


class PixelCNNPP(nn.Module):
  """PixelCNN++.

  Attributes:
    channels: C.
    out_size: outputs per pixel (e.g. 10 * mixtures for RGB logistic mixtures).
    filters: width F of both streams (reference 160).
    blocks: gated resnets per stage (reference 5).
    scales: resolutions of the U (reference 3: 32, 16, 8).
    dropout: dropout rate inside the resnets (reference 0.5), active only with train=True (needs
      the 'dropout' rng).
    num_classes: > 0 adds a class embedding in every resnet.
  """

  channels: int
  out_size: int
  filters: int = 160
  blocks: int = 5
  scales: int = 3
  dropout: float = 0.5
  num_classes: int = 0

  per_channel = False

  @nn.compact
  def __call__(self, x: jax.Array, label: Optional[jax.Array] = None,
               train: bool = False) -> jax.Array:
    b, hh, ww, _ = x.shape
    step = 2 ** (self.scales - 1)
    if hh % step or ww % step:
      raise ValueError(f'PixelCNN++ with scales={self.scales} needs height and width divisible by '
                       f'{step}; got {hh}x{ww}')
    f = self.filters
    label = label if self.num_classes else None

    def resnet(stream, name):
      return GatedResnet(stream, self.dropout, self.num_classes, name=name)

    xp = jnp.concatenate([x, jnp.ones_like(x[..., :1])], axis=-1)
    u = down_shift(CausalConv(f, *_DOWN, name='in_u')(xp))
    ul = (down_shift(CausalConv(f, (1, 3), (0, 0, 1, 1), name='in_ul_above')(xp))
          + right_shift(CausalConv(f, (2, 1), (1, 0, 0, 0), name='in_ul_left')(xp)))
    us, uls = [u], [ul]
    for s in range(self.scales):
      if s > 0:
        u = CausalConv(f, *_DOWN, strides=(2, 2), name=f'down{s}_u')(u)
        ul = CausalConv(f, *_DOWN_RIGHT, strides=(2, 2), name=f'down{s}_ul')(ul)
        us.append(u)
        uls.append(ul)
      for r in range(self.blocks):
        u = resnet('down', f'd{s}_{r}_u')(u, None, label, train)
        ul = resnet('down_right', f'd{s}_{r}_ul')(ul, u, label, train)
        us.append(u)
        uls.append(ul)
    u, ul = us.pop(), uls.pop()
    for s in reversed(range(self.scales)):
      n = self.blocks if s == self.scales - 1 else self.blocks + 1
      for r in range(n):
        u = resnet('down', f'u{s}_{r}_u')(u, us.pop(), label, train)
        ul = resnet('down_right', f'u{s}_{r}_ul')(ul, jnp.concatenate([u, uls.pop()], -1), label,
                                                   train)
      if s > 0:
        u = CausalConv(f, *_DOWN_UP, input_dilation=(2, 2), name=f'up{s}_u')(u)
        ul = CausalConv(f, *_DOWN_RIGHT_UP, input_dilation=(2, 2), name=f'up{s}_ul')(ul)
    assert not us and not uls
    return CausalConv(self.out_size, (1, 1), (0, 0, 0, 0), name='out')(jax.nn.elu(ul))
