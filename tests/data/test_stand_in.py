"""data.stand_in: a known image set missing here becomes a synthetic set of its shape, levels and
classes, with one printed line and a fingerprint that says so; without the flag nothing changes."""

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import standin
from tests.conftest import data_cfg


@pytest.mark.parametrize('name', sorted(standin.SETS))
def test_missing_known_set_becomes_a_stand_in_of_its_shape(name, tmp_path, capsys):
  shape, levels, classes = standin.SETS[name]
  c = data_cfg(name=name, dir=str(tmp_path), scale='levels', stand_in=True)
  ds = data_lib.build(c, seed=0)
  assert capsys.readouterr().out == (
      f'data: {name} is not on this machine; using a synthetic stand-in of shape {shape}, '
      f'{levels} levels, {classes} classes (smoke runs only)\n')
  assert ds.spec == data_lib.DataSpec(name, shape, 0.0, levels - 1.0, levels, classes, 'levels')
  assert (ds.train_size, ds.eval_size) == (standin.TRAIN_SIZE, standin.EVAL_SIZE)
  assert ds.fingerprint == {'stand_in': name, 'shape': list(shape), 'num_levels': levels,
                            'num_classes': classes}


def test_stand_in_levels_labels_and_determinism(tmp_path, capsys):
  """Every image spans levels 0..255 exactly, labels take each class equally often, and batches
  are identical across builds (a function of the set name, split, seed and step)."""
  c = data_cfg(name='tfds:mnist', dir=str(tmp_path), scale='levels', stand_in=True)
  ds = data_lib.build(c, seed=1)
  x = ds.eval_array()
  assert np.array_equal(x, np.round(x))
  np.testing.assert_array_equal(x.min((1, 2, 3)), 0)
  np.testing.assert_array_equal(x.max((1, 2, 3)), 255)
  labels = np.concatenate([ds.train_batch(s, 64, 0, 1)['label'] for s in range(8)])  # one epoch
  np.testing.assert_array_equal(np.bincount(labels, minlength=10), [52] * 2 + [51] * 8)
  again = data_lib.build(c, seed=1)
  for k, v in ds.train_batch(5, 32, 0, 1).items():
    np.testing.assert_array_equal(again.train_batch(5, 32, 0, 1)[k], v)
  train, test = standin.images('tfds:mnist', 'train'), standin.images('tfds:mnist', 'test')
  assert not np.array_equal(train.images[:len(test.images)], test.images)
  assert capsys.readouterr().out.count('synthetic stand-in') == 2     # one line per build


def test_without_stand_in_a_missing_set_still_raises(tmp_path):
  with pytest.raises(data_lib.DataNotFoundError, match='tfds build mnist'):
    data_lib.build(data_cfg(name='tfds:mnist', dir=str(tmp_path), scale='unit'), seed=0)
  with pytest.raises(data_lib.DataNotFoundError, match='apt-get install -y dataset-fashion-mnist'):
    data_lib.build(data_cfg(name='fashion_mnist', dir=str(tmp_path), scale='unit'), seed=0)


def test_an_unknown_set_without_data_has_no_stand_in(tmp_path, capsys):
  c = data_cfg(name='tfds:no_such_set_xyz', dir=str(tmp_path), scale='unit', stand_in=True)
  with pytest.raises(data_lib.DataNotFoundError,
                     match=r'tfds build no_such_set_xyz.*no stand-in for tfds:no_such_set_xyz'):
    data_lib.build(c, seed=0)
  assert capsys.readouterr().out == ''


def test_present_data_is_used_even_with_stand_in():
  ds = data_lib.build(data_cfg(name='digits', scale='levels', stand_in=True), seed=0)
  assert ds.train_size == 1500 and ds.fingerprint is None
