"""The validation split (`jaxgen.data.validation`): ``data.validation`` examples of the training
split held out, the same ones for every seed, disjoint from every training batch, evaluated as a
split of its own, named by the data's fingerprint; 0 leaves the training stream as it was."""

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import loaders, validation
from tests.conftest import data_cfg


def _digits(seed=0, **kw):
  return data_lib.build(data_cfg(name='digits', scale='levels', **kw), seed)


def test_the_split_is_disjoint_fixed_and_seed_independent():
  """150 of digits' 1500: the held-out and kept indices partition the split, the held-out images
  are those indices of the whole split whatever the seed, and the kept ones keep their order."""
  whole = _digits()._train.images
  held, kept = validation.held_out(1500, 150), validation.kept(1500, 150)
  assert len(held) == 150 and len(kept) == 1350 and not set(held) & set(kept)
  assert sorted(set(held) | set(kept)) == list(range(1500))
  for seed in (0, 7):
    ds = _digits(seed, validation=150)
    np.testing.assert_array_equal(ds.validation()._eval.images, whole[held])
    np.testing.assert_array_equal(ds._train.images, whole[kept])
  assert not np.array_equal(held, np.arange(1350, 1500))   # a permutation, not the tail


def test_training_batches_never_hold_a_validation_example():
  """One epoch of training batches (1350 = 9 x 150) is exactly the kept examples; the held-out
  ones appear in the validation split's evaluation batches only, whole, under the mask."""
  ds = _digits(validation=150)
  whole = _digits()
  rows = lambda x: {r.tobytes() for r in x.reshape(len(x), -1).astype(np.uint8)}
  seen = np.concatenate([ds.train_batch(s, 150, 0, 1)['x'] for s in range(9)])
  kept = whole._train.images[validation.kept(1500, 150)]
  assert sorted(r.tobytes() for r in seen.reshape(1350, -1).astype(np.uint8)) == sorted(
      r.tobytes() for r in kept.reshape(1350, -1))
  batches = list(ds.validation().eval_batches(64))
  val = np.concatenate([b['x'][b['mask']] for b in batches])
  assert len(val) == 150 and rows(val) == rows(whole._train.images[validation.held_out(1500, 150)])
  assert ds.eval_size == whole.eval_size == 297   # the test split is untouched


def test_no_validation_leaves_the_training_stream_unchanged():
  """validation = 0 (the default): the same training batches, no validation split, no
  fingerprint (an existing run resumes as before)."""
  a, b = _digits(seed=3), _digits(seed=3, validation=0)
  for s in (0, 5, 30):
    np.testing.assert_array_equal(a.train_batch(s, 64, 0, 1)['x'], b.train_batch(s, 64, 0, 1)['x'])
  assert b.validation() is None and b.fingerprint is None


def test_the_fingerprint_names_the_split():
  """A split's fingerprint names its size and held-out indices (another split, another
  fingerprint; the same split under another seed, the same)."""
  a = _digits(validation=150).fingerprint
  assert a == _digits(seed=9, validation=150).fingerprint
  assert a['validation'] == 150 and a['validation_of'] == 1500
  assert a != _digits(validation=151).fingerprint
  assert _digits(validation=150, max_examples=1000).fingerprint['validation_of'] == 1000


def test_tfds_holds_out_lazily_and_matches_memory():
  """A tfds set (mock data) split under the grain pipeline (a lazy view) gives the memory
  pipeline's training and validation batches."""
  import tensorflow_datasets as tfds

  c = dict(name='tfds:cifar10', scale='symmetric', dequantize=True, validation=6)
  with tfds.testing.mock_data(num_examples=24):
    lazy = data_lib.build(data_cfg(**c), seed=0)
    memory = data_lib.build(data_cfg(pipeline='memory', **c), seed=0)
    assert isinstance(lazy._train, validation.Subset) and isinstance(memory._train, loaders.Images)
    assert lazy.train_size == memory.train_size == 18
    for s in (0, 1, 3):
      np.testing.assert_array_equal(lazy.train_batch(s, 6)['x'], memory.train_batch(s, 6)['x'])
    a, b = next(lazy.validation().eval_batches(8)), next(memory.validation().eval_batches(8))
    np.testing.assert_array_equal(a['x'], b['x'])
    assert a['mask'].sum() == 6


@pytest.mark.parametrize('kw, match', [
    (dict(name='toy2d:moons', validation=10), 'no finite training split'),
    (dict(name='digits', scale='levels', validation=1500), 'from 0 .none. to 1499'),
    (dict(name='digits', scale='levels', validation=300, max_examples=300), 'holds 300'),
])
def test_bad_validation_values_are_refused(kw, match):
  with pytest.raises(ValueError, match=match):
    data_lib.build(data_cfg(**kw), 0)
