"""The family-neutral inpainting and colorization drivers (`jaxgen.tools.inpaint`, `colorize`)
and the masks they use (`jaxgen.data.masks`).

Facts checked, on run records whose Model carries each family's extra (score SDE: the PC sampler
with replacement; rectified flow: `jaxgen.ode.flow_inpaint` with its typed settings; NICE: the real
family with a tiny net): the driver reads only the common signature ``inpaint(params, rng, x, mask,
settings) -> (x, info)``; observed pixels of the written inpaintings equal the originals bit for
bit; the printed MSE of the hidden pixels is the one computed from the .npz; NICE's log p trace is
written too. Every refusal (no extra, naming the families that offer it; non-image data; an unknown
mask kind; settings the extra refuses, e.g. an adaptive ODE solver; 1-channel data for colorization)
raises before anything is written (no samples/ folder).
"""

import os
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.data import masks
from jaxgen.data.source import DataSpec
from jaxgen.diffusion import controllable
from jaxgen.diffusion import sde as sde_lib
from jaxgen.models import nice, rectified_flow
from jaxgen.models.base import Model
from jaxgen.ode import flow_inpaint
from jaxgen.runtime.cli import Failure
from jaxgen.tools import colorize as colorize_lib
from jaxgen.tools import inpaint as inpaint_lib


def _spec(shape, low=-1.0, high=1.0):
  return DataSpec(name='fake', shape=tuple(shape), low=low, high=high, num_levels=None,
                  num_classes=None, scale='symmetric')


def _run(family, model, spec, sampling, params=None, n=8):
  x = np.asarray(jax.random.uniform(jax.random.PRNGKey(5), (n,) + spec.shape,
                                    minval=spec.low, maxval=spec.high))
  config = ml_collections.ConfigDict(dict(seed=0, model=dict(family=family)))
  config.sampling = sampling
  data = types.SimpleNamespace(spec=spec, eval_array=lambda k: x[:k])
  return types.SimpleNamespace(config=config, model=model, data=data, params=params, step=7)


def _nothing(*a, **k):
  raise AssertionError('not part of inpainting')


def _score_sde_run(shape=(4, 4, 1)):
  sde = sde_lib.VPSDE()
  score = lambda t, y: -y  # the score of N(0, I) at every t under VP
  extras = dict(
      inpaint=lambda p, r, x, m, s: controllable.inpaint(sde, score, r, x, m, steps=s.steps,
                                                         corrector='none'),
      colorize=lambda p, r, g, s: controllable.colorize(sde, score, r, g, steps=s.steps,
                                                        corrector='none'))
  return _run('score_sde', Model(_nothing, _nothing, _nothing, extras=extras), _spec(shape),
              ml_collections.ConfigDict(dict(steps=3)))


def _rf_run(solver='heun'):
  c = rectified_flow.defaults()
  c.sampling.update(dict(solver=solver, steps=4))

  def fill(p, r, x, m, s):  # the family's extra, with the velocity p x
    return flow_inpaint.inpaint(lambda t, y: p * y, r, x, m, s.ode, s.t_start)

  model = Model(_nothing, _nothing, _nothing, extras={'inpaint': fill},
                sampling_settings=rectified_flow.sampling_settings)
  return _run('rectified_flow', model, _spec((4, 4, 1)), c.sampling, params=jnp.float32(0.5))


def _nice_run():
  c = nice.defaults()
  c.model.update(dict(num_couplings=2, hidden=8, depth=1, kernel_init='he', init_range=1.0))
  c.sampling.inpaint_steps = 5
  spec = DataSpec(name='fake', shape=(4, 4, 1), low=0.0, high=1.0, num_levels=256,
                  num_classes=None, scale='unit', dequantized=True)
  m = nice.build(c, spec)
  params = m.init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 1)))
  return _run('nice', m, spec, c.sampling, params=params)


@pytest.mark.parametrize('make', [_score_sde_run, _rf_run, _nice_run],
                         ids=['score_sde', 'rectified_flow', 'nice'])
def test_inpaint_keeps_observed_pixels_bitwise_for_every_family(make, tmp_path, capsys):
  run = make()
  png = inpaint_lib.inpaint(run, str(tmp_path), ['bottom_half', 'random'], num=3, keep=0.5)
  assert png == os.path.join(str(tmp_path), 'samples', 'inpaint_7.png') and os.path.exists(png)
  out = capsys.readouterr().out
  with np.load(str(tmp_path / 'samples' / 'inpaint_7.npz')) as f:
    x, mask, filled, mse = f['original'], f['mask'], f['inpainted'], f['mse_hidden']
    assert list(f['kinds']) == ['bottom_half', 'random']
    assert ('log_prob' in f) == (run.config.model.family == 'nice')
  assert x.shape == mask.shape == filled.shape == (6, 4, 4, 1) and mask.dtype == bool
  np.testing.assert_array_equal(filled.view(np.uint32)[mask], x.view(np.uint32)[mask])
  assert not np.allclose(filled[~mask], x[~mask])
  for j, kind in enumerate(['bottom_half', 'random']):
    sl = slice(3 * j, 3 * j + 3)
    err = np.mean((filled[sl] - x[sl])[~mask[sl]] ** 2)
    np.testing.assert_allclose(mse[j], err, rtol=1e-6)
    assert f'{kind:12s}' in out and f'MSE of the hidden pixels {err:.4f}' in out
  assert ('log p (nats/image)' in out) == (run.config.model.family == 'nice')


def test_refusals_come_before_anything_is_written(tmp_path):
  w = str(tmp_path)
  pcnn = _run('pixelcnn', Model(_nothing, _nothing, _nothing), _spec((4, 4, 1)),
              ml_collections.ConfigDict())
  with pytest.raises(Failure, match=r"family 'pixelcnn' offers no inpainting .*offered by: .*"
                                    r"nice.*score_sde"):
    inpaint_lib.inpaint(pcnn, w)
  vectors = _rf_run()
  vectors.data.spec = _spec((2,))
  with pytest.raises(Failure, match=r'needs image data'):
    inpaint_lib.inpaint(vectors, w)
  with pytest.raises(ValueError, match=r"unknown mask kind\(s\) 'diagonal'"):
    inpaint_lib.inpaint(_rf_run(), w, ['bottom_half', 'diagonal'])
  with pytest.raises(ValueError, match=r'fixed-step solver, not the adaptive dopri5'):
    inpaint_lib.inpaint(_rf_run('dopri5'), w)  # traced by eval_shape: nothing computed
  with pytest.raises(Failure, match=r'colorization needs RGB images \[H, W, 3\].*\(4, 4, 1\)'):
    colorize_lib.colorize(_score_sde_run(), w)
  with pytest.raises(Failure, match=r"family 'rectified_flow' offers no colorization.*score_sde"):
    colorize_lib.colorize(_rf_run(), w)
  assert os.listdir(w) == []


def test_colorize_keeps_the_grey_level(tmp_path, capsys):
  png = colorize_lib.colorize(_score_sde_run((4, 4, 3)), str(tmp_path), num=2)
  assert os.path.exists(png) and png.endswith('colorize_7.png')
  with np.load(str(tmp_path / 'samples' / 'colorize_7.npz')) as f:
    x, gray, out = f['original'], f['gray'], f['colorized']
  np.testing.assert_allclose(gray[..., 0], x.mean(-1), rtol=1e-6)
  np.testing.assert_allclose(out.mean(-1), gray[..., 0], atol=1e-5)
  assert 'MSE colorized vs original' in capsys.readouterr().out


def test_masks():
  m = masks.image_masks((4, 4, 2), 'bottom_half')
  assert m.shape == (4, 4, 2)
  assert bool(m[:2].all()) and not bool(m[2:].any())
  r = masks.image_masks((28, 28, 1), 'random', jax.random.PRNGKey(0), keep=0.25)
  assert 0.15 < float(r.mean()) < 0.35 and bool((r == r[..., :1]).all())
  b = masks.batch_masks((4, 4, 1), ['odd_columns', 'random'], 3, 0.5, jax.random.PRNGKey(1))
  assert b.shape == (6, 4, 4, 1) and b.dtype == bool
  assert (b[:3, :, 0::2].all() and not b[:3, :, 1::2].any())
  assert not (b[3] == b[4]).all()  # one random mask per image
  with pytest.raises(ValueError, match='available: bottom_half'):
    masks.check_kinds(['bottom'])
