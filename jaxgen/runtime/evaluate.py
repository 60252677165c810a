"""The evaluation driver: the metrics named in ``config.eval.metrics``, as ``eval/<name>`` floats.

`inputs` builds what evaluators take from a Run once (`Inputs`: pure functions, the evaluation
batches, the reference data, settings; nothing compiled); each metric module of
`jaxgen.runtime.evaluators` builds its evaluator from them (its ``DECLARATION.build``), and a
family's own metric ``m`` (a name of its module's ``METRICS``) runs
``model.extras['metric/' + m]`` (`evaluators.family`). Names are checked by `config.validate`;
here a metric whose declaration needs what the model lacks (a sampler, a ``log_prob``) is one
ConfigError naming config.eval.metrics.

``real_data``: the sample-quality metrics of real data instead of the model's samples, the floor
a model that samples its training distribution would score: each draw is ``eval.num_samples``
distinct training examples (`real_draw`), compared with the same reference as the samples.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import jax
import numpy as np

from jaxgen.runtime import compile_options
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime import parallel
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import trained_dequantizer
from jaxgen.runtime.evaluators import family
from jaxgen.runtime.evaluators import variational_dequantization as vdeq_eval


@dataclasses.dataclass(frozen=True)
class Inputs:
  """What evaluators take from a Run (see each module for what it uses).

  loss_fn: ``(params, batch, rng) -> scalar`` with dropout off; log_prob_fn: ``(params, batch,
  rng) -> [b]`` nats or None; log_prob_stats_fn: ODE likelihoods' ``(params, batch, rng) -> ([b],
  {'nfe': [b]})`` or None; log_prob_options: the likelihood's compiler options;
  negative_elbo_fn, elbo_settings: the variational bound's ``(params, batch, rng) -> [b]`` nats
  and its typed settings, or None (`evaluators.elbo`); variational_log_prob_fn: the variational
  dequantization bound's ``(params, batch, rng) -> [b]`` (the family's joint q, else the q
  ``launch.train_deq`` trained for an opened run: `trained_dequantizer`) or None; correct_fn:
  classifiers' ``(params, batch, rng) -> {name: [b] 0/1}`` or None; sample_fn: ``(params, rng,
  n) -> (x, info)`` on the host; sampling, sampling_options: the run's sampling section and its
  compiler options; batches: ``dequant_draw -> iterator`` of sharded evaluation batches with a
  ``mask``; reference: ``n -> [n, ...]`` evaluation examples (0: all); spec: the run's
  `DataSpec`; discrete: whether ``log_prob`` is a mass; eval_config: the ``eval`` section;
  eval_data_name: the data the evaluation split comes from (a reflow run's chain's root data);
  run_step: the checkpoint step (None: not from a checkpoint); reference_split: what
  ``reference`` holds, 'eval' or 'train' (``eval.reference``: `train_reference`)."""

  loss_fn: Callable
  log_prob_fn: Optional[Callable]
  log_prob_stats_fn: Optional[Callable]
  log_prob_options: Any
  negative_elbo_fn: Optional[Callable]
  elbo_settings: Any
  variational_log_prob_fn: Optional[Callable]
  correct_fn: Optional[Callable]
  sample_fn: Callable
  sampling: Any
  sampling_options: Any
  batches: Callable
  reference: Callable
  mesh: Any
  spec: Any
  discrete: bool
  eval_config: Any
  eval_data_name: str
  run_step: Optional[int]
  reference_split: str = 'eval'


def _training_examples(run, seed: int, n: int, refusal: str) -> np.ndarray:
  """The first ``n`` examples (``batch['x']``, the run's data transforms) of one epoch's
  permutation of the training split, the run's data built with `seed`; ConfigError ``refusal``
  for a run on reflow pairs (its training data are another run's samples, not real data)."""
  from jaxgen import data as data_lib

  if str(run.config.data.name).startswith('pairs:'):
    raise cfg_lib.ConfigError(refusal.format(name=run.config.data.name))
  return np.asarray(data_lib.build(run.config.data, seed).train_batch(0, n, 0, 1)['x'])


def real_draw(run, rng: jax.Array, n: int) -> np.ndarray:
  """``n`` distinct training examples chosen by `rng` (`_training_examples` with a seed drawn
  from `rng`: one epoch's permutation, so no example twice); ConfigError when the training split
  holds fewer than n."""
  size = run.data.train_size
  if size is not None and n > size:
    raise cfg_lib.ConfigError(f'config.eval.num_samples={n}: the real-data floor draws distinct '
                              f'training examples and the training split holds {size}: evaluate '
                              f'with eval.num_samples <= {size}')
  return _training_examples(
      run, int(jax.random.randint(rng, (), 0, 2**31 - 1)), n,
      "--real-data: the run {name!r} trains on pairs of another run's samples, not real data: "
      "measure the floor on the chain's first run")


TRAIN_REFERENCE = 10_000   # the most training examples ``eval.reference='train'`` compares with


def train_reference(run, n: int = 0) -> np.ndarray:
  """The first ``n`` (0: ``min(training split, TRAIN_REFERENCE)``) examples of one fixed
  permutation of the training split (`_training_examples` with seed 0): the reference of
  ``eval.reference='train'``."""
  size = min(run.data.train_size or TRAIN_REFERENCE, TRAIN_REFERENCE)
  return _training_examples(
      run, 0, min(n or size, size),
      "config.eval.reference=train: the run {name!r} trains on pairs of another run's samples: "
      "compare with 'eval'")


def inputs(run, sampler=None, data=None, real_data: bool = False, metrics=None) -> Inputs:
  """The `Inputs` of `run`; `sampler` is a `samples.sampler` to share (its jit cache), one is
  made otherwise. `data`: the source whose evaluation split is evaluated, whole (the validation
  split, ``run.data.validation()``); default ``run.data``, its first ``eval.num_batches``. With
  `real_data` the "samples" are training examples (`real_draw`, NFE 0). `metrics` (default
  ``eval.metrics``): the metrics to be measured; a q trained by launch.train_deq is restored
  only for ``bpd_vdeq``."""
  config, model, mesh = run.config, run.model, run.mesh
  ec = config.eval
  n_dev = mesh.devices.size
  bs = ec.batch_size - ec.batch_size % n_dev or n_dev
  draw = sampler if sampler is not None else samples_lib.sampler(model, mesh)
  settings = model.sampling_settings(config.sampling) if model.sample is not None else None
  source, num_batches = (run.data, ec.num_batches) if data is None else (data, 0)

  def batches(dequant_draw=0):
    for b in source.eval_batches(bs, num_batches, dequant_draw):
      yield parallel.shard_batch(b, mesh)

  return Inputs(
      loss_fn=lambda p, b, r: model.loss(p, b, r, train=False)[0],
      log_prob_fn=model.log_prob,
      log_prob_stats_fn=model.extras.get('log_prob_stats'),
      # ODE likelihoods (families with a velocity) compile with the ODE-solve options.
      log_prob_options=compile_options.ode_solve() if model.velocity is not None else None,
      negative_elbo_fn=model.extras.get('negative_elbo'),
      elbo_settings=model.extras.get('elbo_settings'),
      variational_log_prob_fn=model.extras.get('variational_log_prob') or (
          run.workdir and vdeq_eval.NAME in tuple(ec.metrics if metrics is None else metrics)
          and trained_dequantizer.variational_log_prob(
              run, run.workdir, source.spec, bool(ec.dequantize))) or None,
      correct_fn=model.extras.get('correct'),
      sample_fn=((lambda p, r, n: (real_draw(run, r, n), {'nfe': np.float32(0)})) if real_data
                 else lambda p, r, n: draw(p, r, n, settings)),
      sampling=settings,
      sampling_options=compile_options.sampling_options(model, settings),
      batches=batches, mesh=mesh, spec=source.spec,
      reference=((lambda n: train_reference(run, n)) if ec.get('reference', 'eval') == 'train'
                 else source.eval_array),
      reference_split=str(ec.get('reference', 'eval')),
      discrete=model.discrete, eval_config=ec,
      eval_data_name=source.eval_source()['data']['name'],
      run_step=run.step)


class Evaluator:
  """The metrics of ``run.config.eval.metrics`` (or `metrics`), each evaluator built (and
  compiled) once, on ``run.data``'s evaluation split (or `data`'s, whole: `inputs`);
  ``Evaluator(run)(params, rng) -> dict of floats``."""

  def __init__(self, run, sampler=None, metrics=None, data=None, real_data: bool = False):
    names = tuple(run.config.eval.metrics if metrics is None else metrics)
    model = run.model
    chosen = evaluators.declaring(names)
    known = {m for _, ms in chosen for m in ms}
    own = [m for m in names if m not in known]
    if real_data:
      unfit = [m for d, ms in chosen if not d.samples for m in ms] + own
      if unfit:
        raise cfg_lib.ConfigError(f'config.eval.metrics: {unfit} are not measured on samples; '
                                  'the real-data floor evaluates sample metrics only (fd, is, '
                                  'kid, ...): leave them out')
    lacking = [m for m in own if 'metric/' + m not in model.extras]
    if lacking:
      raise cfg_lib.ConfigError(f'config.eval.metrics: {lacking} are no metrics of family '
                                f'{run.config.model.family!r}: leave them out')
    family_name = run.config.model.family
    if model.sample is None and not real_data:
      drawn = [m for d, ms in chosen if d.samples for m in ms] + own
      if drawn:
        raise cfg_lib.ConfigError(
            f'config.eval.metrics: {drawn} need samples, and family {family_name!r} has no '
            'sampler: leave them out of config.eval.metrics')
    if model.log_prob is None:
      lik = [m for d, ms in chosen if d.likelihood for m in ms]
      if lik:
        raise cfg_lib.ConfigError(
            f'config.eval.metrics: {lik} need a likelihood, and family {family_name!r} has no '
            'log_prob: leave them out of config.eval.metrics')
    available = inputs(run, sampler, data, real_data, names)
    self.sampling = available.sampling  # the typed sampling settings (None without a sampler)
    self._evaluators = [d.build(ms, available) for d, ms in chosen]
    for i, m in enumerate(own):
      self._evaluators.append(family.Evaluator(
          model.extras['metric/' + m], i, int(available.eval_config.num_samples),
          available.sampling, available.sampling_options))

  def measured(self) -> dict:
    """metric -> ``{'samples': n, 'reference': what it is compared with}`` for the sample-quality
    metrics (from the evaluators that draw samples)."""
    out = {}
    for evaluator in self._evaluators:
      if hasattr(evaluator, 'measured'):
        out.update(evaluator.measured())
    return out

  def examples(self) -> dict:
    """metric -> per-example values of the last call (likelihoods), as lists."""
    out = {}
    for evaluator in self._evaluators:
      if hasattr(evaluator, 'examples'):
        out.update({k: [round(float(v), 6) for v in vs] for k, vs in evaluator.examples().items()})
    return out

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


def key_rng(run, key: int) -> jax.Array:
  """The evaluation key number `key` of `run` (``eval.rng_keys``): ``run.eval_rng()`` for 0,
  else ``fold_in(run.eval_rng(), key)``; every key draws other samples and dequantization noise
  from the same trained parameters."""
  rng = run.eval_rng()
  return rng if key == 0 else jax.random.fold_in(rng, key)


def evaluate_with_provenance(run, real_data: bool = False, sampler=None) -> tuple[dict, dict]:
  """``(metrics, provenance)`` of `run` with its own parameters, once per key of
  ``eval.rng_keys`` (`key_rng`; the evaluators compiled once). metrics: the first key's
  ``eval/<name>`` floats, and ``repeats``: one ``{'key': k, 'eval/<name>': ..., 'examples':
  {metric: [per-example values]}}`` per key (``examples`` where a likelihood ran). provenance:
  the seed, checkpoint step, keys, family, parameter count, the sampler's name and NFE (when a
  sample-based metric ran), the sampling and likelihood sections, what each evaluator measures
  with (`Evaluator.identities`) and each sample-quality metric's sample count and reference
  (``measured``): what a table row records beside its numbers. `real_data`: training examples
  in place of samples (`real_draw`; provenance ``real_data``: what they are). `sampler`: the
  draw to sample with (`Evaluator`; a guided one, `jaxgen.tools.guide_run.draw_for`)."""
  evaluator = Evaluator(run, sampler, real_data=real_data)
  config = run.config
  keys = tuple(int(k) for k in config.eval.get('rng_keys', (0,)))
  repeats = []
  for key in keys:
    out = evaluator(run.params, key_rng(run, key))
    examples = evaluator.examples()
    repeats.append({'key': key, **out, **({'examples': examples} if examples else {})})
  results = {k: v for k, v in repeats[0].items() if k not in ('key', 'examples')}
  results['repeats'] = repeats
  prov = dict(seed=int(config.seed), step=run.step, rng_keys=list(keys),
              family=config.model.family, use_ema=bool(config.eval.use_ema),
              num_params=int(sum(np.size(x) for x in jax.tree_util.tree_leaves(run.params))),
              metrics=list(config.eval.metrics), evaluators=evaluator.identities(),
              measured=evaluator.measured())
  if real_data:
    prov['real_data'] = (f'{config.data.name} training examples, '
                         f'{config.eval.num_samples} distinct per key')
  elif 'eval/nfe' in results:
    prov['sampler'] = run.model.sampling_label(evaluator.sampling)
    prov['nfe'] = results['eval/nfe']
    prov['sampling'] = config.sampling.to_dict()
  if any(k in results for k in ('eval/likelihood_nfe', 'eval/bpd', 'eval/elbo_bpd',
                                 'eval/bpd_vdeq')):
    prov['likelihood'] = config.likelihood.to_dict() if 'likelihood' in config else {}
  return results, prov
