"""The vqvae family: a code-grid round trip on a fixed codebook, the exact EMA codebook step
through the trainer, dead-code restarts, the uniform-prior bound, which leaves get gradients,
and its refusals."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen import data as data_lib
from jaxgen.distributions import discretized_logistic as dl
from jaxgen.models import vqvae
from jaxgen.nets import quantizer
from jaxgen.runtime import config as cfg
from jaxgen.runtime import state as state_lib


def _build(**model):
  c = cfg.base('vqvae')
  c.data.name, c.data.scale = 'digits', 'levels'
  c.model.update(dict(downsample=2, hidden=8, res_hidden=4, res_blocks=1, num_codes=32,
                      code_dim=3, restart_after=0), **model)
  c = cfg.validate(c)
  src = data_lib.build(c.data, 0)
  m = vqvae.build(c, src.spec)
  batch = src.train_batch(0, 8)
  return c, src.spec, m, batch, m.init(jax.random.PRNGKey(0), batch['x'])


def test_round_trip_on_a_fixed_codebook():
  """With the codebook set to the encoder's 8 x 4 x 4 = 128 (distinct) output vectors, encode
  gives each position its own vector's index, the codebook and commitment terms vanish, and
  decode(encode(x)) is the decoder's mean of z_e(x) itself rounded to the nearest level."""
  _, spec, m, batch, params = _build(num_codes=128)
  x = batch['x']
  xs = dl.to_symmetric(jnp.asarray(x, jnp.int32), spec.num_levels)
  enc = vqvae.Encoder(8, 4, 1, 2, 3).apply({'params': params['encoder']}, xs)
  params = dict(params, codebook=enc.reshape(-1, 3))
  codes = m.extras['encode'](params, x)
  np.testing.assert_array_equal(codes, np.arange(128).reshape(8, 4, 4))
  out = vqvae.Decoder(8, 4, 1, 2, 2).apply({'params': params['decoder']}, enc)
  mean = np.clip(np.asarray(out[..., :1]), -1, 1)
  want = np.round((mean + 1) / 2 * (spec.num_levels - 1))
  np.testing.assert_array_equal(m.extras['decode'](params, codes), want)
  _, metrics = m.loss(params, batch, jax.random.PRNGKey(1))
  assert float(metrics['commitment']) < 1e-10 and float(metrics['usage']) == 1.0


def test_log_prob_is_the_decoder_likelihood_minus_hw_log_k():
  _, spec, m, batch, params = _build()
  lp = np.asarray(m.log_prob(params, batch))
  _, metrics = m.loss(params, batch, jax.random.PRNGKey(1))
  recon = float(metrics['recon_nll']) * spec.dim   # nats per image (fallback: same here)
  np.testing.assert_allclose(-lp.mean(), recon + 16 * math.log(32), rtol=1e-4)
  assert m.discrete and np.all(lp < 0)


@pytest.mark.parametrize('update', ['loss', 'ema'])
def test_which_leaves_the_loss_trains(update):
  """'loss': the codebook gets the codebook term's gradient; 'ema': no loss term touches the
  codebook or its statistics (they are set by after_update only)."""
  _, _, m, batch, params = _build(codebook_update=update)
  g = jax.grad(lambda p: m.loss(p, batch, jax.random.PRNGKey(1))[0])(params)
  assert np.any(np.asarray(g['encoder']['Conv_0']['kernel']))
  assert bool(np.any(np.asarray(g['codebook']))) == (update == 'loss')
  if update == 'ema':
    assert not np.any(g['ema_count']) and not np.any(g['ema_sum'])


def test_a_train_step_applies_the_ema_codebook_update_exactly():
  """Through `state.make_train_step` with Adam and weight decay (which would move any leaf): the
  codebook after one step is the closed-form EMA step of the assignments of the parameters
  before it."""
  c, _, m, batch, params = _build(codebook_update='ema', ema_decay=0.9)
  tx = optax.adamw(1e-2, weight_decay=0.5)
  step = jax.jit(state_lib.make_train_step(m, tx, 0.0, lambda s: 1e-2))
  state = state_lib.TrainState(jnp.zeros((), jnp.int32), params, params, tx.init(params),
                               jax.random.PRNGKey(3))
  new, _ = step(state, batch)
  xs = dl.to_symmetric(jnp.asarray(batch['x'], jnp.int32), 17)
  z = vqvae.Encoder(8, 4, 1, 2, 3).apply({'params': params['encoder']}, xs).reshape(-1, 3)
  codes = quantizer.nearest(z, params['codebook'])
  count, total, e = quantizer.ema_update(params['ema_count'], params['ema_sum'], z, codes, 0.9)
  np.testing.assert_allclose(new.params['codebook'], e, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(new.params['ema_count'], count, rtol=1e-6)
  assert not np.allclose(new.params['encoder']['Conv_0']['kernel'],
                         params['encoder']['Conv_0']['kernel'])


def test_dead_codes_restart_to_encoder_outputs_of_the_batch():
  _, _, m, batch, params = _build(restart_after=1)
  out = m.extras['after_update'](params, params, batch, jax.random.PRNGKey(0))
  xs = dl.to_symmetric(jnp.asarray(batch['x'], jnp.int32), 17)
  z = np.asarray(vqvae.Encoder(8, 4, 1, 2, 3).apply({'params': params['encoder']}, xs)).reshape(
      -1, 3)
  used = np.unique(np.asarray(quantizer.nearest(z, params['codebook'])))
  dead = np.setdiff1d(np.arange(32), used)
  assert len(dead) > 0
  np.testing.assert_array_equal(np.asarray(out['codebook'])[used],
                                np.asarray(params['codebook'])[used])
  for row in np.asarray(out['codebook'])[dead]:
    assert np.any(np.all(np.isclose(z, row), axis=1))
  assert not np.any(out['idle'])


def test_uniform_samples_are_decoded_images_in_the_data_range():
  _, spec, m, _, params = _build()
  x, info = m.sample(params, jax.random.PRNGKey(0), 5, None)
  assert x.shape == (5, *spec.shape) and int(info['nfe']) == 1
  assert float(x.min()) >= 0 and float(x.max()) <= 16 and np.all(x == np.round(x))


def test_refusals_name_the_key():
  c = cfg.base('vqvae')
  c.data.name, c.data.scale, c.data.dequantize = 'digits', 'unit', True
  c = cfg.validate(c)
  with pytest.raises(ValueError, match='dequantize=False'):
    vqvae.build(c, data_lib.build(c.data, 0).spec)
  c = cfg.base('vqvae')
  c.data.name, c.data.scale, c.model.downsample = 'digits', 'levels', 16
  c = cfg.validate(c)
  with pytest.raises(ValueError, match='model.downsample=16 does not divide'):
    vqvae.build(c, data_lib.build(c.data, 0).spec)
  c.model.downsample = 3
  with pytest.raises(cfg.ConfigError, match='model.downsample=3 is out of range'):
    cfg.validate(c)
