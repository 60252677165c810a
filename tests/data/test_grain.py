"""The grain pipeline (`jaxgen.data.pipeline`) gives the batches of the in-memory pipeline.

The reference is the pipeline as it was before the grain one existed: the whole global batch
gathered from the per-epoch permutation and transformed by `_reference_apply` (a verbatim copy of
the former `transforms.apply`), of which each host keeps its rows.
"""

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import loaders, pipeline, source
from tests.conftest import data_cfg


def _reference_apply(images, rng, cfg, num_levels, train):
  x = images.astype(np.float32)
  k = num_levels
  if cfg.binarize != 'none':
    p = x / (k - 1)
    if cfg.binarize == 'fixed':
      x = (p > cfg.binarize_threshold).astype(np.float32)
    else:
      x = (rng.uniform(size=x.shape) < p).astype(np.float32)
    k = 2
  if cfg.scale == 'levels':
    out = x
  else:
    if cfg.dequantize:
      unit = (x + rng.uniform(size=x.shape).astype(np.float32)) / k
    else:
      unit = x / (k - 1)
    out = unit if cfg.scale == 'unit' else 2.0 * unit - 1.0
  if train and cfg.flip:
    flip = rng.uniform(size=(x.shape[0],)) < 0.5
    out = np.where(flip[:, None, None, None], out[:, :, ::-1, :], out)
  return out.astype(np.float32)


def _reference_batch(ds, step, batch_size):
  """The former ImageSource._global_train_batch, on the source's records."""
  idx = ds._indices(step, batch_size)
  images, labels = ds._train.read(idx)
  x = _reference_apply(images, source.rng(ds.seed, 2, step), ds.cfg, ds._train.num_levels, True)
  return {'x': x, 'label': labels}


CONFIGS = {
    'symmetric': dict(scale='symmetric'),
    'dequantize_flip': dict(scale='unit', dequantize=True, flip=True),
    'resample_dequantize_flip': dict(scale='symmetric', binarize='resample', dequantize=True,
                                     flip=True),
    'fixed_levels': dict(scale='levels', binarize='fixed'),
}


@pytest.mark.parametrize('which', sorted(CONFIGS))
def test_grain_gives_the_former_pipelines_batches(which):
  cfg = data_cfg(name='digits', **CONFIGS[which])
  grain_ds = data_lib.build(data_cfg(name='digits', pipeline='grain', **CONFIGS[which]), seed=3)
  memory = data_lib.build(cfg, seed=3)
  assert (grain_ds.pipeline, memory.pipeline) == ('grain', 'memory')
  for step in (0, 1, 23, 24):  # 1500 / 64 = 23.4: step 23 spans epochs 0 and 1
    ref = _reference_batch(memory, step, 64)
    for got in (grain_ds.train_batch(step, 64, 0, 1), memory.train_batch(step, 64, 0, 1)):
      assert sorted(got) == ['label', 'x']
      np.testing.assert_array_equal(got['x'], ref['x'])
      np.testing.assert_array_equal(got['label'], ref['label'])


@pytest.mark.parametrize('hosts', [2, 4])
def test_host_shares_concatenate_to_the_global_batch(hosts):
  c = dict(name='digits', scale='unit', dequantize=True, flip=True, binarize='resample')
  grain_ds = data_lib.build(data_cfg(pipeline='grain', **c), seed=1)
  memory = data_lib.build(data_cfg(**c), seed=1)
  for step in (0, 23):
    whole = memory.train_batch(step, 64, 0, 1)
    shares = [grain_ds.train_batch(step, 64, i, hosts) for i in range(hosts)]
    assert all(len(s['x']) == 64 // hosts for s in shares)
    for k in whole:
      np.testing.assert_array_equal(np.concatenate([s[k] for s in shares]), whole[k])


def test_each_host_reads_only_its_rows():
  ds = data_lib.build(data_cfg(name='digits', scale='unit', pipeline='grain'), seed=0)
  reads = []
  records = ds._train

  class Counting:  # the records, logging which are read
    def __len__(self):
      return len(records)

    def read(self, idx):
      reads.extend(np.asarray(idx).tolist())
      return records.read(idx)

    def __getattr__(self, name):
      return getattr(records, name)

  ds._train = Counting()
  ds.train_batch(5, 64, 1, 4)
  assert reads == ds._indices(5, 64)[16:32].tolist()


def test_resume_is_exact_whatever_was_drawn_before():
  ds = data_lib.build(data_cfg(name='digits', scale='symmetric', flip=True, pipeline='grain',
                               threads=2), seed=0)
  late = ds.train_batch(30, 32)            # drawn first, by random access
  straight = dict(ds.train_batches(0, 32, 32))
  resumed = dict(ds.train_batches(29, 32, 32))
  assert list(resumed) == [29, 30, 31]
  for s in resumed:
    np.testing.assert_array_equal(resumed[s]['x'], straight[s]['x'])
  np.testing.assert_array_equal(late['x'], straight[30]['x'])
  fresh = data_lib.build(ds.cfg, seed=0)
  np.testing.assert_array_equal(fresh.train_batch(30, 32)['x'], late['x'])


@pytest.mark.parametrize('threads', [0, 3])
def test_train_batches_are_train_batch_in_order(threads):
  ds = data_lib.build(data_cfg(name='digits', scale='unit', dequantize=True, pipeline='grain',
                               threads=threads), seed=2)
  got = list(ds.train_batches(3, 9, 16))
  assert [s for s, _ in got] == list(range(3, 9))
  for s, b in got:
    np.testing.assert_array_equal(b['x'], ds.train_batch(s, 16)['x'])


def test_generic_sources_on_grain(tmp_path):
  toy = data_lib.build(data_cfg(name='toy2d:moons', pipeline='grain', eval_size=16), seed=4)
  ref = data_lib.build(data_cfg(name='toy2d:moons', eval_size=16), seed=4)
  for s, b in toy.train_batches(0, 3, 8, 1, 2):
    np.testing.assert_array_equal(b['x'], ref.train_batch(s, 8, 1, 2)['x'])
  from tests.folders import save_pairs
  z0 = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
  save_pairs(str(tmp_path / 'p'), z0, 2 * z0, shard_size=4)
  name = 'pairs:' + str(tmp_path / 'p')
  g = data_lib.build(data_cfg(name=name, pipeline='grain'), seed=0)
  m = data_lib.build(data_cfg(name=name), seed=0)
  for s in (0, 2, 3):
    for k in ('x', 'x0'):
      np.testing.assert_array_equal(g.train_batch(s, 4)[k], m.train_batch(s, 4)[k])


def test_tfds_auto_is_lazy_grain_and_matches_memory():
  import tensorflow_datasets as tfds

  c = dict(name='tfds:cifar10', scale='symmetric', dequantize=True, flip=True)
  with tfds.testing.mock_data(num_examples=24):
    lazy = data_lib.build(data_cfg(**c), seed=0)
    memory = data_lib.build(data_cfg(pipeline='memory', **c), seed=0)
    assert lazy.pipeline == 'grain' and isinstance(lazy._train, loaders.TfdsImages)
    assert isinstance(memory._train, loaders.Images)
    assert lazy.spec == memory.spec
    for s in (0, 2, 3):   # 24 / 8: step 3 starts epoch 1
      for k in ('x', 'label'):
        whole = memory.train_batch(s, 8)[k]
        np.testing.assert_array_equal(lazy.train_batch(s, 8)[k], whole)
        np.testing.assert_array_equal(
            np.concatenate([lazy.train_batch(s, 8, i, 2)[k] for i in range(2)]), whole)
    a, b = next(lazy.eval_batches(8)), next(memory.eval_batches(8))
    np.testing.assert_array_equal(a['x'], b['x'])


def test_tfds_load_reads_each_record_once_in_order():
  import tensorflow_datasets as tfds

  with tfds.testing.mock_data(num_examples=40):
    records = loaders.TfdsImages('cifar10', 'train')
    records.LOAD_CHUNK = 16   # 3 chunks, the last one short
    loaded = records.load(threads=2)
    one_by_one = np.stack([np.asarray(records._source[i]['image']) for i in range(40)])
    np.testing.assert_array_equal(loaded.images, one_by_one)
    assert loaded.labels.tolist() == [int(records._source[i]['label']) for i in range(40)]
    assert loaded.num_classes == 10


def test_bad_pipeline_settings_are_refused():
  with pytest.raises(ValueError, match=r"config.data.pipeline='fast'.*'auto', 'memory', 'grain'"):
    data_lib.build(data_cfg(name='digits', scale='unit', pipeline='fast'), seed=0)
  with pytest.raises(ValueError, match='config.data.threads=-1'):
    data_lib.build(data_cfg(name='digits', scale='unit', threads=-1), seed=0)
  assert pipeline.choose(data_cfg(), lazy=False) == 'memory'
