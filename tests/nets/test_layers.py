"""Facts about the U-Net building blocks (jaxgen/nets/layers.py) and resampling filters (resampling.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import layers as L
from jaxgen.nets import resampling as R


def _rand(seed, shape):
  return jax.random.normal(jax.random.PRNGKey(seed), shape, jnp.float32)


# ----------------------------------------------------------------------------- time embeddings


def naive_attention(q, k, v):
  """Reference softmax attention: q, k, v [b, T, N, D] -> [b, T, N, D]."""
  logits = jnp.einsum('btnd,bsnd->bnts', q, k) / np.sqrt(q.shape[-1])
  return jnp.einsum('bnts,bsnd->btnd', jax.nn.softmax(logits, axis=-1), v)


# ----------------------------------------------------------------------------- residual blocks


def test_positional_embedding_matches_closed_form():
  """emb[:, i] = sin(t w_i), emb[:, half+i] = cos(t w_i), w_i = 10000^(-i/(half-1))."""
  t = np.array([0., 1., 17.5, 999.], np.float32)
  dim = 16
  half = dim // 2
  w = np.array([10000. ** (-i / (half - 1)) for i in range(half)])
  expected = np.concatenate([np.sin(t[:, None] * w), np.cos(t[:, None] * w)], axis=1)
  np.testing.assert_allclose(L.positional_embedding(jnp.asarray(t), dim), expected,
                             rtol=1e-5, atol=2e-4)  # float32 args up to 999


def test_positional_embedding_odd_dim_pads_a_zero_column():
  """Odd embedding sizes get one zero column appended."""
  emb = L.positional_embedding(jnp.array([3.]), 7)
  assert emb.shape == (1, 7) and float(emb[0, -1]) == 0.


def test_fourier_embedding_unit_modulus_and_fixed_frequencies():
  """sin^2 + cos^2 = 1 per frequency; W is a fixed constant ~ N(0, scale^2), same each call."""
  s = jnp.log(jnp.array([0.01, 1., 50.]))
  emb = L.fourier_embedding(s, 32, scale=16.)
  assert emb.shape == (3, 64)
  np.testing.assert_allclose(emb[:, :32] ** 2 + emb[:, 32:] ** 2, 1., atol=1e-5)
  w = L.fourier_frequencies(32, 16.)
  np.testing.assert_array_equal(w, L.fourier_frequencies(32, 16.))
  np.testing.assert_allclose(np.asarray(emb[:, 0]), np.sin(2 * np.pi * np.asarray(s) * w[0]),
                             atol=1e-4)


# ----------------------------------------------------------------------------- FIR resampling


@pytest.mark.parametrize('k', [(1, 1), (1, 3, 3, 1)])
def test_fir_resampling_preserves_constants_away_from_border(k):
  """The FIR kernels are normalised: a constant image stays constant in the interior (the
  border sees the zero padding, as in the reference)."""
  c = 2.5 * jnp.ones((1, 16, 16, 3))
  down = R.downsample_2d(c, k)
  up = R.upsample_2d(c, k)
  assert down.shape == (1, 8, 8, 3) and up.shape == (1, 32, 32, 3)
  np.testing.assert_allclose(down[:, 1:-1, 1:-1], 2.5, rtol=1e-6)
  np.testing.assert_allclose(up[:, 1:-1, 1:-1], 2.5, rtol=1e-6)
  if k == (1, 1):  # box filter: exactly avg-pool / nearest everywhere
    np.testing.assert_allclose(down, 2.5, rtol=1e-6)
    np.testing.assert_allclose(up, 2.5, rtol=1e-6)


@pytest.mark.parametrize('k', [(1, 1), (1, 3, 3, 1)])
def test_fir_upsample_is_four_times_transpose_of_downsample(k):
  """<down(x), y> * factor^2 = <x, up(y)>: up = 4 down^T (exact linear adjoints)."""
  x, y = _rand(0, (2, 8, 8, 3)), _rand(1, (2, 4, 4, 3))
  lhs = 4. * jnp.vdot(R.downsample_2d(x, k), y)
  rhs = jnp.vdot(x, R.upsample_2d(y, k))
  np.testing.assert_allclose(lhs, rhs, rtol=1e-5)
  # and via jax.linear_transpose for the full operator
  down_t = jax.linear_transpose(lambda a: R.downsample_2d(a, k), x)
  np.testing.assert_allclose(4. * down_t(y)[0], R.upsample_2d(y, k), rtol=1e-5, atol=1e-6)


def test_box_fir_equals_naive_resampling():
  """FIR with kernel [1, 1] is exactly average pooling / nearest-neighbour upsampling."""
  x = _rand(2, (1, 8, 8, 2))
  np.testing.assert_allclose(R.downsample_2d(x, (1, 1)), R.naive_downsample_2d(x), atol=1e-6)
  np.testing.assert_allclose(R.upsample_2d(x, (1, 1)), R.naive_upsample_2d(x), atol=1e-6)


@pytest.mark.parametrize('up', [True, False])
def test_fused_fir_conv_with_identity_kernel_is_plain_fir_resampling(up):
  """FIRConv(up|down) with a centred delta 3x3 kernel reduces to upsample_2d / downsample_2d."""
  x = _rand(3, (1, 8, 8, 2))
  w = np.zeros((3, 3, 2, 2), np.float32)
  w[1, 1] = np.eye(2)
  m = L.FIRConv(2, up=up, down=not up)
  out = m.apply({'params': {'kernel': jnp.asarray(w), 'bias': jnp.zeros(2)}}, x)
  ref = R.upsample_2d(x) if up else R.downsample_2d(x)
  np.testing.assert_allclose(out, ref, atol=1e-5)


# ----------------------------------------------------------------------------- attention


def test_dot_product_attention_matches_naive_softmax():
  """jax.nn.dot_product_attention = softmax(q k^T / sqrt(D)) v."""
  q, k, v = _rand(4, (2, 16, 1, 8)), _rand(5, (2, 16, 1, 8)), _rand(6, (2, 16, 1, 8))
  np.testing.assert_allclose(jax.nn.dot_product_attention(q, k, v), naive_attention(q, k, v),
                             rtol=1e-5, atol=1e-5)


def test_attn_block_matches_naive_implementation():
  """AttnBlock(x) = (x + W3 softmax(q k^T/sqrt C) v) / sqrt 2 with q,k,v = W_i GN(x) + b_i."""
  x = _rand(7, (2, 4, 4, 8))
  blk = L.AttnBlock(skip_rescale=True, init_scale=1.)
  p = blk.init(jax.random.PRNGKey(0), x)['params']
  out = blk.apply({'params': p}, x)
  h = L.group_norm(8).apply({'params': p['GroupNorm_0']}, x).reshape(2, 16, 1, 8)
  proj = lambda n, a: a @ p[n]['kernel'] + p[n]['bias']
  a = naive_attention(proj('NIN_0', h), proj('NIN_1', h), proj('NIN_2', h))
  ref = (x + proj('NIN_3', a).reshape(2, 4, 4, 8)) / math.sqrt(2.)
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_attention_is_permutation_equivariant():
  """Self-attention has no positional bias: permuting positions permutes the output."""
  x = _rand(8, (1, 4, 4, 8))
  blk = L.AttnBlock(init_scale=1.)
  p = blk.init(jax.random.PRNGKey(0), x)
  perm = np.random.RandomState(0).permutation(16)
  xp = x.reshape(1, 16, 8)[:, perm].reshape(1, 4, 4, 8)
  out, outp = blk.apply(p, x), blk.apply(p, xp)
  np.testing.assert_allclose(out.reshape(1, 16, 8)[:, perm], outp.reshape(1, 16, 8), atol=1e-5)


# ----------------------------------------------------------------------------- residual blocks


@pytest.mark.parametrize('fir', [False, True])
@pytest.mark.parametrize('mode', ['up', 'down', 'same'])
def test_biggan_block_shapes(fir, mode):
  """BigGAN blocks change resolution by 2 (up/down) and width to `features`."""
  x = _rand(9, (2, 8, 8, 8))
  blk = L.ResBlockBigGAN(16, up=mode == 'up', down=mode == 'down', fir=fir)
  temb = _rand(10, (2, 32))
  out, _ = jax.eval_shape(lambda: blk.init_with_output(jax.random.PRNGKey(0), x, temb))
  size = {'up': 16, 'down': 4, 'same': 8}[mode]
  assert out.shape == (2, size, size, 16)


def test_zero_init_scale_makes_blocks_start_as_scaled_identity():
  """init_scale=0: the branch's last layer is ~0, so a same-width block maps x -> x / sqrt(2)."""
  x = _rand(11, (2, 8, 8, 8))
  for blk in (L.ResBlockBigGAN(8, init_scale=0.), L.ResBlockDDPM(8, init_scale=0.,
                                                                  skip_rescale=True),
              L.AttnBlock(skip_rescale=True, init_scale=0.)):
    out, _ = blk.init_with_output(jax.random.PRNGKey(0), x)
    np.testing.assert_allclose(out, x / math.sqrt(2.), atol=1e-4)  # scale 0 -> 1e-10
