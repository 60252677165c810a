"""Raster-order samplers for autoregressive image models (PixelCNN family), fully jit-compiled.

Both samplers draw integer images [n,H,W,C] (levels 0..K-1) pixel by pixel in raster order and,
inside a pixel, channel by channel, using the same random key for the same decision, so that they
produce *identical* samples for the same key (see Equality below):

* pixel (i, j) uses ``key_p = fold_in(key, i*W + j)``; a per-channel net (PixelCNN, Gated
  PixelCNN) draws channel c with ``fold_in(key_p, c)``; a strictly causal net (PixelCNN++) draws
  the whole pixel with ``key_p`` (the likelihood couples the channels).

`plain`: the naive sampler. Every decision re-runs the whole network on the whole image and reads
one position: H*W*C (per-channel nets) or H*W network evaluations of a full image.

`fast`: the cached sampler of Ramachandran et al. 2017 ("Fast generation for convolutional
autoregressive models"). The net keeps, for every convolution wider than 1x1, the padded map of its
input activations (its cache); each step computes the activations at the *new position only*,
from the cached windows, and writes them to the caches (`pixel_step`), so one pixel costs one
position's work per layer; the Gated PixelCNN's vertical stack and PixelCNN++'s "u" stream (which
see only the rows above) are computed a row at a time (`row_step`, once per row, i.e. per pixel the
same amortized work); PixelCNN++'s coarser resolutions (stride 2**s) advance a coarse row when
2**s divides i and a coarse position when 2**s divides i and j (`jaxgen.nets.pixelcnn_pp`). The
net must provide ``init_cache``, ``row_step``, ``pixel_step`` and ``write_input`` (see
`jaxgen.nets.pixelcnn`, `jaxgen.nets.pixelcnn_pp`).

Equality. Each fast step runs the same convolutions as the full network on the same padded
windows, so the logits agree to float rounding (~1e-7 relative: XLA accumulates a full map's and a
single window's convolution in different orders), not bit for bit; the integer samples then agree
exactly unless a draw falls within that rounding of a decision boundary (a bin edge, a mixture
component's tie). Tests check exact equality of the images for several keys; the benchmark
(benchmarks/pixelcnn_sampling.py) reports it for each run.

Inputs are fed to the nets on [-1, 1] (`jaxgen.distributions.discretized_logistic.to_symmetric`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp

from jaxgen.distributions.discretized_logistic import PixelOutput, to_symmetric


def _pixel_key(key, i, j, width):
  return jax.random.fold_in(key, i * width + j)


def plain(apply_fn: Callable[[jax.Array, Optional[jax.Array]], jax.Array], output: PixelOutput,
          shape: tuple, key: jax.Array, n: int, label: Optional[jax.Array] = None,
          rows: Optional[int] = None) -> jax.Array:
  """Naive raster-order sampling; apply_fn(x_sym [n,H,W,C], label) -> the net's outputs.

  `rows` < H stops after the first `rows` rows (the rest stay 0): every step costs the same full
  network evaluation, so benchmarks time a prefix and scale it.
  """
  h, w, c = shape
  k = output.num_levels

  if output.per_channel:
    def body(t, x):
      pix, ch = t // c, t % c
      i, j = pix // w, pix % w
      out = apply_fn(to_symmetric(x, k), label)                    # [n,H,W,C,P]
      o = jax.lax.dynamic_slice(out, (0, i, j, 0, 0), (n, 1, 1, c, out.shape[-1]))[:, 0, 0]
      o = jax.lax.dynamic_index_in_dim(o, ch, axis=1, keepdims=False)
      v = output.sample_channel(jax.random.fold_in(_pixel_key(key, i, j, w), ch), o)
      return jax.lax.dynamic_update_slice(x, v[:, None, None, None], (0, i, j, ch))
    steps = (rows or h) * w * c
  else:
    def body(t, x):
      i, j = t // w, t % w
      out = apply_fn(to_symmetric(x, k), label)                    # [n,H,W,P]
      o = jax.lax.dynamic_slice(out, (0, i, j, 0), (n, 1, 1, out.shape[-1]))[:, 0, 0]
      v = output.sample_pixel(_pixel_key(key, i, j, w), o)
      return jax.lax.dynamic_update_slice(x, v[:, None, None, :], (0, i, j, 0))
    steps = (rows or h) * w

  x0 = jnp.zeros((n, h, w, c), jnp.int32)
  return jax.lax.fori_loop(0, steps, body, x0)


def fast_path_missing(cls) -> list[str]:
  """The methods of the cached fast path that the network class `cls` lacks ([] if it has it)."""
  return [m for m in ('init_cache', 'row_step', 'pixel_step', 'write_input')
          if not hasattr(cls, m)]


def fast(net: Any, variables: Any, output: PixelOutput, shape: tuple, key: jax.Array, n: int,
         label: Optional[jax.Array] = None) -> jax.Array:
  """Cached raster-order sampling with a net offering the fast-path methods (module doc)."""
  h, w, c = shape
  k = output.num_levels
  cls = type(net)
  missing = fast_path_missing(cls)
  if missing:
    raise NotImplementedError(f'{cls.__name__} has no cached fast path (missing {missing}); use '
                              "sampling.method='plain'")

  def call(method, *args):
    return net.apply(variables, *args, method=getattr(cls, method))

  def body(t, carry):
    x, cache = carry
    i, j = t // w, t % w
    cache = jax.lax.cond(j == 0, lambda cc: call('row_step', cc, i, label), lambda cc: cc, cache)
    kp = _pixel_key(key, i, j, w)
    pix = jnp.zeros((n, c), jnp.int32)
    if output.per_channel:
      for ch in range(c):
        out, cache = call('pixel_step', cache, to_symmetric(pix, k), i, j, label)
        v = output.sample_channel(jax.random.fold_in(kp, ch), out[:, ch])
        pix = pix.at[:, ch].set(v)
    else:
      out, cache = call('pixel_step', cache, to_symmetric(pix, k), i, j, label)
      pix = output.sample_pixel(kp, out)
    cache = call('write_input', cache, to_symmetric(pix, k), i, j)
    x = jax.lax.dynamic_update_slice(x, pix[:, None, None, :], (0, i, j, 0))
    return x, cache

  x0 = jnp.zeros((n, h, w, c), jnp.int32)
  cache0 = net.init_cache(n, h, w)
  x, _ = jax.lax.fori_loop(0, h * w, body, (x0, cache0))
  return x


def network_evaluations(output: PixelOutput, shape: tuple, method: str) -> int:
  """Full-image network evaluations per sample (plain), or per-pixel steps (fast): the 'nfe'."""
  h, w, c = shape
  per_pixel = c if output.per_channel else 1
  return h * w * per_pixel
