"""PixelCNN (van den Oord et al. 2016a) and Gated PixelCNN (van den Oord et al. 2016b).

Both nets map an image x [b,H,W,C] on [-1, 1] (integer levels rescaled; see
`jaxgen.models.pixelcnn`) to per-channel outputs [b,H,W,C,out_size] such that the output of channel
c at pixel (i, j) depends only on pixels before (i, j) in raster order and on channels < c of
(i, j) itself (channel-group masks, `jaxgen.nets.masked`). `out_size` values per channel are read
by a `jaxgen.distributions.discretized_logistic.PixelOutput`.

Each net has two ways to run with the same parameters:
* ``__call__``: the whole image at once (training, likelihood, the plain sampler);
* the cached fast path for sampling (Ramachandran et al. 2017): ``init_cache`` allocates the padded
  input maps of every convolution wider than 1x1, ``row_step(cache, i)`` does the work that
  becomes possible at the start of row i (the Gated PixelCNN's vertical stack for row i-1), and
  ``pixel_step(cache, x_pix, i, j)`` computes the output at pixel (i, j) alone from the cached
  windows (writing the pixel's activations into the caches), given the pixel's channels generated
  so far in x_pix (the others zero); ``write_input(cache, x_pix, i, j)`` stores the completed
  pixel. Called for every pixel in raster order (pixel_step once per channel), this reproduces
  ``__call__``'s outputs: no feature at (i, j) depends on the last channel of (i, j) itself.
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nets.masked import CausalConv, down_shift


def _write(cache, v, i, j):
  """Writes v [b,C] at padded position (i, j) of cache [b,H',W',C]."""
  return jax.lax.dynamic_update_slice(cache, v[:, None, None, :].astype(cache.dtype), (0, i, j, 0))


def _window(cache, i, j, kh, kw):
  return jax.lax.dynamic_slice(cache, (0, i, j, 0), (cache.shape[0], kh, kw, cache.shape[3]))


def _one_by_one(conv, v):
  """A 1x1 CausalConv applied to a single position's features v [b,C] -> [b,F]."""
  return conv.window(v[:, None, None, :])


class PixelCNN(nn.Module):
  """PixelCNN: a 7x7 mask-A convolution, residual blocks, two ReLU + 1x1 output layers.

  Residual block (PixelRNN paper, Fig. 5): ReLU, 1x1 (2h -> h), ReLU, 3x3 mask B (h -> h), ReLU,
  1x1 (h -> 2h), added to the block input; every layer after the first uses mask B.

  Attributes:
    channels: C (colour channels; the channel-group count of every mask).
    out_size: outputs per channel.
    filters: 2h, the width of the residual stream (a multiple of 2C).
    blocks: residual blocks.
    num_classes: > 0 adds a learned class embedding to every block's input.
  """

  channels: int
  out_size: int
  filters: int = 64
  blocks: int = 7
  head_filters: int = 0        # 0: = filters
  num_classes: int = 0

  per_channel = True

  def setup(self):
    g, f = self.channels, self.filters
    h = f // 2
    head = self.head_filters or f
    if h % g or head % g:
      raise ValueError(f'PixelCNN filters={f} (and head_filters) must give multiples of the '
                       f'{g} colour channels: choose filters divisible by {2 * g}')
    self.conv_in = CausalConv(f, (7, 7), (3, 3, 3, 3), mask='A', groups=g, name='conv_in')
    self.down = [CausalConv(h, (1, 1), (0, 0, 0, 0), mask='B', groups=g, name=f'block{l}_down')
                 for l in range(self.blocks)]
    self.mid = [CausalConv(h, (3, 3), (1, 1, 1, 1), mask='B', groups=g, name=f'block{l}_3x3')
                for l in range(self.blocks)]
    self.up = [CausalConv(f, (1, 1), (0, 0, 0, 0), mask='B', groups=g, name=f'block{l}_up')
               for l in range(self.blocks)]
    self.head1 = CausalConv(head, (1, 1), (0, 0, 0, 0), mask='B', groups=g, name='head1')
    self.head2 = CausalConv(g * self.out_size, (1, 1), (0, 0, 0, 0), mask='B', groups=g,
                            name='head2')
    if self.num_classes:
      self.embed = [nn.Embed(self.num_classes, f, name=f'block{l}_class')
                    for l in range(self.blocks)]

  def _cond(self, l, label):
    if not self.num_classes or label is None:
      return 0.0
    return self.embed[l](label)

  def __call__(self, x: jax.Array, label: Optional[jax.Array] = None,
               train: bool = False) -> jax.Array:
    del train
    b, hh, ww, c = x.shape
    h = self.conv_in(x)
    for l in range(self.blocks):
      cond = self._cond(l, label)
      if label is not None and self.num_classes:
        cond = cond[:, None, None, :]
      r = self.down[l](nn.relu(h + cond))
      r = self.mid[l](nn.relu(r))
      h = h + self.up[l](nn.relu(r))
    out = self.head2(nn.relu(self.head1(nn.relu(h))))
    return out.reshape(b, hh, ww, c, self.out_size)

  # -- cached fast path --------------------------------------------------------------------------

  def init_cache(self, batch: int, height: int, width: int) -> dict:
    h = self.filters // 2
    cache = {'in': jnp.zeros((batch, height + 6, width + 6, self.channels))}
    for l in range(self.blocks):
      cache[f'mid{l}'] = jnp.zeros((batch, height + 2, width + 2, h))
    return cache

  def row_step(self, cache: dict, i, label=None) -> dict:
    del i, label
    return cache

  def write_input(self, cache: dict, x_pix: jax.Array, i, j) -> dict:
    """Stores the completed pixel (i, j) [b,C] in the image caches."""
    return {**cache, 'in': _write(cache['in'], x_pix, i + 3, j + 3)}

  def pixel_step(self, cache: dict, x_pix: jax.Array, i, j, label=None):
    """Outputs [b,C,out_size] at pixel (i, j); x_pix [b,C] its (partially generated) value."""
    cache = dict(cache)
    cache['in'] = _write(cache['in'], x_pix, i + 3, j + 3)
    h = self.conv_in.window(_window(cache['in'], i, j, 7, 7))
    for l in range(self.blocks):
      cond = self._cond(l, label)
      r = _one_by_one(self.down[l], nn.relu(h + cond))
      key = f'mid{l}'
      cache[key] = _write(cache[key], nn.relu(r), i + 1, j + 1)
      r = self.mid[l].window(_window(cache[key], i, j, 3, 3))
      h = h + _one_by_one(self.up[l], nn.relu(r))
    out = _one_by_one(self.head2, nn.relu(_one_by_one(self.head1, nn.relu(h))))
    return out.reshape(x_pix.shape[0], self.channels, self.out_size), cache


def _gate(z):
  p = z.shape[-1] // 2
  return jnp.tanh(z[..., :p]) * jax.nn.sigmoid(z[..., p:])


class GatedPixelCNN(nn.Module):
  """Gated PixelCNN: vertical and horizontal stacks without the blind spot.

  Layer l with kernel size k (7 for the first layer, 3 after):
    vertical   (k//2+1) x k conv on rows i-k//2..i (sees no row below i), 2p features, gated
               y = tanh(f) * sigmoid(g);
    vertical -> horizontal: the vertical pre-activation shifted down one row (so row i only gets
               rows < i), through a 1x1 conv, added to the horizontal pre-activation (never the
               reverse);
    horizontal 1 x (k//2+1) conv on columns j-k//2..j of row i with the channel-group mask at
               (i, j) ('A' in the first layer, 'B' after); separate f and g convs (so each stays
               within its channel group), gated, then a masked 1x1; residual connection from
               the second layer on.
  Optional class conditioning adds learned embeddings to both stacks' pre-activations. The output
  layers (ReLU, masked 1x1, ReLU, masked 1x1) read the horizontal stack.

  Attributes:
    channels, out_size, num_classes: as `PixelCNN`.
    filters: p, the width of both stacks (a multiple of C).
    blocks: gated layers (the first one included).
  """

  channels: int
  out_size: int
  filters: int = 64
  blocks: int = 7
  head_filters: int = 0
  num_classes: int = 0

  per_channel = True

  def _k(self, l):
    return 7 if l == 0 else 3

  def setup(self):
    g, p = self.channels, self.filters
    head = self.head_filters or p
    if p % g or head % g:
      raise ValueError(f'Gated PixelCNN filters={p} (and head_filters) must be multiples of the '
                       f'{g} colour channels')
    vconv, link, hf, hg, hout = [], [], [], [], []
    for l in range(self.blocks):
      k = self._k(l)
      mask = 'A' if l == 0 else 'B'
      vconv.append(CausalConv(2 * p, (k // 2 + 1, k), (k // 2, 0, k // 2, k // 2),
                              name=f'layer{l}_vertical'))
      link.append(CausalConv(2 * p, (1, 1), (0, 0, 0, 0), name=f'layer{l}_v2h'))
      hf.append(CausalConv(p, (1, k // 2 + 1), (0, 0, k // 2, 0), mask=mask,
                           centre=(0, k // 2), groups=g, name=f'layer{l}_horizontal_f'))
      hg.append(CausalConv(p, (1, k // 2 + 1), (0, 0, k // 2, 0), mask=mask,
                           centre=(0, k // 2), groups=g, name=f'layer{l}_horizontal_g'))
      hout.append(CausalConv(p, (1, 1), (0, 0, 0, 0), mask='B', groups=g,
                             name=f'layer{l}_horizontal_out'))
    self.vconv, self.link, self.hf, self.hg, self.hout = vconv, link, hf, hg, hout
    self.head1 = CausalConv(head, (1, 1), (0, 0, 0, 0), mask='B', groups=g, name='head1')
    self.head2 = CausalConv(g * self.out_size, (1, 1), (0, 0, 0, 0), mask='B', groups=g,
                            name='head2')
    if self.num_classes:
      self.embed_v = [nn.Embed(self.num_classes, 2 * p, name=f'layer{l}_class_v')
                      for l in range(self.blocks)]
      self.embed_h = [nn.Embed(self.num_classes, 2 * p, name=f'layer{l}_class_h')
                      for l in range(self.blocks)]

  def _cond(self, l, label):
    if not self.num_classes or label is None:
      return 0.0, 0.0
    return self.embed_v[l](label), self.embed_h[l](label)

  def __call__(self, x: jax.Array, label: Optional[jax.Array] = None,
               train: bool = False) -> jax.Array:
    del train
    b, hh, ww, c = x.shape
    p = self.filters
    v, h = x, x
    for l in range(self.blocks):
      cv, ch = self._cond(l, label)
      if self.num_classes and label is not None:
        cv, ch = cv[:, None, None, :], ch[:, None, None, :]
      vpre = self.vconv[l](v) + cv
      lk = self.link[l](down_shift(vpre)) + ch
      hf = self.hf[l](h) + lk[..., :p]
      hg = self.hg[l](h) + lk[..., p:]
      y = self.hout[l](jnp.tanh(hf) * jax.nn.sigmoid(hg))
      h = h + y if l > 0 else y
      v = _gate(vpre)
    out = self.head2(nn.relu(self.head1(nn.relu(h))))
    return out.reshape(b, hh, ww, c, self.out_size)

  # -- cached fast path --------------------------------------------------------------------------

  def init_cache(self, batch: int, height: int, width: int) -> dict:
    p, c = self.filters, self.channels
    k0 = self._k(0)
    cache = {
        'v0': jnp.zeros((batch, height + k0 // 2, width + 2 * (k0 // 2), c)),
        'h0': jnp.zeros((batch, height, width + k0 // 2, c)),
        'link': jnp.zeros((self.blocks, batch, width, 2 * p)),
    }
    for l in range(1, self.blocks):
      k = self._k(l)
      cache[f'v{l}'] = jnp.zeros((batch, height + k // 2, width + 2 * (k // 2), p))
      cache[f'h{l}'] = jnp.zeros((batch, height, width + k // 2, p))
    return cache

  def row_step(self, cache: dict, i, label=None) -> dict:
    """At the start of row i: the vertical stack's row i-1 and the links it feeds to row i."""
    p = self.filters
    b, width = cache['link'].shape[1], cache['link'].shape[2]

    def conds(l):
      cv, ch = self._cond(l, label)
      if self.num_classes and label is not None:
        cv, ch = cv[:, None, None, :], ch[:, None, None, :]
      return cv, ch

    def first_row(cache):
      links = []
      for l in range(self.blocks):
        _, ch = conds(l)
        zero = jnp.zeros((b, 1, width, 2 * p))
        links.append((self.link[l].valid(zero) + ch)[:, 0])
      return {**cache, 'link': jnp.stack(links)}

    def later_row(cache):
      cache = dict(cache)
      r = i - 1
      links = []
      for l in range(self.blocks):
        k = self._k(l)
        src = cache[f'v{l}']
        strip = jax.lax.dynamic_slice(src, (0, r, 0, 0), (b, k // 2 + 1, src.shape[2], src.shape[3]))
        cv, ch = conds(l)
        vpre = self.vconv[l].valid(strip) + cv            # [b,1,W,2p]: row r
        links.append((self.link[l].valid(vpre) + ch)[:, 0])
        if l + 1 < self.blocks:
          kn = self._k(l + 1)
          dst = cache[f'v{l + 1}']
          cache[f'v{l + 1}'] = jax.lax.dynamic_update_slice(
              dst, _gate(vpre).astype(dst.dtype), (0, r + kn // 2, kn // 2, 0))
      cache['link'] = jnp.stack(links)
      return cache

    return jax.lax.cond(i > 0, later_row, first_row, cache)

  def write_input(self, cache: dict, x_pix: jax.Array, i, j) -> dict:
    """Stores the completed pixel (i, j) [b,C] in the image caches."""
    k0 = self._k(0)
    return {**cache, 'v0': _write(cache['v0'], x_pix, i + k0 // 2, j + k0 // 2),
            'h0': _write(cache['h0'], x_pix, i, j + k0 // 2)}

  def pixel_step(self, cache: dict, x_pix: jax.Array, i, j, label=None):
    """Outputs [b,C,out_size] at pixel (i, j) (after `row_step(cache, i)`)."""
    p = self.filters
    cache = dict(cache)
    k0 = self._k(0)
    cache['v0'] = _write(cache['v0'], x_pix, i + k0 // 2, j + k0 // 2)
    h = x_pix
    for l in range(self.blocks):
      k = self._k(l)
      key = f'h{l}'
      cache[key] = _write(cache[key], h, i, j + k // 2)
      win = _window(cache[key], i, j, 1, k // 2 + 1)
      lk = jax.lax.dynamic_index_in_dim(cache['link'][l], j, axis=1, keepdims=False)
      hf = self.hf[l].window(win) + lk[..., :p]
      hg = self.hg[l].window(win) + lk[..., p:]
      y = _one_by_one(self.hout[l], jnp.tanh(hf) * jax.nn.sigmoid(hg))
      h = h + y if l > 0 else y
    out = _one_by_one(self.head2, nn.relu(_one_by_one(self.head1, nn.relu(h))))
    return out.reshape(x_pix.shape[0], self.channels, self.out_size), cache
