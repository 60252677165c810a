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

Cached fast path for sampling (Ramachandran et al. 2017), the
`jaxgen.models.pixelcnn.autoregressive.fast` interface (``init_cache``, ``row_step``,
``pixel_step``, ``write_input``), with the same parameters: the "u" stream is computed a row at a
time (``row_step(cache, i)``: row i at full resolution, coarse row i / 2**s where 2**s divides i),
the "ul" stream a position at a time (``pixel_step``: (i, j), and the coarse position where 2**s
divides both). Every convolution caches its padded input window and runs the same arithmetic as
the full pass (`_conv`, as `CausalConv.valid`), so its outputs equal ``__call__``'s at every
position; dropout is off and ``write_input`` stores the completed pixel.
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


_CONV_DIMS = ('NHWC', 'HWIO', 'NHWC')


def _conv(p, x, strides=(1, 1)):
  """CausalConv.valid's arithmetic on its params p: VALID convolution of a padded input + bias."""
  y = jax.lax.conv_general_dilated(x, p['kernel'], window_strides=strides, padding='VALID',
                                   dimension_numbers=_CONV_DIMS)
  return y + p['bias']


def _dus(a, v, *start):
  return jax.lax.dynamic_update_slice(a, v.astype(a.dtype), (0, *start, 0))


def _ds(a, *start_size):
  starts, sizes = start_size[:2], start_size[2:]
  return jax.lax.dynamic_slice(a, (0, *starts, 0), (a.shape[0], *sizes, a.shape[3]))


def _parity_window(row, r):
  """The 2-row window of an input-dilated map for fine row r: (zeros, row) if r is even (the
  coarse row sits on the kernel's second row), (row, zeros) if odd."""
  z = jnp.zeros_like(row)
  return jnp.where(r % 2 == 0, jnp.concatenate([z, row], 1), jnp.concatenate([row, z], 1))


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

  # -- cached fast path (module doc) -------------------------------------------------------------

  def _names(self, s):
    """(down resnets, up resnets) of resolution s, as the u / ul module-name stems."""
    n_up = self.blocks if s == self.scales - 1 else self.blocks + 1
    return ([f'd{s}_{r}' for r in range(self.blocks)], [f'u{s}_{r}' for r in range(n_up)])

  def init_cache(self, batch: int, height: int, width: int) -> dict:
    step = 2 ** (self.scales - 1)
    if height % step or width % step:
      raise ValueError(f'PixelCNN++ with scales={self.scales} needs height and width divisible by '
                       f'{step}; got {height}x{width}')
    f, b = self.filters, batch
    z = lambda *shape: jnp.zeros((b, *shape), jnp.float32)
    cache = {'x': z(3, width + 2, self.channels + 1)}   # input rows i-2, i-1, i (+ ones channel)
    for s in range(self.scales):
      w = width >> s
      down, up = self._names(s)
      lv = {}
      for n in down + up:
        for conv in ('conv1', 'conv2'):
          lv[f'{n}_u/{conv}'] = z(2, w + 2, 2 * f)       # 2x3 'down' convs: pad left 1, right 1
          lv[f'{n}_ul/{conv}'] = z(2, w + 1, 2 * f)      # 2x2 'down_right' convs: pad left 1
        lv[f'urow/{n}'] = z(1, w, f)                     # the u row the ul resnet n reads
      if s < self.scales - 1:
        lv['down_u'] = z(2, w + 2, f)                    # input of the stride-2 convs to s+1
        lv['down_ul'] = z(2, w + 1, f)
      if s > 0:
        lv['up_u'] = z(1, 2 * w + 2, f)                  # input-dilated row of the x2 up convs
        lv['up_ul'] = z(1, 2 * w + 1, f)
      cache[f'L{s}'] = lv
    return cache

  def _embeddings(self, label):
    if not self.num_classes or label is None:
      return None
    params = self.variables['params']
    return {n: p['class']['embedding'][label] for n, p in params.items()
            if isinstance(p, dict) and 'class' in p}

  def _res(self, lv, name, x, a, c, emb):
    """One gated resnet at a row (u stream: c = 0, x [b,1,W_s,F]) or a position (ul stream:
    c = C, x [b,1,1,F]),
    writing its convs' inputs into their caches lv[name/conv*] (row 1 = the current row)."""
    p = self.variables['params'][name]
    row = name.endswith('_u')

    def cached_conv(key, v, pc):
      buf = _dus(lv[key], v, 1, c + 1)
      lv[key] = buf
      return _conv(pc, buf if row else _ds(buf, 0, c, 2, 2))

    c1 = cached_conv(f'{name}/conv1', concat_elu(x), p['conv1'])
    if a is not None:
      c1 = c1 + _conv(p['nin_skip'], concat_elu(a))
    c2 = cached_conv(f'{name}/conv2', concat_elu(c1), p['conv2'])
    if emb is not None:
      c2 = c2 + emb[name][:, None, None, :]
    gate_p, gate_q = jnp.split(c2, 2, axis=-1)
    return x + gate_p * jax.nn.sigmoid(gate_q)

  def _u_level(self, cache, s, r, u, emb):
    """Row r of resolution s of the u stream (down pass, coarser rows, up pass); u: its input."""
    params = self.variables['params']
    lv = {k: (v.at[:, 0].set(v[:, 1]) if v.shape[1] == 2 else v)      # a new row at resolution s
          for k, v in cache[f'L{s}'].items()}
    down, up = self._names(s)
    us = [u]
    for n in down:
      u = self._res(lv, f'{n}_u', u, None, 0, emb)
      lv[f'urow/{n}'] = u
      us.append(u)
    if s < self.scales - 1:
      lv['down_u'] = lv['down_u'].at[:, 1, 1:-1].set(u[:, 0])
      cache = {**cache, f'L{s}': lv}
      cache = jax.lax.cond(
          r % 2 == 0,
          lambda cc: self._u_level(cc, s + 1, r // 2,
                                   _conv(params[f'down{s + 1}_u'], cc[f'L{s}']['down_u'], (2, 2)),
                                   emb),
          lambda cc: cc, cache)
      lv = dict(cache[f'L{s}'])
      u = _conv(params[f'up{s + 1}_u'], _parity_window(cache[f'L{s + 1}']['up_u'], r))
    else:
      u = us.pop()
    for n in up:
      u = self._res(lv, f'{n}_u', u, us.pop(), 0, emb)
      lv[f'urow/{n}'] = u
    if s > 0:
      lv['up_u'] = jnp.zeros_like(lv['up_u']).at[:, :, 1:2 * u.shape[2]:2].set(u)
    return {**cache, f'L{s}': lv}

  def _ul_level(self, cache, s, r, c, ul, emb):
    """Position (r, c) of resolution s of the ul stream; ul: its input there. -> (cache, ul)."""
    params = self.variables['params']
    lv = dict(cache[f'L{s}'])
    down, up = self._names(s)
    uls = [ul]
    for n in down:
      ul = self._res(lv, f'{n}_ul', ul, _ds(lv[f'urow/{n}'], 0, c, 1, 1), c, emb)
      uls.append(ul)
    if s < self.scales - 1:
      lv['down_ul'] = _dus(lv['down_ul'], ul, 1, c + 1)
      cache = {**cache, f'L{s}': lv}

      def coarser(cc):
        src = _ds(cc[f'L{s}']['down_ul'], 0, 2 * (c // 2), 2, 2)
        return self._ul_level(cc, s + 1, r // 2, c // 2,
                              _conv(params[f'down{s + 1}_ul'], src, (2, 2)), emb)[0]

      cache = jax.lax.cond((r % 2 == 0) & (c % 2 == 0), coarser, lambda cc: cc, cache)
      lv = dict(cache[f'L{s}'])
      ul = _conv(params[f'up{s + 1}_ul'],
                 _parity_window(_ds(cache[f'L{s + 1}']['up_ul'], 0, c, 1, 2), r))
    else:
      ul = uls.pop()
    for n in up:
      a = jnp.concatenate([_ds(lv[f'urow/{n}'], 0, c, 1, 1), uls.pop()], -1)
      ul = self._res(lv, f'{n}_ul', ul, a, c, emb)
    if s > 0:
      lv['up_ul'] = _dus(lv['up_ul'], ul, 0, 2 * c + 1)
    return {**cache, f'L{s}': lv}, ul

  def row_step(self, cache: dict, i, label=None) -> dict:
    """At the start of row i: the u stream's rows that rows < i of the image determine."""
    params = self.variables['params']
    xb = cache['x']
    fresh = jnp.zeros_like(xb[:, :1]).at[:, :, 1:-1, -1].set(1.0)   # row i: no data, ones channel
    xb = jnp.concatenate([xb[:, 1:], fresh], axis=1)
    u = jnp.where(i > 0, _conv(params['in_u'], xb[:, :2]), 0.0)      # down_shift: conv row i-1
    return self._u_level({**cache, 'x': xb}, 0, i, u, self._embeddings(label))

  def write_input(self, cache: dict, x_pix: jax.Array, i, j) -> dict:
    """Stores the completed pixel (i, j) [b,C] (on [-1, 1]) in the input cache."""
    v = jnp.concatenate([x_pix, jnp.ones_like(x_pix[:, :1])], -1)[:, None, None, :]
    return {**cache, 'x': _dus(cache['x'], v, 2, j + 1)}

  def pixel_step(self, cache: dict, x_pix: jax.Array, i, j, label=None):
    """Outputs [b,out_size] at pixel (i, j) (after `row_step(cache, i)`); x_pix is not read (no
    output at (i, j) depends on pixel (i, j))."""
    del x_pix
    params = self.variables['params']
    xb = cache['x']
    above = jnp.where(i > 0, _conv(params['in_ul_above'], _ds(xb, 1, j, 1, 3)), 0.0)
    left = jnp.where(j > 0, _conv(params['in_ul_left'], _ds(xb, 1, j, 2, 1)), 0.0)
    cache, ul = self._ul_level(cache, 0, i, j, above + left, self._embeddings(label))
    return _conv(params['out'], jax.nn.elu(ul))[:, 0, 0], cache
