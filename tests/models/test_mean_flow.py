"""The MeanFlow family: its Model record, its jvp through the real network, guidance folded into
training, and the config refusals (the maths: tests/ode/test_mean_flow.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import mean_flow as mf
from jaxgen.ode import mean_flow
from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from launch import train as launch_train
from tests import refusal

SMOKE = 'experiments/mean_flow/toy2d.py:smoke'
MOONS = DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none')


def _config(**overrides):
  return cfg.validate(overrides_lib.apply(cfg.load(SMOKE), overrides))


def test_model_record_end_to_end_on_tiny_shapes():
  """loss and gradients are finite; 1- and 2-step samples report nfe 1 and 2; sampling needs the
  typed settings."""
  c = _config()
  model = mf.build(c, MOONS)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  (loss, aux), grads = jax.value_and_grad(model.loss, has_aux=True)(params, {'x': x},
                                                                    jax.random.PRNGKey(2))
  assert np.isfinite(float(loss)) and np.isfinite(float(aux['mse']))
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  for k in (1, 2):
    settings = model.sampling_settings({'steps': k})
    samples, info = model.sample(params, jax.random.PRNGKey(3), 5, settings)
    assert samples.shape == (5, 2) and int(info['nfe']) == k
    assert model.sampling_label(settings) == f'{k}step'
  with pytest.raises(TypeError, match=r'pass model.sampling_settings\(section\)'):
    model.sample(params, jax.random.PRNGKey(3), 5, c.sampling)


def test_jvp_through_the_network_matches_central_differences():
  """The MeanFlow total derivative du/dt of the family's own network (the score MLP with its
  interval input, dropout on with a fixed key) along (v, 0, 1) equals the central difference
  (u(z + h v, r, t + h) - u(z - h v, r, t - h)) / 2h."""
  c = _config(**{'model.score_mlp.dropout': '0.1'})
  net_cfg = c.model.score_mlp
  net_cfg.step_input = True
  from jaxgen.nets import score_mlp

  net = score_mlp.build(net_cfg)
  k = jax.random.split(jax.random.PRNGKey(0), 4)
  z = jax.random.normal(k[0], (6, 2))
  t = jnp.linspace(0.1, 0.6, 6)
  r = t + 0.3
  params = net.init({'params': k[1]}, z, t, step_label=t)['params']

  def u(z, r, t):
    return net.apply({'params': params}, z, t * 999, train=True, rngs={'dropout': k[2]},
                     step_label=(r - t) * 999)

  v = jax.random.normal(k[3], z.shape)
  _, dudt = jax.jvp(u, (z, r, t), (v, jnp.zeros_like(r), jnp.ones_like(t)))
  h = 1e-4
  fd = (u(z + h * v, r, t + h) - u(z - h * v, r, t - h)) / (2 * h)
  assert float(jnp.linalg.norm(dudt - fd)) < 1e-2 * float(jnp.linalg.norm(dudt))
  _, u_tgt = mean_flow.target(u, z, t, r, v)
  np.testing.assert_allclose(u_tgt, v + (r - t)[:, None] * dudt, rtol=1e-5, atol=1e-5)


def test_guidance_folded_into_training_changes_the_target_and_keeps_dropped_labels_plain():
  """A class-conditional model with omega = 2: the loss differs from omega = 1 on the same key;
  with every label dropped (p_uncond near 1: only the unconditional model trains) both agree."""
  spec = DataSpec('digits', (2,), -1, 1, None, 10, 'none')
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  batch = {'x': x, 'label': jnp.arange(8) % 10}
  losses = {}
  for omega in (1.0, 2.0):
    for p in (0.1, 0.999999):
      c = _config(**{'data.name': 'digits', 'model.num_classes': '10', 'loss.p_uncond': str(p),
                     'loss.omega': str(omega)})
      model = mf.build(c, spec)
      params = model.init(jax.random.PRNGKey(1), x)
      losses[omega, p] = float(model.loss(params, batch, jax.random.PRNGKey(2))[1]['mse'])
  assert abs(losses[2.0, 0.1] - losses[1.0, 0.1]) > 1e-3 * losses[1.0, 0.1]
  assert losses[2.0, 0.999999] == pytest.approx(losses[1.0, 0.999999], rel=1e-6)


@pytest.mark.parametrize('overrides, pattern', [
    (['--config.model.net=unet', '--config.model.unet.attn_impl=cudnn'],
     r"config\.model\.unet\.attn_impl='cudnn' has no forward-mode derivative.*MeanFlow loss.*"
     r"attn_impl=xla"),
    (['--config.loss.omega=2'], r'config\.loss\.omega=2.*model\.num_classes.*loss\.p_uncond'),
    (['--config.loss.ratio=1.5'], r'config\.loss\.ratio=1\.5 is out of range'),
])
def test_a_bad_config_is_one_error_line_and_nothing_written(overrides, pattern, capsys, tmp_path):
  work = tmp_path / 'w'
  refusal.refused(capsys, launch_train.main, ['--config', SMOKE, '--workdir', str(work)]
                  + overrides, pattern, str(tmp_path))
  assert not work.exists()
