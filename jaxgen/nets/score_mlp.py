"""A small time-conditioned residual MLP for score / velocity models on low-dimensional data.

Call convention (same as `jaxgen.nets.unet`):
``net.apply({'params': p}, x, t_label, train=False, y=None, rngs={'dropout': key})``

* ``x``: ``[b, d]`` (e.g. 2-D toy data); returns float32 ``[b, d]`` (the raw output: scaling it
  into a score, e.g. dividing by the marginal std or by sigma, is the family's job).
* ``t_label``: float ``[b]`` (or scalar): embedded as is with ``embedding_type='positional'``
  (pass e.g. ``t * 999``), or as ``log(t_label)`` with ``'fourier'`` (pass sigma > 0).
* ``y``: int ``[b]`` class labels in ``0..K`` when ``num_classes = K > 0``: K + 1 label embeddings,
  index K the null label of classifier-free guidance (`jaxgen.models.conditioning`); the family
  sets ``num_classes`` from ``model.num_classes``.
* ``step_label``: float ``[b]``, only with ``step_input=True`` (set by the few-step families: a
  MeanFlow interval or a shortcut step size, times the time scale): embedded positionally through
  its own two dense layers and added to the time embedding (off: no such params).

Architecture: temb = swish(Dense(width) . swish . Dense(width) of the time embedding); h = Dense(x);
then ``num_layers`` pre-activation residual blocks h += Dense(dropout(swish(LN(h) + Dense(temb))));
the output layer is LayerNorm, swish, Dense(d) initialised at ``init_scale`` (0 -> output ~ 0).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgen.nets import layers

_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}


def defaults() -> ml_collections.ConfigDict:
  """All hyperparameters of the score MLP with their types."""
  return ml_collections.ConfigDict(dict(
      width=256,                   # hidden width
      num_layers=3,                # residual blocks
      embed_dim=64,                # size of the sinusoidal / Fourier time features
      embedding_type='positional',  # 'positional' (of t_label) | 'fourier' (of log t_label)
      fourier_scale=16.0,
      dropout=0.0,
      init_scale=1.0,              # scale of the output layer init (0 -> zero output at init)
      num_classes=0,               # set from model.num_classes: K + 1 embeddings (K: null)
      dtype='float32',             # compute dtype; params and output stay float32
      remat=False,
      step_input=False,            # a second label (step_label), set by mean_flow / shortcut
  ))


def choices(prefix: str) -> dict:
  """The closed value sets of the string keys of `defaults()` under ``prefix`` (e.g.
  ``'model.score_mlp'``), for config validation."""
  return {f'{prefix}.embedding_type': ('positional', 'fourier'), f'{prefix}.dtype': tuple(_DTYPES)}


def build(cfg: ml_collections.ConfigDict) -> nn.Module:
  return ScoreMLP(width=int(cfg.width), num_layers=int(cfg.num_layers),
                  embed_dim=int(cfg.embed_dim), embedding_type=cfg.embedding_type.lower(),
                  fourier_scale=float(cfg.fourier_scale), dropout=float(cfg.dropout),
                  init_scale=float(cfg.init_scale), num_classes=int(cfg.num_classes),
                  dtype=cfg.dtype, remat=bool(cfg.remat),
                  step_input=bool(cfg.step_input))


class _Block(nn.Module):
  width: int
  dropout: float = 0.0
  deterministic: bool = True
  dtype: object = jnp.float32

  @nn.compact
  def __call__(self, h, temb):
    z = nn.LayerNorm(dtype=self.dtype, name='norm')(h)
    z = z + layers.dense(self.width, dtype=self.dtype, name='temb_proj')(temb)
    z = nn.Dropout(self.dropout)(nn.swish(z), deterministic=self.deterministic)
    return h + layers.dense(self.width, dtype=self.dtype, name='dense')(z)


class ScoreMLP(nn.Module):
  """Residual MLP score network; see the module docstring."""
  width: int = 256
  num_layers: int = 3
  embed_dim: int = 64
  embedding_type: str = 'positional'
  fourier_scale: float = 16.0
  dropout: float = 0.0
  init_scale: float = 1.0
  num_classes: int = 0
  dtype: str = 'float32'
  remat: bool = False
  step_input: bool = False

  @nn.compact
  def __call__(self, x, t_label, train: bool = False, y=None, step_label=None):
    b, d = x.shape
    cdt = _DTYPES[self.dtype]
    t_label = jnp.broadcast_to(jnp.asarray(t_label, jnp.float32), (b,))
    if self.embedding_type == 'fourier':
      emb = layers.fourier_embedding(jnp.log(t_label), self.embed_dim // 2, self.fourier_scale)
    elif self.embedding_type == 'positional':
      emb = layers.positional_embedding(t_label, self.embed_dim)
    else:
      raise ValueError(f'unknown embedding_type {self.embedding_type!r}')
    temb = layers.dense(self.width, dtype=cdt, name='temb_dense_0')(emb)
    temb = layers.dense(self.width, dtype=cdt, name='temb_dense_1')(nn.swish(temb))
    if self.step_input != (step_label is not None):
      raise ValueError('step_input=True needs step_label [b] (and step_label needs step_input)')
    if self.step_input:
      semb = layers.positional_embedding(jnp.broadcast_to(step_label, (b,)), self.embed_dim)
      semb = layers.dense(self.width, dtype=cdt, name='step_dense_0')(semb)
      temb = temb + layers.dense(self.width, dtype=cdt, name='step_dense_1')(nn.swish(semb))
    if self.num_classes > 0:
      if y is None:
        raise ValueError('num_classes > 0 needs class labels y in 0..num_classes '
                         '(num_classes: the null label)')
      temb = temb + nn.Embed(self.num_classes + 1, self.width, dtype=cdt,
                             embedding_init=nn.initializers.normal(1.0), name='class_embed')(y)
    temb = nn.swish(temb)
    h = layers.dense(self.width, dtype=cdt, name='dense_in')(x.astype(cdt))
    block_cls = nn.remat(_Block) if self.remat else _Block
    for i in range(self.num_layers):
      h = block_cls(self.width, self.dropout, not train, cdt, name=f'block_{i}')(h, temb)
    h = nn.swish(nn.LayerNorm(dtype=cdt, name='norm_out')(h))
    out = layers.dense(d, self.init_scale, dtype=cdt, name='dense_out')(h)
    return out.astype(jnp.float32)
