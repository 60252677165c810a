"""jaxgen.metrics.inception_score: IS = 1 for a constant classifier, = K for confident classes
spread evenly, the reference per-split formula, and streaming = one shot."""

import numpy as np
import pytest

from jaxgen.metrics import inception_score as is_lib


def test_constant_classifier_scores_one():
  """p(y|x) = p(y) for every x: every KL is 0, IS = exp(0) = 1 in each split, std 0."""
  rng = np.random.default_rng(0)
  p = rng.dirichlet(np.ones(7))
  mean, std = is_lib.inception_score(probs=np.tile(p, (100, 1)), num_splits=10)
  np.testing.assert_allclose(mean, 1.0, rtol=1e-12)
  assert std < 1e-12


@pytest.mark.parametrize('k', [2, 10, 1008])
def test_confident_uniform_classes_score_k(k):
  """One-hot predictions, each split holding every class equally often: p(y) is uniform and
  KL(onehot || uniform) = log K, so IS = K. Logits of +-50 give (numerically) one-hot softmaxes."""
  n_splits, per = 2, 2
  labels = np.tile(np.arange(k), n_splits * per)          # each split: per copies of 0..K-1
  onehot = np.eye(k)[labels]
  mean, std = is_lib.inception_score(probs=onehot, num_splits=n_splits)
  np.testing.assert_allclose(mean, k, rtol=1e-12)
  assert std < 1e-9
  mean_l, _ = is_lib.inception_score(logits=100.0 * onehot - 50.0, num_splits=n_splits)
  np.testing.assert_allclose(mean_l, k, rtol=1e-9)


def test_matches_the_reference_formula_on_random_logits():
  """The reference loop (openai/improved-gan): per contiguous part, exp(mean KL(p || mean p))."""
  rng = np.random.default_rng(1)
  logits = 3 * rng.normal(size=(103, 12))
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  scores = []
  for i in range(10):
    part = p[i * 103 // 10:(i + 1) * 103 // 10]
    kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
    scores.append(np.exp(kl.sum(1).mean()))
  mean, std = is_lib.inception_score(logits=logits)
  np.testing.assert_allclose([mean, std], [np.mean(scores), np.std(scores)], rtol=1e-10)


def test_streaming_over_chunks_equals_one_shot():
  """Chunk boundaries that do not align with the split boundaries change nothing."""
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(97, 5))
  stats = is_lib.inception_score_stats(5, 97, num_splits=6)
  for lo, hi in [(0, 13), (13, 13), (13, 50), (50, 97)]:
    stats = stats.update(logits=logits[lo:hi])
  np.testing.assert_allclose(stats.finalize(), is_lib.inception_score(logits=logits, num_splits=6),
                             rtol=1e-12)
  with pytest.raises(ValueError, match='97 samples'):
    stats.update(logits=logits[:1])
  with pytest.raises(ValueError, match='expects 97'):
    is_lib.inception_score_stats(5, 97).update(logits=logits[:10]).finalize()
  with pytest.raises(ValueError, match='exactly one'):
    is_lib.inception_score()
