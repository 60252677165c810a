"""Facts about the EDM sampler (Karras et al. 2022, Algorithm 2)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.diffusion import edm
from jaxgen.diffusion import sde as sde_lib
from jaxgen.ode import grids
from tests.conftest import Counter

# Gaussian data N(MU, S0^2) in EDM's VE space: D(x; sigma) = MU + S0^2 / (S0^2 + sigma^2) (x - MU)
# and the ODE keeps (x - MU) / sqrt(S0^2 + sigma^2) constant.
MU, S0 = 0.5, 0.5


def denoiser(sigma, x):
  s2 = sigma[:, None]**2
  return MU + S0**2 / (S0**2 + s2) * (x - MU)


def test_sigmas_are_karras_eq5():
  """edm.sigmas(10) is Karras et al. eq. 5 (sigma 80 .. 0.002, rho = 7) followed by 0, and for VE
  (sigma(t) = exp(-log_snr/2)) the 'edm' time grid of `jaxgen.ode.grids` has those sigmas."""
  sde = sde_lib.VESDE(sigma_min=0.002, sigma_max=80.0)
  g = grids.make('edm', sde.t_from_sigma(80.0), sde.t_from_sigma(0.002), 9, schedule=sde)
  s = np.asarray(edm.sigmas(10))
  np.testing.assert_allclose(sde.sigma(g), s[:-1], rtol=1e-4)
  i = np.arange(10)
  ref = (80**(1 / 7) + i / 9 * (0.002**(1 / 7) - 80**(1 / 7)))**7
  np.testing.assert_allclose(s[:-1], ref, rtol=1e-5)
  assert s[-1] == 0


def test_sde_sigmas_span_the_sdes_noise_range():
  """sde_sigmas = sigmas between sigma_edm(eps) and sigma_edm(T) (sigma_edm = sigma_t / alpha_t)."""
  sde = sde_lib.VPSDE()
  s = np.asarray(edm.sde_sigmas(sde, 12, eps=1e-2))
  want = edm.sigmas(12, float(sde.sigma(1e-2) / sde.alpha(1e-2)), float(sde.sigma(1.0) /
                                                                         sde.alpha(1.0)))
  np.testing.assert_allclose(s, want, rtol=1e-5)


def test_heun_second_order_and_nfe():
  """Deterministic EDM (Heun + final Euler) converges to the exact ODE solution with order ~2 in
  the number of steps N (EDM rho = 7 grid, sigma 0.002..80); nfe = 2N - 1 = calls made."""
  x = 80.0 * jnp.linspace(-1.5, 1.5, 5)[:, None]
  ref = MU + S0 * (x - MU) / np.sqrt(S0**2 + 80.0**2)
  ns, errs = (16, 32, 64, 128), []
  for n in ns:
    f = Counter(denoiser)
    out, st = jax.jit(lambda x: edm.edm_sampler(f, x, edm.sigmas(n)))(x)
    jax.block_until_ready(out)
    assert int(st['nfe']) == 2 * n - 1 == f.n
    errs.append(float(np.abs(np.asarray(out) - ref).max()))
  slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
  print(f'EDM Heun: measured order {-slope:.2f} errors {errs}')
  assert abs(-slope - 2) < 0.3, (slope, errs)


def test_churn_samples_the_gaussian():
  """With churn (S_churn=40, S_noise=1) the sampler still draws N(MU, S0^2): sample mean and std of
  n=4000 are within 5 standard errors (std error of the std: S0 / sqrt(2n)) plus 2% bias."""
  n = 4000
  r0, r1 = jax.random.split(jax.random.PRNGKey(0))
  x = 80.0 * jax.random.normal(r0, (n, 1))
  out, st = jax.jit(lambda x, r: edm.edm_sampler(denoiser, x, edm.sigmas(32), rng=r,
                                                 S_churn=40.0, S_tmin=0.05, S_tmax=50.0))(x, r1)
  out = np.asarray(out[:, 0])
  assert abs(out.mean() - MU) < 5 * S0 / np.sqrt(n)
  assert abs(out.std() - S0) < 5 * S0 / np.sqrt(2 * n) + 0.02 * S0
  assert int(st['nfe']) == 63


def test_denoiser_from_score_is_tweedie():
  """For VE and VP, the EDM denoiser built from the exact Gaussian score is E[x0 | x]."""
  for sde in (sde_lib.VESDE(), sde_lib.VPSDE()):
    def score(t, x):
      a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
      return -(x - a * MU) / (a**2 * S0**2 + s**2)
    sig = jnp.array([0.1, 1.0, 5.0])
    x = jnp.array([[0.3], [-1.0], [4.0]])
    np.testing.assert_allclose(edm.denoiser_from_score(sde, score)(sig, x), denoiser(sig, x),
                               rtol=2e-4, atol=2e-4)
