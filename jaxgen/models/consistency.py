"""Consistency models: iCT consistency training and distillation from a score-SDE run; the family.

The maths is `jaxgen.diffusion.consistency` (EDM's sigma space: **sigma_min data end, sigma_max
noise end**, ``x = x_0 + sigma z``; ``model.sigma_data = 0.5`` assumes data in [-1, 1],
``data.scale='symmetric'``). The network F sees ``c_in(sigma) x`` and the noise label ``sigma``
(Fourier embedding, which takes its log) or ``model.noise_label_scale * log(sigma)``
(positional; iCT's 1000 * 0.25); ``f = c_skip x + c_out F``, so ``f(sigma_min, x) = x``.

* ``loss.method='ct'``: iCT (curriculum ``loss.s0 -> loss.s1`` over ``train.steps``, lognormal
  levels ``loss.p_mean`` / ``p_std``, pseudo-Huber ``loss.huber_c``, 0: 0.00054 sqrt(d)).
* ``loss.method='cd'``: the same loss with the target one ``loss.teacher_solver`` step of the
  PF-ODE of the score-SDE run ``loss.teacher_run`` (checkpoint ``loss.teacher_step``, 0: its
  newest, read again on resume: name a step to keep a resume exact). `launch.train` opens it
  with `jaxgen.tools.teacher_run` and passes its denoiser to `build` (``teacher``); its
  parameters are constants of the compiled train step. s0 = s1 gives a fixed grid (Song et
  al.'s N = 18: s0 = s1 = 17).
* Sampling: ``sampling.steps`` levels (1: one step, ``f(sigma_max, sigma_max z)``), re-noised
  between steps; ``sampling.sigmas`` (decreasing, as many as steps) or () for the rho-grid's
  first ``steps`` levels from sigma_max (`consistency.default_sigmas`); nfe = steps.

``params = {'net': F's parameters, 'updates': float32 count of applied updates}``: the
curriculum's step k, kept by ``extras['after_update']`` (no gradient reaches it). Unconditional.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import consistency as cm
from jaxgen.models.base import Model, merged_section, typed_settings
from jaxgen.nets import score_mlp, unet

NETS = {'score_mlp': score_mlp, 'unet': unet}
METHODS = ('ct', 'cd')


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='score_mlp',             # 'score_mlp' (vectors) | 'unet' (images)
      score_mlp=score_mlp.defaults(),
      unet=unet.small(),
      sigma_min=0.002,             # the data end (f(sigma_min, x) = x)
      sigma_max=80.0,              # the noise end (one-step samples start at sigma_max z)
      sigma_data=0.5,              # std of the data (0.5: [-1, 1] images)
      rho=7.0,                     # Karras grid exponent
      noise_label_scale=250.0,     # positional embedding of scale * log(sigma)
  ))
  c.loss = ml_collections.ConfigDict(dict(
      method='ct',                 # 'ct' (consistency training) | 'cd' (distillation)
      s0=10,                       # intervals of the grid at the start of training
      s1=1280,                     # ... at the end (s0 = s1: a fixed grid)
      p_mean=-1.1,                 # lognormal proposal of the levels
      p_std=2.0,
      huber_c=0.0,                 # pseudo-Huber c (0: 0.00054 sqrt(data dims))
      teacher_run='',              # cd: the score-SDE run's workdir
      teacher_step=0,              # cd: its checkpoint (0: the newest)
      teacher_solver='heun',       # cd: 'heun' | 'euler' step of the teacher's PF-ODE
  ))
  c.sampling = ml_collections.ConfigDict(dict(
      steps=1,                     # network evaluations (1: one step)
      sigmas=(),                   # () or `steps` decreasing levels in (sigma_min, sigma_max]
      num_samples=1024,
  ))
  return c


def choices() -> dict:
  return {'model.net': tuple(NETS), 'loss.method': METHODS,
          'loss.teacher_solver': cm.SOLVERS, **unet.choices('model.unet'),
          **score_mlp.choices('model.score_mlp')}


def ranges() -> dict:
  pos = (lambda v: 0 < v < math.inf, 'a finite number > 0')
  return {
      'model.sigma_min': pos, 'model.sigma_max': pos, 'model.sigma_data': pos, 'model.rho': pos,
      'model.noise_label_scale': pos,
      'loss.s0': (lambda n: n >= 1, '>= 1 (intervals of the first grid)'),
      'loss.p_mean': (math.isfinite, 'a finite number (mean of log sigma)'),
      'loss.p_std': pos,
      'loss.huber_c': (lambda v: 0 <= v < math.inf, '>= 0 (0: 0.00054 sqrt(data dims))'),
      'loss.teacher_step': (lambda n: n >= 0, ">= 0 (0: the teacher run's newest checkpoint)"),
      'sampling.steps': (lambda n: n >= 1, '>= 1 (network evaluations per sample)'),
  }


def cross_checks(config) -> list[str]:
  """The grid's ends and sizes, the teacher key against the method, the sampling levels."""
  mc, lc, sc = config.model, config.loss, config.sampling
  problems = []
  if mc.sigma_min >= mc.sigma_max:
    problems.append(f'config.model.sigma_min={mc.sigma_min:g} must be below model.sigma_max='
                    f'{mc.sigma_max:g}')
  if lc.s1 < lc.s0:
    problems.append(f'config.loss.s1={lc.s1} must be >= loss.s0={lc.s0} (s0 = s1: a fixed grid)')
  if lc.method == 'cd' and not lc.teacher_run:
    problems.append("config.loss.method='cd' distils a score-SDE run: set "
                    'loss.teacher_run=DIR (or loss.method=ct)')
  if lc.method == 'ct' and lc.teacher_run:
    problems.append(f"config.loss.teacher_run={lc.teacher_run!r} is read only by "
                    "loss.method='cd': set loss.method=cd or loss.teacher_run=''")
  sigmas = tuple(float(v) for v in sc.sigmas)
  if sigmas and (len(sigmas) != sc.steps or any(a <= b for a, b in zip(sigmas, sigmas[1:]))
                 or sigmas[0] > mc.sigma_max or sigmas[-1] <= mc.sigma_min):
    problems.append(f'config.sampling.sigmas={sigmas}: give sampling.steps={sc.steps} decreasing '
                    f'levels in (model.sigma_min, model.sigma_max] = ({mc.sigma_min:g}, '
                    f'{mc.sigma_max:g}], or () for the default')
  return problems


def schedule(config) -> cm.Schedule:
  """The `jaxgen.diffusion.consistency.Schedule` of the model and loss sections."""
  mc, lc = config.model, config.loss
  return cm.Schedule(sigma_min=float(mc.sigma_min), sigma_max=float(mc.sigma_max),
                     sigma_data=float(mc.sigma_data), rho=float(mc.rho), s0=int(lc.s0),
                     s1=int(lc.s1), p_mean=float(lc.p_mean), p_std=float(lc.p_std))


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings: the decreasing levels visited; hashable."""

  sigmas: tuple[float, ...]


def build(config, spec, teacher: Optional[Callable] = None) -> Model:
  """The family's Model; ``teacher``: the denoiser ``D(sigma, x)`` a 'cd' loss distils (None
  where the run only samples or evaluates)."""
  mc, lc = config.model, config.loss
  s = schedule(config)
  net_cfg = mc[mc.net]
  net = NETS[mc.net].build(net_cfg)
  fourier = net_cfg.embedding_type.lower() == 'fourier'
  scale = float(mc.noise_label_scale)
  total, c = int(config.train.steps), float(lc.huber_c) or None
  distil = lc.method == 'cd'

  def label(sigma):
    return sigma if fourier else scale * jnp.log(sigma)

  def f_of(params, train=False, rng=None):
    def F(sigma, x):
      return net.apply({'params': params}, cm.c_in(sigma, s).reshape((-1,) + (1,) * (x.ndim - 1))
                       * x, label(sigma), train=train, rngs={'dropout': rng} if train else None)
    return cm.consistency_fn(F, s)

  def init(rng, x):
    net_params = net.init({'params': rng, 'dropout': rng}, x, jnp.ones(x.shape[:1]))['params']
    return {'net': net_params, 'updates': jnp.zeros((), jnp.float32)}

  def loss(params, batch, rng, train=True):
    if distil and teacher is None:
      raise ValueError("loss.method='cd' needs its teacher: train with launch.train, which opens "
                       'loss.teacher_run (jaxgen.tools.teacher_run)')
    k_loss, k_drop = jax.random.split(rng)
    n = cm.num_points(jax.lax.stop_gradient(params['updates']), total, s)
    weighted, d = cm.loss(f_of(params['net'], train, k_drop), batch['x'], k_loss, n, s, c,
                          teacher, str(lc.teacher_solver))
    return jnp.mean(weighted), {'pseudo_huber': jnp.mean(d), 'grid_points': n.astype(jnp.float32)}

  def after_update(before, after, batch, rng):
    return {'net': after['net'], 'updates': before['updates'] + 1.0}

  def settings_of(value=None) -> Sampling:
    if isinstance(value, Sampling):
      return value
    section = merged_section(config.sampling, value)
    sigmas = tuple(float(v) for v in section['sigmas'])
    return Sampling(sigmas or cm.default_sigmas(int(section['steps']), s))

  def sample(params, rng, n, settings):
    st = typed_settings(settings, Sampling, 'consistency')
    return cm.sample(f_of(params['net']), rng, (n,) + tuple(spec.shape), st.sigmas, s)

  def consistency(params, sigma, x):
    return f_of(params['net'])(sigma, x)

  def sampling_label(settings):
    return f'{len(typed_settings(settings, Sampling, "consistency").sigmas)}step'

  return Model(init=init, loss=loss, sample=sample, sampling_settings=settings_of,
               sampling_label=sampling_label,
               extras=dict(after_update=after_update, consistency=consistency))
