"""jaxgen.store.paths, the one path layer: each fact holds on a local folder and on a ``gs://``
bucket (a fake GCS on 127.0.0.1, `tests.store.remote_fs`): what is written reads back, an atomic
write leaves no temporary file, an exclusive create has one winner among racers, an appended log
keeps its earlier lines, pictures and sample files are the same bytes on both; Orbax saves and
restores a checkpoint in the bucket; and (phase 2 of issue 14.3) a run trains, resumes, samples and
evaluates with ``--workdir gs://...``."""

import io
import json
import os
import subprocess
import sys
import threading
import types
import uuid

import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.runtime import samples
from jaxgen.runtime import viz
from jaxgen.store import paths
from tests.conftest import ROOT
from tests.store import remote_fs

needs_fake = pytest.mark.skipif(remote_fs.unavailable() is not None,
                                reason=str(remote_fs.unavailable()))


@pytest.fixture(scope='module')
def gcs():
  if remote_fs.unavailable():
    pytest.skip(remote_fs.unavailable())
  with remote_fs.FakeGcs() as fake:
    yield fake


@pytest.fixture(params=['local', 'gcs'])
def root(request, tmp_path):
  """A fresh, empty folder: under tmp_path, or ``gs://bucket/<unique>`` on the fake."""
  if request.param == 'local':
    return str(tmp_path / 'w')
  request.getfixturevalue('gcs')
  return f'gs://bucket/{uuid.uuid4().hex[:12]}'


def test_local_and_remote_are_told_apart_and_joined_as_before():
  assert paths.is_local('runs/x') and paths.is_local('/abs/x') and not paths.is_local('gs://b/r')
  assert paths.join('runs/x', 'samples', 'a.png') == os.path.join('runs/x', 'samples', 'a.png')
  assert paths.join('gs://b/r', 'samples', 'a.png') == 'gs://b/r/samples/a.png'
  assert paths.abspath('runs/x') == os.path.abspath('runs/x')
  assert paths.abspath('gs://b/r/') == 'gs://b/r'
  assert str(paths.path('gs://b/r') / 'checkpoints') == 'gs://b/r/checkpoints'


def test_written_files_read_back_and_list(root):
  paths.makedirs(root)
  assert paths.isdir(root) or not paths.is_local(root)   # a bucket has no empty folders
  paths.write_text(paths.join(root, 'a.txt'), 'hello\n')
  paths.makedirs(paths.join(root, 'sub'))
  paths.write_bytes(paths.join(root, 'sub', 'b.bin'), b'\x00\x01')
  assert paths.read_text(paths.join(root, 'a.txt')) == 'hello\n'
  assert paths.read_bytes(paths.join(root, 'sub', 'b.bin')) == b'\x00\x01'
  assert paths.exists(paths.join(root, 'a.txt')) and not paths.exists(paths.join(root, 'c'))
  assert paths.isdir(paths.join(root, 'sub')) and not paths.isdir(paths.join(root, 'a.txt'))
  assert paths.listdir(root) == ['a.txt', 'sub']
  paths.remove(paths.join(root, 'a.txt'))
  paths.remove(paths.join(root, 'a.txt'))   # missing is fine by default
  with pytest.raises(FileNotFoundError):
    paths.remove(paths.join(root, 'a.txt'), missing_ok=False)
  assert paths.listdir(root) == ['sub']


def test_atomic_write_replaces_whole_and_leaves_no_temporary(root):
  paths.makedirs(root)
  target = paths.join(root, 'config.json')
  paths.write_atomic(target, json.dumps({'a': 1}))
  paths.write_atomic(target, json.dumps({'a': 2}))
  assert json.loads(paths.read_text(target)) == {'a': 2}
  paths.write_atomic(paths.join(root, 'raw'), b'\xff')
  assert paths.read_bytes(paths.join(root, 'raw')) == b'\xff'
  assert paths.listdir(root) == ['config.json', 'raw']


def test_exclusive_create_has_exactly_one_winner(root):
  paths.makedirs(root)
  lock = paths.join(root, 'lock')
  wins, barrier = [], threading.Barrier(6)

  def contend(i):
    barrier.wait()
    if paths.create_exclusive(lock, f'holder {i}'):
      wins.append(i)

  threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert len(wins) == 1
  assert paths.read_text(lock) == f'holder {wins[0]}'   # the losers changed nothing
  assert not paths.create_exclusive(lock, 'late')
  paths.remove(lock)
  assert paths.create_exclusive(lock, b'again') and paths.read_text(lock) == 'again'


def test_appender_keeps_earlier_lines_and_shows_flushed_ones(root):
  paths.makedirs(root)
  log = paths.join(root, 'metrics.jsonl')
  with paths.Appender(log) as f:
    f.write('{"step": 1}\n')
    f.flush()
    assert paths.read_text(log) == '{"step": 1}\n'   # a flushed line is there before close
  with paths.Appender(log) as f:                     # a resume appends to what is there
    f.write('{"step": 2}\n')
  assert paths.read_text(log).splitlines() == ['{"step": 1}', '{"step": 2}']


def test_remote_open_refuses_append_which_gcs_would_turn_into_overwrite(gcs):
  with pytest.raises(ValueError, match='Appender'):
    paths.open('gs://bucket/x/metrics.jsonl', 'a')


def test_remote_makedirs_creates_no_bucket(gcs):
  paths.makedirs('gs://no-such-bucket/run/samples')
  assert not paths.exists('gs://no-such-bucket/run')
  assert json.loads(gcs._call('GET', '/storage/v1/b'))['items'][0]['name'] == 'bucket'
  assert len(json.loads(gcs._call('GET', '/storage/v1/b'))['items']) == 1


def test_npz_round_trip(root):
  paths.makedirs(root)
  f = paths.join(root, 's.npz')
  paths.write_npz(f, samples=np.arange(6.0).reshape(3, 2), nfe=np.asarray(8))
  back = paths.load_npz(f)
  np.testing.assert_array_equal(back['samples'], np.arange(6.0).reshape(3, 2))
  assert int(back['nfe']) == 8
  assert paths.listdir(root) == ['s.npz']   # nothing appended to the name


def _stub_run(x, spec):
  """What `samples.write` reads of a Run, with a sampler that returns `x` (no model)."""
  sampling = types.SimpleNamespace(num_samples=len(x), to_dict=lambda: {'num_samples': len(x)})
  return types.SimpleNamespace(
      config=types.SimpleNamespace(sampling=sampling, model=types.SimpleNamespace(family='rf')),
      params=None, sample_rng=lambda step: None,
      model=types.SimpleNamespace(sampling_settings=lambda section: section),
      data=types.SimpleNamespace(spec=spec, eval_array=lambda n: x[::-1]))


@pytest.mark.parametrize('kind', ['points', 'images'])
def test_sample_files_are_the_same_bytes_local_and_remote(gcs, tmp_path, kind):
  rng = np.random.default_rng(0)
  if kind == 'points':
    spec, x = DataSpec('toy2d:test', (2,), -4.0, 4.0, None, None, 'none'), rng.normal(size=(64, 2))
  else:
    spec = DataSpec('synthetic', (4, 4, 1), 0.0, 1.0, 256, None, 'unit')
    x = rng.uniform(size=(9, 4, 4, 1))
  run = _stub_run(x, spec)
  draw = lambda params, r, n, sampling: (x, {'nfe': np.asarray(8)})
  local = samples.write(run, str(tmp_path / 'run'), 6, draw=draw)
  remote = samples.write(run, 'gs://bucket/pics', 6, draw=draw)
  assert local == str(tmp_path / 'run' / 'samples' / 'step_6.png')
  assert remote == 'gs://bucket/pics/samples/step_6.png'
  assert gcs.objects('pics/') == ['pics/samples/step_6.json', 'pics/samples/step_6.npz',
                                  'pics/samples/step_6.png']
  assert samples.finished('gs://bucket/pics', 'step_6')
  assert paths.read_bytes(remote) == open(local, 'rb').read()
  assert paths.read_bytes(remote)[:8] == b'\x89PNG\r\n\x1a\n'
  np.testing.assert_array_equal(paths.load_npz(remote[:-4] + '.npz')['samples'],
                                np.load(local[:-4] + '.npz')['samples'])
  paths.remove(remote)
  paths.remove(remote[:-4] + '.npz')


def test_viz_png_bytes_unchanged_by_the_path_layer(tmp_path):
  """The encoder writes what it wrote before the path layer: the PNG of a known 2x2 image."""
  img = np.array([[0, 255], [128, 7]], np.uint8)
  viz.write_png(str(tmp_path / 'a.png'), img)
  data = open(tmp_path / 'a.png', 'rb').read()
  assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR' and data.endswith(
      b'IEND\xaeB`\x82')


def test_orbax_checkpoints_live_in_the_bucket(gcs):
  """The crux of gs:// workdirs: Orbax (TensorStore's gcs driver for the arrays, epath/gcsfs for
  the rest) saves, prunes (max_to_keep) and restores in the fake bucket; nothing local."""
  import jax.numpy as jnp
  import orbax.checkpoint as ocp

  d = paths.path('gs://bucket/orbax/checkpoints')
  options = ocp.CheckpointManagerOptions(max_to_keep=1, create=True,
                                         enable_async_checkpointing=True)
  tree = {'w': jnp.arange(5.0), 'b': {'c': jnp.ones((2, 3))}}
  with ocp.CheckpointManager(d, options=options, item_names=('state', 'config')) as mngr:
    for step in (3, 6):
      mngr.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave({'w': tree['w'] * step, 'b': tree['b']}),
          config=ocp.args.JsonSave({'step': step})))
    mngr.wait_until_finished()
  names = gcs.objects('orbax/checkpoints/')
  assert names and all(n.startswith('orbax/checkpoints/6/') for n in names), names[:5]
  with ocp.CheckpointManager(d, item_names=('state', 'config')) as mngr:
    assert mngr.all_steps() == [6]
    target = {'w': jnp.zeros(5), 'b': {'c': jnp.zeros((2, 3))}}
    out = mngr.restore(6, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                  config=ocp.args.JsonRestore()))
  np.testing.assert_array_equal(np.asarray(out['state']['w']), np.arange(5.0) * 6)
  assert out['config'] == {'step': 6}


EXP = os.path.join(ROOT, 'experiments', 'rectified_flow', 'toy2d.py') + ':smoke'
FLAGS = ['--config.train.progress=false', '--config.train.log_every=3',
         '--config.train.checkpoint_every=3']


def _launch(gcs, cwd, *args):
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT, **gcs.env)
  return subprocess.run([sys.executable, '-m', *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=600)


@needs_fake
@pytest.mark.slow   # four launch.* processes, ~1-2 min on a loaded 2-core machine
def test_train_resume_sample_with_a_gs_workdir(gcs, tmp_path):
  """launch.train, again to resume, launch.sample, launch.evaluate, all with --workdir gs://...: every
  file lands in the bucket (nothing under the working directory), the resume continues from the
  bucket's checkpoint and metrics.jsonl keeps the first run's lines."""
  w = 'gs://bucket/e2e'
  out = _launch(gcs, tmp_path, 'launch.train', '--config', EXP, '--workdir', w, *FLAGS,
                '--config.train.steps=6')
  assert out.returncode == 0, out.stderr[-3000:]
  assert os.listdir(tmp_path) == [], 'files were written locally instead of in the bucket'
  names = gcs.objects('e2e/')
  for name in ('config.json', 'metrics.jsonl', 'samples/step_6.png', 'samples/step_6.npz'):
    assert f'e2e/{name}' in names, names
  assert any(n.startswith('e2e/checkpoints/6/') for n in names), names
  out = _launch(gcs, tmp_path, 'launch.train', '--config', EXP, '--workdir', w, *FLAGS,
                '--config.train.steps=9')
  assert out.returncode == 0, out.stderr[-3000:]
  assert 'Resumed from step 6' in out.stdout
  steps = [json.loads(line)['step'] for line in gcs.read('e2e/metrics.jsonl').decode().split(
      '\n') if line and 'loss' in json.loads(line)]
  assert steps == [3, 6, 9]
  out = _launch(gcs, tmp_path, 'launch.sample', '--workdir', w, '--name', 'heun4',
                '--config.sampling.solver=heun', '--config.sampling.steps=4',
                '--config.sampling.num_samples=16')
  assert out.returncode == 0, out.stderr[-3000:]
  assert f'{w}/samples/heun4.png' in out.stdout
  with np.load(io.BytesIO(gcs.read('e2e/samples/heun4.npz'))) as z:
    assert z['samples'].shape == (16, 2) and int(z['nfe']) == 8
  out = _launch(gcs, tmp_path, 'launch.evaluate', '--workdir', w)
  assert out.returncode == 0, out.stderr[-3000:]
  assert json.loads(gcs.read('e2e/eval_9.json'))['step'] == 9
  assert os.listdir(tmp_path) == []


# ---- phase 2: the runtime's workdir files on the path layer ------------------------------------

@needs_fake
def test_a_gs_workdir_trains_resumes_and_samples_in_process(gcs, tmp_path, monkeypatch, capsys):
  """loop.train into gs://; open_run restores the bucket's checkpoint bit for bit and samples
  into the bucket; a resume continues from it, keeps the first run's metrics lines and its
  retention deletes the older step in the bucket: every file in the bucket, nothing under the
  working directory, the lock gone. (In process, ~15 s; the launch.* commands: the slow test.)"""
  import jax

  from jaxgen.runtime import loop
  from jaxgen.runtime import run as run_lib
  from jaxgen.runtime import workdir as workdir_lib
  from tests.conftest import tiny_config

  common = {'train.keep_checkpoints': '1', 'eval.metrics': "('loss',)"}
  three, six = tiny_config(**{'train.steps': '3'}, **common), tiny_config(**common)
  cwd = tmp_path / 'cwd'
  cwd.mkdir()
  monkeypatch.chdir(cwd)
  w = 'gs://bucket/fast'
  trained = loop.train(three, w)
  names = gcs.objects('fast/')
  for name in ('config.json', 'metrics.jsonl', 'samples/step_3.png', 'samples/step_3.npz',
               'checkpoints/3/commit_success.txt', 'checkpoints/3/digest/metadata'):
    assert f'fast/{name}' in names, names
  assert 'fast/lock.json' not in names and any(n.startswith('fast/tb/') for n in names), names
  assert workdir_lib.latest_step(w) == 3 and workdir_lib.read_config(w).train.steps == 3

  run = run_lib.open_run(w)
  expected = (getattr(trained, run_lib.eval_leaf(run.config)), trained.step, trained.rng)
  assert run.step == int(trained.step)
  for x, y in zip(jax.tree.leaves(jax.device_get(expected)),
                  jax.tree.leaves(jax.device_get((run.params, run.step, run.rng)))):
    np.testing.assert_array_equal(x, y)
  assert samples.write(run, w, run.step, name='again') == f'{w}/samples/again.png'
  assert 'fast/samples/again.npz' in gcs.objects('fast/samples/')

  capsys.readouterr()
  resumed = loop.train(six, w)
  assert 'Resumed from step 3 in gs://bucket/fast/checkpoints' in capsys.readouterr().out
  assert int(resumed.step) == 6
  assert workdir_lib.checkpoint_steps(w) == [6]   # keep=1: step 3 deleted in the bucket
  assert not any(n.startswith('fast/checkpoints/3/') for n in gcs.objects('fast/'))
  lines = [json.loads(line) for line in gcs.read('fast/metrics.jsonl').decode().splitlines()]
  assert [x['step'] for x in lines if 'loss' in x and 'eval/loss' not in x] == [3, 6]
  assert 'fast/samples/step_6.png' in gcs.objects('fast/samples/')
  assert os.listdir(cwd) == [], 'files were written locally instead of in the bucket'


@needs_fake
def test_checkpointer_on_gs_skips_an_uncommitted_step_and_reads_its_config(gcs):
  """Orbax writes into gs://.../<step>/ directly and commits with commit_success.txt: a step
  folder without it (a save cut short) is not restored, and the stored config reads back."""
  import jax
  import jax.numpy as jnp

  from jaxgen.store import checkpoint as ckpt_lib

  w = 'gs://bucket/ck'
  c = ckpt_lib.Checkpointer(w, keep=2, async_save=False)
  state = {'w': jnp.arange(4.0)}
  assert c.save(2, state, json.dumps({'a': 1}))
  paths.write_text(f'{w}/checkpoints/4/state/_METADATA', '{}')   # a save cut short
  assert c.all_steps() == [2, 4] and c.latest_step() == 2
  assert 'not committed' in c.problem(4)
  assert c.stored_config() == {'a': 1}
  out = c.restore(ckpt_lib.abstract(state, jax.sharding.SingleDeviceSharding(jax.devices()[0])))
  np.testing.assert_array_equal(np.asarray(out['w']), np.arange(4.0))
  assert c.restored_step == 2
  c.close()


@needs_fake
def test_the_lock_on_gs_has_one_holder_and_a_stale_heartbeat_is_taken_over(gcs, monkeypatch):
  """On an object store the lock is one conditional create; a second holder is refused naming
  the heartbeat's age; a record whose heartbeat is older than STALE_S (a dead run on another
  host) is taken over; the heartbeat is refreshed while held; release removes the lock."""
  import time

  from jaxgen.store import liveness
  from jaxgen.store import lock

  w = 'gs://bucket/locked'
  monkeypatch.setattr(lock, 'HEARTBEAT_S', 0.05)
  with lock.hold(w, 'launch.train', is_main=True):
    first = lock.holder(w)
    assert first['heartbeat'] > 0
    with pytest.raises(lock.Locked, match='heartbeat is'):
      lock._acquire(f'{w}/lock.json', w, '{}', liveness.record('launch.sample', True))
    time.sleep(0.5)
    assert lock.holder(w)['heartbeat'] > first['heartbeat']   # refreshed
    assert lock.holder(w)['token'] == first['token']
  assert 'locked/lock.json' not in gcs.objects('locked/')
  dead = {'host': 'elsewhere', 'pid': 1, 'start': 'then', 'command': 'launch.train',
          'token': 'y' * 32, 'heartbeat': time.time() - liveness.STALE_S - 5}
  paths.write_text(f'{w}/lock.json', json.dumps(dead))
  with lock.hold(w, 'launch.train', is_main=True):
    assert lock.holder(w)['host'] != 'elsewhere'
  paths.write_text(f'{w}/lock.json', json.dumps(dict(dead, heartbeat=time.time())))
  with pytest.raises(lock.Locked, match='delete gs://bucket/locked/lock.json'):
    with lock.hold(w, 'launch.train', is_main=True):
      pass
  paths.remove(f'{w}/lock.json')
