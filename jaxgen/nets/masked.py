"""Masked and shifted convolutions for autoregressive image models (PixelCNN family).

Conventions
-----------
* Images are NHWC. The generation order is raster order over pixels (row 0 first, left to right
  within a row) and, inside a pixel, channel order 0, 1, ..., C-1 (R, then G, then B).
* Channel groups: a masked layer with ``groups = C`` splits its input and output features into C
  contiguous groups (feature k of n belongs to group ``k * C // n``). At the *current* pixel an
  output in group g may see input groups ``< g`` (mask 'A', used on the image itself) or ``<= g``
  (mask 'B', every later layer). All earlier pixels (in raster order) are fully visible. With
  ``groups = 1`` mask 'A' hides the current pixel and mask 'B' shows it.
* `CausalConv` is one convolution with explicit (top, bottom, left, right) zero padding, an optional
  mask, and a second entry point `window` that computes the output at a *single* position from the
  padded input window there: the same weights, used by the cached fast sampler
  (`jaxgen.models.pixelcnn.autoregressive`) to spend only one position's work per generated pixel.
"""

from __future__ import annotations

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def channel_groups(n: int, groups: int) -> np.ndarray:
  """Group index of each of `n` features when split into `groups` contiguous groups."""
  if n % groups:
    raise ValueError(f'{n} features cannot be split into {groups} colour-channel groups; '
                     f'use a multiple of {groups}')
  return np.arange(n) * groups // n


def causal_mask(kernel_size: Sequence[int], centre: Sequence[int], in_features: int,
                out_features: int, mask_type: str, groups: int = 1) -> np.ndarray:
  """The 0/1 mask [kh, kw, in, out] of a raster-order masked convolution.

  Kernel rows above `centre` are visible; on the centre row the columns left of the centre are
  visible; at the centre the channel-group rule of the module doc applies ('A': strictly earlier
  groups, 'B': earlier or same group); everything after the centre is hidden.
  """
  if mask_type not in ('A', 'B'):
    raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
  kh, kw = kernel_size
  cy, cx = centre
  m = np.zeros((kh, kw, in_features, out_features), np.float32)
  m[:cy] = 1.0
  m[cy, :cx] = 1.0
  gin = channel_groups(in_features, groups)[:, None]
  gout = channel_groups(out_features, groups)[None, :]
  m[cy, cx] = (gout > gin) if mask_type == 'A' else (gout >= gin)
  return m


def down_shift(x: jax.Array) -> jax.Array:
  """Shifts a map [b,H,W,C] down by one row (zeros enter at the top)."""
  return jnp.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


def right_shift(x: jax.Array) -> jax.Array:
  """Shifts a map [b,H,W,C] right by one column (zeros enter at the left)."""
  return jnp.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


class CausalConv(nn.Module):
  """A stride-1 (or strided) convolution with explicit zero padding and an optional causal mask.

  Attributes:
    features: output features.
    kernel_size: (kh, kw).
    padding: (top, bottom, left, right) zero padding; e.g. centred 3x3: (1, 1, 1, 1); the gated
      vertical stack (2, 3): (1, 0, 1, 1); the horizontal stack (1, 2): (0, 0, 1, 0).
    mask: None (no mask: causality comes from the padding/shifts) or 'A' / 'B'.
    centre: kernel index (row, col) of the current pixel, needed with a mask (default: the kernel
      centre).
    groups: colour-channel groups of the mask (see module doc).
    strides: (sy, sx).
    input_dilation: (dy, dx) zeros inserted between inputs: with strides 1 and kernel/padding
      chosen as in `jaxgen.nets.pixelcnn_pp`, a transposed (up-sampling) convolution.
    kernel_init_scale: the kernel is drawn with variance scaling (fan_in, this scale); masked-out
      entries are zeroed at use, so they never receive gradient.
  """

  features: int
  kernel_size: tuple = (3, 3)
  padding: tuple = (1, 1, 1, 1)
  mask: Optional[str] = None
  centre: Optional[tuple] = None
  groups: int = 1
  strides: tuple = (1, 1)
  input_dilation: tuple = (1, 1)
  use_bias: bool = True
  kernel_init_scale: float = 1.0

  def _kernel(self, in_features: int) -> jax.Array:
    init = nn.initializers.variance_scaling(self.kernel_init_scale, 'fan_in', 'truncated_normal')
    kernel = self.param('kernel', init, (*self.kernel_size, in_features, self.features))
    if self.mask is not None:
      centre = self.centre if self.centre is not None else tuple(k // 2 for k in self.kernel_size)
      kernel = kernel * causal_mask(self.kernel_size, centre, in_features, self.features,
                                    self.mask, self.groups)
    return kernel

  def _bias(self):
    if not self.use_bias:
      return 0.0
    return self.param('bias', nn.initializers.zeros, (self.features,))

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Full convolution of x [b,H,W,Cin] -> [b,H',W',features]."""
    kernel = self._kernel(x.shape[-1])
    t, b, l, r = self.padding
    y = jax.lax.conv_general_dilated(
        x, kernel, window_strides=self.strides, padding=((t, b), (l, r)),
        lhs_dilation=self.input_dilation, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return y + self._bias()

  def valid(self, x: jax.Array) -> jax.Array:
    """Convolution of an already padded input (no padding added): used on row strips."""
    kernel = self.get_variable('params', 'kernel')
    if self.mask is not None:
      centre = self.centre if self.centre is not None else tuple(k // 2 for k in self.kernel_size)
      kernel = kernel * causal_mask(self.kernel_size, centre, kernel.shape[2], self.features,
                                    self.mask, self.groups)
    y = jax.lax.conv_general_dilated(
        x, kernel, window_strides=self.strides, padding='VALID',
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    bias = self.get_variable('params', 'bias') if self.use_bias else 0.0
    return y + bias

  def window(self, win: jax.Array) -> jax.Array:
    """The output at one position from its padded input window win [b,kh,kw,Cin] -> [b,features].

    Equals ``self(x)[:, i, j]`` when ``win`` is the padded input at rows i*sy..i*sy+kh-1 and columns
    j*sx..j*sx+kw-1 (padded coordinates).
    """
    y = self.valid(win)
    return y[:, 0, 0]
