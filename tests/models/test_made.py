"""The MADE family as a Model: exactly normalised (single masks, ensembles, NADE), autoregressive
in every mask's ordering, sampled exactly, and refusing configs it cannot run in one line."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import made
from jaxgen.runtime import config as cfg
from launch import train as launch_train
from tests.refusal import refused


def _config(**model):
  c = cfg.base('made')
  c.data.name = 'digits'
  c.model.hidden = (10, 8)
  c.model.update(model)
  return cfg.validate(c)


def _spec(n, k, scale='levels'):
  low, high = {'levels': (0.0, k - 1.0), 'unit': (0.0, 1.0)}[scale]
  return DataSpec('synthetic', (n,), low, high, k, None, scale)


def _model(config, spec, seed=0):
  """The model and parameters moved well away from the near-uniform init."""
  model = made.build(config, spec)
  params = model.init(jax.random.PRNGKey(seed), jnp.zeros((2, *spec.shape)))
  params = jax.tree.map(
      lambda p: p + 0.7 * jax.random.normal(jax.random.PRNGKey(seed + 1), p.shape), params)
  return model, params


def _all(spec):
  k = spec.num_levels
  grid = np.array(list(itertools.product(range(k), repeat=spec.dim)), np.float32)
  return jnp.asarray(spec.low + grid * (spec.high - spec.low) / (k - 1))


@pytest.mark.parametrize('model_keys,n,k', [
    (dict(), 10, 2),                                                       # natural order
    (dict(num_masks=4, eval_masks=4, order_agnostic=True), 10, 2),         # ensemble
    (dict(num_masks=2, eval_masks=2, direct=False), 12, 2),                # connectivity only
    (dict(net='nade', hidden=(6,)), 10, 2),
    (dict(num_masks=3, eval_masks=3, order_agnostic=True), 4, 3),          # categorical, K = 3
    (dict(net='nade', hidden=(6,)), 4, 3),
])
def test_probabilities_of_all_vectors_sum_to_one(model_keys, n, k):
  """sum over every x in {0..K-1}^n of exp(log_prob) = 1: 2^10, 2^12 binary and 3^4 vectors."""
  spec = _spec(n, k, 'unit' if k == 2 else 'levels')
  model, params = _model(_config(**model_keys), spec)
  lp = model.log_prob(params, {'x': _all(spec)}, None)
  assert lp.shape == (k ** n,)
  np.testing.assert_allclose(float(jnp.exp(lp).sum()), 1.0, atol=2e-5)


def test_every_mask_of_the_ensemble_is_autoregressive_in_its_ordering():
  """For each of 4 order-agnostic masks: output o(t) has zero Jacobian w.r.t. inputs o(t..D-1)
  and a non-zero one w.r.t. every earlier input (direct connection); the orders differ."""
  spec = _spec(6, 2)
  model, params = _model(_config(num_masks=4, eval_masks=4, order_agnostic=True), spec)
  u = jax.random.uniform(jax.random.PRNGKey(3), (6,))
  orders = []
  for i in range(4):
    order = np.asarray(model.extras['order'](i))
    orders.append(tuple(order))
    jac = jax.jacfwd(lambda v: model.extras['logits'](params, v[None], i)[0, :, 0])(u)
    jac = np.abs(np.asarray(jac))
    for t, d in enumerate(order):
      assert np.all(jac[d, order[t:]] == 0), (i, t)
      assert np.all(jac[d, order[:t]] > 0), (i, t)
  assert len(set(orders)) > 1


def test_ensemble_log_prob_is_the_log_mean_of_the_mask_probabilities():
  """log P_ens = log( (1/E) sum_i P_i ): the probabilities are averaged, not the log-likelihoods."""
  spec = _spec(9, 2)
  model, params = _model(_config(num_masks=5, eval_masks=3, order_agnostic=True), spec)
  x = jnp.round(jax.random.uniform(jax.random.PRNGKey(4), (6, 9)))
  per_mask = np.stack([np.asarray(model.extras['log_prob_mask'](params, {'x': x}, i),
                                  np.float64) for i in range(3)])
  expected = np.log(np.exp(per_mask).mean(0))
  np.testing.assert_allclose(model.log_prob(params, {'x': x}, None), expected, rtol=1e-5)
  assert np.abs(per_mask - per_mask[0]).max() > 1e-3      # the masks do disagree


def test_loss_trains_one_mask_per_minibatch_and_reports_nats_and_bits():
  spec = _spec(9, 2)
  config = _config(num_masks=3, order_agnostic=True)
  model, params = _model(config, spec)
  x = jnp.round(jax.random.uniform(jax.random.PRNGKey(5), (6, 9)))
  per_mask = [float(-model.extras['log_prob_mask'](params, {'x': x}, i).mean()) for i in range(3)]
  seen = set()
  for s in range(12):
    loss, metrics = model.loss(params, {'x': x}, jax.random.PRNGKey(s))
    j = int(np.argmin([abs(float(metrics['nll_nats']) - v) for v in per_mask]))
    np.testing.assert_allclose(metrics['nll_nats'], per_mask[j], rtol=1e-5)
    np.testing.assert_allclose(loss, per_mask[j] / 9, rtol=1e-5)        # per_dim
    np.testing.assert_allclose(metrics['bpd'], per_mask[j] / (9 * np.log(2)), rtol=1e-5)
    seen.add(j)
  assert seen == {0, 1, 2}


@pytest.mark.parametrize('model_keys,k', [
    (dict(num_masks=2, eval_masks=2, order_agnostic=True), 2),
    (dict(net='nade', hidden=(6,)), 3),
])
def test_samples_follow_the_exact_distribution(model_keys, k):
  """Frequencies of 20000 jitted ancestral draws of a random model match exp(log_prob) of every
  vector within 4 standard errors (the ensemble: a draw from the mixture of its masks)."""
  n_draws = 20000
  spec = _spec(4, k)
  config = _config(**model_keys)
  model, params = _model(config, spec, seed=7)
  p = np.exp(np.asarray(model.log_prob(params, {'x': _all(spec)}, None), np.float64))
  settings = model.sampling_settings(config.sampling)
  samples, info = jax.jit(lambda r: model.sample(params, r, n_draws, settings))(
      jax.random.PRNGKey(8))
  assert samples.shape == (n_draws, 4) and int(info['nfe']) == 4
  codes = np.asarray(samples).astype(int) @ (k ** np.arange(4)[::-1])
  freq = np.bincount(codes, minlength=k ** 4) / n_draws
  np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n_draws).max() + 1e-3)


def test_samples_come_back_in_the_data_space_and_shape():
  spec = DataSpec('img', (2, 3, 1), -1.0, 1.0, 2, None, 'symmetric')
  config = _config()
  model, params = _model(config, spec)
  s, _ = model.sample(params, jax.random.PRNGKey(0), 3, model.sampling_settings({'masks': 1}))
  assert s.shape == (3, 2, 3, 1) and set(np.unique(np.asarray(s))) <= {-1.0, 1.0}


def test_build_rejects_data_it_cannot_model():
  config = _config()
  with pytest.raises(ValueError, match='continuous'):
    made.build(config, DataSpec('toy2d:moons', (2,), -4.0, 4.0, None, None, 'none'))
  with pytest.raises(ValueError, match='dequantize'):
    made.build(config, DataSpec('x', (4, 4, 1), 0.0, 1.0, 256, None, 'unit', True))
  with pytest.raises(ValueError, match=r"output='bernoulli' needs binary data"):
    made.build(_config(output='bernoulli'), _spec(4, 17))


@pytest.mark.parametrize('keys,pattern', [
    ({'model.eval_masks': 4}, r'config\.model\.eval_masks=4 .*<= model\.num_masks=1'),
    ({'sampling.masks': 2}, r'config\.sampling\.masks=2 .*<= model\.num_masks=1'),
    ({'model.net': 'nade', 'model.num_masks': 2}, r'config\.model\.net=nade .*num_masks=1'),
    ({'model.net': 'nade', 'model.hidden': (8, 8)}, r'config\.model\.hidden=\(8, 8\).*one hidden'),
    ({'model.hidden': ()}, r'config\.model\.hidden=\(\) is out of range'),
])
def test_a_bad_config_is_one_error_line(keys, pattern, tmp_path, capsys):
  """launch.train refuses it before writing: exit 2, one `error:` line naming the key."""
  argv = ['--config', 'experiments/made/digits_binary.py:smoke', '--workdir',
          str(tmp_path / 'w')]
  argv += [f'--config.{k}={v}' for k, v in keys.items()]
  refused(capsys, launch_train.main, argv, pattern, tmp_path)
