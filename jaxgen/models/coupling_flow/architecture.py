"""The multi-scale architectures of RealNVP and Glow as a list of layers, and the flow they make.

`plan` lists the operations; `MultiScaleFlow` builds the layers of `jaxgen.nets.flow_layers` and
`jaxgen.nets.flow_coupling` from it and maps an image x ``[b, h, w, c]`` to a flat latent eps
``[b, D]`` (the factored-out parts in order, then the last level's output), every coordinate
standard normal under the model:

    log p(x) = sum_d log N(eps_d; 0, 1) + log|det d eps / dx|.

Glow (Kingma & Dhariwal 2018, fig. 2), per level: squeeze, then ``steps`` x (ActNorm, channel
mixing, coupling on the channel halves); every level but the last ends with the learned
`SplitPrior` and factors out half of the channels.
RealNVP (Dinh et al. 2017, sec. 3.6), per level but the last: ``steps`` checkerboard couplings
(alternating parity), squeeze, ``steps`` channel couplings (alternating), factor out half of the
channels (standard normal prior); the last level: ``steps + 1`` checkerboard couplings (the
paper's 3 and 4). ActNorm before each coupling if ``actnorm``; the channel mixing
(``permutation``) is Glow's only.
The first layer maps the data to R: `Logit` with ``logit_alpha`` > 0 (RealNVP's), else x minus
the middle of the data range (Glow's x - 0.5; log-det 0).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nets import flow_coupling, flow_layers

FLOWS = ('realnvp', 'glow')


def squeezes(flow: str, levels: int) -> int:
  """How many times the architecture halves the image sides."""
  return levels if flow == 'glow' else levels - 1


def plan(flow: str, levels: int, steps: int, permutation: str, actnorm: bool) -> tuple:
  """The operations, in the forward (data -> latent) order: tuples ``('actnorm',)``,
  ``('mix', permutation, seed)``, ``('coupling', mask, parity)``, ``('squeeze',)``,
  ``('split_prior',)`` and ``('factor',)`` (take the second half of the channels out)."""
  ops = []

  def couplings(mask, n, alternate):
    for k in range(n):
      if actnorm:
        ops.append(('actnorm',))
      if flow == 'glow':
        ops.append(('mix', permutation, len(ops)))
      ops.append(('coupling', mask, k % 2 if alternate else 0))

  for level in range(levels):
    last = level == levels - 1
    if flow == 'glow':
      ops.append(('squeeze',))
      couplings('channel', steps, alternate=False)
      if not last:
        ops += [('split_prior',), ('factor',)]
    elif flow == 'realnvp':
      if last:
        couplings('checkerboard', steps + 1, alternate=True)
      else:
        couplings('checkerboard', steps, alternate=True)
        ops.append(('squeeze',))
        couplings('channel', steps, alternate=True)
        ops.append(('factor',))
    else:
      raise ValueError(f'unknown flow {flow!r}; expected one of {FLOWS}')
  return tuple(ops)


def latent_shapes(shape: Sequence[int], ops: tuple) -> list[tuple[int, int, int]]:
  """The shapes ``[h, w, c]`` of the latent parts, in the order of the flat latent."""
  h, w, c = shape
  out = []
  for op in ops:
    if op[0] == 'squeeze':
      h, w, c = h // 2, w // 2, 4 * c
    elif op[0] == 'factor':
      out.append((h, w, c - c // 2))
      c = c // 2
  return out + [(h, w, c)]


class MultiScaleFlow(nn.Module):
  """The bijection x -> eps of `plan`'s operations (module doc); ``log_det`` in nats, [b]."""

  shape: tuple
  ops: tuple
  hidden: int = 512
  res_blocks: int = 0
  coupling: str = 'affine'
  log_scale: str = 'sigmoid'
  logit_alpha: float = 0.0
  low: float = 0.0
  high: float = 1.0

  def setup(self):
    layers = []
    for op in self.ops:
      if op[0] == 'actnorm':
        layers.append(flow_layers.ActNorm())
      elif op[0] == 'mix':
        _, kind, seed = op
        layers.append(flow_layers.InvConv1x1(lu=kind == 'invconv_lu', seed=seed)
                      if kind.startswith('invconv') else flow_layers.Permute(kind, seed))
      elif op[0] == 'coupling':
        layers.append(flow_coupling.Coupling(op[1], op[2], self.coupling, self.log_scale,
                                             self.hidden, self.res_blocks))
      elif op[0] == 'squeeze':
        layers.append(flow_layers.Squeeze())
      elif op[0] == 'split_prior':
        layers.append(flow_coupling.SplitPrior())
    self.layers = layers
    if self.logit_alpha > 0:
      self.logit = flow_layers.Logit(self.logit_alpha, self.low, self.high)

  def _to_real(self, x, inverse):
    if self.logit_alpha > 0:
      return self.logit(x, inverse)
    mid = 0.5 * (self.low + self.high)
    return (x + mid if inverse else x - mid), jnp.zeros((x.shape[0],), x.dtype)

  def __call__(self, x: jax.Array):
    """x [b, *shape] -> (eps [b, D], log|det d eps / dx| [b])."""
    z, log_det = self._to_real(x, inverse=False)
    parts, layer = [], iter(self.layers)
    for op in self.ops:
      if op[0] == 'factor':
        half = z.shape[-1] // 2
        z, out = z[..., :half], z[..., half:]
        parts.append(out.reshape(x.shape[0], -1))
      else:
        z, ld = next(layer)(z)
        log_det = log_det + ld
    parts.append(z.reshape(x.shape[0], -1))
    return jnp.concatenate(parts, axis=-1), log_det

  def inverse(self, eps: jax.Array):
    """eps [b, D] -> (x [b, *shape], log|det dx / d eps| [b]): the exact inverse."""
    shapes = latent_shapes(self.shape, self.ops)
    sizes = [h * w * c for h, w, c in shapes]
    pieces = jnp.split(eps, list(np.cumsum(sizes)[:-1]), axis=-1)
    pieces = [p.reshape((eps.shape[0],) + s) for p, s in zip(pieces, shapes)]
    z, log_det = pieces.pop(), jnp.zeros((eps.shape[0],), eps.dtype)
    layers = list(self.layers)
    for op in reversed(self.ops):
      if op[0] == 'factor':
        z = jnp.concatenate([z, pieces.pop()], axis=-1)
      else:
        z, ld = layers.pop()(z, inverse=True)
        log_det = log_det + ld
    x, ld = self._to_real(z, inverse=True)
    return x, log_det + ld
