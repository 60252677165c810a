"""Forward mode through the networks (`jaxgen.nets.forward_mode`): ``jax.jvp`` runs through every
net the score and flow families use (the U-Net as DDPM++, NCSN++ and with DDPM blocks, with
attention, ``attn_impl`` '' and 'xla'; the score MLP), in training mode with dropout, and its
tangent in (x, t_label) matches a central finite difference of the forward pass; the fused cuDNN
attention is refused in one line naming its key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import forward_mode, score_mlp, unet
from jaxgen.runtime import config as cfg_lib

# float32 throughout: a central difference with step H along (dx, dt) has truncation error O(H^2)
# and rounding error O(eps_32 |f| / H), eps_32 = 1.2e-7. dx ~ N(0, I) and dt ~ T N(0, I), with T
# the scale of the time label's features: 10 for t * 999 (positional), 0.1 for sigma ~ 1
# (Fourier features of log sigma, frequencies up to ~50 / sigma); at H = 1e-3 both errors stay
# well under RTOL of the tangent's norm.
H = 1e-3
RTOL = 1e-2


def _tiny(preset):
  c = preset()
  c.nf, c.ch_mult, c.num_res_blocks, c.attn_resolutions = 8, (1, 2), 1, (4,)
  c.dropout, c.init_scale = 0.1, 1.0   # a non-zero last layer: tangents are not trivially 0
  return c


def _ddpm_blocks():
  c = _tiny(unet.defaults)
  c.resblock_type = 'ddpm'
  return c


UNETS = {'ddpmpp': lambda: _tiny(unet.ddpmpp_cifar10), 'ncsnpp': lambda: _tiny(unet.ncsnpp_cifar10),
         'ddpm_blocks': _ddpm_blocks}


def _mlp():
  c = score_mlp.defaults()
  c.width, c.num_layers, c.dropout = 32, 2, 0.1
  return c


def _check_jvp(net, x, t, time_scale):
  """jax.jvp of ``(x, t) -> net(x, t)`` (training mode, fixed dropout key) against the central
  difference along random tangents; returns the relative error."""
  k = jax.random.split(jax.random.PRNGKey(0), 4)
  params = net.init({'params': k[0], 'dropout': k[0]}, x, t)['params']
  dx, dt = jax.random.normal(k[1], x.shape), time_scale * jax.random.normal(k[2], t.shape)

  def f(x, t):
    return net.apply({'params': params}, x, t, train=True, rngs={'dropout': k[3]})

  out, tangent = jax.jit(lambda x, t: jax.jvp(f, (x, t), (dx, dt)))(x, t)
  np.testing.assert_array_equal(out.shape, x.shape)
  fd = (jax.jit(f)(x + H * dx, t + H * dt) - jax.jit(f)(x - H * dx, t - H * dt)) / (2 * H)
  norm = float(jnp.linalg.norm(tangent))
  assert norm > 1e-3 * float(jnp.linalg.norm(out))
  return float(jnp.linalg.norm(tangent - fd)) / norm


@pytest.mark.parametrize('attn_impl', ['', 'xla'])
@pytest.mark.parametrize('name', sorted(UNETS))
def test_jvp_runs_through_the_unet_and_matches_finite_differences(name, attn_impl):
  c = UNETS[name]()
  c.attn_impl = attn_impl
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 1))
  # the time label: t * 999 for the positional embedding, sigma > 0 for the Fourier one
  fourier = c.embedding_type == 'fourier'
  t = jnp.array([0.7, 2.0]) if fourier else jnp.array([120.0, 650.0])
  assert _check_jvp(unet.build(c), x, t, 0.1 if fourier else 10.0) < RTOL


def test_jvp_runs_through_the_score_mlp_and_matches_finite_differences():
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 2))
  t = jnp.array([10.0, 200.0, 500.0, 990.0])
  assert _check_jvp(score_mlp.build(_mlp()), x, t, 10.0) < RTOL


def test_fused_cudnn_attention_is_refused_in_one_line_naming_its_key():
  c = cfg_lib.base('rectified_flow')
  assert forward_mode.problems(c.model, 'the MeanFlow loss') == []
  c.model.unet.attn_impl = 'xla'
  assert forward_mode.problems(c.model, 'the MeanFlow loss') == []
  c.model.unet.attn_impl = 'cudnn'
  (line,) = forward_mode.problems(c.model, 'the MeanFlow loss')
  assert line == ("config.model.unet.attn_impl='cudnn' has no forward-mode derivative (cuDNN's "
                  "fused attention is a custom_vjp), but the MeanFlow loss needs jax.jvp through "
                  "the network: set --config.model.unet.attn_impl=xla (or '' to let XLA choose)")
  assert '\n' not in line
  nested = {'teacher': {'unet': {'attn_impl': 'cudnn'}}, 'unet': {'attn_impl': ''}}
  assert [p.split('=')[0] for p in forward_mode.problems(nested, 'x', 'model')] == [
      'config.model.teacher.unet.attn_impl']
