"""DiT / SiT: a diffusion transformer on image patches (Peebles & Xie 2023; Ma et al. 2024).

The image is cut into p x p patches, each embedded linearly; N transformer blocks with adaLN-zero
conditioning on the time (and class) embedding; a final adaLN layer and a linear map to the
p * p * C values of each patch; the patches are put back together. SiT is the same network
trained as a flow (the rectified-flow family); DiT the same trained as a diffusion (score SDEs).

Sizes (``size``; ``depth``, ``width``, ``heads`` override the size's where > 0), DiT Table 1:

  size   depth  width  heads   params (DiT-<size>/2, 32x32x4 latents, 1000 classes, learned sigma)
  S      12     384    6       33M
  B      12     768    12      130M
  L      24     1024   16      458M
  XL     28     1152   16      675M (675,129,632 with DiT's fixed position table counted)

Call convention (the U-Net's, `jaxgen.nets.unet`)
-------------------------------------------------
``net.apply({'params': p}, x, t_label, train=False, y=None)``

* ``x``: ``[b, H, W, C]`` in the family's data scale; H and W divisible by ``patch``. The
  (H / p) * (W / p) patches are the tokens, in row-major order.
* ``t_label``: float ``[b]`` (or a scalar): ``'positional'`` embeds it as is (the families pass
  ``t * 999``), ``'fourier'`` embeds ``log(t_label)`` (the VE family's sigma > 0); then a
  two-layer MLP to ``width``.
* ``y``: int ``[b]`` in ``0..K`` when ``num_classes = K > 0``: K + 1 label embeddings added to the
  time embedding, index K the null label of classifier-free guidance
  (`jaxgen.models.conditioning`); the family sets ``num_classes``.
* Returns float32 of x's shape, the raw network output (the family turns it into a velocity or
  a score). ``train`` is accepted for the common signature; the DiT has no dropout.

Positions: a fixed 2-D sin-cos table added to the tokens (half the width encodes the row, half
the column), or with ``rope=True`` 2-D rotary embeddings of queries and keys in every block (half
of each head's dimensions rotated by the row, half by the column), so attention scores depend
only on relative positions. ``qk_norm``: RMS-normalised queries and keys per head (SD3, SiT-XL
variants). Attention is ``jax.nn.dot_product_attention`` with ``attn_impl``: '' (XLA chooses),
'xla', or 'cudnn' (GPU, bf16 / fp16; no forward-mode derivative: `jaxgen.nets.forward_mode`).

Initialisation (DiT's): linear layers Xavier-uniform with zero biases, time and label embeddings
N(0, 0.02^2), every adaLN modulation and the output layer zero, so each block starts as the
identity and the network's output starts at zero. ``dtype='bfloat16'`` computes in bf16 with
float32 parameters and a float32 output; ``remat`` recomputes each block in the backward pass.
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.nets import layers

_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}
SIZES = {'S': (12, 384, 6), 'B': (12, 768, 12), 'L': (24, 1024, 16), 'XL': (28, 1152, 16)}
FREQ_DIM = 256        # sinusoidal features of the time label before its MLP (DiT's)
ROPE_BASE = 10000.0


def defaults() -> ml_collections.ConfigDict:
  """All hyperparameters with their types; values: DiT-B/2 (unconditional, float32)."""
  return ml_collections.ConfigDict(dict(
      size='B',                    # 'S' | 'B' | 'L' | 'XL': depth, width, heads (module docstring)
      depth=0,                     # > 0: overrides the size's number of blocks
      width=0,                     # > 0: overrides the size's token width
      heads=0,                     # > 0: overrides the size's attention heads (must divide width)
      patch=2,                     # p: tokens are p x p patches (H, W divisible by p)
      mlp_ratio=4.0,               # hidden width of each block's MLP / width
      rope=False,                  # 2-D rotary position embedding instead of the sin-cos table
      qk_norm=False,               # RMS-normalise queries and keys per head
      embedding_type='positional',  # 'positional' (of t_label) | 'fourier' (of log t_label)
      fourier_scale=16.0,
      num_classes=0,               # set from model.num_classes: K + 1 embeddings (K: null)
      dtype='float32',             # compute dtype: 'float32' | 'bfloat16'; params stay float32
      remat=False,                 # nn.remat over the transformer blocks
      attn_impl='',                # '' (XLA chooses) | 'xla' | 'cudnn' for dot_product_attention
  ))


def choices(prefix: str) -> dict:
  """The closed value sets of the string keys of `defaults()` under ``prefix`` (``'model.dit'``)
  for config validation (a family's ``choices()`` merges them in)."""
  return {f'{prefix}.{k}': v for k, v in dict(
      size=tuple(SIZES), embedding_type=('positional', 'fourier'), dtype=tuple(_DTYPES),
      attn_impl=('', 'xla', 'cudnn')).items()}


def small() -> ml_collections.ConfigDict:
  """A tiny DiT for 28x28 (Fashion-)MNIST and 8x8 digits on a CPU: 4 blocks of width 128,
  4 heads, 4x4 patches (49 tokens at 28x28)."""
  cfg = defaults()
  cfg.size, cfg.depth, cfg.width, cfg.heads, cfg.patch = 'S', 4, 128, 4, 4
  return cfg


def dimensions(cfg) -> tuple[int, int, int]:
  """``(depth, width, heads)`` of a config: the size's, each overridden by a key > 0."""
  depth, width, heads = SIZES[cfg.size]
  return (int(cfg.depth) or depth, int(cfg.width) or width, int(cfg.heads) or heads)


def build(cfg: ml_collections.ConfigDict) -> nn.Module:
  """The flax module of a config from `defaults()` (or `small()`); ValueError naming the
  ``model.dit`` key for dimensions that do not fit together."""
  depth, width, heads = dimensions(cfg)
  rope = bool(cfg.rope)
  where = (f'config.model.dit (size {cfg.size!r}: depth {depth}, width {width}, heads {heads}; '
           f'patch {cfg.patch})')
  if min(depth, width, heads, int(cfg.patch)) < 1 or float(cfg.mlp_ratio) <= 0:
    raise ValueError(f'{where}: depth, width, heads and patch must be >= 1 (depth, width, heads: '
                     "0 takes the size's) and mlp_ratio > 0")
  if width % heads:
    raise ValueError(f'{where}: set --config.model.dit.heads to a divisor of the width {width}')
  if rope and (width // heads) % 4:
    raise ValueError(f'{where}: rope=True rotates half of each head by the row and half by the '
                     f'column, so width / heads = {width // heads} must be a multiple of 4: set '
                     'model.dit.width or model.dit.heads accordingly')
  if not rope and width % 4:
    raise ValueError(f'{where}: the 2-D sin-cos position table needs a width divisible by 4: '
                     'set model.dit.width accordingly')
  return DiT(depth=depth, width=width, heads=heads, patch=int(cfg.patch),
             mlp_ratio=float(cfg.mlp_ratio), rope=rope, qk_norm=bool(cfg.qk_norm),
             embedding_type=cfg.embedding_type, fourier_scale=float(cfg.fourier_scale),
             num_classes=int(cfg.num_classes), dtype=cfg.dtype, remat=bool(cfg.remat),
             attn_impl=cfg.attn_impl or None)


# ----------------------------------------------------------------------------- positions


def sincos_table(grid_h: int, grid_w: int, width: int) -> np.ndarray:
  """The fixed 2-D sin-cos position table, float32 ``[grid_h * grid_w, width]`` (row-major
  tokens): the first width / 2 features are the 1-D table of the row, the rest of the column;
  1-D: ``[sin(pos w_i), cos(pos w_i)]`` with ``w_i = 10000^(-i / (d / 2))``, d = width / 2."""

  def one_d(pos, d):
    w = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2))
    a = pos.reshape(-1)[:, None] * w[None]
    return np.concatenate([np.sin(a), np.cos(a)], axis=1)

  rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing='ij')
  half = width // 2
  return np.concatenate([one_d(rows, half), one_d(cols, half)], axis=1).astype(np.float32)


def grid_positions(grid_h: int, grid_w: int) -> np.ndarray:
  """``[grid_h * grid_w, 2]`` (row, column) of the tokens in row-major order."""
  rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing='ij')
  return np.stack([rows.reshape(-1), cols.reshape(-1)], axis=1).astype(np.float32)


def rope(x: jax.Array, positions) -> jax.Array:
  """2-D rotary embedding of ``x`` ``[b, L, heads, d]`` (d divisible by 4) at ``positions``
  ``[L, 2]`` (row, column): the first d / 2 dimensions are rotated by the row, the rest by the
  column; within each half, dimension i and i + d / 4 form a plane rotated by ``pos * f_i``,
  ``f_i = ROPE_BASE^(-i / (d / 4))``. Rotations compose, so ``<rope(q, p), rope(k, p')>``
  depends on p - p' only."""
  d = x.shape[-1]
  quarter = d // 4
  freqs = ROPE_BASE ** (-np.arange(quarter) / quarter)
  out = []
  for axis, part in enumerate((x[..., :d // 2], x[..., d // 2:])):
    angle = jnp.asarray(positions, jnp.float32)[:, axis, None] * jnp.asarray(freqs, jnp.float32)
    cos, sin = jnp.cos(angle)[:, None, :], jnp.sin(angle)[:, None, :]   # [L, 1, d / 4]
    a, b = part[..., :quarter].astype(jnp.float32), part[..., quarter:].astype(jnp.float32)
    out += [a * cos - b * sin, a * sin + b * cos]
  return jnp.concatenate(out, axis=-1).astype(x.dtype)


# ----------------------------------------------------------------------------- modules


def _dense(features: int, dtype, name: str, zero: bool = False) -> nn.Dense:
  init = nn.initializers.zeros if zero else nn.initializers.xavier_uniform()
  return nn.Dense(features, dtype=dtype, kernel_init=init, bias_init=nn.initializers.zeros,
                  name=name)


def _flat_xavier(key, shape, dtype=jnp.float32):
  """Xavier-uniform of a conv kernel viewed as a ``[p * p * C, width]`` matrix (DiT's patch
  embedding: fan-in p * p * C, fan-out width)."""
  flat = (int(np.prod(shape[:-1])), shape[-1])
  return nn.initializers.xavier_uniform()(key, flat, dtype).reshape(shape)


def _norm(dtype, name: str) -> nn.LayerNorm:
  """LayerNorm without scale or bias (adaLN supplies them), eps 1e-6."""
  return nn.LayerNorm(epsilon=1e-6, use_scale=False, use_bias=False, dtype=dtype, name=name)


def _modulate(x, shift, scale):
  return x * (1 + scale[:, None, :]) + shift[:, None, :]


class Attention(nn.Module):
  """Multi-head self-attention over the tokens: fused qkv projection, optional RMS-normalised
  q and k and 2-D RoPE at ``positions``, ``softmax(q k^T / sqrt(d)) v`` through
  ``jax.nn.dot_product_attention`` (``attn_impl``), output projection."""
  heads: int
  qk_norm: bool = False
  dtype: str = 'float32'
  attn_impl: Optional[str] = None

  @nn.compact
  def __call__(self, x, positions=None):
    b, n, width = x.shape
    cdt = _DTYPES[self.dtype]
    qkv = _dense(3 * width, cdt, 'qkv')(x).reshape(b, n, 3, self.heads, width // self.heads)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    if self.qk_norm:
      q = nn.RMSNorm(epsilon=1e-6, dtype=cdt, name='q_norm')(q)
      k = nn.RMSNorm(epsilon=1e-6, dtype=cdt, name='k_norm')(k)
    if positions is not None:
      q, k = rope(q, positions), rope(k, positions)
    h = jax.nn.dot_product_attention(q, k, v, implementation=self.attn_impl)
    return _dense(width, cdt, 'proj')(h.reshape(b, n, width))


class Block(nn.Module):
  """A DiT block with adaLN-zero: from ``c`` (the conditioning vector) six vectors shift, scale,
  gate for the attention and the MLP; ``x + gate * f(norm(x) * (1 + scale) + shift)`` for each.
  The modulation starts at zero, so the gates do and the block is the identity at init."""
  heads: int
  mlp_ratio: float = 4.0
  qk_norm: bool = False
  dtype: str = 'float32'
  attn_impl: Optional[str] = None

  @nn.compact
  def __call__(self, x, c, positions=None):
    width = x.shape[-1]
    cdt = _DTYPES[self.dtype]
    mod = _dense(6 * width, cdt, 'adaLN', zero=True)(nn.silu(c))
    shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = jnp.split(mod, 6, axis=-1)
    h = _modulate(_norm(cdt, 'norm1')(x), shift_a, scale_a)
    h = Attention(self.heads, self.qk_norm, self.dtype, self.attn_impl, name='attn')(h, positions)
    x = x + gate_a[:, None, :] * h
    h = _modulate(_norm(cdt, 'norm2')(x), shift_m, scale_m)
    h = _dense(int(width * self.mlp_ratio), cdt, 'mlp_in')(h)
    h = _dense(width, cdt, 'mlp_out')(nn.gelu(h, approximate=True))
    return x + gate_m[:, None, :] * h


class DiT(nn.Module):
  """The diffusion transformer; see the module docstring for the call convention."""
  depth: int = 12
  width: int = 768
  heads: int = 12
  patch: int = 2
  mlp_ratio: float = 4.0
  rope: bool = False
  qk_norm: bool = False
  embedding_type: str = 'positional'
  fourier_scale: float = 16.0
  num_classes: int = 0
  dtype: str = 'float32'
  remat: bool = False
  attn_impl: Optional[str] = None

  @nn.compact
  def __call__(self, x, t_label, train: bool = False, y=None):
    del train  # no dropout
    b, hh, ww, channels = x.shape
    p = self.patch
    if hh % p or ww % p:
      raise ValueError(f'H, W = {hh}, {ww} must be divisible by model.dit.patch={p}')
    gh, gw = hh // p, ww // p
    cdt = _DTYPES[self.dtype]
    emb_init = nn.initializers.normal(0.02)

    # --- conditioning vector c: time (and label) embedding, features in float32
    t_label = jnp.broadcast_to(jnp.asarray(t_label, jnp.float32), (b,))
    if self.embedding_type == 'fourier':
      temb = layers.fourier_embedding(jnp.log(t_label), FREQ_DIM // 2, self.fourier_scale)
    elif self.embedding_type == 'positional':
      temb = layers.positional_embedding(t_label, FREQ_DIM)
    else:
      raise ValueError(f'unknown embedding_type {self.embedding_type!r}')
    c = nn.Dense(self.width, dtype=cdt, kernel_init=emb_init, name='t_embed_0')(temb)
    c = nn.Dense(self.width, dtype=cdt, kernel_init=emb_init, name='t_embed_1')(nn.silu(c))
    if self.num_classes > 0:
      if y is None:
        raise ValueError('num_classes > 0 needs class labels y in 0..num_classes '
                         '(num_classes: the null label)')
      c = c + nn.Embed(self.num_classes + 1, self.width, dtype=cdt, embedding_init=emb_init,
                       name='label_embed')(y)

    # --- tokens: p x p patches, embedded linearly (a stride-p convolution), plus positions
    h = nn.Conv(self.width, (p, p), strides=(p, p), padding='VALID', dtype=cdt,
                kernel_init=_flat_xavier, name='patch_embed')(x.astype(cdt))
    h = h.reshape(b, gh * gw, self.width)
    positions = None
    if self.rope:
      positions = grid_positions(gh, gw)
    else:
      h = h + jnp.asarray(sincos_table(gh, gw, self.width), cdt)[None]

    block = nn.remat(Block) if self.remat else Block
    for i in range(self.depth):
      h = block(self.heads, self.mlp_ratio, self.qk_norm, self.dtype, self.attn_impl,
                name=f'block_{i}')(h, c, positions)

    # --- final adaLN layer, linear to p * p * C per token, patches back into the image
    shift, scale = jnp.split(_dense(2 * self.width, cdt, 'final_adaLN', zero=True)(nn.silu(c)),
                             2, axis=-1)
    h = _modulate(_norm(cdt, 'final_norm')(h), shift, scale)
    h = _dense(p * p * channels, cdt, 'final_linear', zero=True)(h)
    h = h.reshape(b, gh, gw, p, p, channels).transpose(0, 1, 3, 2, 4, 5)
    return h.reshape(b, hh, ww, channels).astype(jnp.float32)
