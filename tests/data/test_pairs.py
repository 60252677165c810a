"""The `pairs:<file>` data source: determinism in (seed, step), host shards, pairing, errors."""

import os

import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen import data as data_lib
from jaxgen.data import pairs
from tests.conftest import data_cfg


@pytest.fixture
def affine_file(tmp_path):
  """64 pairs with z1 = 3 z0 + 1, so any mix-up of z0 and z1 rows shows."""
  z0 = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
  path = str(tmp_path / 'pairs.npz')
  pairs.save(path, z0, 3 * z0 + 1, solver='euler', nfe=1)
  return path, z0


def test_batches_are_deterministic_paired_and_cover_each_epoch(affine_file):
  path, z0 = affine_file
  ds = data_lib.build(data_cfg(name='pairs:' + path), seed=1)
  again = data_lib.build(data_cfg(name='pairs:' + path), seed=1)
  b = ds.train_batch(5, 16, 0, 1)
  assert set(b) == {'x', 'x0'} and b['x'].shape == (16, 2) and b['x'].dtype == np.float32
  for k in b:
    np.testing.assert_array_equal(b[k], again.train_batch(5, 16, 0, 1)[k])
  assert not np.array_equal(b['x0'], ds.train_batch(6, 16, 0, 1)['x0'])
  assert not np.array_equal(b['x0'], data_lib.build(data_cfg(name='pairs:' + path), 2)
                            .train_batch(5, 16, 0, 1)['x0'])
  epoch = [ds.train_batch(s, 16, 0, 1) for s in range(4)]            # 64 pairs = one epoch
  x0 = np.concatenate([e['x0'] for e in epoch])
  np.testing.assert_array_equal(np.sort(x0, 0), np.sort(z0, 0))
  for e in epoch:
    np.testing.assert_allclose(e['x'], 3 * e['x0'] + 1, rtol=1e-6)    # rows stay paired
  assert ds.train_size == 64 and ds.spec.shape == (2,)


def test_each_host_reads_its_contiguous_share_of_the_global_batch(affine_file):
  ds = data_lib.build(data_cfg(name='pairs:' + affine_file[0]), seed=3)
  whole = ds.train_batch(9, 32, 0, 1)   # crosses an epoch boundary (positions 288..319 of 64)
  parts = [ds.train_batch(9, 32, i, 4) for i in range(4)]
  for k in whole:
    np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k])


def test_evaluation_is_the_source_runs_data(tmp_path):
  """With a source config in the meta, the eval split is the source data (same seed), so 2-RF is
  scored against the same points as its 1-RF run; without one it is the pairs' own z1."""
  src = cfg.common()
  src.seed = 5
  src.data.eval_size = 100
  z = np.zeros((10, 2), np.float32)
  path = str(tmp_path / 'p.npz')
  pairs.save(path, z, z + 1, source_config=src.to_dict())
  ds = data_lib.build(data_cfg(name='pairs:' + path, eval_size=100), seed=0)
  ref = data_lib.build(data_cfg(name='toy2d:moons', eval_size=100), seed=5)
  np.testing.assert_array_equal(ds.eval_array(50), ref.eval_array(50))
  batch = next(ds.eval_batches(64))
  np.testing.assert_array_equal(batch['x'], next(ref.eval_batches(64))['x'])
  own = str(tmp_path / 'own.npz')
  pairs.save(own, z, z + 1)
  np.testing.assert_array_equal(data_lib.build(data_cfg(name='pairs:' + own), 0).eval_array(),
                                z + 1)


def test_a_missing_or_broken_file_says_how_to_make_one(tmp_path):
  with pytest.raises(data_lib.DataNotFoundError, match='python -m launch.reflow --workdir'):
    data_lib.build(data_cfg(name=f'pairs:{tmp_path}/nothing.npz'), 0)
  bad = tmp_path / 'bad.npz'
  bad.write_bytes(b'not a zip')
  with pytest.raises(ValueError, match='not a readable .npz.*launch.reflow'):
    data_lib.build(data_cfg(name=f'pairs:{bad}'), 0)
  np.savez(tmp_path / 'wrong.npz', z0=np.zeros((4, 2)), z1=np.zeros((5, 2)))
  with pytest.raises(ValueError, match='same shape.*launch.reflow'):
    data_lib.build(data_cfg(name=f'pairs:{tmp_path}/wrong.npz'), 0)
  np.savez(tmp_path / 'x.npz', x=np.zeros((4, 2)))
  with pytest.raises(ValueError, match=r"lacks \['z0', 'z1'\]"):
    data_lib.build(data_cfg(name=f'pairs:{tmp_path}/x.npz'), 0)


def test_pairs_refuse_data_transforms(affine_file):
  with pytest.raises(ValueError, match="data.scale='none'"):
    data_lib.build(data_cfg(name='pairs:' + affine_file[0], scale='unit'), 0)


@pytest.mark.parametrize('key,value', [('max_examples', 5), ('train_split', 'validation'),
                                       ('eval_split', 'train')])
def test_pairs_refuse_split_settings_they_would_ignore(affine_file, key, value):
  """Every pair is a training example and evaluation is the source run's data, so data.max_examples,
  train_split and eval_split have no meaning for pairs: a non-default value is an error."""
  with pytest.raises(ValueError, match=rf'data\.{key}={value!r} would be ignored'):
    data_lib.build(data_cfg(name='pairs:' + affine_file[0], **{key: value}), 0)


def test_evaluation_data_of_a_reflow_chain_is_read_from_eval_source_only(tmp_path):
  """k-RF pairs store the root run's evaluation data (meta.eval_source, absolute paths): building
  them never opens the (k-1)-RF pairs named in their source_config, which may be gone."""
  root = cfg.common()
  root.seed = 5
  z = np.zeros((10, 2), np.float32)
  first = str(tmp_path / 'p1.npz')
  pairs.save(first, z, z + 1, source_config=root.to_dict())
  ds1 = data_lib.build(data_cfg(name='pairs:' + first, eval_size=100), seed=0)
  ev = ds1.eval_source()
  assert ev['seed'] == 5 and ev['data']['name'] == 'toy2d:moons'
  krf = cfg.common()   # the config of the run trained on p1 (its data: p1, now deleted)
  krf.data.name = 'pairs:' + first
  second = str(tmp_path / 'p2.npz')
  pairs.save(second, z, z + 2, source_config=krf.to_dict(), eval_source=ev)
  os.remove(first)
  ds2 = data_lib.build(data_cfg(name='pairs:' + second, eval_size=100), seed=0)
  ref = data_lib.build(data_cfg(name='toy2d:moons', eval_size=100), seed=5)
  np.testing.assert_array_equal(ds2.eval_array(50), ref.eval_array(50))
  assert ds2.eval_source() == ev
  # Without a source, a pairs file evaluates on itself; its name is stored as an absolute path.
  alone = str(tmp_path / 'alone.npz')
  pairs.save(alone, z, z + 3)
  own = data_lib.build(data_cfg(name='pairs:' + os.path.relpath(alone)), 0).eval_source()
  assert own['data']['name'] == 'pairs:' + alone


def test_digest_identifies_the_coupling(affine_file, tmp_path):
  """The digest is a function of the arrays (not of the meta): the same pairs rewritten give the
  same digest, any changed value another; `PairsSource.fingerprint` records it with the path."""
  path, z0 = affine_file
  ds = data_lib.build(data_cfg(name='pairs:' + path), 0)
  assert ds.fingerprint == {'pairs_file': os.path.abspath(path),
                            'pairs_digest': pairs.digest(z0, 3 * z0 + 1)}
  copy = str(tmp_path / 'copy.npz')
  pairs.save(copy, z0, 3 * z0 + 1, other='meta')
  assert pairs.load(copy).digest == ds.fingerprint['pairs_digest']
  z1 = 3 * z0 + 1
  z1[7, 1] += 1e-3
  assert pairs.digest(z0, z1) != ds.fingerprint['pairs_digest']
  assert pairs.digest(z1, z0) != pairs.digest(z0, z1)
  assert data_lib.build(data_cfg(name='toy2d:moons'), 0).fingerprint is None
