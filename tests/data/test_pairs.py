"""The `pairs:<folder>` data source: sharded, streamed, determinism in (seed, step), host shares,
pairing, digests and errors."""

import os

import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen import data as data_lib
from jaxgen.data import pairs
from tests.conftest import data_cfg
from tests.folders import save_pairs


@pytest.fixture
def affine(tmp_path):
  """70 pairs with z1 = 3 z0 + 1 in shards of 16 (4 full, one of 6), so any mix-up of z0 and z1
  rows, or of shards, shows."""
  z0 = np.random.default_rng(0).standard_normal((70, 2)).astype(np.float32)
  path = str(tmp_path / 'pairs')
  save_pairs(path, z0, 3 * z0 + 1, shard_size=16, solver='euler', nfe=1)
  return path, z0


def build(path, seed=1, **kw):
  return data_lib.build(data_cfg(name='pairs:' + path, **kw), seed=seed)


def test_batches_are_deterministic_paired_and_cover_each_epoch(affine):
  path, z0 = affine
  ds, again = build(path), build(path)
  b = ds.train_batch(5, 14, 0, 1)
  assert set(b) == {'x', 'x0'} and b['x'].shape == (14, 2) and b['x'].dtype == np.float32
  for k in b:
    np.testing.assert_array_equal(b[k], again.train_batch(5, 14, 0, 1)[k])
  assert not np.array_equal(b['x0'], ds.train_batch(6, 14, 0, 1)['x0'])
  assert not np.array_equal(b['x0'], build(path, seed=2).train_batch(5, 14, 0, 1)['x0'])
  epoch = [ds.train_batch(s, 14, 0, 1) for s in range(5)]            # 70 pairs = one epoch
  x0 = np.concatenate([e['x0'] for e in epoch])
  np.testing.assert_array_equal(np.sort(x0, 0), np.sort(z0, 0))
  for e in epoch:
    np.testing.assert_allclose(e['x'], 3 * e['x0'] + 1, rtol=1e-6)    # rows stay paired
  assert ds.train_size == 70 and ds.spec.shape == (2,)


def test_streamed_batches_equal_the_in_memory_pairs_at_the_same_indices(affine):
  """The streamed source's batch s is z[order(seed, sizes, s, B)] of all pairs held in memory,
  whatever was read before (a pure function of (seed, step)), and reads only the shards it
  touches: a batch of at most a window's pairs touches at most 2 windows of `WINDOW` shards."""
  path, _ = affine
  z0, z1 = pairs.load_all(path)
  sizes = [16, 16, 16, 16, 6]
  forward, backward = build(path, seed=3), build(path, seed=3)
  steps = range(12)   # ~2.4 epochs of batches of 14, crossing epoch boundaries
  got = {s: forward.train_batch(s, 14, 0, 1) for s in steps}
  for s in reversed(steps):
    idx = pairs.order(3, sizes, s, 14)
    assert len(set(np.searchsorted(np.cumsum(sizes), idx, side='right'))) <= 2 * pairs.WINDOW
    b = backward.train_batch(s, 14, 0, 1)
    for k, ref in (('x0', z0[idx]), ('x', z1[idx])):
      np.testing.assert_array_equal(got[s][k], ref)
      np.testing.assert_array_equal(b[k], ref)
  # The LRU of CACHE shards loads each shard about once per epoch when steps run in order.
  assert forward._pairs.loads <= 3 * len(sizes)


def test_grain_pipeline_gives_the_memory_pipelines_batches(affine):
  path, _ = affine
  mem, grain = build(path, pipeline='memory'), build(path, pipeline='grain', threads=0)
  for s in (0, 7):
    for i in range(2):
      a, b = mem.train_batch(s, 16, i, 2), grain.train_batch(s, 16, i, 2)
      for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_each_host_reads_its_contiguous_share_of_the_global_batch(affine):
  ds = build(affine[0], seed=3)
  whole = ds.train_batch(9, 32, 0, 1)   # crosses an epoch boundary (positions 288..319 of 70)
  parts = [ds.train_batch(9, 32, i, 4) for i in range(4)]
  for k in whole:
    np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k])


def test_shards_are_byte_deterministic_and_the_digest_identifies_the_coupling(affine, tmp_path):
  """The same pairs written again give the same files (fixed zip time stamps) and the same
  digest, whatever the meta; any changed value another; `fingerprint` records the folder."""
  path, z0 = affine
  ds = build(path, seed=0)
  assert ds.fingerprint == {'pairs_dir': os.path.abspath(path),
                            'pairs_digest': pairs.load(path).digest}
  copy = str(tmp_path / 'copy')
  save_pairs(copy, z0, 3 * z0 + 1, shard_size=16, other='meta')
  assert pairs.load(copy).digest == ds.fingerprint['pairs_digest']
  for name in ('shard_00000.npz', 'shard_00004.npz'):
    with open(os.path.join(path, name), 'rb') as a, open(os.path.join(copy, name), 'rb') as b:
      assert a.read() == b.read()
  z1 = 3 * z0 + 1
  z1[7, 1] += 1e-3
  other = str(tmp_path / 'other')
  save_pairs(other, z0, z1, shard_size=16)
  assert pairs.load(other).digest != ds.fingerprint['pairs_digest']
  assert data_lib.build(data_cfg(name='toy2d:moons'), 0).fingerprint is None


def test_a_flipped_byte_in_a_shard_is_refused_at_its_first_read(affine):
  path, _ = affine
  f = os.path.join(path, 'shard_00002.npz')
  with open(f, 'r+b') as h:
    h.seek(os.path.getsize(f) // 2)   # a value of z0 or z1
    byte = h.read(1)
    h.seek(-1, 1)
    h.write(bytes([byte[0] ^ 1]))
  ds = build(path)   # opening checks presence and sizes only
  with pytest.raises(ValueError) as e:
    for s in range(5):
      ds.train_batch(s, 14, 0, 1)
  msg = str(e.value)
  assert '\n' not in msg and f in msg and 'damaged' in msg and 'launch.reflow' in msg


def test_a_missing_or_truncated_shard_is_refused_at_open(affine):
  path, _ = affine
  f = os.path.join(path, 'shard_00001.npz')
  data = open(f, 'rb').read()
  with open(f, 'wb') as h:
    h.write(data[:-10])
  with pytest.raises(ValueError, match=r'shard_00001.npz has \d+ bytes.*--force'):
    build(path)
  os.remove(f)
  with pytest.raises(data_lib.DataNotFoundError, match='shard_00001.npz is missing.*--force'):
    build(path)


def test_a_missing_index_says_how_to_fix_it(tmp_path, affine):
  with pytest.raises(data_lib.DataNotFoundError) as e:
    build(str(tmp_path / 'nothing'))
  assert 'index.json' in str(e.value) and 'python -m launch.reflow --workdir' in str(e.value)
  assert '\n' not in str(e.value)
  path, z0 = affine
  os.rename(os.path.join(path, 'index.json'), os.path.join(path, 'plan.json'))
  with pytest.raises(data_lib.DataNotFoundError, match='did not finish. Rerun the same'):
    build(path)
  with open(os.path.join(path, 'index.json'), 'w') as f:
    f.write('{"not": "an index"}')
  with pytest.raises(ValueError, match='is not a pairs index'):
    build(path)
  old = str(tmp_path / 'old.npz')   # a file, not a folder of shards
  np.savez(old, z0=z0, z1=3 * z0 + 1)
  with pytest.raises(data_lib.DataNotFoundError, match=r'no .*old.npz/index.json'):
    build(old)


def test_evaluation_is_the_source_runs_data(tmp_path):
  """With a source config in the index, the eval split is the source data (same seed), so 2-RF is
  scored against the same points as its 1-RF run; without one it is the pairs' own z1."""
  src = cfg.common()
  src.seed = 5
  src.data.eval_size = 100
  z = np.zeros((10, 2), np.float32)
  path = str(tmp_path / 'p')
  save_pairs(path, z, z + 1, source_config=src.to_dict())
  ds = data_lib.build(data_cfg(name='pairs:' + path, eval_size=100), seed=0)
  ref = data_lib.build(data_cfg(name='toy2d:moons', eval_size=100), seed=5)
  np.testing.assert_array_equal(ds.eval_array(50), ref.eval_array(50))
  batch = next(ds.eval_batches(64))
  np.testing.assert_array_equal(batch['x'], next(ref.eval_batches(64))['x'])
  own = str(tmp_path / 'own')
  save_pairs(own, z, z + 1, shard_size=4)
  ds = data_lib.build(data_cfg(name='pairs:' + own), 0)
  np.testing.assert_array_equal(ds.eval_array(), z + 1)
  assert (ds.spec.low, ds.spec.high) == (1.0, 1.0)


def test_pairs_refuse_data_transforms(affine):
  with pytest.raises(ValueError, match="data.scale='none'"):
    build(affine[0], scale='unit')


@pytest.mark.parametrize('key,value', [('max_examples', 5), ('train_split', 'validation'),
                                       ('eval_split', 'train')])
def test_pairs_refuse_split_settings_they_would_ignore(affine, key, value):
  """Every pair is a training example and evaluation is the source run's data, so data.max_examples,
  train_split and eval_split have no meaning for pairs: a non-default value is an error."""
  with pytest.raises(ValueError, match=rf'data\.{key}={value!r} would be ignored'):
    build(affine[0], **{key: value})


def test_evaluation_data_of_a_reflow_chain_is_read_from_eval_source_only(tmp_path):
  """k-RF pairs store the root run's evaluation data (eval_source, absolute paths): building
  them never opens the (k-1)-RF pairs named in their source_config, which may be gone."""
  import shutil

  root = cfg.common()
  root.seed = 5
  z = np.zeros((10, 2), np.float32)
  first = str(tmp_path / 'p1')
  save_pairs(first, z, z + 1, source_config=root.to_dict())
  ds1 = data_lib.build(data_cfg(name='pairs:' + first, eval_size=100), seed=0)
  ev = ds1.eval_source()
  assert ev['seed'] == 5 and ev['data']['name'] == 'toy2d:moons'
  krf = cfg.common()   # the config of the run trained on p1 (its data: p1, now deleted)
  krf.data.name = 'pairs:' + first
  second = str(tmp_path / 'p2')
  save_pairs(second, z, z + 2, source_config=krf.to_dict(), eval_source=ev)
  shutil.rmtree(first)
  ds2 = data_lib.build(data_cfg(name='pairs:' + second, eval_size=100), seed=0)
  ref = data_lib.build(data_cfg(name='toy2d:moons', eval_size=100), seed=5)
  np.testing.assert_array_equal(ds2.eval_array(50), ref.eval_array(50))
  assert ds2.eval_source() == ev
  # Without a source, pairs evaluate on themselves; the name is stored as an absolute path.
  alone = str(tmp_path / 'alone')
  save_pairs(alone, z, z + 3)
  own = data_lib.build(data_cfg(name='pairs:' + os.path.relpath(alone)), 0).eval_source()
  assert own['data']['name'] == 'pairs:' + alone
