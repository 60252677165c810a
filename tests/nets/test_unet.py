"""Facts about the DDPM++ / NCSN++ U-Net (jaxgen/nets/unet.py).

Big (CIFAR-10) configs are only traced with jax.eval_shape (no allocation, no compute); numerical
checks use a tiny net (nf=16, 1 res block, 8x8 inputs).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import unet
from tests.conftest import param_count


def _tiny(**kw):
  cfg = unet.defaults()
  cfg.update(dict(nf=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), init_scale=1.))
  cfg.update(kw)
  return cfg


def _init(cfg, shape=(2, 8, 8, 3), seed=0):
  net = unet.build(cfg)
  x = jax.random.normal(jax.random.PRNGKey(seed + 1), shape)
  t = jnp.linspace(0.1, 0.9, shape[0]) * (999. if cfg.embedding_type == 'positional' else 10.)
  y = jnp.arange(shape[0]) % max(cfg.num_classes, 1) if cfg.num_classes else None
  params = net.init(jax.random.PRNGKey(seed), x, t, y=y)['params']
  return net, params, x, t, y


# ----------------------------------------------------------------------------- parameter counts

# Measured with jax.eval_shape. The module structure mirrors score_sde's models/ncsnpp.py one layer
# for one layer, so these equal the reference counts, except that the reference also stores the
# 128 fixed Gaussian-Fourier frequencies of NCSN++ as a (non-trainable) parameter, which we keep
# as a constant: reference NCSN++ = ours + 128. Published cross-check: the DDPM++ cont. CIFAR-10
# network (as re-used by Rectified Flow) is reported with exactly 61,804,419 parameters
# ("Latent Zoning Network", Lin et al. 2025, appendix C.3, "Number of parameters in decoder").
# The commonly quoted "~62M" (DDPM++ cont.) and "~108M" (deep) are these numbers rounded: deep
# DDPM++ is 106.6M and deep NCSN++ 107.6M (~108M); no published table with the exact deep counts
# was found.
EXPECTED_PARAMS = {
    'ddpmpp_cont_vp': 61_804_419,
    'ddpmpp_cont_deep_vp': 106_632_579,
    'ncsnpp_cont_ve': 62_758_787,
    'ncsnpp_cont_deep_ve': 107_586_947,
}
_CIFAR = {
    'ddpmpp_cont_vp': lambda: unet.ddpmpp_cifar10(),
    'ddpmpp_cont_deep_vp': lambda: unet.ddpmpp_cifar10(deep=True),
    'ncsnpp_cont_ve': lambda: unet.ncsnpp_cifar10(),
    'ncsnpp_cont_deep_ve': lambda: unet.ncsnpp_cifar10(deep=True),
}


@pytest.mark.parametrize('name', sorted(_CIFAR))
def test_cifar10_parameter_counts(name):
  """Parameter counts of the four score_sde CIFAR-10 networks (32x32x3)."""
  n = param_count(unet.build(_CIFAR[name]()), (1, 32, 32, 3))
  assert n == EXPECTED_PARAMS[name]


def test_ddpmpp_count_matches_published_rounding():
  """DDPM++ cont. is ~62M and its deep version (8 blocks) ~107M-108M, as commonly quoted."""
  assert round(EXPECTED_PARAMS['ddpmpp_cont_vp'] / 1e6) == 62
  assert round(EXPECTED_PARAMS['ncsnpp_cont_ve'] / 1e6) == 63
  assert round(EXPECTED_PARAMS['ncsnpp_cont_deep_ve'] / 1e6) == 108
  assert 106e6 < EXPECTED_PARAMS['ddpmpp_cont_deep_vp'] < 108e6


@pytest.mark.parametrize('name', sorted(_CIFAR))
def test_cifar10_output_shape_and_dtype(name):
  """x [b,32,32,3] -> float32 [b,32,32,3] (traced with eval_shape only)."""
  net = unet.build(_CIFAR[name]())
  x = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
  t = jax.ShapeDtypeStruct((2,), jnp.float32)
  out = jax.eval_shape(lambda x, t: net.init_with_output(jax.random.PRNGKey(0), x, t)[0], x, t)
  assert out.shape == (2, 32, 32, 3) and out.dtype == jnp.float32


@pytest.mark.parametrize('shape', [(2, 8, 8, 1), (2, 28, 28, 1), (2, 16, 16, 3)])
def test_small_config_shapes(shape):
  """The small preset works at 8x8 (digits), 28x28 (MNIST-like) and 16x16x3."""
  net = unet.build(unet.small())
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  t = jax.ShapeDtypeStruct(shape[:1], jnp.float32)
  out = jax.eval_shape(lambda x, t: net.init_with_output(jax.random.PRNGKey(0), x, t)[0], x, t)
  assert out.shape == shape and out.dtype == jnp.float32


def test_small_config_param_count():
  """The small preset has ~1.26M parameters at 1 channel (28x28 and 8x8 alike)."""
  assert param_count(unet.build(unet.small()), (1, 28, 28, 1)) == 1_259_393
  assert param_count(unet.build(unet.small()), (1, 8, 8, 1)) == 1_259_393


def test_bad_resolution_raises():
  """H must be divisible by 2^(levels-1)."""
  with pytest.raises(ValueError, match='divisible'):
    jax.eval_shape(lambda: unet.build(unet.ddpmpp_cifar10()).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 3)), jnp.zeros((1,))))


# ----------------------------------------------------------------------------- all switches


@pytest.mark.parametrize('resblock,emb,fir,pin,pout,comb', [
    ('biggan', 'positional', False, 'none', 'none', 'sum'),
    ('biggan', 'fourier', True, 'residual', 'none', 'sum'),
    ('ddpm', 'positional', False, 'input_skip', 'output_skip', 'cat'),
    ('ddpm', 'fourier', True, 'input_skip', 'residual', 'sum'),
    ('biggan', 'positional', True, 'residual', 'output_skip', 'cat'),
    ('ddpm', 'positional', True, 'residual', 'residual', 'sum'),
])
def test_every_architecture_switch_keeps_shape(resblock, emb, fir, pin, pout, comb):
  """Every combination of block type / embedding / FIR / progressive paths maps x to x's shape."""
  cfg = _tiny(resblock_type=resblock, embedding_type=emb, fir=fir, progressive_input=pin,
              progressive=pout, progressive_combine=comb, ch_mult=(1, 2, 2))
  net = unet.build(cfg)
  x = jax.ShapeDtypeStruct((2, 16, 16, 3), jnp.float32)
  t = jax.ShapeDtypeStruct((2,), jnp.float32)
  out = jax.eval_shape(lambda x, t: net.init_with_output(jax.random.PRNGKey(0), x, t)[0], x, t)
  assert out.shape == (2, 16, 16, 3) and out.dtype == jnp.float32


# ----------------------------------------------------------------------------- numerics (tiny net)


def test_zero_init_scale_gives_zero_output_at_init():
  """init_scale=0 (the CIFAR-10 configs) initialises the output conv at ~0: output ~ 0."""
  net, p, x, t, _ = _init(_tiny(init_scale=0.))
  out = net.apply({'params': p}, x, t)
  assert float(jnp.abs(out).max()) < 1e-3


def test_output_depends_on_time_iff_conditional():
  """A conditional net's output changes with t_label; an unconditional one ignores it."""
  for conditional in (True, False):
    net, p, x, t, _ = _init(_tiny(conditional=conditional, dropout=0.))
    f = net.apply
    diff = float(jnp.abs(f({'params': p}, x, t) - f({'params': p}, x, t + 100.)).max())
    assert (diff > 1e-4) == conditional


def test_fourier_embedding_conditions_on_log_label():
  """With the Fourier embedding the label enters as log(label): sigma > 0 gives finite outputs,
  and scaling sigma changes the output."""
  net, p, x, t, _ = _init(_tiny(embedding_type='fourier'))
  f = net.apply
  out1, out2 = f({'params': p}, x, jnp.full((2,), 0.01)), f({'params': p}, x, jnp.full((2,), 50.))
  assert bool(jnp.all(jnp.isfinite(out1))) and float(jnp.abs(out1 - out2).max()) > 1e-4


def test_class_conditioning():
  """num_classes > 0: the output depends on the class label y."""
  net, p, x, t, _ = _init(_tiny(num_classes=3))
  f = net.apply
  a = f({'params': p}, x, t, y=jnp.array([0, 0]))
  b = f({'params': p}, x, t, y=jnp.array([1, 2]))
  assert float(jnp.abs(a - b).max()) > 1e-4


def test_center_input_maps_unit_to_symmetric():
  """center_input: net(x) equals the uncentred net at 2x - 1 with the same parameters."""
  net_c, p, x, t, _ = _init(_tiny(center_input=True))
  net = unet.build(_tiny())
  np.testing.assert_allclose(net_c.apply({'params': p}, x, t),
                             net.apply({'params': p}, 2 * x - 1, t), atol=1e-5)


def test_dropout_only_in_training():
  """train=False is deterministic; train=True draws dropout masks from the 'dropout' rng."""
  net, p, x, t, _ = _init(_tiny(dropout=0.5))
  f = net.apply
  e1, e2 = f({'params': p}, x, t, train=False), f({'params': p}, x, t, train=False)
  np.testing.assert_array_equal(e1, e2)
  d1 = f({'params': p}, x, t, train=True, rngs={'dropout': jax.random.PRNGKey(1)})
  d2 = f({'params': p}, x, t, train=True, rngs={'dropout': jax.random.PRNGKey(2)})
  assert float(jnp.abs(d1 - d2).max()) > 1e-4


def test_bfloat16_keeps_float32_params_and_output():
  """dtype='bfloat16': every param is float32, the output is float32 and close to the f32 net,
  and the gradients w.r.t. the params are float32."""
  net, p, x, t, _ = _init(_tiny(dtype='bfloat16'))
  assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(p))
  out = net.apply({'params': p}, x, t)
  ref = unet.build(_tiny()).apply({'params': p}, x, t)
  assert out.dtype == jnp.float32
  rel = float(jnp.linalg.norm(out - ref) / jnp.linalg.norm(ref))
  assert rel < 5e-2, rel
  g = jax.eval_shape(jax.grad(lambda p: jnp.mean(net.apply({'params': p}, x, t) ** 2)), p)
  assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(g))


def test_remat_gives_identical_params_and_outputs():
  """remat=True only changes what is kept for the backward pass: the same param tree and the
  same outputs (dropout on, same rng: remat must not change the dropout masks)."""
  kw = dict(dropout=0.3, fir=True, progressive_input='residual')
  net, p, x, t, _ = _init(_tiny(**kw))
  net_r, p_r, _, _, _ = _init(_tiny(remat=True, **kw))
  assert jax.tree_util.tree_structure(p) == jax.tree_util.tree_structure(p_r)
  rng = {'dropout': jax.random.PRNGKey(3)}
  np.testing.assert_allclose(net.apply({'params': p}, x, t, train=True, rngs=rng),
                             net_r.apply({'params': p}, x, t, train=True, rngs=rng),
                             rtol=1e-6, atol=1e-6)


def test_remat_residual_block_gives_identical_gradients():
  """nn.remat over a (FIR, down-sampling, dropout) BigGAN block: same loss and gradients."""
  from jaxgen.nets import layers
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 8))
  temb = jax.random.normal(jax.random.PRNGKey(1), (2, 16))
  kw = dict(features=16, down=True, fir=True, dropout=0.3, deterministic=False)
  blk, blk_r = layers.ResBlockBigGAN(**kw), nn.remat(layers.ResBlockBigGAN)(**kw)
  rngs = {'params': jax.random.PRNGKey(2), 'dropout': jax.random.PRNGKey(3)}
  p = blk.init(rngs, x, temb)['params']

  def loss(b):
    return lambda p: jnp.mean(b.apply({'params': p}, x, temb,
                                      rngs={'dropout': jax.random.PRNGKey(4)}) ** 2)

  l, g = jax.jit(jax.value_and_grad(loss(blk)))(p)
  l_r, g_r = jax.jit(jax.value_and_grad(loss(blk_r)))(p)
  np.testing.assert_allclose(l, l_r, rtol=1e-6)
  for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_r)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # float reassociation
