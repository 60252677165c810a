"""Every registered data source implements the `Source` interface; unknown names list them all."""

import json

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import source
from tests.folders import save_codes, save_pairs
from tests.conftest import data_cfg


# One buildable example per registered name; a new source adds its own here.
EXAMPLES = {
    'toy2d:': dict(name='toy2d:8gaussians', eval_size=50),
    'digits': dict(name='digits', scale='unit', dequantize=True),
    'fashion_mnist': dict(name='fashion_mnist', scale='symmetric', stand_in=True),  # dir: empty
    'tfds:': dict(name='tfds:cifar10', scale='levels'),                              # mock data
    'pairs:': dict(name='pairs:'),                                                 # a tmp folder
    'codes:': dict(name='codes:', scale='levels'),                                 # a tmp folder
    'synthetic:': dict(name='synthetic:8x6x3:5', scale='symmetric', dequantize=True,
                       eval_size=40),
}


def build_example(key, tmp_path):
  kw = dict(EXAMPLES[key])
  if key == 'fashion_mnist':
    kw['dir'] = str(tmp_path)
  if key == 'pairs:':
    z0 = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    save_pairs(str(tmp_path / 'p'), z0, z0 + 1, shard_size=16)
    kw['name'] = 'pairs:' + str(tmp_path / 'p')
  if key == 'codes:':
    rng = np.random.default_rng(0)
    grids = [rng.integers(0, 6, (n, 3, 2)) for n in (40, 21)]
    save_codes(str(tmp_path / 'c'), *grids, num_codes=6,
               labels=[rng.integers(0, 3, n) for n in (40, 21)])
    kw['name'] = 'codes:' + str(tmp_path / 'c')
  if key == 'tfds:':
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20):
      return data_lib.build(data_cfg(**kw), seed=4)
  return data_lib.build(data_cfg(**kw), seed=4)


def test_every_registered_source_has_an_example():
  assert set(EXAMPLES) == set(source.SOURCES)


@pytest.mark.parametrize('key', sorted(EXAMPLES))
def test_registered_source_implements_the_interface(key, tmp_path):
  """Shapes and ranges match the spec, batches are a function of (seed, step), the eval batches
  cover eval_size examples once under the mask, and fingerprint/eval_source are JSON."""
  ds = build_example(key, tmp_path)
  assert isinstance(ds, data_lib.Source) and isinstance(ds.spec, data_lib.DataSpec)
  b = ds.train_batch(3, 16, 0, 1)
  assert b['x'].shape == (16,) + tuple(ds.spec.shape) and b['x'].dtype == np.float32
  if ds.spec.num_levels:
    assert ds.spec.low <= b['x'].min() and b['x'].max() <= ds.spec.high
  again = build_example(key, tmp_path).train_batch(3, 16, 0, 1)
  assert set(again) == set(b)
  for k in b:
    np.testing.assert_array_equal(again[k], b[k])
  halves = [ds.train_batch(3, 16, i, 2) for i in range(2)]
  for k in b:
    np.testing.assert_array_equal(np.concatenate([h[k] for h in halves]), b[k])
  mask = np.concatenate([e['mask'] for e in ds.eval_batches(16)])
  assert mask.sum() == ds.eval_size and len(mask) == 16 * -(-ds.eval_size // 16)
  assert ds.eval_array(5).shape == (5,) + tuple(ds.spec.shape)
  assert ds.train_size is None or ds.train_size > 0
  json.dumps(ds.fingerprint)
  ev = json.loads(json.dumps(ds.eval_source()))
  assert set(ev) == {'data', 'seed'} and ev['seed'] == 4


def test_unknown_name_lists_every_source():
  with pytest.raises(ValueError, match='not a data source') as err:
    data_lib.build(data_cfg(name='mnist', scale='unit'), seed=0)
  for usage in data_lib.available():
    assert usage in str(err.value)
  assert 'toy2d:<moons|' in str(err.value) and 'pairs:<folder>' in str(err.value)
  with pytest.raises(ValueError, match='not a data source'):
    data_lib.build(data_cfg(name='digits:x', scale='unit'), seed=0)


def test_a_name_cannot_be_registered_twice():
  with pytest.raises(ValueError, match="'digits' is registered twice"):
    data_lib.register('digits', lambda c, s: None)
