"""The score-SDE family record end to end on tiny shapes (`jaxgen.models.score_sde`).

Facts checked: init gives a pytree; the loss is finite with finite gradients (VP / sub-VP / VE,
continuous and discrete); every sampling method returns ``[n, *shape]`` finite samples and its
NFE, from the section, a dict or a ``DiffusionSampling``; unknown method / solver / grid names are
refused by validation; and ``log_prob`` through the probability-flow ODE equals a closed form
when the network output is 0 (all parameters zeroed): then score = 0, the VP PF-ODE is linear,
``x_T = x_eps exp(-(B(T) - B(eps)) / 2)``, so ``log p(x) = log N(x_T; 0, I) - d (B(T) - B(eps))/2``;
for VE the velocity vanishes and ``log p(x) = log N(x; 0, sigma_max^2 I)`` (tolerance 1e-3 nats,
the adaptive solver's rtol = atol = 1e-5 on a smooth linear ODE).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.diffusion import sampler
from jaxgen.models import score_sde
from jaxgen.ode import solvers
from jaxgen.runtime import config as cfg


def S(model, section):
  """The model's typed settings of a dict of sampling keys (the others: the run's)."""
  return model.sampling_settings(section)


def _config(sde='vpsde', net='score_mlp', continuous=True):
  c = cfg.base('score_sde')
  c.model.sde = sde
  c.model.net = net
  c.model.continuous = continuous
  c.model.num_scales = 50
  c.model.sigma_max = 5.0
  c.model.scale_by_sigma = sde == 'vesde'
  c.model.score_mlp.width = 16
  c.model.score_mlp.num_layers = 1
  c.model.score_mlp.embed_dim = 8
  if sde == 'vesde':
    c.model.score_mlp.embedding_type = 'fourier'
    c.model.unet.embedding_type = 'fourier'
  u = c.model.unet
  u.nf, u.ch_mult, u.num_res_blocks, u.attn_resolutions = 8, (1, 2), 1, (4,)
  u.dropout = 0.1
  c.sampling.steps = 4
  return cfg.validate(c)


SPEC2 = DataSpec(name='toy2d:test', shape=(2,), low=-4.0, high=4.0, num_levels=None,
                 num_classes=None, scale='none')
SPEC_IMG = DataSpec(name='digits', shape=(8, 8, 1), low=-1.0, high=1.0, num_levels=17,
                    num_classes=10, scale='symmetric')


@pytest.mark.parametrize('sde,net,continuous', [
    ('vpsde', 'score_mlp', True), ('subvpsde', 'score_mlp', True), ('vesde', 'score_mlp', True),
    ('vpsde', 'score_mlp', False), ('vesde', 'score_mlp', False),
    pytest.param('vpsde', 'unet', True, marks=pytest.mark.slow),
    pytest.param('vesde', 'unet', True, marks=pytest.mark.slow)])
def test_loss_and_grad_finite(sde, net, continuous):
  config = _config(sde, net, continuous)
  spec = SPEC2 if net == 'score_mlp' else SPEC_IMG
  model = score_sde.build(config, spec)
  x = jax.random.uniform(jax.random.PRNGKey(0), (4,) + spec.shape, minval=-1, maxval=1)
  params = model.init(jax.random.PRNGKey(1), x)
  (value, metrics), grads = jax.jit(jax.value_and_grad(model.loss, has_aux=True))(
      params, {'x': x}, jax.random.PRNGKey(2))
  assert np.isfinite(float(value)) and float(value) > 0
  assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree_util.tree_leaves(grads))
  assert all(np.isfinite(float(v)) for v in metrics.values())


@pytest.mark.parametrize('method,extra,nfe', [
    ('pc', {}, 4 * 2 + 1), ('pc', dict(predictor='ancestral', corrector='none'), 4 + 1),
    ('ode', dict(solver='heun'), 2 * 4 + 1), ('ddim', {}, 4), ('dpm_solver', {}, 12),
    ('dpm_solver', dict(dpm_order=2, grid='log_snr'), 8), ('dpm_solver++2m', {}, 4),
    ('edm', {}, 7)])
def test_sample_methods(method, extra, nfe):
  config = _config('vpsde')
  model = score_sde.build(config, SPEC2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 2)))
  sampling = config.sampling
  sampling.method = method
  sampling.update(extra)
  settings = model.sampling_settings(sampling)
  x, info = jax.jit(lambda p, k: model.sample(p, k, 3, settings))(params, jax.random.PRNGKey(1))
  assert x.shape == (3, 2) and np.isfinite(np.asarray(x)).all()
  assert int(info['nfe']) == nfe


def test_settings_of_a_dict_and_of_the_section_agree_and_label_the_sampler():
  """The settings of a dict of some sampling keys (the others: the run's) give the same samples
  as those of the equivalent section; sampling_label / adaptive_ode read the method and solver;
  a section passed to sample itself is refused (the caller converts it once)."""
  config = _config('vpsde')
  model = score_sde.build(config, SPEC2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 2)))
  section = config.sampling
  section.method, section.solver = 'ode', 'rk4'
  rng = jax.random.PRNGKey(1)
  settings = model.sampling_settings(section)
  assert settings.diffusion == sampler.DiffusionSampling.from_config(section)
  want, info = model.sample(params, rng, 3, settings)
  assert int(info['nfe']) == 4 * 4 + 1
  got, _ = model.sample(params, rng, 3, S(model, {'method': 'ode', 'solver': 'rk4'}))
  np.testing.assert_array_equal(got, want)
  assert model.sampling_label(settings) == 'rk4' and not model.adaptive_ode(settings)
  assert model.sampling_label(S(model, {'method': 'ode', 'solver': 'dopri5'})) == 'dopri5'
  assert model.adaptive_ode(S(model, {'method': 'ode', 'solver': 'dopri5'}))
  assert model.sampling_label(S(model, {'method': 'pc', 'solver': 'dopri5'})) == 'pc'
  assert not model.adaptive_ode(S(model, {'method': 'pc', 'solver': 'dopri5'}))
  with pytest.raises(TypeError, match=r'pass model.sampling_settings\(section\)'):
    model.sample(params, rng, 3, section)


def test_sample_with_a_solver_function_and_a_grid_array():
  """model.sample takes a solver function (SSP-RK3 from its tableau) and a grid array: 3 NFE per
  interval of the array (+1 Tweedie), and the same samples as the named grid it spells out."""
  config = _config('vpsde')
  model = score_sde.build(config, SPEC2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 2)))
  ssp3 = solvers.explicit_rk(a=[[], [1.0], [0.25, 0.25]], b=[1 / 6, 1 / 6, 2 / 3],
                             c=[0.0, 1.0, 0.5])
  ssp3.__name__ = 'ssp3'  # names the sampler (sample files)
  sd = score_sde.make_sde(config.model)
  ts = jnp.linspace(sd.T, sd.eps, 6)
  rng = jax.random.PRNGKey(1)
  settings = S(model, {'method': 'ode', 'solver': ssp3, 'grid': ts})
  x, info = jax.jit(lambda p: model.sample(p, rng, 3, settings))(params)
  assert int(info['nfe']) == 3 * 5 + 1
  want, _ = model.sample(params, rng, 3, S(model, {'method': 'ode', 'solver': ssp3, 'steps': 5}))
  np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-6)
  assert model.sampling_label(S(model, {'method': 'ode', 'solver': ssp3})) == 'ssp3'


@pytest.mark.parametrize('key,value', [
    ('sampling.method', 'dpm'), ('sampling.solver', 'rk5'), ('sampling.grid', 'cosine'),
    ('likelihood.solver', 'rk5'), ('likelihood.grid', 'cosine'), ('sampling.dpm_order', 0),
    ('likelihood.probes', -1), ('likelihood.eps', 0.0), ('likelihood.elbo_draws', 0)])
def test_validation_refuses_unknown_names(key, value):
  c = cfg.base('score_sde')
  section, name = key.split('.')
  c[section][name] = value
  with pytest.raises(cfg.ConfigError, match=key):
    cfg.validate(c)


@pytest.mark.slow
def test_sample_image_and_extras():
  """Image-shaped PC sampling, inpainting keeps observed pixels, Tweedie denoiser shape."""
  config = _config('vesde', 'unet')
  model = score_sde.build(config, SPEC_IMG)
  x = jax.random.uniform(jax.random.PRNGKey(0), (2, 8, 8, 1))
  params = model.init(jax.random.PRNGKey(1), x)
  settings = model.sampling_settings(config.sampling)
  s, info = model.sample(params, jax.random.PRNGKey(2), 2, settings)
  assert s.shape == (2, 8, 8, 1) and np.isfinite(np.asarray(s)).all() and info['nfe'] == 9
  mask = jnp.zeros((8, 8, 1)).at[:4].set(1.0)
  y, _ = model.extras['inpaint'](params, jax.random.PRNGKey(3), x, mask, settings)
  np.testing.assert_array_equal(np.asarray(y[:, :4]), np.asarray(x[:, :4]))
  assert model.extras['denoise'](params, 0.5, x).shape == x.shape
  assert model.extras['score'](params, jnp.full((2,), 0.5), x).shape == x.shape


@pytest.mark.parametrize('sde,likelihood', [
    ('vpsde', None), ('vesde', None), ('vpsde', {'solver': 'rk4', 'steps': 64, 'eps': 1e-3}),
    ('vpsde', solvers.SolverSpec(solver='rk4', steps=64))])
def test_log_prob_closed_form_at_zero_network(sde, likelihood):
  """Also with a likelihood override: a dict (its eps used) or a SolverSpec (the run's eps);
  RK4 with 64 steps on this linear ODE is within the same 1e-3 nats."""
  config = _config(sde)
  model = score_sde.build(config, SPEC2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 2)))
  params = jax.tree_util.tree_map(jnp.zeros_like, params)
  x = jnp.array([[0.3, -1.2], [2.0, 0.5], [-0.7, 0.1]])
  logp = np.asarray(jax.jit(lambda p, b, r: model.log_prob(p, b, r, likelihood))(
      params, {'x': x}, jax.random.PRNGKey(1)))
  sd = score_sde.make_sde(config.model)
  eps, d = config.likelihood.eps, 2
  if isinstance(likelihood, dict):
    eps = likelihood['eps']
  if sde == 'vpsde':
    db = float(sd.int_beta(1.0) - sd.int_beta(eps))
    z = np.asarray(x) * np.exp(-db / 2)
    expected = -0.5 * (z**2).sum(1) - d / 2 * np.log(2 * np.pi) - d * db / 2
  else:
    s = config.model.sigma_max
    expected = -0.5 * (np.asarray(x)**2).sum(1) / s**2 - d / 2 * np.log(2 * np.pi * s**2)
  np.testing.assert_allclose(logp, expected, atol=1e-3)


def test_sample_with_a_bare_solver_spec_is_the_probability_flow_ode():
  """model.sample(params, rng, n, SolverSpec(SSP-RK3 function, grid array)): the PF-ODE on that
  array (3 NFE per interval + 1 Tweedie, the run's denoise), the same samples as the dict naming
  method 'ode' with the same solver and grid."""
  config = _config('vpsde')
  model = score_sde.build(config, SPEC2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 2)))
  ssp3 = solvers.explicit_rk(a=[[], [1.0], [0.25, 0.25]], b=[1 / 6, 1 / 6, 2 / 3],
                             c=[0.0, 1.0, 0.5])
  sd = score_sde.make_sde(config.model)
  spec = solvers.SolverSpec(solver=ssp3, grid=np.linspace(sd.T, sd.eps, 6))
  rng = jax.random.PRNGKey(1)
  x, info = jax.jit(lambda p: model.sample(p, rng, 3, spec))(params)
  assert int(info['nfe']) == 3 * 5 + 1
  want, _ = model.sample(params, rng, 3, S(model, {'method': 'ode', 'solver': ssp3,
                                                  'grid': spec.grid}))
  np.testing.assert_allclose(x, want, rtol=1e-6, atol=1e-6)
  assert model.sampling_label(spec) == 'custom' and not model.adaptive_ode(spec)


def test_the_family_default_grid_is_each_methods_own():
  """The run's sampling.grid is 'default' (validated): dpm_solver runs on log_snr (the same
  samples as grid='log_snr'), ddim and ode on uniform."""
  config = _config('vpsde')
  assert config.sampling.grid == 'default'
  model = score_sde.build(config, SPEC2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((2, 2)))
  rng = jax.random.PRNGKey(1)
  for method, own in [('dpm_solver', 'log_snr'), ('ddim', 'uniform'), ('ode', 'uniform')]:
    got, _ = model.sample(params, rng, 3, S(model, {'method': method}))
    want, _ = model.sample(params, rng, 3, S(model, {'method': method, 'grid': own}))
    np.testing.assert_array_equal(got, want)
  other, _ = model.sample(params, rng, 3, S(model, {'method': 'dpm_solver', 'grid': 'uniform'}))
  dpm, _ = model.sample(params, rng, 3, S(model, {'method': 'dpm_solver'}))
  assert float(jnp.max(jnp.abs(other - dpm))) > 0
