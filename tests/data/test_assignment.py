"""The exact assignment (`jaxgen.data.assignment`): minimum squared-Euclidean pairing, the
permutation applied on the side it was solved for, and label-aware pairing within classes."""

import itertools

import numpy as np
import pytest

from jaxgen.data import assignment


def _brute_force(cost, allowed=None):
  """(minimum total cost, its permutation) over all permutations (``allowed(perm)`` only)."""
  n = len(cost)
  perms = np.array([p for p in itertools.permutations(range(n))
                    if allowed is None or allowed(np.array(p))]).reshape(-1, n)
  totals = cost[np.arange(n), perms].sum(1)
  return totals.min(), perms[totals.argmin()]


@pytest.mark.parametrize('n', range(1, 9))
def test_pairing_is_the_brute_force_minimum_over_all_permutations(n):
  r = np.random.default_rng(n)
  x, z = r.normal(size=(n, 3)), r.normal(size=(n, 3))
  perm = assignment.pairing(x, z)
  cost = assignment.squared_distances(x, z)
  best, best_perm = _brute_force(cost)
  np.testing.assert_allclose(((x - z[perm]) ** 2).sum(), best, rtol=1e-12)
  np.testing.assert_array_equal(perm, best_perm)   # continuous points: a unique optimum
  np.testing.assert_allclose(cost, ((x[:, None] - z[None]) ** 2).sum(-1), rtol=1e-10, atol=1e-12)


def test_permutation_pairs_each_data_point_with_the_point_the_cost_chose():
  """z holds the points of x moved by a cycle (a permutation that is not its own inverse) plus a
  small offset: the optimum pairs z[perm][i] with x[i]; applying the permutation to the other
  side (torchcfm's bug) or its inverse would pair far points."""
  r = np.random.default_rng(0)
  x = 10.0 * r.normal(size=(8, 4))
  cycle = np.roll(np.arange(8), 3)                     # z[j] is near x[cycle[j]]
  z = x[cycle] + 0.01 * r.normal(size=(8, 4))
  perm = assignment.pairing(x, z)
  assert not np.array_equal(perm[perm], np.arange(8))  # not an involution: the side matters
  np.testing.assert_allclose(z[perm], x, atol=0.1)
  assert np.abs(x[perm] - z).max() > 1.0                # the wrong side is far off
  inverse = np.argsort(perm)
  assert np.abs(z[inverse] - x).max() > 1.0


def test_label_aware_pairing_never_crosses_classes_and_is_the_minimum_within_them():
  r = np.random.default_rng(1)
  labels = np.array([0, 1, 2, 0, 1, 0, 2, 1])
  x = r.normal(size=(8, 2)) + 6.0 * labels[:, None]    # classes far apart ...
  z = r.normal(size=(8, 2)) + 6.0 * labels[::-1, None]  # ... and the noise slots the other way
  free = assignment.pairing(x, z)
  assert (labels[free] != labels).any()                 # unconstrained OT crosses classes here
  perm = assignment.pairing(x, z, labels)
  np.testing.assert_array_equal(labels[perm], labels)
  best, _ = _brute_force(assignment.squared_distances(x, z),
                         allowed=lambda p: np.array_equal(labels[p], labels))
  np.testing.assert_allclose(((x - z[perm]) ** 2).sum(), best, rtol=1e-12)


def test_sets_of_two_sizes_are_refused():
  with pytest.raises(ValueError, match='two sets of one size, not 3 and 2'):
    assignment.pairing(np.zeros((3, 2)), np.zeros((2, 2)))
