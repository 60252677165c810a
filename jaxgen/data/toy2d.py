"""Generated 2-D toy densities and their source ``toy2d:<name>`` (continuous, infinite).

Each density is sampled as a pure function of a numpy Generator. All are centred near the origin
with values roughly in [-4, 4]. `gmm` is a Gaussian mixture (``GMM_WEIGHTS``, ``GMM_MEANS``,
``GMM_COVS``), whose density is known in closed form. The source draws a fresh global training
batch from ``(seed, step)`` and evaluates on one fixed sample of ``data.eval_size`` points from
``seed``.
"""

from __future__ import annotations

import numpy as np

from jaxgen.data import source

RANGE = (-4.5, 4.5)


def _moons(rng, n):
  k = rng.integers(0, 2, n)
  a = rng.uniform(0, np.pi, n)
  x = np.where(k == 0, np.cos(a), 1 - np.cos(a))
  y = np.where(k == 0, np.sin(a), 0.5 - np.sin(a))
  pts = np.stack([x - 0.5, y - 0.25], -1) * 2.0
  return pts + 0.1 * rng.standard_normal((n, 2))


def _eight_gaussians(rng, n):
  angles = 2 * np.pi * rng.integers(0, 8, n) / 8
  centres = 2.8 * np.stack([np.cos(angles), np.sin(angles)], -1)
  return centres + 0.2 * rng.standard_normal((n, 2))


def _checkerboard(rng, n):
  # Unit squares of a 4x4 board on [-2, 2]^2 where floor(x) + floor(y) is even, scaled by 2.
  x = rng.uniform(-2, 2, n)
  row = rng.integers(0, 2, n) * 2 - 2 + rng.uniform(0, 1, n)   # in [-2,-1) or [0,1)
  y = row + (np.floor(x) % 2)                                   # shift odd columns up by one
  return np.stack([x, y], -1) * 2.0


def _swissroll(rng, n):
  t = 1.5 * np.pi * (1 + 2 * rng.uniform(0, 1, n))
  pts = np.stack([t * np.cos(t), t * np.sin(t)], -1) / 3.5
  return pts + 0.08 * rng.standard_normal((n, 2))


# The closed-form mixture: weights, means, and full covariances.
GMM_WEIGHTS = np.array([0.5, 0.3, 0.2])
GMM_MEANS = np.array([[-2.0, -1.0], [2.0, 1.5], [0.5, -2.5]])
GMM_COVS = np.array([
    [[0.6, 0.3], [0.3, 0.5]],
    [[0.4, -0.2], [-0.2, 0.8]],
    [[0.3, 0.0], [0.0, 0.3]],
])


def _gmm(rng, n):
  k = rng.choice(len(GMM_WEIGHTS), size=n, p=GMM_WEIGHTS)
  chol = np.linalg.cholesky(GMM_COVS)
  z = rng.standard_normal((n, 2))
  return GMM_MEANS[k] + np.einsum('nij,nj->ni', chol[k], z)


SAMPLERS = {
    'moons': _moons,
    '8gaussians': _eight_gaussians,
    'checkerboard': _checkerboard,
    'swissroll': _swissroll,
    'gmm': _gmm,
}


def sample(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
  """Draws n points of the named density as float32 [n, 2]."""
  if name not in SAMPLERS:
    raise ValueError(f'toy2d:{name} does not exist; available: '
                     + ', '.join(f'toy2d:{k}' for k in SAMPLERS))
  return SAMPLERS[name](rng, n).astype(np.float32)


PREFIX = 'toy2d:'


class Toy2D(source.Source):
  """The ``toy2d:<name>`` source: batches ``{'x': float32 [b, 2]}``, no transforms."""

  def __init__(self, cfg, seed: int):
    super().__init__(cfg, seed)
    self._name = cfg.name[len(PREFIX):]
    if self._name not in SAMPLERS:
      raise ValueError(f'config.data.name={cfg.name!r}: no such toy density; available: '
                       + ', '.join(PREFIX + k for k in SAMPLERS))
    if cfg.scale != 'none' or cfg.dequantize or cfg.binarize != 'none' or cfg.flip:
      raise ValueError(f"{cfg.name} is continuous 2-D data: set data.scale='none' and leave "
                       'dequantize, binarize and flip off')
    self.spec = source.DataSpec(cfg.name, (2,), RANGE[0], RANGE[1], None, None, 'none')
    self._eval_x = sample(self._name, source.rng(self.seed, 7, 0), cfg.eval_size)

  @property
  def eval_size(self) -> int:
    return len(self._eval_x)

  def _global_train_batch(self, step, batch_size):
    return {'x': sample(self._name, source.rng(self.seed, 2, step), batch_size)}

  def _global_eval_batch(self, idx, batch, draw):
    return {'x': self._eval_x[idx]}

  def _eval_examples(self, n):
    return self._eval_x[:n]


source.register(PREFIX, Toy2D, PREFIX + '<' + '|'.join(SAMPLERS) + '>')
