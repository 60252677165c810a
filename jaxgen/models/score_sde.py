"""Score-based generative modelling through SDEs (Song et al., ICLR 2021): the family record.

* Time (`jaxgen.diffusion.sde`): **t = 0 is data, t = T = 1 is noise**; ``x_t = alpha(t) x_0 +
  sigma(t) z``. ``model.sde``: 'vpsde' / 'subvpsde' (beta_min, beta_max) or 'vesde' (sigma_min,
  sigma_max); ``model.num_scales`` = N of the discrete chains (DDPM / SMLD).
* Data scaling is the data section's: the paper trains VP / sub-VP on [-1, 1] and VE on [0, 1];
  samples and log-likelihoods are in that space.
* Network -> score (`jaxgen.diffusion.score_losses.make_score_fn`, adapted once to ``(t, x)``):
  VP / sub-VP label ``t * 999`` (discrete: the step index), ``score = -out / sigma(t)``; VE label
  ``sigma(t)``, ``score = out / sigma`` if ``model.scale_by_sigma`` (or the U-Net preset's flag).
* Loss: ``model.continuous`` -> DSM with ``t ~ U(loss.eps, 1)`` (optional likelihood weighting),
  else DDPM (VP) / SMLD (VE); ``loss.reduce_mean``: mean over dimensions, else 0.5 * sum.
* Sampling: `Sampling`, made once by ``model.sampling_settings(section)``: the dispatcher's
  `jaxgen.diffusion.sampler.DiffusionSampling` (its docstring lists the keys), the class
  conditioning and ``classifier_scale``. A bare `jaxgen.ode.solvers.SolverSpec` passed to
  ``sample`` means the PF-ODE with that solve (the other settings: the defaults).
* ``log_prob(params, batch, rng, likelihood=None)``: the PF-ODE from ``likelihood.eps`` to T with
  the ``likelihood`` solve and the exact (``probes = 0``) or Hutchinson divergence; nats in the
  transformed data space. ``likelihood``: a section, a dict (keys it lacks: the run's) or a
  ``SolverSpec`` (the run's eps and probes).
* ``velocity(params, t, x)`` is the PF-ODE ``dx/dt``; ``t_span = (T, eps)``.
* The variational bound (`jaxgen.diffusion.elbo`, the metric ``elbo_bpd`` of ``METRICS``,
  `jaxgen.runtime.evaluators.elbo`): 'negative_elbo' ``(params, batch, rng, bound=None) -> [b]``
  nats, an upper bound on ``-log p(x)`` in the transformed data space (of ``x | label`` for a
  conditional model), with the settings `Bound` of the likelihood section (``bound``: another
  `Bound`); 'elbo_settings' the run's `Bound`.
* Class conditioning (`jaxgen.models.conditioning`): ``model.num_classes = K > 0``, index K the
  null label, ``loss.p_uncond`` the label dropout; sampling guides the score with
  `jaxgen.diffusion.classifier_free` (w != 0 doubles ``nfe``). ``log_prob`` of a conditional model
  is log p(x | batch['label']); ``velocity``, 'score' and 'denoise' are the unconditional model.
* ``extras`` (``settings`` a `Sampling`): 'score' ``(params, t, x)``; 'score_given' ``(params, t,
  x, label)``; 'inpaint' ``(params, rng, x, mask, settings)`` and 'colorize' ``(params, rng, gray,
  settings)`` (the PC keys, replacement, `jaxgen.diffusion.controllable`); 'denoise' ``(params, t,
  x)`` (Tweedie); 'sample_with_score' ``(params, rng, n, settings, transform)`` (classifier
  guidance, `jaxgen.diffusion.classifier_guidance`, ``sampling.classifier`` a classifier run read
  by `jaxgen.tools.classifier_run`); 'log_prob_stats' ``(params, batch, rng, likelihood=None) ->
  (logp [b], {'nfe': [b]})``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import classifier_free, classifier_guidance, controllable, elbo, pc, sampler
from jaxgen.diffusion import score_losses as sl
from jaxgen.diffusion import sde as sde_lib
from jaxgen.models import autoguide
from jaxgen.models import conditioning
from jaxgen.models.base import Model, batch_x, merged_section, typed_settings
from jaxgen.nets import dit, score_mlp, unet
from jaxgen.ode import solvers

NETS = {'unet': unet, 'score_mlp': score_mlp, 'dit': dit}
# Opt-in: the variational bound (jaxgen.runtime.evaluators.elbo) and the variational
# dequantization bound of a q trained by launch.train_deq (evaluators.variational_dequantization).
METRICS = ('elbo_bpd', 'bpd_vdeq')


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      sde='vpsde',              # 'vpsde' | 'subvpsde' | 'vesde'
      beta_min=0.1,             # VP / sub-VP
      beta_max=20.0,
      sigma_min=0.01,           # VE
      sigma_max=50.0,
      num_scales=1000,          # N of the discrete chains; default number of PC steps
      continuous=True,          # continuous-time DSM (else DDPM for VP / SMLD for VE)
      scale_by_sigma=False,     # VE: score = output / sigma (NCSN++ cont.: True)
      net='unet',               # 'unet' | 'dit' (images) | 'score_mlp' (vectors)
      unet=unet.defaults(),
      dit=dit.defaults(),
      score_mlp=score_mlp.defaults(),
  ))
  c.loss = ml_collections.ConfigDict(dict(
      eps=1e-5,                 # t ~ U(eps, T)
      reduce_mean=False,        # mean over dimensions (True) or 0.5 * sum (False)
      likelihood_weighting=False,
      importance_sampling=False,  # t ~ g^2 / sigma^2 (needs likelihood_weighting)
  ))
  c.sampling = sampler.defaults()  # the DiffusionSampling keys (method 'pc', grid 'default', ...)
  c.sampling.num_samples = 64
  c.sampling.steps = 1000
  conditioning.add_defaults(c)  # model.num_classes, loss.p_uncond, sampling.label / guidance*
  c.sampling.classifier = ''         # classifier guidance: a classifier run's workdir ('' = none)
  c.sampling.classifier_scale = 1.0  # s in score + s * grad log p_t(y | x)
  autoguide.add_defaults(c)          # sampling.guide_run / guide_step / guide_weight
  c.likelihood = solvers.defaults()  # log_prob's PF-ODE solve (SolverSpec keys)
  c.likelihood.update(dict(
      solver='dopri5',
      eps=1e-5,                 # PF-ODE from this time to T
      probes=0,                 # 0: exact divergence; k: Hutchinson with k Rademacher probes
      elbo_draws=16,            # variational bound (elbo_bpd): (t, z) draws per example
      elbo_importance_sampling=True,  # its t ~ g^2 / sigma^2 (else uniform on [eps, T])
  ))
  return c


def choices() -> dict:
  return {
      'model.sde': ('vpsde', 'subvpsde', 'vesde'),
      'model.net': tuple(NETS),
      **sampler.choices('sampling'),
      **solvers.choices('likelihood'),
      **unet.choices('model.unet'),
      **dit.choices('model.dit'),
      **score_mlp.choices('model.score_mlp'),
  }


def cross_checks(config) -> list[str]:
  """The conditioning rules across sections (`jaxgen.models.conditioning.config_problems`) and
  importance sampling of t, which serves only the likelihood-weighted loss."""
  problems = conditioning.config_problems(config) + autoguide.config_problems(config)
  if config.loss.importance_sampling and not config.loss.likelihood_weighting:
    problems.append('config.loss.importance_sampling=True draws t for the likelihood-weighted loss, '
                    'but config.loss.likelihood_weighting=False: set loss.likelihood_weighting=True '
                    'or loss.importance_sampling=False')
  return problems


def check(config) -> None:
  """Builds the run's sampling settings (`DiffusionSampling`), with the time grid of the methods
  that read one, and its likelihood solve once, so that a setting that would fail only when
  sampling or evaluating (after training) fails at validation: raises ValueError naming the key
  (run by `jaxgen.runtime.config.validate`)."""
  sde = make_sde(config.model)
  try:
    s = sampling_settings(config.sampling).diffusion
    if s.method in sampler.READS_GRID and not s.ode.adaptive:
      s.ode.replace(steps=s.steps_for(sde)).time_grid(sde.T, s.end_time(sde), schedule=sde)
  except ValueError as e:
    raise ValueError(f'config.sampling: {e}') from None
  try:
    _likelihood(config.likelihood)
  except ValueError as e:
    raise ValueError(f'config.likelihood: {e}') from None


def ranges() -> dict:
  return {
      **conditioning.ranges(),
      **autoguide.ranges(),
      'sampling.steps': (lambda n: n >= 0, '>= 0 (steps of the sampler; 0: model.num_scales)'),
      'likelihood.steps': (lambda n: n >= 1, '>= 1 (intervals of the fixed-step grid)'),
      'likelihood.eps': (lambda t: 0 < t < 1, 'in (0, 1) (the data end of the PF-ODE)'),
      'likelihood.probes': (lambda k: k >= 0, '>= 0 (0: exact divergence)'),
      'likelihood.elbo_draws': (lambda k: k >= 1, '>= 1 ((t, z) draws per example of elbo_bpd)'),
  }


def make_sde(model_config):
  """The `jaxgen.diffusion.sde` instance of ``config.model``."""
  mc = model_config
  if mc.sde == 'vesde':
    return sde_lib.VESDE(sigma_min=mc.sigma_min, sigma_max=mc.sigma_max, N=mc.num_scales)
  cls = sde_lib.SubVPSDE if mc.sde == 'subvpsde' else sde_lib.VPSDE
  return cls(beta_min=mc.beta_min, beta_max=mc.beta_max, N=mc.num_scales)


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings: the dispatcher's, the class conditioning (ignored by
  unconditional models) and the classifier-guidance scale; hashable (a jit cache key)."""

  diffusion: sampler.DiffusionSampling = sampler.DiffusionSampling()
  cond: conditioning.Conditioning = conditioning.Conditioning()
  classifier_scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class Bound:
  """The settings of the variational bound (`jaxgen.diffusion.elbo.negative_elbo`), from the
  likelihood section: ``eps`` (``likelihood.eps``, the data end it shares with the PF-ODE),
  ``draws`` (``likelihood.elbo_draws``: draws of (t, z) per example of the score term) and
  ``importance_sampling`` (``likelihood.elbo_importance_sampling``: t ~ g^2 / sigma^2, else
  uniform on [eps, T]); the eps offset (the decoder at eps) is always in."""

  eps: float = 1e-5
  draws: int = 16
  importance_sampling: bool = True

  @classmethod
  def from_config(cls, section) -> 'Bound':
    return cls(eps=float(section.get('eps', cls.eps)),
               draws=int(section.get('elbo_draws', cls.draws)),
               importance_sampling=bool(section.get('elbo_importance_sampling',
                                                    cls.importance_sampling)))

  def describe(self) -> str:
    t = 'importance-sampled t (g^2 / sigma^2)' if self.importance_sampling else 'uniform t'
    return f'eps {self.eps:g}, {self.draws} (t, z) draw(s) per example, {t}'


def sampling_settings(section) -> Sampling:
  """The `Sampling` of a whole ``sampling`` section (ConfigDict or dict)."""
  return Sampling(diffusion=sampler.DiffusionSampling.from_config(section),
                  cond=conditioning.Conditioning.from_config(section),
                  classifier_scale=float(section.get('classifier_scale', 1.0)))


def _likelihood(section, base_spec=None, base_eps=1e-5, base_probes=0):
  """``(SolverSpec, eps, probes)`` of a likelihood section / dict / SolverSpec; keys a dict lacks
  come from ``base_spec`` (the run's), else the class defaults with dopri5."""
  if isinstance(section, solvers.SolverSpec):
    return section, base_eps, base_probes
  spec = solvers.SolverSpec.from_config(section, base=base_spec, solver='dopri5')
  eps = float(section['eps']) if 'eps' in section else base_eps
  probes = int(section['probes']) if 'probes' in section else base_probes
  return spec, eps, probes


def build(config, spec) -> Model:
  mc, lc = config.model, config.loss
  sde = make_sde(mc)
  conditioning.check_spec(mc, spec)
  num_classes = int(mc.num_classes)
  conditional = num_classes > 0
  net = NETS[mc.net].build(conditioning.net_config(mc))

  def net_fn(params, x, labels, train, rng, y=None):
    rngs = {'dropout': rng} if (train and rng is not None) else None
    return net.apply({'params': params}, x, labels, train=train, rngs=rngs, y=y)

  # VE: divide by sigma if the family flag or the U-Net preset's (informational) flag asks for it.
  by_sigma = bool(mc.scale_by_sigma or (mc.net == 'unet' and mc.unet.scale_by_sigma))

  def score_for(y):
    """``score_fn(params, t, x, rng=None, train=False)`` at class labels ``y`` (None:
    unconditional model; for a conditional one, None means the null label)."""
    if conditional and y is None:
      y = num_classes
    if y is not None:
      y = jnp.asarray(y, jnp.int32)
    return sl.make_score_fn(sde, lambda p, x, lab, train, rng: net_fn(p, x, lab, train, rng, y),
                            continuous=mc.continuous, scale_by_sigma=by_sigma)

  score_p = score_for(None)  # the unconditional model (null label where conditional)
  loss_impl = sl.get_loss(sde, continuous=mc.continuous, reduce_mean=lc.reduce_mean,
                          likelihood_weighting=lc.likelihood_weighting,
                          importance_sampling=lc.importance_sampling, eps=lc.eps)
  run_likelihood = _likelihood(config.likelihood)

  def settings_of(value=None) -> Sampling:
    """A `Sampling` of the run's section with ``value`` (a dict of some keys) over it; a
    `Sampling` as is; a bare `SolverSpec`: the PF-ODE with it, the other settings the defaults."""
    if isinstance(value, (Sampling, solvers.SolverSpec)):
      return typed(value)
    return sampling_settings(merged_section(config.sampling, value))

  def typed(settings) -> Sampling:
    if isinstance(settings, solvers.SolverSpec):
      return Sampling(diffusion=sampler.DiffusionSampling.from_config(settings))
    return typed_settings(settings, Sampling, 'score_sde')

  def init(rng, x):
    # label 1.0: a valid time label and a positive sigma (Fourier embedding takes its log).
    y = jnp.zeros(x.shape[:1], jnp.int32) if conditional else None
    return net.init({'params': rng, 'dropout': rng}, x, jnp.ones(x.shape[:1]), y=y)['params']

  def loss(params, batch, rng, train=True):
    if not conditional:
      value, per = loss_impl(score_p, params, batch['x'], rng, train=train)
      return value, {'loss_std': jnp.std(per)}
    k_loss, k_drop = jax.random.split(rng)
    y = classifier_free.drop_labels(k_drop, conditioning.batch_labels(batch, num_classes),
                                    lc.p_uncond, num_classes)
    value, per = loss_impl(score_for(y), params, batch['x'], k_loss, train=train)
    return value, {'loss_std': jnp.std(per)}

  def score(params, t, x):
    return score_p(params, t, x)

  def score_given(params, t, x, label):
    return score_for(label)(params, t, x)

  def velocity(params, t, x):
    return sde.pf_ode(lambda s, y: score_p(params, s, y))(t, x)

  def guided_score(params, n, s: Sampling):
    """``((t, x) -> score, labels or None, nfe factor)`` of ``n`` samples with ``s``."""
    if not conditional:
      return (lambda t, x: score_p(params, t, x)), None, 1
    labels = classifier_free.sample_labels(n, s.cond.label, num_classes)
    fn = s.cond.guide(lambda t, x: score_for(labels)(params, t, x),
                      lambda t, x: score_p(params, t, x))
    return fn, labels, classifier_free.nfe_factor(s.cond.guidance)

  def sample(params, rng, n, settings):
    s = typed(settings)
    shape = (n,) + tuple(spec.shape)
    fn, labels, factor = guided_score(params, n, s)
    x, info = sampler.sample(sde, fn, rng, shape, s.diffusion)
    if labels is None:
      return x, info
    return x, {**info, 'nfe': info['nfe'] * factor, 'label': labels}

  def sample_autoguided(params, rng, n, settings, guide, weight):
    """`sample` with the score guided by ``guide(t, x, labels)`` (`autoguide`)."""
    s = typed(settings)
    labels = classifier_free.sample_labels(n, s.cond.label, num_classes) if conditional else None
    fn = autoguide.guided(lambda t, x: score_for(labels)(params, t, x),
                          lambda t, x: guide(t, x, labels), weight)
    x, info = sampler.sample(sde, fn, rng, (n,) + tuple(spec.shape), s.diffusion)
    info = {**info, 'nfe': info['nfe'] * autoguide.nfe_factor(weight)}
    return x, (info if labels is None else {**info, 'label': labels})

  def batch_score(batch, x):
    """The score at the batch's labels (conditional model) or the unconditional one."""
    if not conditional:
      return score_p
    return score_for(conditioning.batch_labels(batch, num_classes)[:x.shape[0]])

  def log_prob_stats(params, batch, rng, likelihood=None):
    from jaxgen.ode import likelihood as lik

    x = batch_x(batch)
    s = batch_score(batch, x)
    solve, eps, probes = (run_likelihood if likelihood is None
                          else _likelihood(likelihood, *run_likelihood))
    logp, stats = lik.ode_log_likelihood(
        lambda t, y: sde.pf_ode(lambda r, z: s(params, r, z))(t, y), x, sde.prior_logp, eps,
        sde.T, rng=rng, solver=solve, **lik.estimator(probes))
    return logp, lik.per_example_stats(stats, x.shape[0])

  def log_prob(params, batch, rng, likelihood=None):
    return log_prob_stats(params, batch, rng, likelihood)[0]

  run_bound = Bound.from_config(config.likelihood)

  def negative_elbo(params, batch, rng, bound=None):
    b = run_bound if bound is None else bound
    x = batch_x(batch)
    s = batch_score(batch, x)
    return elbo.negative_elbo(lambda t, y: s(params, t, y), sde, x, rng, eps=b.eps,
                              num_t=b.draws, importance_sampling=b.importance_sampling)

  def inpaint(params, rng, x, mask, settings):
    s = typed(settings)
    fn, _, _ = guided_score(params, x.shape[0], s)
    return controllable.inpaint(sde, fn, rng, x, mask, **s.diffusion.pc_kwargs(sde))

  def colorize(params, rng, gray, settings):
    if tuple(spec.shape[-1:]) != (3,):
      raise ValueError(f'colorization needs a model of RGB images (3 channels); this run models '
                       f'{spec.name} of shape {tuple(spec.shape)}: train on colour data (e.g. '
                       'data.name=tfds:cifar10) to colorize')
    s = typed(settings)
    fn, _, _ = guided_score(params, gray.shape[0], s)
    return controllable.colorize(sde, fn, rng, gray, **s.diffusion.pc_kwargs(sde))

  def denoise(params, t, x):
    return pc.denoise_step(sde, lambda s, y: score_p(params, s, y), x, t)

  def sampling_label(settings):
    s = typed(settings)
    return f'{s.diffusion.label}_{s.cond.name()}' if conditional else s.diffusion.label

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, discrete=False,
               velocity=velocity, t_span=(sde.T, float(sde.eps)),
               extras=dict(score=score, score_given=score_given, inpaint=inpaint,
                           colorize=colorize, denoise=denoise, log_prob_stats=log_prob_stats,
                           negative_elbo=negative_elbo, elbo_settings=run_bound,
                           sample_autoguided=sample_autoguided,
                           guide_field=lambda params, t, x, y: score_for(y)(params, t, x),
                           sample_with_score=classifier_guidance.sample_with_score(
                               sde, score_p, spec.shape, lambda s: typed(s).diffusion)),
               sampling_settings=settings_of, sampling_label=sampling_label,
               adaptive_ode=lambda settings: typed(settings).diffusion.adaptive_ode)
