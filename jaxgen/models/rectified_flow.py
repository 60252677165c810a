"""Rectified flow (Liu, Gong, Liu, ICLR 2023): 1-RF, k-RF (reflow) and distillation.

Time convention (the reference code's): **t = 0 is noise, t = 1 is data**. With a coupling
(x0, x1) and ``x_t = t x1 + (1 - t) x0`` the network regresses the velocity target ``x1 - x0``
at ``t ~ U(eps, 1)`` (``loss.time_sampling='uniform'``), at ``t = sigmoid(u), u ~ N(m, s^2)``
(``'logit_normal'``, SD3's lognorm(m, s)) or at SD3's mode sampling (``'mode'``, scale
``loss.mode_scale``), optionally shifted towards the noise by SD3's resolution shift
``loss.shift`` (alpha; 1 = none). SD3 (Esser et al. 2024) runs time the other way (t = 1 noise):
`sample_time`, `mode_time` and `shift_time` state each formula in both directions. The network
sees the time label ``t * 999``.

The coupling:
* **1-RF** (batches with ``x`` only): x0 ~ N(0, I) drawn fresh, independent of the data x1.
* **Transfer** (``data.x0.name`` set, `jaxgen.data.coupling`): x0 = ``batch['x0']`` from a
  second data source, independent of x1; the same loss learns a data-to-data flow. Its samples
  start from given x0: ``extras['transfer'](params, x0, sampling) -> (x1, info)`` (e.g. x0 =
  the coupling source's ``x0_examples(n)``); ``sample``, straightness and bits/dim start from (or
  end at) N(0, I), so validation refuses those metrics for a transfer run, and the end-of-run
  picture of such a run shows the flow applied to noise (a limitation of the runtime, which
  samples through ``sample``).
* **k-RF / reflow** (batches that also carry ``x0``, from ``data.name='pairs:DIR'``, see
  `jaxgen.data.pairs`): x0 is ``batch['x0']`` and x1 ``batch['x']``, the deterministic coupling
  ``(z0, ODE_{k-1}(z0))`` of the previous flow written by ``python -m launch.reflow``.
* **Distillation** (``loss.time_sampling='distill'``, needs ``batch['x0']``): the same target
  only at ``t in {0, 1/k, ..., (k-1)/k}`` with ``k = loss.distill_steps``, so that k Euler steps on
  the uniform grid map z0 to z1; for k = 1 it is the paper's ``||(z1 - z0) - v(0, z0)||^2``
  (the reference code uses t = eps + (1 - eps) i / k; we use i / k exactly, the times the Euler
  sampler starting at ``sampling.t_start = 0`` evaluates).

Sampling integrates ``dx/dt = v(t, x)`` from ``sampling.t_start`` to 1 with any solver of
`jaxgen.ode.solvers` (Euler with N steps is the paper's default; dopri5 at rtol = atol = 1e-5 is its
"RK45" row). Log-likelihood integrates the ODE backwards from the data at t = 1 to the N(0, I)
prior at t = 0 with the divergence (`jaxgen.ode.likelihood`), in nats of the data space, with the
``likelihood`` section's solver (default dopri5, rtol = atol = 1e-5) and ``likelihood.probes``
(0: exact trace; k: k Hutchinson Rademacher probes).
Units: ``log_prob`` is a density of ``batch['x']`` in the model's data space (after
``data.scale``), never of the raw integers. Bits/dim (`jaxgen.metrics.bpd`, ``eval.metrics=
('bpd',)``) of dequantized images (``data.dequantize=True``: x = low + (high - low) (level + u) /
K) adds ``log2(K / (high - low))`` per dimension, the log-volume of a bin, which carries the
scaling's Jacobian: 7 bits for 8-bit data on [-1, 1], 8 on [0, 1], log2(17 / 2) for digits on
[-1, 1]. tests/models/test_rectified_flow_bpd.py checks it on a flow of known density.

``model.sample(params, rng, n, sampling)`` takes the ``sampling`` section, a dict of some of its
keys (the others: the run's) or a `jaxgen.ode.solvers.SolverSpec` (a solver function, e.g. ``explicit_rk(a, b, c)``, and a grid
array of times from ``t_start`` to 1 then reach the solver; ``t_start`` is 0 for a bare spec).
``model.log_prob(params, batch, rng, likelihood=None)`` takes the same kinds of value for the
likelihood solve (None: the run's ``likelihood`` section; a dict's missing keys are the run's;
with a bare spec, or a dict without ``probes``, the divergence estimator stays the run's
``likelihood.probes``); a grid array there
runs from 1 to 0.

Class conditioning (`jaxgen.diffusion.guidance`): ``model.num_classes = K > 0`` feeds
``batch['label']`` to the network (K + 1 label embeddings, **index K is the null label**; the
net's ``num_classes`` is set from it); ``loss.p_uncond`` is the label dropout. Sampling:
``sampling.label`` (k >= 0 one class, -1 all classes in turn, one grid row each; ``info['label']``),
``sampling.guidance`` = w, classifier-free guidance on the velocity, ``(1 + w) v(t, x | c) - w v(t,
x | null)`` (w = 0: plain conditional; w != 0 doubles ``nfe``), only for t in
``[sampling.guidance_tmin, sampling.guidance_tmax]`` in this family's time (t = 0 noise, t = 1
data; default: everywhere); every solver integrates the guided velocity. ``log_prob`` of a
conditional model is log p(x | batch['label']); ``velocity`` and the extras are the unconditional
model (the null label).

``extras``: ``'transfer'(params, x0, sampling) -> (x1, info)`` (above);
``'coupling'(params, rng, n, sampling) -> (z0, z1, info)``, the noise and the sample
``sample`` would return for the same key (reflow pairs); ``'metric/straightness'(params, rng, n,
sampling) -> {'straightness': S_N}``, the paper's straightness on the sampler's grid
(`jaxgen.ode.straightness`), available as ``eval.metrics=('straightness',)``;
``'inpaint'(params, rng, x, mask, sampling) -> (x, info)``, replacement along the interpolation
path (`jaxgen.ode.inpaint`; fixed-step solvers only; ``python -m launch.inpaint``).
``'log_prob_stats'(params, batch, rng, likelihood=None) -> (logp [b], {'nfe': [b]})``, `log_prob`
with the solve's NFE per example (the evaluator's ``eval/likelihood_nfe``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import guidance
from jaxgen.distributions.normal import standard_normal_logp
from jaxgen.models.base import Model, batch_x
from jaxgen.ode import grids
from jaxgen.ode import inpaint as inpaint_lib
from jaxgen.ode import likelihood as likelihood_lib
from jaxgen.ode import solvers
from jaxgen.ode import straightness as straightness_lib
from jaxgen.nets import score_mlp, unet

NETS = {'score_mlp': score_mlp, 'unet': unet}
# eval.metrics that start from (or end at) x0 ~ N(0, I): meaningless for a transfer flow.
NOISE_METRICS = ('sliced_wasserstein', 'straightness', 'bpd', 'nll')
METRICS = ('straightness',)   # the family's own eval.metrics: its extras['metric/<name>']
TIME_SAMPLINGS = ('uniform', 'logit_normal', 'mode', 'distill')
MODE_SCALE_MAX = 2.0 / (math.pi - 2.0)  # the largest s for which SD3's f(u; s) stays monotone


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='score_mlp',             # 'score_mlp' (vectors) | 'unet' (images)
      score_mlp=score_mlp.defaults(),
      unet=unet.small(),
      time_label_scale=999.0,      # the network sees t * time_label_scale
  ))
  c.loss = ml_collections.ConfigDict(dict(
      eps=1e-3,                    # t ~ U(eps, 1): the reference's (1 - eps) U + eps
      time_sampling='uniform',     # 'uniform' | 'logit_normal' | 'mode' | 'distill' (needs x0)
      logit_mean=0.0,              # 'logit_normal': t = sigmoid(u), u ~ N(logit_mean, logit_std^2)
      logit_std=1.0,
      mode_scale=1.29,             # 'mode': SD3's s in [-1, 2/(pi-2)] (0: uniform); see sample_time
      shift=1.0,                   # SD3's resolution shift alpha > 0 of the training times (1: none)
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
  guidance.add_defaults(c)  # model.num_classes, loss.p_uncond, sampling.label / guidance*
  return c


def choices() -> dict:
  return {
      'model.net': tuple(NETS),
      'loss.time_sampling': TIME_SAMPLINGS,
      'data.x0.scale': ('unit', 'symmetric', 'levels', 'none'),   # a coupling's x0 source
      'data.x0.binarize': ('none', 'fixed', 'resample'),
      **solvers.choices('sampling'),
      **solvers.choices('likelihood'),
      **unet.choices('model.unet'),
      **score_mlp.choices('model.score_mlp'),
  }


def ranges() -> dict:
  return {
      **guidance.ranges(),
      'loss.eps': (lambda e: 0 <= e < 1, 'in [0, 1) (t ~ U(eps, 1))'),
      'loss.logit_std': (lambda s: 0 < s < math.inf, 'a finite number > 0 (std of logit(t))'),
      'loss.logit_mean': (math.isfinite, 'a finite number (mean of logit(t))'),
      'loss.mode_scale': (lambda s: -1 <= s <= MODE_SCALE_MAX,
                          f'in [-1, 2/(pi-2) = {MODE_SCALE_MAX:.4f}] (beyond, f(u; s) is not '
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
  """Rules across sections (run by `jaxgen.runtime.config.validate`, before anything is written):
  distillation fits a given coupling, so it needs batches with ``x0`` (a ``pairs:`` source), and
  its loss cannot be evaluated on the evaluation split (the source run's data, without ``x0``)."""
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
          f"{config.data.name!r} has no x0: train on data.name=pairs:RUN/reflow/pairs (made by python -m "
          'launch.reflow --workdir RUN --num N)')
    if 'loss' in config.eval.metrics:
      problems.append(
          "config.loss.time_sampling='distill' has no evaluation loss (the evaluation split is "
          "the source run's data, without x0): leave 'loss' out of config.eval.metrics (now "
          f'{tuple(config.eval.metrics)}), e.g. --config.eval.metrics="(\'sliced_wasserstein\',)"')
  return problems + guidance.config_problems(config)


def check(config) -> None:
  """Builds the run's sampling and likelihood solves and their fixed-step grids once, so that a
  setting that would fail only when sampling (after training) fails at validation: raises
  ValueError naming the key (run by `jaxgen.runtime.config.validate`)."""
  for section, (t0, t1), make in (('sampling', (None, 1.0), sampling_spec),
                                  ('likelihood', (1.0, 0.0), likelihood_spec)):
    try:
      spec, t_or_probes = make(config[section])
    except ValueError as e:
      raise ValueError(f'config.{section}: {e}') from None
    if not spec.adaptive:
      try:
        spec.time_grid(float(t_or_probes) if t0 is None else t0, t1)
      except ValueError as e:
        raise ValueError(
            f'config.{section}.grid={spec.grid!r} cannot be used by rectified flow ({e}); choose '
            f'one of: {", ".join(g for g in grids.NAMES if g != "log_snr")}') from None


def mode_time(u, s):
  """SD3's mode sampling in OUR time direction (t = 0 noise, t = 1 data).

  SD3 (t_SD3 = 1 is noise) draws ``t_SD3 = f(u; s) = 1 - u - s (cos^2(pi u / 2) - 1 + u)`` with
  u ~ U(0, 1); ours is ``t = 1 - t_SD3 = u + s (cos^2(pi u / 2) - 1 + u)``. f is monotone for
  ``-1 <= s <= 2 / (pi - 2)`` and symmetric (``t(1 - u) = 1 - t(u)``), so the density of t,
  ``p(t) = 1 / |dt/du| = 1 / |1 + s (1 - (pi / 2) sin(pi u))|`` at ``u = t^{-1}(t)``, is the same
  in either direction: s > 0 puts more mass at mid times (a mode at t = 1/2), s < 0 at the ends,
  s = 0 is uniform.
  """
  return u + s * (jnp.cos(0.5 * jnp.pi * u) ** 2 - 1.0 + u)


def shift_time(t, alpha):
  """SD3's resolution shift of training times, converted to our direction (t = 0 noise).

  SD3 shifts its time ``t_SD3 = 1 - t`` (1 = noise) as ``t_SD3' = alpha t_SD3 / (1 + (alpha - 1)
  t_SD3)``; in ours that is ``t' = 1 - t_SD3' = t / (alpha - (alpha - 1) t)``, so alpha > 1 moves
  the training times towards the noise (as larger images need) and alpha = 1 is the identity. A
  base density p(t) becomes ``p'(t') = p(a t' / (1 + (a - 1) t')) a / (1 + (a - 1) t')^2``.
  The sampler's ``grid='shift'`` (`jaxgen.ode.grids.shift`) is the same map on the time grid.
  """
  return t / (alpha - (alpha - 1.0) * t)


def sample_time(rng, b: int, lc) -> jax.Array:
  """Training times [b] in our direction (t = 0 noise, t = 1 data).

  ``loss.time_sampling``: 'uniform' U(eps, 1) (the reference code's); 'logit_normal' ``t =
  sigmoid(u), u ~ N(logit_mean, logit_std^2)`` (SD3's lognorm(m, s): symmetric about 1/2 for
  m = 0, so the same in SD3's direction; for m != 0 SD3's lognorm(m, s) is ours with -m);
  'mode' `mode_time` with s = ``loss.mode_scale``; 'distill' the k times i / k. Then, except for
  'distill' (whose times are the Euler grid's), ``loss.shift`` alpha (`shift_time`; 1 = none).
  """
  if lc.time_sampling == 'distill':
    k = int(lc.distill_steps)
    return jax.random.randint(rng, (b,), 0, k).astype(jnp.float32) / k
  if lc.time_sampling == 'logit_normal':
    t = jax.nn.sigmoid(lc.logit_mean + lc.logit_std * jax.random.normal(rng, (b,)))
  elif lc.time_sampling == 'mode':
    t = mode_time(jax.random.uniform(rng, (b,)), lc.get('mode_scale', 1.29))
  else:
    t = jax.random.uniform(rng, (b,)) * (1 - lc.eps) + lc.eps
  alpha = lc.get('shift', 1.0)
  return t if alpha == 1.0 else shift_time(t, alpha)


def flow_loss(v, x1, rng, lc, x0=None) -> jax.Array:
  """Per-example velocity regression ``mean_dims ||(x1 - x0) - v(t, x_t)||^2``.

  ``v(t[b], x_t) -> velocity``; ``x_t = t x1 + (1 - t) x0``. ``x0``: the noise end of a given
  coupling (k-RF, distillation), or None for fresh x0 ~ N(0, I) independent of x1 (1-RF).
  """
  k_noise, k_t = jax.random.split(rng)
  if x0 is None:
    if lc.time_sampling == 'distill':
      raise ValueError(
          "loss.time_sampling='distill' learns a given coupling: the batch needs 'x0' "
          '(data.name=pairs:RUN/reflow/pairs, made by python -m launch.reflow --workdir RUN); the evaluation '
          "split has no x0, so leave 'loss' out of eval.metrics")
    x0 = jax.random.normal(k_noise, x1.shape)
  t = sample_time(k_t, x1.shape[0], lc)
  tb = t.reshape((-1,) + (1,) * (x1.ndim - 1))
  xt = tb * x1 + (1 - tb) * x0
  return jnp.mean(((x1 - x0) - v(t, xt)) ** 2, axis=tuple(range(1, x1.ndim)))


def sampling_spec(sampling, base: solvers.SolverSpec | None = None,
                  t_start: float = 0.0) -> tuple[solvers.SolverSpec, float]:
  """``(SolverSpec, t_start)`` of a ``sampling`` section or a dict of its keys (keys it lacks:
  ``base``, the run's spec, and the given ``t_start``; without ``base``, the class defaults), or
  of a bare spec (``t_start`` 0: the ODE starts at the noise)."""
  if isinstance(sampling, solvers.SolverSpec):
    return sampling, 0.0
  return (solvers.SolverSpec.from_config(sampling, base=base),
          float(sampling['t_start'] if 't_start' in sampling else t_start))


def likelihood_spec(likelihood, probes: int = 0, base: solvers.SolverSpec | None = None
                    ) -> tuple[solvers.SolverSpec, int]:
  """``(SolverSpec, probes)`` of a ``likelihood`` section or a dict of its keys (keys it lacks:
  ``base``, the run's spec, and the given ``probes``; without ``base``, the class defaults with
  dopri5), or of a bare spec (with the given ``probes``)."""
  if isinstance(likelihood, solvers.SolverSpec):
    return likelihood, int(probes)
  return (solvers.SolverSpec.from_config(likelihood, base=base, solver='dopri5'),
          int(likelihood['probes'] if 'probes' in likelihood else probes))


def sample_flow(v, rng, n: int, shape, spec: solvers.SolverSpec, t_start: float = 0.0):
  """Integrates ``dx/dt = v(t, x)`` from N(0, I) at ``t_start`` to t = 1 (the data)."""
  _, x1, info = sample_coupling(v, rng, n, shape, spec, t_start)
  return x1, info


def sample_coupling(v, rng, n: int, shape, spec: solvers.SolverSpec, t_start: float = 0.0):
  """The deterministic coupling of the flow: ``(z0, z1, info)``, z0 ~ N(0, I) placed at
  ``t_start`` and z1 = ODE(z0) at t = 1 with the solve ``spec`` (reflow pairs)."""
  z0 = jax.random.normal(rng, (n,) + tuple(shape))
  z1, info = solvers.integrate(v, z0, t_start, 1.0, spec)
  return z0, z1, info


def transfer_flow(v, x0, spec: solvers.SolverSpec, t_start: float = 0.0):
  """Integrates ``dx/dt = v(t, x)`` from GIVEN ``x0`` at ``t_start`` to t = 1: the samples of a
  data-to-data (transfer) flow, whose x0 come from a data source (`jaxgen.data.coupling`), not
  from N(0, I). Returns ``(x1, info)``."""
  return solvers.integrate(v, x0, t_start, 1.0, spec)


def flow_straightness(v, rng, n: int, shape, spec: solvers.SolverSpec,
                      t_start: float = 0.0) -> jax.Array:
  """Per-sample straightness S_N [n] of the flow from N(0, I) on the sampler's grid over
  ``[t_start, 1]`` (`jaxgen.ode.straightness`)."""
  z0 = jax.random.normal(rng, (n,) + tuple(shape))
  return straightness_lib.straightness(v, z0, t_start, 1.0, spec)[0]


def flow_log_prob(v, x, rng, spec: solvers.SolverSpec, probes: int = 0, with_stats=False):
  """log p_1(x) in nats: the ODE from the data (t = 1) back to the N(0, I) prior (t = 0) with the
  solve ``spec``; ``probes`` 0 takes the exact divergence, k > 0 k Hutchinson probes.
  ``with_stats``: ``(logp, {'nfe': [b]})`` (`jaxgen.ode.likelihood.per_example_stats`)."""
  logp, stats = likelihood_lib.ode_log_likelihood(
      v, x, standard_normal_logp, 1.0, 0.0, rng=rng, solver=spec,
      **likelihood_lib.estimator(probes))
  return (logp, likelihood_lib.per_example_stats(stats, x.shape[0])) if with_stats else logp


def build(config, spec) -> Model:
  mc, lc = config.model, config.loss
  guidance.check_spec(mc, spec)
  num_classes = int(mc.num_classes)
  conditional = num_classes > 0
  net = NETS[mc.net].build(guidance.net_config(mc))
  scale = mc.time_label_scale

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
    k_loss, k_drop = jax.random.split(rng)
    y = None
    if conditional:
      k_drop, k_label = jax.random.split(k_drop)
      y = guidance.drop_labels(k_label, guidance.batch_labels(batch, num_classes), lc.p_uncond,
                               num_classes)
    v = lambda t, x: apply(params, t, x, train=train, rng=k_drop, y=y)
    return jnp.mean(flow_loss(v, batch['x'], k_loss, lc, batch.get('x0'))), {}

  def velocity(params, t, x):
    return apply(params, t, x)

  run_sampling = sampling_spec(config.sampling)
  run_cond = guidance.Conditioning.from_config(config.sampling)
  run_likelihood = likelihood_spec(config.likelihood)

  def settings(sampling):
    """The run's sampling with ``sampling`` (a section, a dict, a spec) over it."""
    return sampling_spec(sampling, *run_sampling)

  def guided(params, n, sampling):
    """``((t, x) -> velocity, labels or None, nfe factor)`` of ``n`` samples with ``sampling``."""
    if not conditional:
      return (lambda t, x: velocity(params, t, x)), None, 1
    c = guidance.Conditioning.from_config(sampling, base=run_cond)
    labels = guidance.sample_labels(n, c.label, num_classes)
    v = c.guide(lambda t, x: apply(params, t, x, y=labels), lambda t, x: velocity(params, t, x))
    return v, labels, guidance.nfe_factor(c.guidance)

  def sample(params, rng, n, sampling):
    v, labels, factor = guided(params, n, sampling)
    x, info = sample_flow(v, rng, n, spec.shape, *settings(sampling))
    if labels is None:
      return x, info
    return x, {**info, 'nfe': info['nfe'] * factor, 'label': labels}

  def log_prob_stats(params, batch, rng, likelihood=None):
    lspec, probes = (run_likelihood if likelihood is None else
                     likelihood_spec(likelihood, run_likelihood[1], run_likelihood[0]))
    x = batch_x(batch)
    y = guidance.batch_labels(batch, num_classes)[:x.shape[0]] if conditional else None
    return flow_log_prob(lambda t, z: apply(params, t, z, y=y), x, rng, lspec, probes,
                         with_stats=True)

  def log_prob(params, batch, rng, likelihood=None):
    return log_prob_stats(params, batch, rng, likelihood)[0]

  def coupling(params, rng, n, sampling):
    return sample_coupling(lambda t, x: velocity(params, t, x), rng, n, spec.shape,
                           *settings(sampling))

  def transfer(params, x0, sampling):
    return transfer_flow(lambda t, x: velocity(params, t, x), x0, *settings(sampling))

  def straightness(params, rng, n, sampling):
    s = flow_straightness(lambda t, x: velocity(params, t, x), rng, n, spec.shape,
                          *settings(sampling))
    return {'straightness': jnp.mean(s)}

  def sampling_label(sampling):
    name = settings(sampling)[0].label
    if not conditional:
      return name
    return f'{name}_{guidance.Conditioning.from_config(sampling, base=run_cond).name()}'

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, velocity=velocity,
               t_span=(0.0, 1.0),
               extras={'coupling': coupling, 'metric/straightness': straightness,
                       'transfer': transfer, 'log_prob_stats': log_prob_stats,
                       'inpaint': inpaint_lib.make_flow_inpaint(velocity, settings)},
               sampling_label=sampling_label,
               adaptive_ode=lambda sampling: settings(sampling)[0].adaptive)
