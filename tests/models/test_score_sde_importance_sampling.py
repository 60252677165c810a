"""``loss.importance_sampling`` of the score-SDE family (`jaxgen.models.score_sde`).

Facts: validation refuses importance sampling without likelihood weighting, naming both keys;
with both set the family's loss draws t by importance sampling (it differs from the
likelihood-weighted loss at the same parameters and key) and stays finite.
"""

import jax
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import score_sde
from jaxgen.runtime import config as cfg

SPEC = DataSpec(name='toy2d:test', shape=(2,), low=-4.0, high=4.0, num_levels=None,
                num_classes=None, scale='none')


def _config(**loss):
  c = cfg.base('score_sde')
  c.model.net = 'score_mlp'
  c.model.score_mlp.width = 16
  c.model.score_mlp.num_layers = 1
  c.model.score_mlp.embed_dim = 8
  c.loss.update(loss)
  return c


def test_importance_sampling_without_likelihood_weighting_is_refused():
  with pytest.raises(cfg.ConfigError, match=r'config\.loss\.importance_sampling=True.*'
                     r'config\.loss\.likelihood_weighting=False'):
    cfg.validate(_config(importance_sampling=True))


def test_family_loss_uses_importance_sampling():
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 2))
  values = []
  for imp in (False, True):
    model = score_sde.build(cfg.validate(_config(likelihood_weighting=True,
                                                 importance_sampling=imp)), SPEC)
    params = model.init(jax.random.PRNGKey(1), x)
    values.append(float(model.loss(params, {'x': x}, jax.random.PRNGKey(2))[0]))
  assert np.all(np.isfinite(values)) and values[0] != values[1], values
