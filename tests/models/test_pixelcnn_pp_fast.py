"""PixelCNN++'s cached fast sampler: incremental outputs equal the full network's at every
position, and the fast sampler draws the plain sampler's images bit for bit for the same keys."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.distributions.discretized_logistic import PixelOutput
from jaxgen.models import pixelcnn
from jaxgen.models.pixelcnn import autoregressive as ar
from jaxgen.nets.pixelcnn_pp import PixelCNNPP
from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib

H = W = 8
# (channels, classes, scales, resnets per stage): RGB conditional over 8/4/2 (default suite), grey
# unconditional over 8/4 with 2 resnets per stage (slow: ~30 s on the loaded 2-core CPU).
CASES = [(3, 3, 3, 1), pytest.param((1, 0, 2, 2), marks=pytest.mark.slow)]
IDS = ['rgb_cond_3scales', 'grey_2scales_2blocks']


def _net(channels, classes, scales, blocks):
  out = PixelOutput('logistic_mixture', channels, 256, num_mixtures=2, per_channel=False)
  net = PixelCNNPP(channels=channels, out_size=out.size, filters=8, blocks=blocks, scales=scales,
                   dropout=0.5, num_classes=classes)
  label = jnp.arange(3) % classes if classes else None
  variables = net.init(jax.random.PRNGKey(0), jnp.zeros((1, H, W, channels)),
                       None if label is None else label[:1])
  # Away from the init (the second convs start at 0.1 scale, the class embeddings small); larger
  # perturbations make activations of O(100) whose float rounding then shows at 1e-5 relative.
  leaves, tree = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
  variables = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape)
                                        for p, k in zip(leaves, keys)])
  return net, out, variables, label


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_incremental_outputs_equal_the_full_network_at_every_position(case):
  """Driving row_step / pixel_step / write_input over a fixed image in raster order reproduces
  net(x) (dropout off) at each of the 64 positions: the caches hold exactly the windows the full
  network's convolutions read, at every resolution of the U."""
  net, _, variables, label = _net(*case)
  c = case[0]
  x = jax.random.uniform(jax.random.PRNGKey(3), (3, H, W, c), minval=-1.0, maxval=1.0)
  full = jax.jit(net.apply)(variables, x, label)      # (eagerly, each op would compile alone)

  def call(method, *args):
    return net.apply(variables, *args, method=getattr(PixelCNNPP, method))

  def incremental(x):
    def body(t, carry):
      cache, outs = carry
      i, j = t // W, t % W
      cache = jax.lax.cond(j == 0, lambda cc: call('row_step', cc, i, label), lambda cc: cc,
                           cache)
      o, cache = call('pixel_step', cache, jnp.zeros_like(x[:, 0, 0]), i, j, label)
      cache = call('write_input', cache, x[:, i, j], i, j)
      return cache, outs.at[:, i, j].set(o)
    return jax.lax.fori_loop(0, H * W, body, (net.init_cache(3, H, W), jnp.zeros_like(full)))[1]

  inc = jax.jit(incremental)(x)
  scale = float(jnp.abs(full).max())
  assert scale > 0.5                                            # a non-trivial output
  # Equal up to float rounding (XLA sums a full map's and a window's convolution in different
  # orders), relative to the outputs' magnitude.
  np.testing.assert_allclose(np.asarray(inc), np.asarray(full), rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_fast_sampler_equals_plain_sampler_bit_for_bit(case):
  net, out, variables, label = _net(*case)
  shape = (H, W, case[0])
  plain = jax.jit(lambda k: ar.plain(lambda x, l: net.apply(variables, x, l), out, shape, k, 3,
                                     label))
  fast = jax.jit(lambda k: ar.fast(net, variables, out, shape, k, 3, label))
  images = []
  for seed in (0, 1, 2):
    key = jax.random.PRNGKey(seed)
    xp, xf = np.asarray(plain(key)), np.asarray(fast(key))
    np.testing.assert_array_equal(xf, xp)
    assert xf.dtype == np.int32 and xf.min() >= 0 and xf.max() <= 255
    images.append(xf)
  assert not np.array_equal(images[0], images[1])               # the keys are used
  assert np.unique(images[0]).size > 20                         # not a degenerate constant image


def test_family_sample_method_fast_end_to_end():
  """The digits PixelCNN++ smoke config validates with sampling.method=fast (no longer refused)
  and the family's sample draws images on the data's grid (bit-equality with 'plain': above)."""
  config = cfg.validate(overrides_lib.apply(
      cfg.load('experiments/pixelcnn/digits.py:smoke,pp'),
      {'sampling.method': 'fast', 'model.filters': '4', 'model.blocks': '1',
       'model.num_mixtures': '2'}))
  assert config.sampling.method == 'fast'
  run = run_lib.Run(config, parallel.make_mesh(1))
  params = run.model.init(jax.random.PRNGKey(0), run.example_x()[:2])
  settings = run.model.sampling_settings(config.sampling)
  samples, info = jax.jit(lambda p, r: run.model.sample(p, r, 2, settings))(
      params, jax.random.PRNGKey(5))
  spec = run.data.spec
  assert samples.shape == (2, *spec.shape) and int(info['nfe']) == spec.shape[0] * spec.shape[1]
  levels = (np.asarray(samples) - spec.low) / (spec.high - spec.low) * (spec.num_levels - 1)
  np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
  assert levels.min() >= 0 and levels.max() <= spec.num_levels - 1
