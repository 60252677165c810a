"""Data-to-data coupling (`jaxgen.data.coupling`): x0 from a second source, batches a pure
function of (seed, step), and a transfer flow trained on it learns the exact velocity."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen import data as data_lib
from jaxgen.data import coupling, source
from jaxgen.ode import flow
from jaxgen.ode import solvers
from jaxgen.runtime import config as cfg_lib

# A test-only source: N(mean, I) in 2-D, ``gauss_test:<m0>,<m1>``.
PREFIX = 'gauss_test:'


class Gauss(source.Source):

  def __init__(self, cfg, seed):
    super().__init__(cfg, seed)
    self.mean = np.array([float(v) for v in cfg.name[len(PREFIX):].split(',')], np.float32)
    self.spec = source.DataSpec(cfg.name, (2,), -np.inf, np.inf, None, None, 'none')
    self._eval = self._draw(source.rng(seed, 4), 256)

  def _draw(self, r, n):
    return (self.mean + r.standard_normal((n, 2))).astype(np.float32)

  @property
  def eval_size(self):
    return len(self._eval)

  def _global_train_batch(self, step, batch_size):
    return {'x': self._draw(source.rng(self.seed, 2, step), batch_size)}

  def _global_eval_batch(self, idx, batch, draw):
    return {'x': self._eval[idx]}

  def _eval_examples(self, n):
    return self._eval[:n]


@pytest.fixture(autouse=True, scope='module')
def gauss_source():
  """Registers the test source for this module only (the registry is global to the process)."""
  source.register(PREFIX, Gauss)
  yield
  source.SOURCES.pop(PREFIX, None)


def _data(x1='toy2d:moons', x0='toy2d:8gaussians', **x0_keys):
  d = data_lib.defaults()
  d.name = x1
  d.x0.name = x0
  for k, v in x0_keys.items():
    d.x0[k] = v
  return d


def test_batches_pair_the_two_sources_as_a_pure_function_of_seed_and_step():
  src = data_lib.build(_data(), seed=5)
  assert isinstance(src, coupling.CouplingSource)
  one = source.build(_data(x0=''), 5)                          # the x1 source alone
  x0_alone = source.build(_data(x1='toy2d:8gaussians', x0=''), coupling.x0_seed(5))
  b = src.train_batch(7, 64)
  np.testing.assert_array_equal(b['x'], one.train_batch(7, 64)['x'])
  np.testing.assert_array_equal(b['x0'], x0_alone.train_batch(7, 64)['x'])
  again = data_lib.build(_data(), seed=5).train_batch(7, 64)   # rebuilt: the same batch
  for k in ('x', 'x0'):
    np.testing.assert_array_equal(b[k], again[k])
  assert not np.array_equal(b['x0'], src.train_batch(8, 64)['x0'])
  # Each of two hosts keeps its contiguous half of the global batch.
  halves = [src.train_batch(7, 64, process_index=i, process_count=2) for i in range(2)]
  np.testing.assert_array_equal(np.concatenate([h['x0'] for h in halves]), b['x0'])


def test_same_set_on_both_ends_walks_another_permutation_with_its_own_transforms():
  src = data_lib.build(_with_scales(), seed=0)   # digits -> digits, x0 on [0, 1) dequantized
  b = src.train_batch(0, 32)
  assert b['x'].min() >= -1 and b['x'].min() < 0                # x1: symmetric, not dequantized
  assert b['x0'].min() >= 0 and b['x0'].max() < 1               # x0: unit, dequantized
  levels = np.round((b['x'] + 1) / 2 * 16)
  x0_levels = np.floor(b['x0'] * 17)
  assert not np.array_equal(levels, x0_levels)                 # other images (own seed)
  assert 'label' in b and src.spec.low == -1 and src.x0_spec.low == 0
  ev = next(src.eval_batches(100))
  assert ev['x0'].shape == ev['x'].shape == (100, 8, 8, 1) and ev['mask'].all()
  np.testing.assert_array_equal(src.eval_array(5), source.build(_x1_only(), 0).eval_array(5))
  assert src.x0_examples(3).shape == (3, 8, 8, 1)


def _with_scales():
  d = _data('digits', 'digits', scale='unit', dequantize=True)
  d.scale = 'symmetric'
  return d


def _x1_only():
  d = _with_scales()
  d.x0.name = ''
  return d


def test_mistakes_are_one_line_errors():
  d = _data('digits', 'toy2d:moons', scale='none')
  d.scale = 'symmetric'
  with pytest.raises(ValueError, match=r"data.x0.name='toy2d:moons' has examples of shape \(2,\)"):
    data_lib.build(d, 0)
  c = cfg_lib.base('rectified_flow')
  c.data.x0.name = 'toy2d:8gaussians'
  c.eval.metrics = ('loss', 'sliced_wasserstein')
  with pytest.raises(cfg_lib.ConfigError, match=r"eval.metrics \('sliced_wasserstein',\) start "):
    cfg_lib.validate(c)
  c.eval.metrics = ('loss',)
  c.data.x0.scale = 'half'
  with pytest.raises(cfg_lib.ConfigError, match=r"config.data.x0.scale='half' is not allowed"):
    cfg_lib.validate(c)
  c.data.x0.scale = 'none'
  assert cfg_lib.validate(c).data.x0.name == 'toy2d:8gaussians'


def _chebyshev(t, k):
  """[b, k] Chebyshev features T_0..T_{k-1} of 2t - 1."""
  s = 2 * t - 1
  feats = [jnp.ones_like(s), s]
  for _ in range(k - 2):
    feats.append(2 * s * feats[-1] - feats[-2])
  return jnp.stack(feats[:k], -1)


def test_transfer_flow_learns_the_exact_velocity_of_gaussian_to_shifted_gaussian():
  """x0 ~ N(a, I) and x1 ~ N(b, I) from two sources, independently coupled. The exact velocity
  E[x1 - x0 | x_t = x] = (b - a) + (2t - 1) / (t^2 + (1 - t)^2) (x - (t b + (1 - t) a)) has the
  flow x_t = m_t + sigma_t (x0 - a), sigma_t = sqrt(t^2 + (1 - t)^2): its action is the
  translation x0 -> x0 + (b - a). A model affine in x with Chebyshev coefficients in t, trained
  by `jaxgen.ode.flow.loss` on the coupling's batches, reproduces both."""
  a, b = np.array([1.0, -1.0]), np.array([3.0, 0.5])
  src = data_lib.build(_data(f'{PREFIX}{b[0]},{b[1]}', f'{PREFIX}{a[0]},{a[1]}'), seed=0)
  k = 8
  lc = flow.TimeSampling(eps=1e-3)

  def v(params, t, x):
    f = _chebyshev(t, k)                                  # [b, k]
    return f @ params['c'] + (f @ params['s'])[:, None] * x

  params = {'c': jnp.zeros((k, 2)), 's': jnp.zeros((k,))}
  tx = optax.adam(optax.cosine_decay_schedule(0.05, 400))
  opt = tx.init(params)

  @jax.jit
  def step(params, opt, x, x0, key):
    g = jax.grad(lambda p: jnp.mean(flow.loss(lambda t, xt: v(p, t, xt), x, key, lc, x0)))(
        params)
    upd, opt = tx.update(g, opt)
    return optax.apply_updates(params, upd), opt

  for s in range(400):
    batch = src.train_batch(s, 512)
    params, opt = step(params, opt, batch['x'], batch['x0'], jax.random.key(s))
  t = jnp.linspace(0.02, 0.98, 25)
  coef = (2 * t - 1) / (t**2 + (1 - t)**2)
  learned_slope = _chebyshev(t, k) @ params['s']
  np.testing.assert_allclose(learned_slope, coef, atol=0.06)
  x0 = jnp.asarray(src.x0_examples(256))
  x1, _ = flow.transfer(lambda tt, x: v(params, jnp.broadcast_to(tt, x.shape[:1]), x), x0,
                        solvers.SolverSpec(solver='dopri5'))
  err = np.abs(np.asarray(x1 - x0) - (b - a))
  assert err.mean() < 0.05 and err.max() < 0.2, (err.mean(), err.max())
