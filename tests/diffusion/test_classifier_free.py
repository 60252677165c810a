"""Classifier-free guidance (`jaxgen.diffusion.classifier_free`) through every sampler, on closed
forms.

Classes are the components of a 2-D Gaussian mixture (`tests.distributions.gmm.example_2d`); the
exact conditional score of class k at time t is that component's diffused score, which Bayes'
rule writes as the mixture's score plus grad_x log p_t(k | x) (checked pointwise below, and used
as the conditional function). Two facts are checked through the samplers:

  * conditional (w = 0): with the labels of `sample_labels(n, -1, K)` (one block per class) and
    the Bayes-form conditional score, guided by the mixture's score at w = 0, each block of
    samples is its component (at the end time eps; EDM denoises to sigma = 0);
  * guidance (w = 2): for two Gaussians N(m_c, S) and N(m_u, S) with the SAME covariance, the
    diffused scores are affine in the mean with the same matrix, so (1 + w) s_c - w s_u is exactly
    the diffused score of N((1 + w) m_c - w m_u, S); the guided samplers must produce that
    Gaussian. For rectified flow the same holds for the exact velocity of the Gaussian-to-N(m, S)
    flow x_t = t x1 + (1 - t) x0 (x0 ~ N(0, I)): with Sigma_t = t^2 S + (1 - t)^2 I,
    v(t, x) = m + (t S - (1 - t) I) Sigma_t^{-1} (x - t m) (the regression E[x1 - x0 | x_t] of
    jointly Gaussian variables), affine in m; a mixture's velocity is the responsibility-weighted
    sum of its components' (responsibilities under N(t m_j, Sigma_t,j)).

Bounds, derived from the n samples of a class (n = 1000): mean |m_hat - m| < 4 sqrt(C_ii / n)
(CLT); covariance |C_hat_ij - C_ij| < 4 se_ij with se_ij = std((x_i - m_i)(x_j - m_j)) / sqrt(n)
(4th moments from 20k exact draws); sliced Wasserstein-2 (64 projections) to an independent exact
sample of n is below the mean + 4 std of the same statistic between two exact samples (8 draws).
Step counts are those `tests/diffusion/test_mixture_samples.py` found to keep the discretization
bias inside these bounds.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import classifier_free, sampler
from jaxgen.diffusion import sde as sde_lib
from tests.distributions import gmm
from jaxgen.ode import solvers

K = 3
N_CLASS = 1000
N = K * N_CLASS
SDE = sde_lib.VPSDE()
MIX = gmm.example_2d()
_P = 64
# The equal-covariance pair of the guidance check and its guided target.
S_PAIR = jnp.array([[0.30, 0.10], [0.10, 0.20]])
M_C, M_U, W = jnp.array([1.0, 0.5]), jnp.array([0.0, 0.0]), 2.0
M_STAR = (1 + W) * M_C - W * M_U

# (method, settings): one fixed-step and one adaptive ODE solver, PC, DDIM, both DPM-Solvers, EDM.
SAMPLERS = {
    'pc': dict(method='pc', predictor='euler_maruyama', corrector='none', denoise=False,
               steps=500),
    'ode_rk4': dict(method='ode', solver='rk4', steps=40, denoise=False),
    'ode_dopri5': dict(method='ode', solver='dopri5', rtol=1e-5, atol=1e-5, denoise=False),
    'ddim': dict(method='ddim', steps=100),
    'dpm_solver': dict(method='dpm_solver', steps=8, dpm_order=3),
    'dpm_solver++2m': dict(method='dpm_solver++2m', steps=20),
    'edm': dict(method='edm', steps=32),
}


def _gaussian(mean, cov):
  return gmm.GaussianMixture.make([1.0], mean[None], cov[None])


def _component(k):
  return gmm.GaussianMixture(MIX.weights[k:k + 1] / MIX.weights[k], MIX.means[k:k + 1],
                             MIX.covs[k:k + 1])


@functools.lru_cache(maxsize=None)
def _reference(key, at_zero):
  """Moments, covariance standard errors and the sliced-W test of a target law (n = N_CLASS)."""
  law = _component(key) if isinstance(key, int) else _gaussian(M_STAR, S_PAIR)
  target = law if at_zero else law.diffuse(SDE.alpha(SDE.eps), SDE.sigma(SDE.eps))
  return gmm.reference(target, N_CLASS, _P)


def _check(x, key, at_zero=False):
  m, c, se_c, sw, bound = _reference(key, at_zero)
  x = np.asarray(x)
  assert x.shape == (N_CLASS, 2) and np.all(np.isfinite(x))
  assert np.all(np.abs(x.mean(0) - m) < 4 * np.sqrt(np.diag(c) / N_CLASS)), (key, x.mean(0), m)
  assert np.all(np.abs(np.cov(x.T) - c) < 4 * se_c), (key, np.cov(x.T), c, se_c)
  d = float(sw(jnp.asarray(x)))
  assert d < bound, (key, d, bound)


def _mix_score(t, x):
  return gmm.diffused_score(MIX, SDE.alpha(t), SDE.sigma(t), x)


def _bayes_score(labels):
  """Class-conditional score by Bayes: mixture score + grad_x log p_t(y | x), y = labels."""
  def log_posterior(t, x):
    t = jnp.broadcast_to(t, x.shape[:1])
    comp = gmm._diffused_parts(MIX, SDE.alpha(t), SDE.sigma(t), x)[0]  # [b, K] log w_j N_j
    logp = jax.nn.log_softmax(comp, axis=-1)
    return jnp.sum(jnp.take_along_axis(logp, labels[:, None], axis=1))

  return lambda t, x: _mix_score(t, x) + jax.grad(log_posterior, argnums=1)(t, x)


def _pair_score(mean):
  law = _gaussian(mean, S_PAIR)
  return lambda t, x: gmm.diffused_score(law, SDE.alpha(t), SDE.sigma(t), x)


def test_sample_labels_layout():
  """label k: all k; label -1: blocks of ceil(n / K), class i // m, so row k of an m-column grid is
  class k; with n < K the first n classes, once each."""
  np.testing.assert_array_equal(classifier_free.sample_labels(5, 2, 10), [2] * 5)
  lab = np.asarray(classifier_free.sample_labels(100, -1, 10))
  np.testing.assert_array_equal(lab.reshape(10, 10), np.arange(10)[:, None].repeat(10, 1))
  lab = np.asarray(classifier_free.sample_labels(64, -1, 10))  # m = 7: 9 rows of 7, class 9 gets 1
  assert lab.dtype == np.int32 and list(np.bincount(lab)) == [7] * 9 + [1]
  np.testing.assert_array_equal(classifier_free.sample_labels(4, -1, 10), [0, 1, 2, 3])
  with pytest.raises(ValueError, match='label=10'):
    classifier_free.sample_labels(4, 10, 10)


def test_guided_function_closed_form_and_interval():
  """(1 + w) c - w u inside [tmin, tmax], c outside; w = 0 returns cond_fn itself."""
  cond = lambda t, x: 2.0 * x + jnp.broadcast_to(t, x.shape[:1])[:, None]
  uncond = lambda t, x: -x
  x = jnp.arange(8.0).reshape(4, 2)
  t = jnp.array([0.1, 0.3, 0.6, 0.9])
  g = classifier_free.classifier_free(cond, uncond, 1.5, interval=(0.2, 0.7))
  inside = np.array([False, True, True, False])[:, None]
  want = np.where(inside, 2.5 * cond(t, x) - 1.5 * uncond(t, x), cond(t, x))
  np.testing.assert_allclose(g(t, x), want, rtol=1e-6)
  full = classifier_free.classifier_free(cond, uncond, 1.5)
  np.testing.assert_allclose(full(jnp.float32(0.5), x),
                             2.5 * cond(jnp.full(4, 0.5), x) - 1.5 * uncond(0.5, x), rtol=1e-6)
  assert classifier_free.classifier_free(cond, uncond, 0.0) is cond
  assert classifier_free.classifier_free(cond, uncond, 0.0, interval=(0.2, 0.7)) is cond


def test_bayes_conditional_is_the_component_score_and_pair_is_exact():
  """Pointwise: mixture score + grad log p_t(k | x) = component k's diffused score; CFG of the
  equal-covariance pair = the diffused score of N((1 + w) m_c - w m_u, S)."""
  x = jax.random.normal(jax.random.PRNGKey(0), (12, 2)) * 1.5
  t = jnp.linspace(0.01, 1.0, 12)
  labels = jnp.arange(12, dtype=jnp.int32) % K
  got = _bayes_score(labels)(t, x)
  each = jnp.stack([gmm.diffused_score(_component(k), SDE.alpha(t), SDE.sigma(t), x)
                    for k in range(K)], 1)  # [b, K, 2]
  want = each[jnp.arange(12), labels]
  np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
  g = classifier_free.classifier_free(_pair_score(M_C), _pair_score(M_U), W)
  np.testing.assert_allclose(g(t, x), _pair_score(M_STAR)(t, x), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize('name', ['ddim', 'ode_rk4'])
def test_w0_is_the_conditional_sampler(name):
  """w = 0 (with or without an interval): bitwise the conditional sampler's samples, same key."""
  labels = classifier_free.sample_labels(64, -1, K)
  cond = _bayes_score(labels)
  plain = jax.jit(lambda r: sampler.sample(SDE, cond, r, (64, 2), SAMPLERS[name])[0])
  guided = jax.jit(lambda r: sampler.sample(
      SDE, classifier_free.classifier_free(cond, _mix_score, 0.0, (0.2, 0.5)), r, (64, 2),
      SAMPLERS[name])[0])
  key = jax.random.PRNGKey(3)
  np.testing.assert_array_equal(np.asarray(plain(key)), np.asarray(guided(key)))


# Each sampler family is in the default suite at least once (conditional or guided); the others
# are slow (-m slow): PC's 500 steps and EDM's Bayes-form scores take ~30 s on a loaded 2-core CPU.
FAST_COND = ('ode_rk4', 'ddim', 'dpm_solver', 'dpm_solver++2m')
FAST_GUIDED = ('pc', 'ode_rk4', 'edm')


@pytest.mark.parametrize('name', [
    n if n in FAST_COND else pytest.param(n, marks=pytest.mark.slow) for n in SAMPLERS])
def test_conditional_samples_are_the_components(name):
  """Every sampler with the guided (w = 0) Bayes-form conditional score and the labels of
  sample_labels(N, -1, K): block k of the samples is component k."""
  labels = classifier_free.sample_labels(N, -1, K)
  fn = classifier_free.classifier_free(_bayes_score(labels), _mix_score, 0.0)
  x, _ = jax.jit(lambda r: sampler.sample(SDE, fn, r, (N, 2), SAMPLERS[name]))(
      jax.random.PRNGKey(1))
  for k in range(K):
    _check(np.asarray(x)[np.asarray(labels) == k], k, at_zero=(name == 'edm'))


@pytest.mark.parametrize('name', [
    n if n in FAST_GUIDED else pytest.param(n, marks=pytest.mark.slow) for n in SAMPLERS])
def test_guided_samples_extrapolate_the_mean(name):
  """w = 2 on the equal-covariance pair: every sampler gives N((1 + w) m_c - w m_u, S)."""
  fn = classifier_free.classifier_free(_pair_score(M_C), _pair_score(M_U), W)
  x, _ = jax.jit(lambda r: sampler.sample(SDE, fn, r, (N_CLASS, 2), SAMPLERS[name]))(
      jax.random.PRNGKey(2))
  _check(x, 'pair', at_zero=(name == 'edm'))


# --- rectified flow: the exact velocity of Gaussian-to-component flows ------------------------

def _flow_velocity(means, covs, weights):
  """Exact velocity of the flow from N(0, I) at t = 0 to the mixture at t = 1 (module doc)."""
  eye = jnp.eye(2)

  def v(t, x):
    t = jnp.asarray(t, jnp.float32)
    sig = t**2 * covs + (1 - t)**2 * eye                       # [k, 2, 2]
    diff = x[:, None, :] - t * means[None]                     # [b, k, 2]
    sol = jnp.einsum('kij,bkj->bki', jnp.linalg.inv(sig), diff)
    vk = means[None] + jnp.einsum('kij,bkj->bki', t * covs - (1 - t) * eye, sol)
    logn = (jnp.log(weights)[None] - 0.5 * jnp.sum(diff * sol, -1)
            - 0.5 * jnp.linalg.slogdet(sig)[1][None])
    return jnp.einsum('bk,bkd->bd', jax.nn.softmax(logn, -1), vk)

  return v


def _flow_conditional(labels):
  comps = [_flow_velocity(MIX.means[k:k + 1], MIX.full_covs()[k:k + 1], jnp.ones(1))
           for k in range(K)]
  def v(t, x):
    allv = jnp.stack([c(t, x) for c in comps], 1)             # [b, K, 2]
    return jnp.take_along_axis(allv, labels[:, None, None], axis=1)[:, 0]
  return v


@pytest.mark.parametrize('solver', [dict(solver='rk4', steps=40),
                                    pytest.param(dict(solver='dopri5', rtol=1e-5, atol=1e-5),
                                                 marks=pytest.mark.slow)])
def test_rectified_flow_conditional_and_guided(solver):
  """Rectified flow's ODE (fixed-step and adaptive solvers) with the exact conditional velocity
  (w = 0, guided by the mixture's velocity) gives each class's component at t = 1; with w = 2 on
  the equal-covariance pair it gives N((1 + w) m_c - w m_u, S)."""
  spec = solvers.SolverSpec.from_config(solver)
  labels = classifier_free.sample_labels(N, -1, K)
  mix_v = _flow_velocity(MIX.means, MIX.full_covs(), MIX.weights)
  fn = classifier_free.classifier_free(_flow_conditional(labels), mix_v, 0.0)
  x0 = jax.random.normal(jax.random.PRNGKey(4), (N, 2))
  x1, _ = jax.jit(lambda z: solvers.integrate(fn, z, 0.0, 1.0, spec))(x0)
  for k in range(K):
    _check(np.asarray(x1)[np.asarray(labels) == k], k, at_zero=True)
  pair = lambda m: _flow_velocity(m[None], S_PAIR[None], jnp.ones(1))
  g = classifier_free.classifier_free(pair(M_C), pair(M_U), W)
  x1, _ = jax.jit(lambda z: solvers.integrate(g, z, 0.0, 1.0, spec))(x0[:N_CLASS])
  _check(x1, 'pair', at_zero=True)
