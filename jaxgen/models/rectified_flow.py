"""Rectified flow (Liu, Gong, Liu, ICLR 2023): 1-RF, k-RF (reflow) and distillation; the family.

The maths is `jaxgen.ode.flow` (**t = 0 noise, t = 1 data**; ``loss.*`` -> its `TimeSampling`);
the network sees ``t * 999``. ``batch['x0']``, where present, is the noise end of a given
coupling: a ``pairs:`` source (k-RF from ``launch.reflow``; ``time_sampling='distill'`` needs it)
or ``data.x0.name`` (a data-to-data flow, sampled with ``extras['transfer']``), paired by
minibatch OT with ``data.x0.coupling='ot'`` (`jaxgen.data.ot_coupling`; x0 still N(0, I) noise
unless ``data.x0.name`` is set).

Sampling: `Sampling` (``model.sampling_settings(section)``; a bare `SolverSpec` means that solve
from t = 0) integrates ``dx/dt = v(t, x)`` from ``t_start`` to 1. ``log_prob(params, batch, rng,
likelihood=None)``: the ODE from the data (t = 1) to the N(0, I) prior with the exact
(``likelihood.probes = 0``) or Hutchinson divergence, nats of ``batch['x']`` after the data
scaling; ``likelihood`` a section, a dict (the rest: the run's) or a `SolverSpec`.

Class conditioning (`jaxgen.models.conditioning`): ``model.num_classes = K > 0`` (index K the null
label), ``loss.p_uncond`` the label dropout; sampling guides the velocity with
`jaxgen.diffusion.classifier_free` (w != 0 doubles ``nfe``). ``velocity`` and the extras other
than ``inpaint`` are the unconditional model.

``extras`` (``settings`` a `Sampling`): 'transfer' ``(params, x0, settings) -> (x1, info)``;
'coupling' ``(params, rng, n, settings) -> (z0, z1, info)`` (the noise and the sample ``sample``
returns for the same key); 'metric/straightness' ``(params, rng, n, settings)``; 'inpaint'
``(params, rng, x, mask, settings)`` (`jaxgen.ode.flow_inpaint`); 'log_prob_stats' ``(params,
batch, rng, likelihood=None) -> (logp [b], {'nfe': [b]})``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import classifier_free
from jaxgen.models import autoguide
from jaxgen.distributions.normal import standard_normal_logp
from jaxgen.models import conditioning
from jaxgen.models.base import Model, batch_x, merged_section, typed_settings
from jaxgen.ode import flow
from jaxgen.ode import flow_inpaint
from jaxgen.ode import grids
from jaxgen.ode import likelihood as likelihood_lib
from jaxgen.ode import solvers
from jaxgen.nets import dit, score_mlp, unet

NETS = {'score_mlp': score_mlp, 'unet': unet, 'dit': dit}
# eval.metrics that start from (or end at) x0 ~ N(0, I): meaningless for a transfer flow.
# The family's own eval.metrics (its extras['metric/<name>']) and the opt-in variational
# dequantization bound of a q trained by launch.train_deq (evaluators.variational_dequantization).
METRICS = ('straightness', 'bpd_vdeq')
NOISE_METRICS = ('sliced_wasserstein', 'straightness', 'bpd', 'nll')


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='score_mlp',             # 'score_mlp' (vectors) | 'unet' | 'dit' (images)
      score_mlp=score_mlp.defaults(),
      unet=unet.small(),
      dit=dit.small(),
      time_label_scale=999.0,      # the network sees t * time_label_scale
  ))
  c.loss = ml_collections.ConfigDict(dict(
      eps=1e-3,                    # t ~ U(eps, 1): the reference's (1 - eps) U + eps
      time_sampling='uniform',     # 'uniform' | 'logit_normal' | 'mode' | 'distill' (needs x0)
      logit_mean=0.0,              # 'logit_normal': t = sigmoid(u), u ~ N(logit_mean, logit_std^2)
      logit_std=1.0,
      mode_scale=1.29,             # 'mode': SD3's s in [-1, 2/(pi-2)] (0: uniform; flow.mode_time)
      shift=1.0,                   # SD3's resolution shift alpha > 0 of training times (1: none)
      distill_steps=1,             # 'distill': t in {0, 1/k, ..., (k-1)/k}, k = distill_steps
  ))
  c.sampling = solvers.defaults()
  c.sampling.solver = 'euler'
  c.sampling.steps = 100
  c.sampling.num_samples = 1024
  c.sampling.t_start = 0.0         # integrate from t_start (noise) to 1 (data)
  c.likelihood = solvers.defaults()  # log_prob: the ODE from the data (t = 1) to the prior (t = 0)
  c.likelihood.solver = 'dopri5'
  c.likelihood.probes = 0          # divergence: 0 = exact trace, k = k Hutchinson probes
  conditioning.add_defaults(c)  # model.num_classes, loss.p_uncond, sampling.label / guidance*
  autoguide.add_defaults(c)     # sampling.guide_run / guide_step / guide_weight
  return c


def choices() -> dict:
  return {
      'model.net': tuple(NETS),
      'loss.time_sampling': flow.KINDS,
      'data.x0.scale': ('unit', 'symmetric', 'levels', 'none'),   # a coupling's x0 source
      'data.x0.binarize': ('none', 'fixed', 'resample'),
      'data.x0.coupling': ('independent', 'ot', 'ot_label'),     # jaxgen.data.ot_coupling
      **solvers.choices('sampling'),
      **solvers.choices('likelihood'),
      **unet.choices('model.unet'),
      **dit.choices('model.dit'),
      **score_mlp.choices('model.score_mlp'),
  }


def ranges() -> dict:
  return {
      **conditioning.ranges(),
      **autoguide.ranges(),
      'loss.eps': (lambda e: 0 <= e < 1, 'in [0, 1) (t ~ U(eps, 1))'),
      'loss.logit_std': (lambda s: 0 < s < math.inf, 'a finite number > 0 (std of logit(t))'),
      'loss.logit_mean': (math.isfinite, 'a finite number (mean of logit(t))'),
      'loss.mode_scale': (lambda s: -1 <= s <= flow.MODE_SCALE_MAX,
                          f'in [-1, 2/(pi-2) = {flow.MODE_SCALE_MAX:.4f}] (beyond, f(u; s) is not '
                          'monotone; 0 is uniform)'),
      'loss.shift': (lambda a: 0 < a < math.inf,
                     'a finite number > 0 (1: no shift; > 1 moves training times to the noise)'),
      'loss.distill_steps': (lambda k: k >= 1, '>= 1 (Euler steps being distilled)'),
      'sampling.steps': (lambda n: n >= 1, '>= 1 (intervals of the fixed-step grid)'),
      'sampling.t_start': (lambda t: 0 <= t < 1, 'in [0, 1) (t = 0 noise, t = 1 data)'),
      'likelihood.steps': (lambda n: n >= 1, '>= 1 (intervals of the fixed-step grid)'),
      'likelihood.probes': (lambda k: k >= 0, '>= 0 (0: exact trace; k: Hutchinson probes)'),
  }


def cross_checks(config) -> list[str]:
  """Rules across sections: couplings, distillation (its x0 from ``pairs:``), conditioning."""
  problems = []
  if config.loss.time_sampling == 'distill' and config.loss.shift != 1.0:
    problems.append(
        f"config.loss.shift={config.loss.shift} does not apply to loss.time_sampling='distill' "
        '(its times are the Euler grid i / k): leave loss.shift=1')
  x0_name = config.data.x0.name if 'x0' in config.data else ''
  if x0_name:
    if config.data.name.startswith('pairs:'):
      problems.append(f'config.data.x0.name={x0_name!r}: data.name={config.data.name!r} already '
                      "holds its x0 (a pairs file); leave data.x0.name=''")
    noise = [m for m in config.eval.metrics if m in NOISE_METRICS]
    if noise:
      problems.append(
          f'config.data.x0.name={x0_name!r} trains a transfer flow (x0 from data), but '
          f'eval.metrics {tuple(noise)} start from N(0, I) (samples, straightness, the prior of '
          "bits/dim): keep eval.metrics=('loss',) and sample with extras['transfer']")
  if config.loss.time_sampling == 'distill':
    if not config.data.name.startswith('pairs:'):
      problems.append(
          f"config.loss.time_sampling='distill' learns a given coupling, but config.data.name="
          f'{config.data.name!r} has no x0: train on data.name=pairs:RUN/reflow/pairs (made by '
          'python -m launch.reflow --workdir RUN --num N)')
    if 'loss' in config.eval.metrics:
      problems.append(
          "config.loss.time_sampling='distill' has no evaluation loss (the evaluation split is "
          "the source run's data, without x0): leave 'loss' out of config.eval.metrics (now "
          f'{tuple(config.eval.metrics)}), e.g. --config.eval.metrics="(\'sliced_wasserstein\',)"')
  return problems + conditioning.config_problems(config) + autoguide.config_problems(config)


def check(config) -> None:
  """Builds the run's training times, sampling and likelihood solves and their fixed-step grids
  as they are built after training: a bad value is a ValueError naming its section."""

  def built(section, make):
    try:
      return make(config[section])
    except ValueError as e:
      raise ValueError(f'config.{section}: {e}') from None

  built('loss', time_sampling)
  s, (lik, _) = built('sampling', sampling_settings), built('likelihood', likelihood_spec)
  for section, spec, t0, t1 in (('sampling', s.ode, s.t_start, 1.0), ('likelihood', lik, 1.0, 0.0)):
    try:
      if not spec.adaptive:
        spec.time_grid(t0, t1)
    except ValueError as e:
      raise ValueError(
          f'config.{section}.grid={spec.grid!r} cannot be used by rectified flow ({e}); choose '
          f'one of: {", ".join(g for g in grids.NAMES if g != "log_snr")}') from None


def time_sampling(lc) -> flow.TimeSampling:
  """The `jaxgen.ode.flow.TimeSampling` of the ``loss`` section."""
  return flow.TimeSampling(
      kind=lc.time_sampling, eps=float(lc.eps), logit_mean=float(lc.logit_mean),
      logit_std=float(lc.logit_std), mode_scale=float(lc.mode_scale), shift=float(lc.shift),
      distill_steps=int(lc.distill_steps))


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings: the ODE solve, its start ``t_start`` (noise end) and the
  class conditioning (ignored by unconditional models); hashable (a jit cache key)."""

  ode: solvers.SolverSpec = solvers.SolverSpec()
  t_start: float = 0.0
  cond: conditioning.Conditioning = conditioning.Conditioning()


def sampling_settings(section) -> Sampling:
  """The `Sampling` of a whole ``sampling`` section (ConfigDict or dict)."""
  return Sampling(ode=solvers.SolverSpec.from_config(section), t_start=float(section['t_start']),
                  cond=conditioning.Conditioning.from_config(section))


def likelihood_spec(likelihood, probes: int = 0, base: solvers.SolverSpec | None = None
                    ) -> tuple[solvers.SolverSpec, int]:
  """``(SolverSpec, probes)`` of a ``likelihood`` section, a dict (keys it lacks: ``base`` and
  ``probes``; without ``base`` the defaults with dopri5) or a bare spec (with ``probes``)."""
  if isinstance(likelihood, solvers.SolverSpec):
    return likelihood, int(probes)
  return (solvers.SolverSpec.from_config(likelihood, base=base, solver='dopri5'),
          int(likelihood['probes'] if 'probes' in likelihood else probes))


def build(config, spec) -> Model:
  mc, lc = config.model, config.loss
  conditioning.check_spec(mc, spec)
  num_classes = int(mc.num_classes)
  conditional = num_classes > 0
  net = NETS[mc.net].build(conditioning.net_config(mc))
  scale = mc.time_label_scale
  times = time_sampling(lc)
  run_likelihood = likelihood_spec(config.likelihood)

  def apply(params, t, x, train=False, rng=None, y=None):
    """The network's velocity at labels ``y`` (conditional models: None is the null label)."""
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    rngs = {'dropout': rng} if train else None
    if conditional:
      y = jnp.broadcast_to(jnp.asarray(num_classes if y is None else y, jnp.int32), x.shape[:1])
    return net.apply({'params': params}, x, t * scale, train=train, rngs=rngs, y=y)

  def init(rng, x):
    y = jnp.zeros(x.shape[:1], jnp.int32) if conditional else None
    return net.init({'params': rng, 'dropout': rng}, x, jnp.zeros(x.shape[:1]), y=y)['params']

  def loss(params, batch, rng, train=True):
    if times.kind == 'distill' and 'x0' not in batch:
      raise ValueError(
          "loss.time_sampling='distill' learns a given coupling: the batch needs 'x0' "
          '(data.name=pairs:RUN/reflow/pairs, made by python -m launch.reflow --workdir RUN); the '
          "evaluation split has no x0, so leave 'loss' out of eval.metrics")
    k_loss, k_drop = jax.random.split(rng)
    y = None
    if conditional:
      k_drop, k_label = jax.random.split(k_drop)
      y = classifier_free.drop_labels(
          k_label, conditioning.batch_labels(batch, num_classes), lc.p_uncond, num_classes)
    v = lambda t, x: apply(params, t, x, train=train, rng=k_drop, y=y)
    return jnp.mean(flow.loss(v, batch['x'], k_loss, times, batch.get('x0'))), {}

  def velocity(params, t, x):
    return apply(params, t, x)

  def settings_of(value=None) -> Sampling:
    """A `Sampling` of the run's section with ``value`` (a dict of some keys) over it; a
    `Sampling` as is; a bare `SolverSpec`: that solve from t = 0, default conditioning."""
    if isinstance(value, (Sampling, solvers.SolverSpec)):
      return typed(value)
    return sampling_settings(merged_section(config.sampling, value))

  def typed(settings) -> Sampling:
    if isinstance(settings, solvers.SolverSpec):
      return Sampling(ode=settings)
    return typed_settings(settings, Sampling, 'rectified_flow')

  def guided(params, n, s: Sampling):
    """``((t, x) -> velocity, labels or None, nfe factor)`` of ``n`` samples with ``s``."""
    if not conditional:
      return (lambda t, x: velocity(params, t, x)), None, 1
    labels = classifier_free.sample_labels(n, s.cond.label, num_classes)
    v = s.cond.guide(lambda t, x: apply(params, t, x, y=labels),
                     lambda t, x: velocity(params, t, x))
    return v, labels, classifier_free.nfe_factor(s.cond.guidance)

  def sample(params, rng, n, settings):
    s = typed(settings)
    v, labels, factor = guided(params, n, s)
    _, x, info = flow.sample_coupling(v, rng, n, spec.shape, s.ode, s.t_start)
    if labels is None:
      return x, info
    return x, {**info, 'nfe': info['nfe'] * factor, 'label': labels}

  def sample_autoguided(params, rng, n, settings, guide, weight):
    """`sample` with the velocity guided by ``guide(t, x, labels)`` (`autoguide`)."""
    s = typed(settings)
    labels = classifier_free.sample_labels(n, s.cond.label, num_classes) if conditional else None
    v = autoguide.guided(lambda t, x: apply(params, t, x, y=labels),
                         lambda t, x: guide(t, x, labels), weight)
    _, x, info = flow.sample_coupling(v, rng, n, spec.shape, s.ode, s.t_start)
    info = {**info, 'nfe': info['nfe'] * autoguide.nfe_factor(weight)}
    return x, (info if labels is None else {**info, 'label': labels})

  def log_prob_stats(params, batch, rng, likelihood=None):
    lspec, probes = (run_likelihood if likelihood is None else
                     likelihood_spec(likelihood, run_likelihood[1], run_likelihood[0]))
    x = batch_x(batch)
    y = conditioning.batch_labels(batch, num_classes)[:x.shape[0]] if conditional else None
    logp, stats = likelihood_lib.ode_log_likelihood(
        lambda t, z: apply(params, t, z, y=y), x, standard_normal_logp, 1.0, 0.0, rng=rng,
        solver=lspec, **likelihood_lib.estimator(probes))
    return logp, likelihood_lib.per_example_stats(stats, x.shape[0])

  def log_prob(params, batch, rng, likelihood=None):
    return log_prob_stats(params, batch, rng, likelihood)[0]

  def coupling(params, rng, n, settings):
    s = typed(settings)
    return flow.sample_coupling(lambda t, x: velocity(params, t, x), rng, n, spec.shape, s.ode,
                                s.t_start)

  def transfer(params, x0, settings):
    s = typed(settings)
    return flow.transfer(lambda t, x: velocity(params, t, x), x0, s.ode, s.t_start)

  def straightness(params, rng, n, settings):
    s = typed(settings)
    return {'straightness': jnp.mean(flow.straightness(
        lambda t, x: velocity(params, t, x), rng, n, spec.shape, s.ode, s.t_start))}

  def inpaint(params, rng, x, mask, settings):
    s = typed(settings)
    if s.ode.adaptive:
      raise ValueError(f'flow inpainting replaces the observed pixels after every solver step, so '
                       f'it needs a fixed-step solver, not the adaptive {s.ode.label}: set '
                       'sampling.solver to euler, heun, midpoint or rk4 (and sampling.steps)')
    return flow_inpaint.inpaint(lambda t, y: velocity(params, t, y), rng, x, mask, s.ode,
                                s.t_start)

  def sampling_label(settings):
    s = typed(settings)
    return f'{s.ode.label}_{s.cond.name()}' if conditional else s.ode.label

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, velocity=velocity,
               t_span=(0.0, 1.0),
               extras={'coupling': coupling, 'metric/straightness': straightness,
                       'transfer': transfer, 'log_prob_stats': log_prob_stats,
                       'inpaint': inpaint, 'sample_autoguided': sample_autoguided,
                       'guide_field': lambda params, t, x, y: apply(params, t, x, y=y)},
               sampling_settings=settings_of, sampling_label=sampling_label,
               adaptive_ode=lambda settings: typed(settings).ode.adaptive)
