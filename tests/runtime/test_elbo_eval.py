"""The variational-bound evaluator (`jaxgen.runtime.evaluators.elbo`, metric ``elbo_bpd``).

* With the exact score of Gaussian data ``N(MU, S0^2 I)`` under a VE SDE whose prior matches
  ``p_T`` up to ``MU^2 / (2 sigma_max^2)`` nats per dimension (below 1e-4 here), the evaluator's
  per-example bits/dim equal the exact ``-log N(x) / (D ln 2) + log2(K)`` of the same examples
  within 4 standard errors (paired by example), the standard error being small (< 0.03 bits/dim);
  a score scaled by 0.8 gives a bound 0.32 bits/dim above (closed form: (k - 1)^2 / 2 int g^2
  E||s||^2 dt), over 10 standard errors (the check can fail).
* On the score-SDE smoke run beside the PF-ODE ``bpd``: one value per test example, in the
  evaluation JSON's ``examples`` as ``bpd``'s, its identity a variational bound and the
  likelihood's the probability-flow ODE's estimate; the likelihood section in the provenance.
* Refused: without dequantized data (one error line, nothing written); for a family that does not
  provide it (rectified flow: unknown metric).
"""

import math

import jax
import numpy as np
import pytest

from jaxgen.data.source import DataSpec
from jaxgen.diffusion import elbo as elbo_lib
from jaxgen.diffusion import sde as sde_lib
from jaxgen.models import score_sde
from jaxgen.runtime import config as cfg
from jaxgen.runtime import evaluate
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime.evaluators import elbo as elbo_eval
from launch import train as launch_train
from tests.refusal import SHORT, refused

D, N, K, MU, S0 = 8, 4096, 256, 0.5, 0.2
SDE = sde_lib.VESDE(sigma_min=0.01, sigma_max=50.0)
SPEC = DataSpec(name='gauss', shape=(D,), low=0.0, high=1.0, num_levels=K, num_classes=None,
                scale='unit', dequantized=True)
SDE_IMG = 'experiments/score_sde/digits.py:smoke'


def _score(scale):
  def fn(t, x):
    s = SDE.sigma(t)[:, None]
    return -scale * (x - MU) / (S0**2 + s**2)
  return fn


def _per_example(scale, x, mesh):
  bound = score_sde.Bound(eps=1e-5, draws=32, importance_sampling=True)
  fn = lambda p, batch, rng: elbo_lib.negative_elbo(
      _score(scale), SDE, batch['x'], rng, eps=bound.eps, num_t=bound.draws,
      importance_sampling=bound.importance_sampling)

  def batches(draw):
    for i in range(0, N, 256):
      yield parallel.shard_batch({'x': x[i:i + 256], 'mask': np.ones(256, bool)}, mesh)

  ev = elbo_eval.Evaluator(fn, bound, batches, mesh, SPEC, 1, False)
  out = ev.run({}, jax.random.PRNGKey(3))
  return out, np.asarray(ev.examples()['elbo_bpd'], np.float64), ev


def test_exact_score_bound_is_the_exact_gaussian_bits_per_dim():
  mesh = parallel.make_mesh(1)
  x = np.asarray(MU + S0 * jax.random.normal(jax.random.PRNGKey(0), (N, D)), np.float32)
  exact = (0.5 * D * math.log(2 * math.pi * S0**2)
           + np.sum((x.astype(np.float64) - MU)**2, axis=1) / (2 * S0**2))
  exact_bpd = exact / (D * math.log(2)) + math.log2(K)
  out, bound, ev = _per_example(1.0, x, mesh)
  diff = bound - exact_bpd
  se = diff.std(ddof=1) / math.sqrt(N)
  assert se < 0.03 and abs(diff.mean()) < 4 * se, (diff.mean(), se)
  assert out['eval/elbo_bpd'] == pytest.approx(bound.mean(), rel=1e-6)
  assert out['eval/elbo_bpd_std'] == pytest.approx(bound.std(), rel=1e-5)
  assert out['eval/elbo_compile_seconds'] > 0 and out['eval/elbo_seconds'] >= 0
  assert ev.identity()['elbo_bpd'].startswith('variational bound')
  _, wrong, _ = _per_example(0.8, x, mesh)
  assert (wrong - exact_bpd).mean() > 10 * se  # expected: 0.32 bits/dim


def test_smoke_run_reports_the_bound_beside_the_pf_ode_bpd():
  flags = {'eval.metrics': "('bpd', 'elbo_bpd')", 'likelihood.elbo_draws': '2',
           'eval.rng_keys': '(0, 1)'}
  config = cfg.validate(overrides_lib.apply(cfg.load(SDE_IMG), flags))
  run = run_lib.Run(config, parallel.make_mesh(1))
  run.params, run.step, run.rng = state_lib.Trainer(run).init().params, 0, jax.random.PRNGKey(0)
  results, prov = evaluate.evaluate_with_provenance(run)
  assert np.isfinite(results['eval/elbo_bpd']) and np.isfinite(results['eval/bpd'])
  for rep in results['repeats']:
    ex = rep['examples']
    assert len(ex['elbo_bpd']) == len(ex['bpd']) == config.eval.batch_size * config.eval.num_batches
  assert results['repeats'][0]['examples'] != results['repeats'][1]['examples']
  ident = prov['evaluators']
  assert ident['elbo_bpd'].startswith('variational bound') and '2 (t, z) draw(s)' in ident[
      'elbo_bpd']
  assert ident['likelihood'].endswith('probability-flow ODE estimate')
  assert prov['likelihood']['elbo_draws'] == 2


def test_bound_without_dequantized_data_is_refused_before_writing(capsys, tmp_path):
  w = tmp_path / 'run'
  refused(capsys, launch_train.main,
          ['--config', SDE_IMG, '--workdir', str(w), "--config.eval.metrics=('elbo_bpd',)",
           '--config.eval.dequantize=False'] + SHORT,
          r"'elbo_bpd' of a continuous density needs dequantized data.*--config\.eval\.dequantize",
          str(tmp_path))
  assert not w.exists()


def test_other_families_refuse_the_bound():
  c = cfg.load('experiments/rectified_flow/toy2d.py:smoke')
  c.eval.metrics = ('elbo_bpd',)
  with pytest.raises(cfg.ConfigError, match="unknown metric 'elbo_bpd'"):
    cfg.validate(c)
