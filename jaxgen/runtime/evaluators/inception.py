"""``fid`` and ``inception_score``: the standard FID Inception-v3 (`jaxgen.nets.inception`, the
network and weights of pytorch-fid, converted from the file the user supplies with
``eval.inception_weights=PATH.npz``; tools/convert_inception_weights.py).

* Samples: ``eval.num_samples`` drawn in chunks of ``eval.batch_size`` (rounded down to a multiple
  of the device count), chunk i with key ``fold_in(fold_in(rng, 4), i)``; each chunk is mapped
  from the run's data range ``[spec.low, spec.high]`` to [0, 1] (clipped), grey images repeated
  to RGB, resized to 299 x 299 as pytorch-fid does (bilinear, align_corners=False, no
  antialiasing: another resize changes FID) and passed through the network; only the features
  are kept, accumulated in float64 (`jaxgen.metrics.frechet.GaussianStats`): no more than one
  chunk of images is ever in memory, so 50k samples stream.
  With ``eval.samples_dir`` (a finished folder of ``python -m launch.sample --num N``, resumable
  and SHA-256 checked: `jaxgen.tools.chunked`) the first ``eval.num_samples`` samples are read
  from it chunk by chunk instead (its checkpoint step must be the run's).
* Reference: ``eval.fid_stats`` (an .npz of ``mu``, ``sigma`` written by ``python -m
  launch.fid_stats``; the papers' CIFAR-10 FID uses the 50k training images), or with '' the
  run's own evaluation split, streamed the same way (computed once per evaluator).
* ``eval/fid``: the Frechet distance of the pool3 (2048-d) Gaussians ('sqrtm', pytorch-fid's
  formula); ``eval/inception_score`` (and ``_std``): the 1008-way logits without the fc bias over
  10 splits (fewer when n < 10); ``eval/nfe``: the sampler's NFE.
Without a readable weights file: one ConfigError naming the key, the download and the converter
(`jaxgen.runtime.evaluators.check_inception_weights`).
"""

from __future__ import annotations

import os
import zipfile

import jax
import numpy as np

from jaxgen.metrics import frechet
from jaxgen.metrics import inception_score as is_lib
from jaxgen.nets import inception as inception_net
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.store import shards

DECLARATION = evaluators.Declaration(
    names=('fid', 'inception_score'), samples=True, samples_folder=True, inception_weights=True,
    build=lambda names, i: Evaluator(names, i.sample_fn, i.reference, i.spec,
                                     int(i.eval_config.num_samples), i.mesh, i.eval_config,
                                     i.run_step))
SAMPLES_FOLDER = ('samples folder', 'python -m launch.sample --workdir RUN --num N')
FEATURE_BATCH = 50   # images per Inception call (299 x 299 x 3 floats: ~54 MB per 50)


def to_unit(x, low: float, high: float) -> np.ndarray:
  """Images of the data range ``[low, high]`` as [0, 1] RGB (grey repeated), clipped."""
  x = np.clip((np.asarray(x, np.float32) - low) / (high - low), 0.0, 1.0)
  return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


class Features:
  """The Inception network of a weights file as a streaming map: ``update(images)`` accumulates
  the pool3 statistics (and the logits for IS) of images in [0, 1]."""

  def __init__(self, weights_path: str, key: str = 'config.eval.inception_weights'):
    """`key`: the config key or flag that gave `weights_path` (named in errors)."""
    evaluators.check_inception_weights(weights_path, key)
    try:
      variables = inception_net.load_weights(weights_path)
    except (ValueError, KeyError) as e:   # another .npz: the arrays are not the network's
      raise cfg_lib.ConfigError(f'{key}: {e} ({evaluators.INCEPTION_HOW})') from None
    self.sha256 = shards.file_sha256(weights_path)
    self._fn = inception_net.feature_fn(variables)

  def __call__(self, images) -> tuple:
    """(pool3 [n, 2048], unbiased logits [n, 1008]) of images [n, H, W, 3] in [0, 1], computed in
    batches of FEATURE_BATCH (the last padded: one compiled shape)."""
    images = np.asarray(images, np.float32)
    feats, logits = [], []
    for start in range(0, len(images), FEATURE_BATCH):
      part = images[start:start + FEATURE_BATCH]
      n = len(part)
      if n < FEATURE_BATCH:
        part = np.concatenate([part, np.zeros((FEATURE_BATCH - n,) + part.shape[1:], part.dtype)])
      out = self._fn(part)
      feats.append(np.asarray(out['pool3'])[:n])
      logits.append(np.asarray(out['logits_unbiased'])[:n])
    return np.concatenate(feats), np.concatenate(logits)


def reference_stats(features: Features, images_in_unit) -> frechet.GaussianStats:
  """Streaming pool3 statistics of an iterable of [0, 1] image chunks."""
  stats = None
  for chunk in images_in_unit:
    f = features(chunk)[0]
    stats = (frechet.gaussian_stats(f.shape[1]) if stats is None else stats).update(f)
  return stats


def dataset_stats(config, split: str, weights_path: str, num: int = 0, log=print,
                  weights_key: str = 'config.eval.inception_weights') -> tuple:
  """``(GaussianStats, meta)``: pool3 statistics of the images of `config`'s data split `split`
  ('' = the training split), the first `num` (0: all), on their grid (no flips, no
  dequantization), streamed in batches of ``eval.batch_size``; meta names the data, split, count
  and the weights' SHA-256 (what `launch.fid_stats` writes); `weights_key` names the weights'
  flag in errors."""
  import time

  from jaxgen import data as data_lib

  features = Features(weights_path, weights_key)
  config.data.eval_split = split or config.data.train_split
  config.data.max_examples = max(0, int(num))
  config.data.dequantize, config.data.flip = False, False
  data = data_lib.build(config.data, config.seed)
  spec, stats, t0 = data.spec, None, time.perf_counter()
  for batch in data.eval_batches(int(config.eval.batch_size), 0, 0):
    mask = np.asarray(batch['mask']).astype(bool)
    f = features(to_unit(np.asarray(batch['x'])[mask], spec.low, spec.high))[0]
    stats = (frechet.gaussian_stats(f.shape[1]) if stats is None else stats).update(f)
    log(f'fid_stats: {stats.count} images ({stats.count / (time.perf_counter() - t0):.1f}/s)')
  meta = dict(data=config.data.name, split=config.data.eval_split, count=stats.count,
              inception_sha256=features.sha256, resize='pytorch-fid bilinear to 299x299')
  return stats, meta


def save_stats(path: str, stats: frechet.GaussianStats, meta: dict) -> None:
  """Writes ``mu``, ``sigma``, ``count`` and ``meta`` (JSON text) to the .npz `path` (atomic)."""
  import io
  import json

  from jaxgen.store import paths

  mu, sigma = stats.finalize()
  buf = io.BytesIO()
  np.savez(buf, mu=mu, sigma=sigma, count=np.int64(stats.count), meta=json.dumps(meta))
  paths.write_atomic(path, buf.getvalue())


def load_stats(path: str) -> tuple:
  """(mu, sigma) of an .npz written by launch.fid_stats; ConfigError naming the file otherwise."""
  if not os.path.isfile(path):
    raise cfg_lib.ConfigError(f'config.eval.fid_stats={path}: no such file; write it with python '
                              '-m launch.fid_stats --config EXPERIMENT --out FILE.npz (or set '
                              "eval.fid_stats='' to use the run's evaluation split)")
  try:
    with np.load(path) as f:
      if 'mu' in f.files and 'sigma' in f.files:
        return np.asarray(f['mu'], np.float64), np.asarray(f['sigma'], np.float64)
      why = 'holds no mu/sigma'
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    why = f'is no readable .npz (cut short? {type(e).__name__}: {e})'
  raise cfg_lib.ConfigError(f'config.eval.fid_stats={path} {why}: write it again with python -m '
                            'launch.fid_stats')


class Evaluator:

  def __init__(self, names, sample_fn, reference, spec, num_samples, mesh, eval_config,
               run_step=None):
    """sample_fn: ``(params, rng, n) -> (x, info)``; reference: ``n -> [n, ...]`` evaluation
    examples (0: all); eval_config: the run's ``eval`` section (inception_weights, fid_stats,
    batch_size)."""
    if num_samples < 2:
      raise cfg_lib.ConfigError(f'config.eval.num_samples={num_samples}: {"/".join(names)} need '
                                'at least 2 samples (the papers use 50000)')
    self._names, self._n, self._sample = tuple(names), int(num_samples), sample_fn
    self._low, self._high = float(spec.low), float(spec.high)
    n_dev = mesh.devices.size
    bs = int(eval_config.batch_size)
    self._chunk = max(n_dev, bs - bs % n_dev)
    self._features = Features(str(eval_config.get('inception_weights', '')))
    self._stats_path = str(eval_config.get('fid_stats', ''))
    self._split_name = ('training split' if eval_config.get('reference', 'eval') == 'train'
                        else 'evaluation split')
    self._samples_dir = str(eval_config.get('samples_dir', ''))
    if self._samples_dir:
      self._check_folder(run_step)
    self._ref = None
    if 'fid' in self._names:
      if self._stats_path:
        self._ref = load_stats(self._stats_path)
      else:
        ref = reference(0)
        self._ref = reference_stats(self._features, (
            to_unit(ref[i:i + self._chunk], self._low, self._high)
            for i in range(0, len(ref), self._chunk))).finalize()

  def _check_folder(self, run_step) -> None:
    try:
      index = shards.read_index(self._samples_dir, *SAMPLES_FOLDER)
    except FileNotFoundError as e:
      raise cfg_lib.ConfigError(f'config.eval.samples_dir: {e}') from None
    plan = index['plan']
    if plan['num'] < self._n:
      raise cfg_lib.ConfigError(
          f'config.eval.samples_dir={self._samples_dir} holds {plan["num"]} samples, fewer than '
          f'eval.num_samples={self._n}: make more (launch.sample --num {self._n}) or lower it')
    if run_step is not None and plan.get('step') not in (None, run_step):
      raise cfg_lib.ConfigError(
          f'config.eval.samples_dir={self._samples_dir} was sampled from step {plan["step"]}, '
          f'this run is at step {run_step}: sample it again (launch.sample --num ... --force)')
    self._folder_nfe = max((float(r.get('nfe') or 0) for r in index['chunks']), default=0.0)
    self._folder_digest = index.get('digest', '')

  def identity(self) -> dict:
    ref = self._stats_path or f"the run's {self._split_name}"
    out = {'inception': f'FID Inception-v3 weights sha256 {self._features.sha256}, reference {ref}'}
    if self._samples_dir:
      out['samples'] = f'{self._samples_dir} (digest {self._folder_digest})'
    return out

  def measured(self) -> dict:
    """metric -> ``{'samples': n, 'reference': ...}`` (fid's: the stats file or the split)."""
    ref = os.path.basename(self._stats_path) if self._stats_path else f'the {self._split_name}'
    return {m: {'samples': self._n, 'reference': ref if m == 'fid' else 'none'}
            for m in self._names}

  def _chunks(self, params, rng):
    """(samples, nfe) chunks: drawn, or read from eval.samples_dir; `num_samples` in all."""
    if self._samples_dir:
      left = self._n
      for x in shards.iterate(self._samples_dir, kind=SAMPLES_FOLDER[0],
                              remake=SAMPLES_FOLDER[1]):
        if left <= 0:
          return
        yield np.asarray(x)[:left], self._folder_nfe
        left -= len(x)
      return
    key = jax.random.fold_in(rng, 4)
    for i, start in enumerate(range(0, self._n, self._chunk)):
      x, info = self._sample(params, jax.random.fold_in(key, i), self._chunk)
      yield np.asarray(x)[:self._n - start], float(info['nfe'])

  def run(self, params, rng) -> dict:
    stats = is_stats = None
    nfe = 0.0
    for x, nfe in self._chunks(params, rng):
      feats, logits = self._features(to_unit(x, self._low, self._high))
      if stats is None:   # pool3: 2048 features, 1008 logits
        stats = frechet.gaussian_stats(feats.shape[1])
        is_stats = is_lib.inception_score_stats(logits.shape[1], self._n, max(1, min(10, self._n)))
      stats = stats.update(feats)
      is_stats = is_stats.update(logits=logits)
    out = {'eval/nfe': nfe}
    if 'fid' in self._names:
      mu, sigma = stats.finalize()
      out['eval/fid'] = frechet.frechet_distance(mu, sigma, *self._ref, method='sqrtm')
    if 'inception_score' in self._names:
      out['eval/inception_score'], out['eval/inception_score_std'] = is_stats.finalize()
    return out
