"""Causality and receptive fields of PixelCNN, Gated PixelCNN and PixelCNN++.

The facts checked, by exact zeros of the Jacobian d out(p, c) / d x(q, c'):
* causality: the output for channel c at pixel p does not depend on any input at a later pixel,
  nor on channels >= c of p itself (per-channel nets), resp. on any channel of p (PixelCNN++);
* PixelCNN's blind spot is exactly the set that composing the kernel masks predicts (computed
  below by dilating position sets, independently of the network code);
* Gated PixelCNN has no blind spot: its dependence set equals the predicted one, which is every
  earlier pixel inside its receptive-field box.
ReLU nets get their biases shifted to +1 so that a zero gradient is a structural zero.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets.pixelcnn import GatedPixelCNN, PixelCNN
from jaxgen.nets.pixelcnn_pp import PixelCNNPP


def _shift_biases(params, value=1.0):
  def f(path, v):
    return v + value if path[-1].key == 'bias' else v
  return jax.tree_util.tree_map_with_path(f, params)


def dependence(net, params, shape, n_inputs=3):
  """Boolean [H,W,C_out,H,W,C] : does out(p, c_out) depend on x(q, c)? (union over inputs)."""
  h, w, c = shape
  dep = None
  for s in range(n_inputs):
    x = jax.random.uniform(jax.random.PRNGKey(10 + s), (1, h, w, c), minval=-1, maxval=1)
    out = net.apply(params, x)
    proj = jax.random.normal(jax.random.PRNGKey(20 + s), out.shape[-1:])

    def f(x):
      o = net.apply(params, x)[0] @ proj       # [H,W,C] or [H,W]
      return o if o.ndim == 3 else o[..., None]

    jac = np.asarray(jax.jacrev(f)(x))[..., 0, :, :, :]    # [H,W,Co,H,W,C]
    d = jac != 0
    dep = d if dep is None else dep | d
  return dep


def raster_before(h, w):
  """[H,W,H,W]: q strictly before p in raster order."""
  idx = np.arange(h * w).reshape(h, w)
  return idx[None, None, :, :] < idx[:, :, None, None]


def _dilate(dep, offsets):
  """new[p] = OR_{o in offsets, p+o inside} dep[p+o]; dep [H,W,...]."""
  h, w = dep.shape[:2]
  new = np.zeros_like(dep)
  for dy, dx in offsets:
    for i in range(h):
      for j in range(w):
        if 0 <= i + dy < h and 0 <= j + dx < w:
          new[i, j] |= dep[i + dy, j + dx]
  return new


def _identity(h, w):
  dep = np.zeros((h, w, h, w), bool)
  for i in range(h):
    for j in range(w):
      dep[i, j, i, j] = True
  return dep


def theory_pixelcnn(h, w, blocks):
  """Dependence of a grey PixelCNN: a 7x7 mask-A layer then `blocks` 3x3 mask-B layers."""
  mask_a = [(dy, dx) for dy in range(-3, 0) for dx in range(-3, 4)] + [(0, dx) for dx in (-3, -2, -1)]
  mask_b = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0)]
  dep = _dilate(_identity(h, w), mask_a)       # first-layer features
  for _ in range(blocks):                      # residual: dep | dilate(dep) = dilate(dep) (B has (0,0))
    dep = _dilate(dep, mask_b)
  return dep


def theory_gated(h, w, layers):
  """Dependence of a grey Gated PixelCNN (vertical (k//2+1)xk, horizontal 1x(k//2+1), k=7 then 3)."""
  v = h_ = _identity(h, w)
  for l in range(layers):
    k = 7 if l == 0 else 3
    vpre = _dilate(v, [(dy, dx) for dy in range(-(k // 2), 1) for dx in range(-(k // 2), k // 2 + 1)])
    link = _dilate(vpre, [(-1, 0)])
    hor = [(0, dx) for dx in range(-(k // 2), 0 if l == 0 else 1)]
    hpre = _dilate(h_, hor) | link
    h_ = hpre | h_ if l > 0 else hpre
    v = vpre
  return h_


@pytest.mark.parametrize('cls', [PixelCNN, GatedPixelCNN])
@pytest.mark.parametrize('channels', [1, 3])
def test_per_channel_nets_are_causal(cls, channels):
  h, w = 5, 4
  net = cls(channels=channels, out_size=2, filters=12, blocks=2)
  params = _shift_biases(net.init(jax.random.PRNGKey(0), jnp.zeros((1, h, w, channels))))
  dep = dependence(net, params, (h, w, channels), n_inputs=2)
  before = raster_before(h, w)
  for co in range(channels):
    for ci in range(channels):
      allowed = before.copy()
      if ci < co:   # earlier channels of the same pixel are visible
        allowed |= _identity(h, w)
      assert not np.any(dep[:, :, co, :, :, ci] & ~allowed), (co, ci)
  # ... and channel c does see channels < c of its own pixel.
  if channels == 3:
    assert dep[2, 2, 2, 2, 2, 1] and dep[2, 2, 1, 2, 2, 0] and dep[2, 2, 2, 2, 2, 0]


@pytest.mark.parametrize('channels', [1, 3])
def test_pixelcnn_pp_is_strictly_causal(channels):
  h, w = 4, 4
  net = PixelCNNPP(channels=channels, out_size=3, filters=6, blocks=1, scales=2, dropout=0.0)
  params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, h, w, channels)))
  dep = dependence(net, params, (h, w, channels), n_inputs=1)[:, :, 0]    # [H,W,H,W,C]
  assert not np.any(dep.any(-1) & ~raster_before(h, w))
  # Through the U (down- and up-sampling) it still reaches pixels far back in the same image.
  assert dep[3, 3, 0, 0].any() and dep[3, 0, 2, 3].any()


def test_pixelcnn_blind_spot_is_exactly_the_theoretical_one():
  h, w, blocks = 7, 7, 2
  net = PixelCNN(channels=1, out_size=1, filters=16, blocks=blocks)
  params = _shift_biases(net.init(jax.random.PRNGKey(0), jnp.zeros((1, h, w, 1))))
  dep = dependence(net, params, (h, w, 1))[:, :, 0, :, :, 0]
  theory = theory_pixelcnn(h, w, blocks)
  np.testing.assert_array_equal(dep, theory)
  blind = raster_before(h, w) & ~theory
  # The blind spot is real: e.g. pixel (4, 0) cannot see (3, 6), up and to the right.
  assert blind[4, 0, 3, 6] and blind.sum() > 0


def test_gated_pixelcnn_has_no_blind_spot():
  h, w, layers = 7, 7, 3
  net = GatedPixelCNN(channels=1, out_size=1, filters=4, blocks=layers)
  params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, h, w, 1)))
  dep = dependence(net, params, (h, w, 1))[:, :, 0, :, :, 0]
  theory = theory_gated(h, w, layers)
  np.testing.assert_array_equal(dep, theory)
  # No blind spot: the set is *every* earlier pixel inside the receptive field, the box of rows
  # i-(L+3)..i-1 with |dx| <= L+2 plus the L+2 pixels to the left on row i (L layers).
  r = layers + 2
  box = np.zeros((h, w, h, w), bool)
  for i in range(h):
    for j in range(w):
      box[i, j, max(0, i - r - 1):i, max(0, j - r):j + r + 1] = True
      box[i, j, i, max(0, j - r):j] = True
  np.testing.assert_array_equal(theory, raster_before(h, w) & box)
  assert not np.array_equal(theory_pixelcnn(h, w, layers), raster_before(h, w) & box)


@pytest.mark.parametrize('cls', [PixelCNN, GatedPixelCNN])
def test_cached_steps_reproduce_the_full_network(cls):
  h, w, c = 4, 5, 3
  net = cls(channels=c, out_size=2, filters=6, blocks=2, num_classes=3)
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, h, w, c), minval=-1, maxval=1)
  label = jnp.array([0, 2])
  params = net.init(jax.random.PRNGKey(0), x, label)
  full = np.asarray(net.apply(params, x, label))
  cache = net.init_cache(2, h, w)
  for i in range(h):
    cache = net.apply(params, cache, i, label, method=cls.row_step)
    for j in range(w):
      out, cache = net.apply(params, cache, x[:, i, j], i, j, label, method=cls.pixel_step)
      np.testing.assert_allclose(out, full[:, i, j], rtol=1e-4, atol=1e-5)
