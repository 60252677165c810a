"""Facts about the DiT / SiT transformer (jaxgen/nets/dit.py).

Big configs are only traced with jax.eval_shape; numerical checks use a tiny DiT (width 32, 2
blocks) whose zero-initialised adaLN and output layers are perturbed where an identically zero
network would make the check vacuous.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import dit


def _tiny(**kw):
  cfg = dit.small()
  cfg.update(dict(depth=2, width=32, heads=2, patch=2))
  cfg.update(kw)
  return cfg


def _perturbed(params, seed=7, scale=0.05):
  """The params plus N(0, scale^2) noise: adaLN gates and the output layer no longer zero."""
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
  return jax.tree.unflatten(tree, [p + scale * jax.random.normal(k, p.shape)
                                   for p, k in zip(leaves, keys)])


def _init(cfg, shape=(2, 8, 8, 3), perturb=True):
  net = dit.build(cfg)
  x = jax.random.normal(jax.random.PRNGKey(1), shape)
  t = jnp.linspace(100., 900., shape[0])
  y = jnp.arange(shape[0]) % cfg.num_classes if cfg.num_classes else None
  params = net.init(jax.random.PRNGKey(0), x, t, y=y)['params']
  return net, _perturbed(params) if perturb else params, x, t, y


def test_dit_xl2_has_the_papers_parameter_count():
  """DiT-XL/2 on 32x32x4 latents with 1000 classes: 675,129,632 parameters in the reference
  (facebookresearch/DiT), which counts its fixed 256 x 1152 position table and predicts a
  variance too (8 output channels); without those two: 675,129,632 - 294,912 - 18,448."""
  cfg = dit.defaults()
  cfg.size, cfg.num_classes = 'XL', 1000
  net = dit.build(cfg)
  args = (jax.ShapeDtypeStruct((1, 32, 32, 4), jnp.float32),
          jax.ShapeDtypeStruct((1,), jnp.float32), jax.ShapeDtypeStruct((1,), jnp.int32))
  params = jax.eval_shape(lambda x, t, y: net.init(jax.random.PRNGKey(0), x, t, y=y), *args)
  n = sum(math.prod(p.shape) for p in jax.tree.leaves(params['params']))
  assert n == 675_129_632 - 256 * 1152 - (1152 * 2 * 2 * 4 + 2 * 2 * 4) == 674_816_272


def test_sizes_and_overrides():
  """size gives (depth, width, heads) as in DiT's Table 1; a key > 0 overrides the size's."""
  cfg = dit.defaults()
  assert [dit.SIZES[s] for s in ('S', 'B', 'L', 'XL')] == [
      (12, 384, 6), (12, 768, 12), (24, 1024, 16), (28, 1152, 16)]
  assert dit.dimensions(cfg) == (12, 768, 12)
  cfg.depth = 3
  assert dit.dimensions(cfg) == (3, 768, 12)


@pytest.mark.parametrize('shape,patch', [((2, 28, 28, 1), 2), ((2, 28, 28, 1), 4),
                                         ((2, 32, 32, 3), 8), ((2, 8, 8, 1), 2),
                                         ((3, 16, 8, 3), 4)])
@pytest.mark.parametrize('rope', [False, True])
def test_forward_shapes_for_sizes_divisible_by_the_patch(shape, patch, rope):
  """x [b, H, W, C] -> float32 of the same shape whenever p divides H and W (also H != W)."""
  net = dit.build(_tiny(patch=patch, rope=rope, qk_norm=rope))
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  t = jax.ShapeDtypeStruct(shape[:1], jnp.float32)
  out = jax.eval_shape(lambda x, t: net.init_with_output(jax.random.PRNGKey(0), x, t)[0], x, t)
  assert out.shape == shape and out.dtype == jnp.float32


def test_an_image_not_divisible_by_the_patch_is_refused():
  net = dit.build(_tiny(patch=8))
  with pytest.raises(ValueError, match=r'divisible by model\.dit\.patch=8'):
    jax.eval_shape(lambda: net.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)),
                                    jnp.zeros((1,))))


@pytest.mark.parametrize('kw,match', [
    (dict(heads=3), r'heads 3; patch 2\): set --config\.model\.dit\.heads to a divisor of the '
                    'width 32'),
    (dict(rope=True, width=24, heads=4), 'must be a multiple of 4'),
    (dict(patch=0), 'patch must be >= 1'), (dict(heads=-2), 'patch must be >= 1')])
def test_dimensions_that_do_not_fit_are_refused_in_one_line_naming_the_key(kw, match):
  with pytest.raises(ValueError, match=match) as err:
    dit.build(_tiny(**kw))
  assert str(err.value).startswith('config.model.dit (size ') and '\n' not in str(err.value)


def test_adaln_zero_makes_an_untrained_block_the_identity():
  """At init every block's modulation is zero, so its gates are and block(x, c) == x exactly;
  the whole network (zero output layer) outputs zeros."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 32))
  c = jax.random.normal(jax.random.PRNGKey(1), (2, 32))
  block = dit.Block(heads=4, qk_norm=True)
  out, variables = block.init_with_output(jax.random.PRNGKey(2), x, c)
  np.testing.assert_array_equal(out, x)
  moved = block.apply({'params': _perturbed(variables['params'])}, x, c)
  assert float(jnp.abs(moved - x).max()) > 1e-3     # trained gates: no longer the identity
  net, params, xi, t, _ = _init(_tiny(), perturb=False)
  np.testing.assert_array_equal(net.apply({'params': params}, xi, t), np.zeros(xi.shape))


def _reference_attention(params, x, heads):
  """softmax(q k^T / sqrt(d)) v per head with plain einsums, from the module's parameters."""
  b, n, width = x.shape
  d = width // heads
  qkv = (x @ params['qkv']['kernel'] + params['qkv']['bias']).reshape(b, n, 3, heads, d)
  q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
  logits = jnp.einsum('bqhd,bkhd->bhqk', q, k) / np.sqrt(d)
  h = jnp.einsum('bhqk,bkhd->bqhd', jax.nn.softmax(logits, axis=-1), v).reshape(b, n, width)
  return h @ params['proj']['kernel'] + params['proj']['bias']


@pytest.mark.parametrize('impl', ['', 'xla'])
def test_attention_implementations_agree_with_the_einsum_reference(impl):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 12, 32))
  attn = dit.Attention(heads=4, attn_impl=impl or None)
  params = _perturbed(attn.init(jax.random.PRNGKey(1), x)['params'])
  np.testing.assert_allclose(attn.apply({'params': params}, x),
                             _reference_attention(params, x, 4), rtol=1e-5, atol=1e-5)


def test_rope_scores_depend_only_on_relative_positions():
  """<rope(q, p), rope(k, p')> is unchanged when both positions shift by the same (row, col),
  and changes when only one of them moves."""
  q = jax.random.normal(jax.random.PRNGKey(0), (1, 1, 1, 16))
  k = jax.random.normal(jax.random.PRNGKey(1), (1, 1, 1, 16))

  def score(pq, pk):
    return float(jnp.sum(dit.rope(q, np.array([pq], np.float32))
                         * dit.rope(k, np.array([pk], np.float32))))

  base = score((1, 2), (4, 0))
  assert score((6, -3), (9, -5)) == pytest.approx(base, rel=1e-5, abs=1e-5)
  assert score((1, 2), (4, 3)) != pytest.approx(base, rel=1e-3)   # the column counts
  assert score((1, 2), (2, 0)) != pytest.approx(base, rel=1e-3)   # the row counts
  np.testing.assert_allclose(jnp.linalg.norm(dit.rope(q, np.array([[3., 5.]]))),
                             jnp.linalg.norm(q), rtol=1e-6)       # a rotation


def test_sincos_table_rows_and_columns():
  """Token (r, c) of the table: the 1-D table of r in the first half, of c in the second."""
  table = dit.sincos_table(3, 4, 8)
  assert table.shape == (12, 8)
  np.testing.assert_allclose(table[0], [0, 0, 1, 1, 0, 0, 1, 1], atol=1e-7)
  r, c = 2, 1
  w = 1.0 / 10000 ** (np.arange(2) / 2)
  np.testing.assert_allclose(table[r * 4 + c], np.concatenate(
      [np.sin(r * w), np.cos(r * w), np.sin(c * w), np.cos(c * w)]), atol=1e-6)


def test_jvp_through_the_xla_path_matches_central_differences():
  """jax.jvp of (x, t_label) -> DiT (attn_impl 'xla', RoPE and QK-norm on) along random tangents
  equals the central difference (float32, step 1e-3: error well under 1e-2)."""
  net, params, x, t, _ = _init(_tiny(attn_impl='xla', rope=True, qk_norm=True))
  dx = jax.random.normal(jax.random.PRNGKey(5), x.shape)
  dt = 10.0 * jax.random.normal(jax.random.PRNGKey(6), t.shape)
  f = lambda x, t: net.apply({'params': params}, x, t)
  out, tangent = jax.jit(lambda x, t: jax.jvp(f, (x, t), (dx, dt)))(x, t)
  h = 1e-3
  fd = (jax.jit(f)(x + h * dx, t + h * dt) - jax.jit(f)(x - h * dx, t - h * dt)) / (2 * h)
  norm = float(jnp.linalg.norm(tangent))
  assert norm > 1e-3 * float(jnp.linalg.norm(out))
  assert float(jnp.linalg.norm(tangent - fd)) / norm < 1e-2


def test_class_labels_condition_the_output_and_the_null_label_exists():
  """num_classes = K: labels 0..K (K the null label) are embedded; the output depends on them."""
  net, params, x, t, _ = _init(_tiny(num_classes=3))
  f = lambda y: net.apply({'params': params}, x, t, y=jnp.array(y))
  assert params['label_embed']['embedding'].shape == (4, 32)
  assert float(jnp.abs(f([0, 0]) - f([1, 3])).max()) > 1e-4
  with pytest.raises(ValueError, match='needs class labels'):
    net.apply({'params': params}, x, t)


def test_fourier_embedding_conditions_on_log_label():
  net, params, x, _, _ = _init(_tiny(embedding_type='fourier'))
  a = net.apply({'params': params}, x, jnp.full((2,), 0.01))
  b = net.apply({'params': params}, x, jnp.full((2,), 50.))
  assert bool(jnp.all(jnp.isfinite(a))) and float(jnp.abs(a - b).max()) > 1e-4


def test_bfloat16_keeps_float32_params_and_output():
  net, params, x, t, _ = _init(_tiny(dtype='bfloat16'))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  out = net.apply({'params': params}, x, t)
  ref = dit.build(_tiny()).apply({'params': params}, x, t)
  assert out.dtype == jnp.float32
  assert float(jnp.linalg.norm(out - ref) / jnp.linalg.norm(ref)) < 5e-2


def test_remat_gives_the_same_params_and_outputs():
  net, params, x, t, _ = _init(_tiny())
  net_r, params_r, _, _, _ = _init(_tiny(remat=True))
  assert jax.tree.structure(params) == jax.tree.structure(params_r)
  np.testing.assert_allclose(net.apply({'params': params}, x, t),
                             net_r.apply({'params': params}, x, t), rtol=1e-6, atol=1e-6)
