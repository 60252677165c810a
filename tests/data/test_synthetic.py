"""The ``synthetic:<H>x<W>x<C>[:<K>]`` source (jaxgen/data/synthetic.py): its spec is the declared
one, its batches are pure functions of (seed, step) with values on the 256 levels, its mistakes
are one line naming the key."""

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import synthetic
from tests.conftest import data_cfg


def _build(name='synthetic:12x10x3:7', seed=3, **kw):
  return data_lib.build(data_cfg(name=name, **{'scale': 'unit', 'eval_size': 20, **kw}), seed)


def test_spec_is_the_declared_shape_levels_and_classes():
  ds = _build()
  assert ds.spec == data_lib.DataSpec('synthetic:12x10x3:7', (12, 10, 3), 0.0, 1.0, 256, 7,
                                      'unit', False)
  assert _build('synthetic:4x4x1').spec.num_classes == synthetic.CLASSES == 10
  levels = _build(scale='levels').spec
  assert (levels.low, levels.high, levels.num_levels) == (0.0, 255.0, 256)


def test_batches_are_pure_in_seed_and_step_and_sit_on_the_levels():
  ds = _build()
  b = ds.train_batch(5, 32, 0, 1)
  again = _build().train_batch(5, 32, 0, 1)
  for k in ('x', 'label'):
    np.testing.assert_array_equal(b[k], again[k])
  assert not np.array_equal(b['x'], ds.train_batch(6, 32, 0, 1)['x'])
  assert not np.array_equal(b['x'], _build(seed=4).train_batch(5, 32, 0, 1)['x'])
  assert b['x'].shape == (32, 12, 10, 3) and b['x'].dtype == np.float32
  np.testing.assert_allclose(b['x'] * 255, np.rint(b['x'] * 255), atol=1e-4)   # k / 255
  assert b['label'].dtype == np.int32 and set(b['label']) <= set(range(7))
  assert b['x'].min() == 0.0 and b['x'].max() == 1.0   # 11,520 uniform draws reach both ends


def test_evaluation_examples_depend_on_their_index_only():
  ds = _build()
  first = np.concatenate([e['x'] for e in ds.eval_batches(8)])[:20]
  np.testing.assert_array_equal(first, ds.eval_array())
  np.testing.assert_array_equal(ds.eval_array(3), first[:3])


@pytest.mark.parametrize('name', ['synthetic:32x32', 'synthetic:0x4x3', 'synthetic:4x4x3:0',
                                  'synthetic:axbxc'])
def test_a_malformed_name_is_one_line_naming_the_key(name):
  with pytest.raises(ValueError) as err:
    _build(name)
  msg = str(err.value)
  assert msg.startswith(f'config.data.name={name!r}') and 'synthetic:32x32x3' in msg
  assert '\n' not in msg


def test_continuous_scale_is_refused():
  with pytest.raises(ValueError, match="data.scale='none'"):
    _build(scale='none')
