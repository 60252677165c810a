"""launch.reflow on a smoke 1-RF run, train.init_from, and the straightness eval metric."""

import contextlib
import io
import json
import os
import shutil

import jax
import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen import data as data_lib
from jaxgen.runtime import loop
from jaxgen.runtime import reflow
from jaxgen.runtime import run as run_lib
from jaxgen.data import pairs
from jaxgen.runtime import evaluate as evaluate_lib
from launch import reflow as launch_reflow
from launch import train as launch_train

EXP = 'experiments/rectified_flow/toy2d.py:smoke'
FLAGS = ['--config.train.progress=false', '--config.train.steps=4']
pytestmark = pytest.mark.xdist_group('reflow_launch')   # one worker makes the source run once


def read(path, mode='r'):
  with open(path, mode) as f:
    return f.read()


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
  trainer = run_lib.open_run(source, {'sampling.steps': '3'})
  state = trainer.state
  key = jax.random.fold_in(jax.random.PRNGKey(0), 0)
  x, _ = trainer.model.sample(state.ema_params, key, 4, trainer.config.sampling)
  np.testing.assert_allclose(z1[:4], x, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(z0[:4], jax.random.normal(key, (4, 2)))


def test_source_run_reports_the_straightness_of_its_ema_flow(source):
  """The final eval/straightness is S_N of the run's EMA flow recomputed with the evaluation key
  (fold_in(rng, EVAL_SALT), then 100 + the metric's index among family metrics), finite and > 0
  (a 4-step flow is far from straight)."""
  lines = [json.loads(l) for l in read(os.path.join(source, 'metrics.jsonl')).splitlines()]
  reported = [l['eval/straightness'] for l in lines if 'eval/straightness' in l]
  assert len(reported) == 1 and np.isfinite(reported[0]) and reported[0] > 0
  trainer = run_lib.open_run(source)
  state = trainer.state
  c = trainer.config
  family = [m for m in c.eval.metrics if m not in evaluate_lib.METRICS]
  key = jax.random.fold_in(jax.random.fold_in(state.rng, run_lib.EVAL_SALT),
                           100 + family.index('straightness'))
  out = trainer.model.extras['metric/straightness'](state.ema_params, key, c.eval.num_samples,
                                                    c.sampling)
  np.testing.assert_allclose(reported[0], float(out['straightness']), rtol=1e-4)
  wrong = trainer.model.extras['metric/straightness'](state.params, key, c.eval.num_samples,
                                                      c.sampling)
  assert abs(float(wrong['straightness']) - reported[0]) > 1e-3 * reported[0]   # EMA, not params


def test_pair_generation_is_sharded_over_the_devices(source):
  """With a chunk divisible by the devices, z0 and z1 come back split along the batch (each of the
  8 devices draws and integrates its share) and equal the unsharded sampler's output."""
  trainer = run_lib.open_run(source, {'sampling.steps': '3'})
  state = trainer.state
  n_dev = trainer.mesh.devices.size
  assert n_dev == 8
  key = jax.random.PRNGKey(3)
  z0, z1, info = reflow.pair_function(trainer, 16, trainer.config.sampling)(
      state.ema_params, key)
  bat = parallel.batch_sharding(trainer.mesh)
  for z in (z0, z1):
    assert z.sharding.is_equivalent_to(bat, z.ndim)
    assert {s.data.shape for s in z.addressable_shards} == {(16 // n_dev, 2)}
  x, _ = trainer.model.sample(state.ema_params, key, 16, trainer.config.sampling)
  np.testing.assert_allclose(z1, x, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(z0, jax.random.normal(key, (16, 2)))
  assert int(info['nfe']) == 3


@pytest.mark.parametrize('flag,msg', [
    ('--config.sampling.steps=0', 'steps=0 is out of range'),
    ('--config.sampling.t_start=1.0', 't_start=1.0 is out of range'),
    ('--config.sampling.t_start=0.5', 'reflow pairs start at t = 0'),
    ('--config.sampling.solver=dopri', "solver='dopri' is not allowed"),
    ('--chunk=0', '--num and --chunk must be > 0'),
])
def test_reflow_refuses_a_degenerate_coupling_or_unknown_solver(source, tmp_path, capsys, flag,
                                                                  msg):
  """No 0-interval grid (z1 = z0), no start after t = 0 (the pairs' noise end is t = 0) and no
  unknown solver: one 'error:' line, exit status 2, no file."""
  out = tmp_path / 'p.npz'
  assert launch_reflow.main(['--workdir', source, '--num', '4', '--out', str(out), flag]) == 2
  err = capsys.readouterr().err
  assert err.startswith('error:') and msg in err and 'Traceback' not in err
  assert not out.exists()


def test_reflow_does_not_overwrite_pairs_without_force(source, capsys):
  """Runs may train on an existing pairs file: launch.reflow refuses to replace it (before any
  work) unless --force is given."""
  path = os.path.join(source, 'reflow', 'pairs.npz')
  before = read(path, 'rb')
  assert launch_reflow.main(['--workdir', source, '--num', '4']) == 2
  err = capsys.readouterr().err
  assert 'pairs.npz exists' in err and '--force' in err
  assert read(path, 'rb') == before


def config_2rf(source, **kw):
  c = cfg.load('experiments/rectified_flow/toy2d.py:reflow,smoke')
  over = {'data.name': f'pairs:{source}/reflow/pairs.npz', 'train.init_from': source,
          'train.progress': 'false', 'train.steps': '2'}
  over.update(kw)
  return cfg.validate(overrides_lib.apply(c, over))


def test_init_from_copies_the_sources_ema_params_into_params_and_ema(source):
  trainer = run_lib.Run(config_2rf(source))
  state = run_lib.init_from(trainer, trainer.init(), source)
  src = run_lib.open_run(source).state
  for a, b, e in zip(*(jax.tree.leaves(t) for t in (state.params, state.ema_params,
                                                     src.ema_params))):
    np.testing.assert_array_equal(a, e)
    np.testing.assert_array_equal(b, e)
  assert int(state.step) == 0


def test_init_from_takes_the_params_a_source_without_ema_evaluates_with(source, tmp_path):
  """A source run with eval.use_ema=False samples (and makes its reflow pairs) with its raw params,
  so a run initialised from it starts from those, and says so in its record."""
  copy = str(tmp_path / 'no_ema')
  shutil.copytree(os.path.join(source, 'checkpoints'), os.path.join(copy, 'checkpoints'))
  config = json.loads(read(os.path.join(source, 'config.json')))
  config['eval']['use_ema'] = False
  with open(os.path.join(copy, 'config.json'), 'w') as f:
    json.dump(config, f)
  trainer = run_lib.Run(config_2rf(copy, **{'data.name': f'pairs:{source}/reflow/pairs.npz'}))
  params, record = run_lib.init_params(trainer, copy)
  assert record == {'source': os.path.abspath(copy), 'step': 4, 'params': 'params'}
  src = run_lib.open_run(source).state
  for a, p, e in zip(*(jax.tree.leaves(t) for t in (params, src.params, src.ema_params))):
    np.testing.assert_array_equal(a, p)
  assert any(not np.array_equal(p, e) for p, e in zip(jax.tree.leaves(src.params),
                                                     jax.tree.leaves(src.ema_params)))


def test_init_from_refuses_another_model_before_writing_anything(source, tmp_path):
  """Every refusal (another model.* config, no run, no checkpoint, parameters of other shapes
  because the data has another dimension) comes before the new workdir is created, names what
  differs, and never advises moving the source's checkpoint aside."""
  w = tmp_path / 'w'
  with pytest.raises(cfg.ConfigError, match='init_from.*model.score_mlp.width'):
    loop.train(config_2rf(source, **{'model.score_mlp.width': '16'}), str(w))
  assert not os.path.exists(w)
  with pytest.raises(FileNotFoundError, match='holds no run'):
    loop.train(config_2rf(source, **{'train.init_from': str(tmp_path)}), str(w))
  assert not os.path.exists(w)
  empty = tmp_path / 'started'   # a source that was started but never checkpointed
  os.makedirs(empty / 'checkpoints')
  shutil.copy(os.path.join(source, 'config.json'), empty / 'config.json')
  with pytest.raises(FileNotFoundError, match='has no checkpoint yet'):
    loop.train(config_2rf(source, **{'train.init_from': str(empty)}), str(w))
  assert not os.path.exists(w)
  z = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
  pairs.save(str(tmp_path / 'p3.npz'), z, 2 * z)   # 3-D pairs: same model.*, other shapes
  with pytest.raises(cfg.ConfigError, match=r"init_from=.*do not fit.*shape \(3,\).*"
                                            r"dense_in/kernel: stored \(2, 32\) vs \(3, 32\)") as e:
    loop.train(config_2rf(source, **{'data.name': f'pairs:{tmp_path}/p3.npz'}), str(w))
  assert 'aside' not in str(e.value)
  assert not os.path.exists(w)


@pytest.fixture(scope='module')
def krf(source, tmp_path_factory):
  """A 2-step 2-RF run from `source` on a copy of its pairs (named by a relative path), with the
  text it printed."""
  d = tmp_path_factory.mktemp('krf')
  shutil.copy(os.path.join(source, 'reflow', 'pairs.npz'), d / 'p1.npz')
  w = str(d / 'rf2')
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    loop.train(config_2rf(source, **{'data.name': 'pairs:' + os.path.relpath(d / 'p1.npz')}), w)
  return w, str(d / 'p1.npz'), out.getvalue()


def krf_config(source, krf, **kw):
  return config_2rf(source, **{'data.name': 'pairs:' + os.path.relpath(krf[1]), **kw})


def test_a_run_with_its_own_checkpoint_resumes_whatever_init_from_says(source, krf, capsys):
  """A fresh run records where it started (init_from.json); a resume ignores train.init_from,
  which may then change (the source moved) or point nowhere."""
  w, _, printed = krf
  assert 'Initialised params and EMA from the ema_params' in printed
  assert json.loads(read(os.path.join(w, 'init_from.json'))) == {
      'source': os.path.abspath(source), 'step': 4, 'params': 'ema_params'}
  state = loop.train(krf_config(source, krf, **{'train.steps': '3',
                                               'train.init_from': '/moved/elsewhere'}), w)
  out = capsys.readouterr().out
  assert 'Resumed from step 2' in out and 'Initialised' not in out and int(state.step) == 3


def test_resume_on_replaced_pairs_is_refused_before_writing(source, krf):
  """The run recorded its pairs' digest (data.json); after the file is replaced by other pairs
  (e.g. launch.reflow --force) a resume is refused and the workdir is left as it was."""
  w, p1, _ = krf
  assert json.loads(read(os.path.join(w, 'data.json')))['pairs_digest'] == pairs.load(p1).digest
  original = read(p1, 'rb')
  before = {f: os.path.getmtime(os.path.join(w, f)) for f in os.listdir(w)}
  steps = sorted(os.listdir(os.path.join(w, 'checkpoints')))
  old = pairs.load(p1)
  pairs.save(p1, old.z0, old.z1 + 1e-3, **old.meta)
  try:
    with pytest.raises(cfg.ConfigError, match='pairs_digest.*now.*--force'):
      loop.train(krf_config(source, krf, **{'train.steps': '8'}), w)
  finally:
    with open(p1, 'wb') as f:
      f.write(original)
  assert {f: os.path.getmtime(os.path.join(w, f)) for f in os.listdir(w)} == before
  assert sorted(os.listdir(os.path.join(w, 'checkpoints'))) == steps


def test_pairs_of_a_krf_run_evaluate_on_the_root_data_without_earlier_files(source, krf,
                                                                           tmp_path):
  """Pairs made from a run that trained on pairs store the root run's evaluation data (toy2d
  moons, seed 0, absolute paths), so they load after the earlier pairs file is gone."""
  w, p1, _ = krf
  out = str(tmp_path / 'p2.npz')
  assert launch_reflow.main(['--workdir', w, '--num', '8', '--chunk', '8', '--out', out,
                             '--config.sampling.steps=2']) == 0
  meta = pairs.load(out).meta
  assert meta['eval_source']['seed'] == 0
  assert meta['eval_source']['data']['name'] == 'toy2d:moons'
  assert meta['source_workdir'] == os.path.abspath(w)
  assert meta['digest'] == pairs.load(out).digest
  os.rename(p1, p1 + '.aside')
  try:
    ds = data_lib.build(config_2rf(source, **{'data.name': 'pairs:' + out}).data, 0)
    ref = data_lib.build(cfg.load(EXP).data, 0)
    np.testing.assert_array_equal(ds.eval_array(32), ref.eval_array(32))
  finally:
    os.rename(p1 + '.aside', p1)


def test_unknown_metric_lists_the_family_metrics(source):
  run = run_lib.open_run(source, {'eval.metrics': "('nope',)"})
  with pytest.raises(ValueError, match='straightness'):
    evaluate_lib.evaluate(run, run.state.ema_params, jax.random.PRNGKey(0))


def test_reflow_of_a_missing_run_is_an_error_message(tmp_path, capsys):
  assert launch_reflow.main(['--workdir', str(tmp_path), '--num', '4']) == 2
  assert 'no run' in capsys.readouterr().err
