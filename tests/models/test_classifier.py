"""The 'classifier' family (a noise-conditional p_t(y | x(t))) and its accuracy evaluator.

Facts checked: the network's time input is the score-SDE family's label (VP: t * 999, VE:
sigma(t)); 'log_prob_y' is a normalised log-posterior; the loss falls on a separable toy and the
trained classifier is right on clean data; the accuracy evaluator averages the real examples of
a padded split (a hand-made classifier whose logits we control); label-less data is refused at
validation in one line, before anything is written. (The family training through launch.train
is tests/tools/test_classifier_run.py's fixture and tests/experiments' smoke of
experiments/classifier/*.py.)
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen.data.source import DataSpec
from jaxgen.diffusion import sde as sde_lib
from jaxgen.models import classifier
from jaxgen.runtime import config as cfg
from jaxgen.runtime import parallel
from jaxgen.runtime.evaluators import classification
from launch import train as launch_train

SPEC = DataSpec(name='blobs', shape=(2,), low=-4.0, high=4.0, num_levels=None, num_classes=2,
                scale='none')


def _config(noise='vpsde'):
  c = cfg.base('classifier')
  c.model.noise = noise
  c.model.classifier.nf, c.model.classifier.ch_mult = 16, (1,)
  c.model.classifier.init_scale = 0.0   # logits ~ 0 at init: the loss starts at log K
  return c


def _blobs(rng, n):
  """Two separable classes: N(+-(2, 2), 0.3^2 I), label 1 for the positive one."""
  ry, rz = jax.random.split(rng)
  y = jax.random.bernoulli(ry, 0.5, (n,)).astype(jnp.int32)
  x = (2.0 * y - 1.0)[:, None] * 2.0 + 0.3 * jax.random.normal(rz, (n, 2))
  return {'x': x, 'label': y}


def test_time_label_is_the_score_sde_familys():
  t = jnp.array([1e-5, 0.5, 1.0])
  np.testing.assert_allclose(classifier.time_label(sde_lib.VPSDE(), t), t * 999.0)
  np.testing.assert_allclose(classifier.time_label(sde_lib.SubVPSDE(), t), t * 999.0)
  ve = sde_lib.VESDE(sigma_min=0.01, sigma_max=50.0)
  np.testing.assert_allclose(classifier.time_label(ve, t), 0.01 * 5000.0**t, rtol=1e-5)
  assert classifier.make_noise(_config('none').model) is None


@pytest.mark.parametrize('noise', ['vpsde', 'vesde', 'none'])
def test_log_prob_y_is_a_normalised_log_posterior(noise):
  model = classifier.build(_config(noise), SPEC)
  b = _blobs(jax.random.PRNGKey(0), 8)
  params = model.init(jax.random.PRNGKey(1), b['x'])
  t = jnp.full((8,), 0.3)
  total = sum(jnp.exp(model.extras['log_prob_y'](params, t, b['x'], jnp.full((8,), k)))
              for k in range(2))
  np.testing.assert_allclose(total, 1.0, rtol=1e-5)
  logits = model.extras['logits'](params, t, b['x'])
  np.testing.assert_allclose(model.extras['log_prob_y'](params, t, b['x'], b['label']),
                             jax.nn.log_softmax(logits)[jnp.arange(8), b['label']], rtol=1e-5)
  names = set(model.extras['correct'](params, b, jax.random.PRNGKey(2)))
  want = {'accuracy'} | (set() if noise == 'none' else
                         {f'accuracy_t{t:g}' for t in classifier.EVAL_TIMES})
  assert names == want
  assert model.sample is None


def test_loss_decreases_on_a_separable_toy():
  """100 Adam steps: the cross-entropy (noise-averaged, t ~ U(eps, 1)) falls by > 0.15 nats from
  ~log 2, and the clean-data (t = eps) accuracy on fresh examples is > 0.97 (the blobs are 13
  standard deviations apart)."""
  model = classifier.build(_config('vpsde'), SPEC)
  params = model.init(jax.random.PRNGKey(0), _blobs(jax.random.PRNGKey(1), 8)['x'])
  tx = optax.adam(1e-2)
  test = _blobs(jax.random.PRNGKey(99), 512)

  def eval_loss(p):
    return model.loss(p, test, jax.random.PRNGKey(5), train=False)[0]

  @jax.jit
  def train(params):
    def step(carry, i):
      p, o = carry
      b = _blobs(jax.random.fold_in(jax.random.PRNGKey(2), i), 128)
      g = jax.grad(lambda q: model.loss(q, b, jax.random.fold_in(jax.random.PRNGKey(3), i))[0])(p)
      u, o = tx.update(g, o, p)
      return (optax.apply_updates(p, u), o), None
    (p, _), _ = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(100))
    return p, eval_loss(params), eval_loss(p), model.extras['correct'](p, test,
                                                                      jax.random.PRNGKey(6))

  _, before, after, correct = train(params)
  assert abs(float(before) - np.log(2)) < 1e-3, before
  assert float(after) < float(before) - 0.15, (before, after)
  assert float(jnp.mean(correct['accuracy'])) > 0.97, correct['accuracy'].mean()


def test_accuracy_evaluator_on_a_hand_made_classifier():
  """A classifier whose logits we control (predicts class 1 iff x[:, 0] > 0) on 13 examples in
  two batches of 8 (3 padded rows, which it gets 'right' and must not count): 9 of the 13 real
  ones are right at level 'accuracy', all 13 at 'accuracy_t0.5'."""
  mesh = parallel.make_mesh(0)
  x0 = np.array([1, 1, 1, 1, 1, -1, -1, -1, -1, 1, 1, -1, -1, 0, 0, 0], np.float32)
  y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 9, 9, 9], np.int32)   # 4 wrong (9..12)
  mask = np.arange(16) < 13

  def batches(draw):
    for i in range(2):
      s = slice(8 * i, 8 * i + 8)
      yield parallel.shard_batch({'x': np.stack([x0[s], x0[s]], -1), 'label': y[s],
                                  'mask': mask[s]}, mesh)

  def correct_fn(params, batch, rng):
    logits = jnp.stack([-batch['x'][:, 0], batch['x'][:, 0]], -1) * params
    hit = (jnp.argmax(logits, -1) == batch['label']).astype(jnp.float32)
    return {'accuracy': jnp.where(batch['label'] == 9, 1.0, hit),
            'accuracy_t0.5': jnp.ones_like(hit)}

  ev = classification.Evaluator(('accuracy',), correct_fn, batches, mesh)
  out = ev.run(jnp.float32(1.0), jax.random.PRNGKey(0))
  assert out == {'eval/accuracy': pytest.approx(9 / 13), 'eval/accuracy_t0.5': 1.0}
  with pytest.raises(cfg.ConfigError, match='is no classifier'):
    classification.Evaluator(('accuracy',), None, batches, mesh)


def test_label_less_data_is_refused_at_validation(tmp_path, capsys):
  c = cfg.load('experiments/classifier/digits.py:smoke')
  c.data.name = 'toy2d:moons'
  with pytest.raises(cfg.ConfigError, match=r"config.data.name='toy2d:moons' has no labels"):
    cfg.validate(c)
  w = str(tmp_path / 'w')
  assert launch_train.main(['--config', 'experiments/classifier/digits.py:smoke', '--workdir', w,
                            '--config.data.name=toy2d:moons']) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: ') and 'has no labels' in err[0], err
  assert not os.path.exists(w)
  with pytest.raises(ValueError, match='has no labels'):
    classifier.build(_config(), DataSpec('x', (2,), 0.0, 1.0, None, None, 'none'))
