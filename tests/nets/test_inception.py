"""jaxgen.nets.inception: the resize is torch's align_corners=False bilinear (checked against the
formula written independently in numpy), the pooling and conv-BN-ReLU conventions, the state-dict
layout (94 convs + fc = 472 arrays), the missing-weights message, and (slow) a random-weight
forward at 299 and the features of pytorch-fid's own network on converted random weights."""

import os
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import inception
from tests.nets.inception_weights import state_dict_like

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TORCH_PYTHON = os.environ.get('JAXGEN_TORCH_PYTHON', '/work/venv-torch/bin/python')


def torch_bilinear_reference(x, out_h, out_w):
  """torch's upsample_bilinear2d (align_corners=False, no antialias) as a gather of the 4
  neighbours: source coordinate (i + 0.5) * in / out - 0.5, negative ones clamped to 0,
  i0 = floor (at most in - 1), i1 = min(i0 + 1, in - 1)."""
  def coords(n_in, n_out):
    s = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
    i0 = np.minimum(np.floor(s).astype(int), n_in - 1)
    return i0, np.minimum(i0 + 1, n_in - 1), s - i0
  y0, y1, ly = coords(x.shape[1], out_h)
  x0, x1, lx = coords(x.shape[2], out_w)
  ly, lx = ly[None, :, None, None], lx[None, None, :, None]
  top = (1 - lx) * x[:, y0][:, :, x0] + lx * x[:, y0][:, :, x1]
  bottom = (1 - lx) * x[:, y1][:, :, x0] + lx * x[:, y1][:, :, x1]
  return (1 - ly) * top + ly * bottom


@pytest.mark.parametrize('h,w,oh,ow', [(32, 32, 299, 299), (28, 28, 299, 299), (7, 5, 11, 13),
                                       (40, 40, 13, 13), (6, 6, 6, 6)])
def test_resize_is_torch_align_corners_false_bilinear(h, w, oh, ow):
  x = np.random.default_rng(0).uniform(size=(1, h, w, 1)).astype(np.float32)
  got = np.asarray(inception.resize_bilinear(jnp.asarray(x), (oh, ow)))
  np.testing.assert_allclose(got, torch_bilinear_reference(x, oh, ow), atol=2e-6)


def test_jax_image_resize_agrees_when_upsampling_only():
  """jax.image.resize 'bilinear' = torch's rule for 32 -> 299 and 28 -> 299, but antialiases when
  downsampling (40 -> 13), where torch does not: that is why the resize is written out."""
  rng = np.random.default_rng(1)
  for s in (32, 28):
    x = rng.uniform(size=(1, s, s, 1)).astype(np.float32)
    ours = inception.resize_bilinear(jnp.asarray(x), (299, 299))
    theirs = jax.image.resize(jnp.asarray(x), (1, 299, 299, 1), 'bilinear')
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
  x = rng.uniform(size=(1, 40, 40, 1)).astype(np.float32)
  down = jax.image.resize(jnp.asarray(x), (1, 13, 13, 1), 'bilinear')
  assert np.max(np.abs(down - inception.resize_bilinear(jnp.asarray(x), (13, 13)))) > 1e-2


def test_avg_pool_ignores_padding_and_basic_conv_is_conv_bn_relu():
  """TF average pooling: a corner averages its 4 valid neighbours, not 9 (count_include_pad
  False). BasicConv = relu((conv(x) - mean) * scale / sqrt(var + 1e-3) + bias)."""
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  pooled = inception._avg_pool3(x)
  assert float(pooled[0, 0, 0, 0]) == pytest.approx((0 + 1 + 4 + 5) / 4)
  assert float(pooled[0, 1, 1, 0]) == pytest.approx(np.mean([0, 1, 2, 4, 5, 6, 8, 9, 10]))
  rng = np.random.default_rng(2)
  xin = rng.normal(size=(1, 3, 3, 2)).astype(np.float32)
  k = rng.normal(size=(1, 1, 2, 4)).astype(np.float32)
  p = {'kernel': k, 'bn_scale': rng.uniform(0.5, 1.5, 4), 'bn_bias': rng.normal(size=4),
       'bn_mean': rng.normal(size=4), 'bn_var': rng.uniform(0.5, 1.5, 4)}
  y = inception.BasicConv(4).apply({'params': p}, jnp.asarray(xin))
  z = xin @ k[0, 0]
  want = np.maximum((z - p['bn_mean']) * p['bn_scale'] / np.sqrt(p['bn_var'] + 1e-3)
                    + p['bn_bias'], 0)
  np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_parameter_layout_is_pytorch_fids_state_dict():
  """94 BasicConvs (5 arrays each) + fc weight and bias = the 472 arrays of pytorch-fid's state
  dict less num_batches_tracked; 23,885,392 numbers; a state dict in torch layout maps back onto
  exactly our tree (transposed kernels), and the output shapes are [b, 2048] / [b, 1008]."""
  shapes = inception.param_shapes()
  leaves = jax.tree_util.tree_leaves(shapes)
  assert len(leaves) == 472
  assert sum(int(np.prod(v.shape)) for v in leaves) == 23_885_392
  sd = state_dict_like(shapes)
  params = inception.params_from_state_dict(sd)
  assert jax.tree_util.tree_map(lambda a: a.shape, params) == jax.tree_util.tree_map(
      lambda a: a.shape, shapes)
  np.testing.assert_array_equal(params['Mixed_6b']['branch7x7_2']['kernel'],
                                sd['Mixed_6b.branch7x7_2.conv.weight'].transpose(2, 3, 1, 0))
  out = jax.eval_shape(inception.FIDInceptionV3().apply, {'params': shapes},
                       jnp.zeros((2, 32, 32, 1)))
  assert {k: v.shape for k, v in out.items()} == {
      'pool3': (2, 2048), 'logits': (2, 1008), 'logits_unbiased': (2, 1008)}


def test_missing_or_wrong_weights_file(tmp_path):
  missing = tmp_path / 'inception_fid.npz'
  with pytest.raises(FileNotFoundError) as e:
    inception.load_weights(missing)
  msg = str(e.value)
  assert inception.FID_WEIGHTS_URL in msg and 'tools/convert_inception_weights.py' in msg
  assert str(missing) in msg
  wrong = tmp_path / 'wrong.npz'
  np.savez(wrong, **{'Conv2d_1a_3x3.conv.weight': np.zeros((32, 3, 3, 3), np.float32)})
  with pytest.raises(ValueError, match='not pytorch-fid'):
    inception.load_weights(wrong)
  with pytest.raises(ValueError, match=r'\[b, H, W, 3\]'):
    inception.FIDInceptionV3().apply({'params': {}}, jnp.zeros((1, 32, 32, 2)))
  with pytest.raises(ValueError, match='255'):
    inception.FIDInceptionV3().apply({'params': {}}, jnp.zeros((1, 32, 32, 3), jnp.uint8))


@pytest.mark.slow
def test_random_weight_forward_at_299():
  """Random weights, a batch of 2 random 299 x 299 images (the resize is the identity): finite
  features of the right shapes; pool3 >= 0 (mean of ReLUs); logits_unbiased = pool3 W and
  logits = pool3 W + b (the fc layer).
  (~20 s of XLA compilation on 2 cores.)"""
  variables = {'params': inception.params_from_state_dict(state_dict_like(inception.param_shapes()))}
  f = inception.feature_fn(variables)
  x = jnp.asarray(np.random.default_rng(3).uniform(size=(2, 299, 299, 3)), jnp.float32)
  out = f(x)
  assert out['pool3'].shape == (2, 2048) and out['logits'].shape == (2, 1008)
  assert np.all(np.isfinite(out['pool3'])) and float(out['pool3'].min()) >= 0
  assert float(out['pool3'].max()) > 0
  fc = variables['params']['fc']
  pool = np.asarray(out['pool3'], np.float64)
  unbiased = pool @ fc['kernel']
  scale = np.abs(unbiased).max()
  np.testing.assert_allclose(out['logits_unbiased'], unbiased, atol=1e-5 * scale)
  np.testing.assert_allclose(out['logits'], unbiased + fc['bias'], atol=1e-5 * scale)


def _torch_side_available():
  if not os.path.exists(TORCH_PYTHON):
    return f'no torch interpreter at {TORCH_PYTHON} (set JAXGEN_TORCH_PYTHON)'
  r = subprocess.run([TORCH_PYTHON, '-c', 'import importlib.util as u; import torch; '
                      'assert u.find_spec("pytorch_fid") and u.find_spec("torchvision")'],
                     capture_output=True)
  if r.returncode:
    return f'{TORCH_PYTHON} lacks torch, torchvision or pytorch-fid'
  return None


@pytest.mark.slow
def test_matches_pytorch_fid(tmp_path):
  """pytorch-fid's InceptionV3 (its resize, scaling and blocks) with random weights, converted by
  tools/convert_inception_weights.py: our pool3 features and 1008 logits equal theirs to float32
  round-off (relative 1e-5 of the largest value) on random 32 x 32 and 28 x 28 images, and our
  resize equals F.interpolate up and down. ~2 min on 2 cores."""
  why = _torch_side_available()
  if why:
    pytest.skip(why)
  from benchmarks import inception_vs_pytorch_fid as cmp
  errs = cmp.compare(TORCH_PYTHON, str(tmp_path))
  for key in cmp.IMAGE_SHAPES:
    for name in ('pool3', 'logits'):
      assert errs[f'{key}_{name}_max_rel'] < 1e-5, errs
      assert errs[f'{key}_{name}_scale'] > 1.0, errs   # O(1) activations: a meaningful check
  for key in cmp.RESIZE_CASES:
    assert errs[f'resize_{key}_max_abs'] < 1e-5, errs
