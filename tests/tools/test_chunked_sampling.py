"""Large-N sampling (`jaxgen.tools.chunked`, ``launch.sample --num``) on a 4-step smoke 1-RF
run with 8 devices: chunk i is the run's sampler at ``fold_in(sample_key, i)`` (the last chunk
padded and cut); a killed run resumes to the bytes of an uninterrupted one without remaking its
finished chunks; a flipped byte is detected and that chunk made again; other settings on an
existing folder are refused in one line with nothing written; streamed Gaussian statistics over
the chunks equal the one-shot ones with at most about one chunk in memory."""

import os
import tracemalloc

import jax
import numpy as np
import pytest

from jaxgen.metrics import frechet
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import samples as samples_lib
from jaxgen.store import shards
from jaxgen.tools import chunked
from launch import sample as launch_sample
from launch import train as launch_train
from tests.folders import save_samples

EXP = 'experiments/rectified_flow/toy2d.py:smoke'
# 20 samples in chunks of 8 (a multiple of the 8 test devices): 8, 8 and a padded 4.
FLAGS = ['--num', '20', '--chunk', '8', '--config.sampling.steps=3']


@pytest.fixture(scope='module')
def source(tmp_path_factory):
  w = str(tmp_path_factory.mktemp('chunked') / 'rf')
  assert launch_train.main(['--config', EXP, '--workdir', w, '--config.train.progress=false',
                            '--config.train.steps=4']) == 0
  return w


def files(folder):
  return {f: open(os.path.join(folder, f), 'rb').read() for f in sorted(os.listdir(folder))
          if f.startswith('chunk_') or f in ('index.json', 'plan.json')}


def listing(folder):
  return {f: os.path.getmtime(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}


@pytest.fixture(scope='module')
def reference(source):
  """The folder of one uninterrupted run (its bytes, then moved out of the run's samples/)."""
  assert launch_sample.main(['--workdir', source, '--name', 'ref'] + FLAGS) == 0
  return os.path.join(source, 'samples', 'ref')


def test_chunk_i_is_the_sampler_at_the_ith_key_of_the_run(source, reference):
  """Chunks of 8, 8, 4; chunk i = the run's jit sampler of 8 at fold_in(fold_in(sample_rng(step),
  seed), i) (the last cut to 4), bit for bit; the index lists each file's SHA-256; a preview."""
  index = shards.read_index(reference)
  assert [r['num'] for r in index['chunks']] == [8, 8, 4]
  assert index['plan']['sampling']['steps'] == 3 and index['plan']['seed'] == 0
  for r in index['chunks']:
    data = open(os.path.join(reference, r['file']), 'rb').read()
    assert shards.sha256(data) == r['sha256'] and r['nfe'] == 3
  run = run_lib.open_run(source, {'sampling.steps': '3'})
  key = chunked.sample_key(run, 0)
  got = list(shards.iterate(reference))
  draw = samples_lib.sampler(run.model, run.mesh)   # launch.sample's jit sampler, 8 a call
  for i in (1, 2):
    x, _ = draw(run.params, jax.random.fold_in(key, i), 8,
                run.model.sampling_settings(run.config.sampling))
    np.testing.assert_array_equal(got[i], x[:len(got[i])])
  assert os.path.getsize(os.path.join(reference, 'preview.png')) > 0


def test_a_killed_run_resumes_to_the_bytes_of_an_uninterrupted_one(source, reference,
                                                                   monkeypatch, capsys):
  """Killed while writing chunk 1 (half a file, no record), the same command keeps chunk 0
  (not drawn again, same mtime), makes 1 and 2 and writes exactly the reference's files."""
  real = shards.write_with_record
  folder = os.path.join(source, 'samples', 'killed')

  def dies_at_chunk_1(out, name, data, **rec):
    if rec['index'] == 1:
      open(os.path.join(out, name), 'wb').write(data[:10])
      raise KeyboardInterrupt   # as a kill: nothing cleaned up
    return real(out, name, data, **rec)

  monkeypatch.setattr(shards, 'write_with_record', dies_at_chunk_1)
  with pytest.raises(KeyboardInterrupt):
    launch_sample.main(['--workdir', source, '--name', 'killed'] + FLAGS)
  assert not os.path.exists(os.path.join(folder, 'index.json'))
  with pytest.raises(FileNotFoundError, match='is unfinished'):
    next(shards.iterate(folder))
  mtime = os.path.getmtime(os.path.join(folder, 'chunk_00000.npz'))
  made = []
  monkeypatch.setattr(shards, 'write_with_record',
                      lambda out, name, data, **rec: made.append(rec['index']) or real(
                          out, name, data, **rec))
  capsys.readouterr()
  assert launch_sample.main(['--workdir', source, '--name', 'killed'] + FLAGS) == 0
  out = capsys.readouterr().out
  assert made == [1, 2] and '1 finished chunks kept' in out
  assert os.path.getmtime(os.path.join(folder, 'chunk_00000.npz')) == mtime
  assert out.strip().splitlines()[-1].startswith(
      f'Wrote {folder}: 20 samples in 3 chunks of 8 (12 made, 8 kept)')
  assert files(folder) == files(reference) and not [f for f in os.listdir(folder) if '.tmp' in f]


def test_a_flipped_byte_is_detected_and_that_chunk_made_again(source, reference, monkeypatch,
                                                              capsys):
  """On a finished folder a rerun only verifies (nothing drawn); after one byte of chunk 1 is
  flipped, shards.iterate refuses it and a rerun names it and makes it (alone) again."""
  folder = os.path.join(source, 'samples', 'flip')
  assert launch_sample.main(['--workdir', source, '--name', 'flip'] + FLAGS) == 0
  before = files(folder)
  real, made = shards.write_with_record, []
  monkeypatch.setattr(shards, 'write_with_record',
                      lambda out, name, data, **rec: made.append(rec['index']) or real(
                          out, name, data, **rec))
  assert launch_sample.main(['--workdir', source, '--name', 'flip'] + FLAGS) == 0
  assert made == [] and files(folder) == before
  path = os.path.join(folder, 'chunk_00001.npz')
  data = bytearray(open(path, 'rb').read())
  data[-20] ^= 0x01
  open(path, 'wb').write(bytes(data))
  with pytest.raises(ValueError, match='chunk_00001.npz: SHA-256 mismatch'):
    list(shards.iterate(folder))
  capsys.readouterr()
  assert launch_sample.main(['--workdir', source, '--name', 'flip'] + FLAGS) == 0
  out = capsys.readouterr().out
  assert 'chunk_00001.npz: SHA-256 mismatch' in out and 'made again' in out
  assert made == [1] and files(folder) == before


@pytest.mark.parametrize('change, keys', [(['--config.sampling.steps=2'], 'sampling.steps'),
                                          (['--seed', '1'], 'seed'),
                                          (['--chunk', '16'], 'chunk')])
def test_other_settings_on_an_existing_folder_are_refused(source, reference, change, keys,
                                                          capsys):
  flags = {'--config.sampling.steps=2': FLAGS[:-1], '--seed': FLAGS,
           '--chunk': FLAGS[:2] + FLAGS[4:]}[change[0]]
  before = listing(reference)
  capsys.readouterr()
  assert launch_sample.main(['--workdir', source, '--name', 'ref'] + flags + change) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: ') and f'({keys} differ)' in err[0], err
  assert '--force' in err[0] and listing(reference) == before


def test_a_preview_cut_short_is_made_again_by_a_rerun(source, reference, capsys):
  """preview.png is sealed by preview.json (its SHA-256, and chunk 0's): cut short (a kill or a
  full disk in an in-place write), a rerun on the finished folder makes it whole again."""
  path = os.path.join(reference, 'preview.png')
  whole = open(path, 'rb').read()
  with open(path, 'wb') as f:
    f.write(whole[:len(whole) // 2])
  before = files(reference)
  assert launch_sample.main(['--workdir', source, '--name', 'ref'] + FLAGS) == 0
  assert open(path, 'rb').read() == whole and files(reference) == before


def test_pictures_of_other_settings_get_other_names(source):
  """launch.sample without --name: the run's settings give sample_4_euler, 2 and 3 Euler steps
  two other pictures (none overwritten)."""
  folder = os.path.join(source, 'samples')
  for steps in ('2', '3'):
    assert launch_sample.main(['--workdir', source, f'--config.sampling.steps={steps}']) == 0
  assert {'sample_4_euler_steps-2.png', 'sample_4_euler_steps-3.png'} <= set(os.listdir(folder))


def test_force_starts_over_and_bad_flags_are_one_line(source, capsys):
  folder = os.path.join(source, 'samples', 'forced')
  assert launch_sample.main(['--workdir', source, '--name', 'forced'] + FLAGS) == 0
  assert launch_sample.main(['--workdir', source, '--name', 'forced', '--num', '8', '--chunk',
                             '8', '--force']) == 0
  assert [r['num'] for r in shards.read_index(folder)['chunks']] == [8]
  assert sorted(f for f in os.listdir(folder) if f.startswith('chunk_')) == [
      'chunk_00000.json', 'chunk_00000.npz']
  capsys.readouterr()
  for bad, words in ((['--num', '20', '--chunk', '12'], 'not a multiple of the 8 devices'),
                     (['--num', '0'], 'must be > 0'),
                     (['--chunk', '8'], 'give --num N')):
    assert launch_sample.main(['--workdir', source, '--name', 'bad'] + bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not os.path.exists(os.path.join(source, 'samples', 'bad'))


def test_per_sample_info_such_as_labels_is_stored_with_each_chunk(source, tmp_path):
  """A draw whose info holds per-sample labels (a class-conditional or classifier-guided
  sampler's): each chunk stores its labels, cut as its samples; the NFE goes in the record."""
  run = run_lib.open_run(source, {'sampling.steps': '3'})

  def draw(params, rng, n, sampling):
    x = jax.random.normal(rng, (n, 2))
    return np.asarray(x), dict(nfe=np.int32(7), label=np.arange(n, dtype=np.int32) % 3)

  folder = chunked.write_chunks(run, str(tmp_path), 20, 8, name='lab', draw=draw)
  labels = list(shards.iterate(folder, 'label'))
  assert [lab.tolist() for lab in labels] == [[0, 1, 2, 0, 1, 2, 0, 1]] * 2 + [[0, 1, 2, 0]]
  assert all(r['nfe'] == 7 for r in shards.read_index(folder)['chunks'])
  arrays = next(shards.iterate(folder, None))
  assert sorted(arrays) == ['label', 'samples'] and arrays['samples'].dtype == np.float32


def test_streamed_gaussian_statistics_equal_the_one_shot_ones_in_one_chunk_of_memory(tmp_path):
  """50 chunks of 500 x 64 float32 (6.4 MB in all; one chunk 128 kB): the streamed (mu, Sigma)
  equal the one-shot statistics of all samples (float64 round-off), while the peak memory traced
  while streaming stays under 1 MB (a few chunks, the d x d sums; never the whole set)."""
  rng = np.random.default_rng(0)
  x = (rng.standard_normal((25000, 64)) @ rng.standard_normal((64, 64)) + 3).astype(np.float32)
  folder = str(tmp_path / 's')
  save_samples(folder, x, 500)
  mu, sigma = frechet.stats_from_features(x.astype(np.float64))
  del x
  tracemalloc.start()
  try:
    stats = streamed_stats(folder)
    peak = tracemalloc.get_traced_memory()[1]
  finally:
    tracemalloc.stop()
  s_mu, s_sigma = stats.finalize()
  assert stats.count == 25000
  np.testing.assert_allclose(s_mu, mu, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(s_sigma, sigma, rtol=1e-10, atol=1e-10)
  assert peak < 1_000_000, peak


def streamed_stats(folder):
  """`frechet.GaussianStats` of the flattened samples of `folder`, one chunk at a time."""
  stats = None
  for x in shards.iterate(folder):
    f = np.reshape(x, (len(x), -1))
    stats = (frechet.gaussian_stats(f.shape[1]) if stats is None else stats).update(f)
  return stats


@pytest.mark.slow
def test_classifier_guided_chunks_store_their_labels(tmp_path, capsys):
  """A smoke score-SDE run guided by a smoke classifier run through launch.sample --num with
  sampling.label=-1 (classes in turn, `sample_labels` of each chunk of 8: 0..7), and chunk 1 is the
  guided sampler at chunk key 1. (label=3 is refused on main by the conditioning check of an
  unconditional model: see the report.)"""
  from jaxgen.tools import classifier_run as guidance
  score, clf = str(tmp_path / 'sde'), str(tmp_path / 'clf')
  assert launch_train.main(['--config', 'experiments/score_sde/digits.py:smoke', '--workdir',
                            score, "--config.eval.metrics=('loss',)", '--config.sampling.steps=3',
                            '--config.sampling.corrector=none']) == 0
  assert launch_train.main(['--config', 'experiments/classifier/digits.py:smoke', '--workdir',
                            clf, '--config.train.steps=2']) == 0
  flags = [f'--config.sampling.classifier={clf}', '--config.sampling.classifier_scale=1',
           '--config.sampling.label=-1']
  assert launch_sample.main(['--workdir', score, '--num', '20', '--chunk', '8'] + flags) == 0
  folder = os.path.join(score, 'samples', 'sample_4_pc_clfall_s1')
  labels = [lab.tolist() for lab in shards.iterate(folder, 'label')]
  assert labels == [list(range(8))] * 2 + [list(range(4))]
  assert shards.read_index(folder)['plan']['sampling']['classifier'] == clf
  run = run_lib.open_run(score, {k[9:].split('=')[0]: k.split('=')[1] for k in flags})
  draw = guidance.draw_for(run)
  x, info = draw(run.params, jax.random.fold_in(chunked.sample_key(run, 0), 1), 8,
                 run.model.sampling_settings(run.config.sampling))
  np.testing.assert_array_equal(list(shards.iterate(folder))[1], x)
