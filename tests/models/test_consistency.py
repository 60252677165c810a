"""The consistency family: the boundary condition through the real network, the curriculum's
update counter, and one-line refusals of bad configs and teachers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import source
from jaxgen.models import consistency
from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from launch import train as launch_train
from tests.refusal import SHORT, refused

SPEC = source.DataSpec(name='toy', shape=(2,), low=-3.0, high=3.0, num_levels=None,
                        num_classes=None, scale='none')
TOY = 'experiments/consistency/toy2d.py:smoke'


def _config(**over):
  return cfg.validate(overrides_lib.apply(cfg.load(TOY), {k: str(v) for k, v in over.items()}))


def test_boundary_condition_through_a_random_network():
  """f(sigma_min, x) == x exactly for a randomly initialised score MLP; not at larger sigma."""
  model = consistency.build(_config(), SPEC)
  x = jax.random.normal(jax.random.PRNGKey(0), (16, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  f = model.extras['consistency']
  np.testing.assert_array_equal(f(params, jnp.full((16,), 0.002), x), x)
  assert not np.allclose(f(params, jnp.full((16,), 1.0), x), x)


def test_after_update_counts_updates_and_loss_follows_the_curriculum():
  """The 'updates' leaf is the number of applied updates (no gradient reaches it); the loss
  reports the grid size N(k) of that count."""
  config = _config(**{'train.steps': 80})
  model = consistency.build(config, SPEC)
  x = jax.random.normal(jax.random.PRNGKey(0), (16, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  grads = jax.grad(lambda p: model.loss(p, {'x': x}, jax.random.PRNGKey(2))[0])(params)
  assert float(grads['updates']) == 0.0
  moved = jax.tree.map(lambda p: p - 1.0, params)
  after = model.extras['after_update'](params, moved, {'x': x}, jax.random.PRNGKey(3))
  assert float(after['updates']) == 1.0 and after['net'] is moved['net']
  assert float(model.loss(params, {'x': x}, jax.random.PRNGKey(2))[1]['grid_points']) == 11
  late = dict(params, updates=jnp.float32(79))
  assert float(model.loss(late, {'x': x}, jax.random.PRNGKey(2))[1]['grid_points']) == 1281


def test_sampling_levels_default_and_explicit():
  model = consistency.build(_config(**{'sampling.steps': 2}), SPEC)
  s = model.sampling_settings(None)
  assert len(s.sigmas) == 2 and s.sigmas[0] == pytest.approx(80.0) and 0.002 < s.sigmas[1] < 80
  assert model.sampling_settings({'sigmas': (80.0, 0.8)}).sigmas == (80.0, 0.8)
  assert model.sampling_label(s) == '2step'


@pytest.mark.parametrize('over, pattern', [
    (['--config.loss.method=cd'], r'loss\.method=.cd. distils a score-SDE run: set '
                                  r'loss\.teacher_run'),
    (['--config.loss.teacher_run=somewhere'], r'loss\.teacher_run=.somewhere. is read only by'),
    (['--config.sampling.steps=2', '--config.sampling.sigmas=(0.5,1.0)'],
     r'sampling\.sigmas=.*decreasing'),
    (['--config.loss.s0=20', '--config.loss.s1=10'], r'loss\.s1=10 must be >= loss\.s0=20'),
])
def test_bad_config_is_one_error_line(over, pattern, tmp_path, capsys):
  w = str(tmp_path / 'w')
  refused(capsys, launch_train.main, ['--config', TOY, '--workdir', w] + SHORT + over, pattern,
          str(tmp_path))


def test_teacher_of_another_family_or_data_is_refused(tmp_path, capsys):
  """A teacher that is not a score_sde run, or one on other data, is one line; nothing written."""
  ct = str(tmp_path / 'ct')
  assert launch_train.main(['--config', TOY, '--workdir', ct] + SHORT) == 0
  capsys.readouterr()
  w = str(tmp_path / 'cd')
  refused(capsys, launch_train.main,
          ['--config', TOY, '--workdir', w, '--config.loss.method=cd',
           f'--config.loss.teacher_run={ct}'] + SHORT,
          r'is a consistency run; consistency distillation needs a score_sde run', str(tmp_path))
  sde = str(tmp_path / 'sde')
  assert launch_train.main(['--config', 'experiments/score_sde/toy2d.py:smoke', '--workdir', sde,
                            '--config.data.name=toy2d:checkerboard'] + SHORT) == 0
  capsys.readouterr()
  refused(capsys, launch_train.main,
          ['--config', TOY, '--workdir', w, '--config.loss.method=cd',
           f'--config.loss.teacher_run={sde}'] + SHORT,
          r"the teacher's data\.name='toy2d:checkerboard' is not this run's", str(tmp_path))
