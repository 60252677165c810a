"""MeanFlow (Geng, Deng, Bai, Kolter, He 2025): one- and few-step generation; the family.

The maths is `jaxgen.ode.mean_flow` (**t = 0 noise, t = 1 data**, as rectified flow; the paper's
time runs the other way, the mapping is stated there). The network is the average velocity
``u(z, r, t)`` of the flow from the time t of z to a later r: it sees ``t * time_label_scale``
and, as its second label (``step_input``, set here), the interval ``(r - t) * time_label_scale``.
Training: the MeanFlow identity's target through `jax.jvp` of the network (``loss.*`` -> its
`TimePairs`; the adaptive weight ``1 / (||delta||^2 + weight_eps)^weight_power``), so the loss
refuses ``attn_impl='cudnn'`` (`jaxgen.nets.forward_mode`). Sampling: ``sampling.steps`` equal
jumps ``z_r = z_t - (t - r) u(z_t, r, t)`` from N(0, I) at t = 0 (1: one network evaluation).

The network adapter and the sampling settings: `jaxgen.models.few_step`. Class conditioning
(`jaxgen.models.conditioning`): ``model.num_classes``, ``loss.p_uncond``; the paper's guidance
folded into training with ``loss.omega`` and ``loss.kappa`` (`jaxgen.ode.mean_flow.
guided_velocity`; omega = 1, kappa = 0: none; needs p_uncond > 0) samples with
``sampling.guidance = 0``; ``sampling.guidance`` (two evaluations per jump) guides as in
rectified flow.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models import conditioning, few_step
from jaxgen.models.base import Model, typed_settings
from jaxgen.nets import forward_mode
from jaxgen.ode import mean_flow

JVP_NEED = 'the MeanFlow loss (its target is a jax.jvp through the network)'


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = few_step.model_defaults()   # the second label: the interval r - t
  c.loss = ml_collections.ConfigDict(dict(
      time_sampling='logit_normal',  # 'logit_normal' | 'uniform': the law of both times
      logit_mean=0.4,              # our time (the paper's -0.4 with data at t = 0)
      logit_std=1.0,
      ratio=0.25,                  # fraction of each batch with r != t (the rest: r = t)
      weight_power=1.0,            # p of the adaptive weight (0: plain squared error)
      weight_eps=1e-3,             # c of the adaptive weight
      omega=1.0,                   # guidance folded into training (1: none)
      kappa=0.0,                   # the paper's kappa (weight of the conditional u(z, t, t))
  ))
  c.sampling = ml_collections.ConfigDict(dict(
      steps=1,                     # equal jumps from t = 0 to 1 (network evaluations)
      num_samples=1024,
  ))
  conditioning.add_defaults(c)  # model.num_classes, loss.p_uncond, sampling.label / guidance*
  return c


def choices() -> dict:
  return {'loss.time_sampling': mean_flow.KINDS, **few_step.net_choices()}


def ranges() -> dict:
  return {
      **conditioning.ranges(),
      'loss.logit_mean': (math.isfinite, 'a finite number (mean of logit(t))'),
      'loss.logit_std': (lambda s: 0 < s < math.inf, 'a finite number > 0 (std of logit(t))'),
      'loss.ratio': (lambda f: 0 <= f <= 1, 'in [0, 1] (fraction of pairs with r != t)'),
      'loss.weight_power': (lambda p: 0 <= p < math.inf, '>= 0 (0: plain squared error)'),
      'loss.weight_eps': (lambda c: 0 < c < math.inf, 'a finite number > 0'),
      'loss.omega': (lambda w: 0 < w < math.inf, 'a finite number > 0 (1: no guidance)'),
      'loss.kappa': (lambda k: 0 <= k < 1, 'in [0, 1) (0: the paper without kappa)'),
      'sampling.steps': (lambda n: n >= 1, '>= 1 (jumps from noise to data)'),
  }


def cross_checks(config) -> list[str]:
  """The jvp through the network (no fused cuDNN attention); guidance in training needs labels."""
  problems = forward_mode.problems(config.model, JVP_NEED)
  lc = config.loss
  if float(lc.omega) != 1.0 or float(lc.kappa) != 0.0:
    if int(config.model.num_classes) == 0 or float(lc.p_uncond) == 0:
      problems.append(
          f'config.loss.omega={lc.omega:g}, loss.kappa={lc.kappa:g} fold guidance into training, '
          'which needs a class-conditional model with an unconditional part: set '
          'model.num_classes (e.g. 10) and loss.p_uncond > 0 (e.g. 0.1), or omega=1, kappa=0')
  return problems + conditioning.config_problems(config)


def time_pairs(lc) -> mean_flow.TimePairs:
  """The `jaxgen.ode.mean_flow.TimePairs` of the ``loss`` section."""
  return mean_flow.TimePairs(kind=lc.time_sampling, logit_mean=float(lc.logit_mean),
                             logit_std=float(lc.logit_std), ratio=float(lc.ratio))


def build(config, spec) -> Model:
  lc = config.loss
  net = few_step.Net(config, spec)
  times = time_pairs(lc)
  omega, kappa = float(lc.omega), float(lc.kappa)
  null = net.num_classes

  def loss(params, batch, rng, train=True):
    k_loss, k_drop = jax.random.split(rng)
    y, k_drop = net.training_labels(batch, k_drop, lc.p_uncond)

    def guided(z, t, v):
      # the guided velocity; v itself where the label was dropped (the unconditional model)
      v_g = mean_flow.guided_velocity(v, net.apply(params, z, t, 0.0, y=y),
                                      net.apply(params, z, t, 0.0), omega, kappa)
      return jnp.where((y == null).reshape((-1,) + (1,) * (v.ndim - 1)), v, v_g)

    guide = guided if y is not None and (omega != 1.0 or kappa != 0.0) else None
    u = lambda z, r, t: net.apply(params, z, t, r - t, train=train, rng=k_drop, y=y)
    weighted, mse = mean_flow.loss(u, batch['x'], k_loss, times, float(lc.weight_power),
                                   float(lc.weight_eps), guide)
    return jnp.mean(weighted), {'mse': jnp.mean(mse)}

  def sample(params, rng, n, settings):
    s = typed_settings(settings, few_step.Sampling, 'mean_flow')
    f, labels, factor = net.guided(params, n, s)
    z0 = jax.random.normal(rng, (n,) + tuple(spec.shape))
    x, info = mean_flow.sample(lambda z, r, t: f(z, t, r - t), z0, s.steps)
    return x, few_step.sample_info(info, labels, factor)

  return Model(init=net.init, loss=loss, sample=sample, sampling_settings=net.settings,
               sampling_label=net.sampling_label('mean_flow'))
