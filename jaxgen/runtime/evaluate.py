"""The evaluation driver: the metrics named in ``config.eval.metrics``, as ``eval/<name>`` floats.

The driver builds the functions of a Run once (`inputs`: ``loss_fn``, ``log_prob_fn``,
``sample_fn``, the evaluation batches, ...) and hands each metric module of
`jaxgen.runtime.evaluators` the ones its ``Evaluator`` asks for by name. Adding a metric is one
module there and one line in `REGISTRY`.

Metrics (see each module): ``loss``, ``nll`` (nats per example), ``bpd`` (bits/dim; both with
``likelihood_seconds`` and, for ODE likelihoods, ``likelihood_nfe``), ``sliced_wasserstein``
(with the sampler's ``nfe``), ``accuracy`` (classifier families, at their noise levels), ``fd`` /
``is`` / ``kid`` / ``class_accuracy`` (samples in the pinned classifier's features: digits,
fashion_mnist), ``fid`` / ``inception_score`` (the FID Inception-v3 with the weights of
``eval.inception_weights``, streamed over chunks of samples), and any family metric ``m`` that the model declares as
``model.extras['metric/' + m]``.
"""

from __future__ import annotations

import inspect

import jax
import numpy as np

from jaxgen.runtime import compile_options
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime.evaluators import classification
from jaxgen.runtime.evaluators import classifier_features
from jaxgen.runtime.evaluators import family
from jaxgen.runtime.evaluators import inception
from jaxgen.runtime.evaluators import likelihood
from jaxgen.runtime.evaluators import loss
from jaxgen.runtime.evaluators import sample_quality

# Modules with NAMES and an Evaluator.
REGISTRY = (loss, likelihood, sample_quality, classification, classifier_features, inception)
METRICS = tuple(name for module in REGISTRY for name in module.NAMES)


def inputs(run, sampler=None) -> dict:
  """What an evaluator may ask for, built once from `run` (pure functions; nothing compiled).
  `sampler` is a `samples.sampler` to share (its jit cache); one is made otherwise."""
  config, model, mesh = run.config, run.model, run.mesh
  ec = config.eval
  n_dev = mesh.devices.size
  bs = ec.batch_size - ec.batch_size % n_dev or n_dev
  draw = sampler if sampler is not None else samples_lib.sampler(model, mesh)
  settings = model.sampling_settings(config.sampling) if model.sample is not None else None

  def batches(dequant_draw=0):
    for b in run.data.eval_batches(bs, ec.num_batches, dequant_draw):
      yield parallel.shard_batch(b, mesh)

  return dict(
      loss_fn=lambda p, b, r: model.loss(p, b, r, train=False)[0],
      log_prob_fn=model.log_prob,
      correct_fn=model.extras.get('correct'),   # classifiers: per-example hits per noise level
      log_prob_stats_fn=model.extras.get('log_prob_stats'),   # ODE likelihoods: with the NFE
      # ODE likelihoods (families with a velocity) compile with the ODE-solve options.
      log_prob_options=compile_options.ode_solve() if model.velocity is not None else None,
      sample_fn=lambda p, r, n: draw(p, r, n, settings),
      sampling=settings,
      sampling_options=compile_options.sampling_options(model, settings),
      batches=batches, reference=run.data.eval_array, mesh=mesh, spec=run.data.spec,
      discrete=model.discrete, num_samples=ec.num_samples, dequant_draws=ec.dequant_draws,
      dequantize_eval=ec.dequantize, eval_config=ec,
      # the data the evaluation split comes from (a reflow run's pairs: its chain's root data)
      eval_data_name=run.data.eval_source()['data']['name'],
      run_step=run.step if run.state is not None else None)


def _wanted(cls) -> list[str]:
  return [p for p in inspect.signature(cls.__init__).parameters if p != 'self']


def _make(cls, available: dict, **fixed):
  wanted = _wanted(cls)
  return cls(**{p: fixed[p] if p in fixed else available[p] for p in wanted})


class Evaluator:
  """The metrics of ``run.config.eval.metrics``, each evaluator built (and compiled) once;
  ``Evaluator(run)(params, rng) -> dict of floats``. Unknown names are refused here."""

  def __init__(self, run, sampler=None):
    names = tuple(run.config.eval.metrics)
    model = run.model
    own = [m for m in names if m not in METRICS]
    unknown = [m for m in own if 'metric/' + m not in model.extras]
    if unknown:
      extra = [k.split('/', 1)[1] for k in model.extras if k.startswith('metric/')]
      raise cfg_lib.ConfigError(f'config.eval.metrics: unknown {unknown}; available: '
                       f'{", ".join(METRICS + tuple(extra))}')
    if model.sample is None:
      drawn = [m for module in REGISTRY if 'sample_fn' in _wanted(module.Evaluator)
               for m in module.NAMES if m in names] + own
      if drawn:
        raise cfg_lib.ConfigError(
            f'config.eval.metrics: {drawn} need samples, and family {run.config.model.family!r} '
            'has no sampler: leave them out of config.eval.metrics')
    available = inputs(run, sampler)
    self._evaluators = []
    for module in REGISTRY:
      chosen = tuple(m for m in module.NAMES if m in names)
      if chosen:
        self._evaluators.append(_make(module.Evaluator, available, names=chosen))
    for i, m in enumerate(own):
      self._evaluators.append(_make(family.Evaluator, available,
                                    metric_fn=model.extras['metric/' + m], index=i))

  def identities(self) -> dict:
    """What the metrics are measured with (feature networks and their digests, the likelihood's
    quantization), from the evaluators that say."""
    out = {}
    for evaluator in self._evaluators:
      if hasattr(evaluator, 'identity'):
        out.update(evaluator.identity())
    return out

  def __call__(self, params, rng) -> dict:
    results = {}
    for evaluator in self._evaluators:
      results.update(evaluator.run(params, rng))
    return results


def evaluate(run, params=None, rng=None) -> dict:
  """Every metric of ``run.config.eval.metrics`` for `params` (default ``run.params``) with the
  key `rng` (default ``run.eval_rng()``)."""
  params = run.params if params is None else params
  rng = run.eval_rng() if rng is None else rng
  return Evaluator(run)(params, rng)


def evaluate_with_provenance(run) -> tuple[dict, dict]:
  """``(metrics, provenance)`` of `run` with its own parameters and evaluation key; provenance:
  the seed, checkpoint step, family, parameter count, the sampler's name and NFE (when a
  sample-based metric ran), the sampling and likelihood sections and what each evaluator
  measures with (`Evaluator.identities`): what a table row records beside its numbers."""
  evaluator = Evaluator(run)
  results = evaluator(run.params, run.eval_rng())
  config = run.config
  prov = dict(seed=int(config.seed), step=run.step, family=config.model.family,
              use_ema=bool(config.eval.use_ema),
              num_params=int(sum(np.size(x) for x in jax.tree_util.tree_leaves(run.params))),
              metrics=list(config.eval.metrics), evaluators=evaluator.identities())
  if 'eval/nfe' in results:
    prov['sampler'] = run.model.sampling_label(run.model.sampling_settings(config.sampling))
    prov['nfe'] = results['eval/nfe']
    prov['sampling'] = config.sampling.to_dict()
  if 'eval/likelihood_nfe' in results or 'eval/bpd' in results:
    prov['likelihood'] = config.likelihood.to_dict() if 'likelihood' in config else {}
  return results, prov
