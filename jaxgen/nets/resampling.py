"""Up- and downsampling of NHWC images as pure functions: nearest / average pooling and the FIR
filters of NCSN++ (StyleGAN2's "upfirdn").

FIR resampling (the StyleGAN2 "upfirdn" filters used by NCSN++) is written with
``lax.conv_general_dilated``: zero insertion is an input (lhs) dilation, decimation is a window
stride, and the separable FIR kernel ``outer(k, k) / sum^2`` runs depth-wise. Borders are zero
padded (as in the reference), so a constant image is reproduced exactly away from the border.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

CONV_DIMS = ('NHWC', 'HWIO', 'NHWC')  # lax.conv dimension numbers: images NHWC, kernels HWIO


def fir_kernel_2d(k: Sequence[float]) -> np.ndarray:
  """Separable FIR kernel: outer(k, k) normalised to sum 1 (a 2-D kernel is only normalised)."""
  k = np.asarray(k, dtype=np.float32)
  if k.ndim == 1:
    k = np.outer(k, k)
  return k / k.sum()


def upfirdn2d(x: jax.Array, kernel: np.ndarray, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> jax.Array:
  """Upsample by zero insertion, pad, convolve with ``kernel`` (per channel), decimate. NHWC.

  Output size per spatial axis: (H * up + pad[0] + pad[1] - kh) // down + 1.
  """
  c = x.shape[-1]
  k = np.asarray(kernel, np.float32)[::-1, ::-1]  # a true convolution (irrelevant if symmetric)
  w = jnp.asarray(np.tile(k[:, :, None, None], (1, 1, 1, c)), x.dtype)
  p0, p1 = pad
  padding = ((p0, p1 + up - 1), (p0, p1 + up - 1))
  return lax.conv_general_dilated(x, w, window_strides=(down, down), padding=padding,
                                  lhs_dilation=(up, up), dimension_numbers=CONV_DIMS,
                                  feature_group_count=c)


def upsample_2d(x: jax.Array, k: Sequence[float] = (1, 3, 3, 1), factor: int = 2) -> jax.Array:
  """FIR upsampling x2 (H, W -> factor H, factor W); the kernel is scaled by factor^2 so a
  constant image stays constant (away from the zero-padded border)."""
  kernel = fir_kernel_2d(k) * factor ** 2
  p = kernel.shape[0] - factor
  return upfirdn2d(x, kernel, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x: jax.Array, k: Sequence[float] = (1, 3, 3, 1), factor: int = 2) -> jax.Array:
  """FIR (anti-aliased) downsampling: H, W -> H / factor, W / factor. ``upsample_2d`` is
  ``factor^2`` times its transpose (adjoint)."""
  kernel = fir_kernel_2d(k)
  p = kernel.shape[0] - factor
  return upfirdn2d(x, kernel, down=factor, pad=((p + 1) // 2, p // 2))


def naive_upsample_2d(x: jax.Array, factor: int = 2) -> jax.Array:
  """Nearest-neighbour upsampling."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def naive_downsample_2d(x: jax.Array, factor: int = 2) -> jax.Array:
  """Mean over factor x factor blocks (average pooling)."""
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
