"""Minibatch OT coupling over the global batch (`jaxgen.data.ot_coupling`): pure in (seed, step),
each x0 paired with the data point the assignment chose, per class with 'ot_label', the same
batches on 1 and 8 devices and on 2 processes x 2 devices, refusals naming data.x0.coupling, and
a straighter toy flow than the independent coupling's."""

import hashlib
import itertools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen import data as data_lib
from jaxgen.data import assignment, ot_coupling, source
from jaxgen.nets import score_mlp
from jaxgen.ode import flow, solvers
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from tests import processes
from tests.conftest import tiny_config
from tests.refusal import SHORT, refused

# A test-only source of 8 fixed 2-D points far apart, ``ot_points:<k>``: every batch is the
# points rolled by k rows, plus k * 1e-3 (so 'ot_points:0' and 'ot_points:3' differ slightly).
PREFIX = 'ot_points:'
POINTS = (10.0 * np.random.default_rng(0).normal(size=(8, 2))).astype(np.float32)


class Points(source.Source):

  def __init__(self, cfg, seed):
    super().__init__(cfg, seed)
    k = int(cfg.name[len(PREFIX):])
    self._x = np.roll(POINTS, k, axis=0) + np.float32(k * 1e-3)
    self.spec = source.DataSpec(cfg.name, (2,), -np.inf, np.inf, None, None, 'none')

  @property
  def eval_size(self):
    return 8

  def _global_train_batch(self, step, batch_size):
    return {'x': np.resize(self._x, (batch_size, 2))}

  def _global_eval_batch(self, idx, batch, draw):
    return {'x': self._x[idx]}

  def _eval_examples(self, n):
    return self._x[:n]


@pytest.fixture(autouse=True, scope='module')
def points_source():
  """Registers the test source for this module only (the registry is global to the process)."""
  source.register(PREFIX, Points)
  yield
  source.SOURCES.pop(PREFIX, None)


def _data(name='toy2d:moons', coupling='ot', **keys):
  d = data_lib.defaults()
  d.name = name
  d.x0.coupling = coupling
  for k, v in keys.items():
    d[k] = v
  return d


def _noise(seed, step, shape):
  """The unpaired noise of training batch `step` (stream (seed, 12, step))."""
  return source.rng(seed, ot_coupling.TRAIN_STREAM, step).standard_normal(shape, np.float32)


def _origin(x0, noise):
  """For each row of x0, the row of `noise` it is (exact equality), or fails."""
  match = (x0[:, None] == noise[None]).reshape(len(x0), len(noise), -1).all(-1)
  assert (match.sum(1) == 1).all()
  return match.argmax(1)


def _cost(b):
  return float(((b['x'] - b['x0']) ** 2).sum())


def test_batches_are_pure_in_seed_and_step_keep_the_data_and_permute_the_noise():
  src = data_lib.build(_data(), seed=5)
  assert isinstance(src, ot_coupling.OTSource)
  b = src.train_batch(7, 64)
  plain = data_lib.build(_data(coupling='independent'), 5)
  assert not isinstance(plain, ot_coupling.OTSource)
  np.testing.assert_array_equal(b['x'], plain.train_batch(7, 64)['x'])   # the data, in order
  origin = _origin(b['x0'], _noise(5, 7, (64, 2)))
  np.testing.assert_array_equal(np.sort(origin), np.arange(64))       # a permutation of it
  assert not np.array_equal(origin, np.arange(64))
  again = data_lib.build(_data(), seed=5).train_batch(7, 64)
  for k in ('x', 'x0'):
    np.testing.assert_array_equal(b[k], again[k])
  assert not np.array_equal(b['x0'], src.train_batch(8, 64)['x0'])
  # The pairing is solved on the global batch; hosts keep contiguous shares of it.
  for hosts in (2, 4):
    shares = [src.train_batch(7, 64, process_index=i, process_count=hosts) for i in range(hosts)]
    for k in ('x', 'x0'):
      np.testing.assert_array_equal(np.concatenate([s[k] for s in shares]), b[k])
  unpaired = {'x': b['x'], 'x0': _noise(5, 7, (64, 2))}
  assert _cost(b) < 0.5 * _cost(unpaired)


def test_each_noise_is_paired_with_the_data_point_the_cost_chose_at_the_brute_force_minimum():
  """Batch of 8: the rows' total cost is the minimum over all permutations of the drawn noise.
  Known assignment: x0 from a source holding the same points rolled by 3 rows; OT pairs each
  point with its own copy (the permutation on the wrong side would pair far points)."""
  src = data_lib.build(_data(), seed=1)
  b = src.train_batch(2, 8)
  noise = _noise(1, 2, (8, 2))
  cost = assignment.squared_distances(b['x'], noise)
  best = min(cost[np.arange(8), p].sum() for p in itertools.permutations(range(8)))
  np.testing.assert_allclose(_cost(b), best, rtol=1e-5)

  d = _data(PREFIX + '0')
  d.x0.name = PREFIX + '3'
  b = data_lib.build(d, 0).train_batch(0, 8)
  np.testing.assert_allclose(b['x0'], b['x'], atol=0.01)
  ev = next(data_lib.build(d, 0).eval_batches(8))
  np.testing.assert_allclose(ev['x0'], ev['x'], atol=0.01)
  d.x0.coupling = 'independent'
  assert np.abs(data_lib.build(d, 0).train_batch(0, 8)['x0'] - b['x']).max() > 1.0


def test_label_aware_coupling_never_pairs_across_classes():
  d = _data('digits', 'ot_label', scale='symmetric')
  b = data_lib.build(d, 0).train_batch(3, 64)
  noise = _noise(0, 3, (64, 8, 8, 1))
  origin = _origin(b['x0'], noise)
  np.testing.assert_array_equal(b['label'][origin], b['label'])   # noise slots of its class
  d.x0.coupling = 'ot'
  free = data_lib.build(d, 0).train_batch(3, 64)
  assert (free['label'][_origin(free['x0'], noise)] != free['label']).any()
  assert _cost(free) <= _cost(b)   # the class constraint can only cost more


def test_evaluation_and_validation_batches_carry_the_same_pairing_of_their_own_batch():
  src = data_lib.build(_data('digits', scale='symmetric', validation=100), 0)
  ev = list(src.eval_batches(128, num_batches=2))
  again = list(src.eval_batches(128, num_batches=2))
  assert not np.array_equal(ev[0]['x0'], next(src.eval_batches(128, draw=1))['x0'])
  for b, c in zip(ev, again):
    assert set(b) == {'x', 'label', 'x0', 'mask'} and b['mask'].all()
    np.testing.assert_array_equal(b['x0'], c['x0'])
  noise = source.rng(0, ot_coupling.EVAL_STREAM, 0, 0).standard_normal((128, 8, 8, 1), np.float32)
  np.testing.assert_array_equal(ev[0]['x0'], noise[assignment.pairing(ev[0]['x'], noise)])
  held_out = src.validation()
  assert isinstance(held_out, ot_coupling.OTSource) and held_out.eval_size == 100
  vb = next(held_out.eval_batches(128))
  assert vb['x0'].shape == (128, 8, 8, 1) and vb['mask'].sum() == 100


@pytest.mark.parametrize('change, pattern', [
    (dict(coupling='sinkhorn'), r"data.x0.coupling='sinkhorn' is not a coupling; choose one of: "
                                r'independent, ot, ot_label'),
    (dict(name='pairs:/no/such/folder'), r"data.x0.coupling='ot' cannot re-pair data.name="
                                         r"'pairs:/no/such/folder'"),
    (dict(coupling='ot_label', x0_name='toy2d:8gaussians'),
     r"data.x0.coupling='ot_label' needs the x0 noise, but data.x0.name='toy2d:8gaussians'"),
    (dict(coupling='ot_label'), r"'ot_label' pairs within classes, but data.name='toy2d:moons' "
                                r"has no labels: use data.x0.coupling='ot'"),
])
def test_impossible_couplings_are_one_line_errors_naming_the_key(change, pattern):
  d = _data(change.get('name', 'toy2d:moons'), change.get('coupling', 'ot'))
  d.x0.name = change.get('x0_name', '')
  with pytest.raises(ValueError, match=pattern):
    data_lib.build(d, 0)


def test_launch_train_refuses_a_bad_coupling_before_writing(capsys, tmp_path):
  from launch import train as launch_train

  w = str(tmp_path / 'run')
  base = ['--config', 'experiments/rectified_flow/toy2d.py:smoke,ot', '--workdir', w, *SHORT]
  refused(capsys, launch_train.main, base + ['--config.data.x0.coupling=sinkhorn'],
          r"config.data.x0.coupling='sinkhorn' is not allowed", w)
  refused(capsys, launch_train.main, base + ['--config.data.name=pairs:' + str(tmp_path)],
          r"config.data.x0.coupling='ot' cannot re-pair", w)


def _digest(a) -> str:
  return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


OVERRIDES = {'data.x0.coupling': 'ot', 'train.batch_size': '32'}


def test_the_coupling_is_the_same_on_1_and_8_devices():
  config = tiny_config(**OVERRIDES)
  whole = data_lib.build(config.data, config.seed)
  for step in (0, 5):
    want = whole.train_batch(step, 32)
    for n in (1, 8):
      got = parallel.to_host(run_lib.Run(config, parallel.make_mesh(n)).batch(step))
      for k in ('x', 'x0'):
        np.testing.assert_array_equal(got[k], want[k])


SCRIPT = """
import hashlib, sys
import numpy as np
from jaxgen.runtime import parallel
parallel.initialize_multihost()
import jax
from jaxgen.runtime import config as cfg, overrides, run as run_lib
c = cfg.validate(overrides.apply(cfg.load(sys.argv[1]), dict(a.split('=') for a in sys.argv[2:])))
r = run_lib.Run(c)
assert jax.process_count() == 2 and jax.device_count() == 4
for s in (0, 5):
  b = parallel.to_host(r.batch(s))
  print('batch', s, *(hashlib.sha256(np.ascontiguousarray(b[k]).tobytes()).hexdigest()[:16]
                      for k in ('x', 'x0')))
"""


def test_two_processes_of_two_devices_see_the_coupling_of_one():
  config = tiny_config(**OVERRIDES)
  whole = data_lib.build(config.data, config.seed)
  want = [f'batch {s} ' + ' '.join(_digest(whole.train_batch(s, 32)[k]) for k in ('x', 'x0'))
          for s in (0, 5)]
  args = ['experiments/rectified_flow/toy2d.py:smoke'] + [f'{k}={v}' for k, v in OVERRIDES.items()]
  outs = processes.launch([sys.executable, '-c', SCRIPT, *args], processes=2, devices=2)
  for out in outs:
    assert [ln for ln in out.splitlines() if ln.startswith('batch ')] == want, out


def _straightness(coupling, steps=150):
  """(mean ||x1 - x0||^2 of the training batches, straightness S_16 of the trained flow) of a
  64-wide MLP trained `steps` Adam steps on 8 Gaussians with `coupling` (fixed seeds)."""
  src = data_lib.build(_data('toy2d:8gaussians', coupling), 0)
  c = score_mlp.defaults()
  c.width, c.num_layers = 64, 2
  net = score_mlp.build(c)
  params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 2)), jnp.zeros((1,)))['params']
  tx = optax.adam(3e-3)
  opt = tx.init(params)

  def v(p, t, x):
    return net.apply({'params': p}, x, t * 999.0)

  @jax.jit
  def step(p, o, x1, x0, k):
    g = jax.grad(lambda p: jnp.mean(flow.loss(lambda t, x: v(p, t, x), x1, k, flow.TimeSampling(),
                                              x0)))(p)
    u, o = tx.update(g, o, p)
    return optax.apply_updates(p, u), o

  costs = []
  for s in range(steps):
    b = src.train_batch(s, 256)
    x0 = b['x0'] if 'x0' in b else _noise(0, s, b['x'].shape)   # independent: the same noise
    costs.append(((b['x'] - x0) ** 2).sum(1).mean())
    params, opt = step(params, opt, b['x'], x0, jax.random.PRNGKey(s))
  spec = solvers.SolverSpec(solver='euler', steps=16)
  s = flow.straightness(lambda t, x: v(params, t, x), jax.random.PRNGKey(1), 1024, (2,), spec)
  return float(np.mean(costs)), float(jnp.mean(s))


def test_ot_coupling_straightens_a_toy_flow():
  """8 Gaussians, 150 steps of batch 256: the OT pairs are far closer than independent ones and
  the trained flow is far straighter (measured: cost 9.9 -> 2.8, S_16 1.8 -> 0.014;
  asserted with a wide margin)."""
  cost_ind, s_ind = _straightness('independent')
  cost_ot, s_ot = _straightness('ot')
  assert cost_ot < 0.5 * cost_ind
  assert s_ot < 0.2 * s_ind and s_ind > 0.5
