"""Building blocks of the DDPM++ / NCSN++ score U-Nets (Song et al. 2021), in flax linen.

Conventions
-----------
* Images are NHWC (``[b, H, W, C]``); everything here is channels-last.
* Every module takes a ``dtype`` (the *compute* dtype, e.g. ``jnp.bfloat16``); parameters are
  always created in float32 (flax ``param_dtype`` default), so mixed precision only changes the
  arithmetic, never the stored weights.
* Initialisation follows the reference: ``default_init(scale)`` is a fan-avg uniform variance
  scaling (the DDPM/TF default), biases start at zero, and ``init_scale=0`` (used by the CIFAR-10
  configs) makes the last convolution of every residual / attention branch start at (almost) zero,
  so each block starts as the identity on its skip path.
* Time embeddings take the *label* the family passes (``t * 999`` for VP, ``sigma`` for VE); the
  Fourier embedding is applied to ``log(label)`` by the network, not here.

The resampling modules use the pure filters of `jaxgen.nets.resampling`.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgen.nets.resampling import (CONV_DIMS, downsample_2d, fir_kernel_2d, naive_downsample_2d,
                                    naive_upsample_2d, upfirdn2d, upsample_2d)

Dtype = Any

# ----------------------------------------------------------------------------- initialisers


def default_init(scale: float = 1.0):
  """Fan-avg uniform variance scaling (DDPM's TF default); ``scale=0`` maps to 1e-10."""
  scale = 1e-10 if scale == 0 else scale
  return nn.initializers.variance_scaling(scale, 'fan_avg', 'uniform')


def conv3x3(features: int, init_scale: float = 1.0, dtype: Dtype = jnp.float32,
            name: Optional[str] = None, stride: int = 1, padding: Any = 'SAME') -> nn.Conv:
  return nn.Conv(features, (3, 3), strides=(stride, stride), padding=padding, dtype=dtype,
                 kernel_init=default_init(init_scale), bias_init=nn.initializers.zeros,
                 name=name)


def conv1x1(features: int, init_scale: float = 1.0, dtype: Dtype = jnp.float32,
            name: Optional[str] = None) -> nn.Conv:
  return nn.Conv(features, (1, 1), dtype=dtype, kernel_init=default_init(init_scale),
                 bias_init=nn.initializers.zeros, name=name)


def dense(features: int, init_scale: float = 1.0, dtype: Dtype = jnp.float32,
          name: Optional[str] = None) -> nn.Dense:
  return nn.Dense(features, dtype=dtype, kernel_init=default_init(init_scale),
                  bias_init=nn.initializers.zeros, name=name)


def group_norm(channels: int, dtype: Dtype = jnp.float32, name: Optional[str] = None):
  """GroupNorm with min(C // 4, 32) groups and eps 1e-6, as in DDPM/NCSN++."""
  return nn.GroupNorm(num_groups=max(1, min(channels // 4, 32)), epsilon=1e-6, dtype=dtype,
                      name=name)


# ----------------------------------------------------------------------------- time embeddings


def positional_embedding(t: jax.Array, dim: int, max_positions: float = 10000.) -> jax.Array:
  """Transformer sinusoidal embedding of a float ``t`` of shape [b] -> [b, dim] (float32).

  Closed form (half = dim // 2, i = 0..half-1):
    emb[:, i] = sin(t w_i),  emb[:, half + i] = cos(t w_i),  w_i = max_positions^(-i / (half-1));
  a zero column is appended when ``dim`` is odd. This is DDPM's ``get_timestep_embedding``.
  """
  t = jnp.asarray(t, jnp.float32)
  half = dim // 2
  freqs = jnp.exp(-math.log(max_positions) * jnp.arange(half, dtype=jnp.float32)
                  / max(half - 1, 1))
  args = t[:, None] * freqs[None, :]
  emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)
  if dim % 2:
    emb = jnp.pad(emb, ((0, 0), (0, 1)))
  return emb


def fourier_frequencies(dim: int, scale: float, seed: int = 0) -> np.ndarray:
  """The fixed Gaussian frequencies W ~ N(0, scale^2) of the Fourier embedding (a constant).

  The reference stores W as a non-trainable parameter drawn at init; we draw it once from a fixed
  numpy seed so it is a compile-time constant: it is never trained, never decayed by an optimiser
  and identical across runs (same distribution as the reference).
  """
  return (np.random.RandomState(seed).randn(dim) * scale).astype(np.float32)


def fourier_embedding(s: jax.Array, dim: int, scale: float = 16.) -> jax.Array:
  """Gaussian Fourier features [sin(2 pi s W), cos(2 pi s W)] of a float ``s`` [b] -> [b, 2 dim].

  NCSN++ applies it to ``s = log(sigma)``.
  """
  w = jnp.asarray(fourier_frequencies(dim, scale))
  proj = jnp.asarray(s, jnp.float32)[:, None] * w[None, :] * (2 * np.pi)
  return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


# ----------------------------------------------------------------------------- resampling modules


class FIRConv(nn.Module):
  """3x3 convolution fused with FIR up- or downsampling (StyleGAN2's Conv2d(up|down)).

  up: transposed (stride-2) convolution followed by the FIR filter; down: FIR filter followed by
  a stride-2 convolution. Same parameters as a plain conv (kernel [k, k, in, out] + bias).
  """
  features: int
  up: bool = False
  down: bool = False
  fir_kernel: Sequence[float] = (1, 3, 3, 1)
  kernel_size: int = 3
  init_scale: float = 1.0
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    assert not (self.up and self.down)
    ks, cin = self.kernel_size, x.shape[-1]
    w = self.param('kernel', default_init(self.init_scale), (ks, ks, cin, self.features))
    b = self.param('bias', nn.initializers.zeros, (self.features,))
    w, b, x = w.astype(self.dtype), b.astype(self.dtype), x.astype(self.dtype)
    kernel = fir_kernel_2d(self.fir_kernel)
    if self.up:
      # zero-insert x2 and convolve ("full" padding): H -> 2H + 1, then filter back to 2H.
      h = lax.conv_general_dilated(x, w, (1, 1), ((ks - 1, ks - 1),) * 2, lhs_dilation=(2, 2),
                                   dimension_numbers=CONV_DIMS)
      p = (kernel.shape[0] - 2) - (ks - 1)
      h = upfirdn2d(h, kernel * 4, pad=((p + 1) // 2 + 1, p // 2 + 1))
    elif self.down:
      p = (kernel.shape[0] - 2) + (ks - 1)
      h = upfirdn2d(x, kernel, pad=((p + 1) // 2, p // 2))
      h = lax.conv_general_dilated(h, w, (2, 2), 'VALID', dimension_numbers=CONV_DIMS)
    else:
      h = lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=CONV_DIMS)
    return h + b


class Upsample(nn.Module):
  """x2 upsampling: nearest (+ optional 3x3 conv) or FIR (+ optional fused conv)."""
  features: Optional[int] = None
  with_conv: bool = False
  fir: bool = False
  fir_kernel: Sequence[float] = (1, 3, 3, 1)
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    out = self.features or x.shape[-1]
    if not self.fir:
      h = naive_upsample_2d(x)
      if self.with_conv:
        h = conv3x3(out, dtype=self.dtype, name='Conv_0')(h)
    elif self.with_conv:
      h = FIRConv(out, up=True, fir_kernel=self.fir_kernel, dtype=self.dtype, name='Conv_0')(x)
    else:
      h = upsample_2d(x, self.fir_kernel)
    return h


class Downsample(nn.Module):
  """x2 downsampling: average pool / stride-2 conv, or FIR (+ optional fused conv)."""
  features: Optional[int] = None
  with_conv: bool = False
  fir: bool = False
  fir_kernel: Sequence[float] = (1, 3, 3, 1)
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    out = self.features or x.shape[-1]
    if not self.fir:
      if self.with_conv:
        x = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))  # DDPM's asymmetric pad, then VALID
        x = conv3x3(out, dtype=self.dtype, stride=2, padding='VALID', name='Conv_0')(x)
      else:
        x = naive_downsample_2d(x)
    elif self.with_conv:
      x = FIRConv(out, down=True, fir_kernel=self.fir_kernel, dtype=self.dtype, name='Conv_0')(x)
    else:
      x = downsample_2d(x, self.fir_kernel)
    return x


# ----------------------------------------------------------------------------- attention


class AttnBlock(nn.Module):
  """Single-head self-attention over the H*W positions (DDPM's AttnBlock, "pp" variant).

  h = x + NIN_3(softmax(q k^T / sqrt(C)) v) with q, k, v 1x1 projections of GroupNorm(x); the sum
  is divided by sqrt(2) when ``skip_rescale``. Runs through ``jax.nn.dot_product_attention`` so
  GPUs get a fused kernel (``attn_impl`` selects it: None = XLA picks, 'cudnn', 'xla').
  """
  skip_rescale: bool = False
  init_scale: float = 0.
  dtype: Dtype = jnp.float32
  attn_impl: Optional[str] = None

  @nn.compact
  def __call__(self, x):
    b, hh, ww, c = x.shape
    h = group_norm(c, self.dtype, name='GroupNorm_0')(x)
    q = dense(c, dtype=self.dtype, name='NIN_0')(h).reshape(b, hh * ww, 1, c)
    k = dense(c, dtype=self.dtype, name='NIN_1')(h).reshape(b, hh * ww, 1, c)
    v = dense(c, dtype=self.dtype, name='NIN_2')(h).reshape(b, hh * ww, 1, c)
    h = jax.nn.dot_product_attention(q, k, v, implementation=self.attn_impl)
    h = dense(c, self.init_scale, dtype=self.dtype, name='NIN_3')(h.reshape(b, hh, ww, c))
    out = x + h
    return out / np.sqrt(2.).astype(out.dtype) if self.skip_rescale else out


class ResBlockDDPM(nn.Module):
  """DDPM residual block (GN, swish, conv, +Dense(temb), GN, swish, dropout, conv) + 1x1 skip."""
  features: Optional[int] = None
  dropout: float = 0.1
  skip_rescale: bool = False
  init_scale: float = 0.
  deterministic: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, temb=None):
    cin = x.shape[-1]
    out = self.features or cin
    h = nn.swish(group_norm(cin, self.dtype, name='GroupNorm_0')(x))
    h = conv3x3(out, dtype=self.dtype, name='Conv_0')(h)
    if temb is not None:
      h = h + dense(out, dtype=self.dtype, name='Dense_0')(nn.swish(temb))[:, None, None, :]
    h = nn.swish(group_norm(out, self.dtype, name='GroupNorm_1')(h))
    h = nn.Dropout(self.dropout)(h, deterministic=self.deterministic)
    h = conv3x3(out, self.init_scale, dtype=self.dtype, name='Conv_1')(h)
    if cin != out:
      x = dense(out, dtype=self.dtype, name='NIN_0')(x)
    y = x + h
    return y / np.sqrt(2.).astype(y.dtype) if self.skip_rescale else y


class ResBlockBigGAN(nn.Module):
  """BigGAN-style residual block with optional x2 up/downsampling inside the block.

  Both the residual branch (after the first GN + swish) and the skip branch are resampled (FIR
  or naive), the skip gets a 1x1 conv when the width or resolution changes.
  """
  features: Optional[int] = None
  up: bool = False
  down: bool = False
  dropout: float = 0.1
  fir: bool = False
  fir_kernel: Sequence[float] = (1, 3, 3, 1)
  skip_rescale: bool = True
  init_scale: float = 0.
  deterministic: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, temb=None):
    cin = x.shape[-1]
    out = self.features or cin
    h = nn.swish(group_norm(cin, self.dtype, name='GroupNorm_0')(x))
    if self.up:
      if self.fir:
        h, x = upsample_2d(h, self.fir_kernel), upsample_2d(x, self.fir_kernel)
      else:
        h, x = naive_upsample_2d(h), naive_upsample_2d(x)
    elif self.down:
      if self.fir:
        h, x = downsample_2d(h, self.fir_kernel), downsample_2d(x, self.fir_kernel)
      else:
        h, x = naive_downsample_2d(h), naive_downsample_2d(x)
    h = conv3x3(out, dtype=self.dtype, name='Conv_0')(h)
    if temb is not None:
      h = h + dense(out, dtype=self.dtype, name='Dense_0')(nn.swish(temb))[:, None, None, :]
    h = nn.swish(group_norm(out, self.dtype, name='GroupNorm_1')(h))
    h = nn.Dropout(self.dropout)(h, deterministic=self.deterministic)
    h = conv3x3(out, self.init_scale, dtype=self.dtype, name='Conv_1')(h)
    if cin != out or self.up or self.down:
      x = conv1x1(out, dtype=self.dtype, name='Conv_2')(x)
    y = x + h
    return y / np.sqrt(2.).astype(y.dtype) if self.skip_rescale else y


# ----------------------------------------------------------------------------- progressive paths


class Combine(nn.Module):
  """Merge the input-pyramid image into the features: 1x1 conv, then 'cat' or 'sum'."""
  method: str = 'cat'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, pyramid, h):
    p = conv1x1(h.shape[-1], dtype=self.dtype, name='Conv_0')(pyramid)
    if self.method == 'cat':
      return jnp.concatenate([p, h], axis=-1)
    if self.method == 'sum':
      return p + h
    raise ValueError(f'unknown combine method {self.method!r}')
