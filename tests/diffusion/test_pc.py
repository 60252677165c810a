"""PC sampling with the exact score of a Gaussian mixture reproduces the mixture.

The score of every time-marginal of a VP / sub-VP / VE diffusion of a Gaussian mixture is exact
(`tests.distributions.gmm`: ``mix.diffuse(alpha(t), sigma(t)).score``), so the only errors left
are the sampler's discretization and Monte Carlo. With n samples:

  * mean:        |mean_hat - mu|_i       < 5 sqrt(C_ii / n)                     + 0.02 (discr.)
  * covariance:  |C_hat - C|_ij          < 5 sqrt((C_ii C_jj + C_ij^2) / n)     + 0.03 (discr.)
  * sliced W1 to an independent exact sample of the same size < 3 x the sliced W1 between two
    independent exact samples (the Monte Carlo floor at this n) + 0.01.

The discretization allowances are what 100 steps cost on this mixture
(measured: mean errors are at the Monte Carlo level, covariance biases <= 0.02 at 100 steps, the
ancestral predictor's posterior variance -0.04 at 100 steps).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.distributions import gmm
from jaxgen.diffusion import sde as sde_lib
from jaxgen.diffusion import pc

MIX = gmm.example_2d()
N = 3000
SDES = {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.SubVPSDE(), 've': sde_lib.VESDE(sigma_max=10.0)}


def exact_score(sde):
  """Exact score of the diffused mixture (the samplers pass one time for the whole batch)."""
  return lambda t, x: MIX.diffuse(sde.alpha(t[0]), sde.sigma(t[0])).score(x)


def sliced_w1(a, b, key, nproj=256):
  d = jax.random.normal(key, (nproj, a.shape[1]))
  d = d / jnp.linalg.norm(d, axis=1, keepdims=True)
  return float(jnp.mean(jnp.abs(jnp.sort(a @ d.T, axis=0) - jnp.sort(b @ d.T, axis=0))))


def check_matches_mixture(x, cov_extra=0.0):
  x = np.asarray(x, np.float64)
  n = x.shape[0]
  assert np.isfinite(x).all()
  mu, c = np.asarray(MIX.mean()), np.asarray(MIX.covariance())
  dv = np.diag(c)
  np.testing.assert_array_less(np.abs(x.mean(0) - mu), 5 * np.sqrt(dv / n) + 0.02)
  cov_se = np.sqrt((np.outer(dv, dv) + c**2) / n)
  np.testing.assert_array_less(np.abs(np.cov(x.T) - c), 5 * cov_se + 0.03 + cov_extra)
  ref = MIX.sample(jax.random.PRNGKey(101), n)
  floor = sliced_w1(MIX.sample(jax.random.PRNGKey(102), n), ref, jax.random.PRNGKey(0))
  sw = sliced_w1(jnp.asarray(x, jnp.float32), ref, jax.random.PRNGKey(0))
  assert sw < 3 * floor + 0.01, (sw, floor)


@pytest.mark.parametrize('corrector', ['none', 'langevin'])
@pytest.mark.parametrize('name', list(SDES))
def test_pc_reproduces_mixture(name, corrector):
  """Reverse-diffusion predictor (+ Langevin corrector, snr 0.16), 100 steps, n = 3000."""
  sde = SDES[name]
  fn = jax.jit(lambda k: pc.pc_sample(sde, exact_score(sde), k, (N, 2), corrector=corrector,
                                      predictor='reverse_diffusion', steps=100, snr=0.16))
  x, info = fn(jax.random.PRNGKey(1))
  assert info['nfe'] == 100 + 100 * (corrector != 'none') + 1
  check_matches_mixture(x)


@pytest.mark.slow
@pytest.mark.parametrize('name', list(SDES))
@pytest.mark.parametrize('predictor,corrector,pf', [
    ('euler_maruyama', 'none', False), ('ancestral', 'none', False),
    ('reverse_diffusion', 'annealed_langevin', False), ('euler_maruyama', 'langevin', False),
    ('reverse_diffusion', 'none', True)])
def test_other_predictors_and_correctors(name, predictor, corrector, pf):
  """Every predictor / corrector at 100 steps; the probability-flow predictor at 400 (without
  noise to contract them, its first-order errors add up: +0.17 on the VP variances at 100)."""
  sde = SDES[name]
  fn = jax.jit(lambda k: pc.pc_sample(sde, exact_score(sde), k, (N, 2), predictor=predictor,
                                      corrector=corrector, steps=400 if pf else 100, probability_flow=pf,
                                      snr=0.1 if corrector == 'annealed_langevin' else 0.16))
  x, _ = fn(jax.random.PRNGKey(2))
  check_matches_mixture(x, cov_extra=0.03 if predictor == 'ancestral' else 0.0)


def test_corrector_follows_predictor_and_nfe():
  """Paper order: in the traced step body the predictor's score call comes before the
  corrector's, and the denoiser's is last (trace order = execution order inside one step).
  NFE = steps (1 + n_steps_each) + 1."""
  sde = SDES['vp']
  calls = []

  def score(t, x):
    calls.append(x.shape)  # traced once per call site
    return -x

  steps, m = 4, 2
  _, info = pc.pc_sample(sde, score, jax.random.PRNGKey(0), (3, 2), steps=steps,
                         n_steps_each=m, corrector='langevin')
  assert info['nfe'] == steps * (1 + m) + 1
  assert len(calls) == 3  # predictor, corrector body, denoiser (scan/fori trace once)


def test_rejects_unknown_names():
  with pytest.raises(ValueError):
    pc.pc_sample(SDES['vp'], lambda t, x: -x, jax.random.PRNGKey(0), (2, 2), predictor='heun')


def _score_times(corrector_first, corrector='langevin', m=1, steps=3):
  """The times of the score evaluations in execution order (JIT off: the loops run in Python)."""
  sde = SDES['ve']
  times = []

  def score(t, x):
    times.append(round(float(t[0]), 6))
    return -x

  with jax.disable_jit():
    _, info = pc.pc_sample(sde, score, jax.random.PRNGKey(0), (3, 2), steps=steps,
                           n_steps_each=m, corrector=corrector, corrector_first=corrector_first)
  return times, info['nfe'], [round(float(t), 6) for t in np.linspace(sde.T, sde.eps, steps + 1)]


@pytest.mark.parametrize('m', [1, 2])
def test_corrector_first_runs_the_corrector_at_the_old_time_and_counts_nfe(m):
  """The reference code's order: at each grid time t_k the corrector (m updates at t_k), then the
  predictor from t_k; the last grid time eps gets its corrector, then the denoiser. The paper's
  order: predictor from t_k, corrector at t_{k+1}. NFE is the number of score evaluations:
  steps + (steps + 1) m + 1, against steps (1 + m) + 1."""
  times, nfe, ts = _score_times(True, m=m)
  assert times == [t for t in ts[:-1] for _ in range(m + 1)] + [ts[-1]] * (m + 1)
  assert nfe == len(times) == 3 + 4 * m + 1
  times, nfe, ts = _score_times(False, m=m)
  assert times == [t for k in range(3) for t in [ts[k]] + [ts[k + 1]] * m] + [ts[-1]]
  assert nfe == len(times) == 3 * (1 + m) + 1


def test_orders_differ_and_agree_without_a_corrector():
  """Same key: the two orders give other samples with the Langevin corrector, the same samples
  (bit for bit) with corrector 'none', where both are the predictor chain."""
  sde = SDES['ve']
  run = lambda first, corrector: np.asarray(pc.pc_sample(
      sde, exact_score(sde), jax.random.PRNGKey(3), (64, 2), steps=10, corrector=corrector,
      corrector_first=first)[0])
  assert np.abs(run(True, 'langevin') - run(False, 'langevin')).max() > 1e-3
  np.testing.assert_array_equal(run(True, 'none'), run(False, 'none'))
  assert _score_times(True, corrector='none')[1] == _score_times(False, corrector='none')[1] == 4


def test_corrector_first_reproduces_mixture():
  """VE, reverse diffusion + Langevin (snr 0.16) in the reference order, 100 steps, n = 3000."""
  sde = SDES['ve']
  fn = jax.jit(lambda k: pc.pc_sample(sde, exact_score(sde), k, (N, 2), steps=100, snr=0.16,
                                      corrector_first=True))
  x, info = fn(jax.random.PRNGKey(1))
  assert info['nfe'] == 100 + 101 + 1
  check_matches_mixture(x)
