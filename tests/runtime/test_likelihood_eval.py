"""The likelihood evaluator (`jaxgen.runtime.evaluators.likelihood`): bits/dim only on dequantized
data (refused before anything is written otherwise), every dequantization draw re-dequantizes and
the figure is their mean, and the solve's NFE and wall time are reported beside it."""

import math

import jax
import numpy as np
import pytest

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.runtime import config as cfg
from jaxgen.runtime import evaluate
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from launch import train as launch_train
from tests.conftest import tiny_config
from tests.refusal import SHORT, refused

NICE = 'experiments/nice/digits.py:smoke'
SDE_IMG = 'experiments/score_sde/digits.py:smoke'
RF = 'experiments/rectified_flow/toy2d.py:smoke'
PCNN = 'experiments/pixelcnn/digits.py:smoke'

REFUSED = [
    (NICE, ['--config.data.dequantize=False'],
     r"'bpd' of a continuous density needs dequantized data; digits has 17 integer levels but is "
     r'not dequantized.*--config\.data\.dequantize=True'),
    (SDE_IMG, ['--config.eval.dequantize=False'], r'--config\.data\.dequantize=True'),
    (RF, ["--config.eval.metrics=('bpd',)"],
     r"'bpd' needs integer data; toy2d:moons is continuous.*'nll'"),
    (PCNN, ['--config.eval.dequantize=True'], r'config\.eval\.dequantize=True does not apply'),
]


@pytest.mark.parametrize('exp,flags,pattern', REFUSED, ids=['nice', 'score_sde', 'toy2d', 'pcnn'])
def test_bpd_without_dequantized_data_is_refused_before_writing(capsys, tmp_path, exp, flags,
                                                                pattern):
  """exit 2, one error line naming the fix, the workdir left as it was (not even created)."""
  w = tmp_path / 'run'
  refused(capsys, launch_train.main, ['--config', exp, '--workdir', str(w)] + SHORT + flags,
          pattern, str(tmp_path))
  assert not w.exists()


def _run(exp, **flags):
  config = cfg.validate(overrides_lib.apply(cfg.load(exp), {k: str(v) for k, v in flags.items()}))
  return run_lib.Run(config, parallel.make_mesh(8))


def _per_draw_bpd(run, params, rng, draw, redequantize=False):
  """Mean bits/dim of pass `draw`, computed here without the evaluator (NICE: rng unused)."""
  ec, spec = run.config.eval, run.data.spec
  lps = []
  for i, batch in enumerate(run.data.eval_batches(ec.batch_size, ec.num_batches, draw)):
    x = jax.numpy.asarray(batch['x'])
    if redequantize:
      r = jax.random.fold_in(jax.random.fold_in(rng, 1000 + draw), i)
      x, spec_used = bpd_lib.dequantize(x, jax.random.split(r)[1], spec)
    lps.append(np.asarray(run.model.log_prob(params, {'x': x}, None))[batch['mask']])
  used = spec_used if redequantize else spec
  return float(np.mean(bpd_lib.bits_per_dim(np.concatenate(lps), used, False)))


@pytest.mark.parametrize('redequantize', [False, True], ids=['data', 'eval'])
def test_dequant_draws_redequantize_and_are_averaged(redequantize):
  """2 draws give a different figure from 1, equal to the mean of the two passes' figures; with
  data.dequantize (the pipeline's fresh noise per draw) or eval.dequantize (the evaluator's)."""
  flags = ({'data.dequantize': False, 'eval.dequantize': True} if redequantize else {})
  run = _run(NICE, **flags)
  params = state_lib.Trainer(run).init().params
  rng = jax.random.PRNGKey(7)
  b0, b1 = (_per_draw_bpd(run, params, rng, d, redequantize) for d in (0, 1))
  assert b0 != b1
  one = evaluate.Evaluator(run)(params, rng)
  run.config.eval.dequant_draws = 2
  two = evaluate.Evaluator(run)(params, rng)
  np.testing.assert_allclose(one['eval/bpd'], b0, rtol=1e-6)
  np.testing.assert_allclose(two['eval/bpd'], (b0 + b1) / 2, rtol=1e-6)
  np.testing.assert_allclose(two['eval/bpd_draw_std'], abs(b0 - b1) / 2, atol=2e-6)  # float32
  assert 'eval/bpd_draw_std' not in one and one['eval/bpd_std'] > 0
  assert 'eval/likelihood_nfe' not in one            # NICE: an exact density, no ODE solve
  assert one['eval/likelihood_seconds'] >= 0


def test_ode_likelihood_reports_nfe_and_seconds_without_compilation():
  """Rectified flow on moons, adaptive dopri5: eval/likelihood_nfe is the solve's count (the same
  as the family's log_prob_stats on that batch); the time excludes
  compilation, which happens once."""
  config = tiny_config(**{'eval.metrics': "('nll',)", 'likelihood.solver': 'dopri5',
                          'likelihood.rtol': '1e-3', 'likelihood.atol': '1e-3',
                          'eval.num_batches': '1'})
  run = run_lib.Run(config, parallel.make_mesh(8))
  params = state_lib.Trainer(run).init().params
  ev = evaluate.Evaluator(run)
  rng = jax.random.PRNGKey(0)
  out = ev(params, rng)
  bs = config.eval.batch_size - config.eval.batch_size % 8 or 8
  batch = next(run.data.eval_batches(bs, 1, 0))
  mask = batch.pop('mask')
  r = jax.random.fold_in(jax.random.fold_in(rng, 1000), 0)
  lp, stats = jax.jit(run.model.extras['log_prob_stats'])(params, batch, r)
  assert out['eval/likelihood_nfe'] == float(stats['nfe'][0]) > 6
  np.testing.assert_allclose(out['eval/nll'], -np.mean(np.asarray(lp)[mask]), rtol=1e-5)
  assert out['eval/likelihood_compile_seconds'] > 0 and out['eval/likelihood_seconds'] > 0
  again = ev(params, rng)
  assert again['eval/likelihood_compile_seconds'] == 0.0
  assert math.isfinite(again['eval/likelihood_seconds'])
