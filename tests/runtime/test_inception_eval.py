"""The ``fid`` / ``inception_score`` evaluator and ``launch.fid_stats``: samples stream through the
network in chunks and give the FID and IS of all samples at once; the reference statistics of
launch.fid_stats are those of the images themselves; a missing, cut short or folder weights
file is one clear ConfigError (launch.fid_stats: one error line, exit 2, before importing JAX). The network here is a cheap stand-in with Inception's output shapes (the real
network's agreement with pytorch-fid is tests/nets/test_inception.py's)."""

import types

import jax
import numpy as np
import pytest

from jaxgen.metrics import frechet
from jaxgen.metrics import inception_score as is_lib
from jaxgen.runtime import config as cfg
from jaxgen.runtime import parallel
from jaxgen.runtime.evaluators import inception as ev

# The stand-in's feature and class counts (the real network's: 2048 and 1008; the evaluator
# takes them from the network's output).
PROJ = np.random.default_rng(0).normal(size=(8 * 8 * 3, 48)).astype(np.float32) / 8
FC = np.random.default_rng(1).normal(size=(48, 20)).astype(np.float32) / 4


def _stub_net(variables):
  def f(x):   # per-image features: a fixed random projection of the pixels, then ReLU(tanh)
    x = np.asarray(x)
    pool = np.maximum(np.tanh(x.reshape(len(x), -1) @ PROJ - 0.5), 0) + 0.01 * x[:, :1, 0, 0]
    return {'pool3': pool, 'logits_unbiased': pool @ FC}
  return f


@pytest.fixture
def stub(monkeypatch, tmp_path):
  weights = tmp_path / 'inception.npz'
  np.savez(weights, stand_in=np.zeros(3))
  monkeypatch.setattr(ev.inception_net, 'load_weights', lambda p: {'params': {}})
  monkeypatch.setattr(ev.inception_net, 'feature_fn', _stub_net)
  return str(weights)


def _evaluator(weights, n, batch, fid_stats='', names=('fid', 'inception_score'), samples_dir='',
               run_step=None):
  data = np.random.default_rng(2).uniform(-1, 1, size=(300, 8, 8, 1)).astype(np.float32)

  def sample_fn(params, rng, m):
    x = jax.random.uniform(rng, (m, 8, 8, 1), minval=-1, maxval=1)
    return np.asarray(x), {'nfe': 7}

  spec = types.SimpleNamespace(low=-1.0, high=1.0)
  ec = cfg.ConfigDict(dict(batch_size=batch, inception_weights=weights, fid_stats=fid_stats,
                           samples_dir=samples_dir))
  e = ev.Evaluator(names, sample_fn, lambda k: data, spec, n, parallel.make_mesh(0), ec, run_step)
  return e, sample_fn, data


def test_streamed_fid_and_is_equal_the_one_shot_numbers(stub):
  """130 samples in chunks of 48 (the last one cut to 34): the chunk keys and the cut make the
  same 130 samples as drawing them chunk by chunk here, and FID / IS of the accumulated float64
  statistics equal those of all features at once."""
  e, sample_fn, data = _evaluator(stub, 130, 48)
  key = jax.random.PRNGKey(0)
  out = e.run(None, key)
  k4 = jax.random.fold_in(key, 4)
  x = np.concatenate([sample_fn(None, jax.random.fold_in(k4, i), 48)[0] for i in range(3)])[:130]
  net = _stub_net(None)
  f = net(ev.to_unit(x, -1, 1))
  ref = net(ev.to_unit(data, -1, 1))['pool3']
  mu, s = frechet.stats_from_features(f['pool3'])
  want = frechet.frechet_distance(mu, s, *frechet.stats_from_features(ref), method='sqrtm')
  assert out['eval/fid'] == pytest.approx(want, rel=1e-6)
  mean, std = is_lib.inception_score(logits=f['logits_unbiased'], num_splits=10)
  assert out['eval/inception_score'] == pytest.approx(mean, rel=1e-9)
  # the std of near-equal split scores: its rounding error is the scores' (float64 sums in a
  # different order), not a fraction of the std itself
  assert out['eval/inception_score_std'] == pytest.approx(std, abs=1e-8 * mean)
  assert out['eval/nfe'] == 7
  assert 'sha256' in e.identity()['inception']


def test_samples_from_a_chunk_folder_give_the_numbers_of_the_same_samples(stub, tmp_path):
  """eval.samples_dir: the first num_samples of a finished launch.sample folder, read chunk by
  chunk, score exactly as the same samples drawn; too few samples or another step is refused."""
  from tests.folders import save_samples
  e, sample_fn, _ = _evaluator(stub, 130, 48)
  key = jax.random.PRNGKey(0)
  drawn = e.run(None, key)
  k4 = jax.random.fold_in(key, 4)
  x = np.concatenate([sample_fn(None, jax.random.fold_in(k4, i), 48)[0] for i in range(3)])[:130]
  folder = str(tmp_path / 'samples')
  save_samples(folder, np.concatenate([x, x[:20]]), chunk=40, step=5)   # 150 samples, 4 chunks
  e2, _, _ = _evaluator(stub, 130, 48, samples_dir=folder, run_step=5)
  read = e2.run(None, key)
  assert read['eval/fid'] == pytest.approx(drawn['eval/fid'], rel=1e-6)
  assert read['eval/inception_score'] == pytest.approx(drawn['eval/inception_score'], rel=1e-9)
  assert 'digest' in e2.identity()['samples']
  with pytest.raises(cfg.ConfigError, match='holds 150 samples, fewer than'):
    _evaluator(stub, 200, 48, samples_dir=folder)
  with pytest.raises(cfg.ConfigError, match='sampled from step 5, this run is at step 6'):
    _evaluator(stub, 130, 48, samples_dir=folder, run_step=6)
  with pytest.raises(cfg.ConfigError, match='samples_dir: samples folder .* does not exist'):
    _evaluator(stub, 130, 48, samples_dir=str(tmp_path / 'none'))


def test_grey_images_become_rgb_in_unit_range():
  x = np.array([[[[-1.0]], [[3.0]]]], np.float32)   # [1, 2, 1, 1], one value beyond the range
  u = ev.to_unit(x, -1.0, 1.0)
  assert u.shape == (1, 2, 1, 3) and np.all(u[0, 0] == 0) and np.all(u[0, 1] == 1)


def test_fid_stats_file_is_the_reference(stub, tmp_path):
  e, _, data = _evaluator(stub, 64, 64)
  a = e.run(None, jax.random.PRNGKey(1))['eval/fid']
  mu, sigma = frechet.stats_from_features(_stub_net(None)(ev.to_unit(data, -1, 1))['pool3'])
  path = tmp_path / 'stats.npz'
  np.savez(path, mu=mu, sigma=sigma)
  e2, _, _ = _evaluator(stub, 64, 64, fid_stats=str(path))
  assert e2.run(None, jax.random.PRNGKey(1))["eval/fid"] == pytest.approx(a, rel=1e-5)
  np.savez(tmp_path / 'bad.npz', mean=mu)
  with pytest.raises(cfg.ConfigError, match='holds no mu/sigma'):
    _evaluator(stub, 64, 64, fid_stats=str(tmp_path / 'bad.npz'))
  with pytest.raises(cfg.ConfigError, match='launch.fid_stats'):
    _evaluator(stub, 64, 64, fid_stats=str(tmp_path / 'none.npz'))


def test_missing_weights_name_the_download_and_the_converter(tmp_path):
  with pytest.raises(cfg.ConfigError, match='inception_weights is empty.*convert_inception'):
    _evaluator('', 16, 16)
  with pytest.raises(cfg.ConfigError, match=r'inception_weights=.*absent.npz: no such file.*'
                     'pytorch-fid.*convert_inception'):
    _evaluator(str(tmp_path / 'absent.npz'), 16, 16)


def _cut_short(tmp_path):
  """A weights .npz whose last bytes are missing (a copy or download stopped early)."""
  whole = tmp_path / 'whole.npz'
  np.savez(whole, a=np.arange(1000.0), b=np.ones((50, 50)))
  cut = tmp_path / 'cut.npz'
  cut.write_bytes(whole.read_bytes()[:-200])
  return cut


def test_cut_short_or_folder_weights_are_config_errors_naming_the_key(tmp_path):
  with pytest.raises(cfg.ConfigError, match=r'^config.eval.inception_weights=.*cut.npz is no '
                     'readable .npz.*convert'):
    _evaluator(str(_cut_short(tmp_path)), 16, 16)
  with pytest.raises(cfg.ConfigError, match=r'^config.eval.inception_weights=.* is a folder'):
    _evaluator(str(tmp_path), 16, 16)


def test_launch_fid_stats_writes_the_statistics_of_the_split(stub, tmp_path, capsys):
  from launch import fid_stats
  out = tmp_path / 'digits_test.npz'
  rc = fid_stats.main(['--config', 'experiments/score_sde/digits.py', '--split', 'test',
                       '--inception-weights', stub, '--out', str(out),
                       '--config.eval.batch_size=100'])
  assert rc == 0
  from jaxgen.data import loaders
  images, _ = loaders.digits('test').read(np.arange(297))
  x = ev.to_unit(images.astype(np.float32) / 16 * 2 - 1, -1, 1)
  mu, sigma = frechet.stats_from_features(_stub_net(None)(x)['pool3'])
  with np.load(out) as f:
    assert int(f['count']) == 297
    np.testing.assert_allclose(f['mu'], mu, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f['sigma'], sigma, rtol=1e-5, atol=1e-9)
  rc = fid_stats.main(['--config', 'experiments/score_sde/digits.py', '--inception-weights',
                       str(tmp_path / 'absent.npz'), '--out', str(tmp_path / 'x.npz')])
  assert rc == 2 and not (tmp_path / 'x.npz').exists()
  assert capsys.readouterr().err.count('\n') == 1


@pytest.mark.parametrize('weights', ['cut', 'folder'])
def test_launch_fid_stats_refuses_bad_weights_before_importing_jax(tmp_path, weights):
  """A cut-short .npz or a folder as --inception-weights: one error line naming the flag, exit 2,
  nothing written, and JAX never imported (the check runs right after parsing)."""
  import subprocess
  import sys

  from tests.conftest import ROOT
  path = _cut_short(tmp_path) if weights == 'cut' else tmp_path
  out = tmp_path / 'x.npz'
  code = ('import sys; from launch import fid_stats; rc = fid_stats.main(sys.argv[1:]); '
          "print('jax' in sys.modules); sys.exit(rc)")
  p = subprocess.run([sys.executable, '-c', code, '--config', 'experiments/score_sde/digits.py',
                      '--inception-weights', str(path), '--out', str(out)], cwd=ROOT,
                     capture_output=True, text=True, timeout=120)
  assert p.returncode == 2 and p.stdout.strip() == 'False', p.stdout + p.stderr
  assert p.stderr.startswith('error: --inception-weights=') and p.stderr.count('\n') == 1
  assert not out.exists()


@pytest.mark.slow
def test_real_network_with_random_weights_end_to_end(tmp_path):
  """The real FID Inception (random weights in pytorch-fid's layout) through launch.fid_stats
  and the evaluator: 8 digits against their own statistics give FID ~ 0 (round-off, under 1%
  of noise images' FID). (~1-2 min of XLA compilation on 2 cores.)"""
  from launch import fid_stats
  from jaxgen.nets import inception
  from tests.nets.inception_weights import state_dict_like
  weights = tmp_path / 'inception.npz'
  np.savez(weights, **state_dict_like(inception.param_shapes()))
  stats = tmp_path / 'digits8.npz'
  assert fid_stats.main(['--config', 'experiments/score_sde/digits.py', '--split', 'test', '--num',
                         '8', '--inception-weights', str(weights), '--out', str(stats),
                         '--config.eval.batch_size=8']) == 0
  from jaxgen.data import loaders
  images, _ = loaders.digits('test').read(np.arange(8))
  real = images.astype(np.float32) / 16 * 2 - 1
  spec = types.SimpleNamespace(low=-1.0, high=1.0)
  ec = cfg.ConfigDict(dict(batch_size=8, inception_weights=str(weights), fid_stats=str(stats)))
  own = ev.Evaluator(('fid',), lambda p, r, m: (real[:m], {'nfe': 0}), None, spec, 8,
                     parallel.make_mesh(0), ec)
  fid_own = own.run(None, jax.random.PRNGKey(0))['eval/fid']
  noise = ev.Evaluator(('fid',), lambda p, r, m: (np.asarray(jax.random.uniform(r, (m, 8, 8, 1),
                                                                                minval=-1)),
                                                  {'nfe': 0}), None, spec, 8,
                       parallel.make_mesh(0), ec)
  fid_noise = noise.run(None, jax.random.PRNGKey(0))['eval/fid']
  # 8 images in 2048 dims: rank-7 covariances, whose sqrtm round-off leaves |FID| ~ 1e-3
  assert abs(fid_own) < 0.01 * fid_noise, (fid_own, fid_noise)
