"""The second label of the score MLP and the U-Net (``step_input``, for MeanFlow's interval and a
shortcut model's step size): off by default, where the parameter tree is what it was (no new
names, so existing checkpoints load); on, it adds exactly ``step_dense_0`` and ``step_dense_1``
with every other parameter of the same shape and initial value, the output depends on the label,
and a missing (or unexpected) label is refused."""

import jax
import jax.numpy as jnp
import pytest

from jaxgen.nets import score_mlp, unet


def _tiny_unet():
  c = unet.small()
  c.nf, c.ch_mult, c.num_res_blocks, c.attn_resolutions, c.init_scale = 8, (1, 2), 1, (), 1.0
  return c


def _mlp():
  c = score_mlp.defaults()
  c.width, c.num_layers = 16, 1
  return c


@pytest.mark.parametrize('lib, make, shape', [(score_mlp, _mlp, (3, 2)),
                                              (unet, _tiny_unet, (3, 8, 8, 1))])
def test_step_input_adds_only_its_own_parameters_and_reaches_the_output(lib, make, shape):
  cfg = make()
  assert cfg.step_input is False
  x, t = jnp.ones(shape), jnp.array([100.0, 500.0, 900.0])
  rng = jax.random.PRNGKey(0)
  plain = lib.build(cfg).init(rng, x, t)['params']
  assert not any('step' in k for k in plain)
  with pytest.raises(ValueError, match='step_label needs step_input'):
    lib.build(cfg).init(rng, x, t, step_label=t)
  cfg.step_input = True
  net = lib.build(cfg)
  with pytest.raises(ValueError, match='step_input=True needs step_label'):
    net.init(rng, x, t)
  both = net.init(rng, x, t, step_label=t)['params']
  assert set(both) - set(plain) == {'step_dense_0', 'step_dense_1'}
  same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), {k: both[k] for k in plain},
                      plain)
  assert all(jax.tree.leaves(same))
  out = [net.apply({'params': both}, x, t, step_label=s) for s in (0.0 * t, t)]
  assert float(jnp.max(jnp.abs(out[0] - out[1]))) > 1e-6
