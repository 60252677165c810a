"""The shortcut family: its Model record, k-step sampling for k in {1, 2, 4, 8} and the config
refusals (the maths: tests/ode/test_shortcut.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import shortcut as sc
from jaxgen.runtime import config as cfg
from launch import train as launch_train
from tests import refusal

SMOKE = 'experiments/shortcut/toy2d.py:smoke'
MOONS = DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none')


def test_model_record_trains_and_samples_with_1_2_4_8_steps():
  """loss and gradients are finite (self-consistency examples included); k-step samples for k in
  {1, 2, 4, 8} report nfe = k and differ between k (the step size reaches the network)."""
  c = cfg.validate(cfg.load(SMOKE))
  model = sc.build(c, MOONS)
  x = jax.random.normal(jax.random.PRNGKey(0), (16, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  loss, grads = jax.value_and_grad(lambda p: model.loss(p, {'x': x}, jax.random.PRNGKey(2))[0])(
      params)
  assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  out = {}
  for k in (1, 2, 4, 8):
    settings = model.sampling_settings({'steps': k})
    out[k], info = model.sample(params, jax.random.PRNGKey(3), 5, settings)
    assert out[k].shape == (5, 2) and int(info['nfe']) == k
    assert model.sampling_label(settings) == f'{k}step'
  assert float(jnp.max(jnp.abs(out[1] - out[2]))) > 1e-6
  with pytest.raises(TypeError, match=r'pass model.sampling_settings\(section\)'):
    model.sample(params, jax.random.PRNGKey(3), 5, c.sampling)


def test_class_conditional_guided_sampling_counts_two_evaluations_per_jump():
  spec = DataSpec('digits', (2,), -1, 1, None, 10, 'none')
  c = cfg.load(SMOKE)
  c.data.name, c.model.num_classes, c.loss.p_uncond = 'digits', 10, 0.1
  c.sampling.guidance = 1.0
  model = sc.build(cfg.validate(c), spec)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  loss, _ = model.loss(params, {'x': x, 'label': jnp.arange(8)}, jax.random.PRNGKey(2))
  assert np.isfinite(float(loss))
  samples, info = model.sample(params, jax.random.PRNGKey(3), 10,
                               model.sampling_settings({'steps': 4}))
  assert int(info['nfe']) == 8 and list(info['label']) == list(range(10))


@pytest.mark.parametrize('override, pattern', [
    ('--config.sampling.steps=3', r'config\.sampling\.steps=3 is out of range.*power of two'),
    ('--config.sampling.steps=256', r'config\.sampling\.steps=256 is finer than.*loss\.max_steps'),
    ('--config.loss.max_steps=96', r'config\.loss\.max_steps=96 is out of range.*power of two'),
])
def test_a_bad_config_is_one_error_line_and_nothing_written(override, pattern, capsys, tmp_path):
  work = tmp_path / 'w'
  refusal.refused(capsys, launch_train.main, ['--config', SMOKE, '--workdir', str(work), override],
                  pattern, str(tmp_path))
  assert not work.exists()
