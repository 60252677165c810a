"""DDPM++ / NCSN++ score U-Net (Song et al., ICLR 2021), one configurable flax linen module.

DDPM++ and NCSN++ are the same network family ("ncsnpp" in yang-song/score_sde) with different
switches; the presets below give the paper's CIFAR-10 settings:

  ddpmpp_cifar10()     DDPM++ cont. (VP/sub-VP): positional embedding, no FIR, no progressive paths
  ddpmpp_cifar10(True) deep DDPM++ cont.: 8 res blocks per resolution
  ncsnpp_cifar10()     NCSN++ cont. (VE): Fourier embedding (scale 16), FIR [1,3,3,1], residual
                       input pyramid
  ncsnpp_cifar10(True) deep NCSN++ cont.
  small()              a tiny net for 8x8 digits / 28x28 (Fashion-)MNIST smoke runs and tests

Call convention
---------------
``net.apply({'params': p}, x, t_label, train=False, y=None, rngs={'dropout': key})``

* ``x``: ``[b, H, W, C]`` image batch in whatever scale the family trains on (the net does not
  rescale unless ``center_input`` is set, which maps [0, 1] data to [-1, 1] as score_sde does for
  uncentred VE data). H and W must be divisible by 2^(len(ch_mult) - 1).
* ``t_label``: float ``[b]`` (or a scalar, broadcast) conditioning value. With
  ``embedding_type='positional'`` it is embedded as is (the VP family passes ``t * 999``); with
  ``'fourier'`` the net embeds ``log(t_label)`` (the VE family passes sigma(t) > 0).
* ``y``: int ``[b]`` class labels when ``num_classes = K > 0``, in ``0..K``: the net keeps K + 1
  label embeddings (added to the time embedding), index K being the null label of classifier-free
  guidance (`jaxgen.models.conditioning`); the family sets ``num_classes`` from
  ``model.num_classes``.
* ``step_label``: float ``[b]``, only with ``step_input=True`` (set by the few-step families: a
  MeanFlow interval or a shortcut step size, times the time scale): its positional embedding
  through two more dense layers is added to the time embedding (off: no such params).
* Returns float32 of x's shape: the raw network output. Turning it into a score (dividing by the
  marginal std for VP, or by sigma for VE with ``scale_by_sigma``) is the *family's* job; the
  ``scale_by_sigma`` key is carried here only so the family can read it from the net config.
* ``train=True`` enables dropout and needs ``rngs={'dropout': key}``.

Mixed precision: ``dtype='bfloat16'`` computes convolutions, dense layers, norms and attention in
bf16; parameters stay float32 and the output is cast back to float32. ``remat=True`` wraps every
residual block in ``nn.remat`` (recompute activations in the backward pass; same values).
"""

from __future__ import annotations

import functools
from typing import Optional

import flax.linen as nn
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.nets import layers

_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}


def defaults() -> ml_collections.ConfigDict:
  """All hyperparameters of the U-Net with their types; values = DDPM++ cont. (VP) CIFAR-10."""
  return ml_collections.ConfigDict(dict(
      nf=128,                      # base width
      ch_mult=(1, 2, 2, 2),        # width multiplier per resolution (32, 16, 8, 4 for CIFAR-10)
      num_res_blocks=4,            # per resolution on the way down (up path has one more)
      attn_resolutions=(16,),      # spatial sizes (H) that get self-attention
      dropout=0.1,
      resblock_type='biggan',      # 'biggan' (resampling inside blocks) | 'ddpm'
      resamp_with_conv=True,       # 'ddpm' blocks: conv in the separate up/down layers
      embedding_type='positional',  # 'positional' (of t_label) | 'fourier' (of log t_label)
      fourier_scale=16.0,
      skip_rescale=True,           # divide residual sums by sqrt(2)
      fir=False,                   # FIR (StyleGAN2) resampling instead of nearest / avg-pool
      fir_kernel=(1, 3, 3, 1),
      progressive='none',          # output pyramid: 'none' | 'output_skip' | 'residual'
      progressive_input='none',    # input pyramid: 'none' | 'input_skip' | 'residual'
      progressive_combine='sum',   # 'sum' | 'cat' (input_skip combiner)
      init_scale=0.0,              # scale of the last conv of each branch (0 -> ~identity blocks)
      conditional=True,            # condition on t_label (time / noise level)
      scale_by_sigma=False,        # informational: the VE family divides the output by sigma
      center_input=False,          # map x in [0,1] to 2x-1 before the first conv
      num_classes=0,               # set from model.num_classes: K + 1 embeddings (K: null)
      dtype='float32',             # compute dtype: 'float32' | 'bfloat16'; params stay float32
      remat=False,                 # nn.remat over residual blocks
      attn_impl='',                # '' (XLA chooses) | 'xla' | 'cudnn' for dot_product_attention
      step_input=False,            # a second label (step_label), set by mean_flow / shortcut
  ))


def choices(prefix: str) -> dict:
  """The closed value sets of the string keys of `defaults()` under ``prefix`` (e.g.
  ``'model.unet'``), for config validation (a family's ``choices()`` merges them in)."""
  return {f'{prefix}.{k}': v for k, v in dict(
      resblock_type=('biggan', 'ddpm'), embedding_type=('positional', 'fourier'),
      progressive=('none', 'output_skip', 'residual'),
      progressive_input=('none', 'input_skip', 'residual'), progressive_combine=('sum', 'cat'),
      dtype=tuple(_DTYPES), attn_impl=('', 'xla', 'cudnn')).items()}


def ddpmpp_cifar10(deep: bool = False) -> ml_collections.ConfigDict:
  """DDPM++ cont. (VP / sub-VP) as in score_sde configs/vp/cifar10_ddpmpp_continuous.py."""
  cfg = defaults()
  cfg.num_res_blocks = 8 if deep else 4
  return cfg


def ncsnpp_cifar10(deep: bool = False) -> ml_collections.ConfigDict:
  """NCSN++ cont. (VE) as in score_sde configs/ve/cifar10_ncsnpp_continuous.py (deep: 8 blocks).

  The reference also sets scale_by_sigma=True (applied by the family) and keeps data in [0, 1],
  mapping it to [-1, 1] inside the net (our ``center_input``; set it iff the data is in [0, 1]).
  """
  cfg = defaults()
  cfg.num_res_blocks = 8 if deep else 4
  cfg.embedding_type = 'fourier'
  cfg.fourier_scale = 16.0
  cfg.fir = True
  cfg.progressive_input = 'residual'
  cfg.progressive = 'none'
  cfg.progressive_combine = 'sum'
  cfg.scale_by_sigma = True
  return cfg


def small() -> ml_collections.ConfigDict:
  """A small U-Net for 8x8 (digits) and 28x28 (MNIST-like) data; 1,259,393 params at 1 channel.

  Resolutions 28/14/7 (or 8/4/2); attention at 7x7 (28x28 input) or 4x4 (8x8 input).
  """
  cfg = defaults()
  cfg.nf = 32
  cfg.ch_mult = (1, 2, 2)
  cfg.num_res_blocks = 1
  cfg.attn_resolutions = (7, 4)
  return cfg


def build(cfg: ml_collections.ConfigDict) -> nn.Module:
  """The flax module for a config from `defaults()` (or a preset)."""
  return UNet(
      nf=int(cfg.nf), ch_mult=tuple(int(c) for c in cfg.ch_mult),
      num_res_blocks=int(cfg.num_res_blocks),
      attn_resolutions=tuple(int(r) for r in cfg.attn_resolutions),
      dropout=float(cfg.dropout), resblock_type=cfg.resblock_type.lower(),
      resamp_with_conv=bool(cfg.resamp_with_conv),
      embedding_type=cfg.embedding_type.lower(), fourier_scale=float(cfg.fourier_scale),
      skip_rescale=bool(cfg.skip_rescale), fir=bool(cfg.fir),
      fir_kernel=tuple(float(k) for k in cfg.fir_kernel),
      progressive=cfg.progressive.lower(), progressive_input=cfg.progressive_input.lower(),
      progressive_combine=cfg.progressive_combine.lower(), init_scale=float(cfg.init_scale),
      conditional=bool(cfg.conditional), center_input=bool(cfg.center_input),
      num_classes=int(cfg.num_classes), dtype=cfg.dtype, remat=bool(cfg.remat),
      attn_impl=cfg.attn_impl or None, step_input=bool(cfg.step_input))


class UNet(nn.Module):
  """The NCSN++ U-Net; see the module docstring for the call convention."""
  nf: int = 128
  ch_mult: tuple = (1, 2, 2, 2)
  num_res_blocks: int = 4
  attn_resolutions: tuple = (16,)
  dropout: float = 0.1
  resblock_type: str = 'biggan'
  resamp_with_conv: bool = True
  embedding_type: str = 'positional'
  fourier_scale: float = 16.0
  skip_rescale: bool = True
  fir: bool = False
  fir_kernel: tuple = (1, 3, 3, 1)
  progressive: str = 'none'
  progressive_input: str = 'none'
  progressive_combine: str = 'sum'
  init_scale: float = 0.0
  conditional: bool = True
  center_input: bool = False
  num_classes: int = 0
  dtype: str = 'float32'
  remat: bool = False
  attn_impl: Optional[str] = None
  step_input: bool = False

  @nn.compact
  def __call__(self, x, t_label, train: bool = False, y=None, step_label=None):
    assert self.progressive in ('none', 'output_skip', 'residual'), self.progressive
    assert self.progressive_input in ('none', 'input_skip', 'residual'), self.progressive_input
    assert self.resblock_type in ('biggan', 'ddpm'), self.resblock_type
    b, hh, ww, channels = x.shape
    levels = len(self.ch_mult)
    if hh % 2 ** (levels - 1) or ww % 2 ** (levels - 1):
      raise ValueError(f'H, W = {hh}, {ww} must be divisible by 2^{levels - 1} (ch_mult '
                       f'{self.ch_mult}).')
    cdt = _DTYPES[self.dtype]
    nf, act = self.nf, nn.swish
    sqrt2 = np.sqrt(2.)

    # --- time / noise-level (and class) embedding, computed in float32 then cast.
    t_label = jnp.broadcast_to(jnp.asarray(t_label, jnp.float32), (b,))
    temb = None
    if self.conditional:
      if self.embedding_type == 'fourier':
        temb = layers.fourier_embedding(jnp.log(t_label), nf, self.fourier_scale)
      elif self.embedding_type == 'positional':
        temb = layers.positional_embedding(t_label, nf)
      else:
        raise ValueError(f'unknown embedding_type {self.embedding_type!r}')
      temb = layers.dense(nf * 4, dtype=cdt, name='temb_dense_0')(temb)
      temb = layers.dense(nf * 4, dtype=cdt, name='temb_dense_1')(act(temb))
    if self.num_classes > 0:
      if y is None:
        raise ValueError('num_classes > 0 needs class labels y in 0..num_classes '
                         '(num_classes: the null label)')
      yemb = nn.Embed(self.num_classes + 1, nf * 4, dtype=cdt,
                      embedding_init=nn.initializers.normal(1.0), name='class_embed')(y)
      temb = yemb if temb is None else temb + yemb
    if self.step_input != (step_label is not None):
      raise ValueError('step_input=True needs step_label [b] (and step_label needs step_input)')
    if self.step_input:
      semb = layers.positional_embedding(jnp.broadcast_to(step_label, (b,)), nf)
      semb = layers.dense(nf * 4, dtype=cdt, name='step_dense_0')(semb)
      semb = layers.dense(nf * 4, dtype=cdt, name='step_dense_1')(act(semb))
      temb = semb if temb is None else temb + semb

    # --- block factories (explicit names keep the param tree identical with and without remat)
    res_cls = layers.ResBlockBigGAN if self.resblock_type == 'biggan' else layers.ResBlockDDPM
    if self.remat:
      res_cls = nn.remat(res_cls)
    common = dict(dropout=self.dropout, skip_rescale=self.skip_rescale,
                  init_scale=self.init_scale, deterministic=not train, dtype=cdt)
    if self.resblock_type == 'biggan':
      common.update(fir=self.fir, fir_kernel=self.fir_kernel)
    res_block = functools.partial(res_cls, **common)
    attn_block = functools.partial(layers.AttnBlock, skip_rescale=self.skip_rescale,
                                   init_scale=self.init_scale, dtype=cdt,
                                   attn_impl=self.attn_impl)
    resample = dict(fir=self.fir, fir_kernel=self.fir_kernel, dtype=cdt)

    h = x.astype(jnp.float32)
    if self.center_input:
      h = 2. * h - 1.
    h = h.astype(cdt)

    # --- downsampling path
    input_pyramid = h if self.progressive_input != 'none' else None
    hs = [layers.conv3x3(nf, dtype=cdt, name='conv_in')(h)]
    for level in range(levels):
      for block in range(self.num_res_blocks):
        h = res_block(nf * self.ch_mult[level], name=f'down_{level}_res_{block}')(hs[-1], temb)
        if h.shape[1] in self.attn_resolutions:
          h = attn_block(name=f'down_{level}_attn_{block}')(h)
        hs.append(h)
      if level != levels - 1:
        if self.resblock_type == 'ddpm':
          h = layers.Downsample(with_conv=self.resamp_with_conv, name=f'down_{level}_resample',
                                **resample)(hs[-1])
        else:
          h = res_block(down=True, name=f'down_{level}_resample')(hs[-1], temb)
        if self.progressive_input == 'input_skip':
          input_pyramid = layers.Downsample(with_conv=False, name=f'down_{level}_pyramid',
                                            **resample)(input_pyramid)
          h = layers.Combine(self.progressive_combine, dtype=cdt,
                             name=f'down_{level}_combine')(input_pyramid, h)
        elif self.progressive_input == 'residual':
          input_pyramid = layers.Downsample(h.shape[-1], with_conv=True,
                                            name=f'down_{level}_pyramid',
                                            **resample)(input_pyramid)
          input_pyramid = input_pyramid + h
          if self.skip_rescale:
            input_pyramid = input_pyramid / sqrt2
          h = input_pyramid
        hs.append(h)

    # --- middle
    h = hs[-1]
    h = res_block(name='mid_res_0')(h, temb)
    h = attn_block(name='mid_attn')(h)
    h = res_block(name='mid_res_1')(h, temb)

    # --- upsampling path
    pyramid = None
    for level in reversed(range(levels)):
      for block in range(self.num_res_blocks + 1):
        h = jnp.concatenate([h, hs.pop()], axis=-1)
        h = res_block(nf * self.ch_mult[level], name=f'up_{level}_res_{block}')(h, temb)
      if h.shape[1] in self.attn_resolutions:
        h = attn_block(name=f'up_{level}_attn')(h)
      if self.progressive != 'none':
        if level == levels - 1:
          pyramid = act(layers.group_norm(h.shape[-1], cdt, name=f'up_{level}_pyr_norm')(h))
          if self.progressive == 'output_skip':
            pyramid = layers.conv3x3(channels, self.init_scale, dtype=cdt,
                                     name=f'up_{level}_pyr_conv')(pyramid)
          else:
            pyramid = layers.conv3x3(h.shape[-1], dtype=cdt, name=f'up_{level}_pyr_conv')(pyramid)
        elif self.progressive == 'output_skip':
          pyramid = layers.Upsample(with_conv=False, name=f'up_{level}_pyr_up',
                                    **resample)(pyramid)
          ph = act(layers.group_norm(h.shape[-1], cdt, name=f'up_{level}_pyr_norm')(h))
          pyramid = pyramid + layers.conv3x3(channels, self.init_scale, dtype=cdt,
                                             name=f'up_{level}_pyr_conv')(ph)
        else:  # residual
          pyramid = layers.Upsample(h.shape[-1], with_conv=True, name=f'up_{level}_pyr_up',
                                    **resample)(pyramid)
          pyramid = pyramid + h
          if self.skip_rescale:
            pyramid = pyramid / sqrt2
          h = pyramid
      if level != 0:
        if self.resblock_type == 'ddpm':
          h = layers.Upsample(with_conv=self.resamp_with_conv, name=f'up_{level}_resample',
                              **resample)(h)
        else:
          h = res_block(up=True, name=f'up_{level}_resample')(h, temb)
    assert not hs

    if self.progressive == 'output_skip':
      h = pyramid
    else:
      h = act(layers.group_norm(h.shape[-1], cdt, name='norm_out')(h))
      h = layers.conv3x3(channels, self.init_scale, dtype=cdt, name='conv_out')(h)
    return h.astype(jnp.float32)
