"""Autoguidance (`jaxgen.models.autoguide`): with the exact scores of two Gaussians the guided
score is ``guide + w (main - guide)``, also through the family's sampler extra; weight 1 is the
main model alone; it excludes classifier-free and classifier guidance at validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.models import autoguide
from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides
from tests.conftest import tiny_config


def _gaussian_score(mean, var):
  return lambda t, x: -(x - mean) / var


@pytest.mark.parametrize('w', [0.5, 2.0, 3.0])
def test_guided_score_of_two_gaussians_is_the_formula(w):
  main, guide = _gaussian_score(1.0, 0.5), _gaussian_score(0.0, 2.0)
  x = jnp.linspace(-3.0, 3.0, 13).reshape(13, 1)
  got = autoguide.guided(main, guide, w)(jnp.float32(0.3), x)
  want = -(x - 0.0) / 2.0 + w * (-(x - 1.0) / 0.5 + x / 2.0)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  # the paper's form is the score of a Gaussian: precision guide + w (main - guide)
  prec = 1 / 2.0 + w * (1 / 0.5 - 1 / 2.0)
  np.testing.assert_allclose(got, -(prec * x - w * 1.0 / 0.5), rtol=1e-5, atol=1e-6)
  assert autoguide.nfe_factor(w) == 2


def test_weight_one_is_the_main_model():
  main = _gaussian_score(1.0, 0.5)
  assert autoguide.guided(main, _gaussian_score(0.0, 2.0), 1.0) is main
  assert autoguide.nfe_factor(1.0) == 1


def test_family_sampler_uses_the_guided_velocity():
  """rectified_flow's sample_autoguided with a guide that is the main net minus a constant c
  draws what the ODE of v + (w - 1) c draws from the same noise, at twice the NFE; a guide equal
  to the main net draws the unguided samples."""
  from jaxgen.ode import flow
  from jaxgen.runtime import run as run_lib

  run = run_lib.Run(tiny_config(**{'sampling.solver': 'euler', 'sampling.steps': '4'}))
  model = run.model
  params = model.init(jax.random.PRNGKey(0), run.example_x())
  settings = model.sampling_settings(run.config.sampling)
  field = model.extras['guide_field']
  c = jnp.array([0.25, -0.5])
  guide = lambda t, x, y: field(params, t, x, y) - c
  plain, _ = model.sample(params, jax.random.PRNGKey(1), 8, settings)
  x, info = model.extras['sample_autoguided'](params, jax.random.PRNGKey(1), 8, settings, guide,
                                              3.0)
  _, want, _ = flow.sample_coupling(lambda t, x: field(params, t, x, None) + 2.0 * c,
                                    jax.random.PRNGKey(1), 8, run.data.spec.shape, settings.ode,
                                    settings.t_start)
  np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-5)
  assert int(info['nfe']) == 8
  same, _ = model.extras['sample_autoguided'](params, jax.random.PRNGKey(1), 8, settings,
                                              lambda t, x, y: field(params, t, x, y), 3.0)
  np.testing.assert_allclose(same, plain, rtol=1e-5, atol=1e-5)


def test_guide_run_excludes_classifier_free_guidance():
  c = cfg.load('experiments/score_sde/toy2d.py:smoke')
  c = overrides.apply(c, {'sampling.guide_run': '/some/run', 'sampling.classifier': '/clf'})
  with pytest.raises(cfg.ConfigError, match='choose one guidance'):
    cfg.validate(c)
