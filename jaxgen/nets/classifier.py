"""A small time-conditioned classifier p_t(y | x(t)): the network of the 'classifier' family.

Call convention (that of `jaxgen.nets.unet`, with logits out):
``net.apply({'params': p}, x, t_label, train=False, rngs={'dropout': key}) -> [b, num_classes]``

* ``x``: ``[b, H, W, C]`` images (a Wide-ResNet-style conv net: a 3x3 conv, then per resolution
  ``num_res_blocks`` DDPM residual blocks of width ``nf * ch_mult[i]`` with the time embedding
  added in each, 2x2 average pooling between resolutions, GroupNorm + swish, global mean pool,
  Dense) or ``[b, d]`` vectors (a residual MLP of width ``nf * ch_mult[-1]``, ``num_res_blocks *
  len(ch_mult)`` blocks). Any size works (pooling is 'SAME').
* ``t_label``: float ``[b]`` (or scalar): the noise level's label in the score-SDE family's
  convention (the family passes ``t * 999`` for VP / sub-VP, ``sigma(t)`` for VE); embedded as is
  with ``embedding_type='positional'`` or as ``log(t_label)`` with ``'fourier'``. With
  ``time_conditional=False`` (a clean-data classifier) it is ignored and no embedding exists.
* Returns float32 logits ``[b, num_classes]`` (the last layer starts at ``init_scale``); with
  ``features=True`` the pair ``(logits, features)``, ``features`` float32 ``[b, nf * ch_mult[-1]]``
  the penultimate layer (after the last norm + swish and, for images, the global mean pool: the
  input of the logits Dense). The parameters are the same either way.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgen.nets import layers


def defaults() -> ml_collections.ConfigDict:
  """All hyperparameters of the classifier with their types (num_classes comes from the data)."""
  return ml_collections.ConfigDict(dict(
      nf=32,                        # base width
      ch_mult=(1, 2, 2),            # width multipliers per resolution (pooling between them)
      num_res_blocks=1,             # residual blocks per resolution
      embed_dim=64,                 # size of the sinusoidal / Fourier time features
      embedding_type='positional',  # 'positional' (of t_label) | 'fourier' (of log t_label)
      fourier_scale=16.0,
      dropout=0.0,
      init_scale=1.0,               # scale of the logits layer init
  ))


def choices(prefix: str) -> dict:
  return {f'{prefix}.embedding_type': ('positional', 'fourier')}


def build(cfg: ml_collections.ConfigDict, num_classes: int, time_conditional: bool) -> nn.Module:
  return Classifier(num_classes=int(num_classes), nf=int(cfg.nf),
                    ch_mult=tuple(int(m) for m in cfg.ch_mult),
                    num_res_blocks=int(cfg.num_res_blocks), embed_dim=int(cfg.embed_dim),
                    embedding_type=cfg.embedding_type, fourier_scale=float(cfg.fourier_scale),
                    dropout=float(cfg.dropout), init_scale=float(cfg.init_scale),
                    time_conditional=bool(time_conditional))


class Classifier(nn.Module):
  """Noise-conditional classifier; see the module docstring."""
  num_classes: int
  nf: int = 32
  ch_mult: tuple = (1, 2, 2)
  num_res_blocks: int = 1
  embed_dim: int = 64
  embedding_type: str = 'positional'
  fourier_scale: float = 16.0
  dropout: float = 0.0
  init_scale: float = 1.0
  time_conditional: bool = True

  def _temb(self, t_label, b):
    if not self.time_conditional:
      return None
    t_label = jnp.broadcast_to(jnp.asarray(t_label, jnp.float32), (b,))
    if self.embedding_type == 'fourier':
      emb = layers.fourier_embedding(jnp.log(t_label), self.embed_dim // 2, self.fourier_scale)
    else:
      emb = layers.positional_embedding(t_label, self.embed_dim)
    width = 4 * self.nf
    temb = layers.dense(width, name='temb_dense_0')(emb)
    return layers.dense(width, name='temb_dense_1')(nn.swish(temb))

  @nn.compact
  def __call__(self, x, t_label, train: bool = False, features: bool = False):
    b = x.shape[0]
    temb = self._temb(t_label, b)
    if x.ndim == 2:
      width = self.nf * self.ch_mult[-1]
      h = layers.dense(width, name='dense_in')(x)
      for i in range(self.num_res_blocks * len(self.ch_mult)):
        z = nn.LayerNorm(name=f'norm_{i}')(h)
        if temb is not None:
          z = z + layers.dense(width, name=f'temb_proj_{i}')(nn.swish(temb))
        z = nn.Dropout(self.dropout)(nn.swish(z), deterministic=not train)
        h = h + layers.dense(width, name=f'dense_{i}')(z)
      h = nn.swish(nn.LayerNorm(name='norm_out')(h))
    else:
      h = layers.conv3x3(self.nf, name='conv_in')(x)
      for i, mult in enumerate(self.ch_mult):
        for j in range(self.num_res_blocks):
          h = layers.ResBlockDDPM(self.nf * mult, dropout=self.dropout, deterministic=not train,
                                  name=f'res_{i}_{j}')(h, temb)
        if i != len(self.ch_mult) - 1:
          h = nn.avg_pool(h, (2, 2), strides=(2, 2), padding='SAME')
      h = nn.swish(layers.group_norm(h.shape[-1], name='norm_out')(h))
      h = jnp.mean(h, axis=(1, 2))
    logits = layers.dense(self.num_classes, self.init_scale, name='logits')(h).astype(jnp.float32)
    return (logits, h.astype(jnp.float32)) if features else logits
