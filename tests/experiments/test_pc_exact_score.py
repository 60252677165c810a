"""The exact-score PC experiment (`experiments.tables.pc_exact_score`) on a tiny setting (8
dimensions, 1000 samples): its closed-form scores are right (a finite-difference check of the
mixture's log-density at sigma > 0), its distance of an exact draw is at the sampling-noise floor,
the reverse-diffusion P sampler with many steps reaches the law (W2 within 1.5 x the floor of
exact draws + 0.01), and a sampler that stops short (2 steps) is far from it, so the check can
fail; the report names a verdict for every PC row."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.tables import pc_exact_score as exp
from jaxgen.diffusion import sde as sde_lib

SDE = sde_lib.VESDE(sigma_min=exp.SIGMA_MIN, sigma_max=exp.SIGMA_MAX)
DIM, SAMPLES = 8, 1000


def test_mixture_score_is_the_gradient_of_its_log_density():
  law = exp.mixture(DIM)
  x = jnp.asarray(law.sample(jax.random.PRNGKey(0), 4))
  logp = lambda y: jax.nn.logsumexp(law.log_densities(0.3, y[None]), axis=-1)[0]
  for i in range(4):
    np.testing.assert_allclose(law.score(0.3, x[i:i + 1])[0], jax.grad(logp)(x[i]), rtol=1e-4,
                               atol=1e-4)


def test_many_step_predictor_reaches_the_law_and_two_steps_do_not():
  for law in (exp.gaussian(DIM), exp.mixture(DIM)):
    floor = [exp.component_w2(law.sample(jax.random.PRNGKey(100 + k), SAMPLES), law)[0]
             for k in range(3)]
    far = exp.component_w2(jax.random.uniform(jax.random.PRNGKey(7), (SAMPLES, DIM)), law)[0]
    assert max(floor) < 0.1 < far
    fn, nfe = exp.sampler_fn(SDE, law, SAMPLES, predictor='reverse_diffusion', corrector='none',
                             steps=200)
    assert nfe == 201
    w2, tv = exp.component_w2(fn(jax.random.PRNGKey(1), jnp.float32(0.16)), law)
    assert w2 < 1.5 * np.mean(floor) + 0.01 and tv < 0.05, (w2, floor, tv)
    short, _ = exp.sampler_fn(SDE, law, SAMPLES, predictor='reverse_diffusion', corrector='none',
                              steps=2)
    assert exp.component_w2(short(jax.random.PRNGKey(1), jnp.float32(0.16)), law)[0] > 3 * w2


def test_report_has_a_verdict_for_every_pc_row():
  md = exp.main(keys=2, n_samples=400, dim=4, n=20, out='')
  rows = [l for l in md.splitlines() if l.startswith(('| RD PC N', '| EM PC N'))]
  assert len(rows) == 2 * (2 * len(exp.SNRS) + 2)
  assert all(any(v in r for v in ('agrees', 'disagrees', 'not resolved')) for r in rows)
  # NFE: 20 + 21 + 1 in the reference order, 2 * 20 + 1 in the paper's
  assert 'corrector first | 42 |' in md and 'paper order | 41 |' in md
