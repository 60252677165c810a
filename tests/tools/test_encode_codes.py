"""launch.encode_codes on a smoke VQ-VAE run and the `codes:` source that reads its folder:
byte-identical folders when written twice, resume after a kill to the same bytes, batches pure
in (seed, step), and an unfinished folder refused in one line."""

import os

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import codes as codes_lib
from jaxgen.runtime import config as cfg
from jaxgen.store import shards
from launch import encode_codes as launch_encode
from launch import train as launch_train
from tests.refusal import refused

VQVAE = 'experiments/vqvae/fashion_mnist.py:smoke'
PRIOR = 'experiments/vqvae/fashion_prior.py:smoke'
FLAGS = ['--shard', '100', '--batch', '32']


@pytest.fixture(scope='module')
def vq(tmp_path_factory):
  w = str(tmp_path_factory.mktemp('vq') / 'run')
  assert launch_train.main(['--config', VQVAE, '--workdir', w]) == 0
  return w


@pytest.fixture(scope='module')
def reference(vq, tmp_path_factory):
  out = str(tmp_path_factory.mktemp('codes') / 'codes')
  assert launch_encode.main(['--workdir', vq, '--out', out] + FLAGS) == 0
  return out


def files(folder):
  return {f: open(os.path.join(folder, f), 'rb').read() for f in sorted(os.listdir(folder))}


def test_the_folder_is_byte_identical_when_written_twice(vq, reference, tmp_path, capsys):
  out = str(tmp_path / 'again')
  assert launch_encode.main(['--workdir', vq, '--out', out] + FLAGS) == 0
  assert files(out) == files(reference)
  index = codes_lib.read_index(out)
  assert [index['splits'][s]['num'] for s in ('train', 'test')] == [256, 256]
  assert len(index['chunks']) == 6 and index['plan']['grid'] == [7, 7]
  last = capsys.readouterr().out.strip().splitlines()[-1]
  assert last.startswith(f'Wrote {out}: 256 training and 256 test grids of 7x7 codes (K = 16)')


def test_a_killed_encoding_resumes_to_the_same_bytes(vq, reference, tmp_path, monkeypatch):
  """Killed while writing shard 2 (its file half written, no record), the same command keeps
  shards 0 and 1 and makes the rest: the folder equals an uninterrupted one's."""
  out = str(tmp_path / 'codes')
  real = shards.write_with_record

  def dies(folder, name, data, **rec):
    if rec['index'] == 2:
      open(os.path.join(folder, name), 'wb').write(b'half')
      raise KeyboardInterrupt
    return real(folder, name, data, **rec)

  monkeypatch.setattr(shards, 'write_with_record', dies)
  with pytest.raises(KeyboardInterrupt):
    launch_encode.main(['--workdir', vq, '--out', out] + FLAGS)
  assert not os.path.exists(os.path.join(out, 'index.json'))
  made = []
  monkeypatch.setattr(shards, 'write_with_record', lambda folder, name, data, **rec: made.append(
      rec['index']) or real(folder, name, data, **rec))
  assert launch_encode.main(['--workdir', vq, '--out', out] + FLAGS) == 0
  assert made == [2, 3, 4, 5]
  assert files(out) == files(reference)


def _source(folder, seed=0, **data):
  c = cfg.load(PRIOR)
  c.data.name = 'codes:' + folder
  c.data.update(data)
  return data_lib.build(cfg.validate(c).data, seed)


def test_codes_source_batches_are_k_level_images_pure_in_seed_and_step(reference):
  src = _source(reference)
  meta, splits = codes_lib.load(reference)
  assert src.spec.shape == (7, 7, 1) and src.spec.num_levels == 16 and src.spec.scale == 'levels'
  assert src.spec.num_classes == 10 and (src.train_size, src.eval_size) == (256, 256)
  a, b = src.train_batch(3, 16), _source(reference).train_batch(3, 16)
  np.testing.assert_array_equal(a['x'], b['x'])
  np.testing.assert_array_equal(a['label'], b['label'])
  assert not np.array_equal(a['x'], src.train_batch(4, 16)['x'])
  assert a['x'].dtype == np.float32 and set(np.unique(a['x'])) <= set(range(16))
  first = next(src.eval_batches(64))
  np.testing.assert_array_equal(first['x'][..., 0], splits['test']['codes'][:64])
  assert src.fingerprint['codes_digest'] == meta['digest']


def test_codes_source_refuses_other_scales(reference):
  with pytest.raises(ValueError, match=r"data.scale='unit'.*set data.scale='levels'"):
    _source(reference, scale='unit')


def test_an_unfinished_codes_folder_is_refused_in_one_line(vq, tmp_path, monkeypatch, capsys):
  out = str(tmp_path / 'codes')
  assert launch_encode.main(['--workdir', vq, '--out', out] + FLAGS) == 0
  os.remove(os.path.join(out, 'index.json'))
  w = str(tmp_path / 'prior')
  refused(capsys, launch_train.main, ['--config', PRIOR, '--workdir', w,
                                      f'--config.data.name=codes:{out}'],
          r'codes folder .* is unfinished \(no index.json\): run \(or rerun, it resumes\) the '
          r'`python -m launch.encode_codes', w)
  assert not os.path.exists(w)
