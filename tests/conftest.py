"""Test-session set-up (8 virtual CPU devices unless JAXGEN_TEST_DEVICES says, fast compilation)
and the helpers tests share.

XLA_FLAGS must be set before JAX initialises its backends, so this runs at import time of the
test session. `jax_disable_most_optimizations` trades run time for compile time, which dominates
the small shapes used in tests.
"""

import math
import os

# JAXGEN_TEST_DEVICES=1 runs the suite (or part of it) on one device instead.
os.environ['XLA_FLAGS'] = (
    os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count='
    + os.environ.get('JAXGEN_TEST_DEVICES', '8')).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # noqa: E402

from jaxgen import data as data_lib  # noqa: E402
from jaxgen.runtime import config as cfg  # noqa: E402
from jaxgen.runtime import overrides as overrides_lib  # noqa: E402
from jaxgen.runtime import parallel  # noqa: E402
from jaxgen.runtime import run as run_lib  # noqa: E402
from jaxgen.runtime import state as state_lib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

jax.config.update('jax_disable_most_optimizations', True)


def pytest_configure(config):
  config.addinivalue_line('markers', 'slow: long-running check; run with `-m slow`')


# The tiny run most runtime tests train: 1-RF on two moons, a few steps.
EXP = 'experiments/rectified_flow/toy2d.py:smoke'


def tiny_config(**overrides):
  c = cfg.load(EXP)
  base = {'train.steps': '6', 'train.batch_size': '32', 'train.log_every': '3',
          'train.checkpoint_every': '3', 'train.progress': 'false', 'optim.ema_rate': '0.9',
          'optim.warmup_steps': '2'}
  base.update(overrides)
  return cfg.validate(overrides_lib.apply(c, base))


def run_steps(config, n_devices, steps, state=None):
  trainer = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(n_devices)))
  state = trainer.init() if state is None else state
  for s in range(int(state.step), steps):
    state, _ = trainer.train_step(state, trainer.run.batch(s))
  return jax.device_get(state)


class Counter:
  """Counts calls of f actually executed, via jax.debug.callback (a host side effect per call)."""

  def __init__(self, f):
    self.n = 0
    self.f = f

  def _inc(self):
    self.n += 1

  def __call__(self, t, x):
    jax.debug.callback(self._inc)
    return self.f(t, x)


def data_cfg(**kw):
  """The ``data`` section of the schema with `kw` set (data-source tests)."""
  c = data_lib.defaults()
  for k, v in kw.items():
    c[k] = v
  return c


def param_count(net, x_shape) -> int:
  """Parameters of a time-conditioned flax network ``net(x, t)`` for inputs of `x_shape`, counted
  through jax.eval_shape (allocates nothing)."""
  x = jax.ShapeDtypeStruct(x_shape, jax.numpy.float32)
  t = jax.ShapeDtypeStruct(x_shape[:1], jax.numpy.float32)
  variables = jax.eval_shape(lambda x, t: net.init(jax.random.PRNGKey(0), x, t), x, t)
  return sum(math.prod(v.shape) for v in jax.tree_util.tree_leaves(variables['params']))
