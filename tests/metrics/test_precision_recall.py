"""jaxgen.metrics.precision_recall: 1 / 1 for identical sets, 0 / 0 for far-apart sets, a 1-D
case worked by hand, and block-wise computation equal to brute force whatever the chunk size."""

import numpy as np
import pytest

from jaxgen.metrics import precision_recall as pr


def _line(xs):
  """Points on the x-axis of R^2."""
  xs = np.asarray(xs, np.float32)
  return np.stack([xs, np.zeros_like(xs)], axis=1)


def _brute_force(real, fake, k):
  """Independent O(n^2)-memory reference: full distance matrices, np.sort."""
  def radii(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sort(d, axis=1)[:, k]          # column 0 is the point itself
  rr, rf = radii(real), radii(fake)
  d = np.linalg.norm(fake[:, None] - real[None], axis=-1)   # [m, n]
  return float(np.mean(np.any(d <= rr[None], 1))), float(np.mean(np.any(d <= rf[:, None], 0)))


def test_identical_sets_score_one_one():
  x = np.random.default_rng(0).normal(size=(50, 5))
  assert pr.precision_recall(x, x, k=3) == (1.0, 1.0)


def test_far_apart_sets_score_zero_zero():
  rng = np.random.default_rng(1)
  real, fake = rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) + 100.0
  assert pr.precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_hand_worked_line_case():
  """Real: 0, 1, ..., 9. k = 3 radii (4th smallest distance, self included): 3 at the ends
  (0, 9), 2 inside. Fake: 5.5, ..., 14.5 (same radii, shifted) plus a far cluster
  100, 100.5, 101, 101.5 (radii 1.5 among themselves).
  Precision: fake 5.5..11.5 are within 3 of real 9 or within 2 of an inner real point; 12.5
  (3.5 from 9, 4.5 from 8) and beyond, and the cluster, are not: 7 / 14 = 0.5.
  Recall: real 3..9 are within 3 of fake 5.5 or 0.5 from a fake point; real 2 is 3.5 from 5.5
  and 4.5 from 6.5 (radius 2): out, and so are 1, 0: 7 / 10 = 0.7."""
  real = _line(np.arange(10))
  fake = _line(np.concatenate([np.arange(10) + 5.5, [100, 100.5, 101, 101.5]]))
  np.testing.assert_allclose(pr.knn_radii(real, 3), [3, 2, 2, 2, 2, 2, 2, 2, 2, 3], rtol=1e-6)
  assert pr.precision_recall(real, fake, k=3) == (0.5, 0.7)
  assert _brute_force(real, fake, 3) == (0.5, 0.7)


@pytest.mark.parametrize('chunk', [7, 16, 8192])
def test_blockwise_equals_brute_force(chunk):
  """Overlapping Gaussians of unequal sizes (neither a multiple of the chunk): the blocked
  computation gives the brute-force radii and (precision, recall) for any chunk size."""
  rng = np.random.default_rng(2)
  real = rng.normal(size=(61, 4)).astype(np.float32)
  fake = (0.7 * np.random.default_rng(3).normal(size=(45, 4)) + 1.0).astype(np.float32)
  want = _brute_force(real, fake, 3)
  assert 0.05 < want[0] < 0.95 and 0.05 < want[1] < 0.95
  assert pr.precision_recall(real, fake, k=3, chunk=chunk) == want
  d = np.linalg.norm(real[:, None] - real[None], axis=-1)
  np.testing.assert_allclose(pr.knn_radii(real, 3, chunk=chunk), np.sort(d, 1)[:, 3], rtol=1e-5)


def test_errors():
  with pytest.raises(ValueError, match='n > k'):
    pr.knn_radii(np.zeros((3, 2)), k=3)
  with pytest.raises(ValueError, match='one d'):
    pr.precision_recall(np.zeros((5, 2)), np.zeros((5, 3)))
