"""The `pairs:<file>` data source: determinism in (seed, step), host shards, pairing, errors."""

import numpy as np
import pytest

from jaxgen import config as cfg
from jaxgen import data as data_lib
from jaxgen.data import pairs


def data_cfg(**kw):
  c = cfg.common().data
  for k, v in kw.items():
    c[k] = v
  return c


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
