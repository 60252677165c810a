"""Continuous normalizing flows trained by maximum likelihood (FFJORD, Grathwohl et al. 2019),
with the RNODE regularisers (Finlay et al. 2020); the family ``cnf``.

The model is the ODE ``dx/dt = v(t, x)`` of a time-conditioned net (rectified flow's: ``model.net``
'score_mlp' for vectors, 'unet' for images, seeing ``t * time_label_scale``) with **t = 0 noise,
t = 1 data** and the prior N(0, I) at t = 0, so

    log p(x) = log N(x_0; 0, I) + int_1^0 div v(t, x_t) dt        (nats, data after its scaling).

Loss (`jaxgen.ode.rnode`): ``-mean_b log p(x) / D + loss.kinetic * mean_b K + loss.jacobian *
mean_b J``, K and J the per-dimension integrals over [0, 1] of ||v||^2 and ||grad v||_F^2, all in
one augmented solve with the ``loss`` section's solver (``loss.solver``, ``loss.steps`` or
``rtol``/``atol``). ``loss.divergence``: 'hutchinson' (``loss.probes`` probes of law
``loss.probe``, drawn afresh every step from its key) or 'exact' (D jvps: toy data).
``loss.adjoint``: 'recursive_checkpoint' (default: the exact gradient of the computed solve, what
the evaluation then measures; fixed-step or adaptive) or 'backsolve' (FFJORD's continuous adjoint,
O(1) memory, an approximate gradient; dopri5 / tsit5 only). Metrics: ``nll_per_dim``,
``kinetic``, ``jacobian``, ``nfe`` (augmented evaluations of one training solve).

Sampling integrates from N(0, I) at ``sampling.t_start`` to t = 1 (rectified flow's `Sampling`);
``log_prob`` / ``extras['log_prob_stats']`` solve the ``likelihood`` section (exact trace or
Hutchinson probes), as rectified flow's. The same net trained by flow matching:
experiments/cnf/toy2d_flow_matching.py.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import ml_collections

from jaxgen.distributions.normal import standard_normal_logp
from jaxgen.models import conditioning
from jaxgen.models import rectified_flow as rf
from jaxgen.models.base import Model, batch_x, merged_section
from jaxgen.ode import flow
from jaxgen.ode import likelihood as likelihood_lib
from jaxgen.ode import rnode
from jaxgen.ode import solvers
from jaxgen.nets import score_mlp, unet

DIVERGENCES = ('hutchinson', 'exact')
# Opt-in: the variational dequantization bound of a q trained by launch.train_deq after the model
# (jaxgen.runtime.evaluators.variational_dequantization).
METRICS = ('bpd_vdeq',)


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='score_mlp', score_mlp=score_mlp.defaults(), unet=unet.small(),
      time_label_scale=999.0, num_classes=0))   # num_classes: unconditional only (0)
  c.loss = solvers.defaults()    # the training solve, data (t = 1) -> noise (t = 0)
  c.loss.solver = 'rk4'
  c.loss.steps = 8
  c.loss.divergence = 'hutchinson'   # 'hutchinson' | 'exact'
  c.loss.probes = 1
  c.loss.probe = 'rademacher'        # 'rademacher' | 'gaussian'
  c.loss.adjoint = 'recursive_checkpoint'   # | 'backsolve' (adaptive solvers only)
  c.loss.kinetic = 0.0               # RNODE weight of int ||v||^2 / D
  c.loss.jacobian = 0.0              # RNODE weight of int ||grad v||_F^2 / D
  c.sampling = solvers.defaults()
  c.sampling.solver = 'rk4'
  c.sampling.steps = 16
  c.sampling.num_samples = 1024
  c.sampling.t_start = 0.0
  c.likelihood = solvers.defaults()
  c.likelihood.solver = 'dopri5'
  c.likelihood.probes = 0            # 0: exact trace; k: Hutchinson probes
  return c


def choices() -> dict:
  return {
      'model.net': tuple(rf.NETS),
      'loss.divergence': DIVERGENCES,
      'loss.probe': ('rademacher', 'gaussian'),
      'loss.adjoint': rnode.ADJOINTS,
      **solvers.choices('loss'), **solvers.choices('sampling'), **solvers.choices('likelihood'),
      **unet.choices('model.unet'), **score_mlp.choices('model.score_mlp'),
  }


def ranges() -> dict:
  return {
      'model.num_classes': (lambda k: k == 0, '0 (the cnf family is unconditional)'),
      'loss.steps': (lambda n: n >= 1, '>= 1 (intervals of the training solve)'),
      'loss.probes': (lambda k: k >= 1, '>= 1 (Hutchinson probes per example)'),
      'loss.kinetic': (lambda w: 0 <= w < math.inf, 'a finite number >= 0 (RNODE weight)'),
      'loss.jacobian': (lambda w: 0 <= w < math.inf, 'a finite number >= 0 (RNODE weight)'),
      'sampling.steps': (lambda n: n >= 1, '>= 1 (intervals of the fixed-step grid)'),
      'sampling.t_start': (lambda t: 0 <= t < 1, 'in [0, 1) (t = 0 noise, t = 1 data)'),
      'likelihood.steps': (lambda n: n >= 1, '>= 1 (intervals of the fixed-step grid)'),
      'likelihood.probes': (lambda k: k >= 0, '>= 0 (0: exact trace; k: Hutchinson probes)'),
  }


def cross_checks(config) -> list[str]:
  """The continuous adjoint needs an adaptive diffrax solver; the training solve shares its
  steps across the batch (its probes are closed over, not sliced per example)."""
  lc = config.loss
  if lc.per_example:
    return ['config.loss.per_example=True: the training solve takes one step size for the batch '
            '(its Hutchinson probes would not follow their example): set '
            '--config.loss.per_example=false']
  if lc.adjoint == 'backsolve' and solvers.get(lc.solver).fn not in (
      solvers.SOLVERS['dopri5'].fn, solvers.SOLVERS['tsit5'].fn):
    return [f"config.loss.adjoint='backsolve' solves the adjoint ODE with an adaptive solver, "
            f'but config.loss.solver={lc.solver!r}: set --config.loss.solver=dopri5 (or tsit5), '
            "or --config.loss.adjoint=recursive_checkpoint"]
  return []


def check(config) -> None:
  """Builds the training, sampling and likelihood solves (a bad grid names its section)."""
  for section in ('loss', 'sampling', 'likelihood'):
    try:
      spec = solvers.SolverSpec.from_config(config[section])
      if not spec.adaptive:
        spec.time_grid(1.0, 0.0)
    except ValueError as e:
      raise ValueError(f'config.{section}: {e}') from None


def build(config, spec) -> Model:
  mc, lc = config.model, config.loss
  net = rf.NETS[mc.net].build(conditioning.net_config(mc))
  scale = float(mc.time_label_scale)
  train_solve = solvers.SolverSpec.from_config(lc)
  run_likelihood = rf.likelihood_spec(config.likelihood)
  dim = math.prod(spec.shape)

  def velocity(params, t, x):
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    return net.apply({'params': params}, x, t * scale, train=False)

  def init(rng, x):
    return net.init({'params': rng, 'dropout': rng}, x, jnp.zeros(x.shape[:1]))['params']

  def loss(params, batch, rng, train=True):
    del train   # no dropout: the likelihood is deterministic given the probes
    x = batch['x']
    probes = None
    if lc.divergence == 'hutchinson':
      probes = likelihood_lib.make_probes(rng, x, int(lc.probes), lc.probe)
    logp, st = rnode.log_likelihood(lambda t, y: velocity(params, t, y), x, standard_normal_logp,
                                    1.0, 0.0, probes=probes, solver=train_solve,
                                    adjoint=lc.adjoint)
    nll = -jnp.mean(logp) / dim
    kin, jac = jnp.mean(st['kinetic']), jnp.mean(st['jacobian'])
    total = nll + lc.kinetic * kin + lc.jacobian * jac
    return total, {'nll_per_dim': nll, 'kinetic': kin, 'jacobian': jac,
                   'nfe': jnp.asarray(st['nfe'], jnp.float32)}

  def settings_of(value=None) -> rf.Sampling:
    if isinstance(value, rf.Sampling):
      return value
    if isinstance(value, solvers.SolverSpec):
      return rf.Sampling(ode=value)
    return rf.sampling_settings(merged_section(config.sampling, value))

  def sample(params, rng, n, settings):
    s = settings_of(settings)
    _, x, info = flow.sample_coupling(lambda t, y: velocity(params, t, y), rng, n, spec.shape,
                                      s.ode, s.t_start)
    return x, info

  def log_prob_stats(params, batch, rng, likelihood=None):
    lspec, probes = (run_likelihood if likelihood is None else
                     rf.likelihood_spec(likelihood, run_likelihood[1], run_likelihood[0]))
    x = batch_x(batch)
    logp, stats = likelihood_lib.ode_log_likelihood(
        lambda t, z: velocity(params, t, z), x, standard_normal_logp, 1.0, 0.0, rng=rng,
        solver=lspec, **likelihood_lib.estimator(probes))
    return logp, likelihood_lib.per_example_stats(stats, x.shape[0])

  return Model(init=init, loss=loss, sample=sample,
               log_prob=lambda p, b, r, likelihood=None: log_prob_stats(p, b, r, likelihood)[0],
               velocity=velocity, t_span=(0.0, 1.0), extras={'log_prob_stats': log_prob_stats},
               sampling_settings=settings_of, sampling_label=lambda s: settings_of(s).ode.label,
               adaptive_ode=lambda s: settings_of(s).ode.adaptive)
