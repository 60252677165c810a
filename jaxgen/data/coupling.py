"""Data-to-data coupling: batches whose ``x0`` comes from a second data source (transfer flows).

Design. ``config.data`` describes the target x1 = ``batch['x']`` as always; its sub-section
``config.data.x0`` is a whole data section of its own (name, dir, splits, scale, dequantize,
binarize, flip, max_examples, stand_in, ...; its defaults are the data section's, with ``name=''``
meaning "no coupling": x0 ~ N(0, I) is drawn by the model). With ``data.x0.name`` set, `build`
returns a `CouplingSource` that pairs the two sources independently (the product of the marginals,
as 1-RF pairs noise with data):

* training batch s = ``{'x': x1 source's batch s, 'x0': x0 source's batch s, 'label': x1's}``,
  each a pure function of its source's seed and s; the x0 source gets its own seed, derived from
  the run's as ``rng(seed, 11).integers(2**31 - 1)`` (`jaxgen.data.source.rng`), so that two
  sources of the same set (e.g. fashion_mnist -> fashion_mnist with other transforms) walk
  different permutations and draw different noise. The whole batch is therefore a pure function
  of (seed, step), and each host keeps its contiguous share as for any source;
* evaluation batch i of the x1 source's evaluation split carries ``x0`` = the x0 source's
  evaluation examples ``idx mod eval_size_x0`` (same batch number and dequantization draw), so
  ``eval/loss`` is the transfer loss; ``eval_array`` (sample-based metrics' reference) is x1's;
* ``spec`` is x1's (the model's data), ``x0_spec`` the x0 source's; both must have one shape.

``data.x0.coupling`` (not a data key: 'independent' | 'ot' | 'ot_label') pairs x0 with x1 by
minibatch optimal transport over the global batch instead (`jaxgen.data.ot_coupling`).

Rectified flow's existing ``x0`` path (`jaxgen.ode.flow.loss`) then trains the
transfer flow. Sampling a transfer flow needs x0 from the x0 source: the family's
``extras['transfer'](params, x0, sampling)`` integrates the ODE from given x0 (e.g.
``source.x0_examples(n)``); ``model.sample`` still starts from N(0, I), which means nothing for a
transfer flow (see `jaxgen.models.rectified_flow`).
"""

from __future__ import annotations

from typing import Optional

import ml_collections
import numpy as np

from jaxgen.data import ot_coupling, source

SEED_STREAM = 11
# data keys the x0 section does not take (it is one level deep).
NOT_IN_X0 = ('x0', 'validation')


def x0_defaults(data: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The ``data.x0`` section: the keys of the data section `data` with its defaults,
  ``name=''`` (no x0 source) and ``coupling='independent'``."""
  d = {k: v for k, v in data.to_dict().items() if k not in NOT_IN_X0}
  d['name'] = ''
  d['coupling'] = 'independent'   # | 'ot' | 'ot_label' (`jaxgen.data.ot_coupling`)
  return ml_collections.ConfigDict(d)


def x0_seed(seed: int) -> int:
  """The x0 source's seed, derived from the run's (stream ``(seed, 11)``)."""
  return int(source.rng(seed, SEED_STREAM).integers(2**31 - 1))


def enabled(cfg) -> bool:
  x0 = cfg.get('x0')
  return bool(x0 is not None and x0.get('name'))


class CouplingSource(source.Source):
  """``{'x': x1, 'x0': x0}`` batches from two sources (see the module docstring)."""

  def __init__(self, cfg, seed: int):
    super().__init__(cfg, seed)
    if cfg.name.startswith('pairs:'):
      raise ValueError(f'config.data.x0.name={cfg.x0.name!r} cannot be combined with '
                       f'data.name={cfg.name!r}: a pairs file already holds its x0; leave '
                       "data.x0.name=''")
    x1_cfg = ml_collections.ConfigDict({k: v for k, v in cfg.to_dict().items() if k != 'x0'})
    self._x1 = source.build(x1_cfg, seed)
    self._x0 = source.build(cfg.x0, x0_seed(seed))
    s1, s0 = self._x1.spec, self._x0.spec
    if tuple(s1.shape) != tuple(s0.shape):
      raise ValueError(f'config.data.x0.name={cfg.x0.name!r} has examples of shape '
                       f'{tuple(s0.shape)} but data.name={cfg.name!r} has {tuple(s1.shape)}: a '
                       'coupling needs one shape (choose sources of the same shape)')
    self.spec = s1
    self.x0_spec = s0

  @property
  def train_size(self) -> Optional[int]:
    return self._x1.train_size

  @property
  def eval_size(self) -> int:
    return self._x1.eval_size

  @property
  def fingerprint(self) -> Optional[dict]:
    f1, f0 = self._x1.fingerprint, self._x0.fingerprint
    return None if f1 is None and f0 is None else {'x': f1, 'x0': f0}

  def eval_source(self) -> dict:
    """The x1 source's (the data a derived run is scored on)."""
    return self._x1.eval_source()

  def _global_train_batch(self, step, batch_size):
    batch = dict(self._x1._global_train_batch(step, batch_size))
    batch['x0'] = self._x0._global_train_batch(step, batch_size)['x']
    return batch

  def _global_eval_batch(self, idx, batch, draw):
    out = dict(self._x1._global_eval_batch(idx, batch, draw))
    out['x0'] = self._x0._global_eval_batch(np.asarray(idx) % self._x0.eval_size, batch,
                                            draw)['x']
    return out

  def _eval_examples(self, n):
    return self._x1._eval_examples(n)

  def x0_examples(self, n: int) -> np.ndarray:
    """The first n evaluation examples of the x0 source (n <= its eval_size): the starting
    points of a transfer flow's samples."""
    return self._x0.eval_array(n)


def build(cfg, seed: int) -> source.Source:
  """`jaxgen.data.source.build`, or a `CouplingSource` when ``cfg.x0.name`` is set; either
  re-paired by ``cfg.x0.coupling`` (`jaxgen.data.ot_coupling.wrap`)."""
  return ot_coupling.wrap(
      cfg, seed, lambda: CouplingSource(cfg, seed) if enabled(cfg) else source.build(cfg, seed))

