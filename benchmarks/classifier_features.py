"""Reference figures of the pinned evaluation classifiers (jaxgen/assets): what FD / IS / KID /
class accuracy read for real data, the floor and ceiling a generative model's numbers sit between.

    python benchmarks/classifier_features.py --data digits           # or fashion_mnist

Prints one JSON line: the asset's SHA-256, size and test accuracy, then the metrics of
`jaxgen.runtime.evaluators.classifier_features` (reference: the whole evaluation split) for
(a) the evaluation split itself (FD 0), (b) as many training examples (the floor a perfect
model reaches with that many samples), (c) the evaluation split with its pixels shuffled (one fixed
permutation), (d) a constant image; and class_accuracy of the labelled evaluation split.

Measured (2026-12-02, 2-core CPU shared with other jobs; digits ~1 minute, fashion_mnist ~6
minutes wall), FD / IS / KID:

  data           examples  test acc  eval vs eval        train vs eval        shuffled pixels      constant
  digits            297    0.9596    0.0 / 9.82 / -0.056  0.318 / 9.86 / -0.030  23.2 / 2.96 / 1.91   55.6 / 1.00 / 6.49
  fashion_mnist   10000    0.8593    0.0 / 6.60 / -0.001  0.005 / 6.61 / -0.000  17.6 / 1.17 / 1.43   30.6 / 1.00 / 2.69

(KID is the unbiased MMD^2, negative around 0 for equal laws; for digits each "subset" is all 297
examples, so its std is 0. IS of real data is below the 10 classes by how unsure the classifier
is: 9.82 for the 96% digits classifier, 6.60 for the 86% Fashion-MNIST one.)
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np

from jaxgen.runtime.evaluators import classifier_asset
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime.evaluators import classifier_features as cf

EXPERIMENTS = {'digits': 'experiments/classifier/digits.py:clean',
               'fashion_mnist': 'experiments/classifier/fashion_mnist.py:clean'}


def figures(data: str) -> dict:
  run = run_lib.Run(cfg_lib.validate(cfg_lib.load(EXPERIMENTS[data])), parallel.make_mesh(1))
  xs, ys = [], []
  for b in run.data.eval_batches(500):
    m = np.asarray(b['mask'], bool)
    xs.append(np.asarray(b['x'])[m])
    ys.append(np.asarray(b['label'])[m])
  x, y = np.concatenate(xs), np.concatenate(ys)
  n = len(x)
  train = np.asarray(run.data.train_batch(0, min(n, run.data.train_size))['x'])
  perm = np.random.default_rng(0).permutation(int(np.prod(x.shape[1:])))
  shuffled = x.reshape(n, -1)[:, perm].reshape(x.shape)
  key = jax.random.key(0)

  def score(name, samples, labels=None):
    names = ('fd', 'is', 'kid') + (('class_accuracy',) if labels is not None else ())
    ev = cf.Evaluator(names, lambda p, r, k: (samples, {'label': labels}), run.data.eval_array,
                      run.data.spec, len(samples))
    return {f'{name}/{k[5:]}': round(v, 5) for k, v in ev.run(None, key).items()}

  entry = classifier_asset.load(data).entry
  out = {k: entry[k] for k in ('file', 'sha256', 'bytes', 'num_params', 'feature_dim',
                               'test_accuracy', 'test_examples')}
  out.update(score('eval_vs_eval', x, y))
  out.update(score(f'train{len(train)}_vs_eval', train))
  out.update(score('shuffled_pixels', shuffled))
  out.update(score('constant', np.zeros_like(x)))
  return out


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--data', choices=sorted(EXPERIMENTS), default='digits')
  print(json.dumps(figures(p.parse_args(argv).data)))


if __name__ == '__main__':
  main()
