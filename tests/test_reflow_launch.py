"""launch.reflow on a smoke 1-RF run, train.init_from, and the straightness eval metric."""

import json
import os

import jax
import numpy as np
import pytest

from jaxgen import config as cfg
from jaxgen import train
from jaxgen.metrics import evaluate as evaluate_lib
from launch import reflow as launch_reflow
from launch import train as launch_train

EXP = 'experiments/rectified_flow/toy2d.py:smoke'
FLAGS = ['--config.train.progress=false', '--config.train.steps=4']
pytestmark = pytest.mark.xdist_group('reflow_launch')   # one worker makes the source run once


@pytest.fixture(scope='module')
def source(tmp_path_factory):
  """A 4-step smoke 1-RF run and 10 reflow pairs from it (chunks of 4, Euler with 3 steps)."""
  w = str(tmp_path_factory.mktemp('reflow') / 'rf')
  assert launch_train.main(['--config', EXP, '--workdir', w] + FLAGS) == 0
  assert launch_reflow.main(['--workdir', w, '--num', '10', '--chunk', '4',
                             '--config.sampling.steps=3']) == 0
  return w


def test_pairs_file_holds_the_runs_coupling_and_how_it_was_made(source):
  """z1 of the first chunk is exactly what the run's sampler returns for that chunk's key."""
  with np.load(os.path.join(source, 'reflow', 'pairs.npz')) as f:
    z0, z1, meta = f['z0'], f['z1'], json.loads(str(f['meta']))
  assert z0.shape == z1.shape == (10, 2) and np.all(np.isfinite(z1))
  assert (meta['solver'], meta['steps'], meta['nfe'], meta['source_step']) == ('euler', 3, 3, 4)
  assert meta['source_config']['data']['name'] == 'toy2d:moons' and meta['chunk'] == 4
  trainer, state = train.load_run(source, {'sampling.steps': '3'})
  key = jax.random.fold_in(jax.random.PRNGKey(0), 0)
  x, _ = trainer.model.sample(state.ema_params, key, 4, trainer.config.sampling)
  np.testing.assert_allclose(z1[:4], x, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(z0[:4], jax.random.normal(key, (4, 2)))


def test_source_run_reports_straightness(source):
  lines = [json.loads(l) for l in open(os.path.join(source, 'metrics.jsonl'))]
  assert any(l.get('eval/straightness', -1) >= 0 for l in lines)


def config_2rf(source, **kw):
  c = cfg.load('experiments/rectified_flow/toy2d.py:reflow,smoke')
  over = {'data.name': f'pairs:{source}/reflow/pairs.npz', 'train.init_from': source,
          'train.progress': 'false', 'train.steps': '2'}
  over.update(kw)
  return cfg.validate(cfg.override(c, over))


def test_init_from_copies_the_sources_ema_params_into_params_and_ema(source):
  trainer = train.Trainer(config_2rf(source))
  state = train.init_from(trainer, trainer.init(), source)
  _, src = train.load_run(source)
  for a, b, e in zip(*(jax.tree.leaves(t) for t in (state.params, state.ema_params,
                                                     src.ema_params))):
    np.testing.assert_array_equal(a, e)
    np.testing.assert_array_equal(b, e)
  assert int(state.step) == 0


def test_init_from_refuses_another_model_before_writing_anything(source, tmp_path):
  with pytest.raises(cfg.ConfigError, match='init_from.*model.score_mlp.width'):
    train.run(config_2rf(source, **{'model.score_mlp.width': '16'}), str(tmp_path / 'w'))
  assert not os.path.exists(tmp_path / 'w')
  with pytest.raises(FileNotFoundError, match='holds no run'):
    train.run(config_2rf(source, **{'train.init_from': str(tmp_path)}), str(tmp_path / 'w'))


def test_a_run_with_its_own_checkpoint_resumes_instead_of_initialising(source, tmp_path, capsys):
  w = str(tmp_path / 'rf2')
  train.run(config_2rf(source), w)
  assert 'Initialised params and EMA' in capsys.readouterr().out
  state = train.run(config_2rf(source, **{'train.steps': '3'}), w)
  out = capsys.readouterr().out
  assert 'Resumed from step 2' in out and 'Initialised' not in out and int(state.step) == 3


def test_unknown_metric_lists_the_family_metrics(source):
  trainer, state = train.load_run(source, {'eval.metrics': "('nope',)"})
  with pytest.raises(ValueError, match='straightness'):
    evaluate_lib.evaluate(trainer, state.ema_params, jax.random.PRNGKey(0))


def test_reflow_of_a_missing_run_is_an_error_message(tmp_path, capsys):
  assert launch_reflow.main(['--workdir', str(tmp_path), '--num', '4']) == 2
  assert 'no run' in capsys.readouterr().err
