"""``model.loss(..., train=False)`` is the loss with dropout off (the evaluator's), and
``log_prob`` asks for the batch dict when given a bare array.

For each family with dropout: with ``train=False`` the loss equals, for the same key, the training
loss of the same parameters in a twin model whose dropout rate is 0; with ``train=True`` it does
not (dropout is on).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.data import DataSpec
from jaxgen.models import base

IMG = DataSpec('synthetic', (8, 8, 1), -1.0, 1.0, 17, None, 'symmetric')
GREY = DataSpec('synthetic', (4, 4, 1), 0.0, 1.0, 4, None, 'unit')


def _tiny_unet(c, dropout):
  c.model.net = 'unet'
  c.model.unet.nf = 8
  c.model.unet.ch_mult = (1,)
  c.model.unet.num_res_blocks = 1
  c.model.unet.attn_resolutions = ()
  c.model.unet.dropout = dropout


def _score_sde(dropout):
  c = cfg.base('score_sde')
  _tiny_unet(c, dropout)
  return c, IMG


def _rectified_flow(dropout):
  c = cfg.base('rectified_flow')
  _tiny_unet(c, dropout)
  return c, IMG


def _pixelcnn_pp(dropout):
  c = cfg.base('pixelcnn')
  c.model.net = 'pixelcnn_pp'
  c.model.filters, c.model.blocks, c.model.scales, c.model.num_mixtures = 6, 1, 1, 2
  c.model.dropout = dropout
  return c, GREY


@pytest.mark.parametrize('make', [_score_sde, _rectified_flow, _pixelcnn_pp],
                         ids=['score_sde', 'rectified_flow', 'pixelcnn_pp'])
def test_train_false_is_the_loss_without_dropout(make):
  config, spec = make(0.5)
  twin_config, _ = make(0.0)
  family = base.family_module(config.model.family)
  model, twin = family.build(config, spec), family.build(twin_config, spec)
  u = jax.random.uniform(jax.random.PRNGKey(0), (4,) + spec.shape)
  x = spec.low + (spec.high - spec.low) * jnp.round(u * (spec.num_levels - 1)) / (
      spec.num_levels - 1)
  params = model.init(jax.random.PRNGKey(1), x)
  # The U-Net zero-initialises the conv after each dropout; perturb so that dropout matters.
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
  params = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape)
                                     for p, k in zip(leaves, keys)])
  batch, key = {'x': x}, jax.random.PRNGKey(2)
  evaluated = float(model.loss(params, batch, key, train=False)[0])
  no_dropout = float(twin.loss(params, batch, key)[0])
  with_dropout = float(model.loss(params, batch, key)[0])
  np.testing.assert_allclose(evaluated, no_dropout, rtol=1e-6)
  assert abs(with_dropout - no_dropout) > 1e-4 * abs(no_dropout)


@pytest.mark.parametrize('make', [_score_sde, _rectified_flow, _pixelcnn_pp],
                         ids=['score_sde', 'rectified_flow', 'pixelcnn_pp'])
def test_log_prob_of_a_bare_array_says_to_pass_the_batch_dict(make):
  config, spec = make(0.0)
  model = base.family_module(config.model.family).build(config, spec)
  x = jnp.zeros((2,) + spec.shape)
  with pytest.raises(TypeError, match=r"pass \{'x': x\}"):
    model.log_prob(model.init(jax.random.PRNGKey(0), x), x, jax.random.PRNGKey(1))
