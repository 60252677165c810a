"""Class-conditional score SDEs and rectified flows: labels, label dropout, guidance, the CLI.

Facts checked:
  * label dropout (`jaxgen.diffusion.classifier_free.drop_labels`): p_uncond = 0 never feeds the
    null label K, p = 1 always does, p = 0.1 drops a Binomial(n, p) count (|count - n p| < 5 sqrt(n
    p (1 - p)));
  * the families' losses are the unconditional losses at the dropped labels, bitwise (same key);
  * the null label's DSM minimiser is the mixture's (marginal) score: with the classes the
    components of a Gaussian mixture, along the line s_theta = s_mix + theta (s_0 - s_mix)
    (s_0: component 0's score) the expected DSM loss at the null label, a quadratic in theta, is
    minimised at theta* = 0; the Monte Carlo minimiser from n examples has standard error
    se = std(per-example gradient) / (sqrt(n) * mean curvature), and |theta_hat| < 5 se, while at
    a class label k = 0 the minimiser on the same line is theta* = 1 (the component's score);
  * sampling: ``info['label']`` is the layout of sampling.label, guidance doubles the NFE and
    changes the samples, ``log_prob`` reads batch['label'] (w = 0 = the conditional sampler,
    bitwise: tests/diffusion/test_classifier_free.py);
  * validation refuses bad combinations with one message naming the key; the CLI trains a tiny
    conditional digits model, samples one row per class and label 3 with guidance 2, and refuses
    bad inputs with one ``error:`` line, exit 2, nothing written.
"""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.diffusion import classifier_free
from jaxgen.diffusion import sde as sde_lib
from tests.distributions import gmm
from jaxgen.models import rectified_flow, score_sde
from jaxgen.runtime import config as cfg
from jaxgen.runtime import viz
from launch import sample as launch_sample
from launch import train as launch_train
from tests.refusal import refused, snapshot

K = 3
SPEC = DataSpec(name='labelled2d', shape=(2,), low=-4.0, high=4.0, num_levels=None,
                num_classes=K, scale='none')


def _config(family, **keys):
  c = cfg.base(family)
  c.data.name = 'digits'   # a labelled source (validation refuses toy2d with classes)
  c.model.net = 'score_mlp'
  m = c.model.score_mlp
  m.width, m.num_layers, m.embed_dim = 16, 1, 8
  c.model.num_classes = K
  c.sampling.steps = 3
  for k, v in keys.items():
    section, key = k.split('__')
    c[section][key] = v
  return cfg.validate(c)


def _batch(n=64):
  x = jax.random.normal(jax.random.PRNGKey(0), (n, 2))
  return {'x': x, 'label': jnp.arange(n, dtype=jnp.int32) % K}


def test_drop_labels_counts():
  n = 100_000
  y = jnp.arange(n, dtype=jnp.int32) % K
  key = jax.random.PRNGKey(5)
  np.testing.assert_array_equal(classifier_free.drop_labels(key, y, 0.0, K), y)
  assert int(jnp.sum(classifier_free.drop_labels(key, y, 1.0, K) == K)) == n
  dropped = classifier_free.drop_labels(key, y, 0.1, K)
  count = int(jnp.sum(dropped == K))
  assert abs(count - 0.1 * n) < 5 * np.sqrt(n * 0.1 * 0.9), count
  kept = dropped != K
  np.testing.assert_array_equal(dropped[kept], y[kept])   # kept labels are unchanged


@pytest.mark.parametrize('family', ['score_sde', 'rectified_flow'])
def test_loss_is_the_loss_at_the_dropped_labels(family):
  """loss(p) = loss(p = 0) at drop_labels' labels (the family's key split), bitwise; p = 1 is the
  loss with every label null."""
  module = {'score_sde': score_sde, 'rectified_flow': rectified_flow}[family]
  m_p = module.build(_config(family, loss__p_uncond=0.5), SPEC)
  m_0 = module.build(_config(family), SPEC)
  c1 = _config(family)
  c1.loss.p_uncond = 1.0     # outside the validated range [0, 1), fine for the function
  m_1 = module.build(c1, SPEC)
  batch, rng = _batch(), jax.random.PRNGKey(1)
  params = m_0.init(jax.random.PRNGKey(2), batch['x'])
  k_drop = jax.random.split(rng)[1]
  if family == 'rectified_flow':
    k_drop = jax.random.split(k_drop)[1]
  dropped = classifier_free.drop_labels(k_drop, batch['label'], 0.5, K)
  assert 0 < int(jnp.sum(dropped == K)) < 64
  a = m_p.loss(params, batch, rng, train=False)[0]
  b = m_0.loss(params, {**batch, 'label': dropped}, rng, train=False)[0]
  assert float(a) == float(b)
  nulls = {**batch, 'label': jnp.full((64,), K, jnp.int32)}
  assert float(m_1.loss(params, batch, rng, train=False)[0]) == float(
      m_0.loss(params, nulls, rng, train=False)[0])
  assert float(m_0.loss(params, batch, rng, train=False)[0]) != float(b)


def test_null_label_dsm_minimiser_is_the_mixture_score():
  """Label dropout sends examples of every class to the null label, so its DSM regression target
  is the marginal (mixture) score (module docstring: theta_hat ~ 0 at the null label, ~ 1 at a
  class label, with n-derived standard errors)."""
  mix, sde, n = gmm.example_2d(), sde_lib.VPSDE(), 50_000
  rc, rt, rz, rd = jax.random.split(jax.random.PRNGKey(0), 4)
  comp = jax.random.categorical(rc, jnp.log(mix.weights), shape=(n,))
  chol = jnp.linalg.cholesky(mix.covs)
  x0 = mix.means[comp] + jnp.einsum('nij,nj->ni', chol[comp],
                                    jax.random.normal(rd, (n, 2)))
  y = classifier_free.drop_labels(jax.random.PRNGKey(9), comp.astype(jnp.int32), 0.5, K)
  t = jax.random.uniform(rt, (n,), minval=0.05, maxval=1.0)
  z = jax.random.normal(rz, (n, 2))
  a, s = sde.alpha(t), sde.sigma(t)
  xt = a[:, None] * x0 + s[:, None] * z
  s_mix = gmm.diffused_score(mix, a, s, xt)
  c0 = gmm.GaussianMixture(mix.weights[:1] / mix.weights[0], mix.means[:1], mix.covs[:1])
  s_0 = gmm.diffused_score(c0, a, s, xt)
  h = s_0 - s_mix

  def theta_hat(sel):
    # per-example loss ||s (s_mix + theta h) + z||^2: d/dtheta = 2 s h . (s s_mix + z) + 2 theta s^2 h^2
    g = jnp.sum(s[:, None] * h * (s[:, None] * s_mix + z), -1)[sel]
    curv = jnp.sum((s[:, None] * h) ** 2, -1)[sel]
    m = int(jnp.sum(sel))
    return float(-g.mean() / curv.mean()), float(g.std() / np.sqrt(m) / curv.mean())

  th_null, se_null = theta_hat(y == K)
  assert abs(th_null) < 5 * se_null, (th_null, se_null)
  th_0, se_0 = theta_hat(y == 0)
  assert abs(th_0 - 1.0) < 5 * se_0 and se_0 < 0.1, (th_0, se_0)


@pytest.mark.parametrize('family', ['score_sde', 'rectified_flow'])
def test_sampling_labels_guidance_and_log_prob(family):
  module = {'score_sde': score_sde, 'rectified_flow': rectified_flow}[family]
  config = _config(family, loss__p_uncond=0.1, likelihood__solver='euler',
                   likelihood__steps=4)
  if family == 'score_sde':
    config.sampling.corrector = 'none'
  model = module.build(config, SPEC)
  params = model.init(jax.random.PRNGKey(0), _batch()['x'])
  rng = jax.random.PRNGKey(1)
  settings = model.sampling_settings(config.sampling)
  x, info = jax.jit(lambda r: model.sample(params, r, 6, settings))(rng)
  np.testing.assert_array_equal(info['label'], [0, 0, 1, 1, 2, 2])
  w0 = model.sampling_settings({'guidance': 0.0, 'label': 1})
  w2 = model.sampling_settings({'guidance': 2.0, 'label': 1})
  x0, info0 = model.sample(params, rng, 6, w0)
  x2, info2 = model.sample(params, rng, 6, w2)
  np.testing.assert_array_equal(info0['label'], [1] * 6)
  assert int(info2['nfe']) == 2 * int(info0['nfe']) > 0
  assert not np.allclose(x0, x2)
  name = model.sampling_label(w2)
  assert name.endswith('_label1_w2') and model.sampling_label(settings).endswith('_all')
  # log p(x | label) reads batch['label'] and depends on it.
  b = {'x': x0[:2], 'label': jnp.array([0, 0], jnp.int32)}
  lp_a = model.log_prob(params, b, rng)
  lp_b = model.log_prob(params, {**b, 'label': jnp.array([2, 2], jnp.int32)}, rng)
  assert lp_a.shape == (2,) and np.all(np.isfinite(lp_a)) and not np.allclose(lp_a, lp_b)
  with pytest.raises(ValueError, match=r"needs batch\['label'\]"):
    model.log_prob(params, {'x': x0[:2]}, rng)


@pytest.mark.parametrize('family', ['score_sde', 'rectified_flow'])
@pytest.mark.parametrize('keys,pattern', [
    (dict(model__num_classes=0, loss__p_uncond=0.1), r'config\.loss\.p_uncond=0\.1 .*num_classes'),
    (dict(model__num_classes=0, sampling__guidance=2.0),
     r'config\.sampling\.guidance=2 needs a class-conditional model'),
    (dict(sampling__guidance=2.0), r'config\.sampling\.guidance=2 .*loss\.p_uncond=0'),
    (dict(sampling__label=3), r'config\.sampling\.label=3 must be -1 .*0\.\.2'),
    (dict(model__num_classes=0, sampling__label=0), r'config\.sampling\.label=0 must be -1'),
    (dict(loss__p_uncond=1.0), r'config\.loss\.p_uncond=1\.0 is out of range'),
    (dict(sampling__guidance_tmin=0.6, sampling__guidance_tmax=0.4, sampling__guidance=1.0,
          loss__p_uncond=0.1), r'config\.sampling\.guidance_tmin=0\.6 must be below'),
])
def test_validation_refuses(family, keys, pattern):
  with pytest.raises(cfg.ConfigError, match=pattern):
    _config(family, **keys)


def test_net_num_classes_is_set_from_model_num_classes():
  c = cfg.base('score_sde')
  c.data.name = 'digits'
  c.model.unet.num_classes = 10
  with pytest.raises(cfg.ConfigError, match=r'config\.model\.unet\.num_classes=10 is set from '
                     r'config\.model\.num_classes.*--config\.model\.num_classes=10'):
    cfg.validate(c)
  c.model.num_classes = 10    # the same value twice is harmless
  cfg.validate(c)
  c.data.name = 'toy2d:moons'
  with pytest.raises(cfg.ConfigError, match=r"num_classes=10 needs labelled data.*'toy2d:moons'"):
    cfg.validate(c)


def test_data_spec_mismatch_is_refused_when_built():
  with pytest.raises(ValueError, match=r'model\.num_classes=3 but labelled2d has 5 classes'):
    score_sde.build(_config('score_sde'), dataclasses.replace(SPEC, num_classes=5))
  with pytest.raises(ValueError, match=r'model\.num_classes=3 needs labelled data'):
    rectified_flow.build(_config('rectified_flow'), dataclasses.replace(SPEC, num_classes=None))


def test_class_rows_grid():
  """One row per class in label order, rows padded white; a single class keeps the square grid."""
  imgs = np.stack([np.full((2, 2, 1), i, np.uint8) for i in range(5)])
  cells, ncol = viz.class_rows(imgs, np.array([1, 0, 1, 2, 1]))
  assert ncol == 3 and cells.shape == (9, 2, 2, 1)
  np.testing.assert_array_equal(cells[:, 0, 0, 0], [1, 255, 255, 0, 2, 4, 3, 255, 255])
  assert viz.class_rows(imgs, np.zeros(5))[1] is None


# --- the CLI -----------------------------------------------------------------------------------

SMOKE = 'experiments/score_sde/digits.py:smoke'
FAST = ['--config.train.steps=2', '--config.sampling.steps=2', "--config.eval.metrics=('loss',)",
        '--config.sampling.num_samples=10', '--config.eval.num_samples=10']


def test_cli_bad_inputs_before_writing(capsys, tmp_path):
  w = str(tmp_path / 'run')
  for flags, pattern in [
      (['--config.model.unet.num_classes=10'],
       r'config\.model\.unet\.num_classes=10 is set from config\.model\.num_classes'),
      (['--config.model.num_classes=10', '--config.sampling.label=10'],
       r'config\.sampling\.label=10 must be -1'),
      (['--config.sampling.guidance=2.0'], r'config\.sampling\.guidance=2 needs a class-cond'),
      (['--config.model.num_classes=4'], r'config\.model\.num_classes=4 but digits has 10'),
  ]:
    refused(capsys, launch_train.main, ['--config', SMOKE, '--workdir', w] + FAST + flags,
            pattern, str(tmp_path))
    assert not os.path.exists(w)
  refused(capsys, launch_train.main,
          ['--config', 'experiments/score_sde/toy2d.py:smoke', '--workdir', w,
           '--config.model.num_classes=2'], r"needs labelled data.*'toy2d:", str(tmp_path))


@pytest.mark.slow
def test_cli_train_and_sample_per_class(capsys, tmp_path):
  """Trains a tiny conditional digits model (2 steps), samples one row per class (label -1) and
  label 3 with guidance 2; a label outside the model's classes is one error line, nothing written."""
  w = str(tmp_path / 'run')
  assert launch_train.main(['--config', SMOKE, '--workdir', w, '--config.model.num_classes=10',
                            '--config.loss.p_uncond=0.1'] + FAST) == 0
  with open(os.path.join(w, 'config.json')) as f:
    stored = json.load(f)
  assert stored['model']['num_classes'] == 10 and stored['loss']['p_uncond'] == 0.1
  step = np.load(os.path.join(w, 'samples', 'step_2.npz'))
  np.testing.assert_array_equal(step['label'], np.arange(10))      # one row per class
  assert launch_sample.main(['--workdir', w, '--config.sampling.label=3',
                             '--config.sampling.guidance=2.0']) == 0
  out = np.load(os.path.join(w, 'samples', 'sample_2_pc_label3_w2.npz'))
  np.testing.assert_array_equal(out['label'], [3] * 10)
  assert int(out['nfe']) == 2 * int(step['nfe'])
  with open(os.path.join(w, 'samples', 'sample_2_pc_label3_w2.png'), 'rb') as f:
    assert b'Title\x00score_sde step 2' in f.read()
  capsys.readouterr()
  refused(capsys, launch_sample.main, ['--workdir', w, '--config.sampling.label=10'],
          r'config\.sampling\.label=10 must be -1 .*0\.\.9', w)
  assert snapshot(w)  # the run is still there
