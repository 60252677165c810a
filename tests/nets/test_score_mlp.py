"""Facts about the time-conditioned score MLP (jaxgen/nets/score_mlp.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import score_mlp
from tests.conftest import param_count


def _cfg(**kw):
  cfg = score_mlp.defaults()
  cfg.update(dict(width=32, num_layers=2, embed_dim=16))
  cfg.update(kw)
  return cfg


def _init(cfg, b=4, d=2):
  net = score_mlp.build(cfg)
  x = jax.random.normal(jax.random.PRNGKey(1), (b, d))
  t = jnp.linspace(0.1, 0.9, b) * (999. if cfg.embedding_type == 'positional' else 10.)
  y = jnp.arange(b) % cfg.num_classes if cfg.num_classes else None
  return net, net.init(jax.random.PRNGKey(0), x, t, y=y)['params'], x, t, y


def test_default_param_count():
  """Default MLP (width 256, 3 residual blocks, 64 time features) at d=2: 480,514 params."""
  assert param_count(score_mlp.build(score_mlp.defaults()), (1, 2)) == 480_514


@pytest.mark.parametrize('emb', ['positional', 'fourier'])
@pytest.mark.parametrize('d', [2, 5])
def test_output_shape_dtype_and_time_dependence(emb, d):
  """[b, d] -> float32 [b, d]; the output changes with t_label (Fourier: via log t_label)."""
  net, p, x, t, _ = _init(_cfg(embedding_type=emb), d=d)
  out = net.apply({'params': p}, x, t)
  assert out.shape == x.shape and out.dtype == jnp.float32
  assert float(jnp.abs(out - net.apply({'params': p}, x, 2. * t)).max()) > 1e-5


def test_scalar_time_broadcasts():
  """A scalar t_label is broadcast over the batch."""
  net, p, x, _, _ = _init(_cfg())
  np.testing.assert_allclose(net.apply({'params': p}, x, 3.),
                             net.apply({'params': p}, x, jnp.full((4,), 3.)), atol=1e-6)


def test_zero_init_scale_gives_zero_output():
  """init_scale=0: the output layer starts at ~0, so the initial score is ~0."""
  net, p, x, t, _ = _init(_cfg(init_scale=0.))
  assert float(jnp.abs(net.apply({'params': p}, x, t)).max()) < 1e-3


def test_class_conditioning():
  """num_classes > 0: the output depends on y."""
  net, p, x, t, _ = _init(_cfg(num_classes=3))
  a = net.apply({'params': p}, x, t, y=jnp.zeros(4, jnp.int32))
  b = net.apply({'params': p}, x, t, y=jnp.full((4,), 2))
  assert float(jnp.abs(a - b).max()) > 1e-5


def test_bfloat16_keeps_float32_params_and_output():
  """dtype='bfloat16': params and output float32, output close to the f32 net."""
  net, p, x, t, _ = _init(_cfg(dtype='bfloat16'))
  assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(p))
  out = net.apply({'params': p}, x, t)
  ref = score_mlp.build(_cfg()).apply({'params': p}, x, t)
  assert out.dtype == jnp.float32
  assert float(jnp.linalg.norm(out - ref) / jnp.linalg.norm(ref)) < 5e-2


def test_remat_identical_outputs_and_gradients():
  """remat=True: same params tree, outputs and gradients (dropout on, same rng)."""
  net, p, x, t, _ = _init(_cfg(dropout=0.2))
  net_r, p_r, _, _, _ = _init(_cfg(dropout=0.2, remat=True))
  assert jax.tree_util.tree_structure(p) == jax.tree_util.tree_structure(p_r)
  rng = {'dropout': jax.random.PRNGKey(5)}

  def loss(n):
    return lambda p: jnp.mean(n.apply({'params': p}, x, t, train=True, rngs=rng) ** 2)

  l, g = jax.value_and_grad(loss(net))(p)
  l_r, g_r = jax.value_and_grad(loss(net_r))(p)
  np.testing.assert_allclose(l, l_r, rtol=1e-6)
  for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_r)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # float reassociation


def test_fits_a_gaussian_score():
  """Trained by denoising score matching on N(0, I) data at a fixed sigma, the MLP learns the
  closed-form score -x / (1 + sigma^2) of the smoothed density (400 Adam steps)."""
  import optax
  cfg = _cfg(width=64)
  net = score_mlp.build(cfg)
  sigma = 0.5
  key = jax.random.PRNGKey(0)
  x0 = jax.random.normal(key, (1024, 2))
  p = net.init(key, x0, jnp.full((1024,), sigma))['params']
  tx = optax.adam(optax.cosine_decay_schedule(3e-3, 400))
  opt = tx.init(p)

  def loss(p, k):
    ka, kb = jax.random.split(k)
    x = jax.random.normal(ka, (1024, 2))
    z = jax.random.normal(kb, (1024, 2))
    s = net.apply({'params': p}, x + sigma * z, jnp.full((1024,), sigma))
    return jnp.mean(jnp.sum((s * sigma + z) ** 2, -1))

  @jax.jit
  def step(p, opt, k):
    l, g = jax.value_and_grad(loss)(p, k)
    u, opt = tx.update(g, opt)
    return optax.apply_updates(p, u), opt, l

  for i in range(400):
    p, opt, _ = step(p, opt, jax.random.fold_in(key, i))
  xt = jnp.array([[1., 0.], [-1., 1.], [0.5, -0.5]])
  s = net.apply({'params': p}, xt, jnp.full((3,), sigma))
  np.testing.assert_allclose(s, -xt / (1 + sigma ** 2), atol=0.15)
