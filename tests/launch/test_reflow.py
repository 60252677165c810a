"""launch.reflow on a smoke 1-RF run (sharded pairs, resume after a kill, several processes),
train.init_from, the reflow variants' source key, and the straightness eval metric."""

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
from jaxgen.data import pairs
from jaxgen.runtime import cli as cli_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime import loop
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.store import paths as paths_lib
from jaxgen.store import shards
from jaxgen.tools import reflow
from launch import reflow as launch_reflow
from launch import train as launch_train
from tests.folders import save_pairs

EXP = 'experiments/rectified_flow/toy2d.py:smoke'
FLAGS = ['--config.train.progress=false', '--config.train.steps=4']
pytestmark = pytest.mark.xdist_group('reflow_launch')   # one worker makes the source run once


def read(path, mode='r'):
  with open(path, mode) as f:
    return f.read()


@pytest.fixture(scope='module')
def source(tmp_path_factory):
  """A 4-step smoke 1-RF run and 10 reflow pairs from it (shards of 4, Euler with 3 steps)."""
  w = str(tmp_path_factory.mktemp('reflow') / 'rf')
  assert launch_train.main(['--config', EXP, '--workdir', w] + FLAGS) == 0
  assert launch_reflow.main(['--workdir', w, '--num', '10', '--shard', '4',
                             '--config.sampling.steps=3']) == 0
  return w


def test_pairs_folder_holds_the_runs_coupling_and_how_it_was_made(source):
  """Shards of 4, 4 and 2 pairs; z1 of shard 1 is exactly what the run's sampler returns for
  that shard's key fold_in(fold_in(PRNGKey(seed), 1), 0) (one call per shard)."""
  folder = os.path.join(source, 'reflow', 'pairs')
  assert sorted(os.listdir(folder)) == ['index.json', 'plan.json'] + [
      f'shard_0000{i}.{e}' for i in range(3) for e in ('json', 'npz')]
  z0, z1 = pairs.load_all(folder)
  meta = pairs.load(folder).meta
  assert z0.shape == z1.shape == (10, 2) and np.all(np.isfinite(z1))
  assert (meta['solver'], meta['steps'], meta['nfe'], meta['source_step']) == ('euler', 3, 3, 4)
  assert meta['source_config']['data']['name'] == 'toy2d:moons'
  assert (meta['shard_size'], meta['chunk'], [r['num'] for r in meta['shards']]) == (4, 4,
                                                                                     [4, 4, 2])
  trainer = run_lib.open_run(source, {'sampling.steps': '3'})
  key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(0), 1), 0)
  x, _ = trainer.model.sample(trainer.params, key, 4,
                              trainer.model.sampling_settings(trainer.config.sampling))
  np.testing.assert_allclose(z1[4:8], x, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(z0[4:8], jax.random.normal(key, (4, 2)))


def test_source_run_reports_the_straightness_of_its_ema_flow(source):
  """The final eval/straightness is S_N of the run's EMA flow recomputed with the evaluation key
  (fold_in(rng, EVAL_SALT), then 100 + the metric's index among family metrics), finite and > 0
  (a 4-step flow is far from straight)."""
  lines = [json.loads(l) for l in read(os.path.join(source, 'metrics.jsonl')).splitlines()]
  reported = [l['eval/straightness'] for l in lines if 'eval/straightness' in l]
  assert len(reported) == 1 and np.isfinite(reported[0]) and reported[0] > 0
  trainer = run_lib.open_run(source)
  raw = run_lib.open_run(source, {'eval.use_ema': 'false'}).params
  c = trainer.config
  family = [m for m in c.eval.metrics if m not in evaluators.metric_names()]
  key = jax.random.fold_in(jax.random.fold_in(trainer.rng, run_lib.EVAL_SALT),
                           100 + family.index('straightness'))
  settings = trainer.model.sampling_settings(c.sampling)
  out = trainer.model.extras['metric/straightness'](trainer.params, key, c.eval.num_samples,
                                                    settings)
  np.testing.assert_allclose(reported[0], float(out['straightness']), rtol=1e-4)
  wrong = trainer.model.extras['metric/straightness'](raw, key, c.eval.num_samples, settings)
  assert abs(float(wrong['straightness']) - reported[0]) > 1e-3 * reported[0]   # EMA, not params


def test_pair_generation_is_sharded_over_the_devices(source):
  """With a chunk divisible by the devices, z0 and z1 come back split along the batch (each of the
  8 devices draws and integrates its share) and equal the unsharded sampler's output."""
  trainer = run_lib.open_run(source, {'sampling.steps': '3'})
  n_dev = trainer.mesh.devices.size
  assert n_dev == 8
  key = jax.random.PRNGKey(3)
  settings = trainer.model.sampling_settings(trainer.config.sampling)
  z0, z1, info = reflow.pair_function(trainer, 16, settings)(trainer.params, key)
  bat = parallel.batch_sharding(trainer.mesh)
  for z in (z0, z1):
    assert z.sharding.is_equivalent_to(bat, z.ndim)
    assert {s.data.shape for s in z.addressable_shards} == {(16 // n_dev, 2)}
  x, _ = trainer.model.sample(trainer.params, key, 16, settings)
  np.testing.assert_allclose(z1, x, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(z0, jax.random.normal(key, (16, 2)))
  assert int(info['nfe']) == 3


@pytest.mark.parametrize('flag,msg', [
    ('--config.sampling.steps=0', 'steps=0 is out of range'),
    ('--config.sampling.t_start=1.0', 't_start=1.0 is out of range'),
    ('--config.sampling.t_start=0.5', 'reflow pairs start at t = 0'),
    ('--config.sampling.solver=dopri', "solver='dopri' is not allowed"),
    ('--shard=0', '--num and --shard must be > 0'),
    ('--out=x.npz', 'pairs are a folder of shards'),
])
def test_reflow_refuses_a_degenerate_coupling_or_unknown_solver(source, tmp_path, capsys, flag,
                                                                  msg):
  """No 0-interval grid (z1 = z0), no start after t = 0 (the pairs' noise end is t = 0) and no
  unknown solver: one 'error:' line, exit status 2, no file."""
  out = tmp_path / 'p'
  assert launch_reflow.main(['--workdir', source, '--num', '4', '--out', str(out), flag]) == 2
  err = capsys.readouterr().err
  assert err.startswith('error:') and msg in err and 'Traceback' not in err
  assert not out.exists()


def test_reflow_does_not_overwrite_pairs_without_force(source, capsys):
  """Runs may train on finished pairs: launch.reflow refuses to replace them (before any work)
  unless --force is given."""
  path = os.path.join(source, 'reflow', 'pairs', 'index.json')
  before = read(path, 'rb')
  assert launch_reflow.main(['--workdir', source, '--num', '4']) == 2
  err = capsys.readouterr().err
  assert 'holds finished pairs' in err and '--force' in err
  assert read(path, 'rb') == before


def config_2rf(source, **kw):
  c = cfg.load('experiments/rectified_flow/toy2d.py:reflow,smoke')
  over = {'train.init_from': source, 'train.progress': 'false', 'train.steps': '2'}
  over.update(kw)
  return cfg.validate(overrides_lib.apply(c, over))


def test_init_from_copies_the_sources_ema_params_into_params_and_ema(source):
  trainer = run_lib.Run(config_2rf(source))
  state = state_lib.start_from(state_lib.Trainer(trainer).init(),
                               run_lib.source_params(trainer, source)[0])
  src = run_lib.open_run(source)   # its EMA params (eval.use_ema)
  for a, b, e in zip(*(jax.tree.leaves(t) for t in (state.params, state.ema_params,
                                                     src.params))):
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
  trainer = run_lib.Run(config_2rf(copy, **{'data.name': f'pairs:{source}/reflow/pairs'}))
  params, record = run_lib.source_params(trainer, copy)
  assert record == {'source': os.path.abspath(copy), 'step': 4, 'params': 'params'}
  raw = run_lib.open_run(source, {'eval.use_ema': 'false'}).params
  ema = run_lib.open_run(source).params
  for a, p in zip(jax.tree.leaves(params), jax.tree.leaves(raw)):
    np.testing.assert_array_equal(a, p)
  assert any(not np.array_equal(p, e) for p, e in zip(jax.tree.leaves(raw),
                                                     jax.tree.leaves(ema)))


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
  save_pairs(str(tmp_path / 'p3'), z, 2 * z)   # 3-D pairs: same model.*, other shapes
  with pytest.raises(cfg.ConfigError, match=r"init_from=.*do not fit.*shape \(3,\).*"
                                            r"dense_in/kernel: stored \(2, 32\) vs \(3, 32\)") as e:
    loop.train(config_2rf(source, **{'data.name': f'pairs:{tmp_path}/p3'}), str(w))
  assert 'aside' not in str(e.value)
  assert not os.path.exists(w)


@pytest.fixture(scope='module')
def krf(source, tmp_path_factory):
  """A 2-step 2-RF run from `source` on a copy of its pairs (named by a relative path), with the
  text it printed."""
  d = tmp_path_factory.mktemp('krf')
  shutil.copytree(os.path.join(source, 'reflow', 'pairs'), d / 'p1')
  w = str(d / 'rf2')
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    loop.train(config_2rf(source, **{'data.name': 'pairs:' + os.path.relpath(d / 'p1')}), w)
  return w, str(d / 'p1'), out.getvalue()


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
  """The run recorded its pairs' digest (data.json); after the pairs are replaced by others
  (e.g. launch.reflow --force) a resume is refused and the workdir is left as it was."""
  w, p1, _ = krf
  assert json.loads(read(os.path.join(w, 'data.json')))['pairs_digest'] == pairs.load(p1).digest
  shutil.copytree(p1, p1 + '.orig')
  before = {f: os.path.getmtime(os.path.join(w, f)) for f in os.listdir(w)}
  steps = sorted(os.listdir(os.path.join(w, 'checkpoints')))
  meta = {k: v for k, v in pairs.load(p1).meta.items()
          if k not in ('shards', 'digest', 'format', 'num', 'shard_size', 'shape')}
  z0, z1 = pairs.load_all(p1)
  save_pairs(p1, z0, z1 + 1e-3, shard_size=4, **meta)
  try:
    with pytest.raises(cfg.ConfigError, match='pairs_digest.*now.*--force'):
      loop.train(krf_config(source, krf, **{'train.steps': '8'}), w)
  finally:
    shutil.rmtree(p1)
    os.rename(p1 + '.orig', p1)
  assert {f: os.path.getmtime(os.path.join(w, f)) for f in os.listdir(w)} == before
  assert sorted(os.listdir(os.path.join(w, 'checkpoints'))) == steps


def test_pairs_of_a_krf_run_evaluate_on_the_root_data_without_earlier_files(source, krf,
                                                                           tmp_path):
  """Pairs made from a run that trained on pairs store the root run's evaluation data (toy2d
  moons, seed 0, absolute paths), so they load after the earlier pairs file is gone."""
  w, p1, _ = krf
  out = str(tmp_path / 'p2')
  assert launch_reflow.main(['--workdir', w, '--num', '8', '--shard', '8', '--out', out,
                             '--config.sampling.steps=2']) == 0
  meta = pairs.load(out).meta
  assert meta['eval_source']['seed'] == 0
  assert meta['eval_source']['data']['name'] == 'toy2d:moons'
  assert meta['source_workdir'] == os.path.abspath(w)
  assert meta['digest'] == pairs.digest((2,), meta['shards'])
  os.rename(p1, p1 + '.aside')
  try:
    ds = data_lib.build(config_2rf(source, **{'data.name': 'pairs:' + out}).data, 0)
    ref = data_lib.build(cfg.load(EXP).data, 0)
    np.testing.assert_array_equal(ds.eval_array(32), ref.eval_array(32))
  finally:
    os.rename(p1 + '.aside', p1)


def test_unknown_metric_lists_the_family_metrics(source):
  """Refused when the run is opened (config validation), naming the family's own metrics."""
  with pytest.raises(ValueError, match="unknown metric 'nope'.*straightness"):
    run_lib.open_run(source, {'eval.metrics': "('nope',)"})


def test_reflow_of_a_missing_run_is_an_error_message(tmp_path, capsys):
  assert launch_reflow.main(['--workdir', str(tmp_path), '--num', '4']) == 2
  assert 'no run' in capsys.readouterr().err


# --- sharded generation: resume after a kill, several processes, the variants' source key ------

def shard_files(folder):
  return {f: read(os.path.join(folder, f), 'rb') for f in sorted(os.listdir(folder))
          if f.startswith('shard_') or f == 'index.json'}


@pytest.fixture(scope='module')
def reference(source, tmp_path_factory):
  """10 pairs in shards of 4 made in one uninterrupted command (2 calls of 2 per shard)."""
  out = str(tmp_path_factory.mktemp('ref') / 'pairs')
  assert launch_reflow.main(['--workdir', source, '--num', '10', '--shard', '4', '--chunk', '2',
                             '--out', out, '--config.sampling.steps=3']) == 0
  return out


def test_a_killed_generation_resumes_to_the_bytes_of_an_uninterrupted_one(source, reference,
                                                                          tmp_path, monkeypatch,
                                                                          capsys):
  """Killed while writing shard 1 (its file written, its record not; a temporary file of
  shard 2 left over), the same command keeps shard 0 untouched (same mtime, not recomputed),
  remakes 1 and 2 and writes exactly the files of an uninterrupted run."""
  out = str(tmp_path / 'pairs')
  flags = ['--workdir', source, '--num', '10', '--shard', '4', '--chunk', '2', '--out', out,
           '--config.sampling.steps=3']
  real = shards.write_with_record

  def dies_at_shard_1(out_, name, data, **rec):
    if rec['index'] == 1:
      paths_lib.write_atomic(os.path.join(out_, 'shard_00001.npz'), b'half')
      open(os.path.join(out_, 'shard_00002.npz.tmp999'), 'wb').close()
      raise KeyboardInterrupt   # as a kill: no clean-up of the folder
    return real(out_, name, data, **rec)

  monkeypatch.setattr(shards, 'write_with_record', dies_at_shard_1)
  with pytest.raises(KeyboardInterrupt):
    launch_reflow.main(flags)
  assert not os.path.exists(os.path.join(out, 'index.json'))
  with pytest.raises(data_lib.DataNotFoundError, match='did not finish. Rerun the same'):
    pairs.load(out)
  mtime = os.path.getmtime(os.path.join(out, 'shard_00000.npz'))
  made = []
  monkeypatch.setattr(shards, 'write_with_record', lambda out_, name, data, **rec: made.append(
      rec['index']) or real(out_, name, data, **rec))
  capsys.readouterr()
  assert launch_reflow.main(flags) == 0
  printed = capsys.readouterr().out
  assert made == [1, 2] and os.path.getmtime(os.path.join(out, 'shard_00000.npz')) == mtime
  assert '1 finished shards kept' in printed
  last = printed.strip().splitlines()[-1]
  assert last.startswith(f'Wrote {out}: 10 pairs in 3 shards of 4 (6 made, 4 kept)')
  assert 'pairs/s' in last and 'peak RSS' in last
  assert shard_files(out) == shard_files(reference)
  assert not [f for f in os.listdir(out) if '.tmp' in f]


def test_a_rerun_with_other_settings_on_an_unfinished_folder_is_refused(source, tmp_path,
                                                                        monkeypatch, capsys):
  out = str(tmp_path / 'pairs')
  flags = ['--workdir', source, '--num', '10', '--shard', '4', '--out', out,
           '--config.sampling.steps=3']

  def dies(*a, **kw):
    raise KeyboardInterrupt

  monkeypatch.setattr(shards, 'write_with_record', dies)
  with pytest.raises(KeyboardInterrupt):
    launch_reflow.main(flags)
  before = sorted(os.listdir(out))
  assert launch_reflow.main(flags[:-1] + ['--config.sampling.steps=2']) == 2
  err = capsys.readouterr().err
  assert err.startswith('error:') and 'holds unfinished pairs made with other settings' in err
  assert 'steps' in err and '--force' in err and sorted(os.listdir(out)) == before


def test_each_process_makes_its_own_shards_and_process_0_writes_the_index(source, reference,
                                                                          tmp_path, capsys):
  """Shard i belongs to process i % 2: process 0 alone cannot finish (shard 1 missing: exit 1,
  no index); after process 1 made shard 1, process 0 writes the index over the files of a
  single-process run, byte for byte."""
  out = str(tmp_path / 'pairs')
  run = run_lib.open_run(source, {'sampling.steps': '3'})
  with pytest.raises(cli_lib.Failure, match=r'shards \[1\] are not made yet') as e:
    reflow.make_pairs(run, source, 10, 4, out=out, chunk=2, process_index=0, process_count=2)
  assert e.value.code == 1 and not os.path.exists(os.path.join(out, 'index.json'))
  assert sorted(f for f in os.listdir(out) if f.endswith('.npz')) == ['shard_00000.npz',
                                                                      'shard_00002.npz']
  reflow.make_pairs(run, source, 10, 4, out=out, chunk=2, process_index=1, process_count=2)
  assert not os.path.exists(os.path.join(out, 'index.json'))   # process 1 never writes it
  reflow.make_pairs(run, source, 10, 4, out=out, chunk=2, process_index=0, process_count=2)
  assert shard_files(out) == shard_files(reference)


def test_the_variants_take_pairs_and_weights_from_one_key(tmp_path):
  """reflow/reflow3/distill read train.init_from and derive data.name from it, so an override
  of train.init_from (applied after the variants) reaches both; the defaults follow the density."""
  over = lambda spec, **kw: cfg.validate(overrides_lib.apply(cfg.load(spec), kw))
  c = over('experiments/rectified_flow/toy2d.py:reflow,smoke')
  assert (c.data.name, c.train.init_from) == ('pairs:runs/rf_moons/reflow/pairs', 'runs/rf_moons')
  c = over('experiments/rectified_flow/toy2d.py:checkerboard,reflow3')
  assert c.train.init_from == 'runs/rf_checkerboard_2rf'
  c = over('experiments/rectified_flow/toy2d.py:distill', **{'train.init_from': '/abs/run'})
  assert (c.data.name, c.train.init_from) == ('pairs:/abs/run/reflow/pairs', '/abs/run')
  assert (c.loss.time_sampling, c.sampling.steps, c.eval.metrics) == ('distill', 1,
                                                                      ('sliced_wasserstein',))
  c = over('experiments/rectified_flow/toy2d.py:reflow', **{'train.init_from': '/a',
                                                            'data.name': 'pairs:/b'})
  assert (c.data.name, c.train.init_from) == ('pairs:/b', '/a')


@pytest.mark.slow
def test_a_sigkilled_generation_resumes_to_the_same_bytes(source, tmp_path):
  """A real `python -m launch.reflow` SIGKILLed after its first shards, then the same command
  in this process: the files equal an uninterrupted run's, the shards finished before the kill
  untouched."""
  import signal
  import subprocess
  import sys
  import time

  out = str(tmp_path / 'pairs')
  flags = ['--workdir', source, '--num', '48', '--shard', '4', '--out', out,
           '--config.sampling.steps=3']
  proc = subprocess.Popen([sys.executable, '-m', 'launch.reflow'] + flags,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
  try:
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
      if os.path.isdir(out) and len([f for f in os.listdir(out) if f.endswith('.json')
                                     and f.startswith('shard_')]) >= 2:
        break
      time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.wait()
  assert not os.path.exists(os.path.join(out, 'index.json')), 'finished before the kill'
  done = {f: os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out)
          if f.startswith('shard_') and f.endswith('.json')}
  assert launch_reflow.main(flags) == 0
  for f, t in done.items():
    assert os.path.getmtime(os.path.join(out, f)) == t
  ref = str(tmp_path / 'ref')
  assert launch_reflow.main(flags[:-3] + ['--out', ref, '--config.sampling.steps=3']) == 0
  assert shard_files(out) == shard_files(ref)


@pytest.mark.slow
def test_the_toy2d_reflow_chain_runs_through_the_launch_commands(source, tmp_path):
  """1-RF (the fixture) -> its pairs -> reflow,smoke -> its pairs -> distill,smoke, each variant
  given only --config.train.init_from: both runs record the pairs and weights of their source."""
  rf2, dist = str(tmp_path / 'rf_2rf'), str(tmp_path / 'rf_2rf_distill')
  exp = 'experiments/rectified_flow/toy2d.py'
  assert launch_train.main(['--config', exp + ':reflow,smoke', '--workdir', rf2,
                            f'--config.train.init_from={source}'] + FLAGS) == 0
  assert launch_reflow.main(['--workdir', rf2, '--num', '16', '--shard', '8',
                             '--config.sampling.steps=3']) == 0
  assert launch_train.main(['--config', exp + ':distill,smoke', '--workdir', dist,
                            f'--config.train.init_from={rf2}'] + FLAGS) == 0
  for run, src in ((rf2, source), (dist, rf2)):
    assert json.loads(read(os.path.join(run, 'init_from.json')))['source'] == os.path.abspath(src)
    assert json.loads(read(os.path.join(run, 'data.json')))['pairs_dir'] == os.path.abspath(
        os.path.join(src, 'reflow', 'pairs'))
