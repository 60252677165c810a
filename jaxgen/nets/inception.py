"""The FID Inception-v3 (TF graph ``inception-2015-12-05``) as pytorch-fid ports it, in flax linen.

This is pytorch-fid's ``fid_inception_v3()``: torchvision's Inception3 (1008 classes, no aux
head) with the FID-specific blocks FIDInceptionA (Mixed_5b-d), FIDInceptionC (Mixed_6b-e),
FIDInceptionE_1 (Mixed_7b) and FIDInceptionE_2 (Mixed_7c). They differ from torchvision's in
their pooling branch: TF's 3x3 average pool ignores the padded zeros (``count_include_pad=False``)
and Mixed_7c pools with a 3x3 *max* pool. Every conv is BasicConv2d: conv without bias, batch
norm in inference form (running statistics, eps 1e-3), ReLU.

Conventions
-----------
* Input: ``[b, H, W, C]`` float images with values in **[0, 1]** (NHWC; C = 3, or C = 1 which is
  repeated to RGB as pytorch-fid's PIL ``convert('RGB')`` does). Uint8 images must be divided by
  255 first (pytorch-fid reads PNGs with ToTensor, i.e. x / 255).
* Resize to 299 x 299 with ``torch.nn.functional.interpolate(mode='bilinear',
  align_corners=False, antialias=False)``, written out here (`resize_bilinear`): separable
  2-tap interpolation at source coordinates ``(i + 0.5) in / out - 0.5`` clamped at 0, the upper
  neighbour clamped at in - 1. This is pytorch-fid's resize, which we match; TF's reference FID
  (and clean-fid's PIL bicubic) resize differently, and the resize alone shifts FID by a few
  tenths to units on CIFAR-10 (clean-fid's finding), so only numbers computed with the same
  resize are comparable. ``jax.image.resize(..., 'bilinear')`` agrees when upsampling (32 -> 299,
  28 -> 299: its triangle kernel has the same half-pixel centres and renormalised borders) but
  antialiases when downsampling, where torch does not (tests/nets/test_inception.py).
* Then ``x -> 2 x - 1`` (to [-1, 1]) and the network.
* Output: a dict with 'pool3' ``[b, 2048]`` (the FID/KID/PR features: global average pool after
  Mixed_7c), 'logits' ``[b, 1008]`` (fc with bias) and 'logits_unbiased' ``[b, 1008]``
  (pool3 @ fc weight without the bias: what the reference Inception Score softmaxes).

Weights
-------
`load_weights(path)` reads an ``.npz`` whose keys and arrays are pytorch-fid's state dict
(``pt_inception-2015-12-05-6726825d.pth``) as saved by ``tools/convert_inception_weights.py``
(torch layouts, ``num_batches_tracked`` dropped); the renaming and OIHW -> HWIO transposes happen
here, in `params_from_state_dict`, so the converter needs torch and numpy only. All variables
live in the 'params' collection (the network is never trained; running statistics are
constants).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

FID_WEIGHTS_URL = ('https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
                   'pt_inception-2015-12-05-6726825d.pth')
INPUT_SIZE = 299
BN_EPS = 1e-3
Dtype = Any

# ----------------------------------------------------------------------------- resize


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out, in] weights of 1-D linear interpolation with torch's align_corners=False rule."""
  scale = in_size / out_size
  src = np.maximum((np.arange(out_size) + 0.5) * scale - 0.5, 0.0)
  i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
  i1 = np.minimum(i0 + 1, in_size - 1)
  lam = src - i0
  w = np.zeros((out_size, in_size))
  np.add.at(w, (np.arange(out_size), i0), 1.0 - lam)
  np.add.at(w, (np.arange(out_size), i1), lam)
  return w


def resize_bilinear(x: jax.Array, size: Sequence[int]) -> jax.Array:
  """[b, H, W, C] -> [b, size[0], size[1], C] as torch's F.interpolate(mode='bilinear',
  align_corners=False) (no antialiasing), as two small matmuls with static weights."""
  h, w = x.shape[1], x.shape[2]
  if (h, w) == tuple(size):
    return x
  wh = jnp.asarray(bilinear_matrix(h, size[0]), x.dtype)
  ww = jnp.asarray(bilinear_matrix(w, size[1]), x.dtype)
  x = jnp.einsum('oh,bhwc->bowc', wh, x, precision=lax.Precision.HIGHEST)
  return jnp.einsum('pw,bowc->bopc', ww, x, precision=lax.Precision.HIGHEST)


# ----------------------------------------------------------------------------- layers


def _pair(v):
  return (v, v) if isinstance(v, int) else tuple(v)


class BasicConv(nn.Module):
  """torchvision's BasicConv2d: conv (no bias) -> inference batch norm (eps 1e-3) -> ReLU."""
  features: int
  kernel: Any = 1
  stride: int = 1
  padding: Any = 0
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    kh, kw = _pair(self.kernel)
    ph, pw = _pair(self.padding)
    k = self.param('kernel', nn.initializers.variance_scaling(2.0, 'fan_in', 'normal'),
                   (kh, kw, x.shape[-1], self.features))
    scale = self.param('bn_scale', nn.initializers.ones, (self.features,))
    bias = self.param('bn_bias', nn.initializers.zeros, (self.features,))
    mean = self.param('bn_mean', nn.initializers.zeros, (self.features,))
    var = self.param('bn_var', nn.initializers.ones, (self.features,))
    y = lax.conv_general_dilated(x.astype(self.dtype), k.astype(self.dtype),
                                 (self.stride, self.stride), ((ph, ph), (pw, pw)),
                                 dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
                                 precision=lax.Precision.HIGHEST)
    y = (y.astype(jnp.float32) - mean) * (scale * lax.rsqrt(var + BN_EPS)) + bias
    return nn.relu(y)


def _avg_pool3(x):
  """3x3 stride-1 average over the valid (unpadded) neighbours, as TF (count_include_pad=False)."""
  return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool3(x, stride=2, pad=0):
  return nn.max_pool(x, (3, 3), (stride, stride), ((pad, pad), (pad, pad)))


class InceptionA(nn.Module):
  """FIDInceptionA (Mixed_5b/c/d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""
  pool_features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = lambda f, k=1, p=0, name=None: BasicConv(f, k, 1, p, self.dtype, name=name)
    b1 = c(64, name='branch1x1')(x)
    b5 = c(64, 5, 2, name='branch5x5_2')(c(48, name='branch5x5_1')(x))
    b3 = c(64, name='branch3x3dbl_1')(x)
    b3 = c(96, 3, 1, name='branch3x3dbl_3')(c(96, 3, 1, name='branch3x3dbl_2')(b3))
    bp = c(self.pool_features, name='branch_pool')(_avg_pool3(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a (torchvision InceptionB): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, 3, 2, 0, self.dtype, name='branch3x3')(x)
    bd = BasicConv(64, 1, 1, 0, self.dtype, name='branch3x3dbl_1')(x)
    bd = BasicConv(96, 3, 1, 1, self.dtype, name='branch3x3dbl_2')(bd)
    bd = BasicConv(96, 3, 2, 0, self.dtype, name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool3(x)], axis=-1)


class InceptionC(nn.Module):
  """FIDInceptionC (Mixed_6b-e): 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1."""
  c7: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = lambda f, k=1, p=0, name=None: BasicConv(f, k, 1, p, self.dtype, name=name)
    r, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    b1 = c(192, name='branch1x1')(x)
    b7 = c(self.c7, name='branch7x7_1')(x)
    b7 = c(self.c7, *r, name='branch7x7_2')(b7)
    b7 = c(192, *col, name='branch7x7_3')(b7)
    bd = c(self.c7, name='branch7x7dbl_1')(x)
    bd = c(self.c7, *col, name='branch7x7dbl_2')(bd)
    bd = c(self.c7, *r, name='branch7x7dbl_3')(bd)
    bd = c(self.c7, *col, name='branch7x7dbl_4')(bd)
    bd = c(192, *r, name='branch7x7dbl_5')(bd)
    bp = c(192, name='branch_pool')(_avg_pool3(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a (torchvision InceptionD): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = lambda f, k=1, s=1, p=0, name=None: BasicConv(f, k, s, p, self.dtype, name=name)
    b3 = c(320, 3, 2, name='branch3x3_2')(c(192, name='branch3x3_1')(x))
    b7 = c(192, name='branch7x7x3_1')(x)
    b7 = c(192, (1, 7), 1, (0, 3), name='branch7x7x3_2')(b7)
    b7 = c(192, (7, 1), 1, (3, 0), name='branch7x7x3_3')(b7)
    b7 = c(192, 3, 2, name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool3(x)], axis=-1)


class InceptionE(nn.Module):
  """FIDInceptionE_1 (Mixed_7b, avg pool) / FIDInceptionE_2 (Mixed_7c, max pool):
  1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | pool-1x1."""
  max_pool: bool
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = lambda f, k=1, p=0, name=None: BasicConv(f, k, 1, p, self.dtype, name=name)
    r, col = ((1, 3), (0, 1)), ((3, 1), (1, 0))
    b1 = c(320, name='branch1x1')(x)
    b3 = c(384, name='branch3x3_1')(x)
    b3 = jnp.concatenate([c(384, *r, name='branch3x3_2a')(b3),
                          c(384, *col, name='branch3x3_2b')(b3)], axis=-1)
    bd = c(448, name='branch3x3dbl_1')(x)
    bd = c(384, 3, 1, name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate([c(384, *r, name='branch3x3dbl_3a')(bd),
                          c(384, *col, name='branch3x3dbl_3b')(bd)], axis=-1)
    pooled = _max_pool3(x, stride=1, pad=1) if self.max_pool else _avg_pool3(x)
    bp = c(192, name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """[b, H, W, 3 or 1] images in [0, 1] -> {'pool3': [b, 2048], 'logits', 'logits_unbiased':
  [b, 1008]} (see the module docstring). ``resize=False`` skips the resize (input must then be
  at least 75 x 75)."""
  resize: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
      raise ValueError(f'FIDInceptionV3 takes [b, H, W, 3] (or 1-channel) images in [0, 1], '
                       f'got shape {x.shape}')
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise ValueError(f'FIDInceptionV3 takes float images in [0, 1], got dtype {x.dtype} '
                       f'(divide uint8 images by 255)')
    x = jnp.asarray(x, jnp.float32)
    if x.shape[-1] == 1:
      x = jnp.repeat(x, 3, axis=-1)
    if self.resize:
      x = resize_bilinear(x, (INPUT_SIZE, INPUT_SIZE))
    x = 2.0 * x - 1.0
    d = self.dtype
    x = BasicConv(32, 3, 2, 0, d, name='Conv2d_1a_3x3')(x)
    x = BasicConv(32, 3, 1, 0, d, name='Conv2d_2a_3x3')(x)
    x = BasicConv(64, 3, 1, 1, d, name='Conv2d_2b_3x3')(x)
    x = _max_pool3(x)
    x = BasicConv(80, 1, 1, 0, d, name='Conv2d_3b_1x1')(x)
    x = BasicConv(192, 3, 1, 0, d, name='Conv2d_4a_3x3')(x)
    x = _max_pool3(x)
    x = InceptionA(32, d, name='Mixed_5b')(x)
    x = InceptionA(64, d, name='Mixed_5c')(x)
    x = InceptionA(64, d, name='Mixed_5d')(x)
    x = InceptionB(d, name='Mixed_6a')(x)
    for name, c7 in [('Mixed_6b', 128), ('Mixed_6c', 160), ('Mixed_6d', 160), ('Mixed_6e', 192)]:
      x = InceptionC(c7, d, name=name)(x)
    x = InceptionD(d, name='Mixed_7a')(x)
    x = InceptionE(False, d, name='Mixed_7b')(x)
    x = InceptionE(True, d, name='Mixed_7c')(x)
    pool = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    fc = nn.Dense(1008, name='fc', precision=lax.Precision.HIGHEST)
    logits = fc(pool)
    unbiased = jnp.dot(pool, fc.variables['params']['kernel'], precision=lax.Precision.HIGHEST)
    return {'pool3': pool, 'logits': logits, 'logits_unbiased': unbiased}


# ----------------------------------------------------------------------------- weights

_BN_KEYS = {'conv.weight': 'kernel', 'bn.weight': 'bn_scale', 'bn.bias': 'bn_bias',
            'bn.running_mean': 'bn_mean', 'bn.running_var': 'bn_var'}


def params_from_state_dict(state_dict) -> dict:
  """pytorch-fid's state dict (name -> numpy array, torch layouts) -> our 'params' tree.

  'A.B.conv.weight' [O, I, kh, kw] -> params[A][B]['kernel'] [kh, kw, I, O]; 'A.bn.weight' /
  'bias' / 'running_mean' / 'running_var' -> 'bn_scale' / 'bn_bias' / 'bn_mean' / 'bn_var';
  'fc.weight' [1008, 2048] -> fc.kernel [2048, 1008]; 'num_batches_tracked' and 'AuxLogits.*'
  are ignored.
  """
  params: dict = {}
  for key, value in state_dict.items():
    value = np.asarray(value)
    if key.endswith('num_batches_tracked') or key.startswith('AuxLogits.'):
      continue
    if key in ('fc.weight', 'fc.bias'):
      params.setdefault('fc', {})['kernel' if key == 'fc.weight' else 'bias'] = (
          value.T if key == 'fc.weight' else value)
      continue
    parts = key.split('.')
    leaf = _BN_KEYS.get('.'.join(parts[-2:]))
    if leaf is None:
      raise ValueError(f'unexpected key {key!r} in the Inception state dict')
    if leaf == 'kernel':
      value = value.transpose(2, 3, 1, 0)
    node = params
    for p in parts[:-2]:
      node = node.setdefault(p, {})
    node[leaf] = value.astype(np.float32)
  return params


def _missing_message(path) -> str:
  return (f'Inception weights {path} not found. Download pytorch-fid\'s FID Inception weights '
          f'{FID_WEIGHTS_URL} and convert them where torch is installed: `python '
          f'tools/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth {path}`')


@functools.lru_cache(maxsize=None)
def param_shapes():
  """The 'params' tree of `FIDInceptionV3` as jax.ShapeDtypeStruct leaves (traced once)."""
  return jax.eval_shape(FIDInceptionV3().init, jax.random.PRNGKey(0),
                        jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3)))['params']


def load_weights(path) -> dict:
  """{'params': ...} for `FIDInceptionV3` from a converted .npz; every shape is checked against
  the network's. A missing file raises FileNotFoundError saying what to download and convert."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(_missing_message(path))
  with np.load(path) as f:
    params = params_from_state_dict({k: f[k] for k in f.files})
  want = param_shapes()
  got_paths = {jax.tree_util.keystr(p): v.shape
               for p, v in jax.tree_util.tree_leaves_with_path(params)}
  want_paths = {jax.tree_util.keystr(p): v.shape
                for p, v in jax.tree_util.tree_leaves_with_path(want)}
  if got_paths != want_paths:
    missing = sorted(set(want_paths) - set(got_paths))[:3]
    extra = sorted(set(got_paths) - set(want_paths))[:3]
    bad = [k for k in set(got_paths) & set(want_paths) if got_paths[k] != want_paths[k]][:3]
    raise ValueError(f'{path} is not pytorch-fid\'s FID Inception state dict: missing {missing}, '
                     f'unexpected {extra}, wrong shapes {bad}')
  return {'params': jax.tree_util.tree_map(jnp.asarray, params)}


def feature_fn(variables, dtype: Optional[Dtype] = None):
  """A jitted ``images [b, H, W, C] in [0, 1] -> dict`` for the given weights (the function an
  evaluator streams batches through)."""
  net = FIDInceptionV3(dtype=dtype or jnp.float32)
  return jax.jit(lambda x: net.apply(variables, x))
