"""Coupling flows with Flow++'s variational dequantizer trained jointly: the loss is the negative
variational bound, log_prob stays the flow's density, and bpd_vdeq is reported beside bpd."""

import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import DataSpec
from jaxgen.models import coupling_flow
from jaxgen.runtime import evaluate
from jaxgen.runtime import run as run_lib
from launch import train as launch_train
from tests import refusal

IMG = DataSpec('test', (4, 4, 1), 0.0, 1.0, 256, None, 'unit', True)
SMOKE = 'experiments/coupling_flow/fashion_mnist.py:smoke'
VDEQ = ['--config.model.dequantizer.kind=variational', '--config.model.dequantizer.steps=1',
        '--config.model.dequantizer.hidden=4']


def _model(kind):
  c = coupling_flow.defaults()
  c.data = ml_collections.ConfigDict({'dequantize': True})
  c.model.update(dict(flow='realnvp', levels=1, steps=1, hidden=4))
  c.model.dequantizer.update(dict(kind=kind, steps=2, hidden=4))
  return coupling_flow.build(c, IMG)


def test_loss_is_the_negative_variational_bound_and_trains_q():
  """loss = -mean(log p(x(k + u)) - log q(u | k)) / D for the loss key's draw; log_prob is the
  flow's density of the given x (the uniform bound's); the gradient reaches q's parameters."""
  m = _model('variational')
  x = jax.random.uniform(jax.random.PRNGKey(0), (3,) + IMG.shape)
  params = m.init(jax.random.PRNGKey(1), x)
  assert set(params) == {'flow', 'dequantizer'}
  rng = jax.random.PRNGKey(2)
  loss, metrics = m.loss(params, {'x': x}, rng)
  bound = m.extras['variational_log_prob'](params, {'x': x}, rng)
  np.testing.assert_allclose(float(loss), -float(jnp.mean(bound)) / IMG.dim, rtol=1e-6)
  assert 'bpd_vdeq' in metrics and 'bpd' not in metrics
  uniform = _model('uniform')
  np.testing.assert_allclose(np.asarray(m.log_prob(params, {'x': x}, rng)),
                             np.asarray(uniform.log_prob(params['flow'], {'x': x}, rng)),
                             rtol=1e-6)
  grads = jax.grad(lambda p: m.loss(p, {'x': x}, rng)[0])(params)['dequantizer']
  assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(grads)) > 0


def test_bpd_vdeq_is_reported_beside_bpd_and_names_its_bound(tmp_path):
  """A smoke run with the variational dequantizer evaluates both bounds; the evaluator's identity
  says which bound bpd_vdeq is."""
  w = str(tmp_path / 'w')
  assert launch_train.main(['--config', SMOKE, '--workdir', w, *VDEQ,
                            "--config.eval.metrics=('bpd', 'bpd_vdeq')"]) == 0
  rows = [json.loads(line) for line in open(tmp_path / 'w' / 'metrics.jsonl')]
  last = [r for r in rows if 'eval/bpd_vdeq' in r][-1]
  assert np.isfinite(last['eval/bpd']) and np.isfinite(last['eval/bpd_vdeq'])
  ids = evaluate.Evaluator(run_lib.open_run(w)).identities()
  assert 'uniformly dequantized' in ids['likelihood']
  assert ids['bpd_vdeq'].startswith('variational dequantization bound (Flow++)')


def test_bpd_vdeq_without_a_variational_dequantizer_is_one_error_line(capsys, tmp_path):
  work = tmp_path / 'w'
  refusal.refused(capsys, launch_train.main,
                  ['--config', SMOKE, '--workdir', str(work),
                   "--config.eval.metrics=('bpd', 'bpd_vdeq')"],
                  r"'bpd_vdeq'.*model\.dequantizer\.kind=variational", str(tmp_path))
  assert not work.exists()
