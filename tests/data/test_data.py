"""Data: sources, transforms, determinism in (seed, step), and per-host sharding."""

import os

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import loaders, toy2d, transforms
from tests.conftest import data_cfg
from tests.distributions import gmm


@pytest.mark.parametrize('name', sorted(toy2d.SAMPLERS))
def test_toy2d_shapes_and_determinism(name):
  ds = data_lib.build(data_cfg(name='toy2d:' + name, eval_size=100), seed=3)
  a, b = ds.train_batch(5, 64, 0, 1)['x'], ds.train_batch(5, 64, 0, 1)['x']
  assert a.shape == (64, 2) and a.dtype == np.float32
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, ds.train_batch(6, 64, 0, 1)['x'])
  assert np.all(np.abs(a) < 4.5)


def test_checkerboard_occupies_only_even_squares():
  x = toy2d.sample('checkerboard', np.random.default_rng(0), 5000) / 2.0
  parity = (np.floor(x[:, 0]) + np.floor(x[:, 1])) % 2
  assert np.all(parity == 0)


def test_gmm_source_matches_its_closed_form_density():
  """Sample mean and covariance of toy2d:gmm equal the mixture's, within 5 standard errors."""
  x = toy2d.sample('gmm', np.random.default_rng(0), 200000).astype(np.float64)
  w, mu, cov = toy2d.GMM_WEIGHTS, toy2d.GMM_MEANS, toy2d.GMM_COVS
  mean = w @ mu
  second = np.einsum('k,kij->ij', w, cov + np.einsum('ki,kj->kij', mu, mu))
  np.testing.assert_allclose(x.mean(0), mean, atol=5 * np.sqrt(np.diag(second - np.outer(mean, mean)).max() / len(x)))
  np.testing.assert_allclose(np.cov(x.T), second - np.outer(mean, mean), atol=0.05)
  dens = gmm.GaussianMixture.make(w, mu, cov)
  g = np.linspace(-8, 8, 321)
  xx, yy = np.meshgrid(g, g)
  pts = np.stack([xx.ravel(), yy.ravel()], -1)
  mass = np.exp(np.asarray(dens.log_prob(pts))).sum() * (g[1] - g[0]) ** 2
  assert abs(mass - 1) < 1e-3


def test_digits_spec_and_values():
  ds = data_lib.build(data_cfg(name='digits', scale='unit', dequantize=True), seed=0)
  assert ds.spec.shape == (8, 8, 1) and ds.spec.num_levels == 17 and ds.spec.dequantized
  assert ds.train_size == 1500 and ds.eval_size == 297
  x = ds.train_batch(0, 100, 0, 1)['x']
  assert x.min() >= 0 and x.max() < 1


def test_dequantization_bins_are_exactly_one_over_k():
  """(x + u)/K lands in bin [x/K, (x+1)/K): flooring K*y recovers the integer exactly."""
  c = data_cfg(name='digits', scale='unit', dequantize=True)
  raw = loaders.digits('train').images[:200]
  y = transforms.apply(raw, np.random.default_rng(0), c, 17, train=False)
  np.testing.assert_array_equal(np.floor(y * 17).astype(np.uint8), raw)
  sym = transforms.apply(raw, np.random.default_rng(0), data_cfg(name='digits', scale='symmetric', dequantize=True), 17, False)
  np.testing.assert_allclose(sym, 2 * y - 1, atol=1e-6)


def test_scale_without_dequantization_hits_the_end_points():
  raw = np.array([[[[0]], [[16]]]], np.uint8)
  assert transforms.apply(raw, np.random.default_rng(0), data_cfg(scale='unit'), 17, False).tolist() == [[[[0.0]], [[1.0]]]]
  assert transforms.apply(raw, np.random.default_rng(0), data_cfg(scale='symmetric'), 17, False).tolist() == [[[[-1.0]], [[1.0]]]]
  assert transforms.apply(raw, np.random.default_rng(0), data_cfg(scale='levels'), 17, False).tolist() == [[[[0.0]], [[16.0]]]]


def test_binarization_fixed_and_resampled():
  raw = np.full((2000, 1, 1, 1), 64, np.uint8)   # intensity 64/255 ~ 0.25
  fixed = transforms.apply(raw, np.random.default_rng(0), data_cfg(binarize='fixed', scale='levels'), 256, True)
  assert np.all(fixed == 0)
  c = data_cfg(binarize='resample', scale='levels')
  a = transforms.apply(raw, np.random.default_rng(1), c, 256, True)
  b = transforms.apply(raw, np.random.default_rng(2), c, 256, True)
  assert set(np.unique(a)) <= {0.0, 1.0}
  assert abs(a.mean() - 64 / 255) < 4 * np.sqrt(0.25 * 0.75 / 2000)   # Bernoulli(p) mean, 4 s.e.
  assert not np.array_equal(a, b)                                       # a new draw each visit
  ds = data_lib.build(data_cfg(name='digits', binarize='resample', scale='levels'), seed=0)
  assert ds.spec.num_levels == 2 and (ds.spec.low, ds.spec.high) == (0.0, 1.0)


def test_flip_mirrors_whole_images():
  raw = loaders.digits('train').images[:64]
  y = transforms.apply(raw, np.random.default_rng(0), data_cfg(scale='levels', flip=True), 17, True)
  same = np.all(y == raw, axis=(1, 2, 3))
  mirrored = np.all(y == raw[:, :, ::-1], axis=(1, 2, 3))
  assert np.all(same | mirrored) and same.any() and mirrored.any()


def test_batches_are_a_function_of_seed_and_step_and_cover_each_epoch():
  ds = data_lib.build(data_cfg(name='digits', scale='levels'), seed=1)
  again = data_lib.build(data_cfg(name='digits', scale='levels'), seed=1)
  np.testing.assert_array_equal(ds.train_batch(123, 50, 0, 1)['x'], again.train_batch(123, 50, 0, 1)['x'])
  labels = np.concatenate([ds.train_batch(s, 100, 0, 1)['label'] for s in range(15)])  # one epoch
  np.testing.assert_array_equal(np.sort(labels), np.sort(loaders.digits('train').labels))


def test_each_host_reads_its_contiguous_share_of_the_global_batch():
  ds = data_lib.build(data_cfg(name='digits', scale='unit', dequantize=True, flip=True), seed=2)
  whole = ds.train_batch(7, 64, 0, 1)
  parts = [ds.train_batch(7, 64, i, 4) for i in range(4)]
  for k in whole:
    np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k])
  with pytest.raises(ValueError, match='not divisible by 3 hosts'):
    ds.train_batch(0, 64, 0, 3)


def test_eval_batches_cover_the_split_once_with_a_mask():
  ds = data_lib.build(data_cfg(name='digits', scale='levels'), seed=0)
  batches = list(ds.eval_batches(128))
  mask = np.concatenate([b['mask'] for b in batches])
  assert mask.sum() == 297 and len(mask) == 384
  labels = np.concatenate([b['label'] for b in batches])[mask]
  np.testing.assert_array_equal(labels, loaders.digits('test').labels)


FASHION = loaders.FASHION_MNIST_DIR


@pytest.mark.skipif(not os.path.isdir(FASHION), reason='apt-get install dataset-fashion-mnist (.ci/run does)')
def test_fashion_mnist_sizes_and_levels():
  train, test = loaders.fashion_mnist('train'), loaders.fashion_mnist('test')
  assert train.images.shape == (60000, 28, 28, 1) and test.images.shape == (10000, 28, 28, 1)
  assert train.images.dtype == np.uint8 and train.images.max() == 255
  assert set(np.unique(train.labels)) == set(range(10))


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path):
  with pytest.raises(loaders.DataNotFoundError, match='apt-get install -y dataset-fashion-mnist'):
    loaders.fashion_mnist('train', str(tmp_path))


def test_fashion_mnist_truncated_file_is_reported(tmp_path):
  import gzip

  header = (2051).to_bytes(4, 'big') + (60000).to_bytes(4, 'big') + (28).to_bytes(4, 'big') * 2
  with gzip.open(tmp_path / 'train-images-idx3-ubyte.gz', 'wb') as f:
    f.write(header + bytes(100))
  with gzip.open(tmp_path / 'train-labels-idx1-ubyte.gz', 'wb') as f:
    f.write((2049).to_bytes(4, 'big') + (60000).to_bytes(4, 'big') + bytes(60000))
  with pytest.raises(ValueError, match='damaged'):
    loaders.fashion_mnist('train', str(tmp_path))


def test_tfds_source_with_mock_data():
  import tensorflow_datasets as tfds

  with tfds.testing.mock_data(num_examples=12):
    ds = data_lib.build(data_cfg(name='tfds:cifar10', scale='symmetric', dequantize=True, flip=True), seed=0)
  assert ds.spec.shape == (32, 32, 3) and ds.spec.num_levels == 256 and ds.spec.num_classes == 10
  b = ds.train_batch(0, 8, 0, 1)
  assert b['x'].shape == (8, 32, 32, 3) and b['x'].min() >= -1 and b['x'].max() <= 1
  assert b['label'].shape == (8,)


def test_unknown_source_and_toy_name():
  with pytest.raises(ValueError, match="not a data source"):
    data_lib.build(data_cfg(name='mnist', scale='unit'), seed=0)
  with pytest.raises(ValueError, match='toy2d:moons'):
    data_lib.build(data_cfg(name='toy2d:spiral'), seed=0)
  with pytest.raises(ValueError, match="scale='none' is only for continuous"):
    data_lib.build(data_cfg(name='digits'), seed=0)
